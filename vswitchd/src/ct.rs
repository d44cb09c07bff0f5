//! Connection tracking in the daemon: the datapath's [`Conntrack`], its
//! sweeper thread, zone timeout policies from the database, and the
//! `ovs-appctl dpctl/*` conntrack and fragmentation commands with OVS 3.1's
//! names, arguments, output and error texts (`lib/dpctl.c`,
//! `lib/ct-dpif.c`, `lib/ipf.c`).
//!
//! Threads: PMD threads call the tracker through the datapath; the
//! `ct_clean` thread calls [`Conntrack::sweep`] every
//! [`SWEEP_INTERVAL`] with a bounded budget (shard read locks, so PMDs
//! never wait on it for long); command handlers use the tracker directly,
//! without the switch mutex.

use crate::unixctl::Commands;
use conntrack::format;
use conntrack::{ConnKey, Conntrack, IpfError, TpAttr};
use ofproto::ofp::ct_flush::{CtFlush, CtTuple};
use ovsdb::{Atom, Datum, Replica, Uuid};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the sweeper runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(100);
/// Table entries examined per sweeper step; a full pass over the table
/// takes as many steps (one every [`SWEEP_INTERVAL`]) as it needs.
pub const SWEEP_BUDGET: usize = 20_000;

/// The name of our one datapath, as `dpctl` commands accept it.
pub const DP_NAMES: &[&str] = &["netdev@ovs-netdev", "ovs-netdev"];

/// What command handlers need: the tracker and its clock. Cheap to clone.
#[derive(Clone)]
pub struct CtHandle {
    /// The tracker.
    pub ct: Arc<Conntrack>,
    /// Time base of `now_ns` (started right after the datapath's own, so
    /// our clock never runs ahead of the PMDs': expiry is never early).
    pub clock: Instant,
}

impl CtHandle {
    /// Monotonic ns on the tracker's time base.
    pub fn now_ns(&self) -> u64 {
        self.clock.elapsed().as_nanos() as u64
    }
}

/// The conntrack side of the switch: the tracker, the sweeper thread and the
/// zone timeout policies applied from the database. Dropping it stops the
/// sweeper.
pub struct CtState {
    /// Tracker and clock.
    pub handle: CtHandle,
    stop: Arc<AtomicBool>,
    sweeper: Option<JoinHandle<()>>,
    /// zone -> timeouts applied from `Datapath:netdev` `ct_zones`.
    applied: BTreeMap<u16, Vec<(TpAttr, u32)>>,
}

impl CtState {
    /// Wraps `ct` (already handed to the datapath) and starts the sweeper.
    pub fn start(ct: Arc<Conntrack>) -> CtState {
        let handle = CtHandle {
            ct,
            clock: Instant::now(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let h = handle.clone();
        let st = stop.clone();
        let sweeper = std::thread::Builder::new()
            .name("ct_clean".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    std::thread::sleep(SWEEP_INTERVAL);
                    h.ct.sweep(h.now_ns(), SWEEP_BUDGET);
                }
            })
            .ok();
        CtState {
            handle,
            stop,
            sweeper,
            applied: BTreeMap::new(),
        }
    }

    /// Applies zone timeout policies (`ovs-vsctl add-zone-tp netdev zone=N
    /// udp_first=...`): `Open_vSwitch.datapaths:netdev` -> `Datapath.ct_zones`
    /// -> `CT_Zone.timeout_policy` -> `CT_Timeout_Policy.timeouts`. Zone Z
    /// gets its own policy (id Z + 1); zones that lost theirs go back to the
    /// default. Returns log lines.
    pub fn reconfigure(&mut self, replica: &Replica, root: &Uuid) -> Vec<String> {
        let mut want: BTreeMap<u16, Vec<(TpAttr, u32)>> = BTreeMap::new();
        let dp = replica
            .get("Open_vSwitch", root, "datapaths")
            .and_then(|d| map_get(d, &Atom::from("netdev")))
            .and_then(|a| a.as_uuid());
        let mut log = Vec::new();
        if let Some(dp) = dp {
            if let Some(Datum::Map(zones)) = replica.get("Datapath", &dp, "ct_zones") {
                for (z, zu) in zones {
                    let (Some(z), Some(zu)) = (z.as_integer(), zu.as_uuid()) else {
                        continue;
                    };
                    let Some(tpu) = replica
                        .get("CT_Zone", &zu, "timeout_policy")
                        .and_then(Datum::as_uuid)
                    else {
                        continue;
                    };
                    let mut vals = Vec::new();
                    if let Some(Datum::Map(t)) = replica.get("CT_Timeout_Policy", &tpu, "timeouts")
                    {
                        for (k, v) in t {
                            match (k.as_str().and_then(TpAttr::from_name), v.as_integer()) {
                                (Some(a), Some(v)) => {
                                    vals.push((a, v.clamp(0, u32::MAX as i64) as u32))
                                }
                                _ => log.push(format!("ignoring timeout {k:?}")),
                            }
                        }
                    }
                    want.insert(z as u16, vals);
                }
            }
        }
        if want == self.applied {
            return log;
        }
        let ct = &self.handle.ct;
        for z in self.applied.keys() {
            if !want.contains_key(z) {
                ct.set_zone_timeout_policy(*z, None);
                ct.del_timeout_policy(*z as u32 + 1);
                log.push(format!("zone {z}: default timeout policy"));
            }
        }
        for (z, vals) in &want {
            if self.applied.get(z) != Some(vals) {
                let id = *z as u32 + 1;
                // Replace, so removed keys go back to their defaults.
                ct.del_timeout_policy(id);
                ct.set_timeout_policy(id, vals);
                ct.set_zone_timeout_policy(*z, Some(id));
                log.push(format!("zone {z}: timeout policy {} values", vals.len()));
            }
        }
        self.applied = want;
        log
    }
}

impl Drop for CtState {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.sweeper.take() {
            let _ = j.join();
        }
    }
}

fn map_get<'a>(d: &'a Datum, k: &Atom) -> Option<&'a Atom> {
    match d {
        Datum::Map(m) => m.get(k),
        _ => None,
    }
}

/// The tables the IDL must monitor for zone timeout policies.
pub const MONITORED_TABLES: &[&str] = &["Datapath", "CT_Zone", "CT_Timeout_Policy"];

// ---------------------------------------------------------------------------
// Commands.

/// `dpctl_error`: `ovs-vswitchd: MSG (STRERROR)\n`.
fn dpctl_error(msg: &str, errno_text: Option<&str>) -> String {
    match errno_text {
        Some(e) => format!("ovs-vswitchd: {msg} ({e})\n"),
        None => format!("ovs-vswitchd: {msg}\n"),
    }
}

const EINVAL: &str = "Invalid argument";

/// Options of the dpctl unixctl handler (`-m`, `-s`, `--more`,
/// `--statistics`, ...), then the remaining arguments (argv without the
/// command name).
struct Opts {
    verbosity: u32,
    stats: bool,
    args: Vec<String>,
}

fn parse_opts(a: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        verbosity: 0,
        stats: false,
        args: Vec::new(),
    };
    let mut i = 0;
    while i < a.len() {
        let arg = &a[i];
        if let Some(long) = arg.strip_prefix("--") {
            match long {
                "statistics" => o.stats = true,
                "more" => o.verbosity += 1,
                "clear" | "may-create" | "names" | "no-names" => {}
                _ => return Err(format!("Unrecognized option {arg}")),
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            for c in arg[1..].chars() {
                match c {
                    'm' => o.verbosity += 1,
                    's' => o.stats = true,
                    _ => return Err(format!("Unrecognized option -{c}")),
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    o.args = a[i..].to_vec();
    Ok(o)
}

/// OVS `opt_dpif_open`: `argv` includes the command name (as in C);
/// `Ok(true)` if `argv[1]` is the datapath.
fn dp_open(argv: &[String], max_args: usize) -> Result<bool, String> {
    if argv.len() > 1 && DP_NAMES.contains(&argv[1].as_str()) {
        Ok(true)
    } else if argv.len() != max_args {
        Ok(false)
    } else {
        Err(dpctl_error("datapath not found", Some(EINVAL)))
    }
}

fn argv(name: &str, args: &[String]) -> Vec<String> {
    let mut v = vec![name.to_string()];
    v.extend(args.iter().cloned());
    v
}

fn scan_u32(s: &str) -> Option<u32> {
    let t: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    t.parse().ok()
}

fn scan_u16_after(s: &str, pfx: &str) -> Option<u16> {
    s.strip_prefix(pfx).and_then(|r| {
        let t: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        t.parse().ok()
    })
}

/// OVS `ct_dpif_parse_tuple` (`ct_nw_src=..,ct_nw_dst=..,ct_nw_proto=..,
/// ct_tp_src=..,ct_tp_dst=..`, `ct_ipv6_src`/`ct_ipv6_dst`, `icmp_id`,
/// `icmp_type`, `icmp_code`).
pub fn parse_ct_tuple(s: &str) -> Result<ConnKey, String> {
    let mut src: Option<IpAddr> = None;
    let mut dst: Option<IpAddr> = None;
    let (mut proto, mut sp, mut dp, mut ity, mut icode, mut iid) =
        (0u8, 0u16, 0u16, 0u8, 0u8, 0u16);
    for kv in s.split(',').filter(|x| !x.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if v.is_empty() {
            return Err(format!("field {k} missing value"));
        }
        let bad = || format!("failed to parse field {k}");
        match k {
            "ct_nw_src" | "ct_nw_dst" => {
                let a: std::net::Ipv4Addr = v.parse().map_err(|_| bad())?;
                if k == "ct_nw_src" {
                    src = Some(a.into())
                } else {
                    dst = Some(a.into())
                }
            }
            "ct_ipv6_src" | "ct_ipv6_dst" => {
                let a: std::net::Ipv6Addr = v.parse().map_err(|_| bad())?;
                if k == "ct_ipv6_src" {
                    src = Some(a.into())
                } else {
                    dst = Some(a.into())
                }
            }
            "ct_nw_proto" => proto = v.parse().map_err(|_| bad())?,
            "ct_tp_src" => sp = v.parse().map_err(|_| bad())?,
            "ct_tp_dst" => dp = v.parse().map_err(|_| bad())?,
            "icmp_type" => ity = v.parse().map_err(|_| bad())?,
            "icmp_code" => icode = v.parse().map_err(|_| bad())?,
            "icmp_id" => iid = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("invalid conntrack tuple field: {k}")),
        }
    }
    let icmp = proto == 1 || proto == 58;
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err("at least one of the conntrack 5-tuple fields is missing.".into());
    };
    if proto == 0 || (!icmp && (sp == 0 || dp == 0)) {
        return Err("at least one of the conntrack 5-tuple fields is missing.".into());
    }
    let (sp, dp) = if icmp { (iid, iid) } else { (sp, dp) };
    ConnKey::new(0, proto, src, dst, sp, dp, ity, icode)
        .ok_or_else(|| "L3 type set multiple times".to_string())
}

/// The address of a conntrack key as NXT_CT_FLUSH spells it: IPv6, IPv4
/// as IPv4-mapped (`::ffff:a.b.c.d`).
fn mapped(a: u128, v6: bool) -> std::net::Ipv6Addr {
    if v6 {
        a.into()
    } else {
        std::net::Ipv4Addr::from(a as u32).to_ipv6_mapped()
    }
}

/// Whether conntrack tuple `k` matches the partial tuple `m` (OVS 3.1
/// `ofp_ct_tuple_cmp()`): every field `m` sets must be equal; ICMP
/// connections compare id, type and code, others the ports.
fn tuple_matches(m: &CtTuple, k: &ConnKey) -> bool {
    let icmp = k.proto == 1 || k.proto == 58;
    m.src.map_or(true, |a| a == mapped(k.src, k.v6))
        && m.dst.map_or(true, |a| a == mapped(k.dst, k.v6))
        && if icmp {
            m.icmp_id.map_or(true, |x| x == k.sport)
                && m.icmp_type.map_or(true, |x| x == k.icmp_type)
                && m.icmp_code.map_or(true, |x| x == k.icmp_code)
        } else {
            m.src_port.map_or(true, |x| x == k.sport) && m.dst_port.map_or(true, |x| x == k.dport)
        }
}

/// The complete original tuple of `f` as a conntrack key, if it has one
/// (OVS `ofp_ct_match_is_five_tuple()`).
fn five_tuple(f: &CtFlush) -> Option<ConnKey> {
    let t = &f.orig;
    if !f.reply.is_empty() || f.ip_proto == 0 {
        return None;
    }
    let ip = |a: std::net::Ipv6Addr| match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    };
    let (src, dst) = (ip(t.src?), ip(t.dst?));
    if f.ip_proto == 1 || f.ip_proto == 58 {
        let id = t.icmp_id?;
        ConnKey::new(0, f.ip_proto, src, dst, id, id, t.icmp_type?, t.icmp_code?)
    } else {
        ConnKey::new(0, f.ip_proto, src, dst, t.src_port?, t.dst_port?, 0, 0)
    }
}

/// NXT_CT_FLUSH_ZONE and NXT_CT_FLUSH (OVS `handle_nxt_ct_flush_zone()`,
/// `handle_nxt_ct_flush()` -> `ct_dpif_flush()`): without a filter every
/// connection of the zone (all zones if none is given) goes, as with
/// `dpctl/flush-conntrack [zone=N]`; a complete original 5-tuple deletes
/// that connection of the zone (default 0), as `dpctl/flush-conntrack
/// zone=N TUPLE`; a partial filter deletes the matching connections of the
/// zone (all zones if none is given). Returns the number deleted.
pub fn flush_openflow(ct: &Conntrack, f: &CtFlush) -> usize {
    if f.ip_proto == 0 && f.orig.is_empty() && f.reply.is_empty() {
        return ct.flush(f.zone, None);
    }
    if let Some(k) = five_tuple(f) {
        return ct.flush(Some(f.zone.unwrap_or(0)), Some(&k));
    }
    ct.flush_where(f.zone, |o, r| {
        (f.ip_proto == 0 || o.proto == f.ip_proto)
            && tuple_matches(&f.orig, o)
            && tuple_matches(&f.reply, r)
    })
}

/// Registers the `dpctl/*` conntrack and ipf commands.
pub fn register(cmds: &Commands, h: &CtHandle) {
    let c = h.clone();
    cmds.register(
        "dpctl/dump-conntrack",
        "[-m] [-s] [dp] [zone=N]",
        0,
        4,
        move |a| {
            let o = parse_opts(a)?;
            let mut av = argv("dump-conntrack", &o.args);
            let mut zone = None;
            if av.len() > 1 {
                if let Some(z) = scan_u16_after(av.last().expect("len > 1"), "zone=") {
                    zone = Some(z);
                    av.pop();
                }
            }
            dp_open(&av, 2)?;
            let e = c.ct.dump(zone, c.now_ns());
            Ok(format::format_dump(&e, o.verbosity > 0, o.stats))
        },
    );
    let c = h.clone();
    cmds.register(
        "dpctl/flush-conntrack",
        "[dp] [zone=N] [ct-tuple]",
        0,
        3,
        move |a| {
            let o = parse_opts(a)?;
            let av = argv("flush-conntrack", &o.args);
            let mut n = av.len() - 1;
            let mut err = String::new();
            let mut tuple = None;
            if n > 0 {
                match parse_ct_tuple(&av[n]) {
                    Ok(t) => {
                        tuple = Some(t);
                        n -= 1;
                    }
                    Err(e) => err = e,
                }
            }
            let mut zone = None;
            if n > 0 {
                if let Some(z) = scan_u16_after(&av[n], "zone=") {
                    zone = Some(z);
                    n -= 1;
                }
            }
            if n > 1 {
                err.push_str("invalid arguments");
                return Err(dpctl_error(&err, Some(EINVAL)));
            }
            dp_open(&av, 4)?;
            c.ct.flush(zone, tuple.as_ref());
            Ok(String::new())
        },
    );
    let c = h.clone();
    cmds.register("dpctl/ct-stats-show", "[dp] [zone=N]", 0, 3, move |a| {
        let o = parse_opts(a)?;
        let mut av = argv("ct-stats-show", &o.args);
        let mut verbose = o.verbosity > 0;
        let mut zone = None;
        let mut last = 0;
        while av.len() > 1 && last != av.len() {
            last = av.len();
            let x = av.last().expect("len > 1").clone();
            if x.starts_with("verbose") {
                verbose = true;
                av.pop();
            } else if x.starts_with("zone=") {
                if let Some(z) = scan_u16_after(&x, "zone=") {
                    zone = Some(z);
                    av.pop();
                }
            }
        }
        dp_open(&av, 2)?;
        Ok(format::format_stats(&c.ct.dump(zone, c.now_ns()), verbose))
    });
    let c = h.clone();
    cmds.register("dpctl/ct-bkts", "[dp] [gt=N]", 0, 2, move |a| {
        let o = parse_opts(a)?;
        let mut av = argv("ct-bkts", &o.args);
        let mut gt = 0;
        if av.len() > 1 && av.last().expect("len > 1").starts_with("gt=") {
            if let Some(g) = scan_u16_after(av.last().expect("len > 1"), "gt=") {
                gt = g;
                av.pop();
            }
        }
        dp_open(&av, 2)?;
        let e = c.ct.dump(None, c.now_ns());
        Ok(format::format_bkts(&e, c.ct.n_shards(), gt))
    });
    let c = h.clone();
    cmds.register("dpctl/ct-set-maxconns", "[dp] maxconns", 1, 2, move |a| {
        let o = parse_opts(a)?;
        let av = argv("ct-set-maxconns", &o.args);
        dp_open(&av, 3)?;
        match av.last().and_then(|s| scan_u32(s)) {
            Some(n) => {
                c.ct.set_max_conns(n);
                Ok(format::SET_MAXCONNS_OK.into())
            }
            None => Err(dpctl_error("maxconns missing or malformed", Some(EINVAL))),
        }
    });
    let c = h.clone();
    cmds.register("dpctl/ct-get-maxconns", "[dp]", 0, 1, move |a| {
        let o = parse_opts(a)?;
        dp_open(&argv("ct-get-maxconns", &o.args), 2)?;
        Ok(format::format_count(c.ct.max_conns()))
    });
    let c = h.clone();
    cmds.register("dpctl/ct-get-nconns", "[dp]", 0, 1, move |a| {
        let o = parse_opts(a)?;
        dp_open(&argv("ct-get-nconns", &o.args), 2)?;
        Ok(format::format_count(c.ct.n_conns()))
    });
    for (name, on) in [
        ("dpctl/ct-enable-tcp-seq-chk", true),
        ("dpctl/ct-disable-tcp-seq-chk", false),
    ] {
        let c = h.clone();
        cmds.register(name, "[dp]", 0, 1, move |a| {
            let o = parse_opts(a)?;
            dp_open(&argv(name, &o.args), 3)?;
            c.ct.set_tcp_seq_chk(on);
            Ok(format!(
                "{} TCP sequence checking successful",
                if on { "enabling" } else { "disabling" }
            ))
        });
    }
    let c = h.clone();
    cmds.register("dpctl/ct-get-tcp-seq-chk", "[dp]", 0, 1, move |a| {
        let o = parse_opts(a)?;
        dp_open(&argv("ct-get-tcp-seq-chk", &o.args), 2)?;
        Ok(format!(
            "TCP sequence checking: {}\n",
            if c.ct.tcp_seq_chk() {
                "enabled"
            } else {
                "disabled"
            }
        ))
    });
    let c = h.clone();
    cmds.register(
        "dpctl/ct-set-limits",
        "[dp] [default=L] [zone=N,limit=L]...",
        1,
        usize::MAX,
        move |a| {
            let o = parse_opts(a)?;
            let av = argv("ct-set-limits", &o.args);
            let has_dp = dp_open(&av, usize::MAX)?;
            let mut i = if has_dp { 2 } else { 1 };
            let mut default = None;
            if let Some(x) = av.get(i).filter(|x| x.starts_with("default=")) {
                match x["default=".len()..].parse::<u32>() {
                    Ok(v) => default = Some(v),
                    Err(_) => return Err(dpctl_error("invalid default limit", Some(EINVAL))),
                }
                i += 1;
            }
            let mut zones = Vec::new();
            while i < av.len() {
                zones.push(parse_zone_limit(&av[i]).map_err(|e| dpctl_error(&e, Some(EINVAL)))?);
                i += 1;
            }
            if let Some(d) = default {
                c.ct.set_default_zone_limit(d);
            }
            for (z, l) in zones {
                c.ct.set_zone_limit(z, Some(l));
            }
            Ok(String::new())
        },
    );
    let c = h.clone();
    cmds.register(
        "dpctl/ct-del-limits",
        "[dp] zone=N1[,N2]...",
        1,
        2,
        move |a| {
            let o = parse_opts(a)?;
            let av = argv("ct-del-limits", &o.args);
            let has_dp = dp_open(&av, 3)?;
            let i = if has_dp { 2 } else { 1 };
            let zones = parse_zones(av.get(i).map_or("", String::as_str))
                .map_err(|e| dpctl_error(&e, Some(EINVAL)))?;
            for z in zones {
                c.ct.set_zone_limit(z, None);
            }
            Ok(String::new())
        },
    );
    let c = h.clone();
    cmds.register(
        "dpctl/ct-get-limits",
        "[dp] [zone=N1[,N2]...]",
        0,
        2,
        move |a| {
            let o = parse_opts(a)?;
            let av = argv("ct-get-limits", &o.args);
            let has_dp = dp_open(&av, 3)?;
            let i = if has_dp { 2 } else { 1 };
            let zones = match av.get(i) {
                Some(x) => Some(parse_zones(x).map_err(|e| dpctl_error(&e, Some(EINVAL)))?),
                None => None,
            };
            let (d, rows) = c.ct.limits(zones.as_deref());
            Ok(format::format_limits(d, &rows))
        },
    );
    for (name, on) in [
        ("dpctl/ipf-set-enabled", true),
        ("dpctl/ipf-set-disabled", false),
    ] {
        let c = h.clone();
        cmds.register(name, "[dp] v4|v6", 1, 2, move |a| {
            let o = parse_opts(a)?;
            let av = argv(name, &o.args);
            dp_open(&av, 4)?;
            let last = av.last().map_or("", String::as_str);
            let v = &last[..last.len().min(2)];
            if v != "v4" && v != "v6" {
                return Err(dpctl_error(
                    "parameter missing: 'v4' for IPv4 or 'v6' for IPv6",
                    Some(EINVAL),
                ));
            }
            c.ct.ipf_set_enabled(v == "v6", on);
            Ok(format!(
                "{} fragmentation reassembly successful",
                if on { "enabling" } else { "disabling" }
            ))
        });
    }
    let c = h.clone();
    cmds.register(
        "dpctl/ipf-set-min-frag",
        "[dp] v4|v6 minfragment",
        2,
        3,
        move |a| {
            let o = parse_opts(a)?;
            let av = argv("ipf-set-min-frag", &o.args);
            dp_open(&av, 4)?;
            let fam = av.get(av.len().wrapping_sub(2)).map_or("", String::as_str);
            let v = &fam[..fam.len().min(2)];
            if av.len() < 3 || (v != "v4" && v != "v6") {
                return Err(dpctl_error(
                    "parameter missing: v4 for IPv4 or v6 for IPv6",
                    Some(EINVAL),
                ));
            }
            let Some(n) = av.last().and_then(|s| scan_u32(s)) else {
                return Err(dpctl_error(
                    "parameter missing for minimum fragment size",
                    Some(EINVAL),
                ));
            };
            match c.ct.ipf_set_min_frag(v == "v6", n) {
                Ok(()) => Ok("setting minimum fragment size successful".into()),
                Err(_) => Err(dpctl_error(
                    "requested minimum fragment size too small; see documentation",
                    Some("Operation not permitted"),
                )),
            }
        },
    );
    let c = h.clone();
    cmds.register(
        "dpctl/ipf-set-max-nfrags",
        "[dp] maxfrags",
        1,
        2,
        move |a| {
            let o = parse_opts(a)?;
            let av = argv("ipf-set-max-nfrags", &o.args);
            dp_open(&av, 3)?;
            let Some(n) = av.last().and_then(|s| scan_u32(s)) else {
                return Err(dpctl_error(
                    "parameter missing for maximum fragments",
                    Some(EINVAL),
                ));
            };
            match c.ct.ipf_set_max_nfrags(n) {
                Ok(()) => Ok("setting maximum fragments successful".into()),
                Err(IpfError::MaxNfragsTooBig) | Err(IpfError::MinFragTooSmall) => {
                    Err(dpctl_error(
                        "setting maximum fragments failed",
                        Some("Operation not permitted"),
                    ))
                }
            }
        },
    );
    let c = h.clone();
    cmds.register("dpctl/ipf-get-status", "[dp]", 0, 1, move |a| {
        let o = parse_opts(a)?;
        dp_open(&argv("ipf-get-status", &o.args), 2)?;
        let v = o.verbosity > 0;
        Ok(format::format_ipf_status(&c.ct.ipf_status(v), v))
    });
}

/// OVS `ct_dpif_parse_zone_limit_tuple`: `zone=N,limit=L`.
fn parse_zone_limit(s: &str) -> Result<(u16, u32), String> {
    let (mut zone, mut limit) = (None, None);
    for kv in s.split(',').filter(|x| !x.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if v.is_empty() {
            return Err(format!("field {k} missing value"));
        }
        match k {
            "zone" => {
                zone = Some(
                    v.parse()
                        .map_err(|_| format!("failed to parse field {k}"))?,
                )
            }
            "limit" => {
                limit = Some(
                    v.parse()
                        .map_err(|_| format!("failed to parse field {k}"))?,
                )
            }
            _ => return Err(format!("invalid zone limit field: {k}")),
        }
    }
    match (zone, limit) {
        (Some(z), Some(l)) => Ok((z, l)),
        _ => Err("failed to parse zone limit".into()),
    }
}

/// OVS `parse_ct_limit_zones`: `zone=N1[,N2]...`.
fn parse_zones(s: &str) -> Result<Vec<u16>, String> {
    let Some(list) = s.strip_prefix("zone=") else {
        return Err(format!("invalid argument {s}"));
    };
    list.split(',')
        .map(|z| z.parse::<u16>().map_err(|_| "invalid zone".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_and_limits_parse_like_ovs() {
        let k = parse_ct_tuple(
            "ct_nw_src=10.1.1.1,ct_nw_dst=10.1.1.2,ct_nw_proto=17,ct_tp_src=1,ct_tp_dst=2",
        )
        .unwrap();
        assert_eq!((k.proto, k.sport, k.dport), (17, 1, 2));
        assert_eq!(
            parse_ct_tuple("zone=5").unwrap_err(),
            "invalid conntrack tuple field: zone"
        );
        assert_eq!(
            parse_ct_tuple("ct_nw_src=10.1.1.1").unwrap_err(),
            "at least one of the conntrack 5-tuple fields is missing."
        );
        assert_eq!(parse_zone_limit("zone=3,limit=5"), Ok((3, 5)));
        assert_eq!(
            parse_zone_limit("zone=3"),
            Err("failed to parse zone limit".into())
        );
        assert_eq!(parse_zones("zone=1,2"), Ok(vec![1, 2]));
        assert_eq!(parse_zones("1"), Err("invalid argument 1".into()));
    }
}
