//! Reconciliation of the `Open_vSwitch`, `Bridge`, `Port` and `Interface`
//! tables into the datapath, and the status written back (OVS
//! `vswitchd/bridge.c`, `ovs-vswitchd.conf.db(5)`).
//!
//! All `datapath_type=netdev` bridges share one [`Datapath`] (OVS's
//! `netdev@ovs-netdev`); each bridge has its ports' datapath numbers routed
//! to its own [`BridgeNormal`] by the [`Dispatcher`]. Bridges of another
//! datapath type (`system` or empty) are not created: there is no kernel
//! datapath; the reason is written to `Bridge.status:error` and to each of
//! their interfaces' `error` column (with `ofport` -1), and logged.
//!
//! Reconfiguration is idempotent: it compares the database with what is in
//! place, and touches only what differs, so that the replica changes our own
//! status writes cause are cheap.

use crate::ofproto::{BridgeNormal, BridgePort, Dispatcher, OFPP_LOCAL};
use crate::openflow::{OfPort, OpenFlowBridge};
use crate::vlog;
use dp_core::flow::fields;
use netdev::Netdev;
use ovsdb::vswitch::StatusTxn;
use ovsdb::{Datum, Replica, Uuid};
use pmd::{Datapath, DpConfig};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Interface types this switch can open (`Open_vSwitch.iface_types`).
pub const IFACE_TYPES: &[&str] = &["afxdp", "dummy", "internal", "patch", "system", "tap"];

/// Default `other_config:max-idle`, ms (OVS `OFPROTO_MAX_IDLE_DEFAULT`).
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;

/// How often a failing interface is retried, and interface status refreshed
/// (OVS `STATS_INTERVAL`, 5 s).
pub const STATS_INTERVAL: Duration = Duration::from_secs(5);

/// The version string written to `Open_vSwitch.ovs_version`.
pub const OVS_VERSION: &str = "3.1.0";

/// One interface in the datapath.
pub struct IfaceState {
    /// `Interface` row.
    pub uuid: Uuid,
    /// Port name.
    pub port_name: String,
    /// `Interface.type` as configured.
    pub kind: String,
    /// `Interface.options`.
    pub options: BTreeMap<String, String>,
    /// `mtu_request`.
    pub mtu_request: Option<i64>,
    /// `other_config:pmd-rxq-affinity`.
    pub affinity: Option<String>,
    /// Datapath port number.
    pub odp_port: u32,
    /// OpenFlow port number.
    pub ofport: u32,
    /// The device.
    pub netdev: Arc<dyn Netdev>,
}

/// A port's VLAN settings: `tag`, `trunks`, `vlan_mode`.
pub type PortVlan = (Option<i64>, Vec<i64>, Option<String>);

/// An interface that could not be added, and when it was last tried.
struct Failed {
    sig: String,
    error: String,
    tried: Instant,
}

/// One netdev bridge.
pub struct BridgeState {
    /// `Bridge` row.
    pub uuid: Uuid,
    /// Forwarding logic (the OpenFlow pipeline below).
    pub normal: Arc<dyn BridgeNormal>,
    /// The bridge's OpenFlow switch.
    pub openflow: Arc<OpenFlowBridge>,
    /// Its OpenFlow connections: `<bridge>.mgmt`, controllers, fail-open.
    pub connmgr: crate::connmgr::ConnMgr,
    /// Interfaces by name.
    pub ifaces: BTreeMap<String, IfaceState>,
    /// `Port` settings by port name.
    pub port_cfg: BTreeMap<String, PortVlan>,
    /// The datapath ID written to `Bridge.datapath_id`.
    pub datapath_id: String,
}

/// Named event counters for `coverage/show`.
#[derive(Default)]
pub struct Coverage {
    /// Name to (total, total at the last 5 s sample, rate over last 5 s).
    counters: BTreeMap<&'static str, (u64, u64, f64)>,
    started: Option<Instant>,
}

impl Coverage {
    /// Counts one `name` event.
    pub fn inc(&mut self, name: &'static str) {
        self.add(name, 1)
    }

    /// Counts `n` `name` events.
    pub fn add(&mut self, name: &'static str, n: u64) {
        self.started.get_or_insert_with(Instant::now);
        self.counters.entry(name).or_default().0 += n;
    }

    /// Takes the 5-second sample.
    pub fn sample(&mut self) {
        for c in self.counters.values_mut() {
            c.2 = (c.0 - c.1) as f64 / 5.0;
            c.1 = c.0;
        }
    }

    /// The text of `coverage/show` (OVS `coverage_read`).
    pub fn show(&self) -> String {
        let up = self
            .started
            .map_or(1.0, |s| s.elapsed().as_secs_f64().max(1.0));
        let mut s = String::from(
            "Event coverage, avg rate over last: 5 seconds, last minute, last hour,  hash=00000000:\n",
        );
        for (name, (total, _, r5)) in &self.counters {
            let rm = *total as f64 / up.clamp(1.0, 60.0) * (up.min(60.0) / 60.0);
            let rh = *total as f64 / 3600.0;
            s.push_str(&format!(
                "{:<24} {:>5.1}/sec {:>9.3}/sec {:>13.4}/sec   total: {}\n",
                name, r5, rm, rh, total
            ));
        }
        s.push_str("0 events never hit\n");
        s
    }
}

/// The switch: the datapath, the bridges on it and the daemon-wide settings.
pub struct Switch {
    /// The one userspace datapath.
    pub dp: Datapath,
    /// Its upcall provider.
    pub dispatcher: Arc<Dispatcher>,
    /// Netdev bridges by name.
    pub bridges: BTreeMap<String, BridgeState>,
    /// Bridges that could not be created: name to (row, error).
    pub bad_bridges: BTreeMap<String, (Uuid, String)>,
    failed: HashMap<Uuid, Failed>,
    dp_other_config: Option<BTreeMap<String, String>>,
    /// `other_config:max-idle`, ms.
    pub max_idle_ms: u64,
    /// Event counters.
    pub coverage: Coverage,
    /// Interfaces whose status must be written in the next transaction.
    fresh: BTreeSet<Uuid>,
    reval: RevalidatorState,
    /// Connection tracking of the datapath (see [`crate::ct`]).
    pub ct: crate::ct::CtState,
    /// DPDK initialisation state (`other_config:dpdk-init`).
    pub dpdk: crate::dpdk::DpdkState,
    /// `Controller` status last written: row to (is_connected, role, status).
    ctl_written: HashMap<Uuid, ControllerStatus>,
}

/// `Controller.is_connected`, `role` and `status` of one row.
type ControllerStatus = (bool, Option<String>, BTreeMap<String, String>);

fn parse_num<T: std::str::FromStr>(
    oc: &BTreeMap<String, String>,
    key: &str,
    what: &str,
    warn: bool,
) -> Option<T> {
    let v = oc.get(key)?;
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            if warn {
                vlog::warn(
                    "bridge",
                    format!("invalid other_config:{key}=\"{v}\": expected {what}"),
                );
            }
            None
        }
    }
}

fn mac_str(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl Switch {
    /// A switch with an empty datapath (default configuration).
    pub fn new() -> Switch {
        let dispatcher = Arc::new(Dispatcher::new());
        let conntrack = Arc::new(conntrack::Conntrack::default());
        let dp = Datapath::new(
            DpConfig::default(),
            dispatcher.clone(),
            Some(conntrack.clone()),
        );
        let ct = crate::ct::CtState::start(conntrack);
        Switch {
            dp,
            dispatcher,
            bridges: BTreeMap::new(),
            bad_bridges: BTreeMap::new(),
            failed: HashMap::new(),
            dp_other_config: None,
            max_idle_ms: DEFAULT_MAX_IDLE_MS,
            coverage: Coverage::default(),
            fresh: BTreeSet::new(),
            reval: RevalidatorState::default(),
            ct,
            dpdk: Default::default(),
            ctl_written: HashMap::new(),
        }
    }

    fn free_odp_port(&self) -> u32 {
        let used: BTreeSet<u32> = self.dp.ports().iter().map(|p| p.port_no).collect();
        (1..).find(|p| !used.contains(p)).unwrap_or(1)
    }

    fn del_iface(&mut self, br: &str, name: &str) {
        let Some(b) = self.bridges.get_mut(br) else {
            return;
        };
        if let Some(i) = b.ifaces.remove(name) {
            if !crate::patch::is_patch_odp(i.odp_port) {
                self.dispatcher.remove_port(i.odp_port);
                let _ = self.dp.del_port(i.odp_port);
            }
            vlog::info(
                "bridge",
                format!("bridge {br}: deleted interface {name} on port {}", i.ofport),
            );
        }
    }

    fn remove_bridge(&mut self, name: &str) {
        let ifaces: Vec<String> = self
            .bridges
            .get(name)
            .map(|b| b.ifaces.keys().cloned().collect())
            .unwrap_or_default();
        for i in ifaces {
            self.del_iface(name, &i);
        }
        if self.bridges.remove(name).is_some() {
            vlog::info("bridge", format!("bridge {name}: deleted"));
        }
    }

    /// Brings the datapath in line with `replica` and returns the status
    /// transaction (`cur_cfg`, interface results, bridge ids, daemon-wide
    /// columns); `None` when the root row is missing.
    pub fn reconfigure(&mut self, replica: &Replica) -> Option<StatusTxn> {
        let root = replica.open_vswitch()?;
        self.coverage.inc("bridge_reconfigure");
        let mut txn = StatusTxn::new();
        self.dpdk.run(&root.other_config);

        // Datapath-wide settings.
        if self.dp_other_config.as_ref() != Some(&root.other_config) {
            let (cfg, errs) = DpConfig::from_other_config(&root.other_config);
            for e in errs {
                vlog::warn("dpif_netdev", e.to_string());
            }
            if &cfg != self.dp.config() {
                for w in self.dp.set_config(cfg) {
                    vlog::warn("dpif_netdev", w);
                }
            }
            self.max_idle_ms =
                match parse_num::<u64>(&root.other_config, "max-idle", "milliseconds", true) {
                    Some(v) => v.max(100),
                    None => DEFAULT_MAX_IDLE_MS,
                };
            self.dp_other_config = Some(root.other_config.clone());
        }

        for l in self.ct.reconfigure(replica, &root.uuid) {
            vlog::info("dpif_netdev", l);
        }

        // Which bridges exist, and of what type.
        let wanted: Vec<ovsdb::vswitch::Bridge> = root
            .bridges
            .iter()
            .filter_map(|u| replica.bridge(u))
            .collect();
        let mut netdev_bridges = BTreeMap::new();
        let mut bad = BTreeMap::new();
        for b in wanted {
            if b.datapath_type == "netdev" {
                netdev_bridges.insert(b.name.clone(), b);
            } else {
                let t = if b.datapath_type.is_empty() {
                    "system".to_string()
                } else {
                    b.datapath_type.clone()
                };
                let err = format!(
                    "datapath type \"{t}\" is not supported: rvs has no kernel datapath (use datapath_type=netdev)"
                );
                bad.insert(b.name.clone(), (b, err));
            }
        }
        let gone: Vec<String> = self
            .bridges
            .keys()
            .filter(|n| !netdev_bridges.contains_key(*n))
            .cloned()
            .collect();
        for n in gone {
            self.remove_bridge(&n);
        }
        for (name, (b, err)) in &bad {
            if !self.bad_bridges.contains_key(name) {
                vlog::err(
                    "bridge",
                    format!("bridge {name}: failed to create datapath: {err}"),
                );
            }
            let cur = replica
                .get("Bridge", &b.uuid, "status")
                .map(Datum::string_map)
                .unwrap_or_default();
            if cur.get("error") != Some(err) {
                let mut st = cur.clone();
                st.insert("error".into(), err.clone());
                txn.set("Bridge", b.uuid, "status", Datum::from(&st));
            }
            for pu in &b.ports {
                for iu in replica.port(pu).map(|p| p.interfaces).unwrap_or_default() {
                    let msg = format!("bridge {name}: {err}");
                    iface_result(&mut txn, replica, iu, -1, Some(&msg));
                }
            }
        }
        self.bad_bridges = bad
            .into_iter()
            .map(|(n, (b, e))| (n, (b.uuid, e)))
            .collect();

        // Aging and table size: Bridge other_config overrides Open_vSwitch's.
        for (name, b) in &netdev_bridges {
            if !self.bridges.contains_key(name) {
                vlog::info("bridge", format!("bridge {name}: added"));
                let of = Arc::new(OpenFlowBridge::empty(name));
                let ex = self.dp.executor();
                of.set_meters(self.dp.meters());
                of.set_conntrack(self.ct.handle.ct.clone());
                of.set_executor(Arc::new(move |pkt, in_port, acts| {
                    ex.execute(pkt, in_port, acts).map_err(|e| e.to_string())
                }));
                let (ctrls, secure, versions) = remotes(b, replica);
                let connmgr = crate::connmgr::ConnMgr::new(of.clone(), &ctrls, secure, versions);
                self.bridges.insert(
                    name.clone(),
                    BridgeState {
                        uuid: b.uuid,
                        normal: of.clone(),
                        openflow: of,
                        connmgr,
                        ifaces: BTreeMap::new(),
                        port_cfg: BTreeMap::new(),
                        datapath_id: String::new(),
                    },
                );
            }
            let oc = |k: &str, what: &str| {
                parse_num::<u64>(&b.other_config, k, what, true)
                    .or_else(|| parse_num::<u64>(&root.other_config, k, what, false))
            };
            let aging =
                oc("mac-aging-time", "seconds").unwrap_or(crate::ofproto::DEFAULT_MAC_AGING);
            let size = oc("mac-table-size", "a number of entries")
                .map(|v| v as usize)
                .unwrap_or(crate::ofproto::DEFAULT_MAC_TABLE_SIZE);
            if let Some(st) = self.bridges.get_mut(name) {
                st.uuid = b.uuid;
                st.normal.set_mac_config(aging.max(1), size.max(1));
                let (ctrls, secure, versions) = remotes(b, replica);
                st.connmgr.configure(&ctrls, secure, versions);
            }
            self.reconfigure_ports(name, b, replica, &mut txn);
        }
        self.update_patch_peers();

        // Daemon-wide columns.
        let get = |c: &str| replica.get("Open_vSwitch", &root.uuid, c);
        if get("datapath_types").map(Datum::strings) != Some(vec!["netdev".to_string()]) {
            txn.datapath_types(root.uuid, &["netdev"]);
        }
        let mut types: Vec<&str> = IFACE_TYPES.to_vec();
        types.extend(self.dpdk.iface_types());
        types.sort_unstable();
        if get("iface_types").map(Datum::strings)
            != Some(types.iter().map(|s| s.to_string()).collect())
        {
            txn.iface_types(root.uuid, &types);
        }
        if get("ovs_version").and_then(Datum::as_str) != Some(OVS_VERSION) {
            txn.ovs_version(root.uuid, OVS_VERSION);
        }
        let dpdk_up = self.dpdk.initialized();
        if get("dpdk_initialized").and_then(Datum::as_bool) != Some(dpdk_up) {
            txn.set(
                "Open_vSwitch",
                root.uuid,
                "dpdk_initialized",
                Datum::from(dpdk_up),
            );
        }
        if let Some(v) = self.dpdk.version() {
            if get("dpdk_version").and_then(Datum::as_str) != Some(v.as_str()) {
                txn.set(
                    "Open_vSwitch",
                    root.uuid,
                    "dpdk_version",
                    Datum::optional(Some(v.as_str())),
                );
            }
        }
        if root.cur_cfg != root.next_cfg {
            txn.cur_cfg(root.uuid, root.next_cfg);
        }
        Some(txn)
    }

    fn reconfigure_ports(
        &mut self,
        br: &str,
        b: &ovsdb::vswitch::Bridge,
        replica: &Replica,
        txn: &mut StatusTxn,
    ) {
        // Desired interfaces: name -> (Interface, Port).
        let mut want = BTreeMap::new();
        let mut port_cfg = BTreeMap::new();
        for pu in &b.ports {
            let Some(p) = replica.port(pu) else { continue };
            port_cfg.insert(
                p.name.clone(),
                (p.tag, p.trunks.clone(), p.vlan_mode.clone()),
            );
            for iu in &p.interfaces {
                if let Some(i) = replica.interface(iu) {
                    want.insert(i.name.clone(), (i, p.clone()));
                }
            }
        }
        let sig = |i: &ovsdb::vswitch::Interface| format!("{}|{:?}", i.type_, i.options);
        // Removed or changed interfaces go first (their names and numbers
        // may be reused).
        let cur: Vec<(String, String)> = self.bridges[br]
            .ifaces
            .iter()
            .map(|(n, s)| (n.clone(), format!("{}|{:?}", s.kind, s.options)))
            .collect();
        for (name, s) in cur {
            match want.get(&name) {
                Some((i, _)) if sig(i) == s => {}
                _ => self.del_iface(br, &name),
            }
        }
        // Interfaces of other bridges cannot be added twice.
        let elsewhere: BTreeSet<String> = self
            .bridges
            .iter()
            .filter(|(n, _)| n.as_str() != br)
            .flat_map(|(_, s)| s.ifaces.keys().cloned())
            .collect();
        // VLAN settings first: new ports are routed (with them) before they
        // are polled.
        self.bridges.get_mut(br).expect("bridge exists").port_cfg = port_cfg;
        let now = Instant::now();
        for (name, (i, p)) in &want {
            let affinity = i.other_config.get("pmd-rxq-affinity").cloned();
            if let Some(st) = self.bridges[br].ifaces.get(name) {
                // Present: apply what can change in place.
                let (odp, mtu_changed, aff_changed) = (
                    st.odp_port,
                    st.mtu_request != i.mtu_request,
                    st.affinity != affinity,
                );
                if mtu_changed {
                    if let Some(m) = i.mtu_request {
                        if let Err(e) = st.netdev.set_mtu(m as u32) {
                            vlog::warn("bridge", format!("{name}: setting MTU failed ({e})"));
                        }
                    }
                }
                if aff_changed {
                    match self.dp.set_rxq_affinity(odp, affinity.as_deref()) {
                        Ok(w) => w.into_iter().for_each(|w| vlog::warn("dpif_netdev", w)),
                        Err(e) => vlog::warn("dpif_netdev", format!("{name}: {e}")),
                    }
                }
                let bs = self.bridges.get_mut(br).expect("bridge exists");
                let st = bs.ifaces.get_mut(name).expect("iface exists");
                st.mtu_request = i.mtu_request;
                st.affinity = affinity;
                st.port_name = p.name.clone();
                iface_result(txn, replica, i.uuid, st.ofport as i64, None);
                continue;
            }
            let s = sig(i);
            if let Some(f) = self.failed.get(&i.uuid) {
                if f.sig == s && now.duration_since(f.tried) < STATS_INTERVAL {
                    iface_result(txn, replica, i.uuid, -1, Some(&f.error));
                    continue;
                }
            }
            let result = if elsewhere.contains(name) {
                Err(format!("{name}: interface is already on another bridge"))
            } else {
                self.add_iface(br, i, &p.name, affinity)
            };
            match result {
                Ok(ofport) => {
                    self.failed.remove(&i.uuid);
                    self.fresh.insert(i.uuid);
                    iface_result(txn, replica, i.uuid, ofport as i64, None);
                }
                Err(e) => {
                    let repeat = self
                        .failed
                        .get(&i.uuid)
                        .is_some_and(|f| f.error == e && f.sig == s);
                    if !repeat {
                        vlog::warn("bridge", format!("could not add interface {name}: {e}"));
                    }
                    self.failed.insert(
                        i.uuid,
                        Failed {
                            sig: s,
                            error: e.clone(),
                            tried: now,
                        },
                    );
                    iface_result(txn, replica, i.uuid, -1, Some(&e));
                }
            }
        }
        let wanted_uuids: BTreeSet<Uuid> = want.values().map(|(i, _)| i.uuid).collect();
        self.failed
            .retain(|u, _| wanted_uuids.contains(u) || replica.interface(u).is_some());

        // Forwarding state and routing of misses.
        let bs = self.bridges.get_mut(br).expect("bridge exists");
        let ports: Vec<BridgePort> = bs
            .ifaces
            .iter()
            .map(|(name, s)| bridge_port(bs, name, &s.port_name, s.odp_port, s.ofport))
            .collect();
        let odps: Vec<u32> = ports
            .iter()
            .map(|p| p.odp_port)
            .filter(|&o| !crate::patch::is_patch_odp(o))
            .collect();
        bs.normal.set_ports(ports);
        bs.openflow.set_of_ports(
            bs.ifaces
                .iter()
                .map(|(name, s)| OfPort {
                    ofport: s.ofport,
                    odp_port: s.odp_port,
                    name: name.clone(),
                    netdev: s.netdev.clone(),
                    config: 0,
                })
                .collect(),
        );
        self.dispatcher.set_bridge(&odps, bs.normal.clone());

        // Datapath ID: other_config:datapath-id, else from the LOCAL port's MAC.
        let dpid = b
            .other_config
            .get("datapath-id")
            .filter(|d| d.len() == 16 && d.chars().all(|c| c.is_ascii_hexdigit()))
            .cloned()
            .or_else(|| {
                bs.ifaces
                    .values()
                    .find(|s| s.ofport == OFPP_LOCAL)
                    .map(|s| format!("0000{}", mac_str(s.netdev.mac()).replace(':', "")))
            })
            .unwrap_or_else(|| "0000000000000000".into());
        bs.openflow.datapath_id.store(
            u64::from_str_radix(&dpid, 16).unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        if bs.datapath_id != dpid {
            vlog::info("bridge", format!("bridge {br}: using datapath ID {dpid}"));
            bs.datapath_id = dpid.clone();
        }
        if replica
            .get("Bridge", &b.uuid, "datapath_id")
            .and_then(Datum::as_str)
            != Some(&dpid)
        {
            txn.bridge_datapath_id(b.uuid, Some(&dpid));
        }
        let st = replica
            .get("Bridge", &b.uuid, "status")
            .map(Datum::string_map)
            .unwrap_or_default();
        if st.contains_key("error") {
            let mut st = st;
            st.remove("error");
            txn.set("Bridge", b.uuid, "status", Datum::from(&st));
        }
    }

    /// Opens and adds one interface; returns its OpenFlow port number.
    fn add_iface(
        &mut self,
        br: &str,
        i: &ovsdb::vswitch::Interface,
        port_name: &str,
        affinity: Option<String>,
    ) -> Result<u32, String> {
        let used: BTreeSet<u32> = self.bridges[br].ifaces.values().map(|s| s.ofport).collect();
        let ofport = if i.name == br {
            OFPP_LOCAL
        } else {
            match i.ofport_request {
                Some(r) if (1..0xff00).contains(&r) && !used.contains(&(r as u32)) => r as u32,
                _ => (1..).find(|p| !used.contains(p)).unwrap_or(1),
            }
        };
        let kind = i.type_.as_str();
        if kind == "dpdk" {
            self.dpdk.check_open(&i.name)?;
        }
        if kind == "patch" {
            crate::patch::check_options(&i.name, &i.options)?;
            return Ok(self.add_patch(br, i, port_name, ofport));
        }
        let netdev = netdev::open(&i.name, kind, &i.options).map_err(|e| e.to_string())?;
        if let Some(m) = i.mtu_request {
            if let Err(e) = netdev.set_mtu(m as u32) {
                vlog::warn("bridge", format!("{}: setting MTU failed ({e})", i.name));
            }
        }
        let odp = self.free_odp_port();
        // Misses from the port go to this bridge from its first packet on
        // (a port is polled as soon as it is in the datapath).
        {
            let bs = &self.bridges[br];
            let mut ports: Vec<BridgePort> = bs
                .ifaces
                .iter()
                .map(|(n, s)| bridge_port(bs, n, &s.port_name, s.odp_port, s.ofport))
                .collect();
            ports.push(bridge_port(bs, &i.name, port_name, odp, ofport));
            bs.normal.set_ports(ports);
            self.dispatcher.set_bridge(&[odp], bs.normal.clone());
        }
        let warns = self
            .dp
            .add_port(odp, netdev.clone(), affinity.as_deref())
            .map_err(|e| {
                self.dispatcher.remove_port(odp);
                format!("could not add network device {} to ofproto ({e})", i.name)
            })?;
        warns.into_iter().for_each(|w| vlog::warn("dpif_netdev", w));
        vlog::info(
            "bridge",
            format!("bridge {br}: added interface {} on port {ofport}", i.name),
        );
        let bs = self.bridges.get_mut(br).expect("bridge exists");
        bs.ifaces.insert(
            i.name.clone(),
            IfaceState {
                uuid: i.uuid,
                port_name: port_name.to_string(),
                kind: i.type_.clone(),
                options: i.options.clone(),
                mtu_request: i.mtu_request,
                affinity,
                odp_port: odp,
                ofport,
                netdev,
            },
        );
        Ok(ofport)
    }

    /// Adds patch interface `i` (options already checked) as OpenFlow port
    /// `ofport`: no datapath port; its peer is resolved by
    /// [`Switch::update_patch_peers`].
    fn add_patch(
        &mut self,
        br: &str,
        i: &ovsdb::vswitch::Interface,
        port_name: &str,
        ofport: u32,
    ) -> u32 {
        vlog::info(
            "bridge",
            format!("bridge {br}: added interface {} on port {ofport}", i.name),
        );
        let bs = self.bridges.get_mut(br).expect("bridge exists");
        bs.ifaces.insert(
            i.name.clone(),
            IfaceState {
                uuid: i.uuid,
                port_name: port_name.to_string(),
                kind: i.type_.clone(),
                options: i.options.clone(),
                mtu_request: i.mtu_request,
                affinity: None,
                odp_port: crate::patch::PATCH_ODP_BASE + ofport,
                ofport,
                netdev: Arc::new(crate::patch::PatchNetdev::new(&i.name)),
            },
        );
        ofport
    }

    /// Pairs every patch interface with its peer: the patch interface named
    /// by its `options:peer`, in any bridge, whose own `options:peer` names
    /// it back (OVS `ofport_update_peer()`); a patch interface without such
    /// a peer drops what is output to it.
    pub fn update_patch_peers(&mut self) {
        let mut by_name: HashMap<&str, (&str, u32, Option<&str>)> = HashMap::new();
        for (bn, b) in &self.bridges {
            for (n, s) in &b.ifaces {
                if s.kind == "patch" {
                    let peer = s.options.get("peer").map(String::as_str);
                    by_name.insert(n.as_str(), (bn.as_str(), s.ofport, peer));
                }
            }
        }
        for b in self.bridges.values() {
            let mut peers = HashMap::new();
            for (n, s) in &b.ifaces {
                if s.kind != "patch" {
                    continue;
                }
                let peer = s
                    .options
                    .get("peer")
                    .and_then(|p| by_name.get(p.as_str()))
                    .filter(|(.., back)| *back == Some(n.as_str()))
                    .and_then(|(pbr, pof, _)| {
                        self.bridges.get(*pbr).map(|pb| (pb.openflow.clone(), *pof))
                    });
                peers.insert(s.ofport, peer);
            }
            b.openflow.set_patch_peers(peers);
        }
    }

    /// Status of every interface (`link_state`, `mac_in_use`, `mtu`,
    /// `statistics`, `status`) into `txn`: all of them when `all`, else only
    /// those added since the last call.
    pub fn iface_status(&mut self, txn: &mut StatusTxn, all: bool) {
        let fresh = std::mem::take(&mut self.fresh);
        for bs in self.bridges.values() {
            for s in bs.ifaces.values() {
                if !all && !fresh.contains(&s.uuid) {
                    continue;
                }
                let n = &s.netdev;
                let st = n.stats();
                let stats: BTreeMap<String, i64> = [
                    ("rx_packets", st.rx_packets),
                    ("rx_bytes", st.rx_bytes),
                    ("rx_dropped", st.rx_dropped),
                    ("rx_errors", st.rx_errors),
                    ("tx_packets", st.tx_packets),
                    ("tx_bytes", st.tx_bytes),
                    ("tx_dropped", st.tx_dropped),
                    ("tx_errors", st.tx_errors),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v as i64))
                .collect();
                let mut status = n.status();
                status
                    .entry("driver_name".into())
                    .or_insert_with(|| n.kind().to_string());
                txn.interface_link_state(s.uuid, Some(&n.link_state().to_string()))
                    .interface_mac_in_use(s.uuid, Some(&mac_str(n.mac())))
                    .interface_mtu(s.uuid, Some(n.mtu() as i64))
                    .interface_statistics(s.uuid, &stats)
                    .interface_status(s.uuid, &status);
            }
        }
    }

    /// Runs every bridge's connection manager (fail-open), then writes into
    /// `txn` the status of every `Controller` row of a netdev bridge whose
    /// `is_connected`, `role` or `status` changed since it was last written
    /// (OVS `refresh_controller_status()`); with `all`, also rows whose only
    /// change is the `sec_since_*` counters.
    pub fn controller_status(&mut self, replica: &Replica, txn: &mut StatusTxn, all: bool) {
        let strip = |m: &BTreeMap<String, String>| {
            let mut m = m.clone();
            m.retain(|k, _| !k.starts_with("sec_since_"));
            m
        };
        let mut seen = BTreeSet::new();
        for (name, bs) in &self.bridges {
            bs.connmgr.run();
            let Some(b) = replica.bridge_by_name(name) else {
                continue;
            };
            for u in &b.controller {
                let Some(c) = replica.controller(u) else {
                    continue;
                };
                seen.insert(*u);
                let now = match bs.connmgr.controller_info(&c.target) {
                    Some(i) => (i.is_connected, Some(i.role.to_string()), i.status),
                    None => (false, None, BTreeMap::new()),
                };
                let changed = match self.ctl_written.get(u) {
                    None => true,
                    Some(w) if all => *w != now,
                    Some(w) => w.0 != now.0 || w.1 != now.1 || strip(&w.2) != strip(&now.2),
                };
                if changed {
                    txn.controller_status(*u, now.0, now.1.as_deref(), &now.2);
                    self.ctl_written.insert(*u, now);
                }
            }
        }
        self.ctl_written.retain(|u, _| seen.contains(u));
    }

    /// Forgets which controller status was written (after a failed
    /// transaction or a database reconnect), so that it is written again.
    pub fn controller_status_lost(&mut self) {
        self.ctl_written.clear();
    }

    /// The bridge owning datapath port `odp`, and that interface.
    pub fn iface_by_odp(&self, odp: u32) -> Option<(&str, &str, &IfaceState)> {
        self.bridges.iter().find_map(|(bn, b)| {
            b.ifaces
                .iter()
                .find(|(_, s)| s.odp_port == odp)
                .map(|(n, s)| (bn.as_str(), n.as_str(), s))
        })
    }

    /// One revalidation pass (OVS revalidator threads): ages MAC tables, then
    /// dumps every megaflow and deletes those idle longer than `max-idle`
    /// and those whose actions a fresh translation no longer gives; flows
    /// that saw traffic keep their source MAC alive. Returns the number of
    /// flows deleted.
    pub fn revalidate(&mut self) -> usize {
        let mut state = std::mem::take(&mut self.reval);
        let n = self.revalidate_with(&mut state.flows);
        self.reval = state;
        n
    }

    fn revalidate_with(
        &mut self,
        last_packets: &mut HashMap<dp_core::matches::Ufid, (u64, u64)>,
    ) -> usize {
        for b in self.bridges.values() {
            b.normal.run();
        }
        let Ok(dump) = self.dp.flow_dump() else {
            return 0;
        };
        let now = self.dp.now_ns();
        let max_idle = self.max_idle_ms * 1_000_000;
        let mut dead = Vec::new();
        let mut seen = HashMap::new();
        for (_, flows) in &dump {
            for f in flows {
                let in_port = f.m.key.get(fields::IN_PORT) as u32;
                let prev = last_packets.get(&f.ufid).copied();
                let first = prev.map_or(now, |p| p.1);
                let used = f.stats.used_ns.unwrap_or(first).max(first.min(now));
                let active = prev.is_some_and(|p| f.stats.packets > p.0);
                let e = seen.entry(f.ufid).or_insert((0u64, first));
                e.0 += f.stats.packets;
                let bridge = self.dispatcher.bridge_of(in_port);
                let keep = match &bridge {
                    None => false,
                    Some(b) => {
                        if active {
                            b.touch(&f.m.key);
                        }
                        now.saturating_sub(used) <= max_idle
                            && b.revalidate_flow(&f.ufid, &f.m.key, &f.m.mask, &f.actions, &f.stats)
                    }
                };
                if !keep {
                    dead.push(f.ufid);
                }
            }
        }
        *last_packets = seen;
        dead.sort();
        dead.dedup();
        for u in &dead {
            let _ = self.dp.flow_del(u);
        }
        self.coverage.add("revalidate_missed_dp_flow", 0);
        self.coverage.add("udpif_flow_del", dead.len() as u64);
        dead.len()
    }
}

/// What the revalidator remembers between passes: per flow, the packet
/// count at the last pass and when it was first seen (datapath ns).
#[derive(Default)]
pub struct RevalidatorState {
    flows: HashMap<dp_core::matches::Ufid, (u64, u64)>,
}

impl Default for Switch {
    fn default() -> Self {
        Switch::new()
    }
}

/// A bridge's OpenFlow remotes as OVS `bridge_configure_remotes()` reads
/// them: its `Controller` rows, whether `fail_mode` is `secure`, and the
/// versions `protocols` allows.
fn remotes(
    b: &ovsdb::vswitch::Bridge,
    replica: &Replica,
) -> (Vec<crate::connmgr::ControllerCfg>, bool, Vec<u8>) {
    let ctrls = b
        .controller
        .iter()
        .filter_map(|u| replica.controller(u))
        .map(|c| crate::connmgr::ControllerCfg::from_row(&c))
        .collect();
    let secure = b.fail_mode.as_deref() == Some("secure");
    (ctrls, secure, crate::ofconn::allowed_versions(&b.protocols))
}

/// The forwarding view of interface `name` of port `port_name` on `bs`.
fn bridge_port(bs: &BridgeState, name: &str, port_name: &str, odp: u32, ofport: u32) -> BridgePort {
    let (tag, trunks, mode) = bs.port_cfg.get(port_name).cloned().unwrap_or_default();
    BridgePort {
        odp_port: odp,
        ofport,
        name: name.to_owned(),
        tag: tag.map(|t| t as u16),
        trunks: trunks.into_iter().map(|t| t as u16).collect(),
        vlan_mode: mode,
    }
}

/// Writes `ofport` and `error` of interface `iu` when they differ from the
/// replica.
fn iface_result(
    txn: &mut StatusTxn,
    replica: &Replica,
    iu: Uuid,
    ofport: i64,
    error: Option<&str>,
) {
    let cur_of = replica
        .get("Interface", &iu, "ofport")
        .and_then(Datum::as_integer);
    if cur_of != Some(ofport) {
        txn.interface_ofport(iu, Some(ofport));
    }
    let cur_err = replica
        .get("Interface", &iu, "error")
        .and_then(Datum::as_str);
    if cur_err != error {
        txn.interface_error(iu, error);
    }
}
