//! Flow key + mask text (`odp_flow_format()` / `odp_flow_from_string()` in
//! `lib/odp-util.c`).

use super::nsh::{format_nsh_key_mask, parse_nsh_fields};
use super::{
    call, chomp, hx, hx128, ip4, ip6, kv, mac, num, num128, parse_ip4, parse_ip6, parse_mac, perr,
    split_top, vm, ParseError,
};
use crate::flow::{
    ct_state, fields as F, tun_flags, Field, Flow, ETH_TYPE_NONE, FRAG_ANY, FRAG_LATER, FRAG_MASK,
    TUN_OPTS_MAX_LEN, TUN_OPTS_WORD, VLAN_CFI,
};
use crate::matches::Match;
use crate::nsh::NshKey;
use std::fmt::Write as _;

const ETH_TYPE_IP: u64 = 0x0800;
const ETH_TYPE_IPV6: u64 = 0x86dd;
const ETH_TYPE_ARP: u64 = 0x0806;
const ETH_TYPE_RARP: u64 = 0x8035;
const ETH_TYPE_MPLS: u64 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u64 = 0x8848;
const ETH_TYPE_MIN: u64 = 0x0600;
const ETH_TYPE_NSH: u64 = 0x894f;

fn is_vlan_tpid(t: u64) -> bool {
    t == 0x8100 || t == 0x88a8
}

/// `ct_state` flag names in bit order (`odp_ct_state_to_string()`).
const CT_FLAGS: [(u32, &str); 8] = [
    (ct_state::NEW as u32, "new"),
    (ct_state::ESTABLISHED as u32, "est"),
    (ct_state::RELATED as u32, "rel"),
    (ct_state::REPLY_DIR as u32, "rpl"),
    (ct_state::INVALID as u32, "inv"),
    (ct_state::TRACKED as u32, "trk"),
    (ct_state::SRC_NAT as u32, "snat"),
    (ct_state::DST_NAT as u32, "dnat"),
];

/// TCP flag names (`packet_tcp_flag_to_string()`).
const TCP_FLAGS: [(u32, &str); 12] = [
    (0x001, "fin"),
    (0x002, "syn"),
    (0x004, "rst"),
    (0x008, "psh"),
    (0x010, "ack"),
    (0x020, "urg"),
    (0x040, "ece"),
    (0x080, "cwr"),
    (0x100, "ns"),
    (0x200, "[200]"),
    (0x400, "[400]"),
    (0x800, "[800]"),
];

/// Tunnel flag names (`flow_tun_flag_to_string()`).
const TUN_FLAGS: [(u32, &str); 4] = [
    (tun_flags::DONT_FRAGMENT as u32, "df"),
    (tun_flags::CSUM as u32, "csum"),
    (tun_flags::KEY as u32, "key"),
    (tun_flags::OAM as u32, "oam"),
];

fn flag_name(tbl: &[(u32, &'static str)], bit: u32) -> Option<&'static str> {
    tbl.iter().find(|(b, _)| *b == bit).map(|(_, n)| *n)
}

/// `format_flags()` (`lib/util.c`): `a|b|c`, `0` if none.
pub(super) fn format_flags(tbl: &[(u32, &'static str)], flags: u32) -> String {
    if flags == 0 {
        return "0".into();
    }
    let mut s = String::new();
    let mut bad = 0u32;
    let mut f = flags;
    while f != 0 {
        let bit = f & f.wrapping_neg();
        match flag_name(tbl, bit) {
            Some(n) => {
                s.push_str(n);
                s.push('|');
            }
            None => bad |= bit,
        }
        f &= !bit;
    }
    if bad != 0 {
        let _ = write!(s, "{bad:#x}|");
    }
    chomp(&mut s, '|');
    s
}

/// `format_flags_masked()` (`lib/util.c`).
fn format_flags_masked(tbl: &[(u32, &'static str)], flags: u32, mask: u32, max: u32) -> String {
    if mask == max {
        return format_flags(tbl, flags);
    }
    if mask == 0 {
        return "0/0".into();
    }
    let mut s = String::new();
    let mut m = mask;
    while m != 0 {
        let bit = m & m.wrapping_neg();
        s.push(if flags & bit != 0 { '+' } else { '-' });
        s.push_str(flag_name(tbl, bit).unwrap_or("[Unknown]"));
        m &= !bit;
    }
    s
}

/// `parse_flags()` (`lib/util.c`): `+a-b` (masked), `a|b` (exact: mask =
/// `allowed`), or `V[/M]` numbers.
fn parse_flags(
    base: &str,
    tbl: &[(u32, &'static str)],
    s: &str,
    allowed: u32,
) -> Result<(u32, u32), ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(perr(base, s, "empty flags"));
    }
    if s.as_bytes()[0].is_ascii_digit() {
        let (v, m) = vm(s);
        let v = num(base, v, u32::MAX as u64)? as u32;
        let m = match m {
            Some(m) => num(base, m, u32::MAX as u64)? as u32,
            None => allowed,
        };
        if (v | m) & !allowed != 0 {
            return Err(perr(base, s, "unsupported flag bits"));
        }
        return Ok((v & m, m));
    }
    let lookup = |name: &str| -> Result<u32, ParseError> {
        tbl.iter()
            .find(|(_, n)| *n == name)
            .map(|(b, _)| *b)
            .filter(|b| b & allowed != 0)
            .ok_or_else(|| perr(base, name, "unknown flag"))
    };
    if s.starts_with('+') || s.starts_with('-') {
        let (mut v, mut m) = (0u32, 0u32);
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let plus = match b[i] {
                b'+' => true,
                b'-' => false,
                _ => return Err(perr(base, &s[i..], "expected '+' or '-' before flag")),
            };
            let st = i + 1;
            let mut j = st;
            while j < b.len() && b[j] != b'+' && b[j] != b'-' {
                j += 1;
            }
            let bit = lookup(&s[st..j])?;
            if m & bit != 0 {
                return Err(perr(base, &s[st..j], "flag given twice"));
            }
            m |= bit;
            if plus {
                v |= bit;
            }
            i = j;
        }
        Ok((v, m))
    } else {
        let mut v = 0;
        for name in s.split('|') {
            v |= lookup(name.trim())?;
        }
        Ok((v, allowed))
    }
}

// ---------------------------------------------------------------------------
// Formatting.

/// A "name=value[/mask]," list under construction (OVS `format_*()` helpers).
struct Fields(String);

impl Fields {
    fn new() -> Self {
        Fields(String::new())
    }
    fn put(&mut self, name: &str, v: &str, m: Option<&str>) {
        let _ = write!(self.0, "{name}={v}");
        if let Some(m) = m {
            let _ = write!(self.0, "/{m}");
        }
        self.0.push(',');
    }
    /// `format_ipv4()`.
    fn ipv4(&mut self, name: &str, v: u64, m: u64) {
        if m != 0 {
            let ms = ip4(m as u32);
            self.put(
                name,
                &ip4(v as u32),
                (m != 0xffff_ffff).then_some(ms.as_str()),
            );
        }
    }
    /// `format_in6_addr()`.
    fn ipv6(&mut self, name: &str, v: u128, m: u128) {
        if m != 0 {
            let ms = ip6(m);
            self.put(name, &ip6(v), (m != u128::MAX).then_some(ms.as_str()));
        }
    }
    /// `format_eth()`.
    fn eth(&mut self, name: &str, v: u64, m: u64) {
        if m != 0 {
            let ms = mac(m);
            self.put(
                name,
                &mac(v),
                (m != 0xffff_ffff_ffff).then_some(ms.as_str()),
            );
        }
    }
    /// `format_u8u()` / `format_be16()`: decimal value, `%#x` mask.
    fn dec(&mut self, name: &str, v: u64, m: u64, full: u64) {
        if m != 0 {
            let ms = hx(m);
            self.put(name, &v.to_string(), (m != full).then_some(ms.as_str()));
        }
    }
    /// `format_u8x()` / `format_be16x()`: `%#x` value and mask.
    fn hex(&mut self, name: &str, v: u64, m: u64, full: u64) {
        if m != 0 {
            let ms = hx(m);
            self.put(name, &hx(v), (m != full).then_some(ms.as_str()));
        }
    }
    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push(',');
    }
    fn finish(mut self) -> String {
        chomp(&mut self.0, ',');
        self.0
    }
}

struct Fm<'a> {
    k: &'a Flow,
    m: &'a Flow,
}

impl Fm<'_> {
    fn k(&self, f: Field) -> u64 {
        self.k.get(f)
    }
    fn m(&self, f: Field) -> u64 {
        self.m.get(f)
    }
    fn k128(&self, hi: Field, lo: Field) -> u128 {
        self.k.get128(hi, lo)
    }
    fn m128(&self, hi: Field, lo: Field) -> u128 {
        self.m.get128(hi, lo)
    }
}

/// The raw option bytes stored at the Geneve options words of `f`.
fn opt_bytes(f: &Flow, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for i in 0..crate::flow::TUN_OPTS_WORDS {
        out.extend_from_slice(&f.w[TUN_OPTS_WORD + i].to_be_bytes());
    }
    out.truncate(len.min(TUN_OPTS_MAX_LEN));
    out
}

/// `ds_put_hex()`.
pub(super) fn put_hex(b: &[u8]) -> String {
    let mut s = String::new();
    for &x in b {
        if s.is_empty() {
            if x != 0 {
                let _ = write!(s, "{x:#x}");
            }
        } else {
            let _ = write!(s, "{x:02x}");
        }
    }
    if s.is_empty() {
        s.push('0');
    }
    s
}

/// `format_geneve_opts()`; `mask` is `None` for actions (no mask).
pub(super) fn format_geneve_opts(opt: &[u8], mask: Option<&[u8]>, verbose: bool) -> String {
    let mut s = String::new();
    let mut p = 0usize;
    let len = opt.len();
    while p < len {
        let left = len - p;
        if left < 4 {
            let _ = write!(s, "opt len {left} less than minimum 4");
            return s;
        }
        let data_len = (opt[p + 3] & 0x1f) as usize * 4;
        let total = 4 + data_len;
        if total > left {
            let _ = write!(s, "opt len {total} greater than remaining {left}");
            return s;
        }
        let mb = |i: usize| mask.map(|m| m.get(p + i).copied().unwrap_or(0));
        let mut f = Fields::new();
        let class = u16::from_be_bytes([opt[p], opt[p + 1]]) as u64;
        let (cm, tm, lm) = match mask {
            Some(_) => {
                let cm = u16::from_be_bytes([mb(0).unwrap_or(0), mb(1).unwrap_or(0)]) as u64;
                let l = mb(3).unwrap_or(0) & 0x1f;
                (
                    cm,
                    mb(2).unwrap_or(0) as u64,
                    if l == 0x1f { 0xff } else { l as u64 },
                )
            }
            None => (0xffff, 0xff, 0xff),
        };
        if verbose || cm != 0 {
            let ms = hx(cm);
            f.put("class", &hx(class), (cm != 0xffff).then_some(ms.as_str()));
        }
        if verbose || tm != 0 {
            let ms = hx(tm);
            f.put(
                "type",
                &hx(opt[p + 2] as u64),
                (tm != 0xff).then_some(ms.as_str()),
            );
        }
        if verbose || lm != 0 {
            let ms = hx(lm);
            f.put(
                "len",
                &data_len.to_string(),
                (lm != 0xff).then_some(ms.as_str()),
            );
        }
        let data = &opt[p + 4..p + total];
        let mdata: Option<Vec<u8>> =
            mask.map(|_| (0..data_len).map(|i| mb(4 + i).unwrap_or(0)).collect());
        let mut body = f.0;
        if data_len > 0 && (verbose || mdata.as_ref().map_or(true, |m| m.iter().any(|&x| x != 0))) {
            body.push_str(&put_hex(data));
            if let Some(m) = &mdata {
                if !m.iter().all(|&x| x == 0xff) {
                    body.push('/');
                    body.push_str(&put_hex(m));
                }
            }
        } else {
            chomp(&mut body, ',');
        }
        s.push('{');
        s.push_str(&body);
        s.push('}');
        p += total;
    }
    s
}

/// Formats the key and mask of `m` the way `ovs-appctl dpctl/dump-flows`
/// prints them for the userspace datapath (non-verbose `odp_flow_format()`,
/// `lib/odp-util.c`), e.g.
/// `recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.0,frag=no)`.
///
/// Values are printed from `m.key` as stored: a [`Match`] built by
/// [`Match::new`] has a masked key, while OVS prints the unmasked key of the
/// packet that created the flow (e.g. `dst=48.0.0.3/255.0.0.0`); to reproduce
/// that byte for byte, pass a `Match` whose `key` holds the unmasked values.
///
/// Attributes are generated from the key in the order of
/// `odp_flow_key_from_flow()` (skb_priority, tunnel, skb_mark, ct_*,
/// recirc_id, dp_hash, in_port, packet_type, eth, VLAN `eth_type/vlan/encap`
/// nesting, eth_type, L3, L4) and left out when their mask is all zero.
/// As in OVS the text does not carry:
/// * fields of headers the masked key does not reach (e.g. `ipv4` fields when
///   the masked `eth_type` is not 0x0800, L4 fields of later fragments);
/// * a VLAN TCI mask whose masked TCI is 0, a VLAN TPID mask;
/// * tunnel `tos`, `tp_src`, `tp_dst`, IPv6 addresses whose masked value is 0;
/// * `nw_frag` mask bits other than [`FRAG_ANY`] (`frag=` is all or nothing);
/// * a wildcarded or sub-0x600 `eth_type`, printed `eth_type(0/0xffff)` when
///   its mask is non-zero (parsed back as [`ETH_TYPE_NONE`]), nothing when
///   the mask is zero.
pub fn format_match(m: &Match) -> String {
    let x = Fm {
        k: &m.key,
        m: &m.mask,
    };
    let mut a: Vec<String> = Vec::new();
    let u32attr = |a: &mut Vec<String>, name: &str, f: Field| {
        let (v, mm) = (x.k(f), x.m(f));
        if mm != 0 {
            let mut s = format!("{name}({}", hx(v));
            if mm != 0xffff_ffff {
                let _ = write!(s, "/{}", hx(mm));
            }
            s.push(')');
            a.push(s);
        }
    };
    u32attr(&mut a, "skb_priority", F::SKB_PRIORITY);
    if let Some(t) = fmt_tunnel(&x) {
        a.push(t);
    }
    u32attr(&mut a, "skb_mark", F::PKT_MARK);
    let csm = x.m(F::CT_STATE) as u32;
    if csm != 0 {
        a.push(format!(
            "ct_state({})",
            format_flags_masked(&CT_FLAGS, x.k(F::CT_STATE) as u32, csm, u32::MAX)
        ));
    }
    let zm = x.m(F::CT_ZONE);
    if zm != 0 {
        let mut s = format!("ct_zone({}", hx(x.k(F::CT_ZONE)));
        if zm != 0xffff {
            let _ = write!(s, "/{}", hx(zm));
        }
        s.push(')');
        a.push(s);
    }
    u32attr(&mut a, "ct_mark", F::CT_MARK);
    let lm = x.m128(F::CT_LABEL_HI, F::CT_LABEL_LO);
    if lm != 0 {
        let mut s = format!("ct_label({}", hx128(x.k128(F::CT_LABEL_HI, F::CT_LABEL_LO)));
        if lm != u128::MAX {
            let _ = write!(s, "/{}", hx128(lm));
        }
        s.push(')');
        a.push(s);
    }
    let dl_type = x.k(F::ETH_TYPE);
    if x.k(F::CT_NW_PROTO) != 0 {
        if dl_type == ETH_TYPE_IP {
            let mut f = Fields::new();
            f.ipv4("src", x.k(F::CT_NW_SRC), x.m(F::CT_NW_SRC));
            f.ipv4("dst", x.k(F::CT_NW_DST), x.m(F::CT_NW_DST));
            f.dec("proto", x.k(F::CT_NW_PROTO), x.m(F::CT_NW_PROTO), 0xff);
            f.dec("tp_src", x.k(F::CT_TP_SRC), x.m(F::CT_TP_SRC), 0xffff);
            f.dec("tp_dst", x.k(F::CT_TP_DST), x.m(F::CT_TP_DST), 0xffff);
            a.push(format!("ct_tuple4({})", f.finish()));
        } else if dl_type == ETH_TYPE_IPV6 {
            let mut f = Fields::new();
            f.ipv6(
                "src",
                x.k128(F::CT_IPV6_SRC_HI, F::CT_IPV6_SRC_LO),
                x.m128(F::CT_IPV6_SRC_HI, F::CT_IPV6_SRC_LO),
            );
            f.ipv6(
                "dst",
                x.k128(F::CT_IPV6_DST_HI, F::CT_IPV6_DST_LO),
                x.m128(F::CT_IPV6_DST_HI, F::CT_IPV6_DST_LO),
            );
            f.dec("proto", x.k(F::CT_NW_PROTO), x.m(F::CT_NW_PROTO), 0xff);
            f.dec("src_port", x.k(F::CT_TP_SRC), x.m(F::CT_TP_SRC), 0xffff);
            f.dec("dst_port", x.k(F::CT_TP_DST), x.m(F::CT_TP_DST), 0xffff);
            a.push(format!("ct_tuple6({})", f.finish()));
        }
    }
    u32attr(&mut a, "recirc_id", F::RECIRC_ID);
    u32attr(&mut a, "dp_hash", F::DP_HASH);
    let pm = x.m(F::IN_PORT);
    if pm != 0 {
        if pm == 0xffff_ffff {
            a.push(format!("in_port({})", x.k(F::IN_PORT)));
        } else {
            a.push(format!("in_port({}/{})", x.k(F::IN_PORT), hx(pm)));
        }
    }
    let pt = x.k(F::PACKET_TYPE);
    let ptm = x.m(F::PACKET_TYPE);
    if ptm != 0 {
        let mut f = Fields::new();
        f.dec("ns", pt >> 16, ptm >> 16, 0xffff);
        f.hex("id", pt & 0xffff, ptm & 0xffff, 0xffff);
        a.push(format!("packet_type({})", f.finish()));
    }
    if pt == 0 {
        let mut f = Fields::new();
        f.eth("src", x.k(F::ETH_SRC), x.m(F::ETH_SRC));
        f.eth("dst", x.k(F::ETH_DST), x.m(F::ETH_DST));
        if x.m(F::ETH_SRC) | x.m(F::ETH_DST) != 0 {
            a.push(format!("eth({})", f.finish()));
        }
        a.extend(fmt_vlan_level(&x, 0));
    } else {
        a.extend(fmt_l3(&x, false));
    }
    a.join(",")
}

const VLANS: [(Field, Field); 2] = [(F::VLAN0_TPID, F::VLAN0_TCI), (F::VLAN1_TPID, F::VLAN1_TCI)];

/// VLAN levels: `eth_type(TPID),vlan(...),encap(...)`.
fn fmt_vlan_level(x: &Fm, level: usize) -> Vec<String> {
    let dl_type = x.k(F::ETH_TYPE);
    if level < 2 {
        let (tpid_f, tci_f) = VLANS[level];
        let tci = x.k(tci_f);
        let tpid = if tci != 0 {
            Some(x.k(tpid_f))
        } else if is_vlan_tpid(dl_type) {
            Some(dl_type)
        } else {
            None
        };
        if let Some(tpid) = tpid {
            let mut a = vec![format!("eth_type({tpid:#06x})")];
            let tm = x.m(tci_f);
            if tm != 0 {
                a.push(format!(
                    "vlan({})",
                    format_vlan_tci(tci as u16, tm as u16, false)
                ));
            }
            let inner = if tci == 0 {
                Vec::new()
            } else {
                fmt_vlan_level(x, level + 1)
            };
            a.push(format!("encap({})", inner.join(",")));
            return a;
        }
    }
    fmt_l3(x, level > 0)
}

/// `format_vlan_tci()`.
pub(super) fn format_vlan_tci(tci: u16, mask: u16, verbose: bool) -> String {
    let mut s = String::new();
    let vid = |t: u16| t & 0x0fff;
    let pcp = |t: u16| t >> 13;
    if verbose || vid(tci) != 0 || vid(mask) != 0 {
        let _ = write!(s, "vid={}", vid(tci));
        if vid(mask) != 0x0fff {
            let _ = write!(s, "/{:#x}", vid(mask));
        }
        s.push(',');
    }
    if verbose || pcp(tci) != 0 || pcp(mask) != 0 {
        let _ = write!(s, "pcp={}", pcp(tci));
        if pcp(mask) != 7 {
            let _ = write!(s, "/{:#x}", pcp(mask));
        }
        s.push(',');
    }
    if tci & VLAN_CFI == 0 {
        s.push_str("cfi=0,");
    }
    chomp(&mut s, ',');
    s
}

/// `frag=` value from `nw_frag` bits.
fn frag_name(v: u64) -> &'static str {
    if v & FRAG_ANY as u64 == 0 {
        "no"
    } else if v & FRAG_LATER as u64 != 0 {
        "later"
    } else {
        "first"
    }
}

fn count_mpls(x: &Fm) -> usize {
    let lses = [F::MPLS_LSE0, F::MPLS_LSE1, F::MPLS_LSE2];
    let mut cnt = 0;
    for (i, f) in lses.iter().enumerate() {
        let v = x.k(*f);
        if v & 0x100 != 0 {
            return i + 1;
        }
        if v != 0 {
            cnt += 1;
        }
    }
    cnt
}

/// `format_mpls_lse()`.
pub(super) fn format_mpls_lse(lse: u32) -> String {
    format!(
        "label={},tc={},ttl={},bos={}",
        lse >> 12,
        (lse >> 9) & 7,
        lse & 0xff,
        (lse >> 8) & 1
    )
}

/// Masked `format_mpls()`.
pub(super) fn format_mpls_masked(v: u32, m: u32) -> String {
    format!(
        "label={}/{:#x},tc={}/{:x},ttl={}/{:#x},bos={}/{:x}",
        v >> 12,
        m >> 12,
        (v >> 9) & 7,
        (m >> 9) & 7,
        v & 0xff,
        m & 0xff,
        (v >> 8) & 1,
        (m >> 8) & 1
    )
}

/// Ethertype and L3/L4 attributes.
fn fmt_l3(x: &Fm, inner: bool) -> Vec<String> {
    let mut a = Vec::new();
    let dl_type = x.k(F::ETH_TYPE);
    let dm = x.m(F::ETH_TYPE);
    if dl_type < ETH_TYPE_MIN {
        if dm != 0 && !inner {
            a.push("eth_type(0/0xffff)".to_string());
        }
        return a;
    }
    if dm != 0 {
        if dm == 0xffff {
            a.push(format!("eth_type({dl_type:#06x})"));
        } else {
            a.push(format!("eth_type({dl_type:#06x}/{dm:#06x})"));
        }
    }
    if is_vlan_tpid(dl_type) {
        return a;
    }
    let frag_m = if x.m(F::NW_FRAG) & FRAG_ANY as u64 != 0 {
        0xff
    } else {
        0
    };
    match dl_type {
        ETH_TYPE_IP => {
            let mut f = Fields::new();
            f.ipv4("src", x.k(F::NW_SRC), x.m(F::NW_SRC));
            f.ipv4("dst", x.k(F::NW_DST), x.m(F::NW_DST));
            f.dec("proto", x.k(F::NW_PROTO), x.m(F::NW_PROTO), 0xff);
            f.hex("tos", x.k(F::NW_TOS), x.m(F::NW_TOS), 0xff);
            f.dec("ttl", x.k(F::NW_TTL), x.m(F::NW_TTL), 0xff);
            if frag_m != 0 {
                f.put("frag", frag_name(x.k(F::NW_FRAG)), None);
            }
            if !f.0.is_empty() {
                a.push(format!("ipv4({})", f.finish()));
            }
        }
        ETH_TYPE_IPV6 => {
            let mut f = Fields::new();
            f.ipv6(
                "src",
                x.k128(F::IPV6_SRC_HI, F::IPV6_SRC_LO),
                x.m128(F::IPV6_SRC_HI, F::IPV6_SRC_LO),
            );
            f.ipv6(
                "dst",
                x.k128(F::IPV6_DST_HI, F::IPV6_DST_LO),
                x.m128(F::IPV6_DST_HI, F::IPV6_DST_LO),
            );
            // The flow label is 20 bits (OVS rejects wider values on input).
            let lm = x.m(F::IPV6_LABEL) & 0xfffff;
            if lm != 0 {
                let ms = hx(lm);
                f.put(
                    "label",
                    &hx(x.k(F::IPV6_LABEL) & 0xfffff),
                    (lm != 0xfffff).then_some(ms.as_str()),
                );
            }
            f.dec("proto", x.k(F::NW_PROTO), x.m(F::NW_PROTO), 0xff);
            f.hex("tclass", x.k(F::NW_TOS), x.m(F::NW_TOS), 0xff);
            f.dec("hlimit", x.k(F::NW_TTL), x.m(F::NW_TTL), 0xff);
            if frag_m != 0 {
                f.put("frag", frag_name(x.k(F::NW_FRAG)), None);
            }
            if !f.0.is_empty() {
                a.push(format!("ipv6({})", f.finish()));
            }
        }
        ETH_TYPE_ARP | ETH_TYPE_RARP => {
            let mut f = Fields::new();
            f.ipv4("sip", x.k(F::NW_SRC), x.m(F::NW_SRC));
            f.ipv4("tip", x.k(F::NW_DST), x.m(F::NW_DST));
            let om = x.m(F::NW_PROTO);
            let om = if om == 0xff { 0xffff } else { om };
            f.dec("op", x.k(F::NW_PROTO), om, 0xffff);
            f.eth("sha", x.k(F::ARP_SHA), x.m(F::ARP_SHA));
            f.eth("tha", x.k(F::ARP_THA), x.m(F::ARP_THA));
            if !f.0.is_empty() {
                a.push(format!("arp({})", f.finish()));
            }
        }
        ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST => {
            let n = count_mpls(x);
            let lses = [F::MPLS_LSE0, F::MPLS_LSE1, F::MPLS_LSE2];
            let ms: Vec<u32> = lses[..n].iter().map(|f| x.m(*f) as u32).collect();
            if ms.iter().any(|&m| m != 0) {
                let exact = ms.iter().all(|&m| m == u32::MAX);
                let parts: Vec<String> = lses[..n]
                    .iter()
                    .zip(&ms)
                    .map(|(f, &m)| {
                        let v = x.k(*f) as u32;
                        if exact {
                            format_mpls_lse(v)
                        } else {
                            format_mpls_masked(v, m)
                        }
                    })
                    .collect();
                a.push(format!("mpls({})", parts.join(",")));
            }
        }
        ETH_TYPE_NSH => {
            let m = NshKey::from_flow(x.m);
            if m != NshKey::default() {
                let k = NshKey::from_flow(x.k);
                a.push(format!("nsh({})", format_nsh_key_mask(&k, &m)));
            }
        }
        _ => {}
    }
    let is_ip = dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6;
    if is_ip && x.k(F::NW_FRAG) & FRAG_LATER as u64 == 0 {
        let proto = x.k(F::NW_PROTO);
        let ports = |a: &mut Vec<String>, name: &str| {
            let mut f = Fields::new();
            f.dec("src", x.k(F::TP_SRC), x.m(F::TP_SRC), 0xffff);
            f.dec("dst", x.k(F::TP_DST), x.m(F::TP_DST), 0xffff);
            if !f.0.is_empty() {
                a.push(format!("{name}({})", f.finish()));
            }
        };
        let icmp = |a: &mut Vec<String>, name: &str| {
            let mut f = Fields::new();
            f.dec("type", x.k(F::TP_SRC) & 0xff, x.m(F::TP_SRC) & 0xff, 0xff);
            f.dec("code", x.k(F::TP_DST) & 0xff, x.m(F::TP_DST) & 0xff, 0xff);
            if !f.0.is_empty() {
                a.push(format!("{name}({})", f.finish()));
            }
        };
        match proto {
            6 => {
                ports(&mut a, "tcp");
                let fm = (x.m(F::TCP_FLAGS) & 0x0fff) as u32;
                if fm != 0 {
                    a.push(format!(
                        "tcp_flags({})",
                        format_flags_masked(&TCP_FLAGS, x.k(F::TCP_FLAGS) as u32, fm, 0x0fff)
                    ));
                }
            }
            17 => ports(&mut a, "udp"),
            132 => ports(&mut a, "sctp"),
            1 if dl_type == ETH_TYPE_IP => icmp(&mut a, "icmp"),
            58 if dl_type == ETH_TYPE_IPV6 => {
                icmp(&mut a, "icmpv6");
                let ty = x.k(F::TP_SRC);
                let is_nd = (ty == 135 || ty == 136) && x.k(F::TP_DST) == 0;
                if is_nd && x.m(F::TP_SRC) & 0xff == 0xff && x.m(F::TP_DST) & 0xff == 0xff {
                    let mut f = Fields::new();
                    f.ipv6(
                        "target",
                        x.k128(F::ND_TARGET_HI, F::ND_TARGET_LO),
                        x.m128(F::ND_TARGET_HI, F::ND_TARGET_LO),
                    );
                    f.eth("sll", x.k(F::ARP_SHA), x.m(F::ARP_SHA));
                    f.eth("tll", x.k(F::ARP_THA), x.m(F::ARP_THA));
                    if !f.0.is_empty() {
                        a.push(format!("nd({})", f.finish()));
                    }
                }
            }
            _ => {}
        }
    }
    a
}

/// The flow words holding NSH fields.
fn dp_nsh_words() -> std::ops::Range<usize> {
    crate::flow::NSH_FIRST_WORD..crate::flow::FLOW_WORDS
}

/// `tunnel(...)` of a match (`format_odp_tun_attr()` with a mask).
fn fmt_tunnel(x: &Fm) -> Option<String> {
    let src6 = x.k128(F::TUN_IPV6_SRC_HI, F::TUN_IPV6_SRC_LO);
    let dst6 = x.k128(F::TUN_IPV6_DST_HI, F::TUN_IPV6_DST_LO);
    if x.k(F::TUN_SRC) == 0 && x.k(F::TUN_DST) == 0 && src6 == 0 && dst6 == 0 {
        return None;
    }
    let kflags = x.k(F::TUN_FLAGS);
    let mflags = x.m(F::TUN_FLAGS);
    let key_flag = tun_flags::KEY as u64;
    let mut f = Fields::new();
    let has_id = x.k(F::TUN_ID) != 0 || kflags & key_flag != 0;
    if has_id {
        let m = x.m(F::TUN_ID);
        if m != 0 {
            let ms = hx(m);
            f.put(
                "tun_id",
                &format!("0x{:x}", x.k(F::TUN_ID)),
                (m != u64::MAX).then_some(ms.as_str()),
            );
        }
    }
    if x.k(F::TUN_SRC) != 0 {
        f.ipv4("src", x.k(F::TUN_SRC), x.m(F::TUN_SRC));
    }
    if x.k(F::TUN_DST) != 0 {
        f.ipv4("dst", x.k(F::TUN_DST), x.m(F::TUN_DST));
    }
    if src6 != 0 {
        f.ipv6(
            "ipv6_src",
            src6,
            x.m128(F::TUN_IPV6_SRC_HI, F::TUN_IPV6_SRC_LO),
        );
    }
    if dst6 != 0 {
        f.ipv6(
            "ipv6_dst",
            dst6,
            x.m128(F::TUN_IPV6_DST_HI, F::TUN_IPV6_DST_LO),
        );
    }
    if x.k(F::TUN_TOS) != 0 {
        f.hex("tos", x.k(F::TUN_TOS), x.m(F::TUN_TOS), 0xff);
    }
    f.dec("ttl", x.k(F::TUN_TTL), x.m(F::TUN_TTL), 0xff);
    if x.k(F::TUN_TP_SRC) != 0 {
        f.dec("tp_src", x.k(F::TUN_TP_SRC), x.m(F::TUN_TP_SRC), 0xffff);
    }
    if x.k(F::TUN_TP_DST) != 0 {
        f.dec("tp_dst", x.k(F::TUN_TP_DST), x.m(F::TUN_TP_DST), 0xffff);
    }
    if x.k(F::TUN_GBP_ID) != 0 || x.k(F::TUN_GBP_FLAGS) != 0 {
        let mut g = Fields::new();
        g.dec("id", x.k(F::TUN_GBP_ID), x.m(F::TUN_GBP_ID), 0xffff);
        g.hex("flags", x.k(F::TUN_GBP_FLAGS), x.m(F::TUN_GBP_FLAGS), 0xff);
        f.raw(&format!("vxlan(gbp({}))", g.finish()));
    }
    let olen = x.k(F::TUN_OPTS_LEN) as usize;
    if olen > 0 {
        let o = opt_bytes(x.k, olen);
        let mo = opt_bytes(x.m, olen);
        f.raw(&format!(
            "geneve({})",
            format_geneve_opts(&o, Some(&mo), false)
        ));
    }
    let other = (tun_flags::DONT_FRAGMENT | tun_flags::CSUM | tun_flags::OAM) as u64;
    let fv = (kflags & other) | if has_id { key_flag } else { 0 };
    let fm = (mflags & other) | if has_id { key_flag } else { 0 };
    if fm != 0 {
        f.raw(&format!(
            "flags({})",
            format_flags_masked(&TUN_FLAGS, fv as u32, fm as u32, 0xf)
        ));
    }
    Some(format!("tunnel({})", f.finish()))
}

// ---------------------------------------------------------------------------
// Parsing.

struct Pm<'b> {
    base: &'b str,
    k: Flow,
    m: Flow,
}

impl Pm<'_> {
    fn set(&mut self, f: Field, v: u64, m: u64) {
        self.k.set(f, v & m);
        self.m.set(f, m);
    }
    fn set128(&mut self, hi: Field, lo: Field, v: u128, m: u128) {
        self.k.set128(hi, lo, v & m);
        self.m.set128(hi, lo, m);
    }
    /// `V[/M]` integer of at most `max`, mask defaulting to `max`.
    fn int(&self, t: &str, max: u64) -> Result<(u64, u64), ParseError> {
        let (v, m) = vm(t);
        let v = num(self.base, v, max)?;
        let m = match m {
            Some(m) => num(self.base, m, max)?,
            None => max,
        };
        Ok((v, m))
    }
    fn int_field(&mut self, f: Field, t: &str) -> Result<(), ParseError> {
        let (v, m) = self.int(t, f.max())?;
        self.set(f, v, m);
        Ok(())
    }
    fn ip4_field(&mut self, f: Field, t: &str) -> Result<(), ParseError> {
        let (v, m) = vm(t);
        let v = parse_ip4(self.base, v)? as u64;
        let m = match m {
            Some(m) if m.contains('.') => parse_ip4(self.base, m)? as u64,
            Some(m) => {
                let n = num(self.base, m, 32)?;
                if n == 0 {
                    0
                } else {
                    (0xffff_ffffu64 << (32 - n)) & 0xffff_ffff
                }
            }
            None => 0xffff_ffff,
        };
        self.set(f, v, m);
        Ok(())
    }
    fn ip6_field(&mut self, hi: Field, lo: Field, t: &str) -> Result<(), ParseError> {
        let (v, m) = vm(t);
        let v = parse_ip6(self.base, v)?;
        let m = match m {
            Some(m) if m.contains(':') => parse_ip6(self.base, m)?,
            Some(m) => {
                let n = num(self.base, m, 128)?;
                if n == 0 {
                    0
                } else {
                    u128::MAX << (128 - n)
                }
            }
            None => u128::MAX,
        };
        self.set128(hi, lo, v, m);
        Ok(())
    }
    fn mac_field(&mut self, f: Field, t: &str) -> Result<(), ParseError> {
        let (v, m) = vm(t);
        let v = parse_mac(self.base, v)?;
        let m = match m {
            Some(m) => parse_mac(self.base, m)?,
            None => 0xffff_ffff_ffff,
        };
        self.set(f, v, m);
        Ok(())
    }
    fn unknown(&self, name: &str, attr: &str) -> ParseError {
        perr(self.base, name, &format!("unknown field in {attr}()"))
    }
    /// Iterates the `k=v` items of `body`.
    fn fields<'a>(&self, body: &'a str) -> Result<Vec<(&'a str, &'a str)>, ParseError> {
        split_top(self.base, body)?
            .into_iter()
            .map(|it| kv(self.base, it))
            .collect()
    }
}

/// Parses a flow key with masks in the `ovs-dpctl(8)` / `dpctl/dump-flows`
/// syntax (`odp_flow_from_string()`, `lib/odp-util.c`), e.g.
/// `in_port(1),eth(),eth_type(0x0800),ipv4(src=1.1.1.1/255.255.255.0,frag=no)`.
///
/// A field that is not mentioned is wildcarded; `field=V` matches exactly and
/// `field=V/M` under mask `M` (IPv4/IPv6 masks may also be prefix lengths).
/// `eth()` and an empty attribute are accepted. VLANs are
/// `eth_type(TPID),vlan(vid=,pcp=[,cfi=0]),encap(...)`, nested once more for
/// QinQ. A leading `ufid:<uuid>` item is skipped.
///
/// # Errors
/// A [`ParseError`] naming the unknown attribute, field or malformed value.
pub fn parse_match(s: &str) -> Result<Match, ParseError> {
    let mut p = Pm {
        base: s,
        k: Flow::zero(),
        m: Flow::zero(),
    };
    let items = split_top(s, s)?;
    let items: Vec<&str> = items
        .into_iter()
        .enumerate()
        .filter(|(i, it)| !(*i == 0 && it.starts_with("ufid:")))
        .map(|(_, it)| it)
        .collect();
    parse_level(&mut p, &items, 0)?;
    Ok(Match::new(&p.k, &p.m))
}

fn parse_level(p: &mut Pm, items: &[&str], level: usize) -> Result<(), ParseError> {
    let base = p.base;
    let mut calls = Vec::with_capacity(items.len());
    for it in items {
        let (name, body) = call(base, it)?;
        let Some(body) = body else {
            return Err(perr(base, it, "expected attribute(...)"));
        };
        calls.push((name, body));
    }
    let vlan_level = calls.iter().any(|(n, _)| *n == "vlan" || *n == "encap");
    if vlan_level && level >= 2 {
        return Err(perr(base, items[0], "too many VLAN levels"));
    }
    for (name, body) in calls {
        match name {
            "eth_type" if vlan_level => {
                let (tpid_f, _) = VLANS[level];
                let v = num(base, vm(body).0, 0xffff)?;
                p.set(tpid_f, v, 0xffff);
            }
            "vlan" => {
                let (_, tci_f) = VLANS[level];
                parse_vlan(p, tci_f, body)?;
            }
            "encap" => {
                let inner = split_top(base, body)?;
                parse_level(p, &inner, level + 1)?;
            }
            _ => parse_attr(p, name, body)?,
        }
    }
    if vlan_level {
        // A zero TCI is a truncated VLAN header: OVS keeps the
        // TPID as the Ethertype (odp_flow_key_from_flow()).
        let (tpid_f, tci_f) = VLANS[level];
        if p.k.get(tci_f) == 0 && p.m.get(tci_f) != 0 {
            let tpid = p.k.get(tpid_f);
            p.set(F::ETH_TYPE, tpid, 0xffff);
        }
    }
    Ok(())
}

fn parse_vlan(p: &mut Pm, f: Field, body: &str) -> Result<(), ParseError> {
    let (mut v, mut m) = (VLAN_CFI as u64, VLAN_CFI as u64);
    for (k, t) in p.fields(body)? {
        let (shift, width) = match k {
            "vid" => (0, 0xfff),
            "pcp" => (13, 7),
            "cfi" => (12, 1),
            _ => return Err(p.unknown(k, "vlan")),
        };
        let (fv, fm) = p.int(t, u64::MAX)?;
        if fv > width || fm & !width != 0 && fm != u64::MAX {
            return Err(perr(p.base, t, "vlan field out of range"));
        }
        let fm = fm & width;
        v = (v & !(width << shift)) | (fv << shift);
        m = (m & !(width << shift)) | (fm << shift);
    }
    p.set(f, v, m);
    Ok(())
}

fn parse_attr(p: &mut Pm, name: &str, body: &str) -> Result<(), ParseError> {
    let base = p.base;
    match name {
        "skb_priority" => p.int_field(F::SKB_PRIORITY, body)?,
        "skb_mark" => p.int_field(F::PKT_MARK, body)?,
        "recirc_id" => p.int_field(F::RECIRC_ID, body)?,
        "dp_hash" => p.int_field(F::DP_HASH, body)?,
        "in_port" => p.int_field(F::IN_PORT, body)?,
        "ct_zone" => p.int_field(F::CT_ZONE, body)?,
        "ct_mark" => p.int_field(F::CT_MARK, body)?,
        "ct_state" => {
            let (v, m) = parse_flags(base, &CT_FLAGS, body, 0xff)?;
            p.set(F::CT_STATE, v as u64, m as u64);
        }
        "ct_label" => {
            let (v, m) = vm(body);
            let v = num128(base, v)?;
            let m = match m {
                Some(m) => num128(base, m)?,
                None => u128::MAX,
            };
            p.set128(F::CT_LABEL_HI, F::CT_LABEL_LO, v, m);
        }
        "ct_tuple4" | "ct_tuple6" => {
            let v6 = name == "ct_tuple6";
            for (k, t) in p.fields(body)? {
                match (k, v6) {
                    ("src", false) => p.ip4_field(F::CT_NW_SRC, t)?,
                    ("dst", false) => p.ip4_field(F::CT_NW_DST, t)?,
                    ("src", true) => p.ip6_field(F::CT_IPV6_SRC_HI, F::CT_IPV6_SRC_LO, t)?,
                    ("dst", true) => p.ip6_field(F::CT_IPV6_DST_HI, F::CT_IPV6_DST_LO, t)?,
                    ("proto", _) => p.int_field(F::CT_NW_PROTO, t)?,
                    ("tp_src", false) | ("src_port", true) => p.int_field(F::CT_TP_SRC, t)?,
                    ("tp_dst", false) | ("dst_port", true) => p.int_field(F::CT_TP_DST, t)?,
                    _ => return Err(p.unknown(k, name)),
                }
            }
        }
        "tunnel" => parse_tunnel(p, body)?,
        "packet_type" => {
            for (k, t) in p.fields(body)? {
                let (v, m) = p.int(t, 0xffff)?;
                let (shift, other) = match k {
                    "ns" => (16, 0xffffu64),
                    "id" => (0, 0xffff_0000u64),
                    _ => return Err(p.unknown(k, name)),
                };
                let kv = (p.k.get(F::PACKET_TYPE) & other) | (v << shift);
                let mv = (p.m.get(F::PACKET_TYPE) & other) | (m << shift);
                p.set(F::PACKET_TYPE, kv, mv);
            }
        }
        "eth" => {
            for (k, t) in p.fields(body)? {
                match k {
                    "src" => p.mac_field(F::ETH_SRC, t)?,
                    "dst" => p.mac_field(F::ETH_DST, t)?,
                    _ => return Err(p.unknown(k, name)),
                }
            }
        }
        "nsh" => {
            let (v, m) = parse_nsh_fields(base, body)?;
            v.to_flow(&mut p.k);
            m.to_flow(&mut p.m);
            for w in dp_nsh_words() {
                p.k.w[w] &= p.m.w[w];
            }
        }
        "eth_type" => {
            let (v, m) = p.int(body, 0xffff)?;
            if v < ETH_TYPE_MIN {
                if v != 0 || m != 0xffff {
                    return Err(perr(base, body, "eth_type below 0x600 must be 0/0xffff"));
                }
                p.set(F::ETH_TYPE, ETH_TYPE_NONE as u64, 0xffff);
            } else {
                p.set(F::ETH_TYPE, v, m);
            }
        }
        "mpls" => {
            let lses = [F::MPLS_LSE0, F::MPLS_LSE1, F::MPLS_LSE2];
            let mut idx = 0usize;
            let mut seen = 0u8;
            let (mut v, mut m) = (0u64, 0u64);
            let flush = |p: &mut Pm, idx: usize, v: u64, m: u64| -> Result<(), ParseError> {
                let f = *lses
                    .get(idx)
                    .ok_or_else(|| perr(base, body, "more than 3 MPLS labels"))?;
                p.set(f, v, m);
                Ok(())
            };
            for (k, t) in p.fields(body)? {
                let (bit, shift, width) = match k {
                    "label" => (1u8, 12, 0xfffffu64),
                    "tc" => (2, 9, 7),
                    "ttl" => (4, 0, 0xff),
                    "bos" => (8, 8, 1),
                    _ => return Err(p.unknown(k, name)),
                };
                if seen & bit != 0 {
                    flush(p, idx, v, m)?;
                    idx += 1;
                    seen = 0;
                    v = 0;
                    m = 0;
                }
                seen |= bit;
                let (fv, fm) = vm(t);
                let fv = num(base, fv, width)?;
                let fm = match fm {
                    Some(x) => num(base, x, width)?,
                    None => width,
                };
                v |= fv << shift;
                m |= fm << shift;
            }
            if seen != 0 {
                flush(p, idx, v, m)?;
            }
        }
        "ipv4" | "ipv6" => {
            let v6 = name == "ipv6";
            for (k, t) in p.fields(body)? {
                match (k, v6) {
                    ("src", false) => p.ip4_field(F::NW_SRC, t)?,
                    ("dst", false) => p.ip4_field(F::NW_DST, t)?,
                    ("src", true) => p.ip6_field(F::IPV6_SRC_HI, F::IPV6_SRC_LO, t)?,
                    ("dst", true) => p.ip6_field(F::IPV6_DST_HI, F::IPV6_DST_LO, t)?,
                    ("label", true) => {
                        let (v, m) = p.int(t, 0xfffff)?;
                        p.set(F::IPV6_LABEL, v, m);
                    }
                    ("proto", _) => p.int_field(F::NW_PROTO, t)?,
                    ("tos", false) | ("tclass", true) => p.int_field(F::NW_TOS, t)?,
                    ("ttl", false) | ("hlimit", true) => p.int_field(F::NW_TTL, t)?,
                    ("frag", _) => {
                        let v = match t {
                            "no" => 0,
                            "first" => FRAG_ANY,
                            "later" => FRAG_ANY | FRAG_LATER,
                            _ => return Err(perr(base, t, "bad frag (expected no|first|later)")),
                        };
                        p.set(F::NW_FRAG, v as u64, FRAG_MASK as u64);
                    }
                    _ => return Err(p.unknown(k, name)),
                }
            }
        }
        "tcp" | "udp" | "sctp" => {
            for (k, t) in p.fields(body)? {
                match k {
                    "src" => p.int_field(F::TP_SRC, t)?,
                    "dst" => p.int_field(F::TP_DST, t)?,
                    _ => return Err(p.unknown(k, name)),
                }
            }
        }
        "tcp_flags" => {
            let (v, m) = parse_flags(base, &TCP_FLAGS, body, 0x0fff)?;
            p.set(F::TCP_FLAGS, v as u64, m as u64);
        }
        "icmp" | "icmpv6" => {
            for (k, t) in p.fields(body)? {
                let f = match k {
                    "type" => F::TP_SRC,
                    "code" => F::TP_DST,
                    _ => return Err(p.unknown(k, name)),
                };
                let (v, m) = p.int(t, 0xff)?;
                p.set(f, v, m);
            }
        }
        "arp" => {
            for (k, t) in p.fields(body)? {
                match k {
                    "sip" => p.ip4_field(F::NW_SRC, t)?,
                    "tip" => p.ip4_field(F::NW_DST, t)?,
                    "op" => {
                        let (v, m) = p.int(t, 0xffff)?;
                        if v > 0xff {
                            return Err(perr(base, t, "unsupported ARP opcode"));
                        }
                        p.set(F::NW_PROTO, v, m & 0xff);
                    }
                    "sha" => p.mac_field(F::ARP_SHA, t)?,
                    "tha" => p.mac_field(F::ARP_THA, t)?,
                    _ => return Err(p.unknown(k, name)),
                }
            }
        }
        "nd" => {
            for (k, t) in p.fields(body)? {
                match k {
                    "target" => p.ip6_field(F::ND_TARGET_HI, F::ND_TARGET_LO, t)?,
                    "sll" => p.mac_field(F::ARP_SHA, t)?,
                    "tll" => p.mac_field(F::ARP_THA, t)?,
                    _ => return Err(p.unknown(k, name)),
                }
            }
        }
        _ => return Err(perr(base, name, "unknown or unsupported key attribute")),
    }
    Ok(())
}

fn parse_tunnel(p: &mut Pm, body: &str) -> Result<(), ParseError> {
    let base = p.base;
    for it in split_top(base, body)? {
        if let Some(rest) = it.strip_prefix("flags(") {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| perr(base, it, "expected ')'"))?;
            let (v, m) = parse_flags(base, &TUN_FLAGS, inner, 0xf)?;
            let kf = (p.k.get(F::TUN_FLAGS) & !(m as u64)) | v as u64;
            let mf = p.m.get(F::TUN_FLAGS) | m as u64;
            p.set(F::TUN_FLAGS, kf, mf);
            continue;
        }
        if let Some(rest) = it.strip_prefix("geneve(") {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| perr(base, it, "expected ')'"))?;
            let (o, m) = parse_geneve_opts(base, inner, true)?;
            let mut kf = p.k.clone();
            kf.set_tun_opts(&o);
            let mut mf = p.m.clone();
            mf.set_tun_opts(&m);
            p.k = kf;
            p.m = mf;
            p.k.set(F::TUN_OPTS_LEN, o.len() as u64);
            p.m.set(F::TUN_OPTS_LEN, 0xff);
            continue;
        }
        if let Some(rest) = it.strip_prefix("vxlan(") {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| perr(base, it, "expected ')'"))?;
            let gbp = inner
                .strip_prefix("gbp(")
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| perr(base, inner, "expected gbp(...)"))?;
            for (k, t) in p.fields(gbp)? {
                match k {
                    "id" => p.int_field(F::TUN_GBP_ID, t)?,
                    "flags" => p.int_field(F::TUN_GBP_FLAGS, t)?,
                    _ => return Err(p.unknown(k, "gbp")),
                }
            }
            continue;
        }
        let (k, t) = kv(base, it)?;
        match k {
            "tun_id" => {
                p.int_field(F::TUN_ID, t)?;
                let key = tun_flags::KEY as u64;
                let kf = p.k.get(F::TUN_FLAGS) | key;
                let mf = p.m.get(F::TUN_FLAGS) | key;
                p.set(F::TUN_FLAGS, kf, mf);
            }
            "src" => p.ip4_field(F::TUN_SRC, t)?,
            "dst" => p.ip4_field(F::TUN_DST, t)?,
            "ipv6_src" => p.ip6_field(F::TUN_IPV6_SRC_HI, F::TUN_IPV6_SRC_LO, t)?,
            "ipv6_dst" => p.ip6_field(F::TUN_IPV6_DST_HI, F::TUN_IPV6_DST_LO, t)?,
            "tos" => p.int_field(F::TUN_TOS, t)?,
            "ttl" => p.int_field(F::TUN_TTL, t)?,
            "tp_src" => p.int_field(F::TUN_TP_SRC, t)?,
            "tp_dst" => p.int_field(F::TUN_TP_DST, t)?,
            _ => return Err(p.unknown(k, "tunnel")),
        }
    }
    Ok(())
}

/// Parses a right-aligned hex/decimal value into `len` bytes
/// (`parse_int_string()`).
fn int_bytes(base: &str, t: &str, len: usize) -> Result<Vec<u8>, ParseError> {
    let bad = || perr(base, t, "bad option data");
    let mut out = vec![0u8; len];
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let h = h.trim_start_matches('0');
        if h.len() > len * 2 {
            return Err(perr(base, t, "option data longer than len"));
        }
        let digits: Vec<u8> = h
            .bytes()
            .map(|c| (c as char).to_digit(16).unwrap_or(0) as u8)
            .collect();
        for (i, d) in digits.iter().rev().enumerate() {
            let byte = len - 1 - i / 2;
            out[byte] |= if i % 2 == 0 { *d } else { *d << 4 };
        }
        Ok(out)
    } else {
        let v = num(base, t, u64::MAX)?;
        let b = v.to_be_bytes();
        let sig = 8 - (v.leading_zeros() as usize / 8);
        if sig > len {
            return Err(perr(base, t, "option data longer than len"));
        }
        for i in 0..sig.min(len) {
            out[len - 1 - i] = b[7 - i];
        }
        Ok(out)
    }
}

/// Parses `{class=..,type=..,len=..,DATA[/MASK]}...` (`scan_geneve()`);
/// returns option bytes and mask bytes (all ones where no mask is given).
pub(super) fn parse_geneve_opts(
    base: &str,
    s: &str,
    masked: bool,
) -> Result<(Vec<u8>, Vec<u8>), ParseError> {
    let mut o = Vec::new();
    let mut m = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let r = rest
            .strip_prefix('{')
            .ok_or_else(|| perr(base, rest, "expected '{' of a Geneve option"))?;
        let end = r
            .find('}')
            .ok_or_else(|| perr(base, rest, "expected '}' after Geneve option"))?;
        let body = &r[..end];
        rest = r[end + 1..].trim_start_matches([',', ' ']);
        let (mut class, mut cm, mut ty, mut tm, mut dlen, mut lm) =
            (0u64, 0u64, 0u64, 0u64, 0usize, 0u64);
        let mut data: Option<&str> = None;
        for it in split_top(base, body)? {
            if let Some((k, t)) = it.split_once('=') {
                let (v, mk) = vm(t);
                match k.trim() {
                    "class" => {
                        class = num(base, v, 0xffff)?;
                        cm = mk.map_or(Ok(0xffff), |x| num(base, x, 0xffff))?;
                    }
                    "type" => {
                        ty = num(base, v, 0xff)?;
                        tm = mk.map_or(Ok(0xff), |x| num(base, x, 0xff))?;
                    }
                    "len" => {
                        let l = num(base, v, 0xff)? as usize;
                        if l > 124 || l % 4 != 0 {
                            return Err(perr(base, t, "bad Geneve option len"));
                        }
                        dlen = l;
                        lm = mk.map_or(Ok(0xff), |x| num(base, x, 0xff))?;
                    }
                    _ => return Err(perr(base, k, "unknown Geneve option field")),
                }
            } else {
                data = Some(it);
            }
        }
        if o.len() + 4 + dlen > TUN_OPTS_MAX_LEN {
            return Err(perr(base, body, "Geneve options too long"));
        }
        o.extend_from_slice(&(class as u16).to_be_bytes());
        o.push(ty as u8);
        o.push((dlen / 4) as u8);
        m.extend_from_slice(&(cm as u16).to_be_bytes());
        m.push(tm as u8);
        m.push((lm as u8) & 0x1f);
        match data {
            Some(d) => {
                let (dv, dm) = vm(d);
                if dm.is_some() && !masked {
                    return Err(perr(base, d, "unexpected mask"));
                }
                o.extend(int_bytes(base, dv, dlen)?);
                match dm {
                    Some(x) => m.extend(int_bytes(base, x, dlen)?),
                    None => m.extend(std::iter::repeat(0xff).take(dlen)),
                }
            }
            None => {
                o.extend(std::iter::repeat(0).take(dlen));
                m.extend(std::iter::repeat(if masked { 0 } else { 0xff }).take(dlen));
            }
        }
    }
    Ok((o, m))
}
