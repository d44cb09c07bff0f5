use super::hash_fields::*;
use crate::ofp::actions::{Action, OFPP_ANY};
use crate::ofp::flow::command;
use crate::ofp::instructions::Instruction;
use crate::ofp::nx_actions::{Bundle, Multipath};
use crate::ofp::oxm::{Field, OxmHeader};
use crate::table::key::XKey;
use crate::table::FlowModSpec;
use crate::xlate::Pipeline;
use dp_core::actions::OdpAction;
use dp_core::flow::{fields as f, Flow};
use std::collections::BTreeSet;

fn pipeline(n: u32) -> Pipeline {
    let p = Pipeline::new("br-m");
    {
        let mut ports = p.ports.write();
        for i in 1..=n {
            ports.insert(i, 10 + i, &format!("p{i}"));
        }
    }
    p
}

fn add(p: &Pipeline, table: u8, prio: u16, value: XKey, mask: XKey, acts: Vec<Action>) {
    let fm = FlowModSpec {
        command: command::ADD,
        table_id: table,
        priority: prio,
        value,
        mask,
        cookie: 0,
        cookie_mask: 0,
        new_cookie: None,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        importance: 0,
        out_port: OFPP_ANY,
        instructions: vec![Instruction::ApplyActions(acts)],
        modify_may_add: false,
    };
    p.tables.write().apply(&fm, 0).unwrap();
}

fn reg0() -> OxmHeader {
    OxmHeader {
        id: Field::Reg(0).default_id(true).unwrap(),
        hasmask: false,
        length: 4,
    }
}

fn tcp(src_port: u64) -> Flow {
    let mut fl = Flow::zero();
    fl.set(f::IN_PORT, 11);
    fl.set(f::ETH_SRC, 0x0200_0000_0001);
    fl.set(f::ETH_DST, 0x0200_0000_0002);
    fl.set(f::ETH_TYPE, 0x0800);
    fl.set(f::NW_SRC, 0x0a00_0001);
    fl.set(f::NW_DST, 0x0a00_0002);
    fl.set(f::NW_PROTO, 6);
    fl.set(f::TP_SRC, src_port);
    fl.set(f::TP_DST, 80);
    fl
}

/// `multipath(symmetric_l3l4,0,ALG,4,0,NXM_NX_REG0[])`, then table 1
/// outputs to port `reg0 + 2`.
fn multipath_pipeline(alg: u16) -> Pipeline {
    let p = pipeline(6);
    add(
        &p,
        0,
        0,
        XKey::default(),
        XKey::default(),
        vec![
            Action::Multipath(Multipath {
                fields: SYMMETRIC_L3L4,
                basis: 0,
                algorithm: alg,
                max_link: 3,
                arg: 0,
                ofs_nbits: 31,
                dst: reg0(),
            }),
            Action::Resubmit {
                in_port: 0xfff8,
                table: 1,
                ct: false,
                short: false,
            },
        ],
    );
    for link in 0..4u64 {
        let mut v = XKey::default();
        let mut m = XKey::default();
        v.meta[1] = link << 32;
        m.meta[1] = 0xffff_ffff << 32;
        add(
            &p,
            1,
            1,
            v,
            m,
            vec![Action::Output {
                port: link as u32 + 2,
                max_len: 0,
            }],
        );
    }
    p
}

#[test]
fn multipath_spreads_over_links_and_unwildcards_the_hashed_fields() {
    for alg in 0..4 {
        let p = multipath_pipeline(alg);
        let mut seen = BTreeSet::new();
        for sport in 1000..1200 {
            let x = p.xlate(&tcp(sport), 0, false, false);
            let [OdpAction::Output(o)] = x.actions[..] else {
                panic!("alg {alg}: {:?}", x.actions)
            };
            assert!((12..=15).contains(&o), "alg {alg}: {o}");
            seen.insert(o);
            for fd in [f::NW_SRC, f::NW_DST, f::NW_PROTO, f::TP_SRC, f::TP_DST] {
                assert_eq!(x.mask.get(fd), fd.max(), "alg {alg}: {fd:?}");
            }
            // Deterministic: revalidation gives the same answer.
            assert_eq!(p.xlate(&tcp(sport), 0, false, false).actions, x.actions);
        }
        assert_eq!(seen.len(), 4, "alg {alg} uses every link: {seen:?}");
    }
}

#[test]
fn multipath_symmetric_fields_pick_the_same_link_both_ways() {
    let p = multipath_pipeline(2);
    for sport in 1000..1050 {
        let fwd = tcp(sport);
        let mut rev = fwd.clone();
        rev.set(f::NW_SRC, fwd.get(f::NW_DST));
        rev.set(f::NW_DST, fwd.get(f::NW_SRC));
        rev.set(f::TP_SRC, fwd.get(f::TP_DST));
        rev.set(f::TP_DST, fwd.get(f::TP_SRC));
        assert_eq!(
            p.xlate(&fwd, 0, false, false).actions,
            p.xlate(&rev, 0, false, false).actions
        );
    }
}

fn bundle(alg: u16, load: bool, members: Vec<u16>) -> Action {
    Action::Bundle(Bundle {
        load,
        algorithm: alg,
        fields: SYMMETRIC_L4,
        basis: 0,
        slave_type: 0x0000_0002,
        ofs_nbits: if load { 15 } else { 0 },
        dst: if load { 0x0001_0004 } else { 0 },
        members,
    })
}

#[test]
fn bundle_active_backup_follows_liveness() {
    let p = pipeline(4);
    add(
        &p,
        0,
        0,
        XKey::default(),
        XKey::default(),
        vec![bundle(0, false, vec![2, 3, 4])],
    );
    let out = |p: &Pipeline| p.xlate(&tcp(1), 0, false, false).actions;
    assert_eq!(out(&p), vec![OdpAction::Output(12)]);
    p.ports.write().set_live(2, false);
    assert_eq!(out(&p), vec![OdpAction::Output(13)]);
    p.ports.write().set_live(3, false);
    p.ports.write().set_live(4, false);
    assert_eq!(out(&p), vec![]);
}

#[test]
fn bundle_hrw_spreads_and_bundle_load_writes_the_member() {
    let p = pipeline(5);
    add(
        &p,
        0,
        0,
        XKey::default(),
        XKey::default(),
        vec![bundle(1, false, vec![2, 3, 4, 5])],
    );
    let mut seen = BTreeSet::new();
    for sport in 1000..1100 {
        let x = p.xlate(&tcp(sport), 0, false, false);
        let [OdpAction::Output(o)] = x.actions[..] else {
            panic!("{:?}", x.actions)
        };
        assert_eq!(x.mask.get(f::TP_SRC), 0xffff);
        seen.insert(o);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    // bundle_load into reg0[0..15] (NXM_NX_REG0 = 0x00010004), then
    // table 1 matches reg0=4.
    let p2 = pipeline(5);
    add(
        &p2,
        0,
        0,
        XKey::default(),
        XKey::default(),
        vec![
            bundle(0, true, vec![4, 5]),
            Action::Resubmit {
                in_port: 0xfff8,
                table: 1,
                ct: false,
                short: false,
            },
        ],
    );
    let mut v = XKey::default();
    let mut m = XKey::default();
    v.meta[1] = 4 << 32;
    m.meta[1] = 0xffff << 32;
    add(
        &p2,
        1,
        1,
        v,
        m,
        vec![Action::Output {
            port: 3,
            max_len: 0,
        }],
    );
    assert_eq!(
        p2.xlate(&tcp(1), 0, false, false).actions,
        vec![OdpAction::Output(13)]
    );
}
