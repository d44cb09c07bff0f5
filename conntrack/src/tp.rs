//! Timeout policies (OVS `lib/conntrack-tp.c`, `ct-dpif.h`
//! `CT_DPIF_TP_*_ATTRS`).
//!
//! A policy is a table of timeouts in seconds, one per [`TpAttr`]. Policy
//! id 0 is the default policy with OVS's userspace defaults
//! (`ct_dpif_netdev_tp_def`). Connections keep a reference to their policy
//! and read it on every update, so changing a policy's values takes effect
//! at each connection's next packet, as in OVS.

use std::sync::atomic::{AtomicU32, Ordering};

/// A timeout attribute of a policy (OVS `enum ct_dpif_tp_attr`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum TpAttr {
    /// `TCP_SYN_SENT`: first packet(s) of a TCP connection (default 30 s).
    TcpSynSent,
    /// `TCP_SYN_RECV`: handshake in progress (30 s).
    TcpSynRecv,
    /// `TCP_ESTABLISHED` (24 h).
    TcpEstablished,
    /// `TCP_FIN_WAIT`: one side closing (15 min).
    TcpFinWait,
    /// `TCP_CLOSE_WAIT` (not used by the userspace tracker).
    TcpCloseWait,
    /// `TCP_LAST_ACK` (not used by the userspace tracker).
    TcpLastAck,
    /// `TCP_TIME_WAIT`: both sides closing (45 s).
    TcpTimeWait,
    /// `TCP_CLOSE`: both sides closed or reset (30 s).
    TcpClose,
    /// `TCP_SYN_SENT2` (not used by the userspace tracker).
    TcpSynSent2,
    /// `TCP_RETRANSMIT` (not used by the userspace tracker).
    TcpRetransmit,
    /// `TCP_UNACK` (not used by the userspace tracker).
    TcpUnack,
    /// `UDP_FIRST`: first packet of a UDP/other connection (60 s).
    UdpFirst,
    /// `UDP_SINGLE`: several packets, one direction only (60 s).
    UdpSingle,
    /// `UDP_MULTIPLE`: packets seen in both directions (30 s).
    UdpMultiple,
    /// `ICMP_FIRST`: ICMP query sent (60 s).
    IcmpFirst,
    /// `ICMP_REPLY`: ICMP reply seen (30 s).
    IcmpReply,
}

/// Number of [`TpAttr`] values.
pub const TP_ATTR_MAX: usize = 16;

/// Every attribute, in OVS order.
pub const TP_ATTRS: [TpAttr; TP_ATTR_MAX] = [
    TpAttr::TcpSynSent,
    TpAttr::TcpSynRecv,
    TpAttr::TcpEstablished,
    TpAttr::TcpFinWait,
    TpAttr::TcpCloseWait,
    TpAttr::TcpLastAck,
    TpAttr::TcpTimeWait,
    TpAttr::TcpClose,
    TpAttr::TcpSynSent2,
    TpAttr::TcpRetransmit,
    TpAttr::TcpUnack,
    TpAttr::UdpFirst,
    TpAttr::UdpSingle,
    TpAttr::UdpMultiple,
    TpAttr::IcmpFirst,
    TpAttr::IcmpReply,
];

impl TpAttr {
    /// OVS name (`TCP_SYN_SENT`, ..., `ICMP_REPLY`), as accepted by
    /// `ovs-vsctl add-zone-tp ... tcp_syn_sent=N` (case-insensitive there).
    pub fn name(self) -> &'static str {
        [
            "TCP_SYN_SENT",
            "TCP_SYN_RECV",
            "TCP_ESTABLISHED",
            "TCP_FIN_WAIT",
            "TCP_CLOSE_WAIT",
            "TCP_LAST_ACK",
            "TCP_TIME_WAIT",
            "TCP_CLOSE",
            "TCP_SYN_SENT2",
            "TCP_RETRANSMIT",
            "TCP_UNACK",
            "UDP_FIRST",
            "UDP_SINGLE",
            "UDP_MULTIPLE",
            "ICMP_FIRST",
            "ICMP_REPLY",
        ][self as usize]
    }

    /// The attribute named `name` (case-insensitive), if any.
    pub fn from_name(name: &str) -> Option<TpAttr> {
        TP_ATTRS
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// OVS userspace default in seconds (`ct_dpif_netdev_tp_def`); 0 for
    /// attributes the userspace tracker does not use.
    pub fn default_secs(self) -> u32 {
        match self {
            TpAttr::TcpSynSent => 30,
            TpAttr::TcpSynRecv => 30,
            TpAttr::TcpEstablished => 24 * 60 * 60,
            TpAttr::TcpFinWait => 15 * 60,
            TpAttr::TcpTimeWait => 45,
            TpAttr::TcpClose => 30,
            TpAttr::UdpFirst => 60,
            TpAttr::UdpSingle => 60,
            TpAttr::UdpMultiple => 30,
            TpAttr::IcmpFirst => 60,
            TpAttr::IcmpReply => 30,
            _ => 0,
        }
    }
}

/// A timeout policy: seconds per [`TpAttr`]. Values are atomics so that a
/// policy can be changed while PMD threads read it.
#[derive(Debug)]
pub struct TimeoutPolicy {
    attrs: [AtomicU32; TP_ATTR_MAX],
}

impl Default for TimeoutPolicy {
    fn default() -> Self {
        TimeoutPolicy {
            attrs: std::array::from_fn(|i| AtomicU32::new(TP_ATTRS[i].default_secs())),
        }
    }
}

impl TimeoutPolicy {
    /// A policy with the defaults overridden by `values` (seconds).
    pub fn with(values: &[(TpAttr, u32)]) -> TimeoutPolicy {
        let p = TimeoutPolicy::default();
        p.set(values);
        p
    }

    /// Resets to the defaults, then applies `values` (OVS replaces a policy
    /// as a whole: `timeout_policy_update`).
    pub fn set(&self, values: &[(TpAttr, u32)]) {
        for (i, a) in TP_ATTRS.iter().enumerate() {
            self.attrs[i].store(a.default_secs(), Ordering::Relaxed);
        }
        for &(a, v) in values {
            self.attrs[a as usize].store(v, Ordering::Relaxed);
        }
    }

    /// Timeout for `attr` in seconds.
    #[inline]
    pub fn get(&self, attr: TpAttr) -> u32 {
        self.attrs[attr as usize].load(Ordering::Relaxed)
    }

    /// Timeout for `attr` in nanoseconds.
    #[inline]
    pub fn get_ns(&self, attr: TpAttr) -> u64 {
        self.get(attr) as u64 * 1_000_000_000
    }
}
