//! IP fragment reassembly for conntrack (OVS `lib/ipf.c`; RFC 791 section
//! 3.2 for IPv4, RFC 8200 section 4.5 for IPv6).
//!
//! Conntrack can only track whole L4 datagrams, so fragments are held here
//! per (zone, recirc_id, src, dst, protocol, identification) until a list is
//! complete. The reassembled packet then runs through conntrack, and — as in
//! OVS — it is *not* forwarded: the original fragments are, each carrying
//! the reassembled packet's conntrack metadata, its (possibly NATed) IP
//! addresses and, for the first fragment, its rewritten L4 header and data
//! (`ipf_post_execute_reass_pkts`). The datapath never re-fragments.
//!
//! Behaviour and limits follow OVS:
//!
//! * A fragment other than the last whose IP length (header included) is
//!   below the minimum (`ipf-set-min-frag`, default 1200 for IPv4, 1280 for
//!   IPv6, at least 400) is `+trk+inv` and counted "too small".
//! * A fragment overlapping or duplicating one already held is `+trk+inv`
//!   and counted "overlapped".
//! * At most `ipf-set-max-nfrags` fragments (default 1000, at most 5000) are
//!   held; beyond that, fragments are `+trk+inv` (not counted).
//! * A list not complete 15 s after its first fragment expires: its
//!   fragments are sent on, `+trk+inv`, with the next batch of the same zone
//!   that goes through conntrack ("expired"); 10 s later whatever is still
//!   held is dropped by [`crate::Conntrack::sweep`] ("purged").
//! * A complete list whose datagram would exceed 65535 bytes fails
//!   reassembly; its fragments are held until they expire.
//!
//! The held lists are behind one mutex (fragments are rare; OVS has one
//! `ipf_lock` too); the packet path only reads two atomics unless a packet
//! is a fragment.

use crate::key::{be16, be32};
use dp_core::csum;
use dp_core::packet::{DpPacket, OFS_NONE};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

/// OVS `IPF_V4_FRAG_SIZE_MIN_DEF`: default minimum IPv4 fragment size, bytes.
pub const DEFAULT_MIN_V4_FRAG: u32 = 1200;
/// OVS `IPF_V6_FRAG_SIZE_MIN_DEF`: default minimum IPv6 fragment size, bytes.
pub const DEFAULT_MIN_V6_FRAG: u32 = 1280;
/// OVS `IPF_V4_FRAG_SIZE_LBOUND` / `IPF_V6_FRAG_SIZE_LBOUND`: the smallest
/// minimum fragment size `ipf-set-min-frag` accepts, bytes.
pub const MIN_FRAG_LBOUND: u32 = 400;
/// OVS `IPF_MAX_FRAGS_DEFAULT`: default maximum number of held fragments.
pub const DEFAULT_MAX_NFRAGS: u32 = 1000;
/// OVS `IPF_NFRAG_UBOUND`: the largest `ipf-set-max-nfrags` value.
pub const MAX_NFRAGS_UBOUND: u32 = 5000;
/// OVS `IPF_FRAG_LIST_TIMEOUT`: a list expires this long after its first
/// fragment, ns.
pub const LIST_TIMEOUT_NS: u64 = 15_000_000_000;
/// OVS `IPF_FRAG_LIST_PURGE_TIME_ADJ`: an expired list still held this long
/// after expiry is purged, ns.
pub const PURGE_ADJ_NS: u64 = 10_000_000_000;

const V4_MAX_HDR: u32 = 60;
const MAX_IP_SIZE: usize = 65535;

/// Per-family counters and settings of [`IpfStatus`] (OVS
/// `struct ipf_proto_status`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct IpfProtoStatus {
    /// Reassembly enabled for this family.
    pub enabled: bool,
    /// Minimum size (IP header included) of a fragment other than the last.
    pub min_frag_size: u32,
    /// Fragments accepted into a list.
    pub nfrag_accepted: u64,
    /// Fragments sent on after their list completed.
    pub nfrag_completed_sent: u64,
    /// Fragments sent on (`+inv`) after their list expired.
    pub nfrag_expired_sent: u64,
    /// Fragments refused as smaller than `min_frag_size`.
    pub nfrag_too_small: u64,
    /// Fragments refused as overlapping or duplicate.
    pub nfrag_overlap: u64,
    /// Fragments dropped from stale lists.
    pub nfrag_purged: u64,
}

/// `dpctl/ipf-get-status` data (OVS `struct dpif_ipf_status`); format it
/// with [`crate::format::format_ipf_status`].
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct IpfStatus {
    /// IPv4.
    pub v4: IpfProtoStatus,
    /// IPv6.
    pub v6: IpfProtoStatus,
    /// Maximum number of held fragments.
    pub nfrag_max: u32,
    /// Fragments held now.
    pub nfrag: u32,
    /// One line per held list (OVS `ipf_dump_create`), for `-m`.
    pub lists: Vec<String>,
}

/// Errors of the `ipf-set-*` setters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IpfError {
    /// Minimum fragment size below [`MIN_FRAG_LBOUND`].
    MinFragTooSmall,
    /// Maximum fragments above [`MAX_NFRAGS_UBOUND`].
    MaxNfragsTooBig,
}

const C_ACCEPTED: usize = 0;
const C_COMPLETED: usize = 1;
const C_EXPIRED: usize = 2;
const C_TOO_SMALL: usize = 3;
const C_OVERLAP: usize = 4;
const C_PURGED: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct ListKey {
    src: u128,
    dst: u128,
    recirc_id: u32,
    id: u32,
    zone: u16,
    proto: u8,
    v6: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ListState {
    Other,
    First,
    Last,
    FirstLast,
    ReassFail,
}

impl ListState {
    fn name(self) -> &'static str {
        match self {
            ListState::Other => "other frag",
            ListState::First => "first frag",
            ListState::Last => "last frag",
            ListState::FirstLast => "first/last frag",
            ListState::ReassFail => "reassemble fail",
        }
    }
}

struct Frag {
    pkt: Box<DpPacket>,
    /// First and last payload byte offsets in the original datagram.
    start: u32,
    end: u32,
    /// Frame offset of the fragment's payload (after the fragment header
    /// for IPv6).
    payload: usize,
}

struct FragList {
    frags: Vec<Frag>,
    expiration: u64,
    state: ListState,
}

/// What a fragment is, as parsed by [`Ipf::classify`].
pub(crate) struct FragInfo {
    key: ListKey,
    start: u32,
    end: u32,
    payload: usize,
    first: bool,
    last: bool,
}

/// Outcome of [`Ipf::classify`].
pub(crate) enum Class {
    /// Not a fragment, or reassembly disabled for its family: conntrack
    /// handles it (fragments become `+inv`).
    NotFrag,
    /// A fragment that must be `+trk+inv` (too small, bad header).
    Invalid,
    /// A fragment to hold.
    Frag(FragInfo),
}

/// Outcome of [`Ipf::add`]. Packets stay boxed: they move between batches
/// (`PacketBatch` holds boxes) without copying.
#[allow(clippy::vec_box)]
pub(crate) enum Added {
    /// Held.
    Held,
    /// Not held (overlap, limits, list failed): mark `+trk+inv` and send on.
    Rejected(Box<DpPacket>),
    /// The list is complete: the reassembled packet and the fragments.
    Complete(Box<DpPacket>, Vec<Box<DpPacket>>, bool),
}

/// The fragment reassembler of one [`crate::Conntrack`].
pub(crate) struct Ipf {
    v4_enabled: AtomicBool,
    v6_enabled: AtomicBool,
    min_v4: AtomicU32,
    min_v6: AtomicU32,
    nfrag_max: AtomicU32,
    nfrag: AtomicU32,
    /// Earliest expiration of a held list (ns), `u64::MAX` if none.
    next_expiry: AtomicU64,
    counters: [[AtomicU64; 6]; 2],
    lists: Mutex<HashMap<ListKey, FragList>>,
}

impl Default for Ipf {
    fn default() -> Self {
        Ipf {
            v4_enabled: AtomicBool::new(true),
            v6_enabled: AtomicBool::new(true),
            min_v4: AtomicU32::new(DEFAULT_MIN_V4_FRAG),
            min_v6: AtomicU32::new(DEFAULT_MIN_V6_FRAG),
            nfrag_max: AtomicU32::new(DEFAULT_MAX_NFRAGS),
            nfrag: AtomicU32::new(0),
            next_expiry: AtomicU64::new(u64::MAX),
            counters: Default::default(),
            lists: Mutex::new(HashMap::new()),
        }
    }
}

/// Walks IPv6 extension headers from the fixed header at `l3`; returns the
/// frame offset of the fragment header and the offset of the "next header"
/// byte that names it.
fn find_v6_frag_hdr(d: &[u8], l3: usize, end: usize) -> Option<(usize, usize)> {
    let mut nh = *d.get(l3 + 6)?;
    let mut nh_at = l3 + 6;
    let mut ofs = l3 + 40;
    loop {
        match nh {
            0 | 43 | 60 => {
                if ofs + 8 > end {
                    return None;
                }
                nh = d[ofs];
                nh_at = ofs;
                ofs += (d[ofs + 1] as usize + 1) * 8;
            }
            51 => {
                if ofs + 8 > end {
                    return None;
                }
                nh = d[ofs];
                nh_at = ofs;
                ofs += (d[ofs + 1] as usize + 2) * 4;
            }
            44 => {
                return (ofs + 8 <= end).then_some((ofs, nh_at));
            }
            _ => return None,
        }
    }
}

impl Ipf {
    fn count(&self, v6: bool, c: usize) {
        self.counters[v6 as usize][c].fetch_add(1, Relaxed);
    }

    /// Whether reassembly is enabled for IPv4 and IPv6.
    pub(crate) fn enabled(&self) -> (bool, bool) {
        (self.v4_enabled.load(Relaxed), self.v6_enabled.load(Relaxed))
    }

    /// True when held lists may have expired at `now`.
    #[inline]
    pub(crate) fn expiry_due(&self, now: u64) -> bool {
        self.next_expiry.load(Relaxed) <= now
    }

    pub(crate) fn set_enabled(&self, v6: bool, on: bool) {
        if v6 {
            self.v6_enabled.store(on, Relaxed)
        } else {
            self.v4_enabled.store(on, Relaxed)
        }
    }

    pub(crate) fn set_min_frag(&self, v6: bool, v: u32) -> Result<(), IpfError> {
        if v < MIN_FRAG_LBOUND {
            return Err(IpfError::MinFragTooSmall);
        }
        if v6 {
            self.min_v6.store(v, Relaxed)
        } else {
            self.min_v4.store(v, Relaxed)
        }
        Ok(())
    }

    pub(crate) fn set_max_nfrags(&self, v: u32) -> Result<(), IpfError> {
        if v > MAX_NFRAGS_UBOUND {
            return Err(IpfError::MaxNfragsTooBig);
        }
        self.nfrag_max.store(v, Relaxed);
        Ok(())
    }

    pub(crate) fn status(&self, with_lists: bool) -> IpfStatus {
        let proto = |v6: bool| {
            let c = &self.counters[v6 as usize];
            IpfProtoStatus {
                enabled: if v6 {
                    self.v6_enabled.load(Relaxed)
                } else {
                    self.v4_enabled.load(Relaxed)
                },
                min_frag_size: if v6 {
                    self.min_v6.load(Relaxed)
                } else {
                    self.min_v4.load(Relaxed)
                },
                nfrag_accepted: c[C_ACCEPTED].load(Relaxed),
                nfrag_completed_sent: c[C_COMPLETED].load(Relaxed),
                nfrag_expired_sent: c[C_EXPIRED].load(Relaxed),
                nfrag_too_small: c[C_TOO_SMALL].load(Relaxed),
                nfrag_overlap: c[C_OVERLAP].load(Relaxed),
                nfrag_purged: c[C_PURGED].load(Relaxed),
            }
        };
        let mut lists = Vec::new();
        if with_lists {
            for (k, l) in self.lists.lock().iter() {
                let (s, d) = (
                    crate::key::to_ip(k.src, k.v6),
                    crate::key::to_ip(k.dst, k.v6),
                );
                lists.push(format!(
                    "(src={s},dst={d},recirc_id={},ip_id={},dl_type={:#x},zone={},nw_proto={},num_fragments={},state={})",
                    k.recirc_id,
                    k.id,
                    if k.v6 { 0x86dd } else { 0x0800 },
                    k.zone,
                    k.proto,
                    l.frags.len(),
                    l.state.name()
                ));
            }
        }
        IpfStatus {
            v4: proto(false),
            v6: proto(true),
            nfrag_max: self.nfrag_max.load(Relaxed),
            nfrag: self.nfrag.load(Relaxed),
            lists,
        }
    }

    /// Classifies a packet (OVS `ipf_is_valid_v4_frag` /
    /// `ipf_is_valid_v6_frag` + key extraction). `en` is the (v4, v6)
    /// enabled snapshot of this batch.
    pub(crate) fn classify(&self, pkt: &DpPacket, zone: u16, en: (bool, bool)) -> Class {
        if pkt.l3_ofs == OFS_NONE {
            return Class::NotFrag;
        }
        let l3 = pkt.l3_ofs as usize;
        let d = pkt.data();
        let Some(&vb) = d.get(l3) else {
            return Class::NotFrag;
        };
        match vb >> 4 {
            4 if en.0 => {
                if d.len() < l3 + 20 {
                    return Class::NotFrag;
                }
                let fo = be16(d, l3 + 6);
                if fo & 0x3fff == 0 {
                    return Class::NotFrag;
                }
                let ihl = (d[l3] & 0xf) as usize * 4;
                let tot = be16(d, l3 + 2) as usize;
                if ihl < 20 || tot < ihl || l3 + tot > d.len() {
                    return Class::Invalid;
                }
                if csum::checksum(&d[l3..l3 + ihl]) != 0 {
                    return Class::Invalid;
                }
                let more = fo & 0x2000 != 0;
                let off = (fo & 0x1fff) as u32 * 8;
                if more && (tot as u32) < self.min_v4.load(Relaxed) {
                    self.count(false, C_TOO_SMALL);
                    return Class::Invalid;
                }
                if tot == ihl {
                    return Class::Invalid;
                }
                Class::Frag(FragInfo {
                    key: ListKey {
                        src: be32(d, l3 + 12) as u128,
                        dst: be32(d, l3 + 16) as u128,
                        recirc_id: pkt.md.recirc_id,
                        id: be16(d, l3 + 4) as u32,
                        zone,
                        proto: d[l3 + 9],
                        v6: false,
                    },
                    start: off,
                    end: off + (tot - ihl) as u32 - 1,
                    payload: l3 + ihl,
                    first: off == 0 && more,
                    last: off != 0 && !more,
                })
            }
            6 if en.1 => {
                if d.len() < l3 + 40 {
                    return Class::NotFrag;
                }
                let end = l3 + 40 + be16(d, l3 + 4) as usize;
                let Some((fh, _)) = find_v6_frag_hdr(d, l3, end.min(d.len())) else {
                    return Class::NotFrag;
                };
                if end > d.len() {
                    return Class::Invalid;
                }
                let offlg = be16(d, fh + 2);
                let more = offlg & 1 != 0;
                let off = (offlg & 0xfff8) as u32;
                if !more && off == 0 {
                    // Atomic fragment (RFC 6946): a whole datagram.
                    return Class::NotFrag;
                }
                if more && ((end - l3) as u32) < self.min_v6.load(Relaxed) {
                    self.count(true, C_TOO_SMALL);
                    return Class::Invalid;
                }
                let payload = fh + 8;
                if end <= payload {
                    return Class::Invalid;
                }
                Class::Frag(FragInfo {
                    key: ListKey {
                        src: crate::key::be128(d, l3 + 8),
                        dst: crate::key::be128(d, l3 + 24),
                        recirc_id: pkt.md.recirc_id,
                        id: be32(d, fh + 4),
                        zone,
                        proto: 0,
                        v6: true,
                    },
                    start: off,
                    end: off + (end - payload) as u32 - 1,
                    payload,
                    first: off == 0 && more,
                    last: off != 0 && !more,
                })
            }
            _ => Class::NotFrag,
        }
    }

    /// Holds fragment `pkt` (OVS `ipf_handle_frag`); reassembles when its
    /// list completes.
    pub(crate) fn add(&self, pkt: Box<DpPacket>, fi: FragInfo, now: u64) -> Added {
        let v6 = fi.key.v6;
        if self.nfrag.load(Relaxed) >= self.nfrag_max.load(Relaxed) {
            return Added::Rejected(pkt);
        }
        let max_list = if v6 {
            65535
        } else {
            let min = self.min_v4.load(Relaxed).max(MIN_FRAG_LBOUND);
            ((MAX_IP_SIZE as u32 - V4_MAX_HDR).div_ceil(min - V4_MAX_HDR)) as usize
        };
        let mut lists = self.lists.lock();
        let list = lists.entry(fi.key).or_insert_with(|| {
            let exp = now + LIST_TIMEOUT_NS;
            self.next_expiry.fetch_min(exp, Relaxed);
            FragList {
                frags: Vec::with_capacity(4),
                expiration: exp,
                state: ListState::Other,
            }
        });
        if list.state == ListState::ReassFail || list.frags.len() >= max_list {
            return Added::Rejected(pkt);
        }
        if list
            .frags
            .iter()
            .any(|f| fi.start <= f.end && fi.end >= f.start)
        {
            self.count(v6, C_OVERLAP);
            return Added::Rejected(pkt);
        }
        list.frags.push(Frag {
            pkt,
            start: fi.start,
            end: fi.end,
            payload: fi.payload,
        });
        self.nfrag.fetch_add(1, Relaxed);
        self.count(v6, C_ACCEPTED);
        list.state = match (list.state, fi.first, fi.last) {
            (ListState::Other, true, _) => ListState::First,
            (ListState::Other, _, true) => ListState::Last,
            (ListState::First, _, true) | (ListState::Last, true, _) => ListState::FirstLast,
            (s, _, _) => s,
        };
        if list.state != ListState::FirstLast {
            return Added::Held;
        }
        list.frags.sort_by_key(|f| f.start);
        let contiguous =
            list.frags[0].start == 0 && list.frags.windows(2).all(|w| w[0].end + 1 == w[1].start);
        if !contiguous {
            return Added::Held;
        }
        match reassemble(&list.frags, v6) {
            Some(r) => {
                let l = lists.remove(&fi.key).expect("list present");
                self.nfrag.fetch_sub(l.frags.len() as u32, Relaxed);
                let frags = l.frags.into_iter().map(|f| f.pkt).collect();
                Added::Complete(Box::new(r), frags, v6)
            }
            None => {
                list.state = ListState::ReassFail;
                Added::Held
            }
        }
    }

    /// Counts `n` fragments sent after completion.
    pub(crate) fn count_completed(&self, v6: bool, n: usize) {
        self.counters[v6 as usize][C_COMPLETED].fetch_add(n as u64, Relaxed);
    }

    /// Removes at most one list of `zone` expired at `now` and returns its
    /// fragments (OVS `ipf_send_expired_frags`, `IPF_FRAG_LIST_MAX_EXPIRED`
    /// = 1); the caller marks them `+trk+inv`.
    #[allow(clippy::vec_box)] // moved into a PacketBatch as is
    pub(crate) fn take_expired(&self, zone: u16, now: u64) -> Vec<Box<DpPacket>> {
        let mut lists = self.lists.lock();
        let key = lists
            .iter()
            .find(|(k, l)| k.zone == zone && l.expiration <= now)
            .map(|(k, _)| *k);
        let out = match key.and_then(|k| lists.remove(&k).map(|l| (k, l))) {
            Some((k, l)) => {
                let v6 = k.v6;
                self.nfrag.fetch_sub(l.frags.len() as u32, Relaxed);
                self.counters[v6 as usize][C_EXPIRED].fetch_add(l.frags.len() as u64, Relaxed);
                l.frags.into_iter().map(|f| f.pkt).collect()
            }
            None => Vec::new(),
        };
        self.recompute_expiry(&lists);
        out
    }

    fn recompute_expiry(&self, lists: &HashMap<ListKey, FragList>) {
        let m = lists
            .values()
            .map(|l| l.expiration)
            .min()
            .unwrap_or(u64::MAX);
        self.next_expiry.store(m, Relaxed);
    }

    /// Drops lists expired more than [`PURGE_ADJ_NS`] ago (OVS
    /// `ipf_clean_thread_main` / `ipf_purge_list_check`). Returns the number
    /// of fragments dropped.
    pub(crate) fn purge(&self, now: u64) -> usize {
        if self.next_expiry.load(Relaxed).saturating_add(PURGE_ADJ_NS) > now {
            return 0;
        }
        let mut lists = self.lists.lock();
        let mut n = 0;
        lists.retain(|k, l| {
            if l.expiration + PURGE_ADJ_NS <= now {
                n += l.frags.len();
                self.nfrag.fetch_sub(l.frags.len() as u32, Relaxed);
                self.counters[k.v6 as usize][C_PURGED].fetch_add(l.frags.len() as u64, Relaxed);
                false
            } else {
                true
            }
        });
        self.recompute_expiry(&lists);
        n
    }
}

/// Builds the datagram of a sorted, complete list (OVS
/// `ipf_reassemble_v4_frags` / `ipf_reassemble_v6_frags`): the first
/// fragment's headers, every payload, MF/offset cleared; for IPv6 the
/// fragment header is removed. `None` if it would exceed 65535 bytes.
fn reassemble(frags: &[Frag], v6: bool) -> Option<DpPacket> {
    let f0 = &frags[0];
    let d0 = f0.pkt.data();
    let l3 = f0.pkt.l3_ofs as usize;
    let total_payload: usize = frags.iter().map(|f| (f.end - f.start + 1) as usize).sum();
    let mut out: Vec<u8>;
    if v6 {
        let (fh, nh_at) = find_v6_frag_hdr(d0, l3, d0.len())?;
        let plen = fh - (l3 + 40) + total_payload;
        if plen > MAX_IP_SIZE {
            return None;
        }
        out = Vec::with_capacity(fh + total_payload);
        out.extend_from_slice(&d0[..fh]);
        out[nh_at] = d0[fh];
        out[l3 + 4..l3 + 6].copy_from_slice(&(plen as u16).to_be_bytes());
    } else {
        let ihl = f0.payload - l3;
        let tot = ihl + total_payload;
        if tot > MAX_IP_SIZE {
            return None;
        }
        out = Vec::with_capacity(f0.payload + total_payload);
        out.extend_from_slice(&d0[..f0.payload]);
        let fo = be16(&out, l3 + 6) & 0x4000; // keep DF
        out[l3 + 2..l3 + 4].copy_from_slice(&(tot as u16).to_be_bytes());
        out[l3 + 6..l3 + 8].copy_from_slice(&fo.to_be_bytes());
        out[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let c = csum::ipv4_header_checksum(&out[l3..l3 + ihl]);
        out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    let payload_ofs = out.len();
    for f in frags {
        let d = f.pkt.data();
        let n = (f.end - f.start + 1) as usize;
        out.extend_from_slice(&d[f.payload..f.payload + n]);
    }
    let mut p = DpPacket::from_slice(&out);
    p.md = f0.pkt.md.clone();
    p.l2_5_ofs = f0.pkt.l2_5_ofs;
    p.l3_ofs = f0.pkt.l3_ofs;
    p.l4_ofs = payload_ofs as u16;
    Some(p)
}

/// Gives every fragment the reassembled packet's conntrack metadata and
/// addresses, and the first fragment its (possibly rewritten) L4 bytes
/// (OVS `ipf_post_execute_reass_pkts`).
pub(crate) fn post_execute(reass: &DpPacket, frags: &mut [Box<DpPacket>], v6: bool) {
    let rd = reass.data();
    let rl3 = reass.l3_ofs as usize;
    for (i, f) in frags.iter_mut().enumerate() {
        f.md.ct_state = reass.md.ct_state;
        f.md.ct_zone = reass.md.ct_zone;
        f.md.ct_mark = reass.md.ct_mark;
        f.md.ct_label = reass.md.ct_label;
        f.md.ct_orig = reass.md.ct_orig;
        let l3 = f.l3_ofs as usize;
        let d = f.data_mut();
        if v6 {
            d[l3 + 8..l3 + 40].copy_from_slice(&rd[rl3 + 8..rl3 + 40]);
        } else {
            let mut c = be16(d, l3 + 10);
            for o in [12, 16] {
                c = csum::csum_update32(c, be32(d, l3 + o), be32(rd, rl3 + o));
            }
            d[l3 + 12..l3 + 20].copy_from_slice(&rd[rl3 + 12..rl3 + 20]);
            d[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        if i == 0 {
            // Reassembled L4 starts where the first fragment's payload
            // starts (IPv4), or 8 bytes earlier (IPv6: no fragment header).
            let (fp, rp) = if v6 {
                let (fh, _) = find_v6_frag_hdr(d, l3, d.len()).expect("checked fragment");
                (fh + 8, fh)
            } else {
                let ihl = (d[l3] & 0xf) as usize * 4;
                (l3 + ihl, rl3 + ihl)
            };
            let tot_end = if v6 {
                l3 + 40 + be16(d, l3 + 4) as usize
            } else {
                l3 + be16(d, l3 + 2) as usize
            };
            let n = tot_end.saturating_sub(fp).min(rd.len().saturating_sub(rp));
            d[fp..fp + n].copy_from_slice(&rd[rp..rp + n]);
        }
    }
}
