//! Signature match cache (SMC): the optional second lookup stage.
//!
//! # Design
//!
//! Follows OVS's `struct smc_cache` (`lib/dpif-netdev.c`, `smc_lookup_batch`,
//! `smc_insert`; enabled there by `other_config:smc-enable`, off by
//! default). Unlike the EMC it does not store keys: [`SMC_ENTRIES`] (1M)
//! entries of a 16-bit signature plus a value, grouped in buckets of
//! [`SMC_ENTRY_PER_BUCKET`] (4).
//!
//! * Bucket: `hash & (SMC_BUCKETS - 1)` (low 18 bits of the key hash).
//! * Signature: `hash >> 16` (high 16 bits).
//! * A lookup returns the first entry of the bucket whose signature matches
//!   *and* whose value the caller's `verify` accepts: the caller checks that
//!   the megaflow the value names really matches the packet (OVS runs
//!   `dpcls_rule_matches_key` on the candidate flow). Signatures alone are
//!   ambiguous, so without verification wrong values would be returned.
//! * Insert: same signature in the bucket -> replace its value; else an empty
//!   entry; else a pseudo-random entry of the bucket.
//!
//! Much more compact per flow than the EMC (it holds no key), so it covers far
//! more flows (1M) at the cost of a megaflow match check per hit. OVS stores a
//! 16-bit flow-table index; here the value is generic, so use a small `V`
//! (ideally one with a niche, e.g. `NonZeroU32`, making `Option<V>` 4 bytes).
//!
//! Single owner (one per PMD), no locks.

use crate::miniflow::FlowKey;

/// Total number of entries (OVS `SMC_ENTRIES`, `1 << 20`).
pub const SMC_ENTRIES: usize = 1 << 20;
/// Entries per bucket (OVS `SMC_ENTRY_PER_BUCKET`).
pub const SMC_ENTRY_PER_BUCKET: usize = 4;
/// Number of buckets (OVS `SMC_BUCKET_CNT`).
pub const SMC_BUCKETS: usize = SMC_ENTRIES / SMC_ENTRY_PER_BUCKET;

const SMC_MASK: u32 = (SMC_BUCKETS - 1) as u32;

#[derive(Clone, Copy)]
struct Bucket<V: Copy> {
    sig: [u16; SMC_ENTRY_PER_BUCKET],
    val: [Option<V>; SMC_ENTRY_PER_BUCKET],
}

/// Signature match cache: 1M (signature, value) entries in 4-way buckets
/// (OVS `struct smc_cache`).
///
/// Memory: `SMC_BUCKETS * (8 + 4 * size_of::<Option<V>>())` bytes on the
/// heap (6 MiB for a niche-optimised 4-byte `V`, 10 MiB for `u32`).
pub struct Smc<V: Copy> {
    buckets: Vec<Bucket<V>>,
    rng: u32,
}

impl<V: Copy> Default for Smc<V> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn split(hash: u32) -> (usize, u16) {
    ((hash & SMC_MASK) as usize, (hash >> 16) as u16)
}

impl<V: Copy> Smc<V> {
    /// An empty cache. Allocates all buckets up front. O(SMC_BUCKETS).
    pub fn new() -> Self {
        Smc {
            buckets: vec![
                Bucket {
                    sig: [0; SMC_ENTRY_PER_BUCKET],
                    val: [None; SMC_ENTRY_PER_BUCKET],
                };
                SMC_BUCKETS
            ],
            rng: 0x9e37_79b9,
        }
    }

    /// The first value in `key`'s bucket whose signature matches and that
    /// `verify` accepts (OVS `smc_lookup_single`).
    ///
    /// `verify` is called once per signature-matching candidate (at most 4)
    /// and must check that the value's megaflow matches `key`; only
    /// `key.hash` is used here. O(1).
    #[inline]
    pub fn lookup(&self, key: &FlowKey, mut verify: impl FnMut(V) -> bool) -> Option<V> {
        let (b, sig) = split(key.hash);
        let bucket = &self.buckets[b];
        for i in 0..SMC_ENTRY_PER_BUCKET {
            if bucket.sig[i] == sig {
                if let Some(v) = bucket.val[i] {
                    if verify(v) {
                        return Some(v);
                    }
                }
            }
        }
        None
    }

    /// Caches `v` for `key`'s hash (OVS `smc_insert`): replaces the value of
    /// an entry with the same signature, else fills an empty entry, else
    /// overwrites a pseudo-random entry of the bucket. O(1).
    pub fn insert(&mut self, key: &FlowKey, v: V) {
        let (b, sig) = split(key.hash);
        let bucket = &mut self.buckets[b];
        for i in 0..SMC_ENTRY_PER_BUCKET {
            if bucket.val[i].is_some() && bucket.sig[i] == sig {
                bucket.val[i] = Some(v);
                return;
            }
        }
        for i in 0..SMC_ENTRY_PER_BUCKET {
            if bucket.val[i].is_none() {
                bucket.sig[i] = sig;
                bucket.val[i] = Some(v);
                return;
            }
        }
        // xorshift32.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        let i = (x as usize) % SMC_ENTRY_PER_BUCKET;
        let bucket = &mut self.buckets[b];
        bucket.sig[i] = sig;
        bucket.val[i] = Some(v);
    }

    /// Empties every entry. O(SMC_ENTRIES).
    pub fn clear(&mut self) {
        for b in self.buckets.iter_mut() {
            b.val = [None; SMC_ENTRY_PER_BUCKET];
        }
    }

    /// Empties every entry whose value fails `keep` (used on flow deletion).
    /// O(SMC_ENTRIES).
    pub fn retain(&mut self, mut keep: impl FnMut(V) -> bool) {
        for b in self.buckets.iter_mut() {
            for slot in b.val.iter_mut() {
                if let Some(v) = *slot {
                    if !keep(v) {
                        *slot = None;
                    }
                }
            }
        }
    }

    /// Number of occupied entries. O(SMC_ENTRIES) (diagnostics and tests).
    pub fn count(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.val.iter().filter(|v| v.is_some()).count())
            .sum()
    }
}
