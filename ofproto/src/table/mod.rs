//! OpenFlow flow tables (OpenFlow 1.5.1 section 5 "Flow Tables", section
//! 6.4 "Flow Table Modification Messages"; OVS `ofproto/ofproto.c`).
//!
//! [`Tables`] holds [`N_TABLES`] tables of [`Rule`]s. Each table indexes its
//! rules in a tuple-space [`classifier::Classifier`] whose lookup reports
//! every bit it consulted (the megaflow wildcards). Rules match over
//! [`key::XKey`] (datapath fields + metadata + registers) and carry
//! instructions as decoded by the codec ([`Instruction`]).
//!
//! Flow-mod semantics follow the spec and OVS: `add` replaces a rule with an
//! identical match and priority (OFPFF_CHECK_OVERLAP refuses overlapping
//! same-priority rules), `modify`/`delete` select by "match is at least as
//! specific" (non-strict) or "identical match and priority" (strict), with
//! cookie/cookie-mask and `out_port` filters (delete only). `modify` keeps
//! counters unless OFPFF_RESET_COUNTS; OpenFlow 1.0/1.1 and NXM `modify`
//! that selects nothing adds the flow, as OVS does.

pub mod classifier;
pub mod conj;
pub mod key;
pub mod learn;

use crate::ofp::actions::{Action, OFPP_ANY};
use crate::ofp::flow::{command, flags, FlowMod};
use crate::ofp::instructions::Instruction;
use crate::ofp::oxm::{Field, OxmMatch};
use crate::ofp::OfpError;
use crate::tlv::TlvTable;
use classifier::Classifier;
use key::{match_from_oxm_tlv, XKey, TUN_MD_PRESENT_WORD, XKEY_WORDS};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

/// Number of OpenFlow tables (0..=254; 255 means "all" in requests).
pub const N_TABLES: usize = 255;

/// Why a flow_mod failed (OFPET_FLOW_MOD_FAILED or a match/table error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowModError {
    /// OFPFMFC_OVERLAP: check_overlap found an overlapping rule.
    Overlap,
    /// OFPFMFC_BAD_TABLE_ID (OF1.1+; OFPBRC_BAD_TABLE_ID style for OF1.0).
    BadTableId,
    /// OFPFMFC_BAD_COMMAND.
    BadCommand,
    /// A match or action problem, as a codec error.
    Codec(OfpError),
}

impl FlowModError {
    /// The OFPT_ERROR (type, code) for wire version `version`
    /// (OFPET_FLOW_MOD_FAILED is type 3 in OpenFlow 1.0, 5 in 1.1+).
    pub fn to_wire(&self, version: u8) -> (u16, u16) {
        let fmf = if version == 1 { 3 } else { 5 };
        match self {
            FlowModError::Overlap => (fmf, 1),
            FlowModError::BadTableId if version == 1 => (1, 1),
            FlowModError::BadTableId => (fmf, 2),
            FlowModError::BadCommand if version == 1 => (fmf, 5),
            FlowModError::BadCommand => (fmf, 6),
            FlowModError::Codec(e) => e.code.to_wire(version),
        }
    }
}

impl From<OfpError> for FlowModError {
    fn from(e: OfpError) -> Self {
        FlowModError::Codec(e)
    }
}

/// One flow entry (OpenFlow 1.5.1 section 5.2). Counters are atomics so
/// that statistics can be credited under a read lock.
#[derive(Debug)]
pub struct Rule {
    /// Unique id within the [`Tables`].
    pub id: u64,
    /// Table it lives in.
    pub table_id: u8,
    /// Priority (higher wins).
    pub priority: u16,
    /// Match value (pre-masked).
    pub value: XKey,
    /// Match mask.
    pub mask: XKey,
    /// Controller cookie.
    pub cookie: u64,
    /// Idle timeout, seconds (0 = none).
    pub idle_timeout: u16,
    /// Hard timeout, seconds (0 = none).
    pub hard_timeout: u16,
    /// OFPFF_* flags.
    pub flags: u16,
    /// Eviction importance (OpenFlow 1.4+).
    pub importance: u16,
    /// Instructions (OpenFlow 1.0 actions are one apply-actions).
    pub instructions: Vec<Instruction>,
    /// Creation time, ns on the caller's monotonic clock.
    pub created_ns: u64,
    /// Last modification time (add or modify), ns.
    pub modified_ns: u64,
    /// Last time a packet hit it, ns.
    pub used_ns: AtomicU64,
    /// Packets matched.
    pub packets: AtomicU64,
    /// Bytes matched.
    pub bytes: AtomicU64,
}

impl Clone for Rule {
    fn clone(&self) -> Rule {
        Rule {
            id: self.id,
            table_id: self.table_id,
            priority: self.priority,
            value: self.value.clone(),
            mask: self.mask.clone(),
            cookie: self.cookie,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            flags: self.flags,
            importance: self.importance,
            instructions: self.instructions.clone(),
            created_ns: self.created_ns,
            modified_ns: self.modified_ns,
            used_ns: AtomicU64::new(self.used_ns.load(Ordering::Relaxed)),
            packets: AtomicU64::new(self.packets.load(Ordering::Relaxed)),
            bytes: AtomicU64::new(self.bytes.load(Ordering::Relaxed)),
        }
    }
}

impl Rule {
    /// True if this rule's match is at least as specific as (value, mask)
    /// and agrees with it on the bits of `mask` (non-strict selection).
    pub fn covered_by(&self, value: &XKey, mask: &XKey) -> bool {
        (0..XKEY_WORDS).all(|i| {
            let m = mask.word(i);
            self.mask.word(i) & m == m && (self.value.word(i) ^ value.word(i)) & m == 0
        })
    }

    /// True if `key` matches this rule.
    pub fn matches(&self, key: &XKey) -> bool {
        (0..XKEY_WORDS).all(|i| (key.word(i) ^ self.value.word(i)) & self.mask.word(i) == 0)
    }

    /// Every action in apply/write-actions (nested clone/ct included).
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        })
    }

    /// True if the rule uses group `g` (group action, nested in clone too).
    pub fn uses_group(&self, g: u32) -> bool {
        fn walk(acts: &[Action], g: u32) -> bool {
            acts.iter().any(|a| match a {
                Action::Group(x) => *x == g,
                Action::Clone(v) => walk(v, g),
                _ => false,
            })
        }
        self.instructions.iter().any(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => walk(a, g),
            _ => false,
        })
    }

    /// The `tun_metadata` fields the rule uses, as a bitmap (bit N:
    /// `tun_metadataN`), in its match or in its actions (set_field, load,
    /// move; nested in clone and ct too). OVS keeps the same count per
    /// field to refuse deleting a mapping in use (`vl_mff_map` ref counts).
    pub fn tlv_bitmap(&self) -> u64 {
        let acts = self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        });
        self.mask.meta[TUN_MD_PRESENT_WORD] | acts.fold(0, |b, a| b | action_tlv_bitmap(a))
    }

    /// True if the rule uses meter `m` (meter instruction or action).
    pub fn uses_meter(&self, m: u32) -> bool {
        self.instructions.iter().any(|i| match i {
            Instruction::Meter(x) => *x == m,
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => {
                a.iter().any(|a| matches!(a, Action::Meter(x) if *x == m))
            }
            _ => false,
        })
    }

    /// True if the rule outputs to OpenFlow port `port` (OFPP_ANY: always).
    pub fn outputs_to(&self, port: u32) -> bool {
        fn walk(acts: &[Action], port: u32) -> bool {
            acts.iter().any(|a| match a {
                Action::Output { port: p, .. } => *p == port,
                Action::Enqueue { port: p, .. } => crate::ofp::actions::port_from_of10(*p) == port,
                Action::Clone(v) => walk(v, port),
                _ => false,
            })
        }
        port == OFPP_ANY
            || self.instructions.iter().any(|i| match i {
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => walk(a, port),
                _ => false,
            })
    }

    /// Credits `packets`/`bytes` hit at `now_ns`.
    pub fn credit(&self, packets: u64, bytes: u64, now_ns: u64) {
        if packets > 0 {
            self.packets.fetch_add(packets, Ordering::Relaxed);
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
            self.used_ns.fetch_max(now_ns, Ordering::Relaxed);
        }
    }

    /// The match as OXM (`nxm` false) or NXM fields; `tun_metadata`
    /// fields are spelled with their lengths in `tlv`.
    pub fn oxm(&self, nxm: bool, tlv: &TlvTable) -> OxmMatch {
        key::match_to_oxm_tlv(&self.value, &self.mask, nxm, tlv)
    }
}

/// The `tun_metadata` fields action `a` reads or writes (bit N:
/// `tun_metadataN`), nested actions included.
pub fn action_tlv_bitmap(a: &Action) -> u64 {
    let bit = |f: Field| match f {
        Field::TunMetadata(n) if n < 64 => 1u64 << n,
        _ => 0,
    };
    match a {
        Action::SetField(mf) | Action::RegLoad2(mf) => bit(mf.field),
        Action::RegLoad { dst, .. } => bit(dst.id.field().0),
        Action::RegMove { src, dst, .. } => bit(src.id.field().0) | bit(dst.id.field().0),
        Action::Clone(v) => v.iter().fold(0, |b, a| b | action_tlv_bitmap(a)),
        Action::Ct(ct) => ct.actions.iter().fold(0, |b, a| b | action_tlv_bitmap(a)),
        _ => 0,
    }
}

/// A version-independent flow_mod, as applied to [`Tables`].
#[derive(Debug, Clone)]
pub struct FlowModSpec {
    /// OFPFC_* command.
    pub command: u8,
    /// Table (255 = all, for modify/delete).
    pub table_id: u8,
    /// Priority.
    pub priority: u16,
    /// Match value (pre-masked).
    pub value: XKey,
    /// Match mask.
    pub mask: XKey,
    /// Cookie (new cookie for add; filter for modify/delete with `cookie_mask`).
    pub cookie: u64,
    /// Cookie filter mask (0 = no filter).
    pub cookie_mask: u64,
    /// For modify: set the rule's cookie to this.
    pub new_cookie: Option<u64>,
    /// Idle timeout, seconds.
    pub idle_timeout: u16,
    /// Hard timeout, seconds.
    pub hard_timeout: u16,
    /// OFPFF_* flags.
    pub flags: u16,
    /// Importance.
    pub importance: u16,
    /// Delete filter: rules outputting to this port (OFPP_ANY = all).
    pub out_port: u32,
    /// Instructions.
    pub instructions: Vec<Instruction>,
    /// A modify that selects nothing adds the flow (OpenFlow 1.0/1.1, NXM).
    pub modify_may_add: bool,
}

impl FlowModSpec {
    /// From a decoded flow_mod of wire version `version` (`nx`: it came as
    /// NXT_FLOW_MOD). `table_id_ext`: NXT_FLOW_MOD_TABLE_ID is on (else an
    /// OpenFlow 1.0 table id is 0 for add and "all" for modify/delete).
    /// `tlv` is the bridge's TLV table: a match or action on an unmapped
    /// `tun_metadataN` is NXFMFC_INVALID_TLV_FIELD.
    pub fn from_ofp(
        fm: &FlowMod,
        version: u8,
        table_id_ext: bool,
        tlv: &TlvTable,
    ) -> Result<Self, FlowModError> {
        let mut fields = fm.match_.fields();
        // NXM carries a modify/delete cookie filter as NXM_NX_COOKIE.
        let mut nx_cookie = None;
        if let Some(i) = fields.fields.iter().position(|f| f.field == Field::Cookie) {
            let c = fields.fields.remove(i);
            let m = c
                .mask
                .as_deref()
                .map_or(u64::MAX, |b| b.iter().fold(0u64, |a, &x| a << 8 | x as u64));
            nx_cookie = Some((c.value_u64(), m));
        }
        let (value, mask) = match_from_oxm_tlv(&fields, tlv)?;
        let used = fm
            .instructions
            .iter()
            .flat_map(|i| match i {
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
                _ => &[],
            })
            .fold(0u64, |b, a| b | action_tlv_bitmap(a));
        for n in (0..64u8).filter(|n| used >> n & 1 != 0) {
            key::tlv_entry(tlv, n)?;
        }
        let of10 = version == 1;
        let table_id = if of10 && !table_id_ext {
            if fm.command == command::ADD {
                0
            } else {
                0xff
            }
        } else {
            fm.table_id
        };
        if fm.command > command::DELETE_STRICT {
            return Err(FlowModError::BadCommand);
        }
        if fm.command == command::ADD && table_id as usize >= N_TABLES {
            return Err(FlowModError::BadTableId);
        }
        let modify = matches!(fm.command, command::MODIFY | command::MODIFY_STRICT);
        let (cookie_mask, new_cookie) = if of10 {
            (0, (modify && fm.cookie != u64::MAX).then_some(fm.cookie))
        } else {
            (fm.cookie_mask, None)
        };
        let (cookie, cookie_mask) = match nx_cookie {
            Some((c, m)) if fm.command != command::ADD => (c, m),
            _ => (fm.cookie, cookie_mask),
        };
        Ok(FlowModSpec {
            command: fm.command,
            table_id,
            priority: fm.priority,
            value,
            mask,
            cookie,
            cookie_mask: if fm.command == command::ADD {
                0
            } else {
                cookie_mask
            },
            new_cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            importance: fm.importance,
            out_port: if matches!(fm.command, command::DELETE | command::DELETE_STRICT) {
                fm.out_port
            } else {
                OFPP_ANY
            },
            instructions: fm.instructions.clone(),
            modify_may_add: version <= 2,
        })
    }
}

/// One table: its rules by id and their classifier.
#[derive(Debug, Default)]
pub struct Table {
    /// Rules by id.
    pub rules: BTreeMap<u64, Rule>,
    cls: Classifier,
    /// Soft (conjunction-only) rules and their clauses ([`conj`]).
    conj: HashMap<u64, Vec<conj::ConjClause>>,
    /// Lookups done (`lookup_count`).
    pub lookups: AtomicU64,
    /// Lookups that found a rule (`matched_count`).
    pub matched: AtomicU64,
}

impl Table {
    /// The rule matching `key` with the highest priority; every consulted
    /// bit is OR-ed into `wc`.
    pub fn lookup(&self, key: &XKey, wc: &mut XKey) -> Option<&Rule> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let id = if self.conj.is_empty() {
            self.cls
                .lookup(key, wc, |id| {
                    self.rules.get(&id).is_some_and(|r| r.matches(key))
                })
                .map(|(_, id)| id)
        } else {
            self.lookup_conjunctive(key, wc)
        };
        let r = id.and_then(|id| self.rules.get(&id));
        if r.is_some() {
            self.matched.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn insert(&mut self, r: Rule) {
        self.cls.insert(r.id, r.priority, &r.value, &r.mask);
        self.index_conj(r.id, &r.instructions);
        self.rules.insert(r.id, r);
    }

    fn remove(&mut self, id: u64) -> Option<Rule> {
        let r = self.rules.remove(&id)?;
        self.cls.remove(id, &r.value, &r.mask);
        self.conj.remove(&id);
        Some(r)
    }
}

/// What a flow_mod did.
#[derive(Debug, Default)]
pub struct FlowModOutcome {
    /// Rules added.
    pub added: usize,
    /// Rules modified.
    pub modified: usize,
    /// Rules removed (deleted or replaced), for OFPT_FLOW_REMOVED.
    pub removed: Vec<Rule>,
}

/// All tables of a bridge.
#[derive(Debug)]
pub struct Tables {
    /// Table 0..=254.
    pub tables: Vec<Table>,
    next_id: u64,
    /// Bumped on every change (the revalidation trigger).
    pub version: u64,
}

impl Default for Tables {
    fn default() -> Self {
        Tables::new()
    }
}

impl Tables {
    /// 255 empty tables.
    pub fn new() -> Tables {
        Tables {
            tables: (0..N_TABLES).map(|_| Table::default()).collect(),
            next_id: 1,
            version: 0,
        }
    }

    /// Table `id`, if it exists.
    pub fn table(&self, id: u8) -> Option<&Table> {
        self.tables.get(id as usize)
    }

    #[allow(clippy::too_many_arguments)]
    /// Rules selected by a table id (255 = all), (value, mask), optional
    /// strict priority, cookie filter and out_port filter, ordered by table
    /// then decreasing priority.
    pub fn select(
        &self,
        table_id: u8,
        value: &XKey,
        mask: &XKey,
        strict_priority: Option<u16>,
        cookie: u64,
        cookie_mask: u64,
        out_port: u32,
    ) -> Vec<&Rule> {
        let mut out = Vec::new();
        for (t, tab) in self.tables.iter().enumerate() {
            if table_id != 0xff && t != table_id as usize {
                continue;
            }
            if let Some(p) = strict_priority {
                // Strict: at most one rule, found by hash (no table scan).
                let hit = tab
                    .cls
                    .find_exact(p, value, mask, |id| {
                        tab.rules.get(&id).is_some_and(|r| {
                            r.priority == p && &r.mask == mask && &r.value == value
                        })
                    })
                    .and_then(|id| tab.rules.get(&id))
                    .filter(|r| (r.cookie ^ cookie) & cookie_mask == 0)
                    .filter(|r| r.outputs_to(out_port));
                out.extend(hit);
                continue;
            }
            let mut v: Vec<&Rule> = tab
                .rules
                .values()
                .filter(|r| match strict_priority {
                    Some(p) => r.priority == p && &r.mask == mask && &r.value == value,
                    None => r.covered_by(value, mask),
                })
                .filter(|r| (r.cookie ^ cookie) & cookie_mask == 0)
                .filter(|r| r.outputs_to(out_port))
                .collect();
            v.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
            out.extend(v);
        }
        out
    }

    /// Applies a flow_mod at time `now_ns`.
    pub fn apply(&mut self, fm: &FlowModSpec, now_ns: u64) -> Result<FlowModOutcome, FlowModError> {
        let mut out = FlowModOutcome::default();
        // `learn(delete_learned)` actions of replaced instructions.
        let mut gone_learns = Vec::new();
        match fm.command {
            command::ADD => self.add(fm, now_ns, &mut out)?,
            command::MODIFY | command::MODIFY_STRICT => {
                let strict = fm.command == command::MODIFY_STRICT;
                let ids: Vec<(u8, u64)> = self
                    .select(
                        fm.table_id,
                        &fm.value,
                        &fm.mask,
                        strict.then_some(fm.priority),
                        fm.cookie,
                        fm.cookie_mask,
                        OFPP_ANY,
                    )
                    .iter()
                    .map(|r| (r.table_id, r.id))
                    .collect();
                if ids.is_empty() {
                    if fm.modify_may_add && fm.table_id != 0xff && fm.cookie_mask == 0 {
                        self.add(fm, now_ns, &mut out)?;
                    } else if fm.modify_may_add && fm.cookie_mask == 0 {
                        let mut add = fm.clone();
                        add.table_id = 0;
                        self.add(&add, now_ns, &mut out)?;
                    }
                } else {
                    for (t, id) in ids {
                        let r = self.tables[t as usize]
                            .rules
                            .get_mut(&id)
                            .expect("selected rule exists");
                        let old = std::mem::replace(&mut r.instructions, fm.instructions.clone());
                        r.modified_ns = now_ns;
                        gone_learns.extend(learn::delete_learned_cookies(&old));
                        if let Some(c) = fm.new_cookie {
                            r.cookie = c;
                        }
                        if fm.flags & flags::RESET_COUNTS != 0 {
                            r.packets.store(0, Ordering::Relaxed);
                            r.bytes.store(0, Ordering::Relaxed);
                        }
                        out.modified += 1;
                        self.tables[t as usize].index_conj(id, &fm.instructions);
                    }
                }
            }
            command::DELETE | command::DELETE_STRICT => {
                let strict = fm.command == command::DELETE_STRICT;
                let ids: Vec<(u8, u64)> = self
                    .select(
                        fm.table_id,
                        &fm.value,
                        &fm.mask,
                        strict.then_some(fm.priority),
                        fm.cookie,
                        fm.cookie_mask,
                        fm.out_port,
                    )
                    .iter()
                    .map(|r| (r.table_id, r.id))
                    .collect();
                for (t, id) in ids {
                    if let Some(r) = self.tables[t as usize].remove(id) {
                        out.removed.push(r);
                    }
                }
            }
            _ => return Err(FlowModError::BadCommand),
        }
        for r in &out.removed {
            gone_learns.extend(learn::delete_learned_cookies(&r.instructions));
        }
        let flushed = self.flush_learned(gone_learns);
        out.removed.extend(flushed);
        if out.added + out.modified + out.removed.len() > 0 {
            self.version += 1;
        }
        Ok(out)
    }

    fn add(
        &mut self,
        fm: &FlowModSpec,
        now_ns: u64,
        out: &mut FlowModOutcome,
    ) -> Result<(), FlowModError> {
        let t = fm.table_id as usize;
        if t >= N_TABLES {
            return Err(FlowModError::BadTableId);
        }
        let value = fm.value.masked(&fm.mask);
        let table = &mut self.tables[t];
        if fm.flags & flags::CHECK_OVERLAP != 0 {
            let overlap = table.rules.values().any(|r| {
                r.priority == fm.priority
                    && (0..XKEY_WORDS).all(|i| {
                        let m = r.mask.word(i) & fm.mask.word(i);
                        (r.value.word(i) ^ value.word(i)) & m == 0
                    })
                    && !(r.mask == fm.mask && r.value == value)
            });
            if overlap {
                return Err(FlowModError::Overlap);
            }
        }
        let old = table.cls.find_exact(fm.priority, &value, &fm.mask, |id| {
            table
                .rules
                .get(&id)
                .is_some_and(|r| r.priority == fm.priority && r.mask == fm.mask && r.value == value)
        });
        let mut keep = (0, 0, now_ns);
        if let Some(id) = old {
            if let Some(r) = table.remove(id) {
                if fm.flags & flags::RESET_COUNTS == 0 {
                    keep = (
                        r.packets.load(Ordering::Relaxed),
                        r.bytes.load(Ordering::Relaxed),
                        r.created_ns,
                    );
                }
                out.removed.push(r);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.tables[t].insert(Rule {
            id,
            table_id: fm.table_id,
            priority: fm.priority,
            value,
            mask: fm.mask.clone(),
            cookie: fm.cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            importance: fm.importance,
            instructions: fm.instructions.clone(),
            created_ns: keep.2,
            modified_ns: now_ns,
            used_ns: AtomicU64::new(now_ns),
            packets: AtomicU64::new(keep.0),
            bytes: AtomicU64::new(keep.1),
        });
        out.added += 1;
        Ok(())
    }

    /// Removes rules whose idle or hard timeout passed at `now_ns`
    /// (OpenFlow 1.5.1 section 6.5); returns them.
    pub fn expire(&mut self, now_ns: u64) -> Vec<Rule> {
        let mut dead = Vec::new();
        for (t, tab) in self.tables.iter().enumerate() {
            for r in tab.rules.values() {
                let idle = r.idle_timeout as u64 * 1_000_000_000;
                let hard = r.hard_timeout as u64 * 1_000_000_000;
                let used = r.used_ns.load(Ordering::Relaxed);
                if (idle > 0 && now_ns.saturating_sub(used) >= idle)
                    || (hard > 0 && now_ns.saturating_sub(r.modified_ns) >= hard)
                {
                    dead.push((t, r.id));
                }
            }
        }
        let mut out: Vec<Rule> = dead
            .into_iter()
            .filter_map(|(t, id)| self.tables[t].remove(id))
            .collect();
        let gone = out
            .iter()
            .flat_map(|r| learn::delete_learned_cookies(&r.instructions))
            .collect();
        out.extend(self.flush_learned(gone));
        if !out.is_empty() {
            self.version += 1;
        }
        out
    }

    /// Applies `mods` all or nothing (OpenFlow 1.5.1 section 6.8.3, atomic
    /// bundles): on the first failure nothing changes and the error comes
    /// back with the index of the failing flow_mod.
    pub fn apply_all(
        &mut self,
        mods: &[FlowModSpec],
        now_ns: u64,
    ) -> Result<Vec<FlowModOutcome>, (usize, FlowModError)> {
        let mut trial = Tables {
            tables: Vec::with_capacity(N_TABLES),
            next_id: self.next_id,
            version: self.version,
        };
        for t in &self.tables {
            let mut nt = Table::default();
            for r in t.rules.values() {
                nt.insert(r.clone());
            }
            nt.lookups = AtomicU64::new(t.lookups.load(Ordering::Relaxed));
            nt.matched = AtomicU64::new(t.matched.load(Ordering::Relaxed));
            trial.tables.push(nt);
        }
        let mut outs = Vec::new();
        for (i, m) in mods.iter().enumerate() {
            outs.push(trial.apply(m, now_ns).map_err(|e| (i, e))?);
        }
        *self = trial;
        Ok(outs)
    }

    /// Removes every rule whose actions (or instructions) satisfy `pred`:
    /// flows using a deleted group or meter (OpenFlow 1.3.5 sections
    /// 6.5 and 6.6). Returns them.
    pub fn remove_where(&mut self, pred: impl Fn(&Rule) -> bool) -> Vec<Rule> {
        let ids: Vec<(usize, u64)> = self
            .tables
            .iter()
            .enumerate()
            .flat_map(|(t, tab)| {
                tab.rules
                    .values()
                    .filter(|r| pred(r))
                    .map(move |r| (t, r.id))
            })
            .collect();
        let mut out: Vec<Rule> = ids
            .into_iter()
            .filter_map(|(t, id)| self.tables[t].remove(id))
            .collect();
        let gone = out
            .iter()
            .flat_map(|r| learn::delete_learned_cookies(&r.instructions))
            .collect();
        out.extend(self.flush_learned(gone));
        if !out.is_empty() {
            self.version += 1;
        }
        out
    }

    /// True if a rule of any table uses `tun_metadata<n>`
    /// ([`Rule::tlv_bitmap`]).
    pub fn tlv_in_use(&self, n: u8) -> bool {
        self.tables
            .iter()
            .flat_map(|t| t.rules.values())
            .any(|r| r.tlv_bitmap() >> n & 1 != 0)
    }

    /// Rule `id` in table `table_id`.
    pub fn rule(&self, table_id: u8, id: u64) -> Option<&Rule> {
        self.tables.get(table_id as usize)?.rules.get(&id)
    }

    /// Number of rules in every table.
    pub fn n_rules(&self) -> usize {
        self.tables.iter().map(|t| t.rules.len()).sum()
    }
}

#[cfg(test)]
mod tests;
