//! OpenFlow 1.1 against rvs-vswitchd with the real `ovs-ofctl -O
//! OpenFlow11`: flows added with the 88-byte standard match dump back as
//! they were written, and delete by match.

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
