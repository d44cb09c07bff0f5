//! Megaflow classifier (dpcls): the last lookup stage before an upcall.
//!
//! # Design
//!
//! This follows OVS's datapath classifier (`lib/dpif-netdev.c` `dpcls_*`,
//! `lib/dpif-netdev-private-dpcls.h`, `lib/dpif-netdev-lookup-generic.c`).
//!
//! ## Tuple space search
//!
//! A megaflow is a [`Minimatch`]: a mask plus a masked key. Megaflows come in
//! few distinct masks (typically a handful to a few dozen) but possibly very
//! many keys per mask. Tuple space search (Srinivasan et al., 1999) groups the
//! rules by mask into **subtables**; within one subtable every rule has the
//! same mask, so a packet can be looked up by masking its key with the
//! subtable's mask, hashing the result and probing an exact-match hash table.
//! A lookup is therefore one hash probe per subtable, independent of the
//! number of rules.
//!
//! Megaflows installed by the slow path never overlap (no packet matches two
//! of them; the translation guarantees it, as in OVS), so there are no
//! priorities: the first subtable that has a match gives *the* match, and
//! later subtables need not be searched.
//!
//! ## Subtable ranking
//!
//! Because the first hit ends the search, the order in which subtables are
//! visited only affects speed. Every subtable counts the packets it matched;
//! [`Dpcls::sort_subtables`] (called periodically by the owner, every second
//! in OVS: `DPCLS_OPTIMIZATION_INTERVAL`, `dpcls_sort_subtable_vector`) sorts
//! the subtables by that count, most hits first, and resets the counters. A
//! new subtable is appended at the end. [`Dpcls::lookup_batch`] reports the
//! sum over hit packets of the 1-based position of the subtable that matched,
//! which divided by the number of hits is OVS's "avg. subtable lookups per
//! megaflow hit" (`pmd-perf-show`, `dpif-netdev/pmd-stats-show`).
//!
//! ## Subtable layout
//!
//! Each subtable precomputes, for each word of its mask, the word index and
//! the mask value (the analogue of OVS's `mf_masks`), and its lookup is
//! monomorphised for masks of 1 to 10 words (OVS's specialised
//! `dpcls_subtable_lookup_mf_uX_uY` functions): with the word count known at
//! compile time the masking, hashing and key comparison loops are fully
//! unrolled and the masked words stay in a small stack array. Wider masks use
//! a generic loop.
//!
//! Rules live in flat arrays (masked keys back to back, `n_words` per rule;
//! values; hashes) indexed by a bucketised open-addressing hash table: one
//! 64-byte bucket holds 7 `(hash, rule index)` slots, probing moves bucket to
//! bucket, and each bucket counts the entries that overflowed past it (so
//! deletion needs no tombstones and a search stops at the first bucket with
//! no overflow). The load factor is kept at or below 1/2, so a search
//! almost always reads one cache line of index, compares its 7 hashes
//! without branches, and only on a hash match touches the rule's key words.
//! The earlier design, linear probing over 8-byte slots, was about 2x slower
//! with several subtables because the "empty slot?" branch was unpredictable.
//! The hash is [`Minimatch::hash`] with basis 0 (equal to [`hash_masked`] of
//! a matching packet).
//!
//! ## Batch lookup
//!
//! [`Dpcls::lookup_batch`] (OVS `dpcls_lookup`) first expands each requested
//! packet key into a full, per-classifier 67-word array (only its present
//! words are written; they are zeroed again at the end, so the arrays are
//! all zero between calls and no memset is needed). Extracting a masked word
//! is then a plain indexed load instead of a popcount over the key's map.
//! It then processes one subtable at a time for all packets still unmatched:
//! first it computes every pending packet's masked words and hash, then
//! probes the index for each of them. The two passes keep the probe loads
//! independent of each other, so the CPU overlaps their cache misses (OVS
//! does the same with `cmap_find_batch`). It stops as soon as every packet
//! has matched. No allocation.
//!
//! ## Ownership
//!
//! A `Dpcls` has a single owner (in OVS, one classifier per PMD thread per
//! input port, `pmd->classifiers`). Lookups take `&mut self` too: they
//! update the hit counters and use the expansion buffers. There are no locks and no RCU: the owner inserts and
//! removes rules between batches. Values are small copyable handles (the
//! flow table's), validated by the flow table.
//!
//! [`hash_masked`]: crate::miniflow::hash_masked

use crate::flow::FLOW_WORDS;
use crate::miniflow::{hash_add64, hash_finish, FlowKey, Minimask, Minimatch};

/// Maximum number of packets in one [`Dpcls::lookup_batch`] call (a batch,
/// OVS `NETDEV_MAX_BURST`).
pub const DPCLS_MAX_BATCH: usize = 32;

/// Slots per hash-table bucket (a bucket is one 64-byte cache line).
const BUCKET_SLOTS: usize = 7;
const BUCKET_FULL: u32 = (1 << BUCKET_SLOTS) - 1;
const MIN_BUCKETS: usize = 2;

/// One cache line of the rule index: up to 7 (hash, rule index) pairs.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    /// Hashes of slots 0..7; lane 7 is the overflow count: the number of
    /// entries whose probe sequence passed this bucket because it was full
    /// (they live in a later bucket); a search stops at a bucket whose
    /// overflow count is 0. (Keeping it in lane 7 lets the 8-lane compare
    /// vectorise; `used` never has bit 7 set.)
    hash: [u32; 8],
    idx: [u32; BUCKET_SLOTS],
    /// Bitmap of occupied slots.
    used: u32,
}

const OVERFLOW: usize = 7;

const EMPTY_BUCKET: Bucket = Bucket {
    hash: [0; 8],
    idx: [0; BUCKET_SLOTS],
    used: 0,
};

/// Hash index of a subtable's rules: bucketised open addressing (buckets of
/// 7 slots, one cache line, linear probing from bucket to bucket with
/// per-bucket overflow counts instead of tombstones). A probe compares the 7
/// hashes of a bucket without branches; the only data-dependent branches are
/// "some hash matched" (rare on a miss) and "continue to the next bucket"
/// (rare at the load factor kept, at most 1/2).
struct RuleIndex {
    buckets: Vec<Bucket>,
}

impl RuleIndex {
    fn new(n_buckets: usize) -> Self {
        debug_assert!(n_buckets.is_power_of_two());
        RuleIndex {
            buckets: vec![EMPTY_BUCKET; n_buckets],
        }
    }

    #[inline(always)]
    fn capacity(&self) -> usize {
        self.buckets.len() * BUCKET_SLOTS
    }

    /// The rule index `r` with hash `h` for which `eq(r)` holds.
    #[inline(always)]
    fn find(&self, h: u32, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        let bmask = self.buckets.len() - 1;
        let mut b = h as usize & bmask;
        loop {
            let bk = &self.buckets[b];
            let mut m = 0u32;
            for j in 0..8 {
                m |= ((bk.hash[j] == h) as u32) << j;
            }
            m &= bk.used;
            while m != 0 {
                let j = m.trailing_zeros() as usize;
                m &= m - 1;
                let r = bk.idx[j] as usize;
                if eq(r) {
                    return Some(r);
                }
            }
            if bk.hash[OVERFLOW] == 0 {
                return None;
            }
            b = (b + 1) & bmask;
        }
    }

    /// Adds `(h, r)`; the caller guarantees a free slot exists.
    fn add(&mut self, h: u32, r: u32) {
        let bmask = self.buckets.len() - 1;
        let mut b = h as usize & bmask;
        loop {
            let bk = &mut self.buckets[b];
            if bk.used != BUCKET_FULL {
                let j = (!bk.used).trailing_zeros() as usize;
                bk.hash[j] = h;
                bk.idx[j] = r;
                bk.used |= 1 << j;
                return;
            }
            bk.hash[OVERFLOW] += 1;
            b = (b + 1) & bmask;
        }
    }

    /// Locates `(h, r)`: (bucket, slot).
    fn locate(&self, h: u32, r: u32) -> (usize, usize) {
        let bmask = self.buckets.len() - 1;
        let mut b = h as usize & bmask;
        loop {
            let bk = &self.buckets[b];
            for j in 0..BUCKET_SLOTS {
                if bk.used & (1 << j) != 0 && bk.idx[j] == r {
                    return (b, j);
                }
            }
            assert!(bk.hash[OVERFLOW] != 0, "dpcls rule index corrupted");
            b = (b + 1) & bmask;
        }
    }

    /// Removes `(h, r)`, which must be present.
    fn remove(&mut self, h: u32, r: u32) {
        let (b, j) = self.locate(h, r);
        self.buckets[b].used &= !(1 << j);
        let bmask = self.buckets.len() - 1;
        let mut x = h as usize & bmask;
        while x != b {
            self.buckets[x].hash[OVERFLOW] -= 1;
            x = (x + 1) & bmask;
        }
    }

    /// Changes the rule index of `(h, old)` to `new`.
    fn repoint(&mut self, h: u32, old: u32, new: u32) {
        let (b, j) = self.locate(h, old);
        self.buckets[b].idx[j] = new;
    }
}

/// One mask word of a subtable: which flow word, and its mask bits.
#[derive(Clone, Copy)]
struct MaskWord {
    idx: u32,
    mask: u64,
}

/// One expanded packet key: every flow word at its own index.
type Expanded = [u64; FLOW_WORDS];

/// Writes `key`'s present words into `f` at their word indices. `f` must be
/// all zero on entry (see [`clear_expanded`]), so absent words read as 0.
#[inline(always)]
fn expand(key: &FlowKey, f: &mut Expanded) {
    let mut j = 0;
    let mut lo = key.map as u64;
    while lo != 0 {
        f[lo.trailing_zeros() as usize] = key.buf[j];
        j += 1;
        lo &= lo - 1;
    }
    let mut hi = (key.map >> 64) as u64;
    while hi != 0 {
        f[(64 + hi.trailing_zeros() as usize).min(FLOW_WORDS - 1)] = key.buf[j.min(FLOW_WORDS - 1)];
        j += 1;
        hi &= hi - 1;
    }
}

/// Zeroes the words [`expand`] wrote for `key`, restoring an all-zero `f`.
#[inline(always)]
fn clear_expanded(key: &FlowKey, f: &mut Expanded) {
    let mut lo = key.map as u64;
    while lo != 0 {
        f[lo.trailing_zeros() as usize] = 0;
        lo &= lo - 1;
    }
    let mut hi = (key.map >> 64) as u64;
    while hi != 0 {
        f[(64 + hi.trailing_zeros() as usize).min(FLOW_WORDS - 1)] = 0;
        hi &= hi - 1;
    }
}

/// Hash of already-masked words (the same chain as [`Minimatch::hash`]).
#[inline(always)]
fn hash_words_masked(words: &[u64]) -> u32 {
    let mut h = 0u64;
    for &w in words {
        h = hash_add64(h, w);
    }
    hash_finish(h)
}

/// All rules that share one mask.
struct Subtable<V: Copy> {
    mask: Minimask,
    words: Box<[MaskWord]>,
    /// Hash index over the rules.
    index: RuleIndex,
    /// Masked keys, `words.len()` per rule.
    keys: Vec<u64>,
    vals: Vec<V>,
    hashes: Vec<u32>,
    /// Packets matched since the last sort.
    hits: u64,
}

impl<V: Copy> Subtable<V> {
    fn new(mask: &Minimask) -> Self {
        let mut words = Vec::with_capacity(mask.values.len());
        let mut map = mask.map;
        let mut j = 0;
        while map != 0 {
            let i = map.trailing_zeros();
            words.push(MaskWord {
                idx: i,
                mask: mask.values[j],
            });
            j += 1;
            map &= map - 1;
        }
        Subtable {
            mask: mask.clone(),
            words: words.into_boxed_slice(),
            index: RuleIndex::new(MIN_BUCKETS),
            keys: Vec::new(),
            vals: Vec::new(),
            hashes: Vec::new(),
            hits: 0,
        }
    }

    #[inline(always)]
    fn n_words(&self) -> usize {
        self.words.len()
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.vals.len()
    }

    #[inline(always)]
    fn rule_key(&self, r: usize) -> &[u64] {
        let n = self.n_words();
        &self.keys[r * n..r * n + n]
    }

    /// Probes for hash `h`; `eq(r)` confirms rule `r` on a hash match.
    #[inline(always)]
    fn probe(&self, h: u32, eq: impl FnMut(usize) -> bool) -> Option<V> {
        self.index.find(h, eq).map(|r| self.vals[r])
    }

    /// Looks up the `pending` packets of `flows` in this subtable, for a mask
    /// of exactly `N` words (the compiler unrolls everything; OVS's
    /// specialised `dpcls_subtable_lookup_mf_uX_uY` functions). Returns the
    /// bitmap of hits and fills `out`.
    #[inline(always)]
    fn lookup_n<const N: usize>(
        &self,
        flows: &[Expanded],
        pending: u32,
        out: &mut [Option<V>],
    ) -> u32 {
        let mut idx = [0usize; N];
        let mut msk = [0u64; N];
        for (j, mw) in self.words.iter().enumerate().take(N) {
            idx[j] = (mw.idx as usize).min(FLOW_WORDS - 1);
            msk[j] = mw.mask;
        }
        // Pass 1: masked words and hash of every pending packet.
        let mut masked = [[0u64; N]; DPCLS_MAX_BATCH];
        let mut hashes = [0u32; DPCLS_MAX_BATCH];
        let mut m = pending;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            m &= m - 1;
            let f = &flows[p];
            let mut h = 0u64;
            for j in 0..N {
                let w = f[idx[j]] & msk[j];
                masked[p][j] = w;
                h = hash_add64(h, w);
            }
            hashes[p] = hash_finish(h);
        }
        // Pass 2: probe; compare the words only on a hash match.
        let mut found = 0u32;
        let mut m = pending;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            m &= m - 1;
            let want = &masked[p];
            let hit = self.probe(hashes[p], |r| {
                let key = &self.keys[r * N..r * N + N];
                let mut diff = 0u64;
                for j in 0..N {
                    diff |= key[j] ^ want[j];
                }
                diff == 0
            });
            if let Some(v) = hit {
                out[p] = Some(v);
                found |= 1 << p;
            }
        }
        found
    }

    /// [`Subtable::lookup_n`] for any number of mask words.
    fn lookup_any(&self, flows: &[Expanded], pending: u32, out: &mut [Option<V>]) -> u32 {
        let n = self.n_words();
        let mut found = 0u32;
        let mut m = pending;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            m &= m - 1;
            let f = &flows[p];
            let mut h = 0u64;
            for mw in self.words.iter() {
                h = hash_add64(h, f[mw.idx as usize] & mw.mask);
            }
            let hit = self.probe(hash_finish(h), |r| {
                let key = &self.keys[r * n..r * n + n];
                key.iter()
                    .zip(self.words.iter())
                    .all(|(&k, mw)| f[mw.idx as usize] & mw.mask == k)
            });
            if let Some(v) = hit {
                out[p] = Some(v);
                found |= 1 << p;
            }
        }
        found
    }

    /// Dispatches to the lookup specialised for this mask's word count.
    #[inline]
    fn lookup_batch(&self, flows: &[Expanded], pending: u32, out: &mut [Option<V>]) -> u32 {
        match self.n_words() {
            1 => self.lookup_n::<1>(flows, pending, out),
            2 => self.lookup_n::<2>(flows, pending, out),
            3 => self.lookup_n::<3>(flows, pending, out),
            4 => self.lookup_n::<4>(flows, pending, out),
            5 => self.lookup_n::<5>(flows, pending, out),
            6 => self.lookup_n::<6>(flows, pending, out),
            7 => self.lookup_n::<7>(flows, pending, out),
            8 => self.lookup_n::<8>(flows, pending, out),
            9 => self.lookup_n::<9>(flows, pending, out),
            10 => self.lookup_n::<10>(flows, pending, out),
            _ => self.lookup_any(flows, pending, out),
        }
    }

    fn rebuild(&mut self, n_buckets: usize) {
        let mut index = RuleIndex::new(n_buckets);
        for (r, &h) in self.hashes.iter().enumerate() {
            index.add(h, r as u32);
        }
        self.index = index;
    }

    /// The index of the rule with masked key `words` (hash `h`).
    fn find_rule(&self, h: u32, words: &[u64]) -> Option<usize> {
        self.index.find(h, |r| self.rule_key(r) == words)
    }

    /// Inserts or replaces; true if a rule was added.
    fn insert(&mut self, words: &[u64], v: V) -> bool {
        let h = hash_words_masked(words);
        if let Some(r) = self.find_rule(h, words) {
            self.vals[r] = v;
            return false;
        }
        assert!(self.len() < u32::MAX as usize, "dpcls subtable full");
        if (self.len() + 1) * 2 > self.index.capacity() {
            self.rebuild(self.index.buckets.len() * 2);
        }
        self.index.add(h, self.len() as u32);
        self.keys.extend_from_slice(words);
        self.vals.push(v);
        self.hashes.push(h);
        true
    }

    fn remove(&mut self, words: &[u64]) -> Option<V> {
        let h = hash_words_masked(words);
        let r = self.find_rule(h, words)?;
        let v = self.vals[r];
        self.index.remove(h, r as u32);
        let last = self.len() - 1;
        if r != last {
            // Move the last rule into index r and repoint its entry.
            let lh = self.hashes[last];
            self.index.repoint(lh, last as u32, r as u32);
            let n = self.n_words();
            self.keys.copy_within(last * n..last * n + n, r * n);
            self.hashes[r] = lh;
        }
        self.vals.swap_remove(r);
        self.hashes.truncate(last);
        self.keys.truncate(last * self.n_words());
        if self.index.buckets.len() > MIN_BUCKETS && self.len() * 8 < self.index.capacity() {
            self.rebuild(self.index.buckets.len() / 2);
        }
        Some(v)
    }
}

/// Megaflow classifier: tuple space search over per-mask subtables (OVS
/// `struct dpcls`).
///
/// Holds non-overlapping rules ([`Minimatch`] -> `V`). Lookup cost is one
/// masked hash plus one hash-table probe per subtable visited, independent of
/// the number of rules; subtables are visited in ranked order
/// ([`Dpcls::sort_subtables`]). Single owner, no locks.
pub struct Dpcls<V: Copy> {
    subtables: Vec<Subtable<V>>,
    n_rules: usize,
    /// Expanded keys of the batch being looked up; all zero between calls.
    expanded: Box<[Expanded]>,
}

impl<V: Copy> Default for Dpcls<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy> Dpcls<V> {
    /// An empty classifier (OVS `dpcls_init`). Allocates 17 KiB of key
    /// expansion buffers for batch lookups.
    pub fn new() -> Self {
        Dpcls {
            subtables: Vec::new(),
            n_rules: 0,
            expanded: vec![[0u64; FLOW_WORDS]; DPCLS_MAX_BATCH].into_boxed_slice(),
        }
    }

    fn subtable_index(&self, mask: &Minimask) -> Option<usize> {
        self.subtables
            .iter()
            .position(|s| s.mask.map == mask.map && s.mask.values == mask.values)
    }

    /// Copies `rule`'s key, re-masked (defensive: the fields are public), into
    /// `buf` and returns the used prefix.
    fn rule_words<'a>(rule: &Minimatch, buf: &'a mut [u64; FLOW_WORDS]) -> &'a [u64] {
        let n = rule.mask.values.len();
        assert_eq!(
            rule.key.len(),
            n,
            "Minimatch key must have one word per mask word"
        );
        for ((d, &k), &m) in buf
            .iter_mut()
            .zip(rule.key.iter())
            .zip(rule.mask.values.iter())
        {
            *d = k & m;
        }
        &buf[..n]
    }

    /// Adds `rule` with value `v`, or replaces the value if the same rule
    /// (same mask and masked key) is present (OVS `dpcls_insert`).
    ///
    /// Creates the rule's subtable if its mask is new (appended last in the
    /// ranking). The caller must keep rules non-overlapping; overlapping rules
    /// in different subtables are not detected, and lookups then return
    /// whichever is found first. O(subtables + mask words), amortised
    /// (subtable tables double when half full).
    ///
    /// # Panics
    /// If `rule.key.len()` differs from the number of mask words (a malformed
    /// [`Minimatch`]).
    pub fn insert(&mut self, rule: &Minimatch, v: V) {
        let mut buf = [0u64; FLOW_WORDS];
        let words = Self::rule_words(rule, &mut buf);
        let si = match self.subtable_index(&rule.mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Subtable::new(&rule.mask));
                self.subtables.len() - 1
            }
        };
        if self.subtables[si].insert(words, v) {
            self.n_rules += 1;
        }
    }

    /// Removes `rule` (same mask and masked key), returning its value, or
    /// `None` if absent (OVS `dpcls_remove`). A subtable left empty is
    /// destroyed (the order of the others is kept). O(subtables + mask
    /// words), amortised.
    pub fn remove(&mut self, rule: &Minimatch) -> Option<V> {
        if rule.key.len() != rule.mask.values.len() {
            return None;
        }
        let mut buf = [0u64; FLOW_WORDS];
        let words = Self::rule_words(rule, &mut buf);
        let si = self.subtable_index(&rule.mask)?;
        let v = self.subtables[si].remove(words)?;
        self.n_rules -= 1;
        if self.subtables[si].len() == 0 {
            self.subtables.remove(si);
        }
        Some(v)
    }

    /// The value of the rule matching `key`, if any (a batch of one; see
    /// [`Dpcls::lookup_batch`]). Counts the hit for ranking. O(subtables
    /// visited x mask words).
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey) -> Option<V> {
        let mut out = [None];
        self.lookup_batch(std::slice::from_ref(key), 1, &mut out);
        out[0]
    }

    /// Batch lookup (OVS `dpcls_lookup`).
    ///
    /// `keys.len() <= 32` ([`DPCLS_MAX_BATCH`]); bit `i` of `todo` asks for
    /// `keys[i]` (bits at or beyond `keys.len()` are ignored). For each hit,
    /// `out[i] = Some(value)`; other entries of `out` are left untouched.
    ///
    /// Returns `(hits, lookups)`: the bitmap of keys that matched, and the
    /// sum over those keys of the 1-based rank of the subtable that matched
    /// (the number of subtables searched to find it; `lookups / hits.count_ones()`
    /// is OVS's "avg. subtable lookups per megaflow hit"). Misses are not
    /// counted in `lookups`, as in OVS.
    ///
    /// Subtables are processed in ranked order, each resolving all
    /// still-pending keys in one pass; the search ends when none is pending.
    /// No allocation. O(subtables x pending keys x mask words).
    ///
    /// # Panics
    /// If `keys.len() > 32` or `out.len() < keys.len()`.
    pub fn lookup_batch(
        &mut self,
        keys: &[FlowKey],
        todo: u32,
        out: &mut [Option<V>],
    ) -> (u32, u32) {
        assert!(keys.len() <= DPCLS_MAX_BATCH, "dpcls batch too large");
        assert!(out.len() >= keys.len(), "dpcls output too short");
        let valid = if keys.len() == DPCLS_MAX_BATCH {
            u32::MAX
        } else {
            (1u32 << keys.len()) - 1
        };
        let mut pending = todo & valid;
        let mut hits = 0u32;
        let mut lookups = 0u32;
        let asked = pending;
        let flows = &mut self.expanded[..];
        let mut m = asked;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            m &= m - 1;
            expand(&keys[p], &mut flows[p]);
        }
        for (pos, st) in self.subtables.iter_mut().enumerate() {
            if pending == 0 {
                break;
            }
            let found = st.lookup_batch(flows, pending, out);
            let c = found.count_ones();
            st.hits += c as u64;
            lookups += c * (pos as u32 + 1);
            hits |= found;
            pending &= !found;
        }
        let mut m = asked;
        while m != 0 {
            let p = m.trailing_zeros() as usize;
            m &= m - 1;
            clear_expanded(&keys[p], &mut flows[p]);
        }
        (hits, lookups)
    }

    /// Re-ranks the subtables by hits since the last call, most hits first
    /// (stable for ties), and resets the counters (OVS
    /// `dpcls_sort_subtable_vector`). O(subtables log subtables).
    pub fn sort_subtables(&mut self) {
        self.subtables.sort_by_key(|s| std::cmp::Reverse(s.hits));
        for s in self.subtables.iter_mut() {
            s.hits = 0;
        }
    }

    /// Number of subtables (distinct masks). O(1).
    pub fn n_subtables(&self) -> usize {
        self.subtables.len()
    }

    /// Number of rules. O(1).
    pub fn len(&self) -> usize {
        self.n_rules
    }

    /// True if there are no rules. O(1).
    pub fn is_empty(&self) -> bool {
        self.n_rules == 0
    }

    /// The subtables' masks in current rank order (diagnostics).
    pub fn subtable_masks(&self) -> impl Iterator<Item = &Minimask> {
        self.subtables.iter().map(|s| &s.mask)
    }

    /// Each subtable's mask, rule count and hits since the last sort, in rank
    /// order (diagnostics, like `dpif-netdev/subtable-lookup-info-get`).
    pub fn subtable_stats(&self) -> impl Iterator<Item = (&Minimask, usize, u64)> {
        self.subtables.iter().map(|s| (&s.mask, s.len(), s.hits))
    }
}
