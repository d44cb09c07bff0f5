//! rvs-vswitchd's conntrack operator interface against the real tools:
//! `ovs-appctl dpctl/*` conntrack and ipf commands (texts and effects) and
//! zone timeout policies written by `ovs-vsctl add-zone-tp`.

mod common;

use common::*;

fn ok(e: &Env, args: &[&str]) -> String {
    e.appctl(args)
        .unwrap_or_else(|err| panic!("{args:?}: {err}"))
}

fn err(e: &Env, args: &[&str]) -> String {
    match e.appctl(args) {
        Ok(out) => panic!("{args:?} succeeded: {out}"),
        Err(err) => err,
    }
}

#[test]
fn conntrack_commands() {
    if !can_run("conntrack_commands") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvc");
    e.add_br(&br);

    // Empty table.
    assert_eq!(ok(&e, &["dpctl/dump-conntrack"]), "");
    assert_eq!(
        ok(
            &e,
            &[
                "dpctl/dump-conntrack",
                "-m",
                "-s",
                "netdev@ovs-netdev",
                "zone=1"
            ]
        ),
        ""
    );
    assert_eq!(ok(&e, &["dpctl/ct-get-nconns"]), "0\n");
    assert_eq!(
        ok(&e, &["dpctl/ct-stats-show"]),
        "Connections Stats:\n    Total: 0\n"
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-bkts", "gt=1"]),
        "Total Buckets: 256\nCurrent Connections: 0\n\n"
    );
    assert_eq!(ok(&e, &["dpctl/flush-conntrack"]), "");
    assert_eq!(ok(&e, &["dpctl/flush-conntrack", "zone=3"]), "");
    assert_eq!(
        ok(
            &e,
            &[
                "dpctl/flush-conntrack",
                "netdev@ovs-netdev",
                "zone=3",
                "ct_nw_src=10.1.1.1,ct_nw_dst=10.1.1.2,ct_nw_proto=17,ct_tp_src=1,ct_tp_dst=2"
            ]
        ),
        ""
    );
    assert_eq!(
        err(&e, &["dpctl/flush-conntrack", "a", "b", "c"]),
        "ovs-vswitchd: field c missing valueinvalid arguments (Invalid argument)\novs-appctl: ovs-vswitchd: server returned an error\n"
    );

    // maxconns.
    assert_eq!(ok(&e, &["dpctl/ct-get-maxconns"]), "3000000\n");
    assert_eq!(
        ok(&e, &["dpctl/ct-set-maxconns", "10"]),
        "setting maxconns successful"
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-get-maxconns", "netdev@ovs-netdev"]),
        "10\n"
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-set-maxconns", "netdev@ovs-netdev", "20"]),
        "setting maxconns successful"
    );
    assert_eq!(ok(&e, &["dpctl/ct-get-maxconns"]), "20\n");
    assert!(err(&e, &["dpctl/ct-set-maxconns", "many"])
        .starts_with("ovs-vswitchd: maxconns missing or malformed (Invalid argument)\n"));
    assert!(err(&e, &["dpctl/ct-set-maxconns", "other@dp", "5"])
        .starts_with("ovs-vswitchd: datapath not found (Invalid argument)\n"));

    // Zone limits.
    assert_eq!(
        ok(
            &e,
            &[
                "dpctl/ct-set-limits",
                "default=10",
                "zone=1,limit=5",
                "zone=2,limit=3"
            ]
        ),
        ""
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-get-limits"]),
        "default limit=10\nzone=1,limit=5,count=0\nzone=2,limit=3,count=0\n"
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-get-limits", "zone=1,7"]),
        "default limit=10\nzone=1,limit=5,count=0\nzone=7,limit=10,count=0\n"
    );
    assert_eq!(ok(&e, &["dpctl/ct-del-limits", "zone=1"]), "");
    assert_eq!(
        ok(&e, &["dpctl/ct-get-limits"]),
        "default limit=10\nzone=2,limit=3,count=0\n"
    );
    assert!(err(&e, &["dpctl/ct-set-limits", "zone=1"])
        .starts_with("ovs-vswitchd: failed to parse zone limit (Invalid argument)\n"));
    assert!(err(&e, &["dpctl/ct-del-limits", "1"])
        .starts_with("ovs-vswitchd: invalid argument 1 (Invalid argument)\n"));

    // TCP sequence checking.
    assert_eq!(
        ok(&e, &["dpctl/ct-get-tcp-seq-chk"]),
        "TCP sequence checking: enabled\n"
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-disable-tcp-seq-chk"]),
        "disabling TCP sequence checking successful"
    );
    assert_eq!(
        ok(&e, &["dpctl/ct-get-tcp-seq-chk"]),
        "TCP sequence checking: disabled\n"
    );

    // Fragment reassembly.
    let st = ok(&e, &["dpctl/ipf-get-status"]);
    assert!(st.starts_with(
        "        Fragmentation Module Status\n        ---------------------------\n        v4 enabled: 1\n        v6 enabled: 1\n        max num frags (v4/v6): 1000\n        num frag: 0\n        min v4 frag size: 1200\n"
    ), "{st}");
    assert!(st.contains("        min v6 frag size: 1280\n"));
    assert!(st.ends_with("        v6 frags purged: 0\n"));
    assert_eq!(
        ok(&e, &["dpctl/ipf-set-disabled", "v4"]),
        "disabling fragmentation reassembly successful"
    );
    assert_eq!(
        ok(&e, &["dpctl/ipf-set-enabled", "netdev@ovs-netdev", "v6"]),
        "enabling fragmentation reassembly successful"
    );
    assert!(err(&e, &["dpctl/ipf-set-enabled", "v5"]).starts_with(
        "ovs-vswitchd: parameter missing: 'v4' for IPv4 or 'v6' for IPv6 (Invalid argument)\n"
    ));
    assert_eq!(
        ok(&e, &["dpctl/ipf-set-min-frag", "v4", "1000"]),
        "setting minimum fragment size successful"
    );
    assert!(err(&e, &["dpctl/ipf-set-min-frag", "v6", "100"])
        .starts_with("ovs-vswitchd: requested minimum fragment size too small; see documentation"));
    assert_eq!(
        ok(&e, &["dpctl/ipf-set-max-nfrags", "500"]),
        "setting maximum fragments successful"
    );
    assert!(err(&e, &["dpctl/ipf-set-max-nfrags", "6000"])
        .starts_with("ovs-vswitchd: setting maximum fragments failed"));
    let st = ok(&e, &["dpctl/ipf-get-status", "-m"]);
    assert!(st.contains("        v4 enabled: 0\n"), "{st}");
    assert!(st.contains("        max num frags (v4/v6): 500\n"), "{st}");
    assert!(st.contains("        min v4 frag size: 1000\n"), "{st}");
    assert!(st.ends_with("\n        Fragment Lists:\n\n"), "{st}");

    // Argument counts are OVS's.
    assert!(e.appctl(&["dpctl/ct-get-nconns", "a", "b"]).is_err());
}

#[test]
fn zone_timeout_policies_from_the_database() {
    if !can_run("zone_timeout_policies_from_the_database") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvc");
    e.add_br(&br);
    e.vsctl(&[
        "--",
        "--id=@m",
        "create",
        "Datapath",
        "datapath_version=0",
        "--",
        "set",
        "Open_vSwitch",
        ".",
        "datapaths:netdev=@m",
    ])
    .unwrap();
    e.vsctl(&[
        "add-zone-tp",
        "netdev",
        "zone=5",
        "udp_first=10",
        "udp_single=20",
    ])
    .unwrap();
    let applied = wait_for(10, || {
        e.log()
            .contains("zone 5: timeout policy 2 values")
            .then_some(())
    });
    assert!(applied.is_some(), "{}", e.log());
    e.vsctl(&["del-zone-tp", "netdev", "zone=5"]).unwrap();
    let removed = wait_for(10, || {
        e.log()
            .contains("zone 5: default timeout policy")
            .then_some(())
    });
    assert!(removed.is_some(), "{}", e.log());
}

/// Connections created by traffic through OpenFlow `ct()` rules programmed
/// with `ovs-ofctl`, shown by `dump-conntrack` and removed by
/// `flush-conntrack`.
#[test]
fn traffic_creates_connections() {
    if !can_run("traffic_creates_connections") {
        return;
    }
    let _t = traffic_lock();
    let mut e = Env::new();
    let br = unique("rvc");
    e.add_br(&br);
    let (a, b) = (Ns::new("10.77.0.1"), Ns::new("10.77.0.2"));
    for ns in [&a, &b] {
        e.vsctl(&["add-port", &br, &ns.host]).unwrap();
    }
    for f in [
        "priority=10,ip,ct_state=-trk,actions=ct(table=1)",
        "table=1,ip,ct_state=+trk+new,actions=ct(commit),normal",
        "table=1,ip,ct_state=+trk+est,actions=normal",
        "priority=0,actions=normal",
    ] {
        e.ofctl(&["add-flow", &br, f]).unwrap();
    }
    assert!(a.ping("10.77.0.2", 10));
    let dump = ok(&e, &["dpctl/dump-conntrack"]);
    assert!(
        dump.contains("icmp,orig=(src=10.77.0.1,dst=10.77.0.2,"),
        "{dump}"
    );
    assert_ne!(ok(&e, &["dpctl/ct-get-nconns"]), "0\n");
    ok(&e, &["dpctl/flush-conntrack"]);
    assert_eq!(ok(&e, &["dpctl/dump-conntrack"]), "");
}
