//! Execution of datapath (ODP) actions on packet batches: the userspace
//! datapath's `odp_execute_actions()` (OVS `lib/odp-execute.c`) together with
//! the header rewriting helpers of `lib/packets.c` and the stateful cases of
//! `dp_execute_cb()` in `lib/dpif-netdev.c`.
//!
//! # Model
//!
//! [`execute_actions`] consumes a batch and runs the action list on all of
//! its packets, in order. Actions that hand packets away (`output`,
//! `userspace`, `recirc`, `tnl_pop`) take the batch itself when they are the
//! last action and a deep copy otherwise (OVS "should_steal"). `clone`,
//! `sample`, `check_pkt_len` run their nested lists on copies unless they are
//! last. Conntrack, tunnels and meters go through [`ActionContext`].
//!
//! Header rewrites update checksums incrementally (RFC 1624, see
//! [`crate::csum`]): the IPv4 header checksum, the TCP/UDP pseudo-header
//! checksum for address changes, the TCP/UDP checksum for port changes, the
//! ICMPv6 checksum for IPv6 address and neighbour discovery changes; SCTP's
//! CRC32c is recomputed (keeping an incorrect checksum incorrect, like OVS).
//! A UDP checksum of 0 ("none") stays 0 and a computed 0 is sent as `0xffff`.
//!
//! Header offsets (`l2_5_ofs`, `l3_ofs`, `l4_ofs`) set by the flow extractor
//! are trusted only after bounds checks, and kept correct by actions that add
//! or remove headers. An action whose header is absent or truncated leaves the
//! packet unchanged; nothing here panics on any frame.
//!
//! # Deviations from OVS
//!
//! * `trunc(N)` is remembered per batch as a maximum length (OVS stores per
//!   packet a number of bytes to cut, computed when `trunc` runs); the two
//!   differ only if the frame length changes between `trunc` and the output.
//! * Nesting of `clone`/`sample`/`check_pkt_len`/`dec_ttl` deeper than
//!   [`MAX_NESTING`] drops the packets instead of overflowing the stack.
//! * The `hash` values follow the construction of OVS `flow_hash_5tuple()` /
//!   `flow_hash_symmetric_l3l4()` with murmur3 mixing but are not bit-identical
//!   to OVS (OVS itself does not promise that).

use crate::actions::{ActionContext, CtAction, HashAlg, OdpAction, SetAttr, TnlPush};
use crate::csum;
use crate::packet::{CtOrigTuple, DpPacket, PacketBatch, TunnelMetadata, OFS_NONE};

/// Maximum nesting depth of action lists (`clone`, `sample`,
/// `check_pkt_len`, `dec_ttl`) that is executed; deeper lists drop their
/// packets.
pub const MAX_NESTING: usize = 64;

const ETH_HLEN: usize = 14;
const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_RARP: u16 = 0x8035;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_VLAN: u16 = 0x8100;
const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;
const ETH_TYPE_MPLS: u16 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
const ETH_TYPE_TEB: u16 = 0x6558;
const MPLS_BOS: u32 = 0x100;
/// OpenFlow packet type namespace for Ethertypes (`OFPHTN_ETHERTYPE`).
const PT_NS_ETHERTYPE: u32 = 1;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;

const TCP_HLEN: usize = 20;
const UDP_HLEN: usize = 8;
const SCTP_HLEN: usize = 12;
const ICMP_HLEN: usize = 4;
/// ICMPv6 header + flags + target of a neighbour solicitation/advertisement.
const ND_MSG_LEN: usize = 24;

/// Executes `actions` on `batch`, in order, as OVS `odp_execute_actions()`
/// with `steal = true`: the batch is consumed, its packets end up in
/// [`ActionContext`] calls (outputs, upcalls, recirculation, tunnel pop) or
/// are dropped when the list ends. An empty list drops the batch.
///
/// Never panics, whatever the packets or the action list; malformed or short
/// packets skip the modifications that do not fit them.
pub fn execute_actions<C: ActionContext>(ctx: &mut C, batch: PacketBatch, actions: &[OdpAction]) {
    run(ctx, batch, actions, None, 0);
}

/// Runs `actions` on `batch` (stolen). `trunc` is the pending `trunc(N)`
/// maximum length (already clamped to at least an Ethernet header).
fn run<C: ActionContext>(
    ctx: &mut C,
    mut batch: PacketBatch,
    actions: &[OdpAction],
    mut trunc: Option<u32>,
    depth: usize,
) {
    if depth > MAX_NESTING {
        return;
    }
    let n = actions.len();
    for (i, action) in actions.iter().enumerate() {
        if batch.is_empty() {
            return;
        }
        let last = i + 1 == n;
        match action {
            OdpAction::Output(port) => {
                if last {
                    apply_trunc(&mut batch, trunc);
                    ctx.output(*port, batch);
                    return;
                }
                let out = copy_for_output(&batch, &mut trunc);
                ctx.output(*port, out);
            }
            OdpAction::Userspace(u) => {
                if last {
                    apply_trunc(&mut batch, trunc);
                    ctx.userspace(u, batch);
                    return;
                }
                let out = copy_for_output(&batch, &mut trunc);
                ctx.userspace(u, out);
            }
            OdpAction::TnlPop(port) => {
                // Decapsulate in place, then recirculate the inner packets
                // (OVS: netdev_pop_header + dp_netdev_recirculate).
                if last {
                    apply_trunc(&mut batch, trunc);
                    ctx.tnl_pop(*port, &mut batch);
                    ctx.recirc(batch);
                    return;
                }
                let mut out = copy_for_output(&batch, &mut trunc);
                ctx.tnl_pop(*port, &mut out);
                ctx.recirc(out);
            }
            OdpAction::Recirc(id) => {
                if last {
                    set_recirc(&mut batch, *id);
                    ctx.recirc(batch);
                    return;
                }
                let mut copy = batch.deep_clone();
                set_recirc(&mut copy, *id);
                ctx.recirc(copy);
            }
            OdpAction::TnlPush(push) => {
                if last {
                    // OVS: the encapsulated packets would be freed right
                    // away, so the push is skipped.
                    return;
                }
                tnl_push(ctx, push, &mut batch, &mut trunc);
            }
            OdpAction::Drop => return,
            OdpAction::Set(attr) => {
                for p in batch.pkts.iter_mut() {
                    apply_set(p, attr, None);
                }
            }
            OdpAction::SetMasked { value, mask } => {
                for p in batch.pkts.iter_mut() {
                    apply_set(p, value, Some(mask));
                }
            }
            OdpAction::PushVlan { tpid, tci } => {
                for p in batch.pkts.iter_mut() {
                    push_vlan(p, *tpid, *tci);
                }
            }
            OdpAction::PopVlan => {
                for p in batch.pkts.iter_mut() {
                    pop_vlan(p);
                }
            }
            OdpAction::PushMpls { lse, ethertype } => {
                for p in batch.pkts.iter_mut() {
                    push_mpls(p, *ethertype, *lse);
                }
            }
            OdpAction::PopMpls { ethertype } => {
                for p in batch.pkts.iter_mut() {
                    pop_mpls(p, *ethertype);
                }
            }
            OdpAction::PushEth { src, dst } => {
                for p in batch.pkts.iter_mut() {
                    push_eth(p, src, dst);
                }
            }
            OdpAction::PopEth => {
                for p in batch.pkts.iter_mut() {
                    pop_eth(p);
                }
            }
            OdpAction::PushNsh(push) => {
                // OVS asserts the packet type; a packet xlate did not expect
                // is dropped instead.
                batch.pkts.retain_mut(|p| crate::nsh::push_nsh(p, push));
            }
            OdpAction::PopNsh => {
                batch.pkts.retain_mut(|p| crate::nsh::pop_nsh(p));
            }
            OdpAction::Hash { alg, basis } => {
                for p in batch.pkts.iter_mut() {
                    p.md.dp_hash = match alg {
                        HashAlg::L4 => hash_l4(p, *basis),
                        HashAlg::SymL4 => hash_sym_l4(p, *basis),
                    };
                }
            }
            OdpAction::Ct(ct) => ct_action(ctx, ct, &mut batch),
            OdpAction::CtClear => {
                for p in batch.pkts.iter_mut() {
                    let md = &mut p.md;
                    md.ct_state = 0;
                    md.ct_zone = 0;
                    md.ct_mark = 0;
                    md.ct_label = 0;
                    md.ct_orig = CtOrigTuple::None;
                }
            }
            OdpAction::Meter(id) => {
                let now = ctx.now_ns();
                ctx.meter(*id, now, &mut batch);
            }
            OdpAction::Clone(nested) => {
                if last {
                    run(ctx, batch, nested, trunc, depth + 1);
                    return;
                }
                let copy = batch.deep_clone();
                run(ctx, copy, nested, trunc, depth + 1);
                trunc = None;
            }
            OdpAction::Sample {
                probability,
                actions: nested,
            } => {
                let p = *probability;
                if p == u32::MAX {
                    if last {
                        run(ctx, batch, nested, trunc, depth + 1);
                        return;
                    }
                    let copy = batch.deep_clone();
                    run(ctx, copy, nested, trunc, depth + 1);
                } else if p != 0 {
                    let mut sampled = PacketBatch::new();
                    if last {
                        for pkt in batch.pkts.drain(..) {
                            if ctx.random_u32() < p {
                                sampled.push(pkt);
                            }
                        }
                    } else {
                        for pkt in batch.pkts.iter() {
                            if ctx.random_u32() < p {
                                sampled.push(pkt.clone());
                            }
                        }
                    }
                    run(ctx, sampled, nested, trunc, depth + 1);
                }
                if last {
                    return;
                }
            }
            OdpAction::CheckPktLen { pkt_len, gt, le } => {
                let limit = *pkt_len as usize;
                let mut gt_b = PacketBatch::new();
                let mut le_b = PacketBatch::new();
                let eff_len = |p: &DpPacket| match trunc {
                    Some(t) => p.len().min(t as usize),
                    None => p.len(),
                };
                if last {
                    for p in batch.pkts.drain(..) {
                        if eff_len(&p) > limit {
                            gt_b.push(p);
                        } else {
                            le_b.push(p);
                        }
                    }
                } else {
                    for p in batch.pkts.iter() {
                        if eff_len(p) > limit {
                            gt_b.push(p.clone());
                        } else {
                            le_b.push(p.clone());
                        }
                    }
                }
                if !gt_b.is_empty() {
                    run(ctx, gt_b, gt, trunc, depth + 1);
                }
                if !le_b.is_empty() {
                    run(ctx, le_b, le, trunc, depth + 1);
                }
                if last {
                    return;
                }
            }
            OdpAction::Trunc(max_len) => {
                trunc = Some((*max_len).max(ETH_HLEN as u32));
            }
            OdpAction::DecTtl(nested) => {
                let expired = dec_ttl(&mut batch);
                if let Some(expired) = expired {
                    run(ctx, expired, nested, trunc, depth + 1);
                }
            }
        }
    }
}

/// Truncates every packet of `batch` to the pending `trunc` length.
fn apply_trunc(batch: &mut PacketBatch, trunc: Option<u32>) {
    if let Some(max) = trunc {
        for p in batch.pkts.iter_mut() {
            p.truncate(max as usize);
        }
    }
}

/// A deep copy of `batch` for an output-like action that is not the last
/// one: the copy is truncated, the original's pending truncation is reset
/// (OVS `dp_packet_batch_reset_cutlen`).
fn copy_for_output(batch: &PacketBatch, trunc: &mut Option<u32>) -> PacketBatch {
    let mut out = batch.deep_clone();
    apply_trunc(&mut out, trunc.take());
    out
}

fn set_recirc(batch: &mut PacketBatch, id: u32) {
    for p in batch.pkts.iter_mut() {
        p.md.recirc_id = id;
    }
}

fn tnl_push<C: ActionContext>(
    ctx: &mut C,
    push: &TnlPush,
    batch: &mut PacketBatch,
    trunc: &mut Option<u32>,
) {
    apply_trunc(batch, trunc.take());
    ctx.tnl_push(push, batch);
}

fn ct_action<C: ActionContext>(ctx: &mut C, ct: &CtAction, batch: &mut PacketBatch) {
    ctx.ct(ct, batch);
}

// ---------------------------------------------------------------------------
// Byte helpers (all bounds-checked by the callers).

#[inline]
fn rd16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

#[inline]
fn wr16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
fn rd32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

#[inline]
fn wr32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
fn rd128(d: &[u8], at: usize) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[at..at + 16]);
    u128::from_be_bytes(b)
}

#[inline]
fn wr128(d: &mut [u8], at: usize, v: u128) {
    d[at..at + 16].copy_from_slice(&v.to_be_bytes());
}

#[inline]
fn masked<T>(old: T, value: T, mask: T) -> T
where
    T: std::ops::BitAnd<Output = T>
        + std::ops::BitOr<Output = T>
        + std::ops::Not<Output = T>
        + Copy,
{
    (old & !mask) | (value & mask)
}

fn masked_mac(old: &[u8], value: &[u8; 6], mask: &[u8; 6]) -> [u8; 6] {
    let mut out = [0u8; 6];
    for i in 0..6 {
        out[i] = masked(old[i], value[i], mask[i]);
    }
    out
}

// ---------------------------------------------------------------------------
// Layer lookup.

/// Ethertype of the header at `l3_ofs`: from the packet type for L3 packets,
/// from the two bytes in front of it for Ethernet frames (not through MPLS).
fn l3_ethertype(p: &DpPacket) -> Option<u16> {
    let l3 = p.l3_ofs;
    if l3 == OFS_NONE || l3 as usize >= p.len() {
        return None;
    }
    if p.md.packet_type != 0 {
        if p.md.packet_type >> 16 != PT_NS_ETHERTYPE || p.l2_5_ofs != OFS_NONE {
            return None;
        }
        return Some(p.md.packet_type as u16);
    }
    let l3 = l3 as usize;
    if p.l2_5_ofs != OFS_NONE || l3 < ETH_HLEN {
        return None;
    }
    Some(rd16(p.data(), l3 - 2))
}

/// An IPv4 header: its offset and length in bytes, and where the IP datagram
/// ends in the frame (excludes Ethernet padding).
#[derive(Clone, Copy)]
struct Ip4 {
    l3: usize,
    end: usize,
}

fn ipv4(p: &DpPacket) -> Option<Ip4> {
    if l3_ethertype(p)? != ETH_TYPE_IP {
        return None;
    }
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    if d.len() < l3 + 20 || d[l3] >> 4 != 4 {
        return None;
    }
    let ihl = (d[l3] & 0x0f) as usize * 4;
    if ihl < 20 || l3 + ihl > d.len() {
        return None;
    }
    let tot = rd16(d, l3 + 2) as usize;
    let end = if tot >= ihl {
        (l3 + tot).min(d.len())
    } else {
        d.len()
    };
    Some(Ip4 { l3, end })
}

/// An IPv6 header at `l3` with the datagram end.
#[derive(Clone, Copy)]
struct Ip6 {
    l3: usize,
    end: usize,
}

fn ipv6(p: &DpPacket) -> Option<Ip6> {
    if l3_ethertype(p)? != ETH_TYPE_IPV6 {
        return None;
    }
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    if d.len() < l3 + 40 || d[l3] >> 4 != 6 {
        return None;
    }
    let plen = rd16(d, l3 + 4) as usize;
    let end = if plen == 0 {
        d.len()
    } else {
        (l3 + 40 + plen).min(d.len())
    };
    Some(Ip6 { l3, end })
}

/// The L4 header of an IP packet: protocol, offset, end of the datagram, and
/// (IPv6) whether a routing header with segments left changes the final
/// destination (so the pseudo-header does not use the header's destination).
#[derive(Clone, Copy)]
struct L4 {
    proto: u8,
    ofs: usize,
    end: usize,
    rh_present: bool,
}

impl L4 {
    /// True if the L4 header has at least `n` bytes within the datagram.
    #[inline]
    fn has(&self, n: usize) -> bool {
        self.ofs + n <= self.end
    }
}

fn l4_of_v4(p: &DpPacket, ip: Ip4) -> Option<L4> {
    let ofs = p.l4_ofs;
    if ofs == OFS_NONE {
        return None;
    }
    let ofs = ofs as usize;
    let ihl = (p.data()[ip.l3] & 0x0f) as usize * 4;
    if ofs != ip.l3 + ihl || ofs > ip.end {
        return None;
    }
    Some(L4 {
        proto: p.data()[ip.l3 + 9],
        ofs,
        end: ip.end,
        rh_present: false,
    })
}

/// Walks the IPv6 extension headers (RFC 8200 section 4) up to `l4_ofs`.
/// Returns `None` if there is no L4 header at `l4_ofs` (unset, non-first
/// fragment, or inconsistent with the header chain).
fn l4_of_v6(p: &DpPacket, ip: Ip6) -> Option<L4> {
    let l4 = p.l4_ofs;
    if l4 == OFS_NONE {
        return None;
    }
    let l4 = l4 as usize;
    let d = p.data();
    let mut nh = d[ip.l3 + 6];
    let mut ofs = ip.l3 + 40;
    let mut rh_present = false;
    while ofs < l4 {
        if ofs + 8 > ip.end {
            return None;
        }
        let len = match nh {
            0 | 60 => (d[ofs + 1] as usize + 1) * 8,
            43 => {
                if d[ofs + 3] > 0 {
                    rh_present = true;
                }
                (d[ofs + 1] as usize + 1) * 8
            }
            44 => {
                if rd16(d, ofs + 2) & 0xfff8 != 0 {
                    return None;
                }
                8
            }
            51 => (d[ofs + 1] as usize + 2) * 4,
            _ => return None,
        };
        nh = d[ofs];
        ofs += len;
    }
    if ofs != l4 || ofs > ip.end {
        return None;
    }
    Some(L4 {
        proto: nh,
        ofs,
        end: ip.end,
        rh_present,
    })
}

/// The L4 header of an IPv4 or IPv6 packet, if any.
fn l4(p: &DpPacket) -> Option<L4> {
    if let Some(ip) = ipv4(p) {
        l4_of_v4(p, ip)
    } else if let Some(ip) = ipv6(p) {
        l4_of_v6(p, ip)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// set / masked set.

/// Applies `set(value)` (mask `None`: every field) or a masked set.
fn apply_set(p: &mut DpPacket, value: &SetAttr, mask: Option<&SetAttr>) {
    match value {
        SetAttr::Priority(v) => {
            let m = match mask {
                None => u32::MAX,
                Some(SetAttr::Priority(m)) => *m,
                Some(_) => return,
            };
            p.md.skb_priority = masked(p.md.skb_priority, *v, m);
        }
        SetAttr::SkbMark(v) => {
            let m = match mask {
                None => u32::MAX,
                Some(SetAttr::SkbMark(m)) => *m,
                Some(_) => return,
            };
            p.md.pkt_mark = masked(p.md.pkt_mark, *v, m);
        }
        SetAttr::Tunnel(t) => match mask {
            None => p.md.tunnel.clone_from(t),
            Some(SetAttr::Tunnel(m)) => set_tunnel_masked(&mut p.md.tunnel, t, m),
            Some(_) => {}
        },
        SetAttr::Eth { src, dst } => {
            let ones = [0xffu8; 6];
            let (ms, md) = match mask {
                None => (&ones, &ones),
                Some(SetAttr::Eth { src, dst }) => (src, dst),
                Some(_) => return,
            };
            set_eth(p, src, dst, ms, md);
        }
        SetAttr::Ipv4 { src, dst, tos, ttl } => {
            let m = match mask {
                None => (u32::MAX, u32::MAX, u8::MAX, u8::MAX),
                Some(SetAttr::Ipv4 { src, dst, tos, ttl }) => (*src, *dst, *tos, *ttl),
                Some(_) => return,
            };
            set_ipv4(p, (*src, *dst, *tos, *ttl), m);
        }
        SetAttr::Ipv6 {
            src,
            dst,
            label,
            tclass,
            hlimit,
        } => {
            let m = match mask {
                None => (u128::MAX, u128::MAX, 0xfffff, u8::MAX, u8::MAX),
                Some(SetAttr::Ipv6 {
                    src,
                    dst,
                    label,
                    tclass,
                    hlimit,
                }) => (*src, *dst, *label, *tclass, *hlimit),
                Some(_) => return,
            };
            set_ipv6(p, (*src, *dst, *label, *tclass, *hlimit), m);
        }
        SetAttr::Tcp { src, dst } => {
            let m = match mask {
                None => (u16::MAX, u16::MAX),
                Some(SetAttr::Tcp { src, dst }) => (*src, *dst),
                Some(_) => return,
            };
            set_ports(p, IPPROTO_TCP, (*src, *dst), m);
        }
        SetAttr::Udp { src, dst } => {
            let m = match mask {
                None => (u16::MAX, u16::MAX),
                Some(SetAttr::Udp { src, dst }) => (*src, *dst),
                Some(_) => return,
            };
            set_ports(p, IPPROTO_UDP, (*src, *dst), m);
        }
        SetAttr::Sctp { src, dst } => {
            let m = match mask {
                None => (u16::MAX, u16::MAX),
                Some(SetAttr::Sctp { src, dst }) => (*src, *dst),
                Some(_) => return,
            };
            set_ports(p, IPPROTO_SCTP, (*src, *dst), m);
        }
        SetAttr::Arp {
            sip,
            tip,
            op,
            sha,
            tha,
        } => {
            let ones = [0xffu8; 6];
            let m = match mask {
                None => (u32::MAX, u32::MAX, u16::MAX, &ones, &ones),
                Some(SetAttr::Arp {
                    sip,
                    tip,
                    op,
                    sha,
                    tha,
                }) => (*sip, *tip, *op, sha, tha),
                Some(_) => return,
            };
            set_arp(p, (*sip, *tip, *op, sha, tha), m);
        }
        SetAttr::Nd { target, sll, tll } => {
            let ones = [0xffu8; 6];
            let m = match mask {
                None => (u128::MAX, &ones, &ones),
                Some(SetAttr::Nd { target, sll, tll }) => (*target, sll, tll),
                Some(_) => return,
            };
            set_nd(p, (*target, sll, tll), m);
        }
        SetAttr::Nsh(key) => match mask {
            None => crate::nsh::set_nsh(p, key, None),
            Some(SetAttr::Nsh(m)) => crate::nsh::set_nsh(p, key, Some(m)),
            Some(_) => {}
        },
        SetAttr::Mpls { lse } => {
            let m = match mask {
                None => u32::MAX,
                Some(SetAttr::Mpls { lse }) => *lse,
                Some(_) => return,
            };
            let at = p.l2_5_ofs;
            if at != OFS_NONE && at as usize + 4 <= p.len() {
                let at = at as usize;
                let d = p.data_mut();
                let old = rd32(d, at);
                wr32(d, at, masked(old, *lse, m));
            }
        }
    }
}

/// Masked `set(tunnel(...))`, field by field (OVS accepts only unmasked
/// tunnel sets; this is the natural extension). Geneve options are masked
/// byte-wise; `opts_len` is taken from the value if its mask is non-zero.
fn set_tunnel_masked(t: &mut TunnelMetadata, v: &TunnelMetadata, m: &TunnelMetadata) {
    t.tun_id = masked(t.tun_id, v.tun_id, m.tun_id);
    t.ipv4_src = masked(t.ipv4_src, v.ipv4_src, m.ipv4_src);
    t.ipv4_dst = masked(t.ipv4_dst, v.ipv4_dst, m.ipv4_dst);
    t.ipv6_src = masked(t.ipv6_src, v.ipv6_src, m.ipv6_src);
    t.ipv6_dst = masked(t.ipv6_dst, v.ipv6_dst, m.ipv6_dst);
    t.tos = masked(t.tos, v.tos, m.tos);
    t.ttl = masked(t.ttl, v.ttl, m.ttl);
    t.tp_src = masked(t.tp_src, v.tp_src, m.tp_src);
    t.tp_dst = masked(t.tp_dst, v.tp_dst, m.tp_dst);
    t.flags = masked(t.flags, v.flags, m.flags);
    t.gbp_id = masked(t.gbp_id, v.gbp_id, m.gbp_id);
    t.gbp_flags = masked(t.gbp_flags, v.gbp_flags, m.gbp_flags);
    if m.opts_len != 0 {
        t.opts_len = v.opts_len.min(crate::packet::TUN_OPTS_MAX as u8);
    }
    for i in 0..t.opts.len() {
        t.opts[i] = masked(t.opts[i], v.opts[i], m.opts[i]);
    }
}

fn set_eth(p: &mut DpPacket, src: &[u8; 6], dst: &[u8; 6], ms: &[u8; 6], md: &[u8; 6]) {
    if p.md.packet_type != 0 || p.len() < ETH_HLEN {
        return;
    }
    let d = p.data_mut();
    let nd = masked_mac(&d[0..6], dst, md);
    let ns = masked_mac(&d[6..12], src, ms);
    d[0..6].copy_from_slice(&nd);
    d[6..12].copy_from_slice(&ns);
}

/// Updates the TCP/UDP checksum at `l4` for a pseudo-header change, with
/// `update` applied to the checksum (OVS `packet_update_csum128` and the IPv4
/// part of `packet_set_ipv4_addr`). `icmpv6`: also update an ICMPv6 checksum.
fn update_l4_pseudo(d: &mut [u8], l4: &L4, icmpv6: bool, update: impl Fn(u16) -> u16) {
    match l4.proto {
        IPPROTO_TCP if l4.has(TCP_HLEN) => {
            let at = l4.ofs + 16;
            let c = rd16(d, at);
            wr16(d, at, update(c));
        }
        IPPROTO_UDP if l4.has(UDP_HLEN) => {
            let at = l4.ofs + 6;
            let c = rd16(d, at);
            if c != 0 {
                let n = update(c);
                wr16(d, at, if n == 0 { 0xffff } else { n });
            }
        }
        IPPROTO_ICMPV6 if icmpv6 && l4.has(ICMP_HLEN) => {
            let at = l4.ofs + 2;
            let c = rd16(d, at);
            wr16(d, at, update(c));
        }
        _ => {}
    }
}

fn set_ipv4(p: &mut DpPacket, v: (u32, u32, u8, u8), m: (u32, u32, u8, u8)) {
    let Some(ip) = ipv4(p) else { return };
    let l4 = l4_of_v4(p, ip);
    let l3 = ip.l3;
    let d = p.data_mut();
    for (at, value, mask) in [(l3 + 12, v.0, m.0), (l3 + 16, v.1, m.1)] {
        let old = rd32(d, at);
        let new = masked(old, value, mask);
        if old != new {
            if let Some(l4) = &l4 {
                update_l4_pseudo(d, l4, false, |c| csum::csum_update32(c, old, new));
            }
            let c = rd16(d, l3 + 10);
            wr16(d, l3 + 10, csum::csum_update32(c, old, new));
            wr32(d, at, new);
        }
    }
    // TOS: the word [version/IHL, TOS].
    let old_w = rd16(d, l3);
    let new_tos = masked(d[l3 + 1], v.2, m.2);
    let new_w = (old_w & 0xff00) | new_tos as u16;
    if old_w != new_w {
        let c = rd16(d, l3 + 10);
        wr16(d, l3 + 10, csum::csum_update16(c, old_w, new_w));
        d[l3 + 1] = new_tos;
    }
    // TTL: the word [TTL, protocol].
    let old_w = rd16(d, l3 + 8);
    let new_ttl = masked(d[l3 + 8], v.3, m.3);
    let new_w = (old_w & 0x00ff) | (new_ttl as u16) << 8;
    if old_w != new_w {
        let c = rd16(d, l3 + 10);
        wr16(d, l3 + 10, csum::csum_update16(c, old_w, new_w));
        d[l3 + 8] = new_ttl;
    }
}

fn set_ipv6(p: &mut DpPacket, v: (u128, u128, u32, u8, u8), m: (u128, u128, u32, u8, u8)) {
    let Some(ip) = ipv6(p) else { return };
    let l4 = l4_of_v6(p, ip);
    let l3 = ip.l3;
    let d = p.data_mut();
    for (at, value, mask, is_dst) in [(l3 + 8, v.0, m.0, false), (l3 + 24, v.1, m.1, true)] {
        let old = rd128(d, at);
        let new = masked(old, value, mask);
        if old != new {
            if let Some(l4) = &l4 {
                if !(is_dst && l4.rh_present) {
                    update_l4_pseudo(d, l4, true, |c| csum::csum_update128(c, old, new));
                }
            }
            wr128(d, at, new);
        }
    }
    // Version (4 bits), traffic class (8), flow label (20).
    let w = rd32(d, l3);
    let tc = masked((w >> 20) as u8, v.3, m.3);
    let fl = masked(w & 0xfffff, v.2 & 0xfffff, m.2 & 0xfffff);
    wr32(d, l3, (w & 0xf000_0000) | (tc as u32) << 20 | fl);
    d[l3 + 7] = masked(d[l3 + 7], v.4, m.4);
}

/// set(tcp/udp/sctp): ports of the L4 header if its protocol is `proto`.
fn set_ports(p: &mut DpPacket, proto: u8, v: (u16, u16), m: (u16, u16)) {
    let Some(l4) = l4(p) else { return };
    if l4.proto != proto {
        return;
    }
    // Every header below starts with the two ports; a datagram cut before
    // them (an IPv4 header and nothing else) has none to set.
    if !l4.has(4) {
        return;
    }
    let o = l4.ofs;
    let d = p.data_mut();
    let new_src = masked(rd16(d, o), v.0, m.0);
    let new_dst = masked(rd16(d, o + 2), v.1, m.1);
    match proto {
        IPPROTO_TCP | IPPROTO_UDP => {
            let (hlen, cofs) = if proto == IPPROTO_TCP {
                (TCP_HLEN, 16)
            } else {
                (UDP_HLEN, 6)
            };
            if !l4.has(hlen) {
                return;
            }
            let mut c = rd16(d, o + cofs);
            let no_csum = proto == IPPROTO_UDP && c == 0;
            for (at, new) in [(o, new_src), (o + 2, new_dst)] {
                let old = rd16(d, at);
                if old != new {
                    if !no_csum {
                        c = csum::csum_update16(c, old, new);
                    }
                    wr16(d, at, new);
                }
            }
            if proto == IPPROTO_UDP && !no_csum && c == 0 {
                c = 0xffff;
            }
            wr16(d, o + cofs, c);
        }
        _ => {
            // SCTP (RFC 4960 section 6.8): CRC32c over the whole packet with
            // the checksum field zeroed; an incorrect checksum stays
            // incorrect by the same error (OVS packet_set_sctp_port).
            if !l4.has(SCTP_HLEN) {
                return;
            }
            if rd16(d, o) == new_src && rd16(d, o + 2) == new_dst {
                return;
            }
            let seg = &mut d[o..l4.end];
            let old_csum = u32::from_le_bytes([seg[8], seg[9], seg[10], seg[11]]);
            seg[8..12].fill(0);
            let old_correct = csum::crc32c(seg);
            wr16(seg, 0, new_src);
            wr16(seg, 2, new_dst);
            let new_correct = csum::crc32c(seg);
            let c = old_csum ^ old_correct ^ new_correct;
            seg[8..12].copy_from_slice(&c.to_le_bytes());
        }
    }
}

type ArpVals<'a> = (u32, u32, u16, &'a [u8; 6], &'a [u8; 6]);

fn set_arp(p: &mut DpPacket, v: ArpVals<'_>, m: ArpVals<'_>) {
    match l3_ethertype(p) {
        Some(ETH_TYPE_ARP) | Some(ETH_TYPE_RARP) => {}
        _ => return,
    }
    let l3 = p.l3_ofs as usize;
    if l3 + 28 > p.len() {
        return;
    }
    let d = p.data_mut();
    // htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4).
    let op = masked(rd16(d, l3 + 6), v.2, m.2);
    wr16(d, l3 + 6, op);
    let sha = masked_mac(&d[l3 + 8..l3 + 14], v.3, m.3);
    d[l3 + 8..l3 + 14].copy_from_slice(&sha);
    let spa = masked(rd32(d, l3 + 14), v.0, m.0);
    wr32(d, l3 + 14, spa);
    let tha = masked_mac(&d[l3 + 18..l3 + 24], v.4, m.4);
    d[l3 + 18..l3 + 24].copy_from_slice(&tha);
    let tpa = masked(rd32(d, l3 + 24), v.1, m.1);
    wr32(d, l3 + 24, tpa);
}

type NdVals<'a> = (u128, &'a [u8; 6], &'a [u8; 6]);

/// set(nd(...)) on an ICMPv6 neighbour solicitation (135) or advertisement
/// (136): the target address and the first source/target link-layer address
/// option (RFC 4861 section 4.6.1), with the ICMPv6 checksum.
fn set_nd(p: &mut DpPacket, v: NdVals<'_>, m: NdVals<'_>) {
    let Some(ip) = ipv6(p) else { return };
    let Some(l4) = l4_of_v6(p, ip) else { return };
    if l4.proto != IPPROTO_ICMPV6 || !l4.has(ND_MSG_LEN) {
        return;
    }
    let o = l4.ofs;
    let d = p.data_mut();
    if d[o] != 135 && d[o] != 136 {
        return;
    }
    let mut c = rd16(d, o + 2);
    let old_t = rd128(d, o + 8);
    let new_t = masked(old_t, v.0, m.0);
    if old_t != new_t {
        c = csum::csum_update128(c, old_t, new_t);
        wr128(d, o + 8, new_t);
    }
    let mut opt = o + ND_MSG_LEN;
    while opt + 8 <= l4.end {
        let (ty, len) = (d[opt], d[opt + 1] as usize);
        if len == 0 {
            break;
        }
        if len == 1 && (ty == 1 || ty == 2) {
            let (val, mask) = if ty == 1 { (v.1, m.1) } else { (v.2, m.2) };
            let old: [u8; 6] = [
                d[opt + 2],
                d[opt + 3],
                d[opt + 4],
                d[opt + 5],
                d[opt + 6],
                d[opt + 7],
            ];
            let new = masked_mac(&old, val, mask);
            if old != new {
                c = csum::csum_update_bytes(c, &old, &new);
                d[opt + 2..opt + 8].copy_from_slice(&new);
            }
            // A packet carries only one SLL or TLL option.
            break;
        }
        opt += len * 8;
    }
    wr16(d, o + 2, c);
}

// ---------------------------------------------------------------------------
// push / pop.

fn is_vlan_tpid(t: u16) -> bool {
    t == ETH_TYPE_VLAN || t == ETH_TYPE_VLAN_8021AD
}

/// IEEE 802.1Q: inserts a tag right after the MAC addresses (outermost).
fn push_vlan(p: &mut DpPacket, tpid: u16, tci: u16) {
    if p.md.packet_type != 0 || p.len() < ETH_HLEN {
        return;
    }
    let h = p.insert_at(12, 4);
    h[0..2].copy_from_slice(&tpid.to_be_bytes());
    h[2..4].copy_from_slice(&tci.to_be_bytes());
}

/// Removes the outermost 802.1Q/802.1ad tag, if any.
fn pop_vlan(p: &mut DpPacket) {
    if p.md.packet_type != 0 || p.len() < ETH_HLEN + 4 || !is_vlan_tpid(rd16(p.data(), 12)) {
        return;
    }
    p.remove_at(12, 4);
}

/// Offset just past the Ethernet header and its VLAN tags.
fn l2_end(d: &[u8]) -> Option<usize> {
    let mut ofs = 12;
    while ofs + 2 <= d.len() {
        if is_vlan_tpid(rd16(d, ofs)) {
            ofs += 4;
        } else {
            return Some(ofs + 2);
        }
    }
    None
}

/// RFC 3032: pushes `lse` as the new top of the label stack (OVS
/// `push_mpls`): after the L2 header (and VLAN tags), setting the innermost
/// Ethertype. For an L3 packet the label goes in front and the packet type
/// becomes MPLS.
fn push_mpls(p: &mut DpPacket, ethertype: u16, lse: u32) {
    if ethertype != ETH_TYPE_MPLS && ethertype != ETH_TYPE_MPLS_MCAST {
        return;
    }
    let at = if p.md.packet_type != 0 {
        0
    } else if p.l2_5_ofs != OFS_NONE {
        p.l2_5_ofs as usize
    } else if p.l3_ofs != OFS_NONE {
        p.l3_ofs as usize
    } else {
        match l2_end(p.data()) {
            Some(e) => e,
            None => return,
        }
    };
    if at > p.len() || (p.md.packet_type == 0 && at < ETH_HLEN) {
        return;
    }
    if p.md.packet_type == 0 {
        wr16(p.data_mut(), at - 2, ethertype);
    } else {
        p.md.packet_type = PT_NS_ETHERTYPE << 16 | ethertype as u32;
    }
    let h = p.insert_at(at, 4);
    h.copy_from_slice(&lse.to_be_bytes());
    p.l2_5_ofs = at as u16;
}

/// Pops the top MPLS label stack entry (OVS `pop_mpls`); `ethertype` becomes
/// the Ethertype of what follows once the bottom of stack is popped.
fn pop_mpls(p: &mut DpPacket, ethertype: u16) {
    let at = p.l2_5_ofs;
    if at == OFS_NONE || at as usize + 4 > p.len() {
        return;
    }
    let at = at as usize;
    let is_eth = p.md.packet_type == 0;
    if is_eth && at < ETH_HLEN {
        return;
    }
    let bos = rd32(p.data(), at) & MPLS_BOS != 0;
    if is_eth {
        wr16(p.data_mut(), at - 2, ethertype);
    }
    p.remove_at(at, 4);
    if bos {
        p.l2_5_ofs = OFS_NONE;
        if p.l3_ofs == OFS_NONE {
            p.l3_ofs = at as u16;
        }
        if !is_eth {
            if ethertype == ETH_TYPE_TEB {
                p.md.packet_type = 0;
                p.l3_ofs = OFS_NONE;
                p.l4_ofs = OFS_NONE;
            } else {
                p.md.packet_type = PT_NS_ETHERTYPE << 16 | ethertype as u32;
            }
        }
    } else {
        p.l2_5_ofs = at as u16;
    }
}

/// push_eth: an L3 packet (packet type `1 << 16 | ethertype`) becomes an
/// Ethernet frame.
fn push_eth(p: &mut DpPacket, src: &[u8; 6], dst: &[u8; 6]) {
    let pt = p.md.packet_type;
    if pt == 0 || pt >> 16 != PT_NS_ETHERTYPE {
        return;
    }
    let h = p.push_front(ETH_HLEN);
    h[0..6].copy_from_slice(dst);
    h[6..12].copy_from_slice(src);
    h[12..14].copy_from_slice(&(pt as u16).to_be_bytes());
    p.md.packet_type = 0;
}

/// pop_eth: strips the Ethernet header and VLAN tags; the packet type becomes
/// `1 << 16 | ethertype` of the payload.
fn pop_eth(p: &mut DpPacket) {
    if p.md.packet_type != 0 {
        return;
    }
    let inc = if p.l2_5_ofs != OFS_NONE {
        p.l2_5_ofs
    } else {
        p.l3_ofs
    };
    if inc == OFS_NONE || (inc as usize) < ETH_HLEN || inc as usize > p.len() {
        return;
    }
    let inc = inc as usize;
    let ethertype = rd16(p.data(), inc - 2);
    p.pull_front(inc);
    p.md.packet_type = PT_NS_ETHERTYPE << 16 | ethertype as u32;
}

// ---------------------------------------------------------------------------
// dec_ttl.

/// IPv4 TTL / IPv6 hop limit of `p` if it is an IP packet.
fn ip_ttl(p: &DpPacket) -> Option<u8> {
    if let Some(ip) = ipv4(p) {
        Some(p.data()[ip.l3 + 8])
    } else {
        ipv6(p).map(|ip| p.data()[ip.l3 + 7])
    }
}

/// Decrements TTL / hop limit (with the IPv4 header checksum). Returns the
/// packets whose TTL was <= 1, removed from `batch`; non-IP packets pass
/// unchanged.
fn dec_ttl(batch: &mut PacketBatch) -> Option<PacketBatch> {
    let any_expired = batch
        .pkts
        .iter()
        .any(|p| matches!(ip_ttl(p), Some(t) if t <= 1));
    let mut expired = None;
    if any_expired {
        let all = std::mem::take(&mut batch.pkts);
        let mut keep = Vec::with_capacity(all.len());
        let mut exp = PacketBatch::new();
        for p in all {
            if matches!(ip_ttl(&p), Some(t) if t <= 1) {
                exp.push(p);
            } else {
                keep.push(p);
            }
        }
        batch.pkts = keep;
        expired = Some(exp);
    }
    for p in batch.pkts.iter_mut() {
        if let Some(ip) = ipv4(p) {
            let l3 = ip.l3;
            let d = p.data_mut();
            let old = rd16(d, l3 + 8);
            let new = old.saturating_sub(0x100);
            let c = rd16(d, l3 + 10);
            wr16(d, l3 + 10, csum::csum_update16(c, old, new));
            wr16(d, l3 + 8, new);
        } else if let Some(ip) = ipv6(p) {
            let d = p.data_mut();
            d[ip.l3 + 7] = d[ip.l3 + 7].saturating_sub(1);
        }
    }
    expired
}

// ---------------------------------------------------------------------------
// hash.

#[inline]
fn mhash_add(hash: u32, data: u32) -> u32 {
    let mut h = hash;
    if data != 0 {
        let d = data
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        h ^= d;
    }
    h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

#[inline]
fn mhash_finish(hash: u32, fin: u32) -> u32 {
    let mut h = hash ^ fin;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Ports word (`src << 16 | dst`, ICMP: type and code) of an L4 header.
fn l4_ports(d: &[u8], l4: &L4) -> u32 {
    match l4.proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP if l4.has(4) => rd32(d, l4.ofs),
        IPPROTO_ICMP | IPPROTO_ICMPV6 if l4.has(2) => {
            (d[l4.ofs] as u32) << 16 | d[l4.ofs + 1] as u32
        }
        _ => 0,
    }
}

/// `hash(l4(basis))`: the RSS hash mixed with the basis when valid (as OVS's
/// userspace datapath does), else a hash of the 5-tuple (OVS
/// `flow_hash_5tuple`).
fn hash_l4(p: &DpPacket, basis: u32) -> u32 {
    if p.rss_valid {
        return mhash_finish(mhash_add(mhash_add(p.rss_hash, 0), basis), 8);
    }
    let d = p.data();
    let mut h = basis;
    let mut proto = 0u8;
    let mut ports = 0u32;
    if let Some(ip) = ipv4(p) {
        h = mhash_add(h, rd32(d, ip.l3 + 12));
        h = mhash_add(h, rd32(d, ip.l3 + 16));
        proto = d[ip.l3 + 9];
        if let Some(l4) = l4_of_v4(p, ip) {
            ports = l4_ports(d, &l4);
        }
    } else if let Some(ip) = ipv6(p) {
        for k in 0..8 {
            h = mhash_add(h, rd32(d, ip.l3 + 8 + 4 * k));
        }
        if let Some(l4) = l4_of_v6(p, ip) {
            proto = l4.proto;
            ports = l4_ports(d, &l4);
        }
    } else {
        h = mhash_add(h, 0);
        h = mhash_add(h, 0);
    }
    h = mhash_add(h, ports);
    h = mhash_add(h, proto as u32);
    mhash_finish(h, 42)
}

/// `hash(sym_l4(basis))`: symmetric in source/destination (OVS
/// `flow_hash_symmetric_l3l4` without UDP ports); 0 for non-IP packets.
fn hash_sym_l4(p: &DpPacket, basis: u32) -> u32 {
    let d = p.data();
    let mut h = basis;
    let (proto, l4) = if let Some(ip) = ipv4(p) {
        h = mhash_add(h, rd32(d, ip.l3 + 12) ^ rd32(d, ip.l3 + 16));
        (d[ip.l3 + 9], l4_of_v4(p, ip))
    } else if let Some(ip) = ipv6(p) {
        for k in 0..4 {
            h = mhash_add(h, rd32(d, ip.l3 + 8 + 4 * k) ^ rd32(d, ip.l3 + 24 + 4 * k));
        }
        let l4 = l4_of_v6(p, ip);
        (l4.map_or(0, |l| l.proto), l4)
    } else {
        return 0;
    };
    h = mhash_add(h, proto as u32);
    if proto == IPPROTO_TCP || proto == IPPROTO_SCTP {
        if let Some(l4) = l4 {
            let ports = l4_ports(d, &l4);
            h = mhash_add(h, (ports >> 16) ^ (ports & 0xffff));
        }
    }
    mhash_finish(h, basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::UserspaceAction;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice, VlanId};
    use proptest::prelude::*;

    const SMAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const DMAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

    // ---- test-only flow extractor: sets l2_5/l3/l4 like crate::extract ----

    fn l4_offset(d: &[u8], et: u16, l3: usize) -> Option<usize> {
        match et {
            ETH_TYPE_IP => {
                if d.len() < l3 + 20 {
                    return None;
                }
                let ihl = (d[l3] & 0xf) as usize * 4;
                if rd16(d, l3 + 6) & 0x1fff != 0 || d.len() < l3 + ihl {
                    return None;
                }
                Some(l3 + ihl)
            }
            ETH_TYPE_IPV6 => {
                if d.len() < l3 + 40 {
                    return None;
                }
                let mut nh = d[l3 + 6];
                let mut o = l3 + 40;
                loop {
                    if !matches!(nh, 0 | 43 | 44 | 51 | 60) {
                        return Some(o);
                    }
                    if o + 8 > d.len() {
                        return None;
                    }
                    let len = match nh {
                        44 => {
                            if rd16(d, o + 2) & 0xfff8 != 0 {
                                return None;
                            }
                            8
                        }
                        51 => (d[o + 1] as usize + 2) * 4,
                        _ => (d[o + 1] as usize + 1) * 8,
                    };
                    nh = d[o];
                    o += len;
                }
            }
            _ => None,
        }
    }

    /// Sets the offsets of an Ethernet frame (packet_type 0) or, with
    /// `packet_type != 0`, of an L3 packet.
    fn extract(p: &mut DpPacket) {
        p.reset_offsets();
        let d = p.data().to_vec();
        let (et, mut o) = if p.md.packet_type != 0 {
            (p.md.packet_type as u16, 0)
        } else {
            if d.len() < 14 {
                return;
            }
            let mut et = rd16(&d, 12);
            let mut o = 14;
            while is_vlan_tpid(et) && o + 4 <= d.len() {
                et = rd16(&d, o + 2);
                o += 4;
            }
            (et, o)
        };
        if et == ETH_TYPE_MPLS || et == ETH_TYPE_MPLS_MCAST {
            p.l2_5_ofs = o as u16;
            while o + 4 <= d.len() {
                let lse = rd32(&d, o);
                o += 4;
                if lse & MPLS_BOS != 0 {
                    break;
                }
            }
            p.l3_ofs = o as u16;
            return;
        }
        if o > d.len() {
            return;
        }
        p.l3_ofs = o as u16;
        if let Some(l4) = l4_offset(&d, et, o) {
            p.l4_ofs = l4 as u16;
        }
    }

    fn pkt(frame: &[u8]) -> Box<DpPacket> {
        let mut p = Box::new(DpPacket::from_slice(frame));
        extract(&mut p);
        p
    }

    /// Checks every checksum of an Ethernet frame from scratch.
    fn verify_csums(frame: &[u8]) -> Result<(), String> {
        let p = pkt(frame);
        let d = p.data();
        let Some(et) = l3_ethertype(&p) else {
            return Ok(());
        };
        let l3 = p.l3_ofs as usize;
        let (ph, proto, seg): (u32, u8, &[u8]) = match et {
            ETH_TYPE_IP => {
                let ihl = (d[l3] & 0xf) as usize * 4;
                if csum::checksum(&d[l3..l3 + ihl]) != 0 {
                    return Err("ipv4 header checksum".into());
                }
                if p.l4_ofs == OFS_NONE {
                    return Ok(());
                }
                let end = l3 + rd16(d, l3 + 2) as usize;
                let seg = &d[p.l4_ofs as usize..end];
                let proto = d[l3 + 9];
                let ph = csum::pseudo_header_v4(
                    rd32(d, l3 + 12),
                    rd32(d, l3 + 16),
                    proto,
                    seg.len() as u16,
                );
                (ph, proto, seg)
            }
            ETH_TYPE_IPV6 => {
                let ip = ipv6(&p).unwrap();
                let Some(l4) = l4_of_v6(&p, ip) else {
                    return Ok(());
                };
                let seg = &d[l4.ofs..l4.end];
                let ph = csum::pseudo_header_v6(
                    rd128(d, l3 + 8),
                    rd128(d, l3 + 24),
                    l4.proto,
                    seg.len() as u32,
                );
                (ph, l4.proto, seg)
            }
            _ => return Ok(()),
        };
        match proto {
            IPPROTO_TCP | IPPROTO_ICMPV6 if csum::finish(csum::add_bytes(ph, seg)) != 0 => {
                return Err(format!("l4 checksum proto {proto}"));
            }
            IPPROTO_UDP if rd16(seg, 6) != 0 && csum::finish(csum::add_bytes(ph, seg)) != 0 => {
                return Err("udp checksum".into());
            }
            IPPROTO_SCTP => {
                let mut s = seg.to_vec();
                let stored = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
                s[8..12].fill(0);
                if csum::crc32c(&s) != stored {
                    return Err("sctp crc".into());
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ---- packet builders ----

    fn build(b: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        b(&mut v);
        v
    }

    fn tcp4(src: [u8; 4], dst: [u8; 4], sp: u16, dport: u16) -> Vec<u8> {
        build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .ipv4(src, dst, 64)
                .tcp(sp, dport, 1000, 4096)
                .write(v, b"hello tcp payload")
                .unwrap()
        })
    }

    fn udp4(src: [u8; 4], dst: [u8; 4], sp: u16, dport: u16) -> Vec<u8> {
        build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .ipv4(src, dst, 64)
                .udp(sp, dport)
                .write(v, b"udp payload!")
                .unwrap()
        })
    }

    fn tcp6(src: [u8; 16], dst: [u8; 16], sp: u16, dport: u16) -> Vec<u8> {
        build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .ipv6(src, dst, 64)
                .tcp(sp, dport, 7, 100)
                .write(v, b"v6 tcp")
                .unwrap()
        })
    }

    fn udp6(src: [u8; 16], dst: [u8; 16], sp: u16, dport: u16) -> Vec<u8> {
        build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .ipv6(src, dst, 64)
                .udp(sp, dport)
                .write(v, b"v6 udp")
                .unwrap()
        })
    }

    fn icmp6_echo(src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
        build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .ipv6(src, dst, 255)
                .icmpv6_echo_request(1, 2)
                .write(v, b"ping")
                .unwrap()
        })
    }

    /// Neighbour solicitation (135) / advertisement (136) with one
    /// link-layer address option (type 1 SLL / 2 TLL).
    fn nd6(ty: u8, target: u128, opt_ty: u8, mac: [u8; 6]) -> Vec<u8> {
        let mut payload = target.to_be_bytes().to_vec();
        payload.extend_from_slice(&[opt_ty, 1]);
        payload.extend_from_slice(&mac);
        build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .ipv6(V6A, V6B, 255)
                .icmpv6_raw(ty, 0, [0; 4])
                .write(v, &payload)
                .unwrap()
        })
    }

    /// IPv4 + SCTP (common header + one DATA-ish chunk) with a correct CRC32c,
    /// followed by `pad` bytes of Ethernet padding.
    fn sctp4(sp: u16, dport: u16, pad: usize) -> Vec<u8> {
        let mut seg = Vec::new();
        seg.extend_from_slice(&sp.to_be_bytes());
        seg.extend_from_slice(&dport.to_be_bytes());
        seg.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        seg.extend_from_slice(&[0; 4]);
        seg.extend_from_slice(&[0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef]);
        let c = csum::crc32c(&seg);
        seg[8..12].copy_from_slice(&c.to_le_bytes());
        let mut f = Vec::new();
        f.extend_from_slice(&DMAC);
        f.extend_from_slice(&SMAC);
        f.extend_from_slice(&ETH_TYPE_IP.to_be_bytes());
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        wr16(&mut ip, 2, (20 + seg.len()) as u16);
        ip[8] = 64;
        ip[9] = IPPROTO_SCTP;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let c = csum::ipv4_header_checksum(&ip);
        wr16(&mut ip, 10, c);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&seg);
        f.extend(std::iter::repeat(0xaa).take(pad));
        f
    }

    fn arp() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&SMAC);
        f.extend_from_slice(&ETH_TYPE_ARP.to_be_bytes());
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&SMAC);
        f.extend_from_slice(&[10, 0, 0, 1]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[10, 0, 0, 2]);
        f
    }

    const V6A: [u8; 16] = [0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6B: [u8; 16] = [0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    // ---- recording context ----

    #[derive(Debug)]
    enum Ev {
        Out(u32, Box<DpPacket>),
        Up(u32, Box<DpPacket>),
        Recirc(Box<DpPacket>),
        TnlPop(u32, Box<DpPacket>),
        TnlPush(usize),
        Meter(u32, usize),
        Ct(u16, usize),
    }

    #[derive(Default)]
    struct Rec {
        ev: Vec<Ev>,
        rng: u32,
        /// Meter: drop packets longer than this.
        meter_max: Option<usize>,
    }

    impl ActionContext for Rec {
        fn output(&mut self, port: u32, batch: PacketBatch) {
            for p in batch.pkts {
                self.ev.push(Ev::Out(port, p));
            }
        }
        fn userspace(&mut self, a: &UserspaceAction, batch: PacketBatch) {
            for p in batch.pkts {
                self.ev.push(Ev::Up(a.pid, p));
            }
        }
        fn recirc(&mut self, batch: PacketBatch) {
            for p in batch.pkts {
                self.ev.push(Ev::Recirc(p));
            }
        }
        fn ct(&mut self, action: &CtAction, batch: &mut PacketBatch) {
            self.ev.push(Ev::Ct(action.zone, batch.len()));
            for p in batch.pkts.iter_mut() {
                p.md.ct_state = crate::flow::ct_state::TRACKED | crate::flow::ct_state::NEW;
                p.md.ct_zone = action.zone;
                p.md.ct_mark = 7;
            }
        }
        fn tnl_push(&mut self, _push: &TnlPush, batch: &mut PacketBatch) {
            self.ev.push(Ev::TnlPush(batch.len()));
            for p in batch.pkts.iter_mut() {
                p.push_front(4).fill(0xee);
            }
        }
        fn tnl_pop(&mut self, port: u32, batch: &mut PacketBatch) {
            for p in batch.pkts.drain(..) {
                self.ev.push(Ev::TnlPop(port, p));
            }
        }
        fn meter(&mut self, meter_id: u32, _now_ns: u64, batch: &mut PacketBatch) {
            self.ev.push(Ev::Meter(meter_id, batch.len()));
            if let Some(m) = self.meter_max {
                batch.pkts.retain(|p| p.len() <= m);
            }
        }
        fn random_u32(&mut self) -> u32 {
            // xorshift32
            let mut x = self.rng | 1;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.rng = x;
            x
        }
        fn now_ns(&self) -> u64 {
            0
        }
    }

    fn batch_of<F: AsRef<[u8]>>(frames: &[F]) -> PacketBatch {
        let mut b = PacketBatch::new();
        for f in frames {
            b.push(pkt(f.as_ref()));
        }
        b
    }

    /// Runs `actions` on one frame, output to port 1 appended; returns the
    /// frames output on port 1.
    fn run1(frame: &[u8], actions: &[OdpAction]) -> Vec<u8> {
        run1p(pkt(frame), actions).data().to_vec()
    }

    fn run1p(p: Box<DpPacket>, actions: &[OdpAction]) -> Box<DpPacket> {
        let mut acts = actions.to_vec();
        acts.push(OdpAction::Output(1));
        let mut b = PacketBatch::new();
        b.push(p);
        let mut ctx = Rec::default();
        execute_actions(&mut ctx, b, &acts);
        let mut outs: Vec<_> = ctx
            .ev
            .into_iter()
            .filter_map(|e| match e {
                Ev::Out(1, p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(outs.len(), 1);
        outs.pop().unwrap()
    }

    fn set(a: SetAttr) -> OdpAction {
        OdpAction::Set(a)
    }

    fn ip4(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    fn ip6(a: [u8; 16]) -> u128 {
        u128::from_be_bytes(a)
    }

    // ---- set ----

    #[test]
    fn set_eth_plain_and_masked() {
        let f = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let out = run1(
            &f,
            &[set(SetAttr::Eth {
                src: [0xaa; 6],
                dst: [0xbb; 6],
            })],
        );
        assert_eq!(&out[0..6], &[0xbb; 6]);
        assert_eq!(&out[6..12], &[0xaa; 6]);
        assert_eq!(&out[12..], &f[12..]);
        let out = run1(
            &f,
            &[OdpAction::SetMasked {
                value: SetAttr::Eth {
                    src: [0; 6],
                    dst: [0xff; 6],
                },
                mask: SetAttr::Eth {
                    src: [0; 6],
                    dst: [0xf0, 0, 0, 0, 0, 0xff],
                },
            }],
        );
        assert_eq!(&out[0..6], &[0xf2, 0, 0, 0, 0, 0xff]);
        assert_eq!(&out[6..], &f[6..]);
    }

    #[test]
    fn set_ipv4_tcp_matches_fresh_build() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80);
        let out = run1(
            &f,
            &[set(SetAttr::Ipv4 {
                src: ip4([192, 168, 7, 9]),
                dst: ip4([172, 16, 254, 3]),
                tos: 0,
                ttl: 64,
            })],
        );
        assert_eq!(out, tcp4([192, 168, 7, 9], [172, 16, 254, 3], 1000, 80));
        verify_csums(&out).unwrap();
        // etherparse agrees on the TCP checksum.
        let sp = SlicedPacket::from_ethernet(&out).unwrap();
        let Some(TransportSlice::Tcp(t)) = sp.transport else {
            panic!()
        };
        assert_eq!(
            t.calc_checksum_ipv4([192, 168, 7, 9], [172, 16, 254, 3])
                .unwrap(),
            t.checksum()
        );
    }

    #[test]
    fn set_ipv4_tos_ttl_and_masked() {
        let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        let out = run1(
            &f,
            &[OdpAction::SetMasked {
                value: SetAttr::Ipv4 {
                    src: 0,
                    dst: ip4([0, 0, 0, 99]),
                    tos: 0xb8,
                    ttl: 3,
                },
                mask: SetAttr::Ipv4 {
                    src: 0,
                    dst: 0xff,
                    tos: 0xfc,
                    ttl: 0xff,
                },
            }],
        );
        verify_csums(&out).unwrap();
        let l3 = 14;
        assert_eq!(&out[l3 + 12..l3 + 20], &[10, 0, 0, 1, 10, 0, 0, 99]);
        assert_eq!(out[l3 + 1], 0xb8);
        assert_eq!(out[l3 + 8], 3);
        // Everything else unchanged.
        assert_eq!(&out[..l3 + 1], &f[..l3 + 1]);
        assert_eq!(&out[l3 + 2..l3 + 8], &f[l3 + 2..l3 + 8]);
    }

    #[test]
    fn set_ipv4_udp_zero_checksum_stays_zero() {
        let mut f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        wr16(&mut f, 14 + 20 + 6, 0);
        let out = run1(
            &f,
            &[set(SetAttr::Ipv4 {
                src: ip4([1, 2, 3, 4]),
                dst: ip4([10, 0, 0, 2]),
                tos: 0,
                ttl: 64,
            })],
        );
        assert_eq!(rd16(&out, 14 + 26), 0);
        assert_eq!(&out[14 + 12..14 + 16], &[1, 2, 3, 4]);
        verify_csums(&out).unwrap();
        // set(udp) ports too: still no checksum.
        let out = run1(&out, &[set(SetAttr::Udp { src: 9, dst: 10 })]);
        assert_eq!(rd16(&out, 14 + 26), 0);
        assert_eq!(rd32(&out, 14 + 20), 9 << 16 | 10);
    }

    #[test]
    fn udp_computed_zero_becomes_ffff() {
        // Find a source port for which the new UDP checksum would be 0.
        let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        let c = rd16(&f, 14 + 26);
        // Changing sport 5 -> x adds (x - 5): choose x so the new sum is 0xffff.
        let target = (0..=u16::MAX)
            .find(|&x| csum::csum_update16(c, 5, x) == 0)
            .unwrap();
        let out = run1(
            &f,
            &[set(SetAttr::Udp {
                src: target,
                dst: 6,
            })],
        );
        assert_eq!(rd16(&out, 14 + 26), 0xffff);
        verify_csums(&out).unwrap();
    }

    #[test]
    fn set_ipv6_addresses_tcp_udp_icmpv6() {
        let a2 = ip6([
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
        ]);
        let b2 = ip6([
            0x20, 0x01, 0xd, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34,
        ]);
        let s = set(SetAttr::Ipv6 {
            src: a2,
            dst: b2,
            label: 0,
            tclass: 0,
            hlimit: 64,
        });
        let out = run1(&tcp6(V6A, V6B, 1, 2), std::slice::from_ref(&s));
        assert_eq!(out, tcp6(a2.to_be_bytes(), b2.to_be_bytes(), 1, 2));
        let out = run1(&udp6(V6A, V6B, 1, 2), std::slice::from_ref(&s));
        assert_eq!(out, udp6(a2.to_be_bytes(), b2.to_be_bytes(), 1, 2));
        let f = icmp6_echo(V6A, V6B);
        let mut s_hl = s.clone();
        if let OdpAction::Set(SetAttr::Ipv6 { hlimit, .. }) = &mut s_hl {
            *hlimit = 255;
        }
        let out = run1(&f, &[s_hl]);
        assert_eq!(out, icmp6_echo(a2.to_be_bytes(), b2.to_be_bytes()));
        let sp = SlicedPacket::from_ethernet(&out).unwrap();
        let Some(TransportSlice::Icmpv6(i)) = sp.transport else {
            panic!()
        };
        assert!(i.is_checksum_valid(a2.to_be_bytes(), b2.to_be_bytes()));
    }

    #[test]
    fn set_ipv6_label_tclass_hlimit() {
        let f = udp6(V6A, V6B, 1, 2);
        let out = run1(
            &f,
            &[OdpAction::SetMasked {
                value: SetAttr::Ipv6 {
                    src: 0,
                    dst: 0,
                    label: 0xabcde,
                    tclass: 0x2e,
                    hlimit: 9,
                },
                mask: SetAttr::Ipv6 {
                    src: 0,
                    dst: 0,
                    label: 0xfffff,
                    tclass: 0xff,
                    hlimit: 0xff,
                },
            }],
        );
        assert_eq!(rd32(&out, 14), 0x6000_0000 | 0x2e << 20 | 0xabcde);
        assert_eq!(out[14 + 7], 9);
        assert_eq!(&out[14 + 8..], &f[14 + 8..]);
        verify_csums(&out).unwrap();
    }

    #[test]
    fn set_ports_tcp_udp() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80);
        let out = run1(
            &f,
            &[set(SetAttr::Tcp {
                src: 4321,
                dst: 443,
            })],
        );
        assert_eq!(out, tcp4([10, 0, 0, 1], [10, 0, 0, 2], 4321, 443));
        let f = udp6(V6A, V6B, 53, 5353);
        let out = run1(
            &f,
            &[OdpAction::SetMasked {
                value: SetAttr::Udp { src: 0, dst: 7777 },
                mask: SetAttr::Udp {
                    src: 0,
                    dst: 0xffff,
                },
            }],
        );
        assert_eq!(out, udp6(V6A, V6B, 53, 7777));
    }

    #[test]
    fn set_wrong_layer_is_noop() {
        let udp = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        assert_eq!(run1(&udp, &[set(SetAttr::Tcp { src: 1, dst: 2 })]), udp);
        assert_eq!(run1(&udp, &[set(SetAttr::Sctp { src: 1, dst: 2 })]), udp);
        let ipv6_set = set(SetAttr::Ipv6 {
            src: 1,
            dst: 2,
            label: 3,
            tclass: 4,
            hlimit: 5,
        });
        assert_eq!(run1(&udp, &[ipv6_set]), udp);
        let nd = set(SetAttr::Nd {
            target: 1,
            sll: [1; 6],
            tll: [2; 6],
        });
        assert_eq!(run1(&udp, std::slice::from_ref(&nd)), udp);
        let echo = icmp6_echo(V6A, V6B);
        assert_eq!(run1(&echo, &[nd]), echo);
        let a = arp();
        let v4 = set(SetAttr::Ipv4 {
            src: 1,
            dst: 2,
            tos: 3,
            ttl: 4,
        });
        assert_eq!(run1(&a, std::slice::from_ref(&v4)), a);
        assert_eq!(run1(&a, &[set(SetAttr::Mpls { lse: 5 })]), a);
        // No offsets at all.
        let mut p = pkt(&udp);
        p.reset_offsets();
        assert_eq!(run1p(p, std::slice::from_ref(&v4)).data(), &udp[..]);
        // Mismatched mask variant.
        let bad = OdpAction::SetMasked {
            value: SetAttr::Tcp { src: 1, dst: 2 },
            mask: SetAttr::Udp { src: 1, dst: 2 },
        };
        let tcp = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 3, 4);
        assert_eq!(run1(&tcp, &[bad]), tcp);
        // Truncated frame: L4 header cut short.
        let short = &tcp[..14 + 20 + 10];
        let mut p = pkt(short);
        p.l4_ofs = 34;
        assert_eq!(
            run1p(p, &[set(SetAttr::Tcp { src: 9, dst: 9 })]).data(),
            short
        );
    }

    #[test]
    fn set_sctp_ports_recomputes_crc() {
        for pad in [0, 6] {
            let f = sctp4(1000, 2000, pad);
            verify_csums(&f).unwrap();
            let out = run1(
                &f,
                &[set(SetAttr::Sctp {
                    src: 3000,
                    dst: 4000,
                })],
            );
            assert_eq!(out, sctp4(3000, 4000, pad));
            verify_csums(&out).unwrap();
        }
        // An incorrect CRC stays incorrect by the same error.
        let mut f = sctp4(1000, 2000, 0);
        f[34 + 8] ^= 0x5a;
        let out = run1(
            &f,
            &[set(SetAttr::Sctp {
                src: 3000,
                dst: 4000,
            })],
        );
        let mut good = sctp4(3000, 4000, 0);
        good[34 + 8] ^= 0x5a;
        assert_eq!(out, good);
    }

    #[test]
    fn set_arp_fields() {
        let f = arp();
        let out = run1(
            &f,
            &[set(SetAttr::Arp {
                sip: ip4([1, 2, 3, 4]),
                tip: ip4([5, 6, 7, 8]),
                op: 2,
                sha: [0x11; 6],
                tha: [0x22; 6],
            })],
        );
        assert_eq!(rd16(&out, 20), 2);
        assert_eq!(&out[22..28], &[0x11; 6]);
        assert_eq!(&out[28..32], &[1, 2, 3, 4]);
        assert_eq!(&out[32..38], &[0x22; 6]);
        assert_eq!(&out[38..42], &[5, 6, 7, 8]);
        assert_eq!(&out[..20], &f[..20]);
        let out = run1(
            &f,
            &[OdpAction::SetMasked {
                value: SetAttr::Arp {
                    sip: 0,
                    tip: 0x0000_0063,
                    op: 0,
                    sha: [0; 6],
                    tha: [0; 6],
                },
                mask: SetAttr::Arp {
                    sip: 0,
                    tip: 0xff,
                    op: 0,
                    sha: [0; 6],
                    tha: [0; 6],
                },
            }],
        );
        assert_eq!(&out[38..42], &[10, 0, 0, 99]);
        assert_eq!(&out[..38], &f[..38]);
    }

    #[test]
    fn set_nd_target_and_options() {
        let t2 = ip6(V6B) + 0x1000;
        let f = nd6(135, ip6(V6A), 1, [0x33; 6]);
        verify_csums(&f).unwrap();
        let out = run1(
            &f,
            &[set(SetAttr::Nd {
                target: t2,
                sll: [0x44; 6],
                tll: [0x55; 6],
            })],
        );
        assert_eq!(out, nd6(135, t2, 1, [0x44; 6]));
        let f = nd6(136, ip6(V6A), 2, [0x33; 6]);
        let out = run1(
            &f,
            &[OdpAction::SetMasked {
                value: SetAttr::Nd {
                    target: 0,
                    sll: [0x44; 6],
                    tll: [0, 0, 0, 0, 0, 0x99],
                },
                mask: SetAttr::Nd {
                    target: 0,
                    sll: [0xff; 6],
                    tll: [0, 0, 0, 0, 0, 0xff],
                },
            }],
        );
        assert_eq!(
            out,
            nd6(136, ip6(V6A), 2, [0x33, 0x33, 0x33, 0x33, 0x33, 0x99])
        );
        let sp = SlicedPacket::from_ethernet(&out).unwrap();
        let Some(TransportSlice::Icmpv6(i)) = sp.transport else {
            panic!()
        };
        assert!(i.is_checksum_valid(V6A, V6B));
    }

    #[test]
    fn set_metadata_and_tunnel() {
        let f = arp();
        let mut b = batch_of(&[&f]);
        b.pkts[0].md.skb_priority = 0xffff_0000;
        let mut t = TunnelMetadata {
            tun_id: 42,
            ipv4_dst: 7,
            ..Default::default()
        };
        t.opts_len = 4;
        t.opts[..4].copy_from_slice(&[1, 2, 3, 4]);
        let acts = [
            set(SetAttr::SkbMark(5)),
            OdpAction::SetMasked {
                value: SetAttr::Priority(0x1234),
                mask: SetAttr::Priority(0xffff),
            },
            set(SetAttr::Tunnel(Box::new(t.clone()))),
            OdpAction::SetMasked {
                value: SetAttr::Tunnel(Box::new(TunnelMetadata {
                    tun_id: 0x100,
                    ..Default::default()
                })),
                mask: SetAttr::Tunnel(Box::new(TunnelMetadata {
                    tun_id: 0xf00,
                    ..Default::default()
                })),
            },
            OdpAction::Output(3),
        ];
        let mut ctx = Rec::default();
        execute_actions(&mut ctx, b, &acts);
        let Ev::Out(3, p) = &ctx.ev[0] else { panic!() };
        assert_eq!(p.md.pkt_mark, 5);
        assert_eq!(p.md.skb_priority, 0xffff_1234);
        assert_eq!(p.md.tunnel.tun_id, 0x100 | 42);
        assert_eq!(p.md.tunnel.ipv4_dst, 7);
        assert_eq!(p.md.tunnel.opts(), &[1, 2, 3, 4]);
        assert_eq!(p.data(), &f[..]);
    }

    // ---- push / pop ----

    #[test]
    fn push_pop_vlan() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let p = run1p(
            pkt(&f),
            &[OdpAction::PushVlan {
                tpid: 0x8100,
                tci: 0x2064,
            }],
        );
        let tagged = build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .single_vlan(VlanId::try_new(0x64).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(1, 2, 1000, 4096)
                .write(v, b"hello tcp payload")
                .unwrap()
        });
        // etherparse writes PCP 0; ours has PCP 1.
        let mut expect = tagged.clone();
        expect[14] = 0x20;
        assert_eq!(p.data(), &expect[..]);
        assert_eq!((p.l3_ofs, p.l4_ofs), (18, 38));
        // The re-extracted offsets agree.
        let q = pkt(p.data());
        assert_eq!((q.l3_ofs, q.l4_ofs), (p.l3_ofs, p.l4_ofs));
        // A second push goes outermost (QinQ).
        let p = run1p(
            p,
            &[OdpAction::PushVlan {
                tpid: 0x88a8,
                tci: 0x0005,
            }],
        );
        assert_eq!(&p.data()[12..20], &[0x88, 0xa8, 0, 5, 0x81, 0, 0x20, 0x64]);
        assert_eq!(p.l3_ofs, 22);
        let sp = SlicedPacket::from_ethernet(p.data()).unwrap();
        assert!(sp.vlan.is_some() && sp.transport.is_some());
        // Pop twice gets back the original frame and offsets.
        let p = run1p(p, &[OdpAction::PopVlan, OdpAction::PopVlan]);
        assert_eq!(p.data(), &f[..]);
        assert_eq!((p.l3_ofs, p.l4_ofs), (14, 34));
        // Pop on untagged: no-op.
        let p = run1p(p, &[OdpAction::PopVlan]);
        assert_eq!(p.data(), &f[..]);
    }

    #[test]
    fn push_set_pop_mpls() {
        let f = build(|v| {
            PacketBuilder::ethernet2(SMAC, DMAC)
                .single_vlan(VlanId::try_new(7).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1, 2)
                .write(v, b"x")
                .unwrap()
        });
        let lse = 100 << 12 | MPLS_BOS | 64;
        let p = run1p(
            pkt(&f),
            &[OdpAction::PushMpls {
                lse,
                ethertype: ETH_TYPE_MPLS,
            }],
        );
        let d = p.data();
        assert_eq!(rd16(d, 16), ETH_TYPE_MPLS);
        assert_eq!(rd32(d, 18), lse);
        assert_eq!(&d[22..], &f[18..]);
        assert_eq!((p.l2_5_ofs, p.l3_ofs, p.l4_ofs), (18, 22, 42));
        // Push a second label; set the top one; masked set of the TTL.
        let lse2 = 200 << 12 | 10;
        let p = run1p(
            p,
            &[
                OdpAction::PushMpls {
                    lse: lse2,
                    ethertype: ETH_TYPE_MPLS,
                },
                set(SetAttr::Mpls {
                    lse: 300 << 12 | 10,
                }),
                OdpAction::SetMasked {
                    value: SetAttr::Mpls { lse: 9 },
                    mask: SetAttr::Mpls { lse: 0xff },
                },
            ],
        );
        assert_eq!(rd32(p.data(), 18), 300 << 12 | 9);
        assert_eq!(rd32(p.data(), 22), lse);
        assert_eq!((p.l2_5_ofs, p.l3_ofs), (18, 26));
        // Pop both: back to the original.
        let p = run1p(
            p,
            &[
                OdpAction::PopMpls {
                    ethertype: ETH_TYPE_MPLS,
                },
                OdpAction::PopMpls {
                    ethertype: ETH_TYPE_IP,
                },
            ],
        );
        assert_eq!(p.data(), &f[..]);
        assert_eq!((p.l2_5_ofs, p.l3_ofs), (OFS_NONE, 18));
        verify_csums(p.data()).unwrap();
        // Non-MPLS ethertype: push is a no-op; pop without MPLS: no-op.
        let p = run1p(
            p,
            &[
                OdpAction::PushMpls {
                    lse,
                    ethertype: ETH_TYPE_IP,
                },
                OdpAction::PopMpls {
                    ethertype: ETH_TYPE_IP,
                },
            ],
        );
        assert_eq!(p.data(), &f[..]);
    }

    #[test]
    fn push_nsh_encap_ethernet_then_decap_restores_the_frame() {
        use crate::nsh::{NshKey, NshPush, PT_NSH};
        let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        let push = NshPush {
            key: NshKey {
                ttl: 63,
                mdtype: 1,
                path_hdr: 0x42 << 8 | 255,
                context: [7, 0, 0, 0],
                ..NshKey::default()
            },
            md2: Vec::new(),
        };
        // encap(nsh) + set_field nsh_si + encap(ethernet), as xlate emits them.
        let p = run1p(
            pkt(&f),
            &[
                OdpAction::PushNsh(push),
                OdpAction::SetMasked {
                    value: SetAttr::Nsh(NshKey {
                        path_hdr: 254,
                        ..NshKey::default()
                    }),
                    mask: SetAttr::Nsh(NshKey {
                        path_hdr: 0xff,
                        ..NshKey::default()
                    }),
                },
                OdpAction::PushEth {
                    src: SMAC,
                    dst: DMAC,
                },
            ],
        );
        assert_eq!(p.md.packet_type, 0);
        assert_eq!(p.len(), f.len() + 24 + 14);
        assert_eq!(&p.data()[12..14], &[0x89, 0x4f]);
        assert_eq!(&p.data()[14..22], &[0x0f, 0xc6, 1, 3, 0, 0, 0x42, 254]);
        assert_eq!(&p.data()[38..], &f[..]);
        // decap(): pop_eth, pop_nsh, then (after recirculation) the frame.
        let mut p = run1p(p, &[OdpAction::PopEth]);
        assert_eq!(p.md.packet_type, PT_NSH);
        extract(&mut p);
        let p = run1p(p, &[OdpAction::PopNsh]);
        assert_eq!(p.md.packet_type, 0);
        assert_eq!(p.data(), &f[..]);
        // pop_nsh with an unknown next protocol drops the packet.
        let mut q = pkt(&[0x0f, 0xc2, 1, 9, 0, 0, 1, 255]);
        q.md.packet_type = PT_NSH;
        q.l3_ofs = 0;
        let mut b = PacketBatch::new();
        b.push(q);
        let mut ctx = Rec::default();
        execute_actions(&mut ctx, b, &[OdpAction::PopNsh, OdpAction::Output(1)]);
        assert!(ctx.ev.is_empty());
    }

    #[test]
    fn push_pop_eth() {
        let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        let p = run1p(pkt(&f), &[OdpAction::PopEth]);
        assert_eq!(p.data(), &f[14..]);
        assert_eq!(p.md.packet_type, 1 << 16 | 0x0800);
        assert_eq!((p.l3_ofs, p.l4_ofs), (0, 20));
        // set(ipv4) works on the L3 packet; set(eth) and push_vlan do not apply.
        let p = run1p(
            p,
            &[
                set(SetAttr::Ipv4 {
                    src: ip4([10, 0, 0, 9]),
                    dst: ip4([10, 0, 0, 2]),
                    tos: 0,
                    ttl: 64,
                }),
                set(SetAttr::Eth {
                    src: [0; 6],
                    dst: [0; 6],
                }),
                OdpAction::PushVlan {
                    tpid: 0x8100,
                    tci: 1,
                },
                OdpAction::PopEth,
            ],
        );
        let p = run1p(
            p,
            &[OdpAction::PushEth {
                src: SMAC,
                dst: DMAC,
            }],
        );
        assert_eq!(p.md.packet_type, 0);
        assert_eq!((p.l3_ofs, p.l4_ofs), (14, 34));
        assert_eq!(p.data(), &udp4([10, 0, 0, 9], [10, 0, 0, 2], 5, 6)[..]);
        // push_eth on an Ethernet frame: no-op.
        let p = run1p(
            p,
            &[OdpAction::PushEth {
                src: [1; 6],
                dst: [2; 6],
            }],
        );
        assert_eq!(p.len(), f.len());
    }

    #[test]
    fn mpls_on_l3_packet() {
        let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 6);
        let lse = 16 << 12 | MPLS_BOS | 5;
        let p = run1p(
            pkt(&f),
            &[
                OdpAction::PopEth,
                OdpAction::PushMpls {
                    lse,
                    ethertype: ETH_TYPE_MPLS,
                },
            ],
        );
        assert_eq!(p.md.packet_type, 1 << 16 | ETH_TYPE_MPLS as u32);
        assert_eq!(p.l2_5_ofs, 0);
        assert_eq!(rd32(p.data(), 0), lse);
        let p = run1p(
            p,
            &[OdpAction::PopMpls {
                ethertype: ETH_TYPE_IP,
            }],
        );
        assert_eq!(p.md.packet_type, 1 << 16 | ETH_TYPE_IP as u32);
        assert_eq!(p.data(), &f[14..]);
        assert_eq!(p.l3_ofs, 0);
    }

    // ---- hash ----

    #[test]
    fn hash_l4_and_symmetric() {
        let a = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80);
        let b = tcp4([10, 0, 0, 2], [10, 0, 0, 1], 80, 1000);
        let c = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1001, 80);
        let h = |f: &[u8], alg, basis| run1p(pkt(f), &[OdpAction::Hash { alg, basis }]).md.dp_hash;
        assert_eq!(h(&a, HashAlg::L4, 1), h(&a, HashAlg::L4, 1));
        assert_ne!(h(&a, HashAlg::L4, 1), h(&a, HashAlg::L4, 2));
        assert_ne!(h(&a, HashAlg::L4, 1), h(&b, HashAlg::L4, 1));
        assert_ne!(h(&a, HashAlg::L4, 1), h(&c, HashAlg::L4, 1));
        assert_eq!(h(&a, HashAlg::SymL4, 1), h(&b, HashAlg::SymL4, 1));
        assert_ne!(h(&a, HashAlg::SymL4, 1), h(&c, HashAlg::SymL4, 1));
        let a6 = tcp6(V6A, V6B, 1, 2);
        let b6 = tcp6(V6B, V6A, 2, 1);
        assert_eq!(h(&a6, HashAlg::SymL4, 9), h(&b6, HashAlg::SymL4, 9));
        assert_ne!(h(&a6, HashAlg::L4, 9), h(&b6, HashAlg::L4, 9));
        assert_eq!(h(&arp(), HashAlg::SymL4, 9), 0);
        // RSS hash used when valid.
        let mut p = pkt(&a);
        p.rss_valid = true;
        p.rss_hash = 77;
        let mut q = pkt(&c);
        q.rss_valid = true;
        q.rss_hash = 77;
        let alg = HashAlg::L4;
        let hp = run1p(p, &[OdpAction::Hash { alg, basis: 3 }]).md.dp_hash;
        let hq = run1p(q, &[OdpAction::Hash { alg, basis: 3 }]).md.dp_hash;
        assert_eq!(hp, hq);
    }

    // ---- control flow ----

    fn outs(ctx: &Rec) -> Vec<(u32, Vec<u8>)> {
        ctx.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Out(port, p) => Some((*port, p.data().to_vec())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn output_copy_and_trunc() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let g = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&[&f, &g]),
            &[
                OdpAction::Output(1),
                OdpAction::Trunc(20),
                OdpAction::Output(2),
                OdpAction::Trunc(5),
                OdpAction::Userspace(UserspaceAction {
                    pid: 9,
                    ..Default::default()
                }),
                set(SetAttr::Eth {
                    src: [0; 6],
                    dst: [0; 6],
                }),
                OdpAction::Output(3),
            ],
        );
        let o = outs(&ctx);
        assert_eq!(o.len(), 6);
        assert_eq!(o[0], (1, f.clone()));
        assert_eq!(o[1], (1, g.clone()));
        assert_eq!(o[2], (2, f[..20].to_vec()));
        assert_eq!(o[3], (2, g[..20].to_vec()));
        assert_eq!(o[4].1.len(), f.len());
        assert_eq!(&o[4].1[..12], &[0; 12]);
        assert_eq!(&o[4].1[12..], &f[12..]);
        // userspace got the 14-byte minimum truncation.
        let ups: Vec<_> = ctx
            .ev
            .iter()
            .filter_map(|e| match e {
                Ev::Up(9, p) => Some(p.len()),
                _ => None,
            })
            .collect();
        assert_eq!(ups, vec![14, 14]);
    }

    #[test]
    fn trunc_applies_to_last_output() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&[&f]),
            &[OdpAction::Trunc(30), OdpAction::Output(4)],
        );
        assert_eq!(outs(&ctx), vec![(4, f[..30].to_vec())]);
    }

    #[test]
    fn recirc_and_tnl() {
        let f = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&[&f]),
            &[
                OdpAction::Recirc(5),
                OdpAction::TnlPop(8),
                OdpAction::TnlPush(TnlPush {
                    tnl_port: 1,
                    out_port: 2,
                    tnl_type: 4,
                    header: vec![],
                }),
                OdpAction::Output(2),
                OdpAction::Recirc(6),
            ],
        );
        let mut it = ctx.ev.iter();
        let Some(Ev::Recirc(p)) = it.next() else {
            panic!()
        };
        assert_eq!((p.md.recirc_id, p.data()), (5, &f[..]));
        let Some(Ev::TnlPop(8, p)) = it.next() else {
            panic!()
        };
        assert_eq!(p.data(), &f[..]);
        assert!(matches!(it.next(), Some(Ev::TnlPush(1))));
        let Some(Ev::Out(2, p)) = it.next() else {
            panic!()
        };
        assert_eq!(p.len(), f.len() + 4);
        assert_eq!(p.md.recirc_id, 0);
        let Some(Ev::Recirc(p)) = it.next() else {
            panic!()
        };
        assert_eq!(p.md.recirc_id, 6);
        assert!(it.next().is_none());
        // Default tnl_push (no tunnel support) drops.
        struct Plain(Vec<u32>);
        impl ActionContext for Plain {
            fn output(&mut self, port: u32, _b: PacketBatch) {
                self.0.push(port);
            }
            fn userspace(&mut self, _a: &UserspaceAction, _b: PacketBatch) {}
            fn recirc(&mut self, _b: PacketBatch) {}
            fn random_u32(&mut self) -> u32 {
                0
            }
            fn now_ns(&self) -> u64 {
                0
            }
        }
        let mut plain = Plain(vec![]);
        execute_actions(
            &mut plain,
            batch_of(&[&f]),
            &[
                OdpAction::Output(1),
                OdpAction::TnlPush(TnlPush {
                    tnl_port: 1,
                    out_port: 2,
                    tnl_type: 4,
                    header: vec![],
                }),
                OdpAction::Output(2),
            ],
        );
        assert_eq!(plain.0, vec![1]);
    }

    #[test]
    fn clone_keeps_original() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&[&f]),
            &[
                OdpAction::Clone(vec![
                    set(SetAttr::Tcp { src: 7, dst: 8 }),
                    OdpAction::Output(1),
                ]),
                OdpAction::Output(2),
                OdpAction::Clone(vec![
                    OdpAction::PushVlan {
                        tpid: 0x8100,
                        tci: 3,
                    },
                    OdpAction::Output(3),
                ]),
            ],
        );
        let o = outs(&ctx);
        assert_eq!(o[0], (1, tcp4([10, 0, 0, 1], [10, 0, 0, 2], 7, 8)));
        assert_eq!(o[1], (2, f.clone()));
        assert_eq!(o[2].0, 3);
        assert_eq!(o[2].1.len(), f.len() + 4);
    }

    #[test]
    fn sample_probabilities() {
        let f = arp();
        let frames: Vec<_> = (0..32).map(|_| f.clone()).collect();
        let sample = |prob| {
            let mut ctx = Rec {
                rng: 12345,
                ..Default::default()
            };
            execute_actions(
                &mut ctx,
                batch_of(&frames),
                &[
                    OdpAction::Sample {
                        probability: prob,
                        actions: vec![OdpAction::Output(1)],
                    },
                    OdpAction::Output(2),
                ],
            );
            let o = outs(&ctx);
            let n1 = o.iter().filter(|x| x.0 == 1).count();
            let n2 = o.iter().filter(|x| x.0 == 2).count();
            (n1, n2)
        };
        assert_eq!(sample(0), (0, 32));
        assert_eq!(sample(u32::MAX), (32, 32));
        let (n1, n2) = sample(u32::MAX / 2);
        assert!(n1 > 4 && n1 < 28, "{n1}");
        assert_eq!(n2, 32);
        // Last action: the sampled packets themselves.
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&frames),
            &[OdpAction::Sample {
                probability: u32::MAX,
                actions: vec![OdpAction::Output(1)],
            }],
        );
        assert_eq!(outs(&ctx).len(), 32);
    }

    #[test]
    fn check_pkt_len_splits() {
        let small = arp();
        let big = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let acts = |last: bool| {
            let mut v = vec![OdpAction::CheckPktLen {
                pkt_len: small.len() as u16,
                gt: vec![OdpAction::Output(1)],
                le: vec![OdpAction::Output(2)],
            }];
            if !last {
                v.push(OdpAction::Output(3));
            }
            v
        };
        for last in [true, false] {
            let mut ctx = Rec::default();
            execute_actions(&mut ctx, batch_of(&[&small, &big, &small]), &acts(last));
            let o = outs(&ctx);
            assert_eq!(o.iter().filter(|x| x.0 == 1).count(), 1);
            assert_eq!(o.iter().filter(|x| x.0 == 2).count(), 2);
            assert_eq!(
                o.iter().filter(|x| x.0 == 3).count(),
                if last { 0 } else { 3 }
            );
        }
        // Truncation counts: after trunc the big packet is "small".
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&[&big]),
            &[
                OdpAction::Trunc(20),
                OdpAction::CheckPktLen {
                    pkt_len: 20,
                    gt: vec![OdpAction::Output(1)],
                    le: vec![OdpAction::Output(2)],
                },
            ],
        );
        assert_eq!(outs(&ctx), vec![(2, big[..20].to_vec())]);
    }

    #[test]
    fn dec_ttl_ipv4_ipv6() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let mut one = f.clone();
        one[14 + 8] = 1;
        let c = csum::ipv4_header_checksum(&one[14..34]);
        wr16(&mut one, 24, c);
        let v6 = udp6(V6A, V6B, 1, 2);
        let mut ctx = Rec::default();
        execute_actions(
            &mut ctx,
            batch_of(&[&f, &one, &v6, &arp()]),
            &[
                OdpAction::DecTtl(vec![OdpAction::Output(9)]),
                OdpAction::Output(1),
            ],
        );
        let o = outs(&ctx);
        assert_eq!(o[0], (9, one.clone()));
        assert_eq!(o.len(), 4);
        assert_eq!(o[1].1[14 + 8], 63);
        verify_csums(&o[1].1).unwrap();
        assert_eq!(&o[1].1[..22], &f[..22]);
        assert_eq!(o[2].1[14 + 7], 63);
        assert_eq!(o[3].1, arp());
    }

    #[test]
    fn ct_meter_drop() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        let small = arp();
        let mut ctx = Rec {
            meter_max: Some(small.len()),
            ..Default::default()
        };
        execute_actions(
            &mut ctx,
            batch_of(&[&f, &small]),
            &[
                OdpAction::Ct(CtAction {
                    zone: 3,
                    ..Default::default()
                }),
                OdpAction::Output(1),
                OdpAction::CtClear,
                OdpAction::Meter(4),
                OdpAction::Output(2),
                OdpAction::Drop,
                OdpAction::Output(3),
            ],
        );
        assert!(matches!(ctx.ev[0], Ev::Ct(3, 2)));
        let ports: Vec<_> = ctx
            .ev
            .iter()
            .filter_map(|e| match e {
                Ev::Out(port, p) => Some((*port, p.md.ct_state, p.md.ct_zone, p.len())),
                Ev::Meter(id, n) => Some((100 + id, 0, 0, *n)),
                _ => None,
            })
            .collect();
        assert_eq!(
            ports,
            vec![
                (1, 0x21, 3, f.len()),
                (1, 0x21, 3, small.len()),
                (104, 0, 0, 2),
                (2, 0, 0, small.len()),
            ]
        );
        // Default ct marks tracked+invalid; empty action list drops.
        let mut ctx = Rec::default();
        execute_actions(&mut ctx, batch_of(&[&f]), &[]);
        assert!(ctx.ev.is_empty());
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut acts = vec![OdpAction::Output(1)];
        for _ in 0..1000 {
            acts = vec![OdpAction::Clone(acts)];
        }
        let mut ctx = Rec::default();
        execute_actions(&mut ctx, batch_of(&[&arp()]), &acts);
        assert!(ctx.ev.is_empty());
    }

    // ---- property tests ----

    fn arb_attr() -> impl Strategy<Value = SetAttr> {
        prop_oneof![
            any::<u32>().prop_map(SetAttr::Priority),
            any::<u32>().prop_map(SetAttr::SkbMark),
            (any::<[u8; 6]>(), any::<[u8; 6]>()).prop_map(|(src, dst)| SetAttr::Eth { src, dst }),
            (any::<u32>(), any::<u32>(), any::<u8>(), any::<u8>())
                .prop_map(|(src, dst, tos, ttl)| SetAttr::Ipv4 { src, dst, tos, ttl }),
            (
                any::<u128>(),
                any::<u128>(),
                any::<u32>(),
                any::<u8>(),
                any::<u8>()
            )
                .prop_map(|(src, dst, label, tclass, hlimit)| SetAttr::Ipv6 {
                    src,
                    dst,
                    label,
                    tclass,
                    hlimit
                }),
            (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| SetAttr::Tcp { src, dst }),
            (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| SetAttr::Udp { src, dst }),
            (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| SetAttr::Sctp { src, dst }),
            (
                any::<u32>(),
                any::<u32>(),
                any::<u16>(),
                any::<[u8; 6]>(),
                any::<[u8; 6]>()
            )
                .prop_map(|(sip, tip, op, sha, tha)| SetAttr::Arp {
                    sip,
                    tip,
                    op,
                    sha,
                    tha
                }),
            (any::<u128>(), any::<[u8; 6]>(), any::<[u8; 6]>())
                .prop_map(|(target, sll, tll)| SetAttr::Nd { target, sll, tll }),
            any::<u32>().prop_map(|lse| SetAttr::Mpls { lse }),
            any::<u64>().prop_map(|tun_id| SetAttr::Tunnel(Box::new(TunnelMetadata {
                tun_id,
                ..Default::default()
            }))),
        ]
    }

    fn arb_leaf() -> impl Strategy<Value = OdpAction> {
        prop_oneof![
            (0u32..4).prop_map(OdpAction::Output),
            Just(OdpAction::Drop),
            Just(OdpAction::Userspace(UserspaceAction::default())),
            arb_attr().prop_map(OdpAction::Set),
            (arb_attr(), any::<u128>(), arb_attr(), any::<bool>()).prop_map(
                |(value, bits, other, same)| OdpAction::SetMasked {
                    mask: if same { mask_of(&value, bits) } else { other },
                    value,
                }
            ),
            (
                prop_oneof![Just(0x8100u16), Just(0x88a8), any::<u16>()],
                any::<u16>()
            )
                .prop_map(|(tpid, tci)| OdpAction::PushVlan { tpid, tci }),
            Just(OdpAction::PopVlan),
            (
                any::<u32>(),
                prop_oneof![Just(0x8847u16), Just(0x8848), any::<u16>()]
            )
                .prop_map(|(lse, ethertype)| OdpAction::PushMpls { lse, ethertype }),
            prop_oneof![Just(0x0800u16), Just(0x8847), Just(0x6558), any::<u16>()]
                .prop_map(|ethertype| OdpAction::PopMpls { ethertype }),
            (0u32..3).prop_map(OdpAction::Recirc),
            (
                prop_oneof![Just(HashAlg::L4), Just(HashAlg::SymL4)],
                any::<u32>()
            )
                .prop_map(|(alg, basis)| OdpAction::Hash { alg, basis }),
            Just(OdpAction::Ct(CtAction::default())),
            Just(OdpAction::CtClear),
            Just(OdpAction::TnlPop(1)),
            Just(OdpAction::TnlPush(TnlPush {
                tnl_port: 1,
                out_port: 2,
                tnl_type: 4,
                header: vec![],
            })),
            (0u32..3).prop_map(OdpAction::Meter),
            (0u32..200).prop_map(OdpAction::Trunc),
            (any::<[u8; 6]>(), any::<[u8; 6]>())
                .prop_map(|(src, dst)| OdpAction::PushEth { src, dst }),
            Just(OdpAction::PopEth),
        ]
    }

    fn arb_actions() -> impl Strategy<Value = Vec<OdpAction>> {
        let leaf = arb_leaf();
        let tree = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(OdpAction::Clone),
                (any::<u32>(), proptest::collection::vec(inner.clone(), 0..4)).prop_map(
                    |(probability, actions)| OdpAction::Sample {
                        probability,
                        actions
                    }
                ),
                (
                    0u16..120,
                    proptest::collection::vec(inner.clone(), 0..3),
                    proptest::collection::vec(inner.clone(), 0..3)
                )
                    .prop_map(|(pkt_len, gt, le)| OdpAction::CheckPktLen {
                        pkt_len,
                        gt,
                        le
                    }),
                proptest::collection::vec(inner, 0..3).prop_map(OdpAction::DecTtl),
            ]
        });
        proptest::collection::vec(tree, 0..8)
    }

    /// A frame: a valid packet of some kind, possibly truncated / corrupted,
    /// or random bytes; offsets from the test extractor or random.
    fn arb_packet() -> impl Strategy<Value = Box<DpPacket>> {
        let valid = prop_oneof![
            Just(tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2)),
            Just(udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2)),
            Just(tcp6(V6A, V6B, 1, 2)),
            Just(udp6(V6A, V6B, 1, 2)),
            Just(icmp6_echo(V6A, V6B)),
            Just(nd6(135, 5, 1, [1; 6])),
            Just(sctp4(1, 2, 3)),
            Just(arp()),
        ];
        let frame = prop_oneof![
            (valid.clone(), any::<prop::sample::Index>()).prop_map(|(f, i)| {
                let n = i.index(f.len() + 1);
                f[..n].to_vec()
            }),
            (valid.clone(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut f, i, b)| {
                let n = i.index(f.len());
                f[n] = b;
                f
            }),
            valid,
            proptest::collection::vec(any::<u8>(), 0..120),
        ];
        (
            frame,
            any::<bool>(),
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<bool>(),
        )
            .prop_map(|(f, extracted, a, b, c, l3pkt)| {
                let mut p = Box::new(DpPacket::from_slice(&f));
                if extracted {
                    extract(&mut p);
                } else {
                    let lim = f.len() as u16 + 1;
                    let pick = |x: u16| if x % 5 == 0 { OFS_NONE } else { x % lim };
                    p.l2_5_ofs = pick(a);
                    p.l3_ofs = pick(b);
                    p.l4_ofs = pick(c);
                    if l3pkt {
                        p.md.packet_type = 1 << 16 | (a as u32 & 0xffff);
                    }
                }
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn never_panics(pkts in proptest::collection::vec(arb_packet(), 1..4),
                        acts in arb_actions(), rng in any::<u32>()) {
            let mut b = PacketBatch::new();
            for p in pkts {
                b.push(p);
            }
            let mut ctx = Rec { rng, meter_max: Some(60), ..Default::default() };
            execute_actions(&mut ctx, b, &acts);
            // Every packet handed out still has consistent offsets.
            for e in &ctx.ev {
                if let Ev::Out(_, p) | Ev::Up(_, p) | Ev::Recirc(p) | Ev::TnlPop(_, p) = e {
                    for o in [p.l2_5_ofs, p.l3_ofs, p.l4_ofs] {
                        prop_assert!(o == OFS_NONE || (o as usize) <= p.len());
                    }
                }
            }
        }

        #[test]
        fn valid_packets_keep_valid_checksums(
            which in 0usize..7, attr in arb_attr(), mask_bits in any::<u128>(), masked_set in any::<bool>()
        ) {
            let f = [
                tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2),
                udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2),
                tcp6(V6A, V6B, 1, 2),
                udp6(V6A, V6B, 1, 2),
                icmp6_echo(V6A, V6B),
                nd6(136, 5, 2, [1; 6]),
                sctp4(1, 2, 4),
            ][which].clone();
            let act = if masked_set {
                // A mask of the same variant built from random bits.
                let m = mask_of(&attr, mask_bits);
                OdpAction::SetMasked { value: attr, mask: m }
            } else {
                OdpAction::Set(attr)
            };
            let out = run1(&f, &[act]);
            prop_assert_eq!(out.len(), f.len());
            if let Err(e) = verify_csums(&out) {
                prop_assert!(false, "{}", e);
            }
            prop_assert!(SlicedPacket::from_ethernet(&out).is_ok());
        }

        #[test]
        fn set_then_set_back_restores(
            which in 0usize..7, attr in arb_attr(), mask_bits in any::<u128>()
        ) {
            let f = [
                tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2),
                udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2),
                tcp6(V6A, V6B, 1, 2),
                udp6(V6A, V6B, 1, 2),
                icmp6_echo(V6A, V6B),
                nd6(135, 5, 1, [1; 6]),
                arp(),
            ][which].clone();
            let mask = mask_of(&attr, mask_bits);
            let orig = current_values(&f, &attr);
            let out = run1(&f, &[
                OdpAction::SetMasked { value: attr, mask: mask.clone() },
                OdpAction::SetMasked { value: orig, mask },
            ]);
            prop_assert_eq!(out, f);
        }

        #[test]
        fn incremental_ipv4_equals_fresh_build(src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
                                               sp in any::<u16>(), dport in any::<u16>(), udp in any::<bool>()) {
            let build = |s, d, a, b| if udp { udp4(s, d, a, b) } else { tcp4(s, d, a, b) };
            let f = build([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
            let l4 = if udp { SetAttr::Udp { src: sp, dst: dport } } else { SetAttr::Tcp { src: sp, dst: dport } };
            let out = run1(&f, &[
                set(SetAttr::Ipv4 { src: ip4(src), dst: ip4(dst), tos: 0, ttl: 64 }),
                set(l4),
            ]);
            prop_assert_eq!(out, build(src, dst, sp, dport));
        }
    }

    /// A mask of the same variant as `a` from random bits.
    fn mask_of(a: &SetAttr, bits: u128) -> SetAttr {
        let b32 = bits as u32;
        let b16 = (bits >> 32) as u16;
        let b8 = (bits >> 48) as u8;
        let mac = {
            let x = (bits >> 56).to_be_bytes();
            [x[10], x[11], x[12], x[13], x[14], x[15]]
        };
        match a {
            SetAttr::Priority(_) => SetAttr::Priority(b32),
            SetAttr::SkbMark(_) => SetAttr::SkbMark(b32),
            SetAttr::Tunnel(_) => SetAttr::Tunnel(Box::new(TunnelMetadata {
                tun_id: bits as u64,
                ..Default::default()
            })),
            SetAttr::Eth { .. } => SetAttr::Eth { src: mac, dst: mac },
            SetAttr::Ipv4 { .. } => SetAttr::Ipv4 {
                src: b32,
                dst: b32.rotate_left(7),
                tos: b8,
                ttl: b8.rotate_left(3),
            },
            SetAttr::Ipv6 { .. } => SetAttr::Ipv6 {
                src: bits,
                dst: bits.rotate_left(17),
                label: b32,
                tclass: b8,
                hlimit: b8.rotate_left(1),
            },
            SetAttr::Tcp { .. } => SetAttr::Tcp {
                src: b16,
                dst: b16.rotate_left(5),
            },
            SetAttr::Udp { .. } => SetAttr::Udp {
                src: b16,
                dst: b16.rotate_left(5),
            },
            SetAttr::Sctp { .. } => SetAttr::Sctp {
                src: b16,
                dst: b16.rotate_left(5),
            },
            SetAttr::Arp { .. } => SetAttr::Arp {
                sip: b32,
                tip: b32.rotate_left(9),
                op: b16,
                sha: mac,
                tha: mac,
            },
            SetAttr::Nd { .. } => SetAttr::Nd {
                target: bits,
                sll: mac,
                tll: mac,
            },
            SetAttr::Mpls { .. } => SetAttr::Mpls { lse: b32 },
            SetAttr::Nsh(_) => SetAttr::Nsh(crate::nsh::NshKey {
                flags: b8,
                ttl: b8.rotate_left(2),
                path_hdr: b32,
                context: [b32, b32.rotate_left(3), !b32, b32 ^ 0x5555],
                ..Default::default()
            }),
        }
    }

    /// The current values in frame `f` of the fields of `a` (for the layers
    /// the frame has; arbitrary otherwise, the set being a no-op then).
    fn current_values(f: &[u8], a: &SetAttr) -> SetAttr {
        let p = pkt(f);
        let d = p.data();
        let l3 = p.l3_ofs as usize;
        let l4 = p.l4_ofs as usize;
        let is = |et| l3_ethertype(&p) == Some(et);
        match a {
            SetAttr::Eth { .. } => SetAttr::Eth {
                dst: d[0..6].try_into().unwrap(),
                src: d[6..12].try_into().unwrap(),
            },
            SetAttr::Ipv4 { .. } if is(ETH_TYPE_IP) => SetAttr::Ipv4 {
                src: rd32(d, l3 + 12),
                dst: rd32(d, l3 + 16),
                tos: d[l3 + 1],
                ttl: d[l3 + 8],
            },
            SetAttr::Ipv6 { .. } if is(ETH_TYPE_IPV6) => SetAttr::Ipv6 {
                src: rd128(d, l3 + 8),
                dst: rd128(d, l3 + 24),
                label: rd32(d, l3) & 0xfffff,
                tclass: (rd32(d, l3) >> 20) as u8,
                hlimit: d[l3 + 7],
            },
            SetAttr::Tcp { .. } if p.l4_ofs != OFS_NONE => SetAttr::Tcp {
                src: rd16(d, l4),
                dst: rd16(d, l4 + 2),
            },
            SetAttr::Udp { .. } if p.l4_ofs != OFS_NONE => SetAttr::Udp {
                src: rd16(d, l4),
                dst: rd16(d, l4 + 2),
            },
            SetAttr::Sctp { .. } if p.l4_ofs != OFS_NONE => SetAttr::Sctp {
                src: rd16(d, l4),
                dst: rd16(d, l4 + 2),
            },
            SetAttr::Arp { .. } if is(ETH_TYPE_ARP) => SetAttr::Arp {
                op: rd16(d, l3 + 6),
                sha: d[l3 + 8..l3 + 14].try_into().unwrap(),
                sip: rd32(d, l3 + 14),
                tha: d[l3 + 18..l3 + 24].try_into().unwrap(),
                tip: rd32(d, l3 + 24),
            },
            SetAttr::Nd { .. } if d.len() >= l4 + 32 && p.l4_ofs != OFS_NONE => {
                let mac: [u8; 6] = d[l4 + 26..l4 + 32].try_into().unwrap();
                SetAttr::Nd {
                    target: rd128(d, l4 + 8),
                    sll: mac,
                    tll: mac,
                }
            }
            other => other.clone(),
        }
    }
}
