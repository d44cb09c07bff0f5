//! A MAC-learning L2 switch as an [`UpcallProvider`]: what the datapath's
//! tests and demo use until ofproto's NORMAL action exists.
//!
//! Learns source MACs per input port; a frame to a known unicast MAC goes to
//! that port with a megaflow matching `in_port`, `recirc_id`, `eth_src` and
//! `eth_dst` (the fields consulted); others are flooded to every other port
//! without installing a megaflow, so that once the destination is learned the
//! next packet's upcall installs the precise flow (OVS revalidates instead).

use crate::UpcallProvider;
use dp_core::actions::OdpAction;
use dp_core::fastpath::Upcall;
use dp_core::flow::{fields, Flow};
use dp_core::packet::DpPacket;
use parking_lot::RwLock;
use std::collections::HashMap;

/// See the module documentation.
#[derive(Default)]
pub struct LearningSwitch {
    ports: RwLock<Vec<u32>>,
    macs: RwLock<HashMap<u64, u32>>,
}

impl LearningSwitch {
    /// A switch flooding over `ports` (datapath port numbers).
    pub fn new(ports: Vec<u32>) -> LearningSwitch {
        LearningSwitch {
            ports: RwLock::new(ports),
            macs: RwLock::new(HashMap::new()),
        }
    }

    /// Replaces the set of ports, forgetting MACs learned on removed ones.
    pub fn set_ports(&self, ports: Vec<u32>) {
        self.macs.write().retain(|_, p| ports.contains(p));
        *self.ports.write() = ports;
    }

    /// The port a MAC (48-bit integer) was learned on.
    pub fn lookup(&self, mac: u64) -> Option<u32> {
        self.macs.read().get(&mac).copied()
    }
}

impl UpcallProvider for LearningSwitch {
    fn upcall(&self, _pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        let in_port = flow.get(fields::IN_PORT) as u32;
        let src = flow.get(fields::ETH_SRC);
        let dst = flow.get(fields::ETH_DST);
        let src_is_unicast = src >> 40 & 1 == 0;
        if src_is_unicast && self.lookup(src) != Some(in_port) {
            self.macs.write().insert(src, in_port);
        }
        let known = if dst >> 40 & 1 == 0 {
            self.lookup(dst)
        } else {
            None
        };
        match known {
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
                Ok(Upcall {
                    actions,
                    mask: Some(mask),
                    ufid: None,
                })
            }
            None => Ok(Upcall {
                actions: self
                    .ports
                    .read()
                    .iter()
                    .filter(|&&p| p != in_port)
                    .map(|&p| OdpAction::Output(p))
                    .collect(),
                mask: None,
                ufid: None,
            }),
        }
    }
}
