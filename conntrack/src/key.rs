//! Connection keys and packet parsing (OVS `conn_key_extract()`,
//! `lib/conntrack.c`).
//!
//! Conntrack does not trust the flow key: it re-reads the L3 and L4 headers
//! at the offsets [`dp_core::extract::extract`] stored in the packet
//! (`l3_ofs`, `l4_ofs`), validates lengths and checksums (as OVS does when
//! the NIC did not), and builds a [`ConnKey`].

use dp_core::csum;
use dp_core::packet::{CtOrigTuple, DpPacket, OFS_NONE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IANA protocol numbers used by conntrack.
pub mod ipproto {
    /// ICMP (RFC 792).
    pub const ICMP: u8 = 1;
    /// IGMP.
    pub const IGMP: u8 = 2;
    /// TCP (RFC 9293).
    pub const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
    /// DCCP.
    pub const DCCP: u8 = 33;
    /// ICMPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
    /// UDP-Lite.
    pub const UDPLITE: u8 = 136;
}

/// One direction of a connection: zone + 5-tuple (OVS `struct conn_key`).
///
/// Addresses are host-order integers as in [`dp_core::packet`]: an IPv4
/// address is stored in the low 32 bits of the `u128` (`10.0.0.1` =
/// `0x0a000001`) with `v6 == false`. For TCP/UDP/SCTP `sport`/`dport` are
/// the ports; for ICMP/ICMPv6 queries both hold the echo identifier and
/// `icmp_type`/`icmp_code` the message type and code (the reverse key has
/// the reply type, e.g. 8 <-> 0); for other protocols ports are 0 (the
/// connection is the address pair).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ConnKey {
    /// Source address.
    pub src: u128,
    /// Destination address.
    pub dst: u128,
    /// Source port (ICMP: identifier).
    pub sport: u16,
    /// Destination port (ICMP: identifier).
    pub dport: u16,
    /// Conntrack zone.
    pub zone: u16,
    /// IP protocol / IPv6 next header.
    pub proto: u8,
    /// IPv6 (true) or IPv4 (false).
    pub v6: bool,
    /// ICMP type (0 for other protocols).
    pub icmp_type: u8,
    /// ICMP code (0 for other protocols).
    pub icmp_code: u8,
}

/// The reply type of an ICMP query type (RFC 792 / RFC 4443): echo 8 <-> 0,
/// timestamp 13 <-> 14, information 15 <-> 16, address mask 17 <-> 18,
/// ICMPv6 echo 128 <-> 129. Other types map to themselves.
pub fn reverse_icmp_type(t: u8, v6: bool) -> u8 {
    if v6 {
        match t {
            128 => 129,
            129 => 128,
            t => t,
        }
    } else {
        match t {
            8 => 0,
            0 => 8,
            13 => 14,
            14 => 13,
            15 => 16,
            16 => 15,
            17 => 18,
            18 => 17,
            t => t,
        }
    }
}

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let m = (a as u128).wrapping_mul(b as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xa076_1d64_78bd_642f;
const K2: u64 = 0xe703_7ed1_a0b4_28db;

impl ConnKey {
    /// The key of the opposite direction: addresses and ports swapped, ICMP
    /// query type replaced by its reply type.
    #[inline]
    pub fn reverse(&self) -> ConnKey {
        ConnKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            zone: self.zone,
            proto: self.proto,
            v6: self.v6,
            icmp_type: if is_icmp(self.proto) {
                reverse_icmp_type(self.icmp_type, self.v6)
            } else {
                self.icmp_type
            },
            icmp_code: self.icmp_code,
        }
    }

    /// Seeded 64-bit hash (folded multiplies; the seed is random per
    /// [`crate::Conntrack`] so that remote peers cannot aim for one bucket).
    #[inline]
    pub fn hash(&self, seed: u64) -> u64 {
        let w = (self.sport as u64) << 48
            | (self.dport as u64) << 32
            | (self.zone as u64) << 16
            | (self.proto as u64) << 8
            | self.v6 as u64;
        let w2 = (self.icmp_type as u64) << 8 | self.icmp_code as u64;
        let mut h = fold_mul(self.src as u64 ^ seed, K0 ^ (self.src >> 64) as u64);
        h = fold_mul(h ^ self.dst as u64, K1 ^ (self.dst >> 64) as u64);
        fold_mul(h ^ w, K2 ^ w2)
    }

    /// Source address as an [`IpAddr`].
    pub fn src_ip(&self) -> IpAddr {
        to_ip(self.src, self.v6)
    }

    /// Destination address as an [`IpAddr`].
    pub fn dst_ip(&self) -> IpAddr {
        to_ip(self.dst, self.v6)
    }

    /// The `md.ct_orig` tuple of this key (ICMP: type in `src_port`, code in
    /// `dst_port`, as OVS's `ct_tp_src`/`ct_tp_dst`).
    pub fn to_orig_tuple(&self) -> CtOrigTuple {
        let (sp, dp) = if is_icmp(self.proto) {
            (self.icmp_type as u16, self.icmp_code as u16)
        } else {
            (self.sport, self.dport)
        };
        if self.v6 {
            CtOrigTuple::V6 {
                src: self.src,
                dst: self.dst,
                src_port: sp,
                dst_port: dp,
                proto: self.proto,
            }
        } else {
            CtOrigTuple::V4 {
                src: self.src as u32,
                dst: self.dst as u32,
                src_port: sp,
                dst_port: dp,
                proto: self.proto,
            }
        }
    }

    /// A key from addresses and ports (`sport`/`dport` are the ICMP id for
    /// ICMP). Fails (`None`) if the two addresses are of different families.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        zone: u16,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
        icmp_type: u8,
        icmp_code: u8,
    ) -> Option<ConnKey> {
        let (s, d, v6) = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (u32::from(s) as u128, u32::from(d) as u128, false),
            (IpAddr::V6(s), IpAddr::V6(d)) => (u128::from(s), u128::from(d), true),
            _ => return None,
        };
        Some(ConnKey {
            src: s,
            dst: d,
            sport,
            dport,
            zone,
            proto,
            v6,
            icmp_type,
            icmp_code,
        })
    }
}

/// An address as an [`IpAddr`] (`v6 == false`: low 32 bits).
pub fn to_ip(a: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        IpAddr::V4(Ipv4Addr::from(a as u32))
    }
}

/// True for ICMP and ICMPv6.
#[inline]
pub fn is_icmp(proto: u8) -> bool {
    proto == ipproto::ICMP || proto == ipproto::ICMPV6
}

/// The inner (embedded) header of an ICMP error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inner {
    pub l3: usize,
    pub l4: usize,
}

/// A parsed packet: key and header positions in the frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parsed {
    /// Lookup key (for an ICMP error: the reversed inner tuple).
    pub key: ConnKey,
    pub l3: usize,
    pub l4: usize,
    /// End of the IP payload (Ethernet padding excluded).
    pub l4_end: usize,
    /// ICMP error: the embedded packet.
    pub related: Option<Inner>,
}

/// Why a packet could not be tracked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ParseError {
    /// Not IP, truncated, bad checksum, unknown ICMP type, ...
    Invalid,
    /// An IP fragment (needs ipf reassembly, not implemented yet).
    Fragment,
}

#[inline(always)]
pub(crate) fn be16(d: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([d[o], d[o + 1]])
}

#[inline(always)]
pub(crate) fn be32(d: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]])
}

#[inline(always)]
pub(crate) fn be128(d: &[u8], o: usize) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[o..o + 16]);
    u128::from_be_bytes(b)
}

struct L3 {
    src: u128,
    dst: u128,
    proto: u8,
    l4: usize,
    end: usize,
    v6: bool,
}

/// Parses an IP header at `l3`. `outer`: full validation (total length
/// within the frame, checksum, fragments); inner headers of ICMP errors are
/// truncated by nature, so only the fixed part is checked.
fn parse_l3(d: &[u8], l3: usize, outer: bool, verify: bool) -> Result<L3, ParseError> {
    let b = d.get(l3..).ok_or(ParseError::Invalid)?;
    if b.is_empty() {
        return Err(ParseError::Invalid);
    }
    match b[0] >> 4 {
        4 => {
            if b.len() < 20 {
                return Err(ParseError::Invalid);
            }
            let ihl = (b[0] & 0xf) as usize * 4;
            let tot = be16(b, 2) as usize;
            if ihl < 20 || b.len() < ihl {
                return Err(ParseError::Invalid);
            }
            if outer {
                if tot < ihl || tot > b.len() {
                    return Err(ParseError::Invalid);
                }
                if be16(b, 6) & 0x3fff != 0 {
                    return Err(ParseError::Fragment);
                }
                if verify && csum::checksum(&b[..ihl]) != 0 {
                    return Err(ParseError::Invalid);
                }
            } else if be16(b, 6) & 0x1fff != 0 {
                return Err(ParseError::Invalid);
            }
            Ok(L3 {
                src: be32(b, 12) as u128,
                dst: be32(b, 16) as u128,
                proto: b[9],
                l4: l3 + ihl,
                end: if outer { l3 + tot } else { d.len() },
                v6: false,
            })
        }
        6 => {
            if b.len() < 40 {
                return Err(ParseError::Invalid);
            }
            let plen = be16(b, 4) as usize;
            let end = if outer {
                if plen == 0 || 40 + plen > b.len() {
                    return Err(ParseError::Invalid);
                }
                l3 + 40 + plen
            } else {
                d.len()
            };
            let mut nh = b[6];
            let mut ofs = l3 + 40;
            loop {
                match nh {
                    // Hop-by-hop, routing, destination options (RFC 8200 4.3-4.6).
                    0 | 43 | 60 => {
                        if ofs + 8 > end {
                            return Err(ParseError::Invalid);
                        }
                        nh = d[ofs];
                        ofs += (d[ofs + 1] as usize + 1) * 8;
                    }
                    // AH (RFC 4302 2.2): length in 4-octet units minus 2.
                    51 => {
                        if ofs + 8 > end {
                            return Err(ParseError::Invalid);
                        }
                        nh = d[ofs];
                        ofs += (d[ofs + 1] as usize + 2) * 4;
                    }
                    44 => {
                        return Err(if outer {
                            ParseError::Fragment
                        } else {
                            ParseError::Invalid
                        })
                    }
                    _ => break,
                }
            }
            if ofs > end {
                return Err(ParseError::Invalid);
            }
            Ok(L3 {
                src: be128(b, 8),
                dst: be128(b, 24),
                proto: nh,
                l4: ofs,
                end,
                v6: true,
            })
        }
        _ => Err(ParseError::Invalid),
    }
}

/// L4 checksum of `seg` (TCP, UDP, ICMPv6) with the pseudo-header; 0 if valid.
fn l4_csum(l3: &L3, seg: &[u8]) -> u16 {
    let ph = if l3.v6 {
        csum::pseudo_header_v6(l3.src, l3.dst, l3.proto, seg.len() as u32)
    } else {
        csum::pseudo_header_v4(l3.src as u32, l3.dst as u32, l3.proto, seg.len() as u16)
    };
    csum::finish(csum::add_bytes(ph, seg))
}

/// ICMPv4 query types that may start a connection (OVS `icmp4_valid_new`
/// adds only echo, information and timestamp requests; we also accept the
/// replies for lookup).
fn icmp_is_query(t: u8, v6: bool) -> bool {
    if v6 {
        matches!(t, 128 | 129)
    } else {
        matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
    }
}

fn icmp_is_error(t: u8, v6: bool) -> bool {
    if v6 {
        matches!(t, 1..=4)
    } else {
        matches!(t, 3 | 4 | 5 | 11 | 12)
    }
}

/// Reads ports (or ICMP id/type/code) at `l4` into `key`; for the inner
/// packet of an ICMP error only the first 8 bytes are needed (RFC 792).
fn l4_ports(d: &[u8], l4: usize, end: usize, key: &mut ConnKey) -> Result<(), ParseError> {
    match key.proto {
        ipproto::TCP | ipproto::UDP | ipproto::SCTP | ipproto::UDPLITE | ipproto::DCCP => {
            if l4 + 4 > end {
                return Err(ParseError::Invalid);
            }
            key.sport = be16(d, l4);
            key.dport = be16(d, l4 + 2);
        }
        ipproto::ICMP | ipproto::ICMPV6 => {
            if l4 + 8 > end {
                return Err(ParseError::Invalid);
            }
            key.icmp_type = d[l4];
            key.icmp_code = d[l4 + 1];
            let id = be16(d, l4 + 4);
            key.sport = id;
            key.dport = id;
        }
        _ => {}
    }
    Ok(())
}

/// Builds the conntrack key of `pkt` in `zone` (OVS `conn_key_extract`).
/// `verify`: validate IPv4 header and L4 checksums.
pub(crate) fn parse(pkt: &DpPacket, zone: u16, verify: bool) -> Result<Parsed, ParseError> {
    if pkt.l3_ofs == OFS_NONE {
        return Err(ParseError::Invalid);
    }
    let d = pkt.data();
    let l3 = parse_l3(d, pkt.l3_ofs as usize, true, verify)?;
    let mut key = ConnKey {
        src: l3.src,
        dst: l3.dst,
        zone,
        proto: l3.proto,
        v6: l3.v6,
        ..ConnKey::default()
    };
    let (l4, end) = (l3.l4, l3.end);
    let seg = &d[l4..end];
    let mut related = None;
    match l3.proto {
        ipproto::TCP => {
            if seg.len() < 20 {
                return Err(ParseError::Invalid);
            }
            let doff = (seg[12] >> 4) as usize * 4;
            if doff < 20 || doff > seg.len() {
                return Err(ParseError::Invalid);
            }
            if verify && l4_csum(&l3, seg) != 0 {
                return Err(ParseError::Invalid);
            }
            l4_ports(d, l4, end, &mut key)?;
        }
        ipproto::UDP => {
            if seg.len() < 8 {
                return Err(ParseError::Invalid);
            }
            let ulen = be16(seg, 4) as usize;
            if ulen < 8 || ulen > seg.len() {
                return Err(ParseError::Invalid);
            }
            if verify && (l3.v6 || be16(seg, 6) != 0) && l4_csum(&l3, &seg[..ulen]) != 0 {
                return Err(ParseError::Invalid);
            }
            l4_ports(d, l4, end, &mut key)?;
        }
        ipproto::ICMP | ipproto::ICMPV6 => {
            let v6 = l3.proto == ipproto::ICMPV6;
            if v6 != l3.v6 || seg.len() < 8 {
                return Err(ParseError::Invalid);
            }
            if verify {
                let c = if v6 {
                    l4_csum(&l3, seg)
                } else {
                    csum::checksum(seg)
                };
                if c != 0 {
                    return Err(ParseError::Invalid);
                }
            }
            let t = seg[0];
            if icmp_is_query(t, v6) {
                l4_ports(d, l4, end, &mut key)?;
            } else if icmp_is_error(t, v6) {
                // The embedded packet went the other way: its reversed tuple
                // is the connection's tuple in this packet's direction.
                let il3 = l4 + 8;
                let inner = parse_l3(&d[..end], il3, false, false)?;
                if inner.v6 != l3.v6 || inner.src != l3.dst {
                    return Err(ParseError::Invalid);
                }
                let mut ik = ConnKey {
                    src: inner.src,
                    dst: inner.dst,
                    zone,
                    proto: inner.proto,
                    v6: inner.v6,
                    ..ConnKey::default()
                };
                l4_ports(d, inner.l4, end, &mut ik)?;
                if is_icmp(ik.proto) && !icmp_is_query(ik.icmp_type, v6) {
                    return Err(ParseError::Invalid);
                }
                key = ik.reverse();
                related = Some(Inner {
                    l3: il3,
                    l4: inner.l4,
                });
            } else {
                return Err(ParseError::Invalid);
            }
        }
        _ => l4_ports(d, l4, end, &mut key)?,
    }
    Ok(Parsed {
        key,
        l3: pkt.l3_ofs as usize,
        l4,
        l4_end: end,
        related,
    })
}

/// The outer tuple addresses of a parsed packet as they are in the frame
/// (for an ICMP error, whose key is the inner tuple).
pub(crate) fn parse_outer_addrs(d: &[u8], p: &Parsed) -> ConnKey {
    let mut k = p.key;
    if k.v6 {
        k.src = be128(d, p.l3 + 8);
        k.dst = be128(d, p.l3 + 24);
    } else {
        k.src = be32(d, p.l3 + 12) as u128;
        k.dst = be32(d, p.l3 + 16) as u128;
    }
    k
}
