//! Matches (key + mask) and the identity and statistics of megaflows.
//!
//! A datapath flow ("megaflow") matches packets whose key agrees with
//! [`Match::key`] on every bit set in [`Match::mask`]. Megaflows carry no
//! priority: the switch layer guarantees that installed megaflows never
//! overlap (OVS `dpif-netdev`), so at most one matches any packet.

use crate::flow::Flow;
use std::fmt;

/// A flow key and a mask. [`Match::new`] stores the key masked; a megaflow
/// keeps the unmasked key of the packet that caused its upcall (as OVS does,
/// and as `dpctl/dump-flows` prints it), so code must compare through the mask
/// ([`Match::matches`], [`Match::same_as`]), never `key` alone.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Match {
    /// Masked key.
    pub key: Flow,
    /// Mask: a set bit means "this bit of the packet's key must equal `key`".
    pub mask: Flow,
}

impl Match {
    /// Builds a match, masking `key`.
    pub fn new(key: &Flow, mask: &Flow) -> Match {
        Match {
            key: key.masked(mask),
            mask: mask.clone(),
        }
    }

    /// True if `flow` matches.
    pub fn matches(&self, flow: &Flow) -> bool {
        self.key.equal_masked(flow, &self.mask)
    }

    /// True if both match exactly the same packets (same mask, same masked key).
    pub fn same_as(&self, other: &Match) -> bool {
        self.mask == other.mask && self.key.equal_masked(&other.key, &self.mask)
    }
}

/// A megaflow's 128-bit unique flow identifier (OVS UFID, `ovs-dpctl(8)`
/// `ufid:` field). Printed as a UUID: `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct Ufid(pub u128);

impl fmt::Display for Ufid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl Ufid {
    /// Parses the UUID form printed by [`fmt::Display`] (with or without the
    /// `ufid:` prefix). Returns `None` if malformed.
    pub fn parse(s: &str) -> Option<Ufid> {
        let s = s.strip_prefix("ufid:").unwrap_or(s);
        let parts: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5 || parts.iter().zip(lens).any(|(p, l)| p.len() != l) {
            return None;
        }
        let hex: String = parts.concat();
        u128::from_str_radix(&hex, 16).ok().map(Ufid)
    }
}

/// Statistics of a megaflow (OVS `dpif_flow_stats`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FlowStats {
    /// Packets that hit the flow.
    pub packets: u64,
    /// Frame bytes of those packets.
    pub bytes: u64,
    /// Monotonic time in ns of the last hit, `None` if never used.
    pub used_ns: Option<u64>,
    /// OR of the TCP flags ([`crate::flow::tcp_flags`]) seen.
    pub tcp_flags: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ufid_roundtrip() {
        let u = Ufid(0x1234_5678_9abc_def0_0fed_cba9_8765_4321);
        let s = u.to_string();
        assert_eq!(s, "12345678-9abc-def0-0fed-cba987654321");
        assert_eq!(Ufid::parse(&format!("ufid:{s}")), Some(u));
        assert_eq!(Ufid::parse("1234"), None);
    }
}
