use super::*;
use crate::ofp::nx_actions::LearnSpec;
use crate::ofp::oxm::OxmId;
use crate::xlate::Pipeline;
use dp_core::flow::{fields as f, Flow};

fn nxm(field: Field, len: u8) -> OxmHeader {
    let id: OxmId = field.default_id(true).unwrap();
    OxmHeader {
        id,
        hasmask: false,
        length: len,
    }
}

/// `learn(table=10,idle_timeout=T,cookie=C,[delete_learned,]
/// NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])`.
fn mac_learn(cookie: u64, delete_learned: bool) -> Learn {
    Learn {
        idle_timeout: 30,
        hard_timeout: 0,
        priority: 0x8000,
        cookie,
        flags: if delete_learned {
            NX_LEARN_F_DELETE_LEARNED
        } else {
            0
        },
        table_id: 10,
        fin_idle_timeout: 0,
        fin_hard_timeout: 0,
        limit: 0,
        result_dst: None,
        specs: vec![
            LearnSpec {
                header: 48,
                src: LearnSrc::Field(nxm(Field::EthSrc, 6), 0),
                dst: Some((nxm(Field::EthDst, 6), 0)),
            },
            LearnSpec {
                header: 2 << 11 | 16,
                src: LearnSrc::Field(nxm(Field::InPort, 2), 0),
                dst: None,
            },
        ],
    }
}

fn key(in_port: u32, src: u64) -> XKey {
    let mut k = XKey::default();
    k.flow.set(f::IN_PORT, in_port as u64);
    k.flow.set(f::ETH_SRC, src);
    k.flow.set(f::ETH_DST, 0xffff_ffff_ffff);
    k.flow.set(f::ETH_TYPE, 0x0806);
    k
}

#[test]
fn learned_flow_contents_and_wildcards() {
    let mut wc = XKey::default();
    let fm = learn_flow_mod(&mac_learn(7, false), &key(3, 0x0200_0000_0001), &mut wc).unwrap();
    assert_eq!(fm.table_id, 10);
    assert_eq!(fm.priority, 0x8000);
    assert_eq!(fm.cookie, 7);
    assert_eq!(fm.idle_timeout, 30);
    assert_eq!(fm.value.flow.get(f::ETH_DST), 0x0200_0000_0001);
    assert_eq!(fm.mask.flow.get(f::ETH_DST), 0xffff_ffff_ffff);
    let mut only = XKey::default();
    only.flow.set(f::ETH_DST, 0xffff_ffff_ffff);
    assert_eq!(fm.mask, only, "the learned match is dl_dst only");
    assert_eq!(
        fm.instructions,
        vec![Instruction::ApplyActions(vec![Action::Output {
            port: 3,
            max_len: 0
        }])]
    );
    // The megaflow must include what learn read: eth_src and in_port.
    assert_eq!(wc.flow.get(f::ETH_SRC), 0xffff_ffff_ffff);
    assert_eq!(wc.flow.get(f::IN_PORT), 0xffff_ffff);
    assert_eq!(wc.flow.get(f::ETH_DST), 0);
}

#[test]
fn load_and_immediate_specs_and_local_port() {
    // learn(table=5,NXM_NX_REG1[0..15]=0x2a,load:NXM_OF_ETH_SRC[0..15]->NXM_NX_REG0[16..31],
    //       output:NXM_OF_IN_PORT[])
    let l = Learn {
        idle_timeout: 0,
        hard_timeout: 10,
        priority: 5,
        cookie: 0,
        flags: NX_LEARN_F_SEND_FLOW_REM,
        table_id: 5,
        fin_idle_timeout: 0,
        fin_hard_timeout: 0,
        limit: 0,
        result_dst: None,
        specs: vec![
            LearnSpec {
                header: 1 << 13 | 16,
                src: LearnSrc::Immediate(vec![0, 0x2a]),
                dst: Some((nxm(Field::Reg(1), 4), 0)),
            },
            LearnSpec {
                header: 1 << 11 | 16,
                src: LearnSrc::Field(nxm(Field::EthSrc, 6), 0),
                dst: Some((nxm(Field::Reg(0), 4), 16)),
            },
            LearnSpec {
                header: 2 << 11 | 16,
                src: LearnSrc::Field(nxm(Field::InPort, 2), 0),
                dst: None,
            },
        ],
    };
    let mut wc = XKey::default();
    let k = key(crate::ofp::actions::OFPP_LOCAL, 0x0200_0000_beef);
    let fm = learn_flow_mod(&l, &k, &mut wc).unwrap();
    assert_eq!(fm.flags, flags::SEND_FLOW_REM);
    assert_eq!(fm.hard_timeout, 10);
    // reg1 is the low half of xreg0 (meta word 1).
    assert_eq!(fm.mask.meta[1], 0xffff);
    assert_eq!(fm.value.meta[1], 0x2a);
    let acts = match &fm.instructions[..] {
        [Instruction::ApplyActions(a)] => a.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        acts[0],
        Action::RegLoad {
            ofs_nbits: 16 << 6 | 15,
            dst: nxm(Field::Reg(0), 4),
            value: 0xbeef,
        }
    );
    assert_eq!(
        acts[1],
        Action::Output {
            port: crate::ofp::actions::OFPP_LOCAL,
            max_len: 0
        }
    );
    // Only the 16 bits read are un-wildcarded.
    assert_eq!(wc.flow.get(f::ETH_SRC), 0xffff);
}

#[test]
fn learn_refreshes_identical_flows_and_modifies_changed_ones() {
    let mut t = Tables::new();
    let mut wc = XKey::default();
    let fm = learn_flow_mod(&mac_learn(0, false), &key(1, 0xaa), &mut wc).unwrap();
    assert!(t.learn(&fm, 1));
    let v = t.version;
    assert!(!t.learn(&fm, 2), "an identical flow is only refreshed");
    assert_eq!(t.version, v);
    let r = t.tables[10].rules.values().next().unwrap();
    assert_eq!(r.modified_ns, 2);
    let id = r.id;
    // The MAC moved to port 2: same flow, new actions.
    let fm2 = learn_flow_mod(&mac_learn(0, false), &key(2, 0xaa), &mut wc).unwrap();
    assert!(t.learn(&fm2, 3));
    assert!(t.version > v);
    assert_eq!(t.tables[10].rules.len(), 1);
    let r = &t.tables[10].rules[&id];
    assert!(r.outputs_to(2) && !r.outputs_to(1));
}

fn spec(table: u8, prio: u16, cookie: u64, ins: Vec<Instruction>) -> FlowModSpec {
    FlowModSpec {
        command: command::ADD,
        table_id: table,
        priority: prio,
        value: XKey::default(),
        mask: XKey::default(),
        cookie,
        cookie_mask: 0,
        new_cookie: None,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        importance: 0,
        out_port: OFPP_ANY,
        instructions: ins,
        modify_may_add: false,
    }
}

#[test]
fn delete_learned_removes_the_learned_flows() {
    let mut t = Tables::new();
    let learner = spec(
        0,
        1,
        0,
        vec![Instruction::ApplyActions(vec![Action::Learn(Box::new(
            mac_learn(0x55, true),
        ))])],
    );
    t.apply(&learner, 0).unwrap();
    // A second learner with the same (table, cookie) keeps them alive.
    let mut learner2 = learner.clone();
    learner2.priority = 2;
    t.apply(&learner2, 0).unwrap();
    let mut wc = XKey::default();
    for (p, mac) in [(1, 0xa1), (2, 0xa2)] {
        let fm = learn_flow_mod(&mac_learn(0x55, true), &key(p, mac), &mut wc).unwrap();
        t.learn(&fm, 0);
    }
    // An unrelated flow in table 10 with another cookie survives.
    t.apply(&spec(10, 0, 0x66, Vec::new()), 0).unwrap();
    assert_eq!(t.tables[10].rules.len(), 3);
    let mut del = learner.clone();
    del.command = command::DELETE_STRICT;
    let out = t.apply(&del, 0).unwrap();
    assert_eq!(out.removed.len(), 1);
    assert_eq!(t.tables[10].rules.len(), 3);
    let mut del2 = learner2.clone();
    del2.command = command::DELETE_STRICT;
    let out = t.apply(&del2, 0).unwrap();
    assert_eq!(out.removed.len(), 3, "the learner and its two flows");
    assert_eq!(t.tables[10].rules.len(), 1);
    assert_eq!(t.tables[10].rules.values().next().unwrap().cookie, 0x66);
}

fn pipeline() -> Pipeline {
    let p = Pipeline::new("br-l");
    {
        let mut ports = p.ports.write();
        for i in 1..=3 {
            ports.insert(i, 10 + i, &format!("p{i}"));
        }
    }
    let mut t = p.tables.write();
    t.apply(
        &spec(
            0,
            0,
            0,
            vec![Instruction::ApplyActions(vec![
                Action::Learn(Box::new(mac_learn(0, false))),
                Action::Resubmit {
                    in_port: 0xfff8,
                    table: 10,
                    ct: false,
                    short: false,
                },
            ])],
        ),
        0,
    )
    .unwrap();
    t.apply(
        &spec(
            10,
            0,
            0,
            vec![Instruction::ApplyActions(vec![Action::Output {
                port: crate::ofp::actions::OFPP_FLOOD,
                max_len: 0,
            }])],
        ),
        0,
    )
    .unwrap();
    drop(t);
    p
}

fn frame(odp_in: u32, src: u64, dst: u64) -> Flow {
    let mut fl = Flow::zero();
    fl.set(f::IN_PORT, odp_in as u64);
    fl.set(f::ETH_SRC, src);
    fl.set(f::ETH_DST, dst);
    fl.set(f::ETH_TYPE, 0x0800);
    fl
}

#[test]
fn mac_learning_pipeline_learns_only_on_upcalls() {
    use dp_core::actions::OdpAction;
    let p = pipeline();
    let (a, b) = (0x0200_0000_000a, 0x0200_0000_000b);
    // Revalidation-style translation: no side effects.
    let x = p.xlate(&frame(11, a, b), 0, false, false);
    assert_eq!(x.learned.len(), 1);
    assert_eq!(p.tables.read().tables[10].rules.len(), 1);
    assert_eq!(
        x.actions,
        vec![OdpAction::Output(12), OdpAction::Output(13)]
    );
    assert_eq!(x.mask.get(f::ETH_SRC), 0xffff_ffff_ffff);
    // Upcall: a (on port 1) is learned into table 10.
    let v = p.tables.read().version;
    p.xlate(&frame(11, a, b), 0, true, false);
    assert!(p.tables.read().version > v);
    assert_eq!(p.tables.read().tables[10].rules.len(), 2);
    // b replies to a: unicast to port 1, and b is learned on port 2.
    let x = p.xlate(&frame(12, b, a), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(11)]);
    assert_eq!(x.mask.get(f::ETH_DST), 0xffff_ffff_ffff);
    let x = p.xlate(&frame(11, a, b), 0, true, false);
    assert_eq!(x.actions, vec![OdpAction::Output(12)]);
    assert_eq!(p.tables.read().tables[10].rules.len(), 3);
    // Relearning the same flows changes nothing.
    let v = p.tables.read().version;
    p.xlate(&frame(11, a, b), 0, true, false);
    assert_eq!(p.tables.read().version, v);
}

#[test]
fn learn2_codec_round_trip_and_malformed_input() {
    use crate::ofp::actions::{decode_actions, encode_actions};
    let mut l = mac_learn(0x9, false);
    l.limit = 3;
    l.flags |= crate::ofp::nx_actions::NX_LEARN_F_WRITE_RESULT;
    l.result_dst = Some((nxm(Field::Reg(1), 4), 5));
    let acts = vec![Action::Learn(Box::new(l))];
    let mut w = Vec::new();
    encode_actions(&acts, 4, &mut w);
    // NXAST_LEARN2 (subtype 45), padded to 8.
    assert_eq!(&w[8..10], &45u16.to_be_bytes());
    assert_eq!(w.len() % 8, 0);
    assert_eq!(decode_actions(&w, 4).unwrap(), acts);
    // limit 0 and no result_dst: plain NXAST_LEARN (16).
    let plain = vec![Action::Learn(Box::new(mac_learn(0x9, false)))];
    let mut w2 = Vec::new();
    encode_actions(&plain, 4, &mut w2);
    assert_eq!(&w2[8..10], &16u16.to_be_bytes());
    // Nonzero pad2 (bytes 38..40), result_dst_ofs without the flag, and a
    // truncated action are errors, not panics.
    let mut bad = w.clone();
    bad[39] = 1;
    assert!(decode_actions(&bad, 4).is_err());
    let mut bad = w.clone();
    bad[24..26].copy_from_slice(&0u16.to_be_bytes()); // flags: no WRITE_RESULT
    assert!(decode_actions(&bad, 4).is_err());
    for n in [12, 20, 36] {
        let mut t = w[..n].to_vec();
        t[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        assert!(decode_actions(&t, 4).is_err(), "{n}");
    }
}
