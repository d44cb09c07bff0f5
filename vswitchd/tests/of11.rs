//! OpenFlow 1.1 against rvs-vswitchd with the real `ovs-ofctl -O
//! OpenFlow11`: flows added with the 88-byte standard match dump back as
//! they were written, and delete by match; OpenFlow 1.1's own action
//! numbering (OFPAT11_SET_VLAN_VID=1 ... SET_TP_DST=10, COPY_TTL_OUT=11,
//! OpenFlow 1.1.0 section A.2.5) round-trips.

mod common;

use common::{can_run, unique, Env};

#[test]
fn of11_add_dump_and_delete_flows() {
    if !can_run("of11_add_dump_and_delete_flows") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rv11");
    e.add_br(&br);
    let mgmt = e.dir.join(format!("{br}.mgmt"));
    common::wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
    let of11 = |args: &[&str]| {
        let mut a = vec!["-O", "OpenFlow11"];
        a.extend_from_slice(args);
        e.ofctl(&a)
            .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
    };
    of11(&["del-flows", &br]);
    of11(&[
        "add-flow",
        &br,
        "priority=5,in_port=3,tcp,nw_src=10.0.0.0/8,tp_dst=80,actions=output:2",
    ]);
    of11(&[
        "add-flow",
        &br,
        "table=1,dl_vlan=5,arp,arp_op=1,actions=drop",
    ]);
    let dump = of11(&["dump-flows", &br]);
    assert!(dump.contains("OFPST_FLOW reply (OF1.1)"), "{dump}");
    assert!(
        dump.contains("priority=5,tcp,in_port=3,nw_src=10.0.0.0/8,tp_dst=80 actions=output:2"),
        "{dump}"
    );
    assert!(
        dump.contains("table=1,") && dump.contains("arp,dl_vlan=5,arp_op=1 actions=drop"),
        "{dump}"
    );
    of11(&["del-flows", &br, "tcp"]);
    let dump = of11(&["dump-flows", &br]);
    assert!(
        !dump.contains("tp_dst=80") && dump.contains("arp_op=1"),
        "{dump}"
    );
}

#[test]
fn of11_actions_round_trip() {
    if !can_run("of11_actions_round_trip") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rv11a");
    e.add_br(&br);
    let mgmt = e.dir.join(format!("{br}.mgmt"));
    common::wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
    let of11 = |args: &[&str]| {
        let mut a = vec!["-O", "OpenFlow11"];
        a.extend_from_slice(args);
        e.ofctl(&a)
            .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
    };
    // (what add-flow gets, what dump-flows prints back); `mod_vlan_vid`
    // on an untagged match is push_vlan + OFPAT11_SET_VLAN_VID in OF1.1.
    let flows = [
        (
            "ip,in_port=1,actions=mod_vlan_vid:5,mod_nw_src:1.2.3.4,output:2",
            "ip,in_port=1 actions=push_vlan:0x8100,set_vlan_vid:5,mod_nw_src:1.2.3.4,output:2",
        ),
        (
            "ip,dl_vlan=3,actions=mod_vlan_vid:6,mod_vlan_pcp:3,\
             mod_dl_src:00:00:00:00:00:01,mod_dl_dst:00:00:00:00:00:02,\
             mod_nw_dst:5.6.7.8,mod_nw_tos:16,mod_nw_ecn:2,output:1",
            "ip,dl_vlan=3 actions=set_vlan_vid:6,set_vlan_pcp:3,\
             mod_dl_src:00:00:00:00:00:01,mod_dl_dst:00:00:00:00:00:02,\
             mod_nw_dst:5.6.7.8,mod_nw_tos:16,mod_nw_ecn:2,output:1",
        ),
        (
            "tcp,in_port=3,actions=mod_tp_src:1000,mod_tp_dst:2000,output:1",
            "tcp,in_port=3 actions=mod_tp_src:1000,mod_tp_dst:2000,output:1",
        ),
        (
            "ip,dl_vlan=4,actions=strip_vlan,mod_nw_ttl:7,dec_ttl,set_queue:3,output:1",
            "ip,dl_vlan=4 actions=pop_vlan,mod_nw_ttl:7,dec_ttl,set_queue:3,output:1",
        ),
        (
            "mpls,in_port=5,actions=set_mpls_ttl(5),dec_mpls_ttl,set_mpls_label:7,\
             set_mpls_tc:2,pop_mpls:0x0800,output:1",
            "mpls,in_port=5 actions=set_mpls_ttl(5),dec_mpls_ttl,set_mpls_label(7),\
             set_mpls_tc(2),pop_mpls:0x0800,output:1",
        ),
    ];
    for (add, _) in flows {
        of11(&["add-flow", &br, &add.split_whitespace().collect::<String>()]);
    }
    let dump = of11(&["dump-flows", &br]);
    for (_, want) in flows {
        let want = want.split_whitespace().collect::<Vec<_>>();
        let want = format!("{} {}", want[0], want[1..].concat());
        assert!(dump.contains(&want), "{want}\n{dump}");
    }
}
