//! The `learn` action (`ovs-actions(7)` "The learn action", OVS
//! `lib/learn.c`, `ofproto/ofproto.c` learned cookies).
//!
//! [`learn_flow_mod`] builds, at translation time, the flow_mod a `learn`
//! action stands for from the packet's key: each spec either adds match bits
//! (`FIELD[]=FIELD[]`, `FIELD=VALUE`), a `load` action or an `output`
//! action to the learned flow. The source bits it reads are OR-ed into the
//! megaflow wildcards. Translation only collects the flow_mods; the caller
//! applies them with [`Tables::learn`] when the translation is for an upcall
//! (OVS learns from xlate with `may_learn`), never during revalidation.
//!
//! [`Tables::learn`] is OVS's `ofproto_flow_mod_learn()`: a learned flow
//! that already exists unchanged only has its timeouts refreshed (no table
//! change, so no revalidation storm); a new or different one is added or
//! modified strictly, which bumps [`Tables::version`].
//!
//! `delete_learned`: when the last flow whose `learn` has `delete_learned`
//! for (table T, cookie C) goes away, every flow in table T with cookie C
//! is deleted too ([`Tables::apply`], [`Tables::expire`] and
//! [`Tables::remove_where`] do this).

use super::key::{field_locs, XKey};
use super::{FlowModSpec, Rule, Tables, N_TABLES};
use crate::ofp::actions::{port_from_of10, port_to_of10, Action, OFPP_ANY};
use crate::ofp::flow::{command, flags};
use crate::ofp::instructions::Instruction;
use crate::ofp::nx_actions::{Learn, LearnSrc};
use crate::ofp::oxm::{Field, MatchField, OxmHeader};
use std::sync::atomic::Ordering;

/// NX_LEARN_F_SEND_FLOW_REM.
pub const NX_LEARN_F_SEND_FLOW_REM: u16 = 1 << 0;
/// NX_LEARN_F_DELETE_LEARNED.
pub const NX_LEARN_F_DELETE_LEARNED: u16 = 1 << 1;

fn ones128(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// True if header `h` is the 16-bit (OpenFlow 1.0 numbered) `in_port`.
fn is_port16(field: Field, h: &OxmHeader) -> bool {
    field == Field::InPort && h.length == 2
}

/// The whole value of the field of header `h` in `key`, right-aligned
/// (`NXM_OF_IN_PORT` in OpenFlow 1.0 numbering).
fn field_value(key: &XKey, h: &OxmHeader) -> Option<u128> {
    let field = h.id.field().0;
    let (hi, lo) = field_locs(field)?;
    let v = match lo {
        None => key.get(hi) as u128,
        Some(lo) => (key.get(hi) as u128) << 64 | key.get(lo) as u128,
    };
    Some(if is_port16(field, h) {
        port_to_of10(v as u32) as u128
    } else {
        v
    })
}

/// Sets the bits `m` (right-aligned over the whole field) of the field of
/// header `h` in `k` to `v`.
fn set_field_bits(k: &mut XKey, h: &OxmHeader, v: u128, m: u128) -> Option<()> {
    let field = h.id.field().0;
    let (hi, lo) = field_locs(field)?;
    let (v, m) = if is_port16(field, h) && m & 0xffff == 0xffff {
        (port_from_of10(v as u16) as u128, u32::MAX as u128)
    } else {
        (v, m)
    };
    match lo {
        None => k.set_masked(hi, v as u64, m as u64),
        Some(lo) => {
            k.set_masked(hi, (v >> 64) as u64, (m >> 64) as u64);
            k.set_masked(lo, v as u64, m as u64);
        }
    }
    Some(())
}

/// ORs `m` (right-aligned over the field of `h`) into the wildcards `wc`.
fn unwildcard(wc: &mut XKey, h: &OxmHeader, m: u128) {
    let field = h.id.field().0;
    if is_port16(field, h) {
        if let Some((loc, _)) = field_locs(field) {
            wc.set_masked(loc, u64::MAX, u64::MAX);
        }
        return;
    }
    let _ = set_field_bits(wc, h, m, m);
}

/// The flow_mod (an add-or-modify-strict, see [`Tables::learn`]) that
/// learn action `l` makes for a packet with key `key` (`in_port` in
/// OpenFlow numbering); the source bits read are OR-ed into `wc`. `None`
/// if the learn names a bad table or a field the pipeline lacks.
pub fn learn_flow_mod(l: &Learn, key: &XKey, wc: &mut XKey) -> Option<FlowModSpec> {
    if l.table_id as usize >= N_TABLES {
        return None;
    }
    let mut value = XKey::default();
    let mut mask = XKey::default();
    let mut actions = Vec::new();
    for spec in &l.specs {
        let n = (spec.header & 0x3ff) as u32;
        if n == 0 {
            continue;
        }
        let src = match &spec.src {
            LearnSrc::Field(h, ofs) => {
                let v = field_value(key, h)?;
                unwildcard(wc, h, ones128(n) << ofs);
                (v >> ofs) & ones128(n)
            }
            LearnSrc::Immediate(b) => {
                b.iter().take(16).fold(0u128, |a, &x| a << 8 | x as u128) & ones128(n)
            }
        };
        match (spec.header >> 11) & 3 {
            0 => {
                let (h, ofs) = spec.dst.as_ref()?;
                let m = ones128(n) << ofs;
                set_field_bits(&mut value, h, src << ofs, m)?;
                set_field_bits(&mut mask, h, m, m)?;
            }
            1 => {
                let (h, ofs) = spec.dst.as_ref()?;
                let h = OxmHeader {
                    hasmask: false,
                    length: h.length / if h.hasmask { 2 } else { 1 },
                    ..*h
                };
                if n + *ofs as u32 <= 64 {
                    actions.push(Action::RegLoad {
                        ofs_nbits: ofs << 6 | (n as u16 - 1),
                        dst: h,
                        value: src as u64,
                    });
                } else {
                    let len = h.id.field().1.unwrap_or(16) as usize;
                    let m = ones128(n) << ofs;
                    let vb = ((src << ofs) & m).to_be_bytes()[16 - len.min(16)..].to_vec();
                    let mb = m.to_be_bytes()[16 - len.min(16)..].to_vec();
                    let mut mf = MatchField::new(h.id.field().0, &vb, Some(&mb), true)?;
                    mf.id = h.id;
                    actions.push(Action::RegLoad2(mf));
                }
            }
            2 => {
                if n <= 16 || src >> 16 == 0 {
                    let port = port_from_of10(src as u16);
                    actions.push(Action::Output { port, max_len: 0 });
                }
            }
            _ => return None,
        }
    }
    let value = value.masked(&mask);
    Some(FlowModSpec {
        command: command::MODIFY_STRICT,
        table_id: l.table_id,
        priority: l.priority,
        value,
        mask,
        cookie: l.cookie,
        cookie_mask: 0,
        new_cookie: Some(l.cookie),
        idle_timeout: l.idle_timeout,
        hard_timeout: l.hard_timeout,
        flags: if l.flags & NX_LEARN_F_SEND_FLOW_REM != 0 {
            flags::SEND_FLOW_REM
        } else {
            0
        },
        importance: 0,
        out_port: OFPP_ANY,
        instructions: if actions.is_empty() {
            Vec::new()
        } else {
            vec![Instruction::ApplyActions(actions)]
        },
        modify_may_add: true,
    })
}

/// `(table, cookie)` of every `learn(delete_learned)` in `ins` (nested
/// `clone` included).
pub fn delete_learned_cookies(ins: &[Instruction]) -> Vec<(u8, u64)> {
    fn walk(acts: &[Action], out: &mut Vec<(u8, u64)>) {
        for a in acts {
            match a {
                Action::Learn(l) if l.flags & NX_LEARN_F_DELETE_LEARNED != 0 => {
                    out.push((l.table_id, l.cookie))
                }
                Action::Clone(v) => walk(v, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for i in ins {
        if let Instruction::ApplyActions(a) | Instruction::WriteActions(a) = i {
            walk(a, &mut out);
        }
    }
    out
}

impl Tables {
    /// Applies a flow_mod made by [`learn_flow_mod`] at `now_ns` (OVS
    /// `ofproto_flow_mod_learn()`): an identical existing flow (same match,
    /// priority, instructions, cookie, timeouts and flags) only has its
    /// idle and hard timeouts restarted; otherwise the flow is modified in
    /// place or added. Returns true if the tables changed (the version was
    /// bumped).
    pub fn learn(&mut self, fm: &FlowModSpec, now_ns: u64) -> bool {
        self.learn_limited(fm, 0, now_ns)
    }

    /// [`Tables::learn`] for a `learn` action with `limit` (NXAST_LEARN2;
    /// 0: none): a flow not yet present is added only while fewer than
    /// `limit` flows with its table and cookie exist (OVS
    /// `ofproto_flow_mod_learn()`); an existing one is always refreshed.
    pub fn learn_limited(&mut self, fm: &FlowModSpec, limit: u32, now_ns: u64) -> bool {
        let t = fm.table_id as usize;
        if t >= N_TABLES {
            return false;
        }
        let existing = self.tables[t]
            .rules
            .values()
            .find(|r| r.priority == fm.priority && r.mask == fm.mask && r.value == fm.value)
            .map(|r| r.id);
        if existing.is_none() && limit != 0 {
            let n = self.tables[t]
                .rules
                .values()
                .filter(|r| r.cookie == fm.cookie)
                .count();
            if n as u64 >= limit as u64 {
                return false;
            }
        }
        let Some(id) = existing else {
            let mut add = fm.clone();
            add.command = command::ADD;
            return self.apply(&add, now_ns).is_ok();
        };
        let tab = &mut self.tables[t];
        let r = tab.rules.get_mut(&id).expect("found above");
        let same = r.instructions == fm.instructions
            && r.cookie == fm.cookie
            && r.idle_timeout == fm.idle_timeout
            && r.hard_timeout == fm.hard_timeout
            && r.flags == fm.flags;
        r.modified_ns = now_ns;
        r.used_ns.fetch_max(now_ns, Ordering::Relaxed);
        if same {
            return false;
        }
        let old = std::mem::replace(&mut r.instructions, fm.instructions.clone());
        r.cookie = fm.cookie;
        r.idle_timeout = fm.idle_timeout;
        r.hard_timeout = fm.hard_timeout;
        r.flags = fm.flags;
        tab.index_conj(id, &fm.instructions);
        let _ = self.flush_learned(delete_learned_cookies(&old));
        self.version += 1;
        true
    }

    /// Reduces rule `id` of `table`'s idle and hard timeouts to `idle` and
    /// `hard` seconds (each only if nonzero and the rule's is 0 or larger;
    /// OVS `ofproto_rule_reduce_timeouts__()`). True if one changed.
    pub fn reduce_timeouts(&mut self, table: u8, id: u64, idle: u16, hard: u16) -> bool {
        let Some(r) = self
            .tables
            .get_mut(table as usize)
            .and_then(|t| t.rules.get_mut(&id))
        else {
            return false;
        };
        let reduce = |max: u16, cur: &mut u16| {
            if max != 0 && (*cur == 0 || *cur > max) {
                *cur = max;
                true
            } else {
                false
            }
        };
        let a = reduce(idle, &mut r.idle_timeout);
        let b = reduce(hard, &mut r.hard_timeout);
        a || b
    }

    /// For each `(table, cookie)` in `gone` that no remaining flow's
    /// `learn(delete_learned)` still names, deletes the flows in that table
    /// with that cookie (OVS `learned_cookies_flush()`); returns them.
    pub(super) fn flush_learned(&mut self, mut gone: Vec<(u8, u64)>) -> Vec<Rule> {
        let mut out = Vec::new();
        while !gone.is_empty() {
            gone.sort_unstable();
            gone.dedup();
            let still: Vec<(u8, u64)> = self
                .tables
                .iter()
                .flat_map(|t| t.rules.values())
                .flat_map(|r| delete_learned_cookies(&r.instructions))
                .collect();
            let mut next = Vec::new();
            for (t, cookie) in std::mem::take(&mut gone) {
                if still.contains(&(t, cookie)) || t as usize >= N_TABLES {
                    continue;
                }
                let ids: Vec<u64> = self.tables[t as usize]
                    .rules
                    .values()
                    .filter(|r| r.cookie == cookie)
                    .map(|r| r.id)
                    .collect();
                for id in ids {
                    if let Some(r) = self.tables[t as usize].remove(id) {
                        // A learned flow may itself learn with delete_learned.
                        next.extend(delete_learned_cookies(&r.instructions));
                        out.push(r);
                    }
                }
            }
            gone = next;
        }
        out
    }
}

#[cfg(test)]
mod tests;
