//! Nicira vendor messages (OFPT_VENDOR / OFPT_EXPERIMENTER with vendor
//! 0x00002320), Open vSwitch `include/openflow/nicira-ext.h`.
//!
//! After `ofp_header` and `vendor u32` comes `subtype u32`, then the body.

use super::actions::{decode_actions, port_from_of10, port_to_of10};
use super::error::{fail, ErrorCode, OfpError};
use super::flow::{FlowMod, FlowRemoved, Match};
use super::instructions::{encode_instructions, of10_actions_to_instructions};
use super::oxm::OxmMatch;
use super::wire::{pad8, Rd, Wr};

/// NXT_* message subtypes.
#[allow(missing_docs)]
pub mod nxt {
    pub const ROLE_REQUEST: u32 = 10;
    pub const ROLE_REPLY: u32 = 11;
    pub const SET_FLOW_FORMAT: u32 = 12;
    pub const FLOW_MOD: u32 = 13;
    pub const FLOW_REMOVED: u32 = 14;
    pub const FLOW_MOD_TABLE_ID: u32 = 15;
    pub const SET_PACKET_IN_FORMAT: u32 = 16;
    pub const SET_ASYNC_CONFIG: u32 = 19;
    pub const SET_CONTROLLER_ID: u32 = 20;
    pub const TLV_TABLE_MOD: u32 = 24;
    pub const TLV_TABLE_REQUEST: u32 = 25;
    pub const TLV_TABLE_REPLY: u32 = 26;
    pub const RESUME: u32 = 28;
    pub const CT_FLUSH_ZONE: u32 = 29;
    pub const PACKET_IN2: u32 = 30;
    pub const CT_FLUSH: u32 = 32;
}

/// NXFF_OPENFLOW10 flow format.
pub const NXFF_OPENFLOW10: u32 = 0;
/// NXFF_NXM flow format.
pub const NXFF_NXM: u32 = 2;

/// One TLV (Geneve option) to `tun_metadataN` mapping (`nx_tlv_map`, 8
/// bytes): `option_class u16, option_type u8, option_len u8 (bytes),
/// index u16, pad[2]`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvMap {
    pub option_class: u16,
    pub option_type: u8,
    pub option_len: u8,
    /// tun_metadata index 0..63.
    pub index: u16,
}

/// One NXT_PACKET_IN2 property (`type u16, len u16, value, pad to 8`),
/// value kept verbatim (64-bit values include their 4 alignment bytes).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub ptype: u16,
    pub value: Vec<u8>,
}

/// NXPINT_* property types of NXT_PACKET_IN2.
#[allow(missing_docs)]
pub mod nxpint {
    pub const PACKET: u16 = 0;
    pub const FULL_LEN: u16 = 1;
    pub const BUFFER_ID: u16 = 2;
    pub const TABLE_ID: u16 = 3;
    pub const COOKIE: u16 = 4;
    pub const REASON: u16 = 5;
    pub const METADATA: u16 = 6;
    pub const USERDATA: u16 = 7;
    pub const CONTINUATION: u16 = 8;
}

/// Nicira vendor messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NxMsg {
    /// NXT_ROLE_REQUEST: NX_ROLE_OTHER 0 / MASTER 1 / SLAVE 2.
    RoleRequest(u32),
    /// NXT_ROLE_REPLY.
    RoleReply(u32),
    /// NXT_SET_FLOW_FORMAT: NXFF_*.
    SetFlowFormat(u32),
    /// NXT_FLOW_MOD (`nx_flow_mod`: `cookie u64, command u16, idle u16,
    /// hard u16, priority u16, buffer_id u32, out_port u16, flags u16,
    /// match_len u16, pad[6]`, NXM match padded to 8, actions); the table id
    /// rides in the high byte of `command` with flow_mod_table_id.
    FlowMod(FlowMod),
    /// NXT_FLOW_MOD_TABLE_ID: enable (1) / disable (0), then `pad[7]`.
    FlowModTableId(u8),
    /// NXT_SET_PACKET_IN_FORMAT: NXPIF_STANDARD 0 / NXM 1 / NXT_PACKET_IN2 2.
    SetPacketInFormat(u32),
    /// NXT_SET_CONTROLLER_ID: `zero[6], controller_id u16`.
    SetControllerId(u16),
    /// NXT_SET_ASYNC_CONFIG: the OpenFlow 1.3 OFPT_SET_ASYNC layout for
    /// OpenFlow 1.0-1.2 connections.
    SetAsyncConfig(super::async_cfg::AsyncMasks),
    /// NXT_TLV_TABLE_MOD: `command u16 (NXTTMC_ADD 0, DELETE 1, CLEAR 2),
    /// pad[6], maps`.
    TlvTableMod {
        /// NXTTMC_*.
        command: u16,
        /// Mappings.
        maps: Vec<TlvMap>,
    },
    /// NXT_TLV_TABLE_REQUEST (empty).
    TlvTableRequest,
    /// NXT_TLV_TABLE_REPLY: `max_option_space u32, max_fields u16,
    /// reserved[10], maps`.
    TlvTableReply {
        /// Bytes of option space.
        max_option_space: u32,
        /// Number of tun_metadata fields.
        max_fields: u16,
        /// Mappings.
        maps: Vec<TlvMap>,
    },
    /// NXT_CT_FLUSH_ZONE: `zero[6], zone_id u16`.
    CtFlushZone(u16),
    /// NXT_CT_FLUSH (OVS 3.1): zone and partial tuples
    /// ([`super::ct_flush::CtFlush`]).
    CtFlush(super::ct_flush::CtFlush),
    /// NXT_PACKET_IN2: properties.
    PacketIn2(Vec<Prop>),
    /// NXT_RESUME: the properties of the NXT_PACKET_IN2 being resumed
    /// (packet, metadata, NXPINT_CONTINUATION; OVS `ofputil_encode_resume`).
    Resume(Vec<Prop>),
    /// NXT_FLOW_REMOVED (`nx_flow_removed`: `cookie u64, priority u16,
    /// reason u8, table_id u8 (table + 1; 0 unknown), duration_sec u32,
    /// duration_nsec u32, idle_timeout u16, match_len u16, packet_count u64,
    /// byte_count u64`, NXM match padded to 8), sent instead of
    /// OFPT_FLOW_REMOVED to OpenFlow 1.0 connections that chose the NXM flow
    /// format. `table_id` here is the real table; `hard_timeout` is not on
    /// the wire.
    FlowRemoved(FlowRemoved),
}

fn read_maps(r: &mut Rd<'_>) -> Result<Vec<TlvMap>, OfpError> {
    let mut maps = Vec::new();
    while !r.is_empty() {
        let m = TlvMap {
            option_class: r.u16()?,
            option_type: r.u8()?,
            option_len: r.u8()?,
            index: r.u16()?,
        };
        r.skip(2)?;
        maps.push(m);
    }
    Ok(maps)
}

/// Reads `type u16, len u16, value, pad to 8` properties to the end.
fn read_props(r: &mut Rd<'_>) -> Result<Vec<Prop>, OfpError> {
    let mut props = Vec::new();
    while !r.is_empty() {
        let ptype = r.u16()?;
        let len = r.u16()? as usize;
        if len < 4 {
            return fail(ErrorCode::BadPropertyLen, "packet_in2 property length");
        }
        let value = r.bytes(len - 4)?.to_vec();
        let pad = pad8(len) - len;
        r.skip(pad.min(r.remaining()))?;
        props.push(Prop { ptype, value });
    }
    Ok(props)
}

fn write_maps(maps: &[TlvMap], w: &mut Vec<u8>) {
    for m in maps {
        w.u16(m.option_class);
        w.u8(m.option_type);
        w.u8(m.option_len);
        w.u16(m.index);
        w.zeros(2);
    }
}

impl NxMsg {
    /// Decodes from `subtype` on (the vendor id is already consumed).
    /// Unknown subtypes are OFPBRC_BAD_SUBTYPE (OFPBRC_BAD_EXP_TYPE).
    pub fn decode(_v: u8, b: &[u8]) -> Result<NxMsg, OfpError> {
        let mut r = Rd::new(b);
        let st = r.u32()?;
        Ok(match st {
            nxt::ROLE_REQUEST => NxMsg::RoleRequest(r.u32()?),
            nxt::ROLE_REPLY => NxMsg::RoleReply(r.u32()?),
            nxt::SET_FLOW_FORMAT => NxMsg::SetFlowFormat(r.u32()?),
            nxt::SET_PACKET_IN_FORMAT => NxMsg::SetPacketInFormat(r.u32()?),
            nxt::FLOW_MOD_TABLE_ID => {
                let s = r.u8()?;
                r.skip(7)?;
                NxMsg::FlowModTableId(s)
            }
            nxt::SET_CONTROLLER_ID => {
                r.skip(6)?;
                NxMsg::SetControllerId(r.u16()?)
            }
            nxt::SET_ASYNC_CONFIG => {
                NxMsg::SetAsyncConfig(super::async_cfg::AsyncMasks::decode(4, r.rest())?)
            }
            nxt::CT_FLUSH_ZONE => {
                r.skip(6)?;
                NxMsg::CtFlushZone(r.u16()?)
            }
            nxt::CT_FLUSH => NxMsg::CtFlush(super::ct_flush::CtFlush::decode(r.rest())?),
            nxt::FLOW_MOD => {
                let cookie = r.u64()?;
                let cmd = r.u16()?;
                let idle_timeout = r.u16()?;
                let hard_timeout = r.u16()?;
                let priority = r.u16()?;
                let buffer_id = r.u32()?;
                let out_port = port_from_of10(r.u16()?);
                let flags = r.u16()?;
                let match_len = r.u16()? as usize;
                r.skip(6)?;
                let m = OxmMatch::decode_tlvs(r.bytes(match_len)?)?;
                r.skip(pad8(match_len) - match_len)?;
                let acts = decode_actions(r.rest(), 1)?;
                NxMsg::FlowMod(FlowMod {
                    cookie,
                    cookie_mask: 0,
                    table_id: (cmd >> 8) as u8,
                    command: cmd as u8,
                    idle_timeout,
                    hard_timeout,
                    priority,
                    buffer_id,
                    out_port,
                    out_group: 0xffff_ffff,
                    flags,
                    importance: 0,
                    match_: Match::Oxm(m),
                    instructions: of10_actions_to_instructions(acts),
                })
            }
            nxt::TLV_TABLE_MOD => {
                let command = r.u16()?;
                r.skip(6)?;
                NxMsg::TlvTableMod {
                    command,
                    maps: read_maps(&mut r)?,
                }
            }
            nxt::TLV_TABLE_REQUEST => NxMsg::TlvTableRequest,
            nxt::FLOW_REMOVED => {
                let cookie = r.u64()?;
                let priority = r.u16()?;
                let reason = r.u8()?;
                let table_id = r.u8()?.wrapping_sub(1);
                let duration_sec = r.u32()?;
                let duration_nsec = r.u32()?;
                let idle_timeout = r.u16()?;
                let match_len = r.u16()? as usize;
                let packet_count = r.u64()?;
                let byte_count = r.u64()?;
                let m = OxmMatch::decode_tlvs(r.bytes(match_len)?)?;
                NxMsg::FlowRemoved(FlowRemoved {
                    cookie,
                    priority,
                    reason,
                    table_id,
                    duration_sec,
                    duration_nsec,
                    idle_timeout,
                    hard_timeout: 0,
                    packet_count,
                    byte_count,
                    match_: Match::Oxm(m),
                })
            }
            nxt::TLV_TABLE_REPLY => {
                let max_option_space = r.u32()?;
                let max_fields = r.u16()?;
                r.skip(10)?;
                NxMsg::TlvTableReply {
                    max_option_space,
                    max_fields,
                    maps: read_maps(&mut r)?,
                }
            }
            nxt::PACKET_IN2 => NxMsg::PacketIn2(read_props(&mut r)?),
            nxt::RESUME => NxMsg::Resume(read_props(&mut r)?),
            _ => {
                return fail(
                    ErrorCode::BadRequestExpType,
                    "unknown Nicira message subtype",
                )
            }
        })
    }

    /// Appends from `subtype` on (the caller writes the vendor id).
    pub fn encode(&self, _v: u8, w: &mut Vec<u8>) {
        match self {
            NxMsg::RoleRequest(x) => {
                w.u32(nxt::ROLE_REQUEST);
                w.u32(*x);
            }
            NxMsg::RoleReply(x) => {
                w.u32(nxt::ROLE_REPLY);
                w.u32(*x);
            }
            NxMsg::SetFlowFormat(x) => {
                w.u32(nxt::SET_FLOW_FORMAT);
                w.u32(*x);
            }
            NxMsg::SetPacketInFormat(x) => {
                w.u32(nxt::SET_PACKET_IN_FORMAT);
                w.u32(*x);
            }
            NxMsg::FlowModTableId(s) => {
                w.u32(nxt::FLOW_MOD_TABLE_ID);
                w.u8(*s);
                w.zeros(7);
            }
            NxMsg::SetAsyncConfig(m) => {
                w.u32(nxt::SET_ASYNC_CONFIG);
                m.encode(4, w);
            }
            NxMsg::SetControllerId(id) => {
                w.u32(nxt::SET_CONTROLLER_ID);
                w.zeros(6);
                w.u16(*id);
            }
            NxMsg::CtFlushZone(z) => {
                w.u32(nxt::CT_FLUSH_ZONE);
                w.zeros(6);
                w.u16(*z);
            }
            NxMsg::CtFlush(f) => {
                w.u32(nxt::CT_FLUSH);
                f.encode(w);
            }
            NxMsg::FlowMod(f) => {
                w.u32(nxt::FLOW_MOD);
                w.u64(f.cookie);
                w.u16((f.table_id as u16) << 8 | f.command as u16);
                w.u16(f.idle_timeout);
                w.u16(f.hard_timeout);
                w.u16(f.priority);
                w.u32(f.buffer_id);
                w.u16(port_to_of10(f.out_port));
                w.u16(f.flags);
                let at = w.len();
                w.u16(0);
                w.zeros(6);
                let start = w.len();
                f.match_.fields().encode_tlvs(w);
                let n = (w.len() - start) as u16;
                w.set_u16(at, n);
                w.pad_from(start, 8);
                encode_instructions(&f.instructions, 1, w);
            }
            NxMsg::TlvTableMod { command, maps } => {
                w.u32(nxt::TLV_TABLE_MOD);
                w.u16(*command);
                w.zeros(6);
                write_maps(maps, w);
            }
            NxMsg::TlvTableRequest => w.u32(nxt::TLV_TABLE_REQUEST),
            NxMsg::FlowRemoved(f) => {
                w.u32(nxt::FLOW_REMOVED);
                w.u64(f.cookie);
                w.u16(f.priority);
                w.u8(f.reason);
                w.u8(f.table_id.wrapping_add(1));
                w.u32(f.duration_sec);
                w.u32(f.duration_nsec);
                w.u16(f.idle_timeout);
                let at = w.len();
                w.u16(0);
                w.u64(f.packet_count);
                w.u64(f.byte_count);
                let start = w.len();
                f.match_.fields().encode_tlvs(w);
                let n = (w.len() - start) as u16;
                w.set_u16(at, n);
                w.pad_from(start, 8);
            }
            NxMsg::TlvTableReply {
                max_option_space,
                max_fields,
                maps,
            } => {
                w.u32(nxt::TLV_TABLE_REPLY);
                w.u32(*max_option_space);
                w.u16(*max_fields);
                w.zeros(10);
                write_maps(maps, w);
            }
            NxMsg::PacketIn2(props) | NxMsg::Resume(props) => {
                w.u32(if matches!(self, NxMsg::Resume(_)) {
                    nxt::RESUME
                } else {
                    nxt::PACKET_IN2
                });
                for p in props {
                    let s = w.len();
                    w.u16(p.ptype);
                    w.u16(4 + p.value.len() as u16);
                    w.put(&p.value);
                    w.pad_from(s, 8);
                }
            }
        }
    }
}

impl NxMsg {
    /// For NXT_PACKET_IN2 and NXT_RESUME: the value of the first property
    /// of type `t`.
    pub fn prop(&self, t: u16) -> Option<&[u8]> {
        match self {
            NxMsg::PacketIn2(p) | NxMsg::Resume(p) => {
                p.iter().find(|p| p.ptype == t).map(|p| &p.value[..])
            }
            _ => None,
        }
    }
}
