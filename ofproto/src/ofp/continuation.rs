//! The private "continuation" of a paused translation, carried in the
//! NXPINT_CONTINUATION property of NXT_PACKET_IN2 and sent back unchanged in
//! NXT_RESUME (Open vSwitch `lib/ofp-packet.c`,
//! `ofputil_put_packet_in_private` / `ofputil_decode_packet_in_private`).
//!
//! The format is opaque to controllers but follows Open vSwitch's layout so
//! that `ovs-ofctl monitor` can print it (`continuation.actions=...`): the
//! property value is `pad[4]` (nested-property alignment) followed by
//! properties `type u16, len u16, value, pad to 8` (OpenFlow 1.5.1 section
//! 7.2.1.1 property encoding):
//!
//! * NXCPT_BRIDGE (0x8000): the bridge's 16-byte instance UUID; a
//!   continuation for another bridge or an earlier process is stale.
//! * NXCPT_STACK (0x8001), NXCPT_MIRRORS (0x8002), NXCPT_CONNTRACKED
//!   (0x8003): accepted, not produced (rvs freezes none of these).
//! * NXCPT_TABLE_ID (0x8004, u8) and NXCPT_COOKIE (0x8005, be64 after 4
//!   alignment bytes): the table and rule cookie of the following
//!   NXCPT_ACTIONS group; each starts at 0 and changes only when emitted.
//! * NXCPT_ACTIONS (0x8006): `pad[4]`, then OpenFlow actions (in the
//!   connection's version) still to run; one property per level of the
//!   resubmit stack, innermost first.
//! * NXCPT_ACTION_SET (0x8007): `pad[4]`, then the action set's actions.

use super::actions::{decode_actions, encode_actions, Action};
use super::error::{fail, ErrorCode, OfpError};
use super::wire::{pad8, Rd, Wr};

/// NXCPT_* property types.
#[allow(missing_docs)]
pub mod nxcpt {
    pub const BRIDGE: u16 = 0x8000;
    pub const STACK: u16 = 0x8001;
    pub const MIRRORS: u16 = 0x8002;
    pub const CONNTRACKED: u16 = 0x8003;
    pub const TABLE_ID: u16 = 0x8004;
    pub const COOKIE: u16 = 0x8005;
    pub const ACTIONS: u16 = 0x8006;
    pub const ACTION_SET: u16 = 0x8007;
}

/// Actions still to run at one level of the frozen resubmit stack, with
/// the table and cookie of the rule they came from (OVS
/// `ofpact_unroll_xlate`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Segment {
    /// Table of the rule (for `resubmit(,255)` and packet-ins).
    pub table_id: u8,
    /// Cookie of the rule (network byte order on the wire).
    pub cookie: u64,
    /// The actions.
    pub actions: Vec<Action>,
}

/// A decoded continuation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Continuation {
    /// Bridge instance UUID (all zero: absent).
    pub bridge: [u8; 16],
    /// Frozen actions, innermost level first.
    pub segments: Vec<Segment>,
    /// The action set at the pause.
    pub action_set: Vec<Action>,
    /// NXCPT_CONNTRACKED was present.
    pub conntracked: bool,
}

fn put_prop(w: &mut Vec<u8>, t: u16, value: &[u8]) {
    let s = w.len();
    w.u16(t);
    w.u16((4 + value.len()) as u16);
    w.put(value);
    w.pad_from(s, 8);
}

fn put_nested_actions(w: &mut Vec<u8>, t: u16, acts: &[Action], version: u8) {
    let s = w.len();
    w.u16(t);
    w.u16(0);
    w.zeros(4);
    encode_actions(acts, version, w);
    let len = (w.len() - s) as u16;
    w.set_u16(s + 2, len);
    w.pad_from(s, 8);
}

impl Continuation {
    /// The NXPINT_CONTINUATION property value (`pad[4]` then the nested
    /// properties), actions encoded for OpenFlow wire `version`.
    pub fn encode(&self, version: u8) -> Vec<u8> {
        let mut w = vec![0u8; 4];
        if self.bridge != [0; 16] {
            put_prop(&mut w, nxcpt::BRIDGE, &self.bridge);
        }
        if self.conntracked {
            put_prop(&mut w, nxcpt::CONNTRACKED, &[]);
        }
        let (mut table, mut cookie) = (0u8, 0u64);
        for s in &self.segments {
            if s.table_id != table {
                put_prop(&mut w, nxcpt::TABLE_ID, &[s.table_id]);
                table = s.table_id;
            }
            if s.cookie != cookie {
                let mut v = vec![0u8; 4];
                v.extend_from_slice(&s.cookie.to_be_bytes());
                put_prop(&mut w, nxcpt::COOKIE, &v);
                cookie = s.cookie;
            }
            if !s.actions.is_empty() {
                put_nested_actions(&mut w, nxcpt::ACTIONS, &s.actions, version);
            }
        }
        if !self.action_set.is_empty() {
            put_nested_actions(&mut w, nxcpt::ACTION_SET, &self.action_set, version);
        }
        w
    }

    /// Decodes an NXPINT_CONTINUATION value whose actions are in OpenFlow
    /// wire `version`. Errors: OFPBPC_BAD_LEN for a malformed property,
    /// OFPBPC_BAD_TYPE (OFPET_BAD_PROPERTY code 0) for an unknown one, the
    /// action decoder's errors for bad actions.
    pub fn decode(version: u8, value: &[u8]) -> Result<Continuation, OfpError> {
        let mut c = Continuation::default();
        let mut r = Rd::with_short(value, ErrorCode::BadPropertyLen);
        r.skip(4.min(r.remaining()))?;
        let (mut table, mut cookie) = (0u8, 0u64);
        while !r.is_empty() {
            let t = r.u16()?;
            let len = r.u16()? as usize;
            if len < 4 {
                return fail(ErrorCode::BadPropertyLen, "continuation property length");
            }
            let mut p = Rd::with_short(r.bytes(len - 4)?, ErrorCode::BadPropertyLen);
            r.skip((pad8(len) - len).min(r.remaining()))?;
            match t {
                nxcpt::BRIDGE => c.bridge = p.arr::<16>()?,
                nxcpt::STACK | nxcpt::MIRRORS => {}
                nxcpt::CONNTRACKED => c.conntracked = true,
                nxcpt::TABLE_ID => table = p.u8()?,
                nxcpt::COOKIE => {
                    p.skip(4)?;
                    cookie = p.u64()?;
                }
                nxcpt::ACTIONS | nxcpt::ACTION_SET => {
                    p.skip(4)?;
                    let acts = decode_actions(p.rest(), version)?;
                    if t == nxcpt::ACTIONS {
                        c.segments.push(Segment {
                            table_id: table,
                            cookie,
                            actions: acts,
                        });
                    } else {
                        c.action_set = acts;
                    }
                }
                _ => {
                    return fail(
                        ErrorCode::Wire {
                            err_type: 14,
                            code: 0,
                        },
                        "unknown continuation property",
                    )
                }
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let c = Continuation {
            bridge: [7; 16],
            segments: vec![
                Segment {
                    table_id: 1,
                    cookie: 0x42,
                    actions: vec![Action::Output {
                        port: 2,
                        max_len: 0,
                    }],
                },
                Segment {
                    table_id: 0,
                    cookie: 0,
                    actions: vec![Action::Resubmit {
                        in_port: 0xfff8,
                        table: 3,
                        ct: false,
                        short: false,
                    }],
                },
            ],
            action_set: vec![Action::Output {
                port: 5,
                max_len: 0,
            }],
            conntracked: false,
        };
        for v in [1, 4, 6] {
            let b = c.encode(v);
            assert_eq!(b.len() % 8, 4);
            assert_eq!(Continuation::decode(v, &b).unwrap(), c);
        }
        // Truncated and unknown properties are errors, not panics.
        let b = c.encode(4);
        for n in 0..b.len() {
            let _ = Continuation::decode(4, &b[..n]);
        }
        let bad = [0, 0, 0, 0, 0x12, 0x34, 0, 8, 0, 0, 0, 0];
        assert!(Continuation::decode(4, &bad).is_err());
    }
}
