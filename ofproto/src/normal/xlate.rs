//! Translation of one flow through NORMAL into datapath actions and a
//! megaflow mask: OVS `ofproto/ofproto-dpif-xlate.c` `xlate_wc_init()`,
//! `xlate_normal()`, `is_admissible()`, `is_gratuitous_arp()`,
//! `xlate_normal_flood()`, `output_normal()`, and the lazy VLAN commit of
//! `lib/odp-util.c` `commit_vlan_action()`.

use super::mac_learning::{secs, MacLearning};
use super::vlan::{eth_type_vlan, BundleVlan, PortVlan, XVlan};
use super::Xlate;
use dp_core::actions::OdpAction;
use dp_core::flow::{fields, Flow, FRAG_MASK, VLAN_CFI, VLAN_PCP_MASK, VLAN_VID_MASK};
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};

const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_ARP: u16 = 0x0806;
const ARP_OP_REQUEST: u64 = 1;
const ARP_OP_REPLY: u64 = 2;
const ETH_ADDR_BROADCAST: u64 = 0xffff_ffff_ffff;

/// One configured port (OVS: a bundle with a single xport).
#[derive(Clone, Debug)]
pub(crate) struct PortState {
    pub(crate) odp_port: u32,
    pub(crate) name: String,
    pub(crate) cfg: PortVlan,
    pub(crate) vlan: BundleVlan,
}

/// The bridge's ports: by OpenFlow port number (flood order) and the
/// datapath-to-OpenFlow port map.
#[derive(Clone, Debug, Default)]
pub(crate) struct PortTable {
    pub(crate) by_of: BTreeMap<u32, PortState>,
    pub(crate) of_by_odp: HashMap<u32, u32>,
    /// Ports with OFPPC_NO_FLOOD, left out of flooding (OVS
    /// `bundle->floodable`).
    pub(crate) no_flood: std::collections::HashSet<u32>,
}

/// `eth_addr_is_reserved()` of OVS `lib/packets.c`: IEEE 802.1D/802.1Q
/// reserved group addresses (01:80:c2:00:00:00..0f: STP, pause, LACP, LLDP,
/// ...), Extreme EDP/EAPS and Cisco ISL/CDP/VTP/PVST+/UplinkFast/CFM
/// addresses. NORMAL drops frames to these unless the bridge has
/// `other_config:forward-bpdu=true` (`is_admissible()`).
pub fn eth_addr_is_reserved(mac: u64) -> bool {
    matches!(mac,
        0x0180_c200_0000..=0x0180_c200_000f
        | 0x00e0_2b00_0000 | 0x00e0_2b00_0004 | 0x00e0_2b00_0006
        | 0x0100_0c00_0000 | 0x0100_0ccc_cccc | 0x0100_0ccc_cccd | 0x0100_0ccd_cdcd
        | 0x0100_0ccc_ccc0..=0x0100_0ccc_ccc7)
}

/// The outer VLAN header a packet carries at some point of the action list:
/// `(tpid, tci with VLAN_CFI)` or `None`.
type Tag = Option<(u16, u16)>;

/// Builder of the action list with OVS's lazy VLAN commit.
struct Commit<'a> {
    actions: Vec<OdpAction>,
    base: Tag,
    mask: &'a mut Flow,
}

impl Commit<'_> {
    /// `compose_output_action()` -> `commit_vlan_action()`: emits pop/push
    /// only if the outer header differs from what the previous action left.
    /// A pop un-wildcards the whole input TPID and TCI, as OVS does
    /// (`wc->masks.vlans[n].qtag = OVS_BE32_MAX`).
    fn output(&mut self, odp_port: u32, tag: Tag) {
        if tag != self.base {
            if self.base.is_some() {
                self.actions.push(OdpAction::PopVlan);
                self.mask.set_exact(fields::VLAN0_TPID);
                self.mask.set_exact(fields::VLAN0_TCI);
            }
            if let Some((tpid, tci)) = tag {
                self.actions.push(OdpAction::PushVlan {
                    tpid,
                    tci: tci & !VLAN_CFI,
                });
            }
            self.base = tag;
        }
        self.actions.push(OdpAction::Output(odp_port));
    }
}

/// `is_gratuitous_arp()`, including the bits it un-wildcards.
fn is_gratuitous_arp(flow: &Flow, mask: &mut Flow) -> bool {
    if flow.get(fields::ETH_TYPE) != ETH_TYPE_ARP as u64 {
        return false;
    }
    mask.set_exact(fields::ETH_DST);
    if flow.get(fields::ETH_DST) != ETH_ADDR_BROADCAST {
        return false;
    }
    mask.set_exact(fields::NW_PROTO);
    match flow.get(fields::NW_PROTO) {
        ARP_OP_REPLY => true,
        ARP_OP_REQUEST => {
            mask.set_exact(fields::NW_SRC);
            mask.set_exact(fields::NW_DST);
            flow.get(fields::NW_SRC) == flow.get(fields::NW_DST)
        }
        _ => false,
    }
}

/// Translates `flow` through NORMAL. Returns the result and whether the MAC
/// table changed (learned or moved an entry).
pub(crate) fn xlate_normal(
    ports: &PortTable,
    ml: &RwLock<MacLearning>,
    flow: &Flow,
    now_ns: u64,
    learn: bool,
) -> (Xlate, bool) {
    let mut mask = Flow::zero();
    // xlate_wc_init(): "Some fields we consider to always be examined."
    // (packet_type is left out: rvs's datapath key implies Ethernet through
    // eth(), as OVS's ODP key does.)
    mask.set_exact(fields::IN_PORT);
    mask.set_exact(fields::RECIRC_ID);
    mask.set_exact(fields::ETH_TYPE);
    let dl_type = flow.get(fields::ETH_TYPE) as u16;
    if dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6 {
        mask.set(fields::NW_FRAG, FRAG_MASK as u64);
    }
    let drop = |mask: Flow| {
        (
            Xlate {
                actions: Vec::new(),
                mask,
            },
            false,
        )
    };
    if flow.get(fields::PACKET_TYPE) != 0 {
        // Not an Ethernet frame: NORMAL has nothing to switch on.
        mask.set_exact(fields::PACKET_TYPE);
        return drop(mask);
    }

    // xlate_normal().
    mask.set_exact(fields::ETH_SRC);
    mask.set_exact(fields::ETH_DST);
    let m = mask.get(fields::VLAN0_TCI) | (VLAN_VID_MASK | VLAN_CFI) as u64;
    mask.set(fields::VLAN0_TCI, m);
    // The outer TPID is matched exactly too: OVS's ODP key encodes it as the
    // outer OVS_KEY_ATTR_ETHERTYPE, whose mask odp_flow_key_from_flow__()
    // always exports as exact for a tagged flow (and xvlan_extract() checks
    // it). For untagged frames the key's TPID is 0 and this is a no-op.
    mask.set_exact(fields::VLAN0_TPID);

    let in_odp = flow.get(fields::IN_PORT) as u32;
    let Some((&in_of, in_port)) = ports
        .of_by_odp
        .get(&in_odp)
        .and_then(|of| ports.by_of.get_key_value(of))
    else {
        // "no input bundle, dropping"
        return drop(mask);
    };

    // "Drop malformed frames": a VLAN Ethertype without a (complete) tag.
    let tci = flow.get(fields::VLAN0_TCI) as u16;
    if eth_type_vlan(dl_type) && tci & VLAN_CFI == 0 {
        return drop(mask);
    }

    // "Check VLAN."
    let in_xvlan = XVlan::extract(flow);
    if !in_port.vlan.input_vid_is_valid(in_xvlan.vid) {
        // "disallowed VLAN VID for this input port, dropping"
        return drop(mask);
    }
    let xvlan = in_port.vlan.input_translate(in_xvlan);
    let vlan = xvlan.vid;
    if vlan == 0 && in_xvlan.tpid != 0 {
        // A priority-tagged frame in bridge VLAN 0: whether an output keeps
        // a (priority) tag depends on the PCP (xvlan_put() emits a header iff
        // VID|PCP != 0), so the PCP is consulted. OVS leaves it wildcarded
        // here, which lets a PCP-0 tag hit a megaflow made for PCP != 0 (and
        // keep its tag, where its own upcall would pop it); rvs matches it.
        let m = mask.get(fields::VLAN0_TCI) | VLAN_PCP_MASK as u64;
        mask.set(fields::VLAN0_TCI, m);
    }

    // is_admissible(): reserved multicast destinations (forward-bpdu=false).
    let dst = flow.get(fields::ETH_DST);
    if eth_addr_is_reserved(dst) {
        return drop(mask);
    }

    // "Learn source MAC."
    let _is_grat_arp = is_gratuitous_arp(flow, &mut mask);
    let src = flow.get(fields::ETH_SRC);
    let now = secs(now_ns);
    let mut changed = false;
    if learn && ml.read().update_needed(src, vlan, in_of, now) {
        changed = ml.write().update(src, vlan, in_of, now);
    }

    // "Determine output bundle."
    let mut commit = Commit {
        actions: Vec::new(),
        base: in_xvlan_tag(flow),
        mask: &mut mask,
    };
    let learned = ml.read().lookup(dst, vlan);
    match learned {
        Some(out_of) if out_of != in_of => {
            if let Some(out) = ports.by_of.get(&out_of) {
                // "forwarding to learned port"
                commit.output(out.odp_port, out.vlan.output_translate(&xvlan).put());
            }
            // else: "learned port is unknown, dropping"
        }
        Some(_) => {} // "learned port is input port, dropping"
        None => {
            // xlate_normal_flood(): every other port that carries the VLAN.
            // OVS walks its bundles in hash order; rvs outputs first the
            // ports that take the frame with the encapsulation it already
            // has, then the others, each group by OpenFlow port number, so
            // that at most one VLAN change is committed.
            let mut outs: Vec<(bool, u32, Tag)> = ports
                .by_of
                .iter()
                .filter(|(&of, p)| {
                    of != in_of && !ports.no_flood.contains(&of) && p.vlan.includes_vlan(&xvlan)
                })
                .map(|(_, p)| {
                    let tag = p.vlan.output_translate(&xvlan).put();
                    (tag != commit.base, p.odp_port, tag)
                })
                .collect();
            outs.sort_by_key(|o| o.0);
            for (_, odp, tag) in outs {
                commit.output(odp, tag);
            }
        }
    }
    let actions = commit.actions;
    (Xlate { actions, mask }, changed)
}

/// The flow's own outer VLAN header (the datapath's "base flow").
fn in_xvlan_tag(flow: &Flow) -> Tag {
    let tpid = flow.get(fields::VLAN0_TPID) as u16;
    let tci = flow.get(fields::VLAN0_TCI) as u16;
    (tci & VLAN_CFI != 0).then_some((tpid, tci))
}
