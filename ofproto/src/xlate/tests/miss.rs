//! Table misses: to the controller while an OpenFlow 1.0-1.2 connection
//! wants them, else dropped; never for `resubmit`.

use super::*;
use std::sync::atomic::Ordering;

#[test]
fn table_miss_goes_to_the_controller_only_when_wanted() {
    let p = pipeline();
    // Table 0 resubmits to (empty) table 3, then goes to (empty) table 1.
    add(
        &p,
        0,
        1,
        &[(Field::InPort, P1, None)],
        vec![
            Instruction::ApplyActions(vec![Action::Resubmit {
                in_port: 0xfff8,
                table: 3,
                ct: false,
                short: false,
            }]),
            Instruction::GotoTable(1),
        ],
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert!(x.actions.is_empty(), "{:?}", x.actions);

    p.miss_packet_in.store(true, Ordering::Relaxed);
    let pin = |table| {
        OdpAction::Userspace(UserspaceAction {
            pid: 0,
            userdata: Some(controller_userdata(
                table,
                REASON_IMPLICIT_MISS,
                u16::MAX,
                u64::MAX,
            )),
            actions: false,
            tunnel_out_port: None,
        })
    };
    // The resubmit's miss is silent; goto_table's goes to the controller.
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![pin(1)]);
    // A miss in table 0 too (port 2 has no flow).
    let x = p.xlate(&ip_pkt(12), 0, true, false);
    assert_eq!(x.actions, vec![pin(0)]);
    let c = parse_controller_userdata(&controller_userdata(0, REASON_IMPLICIT_MISS, u16::MAX, 0));
    assert_eq!(
        c.map(|c| (c.reason, c.max_len)),
        Some((REASON_IMPLICIT_MISS, u16::MAX))
    );
}
