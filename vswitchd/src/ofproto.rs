//! The switching layer between bridges and the one userspace datapath.
//!
//! As in OVS, every `datapath_type=netdev` bridge shares one datapath
//! (`netdev@ovs-netdev`); a miss is handed to the bridge that owns its input
//! port. [`Dispatcher`] is the datapath's [`UpcallProvider`]: it maps the
//! datapath port number to the bridge's [`BridgeNormal`], the bridge's
//! forwarding logic. [`MacLearning`] implements it as OVS's NORMAL action
//! does for untagged traffic (learning bridge with aging and a size limit,
//! `fdb/show` table); another implementation (ofproto's NORMAL with VLANs)
//! can replace it per bridge through [`Dispatcher::set_bridge`] without
//! touching the rest of the daemon.

use dp_core::actions::OdpAction;
use dp_core::fastpath::Upcall;
use dp_core::flow::{fields, Flow};
use dp_core::packet::DpPacket;
use parking_lot::{Mutex, RwLock};
use pmd::UpcallProvider;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// OpenFlow port number of a bridge's LOCAL port (`OFPP_LOCAL`).
pub const OFPP_LOCAL: u32 = 65534;

/// Default `other_config:mac-aging-time`, seconds (OVS `MAC_ENTRY_DEFAULT_IDLE_TIME`).
pub const DEFAULT_MAC_AGING: u64 = 300;
/// Default `other_config:mac-table-size` (OVS `MAC_DEFAULT_MAX`).
pub const DEFAULT_MAC_TABLE_SIZE: usize = 8192;

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
}

struct MacEntry {
    port: u32,
    used: Instant,
}

/// A MAC-learning bridge (OVS NORMAL without VLAN processing: every frame is
/// in VLAN 0). Known unicast destinations get a megaflow matching
/// `in_port`, `recirc_id`, `eth_src` and `eth_dst`; floods are executed
/// without caching so that the next packet after learning installs the
/// precise flow.
pub struct MacLearning {
    ports: RwLock<Vec<BridgePort>>,
    macs: Mutex<(HashMap<u64, MacEntry>, Vec<u64>)>,
    aging: Mutex<(Duration, usize)>,
    gen: AtomicU64,
}

impl Default for MacLearning {
    fn default() -> Self {
        MacLearning {
            ports: RwLock::new(Vec::new()),
            macs: Mutex::new((HashMap::new(), Vec::new())),
            aging: Mutex::new((
                Duration::from_secs(DEFAULT_MAC_AGING),
                DEFAULT_MAC_TABLE_SIZE,
            )),
            gen: AtomicU64::new(0),
        }
    }
}

fn is_unicast(mac: u64) -> bool {
    mac >> 40 & 1 == 0
}

impl MacLearning {
    /// An empty bridge.
    pub fn new() -> MacLearning {
        MacLearning::default()
    }

    fn bump(&self) {
        self.gen.fetch_add(1, Ordering::Relaxed);
    }

    fn learn(&self, mac: u64, port: u32) {
        if !is_unicast(mac) || mac == 0 {
            return;
        }
        let max = self.aging.lock().1;
        let mut g = self.macs.lock();
        let (table, lru) = &mut *g;
        let now = Instant::now();
        match table.get_mut(&mac) {
            Some(e) if e.port == port => {
                e.used = now;
                if let Some(i) = lru.iter().position(|m| *m == mac) {
                    lru.remove(i);
                }
                lru.push(mac);
            }
            Some(e) => {
                e.port = port;
                e.used = now;
                if let Some(i) = lru.iter().position(|m| *m == mac) {
                    lru.remove(i);
                }
                lru.push(mac);
                self.bump();
            }
            None => {
                while table.len() >= max.max(1) && !lru.is_empty() {
                    let old = lru.remove(0);
                    table.remove(&old);
                }
                table.insert(mac, MacEntry { port, used: now });
                lru.push(mac);
                self.bump();
            }
        }
    }

    fn lookup(&self, mac: u64) -> Option<u32> {
        let aging = self.aging.lock().0;
        let g = self.macs.lock();
        g.0.get(&mac)
            .filter(|e| e.used.elapsed() < aging)
            .map(|e| e.port)
    }

    fn translate(&self, flow: &Flow) -> Upcall {
        let in_port = flow.get(fields::IN_PORT) as u32;
        let dst = flow.get(fields::ETH_DST);
        let known = if is_unicast(dst) {
            self.lookup(dst)
        } else {
            None
        };
        let ports = self.ports.read();
        match known.filter(|p| ports.iter().any(|bp| bp.odp_port == *p)) {
            Some(p) => {
                let mut mask = Flow::zero();
                for f in [
                    fields::IN_PORT,
                    fields::RECIRC_ID,
                    fields::ETH_SRC,
                    fields::ETH_DST,
                ] {
                    mask.set_exact(f);
                }
                let actions = if p == in_port {
                    Vec::new()
                } else {
                    vec![OdpAction::Output(p)]
                };
                Upcall {
                    actions,
                    mask: Some(mask),
                    ufid: None,
                }
            }
            None => Upcall {
                actions: ports
                    .iter()
                    .filter(|bp| bp.odp_port != in_port)
                    .map(|bp| OdpAction::Output(bp.odp_port))
                    .collect(),
                mask: None,
                ufid: None,
            },
        }
    }
}

impl BridgeNormal for MacLearning {
    fn upcall(&self, _pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        let in_port = flow.get(fields::IN_PORT) as u32;
        if !self.ports.read().iter().any(|p| p.odp_port == in_port) {
            return Err(format!("port {in_port} is not on this bridge"));
        }
        self.learn(flow.get(fields::ETH_SRC), in_port);
        Ok(self.translate(flow))
    }

    fn revalidate(&self, key: &Flow) -> Option<Vec<OdpAction>> {
        let u = self.translate(key);
        u.mask.map(|_| u.actions)
    }

    fn touch(&self, key: &Flow) {
        self.learn(key.get(fields::ETH_SRC), key.get(fields::IN_PORT) as u32);
    }

    fn set_ports(&self, ports: Vec<BridgePort>) {
        let mut cur = self.ports.write();
        if *cur == ports {
            return;
        }
        let mut g = self.macs.lock();
        let (table, lru) = &mut *g;
        table.retain(|_, e| ports.iter().any(|p| p.odp_port == e.port));
        lru.retain(|m| table.contains_key(m));
        *cur = ports;
        self.bump();
    }

    fn set_mac_config(&self, aging_secs: u64, max_entries: usize) {
        *self.aging.lock() = (Duration::from_secs(aging_secs), max_entries);
    }

    fn run(&self) -> bool {
        let (aging, max) = *self.aging.lock();
        let mut g = self.macs.lock();
        let (table, lru) = &mut *g;
        let before = table.len();
        table.retain(|_, e| e.used.elapsed() < aging);
        while table.len() > max.max(1) && !lru.is_empty() {
            let old = lru.remove(0);
            table.remove(&old);
        }
        lru.retain(|m| table.contains_key(m));
        let changed = table.len() != before;
        drop(g);
        if changed {
            self.bump();
        }
        changed
    }

    fn generation(&self) -> u64 {
        self.gen.load(Ordering::Relaxed)
    }

    fn fdb_show(&self) -> String {
        let ports = self.ports.read();
        let g = self.macs.lock();
        let mut s = String::from(" port  VLAN  MAC                Age\n");
        for mac in &g.1 {
            let Some(e) = g.0.get(mac) else { continue };
            let name = match ports.iter().find(|p| p.odp_port == e.port) {
                Some(p) if p.ofport == OFPP_LOCAL => "LOCAL".to_string(),
                Some(p) => p.ofport.to_string(),
                None => continue,
            };
            let m = mac.to_be_bytes();
            s.push_str(&format!(
                "{:>5}  {:>4}  {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}  {:>3}\n",
                name,
                0,
                m[2],
                m[3],
                m[4],
                m[5],
                m[6],
                m[7],
                e.used.elapsed().as_secs()
            ));
        }
        s
    }

    fn fdb_flush(&self) {
        let mut g = self.macs.lock();
        g.0.clear();
        g.1.clear();
        drop(g);
        self.bump();
    }

    fn fdb_len(&self) -> usize {
        self.macs.lock().0.len()
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
        let b = MacLearning::new();
        b.set_ports(vec![port(1), port(2), port(3)]);
        let pkt = DpPacket::from_slice(&[0u8; 60]);
        let u = b.upcall(&pkt, &flow(1, 0xa, 0xffff_ffff_ffff)).unwrap();
        assert_eq!(u.actions, vec![OdpAction::Output(2), OdpAction::Output(3)]);
        assert!(u.mask.is_none());
        let u = b.upcall(&pkt, &flow(2, 0xb, 0xa)).unwrap();
        assert_eq!(u.actions, vec![OdpAction::Output(1)]);
        assert!(u.mask.is_some());
        let g = b.generation();
        // 0xa moves to port 3: the flow to it must change.
        b.upcall(&pkt, &flow(3, 0xa, 0xb)).unwrap();
        assert!(b.generation() > g);
        assert_eq!(
            b.revalidate(&flow(2, 0xb, 0xa)),
            Some(vec![OdpAction::Output(3)])
        );
        assert!(b.fdb_show().contains("00:00:00:00:00:0a"));
        b.fdb_flush();
        assert_eq!(b.revalidate(&flow(2, 0xb, 0xa)), None);
    }
}
