//! The switching layer between bridges and the one userspace datapath.
//!
//! As in OVS, every `datapath_type=netdev` bridge shares one datapath
//! (`netdev@ovs-netdev`); a miss is handed to the bridge that owns its input
//! port. [`Dispatcher`] is the datapath's [`UpcallProvider`]: it maps the
//! datapath port number to the bridge's [`BridgeNormal`], the bridge's
//! forwarding logic. [`Normal`] implements it with ofproto's NORMAL action
//! (MAC learning, VLANs); another pipeline (the OpenFlow tables) can replace
//! it per bridge through [`Dispatcher::set_bridge`] without touching the rest
//! of the daemon.

use dp_core::actions::OdpAction;
use dp_core::fastpath::Upcall;
use dp_core::flow::{fields, Flow};
use dp_core::packet::DpPacket;
use ofproto::normal::{
    NormalBridge, PortVlan, VlanMode, MAC_DEFAULT_MAX, MAC_ENTRY_DEFAULT_IDLE_TIME,
};
use parking_lot::RwLock;
use pmd::UpcallProvider;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// OpenFlow port number of a bridge's LOCAL port (`OFPP_LOCAL`).
pub const OFPP_LOCAL: u32 = 65534;

/// Default `other_config:mac-aging-time`, seconds (OVS `MAC_ENTRY_DEFAULT_IDLE_TIME`).
pub const DEFAULT_MAC_AGING: u64 = MAC_ENTRY_DEFAULT_IDLE_TIME as u64;
/// Default `other_config:mac-table-size` (OVS `MAC_DEFAULT_MAX`).
pub const DEFAULT_MAC_TABLE_SIZE: usize = MAC_DEFAULT_MAX;

/// A bridge port as the forwarding logic sees it (from the `Port` and
/// `Interface` rows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgePort {
    /// Datapath port number.
    pub odp_port: u32,
    /// OpenFlow port number (`Interface.ofport`; 65534 for LOCAL).
    pub ofport: u32,
    /// Port name.
    pub name: String,
    /// `Port.tag` (access VLAN).
    pub tag: Option<u16>,
    /// `Port.trunks` (empty: all VLANs).
    pub trunks: Vec<u16>,
    /// `Port.vlan_mode`.
    pub vlan_mode: Option<String>,
}

/// A bridge's forwarding logic, called by [`Dispatcher`] from the datapath
/// threads (hence `&self` and `Send + Sync`).
pub trait BridgeNormal: Send + Sync {
    /// Translates a miss on one of the bridge's ports; may learn.
    fn upcall(&self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String>;
    /// Re-translates an installed flow's key without learning (revalidator):
    /// the actions the flow should have now, or `None` when it should not be
    /// cached any more.
    fn revalidate(&self, key: &Flow) -> Option<Vec<OdpAction>>;
    /// Revalidates one installed megaflow (key as installed, its mask and
    /// actions, and its cumulative statistics, TCP flags included): true
    /// to keep it. The
    /// default keeps it when [`BridgeNormal::revalidate`] gives the same
    /// actions; the OpenFlow pipeline also requires that the fresh mask is
    /// not wider than the installed one, and credits rule statistics.
    fn revalidate_flow(
        &self,
        ufid: &dp_core::matches::Ufid,
        key: &Flow,
        mask: &Flow,
        actions: &[OdpAction],
        stats: &dp_core::matches::FlowStats,
    ) -> bool {
        let _ = (ufid, mask, stats);
        self.revalidate(key).as_deref() == Some(actions)
    }
    /// Refreshes what an active flow keeps alive (the source MAC's age).
    fn touch(&self, key: &Flow);
    /// Replaces the port set.
    fn set_ports(&self, ports: Vec<BridgePort>);
    /// Sets `mac-aging-time` (seconds) and `mac-table-size`.
    fn set_mac_config(&self, aging_secs: u64, max_entries: usize);
    /// Expires old entries; returns true if the table changed.
    fn run(&self) -> bool;
    /// A counter bumped on every change of forwarding state (learned,
    /// moved, expired, flushed MACs; port changes).
    fn generation(&self) -> u64;
    /// The text of `ovs-appctl fdb/show BRIDGE`.
    fn fdb_show(&self) -> String;
    /// `fdb/flush`.
    fn fdb_flush(&self);
    /// Number of learned entries.
    fn fdb_len(&self) -> usize;

    /// Receives a packet sent up by a datapath `userspace(...)` action of
    /// this bridge's flows (OpenFlow `controller`). The default drops it.
    fn userspace(&self, action: &dp_core::actions::UserspaceAction, pkt: Box<DpPacket>) {
        let _ = (action, pkt);
    }
}

/// OVS's NORMAL action for one bridge: [`ofproto::normal::NormalBridge`]
/// (MAC learning with aging, VLAN access/trunk/native modes, megaflow masks
/// of exactly the fields consulted) behind [`BridgeNormal`]. Flood decisions
/// are cached like any other and revalidated when the MAC table changes, as
/// OVS does.
pub struct Normal {
    inner: NormalBridge,
    start: Instant,
}

impl Normal {
    /// NORMAL for bridge `name`, with no ports.
    pub fn new(name: &str) -> Normal {
        Normal {
            inner: NormalBridge::new(name),
            start: Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// `Port.vlan_mode` text to the NORMAL's mode; unknown or absent: OVS's
/// default rules (access if `tag` is set, else trunk).
fn vlan_mode(s: Option<&str>) -> Option<VlanMode> {
    match s? {
        "trunk" => Some(VlanMode::Trunk),
        "access" => Some(VlanMode::Access),
        "native-tagged" => Some(VlanMode::NativeTagged),
        "native-untagged" => Some(VlanMode::NativeUntagged),
        _ => None,
    }
}

impl BridgeNormal for Normal {
    fn upcall(&self, _pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        self.inner
            .xlate(flow, self.now_ns(), true)
            .map(Upcall::from)
    }

    fn revalidate(&self, key: &Flow) -> Option<Vec<OdpAction>> {
        self.inner
            .xlate(key, self.now_ns(), false)
            .ok()
            .map(|x| x.actions)
    }

    fn touch(&self, key: &Flow) {
        // An active flow keeps its source MAC alive, as OVS's revalidator
        // does from the flow's statistics. Unlike OVS it only refreshes an
        // entry that still exists, so `fdb/flush` is not undone by flows
        // that were active just before it: their next packet relearns.
        let in_port = key.get(fields::IN_PORT) as u32;
        let tci = key.get(fields::VLAN0_TCI) as u16;
        let vid = tci & dp_core::flow::VLAN_VID_MASK;
        let vlan = if tci & dp_core::flow::VLAN_CFI != 0 && vid != 0 {
            vid
        } else {
            self.inner
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
        if self.inner.fdb_lookup(src, vlan).is_some() {
            let _ = self.inner.xlate(key, self.now_ns(), true);
        }
    }

    fn set_ports(&self, ports: Vec<BridgePort>) {
        let current = self.inner.ports();
        for (ofport, ..) in &current {
            if !ports.iter().any(|p| p.ofport == *ofport) {
                self.inner.remove_port(*ofport);
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
                self.inner.set_port(p.ofport, p.odp_port, &p.name, vlan);
            }
        }
    }

    fn set_mac_config(&self, aging_secs: u64, max_entries: usize) {
        self.inner
            .set_mac_aging(aging_secs.min(u32::MAX as u64) as u32);
        self.inner.set_mac_table_size(max_entries);
    }

    fn run(&self) -> bool {
        let before = self.inner.mac_seq();
        self.inner.run_aging(self.now_ns());
        self.inner.mac_seq() != before
    }

    fn generation(&self) -> u64 {
        self.inner.mac_seq()
    }

    fn fdb_show(&self) -> String {
        self.inner.fdb_show(self.now_ns())
    }

    fn fdb_flush(&self) {
        self.inner.fdb_flush();
    }

    fn fdb_len(&self) -> usize {
        self.inner.fdb_stats().current
    }
}

/// The datapath's upcall provider: routes each miss to the bridge owning its
/// input port.
#[derive(Default)]
pub struct Dispatcher {
    by_port: RwLock<HashMap<u32, Arc<dyn BridgeNormal>>>,
}

impl Dispatcher {
    /// No bridges.
    pub fn new() -> Dispatcher {
        Dispatcher::default()
    }

    /// Routes misses on datapath ports `odp_ports` to `bridge` (replacing
    /// whatever handled them).
    pub fn set_bridge(&self, odp_ports: &[u32], bridge: Arc<dyn BridgeNormal>) {
        let mut m = self.by_port.write();
        for p in odp_ports {
            m.insert(*p, bridge.clone());
        }
    }

    /// Stops routing misses on `odp_port`.
    pub fn remove_port(&self, odp_port: u32) {
        self.by_port.write().remove(&odp_port);
    }

    /// The bridge handling `odp_port`.
    pub fn bridge_of(&self, odp_port: u32) -> Option<Arc<dyn BridgeNormal>> {
        self.by_port.read().get(&odp_port).cloned()
    }
}

impl UpcallProvider for Dispatcher {
    fn userspace(&self, action: &dp_core::actions::UserspaceAction, pkt: Box<DpPacket>) {
        if let Some(b) = self.bridge_of(pkt.md.in_port) {
            b.userspace(action, pkt);
        }
    }

    fn upcall(&self, pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        let in_port = flow.get(fields::IN_PORT) as u32;
        match self.bridge_of(in_port) {
            Some(b) => b.upcall(pkt, flow),
            None => Err(format!("no bridge for datapath port {in_port}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(in_port: u32, src: u64, dst: u64) -> Flow {
        let mut f = Flow::zero();
        f.set(fields::IN_PORT, in_port as u64);
        f.set(fields::ETH_SRC, src);
        f.set(fields::ETH_DST, dst);
        f
    }

    fn port(n: u32) -> BridgePort {
        BridgePort {
            odp_port: n,
            ofport: n,
            name: format!("p{n}"),
            tag: None,
            trunks: vec![],
            vlan_mode: None,
        }
    }

    #[test]
    fn learns_and_revalidates() {
        let b = Normal::new("br-test");
        b.set_ports(vec![port(1), port(2), port(3)]);
        let pkt = DpPacket::from_slice(&[0u8; 60]);
        let u = b.upcall(&pkt, &flow(1, 0x0a, 0xffff_ffff_ffff)).unwrap();
        assert_eq!(u.actions, vec![OdpAction::Output(2), OdpAction::Output(3)]);
        let u = b.upcall(&pkt, &flow(2, 0x0b, 0x0a)).unwrap();
        assert_eq!(u.actions, vec![OdpAction::Output(1)]);
        assert!(u.mask.is_some());
        let g = b.generation();
        // 0x0a moves to port 3: the flow to it must change.
        b.upcall(&pkt, &flow(3, 0x0a, 0x0b)).unwrap();
        assert!(b.generation() > g);
        assert_eq!(
            b.revalidate(&flow(2, 0x0b, 0x0a)),
            Some(vec![OdpAction::Output(3)])
        );
        assert!(b.fdb_show().contains("00:00:00:00:00:0a"));
        b.fdb_flush();
        assert_eq!(
            b.revalidate(&flow(2, 0x0b, 0x0a)),
            Some(vec![OdpAction::Output(1), OdpAction::Output(3)]),
            "unknown again: flooded"
        );
    }

    #[test]
    fn vlan_columns_reach_normal() {
        let b = Normal::new("br-vlan");
        let mut p1 = port(1);
        p1.tag = Some(10);
        let mut p2 = port(2);
        p2.tag = Some(20);
        let mut p3 = port(3);
        p3.vlan_mode = Some("trunk".into());
        b.set_ports(vec![p1, p2, p3]);
        let pkt = DpPacket::from_slice(&[0u8; 60]);
        let u = b.upcall(&pkt, &flow(1, 0x0a, 0xffff_ffff_ffff)).unwrap();
        // VLAN 10 never reaches the VLAN 20 access port; the trunk gets a tag.
        assert!(
            !u.actions.contains(&OdpAction::Output(2)),
            "{:?}",
            u.actions
        );
        assert!(u.actions.contains(&OdpAction::Output(3)), "{:?}", u.actions);
        assert!(
            u.actions
                .iter()
                .any(|a| matches!(a, OdpAction::PushVlan { tci, .. } if tci & 0xfff == 10)),
            "{:?}",
            u.actions
        );
    }
}
