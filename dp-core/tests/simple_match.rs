//! The "simple match" fast path (OVS `dp_netdev_simple_match_*`,
//! `lib/dpif-netdev.c`): a simple hit must be exactly the megaflow the full
//! path (extract -> dpcls) returns; it is enabled for an in_port only while
//! every megaflow of that port is simple with one mask; recirculated packets
//! never use it.

use dp_core::actions::{ActionContext, OdpAction, OdpPort, UserspaceAction};
use dp_core::extract::{extract, extract_simple, ExtractStatus};
use dp_core::fastpath::{FastPath, FastPathConfig, Upcall, UpcallHandler};
use dp_core::flow::{fields, tcp_flags, Field, Flow, FRAG_ANY, FRAG_LATER, VLAN_CFI};
use dp_core::flow_table::PutFlags;
use dp_core::matches::Match;
use dp_core::miniflow::FlowKey;
use dp_core::packet::{DpPacket, PacketBatch};
use proptest::prelude::*;

/// Records the output port of every packet.
#[derive(Default)]
struct Ctx {
    out: Vec<(OdpPort, usize)>,
    recirc: usize,
}

impl ActionContext for Ctx {
    fn output(&mut self, port: OdpPort, batch: PacketBatch) {
        for p in &batch.pkts {
            self.out.push((port, p.len()));
        }
    }
    fn userspace(&mut self, _a: &UserspaceAction, _batch: PacketBatch) {}
    fn recirc(&mut self, batch: PacketBatch) {
        self.recirc += batch.len();
    }
    fn random_u32(&mut self) -> u32 {
        0
    }
    fn now_ns(&self) -> u64 {
        0
    }
}

/// Counts upcalls and installs nothing.
#[derive(Default)]
struct Upcalls(usize);

impl UpcallHandler for Upcalls {
    fn upcall(&mut self, _p: &DpPacket, _f: &Flow) -> Result<Upcall, String> {
        self.0 += 1;
        Err("no flow".into())
    }
}

/// Ethernet frame: optional VLAN tags (TPID, TCI), Ethertype, payload.
fn frame(tags: &[(u16, u16)], eth_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1];
    for (tpid, tci) in tags {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&tci.to_be_bytes());
    }
    v.extend_from_slice(&eth_type.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// IPv4 header (no options) + `l4`; `frag` is the flags/offset half-word.
fn ipv4(proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
    let tot = (20 + l4.len()) as u16;
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&tot.to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    v.extend_from_slice(&frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    v.extend_from_slice(l4);
    v
}

fn ipv6(next: u8, l4: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&[0xfe; 32]);
    v.extend_from_slice(l4);
    v
}

fn udp() -> Vec<u8> {
    vec![0x04, 0xd2, 0x16, 0x2e, 0, 8, 0, 0]
}

fn tcp(flags: u16) -> Vec<u8> {
    let mut v = vec![0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0];
    v.extend_from_slice(&(0x5000 | flags).to_be_bytes());
    v.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    v
}

fn pkt(in_port: u32, f: &[u8]) -> Box<DpPacket> {
    let mut p = Box::new(DpPacket::from_slice(f));
    p.md.init(in_port);
    p
}

/// The megaflow mask rvs's xlate gives `in_port=N,actions=output:M` for IP:
/// in_port, recirc_id, eth_type, nw_frag (plus `extra` fields).
fn mask(extra: &[Field]) -> Flow {
    let mut m = Flow::zero();
    for f in [
        fields::IN_PORT,
        fields::RECIRC_ID,
        fields::ETH_TYPE,
        fields::NW_FRAG,
    ]
    .iter()
    .chain(extra)
    {
        m.set_exact(*f);
    }
    m
}

fn put(fp: &mut FastPath, key: &[(Field, u64)], mask: &Flow, out: OdpPort) {
    let mut k = Flow::zero();
    for (f, v) in key {
        k.set(*f, *v);
    }
    fp.table
        .put(
            &Match::new(&k, mask),
            None,
            vec![OdpAction::Output(out)],
            PutFlags::CREATE,
        )
        .unwrap();
}

/// Runs `pkts` (boxed, as `PacketBatch` holds them) through `fp`.
#[allow(clippy::vec_box)]
fn run(fp: &mut FastPath, pkts: Vec<Box<DpPacket>>) -> (Ctx, Upcalls) {
    let mut ctx = Ctx::default();
    let mut up = Upcalls::default();
    fp.process(PacketBatch { pkts }, 1, &mut ctx, &mut up);
    (ctx, up)
}

/// Flows for port 1 by (eth_type, nw_frag), output ports 2..=5.
fn frag_table() -> FastPath {
    let mut fp = FastPath::new(FastPathConfig::default());
    let m = mask(&[]);
    use fields::*;
    put(&mut fp, &[(IN_PORT, 1), (ETH_TYPE, 0x0800)], &m, 2);
    put(
        &mut fp,
        &[(IN_PORT, 1), (ETH_TYPE, 0x0800), (NW_FRAG, FRAG_ANY as u64)],
        &m,
        3,
    );
    put(
        &mut fp,
        &[
            (IN_PORT, 1),
            (ETH_TYPE, 0x0800),
            (NW_FRAG, (FRAG_ANY | FRAG_LATER) as u64),
        ],
        &m,
        4,
    );
    put(&mut fp, &[(IN_PORT, 1), (ETH_TYPE, 0x86dd)], &m, 5);
    fp
}

#[test]
fn simple_hits_forward_like_the_full_path() {
    let mut fp = frag_table();
    assert!(fp.table.simple_port(1).is_some());
    let frames = [
        (frame(&[], 0x0800, &ipv4(17, 0, &udp())), 2),
        (frame(&[], 0x0800, &ipv4(6, 0, &tcp(tcp_flags::SYN))), 2),
        (frame(&[], 0x0800, &ipv4(17, 0x2000, &udp())), 3),
        (frame(&[], 0x0800, &ipv4(17, 0x0010, &udp())), 4),
        (frame(&[], 0x86dd, &ipv6(17, &udp())), 5),
    ];
    // The full path's answer for each frame.
    for (f, _) in &frames {
        let mut p = pkt(1, f);
        let mut key = FlowKey::default();
        assert_eq!(extract(&mut p, &mut key), ExtractStatus::Ok);
        let full = fp.table.lookup(&key).expect("dpcls hit");
        let mut q = pkt(1, f);
        let sf = extract_simple(&mut q).expect("simple parse");
        assert_eq!(fp.table.simple_port(1).unwrap().lookup(&sf), Some(full));
        assert_eq!(
            (q.l2_5_ofs, q.l3_ofs, q.l4_ofs),
            (p.l2_5_ofs, p.l3_ofs, p.l4_ofs)
        );
    }
    let (ctx, up) = run(&mut fp, frames.iter().map(|(f, _)| pkt(1, f)).collect());
    let outs: Vec<_> = ctx.out.iter().map(|(p, _)| *p).collect();
    let want: Vec<_> = frames.iter().map(|(_, o)| *o).collect();
    assert_eq!(outs, want);
    assert_eq!(up.0, 0);
    assert_eq!(fp.stats.simple_hit, 5);
    assert_eq!(fp.stats.emc_hit + fp.stats.masked_hit, 0);
    // Statistics per megaflow, including the TCP flags of the simple parse.
    let flows: Vec<_> = fp.table.dump().map(|(_, f)| f.stats).collect();
    assert_eq!(flows[0].packets, 2);
    assert_eq!(flows[0].tcp_flags, tcp_flags::SYN);
    assert_eq!(
        flows[0].bytes as usize,
        frames[0].0.len() + frames[1].0.len()
    );
    assert_eq!(flows[1].packets, 1);
}

#[test]
fn misses_go_down_the_normal_path() {
    let mut fp = frag_table();
    // ARP has no flow: simple miss, full-path miss, upcall.
    let arp = frame(&[], 0x0806, &[0; 28]);
    // A truncated IPv4 header: not parsed by simple match, malformed.
    let bad = frame(&[], 0x0800, &[0x45, 0, 0]);
    let (ctx, up) = run(&mut fp, vec![pkt(1, &arp), pkt(1, &bad)]);
    assert!(ctx.out.is_empty());
    assert_eq!(up.0, 1);
    assert_eq!(fp.stats.malformed, 1);
    assert_eq!(fp.stats.simple_hit, 0);
}

#[test]
fn enabled_only_while_every_flow_of_the_port_is_simple() {
    let mut fp = frag_table();
    let udp4 = frame(&[], 0x0800, &ipv4(17, 0, &udp()));
    // A non-simple megaflow (it matches nw_proto) on port 1 disables it.
    use fields::*;
    let ns = mask(&[NW_PROTO]);
    put(
        &mut fp,
        &[(IN_PORT, 1), (ETH_TYPE, 0x0800), (NW_PROTO, 6)],
        &ns,
        9,
    );
    assert!(fp.table.simple_port(1).is_none());
    let (ctx, _) = run(&mut fp, vec![pkt(1, &udp4)]);
    assert_eq!(ctx.out, vec![(2, udp4.len())]);
    assert_eq!(fp.stats.simple_hit, 0);
    assert_eq!(fp.stats.masked_hit + fp.stats.emc_hit, 1);
    // Other ports are unaffected.
    put(&mut fp, &[(IN_PORT, 7), (ETH_TYPE, 0x0800)], &mask(&[]), 8);
    assert!(fp.table.simple_port(7).is_some());
    // Deleting the non-simple flow enables it again.
    let r = fp
        .table
        .dump()
        .find(|(_, f)| f.actions == [OdpAction::Output(9)])
        .map(|(r, _)| r)
        .unwrap();
    fp.table.del_ref(r).unwrap();
    assert!(fp.table.simple_port(1).is_some());
    run(&mut fp, vec![pkt(1, &udp4)]);
    assert_eq!(fp.stats.simple_hit, 1);
    // An ARP flow without nw_frag in its mask (what rvs's xlate gives
    // non-IP packets) is equivalent to one with it: still enabled, and ARP
    // (not parsed by simple match) still goes the full path.
    let mut no_frag = Flow::zero();
    no_frag.set_exact(IN_PORT);
    no_frag.set_exact(RECIRC_ID);
    no_frag.set_exact(ETH_TYPE);
    put(&mut fp, &[(IN_PORT, 1), (ETH_TYPE, 0x0806)], &no_frag, 6);
    assert!(fp.table.simple_port(1).is_some());
    let arp = frame(&[], 0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]);
    let arp = [arp, vec![0; 20]].concat();
    let (ctx, _) = run(&mut fp, vec![pkt(1, &arp), pkt(1, &udp4)]);
    assert_eq!(ctx.out, vec![(6, arp.len()), (2, udp4.len())]);
    assert_eq!(fp.stats.simple_hit, 2);
    // Non-IP flows with or without nw_frag share the mask; an IPv4 flow
    // without nw_frag (here with vlan_tci) is a simple flow with another
    // mask: it disables simple match for the port.
    put(&mut fp, &[(IN_PORT, 1), (ETH_TYPE, 0x0801)], &mask(&[]), 11);
    put(&mut fp, &[(IN_PORT, 1), (ETH_TYPE, 0x0802)], &no_frag, 12);
    assert!(
        fp.table.simple_port(1).is_some(),
        "Ethertype 0x0802 is not IP"
    );
    let mut ip_no_frag = no_frag.clone();
    ip_no_frag.set(VLAN0_TCI, 0xffff);
    put(
        &mut fp,
        &[(IN_PORT, 1), (ETH_TYPE, 0x0800)],
        &ip_no_frag,
        13,
    );
    assert!(fp.table.simple_port(1).is_none());
    // Flush: nothing left, nothing enabled.
    fp.table.flush();
    assert!(fp.table.simple_port(1).is_none());
    assert!(!fp.table.has_simple());
}

#[test]
fn vlan_tci_in_the_mask() {
    let mut fp = FastPath::new(FastPathConfig::default());
    use fields::*;
    let mut m = mask(&[]);
    m.set(VLAN0_TCI, (VLAN_CFI | 0x0fff) as u64);
    put(&mut fp, &[(IN_PORT, 1), (ETH_TYPE, 0x0800)], &m, 2);
    put(
        &mut fp,
        &[
            (IN_PORT, 1),
            (ETH_TYPE, 0x0800),
            (VLAN0_TCI, (VLAN_CFI | 10) as u64),
        ],
        &m,
        3,
    );
    let ip = ipv4(17, 0, &udp());
    let untagged = frame(&[], 0x0800, &ip);
    // PCP bits are not in the mask.
    let v10 = frame(&[(0x8100, 0xa000 | 10)], 0x0800, &ip);
    let qinq = frame(&[(0x88a8, 10), (0x8100, 20)], 0x0800, &ip);
    let v11 = frame(&[(0x8100, 11)], 0x0800, &ip);
    let (ctx, up) = run(
        &mut fp,
        vec![pkt(1, &untagged), pkt(1, &v10), pkt(1, &qinq), pkt(1, &v11)],
    );
    let outs: Vec<_> = ctx.out.iter().map(|(p, _)| *p).collect();
    assert_eq!(outs, vec![2, 3, 3]);
    assert_eq!(up.0, 1, "VLAN 11 has no flow");
    assert_eq!(fp.stats.simple_hit, 3);
}

#[test]
fn recirculated_packets_bypass_it() {
    let mut fp = FastPath::new(FastPathConfig::default());
    use fields::*;
    let m = mask(&[]);
    let mut k = Flow::zero();
    k.set(IN_PORT, 1);
    k.set(ETH_TYPE, 0x0800);
    fp.table
        .put(
            &Match::new(&k, &m),
            None,
            vec![OdpAction::Recirc(5)],
            PutFlags::CREATE,
        )
        .unwrap();
    // The flow for recirc_id 5 is not simple, but is on port 1 too.
    let mut k5 = k.clone();
    k5.set(RECIRC_ID, 5);
    fp.table
        .put(
            &Match::new(&k5, &m),
            None,
            vec![OdpAction::Output(2)],
            PutFlags::CREATE,
        )
        .unwrap();
    assert!(fp.table.simple_port(1).is_none());
    let udp4 = frame(&[], 0x0800, &ipv4(17, 0, &udp()));
    let (ctx, _) = run(&mut fp, vec![pkt(1, &udp4)]);
    assert_eq!(ctx.out, vec![(2, udp4.len())]);
    assert_eq!((fp.stats.recirc, fp.stats.simple_hit), (1, 0));
    // A packet that arrives with recirc_id 5 (as after recirculation) takes
    // the full path even where simple match is enabled.
    let mut fp2 = FastPath::new(FastPathConfig::default());
    put(&mut fp2, &[(IN_PORT, 1), (ETH_TYPE, 0x0800)], &m, 2);
    let mut p = pkt(1, &udp4);
    p.md.recirc_id = 5;
    let (ctx, up) = run(&mut fp2, vec![p]);
    assert!(ctx.out.is_empty());
    assert_eq!(up.0, 1);
    assert_eq!(fp2.stats.simple_hit, 0);
    // Simple flows whose recirc_id is 0 keep port 1 enabled for new packets.
    let (ctx, _) = run(&mut fp2, vec![pkt(1, &udp4)]);
    assert_eq!(ctx.out.len(), 1);
    assert_eq!(fp2.stats.simple_hit, 1);
}

/// A template frame with its bytes mutated and its length cut.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let templates = vec![
        frame(&[], 0x0800, &ipv4(17, 0, &udp())),
        frame(&[], 0x0800, &ipv4(6, 0x2000, &tcp(0x12))),
        frame(&[(0x8100, 5)], 0x0800, &ipv4(6, 0, &tcp(0x11))),
        frame(&[(0x88a8, 5), (0x8100, 6)], 0x86dd, &ipv6(6, &tcp(2))),
        frame(&[], 0x86dd, &ipv6(17, &udp())),
        frame(
            &[],
            0x86dd,
            &ipv6(44, &[17, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]),
        ),
        frame(&[(0x8100, 1), (0x8100, 2), (0x8100, 3)], 0x0800, &[]),
        frame(&[], 0x0040, &[0xaa, 0xaa, 3, 0, 0, 0, 8, 0]),
        frame(&[], 0x88cc, &[1, 2, 3]),
        frame(&[], 0x0800, &ipv4(1, 0, &[8, 0, 0, 0, 0, 1, 0, 1])),
        frame(&[], 0x0800, &ipv4(2, 0, &[0x16, 0, 0, 0, 224, 0, 0, 1])),
        frame(&[], 0x0800, &ipv4(132, 0, &[0; 12])),
        frame(&[], 0x0800, &ipv4(47, 0, &[0; 4])),
        frame(&[], 0x86dd, &ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1])),
        frame(
            &[],
            0x86dd,
            &ipv6(58, &[135, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]),
        ),
        frame(&[], 0x86dd, &ipv6(0, &[17, 0, 1, 4, 0, 0, 0, 0])),
    ];
    (
        proptest::sample::select(templates),
        proptest::collection::vec((0usize..80, any::<u8>()), 0..4),
        0usize..100,
    )
        .prop_map(|(mut f, muts, cut)| {
            for (i, b) in muts {
                if let Some(x) = f.get_mut(i) {
                    *x = b;
                }
            }
            let keep = f.len().saturating_sub(cut % 8 * (cut / 50));
            f.truncate(keep);
            f
        })
}

proptest! {
    /// Whenever the simple parse answers, the full extraction succeeds with
    /// the same eth_type, vlan_tci, nw_frag, TCP flags and offsets.
    #[test]
    fn simple_parse_agrees_with_extract(f in mutated()) {
        let mut q = pkt(1, &f);
        if let Some(sf) = extract_simple(&mut q) {
            let mut p = pkt(1, &f);
            let mut key = FlowKey::default();
            prop_assert_eq!(extract(&mut p, &mut key), ExtractStatus::Ok);
            prop_assert_eq!(sf.eth_type as u64, key.get(fields::ETH_TYPE));
            prop_assert_eq!(sf.vlan_tci as u64, key.get(fields::VLAN0_TCI));
            prop_assert_eq!(sf.nw_frag as u64, key.get(fields::NW_FRAG));
            prop_assert_eq!(sf.tcp_flags as u64, key.get(fields::TCP_FLAGS));
            prop_assert_eq!(
                (q.l2_5_ofs, q.l3_ofs, q.l4_ofs),
                (p.l2_5_ofs, p.l3_ofs, p.l4_ofs)
            );
        }
    }
}
