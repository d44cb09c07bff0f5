//! NAT: choosing the translated tuple and rewriting packets (OVS
//! `nat_get_unique_tuple`, `nat_packet`, `un_nat_packet`; Linux
//! `nf_nat_core.c` port selection).
//!
//! A NATed connection is stored under its original tuple and under the
//! *translated* reply tuple, so replies find it directly. Packets in the
//! original direction are rewritten to the reverse of the reply tuple,
//! replies to the reverse of the original tuple; checksums are updated
//! incrementally with [`dp_core::csum`] (RFC 1624), except for ICMP errors,
//! whose embedded header changes too: their ICMP checksum is recomputed.

use crate::key::{be128, be16, be32, ipproto, ConnKey, Parsed};
use dp_core::actions::{NatAction, NatKind};
use dp_core::csum;
use std::net::IpAddr;

/// NAT bits of a connection (OVS `NAT_ACTION_SRC` / `NAT_ACTION_DST`).
pub(crate) const NAT_SRC: u8 = 1;
pub(crate) const NAT_DST: u8 = 2;

fn addr_u128(a: IpAddr) -> (u128, bool) {
    match a {
        IpAddr::V4(a) => (u32::from(a) as u128, false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

/// Whether the protocol has ports that NAT may change (OVS: TCP, UDP,
/// SCTP).
fn pat_proto(p: u8) -> bool {
    matches!(p, ipproto::TCP | ipproto::UDP | ipproto::SCTP)
}

/// Candidate reply tuples for a new connection `orig` under `nat`, in the
/// order they should be tried; `hash` spreads connections over the range.
/// Returns the NAT bits and an iterator-like closure driven by
/// [`for_each_candidate`]. `None`: this NAT action does not translate
/// (no address and no port given, or a family mismatch).
pub(crate) struct Plan {
    pub bits: u8,
    addr_lo: u128,
    n_addr: u128,
    port_first: Option<u16>,
    port_lo: u16,
    n_port: u32,
    hash: u64,
    orig: ConnKey,
}

pub(crate) fn plan(orig: &ConnKey, nat: &NatAction, hash: u64) -> Option<Plan> {
    let kind = nat.kind?;
    let snat = kind == NatKind::Src;
    let (cur_addr, cur_port) = if snat {
        (orig.src, orig.sport)
    } else {
        (orig.dst, orig.dport)
    };
    let (addr_lo, n_addr) = match nat.addr {
        Some((lo, hi)) => {
            let (lo, v6a) = addr_u128(lo);
            let (hi, v6b) = addr_u128(hi);
            if v6a != orig.v6 || v6b != orig.v6 || hi < lo {
                return None;
            }
            (lo, (hi - lo).saturating_add(1))
        }
        None => (cur_addr, 1),
    };
    let pat = pat_proto(orig.proto);
    let (port_first, port_lo, n_port) = match (pat, nat.ports) {
        (false, _) => (None, cur_port, 1),
        (true, Some((lo, hi))) if lo <= hi => {
            let first = (lo..=hi).contains(&cur_port).then_some(cur_port);
            (first, lo, hi as u32 - lo as u32 + 1)
        }
        (true, Some(_)) => return None,
        // SNAT without a port range: keep the port if possible, else an
        // ephemeral port from the same class (Linux nf_nat_l4proto).
        (true, None) if snat => {
            let (lo, hi) = if cur_port < 512 {
                (1u16, 511u16)
            } else if cur_port < 1024 {
                (600, 1023)
            } else {
                (1024, 65535)
            };
            (Some(cur_port), lo, hi as u32 - lo as u32 + 1)
        }
        (true, None) => (None, cur_port, 1),
    };
    if nat.addr.is_none() && nat.ports.is_none() {
        return None;
    }
    let hash = if nat.persistent && !nat.random {
        // Same address for a given client: hash the addresses only.
        let k = ConnKey {
            src: orig.src,
            dst: orig.dst,
            v6: orig.v6,
            ..ConnKey::default()
        };
        k.hash(0)
    } else {
        hash
    };
    Some(Plan {
        bits: if snat { NAT_SRC } else { NAT_DST },
        addr_lo,
        n_addr,
        port_first,
        port_lo,
        n_port,
        hash,
        orig: *orig,
    })
}

/// Upper bound on probes per connection (an exhausted pool costs this many
/// lookups before the connection is refused).
const MAX_PROBES: u32 = 1 << 17;

impl Plan {
    /// Calls `try_key` with each candidate reply key until it returns true;
    /// returns that key.
    pub(crate) fn find(&self, mut try_key: impl FnMut(&ConnKey) -> bool) -> Option<ConnKey> {
        let mut probes = 0u32;
        let a0 = (self.hash as u128) % self.n_addr;
        let p0 = ((self.hash >> 32) as u32) % self.n_port;
        let n_addr = self.n_addr.min(MAX_PROBES as u128) as u32;
        for ai in 0..n_addr {
            let addr = self.addr_lo + (a0 + ai as u128) % self.n_addr;
            let first = self.port_first.into_iter();
            let rest =
                (0..self.n_port).map(|i| (self.port_lo as u32 + (p0 + i) % self.n_port) as u16);
            for port in first.chain(rest) {
                probes += 1;
                if probes > MAX_PROBES {
                    return None;
                }
                let mut t = self.orig;
                if self.bits == NAT_SRC {
                    t.src = addr;
                    t.sport = port;
                } else {
                    t.dst = addr;
                    t.dport = port;
                }
                let r = t.reverse();
                if try_key(&r) {
                    return Some(r);
                }
            }
        }
        None
    }
}

/// Rewrites the IP addresses and ports of a packet to `to` (the tuple the
/// packet must carry after translation). Only the fields that differ from
/// `from` change.
pub(crate) fn rewrite(d: &mut [u8], p: &Parsed, from: &ConnKey, to: &ConnKey) {
    let (l3, l4, end) = (p.l3, p.l4, p.l4_end);
    let proto = from.proto;
    // L4 checksum field offset, if the protocol has one covering the
    // pseudo-header or ports.
    let csum_ofs = match proto {
        ipproto::TCP => Some(16),
        ipproto::UDP if from.v6 || be16(d, l4 + 6) != 0 => Some(6),
        ipproto::ICMPV6 => Some(2),
        _ => None,
    };
    let mut l4c = csum_ofs.map(|o| be16(d, l4 + o));
    if from.v6 {
        if from.src != to.src {
            d[l3 + 8..l3 + 24].copy_from_slice(&to.src.to_be_bytes());
            l4c = l4c.map(|c| csum::csum_update128(c, from.src, to.src));
        }
        if from.dst != to.dst {
            d[l3 + 24..l3 + 40].copy_from_slice(&to.dst.to_be_bytes());
            l4c = l4c.map(|c| csum::csum_update128(c, from.dst, to.dst));
        }
    } else {
        let mut ipc = be16(d, l3 + 10);
        let (fs, ts, fd, td) = (
            from.src as u32,
            to.src as u32,
            from.dst as u32,
            to.dst as u32,
        );
        if fs != ts {
            d[l3 + 12..l3 + 16].copy_from_slice(&ts.to_be_bytes());
            ipc = csum::csum_update32(ipc, fs, ts);
            l4c = l4c.map(|c| csum::csum_update32(c, fs, ts));
        }
        if fd != td {
            d[l3 + 16..l3 + 20].copy_from_slice(&td.to_be_bytes());
            ipc = csum::csum_update32(ipc, fd, td);
            l4c = l4c.map(|c| csum::csum_update32(c, fd, td));
        }
        d[l3 + 10..l3 + 12].copy_from_slice(&ipc.to_be_bytes());
    }
    if pat_proto(proto) && end >= l4 + 4 {
        if from.sport != to.sport {
            d[l4..l4 + 2].copy_from_slice(&to.sport.to_be_bytes());
            l4c = l4c.map(|c| csum::csum_update16(c, from.sport, to.sport));
        }
        if from.dport != to.dport {
            d[l4 + 2..l4 + 4].copy_from_slice(&to.dport.to_be_bytes());
            l4c = l4c.map(|c| csum::csum_update16(c, from.dport, to.dport));
        }
    }
    if let (Some(o), Some(mut c)) = (csum_ofs, l4c) {
        if proto == ipproto::UDP && c == 0 {
            c = 0xffff; // RFC 768: 0 means "no checksum".
        }
        d[l4 + o..l4 + o + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// Rewrites an ICMP error: the outer addresses to `outer_to` (fields that
/// differ from `outer_from`), the embedded header to `inner_to`; recomputes
/// the embedded IPv4 header checksum and the ICMP checksum.
pub(crate) fn rewrite_related(
    d: &mut [u8],
    p: &Parsed,
    outer_from: &ConnKey,
    outer_to: &ConnKey,
    inner_to: &ConnKey,
) {
    let Some(inner) = p.related else { return };
    let (l3, l4, end) = (p.l3, p.l4, p.l4_end);
    let v6 = outer_from.v6;
    // Outer addresses.
    if v6 {
        d[l3 + 8..l3 + 24].copy_from_slice(&outer_to.src.to_be_bytes());
        d[l3 + 24..l3 + 40].copy_from_slice(&outer_to.dst.to_be_bytes());
    } else {
        let mut ipc = be16(d, l3 + 10);
        let (fs, ts) = (be32(d, l3 + 12), outer_to.src as u32);
        let (fd, td) = (be32(d, l3 + 16), outer_to.dst as u32);
        ipc = csum::csum_update32(ipc, fs, ts);
        ipc = csum::csum_update32(ipc, fd, td);
        d[l3 + 12..l3 + 16].copy_from_slice(&ts.to_be_bytes());
        d[l3 + 16..l3 + 20].copy_from_slice(&td.to_be_bytes());
        d[l3 + 10..l3 + 12].copy_from_slice(&ipc.to_be_bytes());
    }
    // Embedded header.
    let (il3, il4) = (inner.l3, inner.l4);
    if v6 {
        d[il3 + 8..il3 + 24].copy_from_slice(&inner_to.src.to_be_bytes());
        d[il3 + 24..il3 + 40].copy_from_slice(&inner_to.dst.to_be_bytes());
    } else {
        d[il3 + 12..il3 + 16].copy_from_slice(&(inner_to.src as u32).to_be_bytes());
        d[il3 + 16..il3 + 20].copy_from_slice(&(inner_to.dst as u32).to_be_bytes());
        let ihl = (d[il3] & 0xf) as usize * 4;
        let c = csum::ipv4_header_checksum(&d[il3..il3 + ihl]);
        d[il3 + 10..il3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    if pat_proto(inner_to.proto) && il4 + 4 <= end {
        d[il4..il4 + 2].copy_from_slice(&inner_to.sport.to_be_bytes());
        d[il4 + 2..il4 + 4].copy_from_slice(&inner_to.dport.to_be_bytes());
    }
    // ICMP checksum from scratch.
    d[l4 + 2..l4 + 4].copy_from_slice(&[0, 0]);
    let c = if v6 {
        let src = be128(d, l3 + 8);
        let dst = be128(d, l3 + 24);
        let ph = csum::pseudo_header_v6(src, dst, ipproto::ICMPV6, (end - l4) as u32);
        csum::finish(csum::add_bytes(ph, &d[l4..end]))
    } else {
        csum::checksum(&d[l4..end])
    };
    d[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
}
