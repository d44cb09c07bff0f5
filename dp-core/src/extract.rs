//! Flow key extraction: a packet's metadata and headers into a [`FlowKey`].
//!
//! # Design
//!
//! This is OVS's `miniflow_extract()` (`lib/flow.c`): one forward pass over
//! the frame that writes every field straight into the compact key, in the
//! word order of the [`Flow`] layout ([`crate::flow::fields`]). There is no
//! intermediate full [`Flow`]; words that stay zero never enter the key, so
//! the key is canonical. Every word is produced whole and pushed once, in
//! increasing order (a `KeyWriter`: a store, a compare, an increment and one
//! hash step per non-zero word), and the key's hash is computed as the words
//! are pushed.
//!
//! The common case, an untagged Ethernet II frame with an option-less,
//! unfragmented IPv4 header and a UDP or TCP header and no tunnel metadata,
//! takes a fast path: one length check covers every header read at fixed
//! offsets, and the words go straight into the key without calls. Any other
//! packet, including any that would be malformed, goes to the general parser,
//! which yields the same key for the packets the fast path takes (a unit test
//! checks it over mutated frames).
//!
//! The pass runs in layout order:
//!
//! 1. **Metadata** (words 0..=50): `in_port`, `recirc_id`, `dp_hash`,
//!    `skb_priority`, `pkt_mark`, conntrack state/zone/mark/label and the
//!    original-direction tuple, then the tunnel (only when
//!    [`TunnelMetadata::is_set`](crate::packet::TunnelMetadata::is_set)) and
//!    its Geneve options.
//! 2. **L2** (words 51..=55): Ethernet II / 802.3 with 802.2 LLC + SNAP, up
//!    to two 802.1Q / 802.1ad tags, the MPLS label stack, `packet_type`. A
//!    packet whose `packet_type` is not Ethernet (`1 << 16 | ethertype`) has
//!    no Ethernet header: `eth_type` comes from the packet type and L3 starts
//!    at offset 0.
//! 3. **L3** (words 56..=61): IPv4, IPv6 with its extension-header chain, or
//!    ARP/RARP; or NSH (words 67..=69, after L4 in the layout).
//! 4. **L4** (words 62..=66): TCP, UDP, SCTP, ICMPv4, IGMP, ICMPv6 with
//!    Neighbor Discovery.
//!
//! Every header is bounds-checked as a whole before any of its fields are
//! read (`first_chunk::<N>()` on the remaining bytes), so the parser never
//! panics and never reads past the frame, and nothing is allocated. Once the
//! IPv4 total length or IPv6 payload length is validated, the frame is cut to
//! that length so Ethernet padding is never parsed as L4.
//!
//! # Malformed packets
//!
//! When a header is truncated or inconsistent, parsing stops there: the key
//! keeps the fields of the layers before it (exactly like OVS, which jumps to
//! `out:` at that point) and [`extract`] returns [`ExtractStatus::Malformed`].
//! The key is still canonical and hashed, so a malformed packet can be looked
//! up and handled by flows like any other.
//!
//! # Deviations from OVS
//!
//! * Conntrack metadata (`ct_zone`, `ct_mark`, `ct_label`, the
//!   original-direction tuple) is pushed whenever it is non-zero; OVS pushes it
//!   only when `recirc_id` or `ct_state` is non-zero and the tuple's address
//!   family matches the packet's. The layout puts those words before L2, and
//!   conntrack only sets them for tracked packets of the right family.
//! * NSH (0x894f, RFC 8300) is parsed like OVS's `parse_nsh()` into the
//!   NSH words after L4; as in OVS the packet behind the NSH header is not
//!   parsed. A bad NSH header is [`ExtractStatus::Malformed`] (OVS simply
//!   pushes nothing).
//! * ICMPv6 ND `nd_reserved` and `nd_options_type` (newer OVS) are not
//!   extracted (the layout has no room for them).
//! * After a truncated VLAN tag or 802.2 header, or an MPLS stack without
//!   bottom-of-stack, `l3_ofs` stays unset (OVS points it at the byte after
//!   what it consumed, which is not an L3 header).
//! * [`ExtractStatus`] has no OVS equivalent (`miniflow_extract` returns
//!   nothing); the keys themselves match OVS's.

use crate::flow::FLOW_WORDS;
use crate::flow::{
    fields, Flow, ETH_TYPE_NONE, FRAG_ANY, FRAG_LATER, TUN_OPTS_MAX_LEN, TUN_OPTS_WORD, VLAN_CFI,
};
use crate::miniflow::{hash_add64, hash_finish, hash_map_finish, FlowKey};
use crate::packet::{CtOrigTuple, DpPacket, PacketMetadata, OFS_NONE};

/// Outcome of [`extract`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExtractStatus {
    /// Every header the extractor understands was complete and consistent
    /// (unknown Ethertypes and IP protocols are `Ok`: their fields are simply
    /// not extracted).
    Ok,
    /// A header was truncated or inconsistent (for example an IPv4 header
    /// length below 20 bytes, a total length beyond the frame, a TCP data
    /// offset below 5, an MPLS stack without bottom-of-stack, a duplicated or
    /// truncated ND option). The key holds every field parsed before that
    /// header.
    Malformed,
}

// Ethertypes (IEEE 802.3 clause 3.2.6 / IANA "IEEE 802 Numbers").
const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_RARP: u16 = 0x8035;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_VLAN_8021Q: u16 = 0x8100;
const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;
const ETH_TYPE_MPLS: u16 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
const ETH_TYPE_NSH: u16 = 0x894f;
/// Smallest value of the Ethernet type/length field that is an Ethertype
/// (IEEE 802.3 clause 3.2.6); smaller values are 802.3 lengths.
const ETH_TYPE_MIN: u16 = 0x0600;

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IGMP: u8 = 2;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_AH: u8 = 51;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_DSTOPTS: u8 = 60;
const IPPROTO_SCTP: u8 = 132;

const ETH_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const ARP_ETH_HEADER_LEN: usize = 28;
const TCP_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;
const SCTP_HEADER_LEN: usize = 12;
const ICMP_HEADER_LEN: usize = 8;
const IGMP_HEADER_LEN: usize = 8;
const ICMP6_DATA_HEADER_LEN: usize = 8;

/// ICMPv6 Neighbor Solicitation / Advertisement types (RFC 4861 section 4.3,
/// 4.4) and their link-layer address option types (section 4.6.1).
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const ND_OPT_SOURCE_LINKADDR: u8 = 1;
const ND_OPT_TARGET_LINKADDR: u8 = 2;

/// 802.2 LLC + SNAP header with the Ethernet OUI (RFC 1042): DSAP 0xaa, SSAP
/// 0xaa, control 0x03 (UI), OUI 00-00-00, then a 2-byte Ethertype.
const LLC_SNAP_PREFIX: [u8; 6] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00];
const LLC_SNAP_LEN: usize = 8;

/// Mask of the 48-bit MAC part of an `eth_dst` / `eth_src` / `arp_sha` /
/// `arp_tha` word (those fields sit at bits 16..64).
const MAC_WORD_MASK: u64 = !0xffff;

/// Bounds-checked view of `N` bytes at `ofs`; `None` if the frame is shorter.
#[inline(always)]
fn hdr<const N: usize>(data: &[u8], ofs: usize) -> Option<&[u8; N]> {
    data.get(ofs..)?.first_chunk::<N>()
}

#[inline(always)]
fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

#[inline(always)]
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

#[inline(always)]
fn be64(b: &[u8], i: usize) -> u64 {
    u64::from_be_bytes([
        b[i],
        b[i + 1],
        b[i + 2],
        b[i + 3],
        b[i + 4],
        b[i + 5],
        b[i + 6],
        b[i + 7],
    ])
}

/// A MAC address at `b[i..i + 6]` placed in bits 16..64 of a word (the
/// position of `eth_dst`, `eth_src`, `arp_sha` and `arp_tha`).
#[inline(always)]
fn mac_word(b: &[u8], i: usize) -> u64 {
    u64::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], 0, 0])
}

/// Converts a frame offset to the `u16` stored in a [`DpPacket`]
/// ([`OFS_NONE`] if it does not fit).
#[inline(always)]
fn to_ofs(ofs: usize) -> u16 {
    if ofs < OFS_NONE as usize {
        ofs as u16
    } else {
        OFS_NONE
    }
}

/// Header offsets found by the parser (frame offsets, `usize::MAX` = unset).
struct Offsets {
    l2_5: usize,
    l3: usize,
    l4: usize,
}

/// Writes whole words of a canonical [`FlowKey`] in increasing word order
/// (each word at most once), without branches: the word is stored at the
/// next free position and the position only advances, and the map bit is
/// only set, when the word is non-zero. With the word index a constant at
/// every call site, a push is a store, a compare and two adds/ors; the map is
/// kept as two `u64` halves so the shift is a constant. (The general
/// [`crate::miniflow::MiniflowBuilder`] merges fields into words and branches
/// per push.)
struct KeyWriter<'a> {
    key: &'a mut FlowKey,
    len: usize,
    lo: u64,
    hi: u64,
    /// Running [`hash_add64`] over the words pushed so far.
    h: u64,
    /// Smallest index the next push may use (debug builds check the order).
    #[cfg(debug_assertions)]
    next: usize,
}

impl<'a> KeyWriter<'a> {
    #[inline(always)]
    fn new(key: &'a mut FlowKey) -> Self {
        KeyWriter {
            key,
            len: 0,
            lo: 0,
            hi: 0,
            h: 0,
            #[cfg(debug_assertions)]
            next: 0,
        }
    }

    /// Pushes word `idx` with value `w` (left out if zero).
    #[inline(always)]
    fn push_word(&mut self, idx: usize, w: u64) {
        #[cfg(debug_assertions)]
        {
            assert!(
                idx >= self.next && idx < FLOW_WORDS,
                "key word {idx} out of order"
            );
            self.next = idx + 1;
        }
        if w != 0 {
            if let Some(slot) = self.key.buf.get_mut(self.len) {
                *slot = w;
            }
            self.len += 1;
            self.h = hash_add64(self.h, w);
            if idx < 64 {
                self.lo |= 1 << idx;
            } else {
                self.hi |= 1 << (idx & 63);
            }
        }
    }

    /// Stores length and map, and the hash: `rss` mixed with `recirc_id` if
    /// the port gave one, else [`crate::miniflow::hash_words`] of the key.
    #[inline(always)]
    fn finish(self, rss: Option<u32>, recirc_id: u32) {
        let k = self.key;
        let len = self.len.min(FLOW_WORDS);
        k.len = len as u32;
        k.map = (self.hi as u128) << 64 | self.lo as u128;
        k.hash = match rss {
            Some(h) => hash_finish(hash_add64(h as u64, recirc_id as u64)),
            None => hash_map_finish(self.h, k.map),
        };
    }
}

/// L2-L4 words of the common case (see [`parse_eth_ipv4_fast`]).
struct FastWords {
    w51: u64,
    w52: u64,
    w56: u64,
    w61: u64,
    /// `tcp_flags` (word 64) for TCP.
    tcp: Option<u64>,
    w66: u64,
}

/// The common case, tried first: an untagged Ethernet II frame carrying an
/// option-less, unfragmented IPv4 packet with a complete UDP or TCP header.
/// One length check covers every fixed-offset read. Anything else (and any
/// frame that would be malformed) returns `None`, and the general parser
/// ([`parse_frame`]) handles it. Gives exactly the words the general parser
/// would, with `l3` at 14 and `l4` at 34.
#[inline(always)]
fn parse_eth_ipv4_fast(d: &[u8]) -> Option<FastWords> {
    const L3: usize = ETH_HEADER_LEN;
    const L4: usize = L3 + IPV4_HEADER_LEN;
    // Ethernet + IPv4 + the 8 bytes of a UDP header (or a TCP header's ports).
    let h = d.first_chunk::<{ L4 + UDP_HEADER_LEN }>()?;
    let ip_len = d.len() - L3;
    let tot_len = be16(h, L3 + 2) as usize;
    let frag_off = be16(h, L3 + 6);
    let proto = h[L3 + 9];
    if be16(h, 12) != ETH_TYPE_IP || h[L3] & 0x0f != 5 || tot_len > ip_len || frag_off & 0x3fff != 0
    {
        return None;
    }
    let tcp = match proto {
        IPPROTO_UDP if tot_len >= IPV4_HEADER_LEN + UDP_HEADER_LEN => None,
        IPPROTO_TCP if tot_len >= IPV4_HEADER_LEN + TCP_HEADER_LEN => {
            let t = d.first_chunk::<{ L4 + TCP_HEADER_LEN }>()?;
            let ctl = be16(t, L4 + 12);
            let hlen = (ctl >> 12) as usize * 4;
            if hlen < TCP_HEADER_LEN || hlen > tot_len - IPV4_HEADER_LEN {
                return None;
            }
            Some((ctl & 0x0fff) as u64)
        }
        _ => return None,
    };
    Some(FastWords {
        w51: be64(h, 0) & MAC_WORD_MASK | ETH_TYPE_IP as u64,
        w52: be64(h, 6) & MAC_WORD_MASK,
        w56: be64(h, L3 + 12),
        w61: (h[L3 + 1] as u64) << 16 | (h[L3 + 8] as u64) << 8 | proto as u64,
        tcp,
        w66: (be32(h, L4) as u64) << 32,
    })
}

/// [`extract`] of an Ethernet/IPv4/UDP|TCP packet without tunnel metadata
/// ([`parse_eth_ipv4_fast`]); false (nothing written) for any other packet.
/// Everything stays in registers: no call, the key's words are written once.
#[inline(always)]
fn extract_fast(pkt: &mut DpPacket, key: &mut FlowKey) -> bool {
    let md = &pkt.md;
    if md.packet_type != 0 || md.tunnel.is_set() {
        return false;
    }
    let Some(f) = parse_eth_ipv4_fast(pkt.data()) else {
        return false;
    };
    let mut b = KeyWriter::new(key);
    b.push_word(0, (md.in_port as u64) << 32 | md.recirc_id as u64);
    b.push_word(1, (md.dp_hash as u64) << 32 | md.skb_priority as u64);
    push_ct(&mut b, md);
    // Words 53 (VLAN) and 55 (packet_type 0) are zero.
    b.push_word(51, f.w51);
    b.push_word(52, f.w52);
    b.push_word(56, f.w56);
    b.push_word(61, f.w61);
    if let Some(flags) = f.tcp {
        b.push_word(64, flags);
    }
    b.push_word(66, f.w66);
    b.finish(pkt.rss_valid.then_some(pkt.rss_hash), md.recirc_id);
    pkt.l2_5_ofs = OFS_NONE;
    pkt.l3_ofs = ETH_HEADER_LEN as u16;
    pkt.l4_ofs = (ETH_HEADER_LEN + IPV4_HEADER_LEN) as u16;
    true
}

/// Extracts the flow key of `pkt` into `key` and sets the packet's header
/// offsets (OVS `miniflow_extract()`, `lib/flow.c`).
///
/// * Input: the metadata in `pkt.md` and the frame `pkt.data()`. The frame is
///   an Ethernet frame (destination, source, type/length; IEEE 802.3 clause
///   3.2) when `pkt.md.packet_type == 0`, otherwise an L3 packet whose
///   Ethertype is the low 16 bits of `packet_type` (OpenFlow 1.5 packet type
///   `1 << 16 | ethertype`).
/// * Output: `key` is overwritten with the canonical compact key (only
///   non-zero words present; field values host order as described in
///   [`crate::flow`]) and its hash. `pkt.l2_5_ofs`, `pkt.l3_ofs` and
///   `pkt.l4_ofs` are first reset to [`OFS_NONE`], then set to the byte
///   offsets (from the frame start) of the MPLS label stack, the L3 header
///   (also for Ethertypes that are not parsed) and the L4 header (after the
///   IPv4 options or the IPv6 extension headers, also when the L4 header
///   itself is truncated or the packet is a later fragment).
///
/// Headers parsed, following OVS field semantics:
/// * 802.1Q / 802.1ad tags (IEEE 802.1Q clause 9.6), at most two, outer in
///   `vlan0`; the stored TCI has [`VLAN_CFI`] set as "tag present". A tag
///   needs 6 bytes (tag plus the following type); a third tag is not parsed
///   (`eth_type` is then its TPID).
/// * 802.3 length frames (< 0x600): `eth_type` is [`ETH_TYPE_NONE`] unless the
///   802.2 LLC header is SNAP with OUI 0 (RFC 1042) and an Ethertype, which
///   becomes `eth_type`.
/// * MPLS (RFC 3032 section 2.1): the label stack up to bottom-of-stack; the
///   first three entries go to `mpls_lse0..2`. Nothing beyond the stack is
///   parsed (the payload type is unknown), `l3_ofs` points after the stack.
/// * NSH (RFC 8300 section 2), also as packet type `(1, 0x894f)`: base and
///   service path header, MD type 1 context headers; nothing beyond it.
/// * ARP / RARP for Ethernet/IPv4 (RFC 826): opcode (only if <= 255, in
///   `nw_proto`), SPA/TPA in `nw_src`/`nw_dst`, SHA/THA in `arp_sha`/`arp_tha`.
/// * IPv4 (RFC 791 section 3.1): requires IHL >= 5, IHL and total length
///   within the frame, IHL <= total length (the version field is not checked,
///   as in OVS); options skipped; fragments per `nw_frag` ([`FRAG_ANY`] if MF
///   or offset != 0, [`FRAG_LATER`] if offset != 0; later fragments get no L4
///   fields). Ethernet padding beyond the total length is ignored.
/// * IPv6 (RFC 8200 sections 3, 4): payload length within the frame; hop-by-hop,
///   routing, destination options (RFC 8200 section 4.3-4.6), AH (RFC 4302
///   section 2) and fragment (RFC 8200 section 4.5) headers are walked to the
///   upper-layer protocol. A fragment header with non-zero offset/flags sets
///   [`FRAG_ANY`]; a non-zero offset also sets [`FRAG_LATER`] and leaves
///   `nw_proto` = 44 (fragment), as OVS does.
/// * TCP (RFC 9293 section 3.1): ports and the 12 flag bits of the
///   offset/flags half-word, if the data offset is >= 5 and the whole TCP
///   header is present. UDP (RFC 768), SCTP (RFC 9260 section 3.1): ports.
/// * ICMPv4 (RFC 792) and ICMPv6 (RFC 4443 section 2.1): type in `tp_src`,
///   code in `tp_dst` (8 header bytes required). IGMP (RFC 2236 section 2):
///   type, code and group address.
/// * ICMPv6 Neighbor Solicitation / Advertisement with code 0 (RFC 4861
///   sections 4.3, 4.4): target address in `nd_target`, source / target
///   link-layer address options (section 4.6.1, 8 bytes long) in `arp_sha` /
///   `arp_tha`. As in OVS both options are accepted in both messages; a
///   repeated option invalidates all ND fields (only type/code are kept).
///
/// `key.hash` is [`crate::miniflow::hash_words`] of the key (what [`FlowKey::rehash`]
/// computes), except when the receiving port gave the packet a hash
/// (`pkt.rss_valid`, e.g. a NIC's RSS hash): then it is that hash mixed with
/// `recirc_id`, as OVS uses the RSS hash for its EMC (the EMC and SMC compare
/// the whole key after a hash match, so any hash that is a function of the
/// packet is correct; equal keys from packets with and without an RSS hash
/// merely hash differently).
///
/// Returns [`ExtractStatus::Malformed`] when a header is truncated or
/// inconsistent; `key` then holds every field parsed before it. Never panics,
/// never allocates.
pub fn extract(pkt: &mut DpPacket, key: &mut FlowKey) -> ExtractStatus {
    if extract_fast(pkt, key) {
        ExtractStatus::Ok
    } else {
        extract_general(pkt, key)
    }
}

/// What the "simple match" fast path needs of a packet (OVS
/// `dfc_processing` with `simple_match_enabled`: `parse_dl_type`,
/// `parse_tcp_flags`, `lib/flow.c`): the fields of a simple megaflow mask
/// and the TCP flags for the flow's statistics. Values are host order, as in
/// [`crate::flow`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimpleFields {
    /// `eth_type` after at most two VLAN tags.
    pub eth_type: u16,
    /// `vlan_tci` of the outer tag with [`VLAN_CFI`] set, 0 if untagged.
    pub vlan_tci: u16,
    /// `nw_frag` ([`FRAG_ANY`], [`FRAG_LATER`]; 0 for non-IP).
    pub nw_frag: u8,
    /// The 12 TCP flag bits (0 for non-TCP packets and later fragments).
    pub tcp_flags: u16,
}

/// Minimal parse for the simple-match fast path: the fields of
/// [`SimpleFields`] of an Ethernet frame (`pkt.md.packet_type == 0`), giving
/// exactly the values [`extract`] would, and the same header offsets, which
/// it sets on `pkt` (actions rely on them).
///
/// Only packets that [`extract`] would parse without error are handled:
/// Ethernet II frames with at most two 802.1Q/802.1ad tags carrying IPv4
/// (any valid header, fragments included) or IPv6 without extension
/// headers, with a complete TCP, UDP, SCTP, ICMP, IGMP or ICMPv6 (not
/// Neighbor Discovery) header or another protocol, or an Ethertype
/// [`extract`] does not parse further (not ARP/RARP, MPLS, NSH). Anything
/// else (802.3 frames, a third tag, IPv6 extension headers, ND, every
/// truncated or inconsistent header) returns `None` without touching `pkt`,
/// and the caller must use [`extract`]. Never panics.
#[inline(always)]
pub fn extract_simple(pkt: &mut DpPacket) -> Option<SimpleFields> {
    if pkt.md.packet_type != 0 {
        return None;
    }
    if let Some(f) = simple_eth_ipv4_fast(pkt.data()) {
        pkt.l2_5_ofs = OFS_NONE;
        pkt.l3_ofs = ETH_HEADER_LEN as u16;
        pkt.l4_ofs = (ETH_HEADER_LEN + IPV4_HEADER_LEN) as u16;
        return Some(f);
    }
    extract_simple_general(pkt)
}

/// [`extract_simple`] of the common frame, as [`parse_eth_ipv4_fast`]:
/// untagged Ethernet II, option-less unfragmented IPv4, complete UDP or TCP
/// header, one length check; `None` for anything else.
#[inline(always)]
fn simple_eth_ipv4_fast(d: &[u8]) -> Option<SimpleFields> {
    const L3: usize = ETH_HEADER_LEN;
    const L4: usize = L3 + IPV4_HEADER_LEN;
    let h = d.first_chunk::<{ L4 + UDP_HEADER_LEN }>()?;
    let tot_len = be16(h, L3 + 2) as usize;
    if be16(h, 12) != ETH_TYPE_IP
        || h[L3] & 0x0f != 5
        || tot_len > d.len() - L3
        || be16(h, L3 + 6) & 0x3fff != 0
    {
        return None;
    }
    let tcp_flags = match h[L3 + 9] {
        IPPROTO_UDP if tot_len >= IPV4_HEADER_LEN + UDP_HEADER_LEN => 0,
        IPPROTO_TCP if tot_len >= IPV4_HEADER_LEN + TCP_HEADER_LEN => {
            let t = d.first_chunk::<{ L4 + TCP_HEADER_LEN }>()?;
            let ctl = be16(t, L4 + 12);
            let hlen = (ctl >> 12) as usize * 4;
            if hlen < TCP_HEADER_LEN || hlen > tot_len - IPV4_HEADER_LEN {
                return None;
            }
            ctl & 0x0fff
        }
        _ => return None,
    };
    Some(SimpleFields {
        eth_type: ETH_TYPE_IP,
        vlan_tci: 0,
        nw_frag: 0,
        tcp_flags,
    })
}

/// [`extract_simple`] of any frame.
#[inline(never)]
fn extract_simple_general(pkt: &mut DpPacket) -> Option<SimpleFields> {
    let d = pkt.data();
    let eth = hdr::<ETH_HEADER_LEN>(d, 0)?;
    let mut p = 12;
    let mut type_field = be16(eth, 12);
    let mut vlan_tci = 0u16;
    let mut n = 0;
    while n < 2 && (type_field == ETH_TYPE_VLAN_8021Q || type_field == ETH_TYPE_VLAN_8021AD) {
        let tag = hdr::<6>(d, p)?;
        if n == 0 {
            vlan_tci = be16(tag, 2) | VLAN_CFI;
        }
        p += 4;
        type_field = be16(tag, 4);
        n += 1;
    }
    p += 2;
    let mut f = SimpleFields {
        eth_type: type_field,
        vlan_tci,
        nw_frag: 0,
        tcp_flags: 0,
    };
    let l4 = match type_field {
        ETH_TYPE_IP => {
            let ip = hdr::<IPV4_HEADER_LEN>(d, p)?;
            let avail = d.len() - p;
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let tot_len = be16(ip, 2) as usize;
            if ihl < IPV4_HEADER_LEN || ihl > avail || tot_len > avail || ihl > tot_len {
                return None;
            }
            let frag_off = be16(ip, 6);
            if frag_off & 0x3fff != 0 {
                f.nw_frag = FRAG_ANY;
                if frag_off & 0x1fff != 0 {
                    f.nw_frag |= FRAG_LATER;
                }
            }
            if f.nw_frag & FRAG_LATER == 0 {
                f.tcp_flags = simple_l4(&d[..p + tot_len], p + ihl, ip[9])?;
            }
            p + ihl
        }
        ETH_TYPE_IPV6 => {
            let ip = hdr::<IPV6_HEADER_LEN>(d, p)?;
            let plen = be16(ip, 4) as usize;
            if IPV6_HEADER_LEN + plen > d.len() - p {
                return None;
            }
            let l4 = p + IPV6_HEADER_LEN;
            if is_ipv6_ext(ip[6]) {
                return None;
            }
            f.tcp_flags = simple_l4(&d[..l4 + plen], l4, ip[6])?;
            l4
        }
        ETH_TYPE_ARP | ETH_TYPE_RARP | ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST | ETH_TYPE_NSH => {
            return None
        }
        t if t < ETH_TYPE_MIN || t == ETH_TYPE_VLAN_8021Q || t == ETH_TYPE_VLAN_8021AD => {
            return None
        }
        _ => {
            pkt.l2_5_ofs = OFS_NONE;
            pkt.l3_ofs = to_ofs(p);
            pkt.l4_ofs = OFS_NONE;
            return Some(f);
        }
    };
    pkt.l2_5_ofs = OFS_NONE;
    pkt.l3_ofs = to_ofs(p);
    pkt.l4_ofs = to_ofs(l4);
    Some(f)
}

/// TCP flags (0 if not TCP) of the L4 header of protocol `proto` at `p` in
/// `d` (which ends with the IP packet), with [`parse_l4`]'s validity checks:
/// `None` for a header [`parse_l4`] would call malformed, and for ICMPv6
/// Neighbor Discovery (left to [`extract`]).
#[inline(always)]
fn simple_l4(d: &[u8], p: usize, proto: u8) -> Option<u16> {
    match proto {
        IPPROTO_TCP => {
            let t = hdr::<TCP_HEADER_LEN>(d, p)?;
            let ctl = be16(t, 12);
            let hlen = (ctl >> 12) as usize * 4;
            if hlen < TCP_HEADER_LEN || hlen > d.len() - p {
                return None;
            }
            Some(ctl & 0x0fff)
        }
        IPPROTO_UDP => hdr::<UDP_HEADER_LEN>(d, p).map(|_| 0),
        IPPROTO_SCTP => hdr::<SCTP_HEADER_LEN>(d, p).map(|_| 0),
        IPPROTO_ICMP => hdr::<ICMP_HEADER_LEN>(d, p).map(|_| 0),
        IPPROTO_IGMP => hdr::<IGMP_HEADER_LEN>(d, p).map(|_| 0),
        IPPROTO_ICMPV6 => {
            let h = hdr::<ICMP6_DATA_HEADER_LEN>(d, p)?;
            (h[1] != 0 || (h[0] != ND_NEIGHBOR_SOLICIT && h[0] != ND_NEIGHBOR_ADVERT)).then_some(0)
        }
        _ => Some(0),
    }
}

/// [`extract`] of any packet (the general parser).
#[inline(never)]
fn extract_general(pkt: &mut DpPacket, key: &mut FlowKey) -> ExtractStatus {
    let mut ofs = Offsets {
        l2_5: usize::MAX,
        l3: usize::MAX,
        l4: usize::MAX,
    };
    let mut b = KeyWriter::new(key);
    push_metadata(&mut b, &pkt.md);
    let status = parse_frame(pkt.data(), pkt.md.packet_type, &mut b, &mut ofs);
    b.finish(pkt.rss_valid.then_some(pkt.rss_hash), pkt.md.recirc_id);
    pkt.l2_5_ofs = to_ofs(ofs.l2_5);
    pkt.l3_ofs = to_ofs(ofs.l3);
    pkt.l4_ofs = to_ofs(ofs.l4);
    status
}

/// The full [`Flow`] of `pkt` (control path and tests); sets the packet's
/// header offsets like [`extract`]. A malformed packet yields the fields that
/// could be parsed.
pub fn extract_flow(pkt: &mut DpPacket) -> Flow {
    let mut key = FlowKey::default();
    extract(pkt, &mut key);
    key.to_flow()
}

/// Pushes the metadata words 0..=50 (all but `packet_type`, which lives in the
/// L2 area of the layout).
#[inline(always)]
fn push_metadata(b: &mut KeyWriter<'_>, md: &PacketMetadata) {
    b.push_word(0, (md.in_port as u64) << 32 | md.recirc_id as u64);
    b.push_word(1, (md.dp_hash as u64) << 32 | md.skb_priority as u64);
    push_ct(b, md);
    let t = &md.tunnel;
    if t.is_set() {
        b.push_word(11, t.tun_id);
        b.push_word(12, (t.ipv4_src as u64) << 32 | t.ipv4_dst as u64);
        b.push_word(13, (t.ipv6_src >> 64) as u64);
        b.push_word(14, t.ipv6_src as u64);
        b.push_word(15, (t.ipv6_dst >> 64) as u64);
        b.push_word(16, t.ipv6_dst as u64);
        b.push_word(
            17,
            (t.flags as u64) << 48
                | (t.tos as u64) << 40
                | (t.ttl as u64) << 32
                | (t.tp_src as u64) << 16
                | t.tp_dst as u64,
        );
        // Geneve options (RFC 8926 section 3.5), at most 252 bytes; bytes
        // beyond `opts_len` may be stale and are never read.
        let len = (t.opts_len as usize).min(TUN_OPTS_MAX_LEN);
        b.push_word(
            18,
            (t.gbp_id as u64) << 48 | (t.gbp_flags as u64) << 40 | (len as u64) << 32,
        );
        if len > 0 {
            push_tun_opts(b, &t.opts[..len]);
        }
    }
}

/// Words 2..=10: `pkt_mark` and the conntrack metadata. Words 3..=10 are
/// only looked at when the packet has a conntrack mark, label or tuple
/// (tracked packets); otherwise they are all zero.
#[inline(always)]
fn push_ct(b: &mut KeyWriter<'_>, md: &PacketMetadata) {
    let word2 = (md.pkt_mark as u64) << 32 | (md.ct_zone as u64) << 16 | (md.ct_state as u64) << 8;
    if matches!(md.ct_orig, CtOrigTuple::None) && md.ct_mark == 0 && md.ct_label == 0 {
        b.push_word(2, word2);
        return;
    }
    let (ct_proto, ct_tp) = match md.ct_orig {
        CtOrigTuple::None => (0u8, 0u32),
        CtOrigTuple::V4 {
            src_port,
            dst_port,
            proto,
            ..
        }
        | CtOrigTuple::V6 {
            src_port,
            dst_port,
            proto,
            ..
        } => (proto, (src_port as u32) << 16 | dst_port as u32),
    };
    b.push_word(2, word2 | ct_proto as u64);
    b.push_word(3, (md.ct_mark as u64) << 32 | ct_tp as u64);
    b.push_word(4, (md.ct_label >> 64) as u64);
    b.push_word(5, md.ct_label as u64);
    match md.ct_orig {
        CtOrigTuple::None => {}
        CtOrigTuple::V4 { src, dst, .. } => b.push_word(6, (src as u64) << 32 | dst as u64),
        CtOrigTuple::V6 { src, dst, .. } => {
            b.push_word(7, (src >> 64) as u64);
            b.push_word(8, src as u64);
            b.push_word(9, (dst >> 64) as u64);
            b.push_word(10, dst as u64);
        }
    }
}

/// Pushes Geneve option bytes into words 19.., 8 bytes per word (big-endian),
/// the last word zero-padded.
#[inline(never)]
fn push_tun_opts(b: &mut KeyWriter<'_>, opts: &[u8]) {
    let mut chunks = opts.chunks_exact(8);
    let mut idx = TUN_OPTS_WORD;
    for c in &mut chunks {
        b.push_word(idx, be64(c, 0));
        idx += 1;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        b.push_word(idx, u64::from_be_bytes(w));
    }
}

/// Parses the frame: L2 (Ethernet, VLAN, LLC/SNAP), MPLS, then L3 and L4.
#[inline(always)]
fn parse_frame(
    d: &[u8],
    packet_type: u32,
    b: &mut KeyWriter<'_>,
    o: &mut Offsets,
) -> ExtractStatus {
    let mut p: usize;
    let dl_type: u16;
    if packet_type == 0 {
        // Ethernet II / IEEE 802.3 header.
        let Some(eth) = hdr::<ETH_HEADER_LEN>(d, 0) else {
            return ExtractStatus::Malformed;
        };
        let dst_w = be64(eth, 0) & MAC_WORD_MASK;
        let src_w = be64(eth, 6) & MAC_WORD_MASK;
        // 802.1Q / 802.1ad tags: TPID, TCI, then the next type (6 bytes).
        p = 12;
        let mut type_field = be16(eth, 12);
        let mut vlan_w = 0u64;
        let mut n = 0;
        while n < 2 && (type_field == ETH_TYPE_VLAN_8021Q || type_field == ETH_TYPE_VLAN_8021AD) {
            let Some(tag) = hdr::<6>(d, p) else {
                // Truncated tag: OVS leaves the TPID as eth_type.
                b.push_word(51, dst_w | type_field as u64);
                b.push_word(52, src_w);
                b.push_word(53, vlan_w);
                return ExtractStatus::Malformed;
            };
            let tci = be16(tag, 2) | VLAN_CFI;
            let shift = if n == 0 { 32 } else { 0 };
            vlan_w |= ((type_field as u64) << 16 | tci as u64) << shift;
            p += 4;
            type_field = be16(tag, 4);
            n += 1;
        }
        p += 2;
        let mut malformed = false;
        dl_type = if type_field >= ETH_TYPE_MIN {
            type_field
        } else {
            // 802.3 length: 802.2 LLC, possibly SNAP (RFC 1042).
            let rest = &d[p.min(d.len())..];
            if let Some(llc) = rest.first_chunk::<LLC_SNAP_LEN>() {
                if llc[..6] == LLC_SNAP_PREFIX {
                    p += LLC_SNAP_LEN;
                    let t = be16(llc, 6);
                    if t >= ETH_TYPE_MIN {
                        t
                    } else {
                        ETH_TYPE_NONE
                    }
                } else {
                    ETH_TYPE_NONE
                }
            } else {
                // Shorter than a SNAP header: malformed if not even an LLC
                // header (3 bytes) or if a cut SNAP header.
                let k = rest.len().min(6);
                malformed = rest.len() < 3 || rest[..k] == LLC_SNAP_PREFIX[..k];
                ETH_TYPE_NONE
            }
        };
        b.push_word(51, dst_w | dl_type as u64);
        b.push_word(52, src_w);
        b.push_word(53, vlan_w);
        if malformed {
            return ExtractStatus::Malformed;
        }
    } else {
        // L3 packet: no Ethernet header, Ethertype from the packet type.
        dl_type = packet_type as u16;
        p = 0;
        b.push_word(fields::ETH_TYPE.word as usize, dl_type as u64);
    }

    if dl_type == ETH_TYPE_MPLS || dl_type == ETH_TYPE_MPLS_MCAST {
        return parse_mpls(d, p, packet_type, b, o);
    }
    b.push_word(fields::PACKET_TYPE.word as usize, packet_type as u64);

    o.l3 = p;
    match dl_type {
        ETH_TYPE_IP => parse_ipv4(d, p, b, o),
        ETH_TYPE_IPV6 => parse_ipv6(d, p, b, o),
        ETH_TYPE_ARP | ETH_TYPE_RARP => parse_arp(d, p, b),
        ETH_TYPE_NSH => parse_nsh(d, p, b),
        _ => ExtractStatus::Ok,
    }
}

/// MPLS label stack (RFC 3032 section 2.1) at `p`, up to the entry with the
/// bottom-of-stack bit; pushes words 54-55 (with `packet_type`).
#[inline(never)]
fn parse_mpls(
    d: &[u8],
    mut p: usize,
    packet_type: u32,
    b: &mut KeyWriter<'_>,
    o: &mut Offsets,
) -> ExtractStatus {
    o.l2_5 = p;
    let mut lse = [0u32; 3];
    let mut n = 0;
    let mut bos = false;
    while let Some(e) = hdr::<4>(d, p) {
        let v = be32(e, 0);
        if n < 3 {
            lse[n] = v;
        }
        n += 1;
        p += 4;
        if v & 0x100 != 0 {
            bos = true;
            break;
        }
    }
    b.push_word(54, (lse[0] as u64) << 32 | lse[1] as u64);
    b.push_word(55, (lse[2] as u64) << 32 | packet_type as u64);
    if bos {
        o.l3 = p;
        ExtractStatus::Ok
    } else {
        ExtractStatus::Malformed
    }
}

/// NSH base header length in bytes (RFC 8300 section 2.2 base header plus
/// the section 2.3 service path header).
const NSH_BASE_HDR_LEN: usize = 8;
/// NSH length of an MD type 1 header in bytes (RFC 8300 section 2.4).
const NSH_M_TYPE1_LEN: usize = 24;

/// NSH header (RFC 8300 section 2) at `p`, as OVS's `parse_nsh()`
/// (`lib/flow.c`): words 67..=69. Version must be 0 and the header length
/// (6-bit field, 4-byte units) within the frame; MD type 1 must be exactly
/// 24 bytes and gives `nsh_c1..c4`; MD type 2 (length >= 8) and other types
/// leave the context zero. Like OVS nothing after the NSH header is parsed
/// (the inner packet is seen after `decap()` and recirculation).
#[inline(never)]
fn parse_nsh(d: &[u8], p: usize, b: &mut KeyWriter<'_>) -> ExtractStatus {
    let Some(h) = hdr::<NSH_BASE_HDR_LEN>(d, p) else {
        return ExtractStatus::Malformed;
    };
    let vftl = be16(h, 0);
    let version = vftl >> 14;
    let flags = (vftl >> 12) & 0x3;
    let ttl = (vftl >> 6) & 0x3f;
    let len = (vftl & 0x3f) as usize * 4;
    let mdtype = h[2];
    if version != 0 || len > d.len() - p {
        return ExtractStatus::Malformed;
    }
    let mut ctx = (0u64, 0u64);
    match mdtype {
        1 => {
            let Some(m) = hdr::<NSH_M_TYPE1_LEN>(d, p).filter(|_| len == NSH_M_TYPE1_LEN) else {
                return ExtractStatus::Malformed;
            };
            ctx = (be64(m, 8), be64(m, 16));
        }
        2 if len < NSH_BASE_HDR_LEN => return ExtractStatus::Malformed,
        _ => {}
    }
    b.push_word(
        67,
        (flags as u64) << 56
            | (ttl as u64) << 48
            | (mdtype as u64) << 40
            | (h[3] as u64) << 32
            | be32(h, 4) as u64,
    );
    b.push_word(68, ctx.0);
    b.push_word(69, ctx.1);
    ExtractStatus::Ok
}

/// ARP / RARP for Ethernet hardware and IPv4 protocol addresses (RFC 826).
#[inline(never)]
fn parse_arp(d: &[u8], p: usize, b: &mut KeyWriter<'_>) -> ExtractStatus {
    let Some(a) = hdr::<ARP_ETH_HEADER_LEN>(d, p) else {
        return ExtractStatus::Malformed;
    };
    // hrd = 1 (Ethernet), pro = 0x0800, hln = 6, pln = 4; other ARP formats
    // are valid but carry no fields we extract.
    if be16(a, 0) == 1 && be16(a, 2) == ETH_TYPE_IP && a[4] == 6 && a[5] == 4 {
        b.push_word(56, (be32(a, 14) as u64) << 32 | be32(a, 24) as u64);
        let op = be16(a, 6);
        if op <= 0xff {
            b.push_word(61, op as u64);
        }
        b.push_word(64, mac_word(a, 8));
        b.push_word(65, mac_word(a, 18));
    }
    ExtractStatus::Ok
}

/// IPv4 header (RFC 791 section 3.1) at `p`, then L4.
#[inline(always)]
fn parse_ipv4(d: &[u8], p: usize, b: &mut KeyWriter<'_>, o: &mut Offsets) -> ExtractStatus {
    let Some(ip) = hdr::<IPV4_HEADER_LEN>(d, p) else {
        return ExtractStatus::Malformed;
    };
    let avail = d.len() - p;
    let ihl = (ip[0] & 0x0f) as usize * 4;
    let tot_len = be16(ip, 2) as usize;
    if ihl < IPV4_HEADER_LEN || ihl > avail || tot_len > avail || ihl > tot_len {
        return ExtractStatus::Malformed;
    }
    // Addresses: bytes 12..20 are exactly word 56 (nw_src << 32 | nw_dst).
    b.push_word(56, be64(ip, 12));
    let frag_off = be16(ip, 6);
    let mut nw_frag = 0u8;
    if frag_off & 0x3fff != 0 {
        nw_frag = FRAG_ANY;
        if frag_off & 0x1fff != 0 {
            nw_frag |= FRAG_LATER;
        }
    }
    let nw_proto = ip[9];
    b.push_word(
        61,
        (nw_frag as u64) << 24 | (ip[1] as u64) << 16 | (ip[8] as u64) << 8 | nw_proto as u64,
    );
    let l4 = p + ihl;
    o.l4 = l4;
    if nw_frag & FRAG_LATER != 0 {
        return ExtractStatus::Ok;
    }
    // Never parse Ethernet padding as L4.
    parse_l4(&d[..p + tot_len], l4, nw_proto, b)
}

/// IPv6 header (RFC 8200 section 3) at `p`, its extension headers, then L4.
#[inline(always)]
fn parse_ipv6(d: &[u8], p: usize, b: &mut KeyWriter<'_>, o: &mut Offsets) -> ExtractStatus {
    let Some(ip) = hdr::<IPV6_HEADER_LEN>(d, p) else {
        return ExtractStatus::Malformed;
    };
    let plen = be16(ip, 4) as usize;
    if IPV6_HEADER_LEN + plen > d.len() - p {
        return ExtractStatus::Malformed;
    }
    b.push_word(57, be64(ip, 8));
    b.push_word(58, be64(ip, 16));
    b.push_word(59, be64(ip, 24));
    b.push_word(60, be64(ip, 32));
    let tc_flow = be32(ip, 0);
    let tos = (tc_flow >> 20) as u8;
    let ttl = ip[7];
    // Never parse Ethernet padding.
    let d = &d[..p + IPV6_HEADER_LEN + plen];
    let mut l4 = p + IPV6_HEADER_LEN;
    let mut nw_proto = ip[6];
    let mut nw_frag = 0u8;
    if is_ipv6_ext(nw_proto) && !parse_ipv6_ext_hdrs(d, &mut l4, &mut nw_proto, &mut nw_frag) {
        // As OVS: only the addresses are kept.
        return ExtractStatus::Malformed;
    }
    b.push_word(
        61,
        ((tc_flow & 0x000f_ffff) as u64) << 32
            | (nw_frag as u64) << 24
            | (tos as u64) << 16
            | (ttl as u64) << 8
            | nw_proto as u64,
    );
    o.l4 = l4;
    if nw_frag & FRAG_LATER != 0 {
        return ExtractStatus::Ok;
    }
    parse_l4(d, l4, nw_proto, b)
}

#[inline(always)]
fn is_ipv6_ext(proto: u8) -> bool {
    matches!(
        proto,
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_AH | IPPROTO_FRAGMENT
    )
}

/// Walks IPv6 extension headers (RFC 8200 section 4; AH: RFC 4302 section 2)
/// starting at `*p` with next header `*proto`, advancing both to the
/// upper-layer header (OVS `parse_ipv6_ext_hdrs__`). Returns false if a header
/// is truncated. Every header is at least 8 bytes long, so the walk
/// terminates.
#[inline(never)]
fn parse_ipv6_ext_hdrs(d: &[u8], p: &mut usize, proto: &mut u8, frag: &mut u8) -> bool {
    loop {
        if !is_ipv6_ext(*proto) {
            return true;
        }
        let Some(h) = hdr::<8>(d, *p) else {
            return false;
        };
        let len = match *proto {
            // Hdr Ext Len in 8-octet units, not counting the first 8.
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => (h[1] as usize + 1) * 8,
            // Payload Len in 4-octet units, minus 2.
            IPPROTO_AH => (h[1] as usize + 2) * 4,
            // Fragment header (RFC 8200 section 4.5): fixed 8 bytes.
            _ => {
                *proto = h[0];
                *p += 8;
                let offlg = be16(h, 2);
                if offlg != 0 {
                    *frag = FRAG_ANY;
                    if offlg & 0xfff8 != 0 {
                        *frag |= FRAG_LATER;
                        *proto = IPPROTO_FRAGMENT;
                        return true;
                    }
                }
                continue;
            }
        };
        if len > d.len() - *p {
            return false;
        }
        *proto = h[0];
        *p += len;
    }
}

/// Pushes `tp_src` / `tp_dst` (word 66, upper half).
#[inline(always)]
fn push_tp(b: &mut KeyWriter<'_>, src: u16, dst: u16) {
    b.push_word(66, (src as u64) << 48 | (dst as u64) << 32);
}

/// L4 header at `p` of protocol `proto`; `d` ends at the end of the IP packet.
#[inline(always)]
fn parse_l4(d: &[u8], p: usize, proto: u8, b: &mut KeyWriter<'_>) -> ExtractStatus {
    match proto {
        IPPROTO_TCP => {
            let Some(t) = hdr::<TCP_HEADER_LEN>(d, p) else {
                return ExtractStatus::Malformed;
            };
            let ctl = be16(t, 12);
            let hlen = (ctl >> 12) as usize * 4;
            if hlen < TCP_HEADER_LEN || hlen > d.len() - p {
                return ExtractStatus::Malformed;
            }
            b.push_word(64, (ctl & 0x0fff) as u64);
            push_tp(b, be16(t, 0), be16(t, 2));
        }
        IPPROTO_UDP => {
            let Some(u) = hdr::<UDP_HEADER_LEN>(d, p) else {
                return ExtractStatus::Malformed;
            };
            push_tp(b, be16(u, 0), be16(u, 2));
        }
        IPPROTO_SCTP => {
            let Some(s) = hdr::<SCTP_HEADER_LEN>(d, p) else {
                return ExtractStatus::Malformed;
            };
            push_tp(b, be16(s, 0), be16(s, 2));
        }
        IPPROTO_ICMP => {
            let Some(i) = hdr::<ICMP_HEADER_LEN>(d, p) else {
                return ExtractStatus::Malformed;
            };
            push_tp(b, i[0] as u16, i[1] as u16);
        }
        IPPROTO_IGMP => {
            let Some(g) = hdr::<IGMP_HEADER_LEN>(d, p) else {
                return ExtractStatus::Malformed;
            };
            b.push_word(
                66,
                (g[0] as u64) << 48 | (g[1] as u64) << 32 | be32(g, 4) as u64,
            );
        }
        IPPROTO_ICMPV6 => return parse_icmpv6(d, p, b),
        _ => {}
    }
    ExtractStatus::Ok
}

/// ICMPv6 (RFC 4443 section 2.1) at `p`, with Neighbor Discovery NS/NA
/// (RFC 4861 sections 4.3, 4.4, 4.6.1), as OVS `parse_icmpv6()`.
#[inline(never)]
fn parse_icmpv6(d: &[u8], p: usize, b: &mut KeyWriter<'_>) -> ExtractStatus {
    let Some(h) = hdr::<ICMP6_DATA_HEADER_LEN>(d, p) else {
        return ExtractStatus::Malformed;
    };
    let (ty, code) = (h[0], h[1]);
    if code != 0 || (ty != ND_NEIGHBOR_SOLICIT && ty != ND_NEIGHBOR_ADVERT) {
        push_tp(b, ty as u16, code as u16);
        return ExtractStatus::Ok;
    }
    let tp = p + ICMP6_DATA_HEADER_LEN;
    let Some(target) = hdr::<16>(d, tp) else {
        push_tp(b, ty as u16, code as u16);
        return ExtractStatus::Malformed;
    };
    // Options: type, length in 8-octet units, value.
    let mut sll = 0u64;
    let mut tll = 0u64;
    let mut q = tp + 16;
    let mut status = ExtractStatus::Ok;
    while let Some(opt) = hdr::<8>(d, q) {
        let opt_len = opt[1] as usize * 8;
        if opt_len == 0 || opt_len > d.len() - q {
            // OVS stops here and keeps what was parsed so far.
            status = ExtractStatus::Malformed;
            break;
        }
        if opt_len == 8 && (opt[0] == ND_OPT_SOURCE_LINKADDR || opt[0] == ND_OPT_TARGET_LINKADDR) {
            let slot = if opt[0] == ND_OPT_SOURCE_LINKADDR {
                &mut sll
            } else {
                &mut tll
            };
            if *slot != 0 {
                // Duplicate option: OVS drops every ND field.
                push_tp(b, ty as u16, code as u16);
                return ExtractStatus::Malformed;
            }
            *slot = mac_word(opt, 2);
        }
        q += opt_len;
    }
    if q < d.len() && status == ExtractStatus::Ok {
        // 1..7 trailing bytes: a truncated option.
        status = ExtractStatus::Malformed;
    }
    b.push_word(62, be64(target, 0));
    b.push_word(63, be64(target, 8));
    b.push_word(64, sll);
    b.push_word(65, tll);
    push_tp(b, ty as u16, code as u16);
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet/IPv4 frame with `proto` and an L4 header of `l4_len` bytes
    /// (TCP data offset 5), `pad` bytes of Ethernet padding after it.
    fn frame(proto: u8, l4_len: usize, pad: usize) -> Vec<u8> {
        let mut f = vec![
            0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00,
        ];
        let tot = (IPV4_HEADER_LEN + l4_len) as u16;
        f.extend_from_slice(&[0x45, 0x10]);
        f.extend_from_slice(&tot.to_be_bytes());
        f.extend_from_slice(&[
            0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 192, 168, 1, 200,
        ]);
        let mut l4 = vec![0u8; l4_len];
        l4[..4].copy_from_slice(&[0x04, 0x00, 0x00, 0x50]);
        if proto == IPPROTO_TCP && l4_len >= 14 {
            l4[12] = 0x50;
            l4[13] = 0x12;
        }
        f.extend_from_slice(&l4);
        f.resize(f.len() + pad, 0);
        f
    }

    /// The fast path, when it takes a packet, gives exactly what the
    /// general parser gives (key, hash, offsets), over random mutations and
    /// truncations of UDP and TCP frames.
    #[test]
    fn fast_path_equals_general_parser() {
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let bases = [
            frame(IPPROTO_UDP, 8, 18),
            frame(IPPROTO_UDP, 8, 0),
            frame(IPPROTO_TCP, 20, 6),
            frame(IPPROTO_TCP, 24, 0),
        ];
        let mut fast_taken = 0;
        for i in 0..20_000 {
            let mut f = bases[i % bases.len()].clone();
            // Mutate a few bytes of the headers, sometimes truncate.
            for _ in 0..(next() % 3) {
                let at = (next() % 58) as usize % f.len();
                let interesting = [
                    0u8, 5, 6, 17, 0x45, 0x46, 0x08, 0x3f, 0x20, 0x50, 0x40, 0xff,
                ];
                f[at] = interesting[(next() % interesting.len() as u64) as usize];
            }
            if next() % 4 == 0 {
                let len = (next() % (f.len() as u64 + 1)) as usize;
                f.truncate(len);
            }
            let mut a = DpPacket::from_slice(&f);
            a.md.init(3);
            if next() % 5 == 0 {
                a.md.ct_state = 0x21;
                a.md.ct_zone = 7;
                a.md.ct_mark = (next() % 2) as u32;
            }
            if next() % 7 == 0 {
                a.rss_valid = true;
                a.rss_hash = next() as u32;
            }
            let mut b = a.clone();
            let mut ka = FlowKey::default();
            let mut kb = FlowKey::default();
            let taken = extract_fast(&mut a, &mut ka);
            let st_b = extract_general(&mut b, &mut kb);
            if taken {
                fast_taken += 1;
                assert_eq!(st_b, ExtractStatus::Ok, "frame {f:02x?}");
                assert_eq!(ka, kb, "frame {f:02x?}");
                assert_eq!(ka.hash, kb.hash);
                assert_eq!(
                    (a.l2_5_ofs, a.l3_ofs, a.l4_ofs),
                    (b.l2_5_ofs, b.l3_ofs, b.l4_ofs)
                );
            }
        }
        assert!(
            fast_taken > 5_000,
            "fast path taken only {fast_taken} times"
        );
    }
}
