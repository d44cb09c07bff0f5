//! The per-batch fast path: extract -> EMC -> SMC -> dpcls -> upcall ->
//! execute, as OVS's `dp_netdev_input__` (`lib/dpif-netdev.c`).
//!
//! # Design
//!
//! A [`FastPath`] is everything one PMD thread owns for forwarding: its
//! [`FlowTable`] (megaflows + per-in_port dpcls), its EMC and (optional) SMC,
//! scratch space for 32 flow keys, and its counters ([`PmdStats`]). One batch
//! of at most 32 packets travels the stages in order:
//!
//! 0. **simple match** (OVS 3.x `dp_netdev_simple_match_*`): for packets
//!    received from a port whose megaflows are all "simple" with one mask
//!    ([`crate::flow_table::SimpleMask`]: only in_port, recirc_id 0,
//!    packet_type, eth_type, vlan_tci, nw_frag), a minimal parse
//!    ([`crate::extract::extract_simple`]) and a lookup by those values give
//!    the megaflow directly ([`PmdStats::simple_hit`]); these packets skip
//!    stages 1-5. Recirculated packets never take it.
//! 1. **extract**: each packet's [`FlowKey`]; malformed packets are dropped
//!    and counted ([`PmdStats::malformed`]).
//! 2. **EMC**: exact-match hits. The cached handle is validated against the
//!    table, so a deleted megaflow is never used.
//! 3. **SMC** (if enabled): signature hits, verified against the megaflow's
//!    match.
//! 4. **dpcls**: batch lookup of the remaining packets, per input port.
//!    Hits are inserted into the EMC (probabilistically, 1 in
//!    `emc-insert-inv-prob`) and the SMC.
//! 5. **upcall**: each remaining packet is first looked up again (an earlier
//!    upcall of this batch may have installed its megaflow), otherwise handed
//!    to the [`UpcallHandler`] (the switch layer's xlate), whose megaflow is
//!    installed (unless the flow limit is reached) and whose actions run.
//! 6. **execute**: packets are grouped per megaflow, preserving arrival order
//!    within a flow (OVS `packet_batch_per_flow`), and the group's actions run
//!    on it; megaflows with equal action lists share one group (statistics
//!    are still accounted per megaflow).
//!
//! Recirculated packets (`recirc`, `tnl_pop`) are queued and run through the
//! stages again after the current pass, up to [`MAX_RECIRC_DEPTH`] passes
//! (deeper ones are dropped and counted as lost, as OVS does).
//!
//! Single owner, no locks, no allocation on the EMC-hit path when a batch
//! belongs to one flow; one small allocation per extra group of distinct
//! actions otherwise.

use crate::actions::{ActionContext, CtAction, OdpAction, OdpPort, TnlPush, UserspaceAction};
use crate::emc::{Emc, DEFAULT_EMC_INSERT_INV_PROB};
use crate::execute::execute_actions;
use crate::extract::{extract, extract_simple, ExtractStatus};
use crate::flow::{fields, Flow};
use crate::flow_table::{FlowRef, FlowTable, FlowTableError, PutFlags};
use crate::matches::{Match, Ufid};
use crate::miniflow::FlowKey;
use crate::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use crate::smc::Smc;

/// Maximum number of datapath passes of one packet (OVS `MAX_RECIRC_DEPTH`).
pub const MAX_RECIRC_DEPTH: u32 = 6;

/// Interval between re-rankings of dpcls subtables by hit count, ns (OVS
/// `DPCLS_OPTIMIZATION_INTERVAL`, 1 s).
pub const DPCLS_OPTIMIZATION_INTERVAL_NS: u64 = 1_000_000_000;

/// What the switch layer answers to a miss (OVS `dp_netdev_upcall` result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upcall {
    /// Datapath actions for the packet (and the megaflow).
    pub actions: Vec<OdpAction>,
    /// Megaflow mask: every bit xlate consulted. `None`: execute only, install
    /// nothing (OVS "slow path" or a flow that must not be cached).
    pub mask: Option<Flow>,
    /// UFID for the megaflow; derived from the match when `None`.
    pub ufid: Option<Ufid>,
}

/// The switch layer's side of a miss (implemented by ofproto/xlate; in tests
/// by a simple handler).
pub trait UpcallHandler {
    /// Translates `pkt` whose extracted key is `flow`. An `Err` drops the
    /// packet and counts it as "miss with failed upcall"; the string says why.
    fn upcall(&mut self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String>;
}

/// Per-PMD counters, named after OVS's `enum pmd_stat_type` and printed by
/// `dpif-netdev/pmd-stats-show`. All counts are packets unless noted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PmdStats {
    /// "packets received": packets that entered from a port (not recirculated).
    pub recv: u64,
    /// "packet recirculations": extra datapath passes.
    pub recirc: u64,
    /// "simple match hits": packets answered by the simple-match table
    /// (OVS `PMD_STAT_SIMPLE_HIT`), without extraction, EMC or dpcls.
    pub simple_hit: u64,
    /// "emc hits".
    pub emc_hit: u64,
    /// "smc hits".
    pub smc_hit: u64,
    /// "megaflow hits".
    pub masked_hit: u64,
    /// Subtable lookups done for megaflow hits (for "avg. subtable lookups per
    /// megaflow hit").
    pub lookups: u64,
    /// "miss with success upcall".
    pub miss: u64,
    /// "miss with failed upcall" (also packets beyond the recirculation depth).
    pub lost: u64,
    /// Malformed packets dropped at extraction.
    pub malformed: u64,
    /// Megaflows that could not be installed because of the flow limit.
    pub flow_limit_hit: u64,
}

/// Cycles spent in each stage of the fast path, summed over the passes run
/// while a stage clock was set ([`FastPath::set_stage_clock`]). Units are
/// whatever the clock counts (the PMD gives it the TSC: CPU reference
/// cycles). The rvs counterpart of the per-stage breakdown OVS's
/// `dpif-netdev/pmd-perf-show` does not have; its upcall cycles are OVS's
/// `PMD_CYCLES_UPCALL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageCycles {
    /// Flow key extraction (`miniflow_extract`), including the simple-match
    /// parse and lookup.
    pub extract: u64,
    /// EMC probes.
    pub emc: u64,
    /// SMC probes and the dpcls batch lookup.
    pub smc_dpcls: u64,
    /// Upcalls: re-lookup, xlate, megaflow install (and the execution of
    /// uninstalled flows' actions).
    pub upcall: u64,
    /// Grouping per megaflow, statistics and action execution, including
    /// whatever the context's `output` does (the PMD subtracts its tx).
    pub actions: u64,
    /// Datapath passes timed (batches, recirculations included).
    pub passes: u64,
}

/// A cycle counter for stage timing: returns a monotonic count (the PMD
/// passes a TSC read).
pub type StageClock = fn() -> u64;

/// Fast-path tunables (OVS `other_config` keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastPathConfig {
    /// `emc-insert-inv-prob`: insert into the EMC with probability 1/N;
    /// 0 disables the EMC.
    pub emc_insert_inv_prob: u32,
    /// `smc-enable`.
    pub smc_enable: bool,
}

impl Default for FastPathConfig {
    fn default() -> Self {
        FastPathConfig {
            emc_insert_inv_prob: DEFAULT_EMC_INSERT_INV_PROB,
            smc_enable: false,
        }
    }
}

/// One PMD's forwarding state; see the module documentation.
pub struct FastPath {
    /// The megaflow table.
    pub table: FlowTable,
    emc: Emc<FlowRef>,
    smc: Option<Smc<FlowRef>>,
    keys: Vec<FlowKey>,
    flows: [Option<FlowRef>; NETDEV_MAX_BURST],
    /// TCP flags of the packets of the current pass that hit the simple
    /// table (their `keys` entry is not filled).
    simple_tcp: [u16; NETDEV_MAX_BURST],
    groups: Vec<(FlowRef, PacketBatch)>,
    recirc_q: Vec<(PacketBatch, u32)>,
    /// Counters since creation (or the last [`FastPath::clear_stats`]).
    pub stats: PmdStats,
    /// Per-stage cycles, counted only while a stage clock is set.
    pub stage_cycles: StageCycles,
    stage_clock: Option<StageClock>,
    last_optimize_ns: u64,
}

impl Default for FastPath {
    fn default() -> Self {
        FastPath::new(FastPathConfig::default())
    }
}

/// True if both flows exist and have equal action lists.
#[inline]
fn same_actions(a: Option<&[OdpAction]>, b: Option<&[OdpAction]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
        }
        _ => false,
    }
}

/// Wraps the caller's context so that recirculation comes back here.
struct ExecCtx<'a, C> {
    inner: &'a mut C,
    recirc_q: &'a mut Vec<(PacketBatch, u32)>,
    depth: u32,
}

impl<C: ActionContext> ActionContext for ExecCtx<'_, C> {
    fn output(&mut self, port: OdpPort, batch: PacketBatch) {
        self.inner.output(port, batch);
    }
    fn userspace(&mut self, action: &UserspaceAction, batch: PacketBatch) {
        self.inner.userspace(action, batch);
    }
    fn recirc(&mut self, batch: PacketBatch) {
        self.recirc_q.push((batch, self.depth + 1));
    }
    fn ct(&mut self, action: &CtAction, batch: &mut PacketBatch) {
        self.inner.ct(action, batch);
    }
    fn tnl_push(&mut self, push: &TnlPush, batch: &mut PacketBatch) {
        self.inner.tnl_push(push, batch);
    }
    fn tnl_pop(&mut self, port: OdpPort, batch: &mut PacketBatch) {
        self.inner.tnl_pop(port, batch);
    }
    fn meter(&mut self, meter_id: u32, now_ns: u64, batch: &mut PacketBatch) {
        self.inner.meter(meter_id, now_ns, batch);
    }
    fn random_u32(&mut self) -> u32 {
        self.inner.random_u32()
    }
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
}

impl FastPath {
    /// A fast path with an empty flow table and caches.
    pub fn new(cfg: FastPathConfig) -> FastPath {
        let mut fp = FastPath {
            table: FlowTable::new(),
            emc: Emc::new(),
            smc: None,
            keys: vec![FlowKey::default(); NETDEV_MAX_BURST],
            flows: [None; NETDEV_MAX_BURST],
            simple_tcp: [0; NETDEV_MAX_BURST],
            groups: Vec::with_capacity(NETDEV_MAX_BURST),
            recirc_q: Vec::new(),
            stats: PmdStats::default(),
            stage_cycles: StageCycles::default(),
            stage_clock: None,
            last_optimize_ns: 0,
        };
        fp.configure(cfg);
        fp
    }

    /// Applies new tunables; enabling the SMC allocates it, disabling frees it.
    pub fn configure(&mut self, cfg: FastPathConfig) {
        self.emc.set_insert_inv_prob(cfg.emc_insert_inv_prob);
        if cfg.emc_insert_inv_prob == 0 {
            self.emc.clear();
        }
        match (cfg.smc_enable, self.smc.is_some()) {
            (true, false) => self.smc = Some(Smc::new()),
            (false, true) => self.smc = None,
            _ => {}
        }
    }

    /// Current tunables.
    pub fn config(&self) -> FastPathConfig {
        FastPathConfig {
            emc_insert_inv_prob: self.emc.insert_inv_prob(),
            smc_enable: self.smc.is_some(),
        }
    }

    /// Resets the counters (`dpif-netdev/pmd-stats-clear`).
    pub fn clear_stats(&mut self) {
        self.stats = PmdStats::default();
        self.stage_cycles = StageCycles::default();
    }

    /// Turns per-stage timing on (`Some(clock)`: every pass reads `clock`
    /// between its stages and adds to [`FastPath::stage_cycles`]) or off
    /// (`None`, the default: the only cost is one branch per pass). OVS
    /// `other_config:pmd-perf-metrics`.
    pub fn set_stage_clock(&mut self, clock: Option<StageClock>) {
        self.stage_clock = clock;
    }

    /// Empties the EMC and SMC (e.g. after a flush).
    pub fn clear_caches(&mut self) {
        self.emc.clear();
        if let Some(smc) = self.smc.as_mut() {
            smc.clear();
        }
    }

    /// Re-ranks dpcls subtables if [`DPCLS_OPTIMIZATION_INTERVAL_NS`] passed
    /// since the last time (called by [`FastPath::process`]).
    pub fn maybe_optimize(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_optimize_ns) >= DPCLS_OPTIMIZATION_INTERVAL_NS {
            self.last_optimize_ns = now_ns;
            for cls in self.table.classifiers_mut() {
                cls.sort_subtables();
            }
        }
    }

    /// Runs `batch` (packets with `md` initialised by the receiving port,
    /// at most [`NETDEV_MAX_BURST`]; longer batches are split) through the fast
    /// path at monotonic time `now_ns`, including any recirculation.
    pub fn process<C: ActionContext, U: UpcallHandler>(
        &mut self,
        mut batch: PacketBatch,
        now_ns: u64,
        ctx: &mut C,
        upcall: &mut U,
    ) {
        self.maybe_optimize(now_ns);
        while batch.len() > NETDEV_MAX_BURST {
            let rest = batch.pkts.split_off(NETDEV_MAX_BURST);
            let head = std::mem::replace(&mut batch.pkts, rest);
            self.stats.recv += head.len() as u64;
            self.pass(PacketBatch { pkts: head }, 0, now_ns, ctx, upcall);
        }
        self.stats.recv += batch.len() as u64;
        self.pass(batch, 0, now_ns, ctx, upcall);
        while let Some((b, depth)) = self.recirc_q.pop() {
            if depth >= MAX_RECIRC_DEPTH {
                self.stats.lost += b.len() as u64;
                continue;
            }
            self.stats.recirc += b.len() as u64;
            self.pass(b, depth, now_ns, ctx, upcall);
        }
    }

    /// One datapath pass; with a stage clock set, the timed variant.
    #[inline]
    fn pass<C: ActionContext, U: UpcallHandler>(
        &mut self,
        batch: PacketBatch,
        depth: u32,
        now_ns: u64,
        ctx: &mut C,
        upcall: &mut U,
    ) {
        match self.stage_clock {
            None => self.pass_inner::<C, U, false>(batch, depth, now_ns, ctx, upcall, || 0),
            Some(clock) => {
                self.stage_cycles.passes += 1;
                self.pass_inner::<C, U, true>(batch, depth, now_ns, ctx, upcall, clock)
            }
        }
    }

    /// The stages of one pass. `TIMED` (a constant, so the untimed variant
    /// has no clock reads at all) adds each stage's `clock` delta to
    /// [`FastPath::stage_cycles`].
    fn pass_inner<C: ActionContext, U: UpcallHandler, const TIMED: bool>(
        &mut self,
        mut batch: PacketBatch,
        depth: u32,
        now_ns: u64,
        ctx: &mut C,
        upcall: &mut U,
        clock: impl Fn() -> u64,
    ) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let mut t = if TIMED { clock() } else { 0 };
        // Adds the cycles since the last mark to `field`.
        macro_rules! mark {
            ($field:ident) => {
                if TIMED {
                    let now = clock();
                    self.stage_cycles.$field += now.wrapping_sub(t);
                    t = now;
                }
            };
        }
        self.flows[..n].fill(None);
        // 0. simple match (OVS `dfc_processing` with simple match enabled):
        // only for packets from a port (never recirculated) whose in_port
        // has only simple megaflows with one mask.
        let mut simple: u32 = 0;
        if depth == 0 && self.table.has_simple() {
            let mut port = None;
            let mut sp = None;
            // The previous hit's key and flow (same port): most batches
            // carry one flow's packets, which then need no map lookup.
            let mut last: Option<(u64, FlowRef)> = None;
            for (i, pkt) in batch.pkts.iter_mut().enumerate() {
                if pkt.md.recirc_id != 0 {
                    continue;
                }
                if port != Some(pkt.md.in_port) {
                    port = Some(pkt.md.in_port);
                    sp = self.table.simple_port(pkt.md.in_port);
                    last = None;
                }
                let Some(sp) = sp else { continue };
                let Some(f) = extract_simple(pkt) else {
                    continue;
                };
                let k = sp.key(&f);
                let hit = match last {
                    Some((lk, r)) if lk == k => Some(r),
                    _ => sp.lookup_key(k),
                };
                if let Some(r) = hit {
                    last = Some((k, r));
                    self.flows[i] = Some(r);
                    self.simple_tcp[i] = f.tcp_flags;
                    simple |= 1 << i;
                }
            }
            self.stats.simple_hit += simple.count_ones() as u64;
        }
        // 1. extract
        let mut todo: u32 = 0;
        for (i, pkt) in batch.pkts.iter_mut().enumerate() {
            if simple & (1 << i) != 0 {
                continue;
            }
            if extract(pkt, &mut self.keys[i]) == ExtractStatus::Ok {
                todo |= 1 << i;
            } else {
                self.stats.malformed += 1;
            }
        }
        mark!(extract);
        // 2. EMC
        if self.emc.insert_inv_prob() != 0 {
            let mut bits = todo;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(r) = self.emc.lookup(&self.keys[i]) {
                    if self.table.is_live(r) {
                        self.flows[i] = Some(r);
                        todo &= !(1 << i);
                        self.stats.emc_hit += 1;
                    }
                }
            }
        }
        mark!(emc);
        // 3. SMC
        if let Some(smc) = self.smc.as_ref() {
            let mut bits = todo;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let key = &self.keys[i];
                let table = &self.table;
                if let Some(r) =
                    smc.lookup(key, |r| table.get_ref(r).is_some_and(|f| f.matches(key)))
                {
                    self.flows[i] = Some(r);
                    todo &= !(1 << i);
                    self.stats.smc_hit += 1;
                    self.emc.probabilistic_insert(key, r);
                }
            }
        }
        // 4. dpcls, per input port
        let mut pending = todo;
        let mut out = [None; NETDEV_MAX_BURST];
        while pending != 0 {
            let first = pending.trailing_zeros() as usize;
            let port = self.keys[first].get(fields::IN_PORT) as u32;
            let mut same = 0u32;
            let mut bits = pending;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if self.keys[i].get(fields::IN_PORT) as u32 == port {
                    same |= 1 << i;
                }
            }
            pending &= !same;
            let Some(cls) = self.table.classifier_mut(port) else {
                continue;
            };
            let (hits, lookups) = cls.lookup_batch(&self.keys[..n], same, &mut out[..n]);
            self.stats.lookups += lookups as u64;
            self.stats.masked_hit += hits.count_ones() as u64;
            todo &= !hits;
            let mut bits = hits;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let r = out[i].expect("hit bit set");
                self.flows[i] = Some(r);
                self.emc.probabilistic_insert(&self.keys[i], r);
                if let Some(smc) = self.smc.as_mut() {
                    smc.insert(&self.keys[i], r);
                }
            }
        }
        mark!(smc_dpcls);
        // 5. upcalls
        let mut bits = todo;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(r) = self.table.lookup(&self.keys[i]) {
                self.flows[i] = Some(r);
                self.stats.masked_hit += 1;
                continue;
            }
            self.handle_miss(&mut batch.pkts[i], i, depth, ctx, upcall);
        }
        mark!(upcall);
        // 6. group per megaflow and execute
        self.execute_groups(batch, n, simple, depth, now_ns, ctx);
        mark!(actions);
        let _ = t;
    }

    /// Upcall for packet `i`; installs the megaflow or, failing that, executes
    /// the actions on a copy of this packet right away.
    fn handle_miss<C: ActionContext, U: UpcallHandler>(
        &mut self,
        pkt: &mut Box<DpPacket>,
        i: usize,
        depth: u32,
        ctx: &mut C,
        upcall: &mut U,
    ) {
        let flow = self.keys[i].to_flow();
        let up = match upcall.upcall(pkt, &flow) {
            Ok(up) => up,
            Err(_) => {
                self.stats.lost += 1;
                return;
            }
        };
        self.stats.miss += 1;
        if let Some(mask) = &up.mask {
            let mut mask = mask.clone();
            mask.set_exact(fields::IN_PORT);
            // Keep the unmasked key for dumps, as OVS does.
            let m = Match { key: flow, mask };
            match self
                .table
                .put(&m, up.ufid, up.actions.clone(), PutFlags::CREATE)
            {
                Ok(o) => {
                    let r = o.flow_ref();
                    self.flows[i] = Some(r);
                    self.emc.probabilistic_insert(&self.keys[i], r);
                    return;
                }
                Err(FlowTableError::Exists) => {
                    if let Some(r) = self.table.lookup(&self.keys[i]) {
                        self.flows[i] = Some(r);
                        return;
                    }
                }
                Err(FlowTableError::FlowLimit(_)) => self.stats.flow_limit_hit += 1,
                Err(_) => {}
            }
        }
        // Not installed: execute this packet alone with the upcall's actions.
        let mut one = PacketBatch::new();
        one.push(std::mem::take(pkt));
        let mut ectx = ExecCtx {
            inner: ctx,
            recirc_q: &mut self.recirc_q,
            depth,
        };
        execute_actions(&mut ectx, one, &up.actions);
    }

    /// Executes the batch per megaflow (OVS `packet_batch_per_flow_execute`),
    /// accounting each packet to its own megaflow, but runs megaflows whose
    /// action lists are equal as one batch: executing one action list on a
    /// batch is what happens to the packets of a single megaflow, so the
    /// result is the same as running them flow by flow, and with many small
    /// flows that share their actions (e.g. all `output:2`) it saves a batch
    /// allocation and an action run per flow. Packets keep their arrival order
    /// within a batch.
    fn execute_groups<C: ActionContext>(
        &mut self,
        mut batch: PacketBatch,
        n: usize,
        simple: u32,
        depth: u32,
        now_ns: u64,
        ctx: &mut C,
    ) {
        let FastPath {
            table,
            keys,
            flows,
            simple_tcp,
            groups,
            recirc_q,
            ..
        } = self;
        // TCP flags of packet `i` (from the simple parse or the key).
        let tcp_of = |i: usize| -> u16 {
            if simple & (1 << i) != 0 {
                simple_tcp[i]
            } else {
                keys[i].get(fields::TCP_FLAGS) as u16
            }
        };
        let mut ectx = ExecCtx {
            inner: ctx,
            recirc_q,
            depth,
        };
        // Fast case: the whole batch hit one flow; no regrouping.
        if let Some(r0) = flows[0] {
            if flows[1..n].iter().all(|f| *f == Some(r0)) {
                let tcp_flags = (0..n).fold(0u16, |a, i| a | tcp_of(i));
                table.account(r0, n as u64, batch.bytes(), tcp_flags, now_ns);
                if let Some(actions) = table.actions(r0) {
                    execute_actions(&mut ectx, batch, actions);
                }
                return;
            }
        }
        groups.clear();
        // Index in `groups` of the previous packet's group.
        let mut last = usize::MAX;
        for (i, pkt) in batch.pkts.drain(..).enumerate() {
            // Packets without a flow (malformed, failed upcall, or executed
            // directly after the upcall) are dropped here.
            let Some(r) = flows[i] else { continue };
            let tcp_flags = tcp_of(i);
            table.account(r, 1, pkt.len() as u64, tcp_flags, now_ns);
            let g = match groups.get(last) {
                Some((g, _)) if *g == r => Some(last),
                _ => {
                    let acts = table.actions(r);
                    groups
                        .iter()
                        .position(|(g, _)| *g == r || same_actions(table.actions(*g), acts))
                }
            };
            match g {
                Some(g) => {
                    groups[g].1.push(pkt);
                    last = g;
                }
                None => {
                    let mut b = PacketBatch {
                        pkts: Vec::with_capacity(n - i),
                    };
                    b.push(pkt);
                    groups.push((r, b));
                    last = groups.len() - 1;
                }
            }
        }
        for (r, b) in groups.drain(..) {
            if let Some(actions) = table.actions(r) {
                execute_actions(&mut ectx, b, actions);
            }
        }
    }
}
