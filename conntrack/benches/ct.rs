//! Conntrack benchmarks.
//!
//! * `ct/est_udp_batch32`: established lookup + update, batches of 32
//!   packets of one connection (per-packet cost = time / 32).
//! * `ct/setup_udp`: connection setup rate (commit of a new tuple each
//!   packet, table growing from empty).
//! * `ct/ovs_benchmark/T_threads/C_conns`: OVS's `ovstest test-conntrack
//!   benchmark T N 32 [1]` shape: every thread runs `ct(commit)` on batches
//!   of 32 UDP packets of its own connection (C = 1) or of 32 connections
//!   (C = 32); time per batch round (all threads in parallel).
//! * `ct/est_1m_table`: established lookup + update of random connections in
//!   a table of 1M connections (cache-miss bound).

use conntrack::{Config, Conntrack};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dp_core::actions::CtAction;
use dp_core::packet::{DpPacket, PacketBatch};
use etherparse::PacketBuilder;
use std::time::{Duration, Instant};

/// A UDP packet with a zero (absent) UDP checksum, so ports can be changed
/// in place without checksum work.
fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> DpPacket {
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, &[0u8; 18]).unwrap();
    let mut p = DpPacket::from_slice(&v);
    dp_core::extract::extract_flow(&mut p);
    let l4 = p.l4_ofs as usize;
    p.data_mut()[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
    p
}

fn set_ports(p: &mut DpPacket, sp: u16, dp: u16) {
    let l4 = p.l4_ofs as usize;
    let d = p.data_mut();
    d[l4..l4 + 2].copy_from_slice(&sp.to_be_bytes());
    d[l4 + 2..l4 + 4].copy_from_slice(&dp.to_be_bytes());
}

fn commit() -> CtAction {
    CtAction {
        commit: true,
        ..CtAction::default()
    }
}

fn batch_of(f: impl Fn(usize) -> DpPacket) -> PacketBatch {
    let mut b = PacketBatch::new();
    for i in 0..32 {
        b.push(Box::new(f(i)));
    }
    b
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ct");
    let a = commit();
    let plain = CtAction::default();

    {
        let ct = Conntrack::default();
        let mut b = batch_of(|_| udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000));
        ct.execute(&mut b, &a, 0);
        let mut r = batch_of(|_| udp([10, 0, 0, 2], [10, 0, 0, 1], 2000, 1000));
        ct.execute(&mut r, &a, 0);
        g.throughput(Throughput::Elements(32));
        g.bench_function("est_udp_batch32", |bch| {
            bch.iter(|| ct.execute(&mut b, &plain, 1))
        });
    }

    g.throughput(Throughput::Elements(1));
    g.bench_function("setup_udp", |bch| {
        bch.iter_custom(|iters| {
            let ct = Conntrack::new(Config {
                max_conns: u32::MAX,
                ..Config::default()
            });
            let mut p = udp([10, 0, 0, 1], [10, 0, 0, 2], 0, 0);
            let start = Instant::now();
            for i in 0..iters {
                set_ports(&mut p, i as u16, (i >> 16) as u16);
                ct.execute_one(&mut p, &a, 0);
            }
            let t = start.elapsed();
            drop(ct);
            t
        })
    });

    for threads in [1usize, 2] {
        for conns in [1usize, 32] {
            g.throughput(Throughput::Elements((32 * threads) as u64));
            let name = format!("ovs_benchmark/{threads}_threads/{conns}_conns");
            g.bench_function(&name, |bch| {
                bch.iter_custom(|iters| {
                    let ct = Conntrack::default();
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for t in 0..threads {
                            let ct = &ct;
                            let a = &a;
                            s.spawn(move || {
                                let mut b = batch_of(|i| {
                                    let sp = if conns == 1 { 1 } else { 1 + i as u16 };
                                    udp([10, 0, 0, 1 + t as u8], [10, 0, 0, 200], sp, 2)
                                });
                                for _ in 0..iters {
                                    ct.execute(&mut b, a, 1);
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            });
        }
    }

    {
        const N: u32 = 1 << 20;
        let ct = Conntrack::default();
        let mut p = udp([10, 0, 0, 1], [10, 0, 0, 2], 0, 0);
        for i in 0..N {
            set_ports(&mut p, i as u16, 1 + (i >> 16) as u16);
            ct.execute_one(&mut p, &a, 0);
        }
        assert_eq!(ct.n_conns(), N);
        let mut b = batch_of(|_| udp([10, 0, 0, 1], [10, 0, 0, 2], 0, 0));
        let mut x: u32 = 12345;
        g.throughput(Throughput::Elements(32));
        g.bench_function("est_1m_table_batch32", |bch| {
            bch.iter(|| {
                for p in b.pkts.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let i = x % N;
                    set_ports(p, i as u16, 1 + (i >> 16) as u16);
                }
                ct.execute(&mut b, &plain, 1);
            })
        });
        // One-direction UDP stays +new until a reply (OVS
        // `other_conn_update`), but the packets did hit their connection.
        use dp_core::flow::ct_state::{NEW, TRACKED};
        assert_eq!(b.pkts[0].md.ct_state, TRACKED | NEW);
        assert_eq!(ct.n_conns(), N);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
