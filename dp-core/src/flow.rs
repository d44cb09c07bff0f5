//! The flow key: every header and metadata field the datapath can match on,
//! laid out as a fixed array of 64-bit words.
//!
//! # Design
//!
//! Like Open vSwitch's `struct flow` (`lib/flow.h`), a [`Flow`] is a flat array
//! of [`FLOW_WORDS`] `u64` words. Each field lives at a fixed word and bit
//! position ([`Field`]), so that
//!
//! * a mask is simply another `Flow` (a field is "matched" where its mask bits
//!   are set), and masking is a word-wise AND;
//! * the compact [`Miniflow`](crate::miniflow::Miniflow) stores only the
//!   non-zero words plus a 128-bit map of which words those are;
//! * hashing and comparison run over words, never over individual fields.
//!
//! Fields are stored as **host-order integers** inside their word (an IPv4
//! address `10.0.0.1` is the integer `0x0a000001`; a MAC address is the 48-bit
//! big-endian integer of its six bytes), never as raw network-order bytes.
//! Masks use the same representation, so a `/24` IPv4 mask is `0xffffff00`.
//!
//! The order of words follows the order in which the extractor
//! ([`crate::extract`]) discovers them: metadata, conntrack, tunnel, L2, L3, L4.
//! The miniflow builder requires pushes in increasing word order, so the
//! extractor must fill fields in layout order.
//!
//! Field semantics follow OVS (`lib/flow.h`, `ovs-fields(7)`):
//! * `vlan*_tci` carries the VLAN CFI/DEI bit [`VLAN_CFI`] as "tag present"
//!   (a zero TCI means "no tag"), exactly like OVS.
//! * `nw_src`/`nw_dst` hold IPv4 addresses and also ARP SPA/TPA; `nw_proto`
//!   holds the ARP opcode for ARP (low 8 bits), as OVS does.
//! * `tp_src`/`tp_dst` hold TCP/UDP/SCTP ports, ICMP type/code and IGMP
//!   type/code.
//! * `arp_sha`/`arp_tha` also hold ICMPv6 ND source/target link-layer
//!   addresses (SLL/TLL).
//! * `nw_frag` holds [`FRAG_ANY`] | [`FRAG_LATER`].
//! * `eth_type` is the innermost Ethertype (after VLAN tags), or
//!   [`ETH_TYPE_NONE`] (`0x05ff`) for an 802.2 frame without SNAP.
//! * The NSH fields (RFC 8300, OVS `struct ovs_key_nsh`) live in the last
//!   words, after L4: a packet with NSH has no L3/L4 fields (like OVS, the
//!   extractor does not look past the NSH header), so pushes stay in order.

use std::fmt;

/// Number of 64-bit words in a [`Flow`].
pub const FLOW_WORDS: usize = 70;

/// Number of 64-bit words reserved for Geneve option TLVs (256 bytes, RFC 8926
/// section 3.5 allows at most 252 bytes of options).
pub const TUN_OPTS_WORDS: usize = 32;

/// Maximum Geneve options length in bytes (RFC 8926 section 3.4: `Opt Len` is 6
/// bits in 4-byte units).
pub const TUN_OPTS_MAX_LEN: usize = 252;

/// First word of the Geneve options area.
pub const TUN_OPTS_WORD: usize = 19;

/// VLAN TCI bit that OVS uses to mean "a VLAN header is present" (the 802.1Q
/// CFI/DEI bit position, `VLAN_CFI` in `lib/packets.h`).
pub const VLAN_CFI: u16 = 0x1000;
/// VLAN ID bits of a TCI.
pub const VLAN_VID_MASK: u16 = 0x0fff;
/// VLAN priority (PCP) bits of a TCI.
pub const VLAN_PCP_MASK: u16 = 0xe000;
/// Bit shift of the PCP within a TCI.
pub const VLAN_PCP_SHIFT: u16 = 13;

/// `nw_frag` bit: the packet is an IP fragment (first or later).
pub const FRAG_ANY: u8 = 1;
/// `nw_frag` bit: the packet is a non-first IP fragment (has no L4 header).
pub const FRAG_LATER: u8 = 2;
/// Mask of all `nw_frag` bits.
pub const FRAG_MASK: u8 = FRAG_ANY | FRAG_LATER;

/// Pseudo Ethertype for 802.2 frames without SNAP (`FLOW_DL_TYPE_NONE` in OVS),
/// used in the text form only; in a [`Flow`] `eth_type` is then
/// `ETH_TYPE_NONE` as well.
pub const ETH_TYPE_NONE: u16 = 0x05ff;

/// Conntrack state bits (`ct_state`), as in OVS `lib/packets.h` / `ovs-fields(7)`.
pub mod ct_state {
    /// Beginning of a new connection.
    pub const NEW: u8 = 0x01;
    /// Part of an existing connection.
    pub const ESTABLISHED: u8 = 0x02;
    /// Related to an existing connection (e.g. an ICMP error).
    pub const RELATED: u8 = 0x04;
    /// Flow is in the reply direction.
    pub const REPLY_DIR: u8 = 0x08;
    /// Could not be tracked (invalid).
    pub const INVALID: u8 = 0x10;
    /// Conntrack has run on the packet.
    pub const TRACKED: u8 = 0x20;
    /// Source NAT was applied.
    pub const SRC_NAT: u8 = 0x40;
    /// Destination NAT was applied.
    pub const DST_NAT: u8 = 0x80;
}

/// Tunnel flag bits (`tun_flags`), as OVS's `FLOW_TNL_F_*` (`lib/packets.h`).
pub mod tun_flags {
    /// Don't-fragment bit was set on the outer IP header.
    pub const DONT_FRAGMENT: u16 = 1 << 0;
    /// Outer UDP/GRE checksum present.
    pub const CSUM: u16 = 1 << 1;
    /// Key present (GRE).
    pub const KEY: u16 = 1 << 2;
    /// Geneve OAM frame.
    pub const OAM: u16 = 1 << 3;
}

/// TCP flag bits as stored in `tcp_flags` (low 12 bits of the TCP header's
/// data-offset/flags field, RFC 9293 section 3.1 plus RFC 3168 ECE/CWR and NS).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// PSH.
    pub const PSH: u16 = 0x008;
    /// ACK.
    pub const ACK: u16 = 0x010;
    /// URG.
    pub const URG: u16 = 0x020;
    /// ECE (RFC 3168).
    pub const ECE: u16 = 0x040;
    /// CWR (RFC 3168).
    pub const CWR: u16 = 0x080;
    /// NS (RFC 3540).
    pub const NS: u16 = 0x100;
}

/// A field's position inside a [`Flow`]: `bits` bits starting at bit `shift`
/// (0 = least significant) of word `word`. Fields wider than 64 bits are
/// described by two consecutive `Field`s (high word first).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Field {
    /// Word index, `< FLOW_WORDS`.
    pub word: u8,
    /// Bit offset of the least significant bit of the field in the word.
    pub shift: u8,
    /// Width in bits, 1..=64.
    pub bits: u8,
    /// Field name as in OVS's datapath text format (for diagnostics).
    pub name: &'static str,
}

impl Field {
    const fn new(word: u8, shift: u8, bits: u8, name: &'static str) -> Field {
        Field {
            word,
            shift,
            bits,
            name,
        }
    }

    /// All-ones value of the field's width (e.g. `0xffff` for a 16-bit field).
    #[inline]
    pub const fn max(self) -> u64 {
        if self.bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }

    /// Mask of the field's bits within its word.
    #[inline]
    pub const fn word_mask(self) -> u64 {
        self.max() << self.shift
    }
}

/// Field definitions (the layout). Names are those of OVS's `struct flow`.
pub mod fields {
    use super::Field;

    // Word 0: datapath port and recirculation.
    /// Datapath input port number (odp port), 32 bits.
    pub const IN_PORT: Field = Field::new(0, 32, 32, "in_port");
    /// Recirculation id, 32 bits (0 for packets fresh from a port).
    pub const RECIRC_ID: Field = Field::new(0, 0, 32, "recirc_id");
    // Word 1.
    /// Datapath hash computed by the `hash` action, 32 bits.
    pub const DP_HASH: Field = Field::new(1, 32, 32, "dp_hash");
    /// `skb_priority` (QoS queue selection), 32 bits.
    pub const SKB_PRIORITY: Field = Field::new(1, 0, 32, "skb_priority");
    // Word 2.
    /// Packet mark (`skb_mark`), 32 bits.
    pub const PKT_MARK: Field = Field::new(2, 32, 32, "skb_mark");
    /// Conntrack zone, 16 bits.
    pub const CT_ZONE: Field = Field::new(2, 16, 16, "ct_zone");
    /// Conntrack state bits ([`super::ct_state`]), 8 bits.
    pub const CT_STATE: Field = Field::new(2, 8, 8, "ct_state");
    /// IP protocol of the conntrack original-direction tuple, 8 bits.
    pub const CT_NW_PROTO: Field = Field::new(2, 0, 8, "ct_nw_proto");
    // Word 3.
    /// Conntrack mark, 32 bits.
    pub const CT_MARK: Field = Field::new(3, 32, 32, "ct_mark");
    /// Original-direction L4 source port, 16 bits.
    pub const CT_TP_SRC: Field = Field::new(3, 16, 16, "ct_tp_src");
    /// Original-direction L4 destination port, 16 bits.
    pub const CT_TP_DST: Field = Field::new(3, 0, 16, "ct_tp_dst");
    // Words 4-5.
    /// Conntrack label, high 64 bits.
    pub const CT_LABEL_HI: Field = Field::new(4, 0, 64, "ct_label");
    /// Conntrack label, low 64 bits.
    pub const CT_LABEL_LO: Field = Field::new(5, 0, 64, "ct_label");
    // Word 6.
    /// Original-direction IPv4 source, 32 bits.
    pub const CT_NW_SRC: Field = Field::new(6, 32, 32, "ct_nw_src");
    /// Original-direction IPv4 destination, 32 bits.
    pub const CT_NW_DST: Field = Field::new(6, 0, 32, "ct_nw_dst");
    // Words 7-10.
    /// Original-direction IPv6 source, high 64 bits.
    pub const CT_IPV6_SRC_HI: Field = Field::new(7, 0, 64, "ct_ipv6_src");
    /// Original-direction IPv6 source, low 64 bits.
    pub const CT_IPV6_SRC_LO: Field = Field::new(8, 0, 64, "ct_ipv6_src");
    /// Original-direction IPv6 destination, high 64 bits.
    pub const CT_IPV6_DST_HI: Field = Field::new(9, 0, 64, "ct_ipv6_dst");
    /// Original-direction IPv6 destination, low 64 bits.
    pub const CT_IPV6_DST_LO: Field = Field::new(10, 0, 64, "ct_ipv6_dst");
    // Word 11.
    /// Tunnel id (VNI / key), 64 bits.
    pub const TUN_ID: Field = Field::new(11, 0, 64, "tun_id");
    // Word 12.
    /// Outer IPv4 source of the tunnel, 32 bits.
    pub const TUN_SRC: Field = Field::new(12, 32, 32, "tun_src");
    /// Outer IPv4 destination of the tunnel, 32 bits.
    pub const TUN_DST: Field = Field::new(12, 0, 32, "tun_dst");
    // Words 13-16.
    /// Outer IPv6 source, high 64 bits.
    pub const TUN_IPV6_SRC_HI: Field = Field::new(13, 0, 64, "tun_ipv6_src");
    /// Outer IPv6 source, low 64 bits.
    pub const TUN_IPV6_SRC_LO: Field = Field::new(14, 0, 64, "tun_ipv6_src");
    /// Outer IPv6 destination, high 64 bits.
    pub const TUN_IPV6_DST_HI: Field = Field::new(15, 0, 64, "tun_ipv6_dst");
    /// Outer IPv6 destination, low 64 bits.
    pub const TUN_IPV6_DST_LO: Field = Field::new(16, 0, 64, "tun_ipv6_dst");
    // Word 17.
    /// Tunnel flags ([`super::tun_flags`]), 16 bits.
    pub const TUN_FLAGS: Field = Field::new(17, 48, 16, "tun_flags");
    /// Outer TOS, 8 bits.
    pub const TUN_TOS: Field = Field::new(17, 40, 8, "tun_tos");
    /// Outer TTL, 8 bits.
    pub const TUN_TTL: Field = Field::new(17, 32, 8, "tun_ttl");
    /// Outer UDP source port, 16 bits.
    pub const TUN_TP_SRC: Field = Field::new(17, 16, 16, "tun_tp_src");
    /// Outer UDP destination port, 16 bits.
    pub const TUN_TP_DST: Field = Field::new(17, 0, 16, "tun_tp_dst");
    // Word 18.
    /// VXLAN-GBP group policy id, 16 bits.
    pub const TUN_GBP_ID: Field = Field::new(18, 48, 16, "tun_gbp_id");
    /// VXLAN-GBP flags, 8 bits.
    pub const TUN_GBP_FLAGS: Field = Field::new(18, 40, 8, "tun_gbp_flags");
    /// Length in bytes of the Geneve options in words 19..51, 8 bits.
    pub const TUN_OPTS_LEN: Field = Field::new(18, 32, 8, "tun_opts_len");
    // Words 19..=50: Geneve option TLVs as raw bytes, 8 bytes per word, each
    // word the big-endian integer of its 8 bytes.
    // Word 51.
    /// Ethernet destination (48-bit big-endian integer of the 6 bytes).
    pub const ETH_DST: Field = Field::new(51, 16, 48, "eth_dst");
    /// Innermost Ethertype, 16 bits.
    pub const ETH_TYPE: Field = Field::new(51, 0, 16, "eth_type");
    // Word 52.
    /// Ethernet source (48-bit big-endian integer of the 6 bytes).
    pub const ETH_SRC: Field = Field::new(52, 16, 48, "eth_src");
    // Word 53.
    /// Outer VLAN TPID (0x8100 or 0x88a8), 16 bits.
    pub const VLAN0_TPID: Field = Field::new(53, 48, 16, "vlan_tpid");
    /// Outer VLAN TCI with [`super::VLAN_CFI`] as presence bit, 16 bits.
    pub const VLAN0_TCI: Field = Field::new(53, 32, 16, "vlan_tci");
    /// Inner VLAN TPID, 16 bits.
    pub const VLAN1_TPID: Field = Field::new(53, 16, 16, "vlan1_tpid");
    /// Inner VLAN TCI with presence bit, 16 bits.
    pub const VLAN1_TCI: Field = Field::new(53, 0, 16, "vlan1_tci");
    // Word 54-55.
    /// Top MPLS label stack entry (label 20, TC 3, BoS 1, TTL 8; RFC 3032), 32 bits.
    pub const MPLS_LSE0: Field = Field::new(54, 32, 32, "mpls_lse0");
    /// Second MPLS label stack entry, 32 bits.
    pub const MPLS_LSE1: Field = Field::new(54, 0, 32, "mpls_lse1");
    /// Third MPLS label stack entry, 32 bits.
    pub const MPLS_LSE2: Field = Field::new(55, 32, 32, "mpls_lse2");
    /// Packet type (OpenFlow 1.5 `packet_type`: namespace << 16 | type), 32 bits;
    /// 0 means Ethernet.
    pub const PACKET_TYPE: Field = Field::new(55, 0, 32, "packet_type");
    // Word 56.
    /// IPv4 source or ARP SPA, 32 bits.
    pub const NW_SRC: Field = Field::new(56, 32, 32, "nw_src");
    /// IPv4 destination or ARP TPA, 32 bits.
    pub const NW_DST: Field = Field::new(56, 0, 32, "nw_dst");
    // Words 57-60.
    /// IPv6 source, high 64 bits.
    pub const IPV6_SRC_HI: Field = Field::new(57, 0, 64, "ipv6_src");
    /// IPv6 source, low 64 bits.
    pub const IPV6_SRC_LO: Field = Field::new(58, 0, 64, "ipv6_src");
    /// IPv6 destination, high 64 bits.
    pub const IPV6_DST_HI: Field = Field::new(59, 0, 64, "ipv6_dst");
    /// IPv6 destination, low 64 bits.
    pub const IPV6_DST_LO: Field = Field::new(60, 0, 64, "ipv6_dst");
    // Word 61.
    /// IPv6 flow label (20 bits used), 32 bits.
    pub const IPV6_LABEL: Field = Field::new(61, 32, 32, "ipv6_label");
    /// Fragment bits ([`super::FRAG_ANY`], [`super::FRAG_LATER`]), 8 bits.
    pub const NW_FRAG: Field = Field::new(61, 24, 8, "nw_frag");
    /// IP TOS / IPv6 traffic class (DSCP << 2 | ECN), 8 bits.
    pub const NW_TOS: Field = Field::new(61, 16, 8, "nw_tos");
    /// IP TTL / IPv6 hop limit, 8 bits.
    pub const NW_TTL: Field = Field::new(61, 8, 8, "nw_ttl");
    /// IP protocol / IPv6 next header after extension headers, or the low 8
    /// bits of the ARP opcode, 8 bits.
    pub const NW_PROTO: Field = Field::new(61, 0, 8, "nw_proto");
    // Words 62-63.
    /// ICMPv6 ND target, high 64 bits.
    pub const ND_TARGET_HI: Field = Field::new(62, 0, 64, "nd_target");
    /// ICMPv6 ND target, low 64 bits.
    pub const ND_TARGET_LO: Field = Field::new(63, 0, 64, "nd_target");
    // Word 64.
    /// ARP SHA or ND SLL (48-bit integer).
    pub const ARP_SHA: Field = Field::new(64, 16, 48, "arp_sha");
    /// TCP flags ([`super::tcp_flags`]), 12 bits used, 16 bits.
    pub const TCP_FLAGS: Field = Field::new(64, 0, 16, "tcp_flags");
    // Word 65.
    /// ARP THA or ND TLL (48-bit integer).
    pub const ARP_THA: Field = Field::new(65, 16, 48, "arp_tha");
    // Word 66.
    /// L4 source port, ICMP type or IGMP type, 16 bits.
    pub const TP_SRC: Field = Field::new(66, 48, 16, "tp_src");
    /// L4 destination port, ICMP code or IGMP code, 16 bits.
    pub const TP_DST: Field = Field::new(66, 32, 16, "tp_dst");
    /// IGMP group address, 32 bits.
    pub const IGMP_GROUP: Field = Field::new(66, 0, 32, "igmp_group_ip4");
    // Words 67-69: NSH (RFC 8300), OVS `struct ovs_key_nsh`. Only packets
    // with `eth_type` 0x894f have them, and such packets have no L3/L4
    // fields, so they sit after L4 and the common IPv4/IPv6 extract never
    // touches them.
    /// NSH base header flags (the 2 bits O and the unassigned bit after it,
    /// RFC 8300 section 2.2, as OVS's `nsh_flags`), 8 bits.
    pub const NSH_FLAGS: Field = Field::new(67, 56, 8, "nsh_flags");
    /// NSH TTL (6 bits used), 8 bits.
    pub const NSH_TTL: Field = Field::new(67, 48, 8, "nsh_ttl");
    /// NSH metadata type (1 or 2), 8 bits.
    pub const NSH_MDTYPE: Field = Field::new(67, 40, 8, "nsh_mdtype");
    /// NSH next protocol (1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS), 8 bits.
    pub const NSH_NP: Field = Field::new(67, 32, 8, "nsh_np");
    /// NSH service path identifier (high 24 bits of the path header), 24 bits.
    pub const NSH_SPI: Field = Field::new(67, 8, 24, "nsh_spi");
    /// NSH service index (low 8 bits of the path header), 8 bits.
    pub const NSH_SI: Field = Field::new(67, 0, 8, "nsh_si");
    /// NSH MD type 1 context header 1, 32 bits.
    pub const NSH_C1: Field = Field::new(68, 32, 32, "nsh_c1");
    /// NSH MD type 1 context header 2, 32 bits.
    pub const NSH_C2: Field = Field::new(68, 0, 32, "nsh_c2");
    /// NSH MD type 1 context header 3, 32 bits.
    pub const NSH_C3: Field = Field::new(69, 32, 32, "nsh_c3");
    /// NSH MD type 1 context header 4, 32 bits.
    pub const NSH_C4: Field = Field::new(69, 0, 32, "nsh_c4");
    /// The NSH path header (`spi << 8 | si`, OVS `path_hdr`), 32 bits; overlaps
    /// [`NSH_SPI`] and [`NSH_SI`] and is therefore not in [`ALL`].
    pub const NSH_PATH_HDR: Field = Field::new(67, 0, 32, "nsh_path_hdr");

    /// Every field above, in layout order (the Geneve option words 19..=50
    /// are not fields; see [`super::Flow::tun_opts`]).
    pub const ALL: &[Field] = &[
        IN_PORT,
        RECIRC_ID,
        DP_HASH,
        SKB_PRIORITY,
        PKT_MARK,
        CT_ZONE,
        CT_STATE,
        CT_NW_PROTO,
        CT_MARK,
        CT_TP_SRC,
        CT_TP_DST,
        CT_LABEL_HI,
        CT_LABEL_LO,
        CT_NW_SRC,
        CT_NW_DST,
        CT_IPV6_SRC_HI,
        CT_IPV6_SRC_LO,
        CT_IPV6_DST_HI,
        CT_IPV6_DST_LO,
        TUN_ID,
        TUN_SRC,
        TUN_DST,
        TUN_IPV6_SRC_HI,
        TUN_IPV6_SRC_LO,
        TUN_IPV6_DST_HI,
        TUN_IPV6_DST_LO,
        TUN_FLAGS,
        TUN_TOS,
        TUN_TTL,
        TUN_TP_SRC,
        TUN_TP_DST,
        TUN_GBP_ID,
        TUN_GBP_FLAGS,
        TUN_OPTS_LEN,
        ETH_DST,
        ETH_TYPE,
        ETH_SRC,
        VLAN0_TPID,
        VLAN0_TCI,
        VLAN1_TPID,
        VLAN1_TCI,
        MPLS_LSE0,
        MPLS_LSE1,
        MPLS_LSE2,
        PACKET_TYPE,
        NW_SRC,
        NW_DST,
        IPV6_SRC_HI,
        IPV6_SRC_LO,
        IPV6_DST_HI,
        IPV6_DST_LO,
        IPV6_LABEL,
        NW_FRAG,
        NW_TOS,
        NW_TTL,
        NW_PROTO,
        ND_TARGET_HI,
        ND_TARGET_LO,
        ARP_SHA,
        TCP_FLAGS,
        ARP_THA,
        TP_SRC,
        TP_DST,
        IGMP_GROUP,
        NSH_FLAGS,
        NSH_TTL,
        NSH_MDTYPE,
        NSH_NP,
        NSH_SPI,
        NSH_SI,
        NSH_C1,
        NSH_C2,
        NSH_C3,
        NSH_C4,
    ];
}

/// Word index of the first L2 word (Ethernet destination).
pub const L2_FIRST_WORD: usize = 51;
/// Word index of the first L3 word.
pub const L3_FIRST_WORD: usize = 56;
/// Word index of the first L4 word (ND target; ARP/ND link addresses, TCP flags
/// and ports follow).
pub const L4_FIRST_WORD: usize = 62;
/// Word index of the first NSH word (words `NSH_FIRST_WORD..FLOW_WORDS`, see
/// [`fields::NSH_FLAGS`]); NSH is an L3 header although it sits after L4 in
/// the layout.
pub const NSH_FIRST_WORD: usize = 67;

/// A full flow key (or a mask): [`FLOW_WORDS`] 64-bit words, field layout in
/// [`fields`]. `Default` is all zero (the empty key / the all-wildcard mask).
#[derive(Clone, PartialEq, Eq, Hash)]
#[repr(C, align(64))]
pub struct Flow {
    /// The words; see [`fields`] for what lives where.
    pub w: [u64; FLOW_WORDS],
}

impl Default for Flow {
    fn default() -> Self {
        Flow { w: [0; FLOW_WORDS] }
    }
}

impl Flow {
    /// The all-zero flow (also the all-wildcard mask).
    pub const fn zero() -> Flow {
        Flow { w: [0; FLOW_WORDS] }
    }

    /// A mask with every bit of every field set (an exact match).
    pub const fn exact() -> Flow {
        Flow {
            w: [u64::MAX; FLOW_WORDS],
        }
    }

    /// Value of field `f` (host order, right-aligned).
    #[inline]
    pub fn get(&self, f: Field) -> u64 {
        (self.w[f.word as usize] >> f.shift) & f.max()
    }

    /// Sets field `f` to `v`; bits of `v` beyond the field width are ignored.
    #[inline]
    pub fn set(&mut self, f: Field, v: u64) {
        let w = &mut self.w[f.word as usize];
        *w = (*w & !f.word_mask()) | ((v & f.max()) << f.shift);
    }

    /// Sets field `f` to all ones (use on a mask: "match this field exactly").
    #[inline]
    pub fn set_exact(&mut self, f: Field) {
        self.set(f, u64::MAX);
    }

    /// Value of a 128-bit field described by its high and low halves.
    #[inline]
    pub fn get128(&self, hi: Field, lo: Field) -> u128 {
        ((self.get(hi) as u128) << 64) | self.get(lo) as u128
    }

    /// Sets a 128-bit field described by its high and low halves.
    #[inline]
    pub fn set128(&mut self, hi: Field, lo: Field, v: u128) {
        self.set(hi, (v >> 64) as u64);
        self.set(lo, v as u64);
    }

    /// Word-wise AND with `mask`: the key as seen through the mask.
    pub fn masked(&self, mask: &Flow) -> Flow {
        let mut out = Flow::zero();
        for i in 0..FLOW_WORDS {
            out.w[i] = self.w[i] & mask.w[i];
        }
        out
    }

    /// True if `self` and `other` agree on every bit set in `mask`.
    pub fn equal_masked(&self, other: &Flow, mask: &Flow) -> bool {
        (0..FLOW_WORDS).all(|i| (self.w[i] ^ other.w[i]) & mask.w[i] == 0)
    }

    /// True if every word is zero.
    pub fn is_zero(&self) -> bool {
        self.w.iter().all(|&w| w == 0)
    }

    /// The Geneve options (raw TLV bytes, RFC 8926 section 3.5) stored in the
    /// key, `tun_opts_len` bytes long.
    pub fn tun_opts(&self) -> Vec<u8> {
        let len = (self.get(fields::TUN_OPTS_LEN) as usize).min(TUN_OPTS_MAX_LEN);
        let mut out = Vec::with_capacity(len);
        for i in 0..TUN_OPTS_WORDS {
            out.extend_from_slice(&self.w[TUN_OPTS_WORD + i].to_be_bytes());
        }
        out.truncate(len);
        out
    }

    /// Stores Geneve option bytes (at most [`TUN_OPTS_MAX_LEN`]; longer input is
    /// truncated) and sets `tun_opts_len`.
    pub fn set_tun_opts(&mut self, opts: &[u8]) {
        let opts = &opts[..opts.len().min(TUN_OPTS_MAX_LEN)];
        for i in 0..TUN_OPTS_WORDS {
            let mut b = [0u8; 8];
            let start = (i * 8).min(opts.len());
            let end = (i * 8 + 8).min(opts.len());
            b[..end - start].copy_from_slice(&opts[start..end]);
            self.w[TUN_OPTS_WORD + i] = u64::from_be_bytes(b);
        }
        self.set(fields::TUN_OPTS_LEN, opts.len() as u64);
    }
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, w) in self.w.iter().enumerate() {
            if *w != 0 {
                m.entry(&i, &format_args!("{w:#018x}"));
            }
        }
        m.finish()
    }
}

/// Converts 6 MAC bytes into the 48-bit integer stored in a [`Flow`].
#[inline]
pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&mac);
    u64::from_be_bytes(b)
}

/// Converts a 48-bit integer from a [`Flow`] back into 6 MAC bytes.
#[inline]
pub fn u64_to_mac(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_fit_their_words_and_do_not_overlap() {
        let all = fields::ALL;
        let mut used = [0u64; FLOW_WORDS];
        for &f in all {
            assert!((f.word as usize) < FLOW_WORDS, "{}", f.name);
            assert!(f.shift as u32 + f.bits as u32 <= 64, "{}", f.name);
            assert_eq!(used[f.word as usize] & f.word_mask(), 0, "{}", f.name);
            used[f.word as usize] |= f.word_mask();
        }
        for (i, u) in used.iter().enumerate().take(TUN_OPTS_WORD + TUN_OPTS_WORDS) {
            if i >= TUN_OPTS_WORD {
                assert_eq!(*u, 0);
            }
        }
        assert_eq!(TUN_OPTS_WORD + TUN_OPTS_WORDS, L2_FIRST_WORD);
    }

    #[test]
    fn set_get_roundtrip_and_masking() {
        let mut f = Flow::zero();
        f.set(fields::NW_SRC, 0x0a00_0001);
        f.set(fields::NW_DST, 0x0a00_0002);
        f.set(fields::ETH_SRC, mac_to_u64([0, 1, 2, 3, 4, 5]));
        assert_eq!(f.get(fields::NW_SRC), 0x0a00_0001);
        assert_eq!(f.get(fields::NW_DST), 0x0a00_0002);
        assert_eq!(u64_to_mac(f.get(fields::ETH_SRC)), [0, 1, 2, 3, 4, 5]);
        let mut m = Flow::zero();
        m.set(fields::NW_SRC, 0xffff_ff00);
        let k = f.masked(&m);
        assert_eq!(k.get(fields::NW_SRC), 0x0a00_0000);
        assert_eq!(k.get(fields::NW_DST), 0);
        assert!(f.equal_masked(&k, &m));
    }

    #[test]
    fn tun_opts_roundtrip() {
        let mut f = Flow::zero();
        let opts: Vec<u8> = (0..20).collect();
        f.set_tun_opts(&opts);
        assert_eq!(f.tun_opts(), opts);
    }
}
