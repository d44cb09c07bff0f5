//! rvs-vswitchd against the real OVS tools: ovsdb-server, ovs-vsctl,
//! ovs-appctl, and traffic between network namespaces.

mod common;

use common::*;
use std::time::Duration;

/// The `ofport` of interface `i`.
fn ofport(e: &Env, i: &str) -> String {
    e.get("interface", i, "ofport")
}

#[test]
fn vsctl_completes_and_ofports_are_numbered() {
    if !can_run("vsctl_completes_and_ofports_are_numbered") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvb");
    e.add_br(&br);
    let (d1, d2, d3) = (unique("rvd"), unique("rvd"), unique("rvd"));
    for d in [&d1, &d2] {
        e.vsctl(&[
            "add-port",
            &br,
            d,
            "--",
            "set",
            "interface",
            d,
            "type=dummy",
        ])
        .unwrap();
    }
    // cur_cfg caught up with next_cfg (ovs-vsctl waited for it).
    assert_eq!(
        e.get("open", ".", "cur_cfg"),
        e.get("open", ".", "next_cfg")
    );
    assert_eq!(ofport(&e, &br), "65534");
    assert_eq!(ofport(&e, &d1), "1");
    assert_eq!(ofport(&e, &d2), "2");
    e.vsctl(&[
        "add-port",
        &br,
        &d3,
        "--",
        "set",
        "interface",
        &d3,
        "type=dummy",
        "ofport_request=7",
    ])
    .unwrap();
    assert_eq!(ofport(&e, &d3), "7");
    e.vsctl(&["del-port", &br, &d1]).unwrap();
    let d4 = unique("rvd");
    e.vsctl(&[
        "add-port",
        &br,
        &d4,
        "--",
        "set",
        "interface",
        &d4,
        "type=dummy",
    ])
    .unwrap();
    assert_eq!(ofport(&e, &d4), "1", "lowest free number is reused");

    assert_eq!(e.get("open", ".", "datapath_types"), "[netdev]");
    assert!(e.get("open", ".", "iface_types").contains("afxdp"));
    assert_eq!(e.get("open", ".", "ovs_version"), "\"3.1.0\"");
    assert_eq!(e.get("open", ".", "dpdk_initialized"), "false");
    assert_eq!(e.get("bridge", &br, "datapath_id").len(), 18);
    assert_eq!(e.get("interface", &d2, "link_state"), "up");
    assert!(e
        .get("interface", &d2, "statistics")
        .contains("rx_packets=0"));

    // appctl basics.
    assert!(e
        .appctl(&["version"])
        .unwrap()
        .starts_with("ovs-vswitchd (Open vSwitch) 3.1.0"));
    let cmds = e.appctl(&["list-commands"]).unwrap();
    for c in [
        "dpctl/dump-flows",
        "dpif-netdev/pmd-stats-show",
        "fdb/show",
        "vlog/set",
        "exit",
        "revalidator/purge",
    ] {
        assert!(cmds.contains(c), "{c} missing from {cmds}");
    }
    let err = e.appctl(&["no/such"]).unwrap_err();
    assert!(err.contains("\"no/such\" is not a valid command"), "{err}");
    let show = e.appctl(&["dpctl/show"]).unwrap();
    assert!(
        show.starts_with("netdev@ovs-netdev:\n  lookups: hit:"),
        "{show}"
    );
    assert!(show.contains("  port 0: ovs-netdev (tap)\n"), "{show}");
    assert!(show.contains(&format!(": {br} (tap)\n")), "{show}");
    assert!(show.contains(&format!(": {d2} (dummy)\n")), "{show}");
    let dpif = e.appctl(&["dpif/show"]).unwrap();
    assert!(dpif.contains(&format!("  {br}:\n")), "{dpif}");
    assert!(dpif.contains(&format!("    {d3} 7/")), "{dpif}");

    // vlog.
    let l = e.appctl(&["vlog/list"]).unwrap();
    assert!(l.starts_with("                 console    syslog    file\n"));
    assert!(
        l.contains("\nbridge             off       info       info\n"),
        "{l}"
    );
    e.appctl(&["vlog/set", "bridge:file:dbg"]).unwrap();
    assert!(e
        .appctl(&["vlog/list"])
        .unwrap()
        .contains("\nbridge             off       info        dbg\n"));
    assert!(e.appctl(&["vlog/set", "nonsense"]).is_err());
    e.appctl(&["vlog/reopen"]).unwrap();

    // pmd-stats-show / pmd-rxq-show parse like OVS's.
    let st = e.appctl(&["dpif-netdev/pmd-stats-show"]).unwrap();
    assert!(st.contains("pmd thread numa_id "), "{st}");
    assert!(st.contains("main thread:\n"), "{st}");
    for line in st.lines().filter(|l| l.starts_with("  ")) {
        let (k, v) = line.trim().split_once(':').expect("key: value");
        assert!(!k.is_empty());
        let first = v.split_whitespace().next().unwrap();
        assert!(first.parse::<f64>().is_ok(), "{line}");
    }
    let rxq = e.appctl(&["dpif-netdev/pmd-rxq-show"]).unwrap();
    assert!(rxq.contains("  isolated : "), "{rxq}");
    assert!(rxq.contains(&format!("  port: {d2}")), "{rxq}");
    assert!(rxq.contains("queue-id:  0 (enabled)   pmd usage:"), "{rxq}");
    e.appctl(&["dpif-netdev/pmd-stats-clear"]).unwrap();
    assert!(e
        .appctl(&["coverage/show"])
        .unwrap()
        .starts_with("Event coverage"));
    assert!(e.appctl(&["memory/show"]).unwrap().contains("ports:"));
    assert!(e
        .appctl(&["fdb/show", "nosuchbr"])
        .unwrap_err()
        .starts_with("no such bridge"));

    // A clean run logs no warnings or errors.
    let log = e.log();
    assert!(!log.contains("|WARN|") && !log.contains("|ERR|"), "{log}");
    assert!(log.contains(&format!("bridge {br}: added interface {d2} on port 2")));
}

fn two_hosts(e: &mut Env, kind: &str) -> (String, Ns, Ns) {
    let br = unique("rvb");
    e.add_br(&br);
    let a = Ns::new("10.77.0.1");
    let b = Ns::new("10.77.0.2");
    for n in [&a, &b] {
        e.vsctl(&[
            "add-port",
            &br,
            &n.host,
            "--",
            "set",
            "interface",
            &n.host,
            &format!("type={kind}"),
        ])
        .unwrap();
        assert_eq!(e.get("interface", &n.host, "error"), "[]");
    }
    (br, a, b)
}

fn ping_through(kind: &str) {
    let _g = traffic_lock();
    let mut e = Env::new();
    let (br, a, b) = two_hosts(&mut e, kind);
    assert!(
        a.ping(&b.ip, 20),
        "ping over {kind} ports failed\n{}",
        e.log()
    );
    b.exec(&["ping", "-c", "3", "-i", "0.2", &a.ip]).unwrap();
    // MAC learning: both namespace MACs in the table, on their ports.
    let fdb = e.appctl(&["fdb/show", &br]).unwrap();
    assert!(
        fdb.starts_with(" port  VLAN  MAC                Age\n"),
        "{fdb}"
    );
    let pa = ofport(&e, &a.host);
    let la = fdb
        .lines()
        .find(|l| l.contains(&a.mac()))
        .expect("A learned");
    assert_eq!(la.split_whitespace().next(), Some(pa.as_str()), "{fdb}");
    assert!(fdb.contains(&b.mac()), "{fdb}");
    // Megaflows between them, in OVS's dump-flows format.
    b.exec(&["ping", "-c", "2", "-i", "0.2", &a.ip]).unwrap();
    let flows = e.appctl(&["dpctl/dump-flows"]).unwrap();
    assert!(
        flows.contains("flow-dump from pmd on cpu core: ")
            || flows.contains("flow-dump from the main thread:"),
        "{flows}"
    );
    assert!(
        flows.contains(&format!("eth(src={},dst={})", b.mac(), a.mac())),
        "{flows}"
    );
    assert!(
        flows.contains("packets:") && flows.contains(", actions:"),
        "{flows}"
    );
    let m = e.appctl(&["dpctl/dump-flows", "-m"]).unwrap();
    assert!(
        m.contains("ufid:") && m.contains(", dp:ovs, actions:"),
        "{m}"
    );
    let bf = e.appctl(&["dpif/dump-flows", &br]).unwrap();
    assert!(bf.contains(", actions:"), "{bf}");
    // fdb/flush empties the table and the revalidator removes the flows.
    assert_eq!(
        e.appctl(&["fdb/flush", &br]).unwrap().trim(),
        "table successfully flushed"
    );
    e.appctl(&["revalidator/wait"]).unwrap();
    let flows = e.appctl(&["dpctl/dump-flows"]).unwrap();
    assert!(!flows.contains(&format!("dst={}", a.mac())), "{flows}");
    // Statistics reach the database within the 5 s refresh.
    let h = a.host.clone();
    assert!(wait_for(12, || {
        let s = e.get("interface", &h, "statistics");
        (!s.contains("rx_packets=0,") && s.contains("rx_packets=")).then_some(())
    })
    .is_some());
    // Idle megaflows expire after max-idle.
    b.exec(&["ping", "-c", "2", "-i", "0.2", &a.ip]).unwrap();
    assert!(e
        .appctl(&["dpctl/dump-flows"])
        .unwrap()
        .contains("actions:"));
    e.vsctl(&["set", "open", ".", "other_config:max-idle=500"])
        .unwrap();
    assert!(
        wait_for(10, || (!e
            .appctl(&["dpctl/dump-flows"])
            .unwrap()
            .contains("actions:"))
        .then_some(()))
        .is_some(),
        "idle flows not expired"
    );
    let log = e.log();
    assert!(!log.contains("|WARN|") && !log.contains("|ERR|"), "{log}");
}

#[test]
fn ping_over_afxdp_ports() {
    if can_run("ping_over_afxdp_ports") {
        ping_through("afxdp");
    }
}

#[test]
fn ping_over_system_ports() {
    if can_run("ping_over_system_ports") {
        ping_through("system");
    }
}

#[test]
fn tcp_transfer_every_byte_checked() {
    if !can_run("tcp_transfer_every_byte_checked") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let (_br, a, b) = two_hosts(&mut e, "afxdp");
    assert!(a.ping(&b.ip, 20), "{}", e.log());
    tcp_transfer_checked(&a, &b, 4 << 20);
}

#[test]
fn bad_interface_gets_error_and_others_keep_forwarding() {
    if !can_run("bad_interface_gets_error_and_others_keep_forwarding") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let (br, a, b) = two_hosts(&mut e, "afxdp");
    let missing = unique("rvm");
    // ovs-vsctl reports the error but the transaction completes.
    let _ = e.vsctl(&["add-port", &br, &missing]);
    assert_eq!(ofport(&e, &missing), "-1");
    let err = e.get("interface", &missing, "error");
    assert!(err.contains("No such device"), "{err}");
    assert!(a.ping(&b.ip, 20), "{}", e.log());

    // Unknown and unsupported types.
    let g = unique("rvg");
    let _ = e.vsctl(&[
        "add-port",
        &br,
        &g,
        "--",
        "set",
        "interface",
        &g,
        "type=geneve",
    ]);
    assert!(e
        .get("interface", &g, "error")
        .contains("unknown interface type"));
    let p = unique("rvq");
    let _ = e.vsctl(&[
        "add-port",
        &br,
        &p,
        "--",
        "set",
        "interface",
        &p,
        "type=patch",
    ]);
    assert!(e
        .get("interface", &p, "error")
        .contains("patch type requires valid 'peer' argument"));
    assert_eq!(ofport(&e, &p), "-1");

    // An invalid option on an otherwise good device.
    let c = Ns::new("10.77.0.3");
    let _ = e.vsctl(&[
        "add-port",
        &br,
        &c.host,
        "--",
        "set",
        "interface",
        &c.host,
        "type=afxdp",
        "options:xdp-mode=bogus",
    ]);
    assert_eq!(ofport(&e, &c.host), "-1");
    assert!(e.get("interface", &c.host, "error").contains("xdp-mode"));
    b.exec(&["ping", "-c", "2", "-i", "0.2", &a.ip]).unwrap();

    // A bridge of datapath type system: error in Bridge status and log.
    let sb = unique("rvs");
    let _ = e.vsctl(&["add-br", &sb]);
    assert!(e.get("bridge", &sb, "status").contains("not supported"));
    assert_eq!(ofport(&e, &sb), "-1");
    assert!(e
        .log()
        .contains(&format!("bridge {sb}: failed to create datapath")));
}

#[test]
fn malformed_other_config_is_logged_rest_applies() {
    if !can_run("malformed_other_config_is_logged_rest_applies") {
        return;
    }
    let mut e = Env::new();
    e.vsctl(&[
        "set",
        "open",
        ".",
        "other_config:pmd-cpu-mask=0xZZ",
        "other_config:max-idle=soon",
        "other_config:emc-insert-inv-prob=-5",
        "other_config:smc-enable=true",
    ])
    .unwrap();
    let log = e.log();
    for k in ["pmd-cpu-mask", "max-idle", "emc-insert-inv-prob"] {
        assert!(
            log.lines().any(|l| l.contains("|WARN|") && l.contains(k)),
            "{k} not warned: {log}"
        );
    }
    // Still configurable afterwards.
    let br = unique("rvb");
    e.add_br(&br);
    assert_eq!(ofport(&e, &br), "65534");
}

#[test]
fn survives_ovsdb_server_restart() {
    if !can_run("survives_ovsdb_server_restart") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let (br, a, b) = two_hosts(&mut e, "afxdp");
    assert!(a.ping(&b.ip, 20));
    e.stop_ovsdb();
    // Forwarding goes on with the installed configuration.
    a.exec(&["ping", "-c", "3", "-i", "0.2", &b.ip]).unwrap();
    e.start_ovsdb();
    // Reconnected and resynced: a new change is applied (cur_cfg catches up).
    let d = unique("rvd");
    e.vsctl(&[
        "add-port",
        &br,
        &d,
        "--",
        "set",
        "interface",
        &d,
        "type=dummy",
    ])
    .unwrap();
    assert_eq!(ofport(&e, &d), "3");
    assert_eq!(ofport(&e, &a.host), "1");
    b.exec(&["ping", "-c", "2", "-i", "0.2", &a.ip]).unwrap();
    assert!(e.log().contains("connection dropped"));
}

#[test]
fn exit_cleans_up() {
    if !can_run("exit_cleans_up") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let (_br, a, b) = two_hosts(&mut e, "afxdp");
    assert!(a.ping(&b.ip, 20));
    let pid = e.pid().expect("pidfile");
    let ctl = e.dir.join(format!("ovs-vswitchd.{pid}.ctl"));
    assert!(ctl.exists());
    let xdp = |dev: &str| sh(&["ip", "link", "show", dev]).contains("xdp");
    assert!(xdp(&a.host), "an XDP program is attached while running");
    e.appctl(&["exit", "--cleanup"]).unwrap();
    let st = wait_for(20, || {
        e.vswitchd_child().and_then(|c| c.try_wait().ok().flatten())
    })
    .expect("daemon exited");
    assert!(st.success());
    assert!(!e.pidfile().exists());
    assert!(!ctl.exists());
    assert!(!xdp(&a.host) && !xdp(&b.host), "XDP programs detached");
}

#[test]
fn sigterm_cleans_up() {
    if !can_run("sigterm_cleans_up") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvb");
    e.add_br(&br);
    let pid = e.pid().unwrap();
    sh(&["kill", "-TERM", &pid.to_string()]);
    let st = wait_for(20, || {
        e.vswitchd_child().and_then(|c| c.try_wait().ok().flatten())
    })
    .expect("daemon exited");
    assert!(st.success());
    assert!(!e.pidfile().exists());
}

#[test]
fn detach_returns_after_configuration() {
    if !can_run("detach_returns_after_configuration") {
        return;
    }
    let mut e = Env::new_db_only();
    let br = unique("rvb");
    e.bridges.push(br.clone());
    e.vsctl(&[
        "--no-wait",
        "add-br",
        &br,
        "--",
        "set",
        "bridge",
        &br,
        "datapath_type=netdev",
    ])
    .unwrap();
    e.vsctl(&[
        "--no-wait",
        "set",
        "open",
        ".",
        "other_config:pmd-maxsleep=200",
    ])
    .unwrap();
    let (ok, took) = e.start_detached();
    assert!(ok, "{}", e.log());
    assert!(took < Duration::from_secs(20));
    // Configuration was applied before the parent returned.
    assert_eq!(
        e.get("open", ".", "cur_cfg"),
        e.get("open", ".", "next_cfg")
    );
    assert_eq!(ofport(&e, &br), "65534");
    let pid = e.pid().expect("pidfile written by the daemon");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // ovs-appctl finds it through the locked pidfile.
    assert!(e.appctl(&["version"]).is_ok());
    e.appctl(&["exit"]).unwrap();
    assert!(wait_for(10, || (!e.pidfile().exists()).then_some(())).is_some());
}
