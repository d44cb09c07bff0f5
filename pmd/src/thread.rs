//! One PMD thread (or the non-PMD thread): its poll loop, its fast path and
//! the action context that connects the fast path to ports.

use crate::cycles;
use crate::meter::{MeterSnapshot, Meters};
use crate::{ConntrackHook, UpcallProvider};
use crossbeam_channel::{Receiver, Sender};
use dp_core::actions::{ActionContext, CtAction, OdpAction, OdpPort, UserspaceAction};
use dp_core::fastpath::{FastPath, FastPathConfig, PmdStats, StageCycles, Upcall, UpcallHandler};
use dp_core::flow::Flow;
use dp_core::flow_table::{FlowTableError, Megaflow, PutFlags, PutOutcome};
use dp_core::matches::{Match, Ufid};
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use netdev::Netdev;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Datapath ports by number, shared read-only with the threads (replaced,
/// never mutated, on reconfiguration).
pub(crate) type PortMap = Arc<HashMap<OdpPort, Arc<dyn Netdev>>>;

/// An rx queue a thread polls.
#[derive(Clone)]
pub(crate) struct PollQueue {
    pub port_no: OdpPort,
    pub netdev: Arc<dyn Netdev>,
    pub qid: usize,
    /// Processing time spent on this queue, ns (read by the scheduler and
    /// `pmd-rxq-show`).
    pub busy_ns: Arc<AtomicU64>,
}

/// Counters of a thread beyond the fast path's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadStats {
    /// Fast-path counters.
    pub fast: PmdStats,
    /// Packets handed to ports.
    pub sent_pkts: u64,
    /// tx bursts those packets went out in.
    pub sent_batches: u64,
    /// Time spent in iterations that received nothing, ns.
    pub idle_ns: u64,
    /// Time spent in iterations that processed packets, ns.
    pub busy_ns: u64,
    /// Poll-loop iterations (OVS "Iterations").
    pub iterations: u64,
    /// Iterations that received nothing.
    pub idle_iterations: u64,
    /// Idle iterations that slept (`pmd-maxsleep`).
    pub sleep_iterations: u64,
    /// Time slept, ns.
    pub sleep_ns: u64,
    /// rx bursts that returned packets (OVS counts them as batches).
    pub rx_batches: u64,
    /// Time since the thread started or its counters were last cleared, ns
    /// (OVS "Measurement duration").
    pub duration_ns: u64,
    /// Whether `pmd-perf-metrics` was on when these were read; the cycle
    /// counts below only grow while it is.
    pub perf_metrics: bool,
    /// Fast-path stage cycles (TSC), tx inside the actions excluded.
    pub stages: StageCycles,
    /// TSC cycles in rx bursts that returned packets, including setting
    /// the packets' metadata.
    pub rx_cycles: u64,
    /// TSC cycles in tx bursts.
    pub tx_cycles: u64,
    /// TSC cycles of the iterations that processed packets.
    pub busy_cycles: u64,
}

/// Requests from the control thread. Replies go back on the channel each
/// request carries.
pub(crate) enum Cmd {
    Reload {
        polls: Vec<PollQueue>,
        ports: PortMap,
        done: Sender<()>,
    },
    Configure {
        fast: FastPathConfig,
        flow_limit: usize,
        max_sleep_us: u64,
        perf_metrics: bool,
    },
    FlowPut {
        m: Box<Match>,
        ufid: Option<Ufid>,
        actions: Vec<OdpAction>,
        flags: PutFlags,
        reply: Sender<Result<PutOutcome, FlowTableError>>,
    },
    FlowDel {
        ufid: Ufid,
        reply: Sender<Result<Megaflow, FlowTableError>>,
    },
    FlowDump {
        reply: Sender<Vec<Megaflow>>,
    },
    FlowFlush {
        done: Sender<()>,
    },
    Stats {
        reply: Sender<ThreadStats>,
    },
    StatsClear,
    /// Runs `actions` on one packet that entered on `in_port` (PACKET_OUT).
    Execute {
        pkt: Box<DpPacket>,
        in_port: OdpPort,
        actions: Vec<OdpAction>,
        done: Sender<()>,
    },
    Quit,
}

/// Adapts the shared provider to the fast path's per-owner handler trait.
struct Upcaller<'a>(&'a dyn UpcallProvider);

impl UpcallHandler for Upcaller<'_> {
    fn upcall(&mut self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        self.0.upcall(pkt, flow)
    }
}

/// A port's output buffer, with the port (looked up once, refreshed on
/// reload; `None` if the port is gone: its packets are dropped).
struct TxBuf {
    port: OdpPort,
    netdev: Option<Arc<dyn Netdev>>,
    batch: PacketBatch,
}

/// The packet vector of a [`PacketBatch`].
#[allow(clippy::vec_box)]
type PacketVec = Vec<Box<DpPacket>>;

/// Most empty packet vectors a thread keeps for its next rx bursts.
const SPARE_BATCHES: usize = 8;

/// The action context of a thread: output is buffered per port and flushed
/// after each received batch (OVS output batching).
struct Ctx<'a> {
    ports: &'a PortMap,
    /// Output buffers, one per port output to (a handful: a linear scan is
    /// cheaper than hashing the port number on every output).
    tx: &'a mut Vec<TxBuf>,
    /// Emptied packet vectors, reused for rx bursts (no allocation per
    /// batch).
    spare: &'a mut Vec<PacketVec>,
    txq: usize,
    /// `pmd-perf-metrics`: time tx bursts.
    metrics: bool,
    provider: &'a dyn UpcallProvider,
    conntrack: Option<&'a dyn ConntrackHook>,
    meters: &'a MeterSnapshot,
    rng: &'a mut u64,
    /// The time of this batch (read once, as OVS caches `pmd->ctx.now`).
    now_ns: u64,
    stats: &'a mut ThreadStats,
}

impl Ctx<'_> {
    fn flush(txq: usize, metrics: bool, stats: &mut ThreadStats, t: &mut TxBuf) {
        if t.batch.is_empty() {
            return;
        }
        match &t.netdev {
            Some(nd) => {
                let c0 = if metrics { cycles::rdtsc() } else { 0 };
                let n = nd.tx_burst(txq, &mut t.batch);
                if metrics {
                    stats.tx_cycles += cycles::rdtsc().wrapping_sub(c0);
                }
                stats.sent_pkts += n as u64;
                stats.sent_batches += 1;
            }
            None => t.batch.pkts.clear(),
        }
    }

    fn flush_all(&mut self) {
        for t in self.tx.iter_mut() {
            Self::flush(self.txq, self.metrics, self.stats, t);
        }
    }
}

impl ActionContext for Ctx<'_> {
    fn output(&mut self, port: OdpPort, mut batch: PacketBatch) {
        let i = match self.tx.iter().position(|t| t.port == port) {
            Some(i) => i,
            None => {
                self.tx.push(TxBuf {
                    port,
                    netdev: self.ports.get(&port).cloned(),
                    batch: PacketBatch::new(),
                });
                self.tx.len() - 1
            }
        };
        let t = &mut self.tx[i];
        if t.batch.is_empty() {
            std::mem::swap(&mut t.batch, &mut batch);
        } else {
            t.batch.pkts.append(&mut batch.pkts);
        }
        // `batch` is now empty: keep its vector for a later rx burst.
        if self.spare.len() < SPARE_BATCHES && batch.pkts.capacity() >= NETDEV_MAX_BURST {
            self.spare.push(batch.pkts);
        }
        if t.batch.len() >= NETDEV_MAX_BURST {
            Self::flush(self.txq, self.metrics, self.stats, t);
        }
    }

    fn userspace(&mut self, action: &UserspaceAction, batch: PacketBatch) {
        for p in batch.pkts {
            self.provider.userspace(action, p);
        }
    }

    fn recirc(&mut self, batch: PacketBatch) {
        // The fast path intercepts recirculation before it reaches here.
        drop(batch);
    }

    fn ct(&mut self, action: &CtAction, batch: &mut PacketBatch) {
        match self.conntrack {
            Some(ct) => ct.execute(batch, action, self.now_ns()),
            None => {
                for p in batch.pkts.iter_mut() {
                    p.md.ct_state =
                        dp_core::flow::ct_state::TRACKED | dp_core::flow::ct_state::INVALID;
                    p.md.ct_zone = action.zone;
                }
            }
        }
    }

    fn meter(&mut self, meter_id: u32, now_ns: u64, batch: &mut PacketBatch) {
        // An unknown meter passes everything, as in OVS's userspace datapath.
        if let Some(m) = self.meters.get(&meter_id) {
            m.run(now_ns, batch);
        }
    }

    fn random_u32(&mut self) -> u32 {
        // xorshift64*
        let mut x = *self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    fn now_ns(&self) -> u64 {
        self.now_ns
    }
}

/// Everything a thread owns.
pub(crate) struct PmdThread {
    pub core: Option<usize>,
    pub txq: usize,
    pub cmds: Receiver<Cmd>,
    pub provider: Arc<dyn UpcallProvider>,
    pub conntrack: Option<Arc<dyn ConntrackHook>>,
    pub meters: Arc<Meters>,
    pub fast: FastPathConfig,
    pub flow_limit: usize,
    pub max_sleep_us: u64,
    pub start: Instant,
}

/// A thread's mutable state.
struct State {
    fp: FastPath,
    polls: Vec<PollQueue>,
    ports: PortMap,
    tx: Vec<TxBuf>,
    spare: Vec<PacketVec>,
    stats: ThreadStats,
    max_sleep_us: u64,
    /// `pmd-perf-metrics`.
    perf_metrics: bool,
    /// When the counters were last cleared (or the thread started).
    cleared_at: Instant,
    meters: MeterSnapshot,
    meters_gen: u64,
}

impl State {
    /// Handles one request; false on [`Cmd::Quit`].
    fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Reload { polls, ports, done } => {
                self.polls = polls;
                self.ports = ports;
                let ports = &self.ports;
                self.tx.retain(|t| ports.contains_key(&t.port));
                for t in self.tx.iter_mut() {
                    t.netdev = ports.get(&t.port).cloned();
                }
                let _ = done.send(());
            }
            Cmd::Configure {
                fast,
                flow_limit,
                max_sleep_us,
                perf_metrics,
            } => {
                self.fp.configure(fast);
                self.fp.table.set_flow_limit(flow_limit);
                self.max_sleep_us = max_sleep_us;
                self.perf_metrics = perf_metrics;
                self.fp
                    .set_stage_clock(perf_metrics.then_some(cycles::rdtsc as fn() -> u64));
            }
            Cmd::FlowPut {
                m,
                ufid,
                actions,
                flags,
                reply,
            } => {
                let _ = reply.send(self.fp.table.put(&m, ufid, actions, flags));
            }
            Cmd::FlowDel { ufid, reply } => {
                let _ = reply.send(self.fp.table.del(&ufid));
            }
            Cmd::FlowDump { reply } => {
                let all = self.fp.table.dump().map(|(_, f)| f.to_megaflow()).collect();
                let _ = reply.send(all);
            }
            Cmd::FlowFlush { done } => {
                self.fp.table.flush();
                self.fp.clear_caches();
                let _ = done.send(());
            }
            Cmd::Stats { reply } => {
                let mut s = self.stats;
                s.fast = self.fp.stats;
                s.stages = self.fp.stage_cycles;
                s.perf_metrics = self.perf_metrics;
                s.duration_ns = self.cleared_at.elapsed().as_nanos() as u64;
                let _ = reply.send(s);
            }
            Cmd::StatsClear => {
                self.fp.clear_stats();
                self.stats = ThreadStats::default();
                self.cleared_at = Instant::now();
            }
            Cmd::Quit => return false,
            // Needs the thread's context; handled by `PmdThread::dispatch`.
            Cmd::Execute { done, .. } => {
                let _ = done.send(());
            }
        }
        true
    }
}

impl PmdThread {
    /// Handles one request, including [`Cmd::Execute`]; false on quit.
    fn dispatch(&self, st: &mut State, rng: &mut u64, cmd: Cmd) -> bool {
        let Cmd::Execute {
            mut pkt,
            in_port,
            actions,
            done,
        } = cmd
        else {
            return st.handle(cmd);
        };
        pkt.md.init(in_port);
        let mut batch = PacketBatch::new();
        batch.pkts.push(pkt);
        let mut ctx = Ctx {
            ports: &st.ports,
            tx: &mut st.tx,
            spare: &mut st.spare,
            txq: self.txq,
            metrics: st.perf_metrics,
            provider: &*self.provider,
            conntrack: self.conntrack.as_deref(),
            meters: &st.meters,
            rng,
            now_ns: self.start.elapsed().as_nanos() as u64,
            stats: &mut st.stats,
        };
        dp_core::execute::execute_actions(&mut ctx, batch, &actions);
        ctx.flush_all();
        let _ = done.send(());
        true
    }

    /// The poll loop; returns on [`Cmd::Quit`] or when the control side is
    /// gone.
    pub fn run(self) {
        if let Some(core) = self.core {
            core_affinity::set_for_current(core_affinity::CoreId { id: core });
        }
        let mut st = State {
            fp: FastPath::new(self.fast),
            polls: Vec::new(),
            ports: Arc::new(HashMap::new()),
            tx: Vec::new(),
            spare: Vec::new(),
            stats: ThreadStats::default(),
            max_sleep_us: self.max_sleep_us,
            perf_metrics: false,
            cleared_at: Instant::now(),
            meters: self.meters.snapshot(),
            meters_gen: self.meters.generation(),
        };
        st.fp.table.set_flow_limit(self.flow_limit);
        let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ self.txq as u64;
        let mut sleep_us = 0u64;
        let mut rx = PacketBatch::new();
        // The clock is read once per iteration and once after each queue
        // that received packets (OVS reads the TSC once per iteration); the
        // last reading starts the next iteration. `Instant::now` is a vDSO
        // call, too dear to make several times per 32-packet batch.
        let mut now = Instant::now();
        loop {
            let iter_start = now;
            // The one branch per iteration that pmd-perf-metrics costs when
            // off (and one per polled queue below).
            let metrics = st.perf_metrics;
            let iter_c0 = if metrics { cycles::rdtsc() } else { 0 };
            let mut got = 0usize;
            // One atomic load per iteration; the snapshot is re-read only
            // when the control side changed the meters.
            let g = self.meters.generation();
            if g != st.meters_gen {
                st.meters = self.meters.snapshot();
                st.meters_gen = g;
            }
            for q in &st.polls {
                let rx_c0 = if metrics { cycles::rdtsc() } else { 0 };
                match q.netdev.rx_burst(q.qid, &mut rx) {
                    Ok(n) if n > 0 => {
                        got += n;
                        st.stats.rx_batches += 1;
                        for p in rx.pkts.iter_mut() {
                            p.md.init(q.port_no);
                        }
                        let tx_before = st.stats.tx_cycles;
                        if metrics {
                            st.stats.rx_cycles += cycles::rdtsc().wrapping_sub(rx_c0);
                        }
                        let pkts = st
                            .spare
                            .pop()
                            .unwrap_or_else(|| Vec::with_capacity(NETDEV_MAX_BURST));
                        let batch = std::mem::replace(&mut rx, PacketBatch { pkts });
                        let t0 = now;
                        let mut ctx = Ctx {
                            ports: &st.ports,
                            tx: &mut st.tx,
                            spare: &mut st.spare,
                            txq: self.txq,
                            metrics,
                            provider: &*self.provider,
                            conntrack: self.conntrack.as_deref(),
                            meters: &st.meters,
                            rng: &mut rng,
                            now_ns: t0.saturating_duration_since(self.start).as_nanos() as u64,
                            stats: &mut st.stats,
                        };
                        let now_ns = ctx.now_ns;
                        st.fp
                            .process(batch, now_ns, &mut ctx, &mut Upcaller(&*self.provider));
                        if metrics {
                            // Output bursts flushed from inside the actions
                            // are tx, not actions.
                            let inner_tx = ctx.stats.tx_cycles - tx_before;
                            let a = &mut st.fp.stage_cycles.actions;
                            *a = a.saturating_sub(inner_tx);
                        }
                        ctx.flush_all();
                        now = Instant::now();
                        q.busy_ns.fetch_add(
                            now.saturating_duration_since(t0).as_nanos() as u64,
                            Ordering::Relaxed,
                        );
                    }
                    _ => rx.pkts.clear(),
                }
            }
            if got == 0 {
                now = Instant::now();
            }
            let spent = now.saturating_duration_since(iter_start).as_nanos() as u64;
            st.stats.iterations += 1;
            if got > 0 {
                st.stats.busy_ns += spent;
                if metrics {
                    st.stats.busy_cycles += cycles::rdtsc().wrapping_sub(iter_c0);
                }
                sleep_us = 0;
            } else {
                st.stats.idle_iterations += 1;
                st.stats.idle_ns += spent;
                if st.max_sleep_us > 0 {
                    // Back off while idle, as OVS's pmd-maxsleep does.
                    sleep_us = (sleep_us + 1).min(st.max_sleep_us);
                    std::thread::sleep(Duration::from_micros(sleep_us));
                    let t = Instant::now();
                    let slept = t.saturating_duration_since(now).as_nanos() as u64;
                    st.stats.idle_ns += slept;
                    st.stats.sleep_ns += slept;
                    st.stats.sleep_iterations += 1;
                    now = t;
                } else {
                    std::hint::spin_loop();
                }
            }
            let mut waited = false;
            while let Ok(cmd) = self.cmds.try_recv() {
                waited = true;
                if !self.dispatch(&mut st, &mut rng, cmd) {
                    return;
                }
            }
            if st.polls.is_empty() {
                waited = true;
                // Nothing to poll: wait for a request instead of spinning.
                match self.cmds.recv_timeout(Duration::from_millis(10)) {
                    Ok(cmd) => {
                        if !self.dispatch(&mut st, &mut rng, cmd) {
                            return;
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                }
            }
            if waited {
                // Requests are neither busy nor idle time.
                now = Instant::now();
            }
        }
    }
}
