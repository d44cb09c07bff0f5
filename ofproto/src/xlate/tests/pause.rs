//! `controller(pause)`: what is frozen and how NXT_RESUME continues it.

use super::*;
use crate::ofp::nx_actions::Controller2;

fn resubmit(table: u8) -> Action {
    Action::Resubmit {
        in_port: 0xfff8,
        table,
        ct: false,
        short: false,
    }
}

fn pause() -> Action {
    Action::Controller2(Controller2 {
        pause: true,
        ..Default::default()
    })
}

fn paused_of(p: &Pipeline, x: &XlateOut) -> std::sync::Arc<Paused> {
    let Some(OdpAction::Userspace(u)) = x.actions.last() else {
        panic!("no userspace action: {:?}", x.actions);
    };
    let id = pause_id_of(u.userdata.as_deref().unwrap()).unwrap();
    p.recirc.lock().paused(id).unwrap()
}

/// Table 0 writes output:2 to the action set, loads reg0 and resubmits to
/// table 1 before output:3; table 1 rewrites eth_dst, pauses, outputs to 2
/// and goes to table 2, which decrements the TTL.
fn paused_pipeline() -> Pipeline {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[(Field::InPort, P1, None)],
        vec![
            Instruction::ApplyActions(vec![
                Action::SetField(
                    MatchField::new(Field::Reg(0), &[0, 0, 0, 7], None, false).unwrap(),
                ),
                resubmit(1),
                out(3),
            ]),
            Instruction::WriteActions(vec![out(2)]),
        ],
    );
    add(
        &p,
        1,
        1,
        &[],
        vec![
            Instruction::ApplyActions(vec![
                Action::SetDlDst([2, 0, 0, 0, 0, 0x99]),
                pause(),
                out(2),
            ]),
            Instruction::GotoTable(2),
        ],
    );
    add(&p, 2, 1, &[], apply(vec![Action::DecNwTtl]));
    p
}

#[test]
fn pause_freezes_the_rest_of_the_stack_and_the_action_set() {
    let p = paused_pipeline();
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    // The rewrite before the pause is committed; nothing after it runs.
    assert_eq!(x.actions.len(), 2, "{:?}", x.actions);
    assert!(matches!(x.actions[0], OdpAction::SetMasked { .. }));
    let st = paused_of(&p, &x);
    assert_eq!((st.table, st.reason, st.in_port), (1, 1, 1));
    assert_eq!(st.meta[1] >> 32, 7, "reg0 is frozen");
    let segs: Vec<(u8, Vec<Action>)> = st
        .segments
        .iter()
        .map(|s| (s.table_id, s.actions.clone()))
        .collect();
    assert_eq!(
        segs,
        vec![(1, vec![out(2)]), (1, vec![resubmit(2)]), (0, vec![out(3)]),]
    );
    assert_eq!(st.action_set, vec![out(2)]);
    // The same packet pauses with the same continuation id.
    assert_eq!(p.xlate(&ip_pkt(11), 0, false, false).actions, x.actions);
}

#[test]
fn resume_runs_the_frozen_actions_then_the_action_set() {
    let p = paused_pipeline();
    let st = paused_of(&p, &p.xlate(&ip_pkt(11), 0, true, false));
    let mut fl = ip_pkt(11);
    fl.set(f::ETH_DST, 0x0200_0000_0099);
    let r = Resume {
        meta: &st.meta,
        segments: &st.segments,
        action_set: &st.action_set,
    };
    let x = p.xlate_resume(&fl, 1, r, 0);
    assert_eq!(x.actions.len(), 4, "{:?}", x.actions);
    assert_eq!(x.actions[0], OdpAction::Output(12));
    assert!(matches!(x.actions[1], OdpAction::SetMasked { .. }), "ttl");
    assert_eq!(
        &x.actions[2..],
        &[OdpAction::Output(13), OdpAction::Output(12)]
    );
    // A second pause in the resumed actions freezes what is left again.
    let twice = vec![Segment {
        table_id: 1,
        cookie: 0,
        actions: vec![out(3), pause(), out(2)],
    }];
    let r = Resume {
        meta: &st.meta,
        segments: &twice,
        action_set: &[],
    };
    let x = p.xlate_resume(&fl, 1, r, 0);
    assert_eq!(x.actions[0], OdpAction::Output(13));
    let again = paused_of(&p, &x);
    assert_eq!(again.segments[0].actions, vec![out(2)]);
}

#[test]
fn pause_inside_clone_freezes_only_the_clone() {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![Action::Clone(vec![pause(), out(2)]), out(3)]),
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    let OdpAction::Clone(inner) = &x.actions[0] else {
        panic!("{:?}", x.actions);
    };
    assert!(matches!(inner[..], [OdpAction::Userspace(_)]));
    assert_eq!(x.actions[1], OdpAction::Output(13));
}
