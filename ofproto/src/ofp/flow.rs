//! Flow-table messages: OFPT_FLOW_MOD, OFPT_PACKET_IN, OFPT_PACKET_OUT,
//! OFPT_FLOW_REMOVED (OpenFlow 1.0.0 sections 5.3.3, 5.3.6, 5.4.1, 5.4.2;
//! OpenFlow 1.5.1 sections 7.3.4.2, 7.3.7, 7.4.1, 7.4.2).

use super::actions::{decode_actions, encode_actions, port_from_of10, port_to_of10, Action};
use super::error::{fail, ErrorCode, OfpError};
use super::instructions::{
    decode_instructions, encode_instructions, of10_actions_to_instructions, Instruction,
};
use super::match10::Match10;
use super::oxm::OxmMatch;
use super::wire::{Rd, Wr};

/// A flow match in the spelling of the message it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// OF1.0 fixed `ofp_match`.
    Of10(Match10),
    /// OF1.2+ OXM `ofp_match`, or NXM TLVs in Nicira messages.
    Oxm(OxmMatch),
}

impl Match {
    /// The match as a field list (OF1.0 matches are converted to NXM fields).
    pub fn fields(&self) -> OxmMatch {
        match self {
            Match::Of10(m) => m.to_fields(),
            Match::Oxm(m) => m.clone(),
        }
    }

    /// Reads the match of a message of OpenFlow wire version `v`: OF1.0
    /// `ofp_match`, OF1.1 `ofp11_match` ([`super::match11`], kept as
    /// fields), OF1.2+ OXM.
    pub(crate) fn read(v: u8, r: &mut Rd<'_>) -> Result<Match, OfpError> {
        if v == 1 {
            Ok(Match::Of10(Match10::read(r)?))
        } else if v == 2 {
            Ok(Match::Oxm(super::match11::read(r)?))
        } else {
            Ok(Match::Oxm(OxmMatch::read_ofp_match(r)?))
        }
    }

    /// Writes the match in the layout of OpenFlow wire version `v`.
    pub(crate) fn write(&self, v: u8, w: &mut Vec<u8>) {
        match (self, v) {
            (Match::Of10(m), 1) => m.write(w),
            (m, 2) => super::match11::write(&m.fields(), w),
            (Match::Oxm(m), v) if v > 1 => m.write_ofp_match(w),
            (Match::Of10(m), _) => m.to_fields().write_ofp_match(w),
            (Match::Oxm(_), _) => Match10::default().write(w),
        }
    }
}

/// OFPFC_* flow_mod commands.
pub mod command {
    /// OFPFC_ADD.
    pub const ADD: u8 = 0;
    /// OFPFC_MODIFY.
    pub const MODIFY: u8 = 1;
    /// OFPFC_MODIFY_STRICT.
    pub const MODIFY_STRICT: u8 = 2;
    /// OFPFC_DELETE.
    pub const DELETE: u8 = 3;
    /// OFPFC_DELETE_STRICT.
    pub const DELETE_STRICT: u8 = 4;
}

/// OFPFF_* flow_mod flags (OF1.3 numbering; OF1.0 has only the first three).
pub mod flags {
    /// OFPFF_SEND_FLOW_REM.
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    /// OFPFF_CHECK_OVERLAP.
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    /// OF1.0 OFPFF_EMERG / OF1.1+ OFPFF_RESET_COUNTS.
    pub const RESET_COUNTS: u16 = 1 << 2;
    /// OFPFF_NO_PKT_COUNTS (OF1.3+).
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    /// OFPFF_NO_BYT_COUNTS (OF1.3+).
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
}

/// OFPT_FLOW_MOD / NXT_FLOW_MOD contents.
///
/// OF1.0 layout: `ofp_match(40), cookie u64, command u16, idle_timeout u16,
/// hard_timeout u16, priority u16, buffer_id u32, out_port u16, flags u16,
/// actions`. Open vSwitch's flow_mod_table_id extension puts the table id in
/// the high byte of `command`. OF1.1+: `cookie u64, cookie_mask u64,
/// table_id u8, command u8, idle u16, hard u16, priority u16, buffer_id u32,
/// out_port u32, out_group u32, flags u16, importance u16 (OF1.4+; pad
/// before), ofp_match, instructions`. Timeouts are seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMod {
    /// Opaque controller cookie.
    pub cookie: u64,
    /// Cookie mask for modify/delete (OF1.1+).
    pub cookie_mask: u64,
    /// Table id (OF1.0: high byte of `command`).
    pub table_id: u8,
    /// OFPFC_* command.
    pub command: u8,
    /// Idle timeout, seconds (0 = none).
    pub idle_timeout: u16,
    /// Hard timeout, seconds (0 = none).
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Buffered packet to apply to, 0xffffffff = none.
    pub buffer_id: u32,
    /// Output port filter for delete (32-bit space).
    pub out_port: u32,
    /// Output group filter for delete (OF1.1+).
    pub out_group: u32,
    /// OFPFF_* flags.
    pub flags: u16,
    /// Eviction importance (OF1.4+).
    pub importance: u16,
    /// The match.
    pub match_: Match,
    /// Instructions (OF1.0 actions appear as one apply-actions).
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// Decodes the body (after `ofp_header`).
    pub fn decode(v: u8, body: &[u8]) -> Result<FlowMod, OfpError> {
        let mut r = Rd::new(body);
        if v == 1 {
            let m = Match10::read(&mut r)?;
            let cookie = r.u64()?;
            let cmd = r.u16()?;
            let idle_timeout = r.u16()?;
            let hard_timeout = r.u16()?;
            let priority = r.u16()?;
            let buffer_id = r.u32()?;
            let out_port = port_from_of10(r.u16()?);
            let flags = r.u16()?;
            let acts = decode_actions(r.rest(), v)?;
            return Ok(FlowMod {
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
                match_: Match::Of10(m),
                instructions: of10_actions_to_instructions(acts),
            });
        }
        let cookie = r.u64()?;
        let cookie_mask = r.u64()?;
        let table_id = r.u8()?;
        let command = r.u8()?;
        let idle_timeout = r.u16()?;
        let hard_timeout = r.u16()?;
        let priority = r.u16()?;
        let buffer_id = r.u32()?;
        let out_port = r.u32()?;
        let out_group = r.u32()?;
        let flags = r.u16()?;
        let importance = r.u16()?;
        let match_ = Match::read(v, &mut r)?;
        let instructions = decode_instructions(r.rest(), v)?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            importance: if v >= 5 { importance } else { 0 },
            match_,
            instructions,
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        if v == 1 {
            self.match_.write(v, w);
            w.u64(self.cookie);
            w.u16((self.table_id as u16) << 8 | self.command as u16);
            w.u16(self.idle_timeout);
            w.u16(self.hard_timeout);
            w.u16(self.priority);
            w.u32(self.buffer_id);
            w.u16(port_to_of10(self.out_port));
            w.u16(self.flags);
            encode_instructions(&self.instructions, v, w);
            return;
        }
        w.u64(self.cookie);
        w.u64(self.cookie_mask);
        w.u8(self.table_id);
        w.u8(self.command);
        w.u16(self.idle_timeout);
        w.u16(self.hard_timeout);
        w.u16(self.priority);
        w.u32(self.buffer_id);
        w.u32(self.out_port);
        w.u32(self.out_group);
        w.u16(self.flags);
        w.u16(if v >= 5 { self.importance } else { 0 });
        self.match_.write(v, w);
        encode_instructions(&self.instructions, v, w);
    }

    /// All actions of the apply-actions instructions, in order.
    pub fn apply_actions(&self) -> Vec<&Action> {
        self.instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::ApplyActions(a) => Some(a.iter()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// OFPT_PACKET_IN.
///
/// OF1.0: `buffer_id u32, total_len u16, in_port u16, reason u8, pad, data`.
/// OF1.1: `buffer_id u32, in_port u32, in_phy_port u32, total_len u16,
/// reason u8, table_id u8, data`.
/// OF1.2: `buffer_id, total_len, reason, table_id, ofp_match, pad[2], data`.
/// OF1.3+: as OF1.2 with `cookie u64` before the match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    /// Buffer id, 0xffffffff = not buffered.
    pub buffer_id: u32,
    /// Full length of the frame.
    pub total_len: u16,
    /// OFPR_* reason.
    pub reason: u8,
    /// Table that sent it (OF1.2+).
    pub table_id: u8,
    /// Flow cookie (OF1.3+).
    pub cookie: u64,
    /// Ingress port (OF1.0 only; OF1.2+ carries it in `match_`), 32-bit space.
    pub in_port: u32,
    /// Pipeline fields (OF1.2+).
    pub match_: OxmMatch,
    /// Packet bytes (possibly truncated).
    pub data: Vec<u8>,
}

impl PacketIn {
    /// Decodes the body.
    pub fn decode(v: u8, body: &[u8]) -> Result<PacketIn, OfpError> {
        let mut r = Rd::new(body);
        let buffer_id = r.u32()?;
        let total_len = r.u16()?;
        if v == 1 {
            let in_port = port_from_of10(r.u16()?);
            let reason = r.u8()?;
            r.skip(1)?;
            return Ok(PacketIn {
                buffer_id,
                total_len,
                reason,
                table_id: 0,
                cookie: 0,
                in_port,
                match_: OxmMatch::default(),
                data: r.rest().to_vec(),
            });
        }
        if v == 2 {
            // `ofp11_packet_in`: buffer_id, in_port u32, in_phy_port u32,
            // total_len u16, reason u8, table_id u8, data.
            let mut r = Rd::new(body);
            let buffer_id = r.u32()?;
            let in_port = r.u32()?;
            r.skip(4)?;
            let total_len = r.u16()?;
            let reason = r.u8()?;
            let table_id = r.u8()?;
            return Ok(PacketIn {
                buffer_id,
                total_len,
                reason,
                table_id,
                cookie: 0,
                in_port,
                match_: OxmMatch::default(),
                data: r.rest().to_vec(),
            });
        }
        let reason = r.u8()?;
        let table_id = r.u8()?;
        let cookie = if v >= 4 { r.u64()? } else { 0 };
        let match_ = OxmMatch::read_ofp_match(&mut r)?;
        r.skip(2)?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            in_port: 0,
            match_,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        w.u32(self.buffer_id);
        if v == 2 {
            let in_port = match self.match_.get(super::oxm::Field::InPort) {
                Some(f) if self.in_port == 0 => f.value_u64() as u32,
                _ => self.in_port,
            };
            w.u32(in_port);
            w.u32(in_port);
            w.u16(self.total_len);
            w.u8(self.reason);
            w.u8(self.table_id);
            w.put(&self.data);
            return;
        }
        w.u16(self.total_len);
        if v == 1 {
            w.u16(port_to_of10(self.in_port));
            w.u8(self.reason);
            w.zeros(1);
        } else {
            w.u8(self.reason);
            w.u8(self.table_id);
            if v >= 4 {
                w.u64(self.cookie);
            }
            self.match_.write_ofp_match(w);
            w.zeros(2);
        }
        w.put(&self.data);
    }
}

/// OFPT_PACKET_OUT.
///
/// OF1.0: `buffer_id u32, in_port u16, actions_len u16, actions, data`.
/// OF1.1-1.4: `buffer_id u32, in_port u32, actions_len u16, pad[6], actions,
/// data`. OF1.5: `buffer_id u32, actions_len u16, pad[2], ofp_match,
/// actions, data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    /// Buffer id, 0xffffffff = packet in `data`.
    pub buffer_id: u32,
    /// Ingress port (32-bit space); OF1.5 carries it in `match_`.
    pub in_port: u32,
    /// OF1.5 pipeline match.
    pub match_: OxmMatch,
    /// Actions to apply.
    pub actions: Vec<Action>,
    /// Packet bytes.
    pub data: Vec<u8>,
}

impl PacketOut {
    /// Decodes the body.
    pub fn decode(v: u8, body: &[u8]) -> Result<PacketOut, OfpError> {
        let mut r = Rd::new(body);
        let buffer_id = r.u32()?;
        let (in_port, alen, match_) = if v == 1 {
            (port_from_of10(r.u16()?), r.u16()?, OxmMatch::default())
        } else if v <= 5 {
            let p = r.u32()?;
            let l = r.u16()?;
            r.skip(6)?;
            (p, l, OxmMatch::default())
        } else {
            let l = r.u16()?;
            r.skip(2)?;
            (0, l, OxmMatch::read_ofp_match(&mut r)?)
        };
        let actions = decode_actions(r.bytes(alen as usize)?, v)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            match_,
            actions,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        w.u32(self.buffer_id);
        let mut acts = Vec::new();
        encode_actions(&self.actions, v, &mut acts);
        if v == 1 {
            w.u16(port_to_of10(self.in_port));
            w.u16(acts.len() as u16);
        } else if v <= 5 {
            w.u32(self.in_port);
            w.u16(acts.len() as u16);
            w.zeros(6);
        } else {
            w.u16(acts.len() as u16);
            w.zeros(2);
            self.match_.write_ofp_match(w);
        }
        w.put(&acts);
        w.put(&self.data);
    }
}

/// OFPT_FLOW_REMOVED (OF1.0 and OF1.1-1.4 layouts; durations in seconds +
/// nanoseconds, counters u64).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    /// OFPRR_* reason.
    pub reason: u8,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
}

impl FlowRemoved {
    /// Decodes the body. The OF1.5 (OXS statistics) layout is
    /// OFPBRC_BAD_VERSION here.
    pub fn decode(v: u8, body: &[u8]) -> Result<FlowRemoved, OfpError> {
        let mut r = Rd::new(body);
        if v == 1 {
            let m = Match10::read(&mut r)?;
            let cookie = r.u64()?;
            let priority = r.u16()?;
            let reason = r.u8()?;
            r.skip(1)?;
            let duration_sec = r.u32()?;
            let duration_nsec = r.u32()?;
            let idle_timeout = r.u16()?;
            r.skip(2)?;
            return Ok(FlowRemoved {
                cookie,
                priority,
                reason,
                table_id: 0,
                duration_sec,
                duration_nsec,
                idle_timeout,
                hard_timeout: 0,
                packet_count: r.u64()?,
                byte_count: r.u64()?,
                match_: Match::Of10(m),
            });
        }
        if v >= 6 {
            return fail(
                ErrorCode::BadRequestVersion,
                "flow_removed layout of this version is not supported",
            );
        }
        let cookie = r.u64()?;
        let priority = r.u16()?;
        let reason = r.u8()?;
        let table_id = r.u8()?;
        let duration_sec = r.u32()?;
        let duration_nsec = r.u32()?;
        let idle_timeout = r.u16()?;
        // OF1.1 `ofp11_flow_removed` has padding in place of hard_timeout.
        let hard_timeout = if v == 2 { 0 } else { r.u16()? };
        if v == 2 {
            r.skip(2)?;
        }
        let packet_count = r.u64()?;
        let byte_count = r.u64()?;
        let match_ = Match::read(v, &mut r)?;
        Ok(FlowRemoved {
            cookie,
            priority,
            reason,
            table_id,
            duration_sec,
            duration_nsec,
            idle_timeout,
            hard_timeout,
            packet_count,
            byte_count,
            match_,
        })
    }

    /// Appends the body.
    pub fn encode(&self, v: u8, w: &mut Vec<u8>) {
        if v == 1 {
            self.match_.write(v, w);
            w.u64(self.cookie);
            w.u16(self.priority);
            w.u8(self.reason);
            w.zeros(1);
            w.u32(self.duration_sec);
            w.u32(self.duration_nsec);
            w.u16(self.idle_timeout);
            w.zeros(2);
            w.u64(self.packet_count);
            w.u64(self.byte_count);
            return;
        }
        w.u64(self.cookie);
        w.u16(self.priority);
        w.u8(self.reason);
        w.u8(self.table_id);
        w.u32(self.duration_sec);
        w.u32(self.duration_nsec);
        w.u16(self.idle_timeout);
        w.u16(if v == 2 { 0 } else { self.hard_timeout });
        w.u64(self.packet_count);
        w.u64(self.byte_count);
        self.match_.write(v, w);
    }
}
