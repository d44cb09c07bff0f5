//! NXT_CT_FLUSH (Open vSwitch 3.1, `include/openflow/nicira-ext.h`
//! `struct nx_ct_flush`, `lib/ofp-ct.c`): flush the connections of a zone
//! that match a partial original and/or reply tuple. Sent by `ovs-ofctl
//! ct-flush SWITCH [zone=N] [CT_ORIG_TUPLE [CT_REPLY_TUPLE]]`.
//!
//! Body after the Nicira subtype: `ip_proto u8, pad[7]`, then properties
//! (`type u16, len u16, value, pad to 8`):
//! - NXT_CT_ORIG_TUPLE 0 / NXT_CT_REPLY_TUPLE 1: 4 zero bytes (nested
//!   properties start 8-aligned), then tuple entries of the same shape: NXT_CT_TUPLE_ENTRY_SRC 0 / DST 1 (16-byte IPv6 address;
//!   IPv4 as IPv4-mapped `::ffff:a.b.c.d`), SRC_PORT 2 / DST_PORT 3 /
//!   ICMP_ID 4 (u16, network byte order, then 2 zero bytes), ICMP_TYPE 5 / ICMP_CODE 6 (u8);
//! - NXT_CT_ZONE_ID 2: u16 zone, then 2 zero bytes.
//!
//! A field left out (or zero) matches anything, as in OVS
//! `ofp_ct_tuple_cmp()`.

use super::error::{fail, ErrorCode, OfpError};
use super::wire::{pad8, Rd, Wr};
use std::net::Ipv6Addr;

/// Property types of NXT_CT_FLUSH.
#[allow(missing_docs)]
pub mod prop {
    pub const ORIG_TUPLE: u16 = 0;
    pub const REPLY_TUPLE: u16 = 1;
    pub const ZONE_ID: u16 = 2;
}

/// Entry types inside a tuple property.
#[allow(missing_docs)]
pub mod entry {
    pub const SRC: u16 = 0;
    pub const DST: u16 = 1;
    pub const SRC_PORT: u16 = 2;
    pub const DST_PORT: u16 = 3;
    pub const ICMP_ID: u16 = 4;
    pub const ICMP_TYPE: u16 = 5;
    pub const ICMP_CODE: u16 = 6;
}

/// A partial conntrack tuple (OVS `struct ofp_ct_tuple`): each field left
/// `None` matches anything. Addresses are IPv6; an IPv4 address is
/// IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 section 2.5.5.2).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtTuple {
    pub src: Option<Ipv6Addr>,
    pub dst: Option<Ipv6Addr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub icmp_id: Option<u16>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
}

impl CtTuple {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == CtTuple::default()
    }

    /// Decodes the value of a tuple property: 4 bytes of padding (nested
    /// properties start 8-aligned, OVS `ofpprop_start_nested()`), entries.
    fn decode(b: &[u8]) -> Result<CtTuple, OfpError> {
        let mut t = CtTuple::default();
        let b = b
            .get(4..)
            .ok_or(OfpError::new(ErrorCode::BadPropertyLen, "short ct tuple"))?;
        for_props(b, |ty, v| {
            let mut r = Rd::new(v);
            let bad = || OfpError::new(ErrorCode::BadPropertyLen, "bad ct tuple entry length");
            match ty {
                entry::SRC | entry::DST => {
                    let a = Ipv6Addr::from(r.arr::<16>().map_err(|_| bad())?);
                    let a = (!a.is_unspecified()).then_some(a);
                    if ty == entry::SRC {
                        t.src = a;
                    } else {
                        t.dst = a;
                    }
                }
                entry::SRC_PORT | entry::DST_PORT | entry::ICMP_ID => {
                    let x = (v.len() == 2 || v.len() == 4)
                        .then(|| r.u16())
                        .ok_or_else(bad)??;
                    let x = (x != 0).then_some(x);
                    match ty {
                        entry::SRC_PORT => t.src_port = x,
                        entry::DST_PORT => t.dst_port = x,
                        _ => t.icmp_id = x,
                    }
                }
                entry::ICMP_TYPE | entry::ICMP_CODE => {
                    let x = (v.len() == 1).then(|| r.u8()).ok_or_else(bad)??;
                    if ty == entry::ICMP_TYPE {
                        t.icmp_type = Some(x);
                    } else {
                        t.icmp_code = Some(x);
                    }
                }
                _ => {
                    return fail(
                        ErrorCode::Wire {
                            err_type: 14,
                            code: 0,
                        },
                        "bad ct entry",
                    )
                }
            }
            Ok(())
        })?;
        Ok(t)
    }

    fn encode(&self, w: &mut Vec<u8>) {
        w.zeros(4);
        if let Some(a) = self.src {
            put_prop(w, entry::SRC, &a.octets());
        }
        if let Some(a) = self.dst {
            put_prop(w, entry::DST, &a.octets());
        }
        for (ty, v) in [
            (entry::SRC_PORT, self.src_port),
            (entry::DST_PORT, self.dst_port),
            (entry::ICMP_ID, self.icmp_id),
        ] {
            if let Some(v) = v {
                put_be16(w, ty, v);
            }
        }
        for (ty, v) in [
            (entry::ICMP_TYPE, self.icmp_type),
            (entry::ICMP_CODE, self.icmp_code),
        ] {
            if let Some(v) = v {
                put_prop(w, ty, &[v]);
            }
        }
    }
}

/// A decoded NXT_CT_FLUSH (OVS `struct ofp_ct_match` plus the zone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtFlush {
    /// IP protocol; 0 matches any.
    pub ip_proto: u8,
    /// Filter on the original direction.
    pub orig: CtTuple,
    /// Filter on the reply direction.
    pub reply: CtTuple,
    /// Zone; `None` as `ovs-ofctl ct-flush` without `zone=`.
    pub zone: Option<u16>,
}

impl CtFlush {
    /// Decodes the body after the subtype. Errors: OFPBRC_BAD_LEN when
    /// truncated, OFPBPC_BAD_LEN for a property of the wrong length,
    /// OFPBPC_BAD_TYPE for an unknown property or entry.
    pub fn decode(b: &[u8]) -> Result<CtFlush, OfpError> {
        let mut r = Rd::new(b);
        let mut f = CtFlush {
            ip_proto: r.u8()?,
            ..CtFlush::default()
        };
        r.skip(7)?;
        for_props(r.rest(), |ty, v| {
            match ty {
                prop::ORIG_TUPLE => f.orig = CtTuple::decode(v)?,
                prop::REPLY_TUPLE => f.reply = CtTuple::decode(v)?,
                prop::ZONE_ID => {
                    if v.len() != 2 && v.len() != 4 {
                        return fail(ErrorCode::BadPropertyLen, "bad zone length");
                    }
                    f.zone = Some(u16::from_be_bytes([v[0], v[1]]));
                }
                _ => {
                    return fail(
                        ErrorCode::Wire {
                            err_type: 14,
                            code: 0,
                        },
                        "bad ct property",
                    )
                }
            }
            Ok(())
        })?;
        Ok(f)
    }

    /// Appends the body after the subtype, as `ovs-ofctl` 3.1 encodes it.
    pub fn encode(&self, w: &mut Vec<u8>) {
        w.u8(self.ip_proto);
        w.zeros(7);
        for (ty, t) in [
            (prop::ORIG_TUPLE, &self.orig),
            (prop::REPLY_TUPLE, &self.reply),
        ] {
            if !t.is_empty() {
                let mut inner = Vec::new();
                t.encode(&mut inner);
                put_prop(w, ty, &inner);
            }
        }
        if let Some(z) = self.zone {
            put_be16(w, prop::ZONE_ID, z);
        }
    }
}

/// Calls `f(type, value)` for each property of `b` (`type u16, len u16`,
/// `len` counting the 4-byte header but not the padding to 8).
fn for_props(
    b: &[u8],
    mut f: impl FnMut(u16, &[u8]) -> Result<(), OfpError>,
) -> Result<(), OfpError> {
    let mut r = Rd::new(b);
    while !r.is_empty() {
        let ty = r.u16()?;
        let len = r.u16()? as usize;
        if len < 4 {
            return fail(
                ErrorCode::BadPropertyLen,
                "property shorter than its header",
            );
        }
        let v = r
            .bytes(len - 4)
            .map_err(|e| e.relabel_len(ErrorCode::BadPropertyLen))?;
        f(ty, v)?;
        // The last property's padding may be missing.
        let pad = pad8(len) - len;
        r.skip(pad.min(r.remaining()))?;
    }
    Ok(())
}

/// A 16-bit property as OVS `ofpprop_put_be16()` writes it: the value and
/// 2 zero bytes, length 8.
fn put_be16(w: &mut Vec<u8>, ty: u16, v: u16) {
    let b = v.to_be_bytes();
    put_prop(w, ty, &[b[0], b[1], 0, 0]);
}

fn put_prop(w: &mut Vec<u8>, ty: u16, v: &[u8]) {
    let len = 4 + v.len();
    w.u16(ty);
    w.u16(len as u16);
    w.put(v);
    w.zeros(pad8(len) - len);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body `ovs-ofctl ct-flush br0 zone=5
    /// 'ct_nw_src=10.0.0.1,ct_nw_dst=10.0.0.2,ct_nw_proto=6,ct_tp_src=1,ct_tp_dst=2'`
    /// sends (captured from ovs-ofctl 3.1), after the subtype.
    const TCP: &str = "060000000000000000000048000000000000001400000000000000000000ffff\
        0a000001000000000001001400000000000000000000ffff0a00000200000000\
        000200080001000000030008000200000002000800050000";

    #[test]
    fn decodes_and_reencodes_ovs_ofctl_body() {
        let b: Vec<u8> = (0..TCP.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&TCP[i..i + 2], 16).unwrap())
            .collect();
        let f = CtFlush::decode(&b).unwrap();
        assert_eq!(f.ip_proto, 6);
        assert_eq!(f.zone, Some(5));
        assert_eq!(
            f.orig.src,
            Some("::ffff:10.0.0.1".parse::<Ipv6Addr>().unwrap())
        );
        assert_eq!(f.orig.dst_port, Some(2));
        assert!(f.reply.is_empty());
        let mut w = Vec::new();
        f.encode(&mut w);
        assert_eq!(w, b);
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(CtFlush::decode(&[6, 0, 0]).is_err());
        // Zone property of 3 value bytes.
        let mut b = vec![0u8; 8];
        b.extend_from_slice(&[0, 2, 0, 7, 0, 5, 0, 0]);
        assert_eq!(
            CtFlush::decode(&b).unwrap_err().code,
            ErrorCode::BadPropertyLen
        );
        // A port entry of 1 byte.
        let mut b = vec![0u8; 8];
        b.extend_from_slice(&[0, 0, 0, 16, 0, 0, 0, 0, 0, 2, 0, 5, 1, 0, 0, 0]);
        assert_eq!(
            CtFlush::decode(&b).unwrap_err().code,
            ErrorCode::BadPropertyLen
        );
        // Property length 2 (< header).
        let mut b = vec![0u8; 8];
        b.extend_from_slice(&[0, 2, 0, 2]);
        assert!(CtFlush::decode(&b).is_err());
        // Unknown property type.
        let mut b = vec![0u8; 8];
        b.extend_from_slice(&[0, 9, 0, 8, 0, 5, 0, 0]);
        assert!(CtFlush::decode(&b).is_err());
    }
}
