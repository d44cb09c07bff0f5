//! OpenFlow 1.0 `ofp_match` (OpenFlow 1.0.0 section 5.2.3): a fixed 40-byte
//! structure whose `wildcards` bits say which fields are ignored.
//!
//! Layout (network order): `wildcards u32, in_port u16, dl_src[6],
//! dl_dst[6], dl_vlan u16, dl_vlan_pcp u8, pad[1], dl_type u16, nw_tos u8,
//! nw_proto u8, pad[2], nw_src u32, nw_dst u32, tp_src u16, tp_dst u16`.

use super::error::{ErrorCode, OfpError};
use super::oxm::{Field, MatchField, OxmMatch};
use super::wire::{Rd, Wr};

/// Size of `ofp_match` in OpenFlow 1.0.
pub const MATCH10_LEN: usize = 40;

/// OFPFW_IN_PORT.
pub const OFPFW10_IN_PORT: u32 = 1 << 0;
/// OFPFW_DL_VLAN.
pub const OFPFW10_DL_VLAN: u32 = 1 << 1;
/// OFPFW_DL_SRC.
pub const OFPFW10_DL_SRC: u32 = 1 << 2;
/// OFPFW_DL_DST.
pub const OFPFW10_DL_DST: u32 = 1 << 3;
/// OFPFW_DL_TYPE.
pub const OFPFW10_DL_TYPE: u32 = 1 << 4;
/// OFPFW_NW_PROTO.
pub const OFPFW10_NW_PROTO: u32 = 1 << 5;
/// OFPFW_TP_SRC.
pub const OFPFW10_TP_SRC: u32 = 1 << 6;
/// OFPFW_TP_DST.
pub const OFPFW10_TP_DST: u32 = 1 << 7;
/// Shift of the 6-bit count of wildcarded low bits of nw_src.
pub const OFPFW10_NW_SRC_SHIFT: u32 = 8;
/// Shift of the 6-bit count of wildcarded low bits of nw_dst.
pub const OFPFW10_NW_DST_SHIFT: u32 = 14;
/// OFPFW_DL_VLAN_PCP.
pub const OFPFW10_DL_VLAN_PCP: u32 = 1 << 20;
/// OFPFW_NW_TOS.
pub const OFPFW10_NW_TOS: u32 = 1 << 21;
/// All wildcard bits.
pub const OFPFW10_ALL: u32 = (1 << 22) - 1;

/// OpenFlow 1.0 `ofp_match`, field for field.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match10 {
    /// `OFPFW10_*` bits; set = ignored.
    pub wildcards: u32,
    pub in_port: u16,
    pub dl_src: [u8; 6],
    pub dl_dst: [u8; 6],
    /// VLAN id, or 0xffff (OFP_VLAN_NONE) for "no VLAN header".
    pub dl_vlan: u16,
    pub dl_vlan_pcp: u8,
    pub dl_type: u16,
    pub nw_tos: u8,
    pub nw_proto: u8,
    pub nw_src: u32,
    pub nw_dst: u32,
    pub tp_src: u16,
    pub tp_dst: u16,
}

impl Default for Match10 {
    fn default() -> Self {
        Match10 {
            wildcards: OFPFW10_ALL,
            in_port: 0,
            dl_src: [0; 6],
            dl_dst: [0; 6],
            dl_vlan: 0,
            dl_vlan_pcp: 0,
            dl_type: 0,
            nw_tos: 0,
            nw_proto: 0,
            nw_src: 0,
            nw_dst: 0,
            tp_src: 0,
            tp_dst: 0,
        }
    }
}

impl Match10 {
    /// Reads the 40 bytes.
    pub fn read(r: &mut Rd<'_>) -> Result<Match10, OfpError> {
        let mut r = r
            .sub(MATCH10_LEN)
            .map_err(|e| e.relabel_len(ErrorCode::BadRequestLen))?;
        let wildcards = r.u32()?;
        let in_port = r.u16()?;
        let dl_src = r.arr()?;
        let dl_dst = r.arr()?;
        let dl_vlan = r.u16()?;
        let dl_vlan_pcp = r.u8()?;
        r.skip(1)?;
        let dl_type = r.u16()?;
        let nw_tos = r.u8()?;
        let nw_proto = r.u8()?;
        r.skip(2)?;
        Ok(Match10 {
            wildcards,
            in_port,
            dl_src,
            dl_dst,
            dl_vlan,
            dl_vlan_pcp,
            dl_type,
            nw_tos,
            nw_proto,
            nw_src: r.u32()?,
            nw_dst: r.u32()?,
            tp_src: r.u16()?,
            tp_dst: r.u16()?,
        })
    }

    /// Appends the 40 bytes.
    pub fn write(&self, w: &mut Vec<u8>) {
        w.u32(self.wildcards);
        w.u16(self.in_port);
        w.put(&self.dl_src);
        w.put(&self.dl_dst);
        w.u16(self.dl_vlan);
        w.u8(self.dl_vlan_pcp);
        w.zeros(1);
        w.u16(self.dl_type);
        w.u8(self.nw_tos);
        w.u8(self.nw_proto);
        w.zeros(2);
        w.u32(self.nw_src);
        w.u32(self.nw_dst);
        w.u16(self.tp_src);
        w.u16(self.tp_dst);
    }

    /// Number of wildcarded low bits of nw_src (0..=32).
    pub fn nw_src_wild_bits(&self) -> u32 {
        ((self.wildcards >> OFPFW10_NW_SRC_SHIFT) & 0x3f).min(32)
    }

    /// Number of wildcarded low bits of nw_dst (0..=32).
    pub fn nw_dst_wild_bits(&self) -> u32 {
        ((self.wildcards >> OFPFW10_NW_DST_SHIFT) & 0x3f).min(32)
    }

    /// The same match as NXM-spelled fields, in `ofp_match` order. The
    /// transport ports map to TCP/UDP/ICMP fields by `nw_proto`.
    pub fn to_fields(&self) -> OxmMatch {
        let mut v = Vec::new();
        let w = self.wildcards;
        let mut add = |f: Field, val: &[u8], mask: Option<&[u8]>| {
            if let Some(m) = MatchField::new(f, val, mask, true) {
                v.push(m);
            }
        };
        if w & OFPFW10_IN_PORT == 0 {
            add(Field::InPort, &self.in_port.to_be_bytes(), None);
        }
        if w & OFPFW10_DL_SRC == 0 {
            add(Field::EthSrc, &self.dl_src, None);
        }
        if w & OFPFW10_DL_DST == 0 {
            add(Field::EthDst, &self.dl_dst, None);
        }
        if w & OFPFW10_DL_VLAN == 0 {
            if self.dl_vlan == 0xffff {
                add(Field::VlanTci, &[0, 0], None);
            } else if w & OFPFW10_DL_VLAN_PCP == 0 {
                let tci = 0x1000 | (self.dl_vlan & 0xfff) | (self.dl_vlan_pcp as u16 & 7) << 13;
                add(Field::VlanTci, &tci.to_be_bytes(), None);
            } else {
                let tci = 0x1000 | (self.dl_vlan & 0xfff);
                add(
                    Field::VlanTci,
                    &tci.to_be_bytes(),
                    Some(&0x1fffu16.to_be_bytes()),
                );
            }
        } else if w & OFPFW10_DL_VLAN_PCP == 0 {
            let tci = 0x1000 | (self.dl_vlan_pcp as u16 & 7) << 13;
            add(
                Field::VlanTci,
                &tci.to_be_bytes(),
                Some(&0xf000u16.to_be_bytes()),
            );
        }
        if w & OFPFW10_DL_TYPE == 0 {
            add(Field::EthType, &self.dl_type.to_be_bytes(), None);
        }
        if w & OFPFW10_NW_TOS == 0 {
            add(Field::NwTos, &[self.nw_tos & 0xfc], None);
        }
        if w & OFPFW10_NW_PROTO == 0 {
            if self.dl_type == 0x0806 {
                add(Field::ArpOp, &(self.nw_proto as u16).to_be_bytes(), None);
            } else {
                add(Field::IpProto, &[self.nw_proto], None);
            }
        }
        let arp = self.dl_type == 0x0806;
        for (addr, bits, f) in [
            (
                self.nw_src,
                self.nw_src_wild_bits(),
                if arp { Field::ArpSpa } else { Field::Ipv4Src },
            ),
            (
                self.nw_dst,
                self.nw_dst_wild_bits(),
                if arp { Field::ArpTpa } else { Field::Ipv4Dst },
            ),
        ] {
            if bits < 32 {
                let mask = u32::MAX.checked_shl(bits).unwrap_or(0);
                let m = (mask != u32::MAX).then_some(mask.to_be_bytes());
                add(f, &(addr & mask).to_be_bytes(), m.as_ref().map(|m| &m[..]));
            }
        }
        let (s, d) = match self.nw_proto {
            1 => (Field::Icmpv4Type, Field::Icmpv4Code),
            17 => (Field::UdpSrc, Field::UdpDst),
            _ => (Field::TcpSrc, Field::TcpDst),
        };
        let icmp = self.nw_proto == 1;
        if w & OFPFW10_TP_SRC == 0 {
            if icmp {
                add(s, &[self.tp_src as u8], None);
            } else {
                add(s, &self.tp_src.to_be_bytes(), None);
            }
        }
        if w & OFPFW10_TP_DST == 0 {
            if icmp {
                add(d, &[self.tp_dst as u8], None);
            } else {
                add(d, &self.tp_dst.to_be_bytes(), None);
            }
        }
        OxmMatch { fields: v }
    }

    /// The OpenFlow 1.0 form of a field list (the inverse of
    /// [`Match10::to_fields`]), as OVS `ofputil_match_to_ofp10_match()`:
    /// fields `ofp_match` cannot express (registers, IPv6, masked MACs,
    /// ...) are left out, so the result may match more.
    pub fn from_fields(m: &OxmMatch) -> Match10 {
        let mut o = Match10::default();
        let mut w = OFPFW10_ALL;
        let be = |b: &[u8]| b.iter().take(8).fold(0u64, |a, &x| a << 8 | x as u64);
        for f in &m.fields {
            let v = be(&f.value);
            let mask = f.mask.as_deref().map(be);
            match (f.field, mask) {
                (Field::InPort, None) => {
                    o.in_port = if f.value.len() == 2 {
                        v as u16
                    } else {
                        super::actions::port_to_of10(v as u32)
                    };
                    w &= !OFPFW10_IN_PORT;
                }
                (Field::EthSrc, None) => {
                    o.dl_src.copy_from_slice(&f.value[..6]);
                    w &= !OFPFW10_DL_SRC;
                }
                (Field::EthDst, None) => {
                    o.dl_dst.copy_from_slice(&f.value[..6]);
                    w &= !OFPFW10_DL_DST;
                }
                (Field::EthType, None) => {
                    o.dl_type = v as u16;
                    w &= !OFPFW10_DL_TYPE;
                }
                (Field::VlanTci, mk) => {
                    let mk = mk.unwrap_or(0xffff) as u16;
                    let tci = v as u16;
                    if mk & 0x1fff == 0x1fff {
                        o.dl_vlan = if tci & 0x1000 == 0 {
                            0xffff
                        } else {
                            tci & 0xfff
                        };
                        w &= !OFPFW10_DL_VLAN;
                    }
                    if mk & 0xf000 == 0xf000 && tci & 0x1000 != 0 {
                        o.dl_vlan_pcp = (tci >> 13) as u8;
                        w &= !OFPFW10_DL_VLAN_PCP;
                    }
                }
                (Field::NwTos, None) | (Field::IpDscp, None) => {
                    o.nw_tos = if f.field == Field::IpDscp {
                        (v as u8) << 2
                    } else {
                        v as u8 & 0xfc
                    };
                    w &= !OFPFW10_NW_TOS;
                }
                (Field::IpProto, None) | (Field::ArpOp, None) => {
                    o.nw_proto = v as u8;
                    w &= !OFPFW10_NW_PROTO;
                }
                (Field::Ipv4Src | Field::ArpSpa, mk) | (Field::Ipv4Dst | Field::ArpTpa, mk) => {
                    let mk = mk.unwrap_or(0xffff_ffff) as u32;
                    let wild = mk.trailing_zeros().min(32);
                    let src = matches!(f.field, Field::Ipv4Src | Field::ArpSpa);
                    let (shift, val) = if src {
                        (OFPFW10_NW_SRC_SHIFT, &mut o.nw_src)
                    } else {
                        (OFPFW10_NW_DST_SHIFT, &mut o.nw_dst)
                    };
                    *val = v as u32 & mk;
                    w = (w & !(0x3f << shift)) | (wild << shift);
                }
                (Field::TcpSrc | Field::UdpSrc | Field::SctpSrc | Field::Icmpv4Type, None) => {
                    o.tp_src = v as u16;
                    w &= !OFPFW10_TP_SRC;
                }
                (Field::TcpDst | Field::UdpDst | Field::SctpDst | Field::Icmpv4Code, None) => {
                    o.tp_dst = v as u16;
                    w &= !OFPFW10_TP_DST;
                }
                _ => {}
            }
        }
        o.wildcards = w;
        o
    }
}
