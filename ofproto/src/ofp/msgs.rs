//! The [`Message`] enum: every message this codec knows, with decode
//! (`Message::decode`, bytes -> value) and encode (`Message::encode`, value ->
//! bytes for a given version and xid).
//!
//! Message type numbers (OpenFlow 1.0.0 section 5.1, OpenFlow 1.5.1 section
//! 7.1.1): OF1.0 numbers PORT_MOD=15, STATS_REQUEST/REPLY=16/17,
//! BARRIER=18/19; OF1.1+ insert GROUP_MOD=15 and renumber the rest.

use super::async_cfg::{AsyncMasks, RoleStatus};
use super::error::{fail, ErrorCode, OfpError};
use super::flow::{FlowMod, FlowRemoved, PacketIn, PacketOut};
use super::header::{version_supported, Header, HEADER_LEN};
use super::hello::Hello;
use super::multipart::{MultipartReply, MultipartRequest};
use super::nicira::NxMsg;
use super::switch::{
    BundleAdd, BundleControl, FeaturesReply, GroupMod, MeterMod, PortMod, PortStatus, Role,
    SwitchConfig,
};
use super::wire::{Rd, Wr};

/// ONF experimenter id (OF1.3 bundle extension messages).
pub const ONF_EXPERIMENTER_ID: u32 = 0x4f4e_4600;
/// ONFT_BUNDLE_CONTROL experimenter type (OF1.3 extension).
pub const ONFT_BUNDLE_CONTROL: u32 = 2300;
/// ONFT_BUNDLE_ADD_MESSAGE experimenter type (OF1.3 extension).
pub const ONFT_BUNDLE_ADD_MESSAGE: u32 = 2301;

/// OFPT_ERROR body (OpenFlow 1.5.1 section 7.5.4): `type u16, code u16,
/// data[]`; type 0xFFFF (OFPET_EXPERIMENTER) is `type, exp_code u16,
/// experimenter u32, data[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMsg {
    /// `ofp_error_type` (wire numbering of the message's version).
    pub err_type: u16,
    /// Code, or `exp_code` for experimenter errors.
    pub code: u16,
    /// Experimenter id when `err_type == 0xFFFF`.
    pub experimenter: Option<u32>,
    /// Usually the first bytes of the offending request.
    pub data: Vec<u8>,
}

/// Every message the codec understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OFPT_HELLO.
    Hello(Hello),
    /// OFPT_ERROR.
    Error(ErrorMsg),
    /// OFPT_ECHO_REQUEST with its payload.
    EchoRequest(Vec<u8>),
    /// OFPT_ECHO_REPLY with its payload.
    EchoReply(Vec<u8>),
    /// OFPT_FEATURES_REQUEST (empty body).
    FeaturesRequest,
    /// OFPT_FEATURES_REPLY.
    FeaturesReply(FeaturesReply),
    /// OFPT_GET_CONFIG_REQUEST (empty body).
    GetConfigRequest,
    /// OFPT_GET_CONFIG_REPLY.
    GetConfigReply(SwitchConfig),
    /// OFPT_SET_CONFIG.
    SetConfig(SwitchConfig),
    /// OFPT_PACKET_IN.
    PacketIn(PacketIn),
    /// OFPT_FLOW_REMOVED.
    FlowRemoved(FlowRemoved),
    /// OFPT_PORT_STATUS.
    PortStatus(PortStatus),
    /// OFPT_PACKET_OUT.
    PacketOut(PacketOut),
    /// OFPT_FLOW_MOD (standard spelling).
    FlowMod(FlowMod),
    /// OFPT_GROUP_MOD (OF1.1-1.4 layout).
    GroupMod(GroupMod),
    /// OFPT_PORT_MOD.
    PortMod(PortMod),
    /// OFPT_TABLE_MOD (OF1.1+): table id and config bits (OF1.4+ properties
    /// are kept verbatim).
    TableMod {
        /// Table, 0xff = all.
        table_id: u8,
        /// OFPTC_* bits.
        config: u32,
        /// OF1.4+ properties, verbatim.
        props: Vec<u8>,
    },
    /// OFPT_STATS_REQUEST / OFPT_MULTIPART_REQUEST.
    MultipartRequest(MultipartRequest),
    /// OFPT_STATS_REPLY / OFPT_MULTIPART_REPLY.
    MultipartReply(MultipartReply),
    /// OFPT_BARRIER_REQUEST.
    BarrierRequest,
    /// OFPT_BARRIER_REPLY.
    BarrierReply,
    /// OFPT_ROLE_REQUEST (OF1.2+).
    RoleRequest(Role),
    /// OFPT_ROLE_REPLY (OF1.2+).
    RoleReply(Role),
    /// OFPT_METER_MOD (OF1.3+).
    MeterMod(MeterMod),
    /// OFPT_GET_ASYNC_REQUEST (OF1.3+, empty body).
    GetAsyncRequest,
    /// OFPT_GET_ASYNC_REPLY (OF1.3+).
    GetAsyncReply(AsyncMasks),
    /// OFPT_SET_ASYNC (OF1.3+).
    SetAsync(AsyncMasks),
    /// OFPT_ROLE_STATUS (OF1.4+).
    RoleStatus(RoleStatus),
    /// OFPT_BUNDLE_CONTROL (OF1.4+) or the ONF OF1.3 extension
    /// (`onf` true: OFPT_EXPERIMENTER, ONF id, ONFT_BUNDLE_CONTROL).
    BundleControl(BundleControl),
    /// OFPT_BUNDLE_ADD_MESSAGE (OF1.4+) or its ONF OF1.3 extension.
    BundleAdd(BundleAdd),
    /// OFPT_QUEUE_GET_CONFIG_REQUEST (OF1.0-1.3; OpenFlow 1.3.5 section
    /// 7.3.6): the port (32-bit space; OF1.0 `port u16, pad[2]`, OF1.1+
    /// `port u32, pad[4]`).
    QueueGetConfigRequest(u32),
    /// OFPT_QUEUE_GET_CONFIG_REPLY (OF1.0-1.3): the port (OF1.0 `port u16,
    /// pad[6]`, OF1.1+ `port u32, pad[4]`), then `ofp_packet_queue`s kept
    /// verbatim.
    QueueGetConfigReply {
        /// Port (32-bit space).
        port: u32,
        /// The queue descriptions, wire format.
        queues: Vec<u8>,
    },
    /// A Nicira vendor message (OFPT_VENDOR/EXPERIMENTER, vendor 0x2320).
    Nx(NxMsg),
}

/// The raw `ofp_type` numbers of the version-independent kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hello,
    Error,
    EchoReq,
    EchoRep,
    Experimenter,
    FeaturesReq,
    FeaturesRep,
    GetConfigReq,
    GetConfigRep,
    SetConfig,
    PacketIn,
    FlowRemoved,
    PortStatus,
    PacketOut,
    FlowMod,
    GroupMod,
    PortMod,
    TableMod,
    MpReq,
    MpRep,
    BarrierReq,
    BarrierRep,
    RoleReq,
    RoleRep,
    GetAsyncReq,
    GetAsyncRep,
    SetAsync,
    RoleStatus,
    MeterMod,
    BundleControl,
    BundleAdd,
    QueueGetConfigReq,
    QueueGetConfigRep,
}

fn kind_of(version: u8, t: u8) -> Option<Kind> {
    use Kind::*;
    let k = match t {
        0 => Hello,
        1 => Error,
        2 => EchoReq,
        3 => EchoRep,
        4 => Experimenter,
        5 => FeaturesReq,
        6 => FeaturesRep,
        7 => GetConfigReq,
        8 => GetConfigRep,
        9 => SetConfig,
        10 => PacketIn,
        11 => FlowRemoved,
        12 => PortStatus,
        13 => PacketOut,
        14 => FlowMod,
        _ if version == 1 => match t {
            15 => PortMod,
            16 => MpReq,
            17 => MpRep,
            18 => BarrierReq,
            19 => BarrierRep,
            20 => QueueGetConfigReq,
            21 => QueueGetConfigRep,
            _ => return None,
        },
        15 => GroupMod,
        16 => PortMod,
        17 => TableMod,
        18 => MpReq,
        19 => MpRep,
        20 => BarrierReq,
        21 => BarrierRep,
        22 if version <= 4 => QueueGetConfigReq,
        23 if version <= 4 => QueueGetConfigRep,
        24 if version >= 3 => RoleReq,
        25 if version >= 3 => RoleRep,
        26 if version >= 4 => GetAsyncReq,
        27 if version >= 4 => GetAsyncRep,
        28 if version >= 4 => SetAsync,
        29 if version >= 4 => MeterMod,
        30 if version >= 5 => RoleStatus,
        33 if version >= 5 => BundleControl,
        34 if version >= 5 => BundleAdd,
        _ => return None,
    };
    Some(k)
}

fn type_of(version: u8, k: Kind) -> u8 {
    use Kind::*;
    let of10 = version == 1;
    match k {
        Hello => 0,
        Error => 1,
        EchoReq => 2,
        EchoRep => 3,
        Experimenter => 4,
        FeaturesReq => 5,
        FeaturesRep => 6,
        GetConfigReq => 7,
        GetConfigRep => 8,
        SetConfig => 9,
        PacketIn => 10,
        FlowRemoved => 11,
        PortStatus => 12,
        PacketOut => 13,
        FlowMod => 14,
        GroupMod => 15,
        PortMod if of10 => 15,
        PortMod => 16,
        TableMod => 17,
        MpReq if of10 => 16,
        MpRep if of10 => 17,
        MpReq => 18,
        MpRep => 19,
        BarrierReq if of10 => 18,
        BarrierRep if of10 => 19,
        BarrierReq => 20,
        BarrierRep => 21,
        RoleReq => 24,
        RoleRep => 25,
        GetAsyncReq => 26,
        GetAsyncRep => 27,
        SetAsync => 28,
        MeterMod => 29,
        RoleStatus => 30,
        BundleControl => 33,
        BundleAdd => 34,
        QueueGetConfigReq if of10 => 20,
        QueueGetConfigRep if of10 => 21,
        QueueGetConfigReq => 22,
        QueueGetConfigRep => 23,
    }
}

impl Message {
    /// Decodes one complete message (`b` holds exactly `ofp_header.length`
    /// bytes). Errors: OFPBRC_BAD_VERSION (version outside 1..=6),
    /// OFPBRC_BAD_LEN (length field disagrees with `b`, or a body is short),
    /// OFPBRC_BAD_TYPE (unknown type for that version), and the body
    /// decoders' errors.
    pub fn decode(b: &[u8]) -> Result<(Header, Message), OfpError> {
        let h = Header::parse(b).ok_or(OfpError::new(
            ErrorCode::BadRequestLen,
            "shorter than ofp_header",
        ))?;
        if h.length as usize != b.len() {
            return fail(
                ErrorCode::BadRequestLen,
                "ofp_header.length does not match the frame",
            );
        }
        if !version_supported(h.version) {
            // A HELLO of an unknown version still negotiates (section 6.3.1).
            if h.msg_type == 0 && h.version > 6 {
                return Ok((h, Message::Hello(Hello::decode(&b[HEADER_LEN..])?)));
            }
            return fail(ErrorCode::BadRequestVersion, "unsupported version");
        }
        let v = h.version;
        let body = &b[HEADER_LEN..];
        let kind = kind_of(v, h.msg_type).ok_or(OfpError::new(
            ErrorCode::BadRequestType,
            "unknown message type",
        ))?;
        let empty = |m: Message| {
            if body.is_empty() {
                Ok(m)
            } else {
                fail(ErrorCode::BadRequestLen, "body must be empty")
            }
        };
        let m = match kind {
            Kind::Hello => Message::Hello(if v == 1 {
                Hello::default()
            } else {
                Hello::decode(body)?
            }),
            Kind::Error => {
                let mut r = Rd::new(body);
                let err_type = r.u16()?;
                let code = r.u16()?;
                let experimenter = if err_type == 0xffff && v > 1 {
                    Some(r.u32()?)
                } else {
                    None
                };
                Message::Error(ErrorMsg {
                    err_type,
                    code,
                    experimenter,
                    data: r.rest().to_vec(),
                })
            }
            Kind::EchoReq => Message::EchoRequest(body.to_vec()),
            Kind::EchoRep => Message::EchoReply(body.to_vec()),
            Kind::Experimenter => {
                let mut r = Rd::new(body);
                let exp = r.u32()?;
                match exp {
                    super::oxm::NX_VENDOR_ID => Message::Nx(NxMsg::decode(v, r.rest())?),
                    ONF_EXPERIMENTER_ID if v == 4 => {
                        let t = r.u32()?;
                        match t {
                            ONFT_BUNDLE_CONTROL => {
                                Message::BundleControl(BundleControl::decode(r.rest(), true)?)
                            }
                            ONFT_BUNDLE_ADD_MESSAGE => {
                                Message::BundleAdd(BundleAdd::decode(r.rest(), true)?)
                            }
                            _ => return fail(ErrorCode::BadRequestExpType, "unknown ONF message"),
                        }
                    }
                    _ => return fail(ErrorCode::BadRequestExperimenter, "unknown experimenter"),
                }
            }
            Kind::FeaturesReq => empty(Message::FeaturesRequest)?,
            Kind::FeaturesRep => Message::FeaturesReply(FeaturesReply::decode(v, body)?),
            Kind::GetConfigReq => empty(Message::GetConfigRequest)?,
            Kind::GetConfigRep => Message::GetConfigReply(SwitchConfig::decode(body)?),
            Kind::SetConfig => Message::SetConfig(SwitchConfig::decode(body)?),
            Kind::PacketIn => Message::PacketIn(PacketIn::decode(v, body)?),
            Kind::FlowRemoved => Message::FlowRemoved(FlowRemoved::decode(v, body)?),
            Kind::PortStatus => Message::PortStatus(PortStatus::decode(v, body)?),
            Kind::PacketOut => Message::PacketOut(PacketOut::decode(v, body)?),
            Kind::FlowMod => Message::FlowMod(FlowMod::decode(v, body)?),
            Kind::GroupMod => Message::GroupMod(GroupMod::decode(v, body)?),
            Kind::PortMod => Message::PortMod(PortMod::decode(v, body)?),
            Kind::TableMod => {
                let mut r = Rd::new(body);
                let table_id = r.u8()?;
                r.skip(3)?;
                let config = r.u32()?;
                Message::TableMod {
                    table_id,
                    config,
                    props: r.rest().to_vec(),
                }
            }
            Kind::MpReq => Message::MultipartRequest(MultipartRequest::decode(v, body)?),
            Kind::MpRep => Message::MultipartReply(MultipartReply::decode(v, body)?),
            Kind::BarrierReq => empty(Message::BarrierRequest)?,
            Kind::BarrierRep => empty(Message::BarrierReply)?,
            Kind::RoleReq => Message::RoleRequest(Role::decode(body)?),
            Kind::RoleRep => Message::RoleReply(Role::decode(body)?),
            Kind::MeterMod => Message::MeterMod(MeterMod::decode(body)?),
            Kind::GetAsyncReq => empty(Message::GetAsyncRequest)?,
            Kind::GetAsyncRep => Message::GetAsyncReply(AsyncMasks::decode(v, body)?),
            Kind::SetAsync => Message::SetAsync(AsyncMasks::decode(v, body)?),
            Kind::RoleStatus => Message::RoleStatus(RoleStatus::decode(body)?),
            Kind::QueueGetConfigReq | Kind::QueueGetConfigRep => {
                let mut r = Rd::new(body);
                let port = if v == 1 {
                    super::actions::port_from_of10(r.u16()?)
                } else {
                    r.u32()?
                };
                if kind == Kind::QueueGetConfigReq {
                    r.skip(if v == 1 { 2 } else { 4 })?;
                    Message::QueueGetConfigRequest(port)
                } else {
                    r.skip(if v == 1 { 6 } else { 4 })?;
                    Message::QueueGetConfigReply {
                        port,
                        queues: r.rest().to_vec(),
                    }
                }
            }
            Kind::BundleControl => Message::BundleControl(BundleControl::decode(body, false)?),
            Kind::BundleAdd => Message::BundleAdd(BundleAdd::decode(body, false)?),
        };
        Ok((h, m))
    }

    fn kind(&self) -> Kind {
        match self {
            Message::Hello(_) => Kind::Hello,
            Message::Error(_) => Kind::Error,
            Message::EchoRequest(_) => Kind::EchoReq,
            Message::EchoReply(_) => Kind::EchoRep,
            Message::FeaturesRequest => Kind::FeaturesReq,
            Message::FeaturesReply(_) => Kind::FeaturesRep,
            Message::GetConfigRequest => Kind::GetConfigReq,
            Message::GetConfigReply(_) => Kind::GetConfigRep,
            Message::SetConfig(_) => Kind::SetConfig,
            Message::PacketIn(_) => Kind::PacketIn,
            Message::FlowRemoved(_) => Kind::FlowRemoved,
            Message::PortStatus(_) => Kind::PortStatus,
            Message::PacketOut(_) => Kind::PacketOut,
            Message::FlowMod(_) => Kind::FlowMod,
            Message::GroupMod(_) => Kind::GroupMod,
            Message::PortMod(_) => Kind::PortMod,
            Message::TableMod { .. } => Kind::TableMod,
            Message::MultipartRequest(_) => Kind::MpReq,
            Message::MultipartReply(_) => Kind::MpRep,
            Message::BarrierRequest => Kind::BarrierReq,
            Message::BarrierReply => Kind::BarrierRep,
            Message::RoleRequest(_) => Kind::RoleReq,
            Message::RoleReply(_) => Kind::RoleRep,
            Message::MeterMod(_) => Kind::MeterMod,
            Message::GetAsyncRequest => Kind::GetAsyncReq,
            Message::GetAsyncReply(_) => Kind::GetAsyncRep,
            Message::SetAsync(_) => Kind::SetAsync,
            Message::RoleStatus(_) => Kind::RoleStatus,
            Message::BundleControl(b) if b.onf => Kind::Experimenter,
            Message::BundleAdd(b) if b.onf => Kind::Experimenter,
            Message::BundleControl(_) => Kind::BundleControl,
            Message::BundleAdd(_) => Kind::BundleAdd,
            Message::Nx(_) => Kind::Experimenter,
            Message::QueueGetConfigRequest(_) => Kind::QueueGetConfigReq,
            Message::QueueGetConfigReply { .. } => Kind::QueueGetConfigRep,
        }
    }

    /// Encodes the whole message (header included) for wire version
    /// `version` with transaction id `xid`. The caller picks a version in
    /// which the message exists; fields absent from that version's layout
    /// are dropped.
    pub fn encode(&self, version: u8, xid: u32) -> Vec<u8> {
        let mut w = Vec::with_capacity(64);
        Header {
            version,
            msg_type: type_of(version, self.kind()),
            length: 0,
            xid,
        }
        .write(&mut w);
        self.encode_body(version, &mut w);
        let len = w.len().min(0xffff) as u16;
        w.set_u16(2, len);
        w
    }

    fn encode_body(&self, v: u8, w: &mut Vec<u8>) {
        match self {
            Message::Hello(h) => h.encode(w),
            Message::Error(e) => {
                w.u16(e.err_type);
                w.u16(e.code);
                if let Some(x) = e.experimenter {
                    w.u32(x);
                }
                w.put(&e.data);
            }
            Message::EchoRequest(d) | Message::EchoReply(d) => w.put(d),
            Message::FeaturesRequest
            | Message::GetAsyncRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply => {}
            Message::FeaturesReply(f) => f.encode(v, w),
            Message::GetConfigReply(c) | Message::SetConfig(c) => c.encode(w),
            Message::PacketIn(p) => p.encode(v, w),
            Message::FlowRemoved(f) => f.encode(v, w),
            Message::PortStatus(p) => p.encode(v, w),
            Message::PacketOut(p) => p.encode(v, w),
            Message::FlowMod(f) => f.encode(v, w),
            Message::GroupMod(g) => g.encode(v, w),
            Message::PortMod(p) => p.encode(v, w),
            Message::TableMod {
                table_id,
                config,
                props,
            } => {
                w.u8(*table_id);
                w.zeros(3);
                w.u32(*config);
                w.put(props);
            }
            Message::MultipartRequest(m) => m.encode(v, w),
            Message::MultipartReply(m) => m.encode(v, w),
            Message::RoleRequest(r) | Message::RoleReply(r) => r.encode(w),
            Message::MeterMod(m) => m.encode(w),
            Message::GetAsyncReply(m) | Message::SetAsync(m) => m.encode(v, w),
            Message::RoleStatus(r) => r.encode(w),
            Message::QueueGetConfigRequest(p) => {
                if v == 1 {
                    w.u16(super::actions::port_to_of10(*p));
                    w.zeros(2);
                } else {
                    w.u32(*p);
                    w.zeros(4);
                }
            }
            Message::QueueGetConfigReply { port, queues } => {
                if v == 1 {
                    w.u16(super::actions::port_to_of10(*port));
                    w.zeros(6);
                } else {
                    w.u32(*port);
                    w.zeros(4);
                }
                w.put(queues);
            }
            Message::BundleControl(b) => {
                if b.onf {
                    w.u32(ONF_EXPERIMENTER_ID);
                    w.u32(ONFT_BUNDLE_CONTROL);
                }
                b.encode(w)
            }
            Message::BundleAdd(b) => {
                if b.onf {
                    w.u32(ONF_EXPERIMENTER_ID);
                    w.u32(ONFT_BUNDLE_ADD_MESSAGE);
                }
                b.encode(w)
            }
            Message::Nx(n) => {
                w.u32(super::oxm::NX_VENDOR_ID);
                n.encode(v, w)
            }
        }
    }
}
