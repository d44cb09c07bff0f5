//! OpenFlow groups and meters, driven only by the real tools (`ovs-vsctl`,
//! `ovs-ofctl -O OpenFlow13 add-group/add-meter/dump-*`) with UDP traffic
//! between namespaces: a `select` group spreads flows over two ports, an
//! `all` group duplicates, a meter drops a flood down to about its rate.

mod common;

use common::{can_run, traffic_lock, Env, Ns};
use std::time::{Duration, Instant};

fn of13(e: &Env, args: &[&str]) -> String {
    let mut a = vec!["-O", "OpenFlow13"];
    a.extend_from_slice(args);
    e.ofctl(&a)
        .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
}

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rvg")
}

fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

/// Frames received by the namespace side of `ns`.
fn rx(ns: &Ns) -> u64 {
    ns.exec(&[
        "cat",
        &format!("/sys/class/net/{}/statistics/rx_packets", ns.peer),
    ])
    .unwrap()
    .trim()
    .parse()
    .unwrap()
}

/// Sends `n` UDP datagrams from `ns` to `dst:9` (a static neighbour, so no
/// ARP), from source ports `base..base+n` (`vary`) or all from `base`,
/// optionally for at least `secs` seconds (flood mode repeats).
fn udp(ns: &Ns, dst: &str, n: u32, base: u32, vary: bool, secs: f64) {
    let script = format!(
        "import socket,time\n\
         t=time.time()\n\
         socks={{}}\n\
         while True:\n\
         \x20   for i in range({n}):\n\
         \x20       p={base}+(i if {vary} else 0)\n\
         \x20       s=socks.get(p)\n\
         \x20       if s is None:\n\
         \x20           s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         \x20           s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         \x20           s.bind(('',p)); socks[p]=s\n\
         \x20       s.sendto(b'x'*64,('{dst}',9))\n\
         \x20   if time.time()-t>={secs}: break\n",
        vary = if vary { "True" } else { "False" }
    );
    ns.exec(&["python3", "-c", &script]).unwrap();
}

fn static_neigh(ns: &Ns, ip: &str) {
    ns.exec(&[
        "ip",
        "neigh",
        "replace",
        ip,
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        &ns.peer,
    ])
    .unwrap();
}

#[test]
fn select_group_spreads_flows_and_all_group_duplicates() {
    if !can_run("select_group_spreads_flows_and_all_group_duplicates") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.83.0.1");
    let b = Ns::new("10.83.0.2");
    let c = Ns::new("10.83.0.3");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    port(&e, &br, &c, 3);
    static_neigh(&a, "10.83.0.99");
    of13(&e, &["del-flows", &br]);
    of13(
        &e,
        &[
            "add-group",
            &br,
            "group_id=1,type=select,bucket=output:2,bucket=output:3",
        ],
    );
    of13(
        &e,
        &[
            "add-group",
            &br,
            "group_id=2,type=all,bucket=output:2,bucket=output:3",
        ],
    );
    // Errors come back as the spec says.
    let err = e
        .ofctl(&[
            "-O",
            "OpenFlow13",
            "add-group",
            &br,
            "group_id=1,type=all,bucket=output:2",
        ])
        .unwrap_err();
    assert!(err.contains("OFPGMFC_GROUP_EXISTS"), "{err}");
    let groups = of13(&e, &["dump-groups", &br]);
    assert!(
        groups.contains("group_id=1,type=select,bucket=")
            && groups.contains("actions=output:3")
            && groups.contains("group_id=2,type=all,"),
        "{groups}"
    );
    of13(&e, &["add-flow", &br, "in_port=1,udp,actions=group:1"]);
    // 200 flows (source ports) over the select group: both ports get some.
    let (b0, c0) = (rx(&b), rx(&c));
    udp(&a, "10.83.0.99", 200, 20000, true, 0.0);
    std::thread::sleep(Duration::from_millis(500));
    let (db, dc) = (rx(&b) - b0, rx(&c) - c0);
    assert!(
        db > 20 && dc > 20 && db + dc >= 180,
        "select spread b={db} c={dc}\n{}\n{}",
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default(),
        e.log()
    );
    // Each flow sticks to one bucket: resending the same 200 flows moves
    // the same counts.
    let (b1, c1) = (rx(&b), rx(&c));
    udp(&a, "10.83.0.99", 200, 20000, true, 0.0);
    std::thread::sleep(Duration::from_millis(500));
    let (eb, ec) = (rx(&b) - b1, rx(&c) - c1);
    assert!(
        eb.abs_diff(db) <= 5 && ec.abs_diff(dc) <= 5,
        "{db}/{dc} then {eb}/{ec}"
    );
    // The datapath hashes and recirculates.
    let dp = e.appctl(&["dpctl/dump-flows"]).unwrap_or_default();
    assert!(dp.contains("hash(") && dp.contains("recirc("), "{dp}");
    // Group statistics come from the megaflows.
    std::thread::sleep(Duration::from_millis(1500));
    let st = of13(&e, &["dump-group-stats", &br]);
    let line = st
        .lines()
        .find(|l| l.contains("group_id=1"))
        .unwrap_or_else(|| panic!("{st}"));
    assert!(!line.contains("packet_count=0,"), "{st}");
    // The all group: every datagram reaches both ports.
    of13(&e, &["mod-flows", &br, "in_port=1,udp,actions=group:2"]);
    std::thread::sleep(Duration::from_millis(300));
    let (b2, c2) = (rx(&b), rx(&c));
    udp(&a, "10.83.0.99", 50, 30000, true, 0.0);
    std::thread::sleep(Duration::from_millis(500));
    let (fb, fc) = (rx(&b) - b2, rx(&c) - c2);
    assert!(fb >= 50 && fc >= 50, "all group b={fb} c={fc}");
    // Deleting a group deletes the flows that use it.
    of13(&e, &["del-groups", &br, "group_id=2"]);
    let flows = of13(&e, &["dump-flows", &br]);
    assert!(!flows.contains("group:2"), "{flows}");
    let groups = of13(&e, &["dump-groups", &br]);
    assert!(!groups.contains("group_id=2"), "{groups}");
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}

#[test]
fn meter_drops_a_flood_down_to_its_rate() {
    if !can_run("meter_drops_a_flood_down_to_its_rate") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.84.0.1");
    let b = Ns::new("10.84.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    static_neigh(&a, "10.84.0.99");
    of13(&e, &["del-flows", &br]);
    of13(
        &e,
        &[
            "add-meter",
            &br,
            "meter=1,pktps,burst,band=type=drop,rate=100,burst_size=20",
        ],
    );
    let m = of13(&e, &["dump-meters", &br]);
    assert!(
        m.contains("meter=1") && m.contains("pktps") && m.contains("rate=100"),
        "{m}"
    );
    of13(
        &e,
        &["add-flow", &br, "in_port=1,udp,actions=meter:1,output:2"],
    );
    let b0 = rx(&b);
    let t = Instant::now();
    udp(&a, "10.84.0.99", 500, 40000, false, 2.0);
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let got = rx(&b) - b0;
    let limit = (2.0 * 100.0 * secs) as u64 + 20;
    assert!(
        got > 0 && got <= limit,
        "received {got} in {secs:.1}s (limit {limit})\n{}",
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    let st = of13(&e, &["meter-stats", &br]);
    assert!(
        st.contains("meter:1") && !st.contains("packet_in_count:0 "),
        "{st}"
    );
    assert!(st.contains("flow_count:1"), "{st}");
    // Without the meter the flood gets through.
    of13(&e, &["mod-flows", &br, "in_port=1,udp,actions=output:2"]);
    std::thread::sleep(Duration::from_millis(300));
    let b1 = rx(&b);
    udp(&a, "10.84.0.99", 500, 40000, false, 0.0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx(&b) - b1 >= 400, "unmetered");
    // Deleting the meter.
    of13(&e, &["del-meters", &br]);
    assert!(!of13(&e, &["dump-meters", &br]).contains("meter=1"));
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}

/// `ovs-ofctl ARGS` running in the background with its output in a file;
/// killed (by its own handle) on drop.
struct Bg(std::process::Child, std::path::PathBuf);

impl Bg {
    fn start(e: &Env, name: &str, args: &[&str]) -> Bg {
        let path = e.dir.join(format!("{name}.out"));
        let f = std::fs::File::create(&path).unwrap();
        let child = std::process::Command::new("ovs-ofctl")
            .env("OVS_RUNDIR", &e.dir)
            .args(args)
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        Bg(child, path)
    }

    fn out(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }

    fn wait_for(&self, what: &str) -> bool {
        common::wait_for(10, || self.out().contains(what).then_some(())).is_some()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn monitor_receives_packet_in_flow_removed_and_port_status() {
    if !can_run("monitor_receives_packet_in_flow_removed_and_port_status") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.85.0.1");
    let b = Ns::new("10.85.0.2");
    port(&e, &br, &a, 1);
    static_neigh(&a, "10.85.0.99");
    of13(&e, &["del-flows", &br]);
    of13(&e, &["add-flow", &br, "in_port=1,udp,actions=controller"]);
    let m10 = Bg::start(&e, "m10", &["monitor", &br, "65534", "-P", "nxt_packet_in"]);
    let m13 = Bg::start(
        &e,
        "m13",
        &[
            "-O",
            "OpenFlow13",
            "monitor",
            &br,
            "65534",
            "-P",
            "standard",
        ],
    );
    // A monitor without miss_send_len gets nothing (service connection).
    let quiet = Bg::start(&e, "quiet", &["-O", "OpenFlow13", "monitor", &br]);
    std::thread::sleep(Duration::from_millis(1500));
    udp(&a, "10.85.0.99", 3, 41000, true, 0.0);
    assert!(
        m10.wait_for("NXT_PACKET_IN2") && m10.out().contains("in_port=1"),
        "{}\n{}",
        m10.out(),
        e.log()
    );
    assert!(
        m13.wait_for("OFPT_PACKET_IN (OF1.3)") && m13.out().contains("in_port=1"),
        "{}",
        m13.out()
    );
    assert!(m13.out().contains("udp"), "{}", m13.out());
    // FLOW_REMOVED for a send_flow_rem flow deleted by del-flows.
    of13(
        &e,
        &[
            "add-flow",
            &br,
            "priority=5,in_port=2,send_flow_rem,actions=drop",
        ],
    );
    of13(&e, &["--strict", "del-flows", &br, "priority=5,in_port=2"]);
    assert!(
        m13.wait_for("OFPT_FLOW_REMOVED") && m13.out().contains("reason=delete"),
        "{}",
        m13.out()
    );
    // ... and for one that idles out.
    of13(
        &e,
        &[
            "add-flow",
            &br,
            "priority=6,in_port=2,idle_timeout=1,send_flow_rem,actions=drop",
        ],
    );
    assert!(m13.wait_for("reason=idle"), "{}", m13.out());
    // PORT_STATUS when a port is added and deleted.
    port(&e, &br, &b, 2);
    assert!(
        m13.wait_for("OFPT_PORT_STATUS") && m13.out().contains("ADD:"),
        "{}",
        m13.out()
    );
    e.vsctl(&["del-port", &br, &b.host]).unwrap();
    assert!(m13.wait_for(" DEL: "), "{}", m13.out());
    assert!(
        !quiet.out().contains("PACKET_IN") && !quiet.out().contains("PORT_STATUS"),
        "{}",
        quiet.out()
    );
}
