//! Packet builders shared by the integration tests.
#![allow(dead_code)]

use dp_core::actions::{CtAction, NatAction, NatKind};
use dp_core::packet::DpPacket;
use etherparse::PacketBuilder;
use std::net::IpAddr;

pub const SEC: u64 = 1_000_000_000;

pub fn mk(v: Vec<u8>) -> DpPacket {
    let mut p = DpPacket::from_slice(&v);
    dp_core::extract::extract_flow(&mut p);
    p
}

/// IPv4 TCP; `flags` holds S, F, R, P; `ack` sets ACK.
#[allow(clippy::too_many_arguments)]
pub fn tcp4(
    src: [u8; 4],
    dst: [u8; 4],
    sp: u16,
    dp: u16,
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    payload: &[u8],
) -> DpPacket {
    let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 65535);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    if flags.contains('P') {
        b = b.psh();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    mk(v)
}

pub fn udp4(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> DpPacket {
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    mk(v)
}

pub fn udp6(src: [u8; 16], dst: [u8; 16], sp: u16, dp: u16, payload: &[u8]) -> DpPacket {
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv6(src, dst, 64)
        .udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    mk(v)
}

pub fn tcp6(
    src: [u8; 16],
    dst: [u8; 16],
    sp: u16,
    dp: u16,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
) -> DpPacket {
    let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv6(src, dst, 64)
        .tcp(sp, dp, seq, 65535);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    mk(v)
}

pub fn echo4(src: [u8; 4], dst: [u8; 4], id: u16, reply: bool) -> DpPacket {
    let b = PacketBuilder::ethernet2([2; 6], [4; 6]).ipv4(src, dst, 64);
    let b = if reply {
        b.icmpv4_echo_reply(id, 1)
    } else {
        b.icmpv4_echo_request(id, 1)
    };
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    mk(v)
}

pub fn echo6(src: [u8; 16], dst: [u8; 16], id: u16, reply: bool) -> DpPacket {
    let b = PacketBuilder::ethernet2([2; 6], [4; 6]).ipv6(src, dst, 64);
    let b = if reply {
        b.icmpv6_echo_reply(id, 1)
    } else {
        b.icmpv6_echo_request(id, 1)
    };
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    mk(v)
}

/// ICMPv4 port unreachable from `src` to `dst` quoting `inner` (the IP
/// packet, without Ethernet).
pub fn unreach4(src: [u8; 4], dst: [u8; 4], inner: &[u8]) -> DpPacket {
    use etherparse::icmpv4::DestUnreachableHeader;
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            DestUnreachableHeader::Port,
        ));
    let mut v = Vec::new();
    b.write(&mut v, inner).unwrap();
    mk(v)
}

pub fn ct(zone: u16, commit: bool) -> CtAction {
    CtAction {
        zone,
        commit,
        ..CtAction::default()
    }
}

pub fn nat(kind: NatKind, lo: &str, hi: &str, ports: Option<(u16, u16)>) -> NatAction {
    let lo: IpAddr = lo.parse().unwrap();
    let hi: IpAddr = hi.parse().unwrap();
    NatAction {
        kind: Some(kind),
        addr: Some((lo, hi)),
        ports,
        ..NatAction::default()
    }
}

fn sum(mut s: u32, d: &[u8]) -> u32 {
    let mut i = 0;
    while i + 1 < d.len() {
        s += u16::from_be_bytes([d[i], d[i + 1]]) as u32;
        i += 2;
    }
    if i < d.len() {
        s += (d[i] as u32) << 8;
    }
    s
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Verifies IPv4/IPv6 header and TCP/UDP/ICMP checksums from scratch
/// (naive RFC 1071 sum, independent of dp-core's helpers).
pub fn assert_csums_ok(p: &DpPacket) {
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    let (proto, l4, end, pseudo) = if d[l3] >> 4 == 4 {
        let ihl = (d[l3] & 0xf) as usize * 4;
        assert_eq!(
            fold(sum(0, &d[l3..l3 + ihl])),
            0xffff,
            "IPv4 header checksum"
        );
        let tot = u16::from_be_bytes([d[l3 + 2], d[l3 + 3]]) as usize;
        let proto = d[l3 + 9];
        let len = (tot - ihl) as u32;
        let ps = sum(0, &d[l3 + 12..l3 + 20]) + proto as u32 + len;
        (proto, l3 + ihl, l3 + tot, ps)
    } else {
        let plen = u16::from_be_bytes([d[l3 + 4], d[l3 + 5]]) as usize;
        let proto = d[l3 + 6];
        let ps = sum(0, &d[l3 + 8..l3 + 40]) + proto as u32 + plen as u32;
        (proto, l3 + 40, l3 + 40 + plen, ps)
    };
    let seg = &d[l4..end];
    match proto {
        6 | 17 | 58 => assert_eq!(fold(sum(pseudo, seg)), 0xffff, "L4 checksum proto {proto}"),
        1 => assert_eq!(fold(sum(0, seg)), 0xffff, "ICMP checksum"),
        _ => {}
    }
}

/// (src, dst, sport, dport) of an IPv4 TCP/UDP packet.
pub fn tuple4(p: &DpPacket) -> ([u8; 4], [u8; 4], u16, u16) {
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    let l4 = l3 + (d[l3] & 0xf) as usize * 4;
    (
        d[l3 + 12..l3 + 16].try_into().unwrap(),
        d[l3 + 16..l3 + 20].try_into().unwrap(),
        u16::from_be_bytes([d[l4], d[l4 + 1]]),
        u16::from_be_bytes([d[l4 + 2], d[l4 + 3]]),
    )
}

/// The IP packet of an Ethernet frame (for quoting in ICMP errors).
pub fn ip_part(p: &DpPacket) -> Vec<u8> {
    p.data()[p.l3_ofs as usize..].to_vec()
}
