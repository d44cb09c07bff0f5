//! Upcall benchmarks: how fast a miss becomes an installed megaflow, and how
//! fast a bundle of flow_mods is committed, with 1k, 10k and 100k OpenFlow
//! rules in the bridge (issue 5's "upcall-to-installed-megaflow latency and
//! rate").
//!
//! What runs is what a PMD thread runs on a miss in rvs-vswitchd (as in OVS's
//! dpif-netdev, upcalls are handled on the PMD itself, so "per handler" is
//! "per PMD"): `FastPath::process` extracts the key, misses the EMC and the
//! dpcls, calls the bridge's OpenFlow pipeline (`OpenFlowBridge`'s upcall:
//! xlate through the tables, rule statistics credited), installs the
//! megaflow (mask and actions) in the PMD's flow table and executes the
//! actions. Every packet measured is a miss: the traffic walks through one
//! destination per rule and the flow table is flushed (untimed) before the
//! walk wraps around.
//!
//! Groups (throughput in "elem/s" = upcalls/s, or flow_mods/s):
//! * `upcall/miss_to_megaflow/N`: packets in batches of 32, each a miss
//!   that ends with an installed megaflow; the time per element is the
//!   upcall-to-installed-megaflow latency on one core with no queueing.
//! * `upcall/xlate_only/N`: the translation alone (`BridgeNormal::upcall`
//!   on an extracted key), to split the latency into xlate and the rest.
//! * `flow_mod/bundle_commit/N`: N `add` flow_mods committed atomically
//!   (what `ovs-ofctl --bundle add-flows` ends in, without the socket and
//!   the decoding); `scripts/bench-flowmod.sh` measures the whole command
//!   against rvs-vswitchd and ovs-vswitchd.
//!
//! Rules: table 0 has N rules `priority=100,udp,nw_dst=10.X.Y.Z,
//! actions=output:2` (one per destination, 10.0.0.0 + i) and the default
//! `priority=0,actions=NORMAL`.
//!
//! Run: `cargo bench -p vswitchd --bench upcall`.

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use dp_core::actions::{ActionContext, OdpPort, UserspaceAction};
use dp_core::extract::extract_flow;
use dp_core::fastpath::{FastPath, FastPathConfig, Upcall, UpcallHandler};
use dp_core::flow::Flow;
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use ofproto::ofp::actions::{Action, OFPP_ANY};
use ofproto::ofp::flow::command;
use ofproto::ofp::instructions::Instruction;
use ofproto::ofp::oxm::{Field, MatchField, OxmMatch};
use ofproto::table::key::match_from_oxm;
use ofproto::table::FlowModSpec;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use vswitchd::ofproto::{BridgeNormal, BridgePort};
use vswitchd::openflow::OpenFlowBridge;

const IN_PORT: u32 = 1;
const OUT_PORT: u32 = 2;
const FIRST_DST: u32 = 0x0a00_0000;

/// A 64-byte Ethernet/IPv4/UDP frame to `dst` (FCS not carried).
fn udp_frame(dst: u32) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 0, 1], dst.to_be_bytes(), 64)
        .udp(1000, 2000);
    let mut v = Vec::with_capacity(64);
    b.write(&mut v, &[0u8; 18])
        .expect("writing to a Vec cannot fail");
    v
}

/// `priority=100,udp,nw_dst=DST,actions=output:2` in table 0.
fn rule(dst: u32) -> FlowModSpec {
    let om = OxmMatch {
        fields: vec![
            MatchField::new(Field::EthType, &[8, 0], None, true).expect("eth_type"),
            MatchField::new(Field::IpProto, &[17], None, true).expect("ip_proto"),
            MatchField::new(Field::Ipv4Dst, &dst.to_be_bytes(), None, true).expect("nw_dst"),
        ],
    };
    let (value, mask) = match_from_oxm(&om).expect("valid match");
    FlowModSpec {
        command: command::ADD,
        table_id: 0,
        priority: 100,
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
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: OUT_PORT,
            max_len: 0,
        }])],
        modify_may_add: false,
    }
}

fn rules(n: usize) -> Vec<FlowModSpec> {
    (0..n as u32).map(|i| rule(FIRST_DST + i)).collect()
}

/// A bridge with ports 1 and 2 (datapath ports 1 and 2) and `n` rules.
fn bridge(n: usize) -> OpenFlowBridge {
    let b = OpenFlowBridge::new("br0");
    b.set_ports(
        [(1, "p1"), (2, "p2")]
            .into_iter()
            .map(|(p, name)| BridgePort {
                odp_port: p,
                ofport: p,
                name: name.into(),
                tag: None,
                trunks: vec![],
                vlan_mode: None,
            })
            .collect(),
    );
    b.flow_mods_atomic(&rules(n)).expect("rules apply");
    b
}

struct Handler<'a>(&'a OpenFlowBridge);

impl UpcallHandler for Handler<'_> {
    fn upcall(&mut self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        self.0.upcall(pkt, flow)
    }
}

/// Returns every packet to the rx pool.
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

/// One frame per rule, replayed from memory into recycled buffers.
struct Rx {
    frames: Vec<Vec<u8>>,
    next: usize,
    pool: VecDeque<Box<DpPacket>>,
}

impl Rx {
    fn new(n: usize) -> Rx {
        Rx {
            frames: (0..n as u32).map(|i| udp_frame(FIRST_DST + i)).collect(),
            next: 0,
            pool: (0..4 * NETDEV_MAX_BURST)
                .map(|_| Box::new(DpPacket::default()))
                .collect(),
        }
    }

    fn burst(&mut self) -> PacketBatch {
        let mut batch = PacketBatch::new();
        for _ in 0..NETDEV_MAX_BURST {
            let mut p = self.pool.pop_front().expect("pool refilled by the sink");
            p.set_frame(&self.frames[self.next]);
            self.next += 1;
            p.md.init(IN_PORT);
            batch.push(p);
        }
        batch
    }
}

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn bench_miss_to_megaflow(c: &mut Criterion) {
    let mut g = c.benchmark_group("upcall");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    for n in SIZES {
        let br = bridge(n);
        let mut rx = Rx::new(n);
        let mut fp = FastPath::new(FastPathConfig::default());
        let mut handler = Handler(&br);
        // Check once, untimed, that a walk is all misses and installs one
        // megaflow per rule, each forwarding to port 2.
        let mut sent = 0;
        while rx.next + NETDEV_MAX_BURST <= n {
            let batch = rx.burst();
            let mut sink = Sink {
                pool: &mut rx.pool,
                sent: 0,
            };
            fp.process(batch, 1, &mut sink, &mut handler);
            sent += sink.sent;
        }
        assert_eq!(fp.table.len(), rx.next, "one megaflow per destination");
        assert_eq!(sent as usize, rx.next, "every packet forwarded");
        assert_eq!(fp.stats.miss as usize, rx.next, "every packet missed");
        g.bench_function(BenchmarkId::new("miss_to_megaflow", n), |b| {
            b.iter_custom(|iters| {
                let batches = (iters as usize).div_ceil(NETDEV_MAX_BURST);
                let mut spent = Duration::ZERO;
                for _ in 0..batches {
                    if rx.next + NETDEV_MAX_BURST > n {
                        fp.table.flush();
                        fp.clear_caches();
                        rx.next = 0;
                    }
                    let batch = rx.burst();
                    let mut sink = Sink {
                        pool: &mut rx.pool,
                        sent: 0,
                    };
                    let t = Instant::now();
                    fp.process(batch, 1, &mut sink, &mut handler);
                    spent += t.elapsed();
                }
                spent.mul_f64(iters as f64 / (batches * NETDEV_MAX_BURST) as f64)
            })
        });
        let keys: Vec<Flow> = (0..n as u32)
            .map(|i| {
                let mut p = DpPacket::from_slice(&udp_frame(FIRST_DST + i));
                p.md.init(IN_PORT);
                extract_flow(&mut p)
            })
            .collect();
        let pkt = DpPacket::from_slice(&udp_frame(FIRST_DST));
        let mut i = 0;
        g.bench_function(BenchmarkId::new("xlate_only", n), |b| {
            b.iter(|| {
                let u = br.upcall(&pkt, &keys[i]).expect("translates");
                i = (i + 1) % n;
                black_box(u)
            })
        });
    }
    g.finish();
}

fn bench_bundle_commit(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_mod");
    g.sample_size(10);
    for n in SIZES {
        let fms = rules(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("bundle_commit", n), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let br = OpenFlowBridge::new("br0");
                    let t = Instant::now();
                    br.flow_mods_atomic(&fms).expect("rules apply");
                    spent += t.elapsed();
                    drop(br);
                }
                spent
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_miss_to_megaflow, bench_bundle_commit);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
