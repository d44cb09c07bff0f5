//! # vswitchd: `rvs-vswitchd`, the switch daemon
//!
//! Runs in place of `ovs-vswitchd` with the userspace datapath: reads its
//! configuration from the `Open_vSwitch` database served by OVS's own
//! `ovsdb-server` (so `ovs-vsctl` configures it), answers `ovs-appctl` on
//! its control socket, and forwards traffic through one [`pmd::Datapath`]
//! shared by every `datapath_type=netdev` bridge.
//!
//! ## Threads
//!
//! * **main (control)**: owns the [`ovsdb::IdlDriver`]; on every change of
//!   the replica it reconfigures the [`bridge::Switch`] and writes status
//!   back (`cur_cfg`, `ofport`, `error`, ...); every 100 ms it runs the
//!   connection managers (fail-open) and writes `Controller` status that
//!   changed; every 5 s it writes interface statistics.
//! * **OpenFlow** ([`connmgr`], [`ofconn`]): per bridge, listener threads
//!   (`<bridge>.mgmt`, `ptcp:`/`punix:` controllers), one reconnecting
//!   thread per active controller, one thread per connection.
//! * **revalidator**: ages MAC tables and deletes megaflows that are idle
//!   longer than `max-idle` or whose translation changed.
//! * **unixctl**: one thread per `ovs-appctl` connection.
//! * **signals**: waits for SIGTERM/SIGINT (clean exit) and SIGHUP (log
//!   reopen).
//! * the datapath's PMD and non-PMD threads (see the `pmd` crate).
//!
//! The [`bridge::Switch`] is shared behind one mutex; the datapath threads
//! never take it (misses go to [`ofproto::Dispatcher`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod appctl;
pub mod bridge;
pub mod cli;
pub mod connmgr;
pub mod ct;
pub mod daemon;
pub mod dpdk;
pub mod fdb;
pub mod ofasync;
pub mod ofconn;
pub mod ofproto;
pub mod openflow;
pub mod patch;
pub mod unixctl;
pub mod vlog;

use ovsdb::{IdlConfig, IdlDriver, IdlEvent};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the daemon with the process's arguments; returns the exit status.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match cli::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rvs-vswitchd: {e}");
            return 1;
        }
    };
    if opts.help {
        print!("{}", cli::USAGE);
        return 0;
    }
    if opts.version {
        println!("{}", appctl::version_line());
        return 0;
    }
    if opts.detach && std::env::var_os(daemon::DETACHED_ENV).is_none() {
        return daemon::detach();
    }
    let mut ready = daemon::Readiness::from_env();
    match run(&opts, &mut ready) {
        Ok(()) => 0,
        Err(e) => {
            vlog::emer("vswitchd", &e);
            eprintln!("rvs-vswitchd: {e}");
            if let Some(r) = ready.as_mut() {
                r.fail(&e);
            }
            1
        }
    }
}

fn run(opts: &cli::Options, ready: &mut Option<daemon::Readiness>) -> Result<(), String> {
    let exit = Arc::new(AtomicBool::new(false));
    daemon::handle_signals(exit.clone()).map_err(|e| format!("signal setup failed ({e})"))?;
    for v in &opts.verbose {
        vlog::set_levels_from_string(v).map_err(|e| format!("processing \"{v}\": {e}"))?;
    }
    if let Some(f) = &opts.log_file {
        vlog::set_log_file(f.clone())
            .map_err(|e| format!("{}: failed to open log file ({e})", f.display()))?;
    }
    let pidfile = match &opts.pidfile {
        Some(p) => Some(daemon::Pidfile::create(p)?),
        None => None,
    };
    if ready.is_some() && !opts.no_chdir {
        let _ = std::env::set_current_dir("/");
    }
    vlog::info(
        "vswitchd",
        format!(
            "{} starting, database {}",
            appctl::version_line(),
            opts.database
        ),
    );

    let switch = Arc::new(Mutex::new(bridge::Switch::new()));
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(4);
    let exit_ctl = Arc::new(appctl::ExitControl {
        exit: exit.clone(),
        cleanup: AtomicBool::new(false),
        done_rx: Mutex::new(Some(done_rx)),
    });
    let cmds = unixctl::Commands::new();
    appctl::register(&cmds, switch.clone(), exit_ctl.clone());
    let ctl_path = opts
        .unixctl
        .clone()
        .unwrap_or_else(|| cli::rundir().join(format!("ovs-vswitchd.{}.ctl", std::process::id())));
    let server = unixctl::Server::start(&ctl_path, cmds).map_err(|e| {
        format!(
            "{}: could not initialize control socket ({e})",
            ctl_path.display()
        )
    })?;

    // Revalidator.
    let reval = {
        let sw = switch.clone();
        let exit = exit.clone();
        std::thread::Builder::new()
            .name("revalidator".into())
            .spawn(move || {
                let mut last_gen = 0u64;
                let mut last_run = Instant::now();
                while !exit.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                    let mut s = sw.lock();
                    let gen: u64 = s.bridges.values().map(|b| b.normal.generation()).sum();
                    if gen != last_gen || last_run.elapsed() >= Duration::from_millis(500) {
                        s.revalidate();
                        last_gen = s.bridges.values().map(|b| b.normal.generation()).sum();
                        last_run = Instant::now();
                    }
                }
            })
            .map_err(|e| format!("cannot start revalidator ({e})"))?
    };

    let mut idl_cfg = IdlConfig::vswitch();
    idl_cfg.tables.extend(
        ct::MONITORED_TABLES
            .iter()
            .map(|t| ovsdb::TableSelect::all(t)),
    );
    let mut driver = IdlDriver::new(&opts.database, idl_cfg);
    vlog::info("reconnect", format!("{}: connecting...", opts.database));
    let mut connected = false;
    let mut applied: Option<u64> = None;
    let mut last_stats = Instant::now();
    let mut first_done = false;
    while !exit.load(Ordering::SeqCst) {
        driver.run(Duration::from_millis(100));
        while let Some(ev) = driver.poll_event() {
            if let IdlEvent::Disconnected = ev {
                applied = None;
                switch.lock().controller_status_lost();
            }
        }
        if driver.is_connected() != connected {
            connected = driver.is_connected();
            if connected {
                vlog::info("reconnect", format!("{}: connected", opts.database));
            } else {
                let why = driver
                    .last_error()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "connection closed".into());
                vlog::info(
                    "reconnect",
                    format!("{}: connection dropped ({why})", opts.database),
                );
                applied = None;
            }
        }
        if !driver.idl().is_synced() {
            continue;
        }
        let seqno = driver.idl().change_seqno();
        if applied != Some(seqno) {
            let txn = {
                let mut sw = switch.lock();
                let t = sw.reconfigure(driver.idl().replica());
                t.map(|mut t| {
                    sw.iface_status(&mut t, false);
                    t
                })
            };
            applied = Some(seqno);
            if let Some(t) = txn {
                let ok = t.is_empty()
                    || match driver.transact(&t.build(), Duration::from_secs(5)) {
                        Ok(_) => true,
                        Err(e) => {
                            vlog::info("bridge", format!("status update failed ({e}), retrying"));
                            false
                        }
                    };
                if !ok {
                    applied = None;
                } else if !first_done {
                    first_done = true;
                    if let Some(r) = ready.as_mut() {
                        r.ready();
                    }
                }
            }
        }
        let stats_due = last_stats.elapsed() >= bridge::STATS_INTERVAL;
        {
            // Controllers: fail-open, and status when it changes.
            let mut t = ovsdb::vswitch::StatusTxn::new();
            switch
                .lock()
                .controller_status(driver.idl().replica(), &mut t, stats_due);
            if !t.is_empty() {
                if let Err(e) = driver.transact(&t.build(), Duration::from_secs(5)) {
                    vlog::dbg("bridge", format!("controller status update failed ({e})"));
                    switch.lock().controller_status_lost();
                }
            }
        }
        if stats_due {
            last_stats = Instant::now();
            let mut t = ovsdb::vswitch::StatusTxn::new();
            {
                let mut sw = switch.lock();
                sw.iface_status(&mut t, true);
                sw.coverage.sample();
            }
            if !t.is_empty() {
                if let Err(e) = driver.transact(&t.build(), Duration::from_secs(5)) {
                    vlog::dbg("bridge", format!("statistics update failed ({e})"));
                }
            }
        }
    }

    // Clean exit: stop the datapath (PMDs stop, XDP programs detach when the
    // netdevs drop), remove the pidfile, answer `exit`, remove the socket.
    vlog::info("vswitchd", "exiting");
    let _ = reval.join();
    {
        let mut sw = switch.lock();
        let names: Vec<String> = sw.bridges.keys().cloned().collect();
        for n in names {
            let ifaces: Vec<u32> = sw.bridges[&n].ifaces.values().map(|i| i.odp_port).collect();
            for p in ifaces {
                sw.dispatcher.remove_port(p);
                let _ = sw.dp.del_port(p);
            }
            sw.bridges.remove(&n);
        }
    }
    drop(switch);
    drop(pidfile);
    drop(server);
    let _ = done_tx.send(());
    std::thread::sleep(Duration::from_millis(100));
    Ok(())
}
