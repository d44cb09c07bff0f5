//! The datapath flow text format of `ovs-appctl dpctl/dump-flows` and
//! `ovs-dpctl(8)`: flow keys with masks, datapath actions and the flow line
//! with its statistics, byte-identical to Open vSwitch 3.1.
//!
//! The formatters follow `odp_flow_format()`, `format_odp_actions()`
//! (`lib/odp-util.c`) and `format_dpif_flow()` / `dpif_flow_stats_format()`
//! (`lib/dpctl.c`, `lib/dpif.c`) as they behave for the userspace datapath
//! (`dpif-netdev`): key attributes are generated from the *masked* key in the
//! order of `odp_flow_key_from_flow()`, and fully wildcarded attributes are
//! omitted (non-verbose output). The parsers accept that output plus the forms
//! operators usually type for `ovs-dpctl add-flow` (`odp_flow_from_string()`,
//! `odp_actions_from_string()`), and return a [`ParseError`] naming the
//! offending token for anything else; they never panic.
//!
//! Where OVS's text is lossy the round trip is too, in the same way (see the
//! notes on [`format_match`] and [`format_actions`]).

mod actions;
mod key;
mod nsh;

pub use actions::{format_actions, parse_actions};
pub use key::{format_match, parse_match};

use crate::actions::OdpAction;
use crate::matches::{FlowStats, Match, Ufid};
use std::fmt;
use std::fmt::Write as _;
use std::net::Ipv6Addr;

/// A text parsing error: `msg` says what was expected and quotes the
/// offending token with its byte offset in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Human-readable description, e.g. `bad ipv4 address "10.0.0" at byte 12`.
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ParseError {}

/// One flow as printed by `ovs-appctl dpctl/dump-flows` (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedFlow {
    /// The flow's UFID; printed as a `ufid:<uuid>, ` prefix when present (as
    /// `dpctl/dump-flows -m` does).
    pub ufid: Option<Ufid>,
    /// The megaflow match.
    pub m: Match,
    /// Packet/byte counters, last-used time and TCP flags.
    pub stats: FlowStats,
    /// The datapath actions.
    pub actions: Vec<OdpAction>,
}

/// Formats one dump-flows line:
/// `[ufid:<uuid>, ]<match>, packets:N, bytes:N, used:<never|S.MMMs>[, flags:F], actions:<actions>`.
///
/// `used` is printed like `dpif_flow_stats_format()` (`lib/dpif.c`): the time
/// since `stats.used_ns`, relative to the monotonic time `now_ns`, both taken
/// in whole milliseconds, as seconds with 3 decimals (`never` if `used_ns` is
/// `None`). `flags:` lists the TCP flags seen with
/// `packet_format_tcp_flags()`'s letters (`S`, `F`, `P`, `R`, `U`, `.` for
/// ACK, `E`, `C`, `N`) and is left out when no flag was seen.
pub fn format_flow(f: &DumpedFlow, now_ns: u64) -> String {
    let mut s = String::new();
    if let Some(u) = f.ufid {
        let _ = write!(s, "ufid:{u}, ");
    }
    s.push_str(&format_match(&f.m));
    let _ = write!(
        s,
        ", packets:{}, bytes:{}, used:",
        f.stats.packets, f.stats.bytes
    );
    match f.stats.used_ns {
        None => s.push_str("never"),
        Some(used) => {
            let ms = (now_ns / 1_000_000) as i128 - (used / 1_000_000) as i128;
            let neg = ms < 0;
            let a = ms.unsigned_abs();
            let _ = write!(
                s,
                "{}{}.{:03}s",
                if neg { "-" } else { "" },
                a / 1000,
                a % 1000
            );
        }
    }
    if f.stats.tcp_flags != 0 {
        s.push_str(", flags:");
        s.push_str(&tcp_flags_letters(f.stats.tcp_flags));
    }
    s.push_str(", actions:");
    s.push_str(&format_actions(&f.actions));
    s
}

/// Parses one dump-flows line as printed by [`format_flow`] (and by OVS,
/// including the `-m` extras `dp:`, `offloaded:`, `dpe_packets:`, ... which
/// are skipped, and a trailing `, dp-extra-info:...`).
///
/// `used:S.MMMs` becomes `used_ns = now_ns - S.MMM s` (saturating at 0),
/// so the round trip is exact to the millisecond.
///
/// # Errors
/// A [`ParseError`] if the match, a statistic or the actions are malformed,
/// or if `packets:`, `bytes:`, `used:` or `actions:` is missing.
pub fn parse_flow(s: &str, now_ns: u64) -> Result<DumpedFlow, ParseError> {
    let line = s.trim();
    let items = split_top(line, line)?;
    let mut ufid = None;
    let mut match_end = 0usize;
    let mut match_start = 0usize;
    let mut stats = FlowStats::default();
    let (mut have_p, mut have_b, mut have_u) = (false, false, false);
    let mut actions_at = None;
    for (i, it) in items.iter().enumerate() {
        let t = it.trim();
        if i == 0 && t.starts_with("ufid:") {
            ufid = Some(Ufid::parse(t).ok_or_else(|| perr(line, t, "bad ufid"))?);
            match_start = off(line, t) + t.len();
            match_end = match_start;
            continue;
        }
        if let Some(rest) = t.strip_prefix("actions:") {
            actions_at = Some(off(line, rest));
            break;
        }
        if let Some((k, v)) = stat_item(t) {
            match k {
                "packets" => {
                    stats.packets = v.parse().map_err(|_| perr(line, v, "bad packets"))?;
                    have_p = true;
                }
                "bytes" => {
                    stats.bytes = v.parse().map_err(|_| perr(line, v, "bad bytes"))?;
                    have_b = true;
                }
                "used" => {
                    stats.used_ns = parse_used(line, v, now_ns)?;
                    have_u = true;
                }
                "flags" => stats.tcp_flags = parse_tcp_flag_letters(line, v)?,
                _ => {} // dp:, offloaded:, dpe_packets:, ... (dpctl -m extras)
            }
            continue;
        }
        if have_p || have_b || have_u {
            return Err(perr(line, t, "unexpected item after statistics"));
        }
        match_end = off(line, it) + it.len();
    }
    let Some(at) = actions_at else {
        return Err(perr(line, "", "missing \"actions:\""));
    };
    if !(have_p && have_b && have_u) {
        return Err(perr(line, "", "missing packets:, bytes: or used:"));
    }
    let mtext = line[match_start..match_end].trim_start_matches([',', ' ']);
    let m = parse_match(mtext)?;
    let mut atext = &line[at..];
    if let Some(p) = find_top(atext, ", dp-extra-info:") {
        atext = &atext[..p];
    }
    let actions = parse_actions(atext)?;
    Ok(DumpedFlow {
        ufid,
        m,
        stats,
        actions,
    })
}

fn stat_item(t: &str) -> Option<(&str, &str)> {
    let (k, v) = t.split_once(':')?;
    if k.is_empty()
        || !k
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c == b'_' || c == b'-')
    {
        return None;
    }
    Some((k, v.trim()))
}

fn parse_used(base: &str, v: &str, now_ns: u64) -> Result<Option<u64>, ParseError> {
    if v == "never" {
        return Ok(None);
    }
    let bad = || perr(base, v, "bad used time (expected never or S.MMMs)");
    let body = v.strip_suffix('s').ok_or_else(bad)?;
    let (neg, body) = match body.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let (sec, frac) = body.split_once('.').ok_or_else(bad)?;
    if frac.len() != 3 || sec.is_empty() {
        return Err(bad());
    }
    if !sec.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let ms: u64 = sec
        .parse::<u64>()
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .and_then(|s| s.checked_add(frac.parse::<u64>().ok()?))
        .ok_or_else(bad)?;
    let now_ms = now_ns / 1_000_000;
    let used_ms = if neg {
        now_ms.saturating_add(ms)
    } else {
        now_ms.saturating_sub(ms)
    };
    Ok(Some(used_ms.saturating_mul(1_000_000)))
}

/// `packet_format_tcp_flags()` (`lib/packets.c`).
fn tcp_flags_letters(f: u16) -> String {
    let mut s = String::new();
    for (bit, l) in TCP_LETTERS {
        if f & bit != 0 {
            s.push_str(l);
        }
    }
    s
}

const TCP_LETTERS: [(u16, &str); 12] = [
    (0x002, "S"),
    (0x001, "F"),
    (0x008, "P"),
    (0x004, "R"),
    (0x020, "U"),
    (0x010, "."),
    (0x040, "E"),
    (0x080, "C"),
    (0x100, "N"),
    (0x200, "[200]"),
    (0x400, "[400]"),
    (0x800, "[800]"),
];

fn parse_tcp_flag_letters(base: &str, v: &str) -> Result<u16, ParseError> {
    if v == "none" {
        return Ok(0);
    }
    let mut rest = v;
    let mut f = 0u16;
    'outer: while !rest.is_empty() {
        for (bit, l) in TCP_LETTERS {
            if let Some(r) = rest.strip_prefix(l) {
                f |= bit;
                rest = r;
                continue 'outer;
            }
        }
        return Err(perr(base, rest, "bad TCP flag letter"));
    }
    Ok(f)
}

// ---------------------------------------------------------------------------
// Shared lexing helpers.

/// Byte offset of `sub` (a subslice of `base`) in `base`.
pub(crate) fn off(base: &str, sub: &str) -> usize {
    let b = base.as_ptr() as usize;
    let s = sub.as_ptr() as usize;
    if s >= b && s <= b + base.len() {
        s - b
    } else {
        0
    }
}

/// A [`ParseError`] quoting `tok` (a subslice of `base`) and its position.
pub(crate) fn perr(base: &str, tok: &str, what: &str) -> ParseError {
    let shown: String = tok.chars().take(40).collect();
    ParseError {
        msg: format!("{what}: \"{shown}\" at byte {}", off(base, tok)),
    }
}

/// Splits `s` at top-level commas (outside `()`, `{}`, `[]`), trimming
/// whitespace around items and dropping empty items.
pub(crate) fn split_top<'a>(base: &str, s: &'a str) -> Result<Vec<&'a str>, ParseError> {
    let mut out = Vec::new();
    let mut depth: i32 = 0;
    let mut start = 0;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(perr(base, &s[i..], "unbalanced ')'"));
                }
            }
            b',' if depth == 0 => {
                let t = s[start..i].trim();
                if !t.is_empty() {
                    out.push(t);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(perr(base, &s[start..], "unbalanced '('"));
    }
    let t = s[start..].trim();
    if !t.is_empty() {
        out.push(t);
    }
    Ok(out)
}

/// Position of `pat` in `s` outside any brackets.
pub(crate) fn find_top(s: &str, pat: &str) -> Option<usize> {
    let mut depth = 0i32;
    let b = s.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth -= 1,
            _ => {}
        }
        if depth == 0 && b[i..].starts_with(pat.as_bytes()) {
            return Some(i);
        }
    }
    None
}

/// Splits `name(body)` into `(name, Some(body))`, or a bare word into
/// `(word, None)`. The closing parenthesis must end the item.
pub(crate) fn call<'a>(
    base: &str,
    item: &'a str,
) -> Result<(&'a str, Option<&'a str>), ParseError> {
    match item.find('(') {
        None => {
            if item.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                Ok((item, None))
            } else {
                Err(perr(base, item, "unexpected token"))
            }
        }
        Some(p) => {
            let name = &item[..p];
            if !item.ends_with(')') {
                return Err(perr(base, item, "expected ')' at end of"));
            }
            // The '(' at p must match the final ')'.
            let mut depth = 0i32;
            for (i, c) in item.bytes().enumerate().skip(p) {
                match c {
                    b'(' | b'{' | b'[' => depth += 1,
                    b')' | b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 && i != item.len() - 1 {
                            return Err(perr(base, &item[i + 1..], "trailing garbage after ')'"));
                        }
                    }
                    _ => {}
                }
            }
            Ok((name, Some(&item[p + 1..item.len() - 1])))
        }
    }
}

/// Splits `k=v` items of an attribute body.
pub(crate) fn kv<'a>(base: &str, item: &'a str) -> Result<(&'a str, &'a str), ParseError> {
    item.split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .ok_or_else(|| perr(base, item, "expected name=value"))
}

/// Splits `value[/mask]` at the first `/`.
pub(crate) fn vm(v: &str) -> (&str, Option<&str>) {
    match v.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    }
}

/// Parses an unsigned integer like C's `%i`: `0x` hex, leading-`0` octal, or
/// decimal; must fit in `max`.
pub(crate) fn num(base: &str, t: &str, max: u64) -> Result<u64, ParseError> {
    let bad = || perr(base, t, "bad number");
    let t2 = t.trim();
    let v = if let Some(h) = t2.strip_prefix("0x").or_else(|| t2.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u64::from_str_radix(h, 16).map_err(|_| bad())?
    } else if t2.len() > 1 && t2.starts_with('0') {
        if !t2.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
            return Err(bad());
        }
        u64::from_str_radix(&t2[1..], 8).map_err(|_| bad())?
    } else {
        if t2.is_empty() || !t2.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t2.parse::<u64>().map_err(|_| bad())?
    };
    if v > max {
        return Err(perr(base, t, "number out of range"));
    }
    Ok(v)
}

/// Parses a hex number with or without `0x` (for `%x` fields).
pub(crate) fn hexnum(base: &str, t: &str, max: u64) -> Result<u64, ParseError> {
    let h = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) || h.len() > 16 {
        return Err(perr(base, t, "bad hex number"));
    }
    let v = u64::from_str_radix(h, 16).map_err(|_| perr(base, t, "bad hex number"))?;
    if v > max {
        return Err(perr(base, t, "number out of range"));
    }
    Ok(v)
}

/// Parses a 128-bit integer (`0x` hex of any length up to 32 digits, or decimal).
pub(crate) fn num128(base: &str, t: &str) -> Result<u128, ParseError> {
    let bad = || perr(base, t, "bad 128-bit number");
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 32 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u128::from_str_radix(h, 16).map_err(|_| bad())
    } else {
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<u128>().map_err(|_| bad())
    }
}

/// C's `%#x`: `0` for zero, `0x...` otherwise.
pub(crate) fn hx(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// `ds_put_hex()` of a big-endian 128-bit value: `0x` + hex without leading
/// zeros, or `0`.
pub(crate) fn hx128(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

/// `ETH_ADDR_FMT` of a 48-bit integer.
pub(crate) fn mac(v: u64) -> String {
    let b = crate::flow::u64_to_mac(v);
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

/// Parses `ETH_ADDR_SCAN_FMT` (six 1-2 digit hex groups separated by `:`).
pub(crate) fn parse_mac(base: &str, t: &str) -> Result<u64, ParseError> {
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(perr(base, t, "bad Ethernet address"));
    }
    let mut v = 0u64;
    for p in parts {
        v = (v << 8)
            | u64::from_str_radix(p, 16).map_err(|_| perr(base, t, "bad Ethernet address"))?;
    }
    Ok(v)
}

/// `IP_FMT` of a host-order IPv4 address.
pub(crate) fn ip4(v: u32) -> String {
    std::net::Ipv4Addr::from(v).to_string()
}

/// Parses a dotted-quad IPv4 address (`IP_SCAN_FMT`).
pub(crate) fn parse_ip4(base: &str, t: &str) -> Result<u32, ParseError> {
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() != 4 {
        return Err(perr(base, t, "bad IPv4 address"));
    }
    let mut v = 0u32;
    for p in parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(perr(base, t, "bad IPv4 address"));
        }
        let o: u32 = p.parse().map_err(|_| perr(base, t, "bad IPv4 address"))?;
        if o > 255 {
            return Err(perr(base, t, "bad IPv4 address"));
        }
        v = (v << 8) | o;
    }
    Ok(v)
}

/// `inet_ntop(AF_INET6, ...)` exactly as glibc prints it (longest run of at
/// least two zero groups compressed, IPv4-mapped and IPv4-compatible
/// addresses with a dotted quad).
pub(crate) fn ip6(v: u128) -> String {
    let a = Ipv6Addr::from(v);
    let w = a.segments();
    // Longest run of zero words (length >= 2), first one on ties.
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let st = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - st > best_len {
                best_base = st;
                best_len = i - st;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = usize::MAX;
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if best_base != usize::MAX && i >= best_base && i < best_base + best_len {
            if i == best_base {
                s.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            let _ = write!(s, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return s;
        }
        let _ = write!(s, "{:x}", w[i]);
        i += 1;
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        s.push(':');
    }
    s
}

/// Parses an IPv6 address (`inet_pton(AF_INET6)` forms).
pub(crate) fn parse_ip6(base: &str, t: &str) -> Result<u128, ParseError> {
    t.parse::<Ipv6Addr>()
        .map(u128::from)
        .map_err(|_| perr(base, t, "bad IPv6 address"))
}

/// Removes one trailing `c` (OVS `ds_chomp`).
pub(crate) fn chomp(s: &mut String, c: char) {
    if s.ends_with(c) {
        s.pop();
    }
}

#[cfg(test)]
mod tests;
