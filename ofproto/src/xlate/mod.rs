//! Translation of a packet through the OpenFlow tables into datapath actions
//! and a megaflow mask (OVS `ofproto/ofproto-dpif-xlate.c`).
//!
//! [`xlate`] starts in table 0 (or, for a recirculated packet, in the table
//! its recirculation id was frozen for), looks the packet up in each table it
//! visits ([`crate::table::Table::lookup`], which un-wildcards what it
//! consulted), and runs the matching rule's instructions
//! (OpenFlow 1.5.1 section 5.5, "Instructions"; apply-actions, write-actions
//! as the action set run at the end of the pipeline, clear-actions,
//! write-metadata, goto-table). A table miss drops, except that a miss in
//! the first table, after `goto_table` or by `output:TABLE` (not
//! `resubmit`) goes to the controller as [`REASON_IMPLICIT_MISS`] while
//! some OpenFlow 1.0-1.2 connection is up ([`XlateEnv::miss_packet_in`]),
//! as OVS `rule_dpif_lookup_from_table()` does with the default table-miss
//! config (OFPUTIL_TABLE_MISS_DEFAULT).
//!
//! Header rewrites change the translation's copy of the flow only; they are
//! turned into datapath `set`/`push_vlan`/`pop_vlan` actions lazily, right
//! before an action that needs the packet as modified (output, NORMAL, ct,
//! clone, controller), as OVS's `commit_odp_actions()` does. Each rewrite
//! un-wildcards the field it writes, so that "is the field already equal"
//! is part of the megaflow (OVS `xlate_set_field()` does the same).
//!
//! `ct(table=N)` emits `ct(...)` then `recirc(ID)`, where ID names the
//! frozen state (table N, metadata and registers, OpenFlow in_port) in the
//! bridge's [`RecircTable`]; the recirculated upcall (`recirc_id=ID` in its
//! key) resumes in table N with that state. Identical states share an id, so
//! revalidation reproduces the same actions.
//!
//! `controller(pause)` (NXAST_CONTROLLER2 with NXAC2PT_PAUSE) freezes the
//! rest of the translation the way OVS's `xlate_freeze` /
//! `freeze_unroll_actions()` do: the actions after the pause in its list,
//! then, unwinding the resubmit stack, each outer level's remaining
//! actions and pending `goto_table` (as `resubmit(,N)`), each with its
//! rule's table and cookie ([`Segment`]), plus the action set, metadata and
//! registers ([`Paused`]). The state gets an id in the [`RecircTable`] and
//! the translation ends with `userspace(userdata=02 TABLE REASON 00 ID)`,
//! so every packet of the megaflow reaches userspace and becomes an
//! NXT_PACKET_IN2 carrying the continuation: nothing after the pause is
//! ever cached in the datapath. A pause inside `clone` or a group bucket
//! freezes only the rest of that clone or bucket (OVS `xlate_clone()`
//! finishes the freeze there), and translation continues after it.
//! [`xlate_resume`] runs a continuation sent back in NXT_RESUME.
//!
//! `check_pkt_larger(N)->DST` becomes `check_pkt_len(size=N,gt(..),le(..))`:
//! the rest of the action list and of the rule (action set writes, goto) is
//! translated once with DST=1 and once with DST=0, each branch ending its
//! own pipeline (OVS `xlate_check_pkt_larger()`); the caller's actions after
//! a resubmit follow the `check_pkt_len`. `set_queue`/`enqueue` set
//! `skb_priority` to the queue number (dpif-netdev's queue-to-priority map),
//! `fin_timeout` is reported in [`XlateOut::fin_timeouts`], and `learn` with
//! a `limit` learns only below it, writing the outcome to its `result_dst`.

mod encap;
pub mod format;
pub mod multipath;
pub mod parse;
mod patch;
#[cfg(test)]
mod tests;

pub use patch::{PatchPeer, PatchRules, PatchTarget};

use crate::group::{
    GroupTable, SelectionMethod, OFPGT_ALL, OFPGT_FF, OFPGT_INDIRECT, OFPGT_SELECT,
};
use crate::meter::MeterTable;
use crate::normal::NormalBridge;
use crate::ofp::actions::{
    port_from_of10, Action, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT,
    OFPP_LOCAL, OFPP_NORMAL, OFPP_TABLE,
};
pub use crate::ofp::continuation::Segment;
use crate::ofp::instructions::Instruction;
use crate::ofp::nx_actions::{Controller2, Ct, Nat};
use crate::ofp::oxm::{Field, MatchField, OxmHeader};
use crate::ofp::switch::ofppc;
use crate::table::key::{field_locs, Loc, XKey, META_WORDS, TUN_MD_PRESENT_WORD};
use crate::table::{FlowModSpec, Tables};
use crate::tlv::TlvTable;
use dp_core::actions::{
    CtAction, HashAlg, NatAction, NatKind, OdpAction, SetAttr, UserspaceAction,
};
use dp_core::flow::{
    fields as f, u64_to_mac, Field as DpField, Flow, TUN_OPTS_WORD, TUN_OPTS_WORDS, VLAN_CFI,
};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};

/// Internal OFPR_* reason of a table miss sent to the controller without
/// a table-miss flow (OVS `OFPR_IMPLICIT_MISS`): OFPR_NO_MATCH (0) on the
/// wire, enabled by default only for OpenFlow 1.0-1.2 connections
/// (`ofputil_async_cfg_default()`).
pub const REASON_IMPLICIT_MISS: u8 = 7;

/// Maximum resubmit/goto depth (OVS `MAX_DEPTH`).
pub const MAX_DEPTH: u32 = 64;

/// A bridge's ports as xlate needs them: OpenFlow port (32-bit space;
/// LOCAL is [`OFPP_LOCAL`]) to datapath port and name.
#[derive(Debug, Clone, Default)]
pub struct PortMap {
    by_of: BTreeMap<u32, (u32, String)>,
    of_by_odp: HashMap<u32, u32>,
    down: std::collections::HashSet<u32>,
    /// OFPPC_* configuration bits set by OFPT_PORT_MOD, by OpenFlow port.
    config: HashMap<u32, u32>,
    /// Patch ports and their peers ([`PortMap::set_patch`]).
    patches: BTreeMap<u32, Option<PatchPeer>>,
}

impl PortMap {
    /// An empty map.
    pub fn new() -> PortMap {
        PortMap::default()
    }

    /// Adds a port; `ofport` 0xfffe (the 16-bit LOCAL) is stored as
    /// [`OFPP_LOCAL`].
    pub fn insert(&mut self, ofport: u32, odp: u32, name: &str) {
        let of = if ofport == 0xfffe { OFPP_LOCAL } else { ofport };
        self.by_of.insert(of, (odp, name.to_string()));
        self.of_by_odp.insert(odp, of);
    }

    /// Datapath port of OpenFlow port `of`.
    pub fn odp(&self, of: u32) -> Option<u32> {
        self.by_of.get(&of).map(|p| p.0)
    }

    /// OpenFlow port of datapath port `odp`.
    pub fn ofport(&self, odp: u32) -> Option<u32> {
        self.of_by_odp.get(&odp).copied()
    }

    /// `(ofport, odp, name)` by OpenFlow port number.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, &str)> {
        self.by_of.iter().map(|(&o, (d, n))| (o, *d, n.as_str()))
    }

    /// Marks OpenFlow port `of` live (link up) or not; ports start live.
    /// Fast-failover groups watch this (OpenFlow 1.3.5 section 6.5).
    pub fn set_live(&mut self, of: u32, live: bool) {
        if live {
            self.down.remove(&of);
        } else {
            self.down.insert(of);
        }
    }

    /// True if `of` exists and is live.
    pub fn is_live(&self, of: u32) -> bool {
        self.by_of.contains_key(&of) && !self.down.contains(&of)
    }

    /// Sets the OFPPC_* configuration bits of OpenFlow port `of`
    /// (OFPT_PORT_MOD): NO_RECV and PORT_DOWN drop what it receives,
    /// NO_FWD and PORT_DOWN what is output to it, NO_FLOOD leaves it out of
    /// FLOOD and NORMAL's flooding, NO_PACKET_IN suppresses its table-miss
    /// packet-ins.
    pub fn set_config(&mut self, of: u32, config: u32) {
        if config == 0 {
            self.config.remove(&of);
        } else {
            self.config.insert(of, config);
        }
    }

    /// OFPPC_* configuration bits of OpenFlow port `of` (0 by default).
    pub fn config(&self, of: u32) -> u32 {
        self.config.get(&of).copied().unwrap_or(0)
    }

    /// OpenFlow port named `name`.
    pub fn by_name(&self, name: &str) -> Option<u32> {
        self.by_of
            .iter()
            .find(|(_, (_, n))| n == name)
            .map(|(&o, _)| o)
    }
}

/// State frozen at a recirculation: `ct(table=N)` (resume in table N) or a
/// `dp_hash` select group (resume by choosing the group's bucket, then the
/// rest of the frozen actions, the goto and the action set; OVS
/// `struct frozen_state`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frozen {
    /// Table to resume in (or that was being translated, for a group).
    pub table: u8,
    /// Metadata and registers ([`XKey::meta`]).
    pub meta: [u64; META_WORDS],
    /// OpenFlow in_port at the time.
    pub in_port: u32,
    /// `dp_hash` select group to resume in.
    pub group: Option<u32>,
    /// Actions after the group action in its list.
    pub rest: Vec<Action>,
    /// `goto_table` pending after the group's apply-actions.
    pub goto: Option<u8>,
    /// The action set at the time.
    pub action_set: Vec<Action>,
    /// Resume by running `rest` (then `goto` and the action set) rather than
    /// a table lookup: the freeze after `decap()` of NSH, whose inner packet
    /// had to be parsed (OVS `ctx_trigger_freeze()`).
    pub resume_actions: bool,
}

impl std::hash::Hash for Frozen {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.table.hash(h);
        self.meta.hash(h);
        self.in_port.hash(h);
        self.group.hash(h);
        self.resume_actions.hash(h);
        self.goto.hash(h);
        // Actions have no Hash; their debug form identifies them.
        if !self.rest.is_empty() || !self.action_set.is_empty() {
            format!("{:?}{:?}", self.rest, self.action_set).hash(h);
        }
    }
}

/// A translation frozen by `controller(pause)`: what the NXT_PACKET_IN2
/// reports and what its continuation resumes (OVS `struct frozen_state`
/// plus the `controller` action's arguments).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paused {
    /// Table of the rule with the pause (the packet-in's `table_id`).
    pub table: u8,
    /// Cookie of that rule.
    pub cookie: u64,
    /// OFPR_* reason (default OFPR_ACTION 1).
    pub reason: u8,
    /// NXAC2PT_CONTROLLER_ID (0: default).
    pub controller_id: u16,
    /// NXAC2PT_USERDATA, sent as NXPINT_USERDATA.
    pub userdata: Option<Vec<u8>>,
    /// NXAC2PT_MAX_LEN, bytes of packet to send (0: all; the `controller`
    /// default 65535 also means all).
    pub max_len: u16,
    /// OpenFlow in_port at the pause.
    pub in_port: u32,
    /// Metadata and registers at the pause ([`XKey::meta`]).
    pub meta: [u64; META_WORDS],
    /// Actions still to run, innermost resubmit level first.
    pub segments: Vec<Segment>,
    /// The action set at the pause.
    pub action_set: Vec<Action>,
}

/// Next recirculation or continuation id; ids are unique across bridges:
/// a packet recirculated by a bridge reached through a patch port comes
/// back as a miss of the bridge owning its datapath in_port, which finds
/// the id's owner from it (`patch::xlate_foreign_recirc`).
static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Recirculation ids of a bridge (OVS `ofproto/ofproto-dpif-rid.c`), and
/// the ids of paused translations ([`Paused`]).
#[derive(Debug, Default)]
pub struct RecircTable {
    by_id: HashMap<u32, Frozen>,
    by_state: HashMap<Frozen, u32>,
    next: u32,
    paused: HashMap<u32, std::sync::Arc<Paused>>,
    paused_ids: HashMap<String, u32>,
}

impl RecircTable {
    /// The id of `state`, allocating one (ids start at 1) if new.
    pub fn id_for(&mut self, state: Frozen) -> u32 {
        if let Some(&id) = self.by_state.get(&state) {
            return id;
        }
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.next = id;
        self.by_id.insert(id, state.clone());
        self.by_state.insert(state, id);
        id
    }

    /// The state recirculation id `id` stands for.
    pub fn get(&self, id: u32) -> Option<&Frozen> {
        self.by_id.get(&id)
    }

    /// The id of paused translation `p`, allocating one if new; identical
    /// states share an id, so revalidation reproduces the same actions.
    pub fn pause_id(&mut self, p: Paused) -> u32 {
        // Actions have no Hash; their debug form identifies them.
        let key = format!("{p:?}");
        if let Some(&id) = self.paused_ids.get(&key) {
            return id;
        }
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.paused.insert(id, std::sync::Arc::new(p));
        self.paused_ids.insert(key, id);
        id
    }

    /// The paused translation with id `id` (from a `userspace` action's
    /// userdata, see [`pause_userdata`]).
    pub fn paused(&self, id: u32) -> Option<std::sync::Arc<Paused>> {
        self.paused.get(&id).cloned()
    }
}

/// Userdata of the `userspace` action ending a paused translation:
/// `02, table, reason, 00, id (u32, network byte order)`; the plain
/// `controller` action's is `01, table, reason, 00`.
pub fn pause_userdata(table: u8, reason: u8, id: u32) -> Vec<u8> {
    let mut u = vec![2, table, reason, 0];
    u.extend_from_slice(&id.to_be_bytes());
    u
}

/// The continuation id in `userspace` userdata made by [`pause_userdata`].
pub fn pause_id_of(userdata: &[u8]) -> Option<u32> {
    match userdata {
        [2, _, _, _, a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// What xlate reads: the bridge's tables, ports, NORMAL and recirculation
/// ids.
pub struct XlateEnv<'a> {
    /// OpenFlow tables.
    pub tables: &'a Tables,
    /// Ports.
    pub ports: &'a PortMap,
    /// NORMAL (MAC learning) for the `NORMAL` output.
    pub normal: &'a NormalBridge,
    /// Recirculation ids.
    pub recirc: &'a Mutex<RecircTable>,
    /// Groups.
    pub groups: &'a GroupTable,
    /// Meters.
    pub meters: &'a MeterTable,
    /// The TLV table: which Geneve option each `tun_metadataN` is.
    pub tlv: &'a TlvTable,
    /// A table miss goes to the controller ([`REASON_IMPLICIT_MISS`]):
    /// some connection wants packet-ins on a miss (OVS
    /// `connmgr_wants_packet_in_on_miss()`: an OpenFlow 1.0-1.2
    /// connection with controller id 0). Otherwise a miss drops, the
    /// OpenFlow 1.3+ default (OpenFlow 1.3.5 section 5.4).
    pub miss_packet_in: bool,
    /// Monotonic time, ns (for NORMAL's MAC aging).
    pub now_ns: u64,
    /// Let NORMAL learn (upcalls) or not (revalidation).
    pub learn: bool,
    /// Collect a human-readable trace ([`XlateOut::trace`]).
    pub trace: bool,
}

/// Result of a translation.
#[derive(Debug, Clone, Default)]
pub struct XlateOut {
    /// Datapath actions (empty = drop).
    pub actions: Vec<OdpAction>,
    /// Megaflow mask over the datapath flow.
    pub mask: Flow,
    /// Rules that matched, as `(table, rule id)`, in order.
    pub rules: Vec<(u8, u64)>,
    /// Groups executed, as `(group id, bucket index)` (statistics).
    pub groups: Vec<(u32, Option<usize>)>,
    /// Trace lines (when asked for).
    pub trace: Vec<String>,
    /// Rules and groups of other bridges, reached through patch ports.
    pub patched: Vec<PatchRules>,
    /// Flows the `learn` actions made, in order; applied (with
    /// [`Tables::learn_limited`]) only for upcalls, never for revalidation.
    pub learned: Vec<Learned>,
    /// `fin_timeout` actions met, as `(table, rule id, idle, hard)`
    /// (seconds): when a packet of the megaflow carries TCP FIN or RST the
    /// rule's timeouts are reduced ([`Pipeline::apply_fin_timeouts`], OVS
    /// `xlate_fin_timeout()` and the xlate cache's XC_FIN_TIMEOUT).
    pub fin_timeouts: Vec<(u8, u64, u16, u16)>,
}

/// A flow made by a `learn` action, with the action's `limit` (0: none):
/// it is added only while fewer than `limit` flows with its table and
/// cookie exist (NXAST_LEARN2, OVS `ofproto_flow_mod_learn()`).
#[derive(Debug, Clone)]
pub struct Learned {
    /// The add-or-modify flow_mod.
    pub fm: FlowModSpec,
    /// The learn action's `limit`.
    pub limit: u32,
}

struct Ctx<'a, 'e> {
    env: &'a XlateEnv<'e>,
    key: XKey,
    base: Flow,
    wc: XKey,
    odp: Vec<OdpAction>,
    rules: Vec<(u8, u64)>,
    groups: Vec<(u32, Option<usize>)>,
    trace: Vec<String>,
    depth: u32,
    exit: bool,
    table: u8,
    /// Cookie of the rule whose actions run now.
    cookie: u64,
    action_set: Vec<Action>,
    /// goto_table of the rule whose apply-actions run now.
    pending_goto: Option<u8>,
    /// A `dp_hash` group froze the rest of the translation; the state is
    /// completed (action set, metadata) and given its recirculation id at
    /// the end.
    frozen: Option<Frozen>,
    /// Rules and groups hit in other bridges (patch ports).
    patched: Vec<PatchRules>,
    /// `controller(pause)` froze the rest of the translation; levels add
    /// their remaining actions while unwinding.
    paused: Option<Paused>,
    /// Flows learned by `learn` actions.
    learned: Vec<Learned>,
    /// `fin_timeout` actions met ([`XlateOut::fin_timeouts`]).
    fin_timeouts: Vec<(u8, u64, u16, u16)>,
    /// The rule being translated: `(table, id, cookie)`.
    rule: Option<(u8, u64, u64)>,
    /// `skb_priority` the packet arrived with (`pop_queue` restores it).
    orig_prio: u64,
    /// The instructions after apply-actions of the rule whose apply-actions
    /// list starts now (taken by the first [`Ctx::do_actions`] call), so
    /// that `check_pkt_larger` can translate the rest of the pipeline.
    tail: Option<Vec<Instruction>>,
    /// A `check_pkt_larger` translated the rest of the current rule.
    cpl_done: bool,
    /// `encap(...)` translated, its datapath push not yet emitted.
    pending_encap: Option<encap::PendingEncap>,
    /// `decap()` of NSH translated, `pop_nsh` not yet emitted.
    pending_decap: bool,
    /// The translation failed (unsupported packet type): drop the packet.
    error: bool,
    /// The next [`Ctx::xlate_table`] may send a miss to the controller.
    pin_on_miss: bool,
    /// The tun_metadata words and presence bits the datapath packet has
    /// now (as of the last commit); a difference is committed as
    /// `set(tunnel(...))`.
    md_base: ([u64; TUN_OPTS_WORDS], u64),
}

/// Translates a packet whose datapath key is `flow` (`in_port` = datapath
/// port). Unknown input ports and unknown recirculation ids drop.
pub fn xlate(env: &XlateEnv<'_>, flow: &Flow) -> XlateOut {
    xlate_inner(env, flow, None, None)
}

/// Translates `actions` (a PACKET_OUT's) for a packet with datapath key
/// `flow` that entered on OpenFlow port `in_port` (which may have no
/// datapath port, e.g. CONTROLLER); `output:TABLE` runs the tables.
pub fn xlate_packet_out(
    env: &XlateEnv<'_>,
    flow: &Flow,
    in_port: u32,
    actions: &[Action],
) -> XlateOut {
    xlate_inner(env, flow, Some((in_port, actions)), None)
}

/// What NXT_RESUME resumes: metadata and registers (from NXPINT_METADATA),
/// the frozen actions and the action set (from the continuation).
#[derive(Debug, Clone, Copy)]
pub struct Resume<'a> {
    /// Metadata and registers ([`XKey::meta`]).
    pub meta: &'a [u64; META_WORDS],
    /// Frozen actions, innermost level first.
    pub segments: &'a [Segment],
    /// The action set.
    pub action_set: &'a [Action],
}

/// Resumes a paused translation (OVS `xlate_resume()`) for a packet with
/// datapath key `flow` that entered on OpenFlow port `in_port`: runs each
/// segment's actions in its table, then the action set. A further pause
/// freezes what is left again.
pub fn xlate_resume(env: &XlateEnv<'_>, flow: &Flow, in_port: u32, r: Resume<'_>) -> XlateOut {
    xlate_inner(env, flow, Some((in_port, &[])), Some(r))
}

fn xlate_inner(
    env: &XlateEnv<'_>,
    flow: &Flow,
    po: Option<(u32, &[Action])>,
    res: Option<Resume<'_>>,
) -> XlateOut {
    let mut key = XKey {
        flow: flow.clone(),
        meta: [0; META_WORDS],
    };
    let mut wc = XKey::default();
    wc.flow.set_exact(f::IN_PORT);
    wc.flow.set_exact(f::RECIRC_ID);
    wc.flow.set_exact(f::ETH_TYPE);
    if flow.get(f::PACKET_TYPE) != 0 {
        // Not Ethernet: the packet type is part of every megaflow (OVS
        // always matches it; for Ethernet, rvs leaves it implicit).
        wc.flow.set_exact(f::PACKET_TYPE);
    }
    let et = flow.get(f::ETH_TYPE);
    if et == 0x0800 || et == 0x86dd {
        wc.flow.set_exact(f::NW_FRAG);
    }
    let odp_in = flow.get(f::IN_PORT) as u32;
    let mut start = 0u8;
    let mut ok = true;
    match (po, env.ports.ofport(odp_in)) {
        (Some((of, _)), _) | (None, Some(of)) => key.flow.set(f::IN_PORT, of as u64),
        (None, None) => ok = false,
    }
    let rid = flow.get(f::RECIRC_ID) as u32;
    let mut no_recv = false;
    if let (None, Some(of), 0) = (po, env.ports.ofport(odp_in), rid) {
        // OVS: a port with OFPPC_NO_RECV (or administratively down) drops
        // everything it receives.
        no_recv = env.ports.config(of) & (ofppc::NO_RECV | ofppc::PORT_DOWN) != 0;
    }
    let mut resume = None;
    if rid != 0 {
        match env.recirc.lock().get(rid) {
            Some(fr) => {
                ok = true;
                key.meta = fr.meta;
                key.flow.set(f::IN_PORT, fr.in_port as u64);
                start = fr.table;
                if fr.group.is_some() || fr.resume_actions {
                    resume = Some(fr.clone());
                }
                if fr.resume_actions {
                    // After decap(): Ethernet and L3 inner packets share
                    // this recirculation id.
                    wc.flow.set_exact(f::PACKET_TYPE);
                }
            }
            None => ok = false,
        }
        if !ok {
            if let Some(x) = patch::xlate_foreign_recirc(env, flow) {
                return x;
            }
        }
    }
    env.tlv.geneve_to_md(&flow.tun_opts(), &mut key);
    let md_base = md_words(&key);
    let mut ctx = Ctx {
        env,
        key,
        md_base,
        base: flow.clone(),
        wc,
        odp: Vec::new(),
        rules: Vec::new(),
        groups: Vec::new(),
        trace: Vec::new(),
        depth: 0,
        exit: false,
        table: start,
        cookie: 0,
        action_set: Vec::new(),
        pending_goto: None,
        frozen: None,
        patched: Vec::new(),
        learned: Vec::new(),
        paused: None,
        fin_timeouts: Vec::new(),
        rule: None,
        orig_prio: flow.get(f::SKB_PRIORITY),
        tail: None,
        cpl_done: false,
        pending_encap: None,
        pending_decap: false,
        error: false,
        pin_on_miss: false,
    };
    if no_recv {
        ctx.note("OFPPC_NO_RECV set on the input port, dropping".to_string());
    } else if ok {
        if let Some(fr) = resume {
            ctx.action_set = fr.action_set.clone();
            match fr.group {
                Some(g) => {
                    ctx.note(format!("resume group {g} with recirc_id=0x{rid:x}"));
                    ctx.group(g, true);
                }
                None => ctx.note(format!("resume actions with recirc_id=0x{rid:x}")),
            }
            if !ctx.exit && ctx.frozen.is_none() {
                ctx.do_actions(&fr.rest);
            }
            if let Some(n) = fr.goto {
                if !ctx.exit && ctx.frozen.is_none() {
                    ctx.xlate_table_pin(n);
                }
            }
        } else {
            if rid != 0 {
                ctx.note(format!(
                    "resume conntrack with recirc_id=0x{rid:x} in table {start}"
                ));
            }
            match (po, res) {
                (_, Some(r)) => ctx.resume(r),
                (Some((_, acts)), None) => ctx.do_actions(acts),
                (None, None) => ctx.xlate_table_pin(start),
            }
        }
        ctx.finish_pipeline();
    } else {
        ctx.note("no such port or recirculation id: drop".to_string());
    }
    if ctx.error {
        ctx.odp.clear();
    }
    trim_trailing_sets(&mut ctx.odp);
    let md_seen = ctx.wc.has_tun_md();
    let mut mask = ctx.wc.flow;
    // Any look at tun_metadata makes the megaflow match the packet's
    // Geneve options exactly (all their bytes and their length): simpler
    // than OVS's per-option udpif mask, and never too wide.
    let opts_mask = if md_seen { u64::MAX } else { 0 };
    mask.w[TUN_OPTS_WORD..TUN_OPTS_WORD + TUN_OPTS_WORDS].fill(opts_mask);
    mask.set(f::TUN_OPTS_LEN, opts_mask);
    mask.set_exact(f::IN_PORT);
    mask.set_exact(f::RECIRC_ID);
    XlateOut {
        actions: ctx.odp,
        mask,
        rules: ctx.rules,
        groups: ctx.groups,
        trace: ctx.trace,
        patched: ctx.patched,
        learned: ctx.learned,
        fin_timeouts: ctx.fin_timeouts,
    }
}

/// The tun_metadata words and presence bits of `key`.
fn md_words(key: &XKey) -> ([u64; TUN_OPTS_WORDS], u64) {
    let mut w = [0; TUN_OPTS_WORDS];
    w.copy_from_slice(&key.flow.w[TUN_OPTS_WORD..TUN_OPTS_WORD + TUN_OPTS_WORDS]);
    (w, key.meta[TUN_MD_PRESENT_WORD])
}

/// Drops header changes after the last output: they have no effect.
fn trim_trailing_sets(odp: &mut Vec<OdpAction>) {
    while matches!(
        odp.last(),
        Some(
            OdpAction::SetMasked { .. }
                | OdpAction::Set(_)
                | OdpAction::PushVlan { .. }
                | OdpAction::PopVlan
                | OdpAction::Trunc(_)
        )
    ) {
        odp.pop();
    }
}

fn ones128(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn be(b: &[u8]) -> u128 {
    b.iter().take(16).fold(0u128, |a, &x| a << 8 | x as u128)
}

impl Ctx<'_, '_> {
    /// Ends a walk through the tables (OpenFlow 1.5 section 5.10): runs
    /// the action set unless the translation froze for recirculation, and
    /// turns a freeze into a `recirc(id)` whose id resumes it (action set
    /// and metadata included).
    pub(crate) fn finish_pipeline(&mut self) {
        if self.paused.is_some() {
            let set = std::mem::take(&mut self.action_set);
            self.finish_pause(set);
            return;
        }
        if self.frozen.is_none() {
            let set = std::mem::take(&mut self.action_set);
            if !set.is_empty() {
                self.exit = false;
                self.note("action set:".to_string());
                self.do_actions(&set);
            }
        }
        if let Some(mut fr) = self.frozen.take() {
            fr.action_set = std::mem::take(&mut self.action_set);
            fr.meta = self.key.meta;
            let id = self.env.recirc.lock().id_for(fr);
            self.odp.push(OdpAction::Recirc(id));
            self.note(format!("    recirc(0x{id:x})"));
        }
    }

    /// Runs a continuation ([`xlate_resume`]).
    fn resume(&mut self, r: Resume<'_>) {
        self.key.meta = *r.meta;
        self.action_set = r.action_set.to_vec();
        self.note("resume continuation".into());
        for (k, seg) in r.segments.iter().enumerate() {
            if self.exit || self.frozen.is_some() {
                break;
            }
            self.table = seg.table_id;
            self.cookie = seg.cookie;
            self.do_actions(&seg.actions);
            if let Some(p) = self.paused.as_mut() {
                p.segments.extend(r.segments[k + 1..].iter().cloned());
                break;
            }
        }
    }

    /// `controller(pause)`: freezes the rest of the translation (OVS
    /// `xlate_controller_action()` with `pause`).
    fn pause(&mut self, c: &Controller2) {
        self.commit();
        self.note("    pause".into());
        self.paused = Some(Paused {
            table: self.table,
            cookie: self.cookie,
            reason: c.reason.unwrap_or(1),
            controller_id: c.controller_id.unwrap_or(0),
            userdata: c.userdata.clone(),
            max_len: c.max_len.unwrap_or(0),
            in_port: self.in_port(),
            ..Default::default()
        });
    }

    /// Completes a pause: the state (with action set `set`, metadata and
    /// registers now) gets an id, and the packet goes to userspace.
    fn finish_pause(&mut self, set: Vec<Action>) {
        let Some(mut p) = self.paused.take() else {
            return;
        };
        p.action_set = set;
        p.meta = self.key.meta;
        let (table, reason) = (p.table, p.reason);
        let id = self.env.recirc.lock().pause_id(p);
        self.commit();
        self.odp.push(OdpAction::Userspace(UserspaceAction {
            pid: 0,
            userdata: Some(pause_userdata(table, reason, id)),
            actions: false,
            tunnel_out_port: None,
        }));
        self.note(format!("    continuation 0x{id:x}"));
    }

    fn note(&mut self, s: String) {
        if self.env.trace {
            let pad = "    ".repeat(self.depth as usize);
            self.trace.push(format!("{pad}{s}"));
        }
    }

    fn in_port(&self) -> u32 {
        self.key.flow.get(f::IN_PORT) as u32
    }

    /// [`Ctx::xlate_table`] for a lookup whose miss may go to the
    /// controller: the first table, `goto_table`, `output:TABLE` (OVS
    /// `may_packet_in`), not `resubmit`.
    fn xlate_table_pin(&mut self, table: u8) {
        self.pin_on_miss = true;
        self.xlate_table(table);
    }

    fn xlate_table(&mut self, table: u8) {
        let pin_on_miss = std::mem::take(&mut self.pin_on_miss);
        if self.depth >= MAX_DEPTH {
            self.note("over max translation depth: drop".into());
            self.exit = true;
            return;
        }
        let env = self.env;
        let Some(t) = env.tables.table(table) else {
            return;
        };
        let saved_table = self.table;
        let saved_cookie = self.cookie;
        self.table = table;
        let Some(rule) = t.lookup(&self.key, &mut self.wc) else {
            self.note(format!("{table}. No match."));
            let in_cfg = env.ports.config(self.in_port());
            if pin_on_miss && env.miss_packet_in && in_cfg & ofppc::NO_PACKET_IN != 0 {
                self.note("    OFPPC_NO_PACKET_IN set on the input port: drop".into());
            } else if pin_on_miss && env.miss_packet_in {
                // OVS's internal miss rule: controller(reason=no_match),
                // the connection's miss_send_len bytes.
                self.note("    controller(reason=no_match)".into());
                let saved_rule = self.rule.take();
                self.controller(REASON_IMPLICIT_MISS, u16::MAX);
                self.rule = saved_rule;
            } else {
                self.note("    drop".into());
            }
            self.table = saved_table;
            return;
        };
        self.cookie = rule.cookie;
        self.rules.push((table, rule.id));
        let saved_rule = self.rule.replace((table, rule.id, rule.cookie));
        if env.trace {
            let m = format::format_match(&rule.value, &rule.mask);
            let m = if m.is_empty() {
                String::new()
            } else {
                format!("{m}, ")
            };
            let cookie = if rule.cookie != 0 {
                format!(", cookie {:#x}", rule.cookie)
            } else {
                String::new()
            };
            self.note(format!("{table}. {m}priority {}{cookie}", rule.priority));
        }
        let mut ins: Vec<&Instruction> = rule.instructions.iter().collect();
        ins.sort_by_key(|i| match i {
            Instruction::Meter(_) => 0,
            Instruction::ApplyActions(_) => 1,
            Instruction::ClearActions => 2,
            Instruction::WriteActions(_) => 3,
            Instruction::WriteMetadata { .. } => 4,
            Instruction::GotoTable(_) => 5,
        });
        let goto_of_rule = ins.iter().find_map(|i| match i {
            Instruction::GotoTable(n) => Some(*n),
            _ => None,
        });
        let saved_goto = self.pending_goto.take();
        let saved_cpl = std::mem::replace(&mut self.cpl_done, false);
        let tail: Vec<Instruction> = ins
            .iter()
            .filter(|i| !matches!(i, Instruction::Meter(_) | Instruction::ApplyActions(_)))
            .map(|i| (*i).clone())
            .collect();
        let mut goto = None;
        for i in ins {
            if self.exit || self.cpl_done {
                break;
            }
            match i {
                Instruction::Meter(m) => self.meter(*m),
                Instruction::ApplyActions(_) if self.frozen.is_some() || self.paused.is_some() => {}
                Instruction::ApplyActions(a) => {
                    let a = a.clone();
                    self.depth += 1;
                    self.pending_goto = goto_of_rule;
                    self.tail = Some(tail.clone());
                    self.do_actions(&a);
                    self.tail = None;
                    self.pending_goto = None;
                    self.depth -= 1;
                }
                Instruction::ClearActions => self.action_set.clear(),
                Instruction::WriteActions(a) => self.action_set.extend(a.iter().cloned()),
                Instruction::WriteMetadata { metadata, mask } => {
                    self.key.meta[0] = (self.key.meta[0] & !mask) | (metadata & mask);
                }
                Instruction::GotoTable(n) => goto = Some(*n),
            }
        }
        self.pending_goto = saved_goto;
        if std::mem::replace(&mut self.cpl_done, saved_cpl) {
            // check_pkt_larger translated the rest of this rule twice.
            goto = None;
        }
        if let (Some(n), Some(p)) = (goto, self.paused.as_mut()) {
            if !self.exit {
                p.segments.push(Segment {
                    table_id: table,
                    cookie: rule.cookie,
                    actions: vec![Action::Resubmit {
                        in_port: 0xfff8,
                        table: n,
                        ct: false,
                        short: false,
                    }],
                });
            }
        } else if let Some(n) = goto {
            if !self.exit && self.frozen.is_none() {
                self.depth += 1;
                self.note(format!("goto_table:{n}"));
                self.xlate_table_pin(n);
                self.depth -= 1;
            }
        }
        self.rule = saved_rule;
        self.table = saved_table;
        self.cookie = saved_cookie;
    }

    fn do_actions(&mut self, acts: &[Action]) {
        // Only a rule's own apply-actions list sees the rule's remaining
        // instructions; nested lists (clone, buckets, resubmits) do not.
        let tail = self.tail.take();
        for (i, a) in acts.iter().enumerate() {
            if self.exit || self.frozen.is_some() || self.paused.is_some() {
                break;
            }
            if self.env.trace && !matches!(a, Action::Note(_)) {
                self.note(format::format_action(a));
            }
            if let Action::CheckPktLarger {
                pkt_len,
                offset,
                dst,
            } = a
            {
                let rest = &acts[i + 1..];
                let in_rule = tail.is_some();
                let tail = tail.as_deref().unwrap_or(&[]);
                // As the last action of the whole translation it cannot
                // matter (OVS skips it when `last`).
                let last = self.depth <= 1
                    && rest.is_empty()
                    && self.action_set.is_empty()
                    && !tail.iter().any(|t| {
                        matches!(t, Instruction::WriteActions(_) | Instruction::GotoTable(_))
                    });
                if !last {
                    self.check_pkt_larger(*pkt_len, *offset, dst, rest, tail);
                    // Actions after this one (and the rule's remaining
                    // instructions) were translated in both branches.
                    self.cpl_done = in_rule;
                    break;
                }
                continue;
            }
            match a {
                Action::Group(g) if self.needs_dp_hash(*g) => {
                    self.freeze_group(*g, &acts[i + 1..]);
                    break;
                }
                Action::Decap { .. } => {
                    self.decap_and_freeze(&acts[i + 1..]);
                    continue;
                }
                Action::DecNshTtl => {
                    if self.dec_nsh_ttl() {
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            self.do_action(a);
            if let Some(p) = self.paused.as_mut() {
                if i + 1 < acts.len() {
                    p.segments.push(Segment {
                        table_id: self.table,
                        cookie: self.cookie,
                        actions: acts[i + 1..].to_vec(),
                    });
                }
                break;
            }
        }
    }

    /// True if group `g` is a `select` group using `dp_hash` (translation
    /// recirculates to choose the bucket).
    fn needs_dp_hash(&self, g: u32) -> bool {
        self.env.groups.get(g).is_some_and(|gr| {
            gr.group_type == OFPGT_SELECT
                && gr.selection == SelectionMethod::DpHash
                && gr.buckets.len() > 1
        })
    }

    /// Emits `hash(l4(basis)),recirc(ID)` for `dp_hash` group `g`, freezing
    /// the rest of the translation (OVS `xlate_dp_hash_select_group()`).
    fn freeze_group(&mut self, g: u32, rest: &[Action]) {
        let basis = self.env.groups.get(g).map_or(0, |gr| gr.basis as u32);
        self.commit();
        let state = Frozen {
            table: self.table,
            meta: self.key.meta,
            in_port: self.in_port(),
            group: Some(g),
            rest: rest.to_vec(),
            goto: if self.depth == 1 {
                self.pending_goto
            } else {
                None
            },
            action_set: Vec::new(),
            resume_actions: false,
        };
        self.odp.push(OdpAction::Hash {
            alg: HashAlg::L4,
            basis,
        });
        self.note(format!("    hash(l4({basis})) for group {g}"));
        self.frozen = Some(state);
    }

    /// Executes group `g` (OpenFlow 1.3.5 section 5.6.1); `resumed`: the
    /// packet is back from the `dp_hash` recirculation.
    fn group(&mut self, g: u32, resumed: bool) {
        let env = self.env;
        let Some(gr) = env.groups.get(g) else {
            self.note(format!("    no such group {g}: drop"));
            return;
        };
        if self.depth >= MAX_DEPTH {
            self.note("over max translation depth: drop".into());
            self.exit = true;
            return;
        }
        match gr.group_type {
            OFPGT_ALL => {
                self.groups.push((g, None));
                for i in 0..gr.buckets.len() {
                    self.bucket(gr, i);
                }
            }
            OFPGT_INDIRECT => {
                self.groups.push((g, Some(0)));
                if !gr.buckets.is_empty() {
                    self.bucket(gr, 0);
                }
            }
            OFPGT_FF => {
                let live = gr.buckets.iter().position(|b| self.bucket_live(b, 0));
                self.groups.push((g, live));
                match live {
                    Some(i) => self.bucket(gr, i),
                    None => self.note("    no live bucket: drop".into()),
                }
            }
            _ => {
                let pick = match &gr.selection {
                    _ if gr.buckets.len() == 1 => Some(0),
                    SelectionMethod::DpHash if resumed => {
                        let slots = gr.dp_hash_slots();
                        if slots.is_empty() {
                            None
                        } else {
                            let m = (slots.len() - 1) as u64;
                            let h = self.key.flow.get(f::DP_HASH);
                            let wm = self.wc.flow.get(f::DP_HASH) | m;
                            self.wc.flow.set(f::DP_HASH, wm);
                            Some(slots[(h & m) as usize])
                        }
                    }
                    SelectionMethod::DpHash => None,
                    SelectionMethod::Hash(fields) => {
                        let mut h = gr.basis as u32;
                        for fl in fields.clone() {
                            let v = self.read_field(fl);
                            for k in 0..4 {
                                h = crate::group::hash_u32(h ^ (v >> (32 * k)) as u32);
                            }
                        }
                        gr.hash_pick(h)
                    }
                };
                self.groups.push((g, pick));
                match pick {
                    Some(i) => self.bucket(gr, i),
                    None => self.note("    no bucket: drop".into()),
                }
            }
        }
    }

    /// True if a fast-failover bucket is live: its watch port is up or its
    /// watch group has a live bucket (OpenFlow 1.3.5 section 6.5).
    fn bucket_live(&self, b: &crate::ofp::switch::Bucket, depth: u32) -> bool {
        let port_ok = b.watch_port == OFPP_ANY || self.env.ports.is_live(b.watch_port);
        let group_ok =
            b.watch_group == crate::group::OFPG_ANY
                || (depth < 8
                    && self.env.groups.get(b.watch_group).is_some_and(|wg| {
                        wg.buckets.iter().any(|wb| self.bucket_live(wb, depth + 1))
                    }));
        port_ok && group_ok
    }

    /// Runs bucket `i` of `gr`: its actions as an action set on a copy of
    /// the flow; header changes do not outlive the bucket (OVS
    /// `xlate_group_bucket()`).
    fn bucket(&mut self, gr: &crate::group::Group, i: usize) {
        let acts = gr.buckets[i].actions.clone();
        self.note(format!("    bucket {i}"));
        let saved_key = self.key.clone();
        let saved_set = std::mem::take(&mut self.action_set);
        self.depth += 1;
        self.do_actions(&acts);
        self.depth -= 1;
        if self.paused.is_some() {
            self.finish_pause(Vec::new());
        }
        self.key = saved_key;
        self.action_set = saved_set;
        self.exit = false;
    }

    /// Meter `m` (instruction or OpenFlow 1.5 action): emits the datapath
    /// `meter(ID)` of a configured meter (OVS `xlate_meter_action()`).
    fn meter(&mut self, m: u32) {
        match self.env.meters.dp_id(m) {
            Some(id) => self.odp.push(OdpAction::Meter(id)),
            None => self.note(format!("    no such meter {m}")),
        }
    }

    /// Un-wildcards and sets a datapath or metadata field location.
    fn write_loc(&mut self, loc: Loc, v: u64, m: u64) {
        self.key.set_masked(loc, v, m);
        if let Loc::Dp(..) = loc {
            self.wc.set_masked(loc, u64::MAX, m);
        }
    }

    fn read_loc(&mut self, loc: Loc) -> u64 {
        if let Loc::Dp(..) = loc {
            self.wc.set_masked(loc, u64::MAX, u64::MAX);
        }
        self.key.get(loc)
    }

    /// Writes `value` under `mask` (bytes, right-aligned to the mapped
    /// length) to `tun_metadata<n>`, which becomes present (OVS
    /// `tun_metadata_write()`); an unmapped `n` is ignored (flow_mod
    /// refuses it).
    fn write_tun_md(&mut self, n: u8, value: &[u8], mask: &[u8]) {
        let Some(e) = self.env.tlv.get(n) else {
            return;
        };
        self.key.set_tun_md(&e, value, mask);
        self.key.meta[TUN_MD_PRESENT_WORD] |= 1 << n;
        self.wc.set_tun_md(&e, mask, mask);
        self.wc.meta[TUN_MD_PRESENT_WORD] |= 1 << n;
    }

    /// Writes `value` under `mask` (right-aligned, field width) to `field`.
    fn write_field(&mut self, field: Field, value: u128, mask: u128) {
        match field {
            Field::TunMetadata(n) => {
                let len = self.env.tlv.get(n).map_or(0, |e| e.len as usize).min(16);
                let (v, m) = (value.to_be_bytes(), mask.to_be_bytes());
                self.write_tun_md(n, &v[16 - len..], &m[16 - len..]);
                return;
            }
            Field::VlanVid | Field::VlanPcp => {
                // set_field on the VLAN header modifies an existing tag only.
                let tci = self.read_loc(Loc::Dp(f::VLAN0_TCI, 0, 16));
                if tci & VLAN_CFI as u64 == 0 {
                    return;
                }
                if field == Field::VlanVid {
                    let m = (mask as u64) & 0xfff;
                    self.write_loc(Loc::Dp(f::VLAN0_TCI, 0, 12), value as u64, m);
                } else {
                    self.write_loc(Loc::Dp(f::VLAN0_TCI, 13, 3), value as u64, mask as u64);
                }
                return;
            }
            _ => {}
        }
        let Some((hi, lo)) = field_locs(field) else {
            return;
        };
        match lo {
            None => self.write_loc(hi, value as u64, mask as u64),
            Some(lo) => {
                self.write_loc(hi, (value >> 64) as u64, (mask >> 64) as u64);
                self.write_loc(lo, value as u64, mask as u64);
            }
        }
    }

    fn read_field(&mut self, field: Field) -> u128 {
        if let Field::TunMetadata(n) = field {
            let Some(e) = self.env.tlv.get(n) else {
                return 0;
            };
            self.wc.set_tun_md(&e, &[0xff; 128], &[0xff; 128]);
            self.wc.meta[TUN_MD_PRESENT_WORD] |= 1 << n;
            return self
                .key
                .tun_md(&e)
                .iter()
                .fold(0u128, |a, &b| a << 8 | b as u128);
        }
        let Some((hi, lo)) = field_locs(field) else {
            return 0;
        };
        match lo {
            None => self.read_loc(hi) as u128,
            Some(lo) => (self.read_loc(hi) as u128) << 64 | self.read_loc(lo) as u128,
        }
    }

    fn set_field(&mut self, mf: &MatchField) {
        if let Field::TunMetadata(n) = mf.field {
            let full = vec![0xff; mf.value.len()];
            self.write_tun_md(n, &mf.value, mf.mask.as_deref().unwrap_or(&full));
            return;
        }
        let w = (mf.value.len() * 8) as u32;
        let mut v = be(&mf.value);
        let mut m = mf.mask.as_deref().map_or(ones128(w), be);
        if mf.field == Field::InPort && mf.value.len() == 2 {
            v = port_from_of10(v as u16) as u128;
            m = u32::MAX as u128;
        }
        self.write_field(mf.field, v & m, m);
    }

    fn header_field(h: &OxmHeader) -> Field {
        h.id.field().0
    }

    fn do_action(&mut self, a: &Action) {
        match a {
            Action::Output { port, max_len } => self.output(*port, *max_len),
            Action::Enqueue { port, queue_id } => self.enqueue(port_from_of10(*port), *queue_id),
            Action::SetQueue(q) => {
                // dpif-netdev maps queue N to skb_priority N
                // (`dpif_netdev_queue_to_priority()`).
                self.wc.flow.set_exact(f::SKB_PRIORITY);
                self.key.flow.set(f::SKB_PRIORITY, *q as u64);
            }
            Action::PopQueue => {
                self.wc.flow.set_exact(f::SKB_PRIORITY);
                self.key.flow.set(f::SKB_PRIORITY, self.orig_prio);
            }
            Action::FinTimeout { idle, hard } => {
                // OVS un-wildcards nw_proto (`OFPACT_FIN_TIMEOUT`).
                self.wc.flow.set_exact(f::NW_PROTO);
                if let Some((t, id, _)) = self.rule {
                    self.fin_timeouts.push((t, id, *idle, *hard));
                }
            }
            Action::OutputTrunc { port, max_len } => {
                self.commit();
                self.odp.push(OdpAction::Trunc(*max_len));
                self.output(port_from_of10(*port), 0);
            }
            Action::SetVlanVid(vid) => {
                let tci = self.read_loc(Loc::Dp(f::VLAN0_TCI, 0, 16)) as u16;
                if tci & VLAN_CFI == 0 {
                    self.write_loc(Loc::Dp(f::VLAN0_TPID, 0, 16), 0x8100, u64::MAX);
                    self.write_loc(
                        Loc::Dp(f::VLAN0_TCI, 0, 16),
                        (VLAN_CFI | vid) as u64,
                        0xffff,
                    );
                } else {
                    self.write_loc(Loc::Dp(f::VLAN0_TCI, 0, 12), *vid as u64, 0xfff);
                }
            }
            Action::SetVlanPcp(p) => {
                let tci = self.read_loc(Loc::Dp(f::VLAN0_TCI, 0, 16)) as u16;
                if tci & VLAN_CFI == 0 {
                    self.write_loc(Loc::Dp(f::VLAN0_TPID, 0, 16), 0x8100, u64::MAX);
                    let t = VLAN_CFI | (*p as u16 & 7) << 13;
                    self.write_loc(Loc::Dp(f::VLAN0_TCI, 0, 16), t as u64, 0xffff);
                } else {
                    self.write_loc(Loc::Dp(f::VLAN0_TCI, 13, 3), *p as u64, 7);
                }
            }
            Action::StripVlan | Action::PopVlan => {
                let tci = self.read_loc(Loc::Dp(f::VLAN0_TCI, 0, 16));
                if tci & VLAN_CFI as u64 != 0 {
                    let t1 = self.key.flow.get(f::VLAN1_TCI);
                    let p1 = self.key.flow.get(f::VLAN1_TPID);
                    self.write_loc(Loc::Dp(f::VLAN0_TCI, 0, 16), t1, u64::MAX);
                    self.write_loc(Loc::Dp(f::VLAN0_TPID, 0, 16), p1, u64::MAX);
                    self.key.flow.set(f::VLAN1_TCI, 0);
                    self.key.flow.set(f::VLAN1_TPID, 0);
                }
            }
            Action::PushVlan(tpid) => {
                let tci = self.read_loc(Loc::Dp(f::VLAN0_TCI, 0, 16));
                let tp = self.key.flow.get(f::VLAN0_TPID);
                if tci & VLAN_CFI as u64 != 0 {
                    self.key.flow.set(f::VLAN1_TCI, tci);
                    self.key.flow.set(f::VLAN1_TPID, tp);
                }
                let keep = tci & !(VLAN_CFI as u64);
                self.write_loc(Loc::Dp(f::VLAN0_TPID, 0, 16), *tpid as u64, u64::MAX);
                self.write_loc(
                    Loc::Dp(f::VLAN0_TCI, 0, 16),
                    keep | VLAN_CFI as u64,
                    u64::MAX,
                );
            }
            Action::SetDlSrc(m) => self.write_field(Field::EthSrc, mac(m), ones128(48)),
            Action::SetDlDst(m) => self.write_field(Field::EthDst, mac(m), ones128(48)),
            Action::SetNwSrc(a) => self.write_field(Field::Ipv4Src, *a as u128, ones128(32)),
            Action::SetNwDst(a) => self.write_field(Field::Ipv4Dst, *a as u128, ones128(32)),
            Action::SetNwTos(t) => self.write_loc(Loc::Dp(f::NW_TOS, 0, 8), *t as u64, 0xfc),
            Action::SetNwEcn(e) => self.write_loc(Loc::Dp(f::NW_TOS, 0, 8), *e as u64, 3),
            Action::SetTpSrc(p) => self.write_loc(Loc::Dp(f::TP_SRC, 0, 16), *p as u64, 0xffff),
            Action::SetTpDst(p) => self.write_loc(Loc::Dp(f::TP_DST, 0, 16), *p as u64, 0xffff),
            Action::SetNwTtl(t) => self.write_loc(Loc::Dp(f::NW_TTL, 0, 8), *t as u64, 0xff),
            Action::DecNwTtl | Action::DecTtlCntIds(_) => {
                let et = self.key.flow.get(f::ETH_TYPE);
                if et != 0x0800 && et != 0x86dd {
                    return;
                }
                let ttl = self.read_loc(Loc::Dp(f::NW_TTL, 0, 8));
                if ttl <= 1 {
                    self.note("    TTL exceeded: drop".into());
                    self.exit = true;
                } else {
                    self.write_loc(Loc::Dp(f::NW_TTL, 0, 8), ttl - 1, 0xff);
                }
            }
            Action::SetField(mf) | Action::RegLoad2(mf) => self.set_field(mf),
            Action::RegLoad {
                ofs_nbits,
                dst,
                value,
            } => {
                let ofs = (ofs_nbits >> 6) as u32;
                let n = (ofs_nbits & 63) as u32 + 1;
                let field = Self::header_field(dst);
                let m = ones128(n) << ofs;
                self.write_field(field, (*value as u128) << ofs & m, m);
            }
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            } => {
                let sf = Self::header_field(src);
                let df = Self::header_field(dst);
                let v = (self.read_field(sf) >> src_ofs) & ones128(*n_bits as u32);
                let m = ones128(*n_bits as u32) << dst_ofs;
                self.write_field(df, (v << dst_ofs) & m, m);
            }
            Action::WriteMetadata { metadata, mask } => {
                self.key.meta[0] = (self.key.meta[0] & !mask) | (metadata & mask);
            }
            Action::Resubmit { in_port, table, .. } => {
                let saved = self.in_port();
                if *in_port != 0xfff8 {
                    self.key
                        .flow
                        .set(f::IN_PORT, port_from_of10(*in_port) as u64);
                }
                let t = if *table == 255 { self.table } else { *table };
                self.depth += 1;
                self.xlate_table(t);
                self.depth -= 1;
                self.key.flow.set(f::IN_PORT, saved as u64);
            }
            Action::Ct(ct) => self.ct(ct),
            Action::CtClear => {
                self.odp.push(OdpAction::CtClear);
                for fd in [
                    f::CT_STATE,
                    f::CT_ZONE,
                    f::CT_MARK,
                    f::CT_LABEL_HI,
                    f::CT_LABEL_LO,
                    f::CT_NW_PROTO,
                    f::CT_NW_SRC,
                    f::CT_NW_DST,
                    f::CT_TP_SRC,
                    f::CT_TP_DST,
                ] {
                    self.key.flow.set(fd, 0);
                    self.base.set(fd, 0);
                }
            }
            Action::Controller {
                reason, max_len, ..
            } => self.controller(*reason, *max_len),
            Action::Controller2(c) if c.pause => self.pause(c),
            Action::Controller2(c) => {
                self.controller(c.reason.unwrap_or(1), c.max_len.unwrap_or(u16::MAX))
            }
            Action::Exit => self.exit = true,
            Action::Clone(acts) => {
                self.commit();
                let saved_key = self.key.clone();
                let saved_base = self.base.clone();
                let saved_odp = std::mem::take(&mut self.odp);
                self.depth += 1;
                self.do_actions(acts);
                if self.paused.is_some() {
                    self.finish_pause(Vec::new());
                }
                self.commit();
                self.depth -= 1;
                let sub = std::mem::replace(&mut self.odp, saved_odp);
                self.key = saved_key;
                self.base = saved_base;
                self.exit = false;
                if !sub.is_empty() {
                    self.odp.push(OdpAction::Clone(sub));
                }
            }
            Action::Group(g) => self.group(*g, false),
            Action::Encap {
                new_pkt_type,
                props,
                ..
            } => self.encap(*new_pkt_type, props),
            // Decap and DecNshTtl need the rest of the list: see do_actions.
            Action::Decap { .. } => {
                self.decap();
            }
            Action::DecNshTtl => {
                self.dec_nsh_ttl();
            }
            Action::Meter(m) => self.meter(*m),
            Action::Multipath(m) => self.multipath(m),
            Action::Bundle(b) => self.bundle(b),
            Action::Learn(l) => {
                match crate::table::learn::learn_flow_mod(l, &self.key, &mut self.wc) {
                    Some(fm) => {
                        let ok = l.limit == 0 || self.learn_fits(&fm, l.limit);
                        if ok {
                            self.note(format!("    learned into table {}", fm.table_id));
                            self.learned.push(Learned { fm, limit: l.limit });
                        } else {
                            self.note(format!("    learn limit {} reached", l.limit));
                        }
                        if let Some((h, ofs)) = &l.result_dst {
                            let m = 1u128 << ofs;
                            self.write_field(Self::header_field(h), if ok { m } else { 0 }, m);
                        }
                    }
                    None => self.note("    learn: bad table or field".into()),
                }
            }
            // OVS `xlate_sample_action()` emits nothing without an IPFIX
            // exporter on the bridge (`ctx->xbridge->ipfix`, configured by
            // Flow_Sample_Collector_Set rows); rvs has none, so `sample` is
            // accepted and produces no datapath action.
            Action::Sample(_) => {}
            // Notes, queues and the rest do not change the
            // datapath actions here.
            _ => {}
        }
    }

    /// Sends the packet to the controllers: a `userspace` action whose
    /// userdata is [`controller_userdata`] (table, reason, `max_len`, and the
    /// cookie of the rule being translated, `u64::MAX` without one, as OVS
    /// `xlate_controller_action()` records in its user_action_cookie).
    fn controller(&mut self, reason: u8, max_len: u16) {
        self.commit();
        let cookie = self.rule.map_or(u64::MAX, |r| r.2);
        self.odp.push(OdpAction::Userspace(UserspaceAction {
            pid: 0,
            userdata: Some(controller_userdata(self.table, reason, max_len, cookie)),
            actions: false,
            tunnel_out_port: None,
        }));
    }

    /// True if a flow learned with `limit` may be added: it already exists
    /// (it is only refreshed), or fewer than `limit` flows with its table
    /// and cookie exist, counting those learned earlier in this
    /// translation (OVS `ofproto_flow_mod_learn()`).
    fn learn_fits(&self, fm: &FlowModSpec, limit: u32) -> bool {
        let same = |r_prio: u16, v: &XKey, m: &XKey| {
            r_prio == fm.priority && *v == fm.value && *m == fm.mask
        };
        let Some(t) = self.env.tables.table(fm.table_id) else {
            return false;
        };
        if t.rules
            .values()
            .any(|r| same(r.priority, &r.value, &r.mask))
            || self.learned.iter().any(|l| {
                l.fm.table_id == fm.table_id && same(l.fm.priority, &l.fm.value, &l.fm.mask)
            })
        {
            return true;
        }
        let present = t.rules.values().filter(|r| r.cookie == fm.cookie).count();
        let pending = self
            .learned
            .iter()
            .filter(|l| l.fm.table_id == fm.table_id && l.fm.cookie == fm.cookie)
            .count();
        ((present + pending) as u64) < limit as u64
    }

    /// `enqueue:PORT:Q` (OVS `xlate_enqueue_action()`): output to PORT with
    /// skb_priority Q for that output only; to the input port only if PORT
    /// is IN_PORT.
    fn enqueue(&mut self, port: u32, queue: u32) {
        self.wc.flow.set_exact(f::SKB_PRIORITY);
        let in_port = self.in_port();
        let of = if port == OFPP_IN_PORT {
            in_port
        } else if port == in_port {
            self.note("    skipping output to input port".into());
            return;
        } else {
            port
        };
        let saved = self.key.flow.get(f::SKB_PRIORITY);
        self.key.flow.set(f::SKB_PRIORITY, queue as u64);
        self.out_of(of);
        self.key.flow.set(f::SKB_PRIORITY, saved);
    }

    /// Sets bits `mask` of `field` to `value` in the translation's flow
    /// only, without un-wildcarding (OVS `mf_write_subfield_flow()`).
    fn set_key_bits(&mut self, field: Field, value: u128, mask: u128) {
        let Some((hi, lo)) = field_locs(field) else {
            return;
        };
        match lo {
            None => self.key.set_masked(hi, value as u64, mask as u64),
            Some(lo) => {
                self.key
                    .set_masked(hi, (value >> 64) as u64, (mask >> 64) as u64);
                self.key.set_masked(lo, value as u64, mask as u64);
            }
        }
    }

    /// `check_pkt_larger(pkt_len)->dst` (OVS `xlate_check_pkt_larger()`):
    /// emits `check_pkt_len(size=pkt_len,gt(...),le(...))`, translating
    /// `rest` (the actions after it) and `tail` (the rule's remaining
    /// instructions: action set writes, metadata, goto) twice, with the
    /// `dst` bit 1 (`gt`) and 0 (`le`). Each branch ends its pipeline on its
    /// own (action set, or a recirculation if it froze); the flow, action
    /// set and committed headers are restored afterwards.
    fn check_pkt_larger(
        &mut self,
        pkt_len: u16,
        ofs: u16,
        dst: &OxmHeader,
        rest: &[Action],
        tail: &[Instruction],
    ) {
        self.commit();
        let field = Self::header_field(dst);
        let saved_key = self.key.clone();
        let saved_base = self.base.clone();
        let saved_set = self.action_set.clone();
        let saved_odp = std::mem::take(&mut self.odp);
        let old_exit = self.exit;
        let mut branches = Vec::with_capacity(2);
        for bit in [1u128, 0] {
            self.exit = false;
            self.note(format!(
                "    check_pkt_larger branch {}",
                if bit == 1 { "gt" } else { "le" }
            ));
            self.set_key_bits(field, bit << ofs, 1u128 << ofs);
            self.do_actions(rest);
            self.run_tail(tail);
            self.finish_pipeline();
            let mut b = std::mem::take(&mut self.odp);
            trim_trailing_sets(&mut b);
            branches.push(b);
            self.key = saved_key.clone();
            self.base = saved_base.clone();
            self.action_set = saved_set.clone();
        }
        self.odp = saved_odp;
        self.exit = old_exit;
        let le = branches.pop().unwrap_or_default();
        let gt = branches.pop().unwrap_or_default();
        self.odp.push(OdpAction::CheckPktLen { pkt_len, gt, le });
    }

    /// Runs a rule's instructions after its apply-actions (clear-actions,
    /// write-actions, write-metadata, goto-table) as [`Ctx::xlate_table`]
    /// does.
    fn run_tail(&mut self, tail: &[Instruction]) {
        for i in tail {
            match i {
                Instruction::ClearActions => self.action_set.clear(),
                Instruction::WriteActions(a) => self.action_set.extend(a.iter().cloned()),
                Instruction::WriteMetadata { metadata, mask } => {
                    self.key.meta[0] = (self.key.meta[0] & !mask) | (metadata & mask);
                }
                Instruction::GotoTable(n) => {
                    if !self.exit && self.frozen.is_none() {
                        self.depth += 1;
                        self.note(format!("goto_table:{n}"));
                        self.xlate_table_pin(*n);
                        self.depth -= 1;
                    }
                }
                Instruction::Meter(_) | Instruction::ApplyActions(_) => {}
            }
        }
    }

    fn ct(&mut self, ct: &Ct) {
        self.commit();
        let zone = if ct.zone_src == 0 {
            ct.zone
        } else {
            let h = OxmHeader {
                id: crate::ofp::oxm::OxmId {
                    class: (ct.zone_src >> 16) as u16,
                    code: ((ct.zone_src >> 9) & 0x7f) as u8,
                    experimenter: None,
                },
                hasmask: false,
                length: ct.zone_src as u8,
            };
            let ofs = (ct.zone >> 6) as u32;
            let n = (ct.zone & 63) as u32 + 1;
            let v = self.read_field(Self::header_field(&h));
            ((v >> ofs) & ones128(n)) as u16
        };
        let mut a = CtAction {
            commit: ct.flags & 1 != 0,
            force: ct.flags & 2 != 0,
            zone,
            helper: match ct.alg {
                21 => Some("ftp".into()),
                69 => Some("tftp".into()),
                _ => None,
            },
            ..Default::default()
        };
        for n in &ct.actions {
            match n {
                Action::SetField(mf) | Action::RegLoad2(mf) => {
                    let w = (mf.value.len() * 8) as u32;
                    let v = be(&mf.value);
                    let m = mf.mask.as_deref().map_or(ones128(w), be);
                    match mf.field {
                        Field::CtMark => merge_mark(&mut a.mark, v as u32, m as u32),
                        Field::CtLabel => merge_label(&mut a.label, v, m),
                        _ => {}
                    }
                }
                Action::RegLoad {
                    ofs_nbits,
                    dst,
                    value,
                } => {
                    let ofs = (ofs_nbits >> 6) as u32;
                    let nb = (ofs_nbits & 63) as u32 + 1;
                    let m = ones128(nb) << ofs;
                    let v = ((*value as u128) << ofs) & m;
                    match Self::header_field(dst) {
                        Field::CtMark => merge_mark(&mut a.mark, v as u32, m as u32),
                        Field::CtLabel => merge_label(&mut a.label, v, m),
                        _ => {}
                    }
                }
                Action::Nat(nat) => a.nat = Some(nat_action(nat)),
                _ => {}
            }
        }
        self.odp.push(OdpAction::Ct(a));
        if ct.recirc_table != 255 {
            let state = Frozen {
                table: ct.recirc_table,
                meta: self.key.meta,
                in_port: self.in_port(),
                ..Default::default()
            };
            let id = self.env.recirc.lock().id_for(state);
            self.odp.push(OdpAction::Recirc(id));
            self.note(format!("    recirc(0x{id:x}) -> table {}", ct.recirc_table));
        }
    }

    fn output(&mut self, port: u32, max_len: u16) {
        let in_port = self.in_port();
        match port {
            OFPP_IN_PORT => self.out_of(in_port),
            OFPP_TABLE => {
                self.depth += 1;
                self.xlate_table_pin(0);
                self.depth -= 1;
            }
            OFPP_NORMAL => self.normal(),
            OFPP_FLOOD | OFPP_ALL => {
                // OVS flood_packets(): FLOOD skips OFPPC_NO_FLOOD ports,
                // ALL does not.
                let all = port == OFPP_ALL;
                let pm = self.env.ports;
                let ports: Vec<u32> = pm
                    .iter()
                    .map(|p| p.0)
                    .filter(|&p| p != in_port && (all || pm.config(p) & ofppc::NO_FLOOD == 0))
                    .collect();
                for p in ports {
                    self.out_of(p);
                }
            }
            OFPP_CONTROLLER => self.controller(1, max_len),
            OFPP_ANY => {}
            p if p == in_port => self.note("    skipping output to input port".into()),
            p => self.out_of(p),
        }
    }

    fn out_of(&mut self, of: u32) {
        let cfg = self.env.ports.config(of);
        if cfg & ofppc::NO_FWD != 0 {
            self.note("    OFPPC_NO_FWD set, skipping output".into());
            return;
        }
        if cfg & ofppc::PORT_DOWN != 0 {
            self.note(format!("    port {of} is down, skipping output"));
            return;
        }
        if self.env.ports.is_patch(of) {
            self.commit();
            let mut key = self.key.flow.clone();
            key.set_tun_opts(&self.base.tun_opts());
            let pkt = self.base.clone();
            self.patch_output(of, &key, &pkt);
            return;
        }
        match self.env.ports.odp(of) {
            Some(_) if self.key.flow.get(f::PACKET_TYPE) != 0 => {
                // OVS: "Trying to send non-Ethernet packet through legacy
                // L2 port" (every rvs port is an L2 port).
                self.wc.flow.set_exact(f::PACKET_TYPE);
                self.note(format!("    port {of} takes only Ethernet: not sent"));
            }
            Some(odp) => {
                self.commit();
                self.odp.push(OdpAction::Output(odp));
            }
            None => self.note(format!("    no such port {of}")),
        }
    }

    fn normal(&mut self) {
        self.commit();
        let mut nf = self.base.clone();
        let Some(odp_in) = self.env.ports.odp(self.in_port()) else {
            return;
        };
        nf.set(f::IN_PORT, odp_in as u64);
        match self.env.normal.xlate(&nf, self.env.now_ns, self.env.learn) {
            Ok(mut x) => {
                // OVS compose_output_action__(): no output to a port with
                // OFPPC_NO_FWD (or administratively down).
                let pm = self.env.ports;
                x.actions.retain(|a| match a {
                    OdpAction::Output(o) => pm.ofport(*o).map_or(true, |of| {
                        pm.config(of) & (ofppc::NO_FWD | ofppc::PORT_DOWN) == 0
                    }),
                    _ => true,
                });
                for i in 0..dp_core::flow::FLOW_WORDS {
                    self.wc.flow.w[i] |= x.mask.w[i];
                }
                if self.env.trace {
                    self.note(format!(
                        "    NORMAL -> {}",
                        format::format_odp_actions(&x.actions)
                    ));
                }
                let vlan_changed = x
                    .actions
                    .iter()
                    .any(|a| matches!(a, OdpAction::PushVlan { .. } | OdpAction::PopVlan));
                if self.env.ports.patches().next().is_some() {
                    let start = self.base.clone();
                    self.patch_normal_outputs(x.actions, &start);
                } else {
                    self.odp.extend(x.actions);
                }
                if vlan_changed {
                    // The packet's VLAN after NORMAL is what its last output
                    // needed; restore the flow's view so later outputs get
                    // the header xlate expects.
                    let tci = self.base.get(f::VLAN0_TCI) as u16;
                    self.odp.push(OdpAction::PopVlan);
                    if tci & VLAN_CFI != 0 {
                        self.odp.push(OdpAction::PushVlan {
                            tpid: self.base.get(f::VLAN0_TPID) as u16,
                            tci: tci & !VLAN_CFI,
                        });
                    }
                    // Trailing fix-ups with no output after them are
                    // trimmed at the end of the translation.
                }
            }
            Err(e) => self.note(format!("    NORMAL failed: {e}")),
        }
    }

    /// Emits datapath actions that bring the packet from `base` to `key`
    /// (OVS `commit_odp_actions()`).
    fn commit(&mut self) {
        let mut out = self.commit_encap_decap();
        self.commit_nsh(&mut out);
        let k = &self.key.flow;
        let b = &self.base;
        let diff = |fd: DpField| k.get(fd) != b.get(fd);
        let full = |fd: DpField, on: bool| if on { fd.max() } else { 0 };
        let eth = k.get(f::PACKET_TYPE) == 0;
        // Tunnel metadata (only ever set whole, as OVS
        // `commit_odp_tunnel_action()`).
        let md = md_words(&self.key);
        let tun_changed = md != self.md_base
            || (11..=17).any(|w| k.w[w] != b.w[w])
            || diff(f::TUN_GBP_ID)
            || diff(f::TUN_GBP_FLAGS);
        let mut opts = self.base.tun_opts();
        if tun_changed {
            if md != self.md_base {
                opts = self.env.tlv.md_to_geneve(&self.key);
            }
            let mut t = dp_core::packet::TunnelMetadata {
                tun_id: k.get(f::TUN_ID),
                ipv4_src: k.get(f::TUN_SRC) as u32,
                ipv4_dst: k.get(f::TUN_DST) as u32,
                ipv6_src: k.get128(f::TUN_IPV6_SRC_HI, f::TUN_IPV6_SRC_LO),
                ipv6_dst: k.get128(f::TUN_IPV6_DST_HI, f::TUN_IPV6_DST_LO),
                tos: k.get(f::TUN_TOS) as u8,
                ttl: k.get(f::TUN_TTL) as u8,
                tp_src: k.get(f::TUN_TP_SRC) as u16,
                tp_dst: k.get(f::TUN_TP_DST) as u16,
                flags: k.get(f::TUN_FLAGS) as u16,
                gbp_id: k.get(f::TUN_GBP_ID) as u16,
                gbp_flags: k.get(f::TUN_GBP_FLAGS) as u8,
                ..Default::default()
            };
            let n = opts.len().min(t.opts.len());
            t.opts[..n].copy_from_slice(&opts[..n]);
            t.opts_len = n as u8;
            out.push(OdpAction::Set(SetAttr::Tunnel(Box::new(t))));
        }
        // Ethernet addresses.
        if eth && (diff(f::ETH_SRC) || diff(f::ETH_DST)) {
            out.push(OdpAction::SetMasked {
                value: SetAttr::Eth {
                    src: u64_to_mac(k.get(f::ETH_SRC)),
                    dst: u64_to_mac(k.get(f::ETH_DST)),
                },
                mask: SetAttr::Eth {
                    src: u64_to_mac(full(f::ETH_SRC, diff(f::ETH_SRC))),
                    dst: u64_to_mac(full(f::ETH_DST, diff(f::ETH_DST))),
                },
            });
        }
        // VLAN.
        if eth && (diff(f::VLAN0_TCI) || diff(f::VLAN0_TPID)) {
            let bt = b.get(f::VLAN0_TCI) as u16;
            let kt = k.get(f::VLAN0_TCI) as u16;
            if bt & VLAN_CFI != 0 {
                out.push(OdpAction::PopVlan);
            }
            if kt & VLAN_CFI != 0 {
                let tpid = match k.get(f::VLAN0_TPID) as u16 {
                    0 => 0x8100,
                    t => t,
                };
                out.push(OdpAction::PushVlan {
                    tpid,
                    tci: kt & !VLAN_CFI,
                });
            }
        }
        let et = k.get(f::ETH_TYPE);
        if et == 0x0800
            && (diff(f::NW_SRC) || diff(f::NW_DST) || diff(f::NW_TOS) || diff(f::NW_TTL))
        {
            out.push(OdpAction::SetMasked {
                value: SetAttr::Ipv4 {
                    src: k.get(f::NW_SRC) as u32,
                    dst: k.get(f::NW_DST) as u32,
                    tos: k.get(f::NW_TOS) as u8,
                    ttl: k.get(f::NW_TTL) as u8,
                },
                mask: SetAttr::Ipv4 {
                    src: full(f::NW_SRC, diff(f::NW_SRC)) as u32,
                    dst: full(f::NW_DST, diff(f::NW_DST)) as u32,
                    tos: (k.get(f::NW_TOS) ^ b.get(f::NW_TOS)) as u8,
                    ttl: full(f::NW_TTL, diff(f::NW_TTL)) as u8,
                },
            });
        }
        if et == 0x86dd {
            let d128 = |hi, lo| k.get128(hi, lo) != b.get128(hi, lo);
            let (ds, dd) = (
                d128(f::IPV6_SRC_HI, f::IPV6_SRC_LO),
                d128(f::IPV6_DST_HI, f::IPV6_DST_LO),
            );
            if ds || dd || diff(f::IPV6_LABEL) || diff(f::NW_TOS) || diff(f::NW_TTL) {
                out.push(OdpAction::SetMasked {
                    value: SetAttr::Ipv6 {
                        src: k.get128(f::IPV6_SRC_HI, f::IPV6_SRC_LO),
                        dst: k.get128(f::IPV6_DST_HI, f::IPV6_DST_LO),
                        label: k.get(f::IPV6_LABEL) as u32,
                        tclass: k.get(f::NW_TOS) as u8,
                        hlimit: k.get(f::NW_TTL) as u8,
                    },
                    mask: SetAttr::Ipv6 {
                        src: if ds { u128::MAX } else { 0 },
                        dst: if dd { u128::MAX } else { 0 },
                        label: full(f::IPV6_LABEL, diff(f::IPV6_LABEL)) as u32 & 0xfffff,
                        tclass: (k.get(f::NW_TOS) ^ b.get(f::NW_TOS)) as u8,
                        hlimit: full(f::NW_TTL, diff(f::NW_TTL)) as u8,
                    },
                });
            }
        }
        if (et == 0x0800 || et == 0x86dd) && (diff(f::TP_SRC) || diff(f::TP_DST)) {
            let (s, d) = (k.get(f::TP_SRC) as u16, k.get(f::TP_DST) as u16);
            let (ms, md) = (
                full(f::TP_SRC, diff(f::TP_SRC)) as u16,
                full(f::TP_DST, diff(f::TP_DST)) as u16,
            );
            let pair = match k.get(f::NW_PROTO) {
                6 => Some((
                    SetAttr::Tcp { src: s, dst: d },
                    SetAttr::Tcp { src: ms, dst: md },
                )),
                17 => Some((
                    SetAttr::Udp { src: s, dst: d },
                    SetAttr::Udp { src: ms, dst: md },
                )),
                132 => Some((
                    SetAttr::Sctp { src: s, dst: d },
                    SetAttr::Sctp { src: ms, dst: md },
                )),
                _ => None,
            };
            if let Some((value, mask)) = pair {
                out.push(OdpAction::SetMasked { value, mask });
            }
        }
        if et == 0x0806
            && (diff(f::NW_SRC)
                || diff(f::NW_DST)
                || diff(f::NW_PROTO)
                || diff(f::ARP_SHA)
                || diff(f::ARP_THA))
        {
            out.push(OdpAction::SetMasked {
                value: SetAttr::Arp {
                    sip: k.get(f::NW_SRC) as u32,
                    tip: k.get(f::NW_DST) as u32,
                    op: k.get(f::NW_PROTO) as u16,
                    sha: u64_to_mac(k.get(f::ARP_SHA)),
                    tha: u64_to_mac(k.get(f::ARP_THA)),
                },
                mask: SetAttr::Arp {
                    sip: full(f::NW_SRC, diff(f::NW_SRC)) as u32,
                    tip: full(f::NW_DST, diff(f::NW_DST)) as u32,
                    op: full(f::NW_PROTO, diff(f::NW_PROTO)) as u16,
                    sha: u64_to_mac(full(f::ARP_SHA, diff(f::ARP_SHA))),
                    tha: u64_to_mac(full(f::ARP_THA, diff(f::ARP_THA))),
                },
            });
        }
        if diff(f::PKT_MARK) {
            out.push(OdpAction::SetMasked {
                value: SetAttr::SkbMark(k.get(f::PKT_MARK) as u32),
                mask: SetAttr::SkbMark(u32::MAX),
            });
        }
        if diff(f::SKB_PRIORITY) {
            out.push(OdpAction::Set(SetAttr::Priority(
                k.get(f::SKB_PRIORITY) as u32
            )));
        }
        if !out.is_empty() {
            let in_port = self.base.get(f::IN_PORT);
            let ct: Vec<u64> = (2..=10).map(|w| self.base.w[w]).collect();
            self.base = self.key.flow.clone();
            // `base` keeps the datapath in_port and conntrack state.
            self.base.set(f::IN_PORT, in_port);
            for (i, w) in (2..=10).enumerate() {
                self.base.w[w] = ct[i];
            }
            // `base` keeps the options in wire form.
            self.base.set_tun_opts(&opts);
            self.md_base = md;
            self.odp.extend(out);
        }
    }
}

/// Userdata of the `userspace` action xlate emits for the controller
/// (16 bytes): `[1, table, reason, 0, max_len (2, big-endian), 0, 0,
/// cookie (8, big-endian)]`. [`parse_controller_userdata`] reads it back.
pub fn controller_userdata(table: u8, reason: u8, max_len: u16, cookie: u64) -> Vec<u8> {
    let mut v = vec![1, table, reason, 0];
    v.extend_from_slice(&max_len.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&cookie.to_be_bytes());
    v
}

/// What a controller `userspace` action's userdata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerCookie {
    /// Table of the rule that sent the packet.
    pub table: u8,
    /// OFPR_* reason.
    pub reason: u8,
    /// Bytes of the packet to send (`max_len`; 65535: all).
    pub max_len: u16,
    /// Cookie of the rule (`u64::MAX`: none, e.g. a packet-out).
    pub cookie: u64,
}

/// Parses [`controller_userdata`]; the older 4-byte form gives
/// `max_len` 65535 and no cookie. `None` if it is not controller userdata.
pub fn parse_controller_userdata(u: &[u8]) -> Option<ControllerCookie> {
    if u.len() < 3 || u[0] != 1 {
        return None;
    }
    let (max_len, cookie) = if u.len() >= 16 {
        (
            u16::from_be_bytes([u[4], u[5]]),
            u64::from_be_bytes(u[8..16].try_into().ok()?),
        )
    } else {
        (u16::MAX, u64::MAX)
    };
    Some(ControllerCookie {
        table: u[1],
        reason: u[2],
        max_len,
        cookie,
    })
}

fn mac(m: &[u8; 6]) -> u128 {
    dp_core::flow::mac_to_u64(*m) as u128
}

/// Adds one `exec()` write of `ct_mark` to the ones before it: `ovs-ofctl`
/// encodes a 128-bit `set_field:V->ct_label` as two 64-bit loads (OVS
/// `ofpact_put_set_field` / `nx_put_reg_load`), so each write only replaces
/// the bits of its own mask (OVS accumulates them in the `ct_mark`/`ct_label`
/// attributes of `compose_conntrack_action` the same way).
fn merge_mark(acc: &mut Option<(u32, u32)>, v: u32, m: u32) {
    let (ov, om) = acc.unwrap_or((0, 0));
    *acc = Some(((ov & !m) | (v & m), om | m));
}

/// [`merge_mark`] for `ct_label`.
fn merge_label(acc: &mut Option<(u128, u128)>, v: u128, m: u128) {
    let (ov, om) = acc.unwrap_or((0, 0));
    *acc = Some(((ov & !m) | (v & m), om | m));
}

fn nat_action(n: &Nat) -> NatAction {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let kind = if n.flags & 1 != 0 {
        Some(NatKind::Src)
    } else if n.flags & 2 != 0 {
        Some(NatKind::Dst)
    } else {
        None
    };
    let rp = n.range_present;
    let addr = if rp & 1 != 0 {
        let min = IpAddr::V4(Ipv4Addr::from(n.ipv4_min));
        let max = if rp & 2 != 0 {
            IpAddr::V4(Ipv4Addr::from(n.ipv4_max))
        } else {
            min
        };
        Some((min, max))
    } else if rp & 4 != 0 {
        let min = IpAddr::V6(Ipv6Addr::from(n.ipv6_min));
        let max = if rp & 8 != 0 {
            IpAddr::V6(Ipv6Addr::from(n.ipv6_max))
        } else {
            min
        };
        Some((min, max))
    } else {
        None
    };
    let max_port = if rp & 32 != 0 {
        n.proto_max
    } else {
        n.proto_min
    };
    let ports = (rp & 16 != 0).then_some((n.proto_min, max_port));
    NatAction {
        kind,
        addr,
        ports,
        persistent: n.flags & 4 != 0,
        hash: n.flags & 8 != 0,
        random: n.flags & 16 != 0,
    }
}

/// A bridge's OpenFlow pipeline state, shareable across threads: tables,
/// ports, NORMAL, recirculation ids, groups and meters. Locks: tables,
/// ports, groups, meters in that order; none is held while calling out.
pub struct Pipeline {
    /// The tables.
    pub tables: parking_lot::RwLock<Tables>,
    /// The ports.
    pub ports: parking_lot::RwLock<PortMap>,
    /// NORMAL.
    pub normal: NormalBridge,
    /// Recirculation ids.
    pub recirc: Mutex<RecircTable>,
    /// Groups.
    pub groups: parking_lot::RwLock<GroupTable>,
    /// Meters.
    pub meters: parking_lot::RwLock<MeterTable>,
    /// Geneve option to `tun_metadataN` mappings.
    pub tlv: parking_lot::RwLock<crate::tlv::TlvTable>,
    /// [`XlateEnv::miss_packet_in`]; whoever changes it must also bump
    /// the tables' version so that megaflows are revalidated.
    pub miss_packet_in: std::sync::atomic::AtomicBool,
}

impl Pipeline {
    /// A pipeline for bridge `name` with empty tables.
    pub fn new(name: &str) -> Pipeline {
        Pipeline {
            tables: parking_lot::RwLock::new(Tables::new()),
            ports: parking_lot::RwLock::new(PortMap::new()),
            normal: NormalBridge::new(name),
            recirc: Mutex::new(RecircTable::default()),
            groups: parking_lot::RwLock::new(GroupTable::new()),
            meters: parking_lot::RwLock::new(MeterTable::new()),
            tlv: parking_lot::RwLock::new(crate::tlv::TlvTable::new()),
            miss_packet_in: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Translates `flow` (see [`xlate`]).
    pub fn xlate(&self, flow: &Flow, now_ns: u64, learn: bool, trace: bool) -> XlateOut {
        let tlv = self.tlv.read();
        let tables = self.tables.read();
        let ports = self.ports.read();
        let groups = self.groups.read();
        let meters = self.meters.read();
        let env = XlateEnv {
            tables: &tables,
            ports: &ports,
            normal: &self.normal,
            recirc: &self.recirc,
            groups: &groups,
            meters: &meters,
            tlv: &tlv,
            miss_packet_in: self
                .miss_packet_in
                .load(std::sync::atomic::Ordering::Relaxed),
            now_ns,
            learn,
            trace,
        };
        let x = xlate(&env, flow);
        drop((tables, ports, groups, meters, tlv));
        if learn {
            self.apply_learned(&x.learned, now_ns);
        }
        x
    }

    /// Applies flows learned by a translation ([`XlateOut::learned`]);
    /// true if the tables changed.
    pub fn apply_learned(&self, learned: &[Learned], now_ns: u64) -> bool {
        if learned.is_empty() {
            return false;
        }
        let mut t = self.tables.write();
        let mut changed = false;
        for l in learned {
            changed |= t.learn_limited(&l.fm, l.limit, now_ns);
        }
        changed
    }

    /// Reduces the timeouts of the rules whose `fin_timeout` actions a
    /// translation met ([`XlateOut::fin_timeouts`]) if `tcp_flags` (the
    /// packet's, or a megaflow's accumulated flags) has FIN or RST (OVS
    /// `xlate_fin_timeout__()`, `ofproto_rule_reduce_timeouts()`: a timeout
    /// becomes the `fin_timeout` one if that is nonzero and the current one
    /// is 0 or larger). True if a timeout changed.
    pub fn apply_fin_timeouts(&self, fins: &[(u8, u64, u16, u16)], tcp_flags: u16) -> bool {
        use dp_core::flow::tcp_flags::{FIN, RST};
        if fins.is_empty() || tcp_flags & (FIN | RST) == 0 {
            return false;
        }
        let mut t = self.tables.write();
        let mut changed = false;
        for &(table, id, idle, hard) in fins {
            changed |= t.reduce_timeouts(table, id, idle, hard);
        }
        changed
    }

    /// Translates a PACKET_OUT (see [`xlate_packet_out`]); NORMAL learns.
    pub fn xlate_actions(
        &self,
        flow: &Flow,
        in_port: u32,
        actions: &[Action],
        now_ns: u64,
    ) -> XlateOut {
        self.xlate_from(now_ns, |env| xlate_packet_out(env, flow, in_port, actions))
    }

    /// Resumes a paused translation (see [`xlate_resume`]); NORMAL learns.
    pub fn xlate_resume(&self, flow: &Flow, in_port: u32, r: Resume<'_>, now_ns: u64) -> XlateOut {
        self.xlate_from(now_ns, |env| xlate_resume(env, flow, in_port, r))
    }

    /// Runs `f` with a learning environment, then applies what it learned.
    fn xlate_from(&self, now_ns: u64, f: impl FnOnce(&XlateEnv<'_>) -> XlateOut) -> XlateOut {
        let tlv = self.tlv.read();
        let tables = self.tables.read();
        let ports = self.ports.read();
        let groups = self.groups.read();
        let meters = self.meters.read();
        let env = XlateEnv {
            tables: &tables,
            ports: &ports,
            normal: &self.normal,
            recirc: &self.recirc,
            groups: &groups,
            meters: &meters,
            tlv: &tlv,
            miss_packet_in: self
                .miss_packet_in
                .load(std::sync::atomic::Ordering::Relaxed),
            now_ns,
            learn: true,
            trace: false,
        };
        let x = f(&env);
        drop((tables, ports, groups, meters, tlv));
        self.apply_learned(&x.learned, now_ns);
        x
    }
}
