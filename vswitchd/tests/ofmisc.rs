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
