//! Best-effort text forms in `ovs-ofctl`'s style (`ovs-fields(7)`,
//! `ovs-actions(7)`) for traces and `bridge/dump-flows`.

use crate::ofp::actions::{
    Action, OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use crate::ofp::instructions::Instruction;
use crate::ofp::oxm::Field;
use crate::table::key::{match_to_oxm, XKey};
use dp_core::actions::OdpAction;

/// An OpenFlow port number as `ovs-ofctl` prints it.
pub fn port_name(p: u32) -> String {
    match p {
        OFPP_IN_PORT => "IN_PORT".into(),
        OFPP_TABLE => "TABLE".into(),
        OFPP_NORMAL => "NORMAL".into(),
        OFPP_FLOOD => "FLOOD".into(),
        OFPP_ALL => "ALL".into(),
        OFPP_CONTROLLER => "CONTROLLER".into(),
        OFPP_LOCAL | 0xfffe => "LOCAL".into(),
        p => p.to_string(),
    }
}

fn field_name(f: Field) -> String {
    use Field::*;
    match f {
        InPort => "in_port".into(),
        EthSrc => "dl_src".into(),
        EthDst => "dl_dst".into(),
        EthType => "dl_type".into(),
        VlanTci => "vlan_tci".into(),
        VlanVid => "dl_vlan".into(),
        VlanPcp => "dl_vlan_pcp".into(),
        Ipv4Src => "nw_src".into(),
        Ipv4Dst => "nw_dst".into(),
        IpProto => "nw_proto".into(),
        IpDscp | NwTos => "nw_tos".into(),
        IpEcn => "nw_ecn".into(),
        IpTtl => "nw_ttl".into(),
        IpFrag => "nw_frag".into(),
        TcpSrc | UdpSrc | SctpSrc => "tp_src".into(),
        TcpDst | UdpDst | SctpDst => "tp_dst".into(),
        Icmpv4Type | Icmpv6Type => "icmp_type".into(),
        Icmpv4Code | Icmpv6Code => "icmp_code".into(),
        ArpSpa => "arp_spa".into(),
        ArpTpa => "arp_tpa".into(),
        ArpOp => "arp_op".into(),
        ArpSha => "arp_sha".into(),
        ArpTha => "arp_tha".into(),
        Ipv6Src => "ipv6_src".into(),
        Ipv6Dst => "ipv6_dst".into(),
        CtState => "ct_state".into(),
        CtZone => "ct_zone".into(),
        CtMark => "ct_mark".into(),
        CtLabel => "ct_label".into(),
        Reg(n) => format!("reg{n}"),
        XReg(n) => format!("xreg{n}"),
        Metadata => "metadata".into(),
        TunnelId => "tun_id".into(),
        PktMark => "pkt_mark".into(),
        RecircId => "recirc_id".into(),
        ConjId => "conj_id".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn ct_state(v: u64, m: u64) -> String {
    const NAMES: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];
    let mut s = String::new();
    for (i, n) in NAMES.iter().enumerate() {
        if m & (1 << i) != 0 {
            s.push(if v & (1 << i) != 0 { '+' } else { '-' });
            s.push_str(n);
        }
    }
    s
}

fn value_text(f: Field, b: &[u8]) -> String {
    use Field::*;
    match f {
        EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa | CtNwSrc | CtNwDst if b.len() == 4 => {
            format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
        }
        Ipv6Src | Ipv6Dst if b.len() == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        InPort => {
            let v = b.iter().fold(0u32, |a, &x| a << 8 | x as u32);
            port_name(if b.len() == 2 {
                crate::ofp::actions::port_from_of10(v as u16)
            } else {
                v
            })
        }
        EthType | VlanTci | Metadata | Reg(_) | XReg(_) | CtMark | CtLabel | TunnelId => {
            let v = b.iter().fold(0u128, |a, &x| a << 8 | x as u128);
            format!("{v:#x}")
        }
        _ => b.iter().fold(0u128, |a, &x| a << 8 | x as u128).to_string(),
    }
}

/// A rule's match in `ovs-ofctl` style (`in_port=1,dl_type=0x0800,...`;
/// `ip`/`tcp`/`arp`... shorthands for the common protocol matches).
pub fn format_match(value: &XKey, mask: &XKey) -> String {
    let m = match_to_oxm(value, mask, true);
    let mut parts = Vec::new();
    let et = m.get(Field::EthType).map(|f| f.value_u64());
    let proto = m.get(Field::IpProto).map(|f| f.value_u64());
    let short = match (et, proto) {
        (Some(0x0800), Some(6)) => Some("tcp"),
        (Some(0x0800), Some(17)) => Some("udp"),
        (Some(0x0800), Some(1)) => Some("icmp"),
        (Some(0x0800), None) => Some("ip"),
        (Some(0x0806), _) => Some("arp"),
        (Some(0x86dd), Some(6)) => Some("tcp6"),
        (Some(0x86dd), Some(17)) => Some("udp6"),
        (Some(0x86dd), None) => Some("ipv6"),
        _ => None,
    };
    for f in &m.fields {
        if f.field == Field::CtState {
            let v = f.value_u64();
            let mk = f
                .mask
                .as_deref()
                .map_or(0xff, |b| b.iter().fold(0u64, |a, &x| a << 8 | x as u64));
            parts.push(format!("ct_state={}", ct_state(v, mk)));
        }
    }
    if let Some(s) = short {
        parts.insert(0, s.to_string());
    }
    for f in &m.fields {
        if f.field == Field::CtState {
            continue;
        }
        if short.is_some()
            && (f.field == Field::EthType
                || (f.field == Field::IpProto && !matches!(short, Some("ip" | "ipv6"))))
        {
            continue;
        }
        let mut s = format!("{}={}", field_name(f.field), value_text(f.field, &f.value));
        if let Some(mk) = &f.mask {
            s.push('/');
            s.push_str(&value_text(f.field, mk));
        }
        parts.push(s);
    }
    parts.join(",")
}

/// One action in `ovs-actions(7)` style.
pub fn format_action(a: &Action) -> String {
    match a {
        Action::Output { port, .. } => match *port {
            OFPP_NORMAL | OFPP_FLOOD | OFPP_ALL | OFPP_IN_PORT | OFPP_LOCAL | OFPP_CONTROLLER => {
                port_name(*port)
            }
            p => format!("output:{p}"),
        },
        Action::Resubmit { in_port, table, .. } => {
            let p = if *in_port == 0xfff8 {
                String::new()
            } else {
                port_name(crate::ofp::actions::port_from_of10(*in_port))
            };
            if *table == 255 {
                format!("resubmit:{p}")
            } else {
                format!("resubmit({p},{table})")
            }
        }
        Action::SetField(mf) | Action::RegLoad2(mf) => format!(
            "set_field:{}->{}",
            value_text(mf.field, &mf.value),
            field_name(mf.field)
        ),
        Action::SetDlSrc(m) => format!("mod_dl_src:{}", value_text(Field::EthSrc, m)),
        Action::SetDlDst(m) => format!("mod_dl_dst:{}", value_text(Field::EthDst, m)),
        Action::SetVlanVid(v) => format!("mod_vlan_vid:{v}"),
        Action::SetVlanPcp(v) => format!("mod_vlan_pcp:{v}"),
        Action::StripVlan => "strip_vlan".into(),
        Action::PopVlan => "pop_vlan".into(),
        Action::PushVlan(t) => format!("push_vlan:{t:#06x}"),
        Action::DecNwTtl | Action::DecTtlCntIds(_) => "dec_ttl".into(),
        Action::Ct(ct) => {
            let mut v = Vec::new();
            if ct.flags & 1 != 0 {
                v.push("commit".to_string());
            }
            if ct.zone_src == 0 && ct.zone != 0 {
                v.push(format!("zone={}", ct.zone));
            }
            if ct.recirc_table != 255 {
                v.push(format!("table={}", ct.recirc_table));
            }
            if ct.actions.iter().any(|a| matches!(a, Action::Nat(_))) {
                v.push("nat".into());
            }
            format!("ct({})", v.join(","))
        }
        Action::CtClear => "ct_clear".into(),
        Action::Exit => "exit".into(),
        Action::Controller { .. } | Action::Controller2(_) => "controller".into(),
        Action::Clone(v) => format!(
            "clone({})",
            v.iter().map(format_action).collect::<Vec<_>>().join(",")
        ),
        Action::Note(_) => "note".into(),
        Action::Conjunction {
            clause,
            n_clauses,
            id,
        } => format!("conjunction({id},{}/{n_clauses})", *clause as u32 + 1),
        Action::Learn(l) => format!("learn(table={},priority={})", l.table_id, l.priority),
        Action::CheckPktLarger {
            pkt_len,
            offset,
            dst,
        } => format!(
            "check_pkt_larger({pkt_len})->{}[{offset}]",
            field_name(dst.id.field().0)
        ),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::PopQueue => "pop_queue".into(),
        Action::Enqueue { port, queue_id } => format!("enqueue:{port}:{queue_id}"),
        Action::FinTimeout { idle, hard } => {
            format!("fin_timeout(idle_timeout={idle},hard_timeout={hard})")
        }
        other => format!("{other:?}"),
    }
}

/// A rule's instructions in `ovs-ofctl dump-flows` style.
pub fn format_instructions(ins: &[Instruction]) -> String {
    let mut v = Vec::new();
    for i in ins {
        match i {
            Instruction::ApplyActions(a) => v.extend(a.iter().map(format_action)),
            Instruction::WriteActions(a) => v.push(format!(
                "write_actions({})",
                a.iter().map(format_action).collect::<Vec<_>>().join(",")
            )),
            Instruction::ClearActions => v.push("clear_actions".into()),
            Instruction::WriteMetadata { metadata, mask } => {
                v.push(format!("write_metadata:{metadata:#x}/{mask:#x}"))
            }
            Instruction::GotoTable(t) => v.push(format!("goto_table:{t}")),
            Instruction::Meter(m) => v.push(format!("meter:{m}")),
        }
    }
    if v.is_empty() {
        "drop".into()
    } else {
        v.join(",")
    }
}

/// Datapath actions as `ovs-dpctl` prints them (`drop` when empty).
pub fn format_odp_actions(a: &[OdpAction]) -> String {
    if a.is_empty() {
        "drop".into()
    } else {
        dp_core::odp_text::format_actions(a)
    }
}
