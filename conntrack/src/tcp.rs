//! TCP connection tracking (OVS `lib/conntrack-tcp.c`, itself OpenBSD pf's
//! state engine, `pf.c` 1.634): each peer keeps its own RFC 793/9293-style
//! state plus the sequence window it may send in, following Guido van
//! Rooij's "Real Stateful TCP Packet Filtering in IP Filter":
//!
//! * a segment is in window if its last octet is below what the receiver
//!   acknowledged plus its window (`seqhi`), it starts no more than one
//!   window back (retransmission), and its ACK is within one max window
//!   (`MAXACKWINDOW`) of what the other side sent;
//! * RSTs must carry the exact expected sequence number (or +-1);
//! * illegal flag combinations (SYN+RST, SYN+FIN, no ACK/RST/SYN, FIN/PSH/URG
//!   without ACK) are `+inv` (pf `pf_normalize_tcp`);
//! * a SYN+ACK cannot create a connection; a mid-stream segment can (pick
//!   up after a restart), with unknown window scaling;
//! * with sequence checking off ([`crate::Conntrack::set_tcp_seq_chk`],
//!   OVS `ct-disable-tcp-seq-chk`, netfilter's `tcp_be_liberal`) the window
//!   test always passes; flag checks remain.

use crate::key::{be16, be32};
use crate::proto::{L4Protocol, Update, UpdateResult};
use crate::tp::TpAttr;

/// Per-peer TCP states (OVS `enum ct_dpif_tcp_state`, BSD `TCPS_*`); the
/// order matters (comparisons).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum TcpState {
    /// `CLOSED`
    Closed = 0,
    /// `LISTEN`
    Listen,
    /// `SYN_SENT`
    SynSent,
    /// `SYN_RECV`
    SynRecv,
    /// `ESTABLISHED`
    Established,
    /// `CLOSE_WAIT`
    CloseWait,
    /// `FIN_WAIT_1`
    FinWait1,
    /// `CLOSING`
    Closing,
    /// `LAST_ACK`
    LastAck,
    /// `FIN_WAIT_2`
    FinWait2,
    /// `TIME_WAIT`
    TimeWait,
}

/// Names of [`TcpState`] as OVS prints them (`ct_dpif_tcp_state_string`).
pub const TCP_STATE_NAMES: [&str; 11] = [
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "CLOSE_WAIT",
    "FIN_WAIT_1",
    "CLOSING",
    "LAST_ACK",
    "FIN_WAIT_2",
    "TIME_WAIT",
];

impl TcpState {
    /// OVS name, e.g. `ESTABLISHED`.
    pub fn name(self) -> &'static str {
        TCP_STATE_NAMES[self as usize]
    }
}

const TCP_FIN: u16 = 0x01;
const TCP_SYN: u16 = 0x02;
const TCP_RST: u16 = 0x04;
const TCP_PSH: u16 = 0x08;
const TCP_ACK: u16 = 0x10;
const TCP_URG: u16 = 0x20;

const TCP_MAX_WSCALE: u8 = 14;
/// `wscale` flag: the peer sent a window scale option.
pub(crate) const WSCALE_FLAG: u8 = 0x80;
/// `wscale` flag: picked up mid-stream, scale unknown.
pub(crate) const WSCALE_UNKNOWN: u8 = 0x40;
const WSCALE_MASK: u8 = 0xf;
/// One max window plus a fudge factor (pf).
const MAXACKWINDOW: i32 = 0xffff + 1500;

/// One side of a TCP connection (OVS `struct tcp_peer`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcpPeer {
    /// Highest sequence number sent + 1.
    pub seqlo: u32,
    /// Highest sequence number the other side acknowledged plus its window.
    pub seqhi: u32,
    /// Largest window advertised (unscaled).
    pub max_win: u16,
    /// Window scale shift, with [`WSCALE_FLAG`]/[`WSCALE_UNKNOWN`] bits.
    pub wscale: u8,
    /// State.
    pub state: TcpState,
}

/// State of a TCP connection: `peer[0]` sent the first packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcpConn {
    /// Original (0) and reply (1) peers.
    pub peer: [TcpPeer; 2],
}

/// TCP tracker.
pub struct Tcp;

#[inline]
fn seq_geq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

#[inline]
fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Flags (low 12 bits of the offset/flags half-word).
#[inline]
pub(crate) fn tcp_flags(l4: &[u8]) -> u16 {
    be16(l4, 12) & 0x0fff
}

fn invalid_flags(f: u16) -> bool {
    if f & TCP_SYN != 0 {
        if f & (TCP_RST | TCP_FIN) != 0 {
            return true;
        }
    } else if f & (TCP_ACK | TCP_RST) == 0 {
        return true;
    }
    f & TCP_ACK == 0 && f & (TCP_FIN | TCP_PSH | TCP_URG) != 0
}

/// Window scale option of a SYN (RFC 7323 section 2), with [`WSCALE_FLAG`]
/// if present; 0 if absent.
fn get_wscale(l4: &[u8]) -> u8 {
    let doff = (l4[12] >> 4) as usize * 4;
    let mut opt = &l4[20..doff.min(l4.len())];
    let mut ws = 0;
    while opt.len() >= 3 {
        match opt[0] {
            0 => return ws,
            1 => opt = &opt[1..],
            k => {
                if k == 3 {
                    ws = opt[2].min(TCP_MAX_WSCALE) | WSCALE_FLAG;
                }
                let len = (opt[1] as usize).max(2);
                if len >= opt.len() {
                    break;
                }
                opt = &opt[len..];
            }
        }
    }
    ws
}

fn payload_len(l4: &[u8]) -> u32 {
    (l4.len() - (l4[12] >> 4) as usize * 4) as u32
}

fn expiration_class(src: &TcpPeer, dst: &TcpPeer) -> TpAttr {
    use TcpState::*;
    if src.state >= FinWait2 && dst.state >= FinWait2 {
        TpAttr::TcpClose
    } else if src.state >= Closing && dst.state >= Closing {
        TpAttr::TcpTimeWait
    } else if src.state < Established || dst.state < Established {
        TpAttr::TcpSynRecv
    } else if src.state >= Closing || dst.state >= Closing {
        TpAttr::TcpFinWait
    } else {
        TpAttr::TcpEstablished
    }
}

impl L4Protocol for Tcp {
    type State = TcpConn;

    fn valid_new(l4: &[u8]) -> bool {
        let f = tcp_flags(l4);
        // A SYN+ACK may not open a connection: only new (SYN) or
        // already-established (picked up) ones.
        !(invalid_flags(f) || (f & TCP_SYN != 0 && f & TCP_ACK != 0))
    }

    fn new_conn(l4: &[u8]) -> (TcpConn, TpAttr) {
        let f = tcp_flags(l4);
        let mut src = TcpPeer {
            seqlo: be32(l4, 4),
            seqhi: 0,
            max_win: 0,
            wscale: 0,
            state: TcpState::SynSent,
        };
        let mut dst = TcpPeer {
            seqlo: 0,
            seqhi: 1,
            max_win: 1,
            wscale: 0,
            state: TcpState::Closed,
        };
        src.seqhi = src.seqlo.wrapping_add(payload_len(l4)).wrapping_add(1);
        if f & TCP_SYN != 0 {
            src.seqhi = src.seqhi.wrapping_add(1);
            src.wscale = get_wscale(l4);
        } else {
            src.wscale = WSCALE_UNKNOWN;
            dst.wscale = WSCALE_UNKNOWN;
        }
        src.max_win = be16(l4, 14).max(1);
        if src.wscale & WSCALE_MASK != 0 {
            let sws = src.wscale & WSCALE_MASK;
            src.max_win = (src.max_win as u32).div_ceil(1 << sws) as u16;
        }
        if f & TCP_FIN != 0 {
            src.seqhi = src.seqhi.wrapping_add(1);
        }
        (TcpConn { peer: [src, dst] }, TpAttr::TcpSynSent)
    }

    fn update(c: &mut TcpConn, l4: &[u8], reply: bool, seq_chk: bool) -> Update {
        use TcpState::*;
        let invalid = Update {
            result: UpdateResult::Invalid,
            timeout: None,
        };
        let f = tcp_flags(l4);
        if invalid_flags(f) {
            return invalid;
        }
        let (si, di) = if reply { (1, 0) } else { (0, 1) };
        let [p0, p1] = &mut c.peer;
        let (src, dst) = if si == 0 { (p0, p1) } else { (p1, p0) };

        if f & (TCP_SYN | TCP_ACK) == TCP_SYN {
            if dst.state >= FinWait2 && src.state >= FinWait2 {
                src.state = Closed;
                dst.state = Closed;
                return Update {
                    result: UpdateResult::New,
                    timeout: None,
                };
            } else if src.state <= SynSent {
                src.state = SynSent;
                return Update {
                    result: UpdateResult::ValidNew,
                    timeout: Some(TpAttr::TcpSynSent),
                };
            }
        }
        let _ = di;

        let (mut sws, mut dws) = (0u32, 0u32);
        if src.wscale & WSCALE_FLAG != 0 && dst.wscale & WSCALE_FLAG != 0 && f & TCP_SYN == 0 {
            sws = (src.wscale & WSCALE_MASK) as u32;
            dws = (dst.wscale & WSCALE_MASK) as u32;
        } else if src.wscale & WSCALE_UNKNOWN != 0
            && dst.wscale & WSCALE_UNKNOWN != 0
            && f & TCP_SYN == 0
        {
            sws = TCP_MAX_WSCALE as u32;
            dws = TCP_MAX_WSCALE as u32;
        }

        let mut win = be16(l4, 14) as u32;
        let p_len = payload_len(l4);
        let orig_seq = be32(l4, 4);
        let mut seq = orig_seq;
        let mut ack = be32(l4, 8);
        let mut end;
        let mut check_ackskew = true;
        if src.state < SynSent {
            // First packet from this end.
            end = seq.wrapping_add(p_len);
            if f & TCP_SYN != 0 {
                end = end.wrapping_add(1);
                if dst.wscale & WSCALE_FLAG != 0 {
                    src.wscale = get_wscale(l4);
                    if src.wscale & WSCALE_FLAG != 0 {
                        sws = (src.wscale & WSCALE_MASK) as u32;
                        win = win.div_ceil(1 << sws);
                        dws = (dst.wscale & WSCALE_MASK) as u32;
                    } else {
                        // Fix up the other window; retransmitted SYN|ACK.
                        dst.max_win = ((dst.max_win as u32) << (dst.wscale & WSCALE_MASK)) as u16;
                        dst.wscale = 0;
                    }
                }
            }
            if f & TCP_FIN != 0 {
                end = end.wrapping_add(1);
            }
            src.seqlo = seq;
            src.state = SynSent;
            // Slide the window if seqhi was set by a pickup.
            let lim = end.wrapping_add(((dst.max_win as u32) << dws).max(1));
            if src.seqhi == 1 || seq_geq(lim, src.seqhi) {
                src.seqhi = lim;
                check_ackskew = false;
            }
            if win > src.max_win as u32 {
                src.max_win = win.min(0xffff) as u16;
            }
        } else {
            end = seq.wrapping_add(p_len);
            if f & TCP_SYN != 0 {
                end = end.wrapping_add(1);
            }
            if f & TCP_FIN != 0 {
                end = end.wrapping_add(1);
            }
        }

        if f & TCP_ACK == 0 || (ack == 0 && f & (TCP_ACK | TCP_RST) == (TCP_ACK | TCP_RST)) {
            // No ACK to check; broken stacks send RST|ACK with ack 0.
            ack = dst.seqlo;
        }
        if seq == end {
            // Ease sequencing restrictions on no-data packets.
            seq = src.seqlo;
            end = seq;
        }

        let ackskew: i32 = if check_ackskew {
            dst.seqlo.wrapping_sub(ack) as i32
        } else {
            0
        };
        let in_window = seq_geq(src.seqhi, end)
            && seq_geq(seq, src.seqlo.wrapping_sub((dst.max_win as u32) << dws))
            && ackskew >= -MAXACKWINDOW
            && ackskew <= (MAXACKWINDOW << sws)
            && (f & TCP_RST == 0
                || orig_seq == src.seqlo
                || orig_seq == src.seqlo.wrapping_add(1)
                || orig_seq.wrapping_add(1) == src.seqlo);

        let slide = |src: &mut TcpPeer, dst: &mut TcpPeer| {
            if (src.max_win as u32) < win {
                src.max_win = win.min(0xffff) as u16;
            }
            if seq_gt(end, src.seqlo) {
                src.seqlo = end;
            }
            let w = win << sws;
            if seq_geq(ack.wrapping_add(w), dst.seqhi) {
                dst.seqhi = ack.wrapping_add(w.max(1));
            }
        };

        if in_window || !seq_chk {
            slide(src, dst);
            if f & TCP_SYN != 0 && src.state < SynSent {
                src.state = SynSent;
            }
            if f & TCP_FIN != 0 && src.state < Closing {
                src.state = Closing;
            }
            if f & TCP_ACK != 0 {
                if dst.state == SynSent {
                    dst.state = Established;
                } else if dst.state == Closing {
                    dst.state = FinWait2;
                }
            }
            if f & TCP_RST != 0 {
                src.state = TimeWait;
                dst.state = TimeWait;
            }
            Update {
                result: UpdateResult::Valid,
                timeout: Some(expiration_class(src, dst)),
            }
        } else if (dst.state < SynSent || dst.state >= FinWait2 || src.state >= FinWait2)
            && seq_geq(src.seqhi.wrapping_add(MAXACKWINDOW as u32), end)
            && seq_geq(seq, src.seqlo.wrapping_sub(MAXACKWINDOW as u32))
        {
            // Shotgunned SYNs, picked-up streams, packets right after
            // close: accepted, but the timeout is not refreshed (floods).
            slide(src, dst);
            if f & TCP_FIN != 0 && src.state < Closing {
                src.state = Closing;
            }
            if f & TCP_RST != 0 {
                src.state = TimeWait;
                dst.state = TimeWait;
            }
            Update {
                result: UpdateResult::Valid,
                timeout: None,
            }
        } else {
            invalid
        }
    }
}

/// OVS `CT_DPIF_TCPF_WINDOW_SCALE`.
pub const TCPF_WINDOW_SCALE: u8 = 1 << 0;
/// OVS `CT_DPIF_TCPF_BE_LIBERAL`.
pub const TCPF_BE_LIBERAL: u8 = 1 << 3;

/// Protoinfo flags of a peer (OVS `tcp_peer_to_protoinfo_flags`).
pub(crate) fn peer_flags(p: &TcpPeer) -> u8 {
    let mut r = 0;
    if p.wscale & WSCALE_FLAG != 0 {
        r |= TCPF_WINDOW_SCALE;
    }
    if p.wscale & WSCALE_UNKNOWN != 0 {
        r |= TCPF_BE_LIBERAL;
    }
    r
}

/// Window scale shift of a peer, as dumped.
pub(crate) fn peer_wscale(p: &TcpPeer) -> u8 {
    p.wscale & WSCALE_MASK
}
