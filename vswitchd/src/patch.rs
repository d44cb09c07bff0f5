//! `type=patch` interfaces (OVS `lib/netdev-vport.c` patch class,
//! `ovs-vswitchd.conf.db(5)` "Patch Options").
//!
//! A patch interface has an OpenFlow port in its bridge but no datapath
//! port: output to it continues the translation in the bridge of the patch
//! interface named by `options:peer` (see [`ofproto::xlate::PatchTarget`]).
//! Here it gets a [`PatchNetdev`] (no I/O; MAC, link state and counters for
//! port descriptions and status) and a datapath number from
//! [`PATCH_ODP_BASE`] up, which never reaches the datapath: it only names the
//! port inside its bridge's NORMAL and port map.

use dp_core::packet::PacketBatch;
use netdev::{LinkState, Netdev, NetdevError, NetdevStats, Options};
use std::collections::BTreeMap;

/// First of the datapath port numbers given to patch ports (one per
/// OpenFlow port: `PATCH_ODP_BASE + ofport`). No datapath port has such a
/// number; a [`crate::ofproto::BridgePort`] with one is a patch port.
pub const PATCH_ODP_BASE: u32 = 0xc000_0000;

/// True if datapath number `odp` is a patch port's.
pub fn is_patch_odp(odp: u32) -> bool {
    odp >= PATCH_ODP_BASE
}

/// Checks a patch interface's options as OVS's `set_patch_config()` does;
/// the error is the `Interface.error` text. Returns the peer name.
pub fn check_options(name: &str, options: &BTreeMap<String, String>) -> Result<String, String> {
    let Some(peer) = options.get("peer") else {
        return Err(format!("{name}: patch type requires valid 'peer' argument"));
    };
    if options.len() > 1 {
        return Err(format!("{name}: patch type takes only a 'peer' argument"));
    }
    if peer == name {
        return Err(format!("{name}: patch peer must not be self"));
    }
    Ok(peer.clone())
}

/// The device of a patch interface: no queues, never polled or written; a
/// random local MAC (OVS `netdev_vport_construct()`), always up.
pub struct PatchNetdev {
    name: String,
    mac: [u8; 6],
}

impl PatchNetdev {
    /// Patch device `name`.
    pub fn new(name: &str) -> PatchNetdev {
        // A locally administered unicast MAC from a randomly keyed hash of
        // the name (OVS picks a random one).
        use std::hash::BuildHasher;
        let v = std::collections::hash_map::RandomState::new()
            .hash_one(name)
            .to_be_bytes();
        let mac = [(v[0] & 0xfe) | 0x02, v[1], v[2], v[3], v[4], v[5]];
        PatchNetdev {
            name: name.to_string(),
            mac,
        }
    }
}

impl Netdev for PatchNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "patch"
    }

    fn is_pmd(&self) -> bool {
        false
    }

    fn n_rxq(&self) -> usize {
        1
    }

    fn n_txq(&self) -> usize {
        1
    }

    fn rx_burst(&self, _qid: usize, _batch: &mut PacketBatch) -> Result<usize, NetdevError> {
        Ok(0)
    }

    fn tx_burst(&self, _qid: usize, batch: &mut PacketBatch) -> usize {
        batch.pkts.clear();
        0
    }

    fn mtu(&self) -> u32 {
        1500
    }

    fn set_mtu(&self, _mtu: u32) -> Result<(), NetdevError> {
        Err(NetdevError::Unsupported(format!(
            "{}: patch ports have no MTU",
            self.name
        )))
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_state(&self) -> LinkState {
        LinkState::Up
    }

    fn stats(&self) -> NetdevStats {
        NetdevStats::default()
    }

    fn status(&self) -> Options {
        Options::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_as_ovs() {
        let o = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(check_options("p0", &o(&[("peer", "p1")])), Ok("p1".into()));
        assert_eq!(
            check_options("p0", &o(&[])),
            Err("p0: patch type requires valid 'peer' argument".into())
        );
        assert_eq!(
            check_options("p0", &o(&[("peer", "p1"), ("x", "y")])),
            Err("p0: patch type takes only a 'peer' argument".into())
        );
        assert_eq!(
            check_options("p0", &o(&[("peer", "p0")])),
            Err("p0: patch peer must not be self".into())
        );
        assert!(is_patch_odp(PATCH_ODP_BASE + 1) && !is_patch_odp(1));
        assert_eq!(PatchNetdev::new("p0").mac()[0] & 3, 2);
    }
}
