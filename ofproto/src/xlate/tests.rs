use super::*;
use crate::ofp::flow::command;
use crate::ofp::nx_actions::Ct;
use crate::ofp::oxm::{MatchField, OxmMatch};
use crate::table::key::match_from_oxm;
use crate::table::FlowModSpec;
use dp_core::flow::{ct_state, mac_to_u64};

type F<'a> = (Field, &'a [u8], Option<&'a [u8]>);

fn pipeline() -> Pipeline {
    let p = Pipeline::new("br-x");
    {
        let mut ports = p.ports.write();
        for i in 1..=3 {
            ports.insert(i, 10 + i, &format!("p{i}"));
            p.normal.set_port(
                i,
                10 + i,
                &format!("p{i}"),
                crate::normal::PortVlan::default(),
            );
        }
    }
    p
}

fn add(p: &Pipeline, table: u8, prio: u16, fields: &[F<'_>], ins: Vec<Instruction>) {
    let om = OxmMatch {
        fields: fields
            .iter()
            .map(|(fl, v, mk)| MatchField::new(*fl, v, *mk, false).unwrap())
            .collect(),
    };
    let (value, mask) = match_from_oxm(&om).unwrap();
    let spec = FlowModSpec {
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
        instructions: ins,
        modify_may_add: false,
    };
    p.tables.write().apply(&spec, 0).unwrap();
}

fn apply(a: Vec<Action>) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(a)]
}

fn out(port: u32) -> Action {
    Action::Output { port, max_len: 0 }
}

fn ip_pkt(odp_in: u32) -> Flow {
    let mut fl = Flow::zero();
    fl.set(f::IN_PORT, odp_in as u64);
    fl.set(f::ETH_SRC, 0x0200_0000_0001);
    fl.set(f::ETH_DST, 0x0200_0000_0002);
    fl.set(f::ETH_TYPE, 0x0800);
    fl.set(f::NW_SRC, 0x0a00_0001);
    fl.set(f::NW_DST, 0x0a00_0002);
    fl.set(f::NW_PROTO, 6);
    fl.set(f::NW_TTL, 64);
    fl.set(f::TP_SRC, 1234);
    fl.set(f::TP_DST, 80);
    fl
}

const P1: &[u8] = &[0, 0, 0, 1];
const P2: &[u8] = &[0, 0, 0, 2];

#[test]
fn port_forwarding_and_drop_masks() {
    let p = pipeline();
    add(&p, 0, 10, &[(Field::InPort, P1, None)], apply(vec![out(2)]));
    add(&p, 0, 10, &[(Field::InPort, P2, None)], vec![]);
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(12)]);
    assert_eq!(x.mask.get(f::IN_PORT), 0xffff_ffff);
    assert_eq!(x.mask.get(f::ETH_DST), 0, "dl_dst not consulted");
    assert_eq!(x.mask.get(f::NW_SRC), 0);
    assert_eq!(x.rules.len(), 1);
    let x = p.xlate(&ip_pkt(12), 0, true, false);
    assert!(x.actions.is_empty(), "drop");
    // Unknown table-miss: drop.
    let x = p.xlate(&ip_pkt(13), 0, true, false);
    assert!(x.actions.is_empty());
    // Output to the input port is skipped; IN_PORT is honoured.
    add(
        &p,
        0,
        20,
        &[(Field::InPort, &[0, 0, 0, 3], None)],
        apply(vec![out(3), out(OFPP_IN_PORT)]),
    );
    let x = p.xlate(&ip_pkt(13), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(13)]);
}

#[test]
fn multi_table_resubmit_goto_and_registers() {
    let p = pipeline();
    // Table 0: load reg0=5, resubmit to 1; table 1 matches reg0=5 and goes
    // to table 2 which outputs to 3.
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![
            Action::SetField(MatchField::new(Field::Reg(0), &[0, 0, 0, 5], None, false).unwrap()),
            Action::Resubmit {
                in_port: 0xfff8,
                table: 1,
                ct: false,
                short: false,
            },
        ]),
    );
    add(
        &p,
        1,
        1,
        &[(Field::Reg(0), &[0, 0, 0, 5], None)],
        vec![Instruction::GotoTable(2)],
    );
    add(
        &p,
        2,
        1,
        &[(Field::EthType, &[8, 0], None)],
        apply(vec![out(3)]),
    );
    let x = p.xlate(&ip_pkt(11), 0, true, true);
    assert_eq!(x.actions, vec![OdpAction::Output(13)], "{:#?}", x.trace);
    assert_eq!(
        x.rules.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(
        x.trace.iter().any(|l| l.contains("goto_table:2")),
        "{:#?}",
        x.trace
    );
}

#[test]
fn set_fields_are_committed_lazily_and_unwildcarded() {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![
            Action::SetDlDst([2, 0, 0, 0, 0, 9]),
            Action::SetDlDst([2, 0, 0, 0, 0, 8]),
            out(2),
            Action::SetField(MatchField::new(Field::Ipv4Dst, &[10, 0, 0, 9], None, false).unwrap()),
            Action::DecNwTtl,
            out(3),
        ]),
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(
        x.actions,
        vec![
            OdpAction::SetMasked {
                value: SetAttr::Eth {
                    src: [2, 0, 0, 0, 0, 1],
                    dst: [2, 0, 0, 0, 0, 8]
                },
                mask: SetAttr::Eth {
                    src: [0; 6],
                    dst: [0xff; 6]
                },
            },
            OdpAction::Output(12),
            OdpAction::SetMasked {
                value: SetAttr::Ipv4 {
                    src: 0x0a00_0001,
                    dst: 0x0a00_0009,
                    tos: 0,
                    ttl: 63
                },
                mask: SetAttr::Ipv4 {
                    src: 0,
                    dst: u32::MAX,
                    tos: 0,
                    ttl: 0xff
                },
            },
            OdpAction::Output(13),
        ]
    );
    assert_eq!(x.mask.get(f::ETH_DST), 0xffff_ffff_ffff);
    assert_eq!(x.mask.get(f::NW_TTL), 0xff);
    // TTL 1: dec_ttl stops the pipeline after the first output.
    let mut fl = ip_pkt(11);
    fl.set(f::NW_TTL, 1);
    let x = p.xlate(&fl, 0, true, false);
    assert_eq!(x.actions.last(), Some(&OdpAction::Output(12)));
    assert_eq!(x.actions.len(), 2);
}

#[test]
fn vlan_push_pop_between_ports() {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[(Field::InPort, P1, None)],
        apply(vec![
            Action::PushVlan(0x8100),
            Action::SetField(MatchField::new(Field::VlanVid, &[0x10, 10], None, false).unwrap()),
            out(2),
        ]),
    );
    add(
        &p,
        0,
        1,
        &[
            (Field::InPort, P2, None),
            (Field::VlanVid, &[0x10, 10], None),
        ],
        apply(vec![Action::PopVlan, out(1)]),
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(
        x.actions,
        vec![
            OdpAction::PushVlan {
                tpid: 0x8100,
                tci: 10
            },
            OdpAction::Output(12)
        ]
    );
    let mut tagged = ip_pkt(12);
    tagged.set(f::VLAN0_TPID, 0x8100);
    tagged.set(f::VLAN0_TCI, (VLAN_CFI | 10) as u64);
    let x = p.xlate(&tagged, 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::PopVlan, OdpAction::Output(11)]);
    assert_eq!(x.mask.get(f::VLAN0_TCI) & 0x1fff, 0x1fff);
}

#[test]
fn stateful_firewall_recirculates() {
    let p = pipeline();
    let ct = |flags: u16, table: u8| {
        Action::Ct(Box::new(Ct {
            flags,
            zone_src: 0,
            zone: 0,
            recirc_table: table,
            alg: 0,
            actions: vec![],
        }))
    };
    let st = |v: u8, m: u8| -> (Field, Vec<u8>, Vec<u8>) {
        (Field::CtState, vec![0, 0, 0, v], vec![0, 0, 0, m])
    };
    let (f0, v0, m0) = st(0, ct_state::TRACKED);
    add(
        &p,
        0,
        10,
        &[(Field::EthType, &[8, 0], None), (f0, &v0, Some(&m0))],
        apply(vec![ct(0, 1)]),
    );
    let (f1, v1, m1) = st(
        ct_state::TRACKED | ct_state::NEW,
        ct_state::TRACKED | ct_state::NEW,
    );
    add(
        &p,
        1,
        10,
        &[(f1, &v1, Some(&m1)), (Field::InPort, P1, None)],
        apply(vec![ct(1, 255), out(2)]),
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions.len(), 2, "{:?}", x.actions);
    let OdpAction::Recirc(id) = x.actions[1] else {
        panic!("{:?}", x.actions)
    };
    assert!(matches!(&x.actions[0], OdpAction::Ct(c) if !c.commit));
    assert_eq!(
        x.mask.get(f::CT_STATE) & ct_state::TRACKED as u64,
        ct_state::TRACKED as u64
    );
    // Same state on revalidation: same id.
    assert_eq!(p.xlate(&ip_pkt(11), 0, false, false).actions, x.actions);
    // The recirculated packet continues in table 1.
    let mut r = ip_pkt(11);
    r.set(f::RECIRC_ID, id as u64);
    r.set(f::CT_STATE, (ct_state::TRACKED | ct_state::NEW) as u64);
    let x = p.xlate(&r, 0, true, false);
    assert!(matches!(&x.actions[0], OdpAction::Ct(c) if c.commit));
    assert_eq!(x.actions[1], OdpAction::Output(12));
    assert_eq!(x.mask.get(f::RECIRC_ID), 0xffff_ffff);
    // Unknown recirc id: drop.
    r.set(f::RECIRC_ID, 999);
    assert!(p.xlate(&r, 0, true, false).actions.is_empty());
}

#[test]
fn normal_flood_clone_and_controller() {
    let p = pipeline();
    add(&p, 0, 0, &[], apply(vec![out(OFPP_NORMAL)]));
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(
        x.actions,
        vec![OdpAction::Output(12), OdpAction::Output(13)]
    );
    assert_eq!(x.mask.get(f::ETH_SRC), 0xffff_ffff_ffff);
    // Learned: the reply goes to port 1 only.
    let mut back = ip_pkt(12);
    back.set(f::ETH_SRC, 0x0200_0000_0002);
    back.set(f::ETH_DST, 0x0200_0000_0001);
    assert_eq!(
        p.xlate(&back, 0, true, false).actions,
        vec![OdpAction::Output(11)]
    );
    add(
        &p,
        0,
        5,
        &[(Field::InPort, P2, None)],
        apply(vec![
            Action::Clone(vec![Action::SetDlSrc([2, 0, 0, 0, 0, 0x77]), out(3)]),
            out(OFPP_FLOOD),
            out(OFPP_CONTROLLER),
        ]),
    );
    let x = p.xlate(&back, 0, true, false);
    assert!(matches!(&x.actions[0], OdpAction::Clone(v) if v.len() == 2));
    assert_eq!(
        &x.actions[1..3],
        &[OdpAction::Output(11), OdpAction::Output(13)]
    );
    assert!(matches!(x.actions[3], OdpAction::Userspace(_)));
    let _ = mac_to_u64([0; 6]);
}

fn group(p: &Pipeline, id: u32, t: u8, buckets: Vec<(u16, u32, Vec<Action>)>) {
    use crate::ofp::switch::{Bucket, GroupMod};
    let gm = GroupMod {
        command: crate::group::OFPGC_ADD,
        group_type: t,
        group_id: id,
        buckets: buckets
            .into_iter()
            .map(|(weight, watch_port, actions)| Bucket {
                weight,
                watch_port,
                watch_group: crate::group::OFPG_ANY,
                actions,
            })
            .collect(),
    };
    p.groups.write().apply(&gm, 0).unwrap();
}

#[test]
fn group_all_indirect_and_fast_failover() {
    let p = pipeline();
    let set_dst = Action::SetDlDst([2, 0, 0, 0, 0, 9]);
    group(
        &p,
        1,
        crate::group::OFPGT_ALL,
        vec![
            (0, OFPP_ANY, vec![set_dst, out(2)]),
            (0, OFPP_ANY, vec![out(3)]),
        ],
    );
    add(&p, 0, 1, &[], apply(vec![Action::Group(1)]));
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    // Bucket 0's rewrite does not leak into bucket 1.
    assert_eq!(x.actions.len(), 4, "{:?}", x.actions);
    assert!(matches!(x.actions[0], OdpAction::SetMasked { .. }));
    assert_eq!(x.actions[1], OdpAction::Output(12));
    assert!(matches!(x.actions[2], OdpAction::SetMasked { .. }));
    assert_eq!(x.actions[3], OdpAction::Output(13));
    assert_eq!(x.groups, vec![(1, None)]);
    // Indirect.
    group(
        &p,
        2,
        crate::group::OFPGT_INDIRECT,
        vec![(0, OFPP_ANY, vec![out(3)])],
    );
    add(
        &p,
        0,
        5,
        &[],
        vec![Instruction::WriteActions(vec![Action::Group(2)])],
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(13)]);
    // Fast failover: first bucket whose watch port is live.
    group(
        &p,
        3,
        crate::group::OFPGT_FF,
        vec![(0, 2, vec![out(2)]), (0, 3, vec![out(3)])],
    );
    add(&p, 0, 9, &[], apply(vec![Action::Group(3)]));
    assert_eq!(
        p.xlate(&ip_pkt(11), 0, true, false).actions,
        vec![OdpAction::Output(12)]
    );
    p.ports.write().set_live(2, false);
    assert_eq!(
        p.xlate(&ip_pkt(11), 0, true, false).actions,
        vec![OdpAction::Output(13)]
    );
    p.ports.write().set_live(3, false);
    assert!(p.xlate(&ip_pkt(11), 0, true, false).actions.is_empty());
    // Unknown group: drop.
    add(&p, 0, 10, &[], apply(vec![Action::Group(77)]));
    assert!(p.xlate(&ip_pkt(11), 0, true, false).actions.is_empty());
}

#[test]
fn group_select_dp_hash_recirculates_and_picks_by_hash() {
    let p = pipeline();
    group(
        &p,
        1,
        crate::group::OFPGT_SELECT,
        vec![(1, OFPP_ANY, vec![out(2)]), (1, OFPP_ANY, vec![out(1)])],
    );
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![
            Action::SetNwTtl(9),
            Action::Group(1),
            out(OFPP_IN_PORT),
        ]),
    );
    let x = p.xlate(&ip_pkt(13), 0, true, false);
    assert_eq!(x.actions.len(), 3, "{:?}", x.actions);
    assert!(matches!(x.actions[0], OdpAction::SetMasked { .. }));
    assert_eq!(
        x.actions[1],
        OdpAction::Hash {
            alg: HashAlg::L4,
            basis: 0
        }
    );
    let OdpAction::Recirc(id) = x.actions[2] else {
        panic!("{:?}", x.actions)
    };
    // Same state, same id.
    let again = p.xlate(&ip_pkt(13), 0, true, false);
    assert_eq!(again.actions[2], OdpAction::Recirc(id));
    // The recirculated packet picks a bucket by dp_hash, then continues
    // with the frozen rest (output:1).
    let mut seen = Vec::new();
    for h in 0..64u64 {
        let mut fl = ip_pkt(13);
        fl.set(f::RECIRC_ID, id as u64);
        fl.set(f::DP_HASH, h);
        fl.set(f::NW_TTL, 9);
        let r = p.xlate(&fl, 0, true, false);
        assert_eq!(r.actions.len(), 2, "{:?}", r.actions);
        assert_eq!(r.actions[1], OdpAction::Output(13));
        if !seen.contains(&r.actions[0]) {
            seen.push(r.actions[0].clone());
        }
        let m = r.mask.get(f::DP_HASH);
        assert!(m != 0 && m < 64 && (m + 1).is_power_of_two(), "{m:#x}");
        assert_eq!(r.groups.len(), 1);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.contains(&OdpAction::Output(12)) && seen.contains(&OdpAction::Output(11)));
}

#[test]
fn group_select_dp_hash_keeps_goto_and_action_set() {
    let p = pipeline();
    group(
        &p,
        1,
        crate::group::OFPGT_SELECT,
        vec![(1, OFPP_ANY, vec![out(2)]), (1, OFPP_ANY, vec![out(2)])],
    );
    add(
        &p,
        0,
        1,
        &[],
        vec![
            Instruction::WriteActions(vec![out(OFPP_IN_PORT)]),
            Instruction::ApplyActions(vec![Action::Group(1)]),
            Instruction::GotoTable(1),
        ],
    );
    add(&p, 1, 1, &[], apply(vec![out(1)]));
    let x = p.xlate(&ip_pkt(13), 0, true, false);
    let Some(OdpAction::Recirc(id)) = x.actions.last().cloned() else {
        panic!("{:?}", x.actions)
    };
    let mut fl = ip_pkt(13);
    fl.set(f::RECIRC_ID, id as u64);
    let r = p.xlate(&fl, 0, true, false);
    assert_eq!(
        r.actions,
        vec![
            OdpAction::Output(12),
            OdpAction::Output(11),
            OdpAction::Output(13)
        ]
    );
}

#[test]
fn group_select_hash_method_is_per_flow_and_spreads() {
    let p = pipeline();
    group(
        &p,
        1,
        crate::group::OFPGT_SELECT,
        vec![(1, OFPP_ANY, vec![out(2)]), (1, OFPP_ANY, vec![out(3)])],
    );
    {
        let mut g = p.groups.write();
        let gr = g.groups.get_mut(&1).unwrap();
        gr.selection = crate::group::SelectionMethod::Hash(vec![Field::UdpSrc, Field::TcpSrc]);
    }
    add(&p, 0, 1, &[], apply(vec![Action::Group(1)]));
    let mut n = [0; 2];
    for sport in 1000..1100u64 {
        let mut fl = ip_pkt(11);
        fl.set(f::TP_SRC, sport);
        let a = p.xlate(&fl, 0, true, false);
        let b = p.xlate(&fl, 0, true, false);
        assert_eq!(a.actions, b.actions);
        assert_eq!(a.mask.get(f::TP_SRC), 0xffff);
        match a.actions[..] {
            [OdpAction::Output(12)] => n[0] += 1,
            [OdpAction::Output(13)] => n[1] += 1,
            _ => panic!("{:?}", a.actions),
        }
    }
    assert!(n[0] > 20 && n[1] > 20, "{n:?}");
}

#[test]
fn meter_instruction_and_action_emit_datapath_meter() {
    use crate::ofp::switch::{MeterBand, MeterMod};
    let p = pipeline();
    let mm = MeterMod {
        command: crate::meter::OFPMC_ADD,
        flags: crate::meter::OFPMF_PKTPS,
        meter_id: 4,
        bands: vec![MeterBand {
            band_type: 1,
            rate: 10,
            burst_size: 0,
            prec_level: 0,
            experimenter: 0,
        }],
    };
    p.meters.write().apply(&mm, 0, || Some(33)).unwrap();
    add(
        &p,
        0,
        1,
        &[],
        vec![
            Instruction::Meter(4),
            Instruction::ApplyActions(vec![out(2)]),
        ],
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Meter(33), OdpAction::Output(12)]);
    add(
        &p,
        0,
        2,
        &[],
        apply(vec![Action::Meter(4), Action::Meter(5), out(3)]),
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Meter(33), OdpAction::Output(13)]);
}

#[test]
fn group_select_dp_hash_from_the_action_set() {
    let p = pipeline();
    group(
        &p,
        1,
        crate::group::OFPGT_SELECT,
        vec![(1, OFPP_ANY, vec![out(2)]), (1, OFPP_ANY, vec![out(2)])],
    );
    add(
        &p,
        0,
        1,
        &[],
        vec![Instruction::WriteActions(vec![Action::Group(1)])],
    );
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    let Some(OdpAction::Recirc(id)) = x.actions.last().cloned() else {
        panic!("{:?}", x.actions)
    };
    let mut fl = ip_pkt(11);
    fl.set(f::RECIRC_ID, id as u64);
    assert_eq!(
        p.xlate(&fl, 0, true, false).actions,
        vec![OdpAction::Output(12)]
    );
}

mod miss;
mod pause;
mod tun_md;

fn reg_hdr(n: u8) -> OxmHeader {
    OxmHeader {
        id: Field::Reg(n).default_id(true).unwrap(),
        hasmask: false,
        length: 4,
    }
}

fn cpl(pkt_len: u16, offset: u16) -> Action {
    Action::CheckPktLarger {
        pkt_len,
        offset,
        dst: reg_hdr(0),
    }
}

#[test]
fn check_pkt_larger_translates_the_rest_twice() {
    // Table-driven: (actions of table 0, expected datapath actions).
    // Table 1 sends reg0[0]=1 (bigger) to port 2 and the rest to port 3.
    let gt_le = |gt: Vec<OdpAction>, le: Vec<OdpAction>| OdpAction::CheckPktLen {
        pkt_len: 200,
        gt,
        le,
    };
    let resub1 = Action::Resubmit {
        in_port: 0xfff8,
        table: 1,
        ct: false,
        short: false,
    };
    let cases: Vec<(Vec<Instruction>, Vec<OdpAction>)> = vec![
        // Rest of the list and a resubmit in both branches.
        (
            apply(vec![cpl(200, 0), resub1.clone()]),
            vec![gt_le(
                vec![OdpAction::Output(12)],
                vec![OdpAction::Output(13)],
            )],
        ),
        // goto_table after apply-actions runs in each branch, and the
        // rule's goto is not run a third time after check_pkt_len.
        (
            vec![
                Instruction::ApplyActions(vec![cpl(200, 0)]),
                Instruction::GotoTable(1),
            ],
            vec![gt_le(
                vec![OdpAction::Output(12)],
                vec![OdpAction::Output(13)],
            )],
        ),
        // write_actions (the action set) is run at the end of each branch.
        (
            vec![
                Instruction::ApplyActions(vec![cpl(200, 0)]),
                Instruction::WriteActions(vec![out(2)]),
            ],
            vec![gt_le(
                vec![OdpAction::Output(12)],
                vec![OdpAction::Output(12)],
            )],
        ),
        // Header changes before are committed once, outside; changes in
        // a branch do not leak into the other.
        (
            apply(vec![Action::SetNwTtl(9), cpl(200, 0), resub1.clone()]),
            vec![
                OdpAction::SetMasked {
                    value: SetAttr::Ipv4 {
                        src: 0x0a00_0001,
                        dst: 0x0a00_0002,
                        tos: 0,
                        ttl: 9,
                    },
                    mask: SetAttr::Ipv4 {
                        src: 0,
                        dst: 0,
                        tos: 0,
                        ttl: 0xff,
                    },
                },
                gt_le(vec![OdpAction::Output(12)], vec![OdpAction::Output(13)]),
            ],
        ),
        // Last action of the translation: nothing to decide.
        (
            apply(vec![out(2), cpl(200, 0)]),
            vec![OdpAction::Output(12)],
        ),
    ];
    for (i, (ins, want)) in cases.into_iter().enumerate() {
        let p = pipeline();
        add(&p, 0, 1, &[], ins);
        add(
            &p,
            1,
            2,
            &[(Field::Reg(0), &[0, 0, 0, 1], Some(&[0, 0, 0, 1]))],
            apply(vec![out(2)]),
        );
        add(&p, 1, 1, &[], apply(vec![out(3)]));
        let x = p.xlate(&ip_pkt(11), 0, true, true);
        assert_eq!(x.actions, want, "case {i}: {:#?}", x.trace);
        // The packet length is not part of the key: no field beyond the
        // base ones (and the TTL the rewrite reads) is un-wildcarded.
        assert_eq!(x.mask.get(f::NW_SRC), 0, "case {i}");
        assert_eq!(x.mask.get(f::TP_DST), 0, "case {i}");
    }
}

#[test]
fn check_pkt_larger_actions_after_resubmit_follow_it() {
    // check_pkt_larger inside a resubmitted table covers that rule only;
    // the caller's later actions come after the check_pkt_len action.
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![
            Action::Resubmit {
                in_port: 0xfff8,
                table: 1,
                ct: false,
                short: false,
            },
            out(3),
        ]),
    );
    add(&p, 1, 1, &[], apply(vec![cpl(1500, 0), out(2)]));
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(
        x.actions,
        vec![
            OdpAction::CheckPktLen {
                pkt_len: 1500,
                gt: vec![OdpAction::Output(12)],
                le: vec![OdpAction::Output(12)],
            },
            OdpAction::Output(13),
        ]
    );
}

#[test]
fn set_queue_enqueue_pop_queue_set_skb_priority() {
    // (actions, expected datapath actions); skb_priority is always exact in
    // the mask.
    let prio = |n: u32| OdpAction::Set(SetAttr::Priority(n));
    let cases: Vec<(Vec<Action>, Vec<OdpAction>)> = vec![
        (
            vec![Action::SetQueue(5), out(2)],
            vec![prio(5), OdpAction::Output(12)],
        ),
        (
            vec![Action::SetQueue(5), out(2), Action::PopQueue, out(3)],
            vec![
                prio(5),
                OdpAction::Output(12),
                prio(0),
                OdpAction::Output(13),
            ],
        ),
        (
            vec![
                Action::Enqueue {
                    port: 2,
                    queue_id: 7,
                },
                out(3),
            ],
            vec![
                prio(7),
                OdpAction::Output(12),
                prio(0),
                OdpAction::Output(13),
            ],
        ),
        // enqueue to the input port is skipped.
        (
            vec![Action::Enqueue {
                port: 1,
                queue_id: 7,
            }],
            vec![],
        ),
        // A queue set after the last output changes nothing.
        (
            vec![out(2), Action::SetQueue(3)],
            vec![OdpAction::Output(12)],
        ),
    ];
    for (i, (acts, want)) in cases.into_iter().enumerate() {
        let p = pipeline();
        add(&p, 0, 1, &[], apply(acts));
        let x = p.xlate(&ip_pkt(11), 0, true, false);
        assert_eq!(x.actions, want, "case {i}");
        assert_eq!(x.mask.get(f::SKB_PRIORITY), 0xffff_ffff, "case {i}");
    }
}

fn limited_learn(limit: u32) -> crate::ofp::nx_actions::Learn {
    use crate::ofp::nx_actions::{Learn, LearnSpec, LearnSrc};
    let nxm = |field: Field, len: u8| OxmHeader {
        id: field.default_id(true).unwrap(),
        hasmask: false,
        length: len,
    };
    // learn(table=5,cookie=0x77,limit=N,result_dst=reg1[3],
    //       NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])
    Learn {
        cookie: 0x77,
        priority: 0x8000,
        table_id: 5,
        flags: crate::ofp::nx_actions::NX_LEARN_F_WRITE_RESULT,
        specs: vec![LearnSpec {
            header: 48,
            src: LearnSrc::Field(nxm(Field::EthSrc, 6), 0),
            dst: Some((nxm(Field::EthDst, 6), 0)),
        }],
        limit,
        result_dst: Some((reg_hdr(1), 3)),
        ..Default::default()
    }
}

#[test]
fn learn2_limit_and_result_dst() {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![
            Action::Learn(Box::new(limited_learn(2))),
            Action::Resubmit {
                in_port: 0xfff8,
                table: 1,
                ct: false,
                short: false,
            },
        ]),
    );
    // Table 1: reg1[3]=1 (learned) -> port 2, else port 3.
    add(
        &p,
        1,
        2,
        &[(Field::Reg(1), &[0, 0, 0, 8], Some(&[0, 0, 0, 8]))],
        apply(vec![out(2)]),
    );
    add(&p, 1, 1, &[], apply(vec![out(3)]));
    let with_src = |mac: u64| {
        let mut fl = ip_pkt(11);
        fl.set(f::ETH_SRC, mac);
        fl
    };
    let n5 = |p: &Pipeline| p.tables.read().table(5).unwrap().rules.len();
    // Two sources learn (limit 2), the third does not; an already learned
    // source still "learns" (refresh).
    for (i, (mac, port, learned)) in [
        (0x0200_0000_00a1u64, 12u32, 1usize),
        (0x0200_0000_00a2, 12, 2),
        (0x0200_0000_00a3, 13, 2),
        (0x0200_0000_00a1, 12, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let x = p.xlate(&with_src(mac), 0, true, false);
        assert_eq!(x.actions, vec![OdpAction::Output(port)], "packet {i}");
        assert_eq!(n5(&p), learned, "packet {i}");
        // The learn reads eth_src: exact in the megaflow.
        assert_eq!(x.mask.get(f::ETH_SRC), 0xffff_ffff_ffff, "packet {i}");
    }
    // limit 0: no limit, and no result written without result_dst.
    let mut l = limited_learn(0);
    l.result_dst = None;
    l.flags = 0;
    let p2 = pipeline();
    add(
        &p2,
        0,
        1,
        &[],
        apply(vec![Action::Learn(Box::new(l)), out(2)]),
    );
    for m in 0..5u64 {
        p2.xlate(&with_src(0x0200_0000_0100 + m), 0, true, false);
    }
    assert_eq!(n5(&p2), 5);
}

#[test]
fn fin_timeout_is_reported_and_reduces_timeouts_on_fin() {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![Action::FinTimeout { idle: 2, hard: 0 }, out(2)]),
    );
    {
        // Give the rule a long idle timeout.
        let mut t = p.tables.write();
        let id = *t.table(0).unwrap().rules.keys().next().unwrap();
        t.tables[0].rules.get_mut(&id).unwrap().idle_timeout = 300;
    }
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(12)]);
    assert_eq!(x.fin_timeouts.len(), 1);
    assert_eq!(x.mask.get(f::NW_PROTO), 0xff, "fin_timeout reads nw_proto");
    let idle = |p: &Pipeline| {
        p.tables
            .read()
            .table(0)
            .unwrap()
            .rules
            .values()
            .next()
            .unwrap()
            .idle_timeout
    };
    use dp_core::flow::tcp_flags::{ACK, FIN, RST, SYN};
    assert!(!p.apply_fin_timeouts(&x.fin_timeouts, SYN | ACK));
    assert_eq!(idle(&p), 300);
    assert!(p.apply_fin_timeouts(&x.fin_timeouts, FIN | ACK));
    assert_eq!(idle(&p), 2);
    // Never raised again.
    assert!(!p.apply_fin_timeouts(&x.fin_timeouts, RST));
    assert_eq!(idle(&p), 2);
}

#[test]
fn controller_userdata_carries_cookie_and_max_len() {
    let p = pipeline();
    add(
        &p,
        0,
        1,
        &[],
        apply(vec![Action::Output {
            port: OFPP_CONTROLLER,
            max_len: 64,
        }]),
    );
    {
        let mut t = p.tables.write();
        let id = *t.table(0).unwrap().rules.keys().next().unwrap();
        t.tables[0].rules.get_mut(&id).unwrap().cookie = 0xabc;
    }
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    let Some(OdpAction::Userspace(u)) = x.actions.first() else {
        panic!("{:?}", x.actions);
    };
    let c = parse_controller_userdata(u.userdata.as_deref().unwrap()).unwrap();
    assert_eq!(
        c,
        ControllerCookie {
            table: 0,
            reason: 1,
            max_len: 64,
            cookie: 0xabc
        }
    );
    assert_eq!(parse_controller_userdata(&[2, 0, 0]), None);
}

fn sf(field: Field, v: &[u8]) -> Action {
    Action::SetField(MatchField::new(field, v, None, false).unwrap())
}

fn resubmit(table: u8) -> Action {
    Action::Resubmit {
        in_port: 0xfff8,
        table,
        ct: false,
        short: false,
    }
}

/// An Ethernet frame carrying NSH MD type 1 (SPI 5, SI 254) whose next
/// protocol is `np`, from datapath port `odp_in`.
fn nsh_pkt(odp_in: u32, np: u8) -> Flow {
    let mut fl = Flow::zero();
    fl.set(f::IN_PORT, odp_in as u64);
    fl.set(f::ETH_SRC, 0x0200_0000_0001);
    fl.set(f::ETH_DST, 0x0200_0000_0002);
    fl.set(f::ETH_TYPE, 0x894f);
    fl.set(f::NSH_TTL, 63);
    fl.set(f::NSH_MDTYPE, 1);
    fl.set(f::NSH_NP, np as u64);
    fl.set(f::NSH_SPI, 5);
    fl.set(f::NSH_SI, 254);
    fl
}

#[test]
fn encap_nsh_set_fields_encap_ethernet() {
    // (actions, expected datapath actions) for ip_pkt(11).
    let nsh = Action::Encap {
        hdr_size: 0,
        new_pkt_type: dp_core::nsh::PT_NSH,
        props: Vec::new(),
    };
    let eth = Action::Encap {
        hdr_size: 0,
        new_pkt_type: 0,
        props: Vec::new(),
    };
    // encap(nsh(md_type=2,tlv(0x1000,10,0x12345678))), as ovs-ofctl encodes it.
    let nsh2 = Action::Encap {
        hdr_size: 0,
        new_pkt_type: dp_core::nsh::PT_NSH,
        props: vec![
            0, 4, 1, 8, 2, 0, 0, 0, // md_type=2
            0, 4, 2, 16, 0x10, 0, 10, 4, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0,
        ],
    };
    let cases: Vec<(Vec<Action>, &str)> = vec![
        (
            vec![
                nsh.clone(),
                sf(Field::NshSpi, &[0, 0x12, 0x34, 0x56]),
                sf(Field::NshSi, &[7]),
                sf(Field::NshC(0), &[0xaa, 0, 0, 1]),
                Action::DecNshTtl,
                eth.clone(),
                sf(Field::EthDst, &[2, 0, 0, 0, 0, 9]),
                out(2),
            ],
            "push_nsh(flags=0,ttl=62,mdtype=1,np=3,spi=0x123456,si=7,c1=0xaa000001,c2=0x0,c3=0x0,c4=0x0),\
             push_eth(src=00:00:00:00:00:00,dst=02:00:00:00:00:09),12",
        ),
        // Rewrites after the push become set(nsh(...)) of the changed fields.
        (
            vec![
                nsh.clone(),
                eth.clone(),
                out(2),
                Action::DecNshTtl,
                sf(Field::NshSi, &[9]),
                out(3),
            ],
            "push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x0,si=255,c1=0x0,c2=0x0,c3=0x0,c4=0x0),\
             push_eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00),12,\
             set(nsh(ttl=62,si=9)),13",
        ),
        (
            vec![nsh2, eth.clone(), out(2)],
            "push_nsh(flags=0,ttl=63,mdtype=2,np=3,spi=0x0,si=255,md2=0x10000a0412345678),\
             push_eth(src=00:00:00:00:00:00,dst=00:00:00:00:00:00),12",
        ),
        // NSH without Ethernet cannot leave on an Ethernet port.
        (vec![nsh.clone(), out(2)], "drop"),
        // encap(ethernet) of an Ethernet frame: translation error, drop.
        (vec![eth, out(2)], "drop"),
        // dec_nsh_ttl on a non-NSH packet stops the action list.
        (vec![out(2), Action::DecNshTtl, out(3)], "12"),
    ];
    for (acts, want) in cases {
        let p = pipeline();
        add(&p, 0, 1, &[], apply(acts.clone()));
        let x = p.xlate(&ip_pkt(11), 0, true, false);
        let got = dp_core::odp_text::format_actions(&x.actions);
        assert_eq!(got, want.replace(' ', ""), "{acts:?}");
        if want.contains("push") {
            assert_eq!(x.mask.get(f::PACKET_TYPE), 0xffff_ffff);
        }
    }
}

#[test]
fn decap_ethernet_then_nsh_recirculates_and_resumes() {
    let p = pipeline();
    let decap = Action::Decap {
        new_pkt_type: 0xfffe,
    };
    let nsh_et: &[u8] = &[0x89, 0x4f];
    let pt_nsh: &[u8] = &[0, 1, 0x89, 0x4f];
    // Table 0: strip Ethernet (no recirculation: the NSH fields stay valid).
    add(
        &p,
        0,
        1,
        &[(Field::EthType, nsh_et, None)],
        apply(vec![decap.clone(), resubmit(1)]),
    );
    // Table 1: match the NSH header of the L3 packet, decap it; the inner
    // packet must be parsed, so the rest (resubmit to 2) is frozen.
    add(
        &p,
        1,
        1,
        &[
            (Field::PacketType, pt_nsh, None),
            (Field::NshSpi, &[0, 0, 0, 5], None),
            (Field::NshSi, &[254], None),
        ],
        apply(vec![decap.clone(), resubmit(2)]),
    );
    add(
        &p,
        2,
        1,
        &[(Field::EthType, &[8, 0], None)],
        apply(vec![out(2)]),
    );

    let x = p.xlate(&nsh_pkt(11, dp_core::nsh::NSH_P_ETHERNET), 0, true, false);
    let [OdpAction::PopEth, OdpAction::PopNsh, OdpAction::Recirc(id)] = x.actions[..] else {
        panic!("{:?}", x.actions)
    };
    assert_eq!(x.mask.get(f::NSH_SPI), 0xff_ffff);
    assert_eq!(x.mask.get(f::NSH_NP), 0xff);
    assert_eq!(x.mask.get(f::PACKET_TYPE), 0xffff_ffff);
    // Another SPI misses table 1: drop (the pending pop_eth is never
    // committed).
    let mut other = nsh_pkt(11, dp_core::nsh::NSH_P_ETHERNET);
    other.set(f::NSH_SPI, 6);
    assert_eq!(p.xlate(&other, 0, true, false).actions, vec![]);

    // The recirculated inner Ethernet frame resumes with resubmit(,2).
    let mut inner = ip_pkt(11);
    inner.set(f::RECIRC_ID, id as u64);
    let r = p.xlate(&inner, 0, true, false);
    assert_eq!(r.actions, vec![OdpAction::Output(12)]);
    assert_eq!(r.mask.get(f::PACKET_TYPE), 0xffff_ffff);

    // An inner IPv4 packet (next protocol 1) recirculates with the same
    // id; as an L3 packet it cannot be output on an Ethernet port.
    let x = p.xlate(&nsh_pkt(11, dp_core::nsh::NSH_P_IPV4), 0, true, false);
    assert_eq!(x.actions.last(), Some(&OdpAction::Recirc(id)));
    let mut l3 = ip_pkt(11);
    l3.set(f::ETH_SRC, 0);
    l3.set(f::ETH_DST, 0);
    l3.set(f::PACKET_TYPE, dp_core::nsh::PT_IPV4 as u64);
    l3.set(f::RECIRC_ID, id as u64);
    assert_eq!(p.xlate(&l3, 0, true, false).actions, vec![]);

    // Unknown next protocol: drop.
    let x = p.xlate(&nsh_pkt(11, 9), 0, true, false);
    assert_eq!(x.actions, vec![]);
}

/// OFPPC_* bits (OFPT_PORT_MOD): NO_FLOOD leaves a port out of FLOOD and
/// NORMAL's flooding but not ALL; NO_FWD drops output to it; NO_RECV drops
/// what it receives.
#[test]
fn port_config_bits() {
    use crate::ofp::switch::ofppc;
    let p = pipeline();
    add(&p, 0, 0, &[], apply(vec![out(OFPP_FLOOD)]));
    p.ports.write().set_config(3, ofppc::NO_FLOOD);
    p.normal.set_floodable(3, false);
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(12)]);
    add(&p, 0, 0, &[], apply(vec![out(OFPP_ALL)]));
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(
        x.actions,
        vec![OdpAction::Output(12), OdpAction::Output(13)]
    );
    add(&p, 0, 0, &[], apply(vec![out(OFPP_NORMAL)]));
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(12)]);
    // NO_FWD on port 2: NORMAL's flood reaches nobody; explicit output too.
    p.ports.write().set_config(2, ofppc::NO_FWD);
    let x = p.xlate(&ip_pkt(11), 0, true, true);
    assert_eq!(x.actions, vec![]);
    add(&p, 0, 0, &[], apply(vec![out(2)]));
    let x = p.xlate(&ip_pkt(11), 0, true, true);
    assert_eq!(x.actions, vec![]);
    assert!(
        x.trace
            .iter()
            .any(|l| l.contains("OFPPC_NO_FWD set, skipping output")),
        "{:?}",
        x.trace
    );
    // NO_RECV on port 1.
    add(&p, 0, 0, &[], apply(vec![out(3)]));
    assert_eq!(
        p.xlate(&ip_pkt(11), 0, true, false).actions,
        vec![OdpAction::Output(13)]
    );
    p.ports.write().set_config(1, ofppc::NO_RECV);
    assert_eq!(p.xlate(&ip_pkt(11), 0, true, false).actions, vec![]);
    assert_eq!(
        p.xlate(&ip_pkt(12), 0, true, false).actions,
        vec![OdpAction::Output(13)]
    );
}

/// `sample(...)` without IPFIX configured (no Flow_Sample_Collector_Set):
/// accepted, no datapath action, the following actions unchanged (OVS
/// `xlate_sample_action()` returns early without `xbridge->ipfix`).
#[test]
fn sample_without_ipfix_emits_nothing() {
    let p = pipeline();
    let s = Action::Sample(crate::ofp::nx_actions::Sample {
        subtype: 29,
        probability: 65535,
        collector_set_id: 1,
        obs_domain_id: 2,
        obs_point_id: 3,
        sampling_port: 0,
        direction: 0,
    });
    add(&p, 0, 0, &[], apply(vec![s.clone()]));
    assert_eq!(p.xlate(&ip_pkt(11), 0, true, false).actions, vec![]);
    add(&p, 0, 0, &[], apply(vec![s, out(2)]));
    assert_eq!(
        p.xlate(&ip_pkt(11), 0, true, false).actions,
        vec![OdpAction::Output(12)]
    );
}
