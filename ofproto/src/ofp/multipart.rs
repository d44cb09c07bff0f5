//! OFPT_STATS_* (OF1.0) / OFPT_MULTIPART_* (OF1.1+) requests and replies
//! (OpenFlow 1.0.0 section 5.3.5, OpenFlow 1.5.1 section 7.3.5), and the
//! Nicira NXST_FLOW / NXST_AGGREGATE vendor statistics.
//!
//! Header after `ofp_header`: `type u16, flags u16` (OF1.0) or `type u16,
//! flags u16, pad[4]` (OF1.1+). Flag OFPMPF_REQ_MORE / REPLY_MORE = 1.
//! Vendor statistics (type 0xFFFF) continue with `vendor u32, subtype u32`
//! (OF1.0 then `pad[4]`).

use super::actions::{port_from_of10, port_to_of10};
use super::error::{fail, ErrorCode, OfpError};
use super::flow::Match;
use super::instructions::Instruction;
use super::match10::Match10;
use super::oxm::{OxmMatch, NX_VENDOR_ID};
use super::switch::{Bucket, MeterBand, Port};
use super::wire::{pad8, Rd, Wr};

/// OFPMP_* / OFPST_* numbers.
#[allow(missing_docs)]
pub mod mp_type {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const QUEUE: u16 = 5;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const GROUP_FEATURES: u16 = 8;
    pub const METER: u16 = 9;
    pub const METER_CONFIG: u16 = 10;
    pub const METER_FEATURES: u16 = 11;
    pub const TABLE_FEATURES: u16 = 12;
    pub const PORT_DESC: u16 = 13;
    /// OFPMP_QUEUE_DESC (OpenFlow 1.4+).
    pub const QUEUE_DESC: u16 = 15;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// NXST_FLOW vendor statistics subtype.
pub const NXST_FLOW: u32 = 0;
/// NXST_AGGREGATE vendor statistics subtype.
pub const NXST_AGGREGATE: u32 = 1;

/// Flow / aggregate statistics request. OF1.0: `ofp_match, table_id u8,
/// pad, out_port u16`; OF1.1+: `table_id u8, pad[3], out_port u32,
/// out_group u32, pad[4], cookie u64, cookie_mask u64, ofp_match`; Nicira
/// (`nx_flow_stats_request`): `out_port u16, match_len u16, table_id u8,
/// pad[3], NXM match padded to 8`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStatsRequest {
    /// 0xff = all tables.
    pub table_id: u8,
    /// 32-bit space; OFPP_ANY = no filter.
    pub out_port: u32,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub match_: Match,
}

/// One flow entry of a flow statistics reply. OF1.0 `ofp_flow_stats`,
/// OF1.1-1.4 `ofp_flow_stats` (`flags`, OF1.4 `importance`), Nicira
/// `nx_flow_stats` (`idle_age`, `hard_age`, NXM match).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// OFPFF_* (OF1.3+).
    pub flags: u16,
    /// OF1.4+.
    pub importance: u16,
    /// Nicira: seconds since last hit + 1 (0 = unknown).
    pub idle_age: u16,
    /// Nicira: seconds since last modification + 1 (0 = unknown).
    pub hard_age: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

/// OFPMP_DESC reply: fixed-width NUL-padded strings (256, 256, 256, 32, 256
/// bytes).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desc {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

/// One table statistics entry. OF1.0 (64 bytes): `table_id, pad[3],
/// name[32], wildcards, max_entries, active_count, lookup_count u64,
/// matched_count u64`; OF1.3+ (24 bytes): `table_id, pad[3], active_count,
/// lookup_count, matched_count`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableStats {
    pub table_id: u8,
    /// OF1.0 only.
    pub name: String,
    /// OF1.0 only.
    pub wildcards: u32,
    /// OF1.0 only.
    pub max_entries: u32,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// One port statistics entry (OF1.0: 104 bytes, OF1.1-1.3: 112 bytes with
/// duration). Counters u64; 0xffff... = unavailable.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortStats {
    pub port_no: u32,
    /// rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped,
    /// rx_errors, tx_errors, rx_frame_err, rx_over_err, rx_crc_err,
    /// collisions.
    pub counters: [u64; 12],
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// One group statistics entry (OF1.3+ layout with duration).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// (packet_count, byte_count) per bucket.
    pub buckets: Vec<(u64, u64)>,
}

/// One group description entry (OF1.1-1.4): `length u16, type u8, pad,
/// group_id u32, buckets`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDesc {
    pub group_type: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

/// One meter statistics entry: `meter_id u32, len u16, pad[6], flow_count
/// u32, packet_in_count u64, byte_in_count u64, duration_sec u32,
/// duration_nsec u32, band stats (packets u64, bytes u64)*`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bands: Vec<(u64, u64)>,
}

/// One meter configuration entry: `length u16, flags u16, meter_id u32,
/// bands`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

/// Request bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MpReqBody {
    /// No body (DESC, TABLE, PORT_DESC, GROUP_DESC, *_FEATURES).
    Empty,
    /// FLOW or AGGREGATE (standard or, with `nx`, NXST_FLOW/NXST_AGGREGATE).
    Flow {
        /// Nicira vendor spelling.
        nx: bool,
        /// The request.
        req: FlowStatsRequest,
    },
    /// PORT_STATS / QUEUE-less port filter: port number (32-bit space).
    Port(u32),
    /// GROUP / METER / METER_CONFIG id filter.
    Id(u32),
    /// QUEUE (OF1.0 `port u16, pad[2], queue_id u32`; OF1.1+ `port u32,
    /// queue_id u32`) and QUEUE_DESC (OF1.4+, same): port (32-bit space,
    /// OFPP_ANY = all) and queue (OFPQ_ALL 0xffffffff = all).
    Queue {
        /// Port.
        port: u32,
        /// Queue id.
        queue_id: u32,
    },
    /// Anything else (e.g. TABLE_FEATURES with a body), verbatim.
    Raw(Vec<u8>),
}

/// Reply bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MpRepBody {
    /// OFPMP_DESC.
    Desc(Desc),
    /// OFPMP_FLOW (or NXST_FLOW when the reply's `nx` is set).
    Flow(Vec<FlowStats>),
    /// OFPMP_AGGREGATE / NXST_AGGREGATE: `packet_count u64, byte_count u64,
    /// flow_count u32, pad[4]`.
    Aggregate {
        /// Packets.
        packet_count: u64,
        /// Bytes.
        byte_count: u64,
        /// Flows.
        flow_count: u32,
    },
    /// OFPMP_TABLE.
    Table(Vec<TableStats>),
    /// OFPMP_PORT_STATS.
    Port(Vec<PortStats>),
    /// OFPMP_PORT_DESC.
    PortDesc(Vec<Port>),
    /// OFPMP_GROUP.
    Group(Vec<GroupStats>),
    /// OFPMP_GROUP_DESC.
    GroupDesc(Vec<GroupDesc>),
    /// OFPMP_METER.
    Meter(Vec<MeterStats>),
    /// OFPMP_METER_CONFIG.
    MeterConfig(Vec<MeterConfig>),
    /// Anything else (TABLE_FEATURES, QUEUE, ... or versions not typed
    /// here), verbatim.
    Raw(Vec<u8>),
}

/// A multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartRequest {
    /// OFPMP_* type; Nicira NXST_FLOW / NXST_AGGREGATE requests decode as
    /// FLOW / AGGREGATE with a `MpReqBody::Flow { nx: true, .. }` body.
    pub mp_type: u16,
    /// OFPMPF_REQ_MORE.
    pub flags: u16,
    /// Body.
    pub body: MpReqBody,
}

/// A multipart reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartReply {
    /// OFPMP_* type (FLOW / AGGREGATE for Nicira replies, see `nx`).
    pub mp_type: u16,
    /// OFPMPF_REPLY_MORE.
    pub flags: u16,
    /// Spelled as Nicira vendor statistics (NXST_FLOW / NXST_AGGREGATE);
    /// `mp_type` is then FLOW or AGGREGATE.
    pub nx: bool,
    /// Body.
    pub body: MpRepBody,
}

pub(super) fn read_mp_header(v: u8, r: &mut Rd<'_>) -> Result<(u16, u16, Option<u32>), OfpError> {
    let t = r.u16()?;
    let flags = r.u16()?;
    if v > 1 {
        r.skip(4)?;
    }
    let sub = if t == mp_type::EXPERIMENTER {
        if r.u32()? != NX_VENDOR_ID {
            return fail(
                ErrorCode::BadRequestExperimenter,
                "unknown vendor statistics",
            );
        }
        let s = r.u32()?;
        if v == 1 {
            r.skip(4)?;
        }
        Some(s)
    } else {
        None
    };
    Ok((t, flags, sub))
}

pub(super) fn write_mp_header(v: u8, t: u16, flags: u16, sub: Option<u32>, w: &mut Vec<u8>) {
    w.u16(t);
    w.u16(flags);
    if v > 1 {
        w.zeros(4);
    }
    if let Some(s) = sub {
        w.u32(NX_VENDOR_ID);
        w.u32(s);
        if v == 1 {
            w.zeros(4);
        }
    }
}

pub(super) fn read_nxm(r: &mut Rd<'_>, match_len: usize) -> Result<OxmMatch, OfpError> {
    let m = OxmMatch::decode_tlvs(r.bytes(match_len)?)?;
    r.skip(pad8(match_len) - match_len)?;
    Ok(m)
}

pub(super) fn write_nxm(m: &Match, w: &mut Vec<u8>) -> u16 {
    let start = w.len();
    m.fields().encode_tlvs(w);
    let n = w.len() - start;
    w.pad_from(start, 8);
    n as u16
}

impl MultipartRequest {
    /// Decodes the body after `ofp_header`.
    pub fn decode(v: u8, body: &[u8]) -> Result<MultipartRequest, OfpError> {
        let mut r = Rd::new(body);
        let (t, flags, sub) = read_mp_header(v, &mut r)?;
        use mp_type::*;
        let b = match (t, sub) {
            (EXPERIMENTER, Some(NXST_FLOW | NXST_AGGREGATE)) => {
                let out_port = port_from_of10(r.u16()?);
                let match_len = r.u16()? as usize;
                let table_id = r.u8()?;
                r.skip(3)?;
                let m = read_nxm(&mut r, match_len)?;
                let req = FlowStatsRequest {
                    table_id,
                    out_port,
                    out_group: 0xffff_ffff,
                    cookie: 0,
                    cookie_mask: 0,
                    match_: Match::Oxm(m),
                };
                MpReqBody::Flow { nx: true, req }
            }
            (EXPERIMENTER, _) => {
                return fail(ErrorCode::BadRequestExpType, "unknown Nicira statistics")
            }
            (FLOW | AGGREGATE, _) if v == 1 => {
                let m = Match10::read(&mut r)?;
                let table_id = r.u8()?;
                r.skip(1)?;
                let out_port = port_from_of10(r.u16()?);
                let req = FlowStatsRequest {
                    table_id,
                    out_port,
                    out_group: 0xffff_ffff,
                    cookie: 0,
                    cookie_mask: 0,
                    match_: Match::Of10(m),
                };
                MpReqBody::Flow { nx: false, req }
            }
            (FLOW | AGGREGATE, _) if v >= 2 => {
                let table_id = r.u8()?;
                r.skip(3)?;
                let out_port = r.u32()?;
                let out_group = r.u32()?;
                r.skip(4)?;
                let cookie = r.u64()?;
                let cookie_mask = r.u64()?;
                let m = Match::read(v, &mut r)?;
                let req = FlowStatsRequest {
                    table_id,
                    out_port,
                    out_group,
                    cookie,
                    cookie_mask,
                    match_: m,
                };
                MpReqBody::Flow { nx: false, req }
            }
            (PORT_STATS, _) if v == 1 && r.remaining() == 8 => {
                let p = port_from_of10(r.u16()?);
                MpReqBody::Port(p)
            }
            (PORT_STATS, _) if v > 1 && r.remaining() == 8 => MpReqBody::Port(r.u32()?),
            (QUEUE, _) if v == 1 && r.remaining() == 8 => {
                let port = port_from_of10(r.u16()?);
                r.skip(2)?;
                MpReqBody::Queue {
                    port,
                    queue_id: r.u32()?,
                }
            }
            (QUEUE, _) | (QUEUE_DESC, _) if v > 1 && r.remaining() == 8 => MpReqBody::Queue {
                port: r.u32()?,
                queue_id: r.u32()?,
            },
            (GROUP | METER | METER_CONFIG, _) if v > 1 && r.remaining() == 8 => {
                MpReqBody::Id(r.u32()?)
            }
            _ if r.is_empty() => MpReqBody::Empty,
            _ => MpReqBody::Raw(r.rest().to_vec()),
        };
        let mp_type = match sub {
            Some(NXST_AGGREGATE) => AGGREGATE,
            Some(_) => FLOW,
            None => t,
        };
        Ok(MultipartRequest {
            mp_type,
            flags,
            body: b,
        })
    }

    /// Appends the body after `ofp_header`.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        let nx = matches!(self.body, MpReqBody::Flow { nx: true, .. });
        let sub = nx.then_some(if self.mp_type == mp_type::AGGREGATE {
            NXST_AGGREGATE
        } else {
            NXST_FLOW
        });
        let t = if nx {
            mp_type::EXPERIMENTER
        } else {
            self.mp_type
        };
        write_mp_header(v, t, self.flags, sub, w);
        match &self.body {
            MpReqBody::Empty => {}
            MpReqBody::Flow { nx: true, req } => {
                w.u16(port_to_of10(req.out_port));
                let at = w.len();
                w.u16(0);
                w.u8(req.table_id);
                w.zeros(3);
                let n = write_nxm(&req.match_, w);
                w.set_u16(at, n);
            }
            MpReqBody::Flow { nx: false, req } => {
                if v == 1 {
                    match &req.match_ {
                        Match::Of10(m) => m.write(w),
                        Match::Oxm(_) => Match10::default().write(w),
                    }
                    w.u8(req.table_id);
                    w.zeros(1);
                    w.u16(port_to_of10(req.out_port));
                } else {
                    w.u8(req.table_id);
                    w.zeros(3);
                    w.u32(req.out_port);
                    w.u32(req.out_group);
                    w.zeros(4);
                    w.u64(req.cookie);
                    w.u64(req.cookie_mask);
                    req.match_.write(v, w);
                }
            }
            MpReqBody::Port(p) => {
                if v == 1 {
                    w.u16(port_to_of10(*p));
                    w.zeros(6);
                } else {
                    w.u32(*p);
                    w.zeros(4);
                }
            }
            MpReqBody::Id(id) => {
                w.u32(*id);
                w.zeros(4);
            }
            MpReqBody::Queue { port, queue_id } => {
                if v == 1 {
                    w.u16(port_to_of10(*port));
                    w.zeros(2);
                } else {
                    w.u32(*port);
                }
                w.u32(*queue_id);
            }
            MpReqBody::Raw(b) => w.put(b),
        }
    }

    /// True for a Nicira NXST_AGGREGATE request (decoded with `mp_type`
    /// rewritten to AGGREGATE).
    pub fn is_aggregate(&self) -> bool {
        self.mp_type == mp_type::AGGREGATE
    }
}
