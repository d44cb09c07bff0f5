//! The OpenFlow 1.1 standard match (`ofp11_match`, OpenFlow 1.1.0 section
//! A.2.3), converted to and from a field list ([`OxmMatch`]) the way Open
//! vSwitch does (`ofputil_match_from_ofp11_match` /
//! `ofputil_match_to_ofp11_match` in `lib/ofp-match.c`).
//!
//! Layout (88 bytes, network byte order): `type u16 (OFPMT_STANDARD 0),
//! length u16 (88), in_port u32, wildcards u32, dl_src[6], dl_src_mask[6],
//! dl_dst[6], dl_dst_mask[6], dl_vlan u16, dl_vlan_pcp u8, pad, dl_type u16,
//! nw_tos u8, nw_proto u8, nw_src u32, nw_src_mask u32, nw_dst u32,
//! nw_dst_mask u32, tp_src u16, tp_dst u16, mpls_label u32, mpls_tc u8,
//! pad[3], metadata u64, metadata_mask u64`. Mask bits set to 1 are
//! wildcarded (the inverse of OXM masks). `dl_vlan` OFPVID11_ANY (0xfffe)
//! means "any tag", OFPVID11_NONE (0xffff) "no tag".

use super::error::{fail, ErrorCode, OfpError};
use super::oxm::{Field, MatchField, OxmMatch};
use super::wire::{Rd, Wr};

/// OFPFW11_* wildcard bits.
#[allow(missing_docs)]
pub mod ofpfw11 {
    pub const IN_PORT: u32 = 1 << 0;
    pub const DL_VLAN: u32 = 1 << 1;
    pub const DL_VLAN_PCP: u32 = 1 << 2;
    pub const DL_TYPE: u32 = 1 << 3;
    pub const NW_TOS: u32 = 1 << 4;
    pub const NW_PROTO: u32 = 1 << 5;
    pub const TP_SRC: u32 = 1 << 6;
    pub const TP_DST: u32 = 1 << 7;
    pub const MPLS_LABEL: u32 = 1 << 8;
    pub const MPLS_TC: u32 = 1 << 9;
    pub const ALL: u32 = (1 << 10) - 1;
}

/// Bytes of an `ofp11_match`.
pub const OFP11_MATCH_LEN: u16 = 88;

const VID_ANY: u16 = 0xfffe;
const VID_NONE: u16 = 0xffff;

fn inv<const N: usize>(m: [u8; N]) -> [u8; N] {
    m.map(|b| !b)
}

/// The L4 fields `tp_src`/`tp_dst` stand for under `dl_type`/`nw_proto`.
fn l4_fields(dl_type: u16, proto: u8) -> Option<(Field, Field)> {
    match (dl_type, proto) {
        (0x0800, 6) => Some((Field::TcpSrc, Field::TcpDst)),
        (0x0800, 17) => Some((Field::UdpSrc, Field::UdpDst)),
        (0x0800, 132) => Some((Field::SctpSrc, Field::SctpDst)),
        (0x0800, 1) => Some((Field::Icmpv4Type, Field::Icmpv4Code)),
        _ => None,
    }
}

/// Reads an `ofp11_match`. Errors: OFPBMC_BAD_TYPE for a type other than
/// OFPMT_STANDARD, OFPBMC_BAD_LEN for a length other than 88, OFPBRC_BAD_LEN
/// when truncated.
pub fn read(r: &mut Rd<'_>) -> Result<OxmMatch, OfpError> {
    if r.u16()? != 0 {
        return fail(ErrorCode::BadMatchType, "ofp11_match type is not standard");
    }
    if r.u16()? != OFP11_MATCH_LEN {
        return fail(ErrorCode::BadMatchLen, "ofp11_match length is not 88");
    }
    let in_port = r.u32()?;
    let w = r.u32()?;
    let dl_src: [u8; 6] = r.arr()?;
    let dl_src_mask = inv(r.arr::<6>()?);
    let dl_dst: [u8; 6] = r.arr()?;
    let dl_dst_mask = inv(r.arr::<6>()?);
    let dl_vlan = r.u16()?;
    let dl_vlan_pcp = r.u8()?;
    r.skip(1)?;
    let dl_type = r.u16()?;
    let nw_tos = r.u8()?;
    let nw_proto = r.u8()?;
    let nw_src = r.u32()?;
    let nw_src_mask = !r.u32()?;
    let nw_dst = r.u32()?;
    let nw_dst_mask = !r.u32()?;
    let tp_src = r.u16()?;
    let tp_dst = r.u16()?;
    let mpls_label = r.u32()?;
    let mpls_tc = r.u8()?;
    r.skip(3)?;
    let metadata = r.u64()?;
    let metadata_mask = !r.u64()?;
    let mut out = Vec::new();
    let mut add = |f: Field, v: &[u8], m: Option<&[u8]>| {
        let full = m.is_some_and(|m| m.iter().all(|&b| b == 0xff));
        if m.is_some_and(|m| m.iter().all(|&b| b == 0)) {
            return;
        }
        let m = if full { None } else { m };
        if let Some(mf) = MatchField::new(f, v, m, false) {
            out.push(mf);
        }
    };
    if w & ofpfw11::IN_PORT == 0 {
        add(Field::InPort, &in_port.to_be_bytes(), None);
    }
    add(
        Field::Metadata,
        &metadata.to_be_bytes(),
        Some(&metadata_mask.to_be_bytes()),
    );
    let masked = |v: [u8; 6], m: [u8; 6]| {
        let mut x = v;
        for (a, b) in x.iter_mut().zip(m) {
            *a &= b;
        }
        x
    };
    add(
        Field::EthSrc,
        &masked(dl_src, dl_src_mask),
        Some(&dl_src_mask),
    );
    add(
        Field::EthDst,
        &masked(dl_dst, dl_dst_mask),
        Some(&dl_dst_mask),
    );
    if w & ofpfw11::DL_VLAN == 0 {
        match dl_vlan {
            VID_NONE => add(Field::VlanVid, &[0, 0], None),
            VID_ANY => add(Field::VlanVid, &[0x10, 0], Some(&[0x10, 0])),
            vid => {
                add(
                    Field::VlanVid,
                    &(0x1000 | (vid & 0xfff)).to_be_bytes(),
                    None,
                );
            }
        }
        if w & ofpfw11::DL_VLAN_PCP == 0 && dl_vlan != VID_NONE {
            add(Field::VlanPcp, &[dl_vlan_pcp & 7], None);
        }
    }
    if w & ofpfw11::DL_TYPE != 0 {
        return Ok(OxmMatch { fields: out });
    }
    add(Field::EthType, &dl_type.to_be_bytes(), None);
    match dl_type {
        0x0800 => {
            if w & ofpfw11::NW_TOS == 0 {
                add(Field::IpDscp, &[nw_tos >> 2], None);
            }
            if w & ofpfw11::NW_PROTO == 0 {
                add(Field::IpProto, &[nw_proto], None);
            }
            add(
                Field::Ipv4Src,
                &(nw_src & nw_src_mask).to_be_bytes(),
                Some(&nw_src_mask.to_be_bytes()),
            );
            add(
                Field::Ipv4Dst,
                &(nw_dst & nw_dst_mask).to_be_bytes(),
                Some(&nw_dst_mask.to_be_bytes()),
            );
            if w & ofpfw11::NW_PROTO == 0 {
                if let Some((s, d)) = l4_fields(dl_type, nw_proto) {
                    let icmp = s == Field::Icmpv4Type;
                    if w & ofpfw11::TP_SRC == 0 {
                        if icmp {
                            add(s, &[tp_src as u8], None);
                        } else {
                            add(s, &tp_src.to_be_bytes(), None);
                        }
                    }
                    if w & ofpfw11::TP_DST == 0 {
                        if icmp {
                            add(d, &[tp_dst as u8], None);
                        } else {
                            add(d, &tp_dst.to_be_bytes(), None);
                        }
                    }
                }
            }
        }
        0x0806 => {
            if w & ofpfw11::NW_PROTO == 0 {
                add(Field::ArpOp, &(nw_proto as u16).to_be_bytes(), None);
            }
            add(
                Field::ArpSpa,
                &(nw_src & nw_src_mask).to_be_bytes(),
                Some(&nw_src_mask.to_be_bytes()),
            );
            add(
                Field::ArpTpa,
                &(nw_dst & nw_dst_mask).to_be_bytes(),
                Some(&nw_dst_mask.to_be_bytes()),
            );
        }
        0x8847 | 0x8848 => {
            if w & ofpfw11::MPLS_LABEL == 0 {
                add(Field::MplsLabel, &mpls_label.to_be_bytes(), None);
            }
            if w & ofpfw11::MPLS_TC == 0 {
                add(Field::MplsTc, &[mpls_tc], None);
            }
        }
        _ => {}
    }
    Ok(OxmMatch { fields: out })
}

/// Writes `m` as an `ofp11_match`; fields it cannot express are left out
/// (wildcarded), as Open vSwitch does for OpenFlow 1.1.
pub fn write(m: &OxmMatch, w: &mut Vec<u8>) {
    let val = |f: Field| m.get(f).map(|x| x.value_u64());
    let mask_of = |f: Field, bytes: usize| -> Option<(Vec<u8>, Vec<u8>)> {
        let x = m.get(f)?;
        let mk = x.mask.clone().unwrap_or_else(|| vec![0xff; bytes]);
        Some((x.value.clone(), mk))
    };
    let mut wc = ofpfw11::ALL;
    let in_port = val(Field::InPort).map_or(0, |p| {
        wc &= !ofpfw11::IN_PORT;
        p as u32
    });
    let eth = |f: Field| -> ([u8; 6], [u8; 6]) {
        let mut v = [0u8; 6];
        let mut k = [0xffu8; 6];
        if let Some((a, b)) = mask_of(f, 6) {
            if a.len() == 6 && b.len() == 6 {
                v.copy_from_slice(&a);
                for (i, x) in b.iter().enumerate() {
                    k[i] = !x;
                }
            }
        }
        (v, k)
    };
    let (dl_src, dl_src_mask) = eth(Field::EthSrc);
    let (dl_dst, dl_dst_mask) = eth(Field::EthDst);
    let mut dl_vlan = 0u16;
    if let Some(x) = m.get(Field::VlanVid) {
        wc &= !ofpfw11::DL_VLAN;
        let v = x.value_u64() as u16;
        dl_vlan = if x.mask.is_some() {
            VID_ANY
        } else if v & 0x1000 == 0 {
            VID_NONE
        } else {
            v & 0xfff
        };
    }
    let dl_vlan_pcp = val(Field::VlanPcp).map_or(0, |p| {
        wc &= !ofpfw11::DL_VLAN_PCP;
        p as u8
    });
    let dl_type = val(Field::EthType).map_or(0, |t| {
        wc &= !ofpfw11::DL_TYPE;
        t as u16
    });
    let nw_tos = val(Field::IpDscp).map_or(0, |d| {
        wc &= !ofpfw11::NW_TOS;
        (d as u8) << 2
    });
    let nw_proto = val(Field::IpProto).or(val(Field::ArpOp)).map_or(0, |p| {
        wc &= !ofpfw11::NW_PROTO;
        p as u8
    });
    let ip = |a: Field, b: Field| -> (u32, u32) {
        match mask_of(a, 4).or(mask_of(b, 4)) {
            Some((v, k)) if v.len() == 4 && k.len() == 4 => (
                u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                !u32::from_be_bytes([k[0], k[1], k[2], k[3]]),
            ),
            _ => (0, u32::MAX),
        }
    };
    let (nw_src, nw_src_mask) = ip(Field::Ipv4Src, Field::ArpSpa);
    let (nw_dst, nw_dst_mask) = ip(Field::Ipv4Dst, Field::ArpTpa);
    let mut tp = |fs: [Field; 4], bit: u32| -> u16 {
        fs.iter().find_map(|&f| val(f)).map_or(0, |p| {
            wc &= !bit;
            p as u16
        })
    };
    let tp_src = tp(
        [
            Field::TcpSrc,
            Field::UdpSrc,
            Field::SctpSrc,
            Field::Icmpv4Type,
        ],
        ofpfw11::TP_SRC,
    );
    let tp_dst = tp(
        [
            Field::TcpDst,
            Field::UdpDst,
            Field::SctpDst,
            Field::Icmpv4Code,
        ],
        ofpfw11::TP_DST,
    );
    let mpls_label = val(Field::MplsLabel).map_or(0, |l| {
        wc &= !ofpfw11::MPLS_LABEL;
        l as u32
    });
    let mpls_tc = val(Field::MplsTc).map_or(0, |t| {
        wc &= !ofpfw11::MPLS_TC;
        t as u8
    });
    let (metadata, metadata_mask) = match mask_of(Field::Metadata, 8) {
        Some((v, k)) if v.len() == 8 && k.len() == 8 => (
            u64::from_be_bytes(v.try_into().unwrap_or([0; 8])),
            !u64::from_be_bytes(k.try_into().unwrap_or([0; 8])),
        ),
        _ => (0, u64::MAX),
    };
    w.u16(0);
    w.u16(OFP11_MATCH_LEN);
    w.u32(in_port);
    w.u32(wc);
    w.put(&dl_src);
    w.put(&dl_src_mask);
    w.put(&dl_dst);
    w.put(&dl_dst_mask);
    w.u16(dl_vlan);
    w.u8(dl_vlan_pcp);
    w.zeros(1);
    w.u16(dl_type);
    w.u8(nw_tos);
    w.u8(nw_proto);
    w.u32(nw_src);
    w.u32(nw_src_mask);
    w.u32(nw_dst);
    w.u32(nw_dst_mask);
    w.u16(tp_src);
    w.u16(tp_dst);
    w.u32(mpls_label);
    w.u8(mpls_tc);
    w.zeros(3);
    w.u64(metadata);
    w.u64(metadata_mask);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_type() {
        let mut m = OxmMatch::default();
        for (f, v, k) in [
            (Field::InPort, vec![0, 0, 0, 3], None),
            (Field::EthType, vec![8, 0], None),
            (Field::IpProto, vec![6], None),
            (Field::Ipv4Src, vec![10, 0, 0, 0], Some(vec![255, 0, 0, 0])),
            (Field::TcpDst, vec![0, 80], None),
        ] {
            m.fields
                .push(MatchField::new(f, &v, k.as_deref(), false).unwrap());
        }
        let mut b = Vec::new();
        write(&m, &mut b);
        assert_eq!(b.len(), 88);
        let back = read(&mut Rd::new(&b)).unwrap();
        for f in [
            Field::InPort,
            Field::EthType,
            Field::IpProto,
            Field::Ipv4Src,
            Field::TcpDst,
        ] {
            assert_eq!(back.get(f), m.get(f), "{f:?}");
        }
        b[1] = 1;
        assert!(read(&mut Rd::new(&b)).is_err());
        assert!(read(&mut Rd::new(&b[..40])).is_err());
    }
}
