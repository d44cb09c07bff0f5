//! Datapath action text (`format_odp_actions()` / `odp_actions_from_string()`
//! in `lib/odp-util.c`).

use super::key::{
    format_flags, format_geneve_opts, format_mpls_lse, format_mpls_masked, format_vlan_tci,
    parse_geneve_opts,
};
use super::nsh::{
    format_nsh_key, format_nsh_key_mask, format_push_nsh, parse_nsh_fields, parse_push_nsh,
};
use super::{
    call, chomp, hexnum, hx, hx128, ip4, ip6, kv, mac, num, num128, parse_ip4, parse_ip6,
    parse_mac, perr, split_top, vm, ParseError,
};
use crate::actions::{
    CtAction, HashAlg, NatAction, NatKind, OdpAction, SetAttr, TnlPush, UserspaceAction,
};
use crate::flow::{mac_to_u64, tun_flags, u64_to_mac, VLAN_CFI};
use crate::nsh::NshKey;
use crate::packet::{TunnelMetadata, TUN_OPTS_MAX};
use std::fmt::Write as _;
use std::net::IpAddr;

/// `enum ovs_vport_type` values used by `tnl_push` (`OVS_VPORT_TYPE_*`).
const VPORT_GRE: u32 = 3;
const VPORT_VXLAN: u32 = 4;
const VPORT_GENEVE: u32 = 5;
const VPORT_IP6GRE: u32 = 109;

const GRE_CSUM: u16 = 0x8000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;

const TUN_FLAG_NAMES: [(u32, &str); 4] = [
    (tun_flags::DONT_FRAGMENT as u32, "df"),
    (tun_flags::CSUM as u32, "csum"),
    (tun_flags::KEY as u32, "key"),
    (tun_flags::OAM as u32, "oam"),
];

/// Formats an action list like `format_odp_actions()` (`lib/odp-util.c`):
/// comma-separated, `drop` for an empty list, e.g.
/// `set(eth(src=02:ac:10:ff:01:01,dst=de:75:cc:e1:c6:85)),ct(commit,zone=1,nat(src=10.0.0.1-10.0.0.5:1000-2000,random)),recirc(0x1),4`.
///
/// Notes where the OVS text is lossy: a full [`OdpAction::Set`] and a
/// [`OdpAction::SetMasked`] whose masks are all ones print alike (and parse
/// back as `Set`); `ipv4`/`ipv6` sets carry no `proto`/`frag`; `push_vlan`
/// cannot show the DEI bit (OVS uses it as "CFI present"); `sample`'s
/// probability is shown to 0.1%; `ct(force_commit)` implies `commit`; NAT
/// ports are shown only with an address and a non-zero minimum port;
/// `userspace` userdata is always shown raw as `userdata(hex)` (OVS decodes
/// its own `user_action_cookie` layouts, which rvs does not share).
pub fn format_actions(a: &[OdpAction]) -> String {
    if a.is_empty() {
        return "drop".into();
    }
    let mut s = String::new();
    for (i, x) in a.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        fmt_action(&mut s, x);
    }
    s
}

fn fmt_action(s: &mut String, a: &OdpAction) {
    match a {
        OdpAction::Output(p) => {
            let _ = write!(s, "{p}");
        }
        OdpAction::Drop => s.push_str("drop"),
        OdpAction::Userspace(u) => {
            let _ = write!(s, "userspace(pid={}", u.pid);
            if let Some(d) = &u.userdata {
                s.push_str(",userdata(");
                for b in d {
                    let _ = write!(s, "{b:02x}");
                }
                s.push(')');
            }
            if u.actions {
                s.push_str(",actions");
            }
            if let Some(p) = u.tunnel_out_port {
                let _ = write!(s, ",tunnel_out_port={p}");
            }
            s.push(')');
        }
        OdpAction::Set(attr) => {
            s.push_str("set(");
            match attr {
                SetAttr::Tunnel(t) => {
                    let _ = write!(s, "tunnel({})", fmt_tunnel_set(t));
                }
                SetAttr::Nsh(k) => {
                    let _ = write!(s, "nsh({})", format_nsh_key(k));
                }
                _ => s.push_str(&fmt_set(attr, &full_mask(attr))),
            }
            s.push(')');
        }
        OdpAction::SetMasked { value, mask } => {
            s.push_str("set(");
            match value {
                SetAttr::Tunnel(t) => {
                    let _ = write!(s, "tunnel({})", fmt_tunnel_set(t));
                }
                _ => s.push_str(&fmt_set(value, mask)),
            }
            s.push(')');
        }
        OdpAction::PushVlan { tpid, tci } => {
            s.push_str("push_vlan(");
            if *tpid != 0x8100 {
                let _ = write!(s, "tpid={tpid:#06x},");
            }
            s.push_str(&format_vlan_tci(*tci | VLAN_CFI, 0xffff, false));
            s.push(')');
        }
        OdpAction::PopVlan => s.push_str("pop_vlan"),
        OdpAction::PushMpls { lse, ethertype } => {
            let _ = write!(
                s,
                "push_mpls({},eth_type={ethertype:#x})",
                format_mpls_lse(*lse)
            );
        }
        OdpAction::PopMpls { ethertype } => {
            let _ = write!(s, "pop_mpls(eth_type={ethertype:#x})");
        }
        OdpAction::Recirc(id) => {
            let _ = write!(s, "recirc({})", hx(*id as u64));
        }
        OdpAction::Hash { alg, basis } => {
            let n = match alg {
                HashAlg::L4 => "l4",
                HashAlg::SymL4 => "sym_l4",
            };
            let _ = write!(s, "hash({n}({basis}))");
        }
        OdpAction::Ct(ct) => fmt_ct(s, ct),
        OdpAction::CtClear => s.push_str("ct_clear"),
        OdpAction::TnlPush(t) => fmt_tnl_push(s, t),
        OdpAction::TnlPop(p) => {
            let _ = write!(s, "tnl_pop({p})");
        }
        OdpAction::Meter(m) => {
            let _ = write!(s, "meter({m})");
        }
        OdpAction::Clone(v) => {
            let _ = write!(s, "clone({})", format_actions(v));
        }
        OdpAction::Sample {
            probability,
            actions,
        } => {
            let pct = 100.0 * *probability as f64 / u32::MAX as f64;
            let _ = write!(
                s,
                "sample(sample={pct:.1}%,actions({}))",
                format_actions(actions)
            );
        }
        OdpAction::CheckPktLen { pkt_len, gt, le } => {
            let _ = write!(
                s,
                "check_pkt_len(size={pkt_len},gt({}),le({}))",
                format_actions(gt),
                format_actions(le)
            );
        }
        OdpAction::Trunc(n) => {
            let _ = write!(s, "trunc({n})");
        }
        OdpAction::PushEth { src, dst } => {
            let _ = write!(
                s,
                "push_eth(src={},dst={})",
                mac(mac_to_u64(*src)),
                mac(mac_to_u64(*dst))
            );
        }
        OdpAction::PopEth => s.push_str("pop_eth"),
        OdpAction::PushNsh(p) => s.push_str(&format_push_nsh(p)),
        OdpAction::PopNsh => s.push_str("pop_nsh()"),
        OdpAction::DecTtl(v) => {
            let _ = write!(s, "dec_ttl(le_1({}))", format_actions(v));
        }
    }
}

/// The all-ones mask of `a`'s variant (a full `set`).
fn full_mask(a: &SetAttr) -> SetAttr {
    match a {
        SetAttr::Priority(_) => SetAttr::Priority(u32::MAX),
        SetAttr::SkbMark(_) => SetAttr::SkbMark(u32::MAX),
        SetAttr::Tunnel(t) => SetAttr::Tunnel(t.clone()),
        SetAttr::Eth { .. } => SetAttr::Eth {
            src: [0xff; 6],
            dst: [0xff; 6],
        },
        SetAttr::Ipv4 { .. } => SetAttr::Ipv4 {
            src: u32::MAX,
            dst: u32::MAX,
            tos: 0xff,
            ttl: 0xff,
        },
        SetAttr::Ipv6 { .. } => SetAttr::Ipv6 {
            src: u128::MAX,
            dst: u128::MAX,
            label: 0xfffff,
            tclass: 0xff,
            hlimit: 0xff,
        },
        SetAttr::Tcp { .. } => SetAttr::Tcp {
            src: 0xffff,
            dst: 0xffff,
        },
        SetAttr::Udp { .. } => SetAttr::Udp {
            src: 0xffff,
            dst: 0xffff,
        },
        SetAttr::Sctp { .. } => SetAttr::Sctp {
            src: 0xffff,
            dst: 0xffff,
        },
        SetAttr::Arp { .. } => SetAttr::Arp {
            sip: u32::MAX,
            tip: u32::MAX,
            op: 0xffff,
            sha: [0xff; 6],
            tha: [0xff; 6],
        },
        SetAttr::Nd { .. } => SetAttr::Nd {
            target: u128::MAX,
            sll: [0xff; 6],
            tll: [0xff; 6],
        },
        SetAttr::Mpls { .. } => SetAttr::Mpls { lse: u32::MAX },
        SetAttr::Nsh(_) => SetAttr::Nsh(NshKey {
            flags: u8::MAX,
            ttl: u8::MAX,
            mdtype: u8::MAX,
            np: u8::MAX,
            path_hdr: u32::MAX,
            context: [u32::MAX; 4],
        }),
    }
}

/// "name=value[/mask]," pieces (non-verbose `format_*()` with a mask).
struct Fl(String);

impl Fl {
    fn put(&mut self, name: &str, v: String, m: Option<String>) {
        let _ = write!(self.0, "{name}={v}");
        if let Some(m) = m {
            let _ = write!(self.0, "/{m}");
        }
        self.0.push(',');
    }
    fn ipv4(&mut self, n: &str, v: u32, m: u32) {
        if m != 0 {
            self.put(n, ip4(v), (m != u32::MAX).then(|| ip4(m)));
        }
    }
    fn ipv6(&mut self, n: &str, v: u128, m: u128) {
        if m != 0 {
            self.put(n, ip6(v), (m != u128::MAX).then(|| ip6(m)));
        }
    }
    fn eth(&mut self, n: &str, v: [u8; 6], m: [u8; 6]) {
        let (v, m) = (mac_to_u64(v), mac_to_u64(m));
        if m != 0 {
            self.put(n, mac(v), (m != 0xffff_ffff_ffff).then(|| mac(m)));
        }
    }
    fn dec(&mut self, n: &str, v: u64, m: u64, full: u64) {
        if m != 0 {
            self.put(n, v.to_string(), (m != full).then(|| hx(m)));
        }
    }
    fn hex(&mut self, n: &str, v: u64, m: u64, full: u64) {
        if m != 0 {
            self.put(n, hx(v), (m != full).then(|| hx(m)));
        }
    }
    fn done(mut self) -> String {
        chomp(&mut self.0, ',');
        self.0
    }
}

/// `set(...)` body with a mask (non-verbose `format_odp_key_attr()`).
fn fmt_set(v: &SetAttr, m: &SetAttr) -> String {
    let mut f = Fl(String::new());
    let u32attr = |name: &str, v: u32, m: u32| {
        if m == u32::MAX {
            format!("{name}({})", hx(v as u64))
        } else {
            format!("{name}({}/{})", hx(v as u64), hx(m as u64))
        }
    };
    match (v, m) {
        (SetAttr::Priority(v), SetAttr::Priority(m)) => u32attr("skb_priority", *v, *m),
        (SetAttr::SkbMark(v), SetAttr::SkbMark(m)) => u32attr("skb_mark", *v, *m),
        (SetAttr::Eth { src, dst }, SetAttr::Eth { src: ms, dst: md }) => {
            f.eth("src", *src, *ms);
            f.eth("dst", *dst, *md);
            format!("eth({})", f.done())
        }
        (
            SetAttr::Ipv4 { src, dst, tos, ttl },
            SetAttr::Ipv4 {
                src: ms,
                dst: md,
                tos: mt,
                ttl: ml,
            },
        ) => {
            f.ipv4("src", *src, *ms);
            f.ipv4("dst", *dst, *md);
            f.hex("tos", *tos as u64, *mt as u64, 0xff);
            f.dec("ttl", *ttl as u64, *ml as u64, 0xff);
            format!("ipv4({})", f.done())
        }
        (
            SetAttr::Ipv6 {
                src,
                dst,
                label,
                tclass,
                hlimit,
            },
            SetAttr::Ipv6 {
                src: ms,
                dst: md,
                label: mlb,
                tclass: mtc,
                hlimit: mh,
            },
        ) => {
            f.ipv6("src", *src, *ms);
            f.ipv6("dst", *dst, *md);
            let mlb = *mlb & 0xfffff;
            if mlb != 0 {
                f.put(
                    "label",
                    hx((*label & 0xfffff) as u64),
                    (mlb != 0xfffff).then(|| hx(mlb as u64)),
                );
            }
            f.hex("tclass", *tclass as u64, *mtc as u64, 0xff);
            f.dec("hlimit", *hlimit as u64, *mh as u64, 0xff);
            format!("ipv6({})", f.done())
        }
        (SetAttr::Tcp { src, dst }, SetAttr::Tcp { src: a, dst: b })
        | (SetAttr::Udp { src, dst }, SetAttr::Udp { src: a, dst: b })
        | (SetAttr::Sctp { src, dst }, SetAttr::Sctp { src: a, dst: b }) => {
            let name = match v {
                SetAttr::Tcp { .. } => "tcp",
                SetAttr::Udp { .. } => "udp",
                _ => "sctp",
            };
            f.dec("src", *src as u64, *a as u64, 0xffff);
            f.dec("dst", *dst as u64, *b as u64, 0xffff);
            format!("{name}({})", f.done())
        }
        (
            SetAttr::Arp {
                sip,
                tip,
                op,
                sha,
                tha,
            },
            SetAttr::Arp {
                sip: a,
                tip: b,
                op: c,
                sha: d,
                tha: e,
            },
        ) => {
            f.ipv4("sip", *sip, *a);
            f.ipv4("tip", *tip, *b);
            f.dec("op", *op as u64, *c as u64, 0xffff);
            f.eth("sha", *sha, *d);
            f.eth("tha", *tha, *e);
            format!("arp({})", f.done())
        }
        (
            SetAttr::Nd { target, sll, tll },
            SetAttr::Nd {
                target: a,
                sll: b,
                tll: c,
            },
        ) => {
            f.ipv6("target", *target, *a);
            f.eth("sll", *sll, *b);
            f.eth("tll", *tll, *c);
            format!("nd({})", f.done())
        }
        (SetAttr::Mpls { lse }, SetAttr::Mpls { lse: m }) => {
            if *m == u32::MAX {
                format!("mpls({})", format_mpls_lse(*lse))
            } else {
                format!("mpls({})", format_mpls_masked(*lse, *m))
            }
        }
        (SetAttr::Nsh(k), SetAttr::Nsh(m)) => format!("nsh({})", format_nsh_key_mask(k, m)),
        // Mismatched value/mask variants: show the value as a full set.
        (v, _) => fmt_set(v, &full_mask(v)),
    }
}

/// `tunnel(...)` of a `set` action (verbose, no mask; attributes present as
/// `tun_key_to_attr()` emits them).
fn fmt_tunnel_set(t: &TunnelMetadata) -> String {
    let mut s = String::new();
    let key = t.flags & tun_flags::KEY != 0;
    if t.tun_id != 0 || key {
        let _ = write!(s, "tun_id={:#x},", t.tun_id);
    }
    if t.ipv4_src != 0 {
        let _ = write!(s, "src={},", ip4(t.ipv4_src));
    }
    if t.ipv4_dst != 0 {
        let _ = write!(s, "dst={},", ip4(t.ipv4_dst));
    }
    if t.ipv6_src != 0 {
        let _ = write!(s, "ipv6_src={},", ip6(t.ipv6_src));
    }
    if t.ipv6_dst != 0 {
        let _ = write!(s, "ipv6_dst={},", ip6(t.ipv6_dst));
    }
    if t.tos != 0 {
        let _ = write!(s, "tos={},", hx(t.tos as u64));
    }
    let _ = write!(s, "ttl={},", t.ttl);
    if t.tp_src != 0 {
        let _ = write!(s, "tp_src={},", t.tp_src);
    }
    if t.tp_dst != 0 {
        let _ = write!(s, "tp_dst={},", t.tp_dst);
    }
    if t.gbp_id != 0 || t.gbp_flags != 0 {
        let _ = write!(
            s,
            "vxlan(gbp(id={},flags={})),",
            t.gbp_id,
            hx(t.gbp_flags as u64)
        );
    }
    if t.opts_len > 0 {
        let _ = write!(s, "geneve({}),", format_geneve_opts(t.opts(), None, true));
    }
    let mut fl = (t.flags & (tun_flags::DONT_FRAGMENT | tun_flags::CSUM | tun_flags::OAM)) as u32;
    if t.tun_id != 0 || key {
        fl |= tun_flags::KEY as u32;
    }
    let _ = write!(s, "flags({})", format_flags(&TUN_FLAG_NAMES, fl));
    s
}

fn fmt_ct(s: &mut String, ct: &CtAction) {
    s.push_str("ct");
    let any = ct.commit
        || ct.force
        || ct.zone != 0
        || ct.mark.is_some()
        || ct.label.is_some()
        || ct.helper.is_some()
        || ct.timeout.is_some()
        || ct.nat.is_some();
    if !any {
        return;
    }
    let mut b = String::new();
    if ct.force {
        b.push_str("force_commit,");
    } else if ct.commit {
        b.push_str("commit,");
    }
    if ct.zone != 0 {
        let _ = write!(b, "zone={},", ct.zone);
    }
    if let Some((v, m)) = ct.mark {
        let _ = write!(b, "mark={}/{},", hx(v as u64), hx(m as u64));
    }
    if let Some((v, m)) = ct.label {
        let _ = write!(b, "label={}", hx128(v));
        if m != u128::MAX {
            let _ = write!(b, "/{}", hx128(m));
        }
        b.push(',');
    }
    if let Some(h) = &ct.helper {
        let _ = write!(b, "helper={h},");
    }
    if let Some(t) = &ct.timeout {
        let _ = write!(b, "timeout={t},");
    }
    if let Some(n) = &ct.nat {
        fmt_nat(&mut b, n);
    }
    chomp(&mut b, ',');
    let _ = write!(s, "({b})");
}

/// `format_odp_ct_nat()`.
fn fmt_nat(s: &mut String, n: &NatAction) {
    s.push_str("nat");
    let Some(kind) = n.kind else {
        return;
    };
    s.push('(');
    s.push_str(match kind {
        NatKind::Src => "src",
        NatKind::Dst => "dst",
    });
    if let Some((lo, hi)) = n.addr {
        let pmin = n.ports.map_or(0, |p| p.0);
        s.push('=');
        let one = |s: &mut String, a: IpAddr| match a {
            IpAddr::V4(a) => s.push_str(&a.to_string()),
            IpAddr::V6(a) => {
                if pmin != 0 {
                    let _ = write!(s, "[{}]", ip6(u128::from(a)));
                } else {
                    s.push_str(&ip6(u128::from(a)));
                }
            }
        };
        one(s, lo);
        if hi != lo {
            s.push('-');
            one(s, hi);
        }
        if let Some((pl, ph)) = n.ports {
            if pl != 0 {
                let _ = write!(s, ":{pl}");
                if ph != 0 && ph != pl {
                    let _ = write!(s, "-{ph}");
                }
            }
        }
    }
    s.push(',');
    if n.persistent {
        s.push_str("persistent,");
    }
    if n.hash {
        s.push_str("hash,");
    }
    if n.random {
        s.push_str("random,");
    }
    chomp(s, ',');
    s.push(')');
}

/// Bytes of the header at `off..off+n`, zero-padded past the end.
fn hb(h: &[u8], off: usize, n: usize) -> Vec<u8> {
    (off..off + n)
        .map(|i| h.get(i).copied().unwrap_or(0))
        .collect()
}

fn be16(h: &[u8], off: usize) -> u16 {
    let b = hb(h, off, 2);
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(h: &[u8], off: usize) -> u32 {
    let b = hb(h, off, 4);
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be128(h: &[u8], off: usize) -> u128 {
    let b = hb(h, off, 16);
    let mut a = [0u8; 16];
    a.copy_from_slice(&b);
    u128::from_be_bytes(a)
}

fn macat(h: &[u8], off: usize) -> String {
    let b = hb(h, off, 6);
    let mut a = [0u8; 6];
    a.copy_from_slice(&b);
    mac(mac_to_u64(a))
}

/// `format_odp_tnl_push_action()` / `format_odp_tnl_push_header()`.
fn fmt_tnl_push(s: &mut String, t: &TnlPush) {
    let h = &t.header;
    let _ = write!(
        s,
        "tnl_push(tnl_port({}),header(size={},type={},eth(dst={},src={},dl_type={:#06x}),",
        t.tnl_port,
        h.len(),
        t.tnl_type,
        macat(h, 0),
        macat(h, 6),
        be16(h, 12)
    );
    let l4 = if be16(h, 12) == 0x0800 {
        let ip = 14;
        let _ = write!(
            s,
            "ipv4(src={},dst={},proto={},tos={},ttl={},frag={:#x}),",
            ip4(be32(h, ip + 12)),
            ip4(be32(h, ip + 16)),
            hb(h, ip + 9, 1)[0],
            hx(hb(h, ip + 1, 1)[0] as u64),
            hb(h, ip + 8, 1)[0],
            be16(h, ip + 6)
        );
        ip + 20
    } else {
        let ip = 14;
        let flow = be32(h, ip);
        let _ = write!(
            s,
            "ipv6(src={},dst={},label={},proto={},tclass={:#x},hlimit={}),",
            ip6(be128(h, ip + 8)),
            ip6(be128(h, ip + 24)),
            flow & 0xfffff,
            hb(h, ip + 6, 1)[0],
            (flow >> 20) & 0xff,
            hb(h, ip + 7, 1)[0]
        );
        ip + 40
    };
    let udp = |s: &mut String| {
        let _ = write!(
            s,
            "udp(src={},dst={},csum={:#x}),",
            be16(h, l4),
            be16(h, l4 + 2),
            be16(h, l4 + 6)
        );
    };
    match t.tnl_type {
        VPORT_VXLAN => {
            udp(s);
            let _ = write!(
                s,
                "vxlan(flags={:#x},vni={:#x})",
                be32(h, l4 + 8),
                be32(h, l4 + 12) >> 8
            );
        }
        VPORT_GENEVE => {
            udp(s);
            let g = l4 + 8;
            let b0 = hb(h, g, 1)[0];
            let b1 = hb(h, g + 1, 1)[0];
            let _ = write!(
                s,
                "geneve({}{}vni={:#x}",
                if b1 & 0x80 != 0 { "oam," } else { "" },
                if b1 & 0x40 != 0 { "crit," } else { "" },
                be32(h, g + 4) >> 8
            );
            let olen = (b0 & 0x3f) as usize * 4;
            if olen > 0 {
                let o = hb(h, g + 8, olen);
                let _ = write!(s, ",options({})", format_geneve_opts(&o, None, false));
            }
            s.push(')');
        }
        VPORT_GRE | VPORT_IP6GRE => {
            let fl = be16(h, l4);
            let _ = write!(s, "gre((flags={:#x},proto={:#x})", fl, be16(h, l4 + 2));
            let mut o = l4 + 4;
            if fl & GRE_CSUM != 0 {
                let _ = write!(s, ",csum={:#x}", be16(h, o));
                o += 4;
            }
            if fl & GRE_KEY != 0 {
                let _ = write!(s, ",key={:#x}", be32(h, o));
                o += 4;
            }
            if fl & GRE_SEQ != 0 {
                let _ = write!(s, ",seq={:#x}", be32(h, o));
            }
            s.push(')');
        }
        _ => {}
    }
    let _ = write!(s, "),out_port({}))", t.out_port);
}

// ---------------------------------------------------------------------------
// Parsing.

/// Parses a datapath action list in the `ovs-dpctl(8)` syntax
/// (`odp_actions_from_string()`, `lib/odp-util.c`): everything
/// [`format_actions`] prints. A list that is just `drop` (at any nesting
/// level) is the empty list; `drop` among other actions is
/// [`OdpAction::Drop`]. A `set(...)` whose fields are all given with full
/// masks is [`OdpAction::Set`], otherwise [`OdpAction::SetMasked`].
///
/// # Errors
/// A [`ParseError`] naming the unknown action or malformed argument. Not
/// supported: decoded `userspace` cookies (`sFlow`, `slow_path`,
/// `flow_sample`, `ipfix`, `controller`), NSH, ERSPAN and `lb_output`.
pub fn parse_actions(s: &str) -> Result<Vec<OdpAction>, ParseError> {
    parse_list(s, s.trim())
}

fn parse_list(base: &str, s: &str) -> Result<Vec<OdpAction>, ParseError> {
    let items = split_top(base, s)?;
    if items.len() == 1 && items[0] == "drop" {
        return Ok(Vec::new());
    }
    items.into_iter().map(|it| parse_one(base, it)).collect()
}

fn one_arg<'a>(base: &str, body: Option<&'a str>, item: &'a str) -> Result<&'a str, ParseError> {
    body.ok_or_else(|| perr(base, item, "expected (...)"))
}

fn parse_one(base: &str, it: &str) -> Result<OdpAction, ParseError> {
    if it.as_bytes()[0].is_ascii_digit() {
        return Ok(OdpAction::Output(num(base, it, u32::MAX as u64)? as u32));
    }
    let (name, body) = call(base, it)?;
    let u32arg = |body: Option<&str>| -> Result<u32, ParseError> {
        Ok(num(base, one_arg(base, body, it)?, u32::MAX as u64)? as u32)
    };
    let flag = |a: OdpAction| -> Result<OdpAction, ParseError> {
        match body {
            None => Ok(a),
            Some(_) => Err(perr(base, it, "action takes no arguments")),
        }
    };
    Ok(match name {
        "drop" => flag(OdpAction::Drop)?,
        "pop_vlan" => flag(OdpAction::PopVlan)?,
        "ct_clear" => flag(OdpAction::CtClear)?,
        "pop_eth" => flag(OdpAction::PopEth)?,
        "pop_nsh" => match body {
            None | Some("") => OdpAction::PopNsh,
            Some(_) => return Err(perr(base, it, "action takes no arguments")),
        },
        "push_nsh" => OdpAction::PushNsh(parse_push_nsh(base, one_arg(base, body, it)?)?),
        "ct" => OdpAction::Ct(parse_ct(base, body)?),
        "recirc" => OdpAction::Recirc(u32arg(body)?),
        "meter" => OdpAction::Meter(u32arg(body)?),
        "trunc" => OdpAction::Trunc(u32arg(body)?),
        "tnl_pop" => OdpAction::TnlPop(u32arg(body)?),
        "clone" => OdpAction::Clone(parse_list(base, one_arg(base, body, it)?)?),
        "hash" => {
            let b = one_arg(base, body, it)?;
            let (alg, arg) = call(base, b)?;
            let alg = match alg {
                "l4" | "hash_l4" => HashAlg::L4,
                "sym_l4" => HashAlg::SymL4,
                _ => return Err(perr(base, alg, "unknown hash algorithm")),
            };
            let basis = num(base, one_arg(base, arg, b)?, u32::MAX as u64)? as u32;
            OdpAction::Hash { alg, basis }
        }
        "dec_ttl" => {
            let b = one_arg(base, body, it)?;
            let (n, inner) = call(base, b)?;
            if n != "le_1" {
                return Err(perr(base, b, "expected le_1(...)"));
            }
            OdpAction::DecTtl(parse_list(base, one_arg(base, inner, b)?)?)
        }
        "check_pkt_len" => {
            let b = one_arg(base, body, it)?;
            let parts = split_top(base, b)?;
            if parts.len() != 3 {
                return Err(perr(base, b, "expected size=N,gt(...),le(...)"));
            }
            let (k, v) = kv(base, parts[0])?;
            if k != "size" {
                return Err(perr(base, parts[0], "expected size="));
            }
            let pkt_len = num(base, v, 0xffff)? as u16;
            let (g, gb) = call(base, parts[1])?;
            let (l, lb) = call(base, parts[2])?;
            if g != "gt" || l != "le" {
                return Err(perr(base, parts[1], "expected gt(...),le(...)"));
            }
            OdpAction::CheckPktLen {
                pkt_len,
                gt: parse_list(base, one_arg(base, gb, parts[1])?)?,
                le: parse_list(base, one_arg(base, lb, parts[2])?)?,
            }
        }
        "sample" => {
            let b = one_arg(base, body, it)?;
            let parts = split_top(base, b)?;
            if parts.len() != 2 {
                return Err(perr(base, b, "expected sample=P%,actions(...)"));
            }
            let (k, v) = kv(base, parts[0])?;
            let pct: f64 = v
                .strip_suffix('%')
                .filter(|_| k == "sample")
                .and_then(|p| p.parse().ok())
                .filter(|p: &f64| (0.0..=100.0).contains(p))
                .ok_or_else(|| perr(base, parts[0], "bad sample percentage"))?;
            let (a, ab) = call(base, parts[1])?;
            if a != "actions" {
                return Err(perr(base, parts[1], "expected actions(...)"));
            }
            let prob = (u32::MAX as f64 * (pct / 100.0) + 0.5).floor();
            let probability = if prob <= 0.0 {
                0
            } else if prob >= u32::MAX as f64 {
                u32::MAX
            } else {
                prob as u32
            };
            OdpAction::Sample {
                probability,
                actions: parse_list(base, one_arg(base, ab, parts[1])?)?,
            }
        }
        "push_vlan" => {
            let b = one_arg(base, body, it)?;
            let (mut tpid, mut vid, mut pcp) = (0x8100u16, 0u16, 0u16);
            for f in split_top(base, b)? {
                let (k, v) = kv(base, f)?;
                match k {
                    "tpid" => tpid = num(base, v, 0xffff)? as u16,
                    "vid" => vid = num(base, v, 0xfff)? as u16,
                    "pcp" => pcp = num(base, v, 7)? as u16,
                    "cfi" => {
                        num(base, v, 1)?;
                    }
                    _ => return Err(perr(base, k, "unknown push_vlan field")),
                }
            }
            OdpAction::PushVlan {
                tpid,
                tci: vid | (pcp << 13),
            }
        }
        "push_mpls" => {
            let b = one_arg(base, body, it)?;
            let (mut lse, mut ethertype) = (0u32, 0x8847u16);
            for f in split_top(base, b)? {
                let (k, v) = kv(base, f)?;
                match k {
                    "label" => lse |= (num(base, v, 0xfffff)? as u32) << 12,
                    "tc" => lse |= (num(base, v, 7)? as u32) << 9,
                    "ttl" => lse |= num(base, v, 0xff)? as u32,
                    "bos" => lse |= (num(base, v, 1)? as u32) << 8,
                    "eth_type" => ethertype = num(base, v, 0xffff)? as u16,
                    _ => return Err(perr(base, k, "unknown push_mpls field")),
                }
            }
            OdpAction::PushMpls { lse, ethertype }
        }
        "pop_mpls" => {
            let b = one_arg(base, body, it)?;
            let (k, v) = kv(base, b)?;
            if k != "eth_type" {
                return Err(perr(base, b, "expected eth_type="));
            }
            OdpAction::PopMpls {
                ethertype: num(base, v, 0xffff)? as u16,
            }
        }
        "push_eth" => {
            let b = one_arg(base, body, it)?;
            let (mut src, mut dst) = (0u64, 0u64);
            for f in split_top(base, b)? {
                let (k, v) = kv(base, f)?;
                match k {
                    "src" => src = parse_mac(base, v)?,
                    "dst" => dst = parse_mac(base, v)?,
                    "type" => {
                        num(base, v, u32::MAX as u64)?;
                    }
                    _ => return Err(perr(base, k, "unknown push_eth field")),
                }
            }
            OdpAction::PushEth {
                src: u64_to_mac(src),
                dst: u64_to_mac(dst),
            }
        }
        "userspace" => OdpAction::Userspace(parse_userspace(base, one_arg(base, body, it)?)?),
        "set" => parse_set(base, one_arg(base, body, it)?)?,
        "tnl_push" => OdpAction::TnlPush(parse_tnl_push(base, one_arg(base, body, it)?)?),
        _ => return Err(perr(base, name, "unknown or unsupported action")),
    })
}

fn parse_userspace(base: &str, b: &str) -> Result<UserspaceAction, ParseError> {
    let mut u = UserspaceAction::default();
    let mut have_pid = false;
    for f in split_top(base, b)? {
        if f == "actions" {
            u.actions = true;
            continue;
        }
        if let Some(rest) = f.strip_prefix("userdata(") {
            let hex = rest
                .strip_suffix(')')
                .ok_or_else(|| perr(base, f, "expected ')'"))?;
            let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
            let hex = hex.strip_prefix("0x").unwrap_or(&hex);
            if hex.len() % 2 != 0 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(perr(base, f, "bad userdata hex"));
            }
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect();
            u.userdata = Some(bytes);
            continue;
        }
        let (k, v) = kv(base, f)?;
        match k {
            "pid" => {
                u.pid = num(base, v, u32::MAX as u64)? as u32;
                have_pid = true;
            }
            "tunnel_out_port" => u.tunnel_out_port = Some(num(base, v, u32::MAX as u64)? as u32),
            _ => return Err(perr(base, f, "unsupported userspace argument")),
        }
    }
    if !have_pid {
        return Err(perr(base, b, "userspace needs pid="));
    }
    Ok(u)
}

fn parse_ct(base: &str, body: Option<&str>) -> Result<CtAction, ParseError> {
    let mut ct = CtAction::default();
    let Some(b) = body else {
        return Ok(ct);
    };
    for f in split_top(base, b)? {
        match f {
            "commit" => {
                ct.commit = true;
                continue;
            }
            "force_commit" => {
                ct.commit = true;
                ct.force = true;
                continue;
            }
            "nat" => {
                ct.nat = Some(NatAction::default());
                continue;
            }
            _ => {}
        }
        if f.starts_with("nat(") {
            let (_, nb) = call(base, f)?;
            ct.nat = Some(parse_nat(base, nb.unwrap_or(""))?);
            continue;
        }
        let (k, v) = kv(base, f)?;
        match k {
            "zone" => ct.zone = num(base, v, 0xffff)? as u16,
            "mark" => {
                let (a, m) = vm(v);
                let a = hexnum(base, a, u32::MAX as u64)? as u32;
                let m = match m {
                    Some(m) => hexnum(base, m, u32::MAX as u64)? as u32,
                    None => u32::MAX,
                };
                ct.mark = Some((a, m));
            }
            "label" => {
                let (a, m) = vm(v);
                let a = num128(base, a)?;
                let m = match m {
                    Some(m) => num128(base, m)?,
                    None => u128::MAX,
                };
                ct.label = Some((a, m));
            }
            "helper" => {
                if v.is_empty() || v.len() > 15 {
                    return Err(perr(base, v, "bad helper name"));
                }
                ct.helper = Some(v.to_string());
            }
            "timeout" => {
                if v.is_empty() {
                    return Err(perr(base, f, "empty timeout policy"));
                }
                ct.timeout = Some(v.to_string());
            }
            _ => return Err(perr(base, f, "unknown ct argument")),
        }
    }
    Ok(ct)
}

fn parse_nat(base: &str, b: &str) -> Result<NatAction, ParseError> {
    let mut n = NatAction::default();
    for f in split_top(base, b)? {
        match f {
            "persistent" => n.persistent = true,
            "hash" => n.hash = true,
            "random" => n.random = true,
            _ => {
                let (k, range) = match f.split_once('=') {
                    Some((k, r)) => (k, Some(r)),
                    None => (f, None),
                };
                let kind = match k {
                    "src" => NatKind::Src,
                    "dst" => NatKind::Dst,
                    _ => return Err(perr(base, f, "unknown nat argument")),
                };
                if n.kind.is_some_and(|x| x != kind) {
                    return Err(perr(base, f, "only one of src or dst may be given"));
                }
                n.kind = Some(kind);
                if let Some(r) = range {
                    parse_nat_range(base, r, &mut n)?;
                }
            }
        }
    }
    if n.hash && n.random {
        return Err(perr(base, b, "nat hash and random are exclusive"));
    }
    Ok(n)
}

fn parse_nat_range(base: &str, r: &str, n: &mut NatAction) -> Result<(), ParseError> {
    let (addrs, ports): (&str, Option<&str>) = if r.starts_with('[') {
        // [v6]-[v6]:ports or [v6]:ports
        let last = r.rfind(']').ok_or_else(|| perr(base, r, "expected ']'"))?;
        let rest = &r[last + 1..];
        let ports = match rest {
            "" => None,
            _ => Some(
                rest.strip_prefix(':')
                    .ok_or_else(|| perr(base, rest, "expected ':PORT'"))?,
            ),
        };
        (&r[..last + 1], ports)
    } else if r.contains('.') {
        match r.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (r, None),
        }
    } else {
        (r, None)
    };
    let ip = |t: &str| -> Result<IpAddr, ParseError> {
        let t = t
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(t);
        if t.contains(':') {
            Ok(IpAddr::V6(parse_ip6(base, t)?.into()))
        } else {
            Ok(IpAddr::V4(parse_ip4(base, t)?.into()))
        }
    };
    let (lo, hi) = match split_range(addrs) {
        (a, Some(b)) => (ip(a)?, ip(b)?),
        (a, None) => {
            let a = ip(a)?;
            (a, a)
        }
    };
    if lo.is_ipv4() != hi.is_ipv4() {
        return Err(perr(base, addrs, "address family mismatch in nat range"));
    }
    n.addr = Some((lo, hi));
    if let Some(p) = ports {
        let (a, b) = match p.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (p, None),
        };
        let a = num(base, a, 0xffff)? as u16;
        let b = match b {
            Some(b) => num(base, b, 0xffff)? as u16,
            None => a,
        };
        n.ports = Some((a, b));
    }
    Ok(())
}

/// Splits `A-B` where A/B may be bracketed IPv6 addresses.
fn split_range(s: &str) -> (&str, Option<&str>) {
    if s.starts_with('[') {
        if let Some(p) = s.find("]-") {
            return (&s[..p + 1], Some(&s[p + 2..]));
        }
        return (s, None);
    }
    match s.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// Value and mask of one `name=V[/M]` item.
struct Vm<'a> {
    base: &'a str,
}

impl Vm<'_> {
    fn int(&self, t: &str, max: u64) -> Result<(u64, u64), ParseError> {
        let (v, m) = vm(t);
        Ok((
            num(self.base, v, max)?,
            m.map_or(Ok(max), |m| num(self.base, m, max))?,
        ))
    }
    fn ip4(&self, t: &str) -> Result<(u32, u32), ParseError> {
        let (v, m) = vm(t);
        Ok((
            parse_ip4(self.base, v)?,
            m.map_or(Ok(u32::MAX), |m| parse_ip4(self.base, m))?,
        ))
    }
    fn ip6(&self, t: &str) -> Result<(u128, u128), ParseError> {
        let (v, m) = vm(t);
        Ok((
            parse_ip6(self.base, v)?,
            m.map_or(Ok(u128::MAX), |m| parse_ip6(self.base, m))?,
        ))
    }
    fn mac(&self, t: &str) -> Result<([u8; 6], [u8; 6]), ParseError> {
        let (v, m) = vm(t);
        Ok((
            u64_to_mac(parse_mac(self.base, v)?),
            u64_to_mac(m.map_or(Ok(0xffff_ffff_ffff), |m| parse_mac(self.base, m))?),
        ))
    }
}

fn parse_set(base: &str, b: &str) -> Result<OdpAction, ParseError> {
    let (name, body) = call(base, b)?;
    let body = one_arg(base, body, b)?;
    let p = Vm { base };
    let fields = || -> Result<Vec<(&str, &str)>, ParseError> {
        split_top(base, body)?
            .into_iter()
            .map(|f| kv(base, f))
            .collect()
    };
    let unknown = |k: &str| perr(base, k, &format!("unknown field in set({name}())"));
    let (value, mask) = match name {
        "skb_priority" | "skb_mark" => {
            let (v, m) = p.int(body, u32::MAX as u64)?;
            let (v, m) = (v as u32, m as u32);
            if name == "skb_priority" {
                (SetAttr::Priority(v), SetAttr::Priority(m))
            } else {
                (SetAttr::SkbMark(v), SetAttr::SkbMark(m))
            }
        }
        "tunnel" => {
            return Ok(OdpAction::Set(SetAttr::Tunnel(Box::new(parse_tunnel_set(
                base, body,
            )?))))
        }
        "eth" => {
            let (mut v, mut m) = ([[0u8; 6]; 2], [[0u8; 6]; 2]);
            for (k, t) in fields()? {
                let i = match k {
                    "src" => 0,
                    "dst" => 1,
                    _ => return Err(unknown(k)),
                };
                (v[i], m[i]) = p.mac(t)?;
            }
            (
                SetAttr::Eth {
                    src: v[0],
                    dst: v[1],
                },
                SetAttr::Eth {
                    src: m[0],
                    dst: m[1],
                },
            )
        }
        "ipv4" => {
            let (mut v, mut m) = ([0u32; 4], [0u32; 4]);
            for (k, t) in fields()? {
                match k {
                    "src" => (v[0], m[0]) = p.ip4(t)?,
                    "dst" => (v[1], m[1]) = p.ip4(t)?,
                    "tos" => {
                        let (a, b) = p.int(t, 0xff)?;
                        (v[2], m[2]) = (a as u32, b as u32);
                    }
                    "ttl" => {
                        let (a, b) = p.int(t, 0xff)?;
                        (v[3], m[3]) = (a as u32, b as u32);
                    }
                    "proto" => {
                        p.int(t, 0xff)?;
                    }
                    "frag" => {}
                    _ => return Err(unknown(k)),
                }
            }
            (
                SetAttr::Ipv4 {
                    src: v[0],
                    dst: v[1],
                    tos: v[2] as u8,
                    ttl: v[3] as u8,
                },
                SetAttr::Ipv4 {
                    src: m[0],
                    dst: m[1],
                    tos: m[2] as u8,
                    ttl: m[3] as u8,
                },
            )
        }
        "ipv6" => {
            let (mut v, mut m) = ([0u128; 5], [0u128; 5]);
            for (k, t) in fields()? {
                let (i, r) = match k {
                    "src" => (0, p.ip6(t)?),
                    "dst" => (1, p.ip6(t)?),
                    "label" => {
                        let (a, b) = p.int(t, 0xfffff)?;
                        (2, (a as u128, b as u128))
                    }
                    "tclass" => {
                        let (a, b) = p.int(t, 0xff)?;
                        (3, (a as u128, b as u128))
                    }
                    "hlimit" => {
                        let (a, b) = p.int(t, 0xff)?;
                        (4, (a as u128, b as u128))
                    }
                    "proto" => {
                        p.int(t, 0xff)?;
                        continue;
                    }
                    "frag" => continue,
                    _ => return Err(unknown(k)),
                };
                (v[i], m[i]) = r;
            }
            (
                SetAttr::Ipv6 {
                    src: v[0],
                    dst: v[1],
                    label: v[2] as u32,
                    tclass: v[3] as u8,
                    hlimit: v[4] as u8,
                },
                SetAttr::Ipv6 {
                    src: m[0],
                    dst: m[1],
                    label: m[2] as u32,
                    tclass: m[3] as u8,
                    hlimit: m[4] as u8,
                },
            )
        }
        "tcp" | "udp" | "sctp" => {
            let (mut v, mut m) = ([0u16; 2], [0u16; 2]);
            for (k, t) in fields()? {
                let i = match k {
                    "src" => 0,
                    "dst" => 1,
                    _ => return Err(unknown(k)),
                };
                let (a, b) = p.int(t, 0xffff)?;
                (v[i], m[i]) = (a as u16, b as u16);
            }
            let mk = |x: [u16; 2]| match name {
                "tcp" => SetAttr::Tcp {
                    src: x[0],
                    dst: x[1],
                },
                "udp" => SetAttr::Udp {
                    src: x[0],
                    dst: x[1],
                },
                _ => SetAttr::Sctp {
                    src: x[0],
                    dst: x[1],
                },
            };
            (mk(v), mk(m))
        }
        "arp" => {
            let (mut sip, mut tip, mut op, mut sha, mut tha) = (
                (0, 0),
                (0, 0),
                (0u64, 0u64),
                ([0; 6], [0; 6]),
                ([0; 6], [0; 6]),
            );
            for (k, t) in fields()? {
                match k {
                    "sip" => sip = p.ip4(t)?,
                    "tip" => tip = p.ip4(t)?,
                    "op" => op = p.int(t, 0xffff)?,
                    "sha" => sha = p.mac(t)?,
                    "tha" => tha = p.mac(t)?,
                    _ => return Err(unknown(k)),
                }
            }
            (
                SetAttr::Arp {
                    sip: sip.0,
                    tip: tip.0,
                    op: op.0 as u16,
                    sha: sha.0,
                    tha: tha.0,
                },
                SetAttr::Arp {
                    sip: sip.1,
                    tip: tip.1,
                    op: op.1 as u16,
                    sha: sha.1,
                    tha: tha.1,
                },
            )
        }
        "nd" => {
            let (mut target, mut sll, mut tll) = ((0, 0), ([0; 6], [0; 6]), ([0; 6], [0; 6]));
            for (k, t) in fields()? {
                match k {
                    "target" => target = p.ip6(t)?,
                    "sll" => sll = p.mac(t)?,
                    "tll" => tll = p.mac(t)?,
                    _ => return Err(unknown(k)),
                }
            }
            (
                SetAttr::Nd {
                    target: target.0,
                    sll: sll.0,
                    tll: tll.0,
                },
                SetAttr::Nd {
                    target: target.1,
                    sll: sll.1,
                    tll: tll.1,
                },
            )
        }
        "nsh" => {
            let (v, m) = parse_nsh_fields(base, body)?;
            (SetAttr::Nsh(v), SetAttr::Nsh(m))
        }
        "mpls" => {
            let (mut v, mut m) = (0u32, 0u32);
            for (k, t) in fields()? {
                let (shift, width) = match k {
                    "label" => (12, 0xfffffu64),
                    "tc" => (9, 7),
                    "ttl" => (0, 0xff),
                    "bos" => (8, 1),
                    _ => return Err(unknown(k)),
                };
                let (a, b) = vm(t);
                let a = num(base, a, width)?;
                let b = b.map_or(Ok(width), |x| num(base, x, width))?;
                v |= (a as u32) << shift;
                m |= (b as u32) << shift;
            }
            (SetAttr::Mpls { lse: v }, SetAttr::Mpls { lse: m })
        }
        _ => return Err(perr(base, name, "unknown or unsupported set attribute")),
    };
    if mask == full_mask(&value) {
        Ok(OdpAction::Set(value))
    } else {
        Ok(OdpAction::SetMasked { value, mask })
    }
}

fn parse_tunnel_set(base: &str, body: &str) -> Result<TunnelMetadata, ParseError> {
    let mut t = TunnelMetadata::default();
    for it in split_top(base, body)? {
        if let Some(rest) = it.strip_prefix("flags(") {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| perr(base, it, "expected ')'"))?;
            let mut f = 0u16;
            if inner != "0" {
                for n in inner.split('|') {
                    let bit = TUN_FLAG_NAMES
                        .iter()
                        .find(|(_, x)| *x == n)
                        .ok_or_else(|| perr(base, n, "unknown tunnel flag"))?
                        .0;
                    f |= bit as u16;
                }
            }
            t.flags |= f;
            continue;
        }
        if let Some(rest) = it.strip_prefix("geneve(") {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| perr(base, it, "expected ')'"))?;
            let (o, _) = parse_geneve_opts(base, inner, false)?;
            if o.len() > TUN_OPTS_MAX {
                return Err(perr(base, it, "Geneve options too long"));
            }
            t.opts[..o.len()].copy_from_slice(&o);
            t.opts_len = o.len() as u8;
            continue;
        }
        if let Some(rest) = it.strip_prefix("vxlan(gbp(") {
            let inner = rest
                .strip_suffix("))")
                .ok_or_else(|| perr(base, it, "expected '))'"))?;
            for f in split_top(base, inner)? {
                let (k, v) = kv(base, f)?;
                match k {
                    "id" => t.gbp_id = num(base, v, 0xffff)? as u16,
                    "flags" => t.gbp_flags = num(base, v, 0xff)? as u8,
                    _ => return Err(perr(base, k, "unknown gbp field")),
                }
            }
            continue;
        }
        let (k, v) = kv(base, it)?;
        match k {
            "tun_id" => {
                t.tun_id = num(base, v, u64::MAX)?;
                t.flags |= tun_flags::KEY;
            }
            "src" => t.ipv4_src = parse_ip4(base, v)?,
            "dst" => t.ipv4_dst = parse_ip4(base, v)?,
            "ipv6_src" => t.ipv6_src = parse_ip6(base, v)?,
            "ipv6_dst" => t.ipv6_dst = parse_ip6(base, v)?,
            "tos" => t.tos = num(base, v, 0xff)? as u8,
            "ttl" => t.ttl = num(base, v, 0xff)? as u8,
            "tp_src" => t.tp_src = num(base, v, 0xffff)? as u16,
            "tp_dst" => t.tp_dst = num(base, v, 0xffff)? as u16,
            _ => return Err(perr(base, k, "unknown tunnel field")),
        }
    }
    Ok(t)
}

/// IPv4 header checksum (RFC 1071).
fn ip_csum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn parse_tnl_push(base: &str, b: &str) -> Result<TnlPush, ParseError> {
    let parts = split_top(base, b)?;
    if parts.len() != 3 {
        return Err(perr(
            base,
            b,
            "expected tnl_port(N),header(...),out_port(N)",
        ));
    }
    let arg = |item: &str, want: &str| -> Result<u32, ParseError> {
        let (n, a) = call(base, item)?;
        if n != want {
            return Err(perr(base, item, &format!("expected {want}(...)")));
        }
        Ok(num(base, one_arg(base, a, item)?, u32::MAX as u64)? as u32)
    };
    let tnl_port = arg(parts[0], "tnl_port")?;
    let out_port = arg(parts[2], "out_port")?;
    let (hn, hb_) = call(base, parts[1])?;
    if hn != "header" {
        return Err(perr(base, parts[1], "expected header(...)"));
    }
    let hitems = split_top(base, one_arg(base, hb_, parts[1])?)?;
    let mut it = hitems.into_iter();
    let mut next = |what: &str| {
        it.next()
            .ok_or_else(|| perr(base, b, &format!("tnl_push header: missing {what}")))
    };
    let size_item = next("size=")?;
    let (k, v) = kv(base, size_item)?;
    if k != "size" {
        return Err(perr(base, size_item, "expected size="));
    }
    let size = num(base, v, u32::MAX as u64)? as usize;
    let type_item = next("type=")?;
    let (k, v) = kv(base, type_item)?;
    if k != "type" {
        return Err(perr(base, type_item, "expected type="));
    }
    let tnl_type = num(base, v, u32::MAX as u64)? as u32;
    let fields_of = |item: &str, want: &str| -> Result<Vec<(String, String)>, ParseError> {
        let (n, a) = call(base, item)?;
        if n != want {
            return Err(perr(base, item, &format!("expected {want}(...)")));
        }
        split_top(base, one_arg(base, a, item)?)?
            .into_iter()
            .map(|f| kv(base, f).map(|(k, v)| (k.to_string(), v.to_string())))
            .collect()
    };
    let get = |fs: &[(String, String)], item: &str, k: &str| -> Result<String, ParseError> {
        fs.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| perr(base, item, &format!("missing {k}=")))
    };
    let mut h: Vec<u8> = Vec::with_capacity(128);
    let eth_item = next("eth(...)")?;
    let e = fields_of(eth_item, "eth")?;
    let pm = |v: String| -> Result<[u8; 6], ParseError> {
        Ok(u64_to_mac(parse_mac(base, base_sub(base, eth_item, &v))?))
    };
    h.extend(pm(get(&e, eth_item, "dst")?)?);
    h.extend(pm(get(&e, eth_item, "src")?)?);
    let dl_type = hexnum(base, &get(&e, eth_item, "dl_type")?, 0xffff)? as u16;
    h.extend(dl_type.to_be_bytes());
    let ip_item = next("ipv4(...)/ipv6(...)")?;
    let n = |f: &[(String, String)], k: &str, max: u64| -> Result<u64, ParseError> {
        let v = get(f, ip_item, k)?;
        num(base, base_sub(base, ip_item, &v), max)
    };
    let is_v4 = dl_type == 0x0800;
    if is_v4 {
        let f = fields_of(ip_item, "ipv4")?;
        let src = parse_ip4(base, base_sub(base, ip_item, &get(&f, ip_item, "src")?))?;
        let dst = parse_ip4(base, base_sub(base, ip_item, &get(&f, ip_item, "dst")?))?;
        let proto = n(&f, "proto", 0xff)? as u8;
        let tos = n(&f, "tos", 0xff)? as u8;
        let ttl = n(&f, "ttl", 0xff)? as u8;
        let frag = n(&f, "frag", 0xffff)? as u16;
        let mut ip = vec![0x45, tos, 0, 0, 0, 0];
        ip.extend(frag.to_be_bytes());
        ip.extend([ttl, proto, 0, 0]);
        ip.extend(src.to_be_bytes());
        ip.extend(dst.to_be_bytes());
        let c = ip_csum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend(ip);
    } else {
        let f = fields_of(ip_item, "ipv6")?;
        let src = parse_ip6(base, base_sub(base, ip_item, &get(&f, ip_item, "src")?))?;
        let dst = parse_ip6(base, base_sub(base, ip_item, &get(&f, ip_item, "dst")?))?;
        let label = n(&f, "label", 0xfffff)? as u32;
        let proto = n(&f, "proto", 0xff)? as u8;
        let tclass = hexnum(base, &get(&f, ip_item, "tclass")?, 0xff)? as u32;
        let hlimit = n(&f, "hlimit", 0xff)? as u8;
        h.extend(((6u32 << 28) | (tclass << 20) | label).to_be_bytes());
        h.extend([0, 0, proto, hlimit]);
        h.extend(src.to_be_bytes());
        h.extend(dst.to_be_bytes());
    }
    let l4_item = next("udp(...)/gre(...)")?;
    let computed_type;
    if l4_item.starts_with("udp(") {
        let f = fields_of(l4_item, "udp")?;
        let un = |k: &str| -> Result<u16, ParseError> {
            let v = get(&f, l4_item, k)?;
            Ok(num(base, base_sub(base, l4_item, &v), 0xffff)? as u16)
        };
        let (us, ud) = (un("src")?, un("dst")?);
        let csum = hexnum(base, &get(&f, l4_item, "csum")?, 0xffff)? as u16;
        h.extend(us.to_be_bytes());
        h.extend(ud.to_be_bytes());
        h.extend([0, 0]);
        h.extend(csum.to_be_bytes());
        let t_item = next("vxlan(...)/geneve(...)")?;
        let (tn, tb) = call(base, t_item)?;
        let tb = one_arg(base, tb, t_item)?;
        match tn {
            "vxlan" => {
                let mut fl = 0u32;
                let mut vni = 0u32;
                for x in split_top(base, tb)? {
                    let (k, v) = kv(base, x)?;
                    match k {
                        "flags" => fl = hexnum(base, v, u32::MAX as u64)? as u32,
                        "vni" => vni = hexnum(base, v, 0xff_ffff)? as u32,
                        _ => return Err(perr(base, k, "unknown vxlan field")),
                    }
                }
                h.extend(fl.to_be_bytes());
                h.extend((vni << 8).to_be_bytes());
                computed_type = VPORT_VXLAN;
            }
            "geneve" => {
                let (mut oam, mut crit, mut vni) = (false, false, 0u32);
                let mut opts = Vec::new();
                for x in split_top(base, tb)? {
                    match x {
                        "oam" => oam = true,
                        "crit" => crit = true,
                        _ if x.starts_with("options(") => {
                            let (_, ob) = call(base, x)?;
                            opts = parse_geneve_opts(base, ob.unwrap_or(""), false)?.0;
                        }
                        _ => {
                            let (k, v) = kv(base, x)?;
                            if k != "vni" {
                                return Err(perr(base, k, "unknown geneve field"));
                            }
                            vni = num(base, v, 0xff_ffff)? as u32;
                        }
                    }
                }
                if opts.len() > 252 {
                    return Err(perr(base, tb, "Geneve options too long"));
                }
                h.push((opts.len() / 4) as u8);
                h.push(if oam { 0x80 } else { 0 } | if crit { 0x40 } else { 0 });
                h.extend(0x6558u16.to_be_bytes());
                h.extend((vni << 8).to_be_bytes());
                h.extend(opts);
                computed_type = VPORT_GENEVE;
            }
            _ => return Err(perr(base, t_item, "unsupported UDP tunnel header")),
        }
    } else if let Some(gre) = l4_item
        .strip_prefix("gre(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let g = split_top(base, gre)?;
        let first = g
            .first()
            .and_then(|x| x.strip_prefix('('))
            .and_then(|x| x.strip_suffix(')'))
            .ok_or_else(|| perr(base, gre, "expected (flags=..,proto=..)"))?;
        let (mut fl, mut proto) = (0u16, 0u16);
        for x in split_top(base, first)? {
            let (k, v) = kv(base, x)?;
            match k {
                "flags" => fl = hexnum(base, v, 0xffff)? as u16,
                "proto" => proto = hexnum(base, v, 0xffff)? as u16,
                _ => return Err(perr(base, k, "unknown gre field")),
            }
        }
        h.extend(fl.to_be_bytes());
        h.extend(proto.to_be_bytes());
        let opt = |k: &str| -> Result<Option<u32>, ParseError> {
            for x in &g[1..] {
                let (a, v) = kv(base, x)?;
                if a == k {
                    return Ok(Some(hexnum(base, v, u32::MAX as u64)? as u32));
                }
            }
            Ok(None)
        };
        for x in &g[1..] {
            let (a, _) = kv(base, x)?;
            if !matches!(a, "csum" | "key" | "seq") {
                return Err(perr(base, a, "unknown gre option"));
            }
        }
        for (bit, k) in [(GRE_CSUM, "csum"), (GRE_KEY, "key"), (GRE_SEQ, "seq")] {
            if fl & bit != 0 {
                let v = opt(k)?.ok_or_else(|| perr(base, l4_item, &format!("missing {k}=")))?;
                if bit == GRE_CSUM {
                    h.extend((v as u16).to_be_bytes());
                    h.extend([0, 0]);
                } else {
                    h.extend(v.to_be_bytes());
                }
            }
        }
        computed_type = if is_v4 { VPORT_GRE } else { VPORT_IP6GRE };
    } else {
        return Err(perr(base, l4_item, "unsupported tunnel header"));
    }
    if let Some(extra) = it.next() {
        return Err(perr(base, extra, "unexpected tnl_push header item"));
    }
    if computed_type != tnl_type {
        return Err(perr(base, type_item, "tunnel type does not match header"));
    }
    if size != h.len() {
        return Err(perr(base, size_item, "header size does not match header"));
    }
    Ok(TnlPush {
        tnl_port,
        out_port,
        tnl_type,
        header: h,
    })
}

/// Finds `v` (a copy of a piece of `item`) inside `item` so errors point into
/// the input; falls back to `item`.
fn base_sub<'a>(base: &'a str, item: &'a str, v: &str) -> &'a str {
    let _ = base;
    match item.find(v) {
        Some(p) => &item[p..p + v.len()],
        None => item,
    }
}
