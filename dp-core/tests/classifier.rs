//! Tests of the three lookup stages: EMC, SMC and dpcls.
//!
//! The dpcls is checked against a naive linear scan over random,
//! non-overlapping megaflow sets (built like the slow path builds megaflows:
//! masked versions of random packets, skipping one that would overlap an
//! existing rule), through inserts, replacements, removals and re-ranking.

use dp_core::dpcls::Dpcls;
use dp_core::emc::{Emc, DEFAULT_EMC_INSERT_INV_PROB};
use dp_core::flow::{fields, Flow, FLOW_WORDS, VLAN_CFI};
use dp_core::miniflow::{FlowKey, Minimask, Minimatch};
use dp_core::smc::Smc;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Packet and mask generation.

/// Small value ranges so that random packets often hit random rules.
#[derive(Clone, Debug)]
struct Pkt {
    in_port: u64,
    eth_type: u64,
    tci: u64,
    nw_src: u64,
    nw_dst: u64,
    nw_proto: u64,
    tp_src: u64,
    tp_dst: u64,
}

fn pkt_strategy() -> impl Strategy<Value = Pkt> {
    (
        1u64..4,
        prop::sample::select(vec![0x0800u64, 0x86dd, 0x0806]),
        prop_oneof![
            Just(0u64),
            (0u64..3, 0u64..8).prop_map(|(vid, pcp)| { VLAN_CFI as u64 | vid | (pcp << 13) })
        ],
        (0u64..3, 0u64..4, 0u64..3).prop_map(|(a, b, c)| 0x0a00_0000 | a << 16 | b << 8 | c),
        (0u64..3, 0u64..4, 0u64..3).prop_map(|(a, b, c)| 0x0a00_0000 | a << 16 | b << 8 | c),
        prop::sample::select(vec![1u64, 6, 17]),
        0u64..4,
        prop::sample::select(vec![0u64, 53, 80, 443]),
    )
        .prop_map(
            |(in_port, eth_type, tci, nw_src, nw_dst, nw_proto, tp_src, tp_dst)| Pkt {
                in_port,
                eth_type,
                tci,
                nw_src,
                nw_dst,
                nw_proto,
                tp_src,
                tp_dst,
            },
        )
}

fn pkt_flow(p: &Pkt) -> Flow {
    let mut f = Flow::zero();
    f.set(fields::IN_PORT, p.in_port);
    f.set(fields::ETH_TYPE, p.eth_type);
    f.set(fields::VLAN0_TCI, p.tci);
    f.set(fields::NW_SRC, p.nw_src);
    f.set(fields::NW_DST, p.nw_dst);
    f.set(fields::NW_PROTO, p.nw_proto);
    f.set(fields::TP_SRC, p.tp_src);
    f.set(fields::TP_DST, p.tp_dst);
    f
}

fn prefix(bits: u32) -> u64 {
    if bits == 0 {
        0
    } else {
        (u32::MAX << (32 - bits)) as u64
    }
}

/// The pool of megaflow masks (the catch-all included).
fn mask_pool() -> Vec<Flow> {
    let mut pool = Vec::new();
    let mut m = Flow::zero();
    m.set_exact(fields::IN_PORT);
    pool.push(m.clone());
    m.set_exact(fields::ETH_TYPE);
    pool.push(m.clone());
    m.set(fields::NW_DST, prefix(24));
    pool.push(m);

    let mut m = Flow::zero();
    m.set_exact(fields::ETH_TYPE);
    m.set(fields::NW_SRC, prefix(16));
    m.set(fields::NW_DST, prefix(32));
    pool.push(m);

    let mut m = Flow::zero();
    m.set_exact(fields::ETH_TYPE);
    m.set_exact(fields::NW_PROTO);
    m.set_exact(fields::TP_DST);
    pool.push(m);

    let mut m = Flow::zero();
    m.set_exact(fields::IN_PORT);
    m.set(fields::VLAN0_TCI, 0x1fff);
    pool.push(m);

    let mut m = Flow::zero();
    m.set_exact(fields::ETH_TYPE);
    m.set(fields::NW_SRC, prefix(32));
    m.set(fields::NW_DST, prefix(24));
    m.set_exact(fields::NW_PROTO);
    m.set_exact(fields::TP_DST);
    pool.push(m);

    let mut m = Flow::zero();
    m.set_exact(fields::ETH_TYPE);
    m.set(fields::VLAN0_TCI, 0xe000);
    m.set(fields::NW_SRC, prefix(8));
    pool.push(m);

    pool.push(Flow::zero());
    pool
}

/// An index into [`mask_pool`], coarse masks (which overlap most rules)
/// drawn rarely so that rule sets stay large.
fn mask_index() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => Just(0usize),
        2 => Just(1usize),
        1 => Just(8usize),
        40 => prop::sample::select(vec![2usize, 3, 4, 5, 6, 7]),
    ]
}

/// True if some packet matches both rules: on every bit both masks care
/// about, the (masked) keys agree.
fn overlaps(a: &Minimatch, b: &Minimatch) -> bool {
    let (ka, ma, kb, mb) = (a.key_flow(), a.mask_flow(), b.key_flow(), b.mask_flow());
    (0..FLOW_WORDS).all(|i| (ka.w[i] ^ kb.w[i]) & ma.w[i] & mb.w[i] == 0)
}

/// A packet equal to `rule_pkt` under `mask` and to `other` elsewhere.
fn blend(rule_pkt: &Flow, mask: &Flow, other: &Flow) -> Flow {
    let mut f = Flow::zero();
    for i in 0..FLOW_WORDS {
        f.w[i] = (rule_pkt.w[i] & mask.w[i]) | (other.w[i] & !mask.w[i]);
    }
    f
}

// ---------------------------------------------------------------------------
// The overlap checker itself.

#[test]
fn overlap_checker_exhaustive_small_universe() {
    // Rules over the low 4 bits of nw_proto: every mask, every masked key;
    // packets: all 16 values. overlaps() must equal "some packet matches both".
    let mut rules = Vec::new();
    for m in 0u64..16 {
        for k in 0u64..16 {
            if k & !m != 0 {
                continue;
            }
            let mut key = Flow::zero();
            key.set(fields::NW_PROTO, k);
            let mut mask = Flow::zero();
            mask.set(fields::NW_PROTO, m);
            // Also require eth_type so the mask is never empty.
            mask.set_exact(fields::ETH_TYPE);
            key.set(fields::ETH_TYPE, 0x0800);
            rules.push(Minimatch::new(&key, &mask));
        }
    }
    let pkts: Vec<FlowKey> = (0u64..16)
        .map(|v| {
            let mut f = Flow::zero();
            f.set(fields::ETH_TYPE, 0x0800);
            f.set(fields::NW_PROTO, v);
            FlowKey::from_flow(&f)
        })
        .collect();
    let mut n_overlap = 0;
    for a in &rules {
        for b in &rules {
            let witness = pkts.iter().any(|p| a.matches(p) && b.matches(p));
            assert_eq!(overlaps(a, b), witness, "{a:?} vs {b:?}");
            n_overlap += witness as usize;
        }
    }
    assert!(n_overlap > 0 && n_overlap < rules.len() * rules.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn overlap_checker_random(
        ma in 0usize..9, mb in 0usize..9,
        pa in pkt_strategy(), pb in pkt_strategy(), others in prop::collection::vec(pkt_strategy(), 8),
    ) {
        let pool = mask_pool();
        let (fa, fb) = (pkt_flow(&pa), pkt_flow(&pb));
        let a = Minimatch::new(&fa, &pool[ma]);
        let b = Minimatch::new(&fb, &pool[mb]);
        if overlaps(&a, &b) {
            // Witness: the union of the two masked keys matches both.
            let (ka, kb) = (a.key_flow(), b.key_flow());
            let mut w = Flow::zero();
            for i in 0..FLOW_WORDS {
                w.w[i] = ka.w[i] | kb.w[i];
            }
            let wk = FlowKey::from_flow(&w);
            prop_assert!(a.matches(&wk) && b.matches(&wk));
        } else {
            // No packet matching one matches the other.
            for o in &others {
                let p = FlowKey::from_flow(&blend(&fa, &pool[ma], &pkt_flow(o)));
                prop_assert!(a.matches(&p));
                prop_assert!(!b.matches(&p));
                let p = FlowKey::from_flow(&blend(&fb, &pool[mb], &pkt_flow(o)));
                prop_assert!(!a.matches(&p));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// dpcls against a linear scan.

struct Reference {
    rules: Vec<(Minimatch, u32)>,
}

impl Reference {
    fn lookup(&self, k: &FlowKey) -> Option<(usize, u32)> {
        let mut found = None;
        for (i, (r, v)) in self.rules.iter().enumerate() {
            if r.matches(k) {
                assert!(found.is_none(), "reference rules overlap");
                found = Some((i, *v));
            }
        }
        found
    }
}

/// Checks every query with `lookup` and `lookup_batch` (chunks of up to 32
/// with a random `todo` bitmap), including the reported subtable ranks.
fn check_all(cls: &mut Dpcls<u32>, reference: &Reference, queries: &[FlowKey], todos: &[u32]) {
    assert_eq!(cls.len(), reference.rules.len());
    assert_eq!(cls.is_empty(), reference.rules.is_empty());
    let mut masks: Vec<Minimask> = reference
        .rules
        .iter()
        .map(|(r, _)| r.mask.clone())
        .collect();
    masks.sort_by(|a, b| (a.map, &a.values).cmp(&(b.map, &b.values)));
    masks.dedup();
    assert_eq!(cls.n_subtables(), masks.len());
    let order: Vec<Minimask> = cls.subtable_masks().cloned().collect();
    let rank = |m: &Minimask| order.iter().position(|o| o == m).unwrap() as u32 + 1;

    for q in queries {
        let want = reference.lookup(q).map(|(_, v)| v);
        assert_eq!(cls.lookup(q), want, "lookup {q:?}");
    }
    for (ci, chunk) in queries.chunks(32).enumerate() {
        let todo = todos.get(ci).copied().unwrap_or(u32::MAX);
        let mut out = vec![None; chunk.len()];
        let (hits, lookups) = cls.lookup_batch(chunk, todo, &mut out);
        let mut want_hits = 0u32;
        let mut want_lookups = 0u32;
        for (i, q) in chunk.iter().enumerate() {
            let asked = todo & (1 << i) != 0;
            let want = if asked { reference.lookup(q) } else { None };
            match want {
                Some((ri, v)) => {
                    want_hits |= 1 << i;
                    want_lookups += rank(&reference.rules[ri].0.mask);
                    assert_eq!(out[i], Some(v));
                }
                None => assert_eq!(out[i], None),
            }
        }
        assert_eq!(hits, want_hits);
        assert_eq!(lookups, want_lookups);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn dpcls_matches_linear_scan(
        rule_specs in prop::collection::vec((mask_index(), pkt_strategy()), 0..160),
        query_specs in prop::collection::vec((any::<Option<prop::sample::Index>>(), pkt_strategy()), 1..100),
        todos in prop::collection::vec(any::<u32>(), 4),
        removals in prop::collection::vec(any::<bool>(), 160),
        replace in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let pool = mask_pool();
        let mut cls = Dpcls::<u32>::new();
        let mut reference = Reference { rules: Vec::new() };
        let mut rule_pkts = Vec::new();
        for (i, (m, p)) in rule_specs.iter().enumerate() {
            let f = pkt_flow(p);
            let r = Minimatch::new(&f, &pool[*m]);
            if reference.rules.iter().any(|(o, _)| overlaps(o, &r)) {
                continue;
            }
            cls.insert(&r, i as u32);
            reference.rules.push((r, i as u32));
            rule_pkts.push((f, *m));
        }
        // Queries: random packets, or packets derived from a rule.
        let queries: Vec<FlowKey> = query_specs
            .iter()
            .map(|(from_rule, p)| {
                let f = pkt_flow(p);
                match from_rule {
                    Some(ix) if !rule_pkts.is_empty() => {
                        let (rf, m) = &rule_pkts[ix.index(rule_pkts.len())];
                        FlowKey::from_flow(&blend(rf, &pool[*m], &f))
                    }
                    _ => FlowKey::from_flow(&f),
                }
            })
            .collect();
        check_all(&mut cls, &reference, &queries, &todos);

        // Replace values of some rules (same rule -> same entry).
        for ix in &replace {
            if reference.rules.is_empty() {
                break;
            }
            let k = ix.index(reference.rules.len());
            let nv = 1_000_000 + k as u32;
            cls.insert(&reference.rules[k].0.clone(), nv);
            reference.rules[k].1 = nv;
        }
        check_all(&mut cls, &reference, &queries, &todos);

        // Re-rank, then check the new order follows the hit counts.
        let stats: Vec<(Minimask, u64)> =
            cls.subtable_stats().map(|(m, _, h)| (m.clone(), h)).collect();
        cls.sort_subtables();
        let mut want: Vec<(Minimask, u64)> = stats.clone();
        want.sort_by_key(|w| std::cmp::Reverse(w.1));
        let got: Vec<Minimask> = cls.subtable_masks().cloned().collect();
        prop_assert_eq!(got, want.into_iter().map(|(m, _)| m).collect::<Vec<_>>());
        prop_assert!(cls.subtable_stats().all(|(_, _, h)| h == 0));
        check_all(&mut cls, &reference, &queries, &todos);

        // Random removals (and a removal of an absent rule).
        let mut kept = Vec::new();
        for (i, (r, v)) in reference.rules.drain(..).enumerate() {
            if removals[i % removals.len()] {
                prop_assert_eq!(cls.remove(&r), Some(v));
                prop_assert_eq!(cls.remove(&r), None);
            } else {
                kept.push((r, v));
            }
        }
        reference.rules = kept;
        check_all(&mut cls, &reference, &queries, &todos);
        cls.sort_subtables();
        check_all(&mut cls, &reference, &queries, &todos);
    }
}

/// Many rules in one subtable: exercises growth, shrinking and
/// backward-shift deletion of the subtable hash table.
#[test]
fn dpcls_large_subtable_insert_remove() {
    let mut mask = Flow::zero();
    mask.set_exact(fields::NW_SRC);
    mask.set_exact(fields::TP_DST);
    let rule = |i: u64| {
        let mut f = Flow::zero();
        f.set(fields::NW_SRC, i.wrapping_mul(0x9e37_79b9) & 0xffff_ffff);
        f.set(fields::TP_DST, i & 0xffff);
        f.set(fields::TP_SRC, 7); // masked away
        (Minimatch::new(&f, &mask), FlowKey::from_flow(&f))
    };
    let n = 20_000u64;
    let mut cls = Dpcls::<u64>::new();
    for i in 0..n {
        cls.insert(&rule(i).0, i);
    }
    assert_eq!(cls.len(), n as usize);
    assert_eq!(cls.n_subtables(), 1);
    for i in 0..n {
        assert_eq!(cls.lookup(&rule(i).1), Some(i));
    }
    // Remove 3 of every 4 in a scattered order.
    let mut x = 12345u64;
    let mut removed = vec![false; n as usize];
    for i in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if (x >> 33) % 4 != 0 {
            assert_eq!(cls.remove(&rule(i).0), Some(i));
            removed[i as usize] = true;
        }
    }
    for i in 0..n {
        let want = if removed[i as usize] { None } else { Some(i) };
        assert_eq!(cls.lookup(&rule(i).1), want, "rule {i}");
    }
    for i in 0..n {
        if !removed[i as usize] {
            assert_eq!(cls.remove(&rule(i).0), Some(i));
        }
    }
    assert!(cls.is_empty());
    assert_eq!(cls.n_subtables(), 0);
    assert_eq!(cls.lookup(&rule(1).1), None);
}

/// Masks of 1 to 13 words: every specialised lookup (1..=10 words) and the
/// generic one, each against a linear scan.
#[test]
fn dpcls_every_mask_width() {
    let wide = [
        fields::IN_PORT,
        fields::DP_HASH,
        fields::PKT_MARK,
        fields::CT_MARK,
        fields::TUN_ID,
        fields::TUN_SRC,
        fields::ETH_DST,
        fields::ETH_SRC,
        fields::NW_SRC,
        fields::IPV6_SRC_HI,
        fields::IPV6_SRC_LO,
        fields::ARP_SHA,
        fields::TP_DST,
    ];
    let mut x = 99u64;
    let mut rnd = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % 3
    };
    let mut cls = Dpcls::<u32>::new();
    let mut reference = Reference { rules: Vec::new() };
    let mut queries = Vec::new();
    for n in 1..=wide.len() {
        let mut mask = Flow::zero();
        for f in &wide[..n] {
            mask.set_exact(*f);
        }
        // Discriminate the widths so rules of different widths never overlap.
        mask.set_exact(fields::NW_PROTO);
        for _ in 0..200 {
            let mut f = Flow::zero();
            for fld in &wide {
                f.set(*fld, rnd());
            }
            f.set(fields::NW_PROTO, n as u64);
            let r = Minimatch::new(&f, &mask);
            if !reference.rules.iter().any(|(o, _)| overlaps(o, &r)) {
                cls.insert(&r, reference.rules.len() as u32);
                reference.rules.push((r, reference.rules.len() as u32));
            }
            queries.push(FlowKey::from_flow(&f));
            f.set(fields::TP_DST, 7);
            queries.push(FlowKey::from_flow(&f));
        }
    }
    assert_eq!(cls.n_subtables(), wide.len());
    check_all(&mut cls, &reference, &queries, &[u32::MAX, 0x5555_5555, 1]);
    cls.sort_subtables();
    check_all(&mut cls, &reference, &queries, &[u32::MAX, 0xf0f0_f0f0]);
}

#[test]
fn dpcls_catch_all_and_empty_batch() {
    let mut cls = Dpcls::<u8>::new();
    let k = FlowKey::from_flow(&Flow::zero());
    let mut out = [None; 1];
    assert_eq!(
        cls.lookup_batch(std::slice::from_ref(&k), 1, &mut out),
        (0, 0)
    );
    let any = Minimatch::new(&Flow::zero(), &Flow::zero());
    cls.insert(&any, 9);
    assert_eq!(cls.lookup(&k), Some(9));
    let keys = vec![k.clone(); 32];
    let mut out = [None; 32];
    assert_eq!(cls.lookup_batch(&keys, u32::MAX, &mut out), (u32::MAX, 32));
    assert!(out.iter().all(|o| *o == Some(9)));
    assert_eq!(cls.lookup_batch(&keys, 0, &mut [None; 32]), (0, 0));
    assert_eq!(cls.remove(&any), Some(9));
    assert_eq!(cls.n_subtables(), 0);
}

// ---------------------------------------------------------------------------
// EMC.

/// Distinct keys (differing in nw_src, and some in their word map).
fn distinct_key(i: u64) -> FlowKey {
    let mut f = Flow::zero();
    f.set(fields::IN_PORT, 1);
    f.set(fields::ETH_TYPE, 0x0800);
    f.set(fields::NW_SRC, i);
    if i % 3 == 0 {
        f.set(fields::TP_DST, 80);
    }
    FlowKey::from_flow(&f)
}

fn forced(mut k: FlowKey, hash: u32) -> FlowKey {
    k.hash = hash;
    k
}

#[test]
fn emc_never_returns_other_keys_value() {
    let mut emc = Emc::<u32>::new();
    // All 300 keys share one hash (so one pair of slots), plus 2000 keys
    // whose hashes fall into a handful of slots.
    let same: Vec<FlowKey> = (0..300)
        .map(|i| forced(distinct_key(i), 0xdead_beef))
        .collect();
    let few: Vec<FlowKey> = (300..2300)
        .map(|i| forced(distinct_key(i), ((i as u32 % 7) << 13) | (i as u32 % 5)))
        .collect();
    for (i, k) in same.iter().chain(few.iter()).enumerate() {
        emc.insert(k, i as u32);
        assert_eq!(emc.lookup(k), Some(i as u32), "just inserted");
        for (j, o) in same.iter().chain(few.iter()).enumerate().take(i + 1) {
            if let Some(v) = emc.lookup(o) {
                assert_eq!(v, j as u32);
            }
        }
    }
    // A key that was never inserted, with a colliding hash, misses.
    assert_eq!(emc.lookup(&forced(distinct_key(99_999), 0xdead_beef)), None);
    // Same words, different map: also a miss.
    let mut k = same[1].clone();
    k.map ^= 1u128 << 66;
    assert_eq!(emc.lookup(&k), None);
    // Re-inserting a present key replaces in place.
    let last = few.last().unwrap();
    emc.insert(last, 42);
    assert_eq!(emc.lookup(last), Some(42));
}

#[test]
fn emc_replacement_prefers_empty_then_lower_hash() {
    let mut emc = Emc::<u32>::new();
    // Hash h: slots (h & 8191) and ((h >> 13) & 8191).
    let h = (5u32 << 13) | 3;
    let a = forced(distinct_key(1), h);
    let b = forced(distinct_key(2), h);
    let c = forced(distinct_key(3), h);
    emc.insert(&a, 1);
    emc.insert(&b, 2);
    assert_eq!((emc.lookup(&a), emc.lookup(&b)), (Some(1), Some(2)));
    emc.insert(&c, 3);
    assert_eq!(emc.lookup(&c), Some(3));
    assert_eq!(emc.count(), 2);
}

#[test]
fn emc_retain_and_clear() {
    let mut emc = Emc::<u32>::new();
    let keys: Vec<FlowKey> = (0..3000).map(distinct_key).collect();
    for (i, k) in keys.iter().enumerate() {
        emc.insert(k, i as u32);
    }
    let before: Vec<Option<u32>> = keys.iter().map(|k| emc.lookup(k)).collect();
    assert!(before.iter().filter(|v| v.is_some()).count() > 2000);
    emc.retain(|v| v % 2 == 0);
    for (i, k) in keys.iter().enumerate() {
        let want = if i % 2 == 0 { before[i] } else { None };
        assert_eq!(emc.lookup(k), want);
    }
    emc.clear();
    assert!(keys.iter().all(|k| emc.lookup(k).is_none()));
    assert_eq!(emc.count(), 0);
}

#[test]
fn emc_insert_probability() {
    let keys: Vec<FlowKey> = (0..20_000).map(distinct_key).collect();
    let count_inserts = |emc: &mut Emc<u32>| {
        let mut n = 0;
        for (i, k) in keys.iter().enumerate() {
            emc.probabilistic_insert(k, i as u32);
            n += emc.lookup(k).is_some() as u32;
        }
        n
    };
    let mut emc = Emc::<u32>::new();
    assert_eq!(emc.insert_inv_prob(), DEFAULT_EMC_INSERT_INV_PROB);
    let n = count_inserts(&mut emc);
    assert!((120..=280).contains(&n), "~1% of 20000 expected, got {n}");

    let mut emc = Emc::<u32>::with_seed(7);
    emc.set_insert_inv_prob(0);
    assert_eq!(count_inserts(&mut emc), 0);
    assert_eq!(emc.count(), 0);

    emc.set_insert_inv_prob(1);
    assert_eq!(emc.insert_inv_prob(), 1);
    assert_eq!(count_inserts(&mut emc), 20_000);

    let mut emc = Emc::<u32>::with_seed(99);
    emc.set_insert_inv_prob(10);
    let n = count_inserts(&mut emc);
    assert!(
        (1700..=2300).contains(&n),
        "~10% of 20000 expected, got {n}"
    );
}

// ---------------------------------------------------------------------------
// SMC.

#[test]
fn smc_verified_lookup_never_returns_other_keys_value() {
    let mut smc = Smc::<u32>::new();
    // Same bucket (low 18 bits), a few signatures, many keys.
    let keys: Vec<FlowKey> = (0..500)
        .map(|i| forced(distinct_key(i), ((i as u32 % 6) << 18) | 0x1234))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        smc.insert(k, i as u32);
        let verify = |v: u32| keys[v as usize] == *k;
        assert_eq!(smc.lookup(k, verify), Some(i as u32), "just inserted");
        for (j, o) in keys.iter().enumerate().take(i + 1) {
            if let Some(v) = smc.lookup(o, |v| keys[v as usize] == *o) {
                assert_eq!(v, j as u32);
            }
        }
    }
    // At most 4 entries in that one bucket.
    assert!(smc.count() <= 4);
    // Unverified candidates are not returned.
    assert_eq!(smc.lookup(&keys[0], |_| false), None);
    // Another bucket: miss.
    assert_eq!(smc.lookup(&forced(distinct_key(1), 0x1235), |_| true), None);
}

#[test]
fn smc_retain_and_clear() {
    let mut smc = Smc::<u32>::new();
    let keys: Vec<FlowKey> = (0..5000).map(distinct_key).collect();
    for (i, k) in keys.iter().enumerate() {
        smc.insert(k, i as u32);
    }
    let keys = &keys;
    let exact = |k: &FlowKey| {
        let k = k.clone();
        move |v: u32| keys[v as usize] == k
    };
    let before: Vec<Option<u32>> = keys.iter().map(|k| smc.lookup(k, exact(k))).collect();
    assert!(before.iter().filter(|v| v.is_some()).count() > 4900);
    smc.retain(|v| v % 3 != 0);
    for (i, k) in keys.iter().enumerate() {
        let want = if i % 3 != 0 { before[i] } else { None };
        assert_eq!(smc.lookup(k, exact(k)), want);
    }
    smc.clear();
    assert_eq!(smc.count(), 0);
    assert!(keys.iter().all(|k| smc.lookup(k, |_| true).is_none()));
}
