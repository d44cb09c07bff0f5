//! Patch ports (`type=patch`, `options:peer`) between two bridges, through
//! the real tools: `ovs-vsctl` builds br-a and br-b joined by a patch pair
//! with a namespace on each bridge; ping and a TCP transfer cross it with
//! the default NORMAL pipelines, `fdb/show` shows the remote MAC learned on
//! the patch port, an `ovs-ofctl` drop rule on br-b's patch port blocks the
//! traffic and deleting it restores it (megaflows revalidated across both
//! bridges), and a patch port without a peer gets its `error` column while
//! the rest keeps forwarding.

mod common;

use common::*;

/// Adds patch interface `name` to `br` with `options:peer=peer` (no
/// option when `peer` is `None`).
fn add_patch(e: &Env, br: &str, name: &str, peer: Option<&str>) {
    let opt = peer.map(|p| format!("options:peer={p}"));
    let mut args = vec![
        "add-port",
        br,
        name,
        "--",
        "set",
        "interface",
        name,
        "type=patch",
    ];
    if let Some(o) = &opt {
        args.push(o);
    }
    e.vsctl(&args).unwrap();
}

fn add_host(e: &Env, br: &str, n: &Ns) {
    e.vsctl(&[
        "add-port",
        br,
        &n.host,
        "--",
        "set",
        "interface",
        &n.host,
        "type=afxdp",
    ])
    .unwrap();
    assert_eq!(e.get("interface", &n.host, "error"), "[]");
}

/// The OpenFlow port on which `fdb/show BR` has `mac`.
fn fdb_port(e: &Env, br: &str, mac: &str) -> Option<String> {
    let fdb = e.appctl(&["fdb/show", br]).unwrap();
    fdb.lines()
        .find(|l| l.contains(mac))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
}

#[test]
fn patch_pair_joins_two_bridges() {
    if !can_run("patch_pair_joins_two_bridges") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let (bra, brb) = (unique("rva"), unique("rvb"));
    e.add_br(&bra);
    e.add_br(&brb);
    let (pa, pb) = (unique("rvpa"), unique("rvpb"));
    add_patch(&e, &bra, &pa, Some(&pb));
    add_patch(&e, &brb, &pb, Some(&pa));
    let a = Ns::new("10.78.0.1");
    let b = Ns::new("10.78.0.2");
    add_host(&e, &bra, &a);
    add_host(&e, &brb, &b);
    for p in [&pa, &pb] {
        assert_eq!(e.get("interface", p, "error"), "[]");
        assert_eq!(e.get("interface", p, "ofport"), "1");
    }
    assert!(e.get("open", ".", "iface_types").contains("patch"));

    // ovs-vsctl show, ovs-ofctl show and dpif/show show the patch ports.
    let show = e.vsctl(&["show"]).unwrap();
    assert!(show.contains("type: patch"), "{show}");
    assert!(show.contains(&format!("options: {{peer={pb}}}")), "{show}");
    let ofshow = e.ofctl(&["show", &bra]).unwrap();
    assert!(ofshow.contains(&format!(" 1({pa}): addr:")), "{ofshow}");
    let dpif = e.appctl(&["dpif/show"]).unwrap();
    assert!(
        dpif.contains(&format!("    {pa} 1/none: (patch: peer={pb})\n")),
        "{dpif}"
    );
    assert!(
        dpif.contains(&format!("    {pb} 1/none: (patch: peer={pa})\n")),
        "{dpif}"
    );

    // Ping and TCP across, with the default NORMAL pipelines.
    assert!(a.ping(&b.ip, 20), "ping across the patch pair\n{}", e.log());
    b.exec(&["ping", "-c", "3", "-i", "0.2", &a.ip]).unwrap();
    tcp_transfer_checked(&a, &b, 4 << 20);
    tcp_transfer_checked(&b, &a, 1 << 20);

    // Each bridge learned the remote MAC on its patch port, the local one
    // on the host's port.
    let pa_of = e.get("interface", &pa, "ofport");
    let pb_of = e.get("interface", &pb, "ofport");
    let ha_of = e.get("interface", &a.host, "ofport");
    let hb_of = e.get("interface", &b.host, "ofport");
    assert_eq!(fdb_port(&e, &bra, &b.mac()), Some(pa_of.clone()));
    assert_eq!(fdb_port(&e, &bra, &a.mac()), Some(ha_of));
    assert_eq!(fdb_port(&e, &brb, &a.mac()), Some(pb_of.clone()));
    assert_eq!(fdb_port(&e, &brb, &b.mac()), Some(hb_of));

    // br-b's rules are credited for the traffic that came through the
    // patch port (megaflows are installed for br-a's in_port).
    let n_packets = |br: &str| -> u64 {
        let d = e.ofctl(&["dump-flows", br]).unwrap();
        d.split([',', ' '])
            .find_map(|w| w.strip_prefix("n_packets="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        wait_for(5, || (n_packets(&brb) > 1000).then_some(())).is_some(),
        "{}",
        e.ofctl(&["dump-flows", &brb]).unwrap()
    );

    // The datapath flows of a crossing carry both bridges' decisions: one
    // megaflow from a's port outputs straight to b's port.
    let trace = e
        .appctl(&["dpctl/dump-flows"])
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !trace.contains("3221225"),
        "virtual patch ports leaked: {trace}"
    );

    // A drop rule on br-b's patch port blocks the traffic (revalidation
    // across bridges: the megaflows are installed for br-a's in_port)...
    e.ofctl(&[
        "add-flow",
        &brb,
        &format!("priority=100,in_port={pb_of},actions=drop"),
    ])
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        a.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "1", &b.ip])
            .is_err(),
        "traffic still crosses after the drop rule\n{}",
        e.appctl(&["dpctl/dump-flows"]).unwrap()
    );
    // ... and deleting it restores it.
    e.ofctl(&["del-flows", &brb, &format!("in_port={pb_of}")])
        .unwrap();
    assert!(a.ping(&b.ip, 10), "traffic not restored\n{}", e.log());

    // A patch port without peer option: error set as OVS does, no
    // ofport; one with a peer that does not exist: a port that drops. The
    // rest keeps forwarding.
    let (bad, lonely) = (unique("rvpx"), unique("rvpy"));
    add_patch(&e, &bra, &bad, None);
    assert_eq!(
        e.get("interface", &bad, "error"),
        format!("\"{bad}: patch type requires valid 'peer' argument\"")
    );
    assert_eq!(e.get("interface", &bad, "ofport"), "-1");
    add_patch(&e, &brb, &lonely, Some("rvnonexistent"));
    assert_eq!(e.get("interface", &lonely, "error"), "[]");
    assert!(a.ping(&b.ip, 10), "forwarding stopped\n{}", e.log());
    tcp_transfer_checked(&a, &b, 1 << 20);
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}
