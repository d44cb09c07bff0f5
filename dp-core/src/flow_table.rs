//! The datapath flow table: installed megaflows, by UFID and by match.
//!
//! # Design
//!
//! One [`FlowTable`] belongs to one owner (in rvs: one PMD thread, as OVS's
//! `dp_netdev_pmd_thread` owns its `flow_table` and `classifiers`). It holds:
//!
//! * a slab of [`Megaflow`]s addressed by [`FlowRef`] (index + generation),
//!   so caches (EMC, SMC) can store a small `Copy` handle and a deleted flow
//!   is never returned: deletion bumps the slot's generation and every stale
//!   handle stops resolving, without scanning the caches;
//! * a UFID index for `get`/`del`/`put` by UFID (OVS `dpif_flow_get` etc.);
//! * one [`Dpcls`] per datapath input port (megaflows in the userspace
//!   datapath always match `in_port` exactly, OVS `dp_netdev_flow_add`).
//!
//! The table enforces the megaflow limit (`other_config:flow-limit`, OVS
//! default 200000): a put that would exceed it fails with
//! [`FlowTableError::FlowLimit`] and the caller executes the packet's actions
//! without installing a flow, as OVS's upcall path does.
//!
//! Single owner, no locks: anything that must reach the table from another
//! thread (dump for `dpctl/dump-flows`, put/del from the revalidator) goes
//! through the owner (the `pmd` crate's command queue).

use crate::actions::OdpAction;
use crate::dpcls::Dpcls;
use crate::extract::SimpleFields;
use crate::flow::{fields, Flow, FLOW_WORDS, FRAG_MASK};
use crate::matches::{FlowStats, Match, Ufid};
use crate::miniflow::{hash_add64, hash_finish, FlowKey, Minimatch};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// Default megaflow limit (OVS `other_config:flow-limit` default, packets'
/// flows, not bytes).
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;

/// Handle to a megaflow in a [`FlowTable`]: slot index and generation. Stale
/// handles (flow deleted, slot reused) resolve to `None`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FlowRef {
    idx: u32,
    gen: u32,
}

/// An installed datapath flow (OVS `dp_netdev_flow`), as returned by
/// [`FlowTable::del`]; lookups and dumps borrow a [`MegaflowRef`] instead.
#[derive(Clone, Debug)]
pub struct Megaflow {
    /// Unique flow id.
    pub ufid: Ufid,
    /// Key and mask. The key is the unmasked key the flow was installed
    /// with, as OVS keeps and prints it.
    pub m: Match,
    /// Compact form used by the classifier.
    pub mm: Minimatch,
    /// Datapath actions.
    pub actions: Vec<OdpAction>,
    /// Hit statistics.
    pub stats: FlowStats,
}

/// A borrowed view of an installed megaflow.
#[derive(Clone, Copy, Debug)]
pub struct MegaflowRef<'a> {
    /// Unique flow id.
    pub ufid: Ufid,
    /// Key (unmasked, as installed) and mask.
    pub m: &'a Match,
    /// Compact form used by the classifier.
    pub mm: &'a Minimatch,
    /// Datapath actions.
    pub actions: &'a [OdpAction],
    /// Hit statistics.
    pub stats: FlowStats,
}

impl MegaflowRef<'_> {
    /// Datapath input port the flow matches (always exact).
    pub fn in_port(&self) -> u32 {
        self.m.key.get(fields::IN_PORT) as u32
    }

    /// True if `key` (a packet's key) matches this flow.
    #[inline]
    pub fn matches(&self, key: &FlowKey) -> bool {
        self.mm.matches(key)
    }

    /// An owned copy.
    pub fn to_megaflow(&self) -> Megaflow {
        Megaflow {
            ufid: self.ufid,
            m: self.m.clone(),
            mm: self.mm.clone(),
            actions: self.actions.to_vec(),
            stats: self.stats,
        }
    }
}

/// What a [`FlowTable::put`] may do (OVS `enum dpif_flow_put_flags`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PutFlags {
    /// Allow creating a new flow.
    pub create: bool,
    /// Allow modifying an existing flow's actions.
    pub modify: bool,
    /// When modifying, reset the statistics.
    pub zero_stats: bool,
}

impl PutFlags {
    /// Create only (fails with [`FlowTableError::Exists`] if present).
    pub const CREATE: PutFlags = PutFlags {
        create: true,
        modify: false,
        zero_stats: false,
    };
    /// Modify only (fails with [`FlowTableError::NotFound`] if absent).
    pub const MODIFY: PutFlags = PutFlags {
        create: false,
        modify: true,
        zero_stats: false,
    };
    /// Create or modify.
    pub const CREATE_OR_MODIFY: PutFlags = PutFlags {
        create: true,
        modify: true,
        zero_stats: false,
    };
}

/// Errors of flow table operations (the errno OVS's dpif would return is
/// noted per variant).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FlowTableError {
    /// The flow exists and modification was not allowed (`EEXIST`).
    Exists,
    /// No such flow (`ENOENT`).
    NotFound,
    /// The megaflow limit is reached (`E2BIG`); the limit is given.
    FlowLimit(usize),
    /// The match cannot be installed (`EINVAL`), with the reason.
    InvalidMatch(String),
}

impl fmt::Display for FlowTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowTableError::Exists => write!(f, "flow already exists"),
            FlowTableError::NotFound => write!(f, "flow not found"),
            FlowTableError::FlowLimit(n) => write!(f, "megaflow limit of {n} flows reached"),
            FlowTableError::InvalidMatch(why) => write!(f, "invalid flow match: {why}"),
        }
    }
}

impl std::error::Error for FlowTableError {}

/// What [`FlowTable::put`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PutOutcome {
    /// A new flow was installed.
    Created(FlowRef),
    /// An existing flow's actions were replaced; its old statistics are given.
    Modified(FlowRef, FlowStats),
}

impl PutOutcome {
    /// The flow's handle.
    pub fn flow_ref(self) -> FlowRef {
        match self {
            PutOutcome::Created(r) | PutOutcome::Modified(r, _) => r,
        }
    }
}

/// What the fast path touches per packet, in one cache line: generation,
/// liveness, statistics and the action list.
#[derive(Debug)]
#[repr(C, align(64))]
struct HotSlot {
    gen: u32,
    live: bool,
    stats: FlowStats,
    actions: Box<[OdpAction]>,
}

/// What only verification (SMC), dumps and the control path read.
#[derive(Debug)]
struct ColdSlot {
    ufid: Ufid,
    m: Box<Match>,
    mm: Minimatch,
}

/// A datapath flow table: megaflows by handle, by UFID and by in_port
/// classifier. See the module documentation.
pub struct FlowTable {
    hot: Vec<HotSlot>,
    cold: Vec<Option<ColdSlot>>,
    free: Vec<u32>,
    by_ufid: HashMap<Ufid, FlowRef>,
    classifiers: HashMap<u32, Dpcls<FlowRef>>,
    simple: HashMap<u32, SimplePort>,
    /// Number of entries of `simple` that are enabled.
    n_simple_enabled: usize,
    n_flows: usize,
    flow_limit: usize,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::new()
    }
}

/// The UFID OVS would derive for a flow without one: a 128-bit hash of the
/// masked key and the mask (OVS `odp_flow_key_hash` hashes the key's netlink
/// form; the value differs but the property, same match => same UFID, holds).
pub fn ufid_for(m: &Match) -> Ufid {
    let mut h1 = 0x5bd1_e995u64;
    let mut h2 = 0x27d4_eb2fu64;
    for (k, mk) in m.key.w.iter().zip(m.mask.w.iter()) {
        h1 = hash_add64(h1, *k);
        h1 = hash_add64(h1, *mk);
        h2 = hash_add64(h2, k.rotate_left(17) ^ *mk);
    }
    let a = hash_finish(h1) as u128;
    let b = hash_finish(h1 ^ 0x9e37_79b9) as u128;
    let c = hash_finish(h2) as u128;
    let d = hash_finish(h2 ^ 0x85eb_ca6b) as u128;
    Ufid((a << 96) | (b << 64) | (c << 32) | d)
}

impl FlowTable {
    /// An empty table with the default megaflow limit.
    pub fn new() -> FlowTable {
        FlowTable {
            hot: Vec::new(),
            cold: Vec::new(),
            free: Vec::new(),
            by_ufid: HashMap::new(),
            classifiers: HashMap::new(),
            simple: HashMap::new(),
            n_simple_enabled: 0,
            n_flows: 0,
            flow_limit: DEFAULT_FLOW_LIMIT,
        }
    }

    /// Number of installed megaflows.
    pub fn len(&self) -> usize {
        self.n_flows
    }

    /// True if no megaflow is installed.
    pub fn is_empty(&self) -> bool {
        self.n_flows == 0
    }

    /// The megaflow limit (flows).
    pub fn flow_limit(&self) -> usize {
        self.flow_limit
    }

    /// Sets the megaflow limit (flows). Existing flows beyond it stay; new puts
    /// fail until the count drops below it.
    pub fn set_flow_limit(&mut self, limit: usize) {
        self.flow_limit = limit;
    }

    #[inline]
    fn live(&self, r: FlowRef) -> Option<&HotSlot> {
        match self.hot.get(r.idx as usize) {
            Some(h) if h.gen == r.gen && h.live => Some(h),
            _ => None,
        }
    }

    /// True if the handle still refers to an installed flow.
    #[inline]
    pub fn is_live(&self, r: FlowRef) -> bool {
        self.live(r).is_some()
    }

    /// Resolves a handle; `None` if the flow was deleted.
    #[inline]
    pub fn get_ref(&self, r: FlowRef) -> Option<MegaflowRef<'_>> {
        let h = self.live(r)?;
        let c = self.cold[r.idx as usize].as_ref()?;
        Some(MegaflowRef {
            ufid: c.ufid,
            m: &c.m,
            mm: &c.mm,
            actions: &h.actions,
            stats: h.stats,
        })
    }

    /// The actions of flow `r` (all the fast path needs after a hit), `None`
    /// if the flow was deleted.
    #[inline]
    pub fn actions(&self, r: FlowRef) -> Option<&[OdpAction]> {
        self.live(r).map(|h| &*h.actions)
    }

    /// Accounts `packets` packets of `bytes` bytes with TCP flags `tcp_flags`
    /// at monotonic time `now_ns` to flow `r` (no-op if it was deleted).
    #[inline]
    pub fn account(&mut self, r: FlowRef, packets: u64, bytes: u64, tcp_flags: u16, now_ns: u64) {
        if let Some(h) = self.hot.get_mut(r.idx as usize) {
            if h.gen == r.gen && h.live {
                let s = &mut h.stats;
                s.packets += packets;
                s.bytes += bytes;
                s.tcp_flags |= tcp_flags;
                s.used_ns = Some(now_ns);
            }
        }
    }

    /// The flow with UFID `ufid`, if any.
    pub fn get(&self, ufid: &Ufid) -> Option<MegaflowRef<'_>> {
        self.by_ufid.get(ufid).and_then(|r| self.get_ref(*r))
    }

    /// Handle of the flow with UFID `ufid`, if any.
    pub fn ref_of(&self, ufid: &Ufid) -> Option<FlowRef> {
        self.by_ufid.get(ufid).copied()
    }

    /// The classifier of input port `in_port`, if any flow matches that port.
    pub fn classifier_mut(&mut self, in_port: u32) -> Option<&mut Dpcls<FlowRef>> {
        self.classifiers.get_mut(&in_port)
    }

    /// Iterator over every classifier (for periodic subtable ranking).
    pub fn classifiers_mut(&mut self) -> impl Iterator<Item = &mut Dpcls<FlowRef>> {
        self.classifiers.values_mut()
    }

    /// Installs or modifies a megaflow (OVS `dpif_flow_put`).
    ///
    /// `ufid` defaults to [`ufid_for`] of the match. The match must have
    /// `in_port` exactly masked. An existing flow is found by UFID or by an
    /// identical match; it is modified if `flags.modify`, else
    /// [`FlowTableError::Exists`]. A new flow needs `flags.create` (else
    /// [`FlowTableError::NotFound`]) and room under the megaflow limit (else
    /// [`FlowTableError::FlowLimit`]).
    pub fn put(
        &mut self,
        m: &Match,
        ufid: Option<Ufid>,
        actions: Vec<OdpAction>,
        flags: PutFlags,
    ) -> Result<PutOutcome, FlowTableError> {
        if m.mask.get(fields::IN_PORT) != fields::IN_PORT.max() {
            return Err(FlowTableError::InvalidMatch(
                "in_port must be matched exactly".into(),
            ));
        }
        let ufid = ufid.unwrap_or_else(|| ufid_for(&Match::new(&m.key, &m.mask)));
        let mm = Minimatch::new(&m.key, &m.mask);
        let in_port = m.key.get(fields::IN_PORT) as u32;

        let existing = match self.by_ufid.get(&ufid) {
            Some(r) => {
                let f = self.cold[r.idx as usize]
                    .as_ref()
                    .expect("ufid index points at live flows");
                if f.mm != mm {
                    return Err(FlowTableError::InvalidMatch(format!(
                        "ufid:{ufid} is in use by a flow with a different match"
                    )));
                }
                Some(*r)
            }
            None => self.find_match(in_port, &mm),
        };
        if let Some(r) = existing {
            if !flags.modify {
                return Err(FlowTableError::Exists);
            }
            let h = &mut self.hot[r.idx as usize];
            h.actions = actions.into_boxed_slice();
            let old = h.stats;
            if flags.zero_stats {
                h.stats = FlowStats::default();
            }
            return Ok(PutOutcome::Modified(r, old));
        }
        if !flags.create {
            return Err(FlowTableError::NotFound);
        }
        if self.n_flows >= self.flow_limit {
            return Err(FlowTableError::FlowLimit(self.flow_limit));
        }
        let cold = ColdSlot {
            ufid,
            m: Box::new(m.clone()),
            mm,
        };
        let actions = actions.into_boxed_slice();
        let r = match self.free.pop() {
            Some(idx) => {
                let h = &mut self.hot[idx as usize];
                h.live = true;
                h.stats = FlowStats::default();
                h.actions = actions;
                self.cold[idx as usize] = Some(cold);
                FlowRef { idx, gen: h.gen }
            }
            None => {
                let idx = u32::try_from(self.hot.len())
                    .map_err(|_| FlowTableError::FlowLimit(self.flow_limit))?;
                self.hot.push(HotSlot {
                    gen: 0,
                    live: true,
                    stats: FlowStats::default(),
                    actions,
                });
                self.cold.push(Some(cold));
                FlowRef { idx, gen: 0 }
            }
        };
        let f = self.cold[r.idx as usize].as_ref().expect("just stored");
        self.classifiers
            .entry(in_port)
            .or_default()
            .insert(&f.mm, r);
        let sm = SimpleMask::of(&f.m);
        let sp = self.simple.entry(in_port).or_default();
        let was = sp.enabled();
        sp.add(sm.map(|sm| (sm, sm.key_of(&f.m))), r);
        self.n_simple_enabled = self.n_simple_enabled + sp.enabled() as usize - was as usize;
        self.by_ufid.insert(ufid, r);
        self.n_flows += 1;
        Ok(PutOutcome::Created(r))
    }

    fn find_match(&mut self, in_port: u32, mm: &Minimatch) -> Option<FlowRef> {
        // An identical rule matches its own masked key; since megaflows never
        // overlap, a lookup of that key finds it if it exists.
        let key = FlowKey::from_flow(&mm.key_flow());
        let r = self.classifiers.get_mut(&in_port)?.lookup(&key)?;
        (self.cold[r.idx as usize].as_ref()?.mm == *mm).then_some(r)
    }

    /// Deletes the flow with UFID `ufid` and returns it (with its final stats).
    pub fn del(&mut self, ufid: &Ufid) -> Result<Megaflow, FlowTableError> {
        let r = self
            .by_ufid
            .get(ufid)
            .copied()
            .ok_or(FlowTableError::NotFound)?;
        Ok(self.del_ref(r).expect("ufid index points at live flows"))
    }

    /// Deletes the flow `r`, if it is still installed.
    pub fn del_ref(&mut self, r: FlowRef) -> Option<Megaflow> {
        self.live(r)?;
        let c = self.cold[r.idx as usize].take()?;
        let h = &mut self.hot[r.idx as usize];
        h.live = false;
        h.gen = h.gen.wrapping_add(1);
        let actions = std::mem::take(&mut h.actions).into_vec();
        let stats = h.stats;
        self.free.push(r.idx);
        self.by_ufid.remove(&c.ufid);
        let in_port = c.m.key.get(fields::IN_PORT) as u32;
        if let Some(cls) = self.classifiers.get_mut(&in_port) {
            cls.remove(&c.mm);
            if cls.is_empty() {
                self.classifiers.remove(&in_port);
            }
        }
        if let Some(sp) = self.simple.get_mut(&in_port) {
            let key = SimpleMask::of(&c.m).map(|sm| (sm, sm.key_of(&c.m)));
            let was = sp.enabled();
            let empty = sp.remove(key, r);
            self.n_simple_enabled = self.n_simple_enabled + sp.enabled() as usize - was as usize;
            if empty {
                self.simple.remove(&in_port);
            }
        }
        self.n_flows -= 1;
        Some(Megaflow {
            ufid: c.ufid,
            m: *c.m,
            mm: c.mm,
            actions,
            stats,
        })
    }

    /// Deletes every flow (OVS `dpif_flow_flush`).
    pub fn flush(&mut self) {
        for (h, c) in self.hot.iter_mut().zip(self.cold.iter_mut()) {
            if h.live {
                h.live = false;
                h.gen = h.gen.wrapping_add(1);
                h.actions = Box::default();
                *c = None;
            }
        }
        self.free = (0..self.hot.len() as u32).rev().collect();
        self.by_ufid.clear();
        self.classifiers.clear();
        self.simple.clear();
        self.n_simple_enabled = 0;
        self.n_flows = 0;
    }

    /// Every installed flow with its handle, in slot order (OVS
    /// `dpif_flow_dump`: key, mask, actions and stats).
    pub fn dump(&self) -> impl Iterator<Item = (FlowRef, MegaflowRef<'_>)> {
        (0..self.hot.len()).filter_map(|i| {
            let r = FlowRef {
                idx: i as u32,
                gen: self.hot[i].gen,
            };
            self.get_ref(r).map(|f| (r, f))
        })
    }

    /// True if some input port has simple match enabled (cheap; checked once
    /// per batch by the fast path).
    #[inline]
    pub fn has_simple(&self) -> bool {
        self.n_simple_enabled != 0
    }

    /// The simple-match table of `in_port` if simple match is enabled for it
    /// (OVS `dp_netdev_simple_match_enabled`): every megaflow of `in_port` is
    /// simple ([`SimpleMask::of`]) with one and the same mask.
    #[inline]
    pub fn simple_port(&self, in_port: u32) -> Option<&SimplePort> {
        self.simple.get(&in_port).filter(|sp| sp.enabled())
    }

    /// The flow that `key` (a packet's key) hits, by classifier lookup.
    pub fn lookup(&mut self, key: &FlowKey) -> Option<FlowRef> {
        let in_port = key.get(fields::IN_PORT) as u32;
        self.classifiers.get_mut(&in_port)?.lookup(key)
    }

    /// The flow whose match covers the full flow `flow` (control path).
    pub fn lookup_flow(&mut self, flow: &Flow) -> Option<FlowRef> {
        self.lookup(&FlowKey::from_flow(flow))
    }
}

/// The part of a "simple" megaflow mask that may be partial: OVS
/// `dp_netdev_flow_is_simple_match` (`lib/dpif-netdev.c`) accepts exactly
/// in_port + packet_type + dl_type + vlan_tci + nw_frag; rvs accepts any
/// subset of the bits of `eth_type`, `vlan_tci` (outer tag) and `nw_frag`,
/// with `in_port` exact and `recirc_id` and `packet_type` either wildcarded
/// or matched (partly or fully) with value 0. Values host order. `nw_frag`
/// is normalized: [`SimpleMask::of`] gives `0xff` for any mask equivalent to
/// the exact one.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct SimpleMask {
    /// Mask of `eth_type`.
    pub eth_type: u16,
    /// Mask of the outer `vlan_tci` (with its CFI "tag present" bit).
    pub vlan_tci: u16,
    /// Mask of `nw_frag`.
    pub nw_frag: u8,
}

impl SimpleMask {
    /// The simple mask of megaflow `m`, or `None` if `m` is not simple: its
    /// mask has a bit outside in_port, recirc_id, packet_type, eth_type,
    /// the outer vlan_tci and nw_frag, or it matches a non-zero recirc_id or
    /// packet_type, or in_port is not exact.
    pub fn of(m: &Match) -> Option<SimpleMask> {
        use fields::*;
        let allowed = |w: usize| -> u64 {
            let mut a = 0;
            for f in [
                IN_PORT,
                RECIRC_ID,
                PACKET_TYPE,
                ETH_TYPE,
                VLAN0_TCI,
                NW_FRAG,
            ] {
                if f.word as usize == w {
                    a |= f.word_mask();
                }
            }
            a
        };
        for w in 0..FLOW_WORDS {
            if m.mask.w[w] & !allowed(w) != 0 {
                return None;
            }
        }
        if m.mask.get(IN_PORT) != IN_PORT.max()
            || m.key.get(RECIRC_ID) & m.mask.get(RECIRC_ID) != 0
            || m.key.get(PACKET_TYPE) & m.mask.get(PACKET_TYPE) != 0
        {
            return None;
        }
        let eth_type = m.mask.get(ETH_TYPE) as u16;
        let mut nw_frag = m.mask.get(NW_FRAG) as u8;
        // Only bits 0-1 of nw_frag are ever set in a packet's key, so a mask
        // with both is the exact mask; and packets of a non-IP Ethertype
        // always have nw_frag 0, so a megaflow that matches such an
        // Ethertype exactly (rvs's xlate leaves nw_frag out of them, OVS's
        // always has it) matches the same packets with nw_frag exact.
        let et = (m.key.get(ETH_TYPE) & m.mask.get(ETH_TYPE)) as u16;
        if nw_frag & FRAG_MASK == FRAG_MASK
            || (eth_type == u16::MAX && et != 0x0800 && et != 0x86dd)
        {
            nw_frag = u8::MAX;
        }
        Some(SimpleMask {
            eth_type,
            vlan_tci: m.mask.get(VLAN0_TCI) as u16,
            nw_frag,
        })
    }

    /// The lookup key of values `(eth_type, vlan_tci, nw_frag)` under this
    /// mask.
    #[inline]
    pub fn key(&self, eth_type: u16, vlan_tci: u16, nw_frag: u8) -> u64 {
        ((eth_type & self.eth_type) as u64) << 32
            | ((vlan_tci & self.vlan_tci) as u64) << 8
            | (nw_frag & self.nw_frag) as u64
    }

    /// The lookup key of megaflow `m` (its key under its own mask, then
    /// under this one).
    fn key_of(&self, m: &Match) -> u64 {
        let v = |f| m.key.get(f) & m.mask.get(f);
        self.key(
            v(fields::ETH_TYPE) as u16,
            v(fields::VLAN0_TCI) as u16,
            v(fields::NW_FRAG) as u8,
        )
    }
}

/// Multiplicative hasher for the `u64` keys of a [`SimplePort`] (the keys
/// are small and trusted: derived from installed megaflows, looked up with
/// packet values only).
#[derive(Default)]
pub struct SimpleHasher(u64);

impl Hasher for SimpleHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

/// One input port's simple-match state (OVS `simple_match_table` entries of
/// one in_port plus its `n_flows` / `n_simple_flows` counts): the simple
/// megaflows with the port's mask by masked key, and how many other
/// megaflows the port has (non-simple ones, and simple ones whose mask
/// differs from the port's). Enabled while that count is 0.
#[derive(Default)]
pub struct SimplePort {
    mask: SimpleMask,
    map: HashMap<u64, FlowRef, BuildHasherDefault<SimpleHasher>>,
    n_other: u32,
}

impl SimplePort {
    /// True if every megaflow of the port is in the simple map.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.n_other == 0 && !self.map.is_empty()
    }

    /// The port's common mask (meaningful while the map is non-empty).
    pub fn mask(&self) -> SimpleMask {
        self.mask
    }

    /// The megaflow that a packet with `f`'s fields hits (the same one the
    /// port's dpcls would return, when [`SimplePort::enabled`]).
    #[inline]
    pub fn lookup(&self, f: &SimpleFields) -> Option<FlowRef> {
        self.lookup_key(self.key(f))
    }

    /// The lookup key of a packet with `f`'s fields under the port's mask.
    #[inline]
    pub fn key(&self, f: &SimpleFields) -> u64 {
        self.mask.key(f.eth_type, f.vlan_tci, f.nw_frag)
    }

    /// The megaflow stored under `key` ([`SimplePort::key`]).
    #[inline]
    pub fn lookup_key(&self, key: u64) -> Option<FlowRef> {
        self.map.get(&key).copied()
    }

    /// Accounts new megaflow `r`, simple with `(mask, key)` or not (`None`).
    fn add(&mut self, simple: Option<(SimpleMask, u64)>, r: FlowRef) {
        match simple {
            Some((m, k)) if self.map.is_empty() || m == self.mask => {
                if self.map.is_empty() {
                    self.mask = m;
                }
                match self.map.entry(k) {
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(r);
                    }
                    // Cannot happen (megaflows do not overlap); disable.
                    std::collections::hash_map::Entry::Occupied(_) => self.n_other += 1,
                }
            }
            _ => self.n_other += 1,
        }
    }

    /// Forgets deleted megaflow `r` (`simple` as for `add`); true if the port
    /// has no megaflows left.
    fn remove(&mut self, simple: Option<(SimpleMask, u64)>, r: FlowRef) -> bool {
        match simple {
            Some((m, k)) if m == self.mask && self.map.get(&k) == Some(&r) => {
                self.map.remove(&k);
            }
            _ => self.n_other = self.n_other.saturating_sub(1),
        }
        self.map.is_empty() && self.n_other == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::OdpAction;

    fn m(in_port: u32, dst: u32, dst_mask: u32) -> Match {
        let mut key = Flow::zero();
        let mut mask = Flow::zero();
        key.set(fields::IN_PORT, in_port as u64);
        mask.set_exact(fields::IN_PORT);
        key.set(fields::ETH_TYPE, 0x0800);
        mask.set_exact(fields::ETH_TYPE);
        key.set(fields::NW_DST, dst as u64);
        mask.set(fields::NW_DST, dst_mask as u64);
        Match::new(&key, &mask)
    }

    #[test]
    fn put_get_del_dump_roundtrip() {
        let mut t = FlowTable::new();
        let a = m(1, 0x0a000001, 0xffffffff);
        let b = m(1, 0x0b000000, 0xff000000);
        let ra = t
            .put(&a, None, vec![OdpAction::Output(2)], PutFlags::CREATE)
            .unwrap()
            .flow_ref();
        let ub = Ufid(42);
        t.put(&b, Some(ub), vec![OdpAction::Output(3)], PutFlags::CREATE)
            .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&ub).unwrap().actions, vec![OdpAction::Output(3)]);
        assert!(t.get_ref(ra).unwrap().m.same_as(&a));

        let mut pkt = Flow::zero();
        pkt.set(fields::IN_PORT, 1);
        pkt.set(fields::ETH_TYPE, 0x0800);
        pkt.set(fields::NW_DST, 0x0b010203);
        assert_eq!(
            t.lookup_flow(&pkt).map(|r| t.get_ref(r).unwrap().ufid),
            Some(ub)
        );

        let dumped: Vec<Ufid> = t.dump().map(|(_, f)| f.ufid).collect();
        assert_eq!(dumped.len(), 2);
        assert!(dumped.contains(&ub));

        assert_eq!(
            t.put(&a, None, vec![], PutFlags::CREATE).unwrap_err(),
            FlowTableError::Exists
        );
        match t
            .put(&a, None, vec![OdpAction::Drop], PutFlags::MODIFY)
            .unwrap()
        {
            PutOutcome::Modified(r, _) => assert_eq!(r, ra),
            o => panic!("{o:?}"),
        }
        let gone = t.del(&ub).unwrap();
        assert_eq!(gone.ufid, ub);
        assert_eq!(t.lookup_flow(&pkt), None);
        assert_eq!(t.del(&ub).unwrap_err(), FlowTableError::NotFound);
        t.flush();
        assert!(t.is_empty());
        assert!(t.get_ref(ra).is_none(), "stale handle must not resolve");
    }

    #[test]
    fn stale_handles_never_resolve_to_a_new_flow() {
        let mut t = FlowTable::new();
        let r1 = t
            .put(&m(1, 1, u32::MAX), None, vec![], PutFlags::CREATE)
            .unwrap()
            .flow_ref();
        t.del_ref(r1).unwrap();
        let r2 = t
            .put(&m(1, 2, u32::MAX), None, vec![], PutFlags::CREATE)
            .unwrap()
            .flow_ref();
        assert!(t.get_ref(r1).is_none());
        assert!(t.get_ref(r2).is_some());
    }

    #[test]
    fn flow_limit_and_invalid_match() {
        let mut t = FlowTable::new();
        t.set_flow_limit(2);
        for i in 0..2 {
            t.put(&m(1, i, u32::MAX), None, vec![], PutFlags::CREATE)
                .unwrap();
        }
        assert_eq!(
            t.put(&m(1, 9, u32::MAX), None, vec![], PutFlags::CREATE)
                .unwrap_err(),
            FlowTableError::FlowLimit(2)
        );
        let mut no_port = m(1, 1, u32::MAX);
        no_port.mask.set(fields::IN_PORT, 0);
        assert!(matches!(
            t.put(&no_port, None, vec![], PutFlags::CREATE),
            Err(FlowTableError::InvalidMatch(_))
        ));
        assert_eq!(
            t.put(&m(1, 7, u32::MAX), None, vec![], PutFlags::MODIFY)
                .unwrap_err(),
            FlowTableError::NotFound
        );
    }
}
