//! Operator output in OVS 3.x formats: `ovs-appctl dpctl/dump-conntrack`
//! (`ct_dpif_format_entry`, `lib/ct-dpif.c`), `dpctl/ct-stats-show`,
//! `dpctl/ct-bkts`, `dpctl/ct-get-maxconns`, `dpctl/ct-get-nconns`,
//! `dpctl/ct-set-maxconns`, `dpctl/ct-get-limits` (`lib/dpctl.c`).

use crate::key::{ipproto, is_icmp, ConnKey};
use crate::tcp::TcpState;
use std::fmt::Write;

/// TCP part of a dumped connection (OVS `struct ct_dpif_protoinfo`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcpProtoInfo {
    /// State of the originating peer.
    pub state_orig: TcpState,
    /// State of the replying peer.
    pub state_reply: TcpState,
    /// Window scale shift of the originating peer.
    pub wscale_orig: u8,
    /// Window scale shift of the replying peer.
    pub wscale_reply: u8,
    /// `CT_DPIF_TCPF_*` flags of the originating peer.
    pub flags_orig: u8,
    /// `CT_DPIF_TCPF_*` flags of the replying peer.
    pub flags_reply: u8,
}

/// One dumped connection (OVS `struct ct_dpif_entry`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CtEntry {
    /// Original-direction tuple (as the first packet carried it).
    pub orig: ConnKey,
    /// Reply-direction tuple (as replies carry it, i.e. after NAT).
    pub reply: ConnKey,
    /// Zone.
    pub zone: u16,
    /// `ct_mark`.
    pub mark: u32,
    /// `ct_label`.
    pub label: u128,
    /// TCP state, for TCP connections.
    pub tcp: Option<TcpProtoInfo>,
    /// Seconds until expiry (truncated).
    pub timeout: u32,
    /// Connection id (unique while the tracker lives).
    pub id: u32,
    /// Table bucket (shard) of the original tuple, for `ct-bkts`.
    pub bucket: usize,
    /// Packets seen in the original (0) and reply (1) direction.
    pub packets: [u64; 2],
    /// Bytes (whole frames) seen in the original (0) and reply (1) direction.
    pub bytes: [u64; 2],
    /// ALG of the connection (`helper=ftp`).
    pub helper: Option<&'static str>,
    /// For a data connection of an ALG: the parent's original tuple.
    pub parent: Option<ConnKey>,
}

/// Protocol name as OVS prints it (`ct_dpif_format_ipproto`), or the number.
pub fn ipproto_name(p: u8) -> String {
    match p {
        ipproto::ICMP => "icmp".into(),
        ipproto::ICMPV6 => "icmpv6".into(),
        ipproto::TCP => "tcp".into(),
        ipproto::UDP => "udp".into(),
        ipproto::SCTP => "sctp".into(),
        ipproto::UDPLITE => "udplite".into(),
        ipproto::DCCP => "dccp".into(),
        ipproto::IGMP => "igmp".into(),
        p => p.to_string(),
    }
}

/// `src=A,dst=B,sport=P,dport=Q` or, for ICMP, `src=A,dst=B,id=I,type=T,code=C`
/// (`ct_dpif_format_tuple`). IPv6 addresses in RFC 5952 form.
pub fn format_tuple(k: &ConnKey) -> String {
    let mut s = format!("src={},dst={}", k.src_ip(), k.dst_ip());
    if is_icmp(k.proto) {
        let _ = write!(
            s,
            ",id={},type={},code={}",
            k.sport, k.icmp_type, k.icmp_code
        );
    } else {
        let _ = write!(s, ",sport={},dport={}", k.sport, k.dport);
    }
    s
}

fn format_counters(s: &mut String, packets: u64, bytes: u64) {
    if packets != 0 || bytes != 0 {
        let _ = write!(s, ",packets={packets},bytes={bytes}");
    }
}

/// OVS `coalesce_tcp_state`: the non-verbose view folds FIN_WAIT_2 into
/// TIME_WAIT and SYN_RECV into ESTABLISHED.
pub fn coalesce_tcp_state(s: TcpState) -> TcpState {
    match s {
        TcpState::FinWait2 => TcpState::TimeWait,
        TcpState::SynRecv => TcpState::Established,
        s => s,
    }
}

fn tcp_flag_names(f: u8) -> String {
    const NAMES: [&str; 6] = [
        "WINDOW_SCALE",
        "SACK_PERM",
        "CLOSE_INIT",
        "BE_LIBERAL",
        "DATA_UNACKNOWLEDGED",
        "MAXACK_SET",
    ];
    if f == 0 {
        return "0".into();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut bad = 0u32;
    for bit in 0..8 {
        if f & (1 << bit) != 0 {
            match NAMES.get(bit) {
                Some(n) => parts.push((*n).into()),
                None => bad |= 1 << bit,
            }
        }
    }
    if bad != 0 {
        parts.push(format!("{bad:#x}"));
    }
    parts.join("|")
}

/// One line of `dpctl/dump-conntrack` (without the newline), exactly as
/// OVS's `ct_dpif_format_entry`: `verbose` is `-m`, `stats` is `-s`
/// (counters when non-zero, and `timeout=`).
///
/// Example: `tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),zone=1,mark=5,protoinfo=(state=ESTABLISHED)`.
pub fn format_entry(e: &CtEntry, verbose: bool, stats: bool) -> String {
    let mut s = ipproto_name(e.orig.proto);
    s.push_str(",orig=(");
    s.push_str(&format_tuple(&e.orig));
    if stats {
        format_counters(&mut s, e.packets[0], e.bytes[0]);
    }
    s.push_str("),reply=(");
    s.push_str(&format_tuple(&e.reply));
    if stats {
        format_counters(&mut s, e.packets[1], e.bytes[1]);
    }
    s.push(')');
    if verbose {
        let _ = write!(s, ",id={}", e.id);
    }
    if e.zone != 0 {
        let _ = write!(s, ",zone={}", e.zone);
    }
    if verbose {
        // The userspace tracker reports no netfilter status bits.
        s.push_str(",status=0");
    }
    if stats {
        let _ = write!(s, ",timeout={}", e.timeout);
    }
    if e.mark != 0 {
        let _ = write!(s, ",mark={}", e.mark);
    }
    if e.label != 0 {
        let _ = write!(s, ",labels={:#x}", e.label);
    }
    if let Some(t) = &e.tcp {
        s.push_str(",protoinfo=(");
        if verbose {
            let _ = write!(
                s,
                "state_orig={},state_reply={}",
                t.state_orig.name(),
                t.state_reply.name()
            );
            if t.wscale_orig != 0 || t.wscale_reply != 0 {
                let _ = write!(
                    s,
                    ",wscale_orig={},wscale_reply={}",
                    t.wscale_orig, t.wscale_reply
                );
            }
            let _ = write!(
                s,
                ",flags_orig={},flags_reply={}",
                tcp_flag_names(t.flags_orig),
                tcp_flag_names(t.flags_reply)
            );
        } else {
            let st = coalesce_tcp_state(t.state_orig.max(t.state_reply));
            let _ = write!(s, "state={}", st.name());
        }
        s.push(')');
    }
    if let Some(h) = e.helper {
        let _ = write!(s, ",helper={h}");
    }
    if verbose {
        if let Some(p) = &e.parent {
            let _ = write!(s, ",parent=({})", format_tuple(p));
        }
    }
    s
}

/// `dpctl/dump-conntrack` output: one line per entry, each ending in `\n`.
pub fn format_dump(entries: &[CtEntry], verbose: bool, stats: bool) -> String {
    let mut s = String::new();
    for e in entries {
        s.push_str(&format_entry(e, verbose, stats));
        s.push('\n');
    }
    s
}

/// `dpctl/ct-stats-show [verbose]` (`dpctl_ct_stats_show`): totals per
/// protocol; with `verbose`, TCP connections per (coalesced) state. As in
/// OVS, ICMPv6 connections count in the total but get no line of their own.
pub fn format_stats(entries: &[CtEntry], verbose: bool) -> String {
    let (mut tcp, mut udp, mut udplite, mut sctp, mut icmp, mut dccp, mut igmp, mut other) =
        (0, 0, 0, 0, 0, 0, 0, 0);
    let mut per_state = [0u32; 11];
    for e in entries {
        match e.orig.proto {
            ipproto::ICMP => icmp += 1,
            ipproto::ICMPV6 => {}
            ipproto::TCP => {
                tcp += 1;
                if let Some(t) = &e.tcp {
                    per_state[coalesce_tcp_state(t.state_orig.max(t.state_reply)) as usize] += 1;
                }
            }
            ipproto::UDP => udp += 1,
            ipproto::SCTP => sctp += 1,
            ipproto::UDPLITE => udplite += 1,
            ipproto::DCCP => dccp += 1,
            ipproto::IGMP => igmp += 1,
            _ => other += 1,
        }
    }
    let mut s = format!("Connections Stats:\n    Total: {}\n", entries.len());
    if tcp != 0 {
        let _ = writeln!(s, "  TCP: {tcp}");
        if verbose {
            s.push_str("    Conn per TCP states:\n");
            for (i, n) in per_state.iter().enumerate() {
                if *n != 0 {
                    let _ = writeln!(s, "\t  [{}]={}", crate::tcp::TCP_STATE_NAMES[i], n);
                }
            }
        }
    }
    for (name, n) in [
        ("UDP", udp),
        ("UDPLITE", udplite),
        ("SCTP", sctp),
        ("ICMP", icmp),
        ("DCCP", dccp),
        ("IGMP", igmp),
        ("Other", other),
    ] {
        if n != 0 {
            let _ = writeln!(s, "  {name}: {n}");
        }
    }
    s
}

/// `dpctl/ct-bkts [gt=N]` (`dpctl_ct_bkts`): connections per bucket, 8 per
/// row, `.` for buckets with at most `gt` connections. Our buckets are the
/// table shards.
pub fn format_bkts(entries: &[CtEntry], n_buckets: usize, gt: u16) -> String {
    let mut s = format!("Total Buckets: {n_buckets}\n");
    let mut per = vec![0u32; n_buckets];
    for e in entries {
        if e.bucket < n_buckets {
            per[e.bucket] += 1;
        } else {
            let _ = writeln!(s, "Bucket nr out of range: {} >= {}", e.bucket, n_buckets);
        }
    }
    let _ = writeln!(s, "Current Connections: {}", entries.len());
    s.push('\n');
    if n_buckets != 0 && !entries.is_empty() {
        s.push_str("+-----------+-----------------------------------------+\n");
        s.push_str("|  Buckets  |         Connections per Buckets         |\n");
        s.push_str("+-----------+-----------------------------------------+");
        for (i, n) in per.iter().enumerate() {
            if i % 8 == 0 {
                let _ = write!(s, "\n {:3}..{:3}   | ", i, i + 7);
            }
            if *n > gt as u32 {
                let _ = write!(s, "{n:5}");
            } else {
                let _ = write!(s, "{:>5}", ".");
            }
        }
        s.push_str("\n\n");
    }
    s
}

/// `dpctl/ct-get-maxconns` and `dpctl/ct-get-nconns` output: the number and
/// a newline.
pub fn format_count(n: u32) -> String {
    format!("{n}\n")
}

/// `dpctl/ct-set-maxconns` success message (OVS prints no newline).
pub const SET_MAXCONNS_OK: &str = "setting maxconns successful";

/// `dpctl/ipf-get-status [-m]` (OVS 3.1 `dpctl_ct_ipf_get_status`): the
/// status block, then with `verbose` the held fragment lists.
pub fn format_ipf_status(st: &crate::IpfStatus, verbose: bool) -> String {
    let mut s = String::new();
    s.push_str("        Fragmentation Module Status\n");
    s.push_str("        ---------------------------\n");
    let _ = writeln!(s, "        v4 enabled: {}", st.v4.enabled as u8);
    let _ = writeln!(s, "        v6 enabled: {}", st.v6.enabled as u8);
    let _ = writeln!(s, "        max num frags (v4/v6): {}", st.nfrag_max);
    let _ = writeln!(s, "        num frag: {}", st.nfrag);
    for (name, p) in [("v4", &st.v4), ("v6", &st.v6)] {
        let _ = writeln!(s, "        min {name} frag size: {}", p.min_frag_size);
        let _ = writeln!(s, "        {name} frags accepted: {}", p.nfrag_accepted);
        let _ = writeln!(
            s,
            "        {name} frags completed: {}",
            p.nfrag_completed_sent
        );
        let _ = writeln!(s, "        {name} frags expired: {}", p.nfrag_expired_sent);
        let _ = writeln!(s, "        {name} frags too small: {}", p.nfrag_too_small);
        let _ = writeln!(s, "        {name} frags overlapped: {}", p.nfrag_overlap);
        let _ = writeln!(s, "        {name} frags purged: {}", p.nfrag_purged);
    }
    if verbose {
        s.push_str("\n        Fragment Lists:\n\n");
        for l in &st.lists {
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

/// `dpctl/ct-get-limits` (`ct_dpif_format_zone_limits` + newline):
/// `default limit=N` then `zone=Z,limit=L,count=C` per zone.
pub fn format_limits(default_limit: u32, zones: &[(u16, u32, u32)]) -> String {
    let mut s = format!("default limit={default_limit}");
    for (z, l, c) in zones {
        let _ = write!(s, "\nzone={z},limit={l},count={c}");
    }
    s.push('\n');
    s
}
