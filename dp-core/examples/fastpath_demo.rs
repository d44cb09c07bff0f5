//! dp-core in process: real frames through extract -> EMC -> dpcls -> upcall
//! -> execute, with a small MAC-learning upcall handler standing in for
//! ofproto's NORMAL action. Prints the installed megaflows in the
//! `ovs-appctl dpctl/dump-flows` format, `pmd-stats-show`-style counters, and
//! a short single-core forwarding rate.
//!
//! Run: `cargo run --release -p dp-core --example fastpath_demo [SECONDS]`.

use dp_core::actions::{ActionContext, OdpAction, OdpPort, UserspaceAction};
use dp_core::fastpath::{FastPath, FastPathConfig, Upcall, UpcallHandler};
use dp_core::flow::{fields, Flow};
use dp_core::odp_text::{format_flow, parse_flow, DumpedFlow};
use dp_core::packet::{DpPacket, PacketBatch};
use etherparse::PacketBuilder;
use std::collections::HashMap;
use std::time::Instant;

const PORTS: [u32; 3] = [1, 2, 3];

/// MAC learning: the source MAC is learned on the input port; a known
/// destination is forwarded to its port, an unknown one flooded. The megaflow
/// matches exactly the fields consulted: in_port, recirc_id, eth src/dst.
#[derive(Default)]
struct Learning {
    macs: HashMap<u64, u32>,
}

impl UpcallHandler for Learning {
    fn upcall(&mut self, _pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        let in_port = flow.get(fields::IN_PORT) as u32;
        let src = flow.get(fields::ETH_SRC);
        let dst = flow.get(fields::ETH_DST);
        self.macs.insert(src, in_port);
        let actions = match self.macs.get(&dst) {
            Some(&p) if p == in_port => vec![],
            Some(&p) => vec![OdpAction::Output(p)],
            None => PORTS
                .iter()
                .filter(|&&p| p != in_port)
                .map(|&p| OdpAction::Output(p))
                .collect(),
        };
        let mut mask = Flow::zero();
        for f in [
            fields::IN_PORT,
            fields::RECIRC_ID,
            fields::ETH_SRC,
            fields::ETH_DST,
        ] {
            mask.set_exact(f);
        }
        Ok(Upcall {
            actions,
            mask: Some(mask),
            ufid: None,
        })
    }
}

/// Counts what each port would transmit; recycles packets into `pool`.
#[derive(Default)]
struct Ports {
    tx: HashMap<OdpPort, u64>,
    pool: PacketBatch,
    start: Option<Instant>,
}

impl ActionContext for Ports {
    fn output(&mut self, port: OdpPort, batch: PacketBatch) {
        *self.tx.entry(port).or_default() += batch.len() as u64;
        self.pool.pkts.extend(batch.pkts);
    }
    fn userspace(&mut self, _a: &UserspaceAction, batch: PacketBatch) {
        self.pool.pkts.extend(batch.pkts);
    }
    fn recirc(&mut self, batch: PacketBatch) {
        self.pool.pkts.extend(batch.pkts);
    }
    fn random_u32(&mut self) -> u32 {
        0
    }
    fn now_ns(&self) -> u64 {
        self.start.map_or(0, |s| s.elapsed().as_nanos() as u64)
    }
}

fn mac(n: u8) -> [u8; 6] {
    [0x50, 0x54, 0x00, 0x00, 0x00, n]
}

fn frame(src: u8, dst: [u8; 6], l4: &str, sport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(mac(src), dst).ipv4([10, 0, 0, src], [10, 0, 0, dst[5]], 64);
    let mut v = Vec::new();
    match l4 {
        "tcp" => b.tcp(sport, 80, 1, 65535).syn().write(&mut v, &[]),
        _ => b.udp(sport, 53).write(&mut v, &[0; 18]),
    }
    .expect("writing to a Vec cannot fail");
    v
}

fn send(fp: &mut FastPath, ports: &mut Ports, up: &mut Learning, in_port: u32, frames: &[Vec<u8>]) {
    let mut batch = PacketBatch::new();
    for f in frames {
        let mut p = Box::new(DpPacket::from_slice(f));
        p.md.init(in_port);
        batch.push(p);
    }
    let now = ports.now_ns();
    fp.process(batch, now, ports, up);
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let mut fp = FastPath::new(FastPathConfig::default());
    let mut ports = Ports {
        start: Some(Instant::now()),
        ..Default::default()
    };
    let mut up = Learning::default();
    let bcast = [0xff; 6];

    println!("== traffic: host 1 (port 1) <-> host 2 (port 2), host 3 (port 3) silent");
    send(
        &mut fp,
        &mut ports,
        &mut up,
        1,
        &[frame(1, bcast, "udp", 1000)],
    );
    send(
        &mut fp,
        &mut ports,
        &mut up,
        2,
        &[frame(2, mac(1), "udp", 2000)],
    );
    let burst: Vec<Vec<u8>> = (0..32)
        .map(|i| frame(1, mac(2), "tcp", 40000 + i))
        .collect();
    send(&mut fp, &mut ports, &mut up, 1, &burst);
    send(&mut fp, &mut ports, &mut up, 1, &burst);
    send(
        &mut fp,
        &mut ports,
        &mut up,
        2,
        &[frame(2, mac(1), "udp", 2000)],
    );
    let mut runt = frame(1, mac(2), "udp", 7);
    runt.truncate(20);
    send(&mut fp, &mut ports, &mut up, 1, &[runt]);

    println!("\n$ ovs-appctl dpctl/dump-flows");
    let now = ports.now_ns();
    for (_, f) in fp.table.dump() {
        let d = DumpedFlow {
            ufid: None,
            m: f.m.clone(),
            stats: f.stats,
            actions: f.actions.to_vec(),
        };
        println!("{}", format_flow(&d, now));
    }

    let s = fp.stats;
    println!("\n$ ovs-appctl dpif-netdev/pmd-stats-show");
    println!("pmd thread numa_id 0 core_id 0 (in process):");
    println!("  packets received: {}", s.recv);
    println!("  packet recirculations: {}", s.recirc);
    println!("  emc hits: {}", s.emc_hit);
    println!("  smc hits: {}", s.smc_hit);
    println!("  megaflow hits: {}", s.masked_hit);
    println!("  miss with success upcall: {}", s.miss);
    println!("  miss with failed upcall: {}", s.lost);
    println!("  malformed packets dropped: {}", s.malformed);
    let mut tx: Vec<_> = ports.tx.iter().collect();
    tx.sort();
    println!("  tx per port: {tx:?}");

    let line = "recirc_id(0),in_port(2),eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(frag=no), packets:3, bytes:180, used:0.500s, actions:1";
    println!("\n== text format round trip\n  in:  {line}");
    match parse_flow(line, 1_000_000_000) {
        Ok(f) => println!("  out: {}", format_flow(&f, 1_000_000_000)),
        Err(e) => println!("  parse error: {e}"),
    }

    println!(
        "\n== forwarding rate, one core, {secs} s, 64-byte UDP frames, one megaflow (EMC hits)"
    );
    let mut fp = FastPath::new(FastPathConfig {
        emc_insert_inv_prob: 1,
        smc_enable: false,
    });
    let f64b = frame(1, mac(2), "udp", 1000);
    ports.pool.pkts = (0..64)
        .map(|_| Box::new(DpPacket::from_slice(&f64b)))
        .collect();
    let mut up = Learning::default();
    up.macs.insert(dp_core::flow::mac_to_u64(mac(2)), 2);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..1000 {
            let mut batch = PacketBatch::new();
            for _ in 0..32 {
                let mut p = ports.pool.pkts.pop().expect("pool refilled by output");
                p.md.init(1);
                batch.push(p);
            }
            fp.process(batch, n, &mut ports, &mut up);
            n += 32;
        }
    }
    let mpps = n as f64 / start.elapsed().as_secs_f64() / 1e6;
    println!("  {n} packets, {mpps:.2} Mpps");
}
