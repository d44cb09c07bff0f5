//! Compact flow keys: only the non-zero words of a [`Flow`] plus a bitmap.
//!
//! # Design
//!
//! OVS's `struct miniflow` (`lib/flow.h`) stores a flow as a bitmap of which
//! 64-bit words are present and, in increasing word order, the values of those
//! words. A typical TCP/IPv4 packet touches about ten of the [`FLOW_WORDS`]
//! words, so the compact form is what the fast path hashes, compares and
//! caches.
//!
//! Three shapes are used:
//!
//! * [`FlowKey`] (OVS: `netdev_flow_key`): a packet's key with an inline word
//!   buffer large enough for any flow, plus its 32-bit hash. It is
//!   **canonical**: a word is present in the map if and only if it is non-zero,
//!   so two keys of the same flow compare equal word for word. Built by
//!   [`MiniflowBuilder`] (the extractor) or [`FlowKey::from_flow`].
//! * [`Minimask`]: a mask in the same compact form, heap-allocated with exactly
//!   as many words as its map has bits. A dpcls subtable has one.
//! * [`Minimatch`]: a masked key plus its mask; the key's words are laid out
//!   under the *mask's* map (a masked-away word is stored as zero), which makes
//!   [`Minimatch::matches`] and [`hash_masked`] a single walk over the mask.
//!
//! Hashes are 32-bit, computed with a multiply-rotate mix over 64-bit words
//! (not cryptographic; the EMC, SMC and dpcls verify keys after a hash hit).

use crate::flow::{Field, Flow, FLOW_WORDS};

/// Bitmap of present words; bit `i` stands for word `i` of a [`Flow`].
pub type FlowMap = u128;

const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0x2127_599b_f432_5c37;

/// Mixes one 64-bit word into a running 64-bit hash state.
#[inline(always)]
pub fn hash_add64(h: u64, w: u64) -> u64 {
    (h.rotate_left(27) ^ w).wrapping_mul(K1)
}

/// Finishes a running hash state into a 32-bit hash.
#[inline(always)]
pub fn hash_finish(h: u64) -> u32 {
    let h = (h ^ (h >> 31)).wrapping_mul(K2);
    (h ^ (h >> 29)) as u32
}

/// Hash of a map and a word sequence (the hash of a [`FlowKey`]): the words
/// are mixed in order, then the map ([`hash_map_finish`]), so that a builder
/// can hash each word as it is produced and mix in the map at the end.
#[inline]
pub fn hash_words(map: FlowMap, words: &[u64], basis: u32) -> u32 {
    let mut h = basis as u64;
    for &w in words {
        h = hash_add64(h, w);
    }
    hash_map_finish(h, map)
}

/// Finishes a running word hash (started from the basis, one
/// [`hash_add64`] per present word) with the map: the last step of
/// [`hash_words`].
#[inline(always)]
pub fn hash_map_finish(h: u64, map: FlowMap) -> u32 {
    hash_finish(hash_add64(
        h,
        map as u64 ^ ((map >> 64) as u64).rotate_left(32),
    ))
}

/// Number of set bits of `map` below bit `idx` (the position of word `idx` in
/// a compact value array).
#[inline(always)]
pub fn map_rank(map: FlowMap, idx: usize) -> usize {
    (map & ((1u128 << idx) - 1)).count_ones() as usize
}

/// A packet's flow key in compact form with its hash (OVS `netdev_flow_key`).
///
/// Canonical: exactly the non-zero words are present. `len` values of `buf`
/// are meaningful; the rest are unspecified.
#[derive(Clone)]
#[repr(C, align(64))]
pub struct FlowKey {
    /// Hash of `map` and the present words ([`hash_words`] with basis 0).
    pub hash: u32,
    /// Number of present words (`map.count_ones()`).
    pub len: u32,
    /// Which words are present.
    pub map: FlowMap,
    /// The present words in increasing word order; `buf[..len]` is valid.
    pub buf: [u64; FLOW_WORDS],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey {
            hash: hash_words(0, &[], 0),
            len: 0,
            map: 0,
            buf: [0; FLOW_WORDS],
        }
    }
}

impl PartialEq for FlowKey {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map && self.values() == other.values()
    }
}
impl Eq for FlowKey {}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowKey")
            .field("hash", &format_args!("{:#010x}", self.hash))
            .field("flow", &self.to_flow())
            .finish()
    }
}

impl FlowKey {
    /// The present words in increasing word order.
    #[inline]
    pub fn values(&self) -> &[u64] {
        &self.buf[..self.len as usize]
    }

    /// Word `idx` of the flow (zero if not present).
    #[inline]
    pub fn word(&self, idx: usize) -> u64 {
        if self.map & (1u128 << idx) != 0 {
            self.buf[map_rank(self.map, idx)]
        } else {
            0
        }
    }

    /// Value of field `f` (host order, right-aligned), zero if absent.
    #[inline]
    pub fn get(&self, f: Field) -> u64 {
        (self.word(f.word as usize) >> f.shift) & f.max()
    }

    /// The compact form of `flow` (zero words left out), with its hash.
    pub fn from_flow(flow: &Flow) -> FlowKey {
        let mut k = FlowKey {
            hash: 0,
            len: 0,
            map: 0,
            buf: [0; FLOW_WORDS],
        };
        for (i, &w) in flow.w.iter().enumerate() {
            if w != 0 {
                k.map |= 1u128 << i;
                k.buf[k.len as usize] = w;
                k.len += 1;
            }
        }
        k.rehash();
        k
    }

    /// Expands into a full [`Flow`].
    pub fn to_flow(&self) -> Flow {
        let mut f = Flow::zero();
        let mut map = self.map;
        let mut j = 0;
        while map != 0 {
            let i = map.trailing_zeros() as usize;
            f.w[i] = self.buf[j];
            j += 1;
            map &= map - 1;
        }
        f
    }

    /// Recomputes `hash` from `map` and the values.
    #[inline]
    pub fn rehash(&mut self) {
        self.hash = hash_words(self.map, self.values(), 0);
    }
}

/// Builds a canonical [`FlowKey`] from fields pushed in increasing word order
/// (OVS's `miniflow_push_*` macros).
///
/// Fields of the same word may be pushed in any order; a push to a lower word
/// than the current one is a logic error (debug assertion; in release builds it
/// is ORed into the current word, which keeps memory safety but gives a wrong
/// key). Zero words are left out so the result is canonical.
pub struct MiniflowBuilder<'a> {
    key: &'a mut FlowKey,
    cur_idx: usize,
    cur: u64,
}

impl<'a> MiniflowBuilder<'a> {
    /// Starts building into `key`, discarding its previous contents.
    #[inline]
    pub fn new(key: &'a mut FlowKey) -> Self {
        key.map = 0;
        key.len = 0;
        MiniflowBuilder {
            key,
            cur_idx: 0,
            cur: 0,
        }
    }

    #[inline(always)]
    fn flush(&mut self) {
        if self.cur != 0 {
            let k = &mut *self.key;
            k.map |= 1u128 << self.cur_idx;
            k.buf[k.len as usize] = self.cur;
            k.len += 1;
            self.cur = 0;
        }
    }

    /// Pushes a whole word `idx` (ORed with anything already pushed there).
    #[inline(always)]
    pub fn push_word(&mut self, idx: usize, value: u64) {
        debug_assert!(idx < FLOW_WORDS);
        debug_assert!(
            idx >= self.cur_idx,
            "miniflow push out of order: {idx} < {}",
            self.cur_idx
        );
        if idx > self.cur_idx {
            self.flush();
            self.cur_idx = idx;
        }
        self.cur |= value;
    }

    /// Pushes field `f` with value `v` (bits beyond the field width ignored).
    #[inline(always)]
    pub fn push(&mut self, f: Field, v: u64) {
        self.push_word(f.word as usize, (v & f.max()) << f.shift);
    }

    /// Finishes the key and computes its hash.
    #[inline]
    pub fn finish(mut self) {
        self.flush();
        self.key.rehash();
    }
}

/// A mask in compact form: the map of words with at least one mask bit and
/// those words' mask values (every stored word is non-zero).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Minimask {
    /// Which words have mask bits.
    pub map: FlowMap,
    /// Mask words in increasing word order (`map.count_ones()` of them).
    pub values: Box<[u64]>,
}

impl Minimask {
    /// The compact form of a full mask.
    pub fn from_flow(mask: &Flow) -> Minimask {
        let mut map = 0;
        let mut values = Vec::new();
        for (i, &w) in mask.w.iter().enumerate() {
            if w != 0 {
                map |= 1u128 << i;
                values.push(w);
            }
        }
        Minimask {
            map,
            values: values.into_boxed_slice(),
        }
    }

    /// Expands into a full mask.
    pub fn to_flow(&self) -> Flow {
        let mut f = Flow::zero();
        let mut map = self.map;
        let mut j = 0;
        while map != 0 {
            let i = map.trailing_zeros() as usize;
            f.w[i] = self.values[j];
            j += 1;
            map &= map - 1;
        }
        f
    }
}

/// Hash of `key` seen through `mask`: the same value as
/// [`Minimatch::hash`] of a rule whose masked key equals `key & mask`.
#[inline]
pub fn hash_masked(key: &FlowKey, mask: &Minimask, basis: u32) -> u32 {
    let mut h = basis as u64;
    let mut map = mask.map;
    let mut j = 0;
    while map != 0 {
        let i = map.trailing_zeros() as usize;
        let w = if key.map & (1u128 << i) != 0 {
            key.buf[map_rank(key.map, i)]
        } else {
            0
        };
        h = hash_add64(h, w & mask.values[j]);
        j += 1;
        map &= map - 1;
    }
    hash_finish(h)
}

/// A masked key plus its mask (OVS `minimatch`). `key[j]` is the masked value
/// of the `j`-th word of `mask.map`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Minimatch {
    /// Masked key words, laid out under `mask.map`.
    pub key: Box<[u64]>,
    /// The mask.
    pub mask: Minimask,
}

impl Minimatch {
    /// Builds from a full key and mask (the key is masked here).
    pub fn new(key: &Flow, mask: &Flow) -> Minimatch {
        let mask = Minimask::from_flow(mask);
        let mut vals = Vec::with_capacity(mask.values.len());
        let mut map = mask.map;
        let mut j = 0;
        while map != 0 {
            let i = map.trailing_zeros() as usize;
            vals.push(key.w[i] & mask.values[j]);
            j += 1;
            map &= map - 1;
        }
        Minimatch {
            key: vals.into_boxed_slice(),
            mask,
        }
    }

    /// Hash of the masked key, equal to [`hash_masked`] of any matching packet.
    #[inline]
    pub fn hash(&self, basis: u32) -> u32 {
        let mut h = basis as u64;
        for &w in self.key.iter() {
            h = hash_add64(h, w);
        }
        hash_finish(h)
    }

    /// True if `pkt` matches: equal to the key on every mask bit.
    #[inline]
    pub fn matches(&self, pkt: &FlowKey) -> bool {
        let mut map = self.mask.map;
        let mut j = 0;
        while map != 0 {
            let i = map.trailing_zeros() as usize;
            let w = if pkt.map & (1u128 << i) != 0 {
                pkt.buf[map_rank(pkt.map, i)]
            } else {
                0
            };
            if w & self.mask.values[j] != self.key[j] {
                return false;
            }
            j += 1;
            map &= map - 1;
        }
        true
    }

    /// The full masked key.
    pub fn key_flow(&self) -> Flow {
        let mut f = Flow::zero();
        let mut map = self.mask.map;
        let mut j = 0;
        while map != 0 {
            let i = map.trailing_zeros() as usize;
            f.w[i] = self.key[j];
            j += 1;
            map &= map - 1;
        }
        f
    }

    /// The full mask.
    pub fn mask_flow(&self) -> Flow {
        self.mask.to_flow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::fields;

    fn sample_flow() -> Flow {
        let mut f = Flow::zero();
        f.set(fields::IN_PORT, 3);
        f.set(fields::ETH_TYPE, 0x0800);
        f.set(fields::NW_SRC, 0x0a000001);
        f.set(fields::NW_DST, 0x0a000002);
        f.set(fields::NW_PROTO, 17);
        f.set(fields::TP_SRC, 1000);
        f.set(fields::TP_DST, 2000);
        f
    }

    #[test]
    fn builder_matches_from_flow() {
        let f = sample_flow();
        let mut k = FlowKey::default();
        let mut b = MiniflowBuilder::new(&mut k);
        b.push(fields::IN_PORT, 3);
        b.push(fields::RECIRC_ID, 0);
        b.push(fields::ETH_TYPE, 0x0800);
        b.push(fields::NW_SRC, 0x0a000001);
        b.push(fields::NW_DST, 0x0a000002);
        b.push(fields::NW_PROTO, 17);
        b.push(fields::TP_SRC, 1000);
        b.push(fields::TP_DST, 2000);
        b.finish();
        let k2 = FlowKey::from_flow(&f);
        assert_eq!(k, k2);
        assert_eq!(k.hash, k2.hash);
        assert_eq!(k.to_flow(), f);
        assert_eq!(k.get(fields::TP_DST), 2000);
    }

    #[test]
    fn masked_hash_agrees_with_minimatch() {
        let f = sample_flow();
        let mut mask = Flow::zero();
        mask.set_exact(fields::IN_PORT);
        mask.set(fields::NW_DST, 0xffffff00);
        mask.set_exact(fields::ETH_TYPE);
        let mm = Minimatch::new(&f, &mask);
        let mut other = f.clone();
        other.set(fields::NW_DST, 0x0a0000fe);
        other.set(fields::TP_SRC, 9);
        let k = FlowKey::from_flow(&other);
        assert!(mm.matches(&k));
        assert_eq!(hash_masked(&k, &mm.mask, 7), mm.hash(7));
        other.set(fields::NW_DST, 0x0a000102);
        assert!(!mm.matches(&FlowKey::from_flow(&other)));
        assert_eq!(mm.key_flow(), f.masked(&mask));
    }
}
