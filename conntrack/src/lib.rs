//! # conntrack: userspace connection tracking for rvs
//!
//! Serves the datapath `ct` action ([`dp_core::actions::CtAction`]): tracks
//! TCP, UDP, ICMP/ICMPv6 and other IP connections per zone, sets the
//! packet's `ct_state`/`ct_zone`/`ct_mark`/`ct_label`/`ct_orig`, commits
//! connections with marks and labels, applies SNAT/DNAT, enforces global and
//! per-zone connection limits, expires connections with per-zone timeout
//! policies, and prints OVS's `dpctl` conntrack formats ([`format`]).
//! Behaviour follows OVS's userspace conntrack (`lib/conntrack*.c`), which
//! follows Linux netfilter (and, for TCP, OpenBSD pf).
//!
//! The core is sans-IO: [`Conntrack::execute`] takes a batch, an action and
//! the current time in nanoseconds; nothing here reads a clock or spawns a
//! thread.
//!
//! ## Concurrency design: who touches what from which thread
//!
//! OVS's userspace tracker takes one global `ct_lock` to insert a
//! connection *and every time a connection's timeout changes* (to move it
//! between expiry lists), so PMD threads serialize on it. Here nothing on the
//! packet path is global:
//!
//! * **Table.** [`Config::n_shards`] shards (default 256), each a
//!   `parking_lot::RwLock<hashbrown::HashTable<Entry>>` on its own cache
//!   lines. A connection appears twice: under its original tuple and under
//!   its reply tuple (after NAT), each entry holding an `Arc<Conn>` and a
//!   direction bit. The shard is chosen by bits 32..40 of a seeded hash of
//!   the [`ConnKey`] (zone included); hashbrown uses the top 7 bits for its
//!   tags, so the two do not correlate.
//! * **PMD threads, established connection (fast path):** hash the key, take
//!   the shard's *read* lock, find the entry, take the connection's own
//!   small `parking_lot::Mutex` (protocol state, mark, label, counters), run
//!   the protocol update, store the new expiration into the connection's
//!   `AtomicU64`, release both. No global lock, no global atomic, no
//!   allocation, no `Arc` refcount traffic. Packet rewriting for NAT happens
//!   after the locks are released, from immutable fields of the connection
//!   (tuples and NAT bits never change after insertion).
//! * **PMD threads, new connection (commit):** reserve capacity with one
//!   `fetch_add` on the global connection count and one on the zone's count
//!   (lock-free arrays of 65536 `AtomicU32`s for zone limits and counts);
//!   choose the NAT tuple by probing shards with read locks; then take the
//!   write locks of the (at most two) shards holding the original and the
//!   reply tuple, always in shard-index order (no deadlock), re-check both
//!   tuples and insert. If another thread inserted the same tuple meanwhile,
//!   the reservation is returned and the packet is processed against the
//!   winner's connection; a NAT tuple taken meanwhile is re-chosen.
//! * **Expiry:** connections are never moved between lists. Each has an
//!   `expiration` (ns) that PMDs overwrite with a relaxed store. A lookup
//!   treats an expired or `dead` connection as absent, so expiry is exact
//!   even if the sweeper is late. A background thread calls
//!   [`Conntrack::sweep`] with a budget: it scans shards under their read
//!   locks (PMD lookups proceed), collects expired connections, marks them
//!   `dead` (an atomic swap: exactly one thread returns the connection's
//!   capacity to the global and zone counts), then removes their entries
//!   with one short write lock per affected shard. Entries are only removed
//!   when they point to the same `Arc` (`Arc::ptr_eq`), so a stale entry
//!   can never remove a newer connection with the same tuple.
//! * **Control threads** ([`Conntrack::flush`], [`Conntrack::dump`],
//!   limits, timeout policies, `tcp_seq_chk`): dumps take shard read locks
//!   one at a time; flushes behave like the sweeper. Timeout policies are
//!   `Arc<TimeoutPolicy>` of atomics: a connection keeps its policy `Arc`
//!   and reads it on each update, so policy changes apply at the next
//!   packet without locks; the zone -> policy map (an `RwLock`) is only read
//!   when a connection is created.
//!
//! Per-connection state is updated under the connection's mutex, so two
//! PMDs forwarding the two directions of one TCP connection serialize on
//! that connection only (as in OVS, which has a per-`conn` mutex too).
//!
//! ## Fragments and ALGs
//!
//! * IP fragments are reassembled by [`ipf`] inside [`Conntrack::execute`]
//!   (held fragments leave the batch; when a datagram is complete its
//!   fragments come back, carrying the reassembled packet's ct state).
//!   The packet path pays one header check per packet for it.
//! * FTP and TFTP ALGs ([`alg`]): `helper=ftp|tftp` at commit; data
//!   connections are `+rel` through an expectation table consulted on the
//!   new-connection path only when non-empty.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
pub mod format;
pub mod icmp;
pub mod ipf;
pub mod key;
mod nat;
pub mod other;
pub mod proto;
pub mod tcp;
pub mod tp;

pub use alg::Alg;
pub use format::{CtEntry, TcpProtoInfo};
pub use ipf::{IpfError, IpfProtoStatus, IpfStatus};
pub use key::ConnKey;
pub use tp::{TimeoutPolicy, TpAttr};

use dp_core::actions::CtAction;
use dp_core::flow::ct_state as cs;
use dp_core::packet::{CtOrigTuple, DpPacket, PacketBatch};
use hashbrown::HashTable;
use key::{ParseError, Parsed};
use parking_lot::{Mutex, RwLock};
use proto::{ProtoState, UpdateResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;

/// OVS's default `ct-set-maxconns` value.
pub const DEFAULT_MAX_CONNS: u32 = 3_000_000;

const N_ZONES: usize = 1 << 16;
const ZONE_LIMIT_UNSET: u32 = u32::MAX;

/// Construction parameters of a [`Conntrack`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of table shards; rounded up to a power of two, at least 1.
    pub n_shards: usize,
    /// Maximum number of connections (OVS `ct-set-maxconns`).
    pub max_conns: u32,
    /// Validate IPv4 header and L4 checksums (OVS does unless the NIC
    /// did); packets with bad checksums are `+inv`.
    pub verify_checksums: bool,
    /// TCP sequence checking (OVS `ct-enable-tcp-seq-chk`, default on);
    /// off is netfilter's `tcp_be_liberal`.
    pub tcp_seq_chk: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_shards: 256,
            max_conns: DEFAULT_MAX_CONNS,
            verify_checksums: true,
            tcp_seq_chk: true,
        }
    }
}

/// Result of a [`Conntrack::sweep`] call.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct SweepStats {
    /// Table entries examined.
    pub examined: usize,
    /// Connections expired and removed.
    pub removed: usize,
    /// True if this call went past the last shard (a full pass ended).
    pub wrapped: bool,
}

struct ConnInner {
    proto: ProtoState,
    mark: u32,
    label: u128,
    packets: [u64; 2],
    bytes: [u64; 2],
    /// FTP NAT: bytes added to the payload so far (OVS `seq_skew`) ...
    seq_skew: i32,
    /// ... in this direction (OVS `seq_skew_dir`).
    skew_reply: bool,
}

struct Conn {
    orig: ConnKey,
    reply: ConnKey,
    nat: u8,
    /// ALG of the connection (`helper=`).
    alg: Option<Alg>,
    /// For a data connection of an ALG: the parent's original tuple.
    parent: Option<ConnKey>,
    id: u32,
    tp: Arc<TimeoutPolicy>,
    expiration: AtomicU64,
    dead: AtomicBool,
    inner: Mutex<ConnInner>,
}

impl Conn {
    #[inline]
    fn alive(&self, now: u64) -> bool {
        !self.dead.load(Relaxed) && self.expiration.load(Relaxed) > now
    }
}

struct Entry {
    hash: u64,
    key: ConnKey,
    conn: Arc<Conn>,
    reply: bool,
}

#[repr(align(128))]
struct Shard {
    map: RwLock<HashTable<Entry>>,
}

/// The connection tracker. `Sync`: share one per datapath between PMD
/// threads, the sweeper thread and control threads (see the module doc).
pub struct Conntrack {
    shards: Box<[Shard]>,
    shard_mask: usize,
    seed: u64,
    n_conns: AtomicU32,
    max_conns: AtomicU32,
    default_zone_limit: AtomicU32,
    zone_limits: Box<[AtomicU32]>,
    zone_counts: Box<[AtomicU32]>,
    tcp_seq_chk: AtomicBool,
    verify: bool,
    default_tp: Arc<TimeoutPolicy>,
    policies: RwLock<HashMap<u32, Arc<TimeoutPolicy>>>,
    zone_tp: RwLock<HashMap<u16, u32>>,
    next_id: AtomicU32,
    sweep_cursor: Mutex<usize>,
    ipf: ipf::Ipf,
    expectations: RwLock<HashMap<alg::ExpKey, alg::Expectation>>,
    n_exp: AtomicUsize,
}

impl Default for Conntrack {
    fn default() -> Self {
        Conntrack::new(Config::default())
    }
}

/// What happened to a packet looked up as an existing connection.
enum Existing {
    Done,
    NotFound,
}

/// What happened on the new-connection path.
enum New {
    Done,
    Retry,
}

/// Outcome of a protocol update, carried out of the locks.
enum Upd {
    Invalid,
    Kill(Arc<Conn>),
    Ok {
        est: bool,
        mark: u32,
        label: u128,
        orig: ConnKey,
        rkey: ConnKey,
        nat: u8,
        /// `md.ct_orig` (the parent's tuple for ALG data connections).
        ct_orig: ConnKey,
        /// The connection, when it has an FTP ALG to run.
        ftp: Option<Arc<Conn>>,
    },
}

enum InsertErr {
    OrigExists,
    ReplyExists,
}

/// Sets the metadata of a packet that could not be tracked.
fn set_invalid(pkt: &mut DpPacket, zone: u16) {
    let md = &mut pkt.md;
    md.ct_state = cs::TRACKED | cs::INVALID;
    md.ct_zone = zone;
    md.ct_mark = 0;
    md.ct_label = 0;
    md.ct_orig = CtOrigTuple::None;
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

impl Conntrack {
    /// A tracker with `cfg`.
    pub fn new(cfg: Config) -> Conntrack {
        let n = cfg.n_shards.max(1).next_power_of_two();
        let shards = (0..n)
            .map(|_| Shard {
                map: RwLock::new(HashTable::new()),
            })
            .collect();
        let mut policies = HashMap::new();
        let default_tp = Arc::new(TimeoutPolicy::default());
        policies.insert(0, default_tp.clone());
        Conntrack {
            shards,
            shard_mask: n - 1,
            seed: random_seed(),
            n_conns: AtomicU32::new(0),
            max_conns: AtomicU32::new(cfg.max_conns),
            default_zone_limit: AtomicU32::new(0),
            zone_limits: (0..N_ZONES)
                .map(|_| AtomicU32::new(ZONE_LIMIT_UNSET))
                .collect(),
            zone_counts: (0..N_ZONES).map(|_| AtomicU32::new(0)).collect(),
            tcp_seq_chk: AtomicBool::new(cfg.tcp_seq_chk),
            verify: cfg.verify_checksums,
            default_tp,
            policies: RwLock::new(policies),
            zone_tp: RwLock::new(HashMap::new()),
            next_id: AtomicU32::new(1),
            sweep_cursor: Mutex::new(0),
            ipf: ipf::Ipf::default(),
            expectations: RwLock::new(HashMap::new()),
            n_exp: AtomicUsize::new(0),
        }
    }

    #[inline]
    fn shard_idx(&self, h: u64) -> usize {
        (h >> 32) as usize & self.shard_mask
    }

    /// Number of table shards (the "buckets" of `ct-bkts`).
    pub fn n_shards(&self) -> usize {
        self.shards.len()
    }

    // ---------------------------------------------------------------
    // Packet path.

    /// Runs the `ct` action on every packet of `batch` (OVS
    /// `conntrack_execute`). `now_ns` is a monotonic time in nanoseconds,
    /// the same clock for every caller. Packets stay in the batch; their
    /// metadata (and, with NAT, their headers) are updated:
    ///
    /// * `ct_state`: `+trk` plus `+new`/`+est`/`+rel`/`+inv`, `+rpl` for the
    ///   reply direction, `+snat`/`+dnat` when this action translated the
    ///   packet;
    /// * `ct_zone` = `action.zone`; `ct_mark`, `ct_label` and `ct_orig` from
    ///   the connection (zero for untracked-able and uncommitted packets,
    ///   whose `ct_orig` is their own tuple).
    ///
    /// Invalid packets (not IP, truncated, bad checksum, TCP out of window
    /// or illegal flags, ICMP errors for unknown connections, connections
    /// refused by limits or NAT exhaustion, fragments refused by [`ipf`])
    /// get `+trk+inv`.
    ///
    /// IP fragments (reassembly enabled for their family) are taken out of
    /// the batch and held; when a datagram completes, the reassembled packet
    /// is tracked and its fragments are put back in the batch (in place of
    /// the last one received) with its ct metadata and NAT rewrites. Held
    /// fragments of an expired list come back `+trk+inv` with a later batch
    /// of the same zone.
    pub fn execute(&self, batch: &mut PacketBatch, action: &CtAction, now_ns: u64) {
        let en = self.ipf.enabled();
        let mut frags = false;
        for p in batch.pkts.iter_mut() {
            frags |= !self.execute_inner(p, action, now_ns, en);
        }
        if frags || self.ipf.expiry_due(now_ns) {
            self.ipf_pass(batch, action, now_ns, en);
        }
    }

    /// Second pass over a batch holding fragments (OVS
    /// `ipf_preprocess_conntrack` + `ipf_postprocess_conntrack`).
    fn ipf_pass(&self, batch: &mut PacketBatch, a: &CtAction, now: u64, en: (bool, bool)) {
        let pkts = std::mem::take(&mut batch.pkts);
        let mut out = Vec::with_capacity(pkts.len());
        for mut p in pkts {
            if p.md.ct_state & cs::TRACKED != 0 {
                // Tracked by the first pass.
                out.push(p);
                continue;
            }
            match self.ipf.classify(&p, a.zone, en) {
                ipf::Class::NotFrag => out.push(p),
                ipf::Class::Invalid => {
                    set_invalid(&mut p, a.zone);
                    out.push(p);
                }
                ipf::Class::Frag(fi) => match self.ipf.add(p, fi, now) {
                    ipf::Added::Held => {}
                    ipf::Added::Rejected(mut p) => {
                        set_invalid(&mut p, a.zone);
                        out.push(p);
                    }
                    ipf::Added::Complete(mut reass, mut frags, v6) => {
                        self.execute_inner(&mut reass, a, now, (false, false));
                        ipf::post_execute(&reass, &mut frags, v6);
                        self.ipf.count_completed(v6, frags.len());
                        out.extend(frags);
                    }
                },
            }
        }
        if self.ipf.expiry_due(now) {
            for mut p in self.ipf.take_expired(a.zone, now) {
                set_invalid(&mut p, a.zone);
                out.push(p);
            }
        }
        batch.pkts = out;
    }

    /// [`Conntrack::execute`] for one packet. `pkt`'s `l3_ofs` must have
    /// been set by [`dp_core::extract::extract`]. A single packet cannot be
    /// held: fragments are `+trk+inv` here (use [`Conntrack::execute`]).
    pub fn execute_one(&self, pkt: &mut DpPacket, a: &CtAction, now: u64) {
        self.execute_inner(pkt, a, now, (false, false));
    }

    /// Tracks one packet; returns false, leaving the packet untouched, for
    /// a fragment of a family whose reassembly is enabled in `en`.
    fn execute_inner(&self, pkt: &mut DpPacket, a: &CtAction, now: u64, en: (bool, bool)) -> bool {
        let zone = a.zone;
        let parsed = match key::parse(pkt, zone, self.verify) {
            Ok(p) => p,
            Err(ParseError::Fragment) => {
                let v6 = pkt
                    .data()
                    .get(pkt.l3_ofs as usize)
                    .is_some_and(|b| b >> 4 == 6);
                if (v6 && en.1) || (!v6 && en.0) {
                    pkt.md.ct_state = 0;
                    return false;
                }
                set_invalid(pkt, zone);
                return true;
            }
            Err(ParseError::Invalid) => {
                set_invalid(pkt, zone);
                return true;
            }
        };
        if parsed.related.is_some() {
            self.process_related(pkt, &parsed, a, now);
            return true;
        }
        for _ in 0..4 {
            if let Existing::Done = self.process_existing(pkt, &parsed, a, now) {
                return true;
            }
            if let New::Done = self.process_new(pkt, &parsed, a, now) {
                return true;
            }
        }
        set_invalid(pkt, zone);
        true
    }

    /// Writes the metadata of a tracked packet.
    fn write_md(pkt: &mut DpPacket, state: u8, zone: u16, mark: u32, label: u128, orig: &ConnKey) {
        let md = &mut pkt.md;
        md.ct_state = state;
        md.ct_zone = zone;
        md.ct_mark = mark;
        md.ct_label = label;
        md.ct_orig = orig.to_orig_tuple();
    }

    /// The key of the connection of a packet that was already translated by
    /// an earlier `ct(nat)` in the same zone: its tuple is neither the
    /// original nor the reply tuple, but `md.ct_orig` names the connection
    /// (OVS keeps a `conn` pointer in the metadata instead).
    fn natted_lookup_key(pkt: &DpPacket, p: &Parsed, zone: u16) -> Option<ConnKey> {
        let md = &pkt.md;
        if md.ct_state & cs::TRACKED == 0
            || md.ct_state & (cs::SRC_NAT | cs::DST_NAT) == 0
            || md.ct_zone != zone
        {
            return None;
        }
        let (src, dst, sp, dp, proto, v6) = match md.ct_orig {
            CtOrigTuple::None => return None,
            CtOrigTuple::V4 {
                src,
                dst,
                src_port,
                dst_port,
                proto,
            } => (src as u128, dst as u128, src_port, dst_port, proto, false),
            CtOrigTuple::V6 {
                src,
                dst,
                src_port,
                dst_port,
                proto,
            } => (src, dst, src_port, dst_port, proto, true),
        };
        if proto != p.key.proto || v6 != p.key.v6 {
            return None;
        }
        let mut k = ConnKey {
            src,
            dst,
            sport: sp,
            dport: dp,
            zone,
            proto,
            v6,
            icmp_type: 0,
            icmp_code: 0,
        };
        if key::is_icmp(proto) {
            // ct_orig carries type/code; ICMP ids are never translated.
            k.icmp_type = sp as u8;
            k.icmp_code = dp as u8;
            k.sport = p.key.sport;
            k.dport = p.key.sport;
        }
        Some(k)
    }

    fn process_existing(&self, pkt: &mut DpPacket, p: &Parsed, a: &CtAction, now: u64) -> Existing {
        let h = p.key.hash(self.seed);
        let shard = &self.shards[self.shard_idx(h)];
        let g = shard.map.read();
        let Some(e) = g.find(h, |e| e.key == p.key) else {
            drop(g);
            return match Self::natted_lookup_key(pkt, p, a.zone) {
                Some(k) => self.process_natted(pkt, p, a, now, &k),
                None => Existing::NotFound,
            };
        };
        let (conn, reply) = (&e.conn, e.reply);
        if !conn.alive(now) {
            return Existing::NotFound;
        }
        let upd = if reply && a.commit && a.force {
            Upd::Kill(conn.clone())
        } else {
            self.update_conn(pkt, p, a, now, conn, reply)
        };
        drop(g);
        self.finish_update(pkt, p, a, upd, reply, false)
    }

    fn process_natted(
        &self,
        pkt: &mut DpPacket,
        p: &Parsed,
        a: &CtAction,
        now: u64,
        k: &ConnKey,
    ) -> Existing {
        let h = k.hash(self.seed);
        let g = self.shards[self.shard_idx(h)].map.read();
        let Some(e) = g.find(h, |e| e.key == *k && !e.reply) else {
            return Existing::NotFound;
        };
        let conn = &e.conn;
        if !conn.alive(now) {
            return Existing::NotFound;
        }
        let reply = if p.key == conn.reply.reverse() {
            false
        } else if p.key == conn.orig.reverse() {
            true
        } else {
            return Existing::NotFound;
        };
        let upd = self.update_conn(pkt, p, a, now, conn, reply);
        drop(g);
        self.finish_update(pkt, p, a, upd, reply, true)
    }

    /// Runs the protocol update of an existing connection (the caller holds
    /// the shard read lock).
    fn update_conn(
        &self,
        pkt: &DpPacket,
        p: &Parsed,
        a: &CtAction,
        now: u64,
        conn: &Arc<Conn>,
        reply: bool,
    ) -> Upd {
        let seq_chk = self.tcp_seq_chk.load(Relaxed);
        let l4 = &pkt.data()[p.l4..p.l4_end];
        let mut inner = conn.inner.lock();
        let up = proto::update(&mut inner.proto, l4, reply, seq_chk);
        match up.result {
            UpdateResult::Invalid => Upd::Invalid,
            UpdateResult::New => Upd::Kill(conn.clone()),
            UpdateResult::Valid | UpdateResult::ValidNew => {
                if let Some(t) = up.timeout {
                    conn.expiration.store(now + conn.tp.get_ns(t), Relaxed);
                }
                if a.commit && conn.parent.is_none() {
                    apply_mark_label(&mut inner, a);
                }
                let d = reply as usize;
                inner.packets[d] += 1;
                inner.bytes[d] += pkt.len() as u64;
                Upd::Ok {
                    est: up.result == UpdateResult::Valid,
                    mark: inner.mark,
                    label: inner.label,
                    orig: conn.orig,
                    rkey: conn.reply,
                    nat: conn.nat,
                    ct_orig: conn.parent.unwrap_or(conn.orig),
                    ftp: (conn.alg == Some(Alg::Ftp)).then(|| conn.clone()),
                }
            }
        }
    }

    /// Second half of an update, without locks: metadata and NAT.
    fn finish_update(
        &self,
        pkt: &mut DpPacket,
        p: &Parsed,
        a: &CtAction,
        upd: Upd,
        reply: bool,
        natted: bool,
    ) -> Existing {
        let zone = a.zone;
        match upd {
            Upd::Invalid => {
                set_invalid(pkt, zone);
                Existing::Done
            }
            Upd::Kill(c) => {
                self.kill(&c);
                Existing::NotFound
            }
            Upd::Ok {
                est,
                mark,
                label,
                orig,
                rkey,
                nat,
                ct_orig,
                ftp,
            } => {
                let mut state = cs::TRACKED | if est { cs::ESTABLISHED } else { cs::NEW };
                if reply {
                    state |= cs::REPLY_DIR;
                }
                let translated = !natted && a.nat.is_some() && nat != 0;
                if natted {
                    state |= pkt.md.ct_state & (cs::SRC_NAT | cs::DST_NAT);
                } else if translated {
                    state |= self.apply_nat(pkt, p, &orig, &rkey, nat, reply);
                }
                if let Some(c) = ftp {
                    // An earlier ct(nat) of this pass already ran the ALG.
                    if !natted && !self.ftp_ctl(pkt, p, &c, reply, translated) {
                        set_invalid(pkt, zone);
                        return Existing::Done;
                    }
                }
                Self::write_md(pkt, state, zone, mark, label, &ct_orig);
                Existing::Done
            }
        }
    }

    /// Translates a packet of a NATed connection; returns the `ct_state`
    /// NAT bits to add.
    fn apply_nat(
        &self,
        pkt: &mut DpPacket,
        p: &Parsed,
        orig: &ConnKey,
        rkey: &ConnKey,
        nat: u8,
        reply: bool,
    ) -> u8 {
        let d = pkt.data_mut();
        let mut from = p.key;
        from.zone = orig.zone;
        if reply {
            nat::rewrite(d, p, &from, &orig.reverse());
            (if nat & nat::NAT_SRC != 0 {
                cs::DST_NAT
            } else {
                0
            }) | (if nat & nat::NAT_DST != 0 {
                cs::SRC_NAT
            } else {
                0
            })
        } else {
            nat::rewrite(d, p, &from, &rkey.reverse());
            (if nat & nat::NAT_SRC != 0 {
                cs::SRC_NAT
            } else {
                0
            }) | (if nat & nat::NAT_DST != 0 {
                cs::DST_NAT
            } else {
                0
            })
        }
    }

    /// ICMP errors: `+rel` for the connection they quote (OVS
    /// `process_one` with `related`), translated like the connection.
    fn process_related(&self, pkt: &mut DpPacket, p: &Parsed, a: &CtAction, now: u64) {
        let zone = a.zone;
        let h = p.key.hash(self.seed);
        let g = self.shards[self.shard_idx(h)].map.read();
        let Some(e) = g.find(h, |e| e.key == p.key) else {
            drop(g);
            set_invalid(pkt, zone);
            return;
        };
        let conn = &e.conn;
        let reply = e.reply;
        if !conn.alive(now) {
            drop(g);
            set_invalid(pkt, zone);
            return;
        }
        let (mark, label) = {
            let mut inner = conn.inner.lock();
            if a.commit {
                apply_mark_label(&mut inner, a);
            }
            (inner.mark, inner.label)
        };
        let (orig, rkey, nat) = (conn.orig, conn.reply, conn.nat);
        drop(g);
        let mut state = cs::TRACKED | cs::RELATED;
        if reply {
            state |= cs::REPLY_DIR;
        }
        if a.nat.is_some() && nat != 0 {
            let d = pkt.data_mut();
            let outer = key::parse_outer_addrs(d, p);
            let mut to = outer;
            // The error travels like a packet of the connection: its outer
            // addresses are translated like that direction's packets, its
            // embedded header (a packet of the other direction) gets that
            // direction's tuple as seen on this side.
            let (inner_to, snat_flag, dnat_flag) = if reply {
                // Becoming reverse(orig): un-SNAT rewrites dst, un-DNAT src.
                if nat & nat::NAT_SRC != 0 {
                    to.dst = orig.src;
                }
                if nat & nat::NAT_DST != 0 {
                    to.src = orig.dst;
                }
                (orig, cs::DST_NAT, cs::SRC_NAT)
            } else {
                if nat & nat::NAT_SRC != 0 {
                    to.src = rkey.dst;
                }
                if nat & nat::NAT_DST != 0 {
                    to.dst = rkey.src;
                }
                (rkey, cs::SRC_NAT, cs::DST_NAT)
            };
            nat::rewrite_related(d, p, &outer, &to, &inner_to);
            if nat & nat::NAT_SRC != 0 {
                state |= snat_flag;
            }
            if nat & nat::NAT_DST != 0 {
                state |= dnat_flag;
            }
        }
        Self::write_md(pkt, state, zone, mark, label, &orig);
    }

    fn process_new(&self, pkt: &mut DpPacket, p: &Parsed, a: &CtAction, now: u64) -> New {
        let zone = a.zone;
        let k = proto::kind(p.key.proto);
        let l4 = &pkt.data()[p.l4..p.l4_end];
        if !proto::valid_new(k, l4) {
            set_invalid(pkt, zone);
            return New::Done;
        }
        let exp = self.find_expectation(&p.key, now);
        if !a.commit {
            match &exp {
                Some((parent, ..)) => {
                    let (mark, label) = {
                        let i = parent.inner.lock();
                        (i.mark, i.label)
                    };
                    let st = cs::TRACKED | cs::NEW | cs::RELATED;
                    Self::write_md(pkt, st, zone, mark, label, &parent.orig);
                }
                None => Self::write_md(pkt, cs::TRACKED | cs::NEW, zone, 0, 0, &p.key),
            }
            return New::Done;
        }
        if !self.reserve(zone) {
            set_invalid(pkt, zone);
            return New::Done;
        }
        let (pstate, tm) = proto::new_conn(k, l4);
        let orig = p.key;
        let h = orig.hash(self.seed);
        let planned = match &exp {
            Some((_, dnat_to, snat_to)) => {
                let mut t = orig;
                let mut bits = 0;
                if let (Some((addr, port)), Some(_)) = (dnat_to, &a.nat) {
                    t.dst = *addr;
                    t.dport = *port;
                    bits |= nat::NAT_DST;
                }
                if let (Some(addr), Some(_)) = (snat_to, &a.nat) {
                    t.src = *addr;
                    bits |= nat::NAT_SRC;
                }
                let r = t.reverse();
                if bits != 0 && self.key_in_use(&r, now) {
                    None
                } else {
                    Some((r, bits))
                }
            }
            None => match a.nat.as_ref().and_then(|n| nat::plan(&orig, n, h)) {
                Some(plan) => plan
                    .find(|r| *r != orig && !self.key_in_use(r, now))
                    .map(|r| (r, plan.bits)),
                None => Some((orig.reverse(), 0)),
            },
        };
        let Some((rkey, nat_bits)) = planned else {
            self.unreserve(zone);
            set_invalid(pkt, zone);
            return New::Done;
        };
        let tp = self.policy_for(a, zone);
        let mut inner = ConnInner {
            proto: pstate,
            mark: 0,
            label: 0,
            packets: [1, 0],
            bytes: [pkt.len() as u64, 0],
            seq_skew: 0,
            skew_reply: false,
        };
        let parent = match &exp {
            Some((parent, ..)) => {
                let pi = parent.inner.lock();
                inner.mark = pi.mark;
                inner.label = pi.label;
                Some(parent.orig)
            }
            None => {
                apply_mark_label(&mut inner, a);
                None
            }
        };
        let (mark, label) = (inner.mark, inner.label);
        let alg = match (&exp, a.helper.as_deref()) {
            (None, Some(h)) => Alg::from_helper(h),
            _ => None,
        };
        let conn = Arc::new(Conn {
            orig,
            reply: rkey,
            nat: nat_bits,
            alg,
            parent,
            id: self.next_id.fetch_add(1, Relaxed),
            expiration: AtomicU64::new(now + tp.get_ns(tm)),
            tp,
            dead: AtomicBool::new(false),
            inner: Mutex::new(inner),
        });
        match self.insert(&conn, now) {
            Ok(()) => {
                let mut state = cs::TRACKED | cs::NEW;
                if nat_bits != 0 {
                    state |= self.apply_nat(pkt, p, &orig, &rkey, nat_bits, false);
                }
                if exp.is_some() {
                    state |= cs::RELATED;
                    self.consume_expectation(&orig);
                }
                if alg == Some(Alg::Tftp) {
                    self.tftp_expect(&conn);
                }
                Self::write_md(pkt, state, zone, mark, label, &parent.unwrap_or(orig));
                New::Done
            }
            Err(InsertErr::OrigExists) | Err(InsertErr::ReplyExists) => {
                // Lost a race; nobody else can see `conn`, so return its
                // reservation directly.
                conn.dead.store(true, Relaxed);
                self.unreserve(zone);
                New::Retry
            }
        }
    }

    /// True if a live connection uses `k` in either direction.
    fn key_in_use(&self, k: &ConnKey, now: u64) -> bool {
        let h = k.hash(self.seed);
        let g = self.shards[self.shard_idx(h)].map.read();
        g.find(h, |e| e.key == *k)
            .is_some_and(|e| e.conn.alive(now))
    }

    fn policy_for(&self, a: &CtAction, zone: u16) -> Arc<TimeoutPolicy> {
        let pols = self.policies.read();
        if let Some(id) = a.timeout.as_deref().and_then(|t| t.parse::<u32>().ok()) {
            if let Some(p) = pols.get(&id) {
                return p.clone();
            }
        }
        if let Some(id) = self.zone_tp.read().get(&zone) {
            if let Some(p) = pols.get(id) {
                return p.clone();
            }
        }
        self.default_tp.clone()
    }

    fn reserve(&self, zone: u16) -> bool {
        let max = self.max_conns.load(Relaxed);
        if self.n_conns.fetch_add(1, Relaxed) >= max {
            self.n_conns.fetch_sub(1, Relaxed);
            return false;
        }
        let limit = self.zone_limit(zone);
        if self.zone_counts[zone as usize].fetch_add(1, Relaxed) >= limit && limit != 0 {
            self.zone_counts[zone as usize].fetch_sub(1, Relaxed);
            self.n_conns.fetch_sub(1, Relaxed);
            return false;
        }
        true
    }

    fn unreserve(&self, zone: u16) {
        self.zone_counts[zone as usize].fetch_sub(1, Relaxed);
        self.n_conns.fetch_sub(1, Relaxed);
    }

    /// Marks `c` dead; the first caller returns its capacity. True if this
    /// call did.
    fn retire(&self, c: &Conn) -> bool {
        if !c.dead.swap(true, AcqRel) {
            self.unreserve(c.orig.zone);
            true
        } else {
            false
        }
    }

    /// Checks that `key` is free in `t` (removing a stale entry); false if a
    /// live connection holds it.
    fn claim_slot(&self, t: &mut HashTable<Entry>, h: u64, key: &ConnKey, now: u64) -> bool {
        match t.find_entry(h, |e| e.key == *key) {
            Ok(occ) => {
                if occ.get().conn.alive(now) {
                    return false;
                }
                let (old, _) = occ.remove();
                self.retire(&old.conn);
                true
            }
            Err(_) => true,
        }
    }

    fn insert(&self, conn: &Arc<Conn>, now: u64) -> Result<(), InsertErr> {
        let ho = conn.orig.hash(self.seed);
        let hr = conn.reply.hash(self.seed);
        let (io, ir) = (self.shard_idx(ho), self.shard_idx(hr));
        let same_key = conn.orig == conn.reply;
        let entry = |hash, key, reply| Entry {
            hash,
            key,
            conn: conn.clone(),
            reply,
        };
        if io == ir {
            let mut g = self.shards[io].map.write();
            if !self.claim_slot(&mut g, ho, &conn.orig, now) {
                return Err(InsertErr::OrigExists);
            }
            if !same_key && !self.claim_slot(&mut g, hr, &conn.reply, now) {
                return Err(InsertErr::ReplyExists);
            }
            g.insert_unique(ho, entry(ho, conn.orig, false), |e| e.hash);
            if !same_key {
                g.insert_unique(hr, entry(hr, conn.reply, true), |e| e.hash);
            }
        } else {
            let (mut go, mut gr) = if io < ir {
                let a = self.shards[io].map.write();
                let b = self.shards[ir].map.write();
                (a, b)
            } else {
                let b = self.shards[ir].map.write();
                let a = self.shards[io].map.write();
                (a, b)
            };
            if !self.claim_slot(&mut go, ho, &conn.orig, now) {
                return Err(InsertErr::OrigExists);
            }
            if !self.claim_slot(&mut gr, hr, &conn.reply, now) {
                return Err(InsertErr::ReplyExists);
            }
            go.insert_unique(ho, entry(ho, conn.orig, false), |e| e.hash);
            gr.insert_unique(hr, entry(hr, conn.reply, true), |e| e.hash);
        }
        Ok(())
    }

    /// Retires `c` and removes both its entries. No shard lock may be held.
    fn kill(&self, c: &Arc<Conn>) {
        self.retire(c);
        self.remove_entries(std::slice::from_ref(c));
    }

    /// Removes every entry of the (already retired) connections `conns`,
    /// one write lock per affected shard.
    fn remove_entries(&self, conns: &[Arc<Conn>]) {
        let mut work: Vec<(usize, u64, usize)> = Vec::with_capacity(conns.len() * 2);
        for (i, c) in conns.iter().enumerate() {
            for k in [&c.orig, &c.reply] {
                let h = k.hash(self.seed);
                work.push((self.shard_idx(h), h, i));
            }
        }
        work.sort_unstable_by_key(|w| w.0);
        let mut i = 0;
        while i < work.len() {
            let s = work[i].0;
            let mut g = self.shards[s].map.write();
            while i < work.len() && work[i].0 == s {
                let (_, h, ci) = work[i];
                let c = &conns[ci];
                if let Ok(occ) = g.find_entry(h, |e| Arc::ptr_eq(&e.conn, c)) {
                    occ.remove();
                }
                i += 1;
            }
        }
    }

    // ---------------------------------------------------------------
    // Expiry.

    /// Expires connections: scans shards from where the previous call
    /// stopped, at least one shard and until `budget` entries were
    /// examined or every shard was visited once, and removes connections
    /// whose timeout passed at `now_ns` (and entries left behind by replaced
    /// connections). Meant for one background thread calling it
    /// periodically (e.g. every 100 ms with a budget of a few thousand);
    /// PMD threads keep running: shards are scanned under read locks and
    /// write-locked only to unlink the victims. Expired connections are
    /// already invisible to lookups, so a late sweep costs memory, not
    /// correctness. Concurrent callers serialize.
    pub fn sweep(&self, now_ns: u64, budget: usize) -> SweepStats {
        self.ipf.purge(now_ns);
        self.sweep_expectations(now_ns);
        let mut cursor = self.sweep_cursor.lock();
        let mut st = SweepStats::default();
        let n = self.shards.len();
        for _ in 0..n {
            let i = *cursor;
            let victims: Vec<Arc<Conn>> = {
                let g = self.shards[i].map.read();
                st.examined += g.len();
                g.iter()
                    .filter(|e| !e.conn.alive(now_ns))
                    .map(|e| e.conn.clone())
                    .collect()
            };
            for c in &victims {
                if self.retire(c) {
                    st.removed += 1;
                }
            }
            if !victims.is_empty() {
                self.remove_entries(&victims);
            }
            *cursor = (i + 1) % n;
            if *cursor == 0 {
                st.wrapped = true;
            }
            if st.examined >= budget {
                break;
            }
        }
        st
    }

    // ---------------------------------------------------------------
    // Control plane.

    /// Deletes connections (OVS `conntrack_flush` / `dpctl/flush-conntrack
    /// [zone=N] [ct-tuple]`): with `tuple`, the connection having that
    /// tuple (in either direction; `tuple.zone` is ignored) in `zone`
    /// (default 0); otherwise every connection of `zone`, or all
    /// connections if `zone` is `None`. Returns the number deleted.
    pub fn flush(&self, zone: Option<u16>, tuple: Option<&ConnKey>) -> usize {
        let mut victims = Vec::new();
        if let Some(t) = tuple {
            let mut k = *t;
            k.zone = zone.unwrap_or(0);
            let h = k.hash(self.seed);
            let g = self.shards[self.shard_idx(h)].map.read();
            if let Some(e) = g.find(h, |e| e.key == k) {
                victims.push(e.conn.clone());
            }
        } else {
            return self.flush_where(zone, |_, _| true);
        }
        self.flush_victims(&victims)
    }

    /// Deletes the connections of `zone` (every zone if `None`) whose
    /// original and reply tuples satisfy `pred(orig, reply)` (OVS 3.1
    /// `ct_dpif_flush()` with a partial `ofp_ct_match`, as NXT_CT_FLUSH
    /// asks). Returns the number deleted.
    pub fn flush_where(
        &self,
        zone: Option<u16>,
        pred: impl Fn(&ConnKey, &ConnKey) -> bool,
    ) -> usize {
        let mut victims = Vec::new();
        for s in self.shards.iter() {
            let g = s.map.read();
            victims.extend(
                g.iter()
                    .filter(|e| {
                        !e.reply
                            && zone.map_or(true, |z| e.conn.orig.zone == z)
                            && pred(&e.conn.orig, &e.conn.reply)
                    })
                    .map(|e| e.conn.clone()),
            );
        }
        self.flush_victims(&victims)
    }

    fn flush_victims(&self, victims: &[Arc<Conn>]) -> usize {
        let mut n = 0;
        for c in victims {
            if self.retire(c) {
                n += 1;
            }
        }
        self.remove_entries(victims);
        n
    }

    /// Live connections (optionally of one zone) at `now_ns`, for
    /// `dpctl/dump-conntrack`, `ct-stats-show` and `ct-bkts` (see
    /// [`format`]). Order: by shard, then table order.
    pub fn dump(&self, zone: Option<u16>, now_ns: u64) -> Vec<CtEntry> {
        let mut out = Vec::new();
        for (bucket, s) in self.shards.iter().enumerate() {
            let g = s.map.read();
            for e in g.iter() {
                let c = &e.conn;
                if e.reply || !c.alive(now_ns) || zone.is_some_and(|z| c.orig.zone != z) {
                    continue;
                }
                let inner = c.inner.lock();
                let tcp = match &inner.proto {
                    ProtoState::Tcp(t) => Some(TcpProtoInfo {
                        state_orig: t.peer[0].state,
                        state_reply: t.peer[1].state,
                        wscale_orig: tcp::peer_wscale(&t.peer[0]),
                        wscale_reply: tcp::peer_wscale(&t.peer[1]),
                        flags_orig: tcp::peer_flags(&t.peer[0]),
                        flags_reply: tcp::peer_flags(&t.peer[1]),
                    }),
                    _ => None,
                };
                out.push(CtEntry {
                    orig: c.orig,
                    reply: c.reply,
                    zone: c.orig.zone,
                    mark: inner.mark,
                    label: inner.label,
                    tcp,
                    timeout: ((c.expiration.load(Relaxed).saturating_sub(now_ns)) / 1_000_000_000)
                        as u32,
                    id: c.id,
                    bucket,
                    packets: inner.packets,
                    bytes: inner.bytes,
                    helper: c.alg.map(Alg::name),
                    parent: c.parent,
                });
            }
        }
        out
    }

    /// Number of connections (OVS `ct-get-nconns`; includes expired ones
    /// not yet swept, as OVS).
    pub fn n_conns(&self) -> u32 {
        self.n_conns.load(Relaxed)
    }

    /// Sets the maximum number of connections (OVS `ct-set-maxconns`).
    /// Existing connections above a lowered limit stay until they expire.
    pub fn set_max_conns(&self, n: u32) {
        self.max_conns.store(n, Relaxed);
    }

    /// Maximum number of connections (OVS `ct-get-maxconns`).
    pub fn max_conns(&self) -> u32 {
        self.max_conns.load(Relaxed)
    }

    /// Sets the default per-zone limit (`ct-set-limits default=N`; 0 =
    /// unlimited), used by zones without their own limit.
    pub fn set_default_zone_limit(&self, limit: u32) {
        self.default_zone_limit.store(limit, Relaxed);
    }

    /// Sets (`Some(n)`, 0 = unlimited) or removes (`None`, back to the
    /// default) the limit of `zone` (`ct-set-limits zone=Z,limit=N`,
    /// `ct-del-limits zone=Z`).
    pub fn set_zone_limit(&self, zone: u16, limit: Option<u32>) {
        let v = limit.map_or(ZONE_LIMIT_UNSET, |l| l.min(ZONE_LIMIT_UNSET - 1));
        self.zone_limits[zone as usize].store(v, Relaxed);
    }

    /// The limit in force for `zone` (its own, else the default; 0 =
    /// unlimited).
    pub fn zone_limit(&self, zone: u16) -> u32 {
        match self.zone_limits[zone as usize].load(Relaxed) {
            ZONE_LIMIT_UNSET => self.default_zone_limit.load(Relaxed),
            l => l,
        }
    }

    /// Connections counted in `zone`.
    pub fn zone_count(&self, zone: u16) -> u32 {
        self.zone_counts[zone as usize].load(Relaxed)
    }

    /// `ct-get-limits [zone=Z,...]` data: the default limit and
    /// `(zone, limit, count)` for the zones asked (their limit in force), or
    /// for every zone with its own limit when `zones` is `None`. Format it
    /// with [`format::format_limits`].
    pub fn limits(&self, zones: Option<&[u16]>) -> (u32, Vec<(u16, u32, u32)>) {
        let list: Vec<u16> = match zones {
            Some(z) => z.to_vec(),
            None => (0..N_ZONES)
                .filter(|&z| self.zone_limits[z].load(Relaxed) != ZONE_LIMIT_UNSET)
                .map(|z| z as u16)
                .collect(),
        };
        let rows = list
            .into_iter()
            .map(|z| (z, self.zone_limit(z), self.zone_count(z)))
            .collect();
        (self.default_zone_limit.load(Relaxed), rows)
    }

    /// Enables or disables TCP sequence checking (OVS
    /// `ct-enable-tcp-seq-chk` / `ct-disable-tcp-seq-chk`). Disabled is
    /// liberal mode: the window test always passes (flag checks stay).
    pub fn set_tcp_seq_chk(&self, enabled: bool) {
        self.tcp_seq_chk.store(enabled, Relaxed);
    }

    /// Whether TCP sequence checking is enabled.
    pub fn tcp_seq_chk(&self) -> bool {
        self.tcp_seq_chk.load(Relaxed)
    }

    /// Creates or replaces timeout policy `id` (OVS
    /// `ct_dpif_set_timeout_policy`): defaults overridden by `values`
    /// (seconds). Id 0 is the default policy. Existing connections using the
    /// policy see the new values at their next packet.
    pub fn set_timeout_policy(&self, id: u32, values: &[(TpAttr, u32)]) {
        let mut pols = self.policies.write();
        match pols.get(&id) {
            Some(p) => p.set(values),
            None => {
                pols.insert(id, Arc::new(TimeoutPolicy::with(values)));
            }
        }
    }

    /// Deletes timeout policy `id` (not the default, 0). Connections created
    /// with it keep its values. Returns false if it did not exist.
    pub fn del_timeout_policy(&self, id: u32) -> bool {
        id != 0 && self.policies.write().remove(&id).is_some()
    }

    /// Timeout policy `id`, if defined.
    pub fn timeout_policy(&self, id: u32) -> Option<Arc<TimeoutPolicy>> {
        self.policies.read().get(&id).cloned()
    }

    /// Binds `zone` to timeout policy `id` (`None`: default policy) for
    /// connections created from now on (`ovs-vsctl add-zone-tp`). A
    /// `timeout=ID` in the `ct` action (decimal policy id, as OVS's
    /// userspace datapath takes it) wins over the zone's policy.
    pub fn set_zone_timeout_policy(&self, zone: u16, id: Option<u32>) {
        let mut m = self.zone_tp.write();
        match id {
            Some(id) => {
                m.insert(zone, id);
            }
            None => {
                m.remove(&zone);
            }
        }
    }
}

impl Conntrack {
    /// Enables or disables fragment reassembly for IPv4 (`v6 == false`) or
    /// IPv6 (OVS `ipf-set-enabled` / `ipf-set-disabled`; both on by
    /// default). Disabled, fragments of that family are `+trk+inv`.
    pub fn ipf_set_enabled(&self, v6: bool, enabled: bool) {
        self.ipf.set_enabled(v6, enabled);
    }

    /// Sets the minimum size in bytes (IP header included) of a fragment
    /// other than the last (OVS `ipf-set-min-frag`; defaults 1200 / 1280,
    /// at least 400).
    pub fn ipf_set_min_frag(&self, v6: bool, size: u32) -> Result<(), IpfError> {
        self.ipf.set_min_frag(v6, size)
    }

    /// Sets the maximum number of fragments held at once (OVS
    /// `ipf-set-max-nfrags`; default 1000, at most 5000).
    pub fn ipf_set_max_nfrags(&self, n: u32) -> Result<(), IpfError> {
        self.ipf.set_max_nfrags(n)
    }

    /// Settings and counters of fragment reassembly (OVS `ipf-get-status`);
    /// `lists`: also describe every held fragment list (`-m`).
    pub fn ipf_status(&self, lists: bool) -> IpfStatus {
        self.ipf.status(lists)
    }

    /// Number of pending ALG expectations.
    pub fn n_expectations(&self) -> usize {
        self.n_exp.load(Relaxed)
    }
}

/// `mark=V/M`, `label=V/M` of a committing action: masked update of the
/// connection's values (OVS `set_mark`, `set_label`).
fn apply_mark_label(inner: &mut ConnInner, a: &CtAction) {
    if let Some((v, m)) = a.mark {
        inner.mark = (inner.mark & !m) | (v & m);
    }
    if let Some((v, m)) = a.label {
        inner.label = (inner.label & !m) | (v & m);
    }
}
