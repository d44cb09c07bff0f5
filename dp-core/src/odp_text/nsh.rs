//! NSH text: the `nsh(...)` key attribute, `set(nsh(...))` and
//! `push_nsh(...)` (`format_nsh_key()`, `format_nsh_key_mask()`,
//! `format_odp_push_nsh_action()` and their parsers in `lib/odp-util.c`).

use super::{hexnum, kv, num, perr, split_top, vm, ParseError};
use crate::nsh::{NshKey, NshPush, NSH_HDR_MAX_LEN, NSH_M_TYPE1};
use std::fmt::Write as _;

/// `format_nsh_key()`: every base field, and `c1..c4` for MD type 1, e.g.
/// `flags=0,ttl=63,mdtype=1,np=3,spi=0x1234,si=255,c1=0x1,c2=0x0,c3=0x0,c4=0x0`.
pub(super) fn format_nsh_key(k: &NshKey) -> String {
    let mut s = format!(
        "flags={},ttl={},mdtype={},np={},spi={:#x},si={}",
        k.flags,
        k.ttl,
        k.mdtype,
        k.np,
        k.spi(),
        k.si()
    );
    if k.mdtype == NSH_M_TYPE1 {
        for (i, c) in k.context.iter().enumerate() {
            let _ = write!(s, ",c{}={:#x}", i + 1, c);
        }
    }
    s
}

/// `format_nsh_key_mask()`: the fields with a non-zero mask; 8-bit fields as
/// decimal when exact, else `0x%02x/0x%02x`; `spi` and `c1..c4` as `0x%x`
/// when exact, else `0x%x/0x%08x` (a 24-bit all-ones SPI mask is exact).
pub(super) fn format_nsh_key_mask(k: &NshKey, m: &NshKey) -> String {
    let mut s = String::new();
    let u8m = |s: &mut String, name: &str, v: u8, m: u8| {
        if m == 0 {
            return;
        }
        if m == u8::MAX {
            let _ = write!(s, "{name}={v},");
        } else {
            let _ = write!(s, "{name}=0x{v:02x}/0x{m:02x},");
        }
    };
    let u32m = |s: &mut String, name: &str, v: u32, m: u32| {
        if m == 0 {
            return;
        }
        if m == u32::MAX {
            let _ = write!(s, "{name}={v:#x},");
        } else {
            let _ = write!(s, "{name}={v:#x}/0x{m:08x},");
        }
    };
    u8m(&mut s, "flags", k.flags, m.flags);
    u8m(&mut s, "ttl", k.ttl, m.ttl);
    u8m(&mut s, "mdtype", k.mdtype, m.mdtype);
    u8m(&mut s, "np", k.np, m.np);
    let spi_m = match m.spi() {
        0x00ff_ffff => u32::MAX,
        x => x,
    };
    u32m(&mut s, "spi", k.spi(), spi_m);
    u8m(&mut s, "si", k.si(), m.si());
    for i in 0..4 {
        u32m(&mut s, &format!("c{}", i + 1), k.context[i], m.context[i]);
    }
    s.pop();
    s
}

/// `format_odp_push_nsh_action()`: `push_nsh(flags=..,ttl=..,mdtype=..,np=..,
/// spi=0x..,si=..,c1=0x..,c2=..,c3=..,c4=..)` for MD type 1, `,md2=0x..` (the
/// TLV bytes as one hex number, `ds_put_hex()`) for MD type 2.
pub(super) fn format_push_nsh(p: &NshPush) -> String {
    let k = &p.key;
    let mut s = format!(
        "push_nsh(flags={},ttl={},mdtype={},np={},spi={:#x},si={}",
        k.flags,
        k.ttl,
        k.mdtype,
        k.np,
        k.spi(),
        k.si()
    );
    match k.mdtype {
        NSH_M_TYPE1 => {
            for (i, c) in k.context.iter().enumerate() {
                let _ = write!(s, ",c{}={:#x}", i + 1, c);
            }
        }
        2 => {
            s.push_str(",md2=");
            match p.md2.iter().position(|&b| b != 0) {
                None => s.push('0'),
                Some(i) => {
                    let _ = write!(s, "{:#x}", p.md2[i]);
                    for b in &p.md2[i + 1..] {
                        let _ = write!(s, "{b:02x}");
                    }
                }
            }
        }
        _ => s.push_str(",<error: unknown mdtype>"),
    }
    s.push(')');
    s
}

/// Parses the body of `nsh(...)` (key attribute or `set`): `name=value[/mask]`
/// items among `flags ttl mdtype np spi si c1 c2 c3 c4`; a missing mask is
/// all ones. Returns (value, mask); the mask of an absent field is zero.
pub(super) fn parse_nsh_fields(base: &str, body: &str) -> Result<(NshKey, NshKey), ParseError> {
    let (mut k, mut m) = (NshKey::default(), NshKey::default());
    if body.trim().is_empty() {
        return Ok((k, m));
    }
    for item in split_top(base, body)? {
        let (name, t) = kv(base, item)?;
        let (v, mask) = vm(t);
        let int = |max: u64| -> Result<(u64, u64), ParseError> {
            let v = num(base, v, max)?;
            let mm = match mask {
                Some(x) => num(base, x, u32::MAX as u64)? & max,
                None => max,
            };
            Ok((v, mm))
        };
        match name {
            "flags" => (k.flags, m.flags) = int(0xff).map(|(a, b)| (a as u8, b as u8))?,
            "ttl" => (k.ttl, m.ttl) = int(0xff).map(|(a, b)| (a as u8, b as u8))?,
            "mdtype" => (k.mdtype, m.mdtype) = int(0xff).map(|(a, b)| (a as u8, b as u8))?,
            "np" => (k.np, m.np) = int(0xff).map(|(a, b)| (a as u8, b as u8))?,
            "spi" => {
                let (a, b) = int(0x00ff_ffff)?;
                k.path_hdr = (k.path_hdr & 0xff) | (a as u32) << 8;
                m.path_hdr = (m.path_hdr & 0xff) | (b as u32) << 8;
            }
            "si" => {
                let (a, b) = int(0xff)?;
                k.path_hdr = (k.path_hdr & !0xff) | a as u32;
                m.path_hdr = (m.path_hdr & !0xff) | b as u32;
            }
            "c1" | "c2" | "c3" | "c4" => {
                let i = (name.as_bytes()[1] - b'1') as usize;
                let (a, b) = int(u32::MAX as u64)?;
                (k.context[i], m.context[i]) = (a as u32, b as u32);
            }
            _ => return Err(perr(base, name, "unknown nsh field")),
        }
    }
    Ok((k, m))
}

/// Parses the body of `push_nsh(...)` (`parse_odp_push_nsh_action()`): the
/// fields of [`parse_nsh_fields`] without masks, plus `md2=0x<hex>` (padded
/// to 4 bytes with trailing zeros, at most 244 bytes).
pub(super) fn parse_push_nsh(base: &str, body: &str) -> Result<NshPush, ParseError> {
    let mut rest = Vec::new();
    let mut md2 = Vec::new();
    for item in split_top(base, body)? {
        let (name, t) = kv(base, item)?;
        if name != "md2" {
            if t.contains('/') {
                return Err(perr(base, t, "push_nsh fields take no mask"));
            }
            rest.push(item);
            continue;
        }
        let h = t.strip_prefix("0x").unwrap_or(t);
        let h = if h.len() % 2 == 1 {
            format!("0{h}")
        } else {
            h.to_string()
        };
        for i in (0..h.len()).step_by(2) {
            md2.push(hexnum(base, &h[i..i + 2], 0xff)? as u8);
        }
        while md2.len() % 4 != 0 {
            md2.push(0);
        }
        if md2.len() > NSH_HDR_MAX_LEN - 8 {
            return Err(perr(base, t, "md2 longer than an NSH header allows"));
        }
    }
    let (key, _) = parse_nsh_fields(base, &rest.join(","))?;
    Ok(NshPush { key, md2 })
}
