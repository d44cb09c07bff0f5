//! OXM / NXM match fields.
//!
//! An OXM TLV (OpenFlow 1.5.1 section 7.2.3.2, Open vSwitch `lib/nx-match.c`)
//! is a 32-bit header `class:16 | field:7 | hasmask:1 | length:8`, then
//! `length` bytes of payload: the value, followed by an equally long mask when
//! `hasmask` is set. Class 0xFFFF (OFPXMC_EXPERIMENTER) adds a 32-bit
//! experimenter id at the start of the payload (counted in `length`). NXM
//! (Nicira match, OF1.0 extension) uses the same TLV format with classes
//! 0x0000 (NXM_OF_*) and 0x0001 (NXM_NX_*). All values are network order.
//!
//! A match is kept as an ordered list of [`MatchField`]s so that decoding then
//! encoding reproduces the input bytes; [`Field`] gives each TLV a typed name.

use super::error::{ErrorCode, OfpError};
use super::wire::{Rd, Wr};

/// OXM class of the standard OpenFlow basic fields (OFPXMC_OPENFLOW_BASIC).
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// OXM class of Open vSwitch's 64-bit packet registers (OFPXMC_PACKET_REGS).
pub const OFPXMC_PACKET_REGS: u16 = 0x8001;
/// NXM class of Nicira's copies of OpenFlow 1.0 fields (NXM_OF_*).
pub const NXM_OF: u16 = 0x0000;
/// NXM class of Nicira extension fields (NXM_NX_*).
pub const NXM_NX: u16 = 0x0001;
/// OXM experimenter class (OFPXMC_EXPERIMENTER).
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;
/// ONF experimenter id (used by OF1.3 `tcp_flags`, `actset_output`).
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
/// Nicira experimenter / vendor id.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;
/// Experimenter id of Open vSwitch's experimenter OXMs (`NXOXM_ET`,
/// `lib/nx-match.c`), e.g. the NSH fields.
pub const NXOXM_ET: u32 = 0x005a_d650;

/// Typed name of a match field (Open vSwitch `mf_field_id` vocabulary).
///
/// The same field may be spelled by several headers (e.g. `eth_src` as
/// OXM_OF_ETH_SRC or NXM_OF_ETH_SRC); [`MatchField::id`] keeps the spelling.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    InPort,
    InPhyPort,
    Metadata,
    EthDst,
    EthSrc,
    EthType,
    /// OF1.2+ VLAN id with OFPVID_PRESENT (0x1000) bit, 2 bytes.
    VlanVid,
    VlanPcp,
    /// NXM_OF_VLAN_TCI: full 802.1Q TCI with the CFI bit meaning "present".
    VlanTci,
    IpDscp,
    /// NXM_OF_IP_TOS: DSCP in its TOS-byte position (low 2 bits zero).
    NwTos,
    IpEcn,
    IpProto,
    IpTtl,
    IpFrag,
    Ipv4Src,
    Ipv4Dst,
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    Icmpv4Type,
    Icmpv4Code,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Flabel,
    Icmpv6Type,
    Icmpv6Code,
    NdTarget,
    NdSll,
    NdTll,
    MplsLabel,
    MplsTc,
    MplsBos,
    PbbIsid,
    TunnelId,
    Ipv6Exthdr,
    PbbUca,
    TcpFlags,
    ActsetOutput,
    PacketType,
    /// NXM_NX_REG0..15 (32-bit registers).
    Reg(u8),
    /// OXM_OF_PKT_REG0..7 = Open vSwitch xreg0..7 (64-bit).
    XReg(u8),
    /// NXM_NX_XXREG0..3 (128-bit).
    XxReg(u8),
    TunIpv4Src,
    TunIpv4Dst,
    TunIpv6Src,
    TunIpv6Dst,
    TunFlags,
    TunGbpId,
    TunGbpFlags,
    /// NXM_NX_TUN_METADATA0..63 (variable length, up to 124 bytes).
    TunMetadata(u8),
    CtState,
    CtZone,
    CtMark,
    CtLabel,
    CtNwProto,
    CtNwSrc,
    CtNwDst,
    CtIpv6Src,
    CtIpv6Dst,
    CtTpSrc,
    CtTpDst,
    PktMark,
    DpHash,
    RecircId,
    ConjId,
    /// NXM_NX_COOKIE (only in NXST_FLOW / NXT_FLOW_MOD contexts).
    Cookie,
    /// NXOXM_NSH_FLAGS (`nsh_flags`, u8, maskable; RFC 8300 O/U bits).
    NshFlags,
    /// NXOXM_NSH_MDTYPE (`nsh_mdtype`, u8, read-only).
    NshMdtype,
    /// NXOXM_NSH_NP (`nsh_np`, u8, read-only).
    NshNp,
    /// NXOXM_NSH_SPI (`nsh_spi`, be32 with 24 significant bits).
    NshSpi,
    /// NXOXM_NSH_SI (`nsh_si`, u8).
    NshSi,
    /// NXOXM_NSH_C1..C4 (`nsh_c1..c4`, be32, maskable), index 0..=3.
    NshC(u8),
    /// NXOXM_NSH_TTL (`nsh_ttl`, u8).
    NshTtl,
    /// A header this codec does not name; kept verbatim.
    Unknown,
}

/// (class, field code, experimenter or 0, typed field, value length).
const TABLE: &[(u16, u8, u32, Field, u8)] = {
    use Field::*;
    const B: u16 = OFPXMC_OPENFLOW_BASIC;
    const O: u16 = NXM_OF;
    const N: u16 = NXM_NX;
    const E: u16 = OFPXMC_EXPERIMENTER;
    &[
        (B, 0, 0, InPort, 4),
        (B, 1, 0, InPhyPort, 4),
        (B, 2, 0, Metadata, 8),
        (B, 3, 0, EthDst, 6),
        (B, 4, 0, EthSrc, 6),
        (B, 5, 0, EthType, 2),
        (B, 6, 0, VlanVid, 2),
        (B, 7, 0, VlanPcp, 1),
        (B, 8, 0, IpDscp, 1),
        (B, 9, 0, IpEcn, 1),
        (B, 10, 0, IpProto, 1),
        (B, 11, 0, Ipv4Src, 4),
        (B, 12, 0, Ipv4Dst, 4),
        (B, 13, 0, TcpSrc, 2),
        (B, 14, 0, TcpDst, 2),
        (B, 15, 0, UdpSrc, 2),
        (B, 16, 0, UdpDst, 2),
        (B, 17, 0, SctpSrc, 2),
        (B, 18, 0, SctpDst, 2),
        (B, 19, 0, Icmpv4Type, 1),
        (B, 20, 0, Icmpv4Code, 1),
        (B, 21, 0, ArpOp, 2),
        (B, 22, 0, ArpSpa, 4),
        (B, 23, 0, ArpTpa, 4),
        (B, 24, 0, ArpSha, 6),
        (B, 25, 0, ArpTha, 6),
        (B, 26, 0, Ipv6Src, 16),
        (B, 27, 0, Ipv6Dst, 16),
        (B, 28, 0, Ipv6Flabel, 4),
        (B, 29, 0, Icmpv6Type, 1),
        (B, 30, 0, Icmpv6Code, 1),
        (B, 31, 0, NdTarget, 16),
        (B, 32, 0, NdSll, 6),
        (B, 33, 0, NdTll, 6),
        (B, 34, 0, MplsLabel, 4),
        (B, 35, 0, MplsTc, 1),
        (B, 36, 0, MplsBos, 1),
        (B, 37, 0, PbbIsid, 3),
        (B, 38, 0, TunnelId, 8),
        (B, 39, 0, Ipv6Exthdr, 2),
        (B, 41, 0, PbbUca, 1),
        (B, 42, 0, TcpFlags, 2),
        (B, 43, 0, ActsetOutput, 4),
        (B, 44, 0, PacketType, 4),
        (E, 42, ONF_EXPERIMENTER, TcpFlags, 2),
        (E, 43, ONF_EXPERIMENTER, ActsetOutput, 4),
        // NXOXM_NSH_* (OVS `meta-flow.h`, class 0xffff, experimenter NXOXM_ET).
        (E, 1, NXOXM_ET, NshFlags, 1),
        (E, 2, NXOXM_ET, NshMdtype, 1),
        (E, 3, NXOXM_ET, NshNp, 1),
        (E, 4, NXOXM_ET, NshSpi, 4),
        (E, 5, NXOXM_ET, NshSi, 1),
        (E, 6, NXOXM_ET, NshC(0), 4),
        (E, 7, NXOXM_ET, NshC(1), 4),
        (E, 8, NXOXM_ET, NshC(2), 4),
        (E, 9, NXOXM_ET, NshC(3), 4),
        (E, 10, NXOXM_ET, NshTtl, 1),
        (O, 0, 0, InPort, 2),
        (O, 1, 0, EthDst, 6),
        (O, 2, 0, EthSrc, 6),
        (O, 3, 0, EthType, 2),
        (O, 4, 0, VlanTci, 2),
        (O, 5, 0, NwTos, 1),
        (O, 6, 0, IpProto, 1),
        (O, 7, 0, Ipv4Src, 4),
        (O, 8, 0, Ipv4Dst, 4),
        (O, 9, 0, TcpSrc, 2),
        (O, 10, 0, TcpDst, 2),
        (O, 11, 0, UdpSrc, 2),
        (O, 12, 0, UdpDst, 2),
        (O, 13, 0, Icmpv4Type, 1),
        (O, 14, 0, Icmpv4Code, 1),
        (O, 15, 0, ArpOp, 2),
        (O, 16, 0, ArpSpa, 4),
        (O, 17, 0, ArpTpa, 4),
        (N, 16, 0, TunnelId, 8),
        (N, 17, 0, ArpSha, 6),
        (N, 18, 0, ArpTha, 6),
        (N, 19, 0, Ipv6Src, 16),
        (N, 20, 0, Ipv6Dst, 16),
        (N, 21, 0, Icmpv6Type, 1),
        (N, 22, 0, Icmpv6Code, 1),
        (N, 23, 0, NdTarget, 16),
        (N, 24, 0, NdSll, 6),
        (N, 25, 0, NdTll, 6),
        (N, 26, 0, IpFrag, 1),
        (N, 27, 0, Ipv6Flabel, 4),
        (N, 28, 0, IpEcn, 1),
        (N, 29, 0, IpTtl, 1),
        (N, 30, 0, Cookie, 8),
        (N, 31, 0, TunIpv4Src, 4),
        (N, 32, 0, TunIpv4Dst, 4),
        (N, 33, 0, PktMark, 4),
        (N, 34, 0, TcpFlags, 2),
        (N, 35, 0, DpHash, 4),
        (N, 36, 0, RecircId, 4),
        (N, 37, 0, ConjId, 4),
        (N, 38, 0, TunGbpId, 2),
        (N, 39, 0, TunGbpFlags, 1),
        (N, 104, 0, TunFlags, 2),
        (N, 105, 0, CtState, 4),
        (N, 106, 0, CtZone, 2),
        (N, 107, 0, CtMark, 4),
        (N, 108, 0, CtLabel, 16),
        (N, 109, 0, TunIpv6Src, 16),
        (N, 110, 0, TunIpv6Dst, 16),
        (N, 119, 0, CtNwProto, 1),
        (N, 120, 0, CtNwSrc, 4),
        (N, 121, 0, CtNwDst, 4),
        (N, 122, 0, CtIpv6Src, 16),
        (N, 123, 0, CtIpv6Dst, 16),
        (N, 124, 0, CtTpSrc, 2),
        (N, 125, 0, CtTpDst, 2),
    ]
};

/// The identity of a field header: class, 7-bit field code and, for class
/// 0xFFFF, the experimenter id. `hasmask` and `length` are per-TLV and live in
/// [`OxmHeader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OxmId {
    /// OXM class (e.g. 0x8000 OpenFlow basic, 0x0001 NXM_NX).
    pub class: u16,
    /// Field code (7 bits).
    pub code: u8,
    /// Experimenter id when `class == 0xFFFF`.
    pub experimenter: Option<u32>,
}

impl OxmId {
    /// Typed field and its fixed value length in bytes (`None` for
    /// variable-length `tun_metadata`). Unknown ids give `(Unknown, None)`.
    pub fn field(&self) -> (Field, Option<u8>) {
        match self.class {
            NXM_NX if self.code < 16 => return (Field::Reg(self.code), Some(4)),
            NXM_NX if (40..104).contains(&self.code) => {
                return (Field::TunMetadata(self.code - 40), None)
            }
            NXM_NX if (111..115).contains(&self.code) => {
                return (Field::XxReg(self.code - 111), Some(16))
            }
            OFPXMC_PACKET_REGS if self.code < 8 => return (Field::XReg(self.code), Some(8)),
            _ => {}
        }
        let exp = self.experimenter.unwrap_or(0);
        TABLE
            .iter()
            .find(|e| e.0 == self.class && e.1 == self.code && e.2 == exp)
            .map(|e| (e.3, Some(e.4)))
            .unwrap_or((Field::Unknown, None))
    }
}

impl Field {
    /// The header Open vSwitch uses for this field: the OXM basic class where
    /// one exists and `nxm` is false (OF1.2+), else the NXM spelling.
    /// `None` for [`Field::Unknown`] or a field with no spelling in that mode.
    pub fn default_id(self, nxm: bool) -> Option<OxmId> {
        let id = |class, code| {
            Some(OxmId {
                class,
                code,
                experimenter: None,
            })
        };
        match self {
            Field::Reg(n) if n < 16 => return id(NXM_NX, n),
            Field::TunMetadata(n) if n < 64 => return id(NXM_NX, 40 + n),
            Field::XxReg(n) if n < 4 => return id(NXM_NX, 111 + n),
            Field::XReg(n) if n < 8 => return id(OFPXMC_PACKET_REGS, n),
            _ => {}
        }
        let pick = |want: &dyn Fn(u16) -> bool| {
            TABLE
                .iter()
                .find(|e| e.3 == self && want(e.0))
                .map(|e| OxmId {
                    class: e.0,
                    code: e.1,
                    experimenter: (e.2 != 0).then_some(e.2),
                })
        };
        if nxm {
            pick(&|c| c == NXM_OF).or_else(|| pick(&|c| c == NXM_NX))
        } else {
            pick(&|c| c == OFPXMC_OPENFLOW_BASIC)
                .or_else(|| pick(&|c| c == NXM_NX || c == OFPXMC_EXPERIMENTER))
        }
    }
}

/// A full 32-bit (or 64-bit experimenter) TLV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OxmHeader {
    /// Which field.
    pub id: OxmId,
    /// `hasmask` bit.
    pub hasmask: bool,
    /// `length` byte: payload length (experimenter id included).
    pub length: u8,
}

impl OxmHeader {
    /// Reads a 4-byte header, or 8 bytes when the class is 0xFFFF.
    pub fn read(r: &mut Rd<'_>) -> Result<OxmHeader, OfpError> {
        let h = r.u32()?;
        let class = (h >> 16) as u16;
        let experimenter = if class == OFPXMC_EXPERIMENTER {
            Some(r.u32()?)
        } else {
            None
        };
        Ok(OxmHeader {
            id: OxmId {
                class,
                code: ((h >> 9) & 0x7f) as u8,
                experimenter,
            },
            hasmask: h & 0x100 != 0,
            length: h as u8,
        })
    }

    /// Writes the header (4 or 8 bytes).
    pub fn write(&self, w: &mut Vec<u8>) {
        w.u32(
            (self.id.class as u32) << 16
                | (self.id.code as u32 & 0x7f) << 9
                | (self.hasmask as u32) << 8
                | self.length as u32,
        );
        if let Some(e) = self.id.experimenter {
            w.u32(e);
        }
    }

    /// Size of the header on the wire (4, or 8 for experimenter classes; the
    /// experimenter id is also counted in `length`).
    pub fn wire_len(&self) -> usize {
        if self.id.experimenter.is_some() {
            8
        } else {
            4
        }
    }

    /// Value width in bytes implied by this header.
    pub fn value_len(&self) -> usize {
        let exp = if self.id.experimenter.is_some() { 4 } else { 0 };
        let l = (self.length as usize).saturating_sub(exp);
        if self.hasmask {
            l / 2
        } else {
            l
        }
    }

    /// Header for `id` with no mask and a value of `value_len` bytes (the form
    /// NXM field references in actions use).
    pub fn plain(id: OxmId, value_len: u8) -> OxmHeader {
        let extra = if id.experimenter.is_some() { 4 } else { 0 };
        OxmHeader {
            id,
            hasmask: false,
            length: value_len + extra,
        }
    }
}

/// One match TLV: field, value and optional mask (same width as the value),
/// both network order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchField {
    /// The header spelling used on the wire.
    pub id: OxmId,
    /// Typed name (or [`Field::Unknown`]).
    pub field: Field,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Mask bytes; `None` means exact match.
    pub mask: Option<Vec<u8>>,
}

impl MatchField {
    /// Builds an exact or masked field with the default spelling for OXM
    /// (`nxm` false) or NXM (`nxm` true). `None` when the field has no such
    /// spelling.
    pub fn new(field: Field, value: &[u8], mask: Option<&[u8]>, nxm: bool) -> Option<MatchField> {
        Some(MatchField {
            id: field.default_id(nxm)?,
            field,
            value: value.to_vec(),
            mask: mask.map(<[u8]>::to_vec),
        })
    }

    /// Decodes one TLV; validates the length against the typed field.
    pub fn read(r: &mut Rd<'_>) -> Result<MatchField, OfpError> {
        let h = OxmHeader::read(r).map_err(|e| e.relabel_len(ErrorCode::BadMatchLen))?;
        let exp = if h.id.experimenter.is_some() { 4 } else { 0 };
        let len = (h.length as usize)
            .checked_sub(exp)
            .ok_or(OfpError::new(ErrorCode::BadMatchLen, "oxm length"))?;
        if len == 0 || (h.hasmask && len % 2 != 0) {
            return Err(OfpError::new(ErrorCode::BadMatchLen, "oxm length"));
        }
        let payload = r
            .bytes(len)
            .map_err(|e| e.relabel_len(ErrorCode::BadMatchLen))?;
        let vlen = if h.hasmask { len / 2 } else { len };
        let (field, fixed) = h.id.field();
        if let Some(f) = fixed {
            if f as usize != vlen {
                return Err(OfpError::new(
                    ErrorCode::BadMatchLen,
                    "oxm value length does not fit the field",
                ));
            }
        }
        let value = payload[..vlen].to_vec();
        let mask = h.hasmask.then(|| payload[vlen..].to_vec());
        Ok(MatchField {
            id: h.id,
            field,
            value,
            mask,
        })
    }

    /// The TLV header for this field.
    pub fn header(&self) -> OxmHeader {
        let exp = if self.id.experimenter.is_some() { 4 } else { 0 };
        let n = self.value.len() * if self.mask.is_some() { 2 } else { 1 };
        OxmHeader {
            id: self.id,
            hasmask: self.mask.is_some(),
            length: (exp + n) as u8,
        }
    }

    /// Appends the TLV.
    pub fn write(&self, w: &mut Vec<u8>) {
        self.header().write(w);
        w.put(&self.value);
        if let Some(m) = &self.mask {
            w.put(m);
        }
    }

    /// The value as an unsigned integer (first 8 bytes, network order).
    pub fn value_u64(&self) -> u64 {
        self.value
            .iter()
            .take(8)
            .fold(0u64, |a, &b| a << 8 | b as u64)
    }

    /// True when matched exactly (no mask, or an all-ones mask).
    pub fn is_exact(&self) -> bool {
        self.mask
            .as_ref()
            .map_or(true, |m| m.iter().all(|&b| b == 0xff))
    }
}

/// An OXM or NXM match: TLVs in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OxmMatch {
    /// Fields in wire order.
    pub fields: Vec<MatchField>,
}

/// `ofp_match.type` OFPMT_OXM (OpenFlow 1.5.1 section 7.2.3.1).
pub const OFPMT_OXM: u16 = 1;
/// `ofp_match.type` OFPMT_STANDARD (the fixed 88-byte OF1.1 match).
pub const OFPMT_STANDARD: u16 = 0;

impl OxmMatch {
    /// Decodes bare TLVs filling all of `b` (NXM `match_len` bytes, or the
    /// inside of `ofp_match`).
    pub fn decode_tlvs(b: &[u8]) -> Result<OxmMatch, OfpError> {
        let mut r = Rd::with_short(b, ErrorCode::BadMatchLen);
        let mut fields = Vec::new();
        while !r.is_empty() {
            fields.push(MatchField::read(&mut r)?);
        }
        Ok(OxmMatch { fields })
    }

    /// Appends bare TLVs (no padding).
    pub fn encode_tlvs(&self, w: &mut Vec<u8>) {
        for f in &self.fields {
            f.write(w);
        }
    }

    /// Length of the bare TLVs.
    pub fn tlv_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| 4 + f.header().length as usize)
            .sum()
    }

    /// Decodes an OF1.2+ `ofp_match` {type=OXM u16, length u16, TLVs, pad to
    /// 8} from `r` (OpenFlow 1.5.1 section 7.2.3.1), consuming the padding.
    pub fn read_ofp_match(r: &mut Rd<'_>) -> Result<OxmMatch, OfpError> {
        let t = r.u16().map_err(|e| e.relabel_len(ErrorCode::BadMatchLen))?;
        let len = r.u16().map_err(|e| e.relabel_len(ErrorCode::BadMatchLen))? as usize;
        if t != OFPMT_OXM {
            return Err(OfpError::new(
                ErrorCode::BadMatchType,
                "ofp_match.type is not OXM",
            ));
        }
        if len < 4 {
            return Err(OfpError::new(
                ErrorCode::BadMatchLen,
                "ofp_match.length < 4",
            ));
        }
        let tlvs = r
            .bytes(len - 4)
            .map_err(|e| e.relabel_len(ErrorCode::BadMatchLen))?;
        let pad = super::wire::pad8(len) - len;
        r.skip(pad)
            .map_err(|e| e.relabel_len(ErrorCode::BadMatchLen))?;
        OxmMatch::decode_tlvs(tlvs)
    }

    /// Appends an OF1.2+ `ofp_match` with padding.
    pub fn write_ofp_match(&self, w: &mut Vec<u8>) {
        let start = w.len();
        w.u16(OFPMT_OXM);
        w.u16(4 + self.tlv_len() as u16);
        self.encode_tlvs(w);
        w.pad_from(start, 8);
    }

    /// First field with typed name `f`.
    pub fn get(&self, f: Field) -> Option<&MatchField> {
        self.fields.iter().find(|m| m.field == f)
    }

    /// Checks duplicate fields (OFPBMC_DUP_FIELD), value bits outside the mask
    /// (OFPBMC_BAD_VALUE) and prerequisites (OFPBMC_BAD_PREREQ) as OpenFlow
    /// 1.5.1 section 7.2.3.6 describes them.
    pub fn validate(&self) -> Result<(), OfpError> {
        for (i, f) in self.fields.iter().enumerate() {
            if f.field != Field::Unknown && self.fields[..i].iter().any(|g| g.field == f.field) {
                return Err(OfpError::new(
                    ErrorCode::BadMatchDupField,
                    "field appears twice",
                ));
            }
            if let Some(m) = &f.mask {
                if f.value.iter().zip(m).any(|(v, m)| v & !m != 0) {
                    return Err(OfpError::new(
                        ErrorCode::BadMatchValue,
                        "value bits outside mask",
                    ));
                }
            }
            if !self.prereq_ok(f.field) {
                return Err(OfpError::new(
                    ErrorCode::BadMatchPrereq,
                    "prerequisite missing",
                ));
            }
        }
        Ok(())
    }

    fn exact(&self, f: Field) -> Option<u64> {
        self.get(f)
            .filter(|m| m.is_exact())
            .map(MatchField::value_u64)
    }

    fn eth_is(&self, types: &[u64]) -> bool {
        self.exact(Field::EthType)
            .is_some_and(|t| types.contains(&t))
    }

    fn proto_is(&self, p: u64) -> bool {
        self.eth_is(&[0x0800, 0x86dd]) && self.exact(Field::IpProto) == Some(p)
    }

    /// True when the prerequisites of `f` are present (exactly matched).
    pub fn prereq_ok(&self, f: Field) -> bool {
        use Field::*;
        const IP: &[u64] = &[0x0800, 0x86dd];
        match f {
            VlanPcp => self.get(VlanVid).is_some() || self.get(VlanTci).is_some(),
            IpDscp | NwTos | IpEcn | IpProto | IpTtl | IpFrag | CtTpSrc | CtTpDst => {
                self.eth_is(IP)
            }
            Ipv4Src | Ipv4Dst | CtNwSrc | CtNwDst | CtNwProto => self.eth_is(&[0x0800]),
            Ipv6Src | Ipv6Dst | Ipv6Flabel | Ipv6Exthdr | CtIpv6Src | CtIpv6Dst => {
                self.eth_is(&[0x86dd])
            }
            TcpSrc | TcpDst | TcpFlags => self.proto_is(6),
            UdpSrc | UdpDst => self.proto_is(17),
            SctpSrc | SctpDst => self.proto_is(132),
            Icmpv4Type | Icmpv4Code => self.eth_is(&[0x0800]) && self.exact(IpProto) == Some(1),
            Icmpv6Type | Icmpv6Code => self.eth_is(&[0x86dd]) && self.exact(IpProto) == Some(58),
            NdTarget => self.proto_is(58) && matches!(self.exact(Icmpv6Type), Some(135 | 136)),
            NdSll => self.proto_is(58) && self.exact(Icmpv6Type) == Some(135),
            NdTll => self.proto_is(58) && self.exact(Icmpv6Type) == Some(136),
            ArpOp | ArpSpa | ArpTpa | ArpSha | ArpTha => self.eth_is(&[0x0806, 0x8035]),
            MplsLabel | MplsTc | MplsBos => self.eth_is(&[0x8847, 0x8848]),
            PbbIsid | PbbUca => self.eth_is(&[0x88e7]),
            // MFP_NSH: an NSH packet, behind Ethernet or as packet type
            // (1, 0x894f).
            NshFlags | NshMdtype | NshNp | NshSpi | NshSi | NshC(_) | NshTtl => {
                self.eth_is(&[0x894f]) || self.exact(PacketType) == Some(1 << 16 | 0x894f)
            }
            _ => true,
        }
    }
}
