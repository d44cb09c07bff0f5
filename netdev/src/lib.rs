//! # netdev: the ports of the rvs datapath
//!
//! One trait, [`Netdev`], for every kind of port (OVS `lib/netdev-provider.h`
//! boiled down to what the userspace datapath uses): open with the OVS
//! `Interface.options` of its type, a number of rx and tx queues, bursts of up
//! to [`NETDEV_MAX_BURST`] packets per call, MTU, MAC, link state and
//! statistics. Port types use OVS's `Interface.type` names so `ovs-vsctl`
//! scripts carry over: `afxdp`, `dpdk`, `system` (or `""`), `tap`, `internal`,
//! and `dummy` for tests.
//!
//! # Threading
//!
//! A `Netdev` is shared (`Arc<dyn Netdev>`) between the PMD threads that poll
//! its rx queues, the threads that transmit on it and the control thread that
//! reads its statistics, so every method takes `&self`. Each rx queue is
//! polled by exactly one thread at a time (the PMD it is assigned to), so a
//! per-queue lock is never contended on the fast path; tx queues may be shared
//! by several PMDs when there are more PMDs than tx queues (OVS's "dynamic
//! txqs"), so they are locked per queue. Rx and tx never block: an empty ring
//! answers 0 packets, a full ring drops (and counts) what does not fit.
//!
//! [`NETDEV_MAX_BURST`]: dp_core::packet::NETDEV_MAX_BURST

#![warn(missing_docs)]

#[cfg(feature = "dpdk")]
pub mod dpdk;

use dp_core::packet::PacketBatch;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub mod afpacket;
pub mod afxdp;
pub mod dummy;
mod sys;
pub mod tap;

pub use afpacket::AfPacketNetdev;
pub use dummy::DummyNetdev;
pub use tap::TapNetdev;

/// Opens port `name` of OVS `Interface.type` `kind` with its
/// `Interface.options` (the registry of port types, OVS `netdev_open`).
///
/// * `""`, `"system"`: an existing device through `AF_PACKET` rings
///   ([`AfPacketNetdev`]);
/// * `"tap"`: a tap device, created if missing ([`TapNetdev`]);
/// * `"internal"`: a tap device named like the port, as the OVS userspace
///   datapath implements internal ports ([`TapNetdev`]);
/// * `"afxdp"`: an existing device through AF_XDP sockets
///   ([`afxdp::AfxdpNetdev`]);
/// * `"dpdk"`: a DPDK port from `options:dpdk-devargs` (cargo feature
///   `dpdk`; `dpdk::DpdkNetdev`);
/// * `"dummy"`: an in-memory test port ([`DummyNetdev`]).
///
/// Errors: [`NetdevError::Unsupported`] for a type this build does not know
/// (`could not open network device NAME (Address family not supported by
/// protocol): unknown interface type "TYPE"`, OVS's errno text for
/// `EAFNOSUPPORT`), [`NetdevError::NoDevice`] for a `system` port whose
/// device does not exist, [`NetdevError::InvalidOption`] for unknown or
/// invalid options, and [`NetdevError::Os`] for failing system calls.
pub fn open(name: &str, kind: &str, options: &Options) -> Result<Arc<dyn Netdev>, NetdevError> {
    match kind {
        "" | "system" => Ok(Arc::new(AfPacketNetdev::open(name, options)?)),
        "tap" | "internal" => Ok(Arc::new(TapNetdev::open(name, kind, options)?)),
        "dummy" => Ok(DummyNetdev::open(name, options)?),
        "afxdp" => afxdp::AfxdpNetdev::open(name, options),
        #[cfg(feature = "dpdk")]
        "dpdk" => dpdk::DpdkNetdev::open(name, options),
        #[cfg(not(feature = "dpdk"))]
        "dpdk" => Err(NetdevError::Unsupported(format!(
            "could not open network device {name}: this rvs was built without DPDK support \
             (cargo feature \"dpdk\")"
        ))),
        _ => Err(NetdevError::Unsupported(format!(
            "could not open network device {name} (Address family not supported by protocol): \
             unknown interface type \"{kind}\""
        ))),
    }
}

/// `Interface.options` of a port: OVS option names to values (e.g.
/// `xdp-mode` -> `native`, `dpdk-devargs` -> `net_pcap0,rx_pcap=f.pcap`).
pub type Options = BTreeMap<String, String>;

/// Link state as OVS reports it in `Interface.link_state`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LinkState {
    /// Carrier up.
    Up,
    /// Carrier down.
    Down,
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
        })
    }
}

/// Port counters, the subset of OVS `struct netdev_stats` written to
/// `Interface.statistics` (packets and bytes; bytes are frame bytes without
/// FCS).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NetdevStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Received packets dropped (ring full, no buffer).
    pub rx_dropped: u64,
    /// Receive errors (malformed descriptors, truncation).
    pub rx_errors: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Packets dropped on transmit (ring full, too long for the MTU).
    pub tx_dropped: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// Why a port could not be opened or operated. The message is meant for the
/// `Interface.error` column, so it says what and why in OVS's style
/// (`"could not open network device veth0 (No such device)"`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NetdevError {
    /// The device does not exist (`ENODEV`).
    NoDevice(String),
    /// An option is unknown or has an invalid value: option name and reason.
    InvalidOption {
        /// Option name as in `Interface.options`.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The type is not supported by this build (e.g. `dpdk` without the
    /// cargo feature).
    Unsupported(String),
    /// An operating-system error: what was being done and the `errno` text.
    Os {
        /// The operation (e.g. `"bind AF_XDP socket to veth0 queue 0"`).
        op: String,
        /// The error as `strerror` prints it, with the errno number.
        err: String,
    },
}

impl fmt::Display for NetdevError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetdevError::NoDevice(name) => {
                write!(f, "could not open network device {name} (No such device)")
            }
            NetdevError::InvalidOption { option, reason } => {
                write!(f, "invalid option {option}: {reason}")
            }
            NetdevError::Unsupported(what) => write!(f, "{what}"),
            NetdevError::Os { op, err } => write!(f, "{op}: {err}"),
        }
    }
}

impl std::error::Error for NetdevError {}

impl NetdevError {
    /// An [`NetdevError::Os`] from the last OS error of an operation.
    pub fn os(op: impl Into<String>, err: std::io::Error) -> NetdevError {
        NetdevError::Os {
            op: op.into(),
            err: err.to_string(),
        }
    }
}

/// A port. See the crate documentation for the threading rules.
pub trait Netdev: Send + Sync {
    /// Device name (the `Interface.name`).
    fn name(&self) -> &str;

    /// OVS `Interface.type` of this port (`"afxdp"`, `"dpdk"`, `"system"`,
    /// `"tap"`, `"internal"`, `"dummy"`).
    fn kind(&self) -> &'static str;

    /// True if PMD threads should busy-poll it; false for ports served by the
    /// non-PMD thread (OVS: `netdev_is_pmd()` is false for system, tap and
    /// internal ports).
    fn is_pmd(&self) -> bool;

    /// Number of rx queues (>= 1).
    fn n_rxq(&self) -> usize;

    /// Number of tx queues (>= 1).
    fn n_txq(&self) -> usize;

    /// Receives up to `NETDEV_MAX_BURST - batch.len()` packets from rx queue
    /// `qid` and appends them to `batch`; returns how many. Never blocks. The
    /// caller sets `md` (in_port) afterwards. `qid >= n_rxq()` is an error.
    fn rx_burst(&self, qid: usize, batch: &mut PacketBatch) -> Result<usize, NetdevError>;

    /// Transmits every packet of `batch` on tx queue `qid % n_txq()`, leaving
    /// `batch` empty; returns how many were accepted (the rest were dropped
    /// and counted in `tx_dropped`). Never blocks.
    fn tx_burst(&self, qid: usize, batch: &mut PacketBatch) -> usize;

    /// Current MTU in bytes (L3, as `ip link` shows it).
    fn mtu(&self) -> u32;

    /// Sets the MTU (`Interface.mtu_request`).
    fn set_mtu(&self, mtu: u32) -> Result<(), NetdevError>;

    /// The port's MAC address (`Interface.mac_in_use`).
    fn mac(&self) -> [u8; 6];

    /// Carrier state (`Interface.link_state`).
    fn link_state(&self) -> LinkState;

    /// Counters (`Interface.statistics`).
    fn stats(&self) -> NetdevStats;

    /// Driver-specific status (`Interface.status`, e.g. `xdp-mode` in use).
    fn status(&self) -> Options {
        Options::new()
    }
}
