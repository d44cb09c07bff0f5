//! The remaining OpenFlow requests against the real `ovs-ofctl` 3.1:
//! NXT_CT_FLUSH_ZONE / NXT_CT_FLUSH (`ovs-ofctl ct-flush-zone`,
//! `ct-flush`), OFPT_PORT_MOD (`ovs-ofctl mod-port`), queue statistics and
//! configuration (`queue-stats`, `queue-get-config`), and
//! `ovs-appctl ofproto/trace-packet-out`.

mod common;

use common::*;

/// An Ethernet/IPv4/UDP frame `src:sport -> dst:dport` with a correct IPv4
/// header checksum (conntrack checks it) and no UDP checksum, as hex.
fn udp_hex(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> String {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let mut ip = vec![0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 12, 0, 0, 1, 2, 3, 4]);
    f.iter().map(|b| format!("{b:02x}")).collect()
}

fn conns(e: &Env) -> Vec<String> {
    let d = e.appctl(&["dpctl/dump-conntrack"]).unwrap();
    let mut v: Vec<String> = d.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Connections committed in zones 5, 6 and 7 by packet-outs through
/// `ct(commit,zone=N)`; `ct-flush-zone br 5` removes zone 5's only, and
/// `ct-flush` with a zone and a partial or complete tuple removes just the
/// matching ones.
#[test]
fn ct_flush_zone_and_filter() {
    if !can_run("ct_flush_zone_and_filter") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvq");
    e.add_br(&br);
    let send = |zone: u16, src: [u8; 4], sport: u16| {
        e.ofctl(&[
            "packet-out",
            &br,
            "CONTROLLER",
            &format!("ct(commit,zone={zone})"),
            &udp_hex(src, [10, 9, 0, 2], sport, 53),
        ])
        .unwrap();
    };
    send(5, [10, 9, 0, 1], 1000);
    send(6, [10, 9, 0, 1], 1000);
    send(7, [10, 9, 0, 1], 1001);
    send(7, [10, 9, 0, 3], 1002);
    send(7, [10, 9, 0, 4], 1003);
    let all = wait_for(5, || {
        let c = conns(&e);
        (c.len() == 5).then_some(c)
    })
    .unwrap_or_else(|| panic!("5 connections expected: {:?}", conns(&e)));
    assert!(
        all.iter().any(|l| l
            == "udp,orig=(src=10.9.0.1,dst=10.9.0.2,sport=1000,dport=53),reply=(src=10.9.0.2,dst=10.9.0.1,sport=53,dport=1000),zone=5"),
        "{all:?}"
    );

    e.ofctl(&["ct-flush-zone", &br, "5"]).unwrap();
    let c = conns(&e);
    assert_eq!(c.len(), 4, "{c:?}");
    assert!(!c.iter().any(|l| l.ends_with("zone=5")), "{c:?}");
    assert!(c.iter().any(|l| l.ends_with("zone=6")), "{c:?}");

    // Partial filter: source 10.9.0.3 in zone 7.
    e.ofctl(&["ct-flush", &br, "zone=7", "ct_nw_src=10.9.0.3"])
        .unwrap();
    let c = conns(&e);
    assert_eq!(c.len(), 3, "{c:?}");
    assert!(!c.iter().any(|l| l.contains("src=10.9.0.3,")), "{c:?}");

    // Complete 5-tuple in zone 7; zone 6's twin of another port stays.
    e.ofctl(&[
        "ct-flush",
        &br,
        "zone=7",
        "ct_nw_src=10.9.0.1,ct_nw_dst=10.9.0.2,ct_nw_proto=17,ct_tp_src=1001,ct_tp_dst=53",
    ])
    .unwrap();
    let c = conns(&e);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(!c.iter().any(|l| l.contains("sport=1001")), "{c:?}");

    // Reply-direction filter.
    e.ofctl(&[
        "ct-flush",
        &br,
        "zone=7",
        "",
        "ct_nw_src=10.9.0.2,ct_nw_dst=10.9.0.4",
    ])
    .unwrap();
    let c = conns(&e);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].ends_with("zone=6"), "{c:?}");

    // Everything.
    e.ofctl(&["ct-flush", &br]).unwrap();
    assert_eq!(conns(&e), Vec::<String>::new());
}

/// Sends one message on the bridge's management socket after a HELLO of
/// `version` and returns the first reply that is not a HELLO, or `None`
/// if nothing else comes within 2 s.
fn exchange(e: &Env, br: &str, version: u8, msg: &[u8]) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(e.dir.join(format!("{br}.mgmt"))).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    s.write_all(&[version, 0, 0, 8, 0, 0, 0, 1]).unwrap();
    s.write_all(msg).unwrap();
    loop {
        let mut h = [0u8; 8];
        s.read_exact(&mut h).ok()?;
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        let mut body = vec![0u8; len - 8];
        s.read_exact(&mut body).ok()?;
        if h[1] != 0 {
            let mut m = h.to_vec();
            m.extend(body);
            return Some(m);
        }
    }
}

fn rx_packets(ns: &Ns) -> u64 {
    ns.exec(&[
        "cat",
        &format!("/sys/class/net/{}/statistics/rx_packets", ns.peer),
    ])
    .unwrap()
    .trim()
    .parse()
    .unwrap()
}

/// `ovs-ofctl mod-port` sets the OFPPC_* bits: `ovs-ofctl show` prints
/// them, a monitoring controller gets OFPT_PORT_STATUS MOD, FLOOD stops
/// reaching a `no-flood` port (ALL still does), `no-forward` drops output
/// to the port and `down` shows LINK_DOWN; PORT_MODs for a wrong port or
/// hardware address get OFPPMFC_BAD_PORT / OFPPMFC_BAD_HW_ADDR.
#[test]
fn mod_port_config() {
    if !can_run("mod_port_config") {
        return;
    }
    let _t = traffic_lock();
    let mut e = Env::new();
    let br = unique("rvq");
    e.add_br(&br);
    let (a, b, c) = (
        Ns::new("10.78.0.1"),
        Ns::new("10.78.0.2"),
        Ns::new("10.78.0.3"),
    );
    for ns in [&a, &b, &c] {
        e.vsctl(&["add-port", &br, &ns.host]).unwrap();
    }
    e.ofctl(&["del-flows", &br]).unwrap();
    e.ofctl(&["add-flow", &br, "actions=FLOOD"]).unwrap();
    let cport = e.get("Interface", &c.host, "ofport");
    assert!(a.ping(&b.ip, 10));
    let before = rx_packets(&c);
    assert!(a.ping(&b.ip, 5));
    assert!(rx_packets(&c) > before, "FLOOD reaches c before no-flood");

    let mon = OfctlBg::start(&e, "monitor", &["monitor", &br, "65534"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    e.ofctl(&["mod-port", &br, &c.host, "no-flood"]).unwrap();
    // Installed megaflows are revalidated asynchronously, as in OVS.
    e.appctl(&["revalidator/wait"]).unwrap();
    let show = e.ofctl(&["show", &br]).unwrap();
    let cdesc: Vec<&str> = show
        .lines()
        .skip_while(|l| !l.starts_with(&format!(" {cport}({})", c.host)))
        .take(3)
        .collect();
    assert_eq!(cdesc[1], "     config:     NO_FLOOD", "{show}");
    assert_eq!(cdesc[2], "     state:      0", "{show}");
    assert!(
        mon.wait_for(&format!(
            "OFPT_PORT_STATUS (xid=0x0): MOD: {cport}({})",
            c.host
        )),
        "{}",
        mon.out()
    );
    assert!(mon.out().contains("config:     NO_FLOOD"), "{}", mon.out());

    let before = rx_packets(&c);
    for _ in 0..3 {
        assert!(a.ping(&b.ip, 5));
    }
    assert_eq!(rx_packets(&c), before, "FLOOD skipped the no-flood port");
    // ALL includes it.
    e.ofctl(&["mod-flows", &br, "actions=ALL"]).unwrap();
    let reached = wait_for(5, || {
        a.ping(&b.ip, 1);
        (rx_packets(&c) > before).then_some(())
    });
    assert!(reached.is_some(), "ALL reaches the no-flood port");

    // no-forward: output to b is dropped.
    e.ofctl(&["mod-port", &br, &b.host, "no-forward"]).unwrap();
    assert!(
        wait_for(5, || (!a.ping(&b.ip, 1)).then_some(())).is_some(),
        "no-forward port still gets output"
    );
    e.ofctl(&["mod-port", &br, &b.host, "forward"]).unwrap();
    assert!(a.ping(&b.ip, 5));

    // down / up.
    e.ofctl(&["mod-port", &br, &c.host, "down"]).unwrap();
    let show = e.ofctl(&["show", &br]).unwrap();
    assert!(
        show.contains("     config:     PORT_DOWN NO_FLOOD\n     state:      LINK_DOWN\n"),
        "{show}"
    );
    e.ofctl(&["mod-port", &br, &c.host, "up"]).unwrap();
    e.ofctl(&["mod-port", &br, &c.host, "flood"]).unwrap();
    let show = e.ofctl(&["show", &br]).unwrap();
    assert!(
        !show.contains("NO_FLOOD") && !show.contains("PORT_DOWN"),
        "{show}"
    );

    // Errors (OpenFlow 1.0 OFPT_PORT_MOD, type 15): port 999, then c's
    // number with a wrong hw_addr.
    let port_mod = |port: u16, mac: [u8; 6]| {
        let mut m = vec![1, 15, 0, 32, 0, 0, 0, 9];
        m.extend_from_slice(&port.to_be_bytes());
        m.extend_from_slice(&mac);
        m.extend_from_slice(&16u32.to_be_bytes());
        m.extend_from_slice(&16u32.to_be_bytes());
        m.extend_from_slice(&[0; 8]);
        m
    };
    let err = exchange(&e, &br, 1, &port_mod(999, [0; 6])).expect("error reply");
    // OFPT_ERROR, OFPET_PORT_MOD_FAILED (4), OFPPMFC_BAD_PORT (0).
    assert_eq!((err[1], &err[8..12]), (1, &[0, 4, 0, 0][..]), "{err:?}");
    let n: u16 = cport.parse().unwrap();
    let err = exchange(&e, &br, 1, &port_mod(n, [2, 0, 0, 0, 0, 9])).expect("error reply");
    assert_eq!((err[1], &err[8..12]), (1, &[0, 4, 0, 1][..]), "{err:?}");
}

/// Queue statistics and configuration as OVS answers them for ports
/// without QoS: empty replies for all queues, OFPQOFC_BAD_QUEUE for a
/// specific queue, OFPQOFC_BAD_PORT for an unknown port; in OpenFlow 1.0,
/// 1.3 and 1.4 (OFPMP_QUEUE_DESC).
#[test]
fn queue_stats_and_config() {
    if !can_run("queue_stats_and_config") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvq");
    e.add_br(&br);
    let q = |args: &[&str]| e.ofctl(args).unwrap();
    assert_eq!(
        q(&["queue-stats", &br]),
        "OFPST_QUEUE reply (xid=0x2): 0 queues\n"
    );
    assert_eq!(
        q(&["queue-stats", &br, "LOCAL"]),
        "OFPST_QUEUE reply (xid=0x2): 0 queues\n"
    );
    assert_eq!(
        q(&["queue-stats", &br, "LOCAL", "1"]),
        "OFPT_ERROR (xid=0x2): OFPQOFC_BAD_QUEUE\nOFPST_QUEUE request (xid=0x2): port=LOCAL queue=1\n"
    );
    assert_eq!(
        q(&["queue-stats", &br, "99"]),
        "OFPT_ERROR (xid=0x2): OFPQOFC_BAD_PORT\nOFPST_QUEUE request (xid=0x2): port=99 queue=ALL\n"
    );
    // OpenFlow 1.0: ovs-ofctl asks port by port (LOCAL excluded).
    assert_eq!(q(&["queue-get-config", &br]), "");
    assert_eq!(
        q(&["queue-get-config", &br, "LOCAL"]),
        "OFPT_QUEUE_GET_CONFIG_REPLY (xid=0x2):\n"
    );
    assert_eq!(
        q(&["-O", "OpenFlow13", "queue-stats", &br]),
        "OFPST_QUEUE reply (OF1.3) (xid=0x2): 0 queues\n"
    );
    assert_eq!(
        q(&["-O", "OpenFlow13", "queue-stats", &br, "ANY", "5"]),
        "OFPT_ERROR (OF1.3) (xid=0x2): OFPQOFC_BAD_QUEUE\nOFPST_QUEUE request (OF1.3) (xid=0x2): port=ANY queue=5\n"
    );
    assert_eq!(
        q(&["-O", "OpenFlow13", "queue-get-config", &br]),
        "OFPT_QUEUE_GET_CONFIG_REPLY (OF1.3) (xid=0x2):\n"
    );
    assert_eq!(
        q(&["-O", "OpenFlow13", "queue-get-config", &br, "99"]),
        "OFPT_ERROR (OF1.3) (xid=0x2): OFPQOFC_BAD_PORT\nOFPT_QUEUE_GET_CONFIG_REQUEST (OF1.3) (xid=0x2): port=99\n"
    );
    assert_eq!(
        q(&["-O", "OpenFlow14", "queue-get-config", &br, "LOCAL"]),
        "OFPST_QUEUE_DESC reply (OF1.4) (xid=0x2):\n"
    );
}

/// `sample(...)` round-trips through `ovs-ofctl add-flow` / `dump-flows`
/// and, with no IPFIX collector set configured, adds no datapath action
/// (`ofproto/trace`).
#[test]
fn sample_action_round_trip() {
    if !can_run("sample_action_round_trip") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvq");
    e.add_br(&br);
    let acts =
        "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:LOCAL";
    e.ofctl(&["add-flow", &br, &format!("priority=5,ip,actions={acts}")])
        .unwrap();
    let shown = "sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),LOCAL";
    let dump = e.ofctl(&["dump-flows", &br]).unwrap();
    assert!(
        dump.contains(&format!(" priority=5,ip actions={shown}\n")),
        "{dump}"
    );
    let dump13 = e.ofctl(&["-O", "OpenFlow13", "dump-flows", &br]).unwrap();
    assert!(dump13.contains(&format!("actions={shown}\n")), "{dump13}");
    let trace = e
        .appctl(&[
            "ofproto/trace",
            &br,
            "in_port(0),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.0.1,dst=10.1.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)",
        ])
        .unwrap();
    assert!(trace.contains("\nDatapath actions: drop\n"), "{trace}");
}

/// `ovs-appctl ofproto/trace-packet-out BRIDGE FLOW [PACKET] ACTIONS`: the
/// given actions translated as a packet-out; `-consistent` refuses actions
/// that do not suit the flow; unknown actions are a clear error.
#[test]
fn trace_packet_out() {
    if !can_run("trace_packet_out") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvq");
    e.add_br(&br);
    e.ofctl(&["add-flow", &br, "table=2,ip,actions=mod_nw_tos:0,LOCAL"])
        .unwrap();
    let flow = "in_port(0),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.0.1,dst=10.1.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)";
    let t = e
        .appctl(&[
            "ofproto/trace-packet-out",
            &br,
            flow,
            "mod_dl_src:02:00:00:00:00:09,set_field:10.1.0.9->nw_dst,resubmit(,2)",
        ])
        .unwrap();
    let bridge = format!("bridge(\"{br}\")\n{}\n", "-".repeat(br.len() + 10));
    assert!(t.starts_with("Flow: "), "{t}");
    assert!(
        t.contains(&format!(
            "{bridge} mod_dl_src:02:00:00:00:00:09\n set_field:10.1.0.9->nw_dst\n resubmit(,2)\n"
        )),
        "{t}"
    );
    assert!(
        t.contains("\nDatapath actions: set(eth(src=02:00:00:00:00:09)),set(ipv4(dst=10.1.0.9))"),
        "{t}"
    );
    // Without the resubmit: nothing is output.
    let t = e
        .appctl(&[
            "ofproto/trace-packet-out",
            &br,
            flow,
            "mod_dl_src:02:00:00:00:00:09",
        ])
        .unwrap();
    assert!(t.ends_with("\nDatapath actions: drop\n"), "{t}");
    // A packet instead of the flow's headers.
    let t = e
        .appctl(&[
            "ofproto/trace-packet-out",
            &br,
            "in_port(0)",
            &udp_hex([10, 1, 0, 1], [10, 1, 0, 2], 1, 2),
            "resubmit(,2)",
        ])
        .unwrap();
    assert!(t.contains("ipv4(src=10.1.0.1,dst=10.1.0.2,"), "{t}");
    // -consistent: setting a TCP port of a UDP flow.
    let err = e
        .appctl(&[
            "ofproto/trace-packet-out",
            "-consistent",
            &br,
            flow,
            "set_field:80->tcp_dst",
        ])
        .unwrap_err();
    assert!(err.contains("OFPBAC_MATCH_INCONSISTENT"), "{err}");
    let err = e
        .appctl(&["ofproto/trace-packet-out", &br, flow, "learn(table=1)"])
        .unwrap_err();
    assert!(err.contains("unknown action learn"), "{err}");
}
