//! A parser for the common OpenFlow actions in `ovs-actions(7)` /
//! `ovs-ofctl(8)` text syntax, for `ovs-appctl ofproto/trace-packet-out`
//! (OVS parses those with `ofpacts_parse_actions()`, `lib/ofp-actions.c`).
//!
//! Accepted (names case-insensitive where OVS's are):
//! - `drop` (alone) or an empty list;
//! - `output:PORT`, a bare `PORT`, and the reserved ports `NORMAL`,
//!   `FLOOD`, `ALL`, `LOCAL`, `IN_PORT`, `TABLE`, `CONTROLLER`; PORT is a
//!   number or one of those names;
//! - `controller`, `controller:MAX_LEN`, `controller(max_len=N,reason=R,id=I)`
//!   (R: `action`, `no_match`, `invalid_ttl`);
//! - `resubmit:PORT`, `resubmit(PORT,TABLE)` and `resubmit(PORT,TABLE,ct)`
//!   (either may be empty);
//! - `set_field:VALUE->FIELD`, `load:VALUE->FIELD` (whole field only) for
//!   `eth_src`/`dl_src`, `eth_dst`/`dl_dst`, `ip_src`/`nw_src`,
//!   `ip_dst`/`nw_dst`, `ipv6_src`, `ipv6_dst`, `tcp_src`, `tcp_dst`,
//!   `udp_src`, `udp_dst`, `nw_ttl`, `reg0`..`reg15`, `xreg0`..`xreg7`,
//!   `metadata`, `tun_id`, `pkt_mark` (and the `NXM_OF_*`/`NXM_NX_*` names
//!   of the same fields are not accepted);
//! - `mod_dl_src:MAC`, `mod_dl_dst:MAC`, `mod_nw_src:IP`, `mod_nw_dst:IP`,
//!   `mod_tp_src:N`, `mod_tp_dst:N`, `mod_vlan_vid:N`, `mod_vlan_pcp:N`,
//!   `strip_vlan`, `pop_vlan`, `push_vlan:ETHERTYPE`, `dec_ttl`,
//!   `set_queue:N`, `pop_queue`, `group:N`, `exit`, `ct_clear`;
//! - `ct(commit,force,zone=N,table=N,nat)` (immediate zone only).
//!
//! Anything else is an error naming the action, never a panic. Numbers are
//! decimal or `0x` hexadecimal, as in OVS.

use crate::ofp::actions::{
    Action, OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use crate::ofp::nx_actions::{Ct, Nat};
use crate::ofp::oxm::{Field, MatchField};

/// Parses `s` (the ACTIONS argument) into actions; `Err` says which
/// action or value could not be parsed.
pub fn parse_actions(s: &str) -> Result<Vec<Action>, String> {
    let s = s.trim();
    let s = s.strip_prefix("actions=").unwrap_or(s);
    let parts = split_top(s)?;
    if parts.len() == 1 && parts[0].eq_ignore_ascii_case("drop") {
        return Ok(Vec::new());
    }
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| parse_one(p))
        .collect()
}

/// Splits at commas outside parentheses.
fn split_top(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("{s}: unbalanced parentheses"));
                }
            }
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if depth != 0 {
        return Err(format!("{s}: unbalanced parentheses"));
    }
    out.push(cur.trim().to_string());
    Ok(out)
}

fn num<T: TryFrom<u128>>(s: &str) -> Result<T, String> {
    let s = s.trim();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u128::from_str_radix(h, 16),
        None => s.parse::<u128>(),
    }
    .map_err(|_| format!("{s}: invalid number"))?;
    T::try_from(v).map_err(|_| format!("{s}: value out of range"))
}

/// A port: number or reserved name (OVS `ofputil_port_from_string()`).
fn port(s: &str) -> Result<u32, String> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "NORMAL" => OFPP_NORMAL,
        "FLOOD" => OFPP_FLOOD,
        "ALL" => OFPP_ALL,
        "LOCAL" => OFPP_LOCAL,
        "IN_PORT" => OFPP_IN_PORT,
        "TABLE" => OFPP_TABLE,
        "CONTROLLER" => OFPP_CONTROLLER,
        _ => num::<u32>(s).map_err(|_| format!("{s}: unknown port"))?,
    })
}

fn mac(s: &str) -> Result<[u8; 6], String> {
    let v: Vec<&str> = s.split(':').collect();
    if v.len() != 6 {
        return Err(format!("{s}: invalid Ethernet address"));
    }
    let mut m = [0u8; 6];
    for (i, x) in v.iter().enumerate() {
        m[i] = u8::from_str_radix(x, 16).map_err(|_| format!("{s}: invalid Ethernet address"))?;
    }
    Ok(m)
}

fn ipv4(s: &str) -> Result<u32, String> {
    s.parse::<std::net::Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("{s}: invalid IP address"))
}

/// A whole-field `set_field`/`load` destination: the field and its width
/// in bytes.
fn field(name: &str) -> Result<(Field, usize), String> {
    use Field::*;
    let n = name.trim().to_ascii_lowercase();
    let f = match n.as_str() {
        "eth_src" | "dl_src" => (EthSrc, 6),
        "eth_dst" | "dl_dst" => (EthDst, 6),
        "ip_src" | "nw_src" => (Ipv4Src, 4),
        "ip_dst" | "nw_dst" => (Ipv4Dst, 4),
        "ipv6_src" => (Ipv6Src, 16),
        "ipv6_dst" => (Ipv6Dst, 16),
        "tcp_src" => (TcpSrc, 2),
        "tcp_dst" => (TcpDst, 2),
        "udp_src" => (UdpSrc, 2),
        "udp_dst" => (UdpDst, 2),
        "nw_ttl" => (IpTtl, 1),
        "metadata" => (Metadata, 8),
        "tun_id" => (TunnelId, 8),
        "pkt_mark" => (PktMark, 4),
        _ => {
            if let Some(i) = n.strip_prefix("xreg").and_then(|i| i.parse::<u8>().ok()) {
                if i < 8 {
                    return Ok((XReg(i), 8));
                }
            }
            if let Some(i) = n.strip_prefix("reg").and_then(|i| i.parse::<u8>().ok()) {
                if i < 16 {
                    return Ok((Reg(i), 4));
                }
            }
            return Err(format!("{name}: unknown or unsupported field"));
        }
    };
    Ok(f)
}

fn field_value(f: Field, width: usize, v: &str) -> Result<Vec<u8>, String> {
    use Field::*;
    Ok(match f {
        EthSrc | EthDst => mac(v)?.to_vec(),
        Ipv4Src | Ipv4Dst => ipv4(v)?.to_be_bytes().to_vec(),
        Ipv6Src | Ipv6Dst => v
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{v}: invalid IPv6 address"))?
            .octets()
            .to_vec(),
        _ => {
            let n: u128 = num(v)?;
            if width < 16 && n >> (width * 8) != 0 {
                return Err(format!("{v}: value too large for the field"));
            }
            n.to_be_bytes()[16 - width..].to_vec()
        }
    })
}

fn set_field(arg: &str) -> Result<Action, String> {
    let (v, dst) = arg
        .split_once("->")
        .ok_or_else(|| format!("{arg}: missing `->`"))?;
    let (f, w) = field(dst)?;
    let value = field_value(f, w, v.trim())?;
    let mf = MatchField::new(f, &value, None, false)
        .ok_or_else(|| format!("{dst}: field cannot be set"))?;
    Ok(Action::SetField(mf))
}

fn controller(arg: Option<&str>) -> Result<Action, String> {
    let (mut max_len, mut reason, mut id) = (u16::MAX, 1u8, 0u16);
    match arg {
        None => {}
        Some(a) if !a.contains('=') => max_len = num(a)?,
        Some(a) => {
            for kv in split_top(a)? {
                let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
                match k {
                    "max_len" => max_len = num(v)?,
                    "id" => id = num(v)?,
                    "reason" => {
                        reason = match v {
                            "no_match" => 0,
                            "action" => 1,
                            "invalid_ttl" => 2,
                            _ => return Err(format!("{v}: unknown controller reason")),
                        }
                    }
                    _ => return Err(format!("controller: unsupported argument {k}")),
                }
            }
        }
    }
    Ok(Action::Controller {
        max_len,
        controller_id: id,
        reason,
    })
}

fn resubmit(arg: &str, paren: bool) -> Result<Action, String> {
    let v: Vec<&str> = if paren {
        arg.split(',').map(str::trim).collect()
    } else {
        vec![arg.trim()]
    };
    if v.is_empty() || v.len() > 3 || (v.len() == 3 && v[2] != "ct") {
        return Err(format!("resubmit({arg}): bad arguments"));
    }
    let in_port = if v[0].is_empty() {
        0xfff8
    } else {
        crate::ofp::actions::port_to_of10(port(v[0])?)
    };
    let table = match v.get(1) {
        Some(t) if !t.is_empty() => num(t)?,
        _ => 255,
    };
    if in_port == 0xfff8 && table == 255 {
        return Err("resubmit: at least one of port and table is required".into());
    }
    Ok(Action::Resubmit {
        in_port,
        table,
        ct: v.len() == 3,
        short: false,
    })
}

fn ct(arg: &str) -> Result<Action, String> {
    let mut c = Ct {
        flags: 0,
        zone_src: 0,
        zone: 0,
        recirc_table: 255,
        alg: 0,
        actions: Vec::new(),
    };
    for kv in split_top(arg)? {
        let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
        match k {
            "" => {}
            "commit" => c.flags |= 1,
            "force" => c.flags |= 2,
            "zone" => c.zone = num(v)?,
            "table" => c.recirc_table = num(v)?,
            "nat" => c.actions.push(Action::Nat(Nat::default())),
            _ => return Err(format!("ct: unsupported argument {k}")),
        }
    }
    Ok(Action::Ct(Box::new(c)))
}

fn parse_one(a: &str) -> Result<Action, String> {
    // NAME(ARGS), NAME:ARG or NAME.
    let (name, arg, paren) = if let Some(i) = a.find('(') {
        if !a.ends_with(')') {
            return Err(format!("{a}: unbalanced parentheses"));
        }
        (&a[..i], Some(&a[i + 1..a.len() - 1]), true)
    } else if let Some((n, v)) = a.split_once(':') {
        (n, Some(v), false)
    } else {
        (a, None, false)
    };
    let lname = name.trim().to_ascii_lowercase();
    let need = || arg.ok_or_else(|| format!("{name}: argument required"));
    Ok(match lname.as_str() {
        "output" => Action::Output {
            port: port(need()?)?,
            max_len: 0,
        },
        "controller" => controller(arg)?,
        "resubmit" => resubmit(need()?, paren)?,
        "set_field" | "load" => set_field(need()?)?,
        "mod_dl_src" => Action::SetDlSrc(mac(need()?)?),
        "mod_dl_dst" => Action::SetDlDst(mac(need()?)?),
        "mod_nw_src" => Action::SetNwSrc(ipv4(need()?)?),
        "mod_nw_dst" => Action::SetNwDst(ipv4(need()?)?),
        "mod_tp_src" => Action::SetTpSrc(num(need()?)?),
        "mod_tp_dst" => Action::SetTpDst(num(need()?)?),
        "mod_vlan_vid" => Action::SetVlanVid(num(need()?)?),
        "mod_vlan_pcp" => Action::SetVlanPcp(num(need()?)?),
        "strip_vlan" => Action::StripVlan,
        "pop_vlan" => Action::PopVlan,
        "push_vlan" => Action::PushVlan(num(need()?)?),
        "dec_ttl" if arg.is_none() => Action::DecNwTtl,
        "set_queue" => Action::SetQueue(num(need()?)?),
        "pop_queue" => Action::PopQueue,
        "group" => Action::Group(num(need()?)?),
        "exit" => Action::Exit,
        "ct_clear" => Action::CtClear,
        "ct" => ct(arg.unwrap_or(""))?,
        _ if arg.is_none() => Action::Output {
            port: port(name).map_err(|_| {
                format!("unknown action {name} (rvs parses only the common actions)")
            })?,
            max_len: 0,
        },
        _ => {
            return Err(format!(
                "unknown action {name} (rvs parses only the common actions)"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_actions() {
        let a = parse_actions(
            "mod_dl_src:02:00:00:00:00:09,set_field:10.0.0.9->nw_dst,load:0x5->reg3,\
             push_vlan:0x8100,resubmit(,2),ct(commit,zone=5,table=3),output:2,NORMAL,3",
        )
        .unwrap();
        assert_eq!(a.len(), 9);
        assert_eq!(a[0], Action::SetDlSrc([2, 0, 0, 0, 0, 9]));
        match &a[1] {
            Action::SetField(mf) => {
                assert_eq!(mf.field, Field::Ipv4Dst);
                assert_eq!(mf.value, vec![10, 0, 0, 9]);
            }
            x => panic!("{x:?}"),
        }
        assert!(matches!(&a[2], Action::SetField(mf) if mf.value == vec![0, 0, 0, 5]));
        assert_eq!(a[3], Action::PushVlan(0x8100));
        assert!(matches!(
            a[4],
            Action::Resubmit {
                in_port: 0xfff8,
                table: 2,
                ..
            }
        ));
        assert!(
            matches!(&a[5], Action::Ct(c) if c.flags == 1 && c.zone == 5 && c.recirc_table == 3)
        );
        assert_eq!(
            a[6..],
            [
                Action::Output {
                    port: 2,
                    max_len: 0
                },
                Action::Output {
                    port: OFPP_NORMAL,
                    max_len: 0
                },
                Action::Output {
                    port: 3,
                    max_len: 0
                }
            ]
        );
        assert_eq!(parse_actions("drop").unwrap(), vec![]);
        assert!(matches!(
            parse_actions("controller(reason=no_match,max_len=64)").unwrap()[0],
            Action::Controller {
                max_len: 64,
                reason: 0,
                ..
            }
        ));
    }

    #[test]
    fn errors_are_values() {
        for bad in [
            "learn(table=1)",
            "output:",
            "output:bogus",
            "mod_dl_src:1:2",
            "set_field:1->nosuch",
            "set_field:0x1ffff->tcp_src",
            "ct(commit",
            "resubmit(,)",
            "enqueue(1,2)",
        ] {
            assert!(parse_actions(bad).is_err(), "{bad}");
        }
    }
}
