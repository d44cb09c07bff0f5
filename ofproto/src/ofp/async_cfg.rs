//! Asynchronous message configuration (OpenFlow 1.3.5 section 7.3.10
//! "Set Asynchronous Configuration Message", OpenFlow 1.4.1 section
//! 7.3.10 with properties) and OFPT_ROLE_STATUS (OpenFlow 1.4.1 section
//! 7.4.4).
//!
//! A configuration is twelve 32-bit masks, one per OpenFlow 1.4
//! `ofp_async_config_prop_type` (OFPACPT_*): for each kind of message
//! (PACKET_IN, PORT_STATUS, FLOW_REMOVED, ROLE_STATUS, TABLE_STATUS,
//! REQUESTFORWARD) one mask for slave connections (even type) and one for
//! master/equal connections (odd type); bit N enables reason N.
//!
//! Wire forms:
//! * OpenFlow 1.3 OFPT_SET_ASYNC / OFPT_GET_ASYNC_REPLY and Nicira
//!   NXT_SET_ASYNC_CONFIG (OpenFlow 1.0-1.2): `packet_in_mask[2],
//!   port_status_mask[2], flow_removed_mask[2]` (u32 each, index 0
//!   master/equal, 1 slave), 24 bytes.
//! * OpenFlow 1.4+ OFPT_SET_ASYNC / OFPT_GET_ASYNC_REPLY: properties `type
//!   u16, length u16 (8), mask u32`; a SET_ASYNC lists only the masks it
//!   changes.

use super::error::{fail, ErrorCode, OfpError};
use super::wire::{Rd, Wr};

/// OFPACPT_* property types (OpenFlow 1.4.1 section 7.3.10).
#[allow(missing_docs)]
pub mod acpt {
    pub const PACKET_IN_SLAVE: u16 = 0;
    pub const PACKET_IN_MASTER: u16 = 1;
    pub const PORT_STATUS_SLAVE: u16 = 2;
    pub const PORT_STATUS_MASTER: u16 = 3;
    pub const FLOW_REMOVED_SLAVE: u16 = 4;
    pub const FLOW_REMOVED_MASTER: u16 = 5;
    pub const ROLE_STATUS_SLAVE: u16 = 6;
    pub const ROLE_STATUS_MASTER: u16 = 7;
    pub const TABLE_STATUS_SLAVE: u16 = 8;
    pub const TABLE_STATUS_MASTER: u16 = 9;
    pub const REQUESTFORWARD_SLAVE: u16 = 10;
    pub const REQUESTFORWARD_MASTER: u16 = 11;
    /// Number of mask types.
    pub const N: usize = 12;
}

/// A set of async masks: `(OFPACPT_* type, mask)` pairs, as a SET_ASYNC
/// carries them (all twelve in a GET_ASYNC_REPLY of OpenFlow 1.4+, the six
/// of the fixed layout otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsyncMasks(pub Vec<(u16, u32)>);

/// Property types of the fixed (OpenFlow 1.3 / NXT_SET_ASYNC_CONFIG)
/// layout, in wire order.
const FIXED: [u16; 6] = [
    acpt::PACKET_IN_MASTER,
    acpt::PACKET_IN_SLAVE,
    acpt::PORT_STATUS_MASTER,
    acpt::PORT_STATUS_SLAVE,
    acpt::FLOW_REMOVED_MASTER,
    acpt::FLOW_REMOVED_SLAVE,
];

impl AsyncMasks {
    /// Decodes a SET_ASYNC / GET_ASYNC_REPLY body for wire `version`
    /// (`version` <= 4: the fixed 24-byte layout). Errors:
    /// OFPBRC_BAD_LEN for a short body or a property length other than 8,
    /// OFPBPC_BAD_TYPE (OFPET_BAD_PROPERTY 14, code 0) for an unknown
    /// property type.
    pub fn decode(version: u8, body: &[u8]) -> Result<AsyncMasks, OfpError> {
        let mut r = Rd::new(body);
        let mut out = Vec::new();
        if version <= 4 {
            for t in FIXED {
                out.push((t, r.u32()?));
            }
            return Ok(AsyncMasks(out));
        }
        while !r.is_empty() {
            let t = r.u16()?;
            if r.u16()? != 8 {
                return fail(ErrorCode::BadPropertyLen, "async config property length");
            }
            let m = r.u32()?;
            if t as usize >= acpt::N {
                return fail(
                    ErrorCode::Wire {
                        err_type: 14,
                        code: 0,
                    },
                    "unknown async config property",
                );
            }
            out.push((t, m));
        }
        Ok(AsyncMasks(out))
    }

    /// Appends the body for wire `version`: the fixed layout up to
    /// OpenFlow 1.3 (types it cannot carry are left out, missing ones are
    /// 0), properties from 1.4.
    pub fn encode(&self, version: u8, w: &mut Vec<u8>) {
        let get = |t: u16| self.0.iter().rev().find(|p| p.0 == t).map_or(0, |p| p.1);
        if version <= 4 {
            for t in FIXED {
                w.u32(get(t));
            }
            return;
        }
        for &(t, m) in &self.0 {
            w.u16(t);
            w.u16(8);
            w.u32(m);
        }
    }
}

/// OFPT_ROLE_STATUS body (OpenFlow 1.4.1 section 7.4.4): `role u32, reason
/// u8, pad[3], generation_id u64`, then properties (none sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleStatus {
    /// OFPCR_ROLE_* the connection now has.
    pub role: u32,
    /// OFPCRR_MASTER_REQUEST 0, OFPCRR_CONFIG 1, OFPCRR_EXPERIMENTER 2.
    pub reason: u8,
    /// Master election generation id (`u64::MAX`: none yet).
    pub generation_id: u64,
}

impl RoleStatus {
    /// Decodes the body (properties ignored). Error: OFPBRC_BAD_LEN.
    pub fn decode(body: &[u8]) -> Result<RoleStatus, OfpError> {
        let mut r = Rd::new(body);
        let role = r.u32()?;
        let reason = r.u8()?;
        r.skip(3)?;
        Ok(RoleStatus {
            role,
            reason,
            generation_id: r.u64()?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u32(self.role);
        w.u8(self.reason);
        w.zeros(3);
        w.u64(self.generation_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_property_forms_round_trip() {
        let m = AsyncMasks(FIXED.iter().map(|&t| (t, t as u32 + 1)).collect());
        let mut b = Vec::new();
        m.encode(4, &mut b);
        assert_eq!(b.len(), 24);
        assert_eq!(&b[..4], &[0, 0, 0, 2], "packet_in_mask[0] is master");
        assert_eq!(AsyncMasks::decode(4, &b).unwrap(), m);
        let p = AsyncMasks(vec![
            (acpt::ROLE_STATUS_MASTER, 7),
            (acpt::PACKET_IN_SLAVE, 1),
        ]);
        let mut b = Vec::new();
        p.encode(5, &mut b);
        assert_eq!(AsyncMasks::decode(5, &b).unwrap(), p);
        assert!(AsyncMasks::decode(5, &b[..6]).is_err());
        assert!(AsyncMasks::decode(5, &[0, 12, 0, 8, 0, 0, 0, 0]).is_err());
        assert!(AsyncMasks::decode(4, &[0; 20]).is_err());
        let s = RoleStatus {
            role: 3,
            reason: 0,
            generation_id: 9,
        };
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(RoleStatus::decode(&b).unwrap(), s);
    }
}
