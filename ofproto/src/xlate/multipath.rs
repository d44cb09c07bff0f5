//! The Nicira `multipath` and `bundle`/`bundle_load` actions
//! (`ovs-actions(7)`, OVS `lib/multipath.c`, `lib/bundle.c`,
//! `flow_hash_fields()`).
//!
//! Both hash a choice of flow fields (`fields=`: `eth_src`,
//! `symmetric_l4`, `symmetric_l3l4`, `symmetric_l3l4+udp`, `nw_src`,
//! `nw_dst`, `symmetric_l3`) with a basis; every field hashed is
//! un-wildcarded, so the megaflow separates packets that may choose
//! differently. `multipath` writes a link number in `0..n_links` to a field
//! (algorithms `modulo_n`, `hash_threshold`, `hrw`, `iter_hash`); `bundle`
//! outputs to one live member port (`active_backup`: the first live one;
//! `hrw`: highest random weight among the live ones) and `bundle_load`
//! writes that port (0xffff, OFPP_NONE, if none is live) to a field.
//! The hash is rvs's own (not bit-compatible with OVS's), which only
//! changes which member a given flow picks.

use super::{ones128, Ctx};
use crate::group::hash_u32;
use crate::ofp::actions::port_from_of10;
use crate::ofp::nx_actions::{Bundle, Multipath};
use crate::ofp::oxm::{OxmHeader, OxmId};
use crate::table::key::Loc;
use dp_core::flow::{fields as f, Field as DpField};

/// NX_HASH_FIELDS_* values.
pub mod hash_fields {
    /// `eth_src`.
    pub const ETH_SRC: u16 = 0;
    /// `symmetric_l4`.
    pub const SYMMETRIC_L4: u16 = 1;
    /// `symmetric_l3l4`.
    pub const SYMMETRIC_L3L4: u16 = 2;
    /// `symmetric_l3l4+udp`.
    pub const SYMMETRIC_L3L4_UDP: u16 = 3;
    /// `nw_src`.
    pub const NW_SRC: u16 = 4;
    /// `nw_dst`.
    pub const NW_DST: u16 = 5;
    /// `symmetric_l3`.
    pub const SYMMETRIC_L3: u16 = 6;
}

/// Mixes a 64-bit value into hash `h`.
fn mix(h: u32, v: u64) -> u32 {
    hash_u32(hash_u32(h ^ v as u32) ^ (v >> 32) as u32)
}

/// OVS `hash_2words()` stand-in.
fn hash2(a: u32, b: u32) -> u32 {
    hash_u32(hash_u32(a).wrapping_add(0x9e37_79b9) ^ b)
}

/// A raw 32-bit NXM/OXM header as an [`OxmHeader`].
fn raw_header(h: u32) -> OxmHeader {
    OxmHeader {
        id: OxmId {
            class: (h >> 16) as u16,
            code: ((h >> 9) & 0x7f) as u8,
            experimenter: None,
        },
        hasmask: h & 0x100 != 0,
        length: h as u8,
    }
}

impl Ctx<'_, '_> {
    /// Reads datapath field `fd` whole, un-wildcarding it.
    fn rd(&mut self, fd: DpField) -> u64 {
        self.read_loc(Loc::Dp(fd, 0, fd.bits))
    }

    /// OVS `flow_hash_fields()`: hash of the `fields` selection with
    /// `basis`, un-wildcarding what it reads.
    pub(super) fn hash_fields(&mut self, fields: u16, basis: u16) -> u32 {
        use hash_fields::*;
        let mut h = hash_u32(basis as u32 ^ 0x5bd1_e995);
        let et = self.rd(f::ETH_TYPE);
        let ip4 = et == 0x0800;
        let ip6 = et == 0x86dd;
        let l3 = |c: &mut Self, h: u32, sym: bool, src: bool, dst: bool| -> u32 {
            let (s, d) = if ip4 {
                (
                    if src { c.rd(f::NW_SRC) } else { 0 },
                    if dst { c.rd(f::NW_DST) } else { 0 },
                )
            } else if ip6 {
                let s = if src {
                    c.rd(f::IPV6_SRC_HI) ^ c.rd(f::IPV6_SRC_LO).rotate_left(7)
                } else {
                    0
                };
                let d = if dst {
                    c.rd(f::IPV6_DST_HI) ^ c.rd(f::IPV6_DST_LO).rotate_left(7)
                } else {
                    0
                };
                (s, d)
            } else {
                (0, 0)
            };
            if sym {
                mix(h, s ^ d)
            } else {
                mix(mix(h, s), d)
            }
        };
        match fields {
            ETH_SRC => h = mix(h, self.rd(f::ETH_SRC)),
            SYMMETRIC_L4 | SYMMETRIC_L3L4 | SYMMETRIC_L3L4_UDP => {
                if fields == SYMMETRIC_L4 {
                    h = mix(h, self.rd(f::ETH_SRC) ^ self.rd(f::ETH_DST));
                    h = mix(h, et);
                    h = mix(h, self.read_loc(Loc::Dp(f::VLAN0_TCI, 0, 12)));
                }
                if ip4 || ip6 {
                    h = l3(self, h, true, true, true);
                    let proto = self.rd(f::NW_PROTO);
                    h = mix(h, proto);
                    let l4 = match proto {
                        6 | 132 => true,
                        17 => fields != SYMMETRIC_L3L4,
                        _ => false,
                    };
                    if l4 {
                        h = mix(h, self.rd(f::TP_SRC) ^ self.rd(f::TP_DST));
                    }
                }
            }
            NW_SRC => h = l3(self, h, false, true, false),
            NW_DST => h = l3(self, h, false, false, true),
            SYMMETRIC_L3 => h = l3(self, h, true, true, true),
            _ => {}
        }
        h
    }

    /// The `multipath` action: link `0..=max_link` into `dst`.
    pub(super) fn multipath(&mut self, m: &Multipath) {
        let hash = self.hash_fields(m.fields, m.basis);
        let n = m.max_link as u32 + 1;
        let link = match m.algorithm {
            // modulo_n
            0 => hash % n,
            // hash_threshold
            1 => {
                if n == 1 {
                    0
                } else {
                    hash / (u32::MAX / n + 1)
                }
            }
            // hrw
            2 => (0..n).max_by_key(|&i| (hash2(hash, i), i)).unwrap_or(0),
            // iter_hash
            _ => {
                let modulo = if m.arg >= n {
                    m.arg
                } else {
                    n.next_power_of_two()
                };
                let mut h = hash;
                let mut i = 0u32;
                loop {
                    i += 1;
                    h = hash2(h, i);
                    if h % modulo < n || i > 64 {
                        break (h % modulo).min(n - 1);
                    }
                }
            }
        };
        let ofs = (m.ofs_nbits >> 6) as u32;
        let nb = (m.ofs_nbits & 63) as u32 + 1;
        let field = m.dst.id.field().0;
        let mask = ones128(nb) << ofs;
        self.write_field(field, ((link as u128) << ofs) & mask, mask);
        self.note(format!("    multipath -> link {link}"));
    }

    /// The `bundle` / `bundle_load` action.
    pub(super) fn bundle(&mut self, b: &Bundle) {
        let live: Vec<u32> = b
            .members
            .iter()
            .map(|&p| port_from_of10(p))
            .filter(|&p| self.env.ports.is_live(p))
            .collect();
        let pick = match b.algorithm {
            // active_backup
            0 => live.first().copied(),
            // hrw
            _ => {
                let hash = self.hash_fields(b.fields, b.basis);
                live.iter()
                    .copied()
                    .max_by_key(|&p| (hash2(hash, p), std::cmp::Reverse(p)))
            }
        };
        self.note(format!("    bundle -> {pick:?}"));
        if b.load {
            let ofs = (b.ofs_nbits >> 6) as u32;
            let nb = (b.ofs_nbits & 63) as u32 + 1;
            let field = raw_header(b.dst).id.field().0;
            let mask = ones128(nb) << ofs;
            let port = pick.map_or(0xffff, |p| crate::ofp::actions::port_to_of10(p) as u128);
            self.write_field(field, (port << ofs) & mask, mask);
        } else if let Some(p) = pick {
            self.output(p, 0);
        }
    }
}

#[cfg(test)]
mod tests;
