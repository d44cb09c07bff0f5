//! Switch-level messages: features, config, ports, role, groups, meters,
//! bundles (OpenFlow 1.5.1 sections 7.2.1, 7.3.1-7.3.9, 7.3.4.4-5, 7.3.9,
//! 7.4.3; OpenFlow 1.0.0 sections 5.2.1, 5.3.1-5.3.3).

use super::actions::{decode_actions, encode_actions, port_from_of10, port_to_of10, Action};
use super::error::{fail, ErrorCode, OfpError};
use super::header::Header;
use super::msgs::Message;
use super::wire::{cstr, put_cstr, Rd, Wr};

/// A port description: OF1.0 `ofp_phy_port` (48 bytes), OF1.1-1.3 `ofp_port`
/// (64 bytes), OF1.4+ `ofp_port` with an Ethernet property. Speeds in kbps,
/// feature bitmaps are OFPPF_*.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Port {
    /// Port number (32-bit space).
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    /// Name (at most 15 bytes on the wire).
    pub name: String,
    /// OFPPC_* bits.
    pub config: u32,
    /// OFPPS_* bits.
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    pub curr_speed: u32,
    pub max_speed: u32,
    /// OF1.4+ properties other than Ethernet, verbatim.
    pub other_props: Vec<u8>,
}

impl Port {
    /// Wire size of a port in `v` (OF1.4+: with only the Ethernet property).
    pub fn read(v: u8, r: &mut Rd<'_>) -> Result<Port, OfpError> {
        let mut p = Port::default();
        if v == 1 {
            p.port_no = port_from_of10(r.u16()?);
            p.hw_addr = r.arr()?;
            p.name = cstr(r.bytes(16)?);
            p.config = r.u32()?;
            p.state = r.u32()?;
            p.curr = r.u32()?;
            p.advertised = r.u32()?;
            p.supported = r.u32()?;
            p.peer = r.u32()?;
            return Ok(p);
        }
        if v <= 4 {
            p.port_no = r.u32()?;
            r.skip(4)?;
            p.hw_addr = r.arr()?;
            r.skip(2)?;
            p.name = cstr(r.bytes(16)?);
            for f in [
                &mut p.config,
                &mut p.state,
                &mut p.curr,
                &mut p.advertised,
                &mut p.supported,
                &mut p.peer,
                &mut p.curr_speed,
                &mut p.max_speed,
            ] {
                *f = r.u32()?;
            }
            return Ok(p);
        }
        p.port_no = r.u32()?;
        let len = r.u16()? as usize;
        if len < 40 {
            return fail(ErrorCode::BadRequestLen, "ofp_port.length");
        }
        let mut b = r.sub(len - 6)?;
        b.skip(2)?;
        p.hw_addr = b.arr()?;
        b.skip(2)?;
        p.name = cstr(b.bytes(16)?);
        p.config = b.u32()?;
        p.state = b.u32()?;
        while b.remaining() >= 4 {
            let t = b.peek_u16(0)?;
            let l = b.peek_u16(2)? as usize;
            if l < 4 {
                return fail(ErrorCode::BadPropertyLen, "port property length");
            }
            let mut pr = b.sub(super::wire::pad8(l).min(b.remaining()))?;
            if t == 0 && l == 32 {
                pr.skip(8)?;
                for f in [
                    &mut p.curr,
                    &mut p.advertised,
                    &mut p.supported,
                    &mut p.peer,
                    &mut p.curr_speed,
                    &mut p.max_speed,
                ] {
                    *f = pr.u32()?;
                }
            } else {
                p.other_props.extend_from_slice(pr.rest());
            }
        }
        Ok(p)
    }

    /// Appends the port in `v`'s layout.
    pub fn write(&self, v: u8, w: &mut Vec<u8>) {
        if v == 1 {
            w.u16(port_to_of10(self.port_no));
            w.put(&self.hw_addr);
            put_cstr(w, &self.name, 16);
            for f in [
                self.config,
                self.state,
                self.curr,
                self.advertised,
                self.supported,
                self.peer,
            ] {
                w.u32(f);
            }
            return;
        }
        if v <= 4 {
            w.u32(self.port_no);
            w.zeros(4);
            w.put(&self.hw_addr);
            w.zeros(2);
            put_cstr(w, &self.name, 16);
            for f in [
                self.config,
                self.state,
                self.curr,
                self.advertised,
                self.supported,
                self.peer,
                self.curr_speed,
                self.max_speed,
            ] {
                w.u32(f);
            }
            return;
        }
        let start = w.len();
        w.u32(self.port_no);
        w.u16(0);
        w.zeros(2);
        w.put(&self.hw_addr);
        w.zeros(2);
        put_cstr(w, &self.name, 16);
        w.u32(self.config);
        w.u32(self.state);
        w.u16(0);
        w.u16(32);
        w.zeros(4);
        for f in [
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            w.u32(f);
        }
        w.put(&self.other_props);
        let len = (w.len() - start) as u16;
        w.set_u16(start + 4, len);
    }
}

/// OFPT_FEATURES_REPLY. OF1.0: `datapath_id u64, n_buffers u32, n_tables u8,
/// pad[3], capabilities u32, actions u32, ports[]`; OF1.1/1.2: `... pad[3],
/// capabilities, reserved, ports[]`; OF1.3+: `... n_tables, auxiliary_id u8,
/// pad[2], capabilities, reserved` and no ports.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeaturesReply {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    /// OF1.3+ auxiliary connection id.
    pub auxiliary_id: u8,
    /// OFPC_* bits.
    pub capabilities: u32,
    /// OF1.0 supported-actions bitmap; reserved in OF1.1+.
    pub actions: u32,
    /// Ports (OF1.0-1.2 only).
    pub ports: Vec<Port>,
}

impl FeaturesReply {
    /// Decodes the body.
    pub fn decode(v: u8, body: &[u8]) -> Result<FeaturesReply, OfpError> {
        let mut r = Rd::new(body);
        let mut f = FeaturesReply {
            datapath_id: r.u64()?,
            n_buffers: r.u32()?,
            n_tables: r.u8()?,
            ..Default::default()
        };
        if v >= 4 {
            f.auxiliary_id = r.u8()?;
            r.skip(2)?;
        } else {
            r.skip(3)?;
        }
        f.capabilities = r.u32()?;
        f.actions = r.u32()?;
        if v <= 3 {
            while !r.is_empty() {
                f.ports.push(Port::read(v, &mut r)?);
            }
        }
        Ok(f)
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        w.u64(self.datapath_id);
        w.u32(self.n_buffers);
        w.u8(self.n_tables);
        if v >= 4 {
            w.u8(self.auxiliary_id);
            w.zeros(2);
        } else {
            w.zeros(3);
        }
        w.u32(self.capabilities);
        w.u32(self.actions);
        if v <= 3 {
            for p in &self.ports {
                p.write(v, w);
            }
        }
    }
}

/// OFPT_GET_CONFIG_REPLY / OFPT_SET_CONFIG: `flags u16 (OFPC_FRAG_*),
/// miss_send_len u16 (bytes)`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    pub flags: u16,
    pub miss_send_len: u16,
}

impl SwitchConfig {
    /// Decodes the 4-byte body.
    pub fn decode(body: &[u8]) -> Result<SwitchConfig, OfpError> {
        let mut r = Rd::new(body);
        Ok(SwitchConfig {
            flags: r.u16()?,
            miss_send_len: r.u16()?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u16(self.flags);
        w.u16(self.miss_send_len);
    }
}

/// OFPT_PORT_STATUS: `reason u8 (OFPPR_ADD/DELETE/MODIFY), pad[7], port`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStatus {
    pub reason: u8,
    pub port: Port,
}

impl PortStatus {
    /// Decodes the body.
    pub fn decode(v: u8, body: &[u8]) -> Result<PortStatus, OfpError> {
        let mut r = Rd::new(body);
        let reason = r.u8()?;
        r.skip(7)?;
        Ok(PortStatus {
            reason,
            port: Port::read(v, &mut r)?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        w.u8(self.reason);
        w.zeros(7);
        self.port.write(v, w);
    }
}

/// OFPPC_* port configuration bits (`ofp_port_config`, OpenFlow 1.5.1
/// section 7.2.1; NO_STP, NO_RECV_STP and NO_FLOOD exist only in OpenFlow
/// 1.0, OVS keeps them for every version as `OFPUTIL_PC_*`).
#[allow(missing_docs)]
pub mod ofppc {
    pub const PORT_DOWN: u32 = 1 << 0;
    pub const NO_STP: u32 = 1 << 1;
    pub const NO_RECV: u32 = 1 << 2;
    pub const NO_RECV_STP: u32 = 1 << 3;
    pub const NO_FLOOD: u32 = 1 << 4;
    pub const NO_FWD: u32 = 1 << 5;
    pub const NO_PACKET_IN: u32 = 1 << 6;
    /// Every bit rvs keeps.
    pub const ALL: u32 = 0x7f;
}

/// OFPT_PORT_MOD. OF1.0: `port_no u16, hw_addr[6], config, mask, advertise,
/// pad[4]`; OF1.1-1.3: `port_no u32, pad[4], hw_addr[6], pad[2], config,
/// mask, advertise, pad[4]`; OF1.4+: as OF1.3 up to mask, then properties
/// (Ethernet: `type=0, len=8, advertise`).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMod {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    /// OFPPC_* bits to set.
    pub config: u32,
    /// Which OFPPC_* bits to change.
    pub mask: u32,
    /// OFPPF_* to advertise; `None` when an OF1.4+ message has no Ethernet
    /// property.
    pub advertise: Option<u32>,
}

impl PortMod {
    /// Decodes the body.
    pub fn decode(v: u8, body: &[u8]) -> Result<PortMod, OfpError> {
        let mut r = Rd::new(body);
        let port_no = if v == 1 {
            port_from_of10(r.u16()?)
        } else {
            let p = r.u32()?;
            r.skip(4)?;
            p
        };
        let hw_addr = r.arr()?;
        if v > 1 {
            r.skip(2)?;
        }
        let config = r.u32()?;
        let mask = r.u32()?;
        let advertise = if v <= 4 {
            Some(r.u32()?)
        } else if r.remaining() >= 8 && r.peek_u16(0)? == 0 {
            r.skip(4)?;
            Some(r.u32()?)
        } else {
            None
        };
        Ok(PortMod {
            port_no,
            hw_addr,
            config,
            mask,
            advertise,
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        if v == 1 {
            w.u16(port_to_of10(self.port_no));
        } else {
            w.u32(self.port_no);
            w.zeros(4);
        }
        w.put(&self.hw_addr);
        if v > 1 {
            w.zeros(2);
        }
        w.u32(self.config);
        w.u32(self.mask);
        if v <= 4 {
            w.u32(self.advertise.unwrap_or(0));
            w.zeros(4);
        } else if let Some(a) = self.advertise {
            w.u16(0);
            w.u16(8);
            w.u32(a);
        }
    }
}

/// OFPT_ROLE_REQUEST / REPLY (OF1.2+): `role u32 (OFPCR_ROLE_*), pad[4],
/// generation_id u64`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub role: u32,
    pub generation_id: u64,
}

impl Role {
    /// Decodes the body.
    pub fn decode(body: &[u8]) -> Result<Role, OfpError> {
        let mut r = Rd::new(body);
        let role = r.u32()?;
        r.skip(4)?;
        Ok(Role {
            role,
            generation_id: r.u64()?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u32(self.role);
        w.zeros(4);
        w.u64(self.generation_id);
    }
}

/// A group bucket (OF1.1-1.4 `ofp_bucket`): `len u16, weight u16, watch_port
/// u32, watch_group u32, pad[4], actions`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: u32,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    /// Reads one bucket.
    pub fn read(v: u8, r: &mut Rd<'_>) -> Result<Bucket, OfpError> {
        let len = r.peek_u16(0)? as usize;
        if len < 16 || len > r.remaining() {
            return fail(
                ErrorCode::Wire {
                    err_type: 6,
                    code: 12,
                },
                "bucket length",
            );
        }
        let mut b = r.sub(len)?;
        b.skip(2)?;
        let weight = b.u16()?;
        let watch_port = b.u32()?;
        let watch_group = b.u32()?;
        b.skip(4)?;
        Ok(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: decode_actions(b.rest(), v)?,
        })
    }

    /// Appends the bucket.
    pub fn write(&self, v: u8, w: &mut Vec<u8>) {
        let start = w.len();
        w.u16(0);
        w.u16(self.weight);
        w.u32(self.watch_port);
        w.u32(self.watch_group);
        w.zeros(4);
        encode_actions(&self.actions, v, w);
        let len = (w.len() - start) as u16;
        w.set_u16(start, len);
    }
}

/// OFPT_GROUP_MOD (OF1.1-1.4): `command u16 (OFPGC_ADD/MODIFY/DELETE),
/// type u8 (OFPGT_ALL/SELECT/INDIRECT/FF), pad, group_id u32, buckets`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMod {
    pub command: u16,
    pub group_type: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    /// Decodes the body (the OF1.5 bucket-property layout is
    /// OFPBRC_BAD_VERSION here).
    pub fn decode(v: u8, body: &[u8]) -> Result<GroupMod, OfpError> {
        if v >= 6 {
            return fail(
                ErrorCode::BadRequestVersion,
                "OF1.5 group_mod is not supported",
            );
        }
        let mut r = Rd::new(body);
        let command = r.u16()?;
        let group_type = r.u8()?;
        r.skip(1)?;
        let group_id = r.u32()?;
        let mut buckets = Vec::new();
        while !r.is_empty() {
            buckets.push(Bucket::read(v, &mut r)?);
        }
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        w.u16(self.command);
        w.u8(self.group_type);
        w.zeros(1);
        w.u32(self.group_id);
        for b in &self.buckets {
            b.write(v, w);
        }
    }
}

/// A meter band (`ofp_meter_band_*`, 16 bytes): `type u16 (OFPMBT_DROP 1,
/// DSCP_REMARK 2, EXPERIMENTER 0xffff), len u16, rate u32 (kbps or pktps),
/// burst_size u32`, then `pad[4]` (drop), `prec_level u8, pad[3]` (remark),
/// or `experimenter u32`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterBand {
    pub band_type: u16,
    pub rate: u32,
    pub burst_size: u32,
    /// DSCP_REMARK precedence increase.
    pub prec_level: u8,
    /// EXPERIMENTER id.
    pub experimenter: u32,
}

impl MeterBand {
    /// Reads one 16-byte band.
    pub fn read(r: &mut Rd<'_>) -> Result<MeterBand, OfpError> {
        let band_type = r.u16()?;
        let len = r.u16()?;
        if len != 16 {
            return fail(
                ErrorCode::Wire {
                    err_type: 12,
                    code: 7,
                },
                "meter band length",
            );
        }
        let rate = r.u32()?;
        let burst_size = r.u32()?;
        let tail = r.u32()?;
        let (prec_level, experimenter) = match band_type {
            2 => ((tail >> 24) as u8, 0),
            0xffff => (0, tail),
            _ => (0, 0),
        };
        Ok(MeterBand {
            band_type,
            rate,
            burst_size,
            prec_level,
            experimenter,
        })
    }

    /// Appends the band.
    pub fn write(&self, w: &mut Vec<u8>) {
        w.u16(self.band_type);
        w.u16(16);
        w.u32(self.rate);
        w.u32(self.burst_size);
        match self.band_type {
            2 => w.u32((self.prec_level as u32) << 24),
            0xffff => w.u32(self.experimenter),
            _ => w.u32(0),
        }
    }
}

/// OFPT_METER_MOD (OF1.3+): `command u16, flags u16 (OFPMF_*), meter_id
/// u32, bands`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterMod {
    pub command: u16,
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    /// Decodes the body.
    pub fn decode(body: &[u8]) -> Result<MeterMod, OfpError> {
        let mut r = Rd::new(body);
        let command = r.u16()?;
        let flags = r.u16()?;
        let meter_id = r.u32()?;
        let mut bands = Vec::new();
        while !r.is_empty() {
            bands.push(MeterBand::read(&mut r)?);
        }
        Ok(MeterMod {
            command,
            flags,
            meter_id,
            bands,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u16(self.command);
        w.u16(self.flags);
        w.u32(self.meter_id);
        for b in &self.bands {
            b.write(w);
        }
    }
}

/// OFPBCT_* bundle control types.
pub mod bundle_ctrl {
    /// OFPBCT_OPEN_REQUEST.
    pub const OPEN_REQUEST: u16 = 0;
    /// OFPBCT_OPEN_REPLY.
    pub const OPEN_REPLY: u16 = 1;
    /// OFPBCT_CLOSE_REQUEST.
    pub const CLOSE_REQUEST: u16 = 2;
    /// OFPBCT_CLOSE_REPLY.
    pub const CLOSE_REPLY: u16 = 3;
    /// OFPBCT_COMMIT_REQUEST.
    pub const COMMIT_REQUEST: u16 = 4;
    /// OFPBCT_COMMIT_REPLY.
    pub const COMMIT_REPLY: u16 = 5;
    /// OFPBCT_DISCARD_REQUEST.
    pub const DISCARD_REQUEST: u16 = 6;
    /// OFPBCT_DISCARD_REPLY.
    pub const DISCARD_REPLY: u16 = 7;
}

/// OFPT_BUNDLE_CONTROL (OpenFlow 1.5.1 section 7.3.9.1): `bundle_id u32,
/// type u16 (OFPBCT_*), flags u16 (OFPBF_ATOMIC 1, ORDERED 2), properties`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleControl {
    /// Spelled as the OF1.3 ONF extension (ONFT_BUNDLE_CONTROL).
    pub onf: bool,
    pub bundle_id: u32,
    pub ctrl_type: u16,
    pub flags: u16,
    /// Properties, verbatim.
    pub props: Vec<u8>,
}

impl BundleControl {
    /// Decodes the body (after the experimenter header for `onf`).
    pub fn decode(body: &[u8], onf: bool) -> Result<BundleControl, OfpError> {
        let mut r = Rd::new(body);
        Ok(BundleControl {
            onf,
            bundle_id: r.u32()?,
            ctrl_type: r.u16()?,
            flags: r.u16()?,
            props: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u32(self.bundle_id);
        w.u16(self.ctrl_type);
        w.u16(self.flags);
        w.put(&self.props);
    }

    /// The matching reply (type + 1), same id, flags and spelling.
    pub fn reply(&self) -> BundleControl {
        BundleControl {
            ctrl_type: self.ctrl_type | 1,
            props: Vec::new(),
            ..self.clone()
        }
    }
}

/// OFPT_BUNDLE_ADD_MESSAGE (OpenFlow 1.5.1 section 7.3.9.2): `bundle_id u32,
/// pad[2], flags u16, message (a whole OpenFlow message), [pad, properties]`.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAdd {
    /// Spelled as the OF1.3 ONF extension (ONFT_BUNDLE_ADD_MESSAGE).
    pub onf: bool,
    pub bundle_id: u32,
    pub flags: u16,
    /// The embedded message bytes, header included.
    pub message: Vec<u8>,
    /// Bytes after the embedded message (padding and properties), verbatim.
    pub trailer: Vec<u8>,
}

impl BundleAdd {
    /// Decodes the body; the embedded message's length must fit.
    pub fn decode(body: &[u8], onf: bool) -> Result<BundleAdd, OfpError> {
        let mut r = Rd::new(body);
        let bundle_id = r.u32()?;
        r.skip(2)?;
        let flags = r.u16()?;
        let h = Header::parse(&body[r.pos()..]).ok_or(OfpError::new(
            ErrorCode::BadRequestLen,
            "bundle add: no inner header",
        ))?;
        if (h.length as usize) < 8 {
            return fail(ErrorCode::BadRequestLen, "bundle add: inner length");
        }
        let message = r.bytes(h.length as usize)?.to_vec();
        Ok(BundleAdd {
            onf,
            bundle_id,
            flags,
            message,
            trailer: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u32(self.bundle_id);
        w.zeros(2);
        w.u16(self.flags);
        w.put(&self.message);
        w.put(&self.trailer);
    }

    /// Decodes the embedded message.
    pub fn inner(&self) -> Result<(Header, Message), OfpError> {
        Message::decode(&self.message)
    }
}
