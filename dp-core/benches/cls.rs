//! Micro-benchmarks of the lookup stages: EMC hits, and dpcls batch lookups
//! with 100k megaflows spread over 1, 8 and 32 subtables.
//!
//! Run: `cargo bench -p dp-core --bench cls -- --warm-up-time 1 --measurement-time 3`.
//! Throughput is reported per packet (elements = packets).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dp_core::dpcls::Dpcls;
use dp_core::emc::Emc;
use dp_core::flow::{fields, Flow};
use dp_core::miniflow::{FlowKey, Minimatch};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 16
    }
}

fn packet(rng: &mut Rng, in_port: u64) -> Flow {
    let mut f = Flow::zero();
    f.set(fields::IN_PORT, in_port);
    f.set(fields::ETH_DST, rng.next() & 0xffff_ffff_ffff);
    f.set(fields::ETH_TYPE, 0x0800);
    f.set(fields::ETH_SRC, rng.next() & 0xffff_ffff_ffff);
    f.set(fields::NW_SRC, rng.next() & 0xffff_ffff);
    f.set(fields::NW_DST, rng.next() & 0xffff_ffff);
    f.set(fields::NW_TTL, 64);
    f.set(fields::NW_PROTO, 17);
    f.set(fields::TP_SRC, rng.next() & 0xffff);
    f.set(fields::TP_DST, rng.next() & 0xffff);
    f
}

/// Mask of subtable `s`: distinct per `s` (in_port discriminates the
/// subtables so megaflows never overlap).
fn mask(s: u64) -> Flow {
    let mut m = Flow::zero();
    m.set_exact(fields::IN_PORT);
    m.set_exact(fields::ETH_TYPE);
    m.set(fields::NW_SRC, (u32::MAX << (s % 17) as u32) as u64);
    m.set_exact(fields::NW_PROTO);
    if s % 2 == 1 {
        m.set(fields::NW_DST, 0xffff_ff00);
    }
    if s >= 17 {
        m.set_exact(fields::TP_DST);
    }
    m
}

fn bench_emc(c: &mut Criterion) {
    let mut rng = Rng(1);
    let mut emc = Emc::<u32>::new();
    let keys: Vec<FlowKey> = (0..1024)
        .map(|_| FlowKey::from_flow(&packet(&mut rng, 1)))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        emc.insert(k, i as u32);
    }
    let n_hit = keys.iter().filter(|k| emc.lookup(k).is_some()).count();
    assert!(n_hit > 1000);
    let mut g = c.benchmark_group("emc");
    g.throughput(Throughput::Elements(32));
    let mut off = 0;
    g.bench_function("hit_1k_flows_x32", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for k in &keys[off..off + 32] {
                acc = acc.wrapping_add(emc.lookup(black_box(k)).unwrap_or(0));
            }
            off = (off + 32) % keys.len();
            acc
        })
    });
    g.finish();
}

fn bench_dpcls(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpcls");
    g.throughput(Throughput::Elements(32));
    for (n_sub, total) in [(1u64, 100_000u64), (8, 100_000), (32, 100_000), (8, 1_000)] {
        let mut rng = Rng(7 + n_sub);
        let mut cls = Dpcls::<u32>::new();
        let mut rules = Vec::new();
        for i in 0..total {
            let s = i % n_sub;
            let p = packet(&mut rng, s + 1);
            let m = mask(s);
            cls.insert(&Minimatch::new(&p, &m), i as u32);
            rules.push((p, m));
        }
        assert_eq!(cls.n_subtables(), n_sub as usize);
        // Packets matching random rules, unmasked fields randomised.
        let pkts: Vec<FlowKey> = (0..8192)
            .map(|_| {
                let (p, m) = &rules[(rng.next() % rules.len() as u64) as usize];
                let o = packet(&mut rng, 0);
                let mut f = Flow::zero();
                for w in 0..f.w.len() {
                    f.w[w] = (p.w[w] & m.w[w]) | (o.w[w] & !m.w[w]);
                }
                FlowKey::from_flow(&f)
            })
            .collect();
        let mut out = [None; 32];
        let (hits, lookups) = cls.lookup_batch(&pkts[..32], u32::MAX, &mut out);
        assert_eq!(hits, u32::MAX);
        eprintln!(
            "dpcls {n_sub} subtables, {} rules: avg subtable lookups per hit {:.2}",
            cls.len(),
            lookups as f64 / 32.0
        );
        let mut off = 0;
        g.bench_function(format!("batch32_{total}_rules_{n_sub}_subtables"), |b| {
            b.iter(|| {
                let r = cls.lookup_batch(black_box(&pkts[off..off + 32]), u32::MAX, &mut out);
                off = (off + 32) % pkts.len();
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_emc, bench_dpcls);
criterion_main!(benches);
