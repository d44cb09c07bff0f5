//! Tuple-space classifier with staged lookup (OVS `lib/classifier.c`).
//!
//! Rules are grouped in subtables by mask. A lookup visits subtables in
//! decreasing order of their highest rule priority and stops once no
//! remaining subtable can beat the best match found. Inside a subtable the
//! mask is split into four cumulative stages (metadata + tunnel + conntrack,
//! then L2, L3, L4; OVS's `flow_segment_u64s`); each stage keeps the hashes
//! of its rules' key prefixes, so a packet that differs in an early stage is
//! rejected after un-wildcarding only the stages examined. A match (or a miss
//! at the last stage) un-wildcards the whole subtable mask.

use super::key::{XKey, XKEY_WORDS};
use dp_core::flow::{FLOW_WORDS, L2_FIRST_WORD, L3_FIRST_WORD, L4_FIRST_WORD, NSH_FIRST_WORD};
use std::collections::HashMap;

/// Number of lookup stages.
pub const STAGES: usize = 4;

/// Stage of classifier word `i` (see the module documentation).
fn stage_of(i: usize) -> usize {
    if !(L2_FIRST_WORD..FLOW_WORDS).contains(&i) {
        0
    } else if i < L3_FIRST_WORD {
        1
    } else if !(L4_FIRST_WORD..NSH_FIRST_WORD).contains(&i) {
        // NSH is an L3 header (OVS puts `struct ovs_key_nsh` in its L3
        // segment) although its words follow L4 in the layout.
        2
    } else {
        3
    }
}

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(27) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// One subtable: the rules sharing a mask.
#[derive(Debug)]
struct Subtable {
    mask: XKey,
    /// Per stage: (word index, mask word) of its non-zero mask words.
    stages: [Vec<(usize, u64)>; STAGES],
    /// Per stage except the last non-empty one: prefix hash -> rule count.
    prefixes: [HashMap<u64, u32>; STAGES],
    /// Full hash -> rules `(priority, id)`, highest priority first.
    rules: HashMap<u64, Vec<(u16, u64)>>,
    max_priority: u16,
    n_rules: usize,
    /// Rules per priority: keeps `max_priority` up to date in O(log n)
    /// when rules go (a scan of every bucket made deleting N rules O(N^2)).
    priorities: std::collections::BTreeMap<u16, u32>,
}

impl Subtable {
    fn new(mask: &XKey) -> Subtable {
        let mut stages: [Vec<(usize, u64)>; STAGES] = Default::default();
        for i in 0..XKEY_WORDS {
            let m = mask.word(i);
            if m != 0 {
                stages[stage_of(i)].push((i, m));
            }
        }
        Subtable {
            mask: mask.clone(),
            stages,
            prefixes: Default::default(),
            rules: HashMap::new(),
            max_priority: 0,
            n_rules: 0,
            priorities: std::collections::BTreeMap::new(),
        }
    }

    /// Hashes after each stage of `key` (masked).
    fn hashes(&self, key: &XKey) -> [u64; STAGES] {
        let mut h = 0u64;
        let mut out = [0u64; STAGES];
        for (s, words) in self.stages.iter().enumerate() {
            for &(i, m) in words {
                h = mix(h, key.word(i) & m);
            }
            out[s] = h;
        }
        out
    }

    fn last_stage(&self) -> usize {
        (0..STAGES)
            .rev()
            .find(|&s| !self.stages[s].is_empty())
            .unwrap_or(0)
    }
}

/// A rule found by [`Classifier::lookup_soft`], with where it sits (to
/// walk to lower-priority rules with the same match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Its priority.
    pub priority: u16,
    /// Its id.
    pub id: u64,
    subtable: usize,
    hash: u64,
    pos: usize,
}

/// A classifier over [`XKey`]s: rule ids with priority, value and mask.
#[derive(Debug, Default)]
pub struct Classifier {
    subtables: Vec<Subtable>,
}

impl Classifier {
    /// An empty classifier.
    pub fn new() -> Classifier {
        Classifier::default()
    }

    fn sort(&mut self) {
        self.subtables
            .sort_by_key(|s| std::cmp::Reverse(s.max_priority));
    }

    /// Inserts rule `id` (value pre-masked by `mask`).
    pub fn insert(&mut self, id: u64, priority: u16, value: &XKey, mask: &XKey) {
        let idx = match self.subtables.iter().position(|s| &s.mask == mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Subtable::new(mask));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[idx];
        let h = st.hashes(value);
        let last = st.last_stage();
        for (s, hs) in h.iter().enumerate().take(last) {
            *st.prefixes[s].entry(*hs).or_insert(0) += 1;
        }
        let v = st.rules.entry(h[last]).or_default();
        let pos = v.partition_point(|&(p, _)| p >= priority);
        v.insert(pos, (priority, id));
        st.n_rules += 1;
        *st.priorities.entry(priority).or_insert(0) += 1;
        st.max_priority = if st.n_rules == 1 {
            priority
        } else {
            st.max_priority.max(priority)
        };
        self.sort();
    }

    /// The rule with exactly this priority, value (pre-masked) and mask, if
    /// any: the flow_mod "identical rule" check (OpenFlow 1.5.1 section
    /// 6.4, an ADD replaces a rule with the same match and priority) in
    /// O(1) instead of a scan of the table. `same(id)` confirms a candidate
    /// whose hash matches (the caller compares value and mask).
    pub fn find_exact(
        &self,
        priority: u16,
        value: &XKey,
        mask: &XKey,
        same: impl Fn(u64) -> bool,
    ) -> Option<u64> {
        let st = self.subtables.iter().find(|s| &s.mask == mask)?;
        let h = st.hashes(value);
        st.rules
            .get(&h[st.last_stage()])?
            .iter()
            .filter(|&&(p, _)| p == priority)
            .map(|&(_, id)| id)
            .find(|&id| same(id))
    }

    /// Removes rule `id` inserted with this value and mask.
    pub fn remove(&mut self, id: u64, value: &XKey, mask: &XKey) {
        let Some(idx) = self.subtables.iter().position(|s| &s.mask == mask) else {
            return;
        };
        let st = &mut self.subtables[idx];
        let h = st.hashes(value);
        let last = st.last_stage();
        let Some(v) = st.rules.get_mut(&h[last]) else {
            return;
        };
        let Some(pos) = v.iter().position(|&(_, i)| i == id) else {
            return;
        };
        let prio = v.remove(pos).0;
        if v.is_empty() {
            st.rules.remove(&h[last]);
        }
        for (s, hs) in h.iter().enumerate().take(last) {
            if let Some(c) = st.prefixes[s].get_mut(hs) {
                *c -= 1;
                if *c == 0 {
                    st.prefixes[s].remove(hs);
                }
            }
        }
        st.n_rules -= 1;
        if let std::collections::btree_map::Entry::Occupied(mut e) = st.priorities.entry(prio) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
        if st.n_rules == 0 {
            self.subtables.remove(idx);
        } else {
            st.max_priority = st.priorities.keys().next_back().copied().unwrap_or(0);
        }
        self.sort();
    }

    /// Probes subtable `st` for `key` stage by stage, OR-ing the mask bits
    /// of the stages examined into `wc`; the bucket of rules whose masked
    /// value hashes like the key's, with that hash, if every stage passed.
    fn probe<'s>(
        &self,
        st: &'s Subtable,
        key: &XKey,
        wc: &mut XKey,
    ) -> Option<(u64, &'s Vec<(u16, u64)>)> {
        let last = st.last_stage();
        let mut h = 0u64;
        let mut rejected_at = None;
        for s in 0..=last {
            for &(i, m) in &st.stages[s] {
                h = mix(h, key.word(i) & m);
            }
            if s < last && !st.prefixes[s].contains_key(&h) {
                rejected_at = Some(s);
                break;
            }
        }
        let upto = rejected_at.unwrap_or(STAGES - 1);
        for words in &st.stages[..=upto] {
            for &(i, m) in words {
                *wc.word_mut(i) |= m;
            }
        }
        if rejected_at.is_some() {
            return None;
        }
        st.rules.get(&h).map(|v| (h, v))
    }

    /// The highest-priority rule matching `key`: `matches(id)` must say
    /// whether rule `id` really matches (hash collisions). Every mask bit
    /// consulted is OR-ed into `wc`. Returns `(priority, id)`.
    pub fn lookup(
        &self,
        key: &XKey,
        wc: &mut XKey,
        matches: impl Fn(u64) -> bool,
    ) -> Option<(u16, u64)> {
        let mut best: Option<(u16, u64)> = None;
        for st in &self.subtables {
            if best.is_some_and(|(p, _)| p >= st.max_priority) {
                break;
            }
            if let Some((_, v)) = self.probe(st, key, wc) {
                if let Some(&r) = v.iter().find(|&&(_, id)| matches(id)) {
                    if best.map_or(true, |(p, _)| r.0 > p) {
                        best = Some(r);
                    }
                }
            }
        }
        best
    }

    /// The main loop of OVS `classifier_lookup__()` with conjunctive
    /// ("soft") rules: in each subtable that could still beat the best
    /// non-soft ("hard") match, the highest-priority matching rule becomes
    /// the hard match if `is_soft(id)` is false, or is collected as a soft
    /// match if `allow_soft` (else ignored). Returns the hard match and the
    /// soft matches whose priority is above it. Every mask bit consulted is
    /// OR-ed into `wc`.
    pub fn lookup_soft(
        &self,
        key: &XKey,
        wc: &mut XKey,
        matches: impl Fn(u64) -> bool,
        is_soft: impl Fn(u64) -> bool,
        allow_soft: bool,
    ) -> (Option<(u16, u64)>, Vec<Hit>) {
        let mut hard: Option<(u16, u64)> = None;
        let mut soft = Vec::new();
        for (si, st) in self.subtables.iter().enumerate() {
            if hard.is_some_and(|(p, _)| p >= st.max_priority) {
                break;
            }
            let Some((h, v)) = self.probe(st, key, wc) else {
                continue;
            };
            let Some(pos) = v.iter().position(|&(_, id)| matches(id)) else {
                continue;
            };
            let (p, id) = v[pos];
            if hard.is_some_and(|(hp, _)| p <= hp) {
                continue;
            }
            if !is_soft(id) {
                hard = Some((p, id));
            } else if allow_soft {
                soft.push(Hit {
                    priority: p,
                    id,
                    subtable: si,
                    hash: h,
                    pos,
                });
            }
        }
        if let Some((hp, _)) = hard {
            soft.retain(|s| s.priority > hp);
        }
        (hard, soft)
    }

    /// The next lower-priority rule after `hit` with an identical match
    /// that also matches (OVS `next_visible_rule_in_list()`): same mask,
    /// same masked value, so the same bucket.
    pub fn next_identical(&self, hit: &Hit, matches: impl Fn(u64) -> bool) -> Option<Hit> {
        let st = self.subtables.get(hit.subtable)?;
        let v = st.rules.get(&hit.hash)?;
        let pos = (hit.pos + 1..v.len()).find(|&i| matches(v[i].1))?;
        Some(Hit {
            priority: v[pos].0,
            id: v[pos].1,
            pos,
            ..*hit
        })
    }

    /// Number of subtables (for tests and statistics).
    pub fn n_subtables(&self) -> usize {
        self.subtables.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dp_core::flow::fields as f;

    fn key(in_port: u64, dst: u64) -> XKey {
        let mut k = XKey::default();
        k.flow.set(f::IN_PORT, in_port);
        k.flow.set(f::ETH_DST, dst);
        k
    }

    /// After the highest-priority rules of a subtable go, lookups rank the
    /// subtable by what is left (its max priority is kept per removal).
    #[test]
    fn max_priority_follows_removals() {
        let mut c = Classifier::new();
        let mut port_mask = XKey::default();
        port_mask.flow.set_exact(f::IN_PORT);
        let mut dst_mask = XKey::default();
        dst_mask.flow.set_exact(f::ETH_DST);
        // Subtable "in_port": priorities 30 and 10; subtable "eth_dst": 20.
        c.insert(1, 30, &key(1, 0), &port_mask);
        c.insert(2, 10, &key(1, 0), &port_mask);
        c.insert(3, 20, &key(0, 7), &dst_mask);
        let pkt = key(1, 7);
        let mut wc = XKey::default();
        assert_eq!(c.lookup(&pkt, &mut wc, |_| true), Some((30, 1)));
        c.remove(1, &key(1, 0), &port_mask);
        assert_eq!(c.lookup(&pkt, &mut wc, |_| true), Some((20, 3)));
        c.remove(3, &key(0, 7), &dst_mask);
        assert_eq!(c.lookup(&pkt, &mut wc, |_| true), Some((10, 2)));
        assert_eq!(c.find_exact(10, &key(1, 0), &port_mask, |_| true), Some(2));
        assert_eq!(c.find_exact(30, &key(1, 0), &port_mask, |_| true), None);
    }
}
