//! The OpenFlow-side flow key ([`XKey`]): the datapath [`Flow`] plus the
//! pipeline-only metadata (`metadata`, registers), and the conversion of
//! OXM/NXM matches ([`OxmMatch`]) to and from value/mask pairs over it.
//!
//! Registers live here, not in dp-core's `Flow`: the datapath never sees them
//! (OVS `struct flow` carries them, but its datapath key does not). Layout of
//! [`XKey::meta`]: word 0 is `metadata` (OpenFlow 1.5.1 section 7.2.3.7,
//! OXM_OF_METADATA), words 1..=8 are `xreg0..7` (64-bit), word 9 is
//! `conj_id` (low 32 bits; non-zero only during the second lookup of a
//! conjunctive match, see [`super::conj`]). As in OVS
//! (`ovs-fields(7)`, "Register Fields"), `reg(2k)` is the high half of
//! `xreg(k)` and `reg(2k+1)` the low half; `xxreg(n)` is `xreg(2n)` (high)
//! followed by `xreg(2n+1)`.
//!
//! In an [`XKey`] used by the pipeline, `in_port` holds the **OpenFlow** port
//! number (the datapath flow key holds the datapath port number; xlate
//! converts).
//!
//! # `tun_metadata`
//!
//! The datapath key keeps a Geneve packet's options as they were on the
//! wire (OVS's "udpif" form: the option TLVs of RFC 8926 section 3.5 in
//! flow words `TUN_OPTS_WORD..TUN_OPTS_WORD + TUN_OPTS_WORDS`,
//! `tun_opts_len` bytes). An OpenFlow key holds instead the
//! **tun_metadata space** in those same words: 256 bytes, byte `b` in word
//! `TUN_OPTS_WORD + b / 8` (big-endian within the word), with
//! `tun_metadataN`'s data at the byte offset the bridge's TLV table gave
//! it ([`crate::tlv::TlvEntry::offset`]), plus a presence bitmap in
//! `meta[`[`TUN_MD_PRESENT_WORD`]`]` (bit N: the packet carries the option
//! mapped to `tun_metadataN`). This is OVS's `struct tun_metadata`
//! (`lib/tun-metadata.c`). xlate converts the wire options into it on
//! entry ([`crate::tlv::TlvTable::geneve_to_md`], OVS
//! `tun_metadata_from_geneve_udpif()`), commits a change as
//! `set(tunnel(...))` with the options re-encoded from the present mapped
//! fields ([`crate::tlv::TlvTable::md_to_geneve`]; unmapped options are
//! not kept, as in OVS), and, if the translation looked at any
//! `tun_metadata`, makes the megaflow match all option bytes and
//! `tun_opts_len` exactly (coarser than OVS's per-option udpif mask, never
//! too wide). A match on `tun_metadataN` implies the option is present,
//! as in OVS.

use crate::ofp::actions::{port_from_of10, port_to_of10};
use crate::ofp::error::{ErrorCode, OfpError};
use crate::ofp::oxm::{Field, MatchField, OxmMatch};
use crate::tlv::{TlvEntry, TlvTable};
use dp_core::flow::{
    fields as f, Field as DpField, Flow, FLOW_WORDS, TUN_OPTS_WORD, TUN_OPTS_WORDS,
};

/// Number of pipeline-only metadata words in an [`XKey`] (metadata, 8
/// xregs, conj_id, tun_metadata presence).
pub const META_WORDS: usize = 11;
/// Index of the `tun_metadata` presence bitmap in [`XKey::meta`] (bit N:
/// `tun_metadataN` is present); see the module documentation.
pub const TUN_MD_PRESENT_WORD: usize = 10;
/// Index of `conj_id` in [`XKey::meta`].
pub const CONJ_ID_WORD: usize = 9;
/// Total 64-bit words of an [`XKey`] as the classifier sees it.
pub const XKEY_WORDS: usize = FLOW_WORDS + META_WORDS;

/// A flow key (or mask) for OpenFlow tables: datapath fields plus metadata
/// and registers. `Default` is all zero (the empty key / all-wildcard mask).
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct XKey {
    /// Packet and datapath metadata fields (`in_port` = OpenFlow port).
    pub flow: Flow,
    /// `metadata` (word 0), `xreg0..7` (words 1..=8), `conj_id` (word 9),
    /// `tun_metadata` presence bits (word 10).
    pub meta: [u64; META_WORDS],
}

/// Where a match field lives in an [`XKey`]: `bits` bits at bit `shift`
/// (0 = least significant) inside a datapath field, or inside a metadata
/// word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// Inside datapath field `.0`, at sub-shift `.1`, `.2` bits wide.
    Dp(DpField, u8, u8),
    /// Inside metadata word `.0` at shift `.1`, `.2` bits wide.
    Meta(u8, u8, u8),
}

fn ones(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl XKey {
    /// Word `i` of the classifier view (`0..FLOW_WORDS` flow words, then the
    /// metadata words).
    #[inline]
    pub fn word(&self, i: usize) -> u64 {
        if i < FLOW_WORDS {
            self.flow.w[i]
        } else {
            self.meta[i - FLOW_WORDS]
        }
    }

    /// Mutable word `i` of the classifier view.
    #[inline]
    pub fn word_mut(&mut self, i: usize) -> &mut u64 {
        if i < FLOW_WORDS {
            &mut self.flow.w[i]
        } else {
            &mut self.meta[i - FLOW_WORDS]
        }
    }

    /// The value at `loc`, right-aligned.
    pub fn get(&self, loc: Loc) -> u64 {
        match loc {
            Loc::Dp(fd, s, b) => (self.flow.get(fd) >> s) & ones(b),
            Loc::Meta(w, s, b) => (self.meta[w as usize] >> s) & ones(b),
        }
    }

    /// Sets the bits of `loc` selected by `mask` (right-aligned) to `v`.
    pub fn set_masked(&mut self, loc: Loc, v: u64, mask: u64) {
        match loc {
            Loc::Dp(fd, s, b) => {
                let m = (mask & ones(b)) << s;
                let cur = self.flow.get(fd);
                self.flow.set(fd, (cur & !m) | ((v << s) & m));
            }
            Loc::Meta(w, s, b) => {
                let m = (mask & ones(b)) << s;
                let cur = &mut self.meta[w as usize];
                *cur = (*cur & !m) | ((v << s) & m);
            }
        }
    }

    /// Sets `loc` to `v`.
    pub fn set(&mut self, loc: Loc, v: u64) {
        self.set_masked(loc, v, u64::MAX);
    }

    /// Word-wise OR (accumulating masks).
    pub fn or_with(&mut self, other: &XKey) {
        for i in 0..XKEY_WORDS {
            *self.word_mut(i) |= other.word(i);
        }
    }

    /// Word-wise AND.
    pub fn masked(&self, mask: &XKey) -> XKey {
        let mut out = XKey::default();
        for i in 0..XKEY_WORDS {
            *out.word_mut(i) = self.word(i) & mask.word(i);
        }
        out
    }

    /// True if every word is zero.
    pub fn is_zero(&self) -> bool {
        (0..XKEY_WORDS).all(|i| self.word(i) == 0)
    }

    /// Byte `b` (< 256) of the tun_metadata space (module documentation).
    #[inline]
    pub fn md_byte(&self, b: usize) -> u8 {
        (self.flow.w[TUN_OPTS_WORD + b / 8] >> ((7 - b % 8) * 8)) as u8
    }

    /// Sets the bits `mask` of byte `b` of the tun_metadata space to `v`.
    #[inline]
    pub fn set_md_byte(&mut self, b: usize, v: u8, mask: u8) {
        let sh = (7 - b % 8) * 8;
        let w = &mut self.flow.w[TUN_OPTS_WORD + b / 8];
        *w = (*w & !((mask as u64) << sh)) | (((v & mask) as u64) << sh);
    }

    /// The `e.len` data bytes of the tun_metadata field at `e`.
    pub fn tun_md(&self, e: &TlvEntry) -> Vec<u8> {
        (0..e.len as usize)
            .map(|i| self.md_byte(e.offset as usize + i))
            .collect()
    }

    /// Writes `value` under `mask` (both `e.len` bytes; shorter slices
    /// are right-aligned, as OVS `copy_entry_value()` does) into the
    /// tun_metadata field at `e`.
    pub fn set_tun_md(&mut self, e: &TlvEntry, value: &[u8], mask: &[u8]) {
        let len = e.len as usize;
        let fit = |b: &[u8]| -> Vec<u8> {
            let b = &b[..b.len().min(len)];
            let mut out = vec![0u8; len - b.len()];
            out.extend_from_slice(b);
            out
        };
        let (v, m) = (fit(value), fit(mask));
        for i in 0..len {
            self.set_md_byte(e.offset as usize + i, v[i], m[i]);
        }
    }

    /// True if any bit of the tun_metadata space or presence map is set
    /// (on a mask: the translation looked at `tun_metadata`).
    pub fn has_tun_md(&self) -> bool {
        self.meta[TUN_MD_PRESENT_WORD] != 0
            || self.flow.w[TUN_OPTS_WORD..TUN_OPTS_WORD + TUN_OPTS_WORDS]
                .iter()
                .any(|&w| w != 0)
    }
}

/// Where `field` lives: one location, or two for 128-bit fields (high 64
/// bits first). `None` for fields the pipeline does not support.
pub fn field_locs(field: Field) -> Option<(Loc, Option<Loc>)> {
    use Field::*;
    let d = |fd: DpField| Some((Loc::Dp(fd, 0, fd.bits), None));
    let d2 = |hi: DpField, lo: DpField| Some((Loc::Dp(hi, 0, 64), Some(Loc::Dp(lo, 0, 64))));
    match field {
        InPort => d(f::IN_PORT),
        Metadata => Some((Loc::Meta(0, 0, 64), None)),
        EthDst => d(f::ETH_DST),
        EthSrc => d(f::ETH_SRC),
        EthType => d(f::ETH_TYPE),
        VlanVid => Some((Loc::Dp(f::VLAN0_TCI, 0, 13), None)),
        VlanPcp => Some((Loc::Dp(f::VLAN0_TCI, 13, 3), None)),
        VlanTci => d(f::VLAN0_TCI),
        IpDscp => Some((Loc::Dp(f::NW_TOS, 2, 6), None)),
        NwTos => Some((Loc::Dp(f::NW_TOS, 0, 8), None)),
        IpEcn => Some((Loc::Dp(f::NW_TOS, 0, 2), None)),
        IpProto | ArpOp => d(f::NW_PROTO),
        IpTtl => d(f::NW_TTL),
        IpFrag => d(f::NW_FRAG),
        Ipv4Src | ArpSpa => d(f::NW_SRC),
        Ipv4Dst | ArpTpa => d(f::NW_DST),
        TcpSrc | UdpSrc | SctpSrc => d(f::TP_SRC),
        TcpDst | UdpDst | SctpDst => d(f::TP_DST),
        Icmpv4Type | Icmpv6Type => Some((Loc::Dp(f::TP_SRC, 0, 8), None)),
        Icmpv4Code | Icmpv6Code => Some((Loc::Dp(f::TP_DST, 0, 8), None)),
        ArpSha | NdSll => d(f::ARP_SHA),
        ArpTha | NdTll => d(f::ARP_THA),
        Ipv6Src => d2(f::IPV6_SRC_HI, f::IPV6_SRC_LO),
        Ipv6Dst => d2(f::IPV6_DST_HI, f::IPV6_DST_LO),
        NdTarget => d2(f::ND_TARGET_HI, f::ND_TARGET_LO),
        Ipv6Flabel => Some((Loc::Dp(f::IPV6_LABEL, 0, 20), None)),
        TunnelId => d(f::TUN_ID),
        TcpFlags => Some((Loc::Dp(f::TCP_FLAGS, 0, 12), None)),
        Reg(n) if n < 16 => Some((
            Loc::Meta(1 + n / 2, if n % 2 == 0 { 32 } else { 0 }, 32),
            None,
        )),
        XReg(n) if n < 8 => Some((Loc::Meta(1 + n, 0, 64), None)),
        XxReg(n) if n < 4 => Some((
            Loc::Meta(1 + 2 * n, 0, 64),
            Some(Loc::Meta(2 + 2 * n, 0, 64)),
        )),
        TunIpv4Src => d(f::TUN_SRC),
        TunIpv4Dst => d(f::TUN_DST),
        TunFlags => d(f::TUN_FLAGS),
        CtState => d(f::CT_STATE),
        CtZone => d(f::CT_ZONE),
        CtMark => d(f::CT_MARK),
        CtLabel => d2(f::CT_LABEL_HI, f::CT_LABEL_LO),
        CtNwProto => d(f::CT_NW_PROTO),
        CtNwSrc => d(f::CT_NW_SRC),
        CtNwDst => d(f::CT_NW_DST),
        CtTpSrc => d(f::CT_TP_SRC),
        CtTpDst => d(f::CT_TP_DST),
        CtIpv6Src => d2(f::CT_IPV6_SRC_HI, f::CT_IPV6_SRC_LO),
        CtIpv6Dst => d2(f::CT_IPV6_DST_HI, f::CT_IPV6_DST_LO),
        PktMark => d(f::PKT_MARK),
        DpHash => d(f::DP_HASH),
        RecircId => d(f::RECIRC_ID),
        ConjId => Some((Loc::Meta(CONJ_ID_WORD as u8, 0, 32), None)),
        PacketType => d(f::PACKET_TYPE),
        NshFlags => d(f::NSH_FLAGS),
        NshTtl => d(f::NSH_TTL),
        NshMdtype => d(f::NSH_MDTYPE),
        NshNp => d(f::NSH_NP),
        NshSpi => d(f::NSH_SPI),
        NshSi => d(f::NSH_SI),
        NshC(0) => d(f::NSH_C1),
        NshC(1) => d(f::NSH_C2),
        NshC(2) => d(f::NSH_C3),
        NshC(3) => d(f::NSH_C4),
        _ => None,
    }
}

fn be_to_u128(b: &[u8]) -> u128 {
    b.iter().take(16).fold(0u128, |a, &x| a << 8 | x as u128)
}

/// Is `mf` an NXM `in_port` (16-bit OpenFlow 1.0 port space)?
fn is_of10_port(mf: &MatchField) -> bool {
    mf.field == Field::InPort && mf.value.len() == 2
}

/// A match as a (value, mask) pair over [`XKey`]; the value is pre-masked.
/// Checks prerequisites, duplicates and value bits outside the mask
/// ([`OxmMatch::validate`]); an unsupported field is OFPBMC_BAD_FIELD. No
/// `tun_metadata` field is mapped ([`match_from_oxm_tlv`] with an empty
/// table).
pub fn match_from_oxm(m: &OxmMatch) -> Result<(XKey, XKey), OfpError> {
    match_from_oxm_tlv(m, &TlvTable::new())
}

/// The entry of `tun_metadata<n>` in `tlv`, or NXFMFC_INVALID_TLV_FIELD
/// (OVS `mf_vl_mff_invalid()`: the field is not mapped).
pub fn tlv_entry(tlv: &TlvTable, n: u8) -> Result<TlvEntry, OfpError> {
    tlv.get(n).ok_or(OfpError::new(
        ErrorCode::NxInvalidTlvField,
        "tun_metadata field is not mapped",
    ))
}

/// [`match_from_oxm`] with the bridge's TLV table: `tun_metadataN` takes
/// the mapped option length (a shorter value is right-aligned, a longer
/// one cut, as OVS `copy_entry_value()`), and sets presence bit N; an
/// unmapped N is NXFMFC_INVALID_TLV_FIELD.
pub fn match_from_oxm_tlv(m: &OxmMatch, tlv: &TlvTable) -> Result<(XKey, XKey), OfpError> {
    m.validate()?;
    let mut value = XKey::default();
    let mut mask = XKey::default();
    for mf in &m.fields {
        if let Field::TunMetadata(n) = mf.field {
            let e = tlv_entry(tlv, n)?;
            let full = vec![0xffu8; mf.value.len()];
            let mk = mf.mask.as_deref().unwrap_or(&full);
            let v: Vec<u8> = mf.value.iter().zip(mk).map(|(v, m)| v & m).collect();
            value.set_tun_md(&e, &v, mk);
            mask.set_tun_md(&e, mk, &vec![0xff; e.len as usize]);
            value.meta[TUN_MD_PRESENT_WORD] |= 1 << n;
            mask.meta[TUN_MD_PRESENT_WORD] |= 1 << n;
            continue;
        }
        let (hi, lo) = field_locs(mf.field)
            .ok_or(OfpError::new(ErrorCode::BadMatchField, "unsupported field"))?;
        let width = mf.value.len() * 8;
        let full: u128 = if width >= 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        let mut v = be_to_u128(&mf.value);
        let mut mk = mf.mask.as_deref().map_or(full, be_to_u128);
        if is_of10_port(mf) {
            v = port_from_of10(v as u16) as u128;
            mk = if mk == 0xffff { u32::MAX as u128 } else { mk };
        }
        if mf.field == Field::NwTos {
            mk &= 0xfc;
        }
        v &= mk;
        match lo {
            None => {
                value.set_masked(hi, v as u64, mk as u64);
                mask.set_masked(hi, mk as u64, u64::MAX);
            }
            Some(lo) => {
                value.set_masked(hi, (v >> 64) as u64, (mk >> 64) as u64);
                mask.set_masked(hi, (mk >> 64) as u64, u64::MAX);
                value.set_masked(lo, v as u64, mk as u64);
                mask.set_masked(lo, mk as u64, u64::MAX);
            }
        }
    }
    Ok((value, mask))
}

/// Value length in bytes of `field` in the spelling chosen by `nxm`.
fn field_len(field: Field, nxm: bool) -> Option<usize> {
    field.default_id(nxm)?.field().1.map(usize::from)
}

/// The (value, mask) pair as an OXM (`nxm` false, OpenFlow 1.2+) or NXM
/// (`nxm` true, Nicira / OpenFlow 1.0 extension) match in Open vSwitch's
/// canonical field choice: `vlan_tci`/`nw_tos` for NXM, `vlan_vid` +
/// `vlan_pcp`/`ip_dscp` for OXM; ARP, ND and L4 aliases picked by
/// `dl_type`/`nw_proto`. No `tun_metadata` is listed ([`match_to_oxm_tlv`]).
pub fn match_to_oxm(value: &XKey, mask: &XKey, nxm: bool) -> OxmMatch {
    match_to_oxm_tlv(value, mask, nxm, &TlvTable::new())
}

/// [`match_to_oxm`] plus each present `tun_metadataN` mapped in `tlv`, as
/// `NXM_NX_TUN_METADATA<N>` with the mapped length (also in OXM matches, as
/// OVS `tun_metadata_to_nx_match()`); the mask is left out when exact.
pub fn match_to_oxm_tlv(value: &XKey, mask: &XKey, nxm: bool, tlv: &TlvTable) -> OxmMatch {
    use Field::*;
    let dl_type = value.flow.get(f::ETH_TYPE);
    let proto = value.flow.get(f::NW_PROTO);
    let arp = dl_type == 0x0806 || dl_type == 0x8035;
    let v6 = dl_type == 0x86dd;
    let nsh = dl_type == 0x894f;
    let mut list: Vec<Field> = vec![PacketType, InPort, Metadata];
    list.extend((0..16).map(Reg));
    list.extend([
        EthSrc, EthDst, EthType, TunnelId, TunIpv4Src, TunIpv4Dst, TunFlags, PktMark, CtState,
        CtZone, CtMark, CtLabel, CtNwProto, CtNwSrc, CtNwDst, CtIpv6Src, CtIpv6Dst, CtTpSrc,
        CtTpDst, DpHash, RecircId, ConjId,
    ]);
    if nxm {
        list.push(VlanTci);
    } else {
        list.extend([VlanVid, VlanPcp]);
    }
    if arp {
        list.extend([ArpSpa, ArpTpa, ArpOp, ArpSha, ArpTha]);
    } else if nsh {
        list.extend([NshFlags, NshTtl, NshMdtype, NshNp, NshSpi, NshSi]);
        list.extend((0..4).map(NshC));
    } else {
        list.extend([Ipv4Src, Ipv4Dst, Ipv6Src, Ipv6Dst, Ipv6Flabel, IpProto]);
        list.push(if nxm { NwTos } else { IpDscp });
        list.extend([IpEcn, IpTtl, IpFrag]);
        match proto {
            6 => list.extend([TcpSrc, TcpDst, TcpFlags]),
            17 => list.extend([UdpSrc, UdpDst]),
            132 => list.extend([SctpSrc, SctpDst]),
            1 if !v6 => list.extend([Icmpv4Type, Icmpv4Code]),
            58 if v6 => list.extend([Icmpv6Type, Icmpv6Code, NdTarget, NdSll, NdTll]),
            _ => {}
        }
    }
    let mut out = OxmMatch::default();
    for field in list {
        let Some((hi, lo)) = field_locs(field) else {
            continue;
        };
        let Some(len) = field_len(field, nxm) else {
            continue;
        };
        let (mut v, mut m) = match lo {
            None => (value.get(hi) as u128, mask.get(hi) as u128),
            Some(lo) => (
                (value.get(hi) as u128) << 64 | value.get(lo) as u128,
                (mask.get(hi) as u128) << 64 | mask.get(lo) as u128,
            ),
        };
        if field == NwTos {
            v &= 0xfc;
            m &= 0xfc;
        }
        if m == 0 {
            continue;
        }
        let loc_bits = |l: Loc| match l {
            Loc::Dp(_, _, b) | Loc::Meta(_, _, b) => b,
        };
        let full: u128 = match lo {
            Some(_) => u128::MAX,
            None if field == NwTos => 0xfc,
            None => ones(loc_bits(hi)) as u128,
        };
        if field == InPort && len == 2 {
            v = port_to_of10(v as u32) as u128;
            m = if m as u32 == u32::MAX {
                0xffff
            } else {
                m & 0xffff
            };
        }
        let full = if field == InPort && len == 2 {
            0xffff
        } else {
            full
        };
        let vb = v.to_be_bytes()[16 - len..].to_vec();
        let mb = (m & full != full).then(|| m.to_be_bytes()[16 - len..].to_vec());
        if let Some(mut mf) = MatchField::new(field, &vb, mb.as_deref(), nxm) {
            mf.value = vb;
            out.fields.push(mf);
        }
    }
    let present = mask.meta[TUN_MD_PRESENT_WORD] & value.meta[TUN_MD_PRESENT_WORD];
    for n in (0..64u8).filter(|n| present >> n & 1 != 0) {
        let Some(e) = tlv.get(n) else {
            continue;
        };
        let (v, m) = (value.tun_md(&e), mask.tun_md(&e));
        let mk = m.iter().any(|&b| b != 0xff).then_some(m.as_slice());
        if let Some(mf) = MatchField::new(Field::TunMetadata(n), &v, mk, true) {
            out.fields.push(mf);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_nxm_and_oxm() {
        let mut m = OxmMatch::default();
        let add = |m: &mut OxmMatch, f: Field, v: &[u8], mk: Option<&[u8]>, nxm| {
            m.fields.push(MatchField::new(f, v, mk, nxm).unwrap())
        };
        add(&mut m, Field::InPort, &[0, 1], None, true);
        add(&mut m, Field::EthType, &[8, 0], None, true);
        add(
            &mut m,
            Field::Ipv4Src,
            &[10, 0, 0, 0],
            Some(&[255, 255, 255, 0]),
            true,
        );
        add(&mut m, Field::IpProto, &[6], None, true);
        add(&mut m, Field::TcpDst, &[0, 80], None, true);
        add(&mut m, Field::Reg(3), &[0, 0, 0, 7], None, true);
        let (v, mk) = match_from_oxm(&m).unwrap();
        assert_eq!(v.flow.get(f::IN_PORT), 1);
        assert_eq!(mk.flow.get(f::IN_PORT), 0xffff_ffff);
        assert_eq!(v.flow.get(f::NW_SRC), 0x0a00_0000);
        assert_eq!(mk.flow.get(f::NW_SRC), 0xffff_ff00);
        assert_eq!(v.meta[2] & 0xffff_ffff, 7);
        for nxm in [true, false] {
            let back = match_to_oxm(&v, &mk, nxm);
            let (v2, m2) = match_from_oxm(&back).unwrap();
            assert_eq!((v2, m2), (v.clone(), mk.clone()), "nxm={nxm}");
        }
    }

    #[test]
    fn vlan_spellings_agree() {
        let nxm = OxmMatch {
            fields: vec![
                MatchField::new(Field::VlanTci, &[0x10, 0x0a], Some(&[0x1f, 0xff]), true).unwrap(),
            ],
        };
        let oxm = OxmMatch {
            fields: vec![MatchField::new(Field::VlanVid, &[0x10, 0x0a], None, false).unwrap()],
        };
        assert_eq!(match_from_oxm(&nxm).unwrap(), match_from_oxm(&oxm).unwrap());
    }
}
