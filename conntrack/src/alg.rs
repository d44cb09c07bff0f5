//! Application-level gateways (OVS `conntrack.c`: `handle_ftp_ctl`,
//! `handle_tftp_ctl`, `expectation_create`, `adj_seqnum`) and the
//! expectation table.
//!
//! A connection committed with `helper=ftp` (`ct(alg=ftp)`) or
//! `helper=tftp` gets an ALG. The ALG watches the connection and creates
//! *expectations*: the tuple of a data connection that the peer will open.
//! The first packet matching an expectation is `+new+rel`; committed, it
//! creates a connection that keeps its parent's mark and label, reports the
//! parent's original tuple as `ct_orig` (OVS `conn->parent_key`), and is
//! shown with `parent=(...)` by `dump-conntrack -m`.
//!
//! * **FTP** (RFC 959, RFC 2428): `PORT h1,h2,h3,h4,p1,p2` and
//!   `EPRT |1|addr|port|` / `|2|` from the client (active mode), `227 ...
//!   (h1,h2,h3,h4,p1,p2)` and `229 ... (|||port|)` from the server (passive
//!   mode). The announced address must be the sender's own (else the packet
//!   is `+inv`, as OVS: no pinholes for third parties). When the control
//!   connection is NATed, the announced address is rewritten to the
//!   translated one (the payload length may change), TCP sequence numbers
//!   of the rest of the connection are adjusted by the accumulated length
//!   difference (sequence numbers in the rewriting direction, ACKs in the
//!   other), checksums recomputed, and the data connection is translated
//!   back (address only; the data port is never translated).
//! * **TFTP** (RFC 1350): the server answers a read/write request from a
//!   new port to the client's address and port: the expectation is the
//!   reply tuple with any source port, translated like the request.
//!
//! The expectation table is a `RwLock<HashMap>` consulted only on the
//! new-connection path and only when non-empty (an atomic count). An
//! expectation lives as long as its parent connection and is consumed by
//! the commit of its data connection.

use crate::key::{be16, be32, ipproto, ConnKey, Parsed};
use crate::{Conn, Conntrack};
use dp_core::csum;
use dp_core::packet::DpPacket;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The ALG of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Alg {
    /// FTP control connection (`helper=ftp`).
    Ftp,
    /// TFTP (`helper=tftp`).
    Tftp,
}

impl Alg {
    /// The helper of a `ct` action (`ftp`, `tftp`; OVS compares the
    /// prefix), if known.
    pub fn from_helper(h: &str) -> Option<Alg> {
        if h.starts_with("tftp") {
            Some(Alg::Tftp)
        } else if h.starts_with("ftp") {
            Some(Alg::Ftp)
        } else {
            None
        }
    }

    /// Name as `dump-conntrack` prints it (`helper=ftp`).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Ftp => "ftp",
            Alg::Tftp => "tftp",
        }
    }
}

/// Key of an expectation: the data connection's first packet, any source
/// port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct ExpKey {
    pub src: u128,
    pub dst: u128,
    pub dport: u16,
    pub zone: u16,
    pub proto: u8,
    pub v6: bool,
}

impl ExpKey {
    pub(crate) fn of(k: &ConnKey) -> ExpKey {
        ExpKey {
            src: k.src,
            dst: k.dst,
            dport: k.dport,
            zone: k.zone,
            proto: k.proto,
            v6: k.v6,
        }
    }
}

/// An expected data connection.
pub(crate) struct Expectation {
    pub parent: Arc<Conn>,
    /// Translate the destination to this address and port.
    pub dnat_to: Option<(u128, u16)>,
    /// Translate the source to this address.
    pub snat_to: Option<u128>,
}

/// A matched expectation: parent, `dnat_to`, `snat_to`.
pub(crate) type ExpHit = (Arc<Conn>, Option<(u128, u16)>, Option<u128>);

/// An FTP control message carrying an endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FtpMsg {
    /// Address region in the payload (`None`: EPSV, the sender's address).
    addr_span: Option<(usize, usize)>,
    addr: Option<u128>,
    v6: bool,
    /// Text form of the address: comma-separated (PORT/227) or dotted/colon.
    commas: bool,
    port: u16,
}

fn starts_ci(s: &[u8], pfx: &[u8]) -> bool {
    s.len() >= pfx.len() && s[..pfx.len()].eq_ignore_ascii_case(pfx)
}

/// Parses `n1,n2,n3,n4,p1,p2` at `i`; returns the numbers, the end of the
/// fourth number, and the end of the sixth.
fn six_numbers(s: &[u8], mut i: usize) -> Option<([u32; 6], usize)> {
    let mut v = [0u32; 6];
    let mut addr_end = 0;
    for (k, slot) in v.iter_mut().enumerate() {
        let st = i;
        while i < s.len() && s[i].is_ascii_digit() {
            *slot = slot.checked_mul(10)?.checked_add((s[i] - b'0') as u32)?;
            i += 1;
        }
        if i == st || *slot > 255 {
            return None;
        }
        if k == 3 {
            addr_end = i;
        }
        if k < 5 {
            if s.get(i) != Some(&b',') {
                return None;
            }
            i += 1;
        }
    }
    Some((v, addr_end))
}

fn v4_from(v: &[u32; 6]) -> (u128, u16) {
    let a = (v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]) as u128;
    (a, (v[4] << 8 | v[5]) as u16)
}

/// `PORT` / `EPRT` (client) or `227` / `229` (server) in `s`.
fn parse_ftp(s: &[u8], from_server: bool) -> Option<FtpMsg> {
    if !from_server && starts_ci(s, b"PORT ") {
        let mut i = 5;
        while s.get(i) == Some(&b' ') {
            i += 1;
        }
        let (v, ae) = six_numbers(s, i)?;
        let (addr, port) = v4_from(&v);
        return Some(FtpMsg {
            addr_span: Some((i, ae)),
            addr: Some(addr),
            v6: false,
            commas: true,
            port,
        });
    }
    if from_server && s.starts_with(b"227") {
        let i = 3 + s[3..].iter().position(|c| c.is_ascii_digit())?;
        let (v, ae) = six_numbers(s, i)?;
        let (addr, port) = v4_from(&v);
        return Some(FtpMsg {
            addr_span: Some((i, ae)),
            addr: Some(addr),
            v6: false,
            commas: true,
            port,
        });
    }
    if !from_server && starts_ci(s, b"EPRT ") {
        // EPRT <d><af><d><addr><d><port><d> (RFC 2428 section 2).
        let d = *s.get(5)?;
        let rest = &s[6..];
        let mut parts = rest.splitn(4, |&c| c == d);
        let af = parts.next()?;
        let addr = parts.next()?;
        let port = parts.next()?;
        parts.next()?;
        let v6 = match af {
            b"1" => false,
            b"2" => true,
            _ => return None,
        };
        let at = 6 + af.len() + 1;
        let text = std::str::from_utf8(addr).ok()?;
        let a = if v6 {
            u128::from(text.parse::<std::net::Ipv6Addr>().ok()?)
        } else {
            u32::from(text.parse::<std::net::Ipv4Addr>().ok()?) as u128
        };
        let port: u16 = std::str::from_utf8(port).ok()?.parse().ok()?;
        return Some(FtpMsg {
            addr_span: Some((at, at + addr.len())),
            addr: Some(a),
            v6,
            commas: false,
            port,
        });
    }
    if from_server && s.starts_with(b"229") {
        // 229 Entering Extended Passive Mode (<d><d><d><port><d>)
        let i = s.iter().position(|&c| c == b'(')? + 1;
        let d = *s.get(i)?;
        if s.get(i + 1) != Some(&d) || s.get(i + 2) != Some(&d) {
            return None;
        }
        let st = i + 3;
        let len = s[st..].iter().position(|&c| c == d)?;
        let port: u16 = std::str::from_utf8(&s[st..st + len]).ok()?.parse().ok()?;
        return Some(FtpMsg {
            addr_span: None,
            addr: None,
            v6: false,
            commas: false,
            port,
        });
    }
    None
}

fn addr_text(a: u128, v6: bool, commas: bool) -> String {
    let ip = crate::key::to_ip(a, v6);
    let s = ip.to_string();
    if commas {
        s.replace('.', ",")
    } else {
        s
    }
}

/// Recomputes the TCP checksum of the segment `d[l4..end]`.
fn tcp_csum(d: &mut [u8], l3: usize, l4: usize, end: usize, v6: bool) {
    d[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
    let seg_len = end - l4;
    let ph = if v6 {
        csum::pseudo_header_v6(
            crate::key::be128(d, l3 + 8),
            crate::key::be128(d, l3 + 24),
            ipproto::TCP,
            seg_len as u32,
        )
    } else {
        csum::pseudo_header_v4(
            be32(d, l3 + 12),
            be32(d, l3 + 16),
            ipproto::TCP,
            seg_len as u16,
        )
    };
    let c = csum::finish(csum::add_bytes(ph, &d[l4..end]));
    d[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
}

/// Replaces `old_len` bytes at frame offset `at` with `new`, fixing the IP
/// length (and IPv4 header checksum). Returns the length difference.
fn replace_bytes(pkt: &mut DpPacket, l3: usize, at: usize, old_len: usize, new: &[u8]) -> i32 {
    let delta = new.len() as i32 - old_len as i32;
    if delta > 0 {
        pkt.insert_at(at + old_len, delta as usize);
    } else if delta < 0 {
        pkt.remove_at(at + new.len(), (-delta) as usize);
    }
    let d = pkt.data_mut();
    d[at..at + new.len()].copy_from_slice(new);
    if d[l3] >> 4 == 4 {
        let tot = (be16(d, l3 + 2) as i32 + delta) as u16;
        d[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
        let ihl = (d[l3] & 0xf) as usize * 4;
        d[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let c = csum::ipv4_header_checksum(&d[l3..l3 + ihl]);
        d[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    } else {
        let pl = (be16(d, l3 + 4) as i32 + delta) as u16;
        d[l3 + 4..l3 + 6].copy_from_slice(&pl.to_be_bytes());
    }
    delta
}

impl Conntrack {
    /// Registers an expectation (replacing one with the same key).
    pub(crate) fn expect(&self, key: ExpKey, e: Expectation) {
        let mut t = self.expectations.write();
        if t.insert(key, e).is_none() {
            self.n_exp.fetch_add(1, Relaxed);
        }
    }

    /// The live expectation matching a packet key, if any.
    pub(crate) fn find_expectation(&self, k: &ConnKey, now: u64) -> Option<ExpHit> {
        if self.n_exp.load(Relaxed) == 0 {
            return None;
        }
        let t = self.expectations.read();
        let e = t.get(&ExpKey::of(k))?;
        e.parent
            .alive(now)
            .then(|| (e.parent.clone(), e.dnat_to, e.snat_to))
    }

    /// Removes the expectation of `k`.
    pub(crate) fn consume_expectation(&self, k: &ConnKey) {
        if self.expectations.write().remove(&ExpKey::of(k)).is_some() {
            self.n_exp.fetch_sub(1, Relaxed);
        }
    }

    /// Drops expectations whose parent is gone.
    pub(crate) fn sweep_expectations(&self, now: u64) {
        if self.n_exp.load(Relaxed) == 0 {
            return;
        }
        let mut t = self.expectations.write();
        t.retain(|_, e| e.parent.alive(now));
        self.n_exp.store(t.len(), Relaxed);
    }

    /// TFTP: on the request that creates `conn`, expect the server's answer
    /// from any port to the client's (translated) address and port.
    pub(crate) fn tftp_expect(&self, conn: &Arc<Conn>) {
        let (o, r) = (conn.orig, conn.reply);
        let key = ExpKey {
            src: r.src,
            dst: r.dst,
            dport: r.dport,
            zone: o.zone,
            proto: ipproto::UDP,
            v6: o.v6,
        };
        let dnat_to = ((r.dst, r.dport) != (o.src, o.sport)).then_some((o.src, o.sport));
        let snat_to = (r.src != o.dst).then_some(o.dst);
        self.expect(
            key,
            Expectation {
                parent: conn.clone(),
                dnat_to,
                snat_to,
            },
        );
    }

    /// FTP control connection packet (OVS `handle_ftp_ctl`), after the
    /// tracker update and any NAT rewrite. `rewrite`: this action translated
    /// the packet (payload rewrite and sequence adjustment happen here).
    /// Returns false if the packet must be `+inv`.
    pub(crate) fn ftp_ctl(
        &self,
        pkt: &mut DpPacket,
        p: &Parsed,
        conn: &Arc<Conn>,
        reply: bool,
        rewrite: bool,
    ) -> bool {
        let (l3, l4) = (p.l3, p.l4);
        let mut end = p.l4_end;
        let v6 = conn.orig.v6;
        let pre = if reply { conn.reply } else { conn.orig };
        let post = if rewrite {
            if reply {
                conn.orig.reverse()
            } else {
                conn.reply.reverse()
            }
        } else {
            pre
        };
        let d = pkt.data();
        if end < l4 + 20 {
            return true;
        }
        let doff = (d[l4 + 12] >> 4) as usize * 4;
        let flags = d[l4 + 13];
        let pay = l4 + doff;
        // Sequence adjustment for earlier rewrites (OVS adj_seqnum).
        let (skew, skew_reply) = {
            let i = conn.inner.lock();
            (i.seq_skew, i.skew_reply)
        };
        if rewrite && skew != 0 {
            let d = pkt.data_mut();
            let c0 = be16(d, l4 + 16);
            if reply == skew_reply {
                let s = be32(d, l4 + 4);
                let n = s.wrapping_add(skew as u32);
                d[l4 + 4..l4 + 8].copy_from_slice(&n.to_be_bytes());
                let c = csum::csum_update32(c0, s, n);
                d[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
            } else if flags & 0x10 != 0 {
                let a = be32(d, l4 + 8);
                let n = a.wrapping_sub(skew as u32);
                d[l4 + 8..l4 + 12].copy_from_slice(&n.to_be_bytes());
                let c = csum::csum_update32(c0, a, n);
                d[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
            }
        }
        if pay >= end {
            return true;
        }
        let Some(m) = parse_ftp(&pkt.data()[pay..end], reply) else {
            return true;
        };
        let announced = m.addr.unwrap_or(pre.src);
        if m.addr.is_some() && (m.v6 != v6 || announced != pre.src) {
            return false;
        }
        let to_addr = post.src;
        if rewrite && to_addr != announced {
            if let Some((s, e)) = m.addr_span {
                let text = addr_text(to_addr, v6, m.commas);
                let delta = replace_bytes(pkt, l3, pay + s, e - s, text.as_bytes());
                end = (end as i64 + delta as i64) as usize;
                let d = pkt.data_mut();
                tcp_csum(d, l3, l4, end, v6);
                if delta != 0 {
                    let mut i = conn.inner.lock();
                    i.seq_skew = i.seq_skew.wrapping_add(delta);
                    i.skew_reply = reply;
                }
            }
        }
        let key = ExpKey {
            src: post.dst,
            dst: to_addr,
            dport: m.port,
            zone: conn.orig.zone,
            proto: ipproto::TCP,
            v6,
        };
        let dnat_to = (to_addr != announced).then_some((announced, m.port));
        let snat_to = (post.dst != pre.dst).then_some(pre.dst);
        self.expect(
            key,
            Expectation {
                parent: conn.clone(),
                dnat_to,
                snat_to,
            },
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ftp_messages() {
        let m = parse_ftp(b"PORT 10,1,1,1,4,1\r\n", false).unwrap();
        assert_eq!(m.addr, Some(0x0a01_0101));
        assert_eq!(m.port, 1025);
        assert_eq!(m.addr_span, Some((5, 13)));
        let m = parse_ftp(b"227 Entering Passive Mode (10,1,1,2,200,10).\r\n", true).unwrap();
        assert_eq!(m.addr, Some(0x0a01_0102));
        assert_eq!(m.port, 200 * 256 + 10);
        let m = parse_ftp(b"EPRT |2|fc00::1|5282|\r\n", false).unwrap();
        assert!(m.v6);
        assert_eq!(m.port, 5282);
        let m = parse_ftp(b"229 Entering Extended Passive Mode (|||6446|)\r\n", true).unwrap();
        assert_eq!(m.addr, None);
        assert_eq!(m.port, 6446);
        assert!(parse_ftp(b"PORT 10,1,1,1,4,1\r\n", true).is_none());
        assert!(parse_ftp(b"PORT 300,1,1,1,4,1\r\n", false).is_none());
        assert!(parse_ftp(b"USER anonymous\r\n", false).is_none());
    }
}
