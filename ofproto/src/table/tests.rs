use super::key::match_from_oxm;
use super::*;
use crate::ofp::oxm::{Field, MatchField};
use dp_core::flow::fields as f;

type F<'a> = (Field, &'a [u8], Option<&'a [u8]>);

fn m(fields: &[F<'_>]) -> (XKey, XKey) {
    let om = OxmMatch {
        fields: fields
            .iter()
            .map(|(fl, v, mk)| MatchField::new(*fl, v, *mk, false).unwrap())
            .collect(),
    };
    match_from_oxm(&om).unwrap()
}

fn out(port: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::Output {
        port,
        max_len: 0,
    }])]
}

fn spec(cmd: u8, table: u8, prio: u16, fields: &[F<'_>], port: u32) -> FlowModSpec {
    let (value, mask) = m(fields);
    FlowModSpec {
        command: cmd,
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
        instructions: out(port),
        modify_may_add: false,
    }
}

fn pkt(in_port: u32, dst: u64) -> XKey {
    let mut k = XKey::default();
    k.flow.set(f::IN_PORT, in_port as u64);
    k.flow.set(f::ETH_DST, dst);
    k.flow.set(f::ETH_TYPE, 0x0800);
    k.flow.set(f::NW_PROTO, 6);
    k.flow.set(f::TP_DST, 80);
    k
}

const IP: &[u8] = &[8, 0];

#[test]
fn priority_wins_and_wildcards_are_staged() {
    let mut t = Tables::new();
    t.apply(&spec(command::ADD, 0, 0, &[], 9), 0).unwrap();
    t.apply(
        &spec(
            command::ADD,
            0,
            100,
            &[
                (Field::InPort, &[0, 0, 0, 1], None),
                (Field::EthDst, &[0, 0, 0, 0, 0, 2], None),
            ],
            2,
        ),
        0,
    )
    .unwrap();
    t.apply(
        &spec(
            command::ADD,
            0,
            50,
            &[
                (Field::EthType, IP, None),
                (Field::IpProto, &[6], None),
                (Field::TcpDst, &[0, 22], None),
            ],
            3,
        ),
        0,
    )
    .unwrap();
    // Port 1 to MAC 2: the in_port+dl_dst rule wins.
    let mut wc = XKey::default();
    let r = t.tables[0].lookup(&pkt(1, 2), &mut wc).unwrap();
    assert_eq!(r.priority, 100);
    // The priority-50 subtable cannot beat it: tp_dst stays wildcarded.
    assert_eq!(wc.flow.get(f::TP_DST), 0);
    assert_eq!(wc.flow.get(f::ETH_DST), u64::MAX >> 16);
    // Port 3: rejected at the metadata stage, so dl_dst is not consulted for
    // that subtable; the tcp rule's subtable is examined fully.
    let mut wc = XKey::default();
    let r = t.tables[0].lookup(&pkt(3, 2), &mut wc).unwrap();
    assert_eq!(r.priority, 0);
    assert_eq!(wc.flow.get(f::IN_PORT), 0xffff_ffff);
    assert_eq!(
        wc.flow.get(f::ETH_DST),
        0,
        "staged lookup stopped at in_port"
    );
    assert_eq!(wc.flow.get(f::TP_DST), 0xffff);
}

#[test]
fn add_replaces_identical_and_check_overlap() {
    let mut t = Tables::new();
    let s = spec(command::ADD, 0, 10, &[(Field::EthType, IP, None)], 1);
    t.apply(&s, 0).unwrap();
    let o = t
        .apply(
            &spec(command::ADD, 0, 10, &[(Field::EthType, IP, None)], 2),
            1,
        )
        .unwrap();
    assert_eq!(o.removed.len(), 1);
    assert_eq!(t.n_rules(), 1);
    let mut ov = spec(
        command::ADD,
        0,
        10,
        &[(Field::InPort, &[0, 0, 0, 1], None)],
        3,
    );
    ov.flags = flags::CHECK_OVERLAP;
    assert_eq!(t.apply(&ov, 2).unwrap_err(), FlowModError::Overlap);
    ov.priority = 11;
    t.apply(&ov, 2).unwrap();
    assert_eq!(t.n_rules(), 2);
}

#[test]
fn modify_and_delete_strict_and_loose_with_filters() {
    let mut t = Tables::new();
    for (p, port) in [(1u8, 1u32), (2, 2), (3, 1)] {
        let mut s = spec(
            command::ADD,
            0,
            10 * p as u16,
            &[(Field::InPort, &[0, 0, 0, p], None)],
            port,
        );
        s.cookie = p as u64;
        t.apply(&s, 0).unwrap();
    }
    t.apply(&spec(command::ADD, 1, 5, &[], 7), 0).unwrap();
    assert_eq!(t.n_rules(), 4);
    // Loose modify of everything in table 0 with cookie 2.
    let mut md = spec(command::MODIFY, 0, 0, &[], 5);
    md.cookie = 2;
    md.cookie_mask = u64::MAX;
    assert_eq!(t.apply(&md, 1).unwrap().modified, 1);
    let r = t.select(0, &XKey::default(), &XKey::default(), None, 2, u64::MAX, 5);
    assert_eq!(r.len(), 1);
    // Strict delete needs the exact priority.
    let (v, mk) = m(&[(Field::InPort, &[0, 0, 0, 1], None)]);
    let mut del = spec(
        command::DELETE_STRICT,
        0,
        11,
        &[(Field::InPort, &[0, 0, 0, 1], None)],
        0,
    );
    assert_eq!(t.apply(&del, 2).unwrap().removed.len(), 0);
    del.priority = 10;
    assert_eq!(t.apply(&del, 2).unwrap().removed.len(), 1);
    assert!(t.select(0, &v, &mk, None, 0, 0, OFPP_ANY).is_empty());
    // Loose delete with out_port 1 over all tables removes only rule 3.
    let mut del = spec(command::DELETE, 0xff, 0, &[], 0);
    del.out_port = 1;
    assert_eq!(t.apply(&del, 3).unwrap().removed.len(), 1);
    assert_eq!(t.n_rules(), 2);
    // Delete all.
    let del = spec(command::DELETE, 0xff, 0, &[], 0);
    assert_eq!(t.apply(&del, 4).unwrap().removed.len(), 2);
    assert_eq!(t.n_rules(), 0);
}

#[test]
fn modify_may_add_and_timeouts() {
    let mut t = Tables::new();
    let mut md = spec(command::MODIFY, 0, 7, &[], 1);
    md.modify_may_add = true;
    assert_eq!(t.apply(&md, 0).unwrap().added, 1);
    let mut s = spec(command::ADD, 0, 8, &[(Field::EthType, IP, None)], 1);
    s.idle_timeout = 1;
    t.apply(&s, 0).unwrap();
    let mut s = spec(command::ADD, 0, 9, &[(Field::EthType, IP, None)], 1);
    s.hard_timeout = 2;
    t.apply(&s, 0).unwrap();
    t.tables[0]
        .rules
        .values()
        .find(|r| r.priority == 8)
        .unwrap()
        .credit(1, 60, 900_000_000);
    assert!(t.expire(1_500_000_000).is_empty());
    assert_eq!(t.expire(1_900_000_000).len(), 1);
    assert_eq!(t.expire(2_000_000_000).len(), 1);
    assert_eq!(t.n_rules(), 1);
}

#[test]
fn many_random_rules_agree_with_linear_scan() {
    let mut t = Tables::new();
    let mut seed = 12345u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..200u16 {
        let mut fields: Vec<F<'_>> = Vec::new();
        let p = [0, 0, 0, (rnd() % 4) as u8];
        let d = [0, 0, 0, 0, 0, (rnd() % 4) as u8];
        let pl: &'static [u8] = Box::leak(Box::new(p));
        let dl: &'static [u8] = Box::leak(Box::new(d));
        if rnd() % 2 == 0 {
            fields.push((Field::InPort, pl, None));
        }
        if rnd() % 2 == 0 {
            fields.push((Field::EthDst, dl, None));
        }
        if rnd() % 3 == 0 {
            fields.push((Field::EthType, IP, None));
            fields.push((Field::IpProto, &[6], None));
            let tp: &'static [u8] = Box::leak(Box::new([0u8, (rnd() % 3) as u8 + 79]));
            fields.push((Field::TcpDst, tp, None));
        }
        t.apply(&spec(command::ADD, 0, i % 37, &fields, 1), 0)
            .unwrap();
    }
    for _ in 0..500 {
        let mut k = pkt((rnd() % 4) as u32, rnd() % 4);
        k.flow.set(f::TP_DST, 79 + rnd() % 3);
        let mut wc = XKey::default();
        let got = t.tables[0].lookup(&k, &mut wc).map(|r| r.priority);
        let want = t.tables[0]
            .rules
            .values()
            .filter(|r| r.matches(&k))
            .map(|r| r.priority)
            .max();
        assert_eq!(got, want);
        // Any key agreeing with k on wc gets the same answer.
        let mut k2 = k.clone();
        k2.flow.set(f::ETH_SRC, rnd());
        for w in 0..key::XKEY_WORDS {
            let v = rnd();
            let m = wc.word(w);
            *k2.word_mut(w) = (k.word(w) & m) | (v & !m);
        }
        let mut wc2 = XKey::default();
        let got2 = t.tables[0].lookup(&k2, &mut wc2).map(|r| r.priority);
        assert_eq!(got, got2, "megaflow mask is unsound");
    }
}

#[test]
fn apply_all_is_atomic() {
    let mut t = Tables::new();
    t.apply(
        &spec(command::ADD, 0, 10, &[(Field::EthType, IP, None)], 1),
        0,
    )
    .unwrap();
    let mut bad = spec(
        command::ADD,
        0,
        10,
        &[(Field::InPort, &[0, 0, 0, 1], None)],
        3,
    );
    bad.flags = flags::CHECK_OVERLAP;
    let good = spec(command::ADD, 0, 20, &[], 2);
    let e = t.apply_all(&[good.clone(), bad], 1).unwrap_err();
    assert_eq!(e, (1, FlowModError::Overlap));
    assert_eq!(t.n_rules(), 1);
    t.apply_all(&[good], 1).unwrap();
    assert_eq!(t.n_rules(), 2);
    let mut wc = XKey::default();
    assert_eq!(
        t.tables[0].lookup(&pkt(1, 2), &mut wc).unwrap().priority,
        20
    );
}
