//! The `ovs-appctl` commands of the daemon (`ovs-vswitchd(8)` "RUNTIME
//! MANAGEMENT COMMANDS", `ovs-appctl(8)`), with OVS 3.1's output formats
//! (`lib/dpctl.c`, `ofproto/ofproto-dpif.c`, `lib/dpif-netdev.c`,
//! `lib/coverage.c`, `lib/memory.c`).

use crate::bridge::Switch;
use crate::unixctl::Commands;
use crate::vlog;
use dp_core::odp_text::{format_flow, DumpedFlow};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The `version` reply (OVS `ovs_get_program_version`, naming rvs).
pub fn version_line() -> String {
    format!(
        "ovs-vswitchd (Open vSwitch) {} (rvs-vswitchd {})",
        crate::bridge::OVS_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

/// What `exit` shares with the main loop: the request flags and a channel
/// on which the main loop says cleanup is done.
pub struct ExitControl {
    /// Set to make the main loop stop.
    pub exit: Arc<AtomicBool>,
    /// `exit --cleanup` was requested.
    pub cleanup: AtomicBool,
    /// Receives `()` once the datapath is gone and the pidfile removed.
    pub done_rx: Mutex<Option<crossbeam_channel::Receiver<()>>>,
}

fn dp_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `dpctl/show` (OVS `show_dpif`).
pub fn dpctl_show(sw: &Switch) -> Result<String, String> {
    let stats = sw.dp.thread_stats().map_err(dp_err)?;
    let (mut hit, mut missed, mut lost) = (0u64, 0u64, 0u64);
    for (_, s) in &stats {
        // OVS `dpif_netdev_get_stats`: simple match, EMC, SMC and megaflow hits.
        hit += s.fast.simple_hit + s.fast.emc_hit + s.fast.smc_hit + s.fast.masked_hit;
        missed += s.fast.miss;
        lost += s.fast.lost;
    }
    let flows: usize = sw
        .dp
        .flow_dump()
        .map_err(dp_err)?
        .iter()
        .map(|(_, f)| f.len())
        .sum();
    let mut s = format!(
        "netdev@ovs-netdev:\n  lookups: hit:{hit} missed:{missed} lost:{lost}\n  flows: {flows}\n  port 0: ovs-netdev (tap)\n"
    );
    for p in sw.dp.ports() {
        s.push_str(&format!("  port {}: {}", p.port_no, p.name));
        let kind = match p.netdev.kind() {
            "internal" => "tap",
            k => k,
        };
        if kind != "system" {
            s.push_str(&format!(" ({kind}"));
            if let Some((_, _, st)) = sw.iface_by_odp(p.port_no) {
                let opts: Vec<String> =
                    st.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if !opts.is_empty() {
                    s.push_str(&format!(": {}", opts.join(", ")));
                }
            }
            s.push(')');
        }
        s.push('\n');
    }
    Ok(s)
}

/// `dpif/show` (OVS `dpif_show_backer`).
pub fn dpif_show(sw: &Switch) -> Result<String, String> {
    let stats = sw.dp.thread_stats().map_err(dp_err)?;
    let hit: u64 = stats
        .iter()
        .map(|(_, s)| s.fast.simple_hit + s.fast.emc_hit + s.fast.smc_hit + s.fast.masked_hit)
        .sum();
    let missed: u64 = stats.iter().map(|(_, s)| s.fast.miss).sum();
    let mut s = format!("netdev@ovs-netdev: hit:{hit} missed:{missed}\n");
    for (bn, b) in &sw.bridges {
        s.push_str(&format!("  {bn}:\n"));
        for (name, i) in &b.ifaces {
            let kind = i.netdev.kind();
            if crate::patch::is_patch_odp(i.odp_port) {
                // OVS: "p0 1/none: (patch: peer=p1)".
                s.push_str(&format!("    {name} {}/none: ({kind}", i.ofport));
            } else {
                s.push_str(&format!("    {name} {}/{}: ({kind}", i.ofport, i.odp_port));
            }
            let opts: Vec<String> = i.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if !opts.is_empty() {
                s.push_str(&format!(": {}", opts.join(", ")));
            }
            s.push_str(")\n");
        }
    }
    Ok(s)
}

/// `dpctl/dump-flows [-m]` (OVS `dpctl_dump_flows` for dpif-netdev: flows
/// grouped by thread under `flow-dump from pmd on cpu core: N` / `flow-dump
/// from the main thread:`). With `bridge`, only that bridge's flows and no
/// thread headers (`dpif/dump-flows`).
pub fn dump_flows(sw: &Switch, verbose: bool, bridge: Option<&str>) -> Result<String, String> {
    let dump = sw.dp.flow_dump().map_err(dp_err)?;
    let now = sw.dp.now_ns();
    let ports: Option<Vec<u32>> = match bridge {
        None => None,
        Some(b) => Some(
            sw.bridges
                .get(b)
                .ok_or("no such bridge")?
                .ifaces
                .values()
                .map(|i| i.odp_port)
                .collect(),
        ),
    };
    let mut s = String::new();
    for (core, flows) in dump {
        let mut header = bridge.is_none();
        for f in flows {
            let in_port = f.m.key.get(dp_core::flow::fields::IN_PORT) as u32;
            if ports.as_ref().is_some_and(|p| !p.contains(&in_port)) {
                continue;
            }
            if header {
                header = false;
                match core {
                    Some(c) => s.push_str(&format!("flow-dump from pmd on cpu core: {c}\n")),
                    None => s.push_str("flow-dump from the main thread:\n"),
                }
            }
            let mut line = format_flow(
                &DumpedFlow {
                    ufid: verbose.then_some(f.ufid),
                    m: f.m.clone(),
                    stats: f.stats,
                    actions: f.actions.clone(),
                },
                now,
            );
            if verbose {
                if let Some(i) = line.find(", actions:") {
                    line.insert_str(i, ", dp:ovs");
                }
            }
            s.push_str(&line);
            s.push('\n');
        }
    }
    Ok(s)
}

fn memory_show(sw: &Switch) -> String {
    let ports: usize = sw.bridges.values().map(|b| b.ifaces.len()).sum();
    let flows: usize = sw
        .dp
        .flow_dump()
        .map(|d| d.iter().map(|(_, f)| f.len()).sum())
        .unwrap_or(0);
    let fdb: usize = sw.bridges.values().map(|b| b.normal.fdb_len()).sum();
    format!(
        "handlers:{} mac-table-entries:{fdb} ports:{ports} revalidators:1 udpif keys:{flows}\n",
        sw.dp.thread_stats().map(|t| t.len()).unwrap_or(0)
    )
}

/// Registers every command on `cmds`.
pub fn register(cmds: &Commands, sw: Arc<Mutex<Switch>>, exit: Arc<ExitControl>) {
    crate::openflow::register_appctl(cmds, sw.clone());
    cmds.register("version", "", 0, 0, |_| Ok(format!("{}\n", version_line())));
    {
        let exit = exit.clone();
        cmds.register("exit", "[--cleanup]", 0, 1, move |a| {
            if a.first().is_some_and(|x| x == "--cleanup") {
                exit.cleanup.store(true, Ordering::SeqCst);
            } else if let Some(x) = a.first() {
                return Err(format!("unknown option \"{x}\""));
            }
            let rx = exit.done_rx.lock().take();
            exit.exit.store(true, Ordering::SeqCst);
            if let Some(rx) = rx {
                let _ = rx.recv_timeout(Duration::from_secs(20));
            }
            Ok(String::new())
        });
    }
    cmds.register(
        "vlog/set",
        "{spec | PATTERN:destination:pattern}",
        0,
        usize::MAX,
        |a| {
            if a.is_empty() {
                vlog::set_levels_from_string("")?;
            }
            for s in a {
                vlog::set_levels_from_string(s)?;
            }
            Ok(String::new())
        },
    );
    cmds.register("vlog/list", "", 0, 0, |_| Ok(vlog::list()));
    cmds.register("vlog/reopen", "", 0, 0, |_| {
        vlog::reopen().map(|_| String::new())
    });

    let s = sw.clone();
    cmds.register("dpif/show", "", 0, 0, move |_| dpif_show(&s.lock()));
    let s = sw.clone();
    cmds.register("dpctl/show", "[-s] [dp...]", 0, usize::MAX, move |_| {
        dpctl_show(&s.lock())
    });
    let s = sw.clone();
    cmds.register(
        "dpctl/dump-flows",
        "[-m] [--names | --no-names] [dp] [filter=..] [type=..] [pmd=..]",
        0,
        usize::MAX,
        move |a| {
            let verbose = a.iter().any(|x| x == "-m" || x == "--more");
            dump_flows(&s.lock(), verbose, None)
        },
    );
    let s = sw.clone();
    cmds.register("dpctl/del-flows", "[dp]", 0, usize::MAX, move |_| {
        s.lock().dp.flow_flush().map_err(dp_err)?;
        Ok(String::new())
    });
    let s = sw.clone();
    cmds.register(
        "dpif/dump-flows",
        "[-m] [--names | --no-names] bridge",
        1,
        usize::MAX,
        move |a| {
            let verbose = a.iter().any(|x| x == "-m" || x == "--more");
            dump_flows(&s.lock(), verbose, a.last().map(String::as_str))
        },
    );
    let s = sw.clone();
    cmds.register(
        "dpif-netdev/pmd-stats-show",
        "[-pmd core] [dp]",
        0,
        3,
        move |_| s.lock().dp.pmd_stats_show().map_err(dp_err),
    );
    let s = sw.clone();
    cmds.register(
        "dpif-netdev/pmd-perf-show",
        "[-nh] [-it iter-history-len] [-ms ms-history-len] [-pmd core] [dp]",
        0,
        8,
        move |_| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            // "YYYY-MM-DDTHH:MM:SS.mmmZ" -> "HH:MM:SS.mmm", as OVS prints.
            let t = crate::vlog::format_time(ms, true);
            let hms = t.get(11..23).unwrap_or(&t);
            s.lock().dp.pmd_perf_show(hms).map_err(dp_err)
        },
    );
    let s = sw.clone();
    cmds.register(
        "dpif-netdev/pmd-stats-clear",
        "[-pmd core] [dp]",
        0,
        3,
        move |_| {
            s.lock().dp.pmd_stats_clear();
            Ok(String::new())
        },
    );
    let s = sw.clone();
    cmds.register(
        "dpif-netdev/pmd-rxq-show",
        "[-pmd core] [-secs secs] [dp]",
        0,
        5,
        move |_| s.lock().dp.pmd_rxq_show().map_err(dp_err),
    );
    let s = sw.clone();
    cmds.register("dpif-netdev/pmd-rxq-rebalance", "[dp]", 0, 1, move |_| {
        for w in s.lock().dp.rxq_rebalance() {
            vlog::info("dpif_netdev", w);
        }
        Ok("pmd rxq rebalance requested.\n".into())
    });
    crate::fdb::register(cmds, sw.clone());
    let s = sw.clone();
    cmds.register("fdb/show", "bridge", 1, 1, move |a| {
        let sw = s.lock();
        let b = sw.bridges.get(&a[0]).ok_or("no such bridge")?;
        Ok(b.normal.fdb_show())
    });
    let s = sw.clone();
    cmds.register("fdb/flush", "[bridge]", 0, 1, move |a| {
        let mut sw = s.lock();
        match a.first() {
            Some(b) => sw
                .bridges
                .get(b)
                .ok_or("no such bridge")?
                .normal
                .fdb_flush(),
            None => sw.bridges.values().for_each(|b| b.normal.fdb_flush()),
        }
        sw.revalidate();
        Ok("table successfully flushed\n".into())
    });
    let s = sw.clone();
    cmds.register("coverage/show", "", 0, 0, move |_| {
        Ok(s.lock().coverage.show())
    });
    let s = sw.clone();
    cmds.register("memory/show", "", 0, 0, move |_| Ok(memory_show(&s.lock())));
    let s = sw.clone();
    cmds.register("revalidator/wait", "", 0, 0, move |_| {
        s.lock().revalidate();
        Ok(String::new())
    });
    let s = sw.clone();
    cmds.register("revalidator/purge", "", 0, 0, move |_| {
        s.lock().dp.flow_flush().map_err(dp_err)?;
        Ok(String::new())
    });
    crate::ct::register(cmds, &sw.lock().ct.handle);
    let s = sw;
    cmds.register("dpif/show-dp-features", "bridge", 1, 1, move |a| {
        let sw = s.lock();
        sw.bridges.get(&a[0]).ok_or("no such bridge")?;
        Ok("Masked set action: Yes\nTunnel push pop: No\nUfid: Yes\nTruncate action: Yes\nClone action: Yes\nSample nesting: 10\nConntrack eventmask: No\nConntrack clear: Yes\nMax dp_hash algorithm: 1\nCheck pkt length action: Yes\nConntrack timeout policy: No\nExplicit Drop action: No\nOptimized Balance TCP mode: No\nl2 MTU truncate: No\nMax VLAN headers: 1\nMax MPLS depth: 1\nRecirc: Yes\nCT state: Yes\nCT zone: Yes\nCT mark: Yes\nCT label: Yes\nCT state NAT: Yes\nCT orig tuple: Yes\nCT orig tuple for IPv6: Yes\nIPv6 ND Extension: No\n".into())
    });
}
