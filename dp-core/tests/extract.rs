//! Tests of the flow key extractor (`dp_core::extract`): field values and
//! offsets for each supported header stack, truncation at every length,
//! metadata, and property tests (no panics, canonical keys).

use dp_core::extract::{extract, extract_flow, ExtractStatus};
use dp_core::flow::{
    fields, mac_to_u64, Field, Flow, ETH_TYPE_NONE, FLOW_WORDS, FRAG_ANY, FRAG_LATER, VLAN_CFI,
};
use dp_core::miniflow::FlowKey;
use dp_core::packet::{CtOrigTuple, DpPacket, OFS_NONE};
use etherparse::{
    Icmpv6Type, IpFragOffset, IpHeaders, IpNumber, Ipv4Header, Ipv4Options, PacketBuilder, VlanId,
};
use proptest::prelude::*;

const SRC_MAC: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
const DST_MAC: [u8; 6] = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
const IP4_SRC: [u8; 4] = [10, 0, 0, 1];
const IP4_DST: [u8; 4] = [192, 168, 1, 200];
const IP6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const IP6_DST: [u8; 16] = [
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55,
];

const ALL_FIELDS: &[Field] = fields::ALL;

/// Result of extracting one frame.
struct Ex {
    st: ExtractStatus,
    f: Flow,
    l2_5: u16,
    l3: u16,
    l4: u16,
}

fn assert_canonical(key: &FlowKey) {
    let again = FlowKey::from_flow(&key.to_flow());
    assert_eq!(&again, key);
    assert_eq!(again.hash, key.hash);
    assert_eq!(key.len, key.map.count_ones());
    assert!(key.values().iter().all(|&w| w != 0));
}

fn ex_pkt(pkt: &mut DpPacket) -> Ex {
    // Stale contents and offsets must not leak into the result.
    let mut key = FlowKey {
        hash: 1,
        len: FLOW_WORDS as u32,
        map: u128::MAX >> (128 - FLOW_WORDS),
        buf: [0xdead_beef; FLOW_WORDS],
    };
    pkt.l2_5_ofs = 1;
    pkt.l3_ofs = 2;
    pkt.l4_ofs = 3;
    let st = extract(pkt, &mut key);
    assert_canonical(&key);
    let f = key.to_flow();
    for o in [pkt.l2_5_ofs, pkt.l3_ofs, pkt.l4_ofs] {
        assert!(o == OFS_NONE || (o as usize) <= pkt.len());
    }
    let (l2_5, l3, l4) = (pkt.l2_5_ofs, pkt.l3_ofs, pkt.l4_ofs);
    assert_eq!(extract_flow(pkt), f);
    Ex {
        st,
        f,
        l2_5,
        l3,
        l4,
    }
}

fn ex_pt(frame: &[u8], packet_type: u32) -> Ex {
    let mut pkt = DpPacket::from_slice(frame);
    pkt.md.init(7);
    pkt.md.packet_type = packet_type;
    ex_pkt(&mut pkt)
}

fn ex(frame: &[u8]) -> Ex {
    ex_pt(frame, 0)
}

fn ip4(a: [u8; 4]) -> u64 {
    u32::from_be_bytes(a) as u64
}

fn ip6(a: [u8; 16]) -> u128 {
    u128::from_be_bytes(a)
}

fn eth() -> etherparse::PacketBuilderStep<etherparse::Ethernet2Header> {
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
}

fn assert_eth(f: &Flow, eth_type: u16) {
    assert_eq!(f.get(fields::ETH_SRC), mac_to_u64(SRC_MAC));
    assert_eq!(f.get(fields::ETH_DST), mac_to_u64(DST_MAC));
    assert_eq!(f.get(fields::ETH_TYPE), eth_type as u64);
    assert_eq!(f.get(fields::IN_PORT), 7);
}

// ---------------------------------------------------------------------------
// Test packets.

fn udp4() -> Vec<u8> {
    let b = eth().ipv4(IP4_SRC, IP4_DST, 33).udp(1234, 4789);
    let mut v = Vec::new();
    b.write(&mut v, &[0xab; 10]).unwrap();
    v
}

fn tcp4() -> Vec<u8> {
    let b = eth()
        .ipv4(IP4_SRC, IP4_DST, 64)
        .tcp(40000, 80, 1, 1000)
        .syn()
        .ack(7)
        .ece()
        .cwr()
        .ns();
    let mut v = Vec::new();
    b.write(&mut v, b"hello").unwrap();
    v
}

fn ipv4_header(proto: IpNumber) -> Ipv4Header {
    Ipv4Header::new(0, 17, proto, IP4_SRC, IP4_DST).unwrap()
}

fn ipv4_opts() -> Vec<u8> {
    let mut h = ipv4_header(IpNumber::UDP);
    // Router alert (RFC 2113) + NOP padding... 8 bytes of options.
    h.options = Ipv4Options::from([0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]);
    let b = eth()
        .ip(IpHeaders::Ipv4(h, Default::default()))
        .udp(53, 5353);
    let mut v = Vec::new();
    b.write(&mut v, &[1, 2, 3]).unwrap();
    v
}

fn frag4(first: bool) -> Vec<u8> {
    let mut h = ipv4_header(IpNumber::UDP);
    h.more_fragments = true;
    h.fragment_offset = IpFragOffset::try_new(if first { 0 } else { 100 }).unwrap();
    let b = eth().ip(IpHeaders::Ipv4(h, Default::default()));
    let mut v = Vec::new();
    // Payload that looks like UDP ports 0x0102 -> 0x0304.
    b.write(
        &mut v,
        IpNumber::UDP,
        &[1, 2, 3, 4, 0, 16, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9],
    )
    .unwrap();
    v
}

fn vlan1() -> Vec<u8> {
    let b = eth()
        .single_vlan(VlanId::try_new(100).unwrap())
        .ipv4(IP4_SRC, IP4_DST, 5)
        .udp(1, 2);
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v[14] |= 0xa0; // PCP 5.
    v
}

fn vlan2() -> Vec<u8> {
    let b = eth()
        .double_vlan(VlanId::try_new(10).unwrap(), VlanId::try_new(20).unwrap())
        .ipv4(IP4_SRC, IP4_DST, 5)
        .udp(3, 4);
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn arp(op: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[0xff; 6]);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&IP4_SRC);
    v.extend_from_slice(&[0, 0, 0, 0, 0, 9]);
    v.extend_from_slice(&IP4_DST);
    v.extend_from_slice(&[0; 18]); // Ethernet padding to 60 bytes.
    v
}

fn tcp6() -> Vec<u8> {
    let b = eth()
        .ipv6(IP6_SRC, IP6_DST, 47)
        .tcp(22, 50000, 9, 100)
        .fin()
        .psh()
        .rst();
    let mut v = Vec::new();
    b.write(&mut v, &[5; 7]).unwrap();
    // Traffic class 0xab, flow label 0x12345.
    v[14..18].copy_from_slice(&0x6ab1_2345u32.to_be_bytes());
    v
}

/// IPv6 + hop-by-hop + [dest opts + AH] + fragment + UDP, built by hand.
fn ext6(frag_offlg: u16, with_more: bool) -> Vec<u8> {
    let udp = [0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4];
    let mut ext = Vec::new();
    // Hop-by-hop: next, len 0, PadN(4).
    let first_next = 0u8;
    if with_more {
        ext.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        // Destination options, 16 bytes: len 1.
        ext.extend_from_slice(&[51, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // AH: payload len 4 -> (4 + 2) * 4 = 24 bytes.
        ext.extend_from_slice(&[44, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        ext.extend_from_slice(&[0xcc; 12]);
    } else {
        ext.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
    }
    // Fragment header.
    ext.extend_from_slice(&[17, 0]);
    ext.extend_from_slice(&frag_offlg.to_be_bytes());
    ext.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let plen = (ext.len() + udp.len()) as u16;
    let mut v = Vec::new();
    v.extend_from_slice(&DST_MAC);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    v.extend_from_slice(&plen.to_be_bytes());
    v.extend_from_slice(&[first_next, 64]);
    v.extend_from_slice(&IP6_SRC);
    v.extend_from_slice(&IP6_DST);
    v.extend_from_slice(&ext);
    v.extend_from_slice(&udp);
    v
}

fn icmp4() -> Vec<u8> {
    let b = eth()
        .ipv4(IP4_SRC, IP4_DST, 64)
        .icmpv4_echo_request(0x1234, 1);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}

const ND_MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

fn nd(ty: u8, opts: &[u8]) -> Vec<u8> {
    let flags = if ty == 136 { [0x60, 0, 0, 0] } else { [0; 4] };
    let b = eth()
        .ipv6(IP6_SRC, IP6_DST, 255)
        .icmpv6(Icmpv6Type::Unknown {
            type_u8: ty,
            code_u8: 0,
            bytes5to8: flags,
        });
    let mut payload = IP6_DST.to_vec();
    payload.extend_from_slice(opts);
    let mut v = Vec::new();
    b.write(&mut v, &payload).unwrap();
    v
}

fn lla(ty: u8, mac: [u8; 6]) -> Vec<u8> {
    let mut o = vec![ty, 1];
    o.extend_from_slice(&mac);
    o
}

fn nd_ns() -> Vec<u8> {
    nd(135, &lla(1, ND_MAC))
}

fn nd_na() -> Vec<u8> {
    // An unknown option (MTU, type 5, 8 bytes) then TLL.
    let mut o = vec![5, 1, 0, 0, 0, 0, 5, 0xdc];
    o.extend_from_slice(&lla(2, ND_MAC));
    nd(136, &o)
}

fn igmp() -> Vec<u8> {
    let b = eth().ipv4(IP4_SRC, [224, 1, 2, 3], 1);
    let mut v = Vec::new();
    b.write(&mut v, IpNumber::IGMP, &[0x16, 0, 0xfa, 0xfa, 224, 1, 2, 3])
        .unwrap();
    v
}

fn mpls(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&DST_MAC);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x88, 0x47]);
    for i in 0..n {
        let bos = if i == n - 1 { 1 } else { 0 };
        let lse: u32 = (100 + i as u32) << 12 | 3 << 9 | bos << 8 | (64 - i as u32);
        v.extend_from_slice(&lse.to_be_bytes());
    }
    // An IPv4 header follows; must not be parsed.
    let ip = udp4();
    v.extend_from_slice(&ip[14..]);
    v
}

fn snap() -> Vec<u8> {
    let inner = udp4();
    let l3 = &inner[14..];
    let mut v = Vec::new();
    v.extend_from_slice(&DST_MAC);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&((8 + l3.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    v.extend_from_slice(l3);
    v
}

fn llc_stp() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0]);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x00, 0x26, 0x42, 0x42, 0x03]);
    v.extend_from_slice(&[0u8; 35]);
    v
}

fn l3_udp4() -> Vec<u8> {
    udp4()[14..].to_vec()
}

fn lldp() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0x0e]);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x88, 0xcc]);
    v.extend_from_slice(&[0x02, 0x07, 0x04, 1, 2, 3, 4, 5, 6, 0, 0]);
    v
}

/// An NSH header (RFC 8300 section 2): version 0, O bit set, TTL 63, the
/// given MD type with `ctx` as its context bytes, next protocol IPv4, SPI
/// 0x123456, SI 254.
fn nsh_hdr(mdtype: u8, ctx: &[u8]) -> Vec<u8> {
    let len_words = (8 + ctx.len()) / 4;
    let vftl: u16 = 1 << 12 | 63 << 6 | len_words as u16;
    let mut v = vftl.to_be_bytes().to_vec();
    v.extend_from_slice(&[mdtype, 1, 0x12, 0x34, 0x56, 254]);
    v.extend_from_slice(ctx);
    v
}

const NSH_CTX: [u8; 16] = [
    0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0x33, 0x33, 0x33, 0x33, 0x44, 0x44, 0x44, 0x44,
];

/// Ethernet / NSH (MD type 1) / IPv4 / UDP.
fn nsh1() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&DST_MAC);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x89, 0x4f]);
    v.extend_from_slice(&nsh_hdr(1, &NSH_CTX));
    v.extend_from_slice(&l3_udp4());
    v
}

/// Ethernet / NSH (MD type 2 with one 8-byte TLV) / IPv4 / UDP.
fn nsh2() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&DST_MAC);
    v.extend_from_slice(&SRC_MAC);
    v.extend_from_slice(&[0x89, 0x4f]);
    v.extend_from_slice(&nsh_hdr(2, &[0, 1, 2, 1, 0xaa, 0xbb, 0xcc, 0xdd]));
    v.extend_from_slice(&l3_udp4());
    v
}

/// NSH (MD type 1) / IPv4 / UDP without Ethernet (packet type (1, 0x894f)).
fn l3_nsh1() -> Vec<u8> {
    nsh1()[14..].to_vec()
}

/// A test packet: frame, packet type, and the length below which a cut
/// removes header bytes (every cut shorter than `hdr_end` must be Malformed;
/// with `ip_bounded` every cut at all, since the IP length no longer fits).
struct Case {
    name: &'static str,
    frame: Vec<u8>,
    packet_type: u32,
    hdr_end: usize,
    ip_bounded: bool,
}

fn corpus() -> Vec<Case> {
    let c = |name, frame: Vec<u8>, hdr_end, ip_bounded| Case {
        name,
        frame,
        packet_type: 0,
        hdr_end,
        ip_bounded,
    };
    vec![
        c("udp4", udp4(), 42, true),
        c("tcp4", tcp4(), 54, true),
        c("ipv4_opts", ipv4_opts(), 50, true),
        c("frag4_first", frag4(true), 42, true),
        c("frag4_later", frag4(false), 34, true),
        c("vlan1", vlan1(), 46, true),
        c("vlan2", vlan2(), 50, true),
        c("arp", arp(1), 42, false),
        c("tcp6", tcp6(), 74, true),
        c("ext6_first", ext6(1, false), 78, true),
        c("ext6_more", ext6(1, true), 118, true),
        c("ext6_later", ext6(100 << 3 | 1, true), 110, true),
        c("icmp4", icmp4(), 42, true),
        c("nd_ns", nd_ns(), 86, true),
        c("nd_na", nd_na(), 94, true),
        c("igmp", igmp(), 42, true),
        c("mpls2", mpls(2), 22, false),
        c("mpls4", mpls(4), 30, false),
        c("snap", snap(), 50, true),
        c("llc_stp", llc_stp(), 17, false),
        c("lldp", lldp(), 14, false),
        c("nsh1", nsh1(), 38, false),
        c("nsh2", nsh2(), 30, false),
        Case {
            name: "l3_nsh1",
            frame: l3_nsh1(),
            packet_type: 1 << 16 | 0x894f,
            hdr_end: 24,
            ip_bounded: false,
        },
        Case {
            name: "l3_udp4",
            frame: l3_udp4(),
            packet_type: 1 << 16 | 0x0800,
            hdr_end: 28,
            ip_bounded: true,
        },
    ]
}

// ---------------------------------------------------------------------------
// Field values and offsets.

#[test]
fn udp_ipv4() {
    let e = ex(&udp4());
    assert_eq!(e.st, ExtractStatus::Ok);
    let f = &e.f;
    assert_eth(f, 0x0800);
    assert_eq!(f.get(fields::NW_SRC), ip4(IP4_SRC));
    assert_eq!(f.get(fields::NW_DST), ip4(IP4_DST));
    assert_eq!(f.get(fields::NW_PROTO), 17);
    assert_eq!(f.get(fields::NW_TTL), 33);
    assert_eq!(f.get(fields::NW_FRAG), 0);
    assert_eq!(f.get(fields::TP_SRC), 1234);
    assert_eq!(f.get(fields::TP_DST), 4789);
    assert_eq!(f.get(fields::VLAN0_TCI), 0);
    assert_eq!(f.get(fields::TCP_FLAGS), 0);
    assert_eq!((e.l2_5, e.l3, e.l4), (OFS_NONE, 14, 34));
    // Exactly these words: in_port, eth (2), nw addrs, nw word, tp.
    let mut expect = Flow::zero();
    expect.set(fields::IN_PORT, 7);
    expect.set(fields::ETH_SRC, mac_to_u64(SRC_MAC));
    expect.set(fields::ETH_DST, mac_to_u64(DST_MAC));
    expect.set(fields::ETH_TYPE, 0x0800);
    expect.set(fields::NW_SRC, ip4(IP4_SRC));
    expect.set(fields::NW_DST, ip4(IP4_DST));
    expect.set(fields::NW_PROTO, 17);
    expect.set(fields::NW_TTL, 33);
    expect.set(fields::TP_SRC, 1234);
    expect.set(fields::TP_DST, 4789);
    assert_eq!(e.f, expect);
}

#[test]
fn udp_ipv4_with_ethernet_padding() {
    // Padding after the IP packet is ignored.
    let mut v = udp4();
    v.extend_from_slice(&[0xee; 20]);
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f, ex(&udp4()).f);
}

#[test]
fn tcp_flags_ipv4() {
    let e = ex(&tcp4());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eth(&e.f, 0x0800);
    assert_eq!(e.f.get(fields::NW_PROTO), 6);
    assert_eq!(e.f.get(fields::TP_SRC), 40000);
    assert_eq!(e.f.get(fields::TP_DST), 80);
    use dp_core::flow::tcp_flags::*;
    assert_eq!(
        e.f.get(fields::TCP_FLAGS),
        (SYN | ACK | ECE | CWR | NS) as u64
    );
    assert_eq!(e.f.get(fields::ARP_SHA), 0);
    assert_eq!((e.l3, e.l4), (14, 34));
}

#[test]
fn tcp_bad_data_offset_is_malformed() {
    let mut v = tcp4();
    v[34 + 12] = 0x40 | (v[34 + 12] & 0x0f); // data offset 4
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(e.f.get(fields::NW_PROTO), 6);
    assert_eq!(e.f.get(fields::TP_SRC), 0);
    assert_eq!(e.f.get(fields::TCP_FLAGS), 0);
    assert_eq!(e.l4, 34);
    // Data offset beyond the packet.
    v[34 + 12] = 0xf0 | (v[34 + 12] & 0x0f);
    assert_eq!(ex(&v).st, ExtractStatus::Malformed);
}

#[test]
fn ipv4_options_skipped() {
    let e = ex(&ipv4_opts());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_TTL), 17);
    assert_eq!(e.f.get(fields::TP_SRC), 53);
    assert_eq!(e.f.get(fields::TP_DST), 5353);
    assert_eq!((e.l3, e.l4), (14, 42));
}

#[test]
fn ipv4_tos() {
    let mut v = udp4();
    v[15] = 0xb9; // DSCP 46, ECN 1
    assert_eq!(ex(&v).f.get(fields::NW_TOS), 0xb9);
}

#[test]
fn ipv4_bad_headers() {
    // IHL 4.
    let mut v = udp4();
    v[14] = 0x44;
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eth(&e.f, 0x0800);
    assert_eq!(e.f.get(fields::NW_SRC), 0);
    assert_eq!((e.l3, e.l4), (14, OFS_NONE));
    // IHL larger than the total length.
    let mut v = udp4();
    v[16..18].copy_from_slice(&24u16.to_be_bytes());
    v[14] = 0x47;
    assert_eq!(ex(&v).st, ExtractStatus::Malformed);
    // Total length beyond the frame.
    let mut v = udp4();
    v[16..18].copy_from_slice(&1000u16.to_be_bytes());
    assert_eq!(ex(&v).st, ExtractStatus::Malformed);
    // Total length shorter: the UDP header is then cut.
    let mut v = udp4();
    v[16..18].copy_from_slice(&24u16.to_be_bytes());
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(e.f.get(fields::NW_PROTO), 17);
    assert_eq!(e.f.get(fields::TP_SRC), 0);
}

#[test]
fn ipv4_fragments() {
    let e = ex(&frag4(true));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_FRAG), FRAG_ANY as u64);
    assert_eq!(e.f.get(fields::TP_SRC), 0x0102);
    assert_eq!(e.f.get(fields::TP_DST), 0x0304);
    assert_eq!(e.l4, 34);
    let e = ex(&frag4(false));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_FRAG), (FRAG_ANY | FRAG_LATER) as u64);
    assert_eq!(e.f.get(fields::NW_PROTO), 17);
    assert_eq!(e.f.get(fields::TP_SRC), 0);
    assert_eq!(e.f.get(fields::TP_DST), 0);
    assert_eq!(e.l4, 34);
    // DF alone is not a fragment.
    let mut v = udp4();
    v[20] = 0x40;
    assert_eq!(ex(&v).f.get(fields::NW_FRAG), 0);
}

#[test]
fn vlan_single_and_double() {
    let e = ex(&vlan1());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eth(&e.f, 0x0800);
    assert_eq!(e.f.get(fields::VLAN0_TPID), 0x8100);
    assert_eq!(
        e.f.get(fields::VLAN0_TCI),
        (5 << 13 | VLAN_CFI | 100) as u64
    );
    assert_eq!(e.f.get(fields::VLAN1_TPID), 0);
    assert_eq!(e.f.get(fields::VLAN1_TCI), 0);
    assert_eq!(e.f.get(fields::TP_DST), 2);
    assert_eq!((e.l3, e.l4), (18, 38));

    let e = ex(&vlan2());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eth(&e.f, 0x0800);
    assert_eq!(e.f.get(fields::VLAN0_TPID), 0x88a8);
    assert_eq!(e.f.get(fields::VLAN0_TCI), (VLAN_CFI | 10) as u64);
    assert_eq!(e.f.get(fields::VLAN1_TPID), 0x8100);
    assert_eq!(e.f.get(fields::VLAN1_TCI), (VLAN_CFI | 20) as u64);
    assert_eq!(e.f.get(fields::TP_SRC), 3);
    assert_eq!((e.l3, e.l4), (22, 42));
}

#[test]
fn vlan_third_tag_not_parsed() {
    let inner = vlan2();
    let mut v = inner[..14].to_vec();
    v[12..14].copy_from_slice(&[0x81, 0x00]);
    v.extend_from_slice(&[0x00, 0x01, 0x88, 0xa8, 0x00, 0x02, 0x81, 0x00, 0x00, 0x03]);
    v.extend_from_slice(&inner[22..]);
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::ETH_TYPE), 0x8100);
    assert_eq!(e.f.get(fields::VLAN0_TCI), (VLAN_CFI | 1) as u64);
    assert_eq!(e.f.get(fields::VLAN1_TCI), (VLAN_CFI | 2) as u64);
    assert_eq!(e.f.get(fields::NW_PROTO), 0);
    assert_eq!(e.l3, 22);
}

#[test]
fn arp_request() {
    let e = ex(&arp(1));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::ETH_TYPE), 0x0806);
    assert_eq!(e.f.get(fields::ETH_DST), 0xffff_ffff_ffff);
    assert_eq!(e.f.get(fields::NW_PROTO), 1);
    assert_eq!(e.f.get(fields::NW_SRC), ip4(IP4_SRC));
    assert_eq!(e.f.get(fields::NW_DST), ip4(IP4_DST));
    assert_eq!(e.f.get(fields::ARP_SHA), mac_to_u64(SRC_MAC));
    assert_eq!(e.f.get(fields::ARP_THA), 9);
    assert_eq!(e.f.get(fields::NW_TTL), 0);
    assert_eq!((e.l3, e.l4), (14, OFS_NONE));
    // Opcode > 255: nw_proto stays 0 (OVS matches the low 8 bits only).
    let e = ex(&arp(0x0102));
    assert_eq!(e.f.get(fields::NW_PROTO), 0);
    assert_eq!(e.f.get(fields::NW_SRC), ip4(IP4_SRC));
    // Non-Ethernet ARP: valid, no ARP fields.
    let mut v = arp(1);
    v[14..16].copy_from_slice(&6u16.to_be_bytes());
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_SRC), 0);
    assert_eq!(e.f.get(fields::ARP_SHA), 0);
    // RARP is parsed like ARP (as OVS).
    let mut v = arp(3);
    v[12..14].copy_from_slice(&[0x80, 0x35]);
    let e = ex(&v);
    assert_eq!(e.f.get(fields::ETH_TYPE), 0x8035);
    assert_eq!(e.f.get(fields::NW_PROTO), 3);
}

#[test]
fn ipv6_tcp() {
    let e = ex(&tcp6());
    assert_eq!(e.st, ExtractStatus::Ok);
    let f = &e.f;
    assert_eth(f, 0x86dd);
    assert_eq!(
        f.get128(fields::IPV6_SRC_HI, fields::IPV6_SRC_LO),
        ip6(IP6_SRC)
    );
    assert_eq!(
        f.get128(fields::IPV6_DST_HI, fields::IPV6_DST_LO),
        ip6(IP6_DST)
    );
    assert_eq!(f.get(fields::IPV6_LABEL), 0x12345);
    assert_eq!(f.get(fields::NW_TOS), 0xab);
    assert_eq!(f.get(fields::NW_TTL), 47);
    assert_eq!(f.get(fields::NW_PROTO), 6);
    assert_eq!(f.get(fields::NW_SRC), 0);
    assert_eq!(f.get(fields::TP_SRC), 22);
    assert_eq!(f.get(fields::TP_DST), 50000);
    use dp_core::flow::tcp_flags::*;
    assert_eq!(f.get(fields::TCP_FLAGS), (FIN | PSH | RST) as u64);
    assert_eq!((e.l3, e.l4), (14, 54));
}

#[test]
fn ipv6_extension_headers() {
    let e = ex(&ext6(1, false));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_PROTO), 17);
    assert_eq!(e.f.get(fields::NW_FRAG), FRAG_ANY as u64);
    assert_eq!(e.f.get(fields::NW_TTL), 64);
    assert_eq!(e.f.get(fields::TP_SRC), 12345);
    assert_eq!(e.f.get(fields::TP_DST), 53);
    assert_eq!((e.l3, e.l4), (14, 70));

    let e = ex(&ext6(1, true));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_PROTO), 17);
    assert_eq!(e.f.get(fields::NW_FRAG), FRAG_ANY as u64);
    assert_eq!(e.f.get(fields::TP_SRC), 12345);
    assert_eq!(e.l4, 14 + 40 + 8 + 16 + 24 + 8);

    // Later fragment: nw_proto is the fragment header (44), as in OVS.
    let e = ex(&ext6(100 << 3 | 1, true));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_PROTO), 44);
    assert_eq!(e.f.get(fields::NW_FRAG), (FRAG_ANY | FRAG_LATER) as u64);
    assert_eq!(e.f.get(fields::TP_SRC), 0);
    assert_eq!(e.l4, 14 + 40 + 8 + 16 + 24 + 8);

    // Atomic fragment (offset 0, M 0): not a fragment.
    let e = ex(&ext6(0, false));
    assert_eq!(e.f.get(fields::NW_FRAG), 0);
    assert_eq!(e.f.get(fields::TP_SRC), 12345);

    // Hop-by-hop length beyond the payload: only the addresses are kept.
    let mut v = ext6(1, false);
    v[55] = 20;
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(
        e.f.get128(fields::IPV6_SRC_HI, fields::IPV6_SRC_LO),
        ip6(IP6_SRC)
    );
    assert_eq!(e.f.get(fields::NW_TTL), 0);
    assert_eq!(e.f.get(fields::NW_PROTO), 0);
    assert_eq!((e.l3, e.l4), (14, OFS_NONE));
}

#[test]
fn icmpv4_echo() {
    let e = ex(&icmp4());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_PROTO), 1);
    assert_eq!(e.f.get(fields::TP_SRC), 8);
    assert_eq!(e.f.get(fields::TP_DST), 0);
    assert_eq!(e.l4, 34);
}

#[test]
fn igmp_report() {
    let e = ex(&igmp());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_PROTO), 2);
    assert_eq!(e.f.get(fields::TP_SRC), 0x16);
    assert_eq!(e.f.get(fields::TP_DST), 0);
    assert_eq!(e.f.get(fields::IGMP_GROUP), 0xe001_0203);
}

#[test]
fn icmpv6_nd() {
    let e = ex(&nd_ns());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NW_PROTO), 58);
    assert_eq!(e.f.get(fields::NW_TTL), 255);
    assert_eq!(e.f.get(fields::TP_SRC), 135);
    assert_eq!(e.f.get(fields::TP_DST), 0);
    assert_eq!(
        e.f.get128(fields::ND_TARGET_HI, fields::ND_TARGET_LO),
        ip6(IP6_DST)
    );
    assert_eq!(e.f.get(fields::ARP_SHA), mac_to_u64(ND_MAC));
    assert_eq!(e.f.get(fields::ARP_THA), 0);
    assert_eq!(e.l4, 54);

    let e = ex(&nd_na());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::TP_SRC), 136);
    assert_eq!(
        e.f.get128(fields::ND_TARGET_HI, fields::ND_TARGET_LO),
        ip6(IP6_DST)
    );
    assert_eq!(e.f.get(fields::ARP_SHA), 0);
    assert_eq!(e.f.get(fields::ARP_THA), mac_to_u64(ND_MAC));

    // NS without options.
    let e = ex(&nd(135, &[]));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(
        e.f.get128(fields::ND_TARGET_HI, fields::ND_TARGET_LO),
        ip6(IP6_DST)
    );
    assert_eq!(e.f.get(fields::ARP_SHA), 0);
}

#[test]
fn icmpv6_nd_bad_options() {
    // Duplicate SLL: every ND field is dropped, as OVS.
    let mut o = lla(1, ND_MAC);
    o.extend_from_slice(&lla(1, [2, 0, 0, 0, 0, 1]));
    let e = ex(&nd(135, &o));
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(e.f.get(fields::TP_SRC), 135);
    assert_eq!(e.f.get(fields::ND_TARGET_HI), 0);
    assert_eq!(e.f.get(fields::ND_TARGET_LO), 0);
    assert_eq!(e.f.get(fields::ARP_SHA), 0);
    // Zero-length option: OVS stops and keeps what it has.
    let mut o = lla(1, ND_MAC);
    o.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
    let e = ex(&nd(135, &o));
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(e.f.get(fields::ARP_SHA), mac_to_u64(ND_MAC));
    assert_ne!(e.f.get(fields::ND_TARGET_LO), 0);
    // Option longer than the packet.
    let mut o = lla(1, ND_MAC);
    o[1] = 3;
    let e = ex(&nd(135, &o));
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(e.f.get(fields::ARP_SHA), 0);
    assert_ne!(e.f.get(fields::ND_TARGET_LO), 0);
    // Non-zero code: plain ICMPv6.
    let mut v = nd_ns();
    v[55] = 1;
    let e = ex(&v);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::TP_DST), 1);
    assert_eq!(e.f.get(fields::ND_TARGET_LO), 0);
}

#[test]
fn mpls_stack() {
    let e = ex(&mpls(2));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eth(&e.f, 0x8847);
    let lse = |i: u64, bos: u64| (100 + i) << 12 | 3 << 9 | bos << 8 | (64 - i);
    assert_eq!(e.f.get(fields::MPLS_LSE0), lse(0, 0));
    assert_eq!(e.f.get(fields::MPLS_LSE1), lse(1, 1));
    assert_eq!(e.f.get(fields::MPLS_LSE2), 0);
    assert_eq!(e.f.get(fields::NW_SRC), 0);
    assert_eq!(e.f.get(fields::NW_PROTO), 0);
    assert_eq!((e.l2_5, e.l3, e.l4), (14, 22, OFS_NONE));

    let e = ex(&mpls(4));
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::MPLS_LSE0), lse(0, 0));
    assert_eq!(e.f.get(fields::MPLS_LSE1), lse(1, 0));
    assert_eq!(e.f.get(fields::MPLS_LSE2), lse(2, 0));
    assert_eq!((e.l2_5, e.l3), (14, 30));

    // MPLS over an L3 packet type.
    let v = mpls(1);
    let e = ex_pt(&v[14..], 1 << 16 | 0x8847);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::MPLS_LSE0), lse(0, 1));
    assert_eq!(e.f.get(fields::PACKET_TYPE), 1 << 16 | 0x8847);
    assert_eq!((e.l2_5, e.l3), (0, 4));
}

#[test]
fn llc_and_snap() {
    let e = ex(&snap());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eth(&e.f, 0x0800);
    assert_eq!(e.f.get(fields::NW_SRC), ip4(IP4_SRC));
    assert_eq!(e.f.get(fields::TP_DST), 4789);
    assert_eq!((e.l3, e.l4), (22, 42));

    let e = ex(&llc_stp());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::ETH_TYPE), ETH_TYPE_NONE as u64);
    assert_eq!((e.l3, e.l4), (14, OFS_NONE));

    // SNAP with a non-zero OUI: plain 802.2.
    let mut v = snap();
    v[19] = 0x0c;
    let e = ex(&v);
    assert_eq!(e.f.get(fields::ETH_TYPE), ETH_TYPE_NONE as u64);
    assert_eq!(e.f.get(fields::NW_SRC), 0);
    assert_eq!(e.l3, 14);
}

#[test]
fn l3_packet_type() {
    let e = ex_pt(&l3_udp4(), 1 << 16 | 0x0800);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::PACKET_TYPE), 1 << 16 | 0x0800);
    assert_eq!(e.f.get(fields::ETH_TYPE), 0x0800);
    assert_eq!(e.f.get(fields::ETH_SRC), 0);
    assert_eq!(e.f.get(fields::ETH_DST), 0);
    assert_eq!(e.f.get(fields::NW_SRC), ip4(IP4_SRC));
    assert_eq!(e.f.get(fields::TP_SRC), 1234);
    assert_eq!((e.l2_5, e.l3, e.l4), (OFS_NONE, 0, 20));
}

#[test]
fn unknown_ethertype_and_short_frames() {
    let e = ex(&lldp());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::ETH_DST), 0x0180_c200_000e);
    assert_eq!(e.f.get(fields::ETH_SRC), mac_to_u64(SRC_MAC));
    assert_eq!(e.f.get(fields::ETH_TYPE), 0x88cc);
    assert_eq!((e.l3, e.l4), (14, OFS_NONE));
    let e = ex(&[]);
    assert_eq!(e.st, ExtractStatus::Malformed);
    assert_eq!(e.f.get(fields::IN_PORT), 7);
    assert_eq!((e.l2_5, e.l3, e.l4), (OFS_NONE, OFS_NONE, OFS_NONE));
}

// ---------------------------------------------------------------------------
// Metadata.

#[test]
fn metadata_tunnel_geneve_ct() {
    let mut pkt = DpPacket::from_slice(&udp4());
    let md = &mut pkt.md;
    md.init(3);
    md.recirc_id = 0x55;
    md.dp_hash = 0xabcd;
    md.skb_priority = 2;
    md.pkt_mark = 0x77;
    md.ct_state = 0x21;
    md.ct_zone = 9;
    md.ct_mark = 0x1234;
    md.ct_label = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10;
    md.ct_orig = CtOrigTuple::V4 {
        src: 0x0a00_0001,
        dst: 0x0a00_0002,
        src_port: 1111,
        dst_port: 2222,
        proto: 17,
    };
    let t = &mut md.tunnel;
    t.tun_id = 0x1234_5678;
    t.ipv4_src = 0xac10_0001;
    t.ipv4_dst = 0xac10_0002;
    t.tos = 4;
    t.ttl = 63;
    t.tp_src = 50000;
    t.tp_dst = 6081;
    t.flags = dp_core::flow::tun_flags::KEY | dp_core::flow::tun_flags::CSUM;
    t.gbp_id = 0x42;
    t.gbp_flags = 3;
    // 20 option bytes; stale garbage after them must not leak.
    t.opts.fill(0xee);
    let opts: Vec<u8> = (1..=20).collect();
    t.opts[..20].copy_from_slice(&opts);
    t.opts_len = 20;

    let e = ex_pkt(&mut pkt);
    assert_eq!(e.st, ExtractStatus::Ok);
    let f = &e.f;
    assert_eq!(f.get(fields::IN_PORT), 3);
    assert_eq!(f.get(fields::RECIRC_ID), 0x55);
    assert_eq!(f.get(fields::DP_HASH), 0xabcd);
    assert_eq!(f.get(fields::SKB_PRIORITY), 2);
    assert_eq!(f.get(fields::PKT_MARK), 0x77);
    assert_eq!(f.get(fields::CT_STATE), 0x21);
    assert_eq!(f.get(fields::CT_ZONE), 9);
    assert_eq!(f.get(fields::CT_MARK), 0x1234);
    assert_eq!(
        f.get128(fields::CT_LABEL_HI, fields::CT_LABEL_LO),
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10
    );
    assert_eq!(f.get(fields::CT_NW_PROTO), 17);
    assert_eq!(f.get(fields::CT_NW_SRC), 0x0a00_0001);
    assert_eq!(f.get(fields::CT_NW_DST), 0x0a00_0002);
    assert_eq!(f.get(fields::CT_TP_SRC), 1111);
    assert_eq!(f.get(fields::CT_TP_DST), 2222);
    assert_eq!(f.get(fields::TUN_ID), 0x1234_5678);
    assert_eq!(f.get(fields::TUN_SRC), 0xac10_0001);
    assert_eq!(f.get(fields::TUN_DST), 0xac10_0002);
    assert_eq!(f.get(fields::TUN_TOS), 4);
    assert_eq!(f.get(fields::TUN_TTL), 63);
    assert_eq!(f.get(fields::TUN_TP_SRC), 50000);
    assert_eq!(f.get(fields::TUN_TP_DST), 6081);
    assert_eq!(f.get(fields::TUN_FLAGS), 6);
    assert_eq!(f.get(fields::TUN_GBP_ID), 0x42);
    assert_eq!(f.get(fields::TUN_GBP_FLAGS), 3);
    assert_eq!(f.get(fields::TUN_OPTS_LEN), 20);
    assert_eq!(f.tun_opts(), opts);
    let mut expect_opts = Flow::zero();
    expect_opts.set_tun_opts(&opts);
    assert_eq!(f.w[19..51], expect_opts.w[19..51]);
    // Packet fields still there.
    assert_eq!(f.get(fields::TP_DST), 4789);

    // IPv6 conntrack tuple and tunnel.
    pkt.md.ct_orig = CtOrigTuple::V6 {
        src: 1,
        dst: 2 << 64 | 3,
        src_port: 5,
        dst_port: 6,
        proto: 58,
    };
    pkt.md.tunnel.ipv4_src = 0;
    pkt.md.tunnel.ipv4_dst = 0;
    pkt.md.tunnel.ipv6_src = 0x20010db8 << 96 | 7;
    pkt.md.tunnel.ipv6_dst = 0x20010db8 << 96 | 8;
    pkt.md.tunnel.opts_len = 255; // Invalid: clamped to 252.
    let e = ex_pkt(&mut pkt);
    let f = &e.f;
    assert_eq!(f.get(fields::CT_NW_SRC), 0);
    assert_eq!(f.get128(fields::CT_IPV6_SRC_HI, fields::CT_IPV6_SRC_LO), 1);
    assert_eq!(
        f.get128(fields::CT_IPV6_DST_HI, fields::CT_IPV6_DST_LO),
        2 << 64 | 3
    );
    assert_eq!(f.get(fields::CT_NW_PROTO), 58);
    assert_eq!(
        f.get128(fields::TUN_IPV6_SRC_HI, fields::TUN_IPV6_SRC_LO),
        0x20010db8 << 96 | 7
    );
    assert_eq!(
        f.get128(fields::TUN_IPV6_DST_HI, fields::TUN_IPV6_DST_LO),
        0x20010db8 << 96 | 8
    );
    assert_eq!(f.get(fields::TUN_OPTS_LEN), 252);
    assert_eq!(f.tun_opts().len(), 252);

    // No tunnel destination: no tunnel fields, even if others are set.
    pkt.md.tunnel.ipv6_dst = 0;
    let e = ex_pkt(&mut pkt);
    for w in 11..51 {
        assert_eq!(e.f.w[w], 0, "word {w}");
    }
}

// ---------------------------------------------------------------------------
// Truncation.

fn check_subset(name: &str, cut: usize, t: &Ex, full: &Ex) {
    for &fld in ALL_FIELDS {
        let v = t.f.get(fld);
        if v == 0 {
            continue;
        }
        if fld == fields::ETH_TYPE
            && [0x8100, 0x88a8, ETH_TYPE_NONE as u64].contains(&v)
            && v != full.f.get(fld)
        {
            // A cut VLAN tag or SNAP header leaves the TPID / "no type".
            continue;
        }
        assert_eq!(
            v,
            full.f.get(fld),
            "{name} cut at {cut}: field {} differs",
            fld.name
        );
    }
    for (a, b) in [(t.l2_5, full.l2_5), (t.l3, full.l3), (t.l4, full.l4)] {
        assert!(
            a == OFS_NONE || (a == b && a as usize <= cut),
            "{name} cut at {cut}: offset {a} vs {b}"
        );
    }
}

#[test]
fn every_truncation() {
    for case in corpus() {
        let full = ex_pt(&case.frame, case.packet_type);
        assert_eq!(full.st, ExtractStatus::Ok, "{}", case.name);
        for cut in 0..case.frame.len() {
            let t = ex_pt(&case.frame[..cut], case.packet_type);
            if cut < case.hdr_end || case.ip_bounded {
                assert_eq!(t.st, ExtractStatus::Malformed, "{} cut at {cut}", case.name);
            } else {
                assert_eq!(t.st, ExtractStatus::Ok, "{} cut at {cut}", case.name);
                assert_eq!(t.f, full.f, "{} cut at {cut}", case.name);
            }
            check_subset(case.name, cut, &t, &full);
        }
    }
}

fn assert_nsh1(f: &Flow, ctx: bool) {
    assert_eq!(f.get(fields::NSH_FLAGS), 1);
    assert_eq!(f.get(fields::NSH_TTL), 63);
    assert_eq!(f.get(fields::NSH_NP), 1);
    assert_eq!(f.get(fields::NSH_SPI), 0x123456);
    assert_eq!(f.get(fields::NSH_SI), 254);
    let c = if ctx {
        [0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444]
    } else {
        [0; 4]
    };
    assert_eq!(f.get(fields::NSH_C1), c[0]);
    assert_eq!(f.get(fields::NSH_C2), c[1]);
    assert_eq!(f.get(fields::NSH_C3), c[2]);
    assert_eq!(f.get(fields::NSH_C4), c[3]);
    // As OVS: the packet behind the NSH header is not parsed.
    for g in [
        fields::NW_SRC,
        fields::NW_DST,
        fields::NW_PROTO,
        fields::TP_SRC,
    ] {
        assert_eq!(f.get(g), 0, "{}", g.name);
    }
}

#[test]
fn nsh_md1_md2_and_without_ethernet() {
    let e = ex(&nsh1());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eth(&e.f, 0x894f);
    assert_eq!(e.f.get(fields::NSH_MDTYPE), 1);
    assert_nsh1(&e.f, true);
    assert_eq!((e.l2_5, e.l3, e.l4), (OFS_NONE, 14, OFS_NONE));

    // MD type 2: context not matched (zero), like OVS.
    let e = ex(&nsh2());
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::NSH_MDTYPE), 2);
    assert_nsh1(&e.f, false);

    let e = ex_pt(&l3_nsh1(), 1 << 16 | 0x894f);
    assert_eq!(e.st, ExtractStatus::Ok);
    assert_eq!(e.f.get(fields::ETH_TYPE), 0x894f);
    assert_eq!(e.f.get(fields::PACKET_TYPE), 1 << 16 | 0x894f);
    assert_eq!(e.f.get(fields::ETH_SRC), 0);
    assert_nsh1(&e.f, true);
    assert_eq!(e.l3, 0);
}

#[test]
fn nsh_bad_headers_keep_l2_only() {
    let l2_only = |v: &[u8]| {
        let e = ex(v);
        assert_eq!(e.st, ExtractStatus::Malformed);
        assert_eth(&e.f, 0x894f);
        for g in [fields::NSH_SPI, fields::NSH_TTL, fields::NSH_C1] {
            assert_eq!(e.f.get(g), 0);
        }
    };
    // Version 1.
    let mut v = nsh1();
    v[14] |= 0x40;
    l2_only(&v);
    // MD type 1 with a length other than 24 bytes.
    let mut v = nsh1();
    v[15] = (v[15] & 0xc0) | 5;
    l2_only(&v);
    // Length beyond the frame.
    let mut v = nsh1();
    v[15] |= 0x3f;
    v.truncate(14 + 40);
    l2_only(&v);
    // MD type 2 shorter than the base header.
    let mut v = nsh2();
    v[15] &= 0xc0;
    l2_only(&v);
}

#[test]
fn truncated_ipv4_header_keeps_l2_only() {
    let v = udp4();
    let e = ex(&v[..30]);
    assert_eq!(e.st, ExtractStatus::Malformed);
    let mut expect = Flow::zero();
    expect.set(fields::IN_PORT, 7);
    expect.set(fields::ETH_SRC, mac_to_u64(SRC_MAC));
    expect.set(fields::ETH_DST, mac_to_u64(DST_MAC));
    expect.set(fields::ETH_TYPE, 0x0800);
    assert_eq!(e.f, expect);
    assert_eq!((e.l3, e.l4), (14, OFS_NONE));
}

// ---------------------------------------------------------------------------
// Properties.

fn any_packet_type() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => Just(0u32),
        1 => Just(1 << 16 | 0x0800),
        1 => Just(1 << 16 | 0x86dd),
        1 => Just(1 << 16 | 0x8847),
        1 => Just(1 << 16 | 0x894f),
        1 => any::<u32>(),
    ]
}

/// Random bytes biased towards interesting Ethertypes.
fn random_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), 0..200),
        prop_oneof![
            Just(None),
            Just(Some(0x0800u16)),
            Just(Some(0x86dd)),
            Just(Some(0x8100)),
            Just(Some(0x88a8)),
            Just(Some(0x8847)),
            Just(Some(0x0806)),
            Just(Some(0x0020)),
            Just(Some(0x894f)),
        ],
    )
        .prop_map(|(mut v, et)| {
            if let Some(et) = et {
                if v.len() >= 14 {
                    v[12..14].copy_from_slice(&et.to_be_bytes());
                    if et == 0x0800 && v.len() > 14 {
                        v[14] = 0x45;
                    }
                }
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(frame in random_frame(), pt in any_packet_type()) {
        // ex_pt asserts canonical keys and sane offsets.
        let _ = ex_pt(&frame, pt);
    }

    #[test]
    fn mutated_packets_never_panic(
        idx in 0usize..25,
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
        extra in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let cases = corpus();
        let case = &cases[idx % cases.len()];
        let mut v = case.frame.clone();
        for (pos, byte) in muts {
            let n = v.len();
            v[pos % n] = byte;
        }
        v.truncate(cut % (v.len() + 1));
        let _ = ex_pt(&v, case.packet_type);
        v.extend_from_slice(&extra);
        let _ = ex_pt(&v, case.packet_type);
    }

    #[test]
    fn udp_tcp_fields_roundtrip(
        src in any::<[u8; 4]>(),
        dst in any::<[u8; 4]>(),
        ttl in any::<u8>(),
        sp in any::<u16>(),
        dp in any::<u16>(),
        tcp in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let b = eth().ipv4(src, dst, ttl);
        let mut v = Vec::new();
        if tcp {
            b.tcp(sp, dp, 0, 0).syn().write(&mut v, &payload).unwrap();
        } else {
            b.udp(sp, dp).write(&mut v, &payload).unwrap();
        }
        let e = ex(&v);
        prop_assert_eq!(e.st, ExtractStatus::Ok);
        prop_assert_eq!(e.f.get(fields::NW_SRC), ip4(src));
        prop_assert_eq!(e.f.get(fields::NW_DST), ip4(dst));
        prop_assert_eq!(e.f.get(fields::NW_TTL), ttl as u64);
        prop_assert_eq!(e.f.get(fields::NW_PROTO), if tcp { 6 } else { 17 });
        prop_assert_eq!(e.f.get(fields::TP_SRC), sp as u64);
        prop_assert_eq!(e.f.get(fields::TP_DST), dp as u64);
        prop_assert_eq!(e.f.get(fields::TCP_FLAGS), if tcp { 2 } else { 0 });
    }
}
