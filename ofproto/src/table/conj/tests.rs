use super::*;
use crate::ofp::actions::OFPP_ANY;
use crate::ofp::flow::command;
use crate::table::{FlowModSpec, Tables};
use dp_core::flow::{fields as f, Field as DpField, FLOW_WORDS};

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type M = Vec<(DpField, u64, u64)>;

fn rule(prio: u16, m: &M, conj_id: Option<u32>, acts: Vec<Action>) -> FlowModSpec {
    let mut value = XKey::default();
    let mut mask = XKey::default();
    for &(fd, v, mk) in m {
        value.flow.set(fd, v & mk);
        mask.flow.set(fd, mk);
    }
    if let Some(id) = conj_id {
        value.meta[CONJ_ID_WORD] = id as u64;
        mask.meta[CONJ_ID_WORD] = u32::MAX as u64;
    }
    FlowModSpec {
        command: command::ADD,
        table_id: 0,
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
    }
}

fn conj(id: u32, k: u8, n: u8) -> Vec<Action> {
    vec![Action::Conjunction {
        clause: k - 1,
        n_clauses: n,
        id,
    }]
}

fn out(p: u32) -> Vec<Action> {
    vec![Action::Output {
        port: p,
        max_len: 0,
    }]
}

fn pkt(src: u64, dport: u64, in_port: u64, proto: u64) -> XKey {
    let mut k = XKey::default();
    k.flow.set(f::IN_PORT, in_port);
    k.flow.set(f::ETH_TYPE, 0x0800);
    k.flow.set(f::NW_SRC, src);
    k.flow.set(f::NW_DST, 0x0a00_00fe);
    k.flow.set(f::NW_PROTO, proto);
    k.flow.set(f::TP_DST, dport);
    k
}

/// The specification, by brute force over every rule: the best ordinary
/// match; unless, at a priority above it, the soft rules matching the
/// packet complete a conjunction, whose `conj_id` lookup (ordinary rules
/// only) then decides; higher priorities first.
fn reference(t: &Table, key: &XKey) -> Option<u64> {
    let best = |k: &XKey| {
        t.rules
            .values()
            .filter(|r| !t.conj.contains_key(&r.id) && r.matches(k))
            .max_by_key(|r| r.priority)
            .map(|r| (r.priority, r.id))
    };
    let hard = best(key);
    let hard_pri = hard.map_or(-1, |(p, _)| p as i32);
    let mut soft: Vec<(u16, &Vec<ConjClause>)> = t
        .rules
        .values()
        .filter(|r| r.priority as i32 > hard_pri && r.matches(key))
        .filter_map(|r| t.conj.get(&r.id).map(|c| (r.priority, c)))
        .collect();
    soft.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut prios: Vec<u16> = soft.iter().map(|s| s.0).collect();
    prios.dedup();
    for p in prios {
        let mut bits: std::collections::BTreeMap<(u32, u8), u64> = Default::default();
        for (_, cs) in soft.iter().filter(|s| s.0 == p) {
            for &(id, k, n) in cs.iter() {
                *bits.entry((id, n)).or_default() |= 1 << k;
            }
        }
        for ((id, n), b) in bits {
            if b == (1u64 << n) - 1 {
                let mut k2 = key.clone();
                k2.meta[CONJ_ID_WORD] = id as u64;
                if let Some((_, r)) = best(&k2) {
                    return Some(r);
                }
            }
        }
    }
    hard.map(|(_, id)| id)
}

const SRCS: [u64; 6] = [
    0x0a00_0001,
    0x0a00_0002,
    0x0a00_0103,
    0x0a01_0001,
    0x0b00_0001,
    0x0a00_0004,
];
const PORTS: [u64; 5] = [22, 80, 443, 8080, 53];

fn random_match(rng: &mut Rng, fields: &[u8]) -> M {
    let mut m = M::new();
    for &fl in fields {
        match fl {
            0 => {
                let mask = [0xffff_ffffu64, 0xffff_ff00, 0xffff_0000][rng.below(3) as usize];
                m.push((f::NW_SRC, SRCS[rng.below(6) as usize], mask));
            }
            1 => m.push((f::TP_DST, PORTS[rng.below(5) as usize], 0xffff)),
            2 => m.push((f::IN_PORT, 1 + rng.below(3), 0xffff_ffff)),
            _ => m.push((f::NW_PROTO, [6, 17][rng.below(2) as usize], 0xff)),
        }
    }
    m
}

fn random_acl(rng: &mut Rng) -> Tables {
    let mut t = Tables::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |t: &mut Tables, fm: FlowModSpec| {
        if seen.insert((fm.priority, fm.value.clone(), fm.mask.clone())) {
            t.apply(&fm, 0).unwrap();
        }
    };
    let n_ids = 1 + rng.below(4) as u32;
    let mut prios: Vec<u16> = Vec::new();
    // Ordinary rules get distinct priorities (no ties to break).
    let mut hard_prios: Vec<u16> = Vec::new();
    let mut hard_prio = |rng: &mut Rng| loop {
        let p = rng.below(300) as u16;
        if !hard_prios.contains(&p) {
            hard_prios.push(p);
            break p;
        }
    };
    for id in 1..=n_ids {
        let p = loop {
            let p = 10 + rng.below(200) as u16;
            if !prios.contains(&p) {
                break p;
            }
        };
        prios.push(p);
        let n = 2 + rng.below(2) as u8;
        for k in 1..=n {
            // A clause has 1..=3 alternatives over one field (its dimension).
            let dim = rng.below(3) as u8;
            for _ in 0..1 + rng.below(3) {
                add(
                    &mut t,
                    rule(p, &random_match(rng, &[dim]), None, conj(id, k, n)),
                );
            }
        }
        // The conjunctive flow, sometimes with an extra condition.
        let extra: M = if rng.below(3) == 0 {
            random_match(rng, &[3])
        } else {
            M::new()
        };
        if rng.below(6) != 0 {
            add(
                &mut t,
                rule(hard_prio(rng), &extra, Some(id), out(100 + id)),
            );
        }
    }
    // Ordinary rules: always on eth_type, so never identical to a soft one.
    for i in 0..2 + rng.below(8) {
        let mut fields = Vec::new();
        for fl in 0..4u8 {
            if rng.below(3) == 0 {
                fields.push(fl);
            }
        }
        let mut m = random_match(rng, &fields);
        m.push((f::ETH_TYPE, 0x0800, 0xffff));
        add(&mut t, rule(hard_prio(rng), &m, None, out(i as u32)));
    }
    t
}

#[test]
fn conjunctive_lookup_matches_brute_force_and_masks_are_sound() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut conj_hits = 0;
    for _ in 0..300 {
        let t = random_acl(&mut rng);
        let tab = &t.tables[0];
        for _ in 0..60 {
            let key = pkt(
                SRCS[rng.below(6) as usize] ^ (rng.below(4) << 8),
                PORTS[rng.below(5) as usize],
                1 + rng.below(3),
                [6, 17][rng.below(2) as usize],
            );
            let mut wc = XKey::default();
            let got = tab.lookup(&key, &mut wc).map(|r| r.id);
            assert_eq!(got, reference(tab, &key), "key {key:?}");
            if got.is_some_and(|id| tab.rules[&id].mask.meta[CONJ_ID_WORD] != 0) {
                conj_hits += 1;
            }
            // Soundness: any packet agreeing on the consulted bits gets the
            // same rule.
            for _ in 0..4 {
                let mut k2 = key.clone();
                for i in 0..FLOW_WORDS {
                    k2.flow.w[i] ^= rng.next() & !wc.flow.w[i];
                }
                let mut wc2 = XKey::default();
                assert_eq!(tab.lookup(&k2, &mut wc2).map(|r| r.id), got);
            }
        }
    }
    assert!(conj_hits > 100, "only {conj_hits} conjunctive matches");
}

#[test]
fn acl_admits_exactly_the_allowed_combinations() {
    // conjunction(1,1/2) on sources, conjunction(1,2/2) on ports,
    // conj_id=1 -> output:1, priority 1 drop.
    let mut t = Tables::new();
    for src in [0x0a00_0001, 0x0a00_0002] {
        t.apply(
            &rule(
                10,
                &vec![(f::NW_SRC, src, 0xffff_ffff)],
                None,
                conj(1, 1, 2),
            ),
            0,
        )
        .unwrap();
    }
    for port in [80, 443] {
        t.apply(
            &rule(10, &vec![(f::TP_DST, port, 0xffff)], None, conj(1, 2, 2)),
            0,
        )
        .unwrap();
    }
    t.apply(&rule(10, &vec![], Some(1), out(1)), 0).unwrap();
    t.apply(&rule(1, &vec![], None, vec![]), 0).unwrap();
    let tab = &t.tables[0];
    for src in [0x0a00_0001, 0x0a00_0002, 0x0a00_0003] {
        for port in [80, 443, 22] {
            let mut wc = XKey::default();
            let r = tab.lookup(&pkt(src, port, 1, 6), &mut wc).unwrap();
            let allowed = src != 0x0a00_0003 && port != 22;
            assert_eq!(r.outputs_to(1), allowed, "{src:#x}:{port}");
        }
    }
}

#[test]
fn soft_rule_falls_back_to_identical_lower_priority_rule() {
    // A soft rule whose conjunction never completes shadows an identical
    // ordinary rule at a lower priority: that rule must still match.
    let mut t = Tables::new();
    let m: M = vec![(f::TP_DST, 80, 0xffff)];
    t.apply(&rule(100, &m, None, conj(7, 1, 2)), 0).unwrap();
    t.apply(&rule(50, &m, None, out(5)), 0).unwrap();
    t.apply(&rule(10, &vec![], None, out(6)), 0).unwrap();
    t.apply(&rule(100, &vec![], Some(7), out(7)), 0).unwrap();
    let tab = &t.tables[0];
    let mut wc = XKey::default();
    assert!(tab
        .lookup(&pkt(1, 80, 1, 6), &mut wc)
        .unwrap()
        .outputs_to(5));
    assert!(tab
        .lookup(&pkt(1, 81, 1, 6), &mut wc)
        .unwrap()
        .outputs_to(6));
    // Completing the conjunction at priority 100 wins over the 50 rule.
    t.apply(
        &rule(
            100,
            &vec![(f::IN_PORT, 1, 0xffff_ffff)],
            None,
            conj(7, 2, 2),
        ),
        0,
    )
    .unwrap();
    let tab = &t.tables[0];
    assert!(tab
        .lookup(&pkt(1, 80, 1, 6), &mut wc)
        .unwrap()
        .outputs_to(7));
    assert!(tab
        .lookup(&pkt(1, 80, 2, 6), &mut wc)
        .unwrap()
        .outputs_to(5));
}
