//! Exact match cache (EMC): the first lookup stage of the fast path.
//!
//! # Design
//!
//! Follows OVS's `struct emc_cache` (`lib/dpif-netdev.c`, `emc_lookup`,
//! `emc_insert`, `emc_probabilistic_insert`). The cache maps a packet's full
//! [`FlowKey`] to a value (the flow table's handle of a megaflow) with no
//! wildcards: a hit needs the whole key to be equal.
//!
//! * [`EMC_ENTRIES`] (8192) slots. A key may live in one of
//!   [`EMC_HASH_SEGS`] (2) candidate slots: `hash & 8191` and
//!   `(hash >> 13) & 8191` (OVS `EM_FLOW_HASH_SHIFT = 13`,
//!   `EM_FLOW_HASH_SEGS = 2`).
//! * Lookup compares the cached hash first, then `map`, then the value words,
//!   so an entry whose key differs is never returned, whatever the hashes.
//! * Layout: a compact "tag" array (hash + value, 8192 x 12 bytes for a `u32`
//!   value, about 100 KiB, stays in L2) is probed first; the full key copy
//!   (a [`FlowKey`], 576 bytes, 64-byte aligned, ~4.7 MiB in all) is only
//!   touched when the hash matches. OVS keeps both in one `emc_entry`; the
//!   split saves a cache miss per EMC miss.
//! * Insertion is usually probabilistic (1 in [`DEFAULT_EMC_INSERT_INV_PROB`]
//!   packets that missed the EMC and hit the megaflow classifier), so that a
//!   flood of short flows does not thrash it; see
//!   [`Emc::probabilistic_insert`].
//!
//! One `Emc` per owner (per PMD thread); it takes `&mut self` for inserts and
//! has no locks. Stale entries (values of deleted flows) are removed by
//! [`Emc::retain`]; the flow table should also validate the handle it gets
//! back, as OVS checks `flow->dead`.

use crate::flow::FLOW_WORDS;
use crate::miniflow::FlowKey;

/// Number of EMC slots per owner (OVS `EM_FLOW_HASH_ENTRIES`, `1 << 13`).
pub const EMC_ENTRIES: usize = 1 << EMC_HASH_SHIFT;
/// Bits of the hash consumed per candidate slot (OVS `EM_FLOW_HASH_SHIFT`).
pub const EMC_HASH_SHIFT: u32 = 13;
/// Candidate slots per key (OVS `EM_FLOW_HASH_SEGS`).
pub const EMC_HASH_SEGS: usize = 2;
/// Default inverse insertion probability: insert 1 in 100 (OVS
/// `DEFAULT_EM_FLOW_INSERT_INV_PROB`, `other_config:emc-insert-inv-prob`).
pub const DEFAULT_EMC_INSERT_INV_PROB: u32 = 100;

const EMC_MASK: u32 = (EMC_ENTRIES - 1) as u32;

/// Compact part of a slot: probed before the key copy is touched.
#[derive(Clone, Copy)]
struct Tag<V: Copy> {
    hash: u32,
    val: Option<V>,
}

/// Exact match cache of [`EMC_ENTRIES`] slots mapping a full [`FlowKey`] to a
/// value `V` (OVS `struct emc_cache`).
///
/// Memory: about `EMC_ENTRIES * (576 + 4 + size_of::<Option<V>>())` bytes,
/// heap-allocated. Single owner, no interior mutability.
pub struct Emc<V: Copy> {
    tags: Vec<Tag<V>>,
    keys: Vec<FlowKey>,
    /// Insert when `prng() <= insert_min` (OVS `emc_insert_min`); 0 = never.
    insert_min: u32,
    inv_prob: u32,
    rng: u64,
}

impl<V: Copy> Default for Emc<V> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn positions(hash: u32) -> [usize; EMC_HASH_SEGS] {
    [
        (hash & EMC_MASK) as usize,
        ((hash >> EMC_HASH_SHIFT) & EMC_MASK) as usize,
    ]
}

/// Full key comparison: `map`, then the value words (branch-free over the
/// words; cheaper than a `memcmp` call for the usual ~10 words).
#[inline(always)]
fn key_eq(a: &FlowKey, b: &FlowKey) -> bool {
    if a.map != b.map || a.len != b.len {
        return false;
    }
    let n = (a.len as usize).min(FLOW_WORDS);
    let mut diff = 0u64;
    for (x, y) in a.buf[..n].iter().zip(b.buf[..n].iter()) {
        diff |= x ^ y;
    }
    diff == 0
}

impl<V: Copy> Emc<V> {
    /// An empty cache with the default insertion probability
    /// (1/[`DEFAULT_EMC_INSERT_INV_PROB`]) and a fixed PRNG seed.
    ///
    /// Allocates about 5 MiB on the heap (never on the stack). O(EMC_ENTRIES).
    pub fn new() -> Self {
        Self::with_seed(0x853c_49e6_748f_ea9b)
    }

    /// Like [`Emc::new`] with an explicit seed for the insertion PRNG (use a
    /// different seed per PMD if their decisions should be independent).
    pub fn with_seed(seed: u64) -> Self {
        let mut e = Emc {
            tags: vec![Tag { hash: 0, val: None }; EMC_ENTRIES],
            keys: vec![FlowKey::default(); EMC_ENTRIES],
            insert_min: 0,
            inv_prob: 0,
            rng: seed | 1,
        };
        e.set_insert_inv_prob(DEFAULT_EMC_INSERT_INV_PROB);
        e
    }

    /// The value cached for exactly `key`, if any (OVS `emc_lookup`).
    ///
    /// Probes the two candidate slots of `key.hash`; a slot hits only if its
    /// hash, `map` and value words all equal the key's. `key.hash` must be
    /// the key's hash ([`FlowKey::rehash`]); a wrong hash only causes misses.
    /// O(key length) on a hash match, O(1) otherwise.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<V> {
        for pos in positions(key.hash) {
            let t = self.tags[pos];
            if t.hash == key.hash {
                if let Some(v) = t.val {
                    if key_eq(&self.keys[pos], key) {
                        return Some(v);
                    }
                }
            }
        }
        None
    }

    /// Inserts or replaces the entry for `key` unconditionally (OVS
    /// `emc_insert`).
    ///
    /// If one of the two candidate slots already holds `key`, its value is
    /// replaced. Otherwise the victim is an empty slot if there is one, else
    /// the slot whose cached hash is smaller (OVS's replacement policy; it
    /// also prefers dead entries, which here are the empty ones). O(key
    /// length) (the key is copied).
    pub fn insert(&mut self, key: &FlowKey, v: V) {
        let pos = positions(key.hash);
        let mut victim = usize::MAX;
        for p in pos {
            let t = self.tags[p];
            if t.val.is_some() && t.hash == key.hash && key_eq(&self.keys[p], key) {
                self.tags[p].val = Some(v);
                return;
            }
            if victim == usize::MAX {
                victim = p;
                continue;
            }
            let vt = self.tags[victim];
            let better = match (vt.val.is_some(), t.val.is_some()) {
                (true, false) => true,
                (false, true) => false,
                _ => t.hash < vt.hash,
            };
            if better {
                victim = p;
            }
        }
        self.tags[victim] = Tag {
            hash: key.hash,
            val: Some(v),
        };
        let dst = &mut self.keys[victim];
        dst.hash = key.hash;
        dst.len = key.len;
        dst.map = key.map;
        let n = key.len as usize;
        dst.buf[..n].copy_from_slice(&key.buf[..n]);
    }

    #[inline(always)]
    fn next_random(&mut self) -> u32 {
        // xorshift64* (Vigna): cheap, good enough for a sampling decision.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Inserts with probability `1 / insert_inv_prob` (OVS
    /// `emc_probabilistic_insert`: insert if `random_u32() <= u32::MAX /
    /// inv_prob`; never when `inv_prob` is 0).
    ///
    /// Uses an internal xorshift64* PRNG, so it is deterministic for a given
    /// seed and call sequence. O(1) when not inserting.
    #[inline]
    pub fn probabilistic_insert(&mut self, key: &FlowKey, v: V) {
        let min = self.insert_min;
        if min != 0 && self.next_random() <= min {
            self.insert(key, v);
        }
    }

    /// Sets the inverse insertion probability used by
    /// [`Emc::probabilistic_insert`]: 0 never inserts (EMC effectively
    /// disabled), 1 always inserts, `n` inserts about 1 in `n` (OVS
    /// `other_config:emc-insert-inv-prob`).
    pub fn set_insert_inv_prob(&mut self, inv_prob: u32) {
        self.inv_prob = inv_prob;
        self.insert_min = u32::MAX.checked_div(inv_prob).unwrap_or(0);
    }

    /// The inverse insertion probability (see [`Emc::set_insert_inv_prob`]).
    pub fn insert_inv_prob(&self) -> u32 {
        self.inv_prob
    }

    /// Empties every slot. O(EMC_ENTRIES) over the compact tag array only.
    pub fn clear(&mut self) {
        for t in self.tags.iter_mut() {
            t.val = None;
        }
    }

    /// Empties every slot whose value fails `keep` (called when flows are
    /// deleted, like OVS's `emc_cache_slow_sweep` removing dead flows, but
    /// immediate). O(EMC_ENTRIES).
    pub fn retain(&mut self, mut keep: impl FnMut(V) -> bool) {
        for t in self.tags.iter_mut() {
            if let Some(v) = t.val {
                if !keep(v) {
                    t.val = None;
                }
            }
        }
    }

    /// Number of occupied slots. O(EMC_ENTRIES) (diagnostics and tests).
    pub fn count(&self) -> usize {
        self.tags.iter().filter(|t| t.val.is_some()).count()
    }
}
