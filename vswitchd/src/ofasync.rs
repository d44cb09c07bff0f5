//! What asynchronous messages one OpenFlow connection receives (OpenFlow
//! 1.3.5 section 7.3.10, OpenFlow 1.4.1 section 7.3.10; OVS
//! `ofputil_async_cfg_default()`, `ofconn_receives_async_msg()`).
//!
//! [`AsyncConfig`] keeps twelve masks indexed by OFPACPT_* type (even:
//! slave connections, odd: master and equal ones). Bit N of a mask enables
//! reason N. PACKET_IN masks hold wire OFPR_* bits plus
//! [`REASON_IMPLICIT_MISS`] (bit 7), a table miss without a table-miss
//! flow: it is OFPR_NO_MATCH on the wire and enabled by default only for
//! OpenFlow 1.0-1.2, which is how OpenFlow 1.3+ controllers get no
//! packet-in for a miss unless they ask (OpenFlow 1.3.5 section 5.4).

use ofproto::ofp::async_cfg::{acpt, AsyncMasks};
pub use ofproto::xlate::REASON_IMPLICIT_MISS;

/// OFPR_NO_MATCH / OFPR_TABLE_MISS.
const NO_MATCH: u32 = 1 << 0;
/// OFPR_ACTION.
const ACTION: u32 = 1 << 1;
/// OFPR_INVALID_TTL.
const INVALID_TTL: u32 = 1 << 2;
/// OFPR_ACTION_SET, OFPR_GROUP, OFPR_PACKET_OUT (OpenFlow 1.4+; OFPR_ACTION
/// before).
const ACTION_14: u32 = (1 << 3) | (1 << 4) | (1 << 5);
/// Bit of [`REASON_IMPLICIT_MISS`].
const IMPLICIT: u32 = 1 << REASON_IMPLICIT_MISS;

/// One connection's asynchronous configuration; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncConfig {
    /// Masks by OFPACPT_* type.
    pub masks: [u32; acpt::N],
}

impl Default for AsyncConfig {
    /// The OpenFlow 1.5 default ([`AsyncConfig::default_for`]).
    fn default() -> Self {
        AsyncConfig::default_for(6)
    }
}

/// The kinds of asynchronous messages a mask selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncKind {
    /// OFPT_PACKET_IN / NXT_PACKET_IN2.
    PacketIn,
    /// OFPT_PORT_STATUS.
    PortStatus,
    /// OFPT_FLOW_REMOVED.
    FlowRemoved,
}

impl AsyncConfig {
    /// OVS's default for a connection of wire `version`: master/equal get
    /// every packet-in reason but OFPR_INVALID_TTL (implicit misses only
    /// up to OpenFlow 1.2), every port status, and the flow-removed
    /// reasons of their version; slaves get port status only.
    pub fn default_for(version: u8) -> AsyncConfig {
        let mut masks = [0u32; acpt::N];
        let mut pin = NO_MATCH | ACTION | ACTION_14;
        if version <= 3 {
            pin |= IMPLICIT;
        }
        masks[acpt::PACKET_IN_MASTER as usize] = pin;
        masks[acpt::PORT_STATUS_MASTER as usize] = 0b111;
        masks[acpt::PORT_STATUS_SLAVE as usize] = 0b111;
        masks[acpt::FLOW_REMOVED_MASTER as usize] = match version {
            0..=3 => 0b111,
            4 => 0b1111,
            _ => 0b11_1111,
        };
        AsyncConfig { masks }
    }

    /// True if a connection in role `slave` (OFPCR_ROLE_SLAVE) or not
    /// receives a `kind` message with internal reason `reason`.
    pub fn wants(&self, kind: AsyncKind, reason: u8, slave: bool) -> bool {
        let t = match kind {
            AsyncKind::PacketIn => acpt::PACKET_IN_SLAVE,
            AsyncKind::PortStatus => acpt::PORT_STATUS_SLAVE,
            AsyncKind::FlowRemoved => acpt::FLOW_REMOVED_SLAVE,
        } + u16::from(!slave);
        reason < 32 && self.masks[t as usize] >> reason & 1 != 0
    }

    /// Applies an OFPT_SET_ASYNC / NXT_SET_ASYNC_CONFIG received on a
    /// connection of wire `version`: OFPR_NO_MATCH enables both kinds of
    /// miss; before OpenFlow 1.4, OFPR_ACTION also stands for ACTION_SET,
    /// GROUP and PACKET_OUT.
    pub fn apply(&mut self, set: &AsyncMasks, version: u8) {
        for &(t, m) in &set.0 {
            let Some(slot) = self.masks.get_mut(t as usize) else {
                continue;
            };
            let mut m = m;
            if t <= acpt::PACKET_IN_MASTER {
                m &= !IMPLICIT;
                if m & NO_MATCH != 0 {
                    m |= IMPLICIT;
                }
                if version <= 4 {
                    m &= !ACTION_14;
                    if m & ACTION != 0 {
                        m |= ACTION_14;
                    }
                }
            }
            *slot = m;
        }
    }

    /// The masks as an OFPT_GET_ASYNC_REPLY of wire `version` says them.
    pub fn to_wire(&self, version: u8) -> AsyncMasks {
        let n = if version <= 4 { 6 } else { acpt::N };
        AsyncMasks(
            (0..n as u16)
                .map(|t| {
                    let mut m = self.masks[t as usize];
                    if t <= acpt::PACKET_IN_MASTER {
                        if m & IMPLICIT != 0 {
                            m |= NO_MATCH;
                        }
                        m &= !IMPLICIT;
                        if version <= 4 {
                            m &= NO_MATCH | ACTION | INVALID_TTL;
                        }
                    }
                    (t, m)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_set_and_get() {
        let of10 = AsyncConfig::default_for(1);
        let of13 = AsyncConfig::default_for(4);
        let miss = REASON_IMPLICIT_MISS;
        assert!(of10.wants(AsyncKind::PacketIn, miss, false));
        assert!(!of13.wants(AsyncKind::PacketIn, miss, false));
        assert!(of13.wants(AsyncKind::PacketIn, 1, false));
        assert!(!of13.wants(AsyncKind::PacketIn, 1, true));
        assert!(of13.wants(AsyncKind::PortStatus, 0, true));
        assert!(!of13.wants(AsyncKind::FlowRemoved, 0, true));
        let get = |m: AsyncMasks, t: u16| m.0.iter().find(|p| p.0 == t).map(|p| p.1);
        assert_eq!(get(of13.to_wire(4), acpt::PACKET_IN_MASTER), Some(0b11));
        // A slave that asks for misses gets implicit ones too.
        let mut c = of13;
        c.apply(&AsyncMasks(vec![(acpt::PACKET_IN_SLAVE, 1)]), 4);
        assert!(c.wants(AsyncKind::PacketIn, miss, true));
        assert!(!c.wants(AsyncKind::PacketIn, 1, true));
        assert_eq!(get(c.to_wire(4), acpt::PACKET_IN_SLAVE), Some(1));
        assert_eq!(c.to_wire(5).0.len(), acpt::N);
    }
}
