//! Conjunctive matches (`ovs-fields(7)` "Conjunctive Match Fields", OVS
//! `lib/classifier.c`).
//!
//! A rule whose only actions are `conjunction(id,k/n)` is a *soft* rule:
//! matching it does not select it, it only says "clause `k` of the `n`
//! clauses of conjunction `id` holds". A packet matches the conjunction when
//! soft rules of the same priority cover all `n` clauses, and that priority
//! is above the best ordinary (*hard*) match; the table is then looked up
//! again with `conj_id=id` set in the key, which finds the `conj_id=id` rule
//! (or whatever else matches best without soft rules).
//!
//! As in OVS `classifier_lookup__()`: the main loop collects the hard match
//! and the soft matches above it; the soft matches of the highest priority
//! are tried, in lookup order, one conjunction at a time; if none yields a
//! rule, each of them is replaced by the next lower-priority rule with an
//! identical match (which becomes the hard match if it is not soft and beats
//! it), and the loop repeats. No flows are expanded; every lookup (the
//! second ones included) ORs what it consulted into the same wildcards, so
//! the megaflow is sound.

use super::classifier::Hit;
use super::key::{XKey, CONJ_ID_WORD};
use super::Table;
use crate::ofp::actions::Action;
use crate::ofp::instructions::Instruction;
use std::collections::HashMap;

/// One `conjunction(id,k/n)`: id, clause `k` (0-based), clause count `n`.
pub type ConjClause = (u32, u8, u8);

/// The conjunction clauses of a rule whose actions are only `conjunction`
/// actions (a soft rule); `None` for any other rule.
pub fn conj_clauses(ins: &[Instruction]) -> Option<Vec<ConjClause>> {
    let mut out = Vec::new();
    for i in ins {
        match i {
            Instruction::ApplyActions(a) => {
                for a in a {
                    match a {
                        Action::Conjunction {
                            clause,
                            n_clauses,
                            id,
                        } => out.push((*id, *clause, *n_clauses)),
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

impl Table {
    /// Lookup in a table that has soft rules (see the module
    /// documentation). Returns the id of the selected rule.
    pub(super) fn lookup_conjunctive(&self, key: &XKey, wc: &mut XKey) -> Option<u64> {
        let matches = |id: u64| self.rules.get(&id).is_some_and(|r| r.matches(key));
        let is_soft = |id: u64| self.conj.contains_key(&id);
        let (mut hard, soft) = self.cls.lookup_soft(key, wc, matches, is_soft, true);
        let mut soft: Vec<Option<Hit>> = soft.into_iter().map(Some).collect();
        loop {
            let hard_pri = hard.map_or(-1, |(p, _)| p as i32);
            soft.retain(|s| s.is_some_and(|s| s.priority as i32 > hard_pri));
            let Some(soft_pri) = soft.iter().flatten().map(|s| s.priority).max() else {
                return hard.map(|(_, id)| id);
            };
            // Clause bitmaps per (id, n) among the soft matches of
            // `soft_pri`, in lookup order; the first complete conjunction
            // with a rule wins.
            let mut seen: HashMap<(u32, u8), u64> = HashMap::new();
            for s in soft.iter().flatten().filter(|s| s.priority == soft_pri) {
                for &(cid, k, n) in self.conj.get(&s.id).map_or(&[][..], |v| v) {
                    if n == 0 || n > 64 || k >= n {
                        continue;
                    }
                    let bits = seen.entry((cid, n)).or_insert(0);
                    *bits |= 1u64 << k;
                    let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                    if *bits != all {
                        continue;
                    }
                    let mut k2 = key.clone();
                    k2.meta[CONJ_ID_WORD] = cid as u64;
                    let m2 = |id: u64| self.rules.get(&id).is_some_and(|r| r.matches(&k2));
                    let (found, _) = self.cls.lookup_soft(&k2, wc, m2, is_soft, false);
                    if let Some((_, id)) = found {
                        return Some(id);
                    }
                }
            }
            // Fall back to lower-priority rules with the same matches.
            for slot in soft.iter_mut() {
                let Some(s) = *slot else { continue };
                if s.priority != soft_pri {
                    continue;
                }
                *slot = None;
                if let Some(next) = self.cls.next_identical(&s, matches) {
                    if is_soft(next.id) {
                        *slot = Some(next);
                    } else if hard.map_or(true, |(p, _)| next.priority > p) {
                        hard = Some((next.priority, next.id));
                    }
                }
            }
        }
    }

    /// Records (or forgets) rule `id`, with instructions `ins`, as soft.
    pub(super) fn index_conj(&mut self, id: u64, ins: &[Instruction]) {
        match conj_clauses(ins) {
            Some(c) => {
                self.conj.insert(id, c);
            }
            None => {
                self.conj.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
