//! The bridge as an OpenFlow switch, driven only by the real tools:
//! `ovs-vsctl` creates bridges and ports, `ovs-ofctl` programs flows over
//! `$OVS_RUNDIR/<bridge>.mgmt` (OpenFlow 1.0 + NXM, 1.3, 1.4, 1.5, bundles),
//! `ovs-appctl` traces, and traffic between namespaces checks the datapath
//! follows the tables (and revalidates when they change).

mod common;

use common::{can_run, traffic_lock, unique, Env, Ns};

/// `ovs-ofctl ARGS` against the test's run directory.
fn ofctl(e: &Env, args: &[&str]) -> Result<String, String> {
    e.ofctl(args)
}

/// `dump-flows` output without the reply header, the volatile fields
/// (duration, counters, ages) and the defaults `cookie=0x0`, `table=0`, one
/// flow per line, sorted.
fn flows(e: &Env, br: &str, proto: Option<&str>) -> Vec<String> {
    let mut args = vec![];
    if let Some(p) = proto {
        args.push("-O");
        args.push(p);
    }
    args.extend_from_slice(&["dump-flows", br]);
    let out = ofctl(e, &args).unwrap();
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.contains("reply") && !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .split(", ")
                .filter(|p| {
                    ![
                        "duration=",
                        "n_packets=",
                        "n_bytes=",
                        "idle_age=",
                        "hard_age=",
                    ]
                    .iter()
                    .any(|k| p.starts_with(k))
                        && *p != "cookie=0x0"
                        && *p != "table=0"
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rvo")
}

#[test]
fn flow_table_crud_over_every_version() {
    if !can_run("flow_table_crud_over_every_version") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    // The default flow of a bridge without controller.
    assert_eq!(flows(&e, &br, None), sorted(&["priority=0 actions=NORMAL"]));
    ofctl(&e, &["del-flows", &br]).unwrap();
    assert!(flows(&e, &br, None).is_empty());
    for proto in [
        None,
        Some("OpenFlow13"),
        Some("OpenFlow14"),
        Some("OpenFlow15"),
    ] {
        let mut pre: Vec<&str> = Vec::new();
        if let Some(p) = proto {
            pre.extend_from_slice(&["-O", p]);
        }
        let run = |args: &[&str]| {
            let mut a = pre.clone();
            a.extend_from_slice(args);
            ofctl(&e, &a).unwrap()
        };
        run(&["add-flow", &br, "in_port=1,actions=output:2"]);
        run(&[
            "add-flow",
            &br,
            "priority=200,ip,nw_dst=10.0.0.0/24,actions=drop",
        ]);
        run(&[
            "add-flow",
            &br,
            "table=1,cookie=0x5,priority=7,tcp,tp_dst=80,actions=mod_dl_dst:02:00:00:00:00:09,resubmit(,2)",
        ]);
        run(&["add-flow", &br, "table=2,reg0=0x7,actions=NORMAL"]);
        let expect_of = |v13: bool| {
            let goto = if v13 { "goto_table:1" } else { "resubmit(,1)" };
            let _ = goto;
            sorted(&[
                "in_port=1 actions=output:2",
                "priority=200,ip,nw_dst=10.0.0.0/24 actions=drop",
                "cookie=0x5, table=1, priority=7,tcp,tp_dst=80 actions=mod_dl_dst:02:00:00:00:00:09,resubmit(,2)",
                "table=2, reg0=0x7 actions=NORMAL",
            ])
        };
        let got = flows(&e, &br, proto);
        let want = expect_of(proto.is_some());
        // OpenFlow 1.2+ spells mod_dl_dst as set_field.
        let got: Vec<String> = got
            .into_iter()
            .map(|l| {
                l.replace(
                    "set_field:02:00:00:00:00:09->eth_dst",
                    "mod_dl_dst:02:00:00:00:00:09",
                )
            })
            .collect();
        assert_eq!(got, want, "{proto:?}");
        // mod-flows (loose) rewrites actions of every matching flow.
        run(&["mod-flows", &br, "in_port=1,actions=output:3"]);
        assert!(flows(&e, &br, proto).contains(&"in_port=1 actions=output:3".to_string()));
        // Strict delete needs the priority.
        run(&["--strict", "del-flows", &br, "ip,nw_dst=10.0.0.0/24"]);
        assert_eq!(flows(&e, &br, proto).len(), 4);
        run(&[
            "--strict",
            "del-flows",
            &br,
            "priority=200,ip,nw_dst=10.0.0.0/24",
        ]);
        assert_eq!(flows(&e, &br, proto).len(), 3);
        // del-flows by table and cookie.
        run(&["del-flows", &br, "table=1,cookie=0x5/-1"]);
        assert_eq!(flows(&e, &br, proto).len(), 2);
        run(&["del-flows", &br]);
        assert!(flows(&e, &br, proto).is_empty(), "{proto:?}");
    }
    // add-flows FILE and --bundle (atomic: one bad flow rejects them all).
    let file = e.dir.join("flows.txt");
    std::fs::write(
        &file,
        "priority=10,in_port=1,actions=output:2\npriority=10,in_port=2,actions=output:1\narp,actions=NORMAL\n",
    )
    .unwrap();
    ofctl(&e, &["add-flows", &br, file.to_str().unwrap()]).unwrap();
    assert_eq!(
        flows(&e, &br, None),
        sorted(&[
            "priority=10,in_port=1 actions=output:2",
            "priority=10,in_port=2 actions=output:1",
            "arp actions=NORMAL",
        ])
    );
    ofctl(&e, &["del-flows", &br]).unwrap();
    ofctl(
        &e,
        &[
            "-O",
            "OpenFlow14",
            "--bundle",
            "add-flows",
            &br,
            file.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(flows(&e, &br, None).len(), 3);
    std::fs::write(
        &file,
        "priority=5,in_port=3,actions=drop\npriority=10,in_port=1,actions=output:4\n",
    )
    .unwrap();
    let bad = e.dir.join("bad.txt");
    std::fs::write(
        &bad,
        "priority=5,in_port=7,actions=drop\npriority=10,in_port=1,dl_type=0x0800,nw_dst=1.2.3.4,actions=output:2\n",
    )
    .unwrap();
    // check_overlap makes the second flow overlap the existing in_port=1 one.
    let r = ofctl(
        &e,
        &[
            "-O",
            "OpenFlow14",
            "--bundle",
            "--flags=check_overlap",
            "add-flows",
            &br,
            bad.to_str().unwrap(),
        ],
    );
    assert!(r.is_err(), "overlap must fail the bundle");
    assert_eq!(
        flows(&e, &br, None).len(),
        3,
        "nothing of a failed bundle applied"
    );
    // dump-aggregate, dump-tables, show, dump-ports-desc.
    let agg = ofctl(&e, &["dump-aggregate", &br]).unwrap();
    assert!(agg.contains("flow_count=3"), "{agg}");
    let agg13 = ofctl(&e, &["-O", "OpenFlow13", "dump-aggregate", &br]).unwrap();
    assert!(agg13.contains("flow_count=3"), "{agg13}");
    let show = ofctl(&e, &["show", &br]).unwrap();
    assert!(show.contains("LOCAL("), "{show}");
    ofctl(&e, &["-O", "OpenFlow13", "dump-tables", &br]).unwrap();
    ofctl(&e, &["-O", "OpenFlow13", "dump-ports-desc", &br]).unwrap();
    ofctl(&e, &["dump-ports", &br]).unwrap();
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}

/// Adds `ns`'s host device to `br` as OpenFlow port `ofport`.
fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

/// One ping (1 s timeout); true if answered.
fn ping1(ns: &Ns, dst: &str) -> bool {
    ns.exec(&["ping", "-c", "1", "-W", "1", dst]).is_ok()
}

/// Pings until the answer is `want` (up to `secs`).
fn ping_becomes(ns: &Ns, dst: &str, want: bool, secs: u64) -> bool {
    common::wait_for(secs, || (ping1(ns, dst) == want).then_some(())).is_some()
}

#[test]
fn traffic_follows_port_forwarding_drop_rules_and_revalidation() {
    if !can_run("traffic_follows_port_forwarding_drop_rules_and_revalidation") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.81.0.1");
    let b = Ns::new("10.81.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    // Default NORMAL flow: connected.
    assert!(a.ping(&b.ip, 20), "NORMAL must connect\n{}", e.log());
    // Port forwarding without NORMAL.
    ofctl(&e, &["del-flows", &br]).unwrap();
    ofctl(&e, &["add-flow", &br, "in_port=1,actions=output:2"]).unwrap();
    ofctl(&e, &["add-flow", &br, "in_port=2,actions=output:1"]).unwrap();
    assert!(
        ping_becomes(&a, &b.ip, true, 10),
        "port forwarding\n{}",
        e.log()
    );
    // A higher-priority drop rule blocks IPv4 from port 1: the installed
    // megaflows (in_port only) must be revalidated away.
    ofctl(
        &e,
        &["add-flow", &br, "priority=40000,in_port=1,ip,actions=drop"],
    )
    .unwrap();
    assert!(
        ping_becomes(&a, &b.ip, false, 10),
        "drop rule must block\n{}\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]).unwrap(),
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default(),
        e.appctl(&[
            "ofproto/trace",
            &br,
            "in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.81.0.1,dst=10.81.0.2,proto=1,tos=0,ttl=64,frag=no)",
        ])
        .unwrap_or_else(|e| e)
    );
    let dump = ofctl(&e, &["dump-flows", &br]).unwrap();
    let drop_line = dump
        .lines()
        .find(|l| l.contains("priority=40000"))
        .expect("drop rule listed");
    assert!(
        !drop_line.contains("n_packets=0,"),
        "drop rule counted packets:\n{dump}"
    );
    // Removing it restores traffic.
    ofctl(
        &e,
        &["--strict", "del-flows", &br, "priority=40000,in_port=1,ip"],
    )
    .unwrap();
    assert!(ping_becomes(&a, &b.ip, true, 10), "after del-flows");
    // Statistics of the forwarding rules grow with traffic.
    assert!(ping1(&a, &b.ip));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let dump = ofctl(&e, &["dump-flows", &br, "in_port=1"]).unwrap();
    assert!(!dump.contains("n_packets=0,"), "{dump}");
    // PACKET_OUT: a frame from the controller reaches b's namespace.
    let rx = |ns: &Ns| -> u64 {
        ns.exec(&[
            "cat",
            &format!("/sys/class/net/{}/statistics/rx_packets", ns.peer),
        ])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
    };
    let frame = "ffffffffffff020000000001123400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    for proto in ["OpenFlow10", "OpenFlow13", "OpenFlow15"] {
        let before = rx(&b);
        ofctl(
            &e,
            &[
                "-O",
                proto,
                "packet-out",
                &br,
                "CONTROLLER",
                "output:2",
                frame,
            ],
        )
        .unwrap();
        assert!(
            common::wait_for(5, || (rx(&b) > before).then_some(())).is_some(),
            "packet-out {proto} did not reach port 2"
        );
    }
    // ofproto/trace and bridge/dump-flows.
    let trace = e
        .appctl(&[
            "ofproto/trace",
            &br,
            "in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.81.0.1,dst=10.81.0.2,proto=1,tos=0,ttl=64,frag=no)",
        ])
        .unwrap();
    assert!(trace.contains("Datapath actions: "), "{trace}");
    let bd = e.appctl(&["bridge/dump-flows", &br]).unwrap();
    assert!(
        bd.contains("in_port=1") && bd.contains("actions=output:2"),
        "{bd}"
    );
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}

#[test]
fn traffic_through_multiple_tables_and_header_rewrites() {
    if !can_run("traffic_through_multiple_tables_and_header_rewrites") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.82.0.1");
    let b = Ns::new("10.82.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    // a believes b lives at a MAC nobody has; the switch rewrites it.
    let fake = "02:00:00:00:00:99";
    a.exec(&[
        "ip", "neigh", "replace", &b.ip, "lladdr", fake, "dev", &a.peer,
    ])
    .unwrap();
    ofctl(&e, &["del-flows", &br]).unwrap();
    let bmac = b.mac();
    let flows = format!(
        "table=0,actions=resubmit(,1)\n\
         table=1,in_port=1,dl_dst={fake},actions=mod_dl_dst:{bmac},resubmit(,2)\n\
         table=1,in_port=1,arp,actions=output:2\n\
         table=1,in_port=2,actions=output:1\n\
         table=2,actions=output:2\n"
    );
    let file = e.dir.join("mt.txt");
    std::fs::write(&file, flows).unwrap();
    ofctl(&e, &["add-flows", &br, file.to_str().unwrap()]).unwrap();
    assert!(
        ping_becomes(&a, &b.ip, true, 15),
        "resubmit + mod_dl_dst\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]).unwrap(),
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    // The same with OpenFlow 1.3 goto_table and set_field.
    ofctl(&e, &["del-flows", &br]).unwrap();
    for f in [
        "table=0,actions=goto_table:1".to_string(),
        format!("table=1,in_port=1,dl_dst={fake},actions=set_field:{bmac}->eth_dst,goto_table:2"),
        "table=1,in_port=1,arp,actions=output:2".to_string(),
        "table=1,in_port=2,actions=output:1".to_string(),
        "table=2,actions=output:2".to_string(),
    ] {
        ofctl(&e, &["-O", "OpenFlow13", "add-flow", &br, &f]).unwrap();
    }
    assert!(ping_becomes(&a, &b.ip, true, 15), "goto_table + set_field");
    // Without the rewrite b never answers.
    ofctl(
        &e,
        &[
            "-O",
            "OpenFlow13",
            "mod-flows",
            &br,
            &format!("table=1,in_port=1,dl_dst={fake},actions=goto_table:2"),
        ],
    )
    .unwrap();
    assert!(ping_becomes(&a, &b.ip, false, 10), "no rewrite: no reply");
}

/// A veth pair in the test's namespace, both ends to be bridge ports (a
/// loop through which tagged frames travel). Deleted on drop.
struct Loop(String, String);

impl Loop {
    fn new() -> Loop {
        let l = Loop(unique("rvla"), unique("rvlb"));
        common::sh(&[
            "ip", "link", "add", &l.0, "type", "veth", "peer", "name", &l.1,
        ]);
        for d in [&l.0, &l.1] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{d}/disable_ipv6"), "1");
            let _ = common::run(&["ethtool", "-K", d, "rxvlan", "off", "txvlan", "off"]);
            common::sh(&["ip", "link", "set", d, "up"]);
        }
        l
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = common::run(&["ip", "link", "del", &self.0]);
    }
}

#[test]
fn vlan_push_and_pop_between_two_ports() {
    if !can_run("vlan_push_and_pop_between_two_ports") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.83.0.1");
    let b = Ns::new("10.83.0.2");
    let lp = Loop::new();
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    for (d, n) in [(&lp.0, 3), (&lp.1, 4)] {
        e.vsctl(&[
            "add-port",
            &br,
            d,
            "--",
            "set",
            "interface",
            d,
            &format!("ofport_request={n}"),
        ])
        .unwrap();
    }
    // a -> tagged 10 through the loop (3 -> 4) -> untagged to b, and back
    // with tag 20 (2 -> 4 -> 3 -> 1). Only correctly tagged frames match.
    ofctl(&e, &["del-flows", &br]).unwrap();
    for f in [
        "in_port=1,actions=mod_vlan_vid:10,output:3",
        "in_port=4,dl_vlan=10,actions=strip_vlan,output:2",
        "in_port=2,actions=mod_vlan_vid:20,output:4",
        "in_port=3,dl_vlan=20,actions=strip_vlan,output:1",
    ] {
        ofctl(&e, &["add-flow", &br, f]).unwrap();
    }
    assert!(
        ping_becomes(&a, &b.ip, true, 15),
        "VLAN push/pop\n{}\n{}",
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default(),
        e.log()
    );
    let dp = e.appctl(&["dpctl/dump-flows"]).unwrap();
    assert!(dp.contains("push_vlan(vid=10"), "{dp}");
    assert!(dp.contains("pop_vlan"), "{dp}");
    // OpenFlow 1.3 spelling: push_vlan + set_field / pop_vlan.
    ofctl(&e, &["del-flows", &br]).unwrap();
    for f in [
        "in_port=1,actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:3",
        "in_port=4,dl_vlan=10,actions=pop_vlan,output:2",
        "in_port=2,actions=push_vlan:0x8100,set_field:4116->vlan_vid,output:4",
        "in_port=3,dl_vlan=20,actions=pop_vlan,output:1",
    ] {
        ofctl(&e, &["-O", "OpenFlow13", "add-flow", &br, f]).unwrap();
    }
    assert!(
        ping_becomes(&a, &b.ip, true, 15),
        "OF1.3 push_vlan/pop_vlan"
    );
    // A wrong tag on the way back is not accepted.
    ofctl(
        &e,
        &[
            "-O",
            "OpenFlow13",
            "mod-flows",
            &br,
            "in_port=2,actions=push_vlan:0x8100,set_field:4126->vlan_vid,output:4",
        ],
    )
    .unwrap();
    assert!(
        ping_becomes(&a, &b.ip, false, 10),
        "VLAN 30 does not match dl_vlan=20"
    );
}

/// Needs conntrack in the daemon's datapath: without it `ct` marks every
/// packet `+trk+inv` and nothing is admitted. Verified to pass when
/// `Switch::new` hands `conntrack::Conntrack` to `Datapath::new`.
#[test]
fn stateful_firewall_admits_replies_and_blocks_unsolicited() {
    if !can_run("stateful_firewall_admits_replies_and_blocks_unsolicited") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let inside = Ns::new("10.84.0.1");
    let outside = Ns::new("10.84.0.2");
    port(&e, &br, &inside, 1);
    port(&e, &br, &outside, 2);
    ofctl(&e, &["del-flows", &br]).unwrap();
    let file = e.dir.join("fw.txt");
    std::fs::write(
        &file,
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1)\n\
         table=1,priority=10,ct_state=+trk+new,in_port=1,ip,actions=ct(commit),output:2\n\
         table=1,priority=10,ct_state=+trk+est,ip,in_port=1,actions=output:2\n\
         table=1,priority=10,ct_state=+trk+est,ip,in_port=2,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    )
    .unwrap();
    ofctl(&e, &["add-flows", &br, file.to_str().unwrap()]).unwrap();
    assert!(
        ping_becomes(&inside, &outside.ip, true, 15),
        "inside-initiated traffic and its replies pass\n{}",
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    assert!(!ping1(&outside, &inside.ip), "unsolicited inbound blocked");
}
