//! A bridge as an OpenFlow switch: [`OpenFlowBridge`] runs the bridge's
//! OpenFlow tables ([`ofproto::xlate::Pipeline`]) for the datapath's misses
//! and revalidation, credits rule statistics from megaflow statistics, and
//! serves the `ovs-appctl` commands `ofproto/trace` and `bridge/dump-flows`
//! (OVS `ofproto/ofproto-dpif-trace.c`, `ofproto/ofproto.c`).
//!
//! A bridge without controllers in fail_mode standalone starts with OVS's
//! default flow `priority=0 actions=NORMAL` (added by [`crate::connmgr`]),
//! so it behaves as a MAC-learning switch until flows are changed with
//! `ovs-ofctl` (served by [`crate::ofconn`]). In fail-open mode
//! ([`OpenFlowBridge::set_fail_open`]) it forwards as OVS's hidden flow
//! `priority=15790320 actions=NORMAL` in table 0 would: every packet goes to
//! NORMAL, whatever the visible flows say.

use crate::ofproto::{BridgeNormal, BridgePort};
use dp_core::actions::OdpAction;
use dp_core::fastpath::Upcall;
use dp_core::flow::{fields, Flow};
use dp_core::matches::Ufid;
use dp_core::packet::DpPacket;
use netdev::Netdev;
use ofproto::meter::{Meter, MeterChange, OFPMBT_DROP, OFPMF_PKTPS};
use ofproto::normal::{PortVlan, VlanMode};
use ofproto::ofp::actions::{Action, OFPP_NORMAL};
use ofproto::ofp::continuation::Continuation;
use ofproto::ofp::flow::command;
use ofproto::ofp::instructions::Instruction;
use ofproto::ofp::nicira::{nxpint, NxMsg};
use ofproto::ofp::oxm::OxmMatch;
use ofproto::ofp::switch::{GroupMod, MeterMod};
use ofproto::ofp::{ErrorCode, OfpError};
use ofproto::table::key::XKey;
use ofproto::table::{FlowModError, FlowModOutcome, FlowModSpec, Rule};
use ofproto::xlate::{
    format, pause_id_of, PatchPeer, PatchTarget, Paused, Pipeline, PortMap, Resume, XlateEnv,
    XlateOut,
};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Executes datapath actions on a packet (PACKET_OUT): packet, OpenFlow
/// in_port's datapath port, actions.
pub type Executor = Arc<dyn Fn(DpPacket, u32, Vec<OdpAction>) -> Result<(), String> + Send + Sync>;

/// Why an NXT_RESUME was refused.
#[derive(Debug)]
pub enum ResumeError {
    /// NXR_STALE: no continuation, or one made by another bridge or an
    /// earlier process (OVS `xlate_resume()` compares the bridge UUID).
    Stale,
    /// A malformed message: the OFPT_ERROR it gets.
    Bad(OfpError),
    /// The datapath refused the resulting actions.
    Exec(String),
}

/// A port as the OpenFlow connection reports it.
#[derive(Clone)]
pub struct OfPort {
    /// OpenFlow port number (65534 = LOCAL).
    pub ofport: u32,
    /// Datapath port number.
    pub odp_port: u32,
    /// Interface name.
    pub name: String,
    /// The device (MAC, state, statistics).
    pub netdev: Arc<dyn Netdev>,
    /// OFPPC_* configuration bits set by OFPT_PORT_MOD (filled in by
    /// [`OpenFlowBridge::of_ports`]; callers of
    /// [`OpenFlowBridge::set_of_ports`] pass 0).
    pub config: u32,
}

/// Why an OFPT_PORT_MOD was refused (OFPET_PORT_MOD_FAILED, OpenFlow 1.5.1
/// section 7.5.4.7; OVS `port_mod_start()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortModError {
    /// OFPPMFC_BAD_PORT: no such port.
    BadPort,
    /// OFPPMFC_BAD_HW_ADDR: `hw_addr` is not the port's.
    BadHwAddr,
}

impl PortModError {
    /// `(type, code)` on the wire for OpenFlow `version`
    /// (OFPET_PORT_MOD_FAILED is 4 in OpenFlow 1.0, 7 later).
    pub fn to_wire(self, version: u8) -> (u16, u16) {
        let t = if version <= 1 { 4 } else { 7 };
        match self {
            PortModError::BadPort => (t, 0),
            PortModError::BadHwAddr => (t, 1),
        }
    }
}

/// An asynchronous message for controllers (OpenFlow 1.5.1 section 7.4),
/// version-independent; each connection encodes it in its own version and
/// format.
#[derive(Clone)]
pub enum AsyncEvent {
    /// OFPT_PACKET_IN / NXT_PACKET_IN2 (`controller` action).
    PacketIn {
        /// The frame, truncated to the controller action's `max_len`.
        data: Vec<u8>,
        /// Length of the whole frame, bytes (`total_len`).
        total_len: u32,
        /// OFPR_* reason.
        reason: u8,
        /// Table that sent it.
        table_id: u8,
        /// Cookie of the rule that sent it (`u64::MAX`: none, e.g. a
        /// packet-out).
        cookie: u64,
        /// OpenFlow ingress port.
        in_port: u32,
        /// For `controller(pause)`: the frozen translation and the bridge's
        /// instance UUID, sent as NXPINT_CONTINUATION (NXT_PACKET_IN2 only).
        paused: Option<(Arc<Paused>, [u8; 16])>,
    },
    /// OFPT_FLOW_REMOVED: the rule and OFPRR_* reason, duration in ns.
    FlowRemoved {
        /// The removed rule.
        rule: Arc<Rule>,
        /// OFPRR_IDLE_TIMEOUT 0, HARD_TIMEOUT 1, DELETE 2.
        reason: u8,
        /// Lifetime, ns.
        duration_ns: u64,
        /// The bridge's TLV table when it was removed (spells the
        /// rule's `tun_metadata` match).
        tlv: Arc<ofproto::tlv::TlvTable>,
    },
    /// OFPT_PORT_STATUS: OFPPR_ADD 0 / DELETE 1 / MODIFY 2.
    PortStatus {
        /// Reason.
        reason: u8,
        /// The port.
        port: OfPort,
    },
}

/// A receiver of asynchronous messages (an OpenFlow connection); returns
/// false once it is gone.
pub trait AsyncSink: Send + Sync {
    /// Delivers `ev` if the connection asked for it.
    fn deliver(&self, ev: &AsyncEvent) -> bool;
}

/// One bridge's OpenFlow switch; see the module documentation.
pub struct OpenFlowBridge {
    name: String,
    /// Tables, ports, NORMAL and recirculation ids.
    pub pipe: Pipeline,
    start: Instant,
    port_seq: AtomicU64,
    /// Per megaflow: (packets, bytes) already credited to rules.
    credited: Mutex<HashMap<Ufid, (u64, u64)>>,
    ports: RwLock<Vec<OfPort>>,
    /// `Bridge.datapath_id` as a number.
    pub datapath_id: AtomicU64,
    executor: RwLock<Option<Executor>>,
    meters: RwLock<Option<Arc<pmd::meter::Meters>>>,
    /// The datapath's connection tracker (NXT_CT_FLUSH_ZONE, NXT_CT_FLUSH).
    conntrack: RwLock<Option<Arc<conntrack::Conntrack>>>,
    sinks: Mutex<Vec<std::sync::Weak<dyn AsyncSink>>>,
    /// Peers of the bridge's patch ports, by OpenFlow port.
    patch_peers: Mutex<HashMap<u32, Option<PatchPeer>>>,
    /// Since when the bridge is in fail-open mode (bridge ns), if it is.
    fail_open: Mutex<Option<u64>>,
    /// Random instance UUID (OVS `ofproto->uuid`), stamped on
    /// continuations (NXCPT_BRIDGE) so that stale ones are refused.
    uuid: [u8; 16],
}

/// 16 random bytes in the layout of a version 4 UUID (RFC 4122 section
/// 4.4), from the standard library's randomly keyed hasher.
fn random_uuid(name: &str) -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(name.as_bytes());
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    out[6] = (out[6] & 0x0f) | 0x40;
    out[8] = (out[8] & 0x3f) | 0x80;
    out
}

/// OpenFlow port number in the 32-bit space (the 16-bit LOCAL 0xfffe as
/// OFPP_LOCAL).
fn of_number(ofport: u32) -> u32 {
    if ofport == 0xfffe {
        ofproto::ofp::actions::OFPP_LOCAL
    } else {
        ofport
    }
}

/// Priority of OVS's hidden fail-open flow (`ofproto/fail-open.c`
/// `FAIL_OPEN_PRIORITY`), above every OpenFlow-visible priority.
pub const FAIL_OPEN_PRIORITY: u32 = 0xf0f0f0;

/// The datapath configuration of OpenFlow meter `m`.
pub fn dp_meter_config(m: &Meter) -> pmd::meter::MeterConfig {
    pmd::meter::MeterConfig {
        pktps: m.flags & OFPMF_PKTPS != 0,
        bands: m
            .bands
            .iter()
            .map(|b| pmd::meter::BandConfig {
                kind: if b.band_type == OFPMBT_DROP {
                    pmd::meter::BandKind::Drop
                } else {
                    pmd::meter::BandKind::DscpRemark
                },
                rate: b.rate,
                burst: m.burst(b),
            })
            .collect(),
    }
}

/// `Port.vlan_mode` text to NORMAL's mode.
fn vlan_mode(s: Option<&str>) -> Option<VlanMode> {
    match s? {
        "trunk" => Some(VlanMode::Trunk),
        "access" => Some(VlanMode::Access),
        "native-tagged" => Some(VlanMode::NativeTagged),
        "native-untagged" => Some(VlanMode::NativeUntagged),
        _ => None,
    }
}

/// The default flow of a bridge without controller: `priority=0
/// actions=NORMAL` in table 0.
pub fn default_flow() -> FlowModSpec {
    FlowModSpec {
        command: command::ADD,
        table_id: 0,
        priority: 0,
        value: XKey::default(),
        mask: XKey::default(),
        cookie: 0,
        cookie_mask: 0,
        new_cookie: None,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        importance: 0,
        out_port: ofproto::ofp::actions::OFPP_ANY,
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: OFPP_NORMAL,
            max_len: 0,
        }])],
        modify_may_add: false,
    }
}

impl OpenFlowBridge {
    /// Bridge `name` with the default NORMAL flow.
    pub fn new(name: &str) -> OpenFlowBridge {
        let b = OpenFlowBridge::empty(name);
        let _ = b.pipe.tables.write().apply(&default_flow(), 0);
        b
    }

    /// Bridge `name` with empty flow tables.
    pub fn empty(name: &str) -> OpenFlowBridge {
        OpenFlowBridge {
            name: name.to_string(),
            pipe: Pipeline::new(name),
            start: Instant::now(),
            port_seq: AtomicU64::new(0),
            credited: Mutex::new(HashMap::new()),
            ports: RwLock::new(Vec::new()),
            datapath_id: AtomicU64::new(0),
            executor: RwLock::new(None),
            meters: RwLock::new(None),
            conntrack: RwLock::new(None),
            sinks: Mutex::new(Vec::new()),
            patch_peers: Mutex::new(HashMap::new()),
            fail_open: Mutex::new(None),
            uuid: random_uuid(name),
        }
    }

    /// Deletes every flow of every table (OVS `ofproto_flush_flows()`; no
    /// FLOW_REMOVED messages).
    pub fn flush_flows(&self) {
        self.pipe.tables.write().remove_where(|_| true);
    }

    /// Whether the bridge is in fail-open mode.
    pub fn fail_open(&self) -> bool {
        self.fail_open.lock().is_some()
    }

    /// Enters or leaves fail-open mode: while in it, translation sends every
    /// packet that is not recirculated to NORMAL (OVS's hidden flow
    /// `priority=15790320 actions=NORMAL`); installed megaflows are
    /// revalidated.
    pub fn set_fail_open(&self, on: bool) {
        let mut f = self.fail_open.lock();
        if f.is_some() != on {
            *f = on.then(|| self.now_ns());
            drop(f);
            self.port_seq.fetch_add(1, Ordering::Release);
        }
    }

    /// Translates `flow` through the tables, or through the fail-open flow
    /// while in fail-open mode.
    fn xlate_flow(&self, flow: &Flow, learn: bool, trace: bool) -> XlateOut {
        let now = self.now_ns();
        if self.fail_open() && flow.get(fields::RECIRC_ID) == 0 {
            let odp_in = flow.get(fields::IN_PORT) as u32;
            let in_of = self.pipe.ports.read().ofport(odp_in);
            if let Some(in_of) = in_of {
                let normal = [Action::Output {
                    port: OFPP_NORMAL,
                    max_len: 0,
                }];
                let mut out = None;
                self.pipe.with_env_recursive(now, learn, trace, &mut |env| {
                    out = Some(ofproto::xlate::xlate_packet_out(env, flow, in_of, &normal));
                });
                if let Some(mut x) = out {
                    if trace {
                        x.trace.insert(
                            0,
                            format!("0. priority {FAIL_OPEN_PRIORITY} (fail-open)\n    NORMAL"),
                        );
                    }
                    return x;
                }
            }
        }
        self.pipe.xlate(flow, now, learn, trace)
    }

    /// The bridge name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Monotonic ns since the bridge was created (the clock of rule
    /// timestamps).
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Applies one flow_mod.
    pub fn flow_mod(&self, fm: &FlowModSpec) -> Result<FlowModOutcome, FlowModError> {
        let now = self.now_ns();
        let mut out = self.pipe.tables.write().apply(fm, now)?;
        if matches!(fm.command, command::DELETE | command::DELETE_STRICT) {
            // OFPRR_DELETE.
            self.flow_removed(std::mem::take(&mut out.removed), Some(2));
        }
        Ok(out)
    }

    /// Applies flow_mods atomically (bundle commit).
    pub fn flow_mods_atomic(
        &self,
        fms: &[FlowModSpec],
    ) -> Result<Vec<FlowModOutcome>, (usize, FlowModError)> {
        let now = self.now_ns();
        self.pipe.tables.write().apply_all(fms, now)
    }

    /// The ports with their devices and OFPPC_* configuration, by OpenFlow
    /// number.
    pub fn of_ports(&self) -> Vec<OfPort> {
        let mut v = self.ports.read().clone();
        let pm = self.pipe.ports.read();
        for p in &mut v {
            p.config = pm.config(of_number(p.ofport));
        }
        v.sort_by_key(|p| p.ofport);
        v
    }

    /// OFPT_PORT_MOD (OVS `handle_port_mod()`, `update_port_config()`):
    /// checks the port and its `hw_addr`, then sets the OFPPC_* bits in
    /// `mask` to their values in `config` (OpenFlow 1.0 knows every bit;
    /// later versions only PORT_DOWN, NO_RECV, NO_FWD and NO_PACKET_IN).
    /// A change is applied to translation (installed megaflows are
    /// revalidated) and returned: the port as OFPT_PORT_STATUS
    /// (OFPPR_MODIFY) reports it. `advertise` is ignored (rvs devices have
    /// no autonegotiation to configure).
    pub fn port_mod(
        &self,
        pm: &ofproto::ofp::switch::PortMod,
        version: u8,
    ) -> Result<Option<OfPort>, PortModError> {
        use ofproto::ofp::switch::ofppc;
        let known = if version <= 1 {
            ofppc::ALL
        } else {
            ofppc::PORT_DOWN | ofppc::NO_RECV | ofppc::NO_FWD | ofppc::NO_PACKET_IN
        };
        let mut port = self
            .of_ports()
            .into_iter()
            .find(|p| of_number(p.ofport) == pm.port_no)
            .ok_or(PortModError::BadPort)?;
        if port.netdev.mac() != pm.hw_addr {
            return Err(PortModError::BadHwAddr);
        }
        let of = pm.port_no;
        let mask = pm.mask & known;
        let toggle = (pm.config ^ port.config) & mask;
        if toggle == 0 {
            return Ok(None);
        }
        port.config ^= toggle;
        self.pipe.ports.write().set_config(of, port.config);
        self.pipe
            .normal
            .set_floodable(of, port.config & ofppc::NO_FLOOD == 0);
        self.port_seq.fetch_add(1, Ordering::Release);
        Ok(Some(port))
    }

    /// Sets the devices behind the ports (for port descriptions/statistics).
    pub fn set_of_ports(&self, ports: Vec<OfPort>) {
        let old = std::mem::replace(&mut *self.ports.write(), ports.clone());
        // OFPT_PORT_STATUS: OFPPR_ADD / OFPPR_DELETE.
        for p in &ports {
            if !old.iter().any(|o| o.name == p.name && o.ofport == p.ofport) {
                self.publish(&AsyncEvent::PortStatus {
                    reason: 0,
                    port: p.clone(),
                });
            }
        }
        for o in old {
            if !ports
                .iter()
                .any(|p| o.name == p.name && o.ofport == p.ofport)
            {
                self.publish(&AsyncEvent::PortStatus { reason: 1, port: o });
            }
        }
    }

    /// Sets how PACKET_OUT actions reach the datapath.
    pub fn set_executor(&self, e: Executor) {
        *self.executor.write() = Some(e);
    }

    /// Registers a connection for asynchronous messages (kept while the
    /// caller holds the `Arc`).
    pub fn subscribe(&self, s: &Arc<dyn AsyncSink>) {
        self.sinks.lock().push(Arc::downgrade(s));
    }

    /// Sends `ev` to every connection that wants it.
    pub fn publish(&self, ev: &AsyncEvent) {
        self.publish_except(ev, None);
    }

    /// Sends `ev` to every connection that wants it except `skip` (the
    /// connection whose OFPT_PORT_MOD caused it: before OpenFlow 1.5 OVS
    /// does not echo the change back, `connmgr_send_port_status()`).
    pub fn publish_except(&self, ev: &AsyncEvent, skip: Option<&Arc<dyn AsyncSink>>) {
        let sinks: Vec<Arc<dyn AsyncSink>> = {
            let mut v = self.sinks.lock();
            v.retain(|w| w.strong_count() > 0);
            v.iter().filter_map(|w| w.upgrade()).collect()
        };
        let skip = skip.map(|s| Arc::as_ptr(s) as *const ());
        for s in sinks {
            if Some(Arc::as_ptr(&s) as *const ()) != skip {
                s.deliver(ev);
            }
        }
    }

    /// Publishes OFPT_FLOW_REMOVED for the rules in `removed` that asked for
    /// it (OFPFF_SEND_FLOW_REM), with `reason` (None: idle or hard timeout,
    /// whichever expired).
    fn flow_removed(&self, removed: Vec<Rule>, reason: Option<u8>) {
        let now = self.now_ns();
        for r in removed {
            if r.flags & ofproto::ofp::flow::flags::SEND_FLOW_REM == 0 {
                continue;
            }
            let reason = reason.unwrap_or_else(|| {
                let hard = r.hard_timeout as u64 * 1_000_000_000;
                if hard > 0 && now.saturating_sub(r.modified_ns) >= hard {
                    1
                } else {
                    0
                }
            });
            self.publish(&AsyncEvent::FlowRemoved {
                tlv: Arc::new(self.pipe.tlv.read().clone()),
                duration_ns: now.saturating_sub(r.created_ns),
                rule: Arc::new(r),
                reason,
            });
        }
    }

    /// Sets the datapath meters that enforce this bridge's OpenFlow meters.
    pub fn set_meters(&self, m: Arc<pmd::meter::Meters>) {
        *self.meters.write() = Some(m);
    }

    /// Sets the datapath's connection tracker, which NXT_CT_FLUSH_ZONE and
    /// NXT_CT_FLUSH flush.
    pub fn set_conntrack(&self, ct: Arc<conntrack::Conntrack>) {
        *self.conntrack.write() = Some(ct);
    }

    /// NXT_CT_FLUSH_ZONE / NXT_CT_FLUSH: flushes the datapath's connections
    /// that `f` selects ([`crate::ct::flush_openflow`]); the number deleted,
    /// or `None` without a tracker (OVS answers EOPNOTSUPP then).
    pub fn ct_flush(&self, f: &ofproto::ofp::ct_flush::CtFlush) -> Option<usize> {
        let ct = self.conntrack.read().clone()?;
        Some(crate::ct::flush_openflow(&ct, f))
    }

    /// Applies a GROUP_MOD (OpenFlow 1.3.5 section 7.3.4.2); deleting a
    /// group deletes the flows that use it.
    pub fn group_mod(&self, gm: &GroupMod) -> Result<(), FlowModError> {
        let now = self.now_ns();
        let mut tables = self.pipe.tables.write();
        let gone = self.pipe.groups.write().apply(gm, now)?;
        for g in gone {
            tables.remove_where(|r| r.uses_group(g));
        }
        Ok(())
    }

    /// Applies a METER_MOD (OpenFlow 1.3.5 section 7.3.4.4) and mirrors it
    /// into the datapath meters; deleting a meter deletes the flows that
    /// use it.
    pub fn meter_mod(&self, mm: &MeterMod) -> Result<(), FlowModError> {
        let now = self.now_ns();
        let dpm = self.meters.read().clone();
        let mut tables = self.pipe.tables.write();
        let change = self.pipe.meters.write().apply(mm, now, || match &dpm {
            Some(d) => d.alloc(),
            None => Some(0),
        })?;
        match change {
            MeterChange::Set(m) => {
                if let Some(d) = &dpm {
                    d.set(m.dp_id, &dp_meter_config(&m));
                }
            }
            MeterChange::Deleted(ms) => {
                for m in ms {
                    if let Some(d) = &dpm {
                        d.del(m.dp_id);
                    }
                    tables.remove_where(|r| r.uses_meter(m.id));
                }
            }
        }
        Ok(())
    }

    /// Datapath counters of the datapath meter `dp_id`.
    pub fn dp_meter_stats(&self, dp_id: u32) -> Option<pmd::meter::MeterStats> {
        self.meters.read().as_ref()?.stats(dp_id)
    }

    /// Runs `pkt` through the pipeline as if received on OpenFlow port
    /// `in_port`, with `actions` as the first actions (PACKET_OUT), and
    /// executes the resulting datapath actions.
    pub fn packet_out(&self, data: &[u8], in_port: u32, actions: &[Action]) -> Result<(), String> {
        let exec = self.executor.read().clone().ok_or("no datapath")?;
        let mut pkt = DpPacket::from_slice(data);
        let mut flow = dp_core::extract::extract_flow(&mut pkt);
        let ports = self.pipe.ports.read().clone();
        let in_of = if in_port == 0xfffe {
            ofproto::ofp::actions::OFPP_LOCAL
        } else {
            in_port
        };
        let odp_in = ports.odp(in_of).unwrap_or(0);
        flow.set(fields::IN_PORT, odp_in as u64);
        let x = self
            .pipe
            .xlate_actions(&flow, in_of, actions, self.now_ns());
        exec(pkt, odp_in, x.actions)
    }

    /// NXT_RESUME (OVS `handle_nxt_resume()` / `xlate_resume()`): decodes
    /// the packet, its metadata and registers (NXPINT_METADATA) and the
    /// continuation (actions in OpenFlow wire `version`), resumes the
    /// translation and executes the result on the packet.
    pub fn resume(&self, msg: &NxMsg, version: u8) -> Result<(), ResumeError> {
        let bad = |code| ResumeError::Bad(OfpError::new(code, "bad NXT_RESUME"));
        let data = msg
            .prop(nxpint::PACKET)
            .filter(|d| !d.is_empty())
            .ok_or(bad(ErrorCode::BadRequestLen))?;
        let cont = msg.prop(nxpint::CONTINUATION).ok_or(ResumeError::Stale)?;
        let c = Continuation::decode(version, cont).map_err(ResumeError::Bad)?;
        if c.bridge != self.uuid {
            return Err(ResumeError::Stale);
        }
        let md = match msg.prop(nxpint::METADATA) {
            Some(b) => OxmMatch::decode_tlvs(b).map_err(ResumeError::Bad)?,
            None => OxmMatch::default(),
        };
        let (value, mask) = ofproto::table::key::match_from_oxm(&md).map_err(ResumeError::Bad)?;
        let in_of = if mask.flow.get(fields::IN_PORT) != 0 {
            value.flow.get(fields::IN_PORT) as u32
        } else {
            ofproto::ofp::actions::OFPP_CONTROLLER
        };
        let exec = self
            .executor
            .read()
            .clone()
            .ok_or(ResumeError::Exec("no datapath".into()))?;
        let mut pkt = DpPacket::from_slice(data);
        let mut flow = dp_core::extract::extract_flow(&mut pkt);
        let odp_in = self.pipe.ports.read().odp(in_of).unwrap_or(0);
        flow.set(fields::IN_PORT, odp_in as u64);
        let r = Resume {
            meta: &value.meta,
            segments: &c.segments,
            action_set: &c.action_set,
        };
        let x = self.pipe.xlate_resume(&flow, in_of, r, self.now_ns());
        self.credit(&x, 1, data.len() as u64);
        exec(pkt, odp_in, x.actions).map_err(ResumeError::Exec)
    }

    /// `ofproto/trace` text for datapath flow `flow`.
    pub fn trace(&self, flow: &Flow) -> String {
        let x = self.xlate_flow(flow, false, true);
        self.format_trace(flow, &x, &[])
    }

    /// `ofproto/trace-packet-out` text (OVS `ofproto_unixctl_trace_actions()`):
    /// `actions` translated as a PACKET_OUT of a packet with datapath key
    /// `flow` (its `in_port` the packet-out's, CONTROLLER if it names no
    /// port of this bridge), without side effects (NORMAL does not learn).
    /// The actions head the bridge section, one a line, then what their
    /// translation met.
    pub fn trace_packet_out(&self, flow: &Flow, actions: &[Action]) -> String {
        let odp_in = flow.get(fields::IN_PORT) as u32;
        let in_of = self
            .pipe
            .ports
            .read()
            .ofport(odp_in)
            .unwrap_or(ofproto::ofp::actions::OFPP_CONTROLLER);
        let mut out = None;
        self.pipe
            .with_env_recursive(self.now_ns(), false, true, &mut |env| {
                out = Some(ofproto::xlate::xlate_packet_out(env, flow, in_of, actions));
            });
        let x = out.unwrap_or_default();
        let lead: Vec<String> = actions.iter().map(format::format_action).collect();
        self.format_trace(flow, &x, &lead)
    }

    /// The `ofproto/trace` layout: the flow, the bridge section (`lead`
    /// lines first, then the translation's notes), the megaflow and the
    /// datapath actions.
    fn format_trace(&self, flow: &Flow, x: &XlateOut, lead: &[String]) -> String {
        let mut s = format!(
            "Flow: {}\n\nbridge(\"{}\")\n{}\n",
            dp_core::odp_text::format_match(&dp_core::matches::Match {
                key: flow.clone(),
                mask: Flow::exact(),
            }),
            self.name,
            "-".repeat(self.name.len() + 10)
        );
        for l in lead.iter().chain(&x.trace) {
            s.push(' ');
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&format!(
            "\nFinal flow: unchanged\nMegaflow: {}\nDatapath actions: {}\n",
            dp_core::odp_text::format_match(&dp_core::matches::Match {
                key: flow.masked(&x.mask),
                mask: x.mask.clone(),
            }),
            format::format_odp_actions(&x.actions)
        ));
        s
    }

    /// `bridge/dump-flows` text (OVS `ofproto_unixctl_dump_flows`: one line
    /// per rule, `duration=..., n_packets=..., n_bytes=..., priority=...,
    /// MATCH,actions=...`), starting with the hidden fail-open flow while
    /// in fail-open mode (OVS shows hidden flows here, not over OpenFlow).
    pub fn dump_flows(&self) -> String {
        let now = self.now_ns();
        let t = self.pipe.tables.read();
        let mut out = String::new();
        if let Some(since) = *self.fail_open.lock() {
            // The hidden fail-open flow: shown here, never over OpenFlow.
            let secs = now.saturating_sub(since) as f64 / 1e9;
            out.push_str(&format!(
                "duration={secs:.3}s, n_packets=0, n_bytes=0, \
                 priority={FAIL_OPEN_PRIORITY},actions=NORMAL\n"
            ));
        }
        for r in t.select(
            0xff,
            &XKey::default(),
            &XKey::default(),
            None,
            0,
            0,
            ofproto::ofp::actions::OFPP_ANY,
        ) {
            let m = format::format_match(&r.value, &r.mask);
            let secs = now.saturating_sub(r.created_ns) as f64 / 1e9;
            let mut line = format!("duration={secs:.3}s, ");
            if r.table_id != 0 {
                line.push_str(&format!("table_id={}, ", r.table_id));
            }
            line.push_str(&format!(
                "n_packets={}, n_bytes={}, priority={}",
                r.packets.load(Ordering::Relaxed),
                r.bytes.load(Ordering::Relaxed),
                r.priority
            ));
            if !m.is_empty() {
                line.push(',');
                line.push_str(&m);
            }
            line.push_str(&format!(
                ",actions={}\n",
                format::format_instructions(&r.instructions)
            ));
            out.push_str(&line);
        }
        out
    }

    fn credit(&self, x: &XlateOut, packets: u64, bytes: u64) {
        if packets == 0 {
            return;
        }
        let now = self.now_ns();
        let t = self.pipe.tables.read();
        for (tid, id) in &x.rules {
            if let Some(r) = t.rule(*tid, *id) {
                r.credit(packets, bytes, now);
            }
        }
        drop(t);
        let g = self.pipe.groups.read();
        for (gid, bucket) in &x.groups {
            if let Some(gr) = g.get(*gid) {
                gr.credit(*bucket, packets, bytes);
            }
        }
        drop(g);
        for p in &x.patched {
            if let Some(b) = p.bridge.upgrade() {
                b.credit(p, packets, bytes);
            }
        }
    }

    /// Credits rules and groups of this bridge hit by another bridge's
    /// translation through a patch port.
    fn credit_rules(
        &self,
        rules: &[(u8, u64)],
        groups: &[(u32, Option<usize>)],
        packets: u64,
        bytes: u64,
    ) {
        let now = self.now_ns();
        let t = self.pipe.tables.read_recursive();
        for (tid, id) in rules {
            if let Some(r) = t.rule(*tid, *id) {
                r.credit(packets, bytes, now);
            }
        }
        drop(t);
        let g = self.pipe.groups.read_recursive();
        for (gid, bucket) in groups {
            if let Some(gr) = g.get(*gid) {
                gr.credit(*bucket, packets, bytes);
            }
        }
    }

    /// Updates port liveness (fast-failover watch ports) from the devices'
    /// link state; true if it changed.
    fn update_liveness(&self) -> bool {
        let states: Vec<(u32, bool)> = self
            .ports
            .read()
            .iter()
            .map(|p| {
                let of = if p.ofport == 0xfffe {
                    ofproto::ofp::actions::OFPP_LOCAL
                } else {
                    p.ofport
                };
                (of, p.netdev.link_state().to_string() == "up")
            })
            .collect();
        let changed = {
            let pm = self.pipe.ports.read();
            states.iter().any(|&(of, up)| pm.is_live(of) != up)
        };
        if changed {
            let mut pm = self.pipe.ports.write();
            for (of, up) in states {
                pm.set_live(of, up);
            }
            self.port_seq.fetch_add(1, Ordering::Release);
        }
        changed
    }
}

impl BridgeNormal for OpenFlowBridge {
    fn upcall(&self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        let x = self.xlate_flow(flow, true, false);
        self.credit(&x, 1, pkt.len() as u64);
        self.pipe
            .apply_fin_timeouts(&x.fin_timeouts, flow.get(fields::TCP_FLAGS) as u16);
        Ok(Upcall {
            actions: x.actions,
            mask: Some(x.mask),
            ufid: None,
        })
    }

    fn revalidate(&self, key: &Flow) -> Option<Vec<OdpAction>> {
        Some(self.xlate_flow(key, false, false).actions)
    }

    fn revalidate_flow(
        &self,
        ufid: &Ufid,
        key: &Flow,
        mask: &Flow,
        actions: &[OdpAction],
        stats: &dp_core::matches::FlowStats,
    ) -> bool {
        let (packets, bytes) = (stats.packets, stats.bytes);
        let x = self.xlate_flow(key, false, false);
        let (dp, db) = {
            let mut c = self.credited.lock();
            if c.len() > 100_000 {
                c.clear();
            }
            let prev = c.insert(*ufid, (packets, bytes)).unwrap_or((0, 0));
            (packets.saturating_sub(prev.0), bytes.saturating_sub(prev.1))
        };
        self.credit(&x, dp, db);
        if dp > 0 {
            // Traffic through a flow that learns keeps the learned flows
            // fresh (OVS runs learn again when pushing stats, XC_LEARN).
            self.pipe.apply_learned(&x.learned, self.now_ns());
            // FIN/RST seen by the megaflow shortens fin_timeout rules' life
            // (OVS XC_FIN_TIMEOUT when pushing stats).
            self.pipe
                .apply_fin_timeouts(&x.fin_timeouts, stats.tcp_flags);
        }
        let narrower = (0..dp_core::flow::FLOW_WORDS).all(|i| x.mask.w[i] & !mask.w[i] == 0);
        x.actions == actions && narrower
    }

    fn touch(&self, key: &Flow) {
        // Keep NORMAL's source MAC alive only if it is still learned.
        let in_port = key.get(fields::IN_PORT) as u32;
        let tci = key.get(fields::VLAN0_TCI) as u16;
        let vid = tci & dp_core::flow::VLAN_VID_MASK;
        let normal = &self.pipe.normal;
        let vlan = if tci & dp_core::flow::VLAN_CFI != 0 && vid != 0 {
            vid
        } else {
            normal
                .ports()
                .iter()
                .find(|(_, odp, ..)| *odp == in_port)
                .and_then(|(.., v)| match v.mode {
                    Some(VlanMode::Trunk) => None,
                    _ => v.tag,
                })
                .unwrap_or(0)
        };
        let src = dp_core::flow::u64_to_mac(key.get(fields::ETH_SRC));
        if normal.fdb_lookup(src, vlan).is_some() {
            let _ = self.xlate_flow(key, true, false);
        }
    }

    fn set_ports(&self, ports: Vec<BridgePort>) {
        let normal = &self.pipe.normal;
        let current = normal.ports();
        for (ofport, ..) in &current {
            if !ports.iter().any(|p| p.ofport == *ofport) {
                normal.remove_port(*ofport);
            }
        }
        for p in &ports {
            let vlan = PortVlan {
                mode: vlan_mode(p.vlan_mode.as_deref()),
                tag: p.tag,
                trunks: p.trunks.clone(),
            };
            let same = current.iter().any(|(o, d, n, v)| {
                *o == p.ofport && *d == p.odp_port && *n == p.name && *v == vlan
            });
            if !same {
                normal.set_port(p.ofport, p.odp_port, &p.name, vlan);
            }
        }
        let mut map = PortMap::new();
        let peers = self.patch_peers.lock();
        let cur = self.pipe.ports.read().clone();
        for p in &ports {
            map.insert(p.ofport, p.odp_port, &p.name);
            // A port keeps its OFPPC_* configuration while it exists.
            let of = of_number(p.ofport);
            if cur.by_name(&p.name) == Some(of) {
                map.set_config(of, cur.config(of));
            }
            if crate::patch::is_patch_odp(p.odp_port) {
                map.set_patch(p.ofport, peers.get(&p.ofport).cloned().flatten());
            }
        }
        drop(peers);
        for (of, ..) in cur.iter() {
            let cfg = map.config(of);
            normal.set_floodable(of, cfg & ofproto::ofp::switch::ofppc::NO_FLOOD == 0);
        }
        let mut cur = self.pipe.ports.write();
        let old: Vec<_> = cur.iter().map(|(a, b, c)| (a, b, c.to_string())).collect();
        let new: Vec<_> = map.iter().map(|(a, b, c)| (a, b, c.to_string())).collect();
        if old != new {
            *cur = map;
            self.port_seq.fetch_add(1, Ordering::Release);
        }
    }

    fn set_mac_config(&self, aging_secs: u64, max_entries: usize) {
        self.pipe
            .normal
            .set_mac_aging(aging_secs.min(u32::MAX as u64) as u32);
        self.pipe.normal.set_mac_table_size(max_entries);
    }

    fn run(&self) -> bool {
        let before = self.generation();
        self.pipe.normal.run_aging(self.now_ns());
        let now = self.now_ns();
        let expired = self.pipe.tables.write().expire(now);
        self.flow_removed(expired, None);
        self.update_liveness();
        self.generation() != before
    }

    fn generation(&self) -> u64 {
        self.pipe.normal.mac_seq()
            + self.pipe.tables.read().version
            + self.pipe.groups.read().version
            + self.pipe.meters.read().version
            + self.port_seq.load(Ordering::Acquire)
    }

    fn fdb_show(&self) -> String {
        self.pipe.normal.fdb_show(self.now_ns())
    }

    fn fdb_flush(&self) {
        self.pipe.normal.fdb_flush();
    }

    fn fdb_len(&self) -> usize {
        self.pipe.normal.fdb_stats().current
    }

    fn userspace(&self, action: &dp_core::actions::UserspaceAction, pkt: Box<DpPacket>) {
        // xlate's controller cookie: `controller_userdata` ([1, table,
        // reason, 0, max_len, 0, 0, cookie]) or, for a paused translation,
        // `pause_userdata` ([2, table, reason, 0, id]).
        let Some(u) = action.userdata.as_deref() else {
            return;
        };
        let (c, paused) = if u.first() == Some(&2) && u.len() >= 3 {
            let Some(p) = pause_id_of(u).and_then(|id| self.pipe.recirc.lock().paused(id)) else {
                return;
            };
            // A paused packet goes whole: NXT_RESUME needs all of it back.
            let c = ofproto::xlate::ControllerCookie {
                table: u[1],
                reason: u[2],
                max_len: u16::MAX,
                cookie: p.cookie,
            };
            (c, Some(p))
        } else {
            match ofproto::xlate::parse_controller_userdata(u) {
                Some(c) => (c, None),
                None => return,
            }
        };
        let in_port = match &paused {
            Some(p) => p.in_port,
            None => self
                .pipe
                .ports
                .read()
                .ofport(pkt.md.in_port)
                .unwrap_or(ofproto::ofp::actions::OFPP_ANY),
        };
        let data = pkt.data();
        let n = data.len().min(c.max_len as usize);
        self.publish(&AsyncEvent::PacketIn {
            data: data[..n].to_vec(),
            total_len: data.len() as u32,
            reason: c.reason,
            table_id: c.table,
            cookie: c.cookie,
            in_port,
            paused: paused.map(|p| (p, self.uuid)),
        });
    }
}

impl OpenFlowBridge {
    /// Sets the peers of the bridge's patch ports (OpenFlow port to the
    /// peer bridge and port; `None`: no valid peer, the port drops); ports
    /// not named are not patch ports. Bumps the generation if they changed.
    pub fn set_patch_peers(&self, peers: HashMap<u32, Option<(Arc<OpenFlowBridge>, u32)>>) {
        let peers: HashMap<u32, Option<PatchPeer>> = peers
            .into_iter()
            .map(|(of, p)| {
                let p = p.map(|(b, ofport)| {
                    let t: Arc<dyn PatchTarget> = b;
                    PatchPeer {
                        bridge: Arc::downgrade(&t),
                        ofport,
                    }
                });
                (of, p)
            })
            .collect();
        let key = |m: &HashMap<u32, Option<PatchPeer>>| {
            let mut v: Vec<String> = m.iter().map(|(o, p)| format!("{o}:{p:?}")).collect();
            v.sort();
            v
        };
        let mut cur = self.patch_peers.lock();
        let changed = key(&cur) != key(&peers);
        *cur = peers.clone();
        drop(cur);
        let mut pm = self.pipe.ports.write();
        let of_ports: Vec<u32> = pm.iter().map(|(o, ..)| o).collect();
        for of in of_ports {
            if let Some(p) = peers.get(&of) {
                pm.set_patch(of, p.clone());
            }
        }
        drop(pm);
        if changed {
            self.port_seq.fetch_add(1, Ordering::Release);
        }
    }
}

impl PatchTarget for OpenFlowBridge {
    fn bridge_name(&self) -> &str {
        &self.name
    }

    fn with_env(&self, learn: bool, trace: bool, f: &mut dyn FnMut(&XlateEnv<'_>)) {
        self.pipe.with_env_recursive(self.now_ns(), learn, trace, f)
    }

    fn credit(&self, r: &ofproto::xlate::PatchRules, packets: u64, bytes: u64) {
        self.credit_rules(&r.rules, &r.groups, packets, bytes);
    }
}

/// Registers `ofproto/trace BRIDGE FLOW` (FLOW in datapath syntax, e.g.
/// `in_port(1),eth(src=..,dst=..),eth_type(0x0800),ipv4(...)`) and
/// `bridge/dump-flows BRIDGE`.
pub fn register_appctl(cmds: &crate::unixctl::Commands, sw: Arc<Mutex<crate::bridge::Switch>>) {
    let s2 = sw.clone();
    cmds.register("ofproto/trace", "BRIDGE FLOW", 2, 2, move |a| {
        let of = s2
            .lock()
            .bridges
            .get(&a[0])
            .map(|b| b.openflow.clone())
            .ok_or_else(|| format!("{}: unknown bridge", a[0]))?;
        let m = dp_core::odp_text::parse_match(&a[1]).map_err(|e| format!("{e}"))?;
        Ok(of.trace(&m.key))
    });
    let s3 = sw.clone();
    cmds.register(
        "ofproto/trace-packet-out",
        "[-consistent] BRIDGE FLOW [PACKET] ACTIONS",
        3,
        5,
        move |a| {
            let (consistent, a) = match a.first().map(String::as_str) {
                Some("-consistent" | "--consistent") => (true, &a[1..]),
                _ => (false, a),
            };
            if a.len() < 3 || a.len() > 4 {
                return Err("syntax: [-consistent] BRIDGE FLOW [PACKET] ACTIONS".into());
            }
            let of = s3
                .lock()
                .bridges
                .get(&a[0])
                .map(|b| b.openflow.clone())
                .ok_or_else(|| format!("{}: unknown bridge", a[0]))?;
            let mut flow = dp_core::odp_text::parse_match(&a[1])
                .map_err(|e| format!("{e}"))?
                .key;
            if a.len() == 4 {
                flow = packet_flow(&a[2], &flow)?;
            }
            let acts = a.last().expect("3 or 4 arguments");
            let actions = ofproto::xlate::parse::parse_actions(acts)?;
            if consistent {
                check_consistency(&flow, &actions)?;
            }
            Ok(of.trace_packet_out(&flow, &actions))
        },
    );
    cmds.register("bridge/dump-flows", "BRIDGE", 1, 1, move |a| {
        let of = sw
            .lock()
            .bridges
            .get(&a[0])
            .map(|b| b.openflow.clone())
            .ok_or_else(|| format!("no bridge named {}", a[0]))?;
        Ok(of.dump_flows())
    });
}

/// The flow of the hex-encoded Ethernet frame `hex`, with the metadata
/// (in_port, recirc_id, ...) of `meta` (OVS `ofproto/trace ... PACKET`).
fn packet_flow(hex: &str, meta: &Flow) -> Result<Flow, String> {
    let hex: String = hex.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if hex.len() % 2 != 0 {
        return Err("Trailing garbage in packet data".into());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "Trailing garbage in packet data".to_string())?;
    let mut pkt = DpPacket::from_slice(&bytes);
    let mut flow = dp_core::extract::extract_flow(&mut pkt);
    for f in [fields::IN_PORT, fields::RECIRC_ID, fields::SKB_PRIORITY] {
        flow.set(f, meta.get(f));
    }
    Ok(flow)
}

/// `-consistent`: the actions must suit the flow (OVS
/// `ofpacts_check_consistency()`): setting an IPv4, IPv6, TCP or UDP field
/// needs a flow of that protocol.
fn check_consistency(flow: &Flow, actions: &[Action]) -> Result<(), String> {
    use ofproto::ofp::Field as F;
    let et = flow.get(fields::ETH_TYPE);
    let proto = flow.get(fields::NW_PROTO);
    for a in actions {
        let ok = match a {
            Action::SetField(mf) => match mf.field {
                F::Ipv4Src | F::Ipv4Dst => et == 0x0800,
                F::IpTtl => et == 0x0800 || et == 0x86dd,
                F::Ipv6Src | F::Ipv6Dst => et == 0x86dd,
                F::TcpSrc | F::TcpDst => proto == 6,
                F::UdpSrc | F::UdpDst => proto == 17,
                _ => true,
            },
            Action::SetNwSrc(_) | Action::SetNwDst(_) => et == 0x0800,
            Action::SetTpSrc(_) | Action::SetTpDst(_) => proto == 6 || proto == 17,
            _ => true,
        };
        if !ok {
            return Err(format!(
                "Bad actions: OFPBAC_MATCH_INCONSISTENT ({} does not suit the flow)",
                format::format_action(a)
            ));
        }
    }
    Ok(())
}
