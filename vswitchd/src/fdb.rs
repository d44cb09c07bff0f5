//! `ovs-appctl fdb/add BRIDGE PORT VLAN MAC` (OVS 3.0+): puts a MAC address
//! into a bridge's MAC learning table on a port, as if a frame from it had
//! arrived there (a broadcast from `MAC`, tagged with `VLAN` when it is not
//! 0, is translated by the bridge's NORMAL with learning on). Benchmarks use
//! it to have the destination of replayed traffic known before the traffic
//! starts.
//!
//! Unlike OVS's static entries, the entry ages like a learned one
//! (`mac-aging-time`), and `fdb/del` is not implemented yet.

use crate::bridge::Switch;
use crate::unixctl::Commands;
use dp_core::flow::fields;
use dp_core::packet::DpPacket;
use parking_lot::Mutex;
use std::sync::Arc;

/// Parses `aa:bb:cc:dd:ee:ff`.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// The frame whose arrival teaches `mac` on `vlan`: a broadcast from it.
fn announce_frame(mac: [u8; 6], vlan: u16) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    if vlan != 0 {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&vlan.to_be_bytes());
    }
    // IEEE 802 local experimental ethertype, zero payload.
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(60, 0);
    f
}

/// Registers `fdb/add`.
pub fn register(cmds: &Commands, sw: Arc<Mutex<Switch>>) {
    cmds.register("fdb/add", "bridge port vlan mac", 4, 4, move |a| {
        let mut sw = sw.lock();
        let b = sw.bridges.get(&a[0]).ok_or("no such bridge")?;
        let port = b
            .ifaces
            .values()
            .find(|s| s.port_name == a[1])
            .ok_or_else(|| format!("{} is not a port of bridge {}", a[1], a[0]))?;
        let vlan: u16 = a[2]
            .parse()
            .ok()
            .filter(|v| *v < 4096)
            .ok_or("invalid vlan")?;
        let mac = parse_mac(&a[3]).ok_or("invalid mac")?;
        if mac[0] & 1 != 0 {
            return Err("invalid mac: multicast address".into());
        }
        let mut pkt = DpPacket::from_slice(&announce_frame(mac, vlan));
        let mut flow = dp_core::extract::extract_flow(&mut pkt);
        flow.set(fields::IN_PORT, u64::from(port.odp_port));
        b.normal.upcall(&pkt, &flow)?;
        // Flood decisions cached for this MAC are stale now.
        sw.revalidate();
        Ok("OK\n".into())
    });
}
