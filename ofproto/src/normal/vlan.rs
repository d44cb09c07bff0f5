//! Port VLAN configuration and the VLAN translations of NORMAL.
//!
//! Follows OVS:
//! * configuration: `vswitchd/bridge.c` `port_configure()` (how `vlan_mode`,
//!   `tag` and `trunks` of the `Port` table become a bundle setting) and
//!   `ofproto/ofproto-dpif.c` `bundle_set()` (the effective trunk bitmap of
//!   native ports); `ovs-vswitchd.conf.db(5)`, Port table, "VLAN
//!   Configuration";
//! * translation: `ofproto/ofproto-dpif-xlate.c` `xbundle_trunks_vlan()`,
//!   `xbundle_includes_vlan()`, `input_vid_is_valid()`, `xvlan_extract()`,
//!   `xvlan_put()`, `xvlan_input_translate()`, `xvlan_output_translate()`.
//!
//! Only one VLAN header is interpreted, as OVS does with its default
//! `other_config:vlan-limit=1`: an inner tag (`vlan1` in the flow) is payload.
//! `dot1q-tunnel` mode is not supported.

use dp_core::flow::{fields, Flow, VLAN_CFI, VLAN_PCP_MASK, VLAN_VID_MASK};

/// 802.1Q TPID.
pub const ETH_TYPE_VLAN_8021Q: u16 = 0x8100;
/// 802.1ad (QinQ service tag) TPID.
pub const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;

/// `eth_type_vlan()` of OVS `lib/packets.h`.
pub(crate) fn eth_type_vlan(t: u16) -> bool {
    t == ETH_TYPE_VLAN_8021Q || t == ETH_TYPE_VLAN_8021AD
}

/// A port's VLAN mode: the `vlan_mode` column of OVS's Port table
/// (`ovs-vswitchd.conf.db(5)`, "VLAN Configuration").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VlanMode {
    /// `trunk`: carries the VLANs in `trunks` (all when empty). Ingress: a
    /// frame is in the VLAN of its 802.1Q header, or VLAN 0 if untagged;
    /// egress: tagged unless the VLAN is 0.
    Trunk,
    /// `access`: carries only VLAN `tag` (0 if unset). Ingress: only untagged
    /// or priority-tagged (VID 0) frames, which join `tag`; egress: untagged.
    Access,
    /// `native-tagged`: a trunk whose untagged ingress frames join the native
    /// VLAN `tag`; egress always tagged (also in the native VLAN).
    NativeTagged,
    /// `native-untagged`: like `native-tagged`, but frames of the native VLAN
    /// egress untagged.
    NativeUntagged,
}

/// VLAN configuration of one port: the `vlan_mode`, `tag` and `trunks`
/// columns of OVS's Port table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortVlan {
    /// `vlan_mode`; `None` applies OVS's default: `access` if `tag` is set,
    /// otherwise `trunk` (`bridge.c` `port_configure()`).
    pub mode: Option<VlanMode>,
    /// `tag`: the access or native VLAN, 0..=4095 (larger values are ignored
    /// as OVS does).
    pub tag: Option<u16>,
    /// `trunks`: VLANs a trunk/native port carries; empty means all. Values
    /// above 4095 are ignored. Ignored on access ports.
    pub trunks: Vec<u16>,
}

/// Number of VLAN IDs (12-bit VID space).
const N_VLANS: usize = 4096;

/// A 4096-bit VLAN bitmap (OVS `vlan_bitmap`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct VlanBitmap(Box<[u64; N_VLANS / 64]>);

impl VlanBitmap {
    fn empty() -> Self {
        VlanBitmap(Box::new([0; N_VLANS / 64]))
    }
    fn full() -> Self {
        VlanBitmap(Box::new([u64::MAX; N_VLANS / 64]))
    }
    fn from_list(vids: &[u16]) -> Self {
        let mut b = Self::empty();
        for &v in vids {
            if (v as usize) < N_VLANS {
                b.set(v, true);
            }
        }
        b
    }
    pub(crate) fn get(&self, vid: u16) -> bool {
        let v = vid as usize & (N_VLANS - 1);
        self.0[v / 64] >> (v % 64) & 1 != 0
    }
    fn set(&mut self, vid: u16, on: bool) {
        let v = vid as usize & (N_VLANS - 1);
        if on {
            self.0[v / 64] |= 1 << (v % 64);
        } else {
            self.0[v / 64] &= !(1 << (v % 64));
        }
    }
}

/// The effective VLAN setting of a bundle (OVS `struct xbundle`'s
/// `vlan_mode`, `vlan`, `trunks`), resolved from a [`PortVlan`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct BundleVlan {
    pub(crate) mode: VlanMode,
    /// Access / native VLAN (0 if unset; meaningless for trunks).
    pub(crate) vlan: u16,
    /// `None`: every VLAN.
    pub(crate) trunks: Option<VlanBitmap>,
}

impl BundleVlan {
    /// `bridge.c` `port_configure()` then `ofproto-dpif.c` `bundle_set()`.
    pub(crate) fn resolve(cfg: &PortVlan) -> BundleVlan {
        let tag = cfg.tag.filter(|&t| (t as usize) < N_VLANS);
        let mode = cfg.mode.unwrap_or(if tag.is_some() {
            VlanMode::Access
        } else {
            VlanMode::Trunk
        });
        let vlan = match mode {
            VlanMode::Trunk => 0,
            _ => tag.unwrap_or(0),
        };
        let given = (!cfg.trunks.is_empty()).then(|| VlanBitmap::from_list(&cfg.trunks));
        let trunks = match mode {
            VlanMode::Access => None,
            VlanMode::Trunk => given,
            VlanMode::NativeTagged | VlanMode::NativeUntagged => {
                let needs_fix = vlan != 0
                    && match &given {
                        None => true,
                        Some(b) => !b.get(vlan) || b.get(0),
                    };
                if needs_fix {
                    // "Force trunking the native VLAN and prohibit trunking
                    // VLAN 0" (bundle_set()).
                    let mut b = given.unwrap_or_else(VlanBitmap::full);
                    b.set(vlan, true);
                    b.set(0, false);
                    Some(b)
                } else {
                    given
                }
            }
        };
        BundleVlan { mode, vlan, trunks }
    }

    /// `xbundle_trunks_vlan()`.
    pub(crate) fn trunks_vlan(&self, vid: u16) -> bool {
        self.mode != VlanMode::Access && self.trunks.as_ref().map_or(true, |b| b.get(vid))
    }

    /// `input_vid_is_valid()`: may a frame whose 802.1Q VID is `vid` (0 if
    /// untagged or priority-tagged) ingress here?
    pub(crate) fn input_vid_is_valid(&self, vid: u16) -> bool {
        match self.mode {
            VlanMode::Access => vid == 0,
            VlanMode::NativeTagged | VlanMode::NativeUntagged if vid == 0 => true,
            _ => self.trunks_vlan(vid),
        }
    }

    /// `xvlan_input_translate()`: the VLAN of an ingress frame inside the
    /// bridge.
    pub(crate) fn input_translate(&self, inp: XVlan) -> XVlan {
        let native = |inp: XVlan, vlan: u16| XVlan {
            tpid: if inp.tpid != 0 {
                inp.tpid
            } else {
                ETH_TYPE_VLAN_8021Q
            },
            vid: vlan,
            pcp: inp.pcp,
        };
        match self.mode {
            VlanMode::Access => native(inp, self.vlan),
            VlanMode::Trunk => inp,
            VlanMode::NativeTagged | VlanMode::NativeUntagged => {
                if inp.vid == 0 {
                    native(inp, self.vlan)
                } else {
                    inp
                }
            }
        }
    }

    /// `xbundle_includes_vlan()`: does this port carry VLAN `x.vid`?
    pub(crate) fn includes_vlan(&self, x: &XVlan) -> bool {
        match self.mode {
            VlanMode::Access => x.vid == self.vlan,
            _ => self.trunks_vlan(x.vid),
        }
    }

    /// `xvlan_output_translate()`: the VLAN header the frame of bridge VLAN
    /// `x` carries when leaving through this port.
    pub(crate) fn output_translate(&self, x: &XVlan) -> XVlan {
        match self.mode {
            VlanMode::Access => XVlan::default(),
            VlanMode::Trunk | VlanMode::NativeTagged => *x,
            VlanMode::NativeUntagged => {
                if x.vid == self.vlan {
                    XVlan::default()
                } else {
                    *x
                }
            }
        }
    }
}

/// One VLAN header as OVS's `struct xvlan_single`: TPID (0 if none), VID and
/// PCP bits (`tci & VLAN_PCP_MASK`, not shifted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct XVlan {
    pub(crate) tpid: u16,
    pub(crate) vid: u16,
    pub(crate) pcp: u16,
}

impl XVlan {
    /// `xvlan_extract()` for the outer header.
    pub(crate) fn extract(flow: &Flow) -> XVlan {
        let tpid = flow.get(fields::VLAN0_TPID) as u16;
        let tci = flow.get(fields::VLAN0_TCI) as u16;
        if !eth_type_vlan(tpid) || tci & VLAN_CFI == 0 {
            return XVlan::default();
        }
        XVlan {
            tpid,
            vid: tci & VLAN_VID_MASK,
            pcp: tci & VLAN_PCP_MASK,
        }
    }

    /// `xvlan_put()`: the outer header as `(tpid, tci with VLAN_CFI)`, or
    /// `None` for "no header" (VID and PCP both 0).
    pub(crate) fn put(&self) -> Option<(u16, u16)> {
        let tci = self.vid | (self.pcp & VLAN_PCP_MASK);
        if tci == 0 {
            return None;
        }
        let tpid = if self.tpid != 0 {
            self.tpid
        } else {
            ETH_TYPE_VLAN_8021Q
        };
        Some((tpid, tci | VLAN_CFI))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(mode: Option<VlanMode>, tag: Option<u16>, trunks: &[u16]) -> BundleVlan {
        BundleVlan::resolve(&PortVlan {
            mode,
            tag,
            trunks: trunks.to_vec(),
        })
    }

    #[test]
    fn default_mode_follows_tag() {
        assert_eq!(pv(None, Some(10), &[]).mode, VlanMode::Access);
        assert_eq!(pv(None, None, &[]).mode, VlanMode::Trunk);
        // Invalid tag is ignored -> trunk.
        assert_eq!(pv(None, Some(5000), &[]).mode, VlanMode::Trunk);
    }

    #[test]
    fn trunk_with_list_drops_untagged() {
        let b = pv(Some(VlanMode::Trunk), None, &[10, 20]);
        assert!(!b.input_vid_is_valid(0));
        assert!(b.input_vid_is_valid(10));
        assert!(!b.input_vid_is_valid(30));
        let all = pv(Some(VlanMode::Trunk), None, &[]);
        assert!(all.input_vid_is_valid(0) && all.input_vid_is_valid(4095));
    }

    #[test]
    fn native_forces_native_vlan_and_excludes_zero() {
        let b = pv(Some(VlanMode::NativeUntagged), Some(10), &[20]);
        assert!(b.trunks_vlan(10) && b.trunks_vlan(20));
        assert!(!b.trunks_vlan(0) && !b.trunks_vlan(30));
        assert!(b.input_vid_is_valid(0));
        let all = pv(Some(VlanMode::NativeTagged), Some(10), &[]);
        assert!(all.trunks_vlan(10) && all.trunks_vlan(99) && !all.trunks_vlan(0));
        // Native VLAN 0 (tag unset): trunks as given.
        let z = pv(Some(VlanMode::NativeTagged), None, &[]);
        assert!(z.trunks_vlan(0));
    }
}
