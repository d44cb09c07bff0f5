//! NSH, the Network Service Header (RFC 8300): the flow-key view of its
//! fields ([`NshKey`], OVS `struct ovs_key_nsh`), the header that the
//! `push_nsh` datapath action puts in front of a packet ([`NshPush`]), and the
//! stateless `push_nsh` / `pop_nsh` / `set(nsh(...))` operations on a packet
//! (OVS `push_nsh()` / `pop_nsh()` in `lib/packets.c`, `odp_set_nsh()` in
//! `lib/odp-execute.c`).
//!
//! Header layout (RFC 8300 sections 2.2-2.4), all big-endian:
//!
//! ```text
//!  0                   1                   2                   3
//! |Ver|O|U|    TTL    |   Length  |U|U|U|U|MD Type| Next Protocol |
//! |          Service Path Identifier (SPI)        | Service Index |
//! |   context headers: 16 bytes (MD type 1) or TLVs (MD type 2)   |
//! ```
//!
//! `Length` counts 4-byte words of the whole NSH header. OVS keeps the O and
//! U bits as a 2-bit `flags` field, the TTL as 6 bits.

use crate::flow::{fields as F, Flow};
use crate::packet::{DpPacket, OFS_NONE};

/// Ethertype of NSH (IANA "IEEE 802 Numbers", RFC 8300 section 9.1).
pub const ETH_TYPE_NSH: u16 = 0x894f;
/// OpenFlow packet type of an NSH packet without Ethernet: namespace 1
/// (Ethertype), type 0x894f (OVS `PT_NSH`).
pub const PT_NSH: u32 = 1 << 16 | ETH_TYPE_NSH as u32;
/// Packet type of an IPv4 packet without Ethernet (OVS `PT_IPV4`).
pub const PT_IPV4: u32 = 1 << 16 | 0x0800;
/// Packet type of an IPv6 packet without Ethernet (OVS `PT_IPV6`).
pub const PT_IPV6: u32 = 1 << 16 | 0x86dd;
/// Packet type of an Ethernet frame (OVS `PT_ETH`).
pub const PT_ETH: u32 = 0;

/// NSH next protocol: IPv4 (RFC 8300 section 9.1).
pub const NSH_P_IPV4: u8 = 1;
/// NSH next protocol: IPv6.
pub const NSH_P_IPV6: u8 = 2;
/// NSH next protocol: Ethernet.
pub const NSH_P_ETHERNET: u8 = 3;
/// NSH next protocol: NSH.
pub const NSH_P_NSH: u8 = 4;
/// NSH next protocol: MPLS.
pub const NSH_P_MPLS: u8 = 5;

/// MD type 1: four fixed 4-byte context headers (RFC 8300 section 2.4).
pub const NSH_M_TYPE1: u8 = 1;
/// MD type 2: variable-length TLV context headers (RFC 8300 section 2.5).
pub const NSH_M_TYPE2: u8 = 2;
/// Base plus service path header, bytes.
pub const NSH_BASE_HDR_LEN: usize = 8;
/// Total length of an MD type 1 header, bytes.
pub const NSH_M_TYPE1_LEN: usize = 24;
/// Largest NSH header: the 6-bit length field in 4-byte words, bytes.
pub const NSH_HDR_MAX_LEN: usize = 252;

/// The NSH fields of a flow key (OVS `struct ovs_key_nsh`, `ovs-fields(7)`
/// "Network Service Header Fields"). Host-order integers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NshKey {
    /// O and U bits (2 bits used).
    pub flags: u8,
    /// TTL (6 bits used).
    pub ttl: u8,
    /// MD type.
    pub mdtype: u8,
    /// Next protocol ([`NSH_P_IPV4`] ...).
    pub np: u8,
    /// Service path header: `spi << 8 | si`.
    pub path_hdr: u32,
    /// MD type 1 context headers `c1..c4` (zero for other MD types).
    pub context: [u32; 4],
}

impl NshKey {
    /// Service path identifier (24 bits).
    pub fn spi(&self) -> u32 {
        self.path_hdr >> 8
    }

    /// Service index.
    pub fn si(&self) -> u8 {
        self.path_hdr as u8
    }

    /// The NSH fields of `flow` (words 67..=69).
    pub fn from_flow(flow: &Flow) -> NshKey {
        NshKey {
            flags: flow.get(F::NSH_FLAGS) as u8,
            ttl: flow.get(F::NSH_TTL) as u8,
            mdtype: flow.get(F::NSH_MDTYPE) as u8,
            np: flow.get(F::NSH_NP) as u8,
            path_hdr: flow.get(F::NSH_PATH_HDR) as u32,
            context: [
                flow.get(F::NSH_C1) as u32,
                flow.get(F::NSH_C2) as u32,
                flow.get(F::NSH_C3) as u32,
                flow.get(F::NSH_C4) as u32,
            ],
        }
    }

    /// Writes these values into the NSH fields of `flow`.
    pub fn to_flow(&self, flow: &mut Flow) {
        flow.set(F::NSH_FLAGS, self.flags as u64);
        flow.set(F::NSH_TTL, self.ttl as u64);
        flow.set(F::NSH_MDTYPE, self.mdtype as u64);
        flow.set(F::NSH_NP, self.np as u64);
        flow.set(F::NSH_PATH_HDR, self.path_hdr as u64);
        for (f, c) in [F::NSH_C1, F::NSH_C2, F::NSH_C3, F::NSH_C4]
            .into_iter()
            .zip(self.context)
        {
            flow.set(f, c as u64);
        }
    }
}

/// The header pushed by the `push_nsh` datapath action (OVS
/// `OVS_ACTION_ATTR_PUSH_NSH`): the base fields from `key` (its `context` is
/// used for MD type 1), and for MD type 2 the raw TLV bytes `md2` (a
/// multiple of 4 bytes, at most `NSH_HDR_MAX_LEN - 8`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct NshPush {
    /// Base header fields; `np` is replaced by the inner packet's protocol
    /// when pushed, as OVS does.
    pub key: NshKey,
    /// MD type 2 context TLVs (empty for MD type 1).
    pub md2: Vec<u8>,
}

impl NshPush {
    /// Header length in bytes: 24 for MD type 1, `8 + md2.len()` otherwise.
    pub fn len(&self) -> usize {
        if self.key.mdtype == NSH_M_TYPE1 {
            NSH_M_TYPE1_LEN
        } else {
            (NSH_BASE_HDR_LEN + self.md2.len()).min(NSH_HDR_MAX_LEN) & !3
        }
    }

    /// True if the header would be only the base header (never for MD type 1).
    pub fn is_empty(&self) -> bool {
        self.len() == NSH_BASE_HDR_LEN
    }

    /// Writes the header (`self.len()` bytes) into `out`, with `np` as the
    /// next protocol. `out` must be at least `self.len()` bytes long.
    fn write(&self, out: &mut [u8], np: u8) {
        let len = self.len();
        let k = &self.key;
        let vftl: u16 =
            ((k.flags as u16 & 0x3) << 12) | ((k.ttl as u16 & 0x3f) << 6) | (len / 4) as u16 & 0x3f;
        out[0..2].copy_from_slice(&vftl.to_be_bytes());
        out[2] = k.mdtype & 0x0f;
        out[3] = np;
        out[4..8].copy_from_slice(&k.path_hdr.to_be_bytes());
        if k.mdtype == NSH_M_TYPE1 {
            for (i, c) in k.context.iter().enumerate() {
                out[8 + 4 * i..12 + 4 * i].copy_from_slice(&c.to_be_bytes());
            }
        } else {
            out[8..len].copy_from_slice(&self.md2[..len - NSH_BASE_HDR_LEN]);
        }
    }
}

/// `push_nsh`: puts the NSH header of `push` in front of the packet, whose
/// current type (Ethernet, IPv4, IPv6 or NSH) becomes the next protocol; the
/// packet type becomes [`PT_NSH`] and `l3_ofs` 0 (OVS `push_nsh()`). A
/// packet of any other type is left unchanged and `false` is returned (OVS
/// asserts that xlate never produces that).
pub fn push_nsh(p: &mut DpPacket, push: &NshPush) -> bool {
    let np = match p.md.packet_type {
        PT_ETH => NSH_P_ETHERNET,
        PT_IPV4 => NSH_P_IPV4,
        PT_IPV6 => NSH_P_IPV6,
        PT_NSH => NSH_P_NSH,
        _ => return false,
    };
    let len = push.len();
    push.write(p.push_front(len), np);
    p.md.packet_type = PT_NSH;
    p.reset_offsets();
    p.l3_ofs = 0;
    true
}

/// `pop_nsh`: removes the NSH header of a [`PT_NSH`] packet (at `l3_ofs`,
/// normally 0) and sets the packet type from its next protocol (OVS
/// `pop_nsh()`); offsets are cleared, the packet must be recirculated to be
/// parsed again. Packets of another type are left unchanged. Returns `false`
/// (the caller drops the packet) for an unknown next protocol or a header
/// that does not fit in the frame.
pub fn pop_nsh(p: &mut DpPacket) -> bool {
    if p.md.packet_type != PT_NSH {
        return true;
    }
    let at = if p.l3_ofs == OFS_NONE {
        0
    } else {
        p.l3_ofs as usize
    };
    let Some(h) = p.data().get(at..at + NSH_BASE_HDR_LEN) else {
        return false;
    };
    let len = (h[1] & 0x3f) as usize * 4;
    let next = match h[3] {
        NSH_P_IPV4 => PT_IPV4,
        NSH_P_IPV6 => PT_IPV6,
        NSH_P_ETHERNET => PT_ETH,
        NSH_P_NSH => PT_NSH,
        _ => return false,
    };
    if len < NSH_BASE_HDR_LEN || at + len > p.len() {
        return false;
    }
    p.pull_front(at + len);
    p.reset_offsets();
    p.md.packet_type = next;
    true
}

/// `set(nsh(...))`: rewrites flags, TTL, SPI, SI and (MD type 1) the context
/// headers of the NSH header at `l3_ofs` (OVS `odp_set_nsh()`); with `mask`,
/// only the masked bits. MD type and next protocol are never changed. A
/// packet without a complete NSH header there is left unchanged.
pub fn set_nsh(p: &mut DpPacket, key: &NshKey, mask: Option<&NshKey>) {
    let at = p.l3_ofs;
    if at == OFS_NONE {
        return;
    }
    let at = at as usize;
    let full = NshKey {
        flags: 0xff,
        ttl: 0xff,
        mdtype: 0,
        np: 0,
        path_hdr: u32::MAX,
        context: [u32::MAX; 4],
    };
    let m = mask.unwrap_or(&full);
    let d = p.data_mut();
    let Some(h) = d.get_mut(at..at + NSH_BASE_HDR_LEN) else {
        return;
    };
    let vftl = u16::from_be_bytes([h[0], h[1]]);
    let flags = ((vftl >> 12) & 0x3) as u8;
    let ttl = ((vftl >> 6) & 0x3f) as u8;
    let flags = (key.flags & m.flags) | (flags & !m.flags);
    let ttl = (key.ttl & m.ttl) | (ttl & !m.ttl);
    let vftl = (vftl & 0xc03f) | ((flags as u16 & 0x3) << 12) | ((ttl as u16 & 0x3f) << 6);
    h[0..2].copy_from_slice(&vftl.to_be_bytes());
    let old = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let path = (key.path_hdr & m.path_hdr) | (old & !m.path_hdr);
    h[4..8].copy_from_slice(&path.to_be_bytes());
    let len = (h[1] & 0x3f) as usize * 4;
    if h[2] & 0x0f != NSH_M_TYPE1 || len != NSH_M_TYPE1_LEN {
        return;
    }
    let Some(ctx) = d.get_mut(at + NSH_BASE_HDR_LEN..at + NSH_M_TYPE1_LEN) else {
        return;
    };
    for i in 0..4 {
        let c = &mut ctx[4 * i..4 * i + 4];
        let old = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let v = (key.context[i] & m.context[i]) | (old & !m.context[i]);
        c.copy_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract_flow;

    fn md1() -> NshPush {
        NshPush {
            key: NshKey {
                flags: 0,
                ttl: 63,
                mdtype: NSH_M_TYPE1,
                np: 0,
                path_hdr: 0x123456 << 8 | 255,
                context: [1, 2, 3, 4],
            },
            md2: Vec::new(),
        }
    }

    fn eth_ipv4() -> Vec<u8> {
        let mut v = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        v.extend_from_slice(&[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1]);
        v.extend_from_slice(&[10, 0, 0, 2]);
        v
    }

    #[test]
    fn push_then_pop_restores_the_frame() {
        let frame = eth_ipv4();
        let mut p = DpPacket::from_slice(&frame);
        p.md.init(1);
        assert!(push_nsh(&mut p, &md1()));
        assert_eq!(p.md.packet_type, PT_NSH);
        assert_eq!(p.len(), frame.len() + 24);
        assert_eq!(
            &p.data()[..12],
            &[
                0x0f,
                0xc6,
                1,
                NSH_P_ETHERNET,
                0x12,
                0x34,
                0x56,
                0xff,
                0,
                0,
                0,
                1
            ]
        );
        let f = extract_flow(&mut p);
        assert_eq!(NshKey::from_flow(&f).spi(), 0x123456);
        assert_eq!(f.get(F::NSH_NP), NSH_P_ETHERNET as u64);
        assert_eq!(f.get(F::NSH_C4), 4);
        assert!(pop_nsh(&mut p));
        assert_eq!(p.md.packet_type, PT_ETH);
        assert_eq!(p.data(), &frame[..]);
    }

    #[test]
    fn md2_push_pop_and_l3_inner() {
        let frame = eth_ipv4()[14..].to_vec();
        let mut p = DpPacket::from_slice(&frame);
        p.md.init(1);
        p.md.packet_type = PT_IPV4;
        let mut push = md1();
        push.key.mdtype = NSH_M_TYPE2;
        push.md2 = vec![0, 1, 2, 1, 9, 9, 9, 9];
        assert!(push_nsh(&mut p, &push));
        assert_eq!(p.len(), frame.len() + 16);
        assert_eq!(p.data()[3], NSH_P_IPV4);
        assert!(pop_nsh(&mut p));
        assert_eq!(p.md.packet_type, PT_IPV4);
        assert_eq!(p.data(), &frame[..]);
    }

    #[test]
    fn pop_rejects_bad_headers_and_ignores_other_types() {
        let mut p = DpPacket::from_slice(&[0u8; 4]);
        p.md.packet_type = PT_NSH;
        assert!(!pop_nsh(&mut p));
        let mut hdr = vec![0x0f, 0xc6, 1, 9, 0, 0, 1, 255];
        hdr.extend_from_slice(&[0; 16]);
        let mut p = DpPacket::from_slice(&hdr);
        p.md.packet_type = PT_NSH;
        assert!(!pop_nsh(&mut p), "unknown next protocol");
        hdr[3] = NSH_P_IPV4;
        hdr[1] = 0xc0 | 10;
        let mut p = DpPacket::from_slice(&hdr);
        p.md.packet_type = PT_NSH;
        assert!(!pop_nsh(&mut p), "length beyond the frame");
        let mut p = DpPacket::from_slice(&eth_ipv4());
        assert!(pop_nsh(&mut p));
        assert_eq!(p.data(), &eth_ipv4()[..]);
    }

    #[test]
    fn set_masked_changes_only_masked_bits() {
        let mut p = DpPacket::from_slice(&eth_ipv4());
        p.md.init(1);
        push_nsh(&mut p, &md1());
        let key = NshKey {
            ttl: 10,
            path_hdr: 0xabcdef << 8 | 7,
            context: [0, 0xffff_0000, 0, 0],
            ..NshKey::default()
        };
        let mask = NshKey {
            path_hdr: 0xff,
            context: [0, 0xffff_0000, 0, 0],
            ..NshKey::default()
        };
        set_nsh(&mut p, &key, Some(&mask));
        let f = extract_flow(&mut p);
        let k = NshKey::from_flow(&f);
        assert_eq!((k.spi(), k.si(), k.ttl), (0x123456, 7, 63));
        assert_eq!(k.context, [1, 0xffff_0002, 3, 4]);
        set_nsh(&mut p, &key, None);
        let k = NshKey::from_flow(&extract_flow(&mut p));
        assert_eq!((k.spi(), k.si(), k.ttl, k.mdtype), (0xabcdef, 7, 10, 1));
        assert_eq!(k.context, key.context);
    }
}
