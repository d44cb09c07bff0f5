//! The `NORMAL` action: OVS's MAC-learning L2 switch with 802.1Q VLANs, as a
//! sans-IO translator from a datapath flow key to datapath actions plus a
//! megaflow mask.
//!
//! # Model
//!
//! A [`NormalBridge`] holds a bridge's ports (OpenFlow number, datapath
//! number, name, [`PortVlan`]) and its MAC learning table
//! ([`mac_learning::MacLearning`]). [`NormalBridge::xlate`] does what OVS's
//! `xlate_actions()` does for the single rule `priority=0 actions=NORMAL`
//! (`ofproto/ofproto-dpif-xlate.c`, `xlate_wc_init()` + `xlate_normal()`):
//!
//! 1. The mask starts with the fields OVS always examines: `in_port`,
//!    `recirc_id`, `eth_type`, and `nw_frag` for IPv4/IPv6 (so dumps read
//!    `recirc_id(0),in_port(1),eth(src=..,dst=..),eth_type(0x0800),ipv4(frag=no)`).
//! 2. `eth_src`, `eth_dst`, the outer VLAN TCI's VID and CFI (presence)
//!    bits and the outer TPID are un-wildcarded (OVS's ODP mask always
//!    carries the TPID of a tagged flow as an exact outer Ethertype).
//! 3. Unknown input port, a VLAN Ethertype without a tag, a VID the input
//!    port does not accept (`input_vid_is_valid()`) or a reserved multicast
//!    destination (STP/LACP/LLDP/pause/CDP..., `eth_addr_is_reserved()`;
//!    OVS's default `forward-bpdu=false`) drop the packet (empty actions)
//!    with the mask built so far.
//! 4. Broadcast ARP un-wildcards the ARP opcode, and for requests the
//!    sender/target IPs (`is_gratuitous_arp()`, as OVS always evaluates it).
//! 5. When `learn`, the unicast source MAC is learned on the input port in
//!    the packet's VLAN.
//! 6. A learned unicast destination in the same VLAN is output to its port
//!    (dropped if that is the input port); anything else is flooded to every
//!    other port carrying the VLAN (`xlate_normal_flood()`).
//! 7. Each output gets the VLAN header of `xvlan_output_translate()`;
//!    `push_vlan`/`pop_vlan` are emitted only when the header changes
//!    between consecutive outputs (`commit_vlan_action()`), and any `pop_vlan`
//!    makes the mask match the input's whole TPID and TCI (PCP included),
//!    exactly as OVS. One deliberate deviation: a priority-tagged frame in
//!    bridge VLAN 0 also matches its PCP, because the PCP decides whether
//!    the tag survives (OVS leaves it wildcarded, a megaflow soundness bug).
//!
//! Flood order: OVS walks its bundles in hash order; rvs outputs first the
//! ports that take the frame with its current encapsulation, then the
//! others, each by OpenFlow port number, so at most one VLAN change is
//! committed per flood.
//!
//! The MAC table is not part of the megaflow: [`NormalBridge::mac_seq`]
//! changes whenever the table (or the port configuration) changes, and the
//! daemon then revalidates its megaflows with `learn = false`, as OVS's
//! revalidators do on `need_revalidate`.
//!
//! # Keeping MACs alive
//!
//! OVS refreshes the MAC entries of flows that are handled entirely in the
//! datapath from the revalidator: when a megaflow's statistics show new
//! packets, its `XC_NORMAL` xlate-cache entry re-runs the learning step
//! (`xlate_push_stats_entry()` -> `xlate_mac_learning_update()`). The daemon
//! gets the same effect by calling [`NormalBridge::xlate`] with
//! `learn = true` for megaflows that were used since the last dump, and
//! `learn = false` otherwise.

pub mod mac_learning;
pub mod vlan;
mod xlate;

#[cfg(test)]
mod tests;

pub use mac_learning::{FdbRow, FdbStats, MAC_DEFAULT_MAX, MAC_ENTRY_DEFAULT_IDLE_TIME};
pub use vlan::{PortVlan, VlanMode};
pub use xlate::eth_addr_is_reserved;

use dp_core::actions::OdpAction;
use dp_core::fastpath::Upcall;
use dp_core::flow::{u64_to_mac, Flow};
use mac_learning::{secs, MacLearning};
use parking_lot::RwLock;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use vlan::BundleVlan;
use xlate::{PortState, PortTable};

/// OpenFlow port number of the bridge's local port (`OFPP_LOCAL`), printed
/// as `LOCAL` by `fdb/show`.
pub const OFPP_LOCAL: u32 = 0xfffe;

/// Result of translating one flow through NORMAL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xlate {
    /// Datapath actions, in order; empty means drop.
    pub actions: Vec<OdpAction>,
    /// Megaflow mask: exactly the bits of the flow that the translation
    /// consulted (same layout as [`Flow`], set bits = matched).
    pub mask: Flow,
}

impl From<Xlate> for Upcall {
    /// The datapath's upcall answer: install a megaflow with this mask.
    fn from(x: Xlate) -> Upcall {
        Upcall {
            actions: x.actions,
            mask: Some(x.mask),
            ufid: None,
        }
    }
}

/// One bridge running NORMAL: its ports and MAC learning table. `Send +
/// Sync`; every method takes `&self` (interior `parking_lot` locks; the port
/// table lock is always taken before the MAC table lock).
#[derive(Debug)]
pub struct NormalBridge {
    name: String,
    ports: RwLock<PortTable>,
    ml: RwLock<MacLearning>,
    seq: AtomicU64,
}

impl NormalBridge {
    /// A bridge named `name` (used in `fdb/stats-show`) with no ports and
    /// OVS's default MAC table settings (300 s aging, 8192 entries).
    pub fn new(name: &str) -> Self {
        NormalBridge {
            name: name.to_string(),
            ports: RwLock::new(PortTable::default()),
            ml: RwLock::new(MacLearning::new()),
            seq: AtomicU64::new(0),
        }
    }

    /// The bridge name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn bump(&self) {
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// `other_config:mac-aging-time`, seconds (default 300; clamped to
    /// 15..=3600 as OVS's `normalize_idle_time()`). Existing entries keep
    /// their age (their expiry moves by the difference).
    pub fn set_mac_aging(&self, secs: u32) {
        self.ml.write().set_idle_time(secs);
    }

    /// `other_config:mac-table-size` (default 8192; 0 means the default).
    /// A table above the new limit shrinks, least recently used first, at the
    /// next [`NormalBridge::run_aging`] (as OVS's `mac_learning_run()`).
    pub fn set_mac_table_size(&self, n: usize) {
        self.ml.write().set_max_entries(n);
    }

    /// Adds port `ofport` (OpenFlow number; datapath number `odp_port`) or
    /// updates it. A change of its effective VLAN configuration forgets the
    /// MACs learned on it (OVS `bundle_set()` -> `bundle_flush_macs()`).
    /// Bumps [`NormalBridge::mac_seq`] (flooding sets change).
    pub fn set_port(&self, ofport: u32, odp_port: u32, name: &str, vlan: PortVlan) {
        let bv = BundleVlan::resolve(&vlan);
        let mut ports = self.ports.write();
        if let Some(old) = ports.by_of.get(&ofport) {
            let old_odp = old.odp_port;
            if old.vlan != bv {
                self.ml.write().flush_port(ofport);
            }
            if ports.of_by_odp.get(&old_odp) == Some(&ofport) {
                ports.of_by_odp.remove(&old_odp);
            }
        }
        // A datapath port now used by this OpenFlow port stops belonging to
        // whichever port had it.
        if let Some(prev) = ports.of_by_odp.insert(odp_port, ofport) {
            if prev != ofport {
                ports.by_of.remove(&prev);
                self.ml.write().flush_port(prev);
            }
        }
        ports.by_of.insert(
            ofport,
            PortState {
                odp_port,
                name: name.to_string(),
                cfg: vlan,
                vlan: bv,
            },
        );
        self.bump();
    }

    /// Whether NORMAL floods to port `ofport` (false for a port with
    /// OFPPC_NO_FLOOD, OVS `bundle_update()` -> `bundle->floodable`);
    /// learned unicast still reaches it. Bumps [`NormalBridge::mac_seq`].
    pub fn set_floodable(&self, ofport: u32, floodable: bool) {
        let mut ports = self.ports.write();
        let changed = if floodable {
            ports.no_flood.remove(&ofport)
        } else {
            ports.no_flood.insert(ofport)
        };
        if changed {
            self.bump();
        }
    }

    /// Removes port `ofport` and forgets the MACs learned on it (OVS
    /// `bundle_destroy()` -> `bundle_flush_macs()`). Bumps
    /// [`NormalBridge::mac_seq`].
    pub fn remove_port(&self, ofport: u32) {
        let mut ports = self.ports.write();
        if let Some(p) = ports.by_of.remove(&ofport) {
            if ports.of_by_odp.get(&p.odp_port) == Some(&ofport) {
                ports.of_by_odp.remove(&p.odp_port);
            }
            self.ml.write().flush_port(ofport);
            self.bump();
        }
    }

    /// The configured ports as `(ofport, odp_port, name, vlan)`, by OpenFlow
    /// port number.
    pub fn ports(&self) -> Vec<(u32, u32, String, PortVlan)> {
        self.ports
            .read()
            .by_of
            .iter()
            .map(|(&of, p)| (of, p.odp_port, p.name.clone(), p.cfg.clone()))
            .collect()
    }

    /// Translates a packet whose datapath flow key is `flow` (`in_port` =
    /// datapath port number) through NORMAL at monotonic time `now_ns`
    /// (nanoseconds; the MAC table works in whole seconds). `learn`: update
    /// the MAC table (true for upcalls and for revalidating megaflows that
    /// saw packets, false for pure revalidation). See the module
    /// documentation for the semantics. Never fails today; `Err` is reserved
    /// for translation errors.
    pub fn xlate(&self, flow: &Flow, now_ns: u64, learn: bool) -> Result<Xlate, String> {
        let ports = self.ports.read();
        let (x, changed) = xlate::xlate_normal(&ports, &self.ml, flow, now_ns, learn);
        if changed {
            self.bump();
        }
        Ok(x)
    }

    /// A counter that changes whenever the MAC table changes (new entry,
    /// move, expiry, eviction, flush) or the port configuration changes: the
    /// daemon revalidates its megaflows when it differs from the value it
    /// last saw (OVS `need_revalidate`). A mere refresh of an entry does not
    /// change it.
    pub fn mac_seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Expires aged entries and shrinks an over-full table
    /// (`mac_learning_run()`); call periodically (OVS runs it every main-loop
    /// iteration; once a second is enough). `now_ns` is the monotonic clock
    /// of [`NormalBridge::xlate`].
    pub fn run_aging(&self, now_ns: u64) {
        if self.ml.write().run(secs(now_ns)) {
            self.bump();
        }
    }

    /// The port a unicast `mac` was learned on in `vlan`, if any.
    pub fn fdb_lookup(&self, mac: [u8; 6], vlan: u16) -> Option<u32> {
        self.ml.read().lookup(dp_core::flow::mac_to_u64(mac), vlan)
    }

    /// The MAC table rows, least recently refreshed first, ages at `now_ns`.
    pub fn fdb_rows(&self, now_ns: u64) -> Vec<FdbRow> {
        self.ml.read().rows(secs(now_ns))
    }

    /// `ovs-appctl fdb/show BRIDGE` text of OVS 3.x
    /// (`ofproto/ofproto-dpif.c` `ofproto_unixctl_fdb_show()`): the header
    /// `" port  VLAN  MAC                Age\n"`, then one line per entry,
    /// least recently refreshed first, formatted `"%5s  %4d  MAC  %3d\n"`,
    /// where the port is the OpenFlow port number (`ofputil_port_to_string()`
    /// without a port map), `LOCAL` for the local port, and the age is in
    /// seconds.
    pub fn fdb_show(&self, now_ns: u64) -> String {
        let mut s = String::from(" port  VLAN  MAC                Age\n");
        for r in self.fdb_rows(now_ns) {
            let port = if r.port == OFPP_LOCAL {
                "LOCAL".to_string()
            } else {
                r.port.to_string()
            };
            let m = u64_to_mac(r.mac);
            let _ = writeln!(
                s,
                "{port:>5}  {:>4}  {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}  {:>3}",
                r.vlan, m[0], m[1], m[2], m[3], m[4], m[5], r.age
            );
        }
        s
    }

    /// `ovs-appctl fdb/flush BRIDGE`: forgets every MAC
    /// (`mac_learning_flush()`); bumps [`NormalBridge::mac_seq`] if the table
    /// was not empty.
    pub fn fdb_flush(&self) {
        if self.ml.write().flush() {
            self.bump();
        }
    }

    /// The `fdb/stats-show` counters.
    pub fn fdb_stats(&self) -> FdbStats {
        self.ml.read().stats()
    }

    /// `ovs-appctl fdb/stats-show BRIDGE` text (`ofproto-dpif.c`
    /// `ofproto_unixctl_fdb_stats_show()`).
    pub fn fdb_stats_show(&self) -> String {
        let st = self.fdb_stats();
        let mut s = String::new();
        let _ = writeln!(s, "Statistics for bridge \"{}\":", self.name);
        let _ = writeln!(
            s,
            "  Current/maximum MAC entries in the table: {}/{}",
            st.current, st.max
        );
        let _ = writeln!(
            s,
            "  Total number of learned MAC entries     : {}",
            st.learned
        );
        let _ = writeln!(
            s,
            "  Total number of expired MAC entries     : {}",
            st.expired
        );
        let _ = writeln!(
            s,
            "  Total number of evicted MAC entries     : {}",
            st.evicted
        );
        let _ = writeln!(
            s,
            "  Total number of port moved MAC entries  : {}",
            st.moved
        );
        s
    }
}
