//! Patch ports (OVS `ofproto/ofproto-dpif-xlate.c` `patch_port_output()`).
//!
//! A patch port has an OpenFlow port number in its bridge but no datapath
//! port. Output to it continues the translation in the bridge of its peer
//! patch port, as if the packet had been received there: OpenFlow in_port
//! is the peer port, metadata and registers start at zero, the action set
//! is empty and conntrack state reads as untracked, but the packet headers
//! are the ones modified so far; table 0 is looked up and the peer's action
//! set runs at the end. The peer bridge's datapath actions are appended to
//! the caller's; when they modify the packet they are wrapped in a datapath
//! `clone()`, so the calling bridge's later actions still see the packet as
//! it was before the patch port. The megaflow mask accumulates whatever
//! both bridges consulted. Loops are cut at [`super::MAX_DEPTH`].
//!
//! Rules and groups hit in the peer bridge are returned in
//! [`super::XlateOut::patched`] for that bridge's statistics. A peer
//! bridge's `ct(table=N)` or `dp_hash` group recirculates with an id from
//! its own table (ids are unique across bridges); the recirculated miss
//! arrives at the bridge owning the datapath in_port, which hands it to the
//! bridge behind its patch ports that owns the id ([`xlate_foreign_recirc`]).
//!
//! The bridge owning a port map knows its patch ports' peers through
//! [`PatchPeer`] (a weak reference to the peer bridge's [`PatchTarget`]),
//! set with [`PortMap::set_patch`].

use super::{Ctx, PortMap, XlateEnv, MAX_DEPTH};
use crate::table::key::{XKey, META_WORDS};
use dp_core::actions::OdpAction;
use dp_core::flow::{fields as f, Flow};
use std::sync::Weak;

/// A bridge that translation can cross into through a patch port.
pub trait PatchTarget: Send + Sync {
    /// The bridge name (for traces).
    fn bridge_name(&self) -> &str;

    /// Calls `f` with the bridge's translation environment (its tables,
    /// ports, NORMAL, recirculation ids, groups, meters and clock), `learn`
    /// and `trace` as given. Locks must be taken so that a thread already
    /// holding read locks of this or another bridge cannot deadlock (see
    /// [`super::Pipeline::with_env_recursive`]).
    fn with_env(&self, learn: bool, trace: bool, f: &mut dyn FnMut(&XlateEnv<'_>));

    /// Credits `packets` and `bytes` to the bridge's rules and group
    /// buckets in `r` (hit by a translation that crossed into the bridge).
    fn credit(&self, r: &PatchRules, packets: u64, bytes: u64) {
        let _ = (r, packets, bytes);
    }
}

/// The rules and group buckets one translation hit in another bridge,
/// reached through a patch port (for that bridge's statistics).
#[derive(Clone)]
pub struct PatchRules {
    /// The bridge.
    pub bridge: Weak<dyn PatchTarget>,
    /// Its rules, as `(table, rule id)`.
    pub rules: Vec<(u8, u64)>,
    /// Its groups, as `(group id, bucket index)`.
    pub groups: Vec<(u32, Option<usize>)>,
}

impl std::fmt::Debug for PatchRules {
    fn fmt(&self, fm: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fm.debug_struct("PatchRules")
            .field("rules", &self.rules)
            .field("groups", &self.groups)
            .finish()
    }
}

/// Where a patch port leads: the peer bridge and the peer port's OpenFlow
/// number there.
#[derive(Clone)]
pub struct PatchPeer {
    /// The peer bridge.
    pub bridge: Weak<dyn PatchTarget>,
    /// The peer patch port's OpenFlow number in that bridge.
    pub ofport: u32,
}

impl std::fmt::Debug for PatchPeer {
    fn fmt(&self, fm: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self
            .bridge
            .upgrade()
            .map(|b| b.bridge_name().to_string())
            .unwrap_or_default();
        write!(fm, "PatchPeer({name}:{})", self.ofport)
    }
}

impl PortMap {
    /// Makes OpenFlow port `of` (already inserted with a datapath number
    /// that no datapath port uses) a patch port leading to `peer`; `None`:
    /// a patch port without a (valid) peer, which drops what is output to
    /// it.
    pub fn set_patch(&mut self, of: u32, peer: Option<PatchPeer>) {
        self.patches.insert(of, peer);
    }

    /// True if OpenFlow port `of` is a patch port.
    pub fn is_patch(&self, of: u32) -> bool {
        self.patches.contains_key(&of)
    }

    /// The peer of patch port `of` (`Some(None)`: a patch port without
    /// peer; `None`: not a patch port).
    pub fn patch(&self, of: u32) -> Option<Option<&PatchPeer>> {
        self.patches.get(&of).map(Option::as_ref)
    }

    /// The patch ports and their peers, by OpenFlow number.
    pub fn patches(&self) -> impl Iterator<Item = (u32, Option<&PatchPeer>)> {
        self.patches.iter().map(|(&o, p)| (o, p.as_ref()))
    }
}

/// Most patch port crossings in one translation (OVS bounds all resubmits
/// of a translation at `MAX_RESUBMITS`, `MAX_DEPTH * MAX_DEPTH`): loops of
/// patch ports where floods branch would otherwise grow exponentially
/// before the depth limit cuts them.
pub const MAX_PATCH_CROSSINGS: u32 = MAX_DEPTH * MAX_DEPTH;

thread_local! {
    /// (nesting of patch crossings now, crossings since the outermost one
    /// began) of the translation running on this thread.
    static CROSSINGS: std::cell::Cell<(u32, u32)> = const { std::cell::Cell::new((0, 0)) };
}

/// One patch port crossing in progress (counted while it lives).
struct Crossing;

impl Crossing {
    fn enter() -> Option<Crossing> {
        CROSSINGS.with(|c| {
            let (nest, total) = c.get();
            let total = if nest == 0 { 0 } else { total };
            if total >= MAX_PATCH_CROSSINGS {
                return None;
            }
            c.set((nest + 1, total + 1));
            Some(Crossing)
        })
    }
}

impl Drop for Crossing {
    fn drop(&mut self) {
        CROSSINGS.with(|c| {
            let (nest, total) = c.get();
            c.set((nest.saturating_sub(1), total));
        });
    }
}

/// True if datapath actions change the packet (headers, VLANs, conntrack
/// state, recirculation), i.e. later actions would see another packet.
fn modifies_packet(acts: &[OdpAction]) -> bool {
    acts.iter().any(|a| {
        !matches!(
            a,
            OdpAction::Output(_)
                | OdpAction::Userspace(_)
                | OdpAction::Meter(_)
                | OdpAction::Clone(_)
        )
    })
}

impl Ctx<'_, '_> {
    /// Output to patch port `of`: translation continues in the peer bridge
    /// with the packet as it is now (`packet`: the datapath's view of the
    /// packet at this point, datapath in_port included; `key`: the flow as
    /// the OpenFlow tables see it). Returns true if `of` is a patch port
    /// (whether or not anything was output).
    pub(super) fn patch_output(&mut self, of: u32, key: &Flow, packet: &Flow) -> bool {
        let Some(peer) = self.env.ports.patch(of) else {
            return false;
        };
        let Some(peer) = peer.cloned() else {
            self.note(format!("    patch port {of} has no peer: drop"));
            return true;
        };
        let Some(target) = peer.bridge.upgrade() else {
            self.note(format!("    patch port {of}: peer bridge is gone: drop"));
            return true;
        };
        if self.depth >= MAX_DEPTH {
            self.note("    over max translation depth: drop".into());
            return true;
        }
        let Some(_crossing) = Crossing::enter() else {
            self.note("    too many patch port crossings: drop".into());
            return true;
        };
        let (learn, trace) = (self.env.learn, self.env.trace);
        let depth = self.depth + 1;
        let mut wc = std::mem::take(&mut self.wc);
        let mut sub_out: Vec<OdpAction> = Vec::new();
        let mut sub_trace: Vec<String> = Vec::new();
        let mut sub_patched: Vec<PatchRules> = Vec::new();
        if trace {
            let pad = "    ".repeat(depth as usize);
            let name = target.bridge_name();
            sub_trace.push(format!("{pad}bridge(\"{name}\")"));
            sub_trace.push(format!("{pad}{}", "-".repeat(name.len() + 10)));
        }
        target.with_env(learn, trace, &mut |env| {
            let mut k = XKey {
                flow: key.clone(),
                meta: [0; META_WORDS],
            };
            k.flow.set(f::IN_PORT, peer.ofport as u64);
            // The peer bridge sees the packet as untracked (OVS
            // `clear_conntrack()`).
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
                k.flow.set(fd, 0);
            }
            // Geneve options in the peer bridge's tun_metadata layout.
            env.tlv.geneve_to_md(&key.tun_opts(), &mut k);
            let mut sub = Ctx {
                env,
                md_base: super::md_words(&k),
                key: k,
                base: packet.clone(),
                wc: std::mem::take(&mut wc),
                odp: Vec::new(),
                rules: Vec::new(),
                groups: Vec::new(),
                trace: Vec::new(),
                depth,
                exit: false,
                table: 0,
                cookie: 0,
                action_set: Vec::new(),
                pending_goto: None,
                frozen: None,
                patched: Vec::new(),
                // `learn` in the peer bridge is not applied: the learned
                // flows would belong to the peer's tables, which this
                // translation only reads.
                learned: Vec::new(),
                paused: None,
                fin_timeouts: Vec::new(),
                rule: None,
                orig_prio: packet.get(f::SKB_PRIORITY),
                tail: None,
                cpl_done: false,
                pending_encap: None,
                pending_decap: false,
                error: false,
                pin_on_miss: false,
            };
            sub.xlate_table(0);
            sub.finish_pipeline();
            wc = std::mem::take(&mut sub.wc);
            sub_out = std::mem::take(&mut sub.odp);
            if sub.error {
                sub_out.clear();
            }
            sub_trace.append(&mut sub.trace);
            sub_patched.push(PatchRules {
                bridge: peer.bridge.clone(),
                rules: std::mem::take(&mut sub.rules),
                groups: std::mem::take(&mut sub.groups),
            });
            sub_patched.append(&mut sub.patched);
        });
        self.wc = wc;
        self.patched.append(&mut sub_patched);
        self.trace.append(&mut sub_trace);
        if modifies_packet(&sub_out) {
            self.odp.push(OdpAction::Clone(sub_out));
        } else {
            self.odp.extend(sub_out);
        }
        true
    }

    /// Splices the translation of NORMAL's outputs to patch ports into
    /// NORMAL's datapath actions: `acts` are NORMAL's actions for a packet
    /// that is `start` (datapath view) before them.
    pub(super) fn patch_normal_outputs(&mut self, acts: Vec<OdpAction>, start: &Flow) {
        let mut pkt = start.clone();
        for a in acts {
            match a {
                OdpAction::Output(odp) => {
                    if let Some(of) = self.env.ports.ofport(odp) {
                        if self.env.ports.is_patch(of) {
                            let mut key = self.key.flow.clone();
                            key.set_tun_opts(&self.base.tun_opts());
                            for fd in [f::VLAN0_TCI, f::VLAN0_TPID, f::VLAN1_TCI, f::VLAN1_TPID] {
                                key.set(fd, pkt.get(fd));
                            }
                            self.patch_output(of, &key, &pkt);
                            continue;
                        }
                    }
                    self.odp.push(a);
                }
                OdpAction::PopVlan => {
                    let (t1, p1) = (pkt.get(f::VLAN1_TCI), pkt.get(f::VLAN1_TPID));
                    pkt.set(f::VLAN0_TCI, t1);
                    pkt.set(f::VLAN0_TPID, p1);
                    pkt.set(f::VLAN1_TCI, 0);
                    pkt.set(f::VLAN1_TPID, 0);
                    self.odp.push(a);
                }
                OdpAction::PushVlan { tpid, tci } => {
                    let (t0, p0) = (pkt.get(f::VLAN0_TCI), pkt.get(f::VLAN0_TPID));
                    pkt.set(f::VLAN1_TCI, t0);
                    pkt.set(f::VLAN1_TPID, p0);
                    pkt.set(f::VLAN0_TCI, (tci | dp_core::flow::VLAN_CFI) as u64);
                    pkt.set(f::VLAN0_TPID, tpid as u64);
                    self.odp.push(a);
                }
                other => self.odp.push(other),
            }
        }
    }
}

thread_local! {
    /// Bridges searched by the [`xlate_foreign_recirc`] running on this
    /// thread.
    static SEARCHED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Translates a recirculated miss whose recirculation id is not the
/// bridge's (`env`) own but one of a bridge reached through its patch ports
/// (directly or further on): that bridge resumes it. Its rules and groups
/// are returned in [`super::XlateOut::patched`]. `None` if no such bridge
/// has the id.
pub(super) fn xlate_foreign_recirc(env: &XlateEnv<'_>, flow: &Flow) -> Option<super::XlateOut> {
    let rid = flow.get(f::RECIRC_ID) as u32;
    let top = SEARCHED.with(|s| {
        let mut s = s.borrow_mut();
        let top = s.is_empty();
        s.push(env.normal.name().to_string());
        top
    });
    let peers: Vec<PatchPeer> = env
        .ports
        .patches()
        .filter_map(|(_, p)| p.cloned())
        .collect();
    let mut res = None;
    for p in peers {
        let Some(t) = p.bridge.upgrade() else {
            continue;
        };
        let name = t.bridge_name().to_string();
        if SEARCHED.with(|s| s.borrow().contains(&name)) {
            continue;
        }
        t.with_env(env.learn, env.trace, &mut |penv| {
            let owned = penv.recirc.lock().get(rid).is_some();
            res = if owned {
                let mut x = super::xlate(penv, flow);
                let rules = PatchRules {
                    bridge: p.bridge.clone(),
                    rules: std::mem::take(&mut x.rules),
                    groups: std::mem::take(&mut x.groups),
                };
                x.patched.insert(0, rules);
                if env.trace {
                    x.trace.insert(0, format!("bridge(\"{name}\")"));
                }
                Some(x)
            } else {
                xlate_foreign_recirc(penv, flow)
            };
        });
        if res.is_some() {
            break;
        }
    }
    if top {
        SEARCHED.with(|s| s.borrow_mut().clear());
    }
    res
}

impl super::Pipeline {
    /// Calls `f` with this pipeline's translation environment, taking its
    /// locks with `read_recursive`: a translation that crosses patch ports
    /// holds the read locks of every bridge on its way, and a plain `read`
    /// would wait behind a writer queued on a lock that another thread,
    /// crossing the other way, holds for reading.
    pub fn with_env_recursive(
        &self,
        now_ns: u64,
        learn: bool,
        trace: bool,
        f: &mut dyn FnMut(&XlateEnv<'_>),
    ) {
        let tlv = self.tlv.read_recursive();
        let tables = self.tables.read_recursive();
        let ports = self.ports.read_recursive();
        let groups = self.groups.read_recursive();
        let meters = self.meters.read_recursive();
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
        f(&env)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pipeline;
    use super::*;
    use crate::ofp::actions::{Action, OFPP_IN_PORT, OFPP_NORMAL};
    use crate::ofp::flow::command;
    use crate::ofp::instructions::Instruction;
    use crate::ofp::oxm::{Field, MatchField, OxmMatch};
    use crate::table::key::match_from_oxm;
    use crate::table::FlowModSpec;
    use dp_core::actions::SetAttr;
    use std::sync::Arc;

    const PATCH: u32 = 0xc000_0000;

    struct Br {
        name: String,
        pipe: Pipeline,
    }

    impl PatchTarget for Br {
        fn bridge_name(&self) -> &str {
            &self.name
        }
        fn with_env(&self, learn: bool, trace: bool, f: &mut dyn FnMut(&XlateEnv<'_>)) {
            self.pipe.with_env_recursive(0, learn, trace, f)
        }
    }

    /// Bridge `name` with ports `(ofport, odp)`; odp >= PATCH: patch port.
    fn br(name: &str, ports: &[(u32, u32)]) -> Arc<Br> {
        let b = Br {
            name: name.into(),
            pipe: Pipeline::new(name),
        };
        {
            let mut pm = b.pipe.ports.write();
            for &(of, odp) in ports {
                pm.insert(of, odp, &format!("{name}-{of}"));
                if odp >= PATCH {
                    pm.set_patch(of, None);
                }
                b.pipe.normal.set_port(
                    of,
                    odp,
                    &format!("{name}-{of}"),
                    crate::normal::PortVlan::default(),
                );
            }
        }
        Arc::new(b)
    }

    fn link(a: &Arc<Br>, a_of: u32, b: &Arc<Br>, b_of: u32) {
        let (ta, tb): (Arc<dyn PatchTarget>, Arc<dyn PatchTarget>) = (a.clone(), b.clone());
        a.pipe.ports.write().set_patch(
            a_of,
            Some(PatchPeer {
                bridge: Arc::downgrade(&tb),
                ofport: b_of,
            }),
        );
        b.pipe.ports.write().set_patch(
            b_of,
            Some(PatchPeer {
                bridge: Arc::downgrade(&ta),
                ofport: a_of,
            }),
        );
    }

    type F<'a> = (Field, &'a [u8], Option<&'a [u8]>);

    fn add(p: &Pipeline, prio: u16, fields: &[F<'_>], acts: Vec<Action>) {
        add_t(p, 0, prio, fields, acts)
    }

    fn add_t(p: &Pipeline, table: u8, prio: u16, fields: &[F<'_>], acts: Vec<Action>) {
        let om = OxmMatch {
            fields: fields
                .iter()
                .map(|(fl, v, mk)| MatchField::new(*fl, v, *mk, false).unwrap())
                .collect(),
        };
        let (value, mask) = match_from_oxm(&om).unwrap();
        let spec = FlowModSpec {
            command: command::ADD,
            table_id: table,
            priority: prio,
            value,
            mask,
            cookie: 0,
            cookie_mask: 0,
            new_cookie: None,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            importance: 0,
            out_port: crate::ofp::actions::OFPP_ANY,
            instructions: vec![Instruction::ApplyActions(acts)],
            modify_may_add: false,
        };
        p.tables.write().apply(&spec, 0).unwrap();
    }

    fn out(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    fn pkt(odp_in: u32, src: u64, dst: u64) -> Flow {
        let mut fl = Flow::zero();
        fl.set(f::IN_PORT, odp_in as u64);
        fl.set(f::ETH_SRC, src);
        fl.set(f::ETH_DST, dst);
        fl.set(f::ETH_TYPE, 0x0800);
        fl.set(f::NW_SRC, 0x0a00_0001);
        fl.set(f::NW_DST, 0x0a00_0002);
        fl.set(f::NW_PROTO, 17);
        fl.set(f::NW_TTL, 64);
        fl
    }

    #[test]
    fn output_continues_in_peer_with_fresh_registers() {
        // a: 1 (odp 11), 2 patch; b: 1 patch, 2 (odp 22), 3 (odp 23).
        let a = br("a", &[(1, 11), (2, PATCH + 2)]);
        let b = br("b", &[(1, PATCH + 1), (2, 22), (3, 23)]);
        link(&a, 2, &b, 1);
        add(
            &a.pipe,
            1,
            &[],
            vec![
                Action::SetField(
                    MatchField::new(Field::Reg(0), &[0, 0, 0, 5], None, false).unwrap(),
                ),
                Action::SetDlDst([2, 0, 0, 0, 0, 9]),
                out(2),
            ],
        );
        // reg0 is fresh in b: the reg0=5 rule does not match.
        add(
            &b.pipe,
            9,
            &[(Field::Reg(0), &[0, 0, 0, 5], None)],
            vec![out(3)],
        );
        add(
            &b.pipe,
            5,
            &[
                (Field::InPort, &[0, 0, 0, 1], None),
                (Field::EthType, &[8, 0], None),
                (Field::Ipv4Dst, &[10, 0, 0, 2], None),
                (Field::EthDst, &[2, 0, 0, 0, 0, 9], None),
            ],
            vec![out(2)],
        );
        let x = a.pipe.xlate(&pkt(11, 1, 2), 0, true, true);
        assert_eq!(
            x.actions,
            vec![
                OdpAction::SetMasked {
                    value: SetAttr::Eth {
                        src: [0, 0, 0, 0, 0, 1],
                        dst: [2, 0, 0, 0, 0, 9],
                    },
                    mask: SetAttr::Eth {
                        src: [0; 6],
                        dst: [0xff; 6],
                    },
                },
                OdpAction::Output(22),
            ],
            "{:#?}",
            x.trace
        );
        // What b consulted is in the megaflow.
        assert_eq!(x.mask.get(f::NW_DST), 0xffff_ffff);
        assert!(x.trace.iter().any(|l| l.contains("bridge(\"b\")")));
        // b's rule counts go to b, not a.
        assert_eq!(x.rules.len(), 1);
        assert_eq!(x.patched.len(), 1);
        assert_eq!(x.patched[0].rules.len(), 1);
    }

    #[test]
    fn normal_floods_and_learns_across() {
        let a = br("a", &[(1, 11), (2, PATCH + 2), (3, 13)]);
        let b = br("b", &[(1, PATCH + 1), (2, 22)]);
        link(&a, 2, &b, 1);
        add(&a.pipe, 0, &[], vec![out(OFPP_NORMAL)]);
        add(&b.pipe, 0, &[], vec![out(OFPP_NORMAL)]);
        let x = a.pipe.xlate(&pkt(11, 1, 2), 0, true, false);
        assert_eq!(
            x.actions,
            vec![OdpAction::Output(22), OdpAction::Output(13)]
        );
        // b learned MAC 1 on its patch port 1; a reply from b's host goes
        // back through the patch to a's port 1 only.
        assert_eq!(b.pipe.normal.fdb_lookup([0, 0, 0, 0, 0, 1], 0), Some(1));
        let x = b.pipe.xlate(&pkt(22, 2, 1), 0, true, false);
        assert_eq!(x.actions, vec![OdpAction::Output(11)]);
        assert_eq!(a.pipe.normal.fdb_lookup([0, 0, 0, 0, 0, 2], 0), Some(2));
        // No virtual port ever reaches the datapath actions.
        let x = a.pipe.xlate(&pkt(11, 1, 0xffff_ffff_ffff), 0, false, false);
        assert!(x
            .actions
            .iter()
            .all(|a| !matches!(a, OdpAction::Output(o) if *o >= PATCH)));
    }

    #[test]
    fn modifications_in_peer_are_cloned_and_missing_peer_drops() {
        let a = br("a", &[(1, 11), (2, PATCH + 2), (3, 13), (4, PATCH + 4)]);
        let b = br("b", &[(1, PATCH + 1), (2, 22)]);
        link(&a, 2, &b, 1);
        add(&a.pipe, 0, &[], vec![out(2), out(4), out(3)]);
        add(&b.pipe, 0, &[], vec![Action::SetNwTtl(9), out(2)]);
        let x = a.pipe.xlate(&pkt(11, 1, 2), 0, false, false);
        assert_eq!(x.actions.len(), 2, "{:?}", x.actions);
        assert!(matches!(&x.actions[0], OdpAction::Clone(v) if v.len() == 2));
        assert_eq!(x.actions[1], OdpAction::Output(13));
    }

    #[test]
    fn recirculation_in_peer_resumes_there() {
        let a = br("a", &[(1, 11), (2, PATCH + 2)]);
        let b = br("b", &[(1, PATCH + 1), (2, 22)]);
        link(&a, 2, &b, 1);
        add(&a.pipe, 0, &[], vec![out(2)]);
        add(
            &b.pipe,
            0,
            &[],
            vec![Action::Ct(Box::new(crate::ofp::nx_actions::Ct {
                flags: 0,
                zone_src: 0,
                zone: 0,
                recirc_table: 1,
                alg: 0,
                actions: vec![],
            }))],
        );
        add_t(&b.pipe, 1, 0, &[], vec![out(2)]);
        let x = a.pipe.xlate(&pkt(11, 1, 2), 0, true, false);
        let Some(OdpAction::Clone(inner)) = x.actions.first() else {
            panic!("{:?}", x.actions)
        };
        let Some(OdpAction::Recirc(id)) = inner.last() else {
            panic!("{:?}", x.actions)
        };
        // The recirculated miss arrives on a's datapath port: b resumes.
        let mut again = pkt(11, 1, 2);
        again.set(f::RECIRC_ID, *id as u64);
        let x = a.pipe.xlate(&again, 0, true, false);
        assert_eq!(x.actions, vec![OdpAction::Output(22)]);
        assert_eq!(x.rules.len(), 0);
        assert_eq!(x.patched[0].rules, vec![(1, x.patched[0].rules[0].1)]);
    }

    #[test]
    fn patch_loops_terminate() {
        // Two pairs between a and b, and b bouncing everything back: the
        // depth limit ends it.
        let a = br("a", &[(1, 11), (2, PATCH + 2), (3, PATCH + 3)]);
        let b = br("b", &[(1, PATCH + 1), (2, PATCH + 2), (3, 23)]);
        link(&a, 2, &b, 1);
        link(&a, 3, &b, 2);
        add(&a.pipe, 0, &[], vec![out(OFPP_NORMAL)]);
        add(&b.pipe, 0, &[], vec![out(OFPP_NORMAL)]);
        let x = a.pipe.xlate(&pkt(11, 1, 0xffff_ffff_ffff), 0, true, false);
        assert!(x.actions.contains(&OdpAction::Output(23)));
        // Output to in_port across a single pair loops until the limit.
        let c = br("c", &[(1, 11), (2, PATCH + 2)]);
        let d = br("d", &[(1, PATCH + 1)]);
        link(&c, 2, &d, 1);
        add(&c.pipe, 0, &[], vec![out(2)]);
        add(&d.pipe, 0, &[], vec![out(OFPP_IN_PORT)]);
        let x = c.pipe.xlate(&pkt(11, 1, 2), 0, false, false);
        assert!(x.actions.is_empty(), "{:?}", x.actions);
    }
}
