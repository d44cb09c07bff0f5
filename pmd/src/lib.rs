//! # pmd: the rvs userspace datapath (OVS `dpif-netdev`)
//!
//! A [`Datapath`] owns ports ([`netdev::Netdev`]), poll-mode threads and the
//! per-thread forwarding state, and moves packets between ports through
//! dp-core's fast path.
//!
//! ## Threads and who touches what
//!
//! * **PMD threads**, one per core of `pmd-cpu-mask` (default: one, on the
//!   lowest core), pinned with `core_affinity`. Each busy-polls the rx queues
//!   assigned to it in bursts of 32 and owns, exclusively, a
//!   [`dp_core::fastpath::FastPath`]: flow table (megaflows + per-in_port
//!   dpcls), EMC, SMC and counters. Nothing else touches them: no locks on the
//!   fast path.
//! * **The non-PMD thread** polls ports that cannot be busy-polled (tap,
//!   internal, system: `Netdev::is_pmd() == false`), as OVS's main thread
//!   does, with the same code and its own fast path; it sleeps briefly when
//!   idle.
//! * **The control thread** (the caller of [`Datapath`]'s methods) never
//!   touches a thread's state. It sends requests on a channel (reload rx
//!   queues, put/del/dump/flush flows, read/clear statistics) which a thread
//!   serves between two rx bursts, so a request costs the thread at most one
//!   iteration and other threads not at all. Replies come back on a channel
//!   carried by the request.
//!
//! ## Rx queue (re)assignment
//!
//! On every change of ports, `pmd-cpu-mask`, `pmd-rxq-assign` or
//! `pmd-rxq-affinity`, [`sched::assign`] computes the new placement and the
//! control thread applies it in two phases: first every thread drops the
//! queues it loses (and acknowledges), then every thread takes its new list.
//! A queue is therefore never polled by two threads, no thread stops longer
//! than one iteration, and packets already received are finished by the
//! thread that received them.
//!
//! ## Meters
//!
//! [`meter::Meters`] ([`Datapath::meters`]) holds the token buckets of the
//! `meter(N)` action; threads pick up changes through a generation number
//! (see the module).
//!
//! ## Upcalls
//!
//! Misses go to an [`UpcallProvider`] (the switch layer: ofproto/xlate; until
//! it exists, [`learning::LearningSwitch`]), called on the thread that missed,
//! as OVS handles upcalls in the PMD thread itself.

#![warn(missing_docs)]

pub mod config;
mod cycles;
mod datapath;
pub mod learning;
pub mod meter;
pub mod sched;
mod show;
mod thread;

pub use config::{DpConfig, RxqAssign};
pub use datapath::{Datapath, DatapathError, Executor, FlowDump, PortInfo};
pub use thread::ThreadStats;

use dp_core::actions::{CtAction, UserspaceAction};
use dp_core::fastpath::Upcall;
use dp_core::flow::Flow;
use dp_core::packet::{DpPacket, PacketBatch};

/// The switch layer's side of the datapath: translation of misses and
/// delivery of `userspace` actions. Called concurrently from every PMD
/// thread, hence `&self`.
pub trait UpcallProvider: Send + Sync {
    /// Translates a miss: `pkt` with its extracted key `flow` (in_port is the
    /// datapath port number). An `Err` drops the packet ("miss with failed
    /// upcall"); the string says why.
    fn upcall(&self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String>;

    /// Receives a packet sent up by a `userspace(...)` action (controller,
    /// sampling). The default drops it.
    fn userspace(&self, action: &UserspaceAction, pkt: Box<DpPacket>) {
        let _ = (action, pkt);
    }
}

/// Connection tracking as the datapath calls it for the `ct` action.
/// Called concurrently from every PMD thread. [`conntrack::Conntrack`] is the
/// implementation; the trait keeps the datapath testable with others.
pub trait ConntrackHook: Send + Sync {
    /// Runs `action` on every packet of `batch` at monotonic time `now_ns`,
    /// setting `md.ct_*` (and rewriting packets for NAT); may remove packets.
    fn execute(&self, batch: &mut PacketBatch, action: &CtAction, now_ns: u64);
}

impl ConntrackHook for conntrack::Conntrack {
    fn execute(&self, batch: &mut PacketBatch, action: &CtAction, now_ns: u64) {
        conntrack::Conntrack::execute(self, batch, action, now_ns);
    }
}
