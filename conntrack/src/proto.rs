//! The L4 protocol trait (OVS `struct ct_l4_proto`, `conntrack-private.h`)
//! and the per-connection protocol state.

use crate::icmp::{Icmp, IcmpConn};
use crate::other::{Other, OtherConn};
use crate::tcp::{Tcp, TcpConn};
use crate::tp::TpAttr;

/// Outcome of feeding a packet to an existing connection (OVS `enum
/// ct_update_res`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UpdateResult {
    /// The packet does not fit the connection (`+inv`); state unchanged.
    Invalid,
    /// Valid packet of an established connection (`+est`).
    Valid,
    /// Valid, but the peer has not answered yet (`+new`, e.g. a
    /// retransmitted SYN or a second UDP packet before any reply).
    ValidNew,
    /// The connection is closed and this packet starts a new one with the
    /// same tuple (TCP SYN after TIME_WAIT): the old entry is replaced.
    New,
}

/// What a protocol's update asks the caller to do with the expiration.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Update {
    /// Verdict for the packet.
    pub result: UpdateResult,
    /// New timeout class, or `None` to leave the expiration as it is.
    pub timeout: Option<TpAttr>,
}

/// Per-protocol connection tracking, one implementation per file
/// (`tcp.rs`, `other.rs`, `icmp.rs`), as OVS's `conntrack-tcp.c`,
/// `conntrack-other.c`, `conntrack-icmp.c`.
///
/// `l4` is the L4 header and payload of the packet (Ethernet padding
/// excluded), already length- and checksum-validated by the key parser.
/// Implementations are pure functions of their state and the packet: they
/// run under the connection's own lock, never a table lock.
pub trait L4Protocol {
    /// Per-connection state.
    type State;

    /// Whether a packet without a connection may create one (OVS
    /// `valid_new`); `false` makes it `+inv`.
    fn valid_new(l4: &[u8]) -> bool;

    /// State of a connection created by `l4` (orig direction), and its
    /// initial timeout class (OVS `new_conn`).
    fn new_conn(l4: &[u8]) -> (Self::State, TpAttr);

    /// Updates `state` with a packet (OVS `conn_update`). `reply`: the
    /// packet goes in the reply direction. `seq_chk`: TCP sequence
    /// checking enabled (false = `tcp_liberal`-style, OVS
    /// `ct-disable-tcp-seq-chk`).
    fn update(state: &mut Self::State, l4: &[u8], reply: bool, seq_chk: bool) -> Update;
}

/// Protocol state of a connection.
#[derive(Clone, Debug)]
pub(crate) enum ProtoState {
    Tcp(TcpConn),
    Other(OtherConn),
    Icmp(IcmpConn),
}

/// Which implementation handles `proto`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Tcp,
    Icmp,
    Other,
}

#[inline]
pub(crate) fn kind(proto: u8) -> Kind {
    match proto {
        crate::key::ipproto::TCP => Kind::Tcp,
        crate::key::ipproto::ICMP | crate::key::ipproto::ICMPV6 => Kind::Icmp,
        _ => Kind::Other,
    }
}

pub(crate) fn valid_new(k: Kind, l4: &[u8]) -> bool {
    match k {
        Kind::Tcp => Tcp::valid_new(l4),
        Kind::Icmp => Icmp::valid_new(l4),
        Kind::Other => Other::valid_new(l4),
    }
}

pub(crate) fn new_conn(k: Kind, l4: &[u8]) -> (ProtoState, TpAttr) {
    match k {
        Kind::Tcp => {
            let (s, t) = Tcp::new_conn(l4);
            (ProtoState::Tcp(s), t)
        }
        Kind::Icmp => {
            let (s, t) = Icmp::new_conn(l4);
            (ProtoState::Icmp(s), t)
        }
        Kind::Other => {
            let (s, t) = Other::new_conn(l4);
            (ProtoState::Other(s), t)
        }
    }
}

pub(crate) fn update(s: &mut ProtoState, l4: &[u8], reply: bool, seq_chk: bool) -> Update {
    match s {
        ProtoState::Tcp(t) => Tcp::update(t, l4, reply, seq_chk),
        ProtoState::Icmp(t) => Icmp::update(t, l4, reply, seq_chk),
        ProtoState::Other(t) => Other::update(t, l4, reply, seq_chk),
    }
}
