//! Fast-path benchmarks: extraction, and the whole batch path extract -> EMC
//! -> dpcls -> execute `output` into an in-memory sink.
//!
//! Run: `cargo bench -p dp-core --bench fastpath`. Throughput lines are in
//! packets ("elem/s" = packets/s; "Melem/s" = Mpps) for one core.

use criterion::{black_box, criterion_group, Criterion, Throughput};
use dp_core::actions::{ActionContext, OdpAction, OdpPort, UserspaceAction};
use dp_core::extract::extract;
use dp_core::fastpath::{FastPath, FastPathConfig, Upcall, UpcallHandler};
use dp_core::flow::{fields, Flow};
use dp_core::flow_table::PutFlags;
use dp_core::matches::Match;
use dp_core::miniflow::FlowKey;
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use std::collections::VecDeque;

const IN_PORT: u32 = 1;
const OUT_PORT: u32 = 2;

/// A 64-byte Ethernet/IPv4/UDP frame (60 bytes + 4 bytes FCS on the wire;
/// we carry 60, as NICs strip the FCS).
fn udp_frame(src: u32, dst: u32, sport: u16, dport: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 2])
        .ipv4(src.to_be_bytes(), dst.to_be_bytes(), 64)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(64);
    b.write(&mut v, &[0u8; 18])
        .expect("writing to a Vec cannot fail");
    v
}

/// Returns every packet to the pool it came from: an rx ring that never
/// empties.
struct Sink<'a> {
    pool: &'a mut VecDeque<Box<DpPacket>>,
    sent: u64,
}

impl ActionContext for Sink<'_> {
    fn output(&mut self, _port: OdpPort, batch: PacketBatch) {
        self.sent += batch.len() as u64;
        self.pool.extend(batch.pkts);
    }
    fn userspace(&mut self, _a: &UserspaceAction, batch: PacketBatch) {
        self.pool.extend(batch.pkts);
    }
    fn recirc(&mut self, batch: PacketBatch) {
        self.pool.extend(batch.pkts);
    }
    fn random_u32(&mut self) -> u32 {
        4
    }
    fn now_ns(&self) -> u64 {
        0
    }
}

struct NoUpcall;
impl UpcallHandler for NoUpcall {
    fn upcall(&mut self, _p: &DpPacket, _f: &Flow) -> Result<Upcall, String> {
        Err("benchmark installs every flow up front".into())
    }
}

/// An in-memory port: "receives" by copying the next frame of `frames` into a
/// recycled packet buffer (what a NIC's DMA or DPDK's `net_pcap` replay
/// does), so the buffers stay cache-hot while the traffic cycles through any
/// number of flows.
struct Rx {
    /// Equal-length frames back to back, like a pcap replayed from memory.
    frames: Vec<u8>,
    frame_len: usize,
    next: usize,
    pool: VecDeque<Box<DpPacket>>,
}

impl Rx {
    fn new(frames: Vec<Vec<u8>>) -> Rx {
        let pool = (0..4 * NETDEV_MAX_BURST)
            .map(|_| Box::new(DpPacket::default()))
            .collect();
        let frame_len = frames[0].len();
        assert!(frames.iter().all(|f| f.len() == frame_len));
        Rx {
            frames: frames.concat(),
            frame_len,
            next: 0,
            pool,
        }
    }

    fn burst(&mut self) -> PacketBatch {
        let mut batch = PacketBatch::new();
        for _ in 0..NETDEV_MAX_BURST {
            let mut p = self.pool.pop_front().expect("pool refilled by the sink");
            let at = self.next * self.frame_len;
            p.set_frame(&self.frames[at..at + self.frame_len]);
            self.next = (self.next + 1) % (self.frames.len() / self.frame_len);
            p.md.init(IN_PORT);
            batch.push(p);
        }
        batch
    }
}

fn run_batch(fp: &mut FastPath, rx: &mut Rx, now: u64) {
    let batch = rx.burst();
    let mut sink = Sink {
        pool: &mut rx.pool,
        sent: 0,
    };
    fp.process(batch, now, &mut sink, &mut NoUpcall);
    debug_assert_eq!(sink.sent, NETDEV_MAX_BURST as u64);
}

fn bench_extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(1));
    let mut p = DpPacket::from_slice(&udp_frame(0x0a000001, 0x0a000002, 1000, 2000));
    p.md.init(IN_PORT);
    let mut key = FlowKey::default();
    g.bench_function("udp4_64B", |b| {
        b.iter(|| {
            extract(black_box(&mut p), &mut key);
            black_box(key.hash)
        })
    });
    g.finish();
}

/// Case (a): one megaflow whose mask (in_port, recirc_id, eth_type, nw_frag)
/// is "simple", so every packet is a simple-match hit (no extraction, EMC or
/// dpcls; the bench keeps its historical name `1flow_emc_hit`, as every
/// packet was an EMC hit before simple match).
fn bench_one_flow(c: &mut Criterion) {
    let (mut fp, mut rx) = one_flow_setup();
    let mut g = c.benchmark_group("fastpath");
    g.throughput(Throughput::Elements(NETDEV_MAX_BURST as u64));
    g.bench_function("1flow_emc_hit", |b| {
        b.iter(|| run_batch(&mut fp, &mut rx, 1))
    });
    g.finish();
    let s = fp.stats;
    assert!(
        s.simple_hit >= s.recv / 2,
        "expected simple match hits: {s:?}"
    );
}

fn one_flow_setup() -> (FastPath, Rx) {
    let mut fp = FastPath::new(FastPathConfig::default());
    let mut key = Flow::zero();
    let mut mask = Flow::zero();
    key.set(fields::IN_PORT, IN_PORT as u64);
    mask.set_exact(fields::IN_PORT);
    mask.set_exact(fields::RECIRC_ID);
    key.set(fields::ETH_TYPE, 0x0800);
    mask.set_exact(fields::ETH_TYPE);
    mask.set_exact(fields::NW_FRAG);
    fp.table
        .put(
            &Match::new(&key, &mask),
            None,
            vec![OdpAction::Output(OUT_PORT)],
            PutFlags::CREATE,
        )
        .unwrap();
    fp.configure(FastPathConfig {
        emc_insert_inv_prob: 1,
        smc_enable: false,
    });
    let rx = Rx::new(vec![udp_frame(0x0a000001, 0x0a000002, 1000, 2000)]);
    (fp, rx)
}

/// The 8 megaflow masks of case (b): every mask matches in_port, recirc_id,
/// eth_type, nw_proto, nw_frag, nw_dst and a tp_dst unique to the mask (so
/// megaflows of different masks never overlap), plus one more field each.
fn mask_k(k: usize) -> Flow {
    let mut m = Flow::zero();
    for f in [
        fields::IN_PORT,
        fields::RECIRC_ID,
        fields::ETH_TYPE,
        fields::NW_PROTO,
        fields::NW_FRAG,
        fields::NW_DST,
        fields::TP_DST,
    ] {
        m.set_exact(f);
    }
    match k {
        0 => {}
        1 => m.set_exact(fields::NW_SRC),
        2 => m.set_exact(fields::TP_SRC),
        3 => m.set(fields::NW_SRC, 0xffff_ff00),
        4 => m.set_exact(fields::NW_TOS),
        5 => m.set_exact(fields::NW_TTL),
        6 => m.set_exact(fields::ETH_SRC),
        _ => m.set_exact(fields::ETH_DST),
    }
    m
}

/// Case (b): 100k megaflows over 8 masks, packets cycling over all of them
/// (far more flows than the 8192 EMC entries).
fn bench_100k_flows(c: &mut Criterion) {
    let (mut fp, mut rx) = flows_100k_setup();
    let mut g = c.benchmark_group("fastpath");
    g.throughput(Throughput::Elements(NETDEV_MAX_BURST as u64));
    let mut now = 0;
    g.bench_function("100k_flows_8_masks", |b| {
        b.iter(|| {
            now += 1000;
            run_batch(&mut fp, &mut rx, now)
        })
    });
    g.finish();
    let s = fp.stats;
    if s.recv == 0 {
        return; // filtered out
    }
    assert_eq!(s.lost + s.malformed, 0, "{s:?}");
    println!(
        "100k flows: emc hits {:.1}%, megaflow hits {:.1}%, avg subtable lookups per megaflow hit {:.2}",
        100.0 * s.emc_hit as f64 / s.recv as f64,
        100.0 * s.masked_hit as f64 / s.recv as f64,
        s.lookups as f64 / s.masked_hit.max(1) as f64
    );
}

fn flows_100k_setup() -> (FastPath, Rx) {
    const N_FLOWS: usize = 100_000;
    let mut fp = FastPath::new(FastPathConfig::default());
    let mut frames = Vec::with_capacity(N_FLOWS);
    for i in 0..N_FLOWS {
        let k = i % 8;
        let dst = 0x0b00_0000 + i as u32;
        let (src, sport, dport) = (
            0x0a00_0001 + (i as u32 % 251),
            1000 + (i % 4000) as u16,
            5000 + k as u16,
        );
        let frame = udp_frame(src, dst, sport, dport);
        let mut p = DpPacket::from_slice(&frame);
        p.md.init(IN_PORT);
        let key = dp_core::extract::extract_flow(&mut p);
        fp.table
            .put(
                &Match::new(&key, &mask_k(k)),
                None,
                vec![OdpAction::Output(OUT_PORT)],
                PutFlags::CREATE,
            )
            .unwrap();
        frames.push(frame);
    }
    let rx = Rx::new(frames);
    assert_eq!(fp.table.len(), N_FLOWS);
    (fp, rx)
}

criterion_group!(benches, bench_extract, bench_one_flow, bench_100k_flows);

/// Fixed-iteration driver for instruction counts under callgrind (the
/// machine's load does not change them), instead of criterion's timing:
///
/// ```text
/// FASTPATH_DRIVER=extract|1flow|100k FASTPATH_ITERS=N \
///   valgrind --tool=callgrind --toggle-collect='*drive_*' \
///   target/release/deps/fastpath-HASH
/// ```
///
/// prints the packets driven; callgrind's total `Ir` divided by them is
/// instructions per packet (setup excluded by `--toggle-collect`).
fn driver(which: &str, iters: u64) {
    match which {
        "extract" => {
            let mut p = DpPacket::from_slice(&udp_frame(0x0a000001, 0x0a000002, 1000, 2000));
            p.md.init(IN_PORT);
            let mut key = FlowKey::default();
            drive_extract(&mut p, &mut key, iters);
            println!("extract: {iters} packets");
        }
        "1flow" => {
            let (mut fp, mut rx) = one_flow_setup();
            drive_batches(&mut fp, &mut rx, iters);
            println!(
                "1flow: {} packets {:?}",
                iters * NETDEV_MAX_BURST as u64,
                fp.stats
            );
        }
        "100k" => {
            let (mut fp, mut rx) = flows_100k_setup();
            // Warm the caches and the EMC as criterion's warm-up does.
            for i in 0..5_000 {
                run_batch(&mut fp, &mut rx, i * 1000);
            }
            fp.clear_stats();
            drive_batches(&mut fp, &mut rx, iters);
            println!(
                "100k: {} packets {:?}",
                iters * NETDEV_MAX_BURST as u64,
                fp.stats
            );
        }
        _ => panic!("FASTPATH_DRIVER: extract, 1flow or 100k"),
    }
}

#[inline(never)]
fn drive_extract(p: &mut DpPacket, key: &mut FlowKey, iters: u64) {
    for _ in 0..iters {
        extract(black_box(&mut *p), &mut *key);
        black_box(key.hash);
    }
}

#[inline(never)]
fn drive_batches(fp: &mut FastPath, rx: &mut Rx, iters: u64) {
    for i in 0..iters {
        run_batch(fp, rx, 1_000_000_000 + i * 1000);
    }
}

fn main() {
    if let Ok(which) = std::env::var("FASTPATH_DRIVER") {
        let iters = std::env::var("FASTPATH_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        driver(&which, iters);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
