//! `encap(...)`, `decap(...)` and `dec_nsh_ttl` (OVS `ovs-actions(7)`,
//! "The encap action", "The decap action"; `xlate_generic_encap_action()`,
//! `xlate_generic_decap_action()`, `rewrite_flow_push_nsh()`,
//! `compose_dec_nsh_ttl_action()` in `ofproto/ofproto-dpif-xlate.c` and
//! `commit_encap_decap_action()` in `lib/odp-util.c`).
//!
//! As in OVS an encapsulation only rewrites the translation's flow: the
//! header fields of the old packet are cleared, the new header's fields are
//! filled in (`set_field` may change them afterwards), and the datapath
//! `push_eth` / `push_nsh` is emitted at the next commit with the values the
//! flow has then. `decap()` of Ethernet only changes the packet type (a
//! `pop_eth` at the next commit, the L3 fields stay valid); `decap()` of NSH
//! needs the inner packet parsed, so the translation commits `pop_nsh` and
//! freezes: the remaining actions resume after `recirc(id)` with the inner
//! packet's flow key.
//!
//! A packet type an action cannot handle (e.g. `encap(ethernet)` of an
//! Ethernet frame, `decap()` of an NSH header whose next protocol is
//! unknown, `decap()` of a VLAN-tagged frame) is a translation error: the
//! packet is dropped, as OVS does (`XLATE_UNSUPPORTED_PACKET_TYPE`).

use super::Ctx;
use crate::ofp::actions::Action;
use dp_core::actions::{OdpAction, SetAttr};
use dp_core::flow::{fields as f, u64_to_mac, Flow, FLOW_WORDS, L2_FIRST_WORD};
use dp_core::nsh::{
    NshKey, NshPush, ETH_TYPE_NSH, NSH_M_TYPE1, NSH_M_TYPE2, NSH_P_ETHERNET, NSH_P_IPV4,
    NSH_P_IPV6, NSH_P_NSH, PT_ETH, PT_IPV4, PT_IPV6, PT_NSH,
};

/// Encap property class of NSH (`OFPPPC_NSH`, OVS `ofp-ed-props.h`).
const OFPPPC_NSH: u16 = 4;
/// NSH property: MD type (`OFPPPT_PROP_NSH_MDTYPE`), 8 bytes.
const OFPPPT_PROP_NSH_MDTYPE: u8 = 1;
/// NSH property: one MD type 2 TLV (`OFPPPT_PROP_NSH_TLV`), `8 + tlv_len`
/// rounded up to 8 bytes.
const OFPPPT_PROP_NSH_TLV: u8 = 2;
/// Most MD type 2 context bytes an NSH header can carry
/// (`NSH_CTX_HDRS_MAX_LEN`).
const NSH_CTX_HDRS_MAX_LEN: usize = 244;
/// `OFPR_INVALID_TTL` packet-in reason (OpenFlow 1.5.1 section 7.4.1).
const OFPR_INVALID_TTL: u8 = 2;

/// An encapsulation translated but not yet emitted (OVS `pending_encap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PendingEncap {
    /// `push_eth` with the flow's Ethernet addresses.
    Eth,
    /// `push_nsh` with the flow's NSH fields and these MD type 2 TLVs.
    Nsh(Vec<u8>),
}

/// The MD type and the MD type 2 context TLVs (each padded to 4 bytes) of
/// encoded `encap(nsh(...))` properties (OVS `rewrite_flow_push_nsh()`).
/// MD type defaults to 1; TLVs beyond [`NSH_CTX_HDRS_MAX_LEN`] bytes are
/// dropped as a whole, as OVS does. Malformed properties end the scan.
fn nsh_props(props: &[u8]) -> (u8, Vec<u8>) {
    let mut md_type = NSH_M_TYPE1;
    let mut md2 = Vec::new();
    let mut p = props;
    while p.len() >= 4 {
        let class = u16::from_be_bytes([p[0], p[1]]);
        let (ty, len) = (p[2], p[3] as usize);
        if len < 4 || len > p.len() {
            break;
        }
        let body = &p[4..len];
        if class == OFPPPC_NSH {
            match ty {
                OFPPPT_PROP_NSH_MDTYPE if !body.is_empty() => md_type = body[0],
                OFPPPT_PROP_NSH_TLV if body.len() >= 4 => {
                    let tlv_len = body[3] as usize;
                    let data = body.get(4..4 + tlv_len).unwrap_or(&[]);
                    md2.extend_from_slice(&body[..4]);
                    md2.extend_from_slice(data);
                    md2.resize(md2.len() + (4 - data.len() % 4) % 4, 0);
                }
                _ => {}
            }
        }
        p = p.get(len.div_ceil(8) * 8..).unwrap_or(&[]);
    }
    if md2.len() > NSH_CTX_HDRS_MAX_LEN {
        md2.clear();
    }
    (md_type, md2)
}

impl Ctx<'_, '_> {
    /// `encap(ethernet)` / `encap(nsh(...))` (`new_pkt_type` 0 or
    /// [`PT_NSH`]; `props` the encoded properties).
    pub(super) fn encap(&mut self, new_pkt_type: u32, props: &[u8]) {
        self.commit();
        let pt = self.key.flow.get(f::PACKET_TYPE) as u32;
        self.wc.flow.set_exact(f::PACKET_TYPE);
        match new_pkt_type {
            PT_ETH => {
                if pt >> 16 != 1 {
                    self.fail("encap(ethernet) of a packet that is not L3");
                    return;
                }
                let k = &mut self.key.flow;
                k.set(f::PACKET_TYPE, PT_ETH as u64);
                k.set(f::ETH_SRC, 0);
                k.set(f::ETH_DST, 0);
                k.set(f::ETH_TYPE, (pt & 0xffff) as u64);
                self.pending_encap = Some(PendingEncap::Eth);
            }
            PT_NSH => {
                let np = match pt {
                    PT_ETH => NSH_P_ETHERNET,
                    PT_IPV4 => NSH_P_IPV4,
                    PT_IPV6 => NSH_P_IPV6,
                    PT_NSH => NSH_P_NSH,
                    _ => {
                        self.fail("encap(nsh) of an unsupported packet type");
                        return;
                    }
                };
                let (md_type, md2) = nsh_props(props);
                let k = &mut self.key.flow;
                // All packet headers are replaced by the NSH header.
                for w in L2_FIRST_WORD..FLOW_WORDS {
                    k.w[w] = 0;
                }
                k.set(f::PACKET_TYPE, PT_NSH as u64);
                k.set(f::ETH_TYPE, ETH_TYPE_NSH as u64);
                NshKey {
                    flags: 0,
                    ttl: 63,
                    mdtype: md_type & 0x0f,
                    np,
                    path_hdr: 255,
                    context: [0; 4],
                }
                .to_flow(k);
                let md2 = if md_type == NSH_M_TYPE2 {
                    md2
                } else {
                    Vec::new()
                };
                self.pending_encap = Some(PendingEncap::Nsh(md2));
            }
            _ => self.fail("encap of an unsupported packet type"),
        }
    }

    /// `decap()`: true when the translation must freeze and recirculate
    /// (NSH), false when it goes on (Ethernet) or failed.
    pub(super) fn decap(&mut self) -> bool {
        self.commit();
        let k = &self.key.flow;
        self.wc.flow.set_exact(f::PACKET_TYPE);
        match k.get(f::PACKET_TYPE) as u32 {
            PT_ETH => {
                if k.get(f::VLAN0_TCI) as u16 & dp_core::flow::VLAN_CFI != 0 {
                    self.wc.flow.set_exact(f::VLAN0_TCI);
                    self.fail("decap() of an Ethernet frame with a VLAN tag");
                    return false;
                }
                let et = k.get(f::ETH_TYPE);
                self.key.flow.set(f::PACKET_TYPE, 1 << 16 | et);
                self.wc.flow.set_exact(f::ETH_TYPE);
                false
            }
            PT_NSH => {
                self.wc.flow.set_exact(f::NSH_NP);
                let next = match k.get(f::NSH_NP) as u8 {
                    NSH_P_ETHERNET => PT_ETH,
                    NSH_P_IPV4 => PT_IPV4,
                    NSH_P_IPV6 => PT_IPV6,
                    NSH_P_NSH => PT_NSH,
                    _ => {
                        self.fail("decap() of NSH with an unsupported next protocol");
                        return false;
                    }
                };
                self.key.flow.set(f::PACKET_TYPE, next as u64);
                self.pending_decap = true;
                true
            }
            _ => {
                self.fail("decap() of an unsupported packet type");
                false
            }
        }
    }

    /// `dec_nsh_ttl`: true when the rest of the action list must be skipped
    /// (TTL expired: a packet-in with reason `invalid_ttl`; or not an NSH
    /// packet), as OVS's `compose_dec_nsh_ttl_action()`.
    pub(super) fn dec_nsh_ttl(&mut self) -> bool {
        let k = &self.key.flow;
        if k.get(f::PACKET_TYPE) as u32 == PT_NSH || k.get(f::ETH_TYPE) == ETH_TYPE_NSH as u64 {
            self.wc.flow.set_exact(f::NSH_TTL);
            let ttl = k.get(f::NSH_TTL);
            if ttl > 1 {
                self.key.flow.set(f::NSH_TTL, ttl - 1);
                return false;
            }
            self.controller(OFPR_INVALID_TTL, u16::MAX);
        }
        self.note("    NSH decrement TTL exception".to_string());
        true
    }

    /// Runs `decap()` and freezes the rest of `rest` (with the pending
    /// `goto_table` and action set) when the inner packet must be re-parsed.
    pub(super) fn decap_and_freeze(&mut self, rest: &[Action]) -> bool {
        if !self.decap() || self.error {
            return false;
        }
        self.commit();
        self.frozen = Some(super::Frozen {
            table: self.table,
            meta: self.key.meta,
            in_port: self.in_port(),
            group: None,
            resume_actions: true,
            rest: rest.to_vec(),
            goto: if self.depth == 1 {
                self.pending_goto
            } else {
                None
            },
            action_set: Vec::new(),
        });
        true
    }

    /// Marks the translation failed: the packet is dropped.
    fn fail(&mut self, why: &str) {
        self.note(format!("    {why}: drop"));
        self.error = true;
        self.exit = true;
    }

    /// The datapath encap/decap actions owed to the flow, first part of a
    /// commit (OVS `commit_encap_decap_action()`); updates `base`.
    pub(super) fn commit_encap_decap(&mut self) -> Vec<OdpAction> {
        let mut out = Vec::new();
        let k = &self.key.flow;
        let kpt = k.get(f::PACKET_TYPE) as u32;
        let bpt = self.base.get(f::PACKET_TYPE) as u32;
        match self.pending_encap.take() {
            Some(PendingEncap::Eth) => {
                out.push(OdpAction::PushEth {
                    src: u64_to_mac(k.get(f::ETH_SRC)),
                    dst: u64_to_mac(k.get(f::ETH_DST)),
                });
                let b = &mut self.base;
                b.set(f::PACKET_TYPE, kpt as u64);
                b.set(f::ETH_SRC, k.get(f::ETH_SRC));
                b.set(f::ETH_DST, k.get(f::ETH_DST));
                b.set(f::ETH_TYPE, k.get(f::ETH_TYPE));
            }
            Some(PendingEncap::Nsh(md2)) => {
                out.push(OdpAction::PushNsh(NshPush {
                    key: NshKey::from_flow(k),
                    md2,
                }));
                for w in L2_FIRST_WORD..FLOW_WORDS {
                    self.base.w[w] = k.w[w];
                }
            }
            None if self.pending_decap || kpt != bpt => {
                self.pending_decap = false;
                if kpt >> 16 == 1 && bpt == PT_ETH {
                    out.push(OdpAction::PopEth);
                    let b = &mut self.base;
                    b.set(f::PACKET_TYPE, kpt as u64);
                    b.set(f::ETH_SRC, 0);
                    b.set(f::ETH_DST, 0);
                } else if bpt == PT_NSH {
                    out.push(OdpAction::PopNsh);
                }
            }
            None => {}
        }
        out
    }

    /// `set(nsh(...))` for NSH fields the flow changed (OVS
    /// `commit_set_nsh_action()`; MD type and next protocol never change).
    pub(super) fn commit_nsh(&self, out: &mut Vec<OdpAction>) {
        let (k, b): (&Flow, &Flow) = (&self.key.flow, &self.base);
        if k.get(f::ETH_TYPE) != ETH_TYPE_NSH as u64 {
            return;
        }
        let (kn, bn) = (NshKey::from_flow(k), NshKey::from_flow(b));
        if kn == bn {
            return;
        }
        let m8 = |a: u8, b: u8| if a != b { 0xff } else { 0 };
        let m32 = |a: u32, b: u32| if a != b { u32::MAX } else { 0 };
        let spi_m = if kn.spi() != bn.spi() { 0xffff_ff00 } else { 0 };
        let si_m = if kn.si() != bn.si() { 0xff } else { 0 };
        let mut ctx_m = [0u32; 4];
        for (i, m) in ctx_m.iter_mut().enumerate() {
            *m = m32(kn.context[i], bn.context[i]);
        }
        let mask = NshKey {
            flags: m8(kn.flags, bn.flags),
            ttl: m8(kn.ttl, bn.ttl),
            mdtype: 0,
            np: 0,
            path_hdr: spi_m | si_m,
            context: ctx_m,
        };
        let value = NshKey {
            flags: kn.flags & mask.flags,
            ttl: kn.ttl & mask.ttl,
            mdtype: 0,
            np: 0,
            path_hdr: kn.path_hdr & mask.path_hdr,
            context: std::array::from_fn(|i| kn.context[i] & ctx_m[i]),
        };
        out.push(OdpAction::SetMasked {
            value: SetAttr::Nsh(value),
            mask: SetAttr::Nsh(mask),
        });
    }
}
