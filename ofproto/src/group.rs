//! The group table (OpenFlow 1.3.5 section 5.6 "Group Table", section
//! 7.3.4.2 "Modify Group Entry Message"; OVS `ofproto/ofproto.c` group
//! handling and `ovs-ofctl(8)` "Group Syntax").
//!
//! A [`GroupTable`] maps group ids to [`Group`]s: a type (`all`, `select`,
//! `indirect`, `fast_failover`), buckets, and counters credited from the
//! megaflows that use them (as rule counters are). Translation of the
//! `group` action lives in [`crate::xlate`]; this module holds the table, the
//! GROUP_MOD semantics and the bucket-selection helpers xlate uses.
//!
//! `select` groups choose a bucket per flow. As in Open vSwitch 2.10+, the
//! default selection method is `dp_hash`: xlate emits the datapath action
//! `hash(l4(basis))` followed by `recirc(ID)`, and the recirculated
//! translation picks the bucket from the low bits of `dp_hash` through a
//! weighted slot table ([`Group::dp_hash_slots`]). The `hash` method hashes
//! chosen packet fields at translation time and picks a bucket with
//! weighted rendezvous hashing ([`Group::hash_pick`]).

use crate::ofp::error::ErrorCode;
use crate::ofp::switch::{Bucket, GroupMod};
use crate::ofp::OfpError;
use crate::table::FlowModError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// OFPGT_ALL: execute every bucket.
pub const OFPGT_ALL: u8 = 0;
/// OFPGT_SELECT: execute one bucket, chosen per flow.
pub const OFPGT_SELECT: u8 = 1;
/// OFPGT_INDIRECT: execute the one bucket.
pub const OFPGT_INDIRECT: u8 = 2;
/// OFPGT_FF: execute the first live bucket.
pub const OFPGT_FF: u8 = 3;

/// OFPGC_ADD.
pub const OFPGC_ADD: u16 = 0;
/// OFPGC_MODIFY.
pub const OFPGC_MODIFY: u16 = 1;
/// OFPGC_DELETE.
pub const OFPGC_DELETE: u16 = 2;

/// OFPG_MAX: the last usable group id.
pub const OFPG_MAX: u32 = 0xffff_ff00;
/// OFPG_ALL: every group (delete, statistics).
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// OFPG_ANY: no group (watch_group wildcard).
pub const OFPG_ANY: u32 = 0xffff_ffff;

/// How a `select` group chooses its bucket (OVS `selection_method`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SelectionMethod {
    /// `dp_hash`: datapath `hash(l4(basis))` + recirculation (the default).
    #[default]
    DpHash,
    /// `hash`: translation-time hash of these packet fields.
    Hash(Vec<crate::ofp::Field>),
}

/// One group entry (OpenFlow 1.3.5 section 5.6).
#[derive(Debug)]
pub struct Group {
    /// Group id.
    pub id: u32,
    /// OFPGT_* type.
    pub group_type: u8,
    /// Buckets, in order.
    pub buckets: Vec<Bucket>,
    /// Bucket selection of a `select` group.
    pub selection: SelectionMethod,
    /// Hash basis (`selection_method_param`).
    pub basis: u64,
    /// Creation time (caller's monotonic ns).
    pub created_ns: u64,
    /// Packets through the group.
    pub packets: AtomicU64,
    /// Bytes through the group.
    pub bytes: AtomicU64,
    /// Per bucket (packets, bytes).
    pub bucket_stats: Vec<(AtomicU64, AtomicU64)>,
}

/// Smallest hash-slot table used for `dp_hash` selection.
const MIN_SLOTS: usize = 8;
/// Largest hash-slot table (6 bits of `dp_hash`).
const MAX_SLOTS: usize = 64;

impl Group {
    /// Builds a group.
    pub fn new(id: u32, group_type: u8, buckets: Vec<Bucket>, now_ns: u64) -> Group {
        let n = buckets.len();
        Group {
            id,
            group_type,
            buckets,
            selection: SelectionMethod::DpHash,
            basis: 0,
            created_ns: now_ns,
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            bucket_stats: (0..n)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
        }
    }

    /// The `dp_hash` slot table: `slots.len()` is a power of two, slot `i`
    /// holds the bucket for `dp_hash & (len - 1) == i`; buckets get slots in
    /// proportion to their weight (weight 0: none; OVS
    /// `group_setup_dp_hash_table()`). Empty if no bucket has weight.
    pub fn dp_hash_slots(&self) -> Vec<usize> {
        let total: u64 = self.buckets.iter().map(|b| b.weight as u64).sum();
        if total == 0 {
            return Vec::new();
        }
        let n = (self.buckets.len().next_power_of_two() * 4).clamp(MIN_SLOTS, MAX_SLOTS);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            // Point in the middle of slot i on the cumulative weight axis.
            let x = (2 * i as u64 + 1) * total / (2 * n as u64);
            let mut cum = 0u64;
            let mut pick = 0;
            for (j, b) in self.buckets.iter().enumerate() {
                cum += b.weight as u64;
                if x < cum {
                    pick = j;
                    break;
                }
            }
            out.push(pick);
        }
        out
    }

    /// Weighted rendezvous choice for flow hash `h` (OVS
    /// `pick_hash_fields_select_group()`): the bucket with the highest
    /// `hash(h, bucket) * weight` among buckets with weight.
    pub fn hash_pick(&self, h: u32) -> Option<usize> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.weight > 0)
            .max_by_key(|(i, b)| {
                let s = hash_u32(h ^ (*i as u32).wrapping_mul(0x9e37_79b9));
                (s as u64) * b.weight as u64
            })
            .map(|(i, _)| i)
    }

    /// Credits `packets`/`bytes` to the group and (if any) bucket `bucket`.
    pub fn credit(&self, bucket: Option<usize>, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some((p, b)) = bucket.and_then(|i| self.bucket_stats.get(i)) {
            p.fetch_add(packets, Ordering::Relaxed);
            b.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// `(packets, bytes)` of every bucket.
    pub fn bucket_counters(&self) -> Vec<(u64, u64)> {
        self.bucket_stats
            .iter()
            .map(|(p, b)| (p.load(Ordering::Relaxed), b.load(Ordering::Relaxed)))
            .collect()
    }
}

/// A 32-bit integer hash (murmur3 finalizer), for `hash` selection.
pub fn hash_u32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^ (x >> 16)
}

/// OFPET_GROUP_MOD_FAILED (type 6 in OpenFlow 1.1+) with `code`.
fn gm_err(code: u16, what: &'static str) -> FlowModError {
    FlowModError::Codec(OfpError::new(ErrorCode::Wire { err_type: 6, code }, what))
}

/// OFPGMFC_GROUP_EXISTS.
pub const OFPGMFC_GROUP_EXISTS: u16 = 0;
/// OFPGMFC_INVALID_GROUP.
pub const OFPGMFC_INVALID_GROUP: u16 = 1;
/// OFPGMFC_UNKNOWN_GROUP.
pub const OFPGMFC_UNKNOWN_GROUP: u16 = 8;
/// OFPGMFC_BAD_TYPE.
pub const OFPGMFC_BAD_TYPE: u16 = 10;
/// OFPGMFC_BAD_COMMAND.
pub const OFPGMFC_BAD_COMMAND: u16 = 11;
/// OFPGMFC_BAD_WATCH.
pub const OFPGMFC_BAD_WATCH: u16 = 13;

/// The groups of a bridge.
#[derive(Debug, Default)]
pub struct GroupTable {
    /// Groups by id.
    pub groups: BTreeMap<u32, Group>,
    /// Bumped on every change (revalidation trigger).
    pub version: u64,
}

impl GroupTable {
    /// An empty table.
    pub fn new() -> GroupTable {
        GroupTable::default()
    }

    /// Group `id`.
    pub fn get(&self, id: u32) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// Applies a GROUP_MOD at `now_ns` (OpenFlow 1.3.5 section 7.3.4.2):
    /// returns the ids of deleted groups (whose referencing flows the
    /// caller removes, as the spec requires).
    pub fn apply(&mut self, gm: &GroupMod, now_ns: u64) -> Result<Vec<u32>, FlowModError> {
        self.apply_with(gm, SelectionMethod::DpHash, 0, now_ns)
    }

    /// [`GroupTable::apply`] with an explicit `select` method and basis.
    pub fn apply_with(
        &mut self,
        gm: &GroupMod,
        selection: SelectionMethod,
        basis: u64,
        now_ns: u64,
    ) -> Result<Vec<u32>, FlowModError> {
        match gm.command {
            OFPGC_ADD | OFPGC_MODIFY => {
                if gm.group_id > OFPG_MAX {
                    return Err(gm_err(OFPGMFC_INVALID_GROUP, "reserved group id"));
                }
                if gm.group_type > OFPGT_FF {
                    return Err(gm_err(OFPGMFC_BAD_TYPE, "unknown group type"));
                }
                if gm.group_type == OFPGT_INDIRECT && gm.buckets.len() != 1 {
                    return Err(gm_err(
                        OFPGMFC_INVALID_GROUP,
                        "indirect group needs exactly one bucket",
                    ));
                }
                if gm.group_type == OFPGT_FF
                    && gm.buckets.iter().any(|b| {
                        b.watch_port == crate::ofp::actions::OFPP_ANY && b.watch_group == OFPG_ANY
                    })
                {
                    return Err(gm_err(
                        OFPGMFC_BAD_WATCH,
                        "fast_failover bucket without watch",
                    ));
                }
                let exists = self.groups.contains_key(&gm.group_id);
                if gm.command == OFPGC_ADD && exists {
                    return Err(gm_err(OFPGMFC_GROUP_EXISTS, "group exists"));
                }
                if gm.command == OFPGC_MODIFY && !exists {
                    return Err(gm_err(OFPGMFC_UNKNOWN_GROUP, "no such group"));
                }
                let mut buckets = gm.buckets.clone();
                if gm.group_type != OFPGT_SELECT {
                    for b in &mut buckets {
                        // Weights only mean something in select groups.
                        b.weight = b.weight.max(1);
                    }
                }
                let mut g = Group::new(gm.group_id, gm.group_type, buckets, now_ns);
                g.selection = selection;
                g.basis = basis;
                if let Some(old) = self.groups.get(&gm.group_id) {
                    g.created_ns = old.created_ns;
                }
                self.groups.insert(gm.group_id, g);
                self.version += 1;
                Ok(Vec::new())
            }
            OFPGC_DELETE => {
                let ids: Vec<u32> = if gm.group_id == OFPG_ALL {
                    self.groups.keys().copied().collect()
                } else if self.groups.contains_key(&gm.group_id) {
                    vec![gm.group_id]
                } else {
                    Vec::new()
                };
                for id in &ids {
                    self.groups.remove(id);
                }
                if !ids.is_empty() {
                    self.version += 1;
                }
                Ok(ids)
            }
            _ => Err(gm_err(OFPGMFC_BAD_COMMAND, "unknown group command")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofp::Action;

    fn bucket(w: u16, port: u32) -> Bucket {
        Bucket {
            weight: w,
            watch_port: port,
            watch_group: OFPG_ANY,
            actions: vec![Action::Output { port, max_len: 0 }],
        }
    }

    fn gm(cmd: u16, t: u8, id: u32, b: Vec<Bucket>) -> GroupMod {
        GroupMod {
            command: cmd,
            group_type: t,
            group_id: id,
            buckets: b,
        }
    }

    #[test]
    fn add_modify_delete_semantics() {
        let mut t = GroupTable::new();
        t.apply(&gm(OFPGC_ADD, OFPGT_ALL, 1, vec![bucket(0, 1)]), 0)
            .unwrap();
        let e = t
            .apply(&gm(OFPGC_ADD, OFPGT_ALL, 1, vec![]), 0)
            .unwrap_err();
        assert_eq!(e.to_wire(4), (6, OFPGMFC_GROUP_EXISTS));
        let e = t
            .apply(&gm(OFPGC_MODIFY, OFPGT_ALL, 2, vec![]), 0)
            .unwrap_err();
        assert_eq!(e.to_wire(4), (6, OFPGMFC_UNKNOWN_GROUP));
        let e = t
            .apply(&gm(OFPGC_ADD, OFPGT_INDIRECT, 3, vec![]), 0)
            .unwrap_err();
        assert_eq!(e.to_wire(4), (6, OFPGMFC_INVALID_GROUP));
        let e = t.apply(&gm(OFPGC_ADD, 9, 3, vec![]), 0).unwrap_err();
        assert_eq!(e.to_wire(4), (6, OFPGMFC_BAD_TYPE));
        t.apply(
            &gm(
                OFPGC_MODIFY,
                OFPGT_SELECT,
                1,
                vec![bucket(1, 1), bucket(1, 2)],
            ),
            0,
        )
        .unwrap();
        assert_eq!(t.get(1).unwrap().buckets.len(), 2);
        t.apply(&gm(OFPGC_ADD, OFPGT_ALL, 5, vec![]), 0).unwrap();
        assert_eq!(
            t.apply(&gm(OFPGC_DELETE, 0, 42, vec![]), 0).unwrap(),
            Vec::<u32>::new()
        );
        assert_eq!(
            t.apply(&gm(OFPGC_DELETE, 0, OFPG_ALL, vec![]), 0).unwrap(),
            vec![1, 5]
        );
        assert!(t.groups.is_empty());
    }

    #[test]
    fn dp_hash_slots_follow_weights() {
        let g = Group::new(1, OFPGT_SELECT, vec![bucket(1, 1), bucket(1, 2)], 0);
        let s = g.dp_hash_slots();
        assert!(s.len().is_power_of_two());
        assert_eq!(s.iter().filter(|&&b| b == 0).count(), s.len() / 2);
        let g = Group::new(
            1,
            OFPGT_SELECT,
            vec![bucket(3, 1), bucket(1, 2), bucket(0, 3)],
            0,
        );
        let s = g.dp_hash_slots();
        let n0 = s.iter().filter(|&&b| b == 0).count();
        let n1 = s.iter().filter(|&&b| b == 1).count();
        assert_eq!(n0, 3 * n1);
        assert!(!s.contains(&2));
        let g = Group::new(1, OFPGT_SELECT, vec![bucket(0, 1)], 0);
        assert!(g.dp_hash_slots().is_empty());
    }

    #[test]
    fn hash_pick_spreads_and_respects_zero_weight() {
        let g = Group::new(
            1,
            OFPGT_SELECT,
            vec![bucket(1, 1), bucket(1, 2), bucket(0, 3)],
            0,
        );
        let mut n = [0usize; 3];
        for h in 0..1000u32 {
            n[g.hash_pick(hash_u32(h)).unwrap()] += 1;
        }
        assert!(n[0] > 300 && n[1] > 300 && n[2] == 0, "{n:?}");
    }
}
