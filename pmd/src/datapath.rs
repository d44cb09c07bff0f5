//! The datapath object the control thread drives: ports, threads, rx queue
//! placement, flow operations and statistics. See the crate documentation for
//! the threading rules.

use crate::config::{parse_rxq_affinity, DpConfig};
use crate::meter::Meters;
use crate::sched::{self, RxqInfo};
use crate::thread::{Cmd, PmdThread, PollQueue, PortMap, ThreadStats};
use crate::{cycles, show};
use crate::{ConntrackHook, UpcallProvider};
use crossbeam_channel::{bounded, unbounded, Sender};
use dp_core::actions::{OdpAction, OdpPort};
use dp_core::fastpath::FastPathConfig;
use dp_core::flow_table::{FlowTableError, Megaflow, PutFlags};
use dp_core::matches::{Match, Ufid};
use dp_core::packet::DpPacket;
use netdev::Netdev;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Errors of datapath operations.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DatapathError {
    /// The port number is in use (`EEXIST`).
    PortExists(OdpPort),
    /// A port with this name exists (`EEXIST`).
    NameExists(String),
    /// No port with this number (`ENOENT`).
    NoSuchPort(OdpPort),
    /// `pmd-rxq-affinity` could not be parsed.
    BadAffinity(String),
    /// A flow operation failed.
    Flow(FlowTableError),
    /// A datapath thread is gone (it panicked); the datapath must be rebuilt.
    ThreadGone,
}

impl fmt::Display for DatapathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatapathError::PortExists(p) => write!(f, "port {p} already exists"),
            DatapathError::NameExists(n) => write!(f, "port {n} already exists"),
            DatapathError::NoSuchPort(p) => write!(f, "no port {p}"),
            DatapathError::BadAffinity(e) => write!(f, "invalid pmd-rxq-affinity: {e}"),
            DatapathError::Flow(e) => write!(f, "{e}"),
            DatapathError::ThreadGone => write!(f, "a datapath thread exited"),
        }
    }
}

impl std::error::Error for DatapathError {}

/// Megaflows per thread: `Some(core)` for a PMD, `None` for the non-PMD
/// thread.
pub type FlowDump = Vec<(Option<usize>, Vec<Megaflow>)>;

/// A port as listed by [`Datapath::ports`].
#[derive(Clone)]
pub struct PortInfo {
    /// Datapath port number.
    pub port_no: OdpPort,
    /// Device name.
    pub name: String,
    /// The device.
    pub netdev: Arc<dyn Netdev>,
}

struct PortEntry {
    name: String,
    netdev: Arc<dyn Netdev>,
    affinity: Vec<(usize, usize)>,
}

struct ThreadHandle {
    tx: Sender<Cmd>,
    join: Option<JoinHandle<()>>,
    polls: Vec<(OdpPort, usize)>,
    isolated: bool,
    txq: usize,
}

/// Executes actions on packets outside the fast path (see
/// [`Datapath::executor`]); cloneable, usable from any thread.
#[derive(Clone)]
pub struct Executor {
    tx: Sender<Cmd>,
}

impl Executor {
    /// Runs `actions` on `pkt` as received on datapath port `in_port`
    /// (outputs, sets, conntrack; `recirc` is not followed) and waits for
    /// it to be done.
    ///
    /// # Errors
    /// [`DatapathError::ThreadGone`] when the datapath has stopped.
    pub fn execute(
        &self,
        pkt: DpPacket,
        in_port: OdpPort,
        actions: Vec<OdpAction>,
    ) -> Result<(), DatapathError> {
        let (done, rx) = bounded(1);
        self.tx
            .send(Cmd::Execute {
                pkt: Box::new(pkt),
                in_port,
                actions,
                done,
            })
            .map_err(|_| DatapathError::ThreadGone)?;
        rx.recv().map_err(|_| DatapathError::ThreadGone)
    }
}

/// The userspace datapath. Dropping it stops every thread and releases the
/// ports (each netdev detaches itself when its last reference goes).
pub struct Datapath {
    cfg: DpConfig,
    ports: BTreeMap<OdpPort, PortEntry>,
    provider: Arc<dyn UpcallProvider>,
    conntrack: Option<Arc<dyn ConntrackHook>>,
    meters: Arc<Meters>,
    pmds: BTreeMap<usize, ThreadHandle>,
    main: ThreadHandle,
    rxq_busy: HashMap<(OdpPort, usize), Arc<AtomicU64>>,
    start: Instant,
    mhz: f64,
}

fn default_core() -> usize {
    core_affinity::get_core_ids()
        .and_then(|ids| ids.iter().map(|c| c.id).min())
        .unwrap_or(0)
}

impl Datapath {
    /// Starts a datapath with no ports: the PMD threads of `cfg` and the
    /// non-PMD thread. `conntrack` serves the `ct` action (without it, `ct`
    /// marks packets `+trk+inv`).
    pub fn new(
        cfg: DpConfig,
        provider: Arc<dyn UpcallProvider>,
        conntrack: Option<Arc<dyn ConntrackHook>>,
    ) -> Datapath {
        let start = Instant::now();
        let meters = Arc::new(Meters::new());
        let main = Self::spawn(&cfg, None, 0, &provider, &conntrack, &meters, start);
        let mut dp = Datapath {
            cfg: DpConfig::default(),
            ports: BTreeMap::new(),
            provider,
            conntrack,
            meters,
            pmds: BTreeMap::new(),
            main,
            rxq_busy: HashMap::new(),
            start,
            mhz: show::cpu_mhz(),
        };
        dp.set_config(cfg);
        dp
    }

    fn spawn(
        cfg: &DpConfig,
        core: Option<usize>,
        txq: usize,
        provider: &Arc<dyn UpcallProvider>,
        conntrack: &Option<Arc<dyn ConntrackHook>>,
        meters: &Arc<Meters>,
        start: Instant,
    ) -> ThreadHandle {
        let (tx, rx) = unbounded();
        let t = PmdThread {
            core,
            txq,
            cmds: rx,
            provider: provider.clone(),
            conntrack: conntrack.clone(),
            meters: meters.clone(),
            fast: FastPathConfig {
                emc_insert_inv_prob: cfg.emc_insert_inv_prob,
                smc_enable: cfg.smc_enable,
            },
            flow_limit: cfg.flow_limit,
            // The non-PMD thread always sleeps when idle, like OVS's main thread.
            max_sleep_us: if core.is_some() {
                cfg.pmd_max_sleep_us
            } else {
                100
            },
            start,
        };
        let name = match core {
            Some(c) => format!("pmd-c{c:02}"),
            None => "non-pmd".to_string(),
        };
        let join = std::thread::Builder::new()
            .name(name)
            .spawn(move || t.run())
            .expect("spawning a datapath thread");
        ThreadHandle {
            tx,
            join: Some(join),
            polls: Vec::new(),
            isolated: false,
            txq,
        }
    }

    /// The datapath's monotonic clock in ns (the time base of flow
    /// statistics' `used_ns`), for formatting `used:` in flow dumps.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// The meters of the `meter(N)` action (configure them here; threads
    /// see changes at their next batch).
    pub fn meters(&self) -> Arc<Meters> {
        self.meters.clone()
    }

    /// Current configuration.
    pub fn config(&self) -> &DpConfig {
        &self.cfg
    }

    /// Applies a new configuration: starts/stops PMD threads for a changed
    /// `pmd-cpu-mask` (flows of stopped threads are discarded, as in OVS),
    /// pushes tunables to every thread and re-places rx queues. Returns the
    /// scheduler's warnings for the log.
    pub fn set_config(&mut self, cfg: DpConfig) -> Vec<String> {
        let cores: BTreeSet<usize> = if cfg.pmd_cores.is_empty() {
            [default_core()].into()
        } else {
            cfg.pmd_cores.iter().copied().collect()
        };
        let gone: Vec<usize> = self
            .pmds
            .keys()
            .filter(|c| !cores.contains(c))
            .copied()
            .collect();
        for c in gone {
            if let Some(mut h) = self.pmds.remove(&c) {
                let _ = h.tx.send(Cmd::Quit);
                if let Some(j) = h.join.take() {
                    let _ = j.join();
                }
            }
        }
        self.cfg = cfg;
        let used: BTreeSet<usize> = self.pmds.values().map(|h| h.txq).collect();
        let mut next_txq = 1;
        for c in cores {
            if !self.pmds.contains_key(&c) {
                while used.contains(&next_txq) {
                    next_txq += 1;
                }
                let h = Self::spawn(
                    &self.cfg,
                    Some(c),
                    next_txq,
                    &self.provider,
                    &self.conntrack,
                    &self.meters,
                    self.start,
                );
                next_txq += 1;
                self.pmds.insert(c, h);
            }
        }
        let fast = FastPathConfig {
            emc_insert_inv_prob: self.cfg.emc_insert_inv_prob,
            smc_enable: self.cfg.smc_enable,
        };
        for h in self.pmds.values() {
            let _ = h.tx.send(Cmd::Configure {
                fast,
                flow_limit: self.cfg.flow_limit,
                max_sleep_us: self.cfg.pmd_max_sleep_us,
                perf_metrics: self.cfg.pmd_perf_metrics,
            });
        }
        let _ = self.main.tx.send(Cmd::Configure {
            fast,
            flow_limit: self.cfg.flow_limit,
            max_sleep_us: 100,
            perf_metrics: self.cfg.pmd_perf_metrics,
        });
        self.reconfigure()
    }

    /// Adds `netdev` as datapath port `port_no`, with an optional
    /// `pmd-rxq-affinity` list, and re-places rx queues. Returns scheduler
    /// warnings.
    pub fn add_port(
        &mut self,
        port_no: OdpPort,
        netdev: Arc<dyn Netdev>,
        rxq_affinity: Option<&str>,
    ) -> Result<Vec<String>, DatapathError> {
        if self.ports.contains_key(&port_no) {
            return Err(DatapathError::PortExists(port_no));
        }
        if self.ports.values().any(|p| p.name == netdev.name()) {
            return Err(DatapathError::NameExists(netdev.name().to_string()));
        }
        let affinity = match rxq_affinity {
            Some(s) => parse_rxq_affinity(s).map_err(DatapathError::BadAffinity)?,
            None => Vec::new(),
        };
        self.ports.insert(
            port_no,
            PortEntry {
                name: netdev.name().to_string(),
                netdev,
                affinity,
            },
        );
        Ok(self.reconfigure())
    }

    /// Changes a port's `pmd-rxq-affinity` and re-places rx queues.
    pub fn set_rxq_affinity(
        &mut self,
        port_no: OdpPort,
        rxq_affinity: Option<&str>,
    ) -> Result<Vec<String>, DatapathError> {
        let affinity = match rxq_affinity {
            Some(s) => parse_rxq_affinity(s).map_err(DatapathError::BadAffinity)?,
            None => Vec::new(),
        };
        let p = self
            .ports
            .get_mut(&port_no)
            .ok_or(DatapathError::NoSuchPort(port_no))?;
        p.affinity = affinity;
        Ok(self.reconfigure())
    }

    /// Removes port `port_no` (threads stop polling it first) and returns its
    /// netdev.
    pub fn del_port(&mut self, port_no: OdpPort) -> Result<Arc<dyn Netdev>, DatapathError> {
        let p = self
            .ports
            .remove(&port_no)
            .ok_or(DatapathError::NoSuchPort(port_no))?;
        self.rxq_busy.retain(|(pn, _), _| *pn != port_no);
        self.reconfigure();
        Ok(p.netdev)
    }

    /// The ports, by number.
    pub fn ports(&self) -> Vec<PortInfo> {
        self.ports
            .iter()
            .map(|(&port_no, p)| PortInfo {
                port_no,
                name: p.name.clone(),
                netdev: p.netdev.clone(),
            })
            .collect()
    }

    fn busy_counter(&mut self, port_no: OdpPort, qid: usize) -> Arc<AtomicU64> {
        self.rxq_busy.entry((port_no, qid)).or_default().clone()
    }

    /// Recomputes rx queue placement and applies it in two phases (see the
    /// crate documentation). Returns warnings.
    fn reconfigure(&mut self) -> Vec<String> {
        let snapshot: PortMap = Arc::new(
            self.ports
                .iter()
                .map(|(&n, p)| (n, p.netdev.clone()))
                .collect(),
        );
        let mut rxqs = Vec::new();
        let mut main_polls = Vec::new();
        for (&port_no, p) in &self.ports {
            for qid in 0..p.netdev.n_rxq() {
                if p.netdev.is_pmd() {
                    rxqs.push(RxqInfo {
                        port: p.name.clone(),
                        port_no,
                        qid,
                        cycles: self
                            .rxq_busy
                            .get(&(port_no, qid))
                            .map_or(0, |c| c.load(Ordering::Relaxed)),
                        affinity: p.affinity.iter().find(|(q, _)| *q == qid).map(|(_, c)| *c),
                    });
                } else {
                    main_polls.push((port_no, qid));
                }
            }
        }
        let cores: Vec<usize> = self.pmds.keys().copied().collect();
        let a = sched::assign(&rxqs, &cores, self.cfg.rxq_assign, self.cfg.rxq_isolate);
        let mut new_lists: BTreeMap<Option<usize>, Vec<(OdpPort, usize)>> = a
            .per_core
            .iter()
            .map(|(&c, idx)| {
                (
                    Some(c),
                    idx.iter()
                        .map(|&i| (rxqs[i].port_no, rxqs[i].qid))
                        .collect(),
                )
            })
            .collect();
        new_lists.insert(None, main_polls);

        // Phase 1: every thread keeps only what it keeps; phase 2: takes all.
        for phase in 0..2 {
            let mut waits = Vec::new();
            for (key, list) in &new_lists {
                let old = match key {
                    Some(c) => &self.pmds[c].polls,
                    None => &self.main.polls,
                };
                let target: Vec<(OdpPort, usize)> = if phase == 0 {
                    list.iter().filter(|q| old.contains(q)).copied().collect()
                } else {
                    list.clone()
                };
                let polls: Vec<PollQueue> = target
                    .iter()
                    .map(|&(port_no, qid)| PollQueue {
                        port_no,
                        netdev: self.ports[&port_no].netdev.clone(),
                        qid,
                        busy_ns: self.busy_counter(port_no, qid),
                    })
                    .collect();
                let (done_tx, done_rx) = bounded(1);
                let h = match key {
                    Some(c) => self.pmds.get_mut(c).expect("pmd exists"),
                    None => &mut self.main,
                };
                if h.tx
                    .send(Cmd::Reload {
                        polls,
                        ports: snapshot.clone(),
                        done: done_tx,
                    })
                    .is_ok()
                {
                    waits.push(done_rx);
                }
                h.polls = target;
            }
            for w in waits {
                let _ = w.recv();
            }
        }
        for (c, h) in self.pmds.iter_mut() {
            h.isolated = a.isolated.contains(c);
        }
        a.warnings
    }

    /// Re-places rx queues by their measured load (`dpif-netdev/pmd-rxq-rebalance`).
    pub fn rxq_rebalance(&mut self) -> Vec<String> {
        self.reconfigure()
    }

    fn threads(&self) -> impl Iterator<Item = (Option<usize>, &ThreadHandle)> {
        self.pmds
            .iter()
            .map(|(&c, h)| (Some(c), h))
            .chain(std::iter::once((None, &self.main)))
    }

    fn ask<T>(
        &self,
        h: &ThreadHandle,
        make: impl FnOnce(Sender<T>) -> Cmd,
    ) -> Result<T, DatapathError> {
        let (tx, rx) = bounded(1);
        h.tx.send(make(tx)).map_err(|_| DatapathError::ThreadGone)?;
        rx.recv().map_err(|_| DatapathError::ThreadGone)
    }

    /// Installs a megaflow in every thread (OVS `dpif_flow_put` with no PMD
    /// id). The first error is returned; threads where it succeeded keep it.
    pub fn flow_put(
        &self,
        m: &Match,
        ufid: Option<Ufid>,
        actions: &[OdpAction],
        flags: PutFlags,
    ) -> Result<(), DatapathError> {
        let mut first_err = None;
        for (_, h) in self.threads() {
            let r = self.ask(h, |reply| Cmd::FlowPut {
                m: Box::new(m.clone()),
                ufid,
                actions: actions.to_vec(),
                flags,
                reply,
            })?;
            if let Err(e) = r {
                first_err.get_or_insert(DatapathError::Flow(e));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Deletes the megaflow `ufid` from every thread; returns it with the
    /// statistics summed over threads.
    pub fn flow_del(&self, ufid: &Ufid) -> Result<Megaflow, DatapathError> {
        let mut found: Option<Megaflow> = None;
        for (_, h) in self.threads() {
            if let Ok(f) = self.ask(h, |reply| Cmd::FlowDel { ufid: *ufid, reply })? {
                match found.as_mut() {
                    Some(acc) => {
                        acc.stats.packets += f.stats.packets;
                        acc.stats.bytes += f.stats.bytes;
                        acc.stats.tcp_flags |= f.stats.tcp_flags;
                        acc.stats.used_ns = acc.stats.used_ns.max(f.stats.used_ns);
                    }
                    None => found = Some(f),
                }
            }
        }
        found.ok_or(DatapathError::Flow(FlowTableError::NotFound))
    }

    /// Every thread's megaflows: `(Some(core), flows)` for PMDs, `(None,
    /// flows)` for the non-PMD thread (OVS prints "flow-dump from pmd on cpu
    /// core: N" / "flow-dump from the main thread:").
    pub fn flow_dump(&self) -> Result<FlowDump, DatapathError> {
        self.threads()
            .map(|(c, h)| Ok((c, self.ask(h, |reply| Cmd::FlowDump { reply })?)))
            .collect()
    }

    /// A handle that executes datapath actions on single packets in the
    /// non-PMD thread (OpenFlow PACKET_OUT, OVS `dpif_execute`).
    pub fn executor(&self) -> Executor {
        Executor {
            tx: self.main.tx.clone(),
        }
    }

    /// Deletes every megaflow in every thread (`dpctl/del-flows`).
    pub fn flow_flush(&self) -> Result<(), DatapathError> {
        for (_, h) in self.threads() {
            self.ask(h, |done| Cmd::FlowFlush { done })?;
        }
        Ok(())
    }

    /// Counters of every thread, PMDs by core then the non-PMD thread.
    pub fn thread_stats(&self) -> Result<Vec<(Option<usize>, ThreadStats)>, DatapathError> {
        self.threads()
            .map(|(c, h)| Ok((c, self.ask(h, |reply| Cmd::Stats { reply })?)))
            .collect()
    }

    /// The text of `ovs-appctl dpif-netdev/pmd-stats-show`.
    pub fn pmd_stats_show(&self) -> Result<String, DatapathError> {
        let mut out = String::new();
        for (c, s) in self.thread_stats()? {
            show::format_stats(&mut out, c, &s, self.mhz);
        }
        Ok(out)
    }

    /// The text of `ovs-appctl dpif-netdev/pmd-perf-show` (OVS 3.1
    /// `pmd_info_show_perf`: PMD threads only, the overall statistics since
    /// the last clear, then, with `pmd-perf-metrics=true`, rvs's cycles per
    /// packet by stage instead of OVS's histograms). `wall_clock` is the
    /// "Time:" line's `HH:MM:SS.mmm`.
    pub fn pmd_perf_show(&self, wall_clock: &str) -> Result<String, DatapathError> {
        let mut out = String::new();
        for (c, s) in self.thread_stats()? {
            if let Some(core) = c {
                show::format_perf(&mut out, core, &s, cycles::tsc_hz(), wall_clock);
            }
        }
        Ok(out)
    }

    /// `ovs-appctl dpif-netdev/pmd-stats-clear`.
    pub fn pmd_stats_clear(&self) {
        for (_, h) in self.threads() {
            let _ = h.tx.send(Cmd::StatsClear);
        }
        for c in self.rxq_busy.values() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The text of `ovs-appctl dpif-netdev/pmd-rxq-show`.
    pub fn pmd_rxq_show(&self) -> Result<String, DatapathError> {
        let mut out = String::new();
        for (&core, h) in &self.pmds {
            let s = self.ask(h, |reply| Cmd::Stats { reply })?;
            let lines = h
                .polls
                .iter()
                .map(|&(port_no, qid)| show::RxqLine {
                    port: self
                        .ports
                        .get(&port_no)
                        .map_or_else(String::new, |p| p.name.clone()),
                    qid,
                    busy_ns: self
                        .rxq_busy
                        .get(&(port_no, qid))
                        .map_or(0, |c| c.load(Ordering::Relaxed)),
                })
                .collect();
            show::format_rxq(
                &mut out,
                core,
                h.isolated,
                lines,
                s.busy_ns,
                s.busy_ns + s.idle_ns,
            );
        }
        Ok(out)
    }

    /// The PMD cores and the rx queues (port number, queue id) each polls.
    pub fn rxq_assignment(&self) -> BTreeMap<usize, Vec<(OdpPort, usize)>> {
        self.pmds
            .iter()
            .map(|(&c, h)| (c, h.polls.clone()))
            .collect()
    }
}

impl Drop for Datapath {
    fn drop(&mut self) {
        let mut all: Vec<&mut ThreadHandle> = self.pmds.values_mut().collect();
        all.push(&mut self.main);
        for h in all.iter() {
            let _ = h.tx.send(Cmd::Quit);
        }
        for h in all {
            if let Some(j) = h.join.take() {
                let _ = j.join();
            }
        }
    }
}
