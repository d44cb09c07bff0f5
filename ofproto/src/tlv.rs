//! The bridge's TLV table: which Geneve option (class, type, length) each
//! `tun_metadataN` field (N < 64) stands for, programmed with
//! NXT_TLV_TABLE_MOD and reported by NXT_TLV_TABLE_REPLY (Open vSwitch
//! `lib/tun-metadata.c`, `ovs-ofctl(8)` `add-tlv-map`/`del-tlv-map`/
//! `dump-tlv-map`, `ovs-fields(7)` "tun_metadata").
//!
//! Each mapped field gets `option_len` bytes (a multiple of 4, at most 124)
//! of a 256-byte option space (TUN_METADATA_TOT_OPT_SIZE), allocated in
//! 4-byte units. Open vSwitch may split a field over several free chunks;
//! here a field takes one contiguous range (first fit), so a fragmented
//! table can report NXTTMFC_TABLE_FULL a little earlier than OVS would.
//! A table mod is all or nothing.

use crate::ofp::nicira::TlvMap;
use crate::table::key::{XKey, TUN_MD_PRESENT_WORD};
use dp_core::flow::{TUN_OPTS_WORD, TUN_OPTS_WORDS};

/// Number of `tun_metadata` fields (TUN_METADATA_NUM_OPTS).
pub const NUM_OPTS: usize = 64;
/// Bytes of option space (TUN_METADATA_TOT_OPT_SIZE).
pub const TOT_OPT_SIZE: usize = 256;
/// Largest option data, bytes (TLV_MAX_OPT_SIZE).
pub const MAX_OPT_SIZE: u8 = 124;

/// NXTTMC_* commands of NXT_TLV_TABLE_MOD.
#[allow(missing_docs)]
pub mod nxttmc {
    pub const ADD: u16 = 0;
    pub const DELETE: u16 = 1;
    pub const CLEAR: u16 = 2;
}

/// Why a TLV table mod failed (OFPET_TLV_TABLE_MOD_FAILED, a Nicira
/// extension error type; OVS `include/openvswitch/ofp-errors.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvError {
    /// NXTTMFC_BAD_COMMAND: not ADD, DELETE or CLEAR.
    BadCommand,
    /// NXTTMFC_BAD_OPT_LEN: length not a multiple of 4 or over 124.
    BadOptLen,
    /// NXTTMFC_BAD_FIELD_IDX: index 64 or more.
    BadFieldIdx,
    /// NXTTMFC_TABLE_FULL: no room left in the option space.
    TableFull,
    /// NXTTMFC_ALREADY_MAPPED: ADD for an index that is mapped.
    AlreadyMapped,
    /// NXTTMFC_DUP_ENTRY: the option is mapped to another index.
    DupEntry,
    /// NXTTMFC_INVALID_TLV_DEL: DELETE/CLEAR of a field a flow uses.
    InvalidTlvDel,
}

impl TlvError {
    /// `(code for OpenFlow 1.0/1.1 Nicira vendor errors, experimenter code
    /// for OpenFlow 1.2+)`, as `NX1.0-1.1(1,c10), NX1.2+(c12)` in OVS.
    pub fn nx_codes(self) -> (u16, u16) {
        match self {
            TlvError::BadCommand => (527, 16),
            TlvError::BadOptLen => (528, 17),
            TlvError::BadFieldIdx => (529, 18),
            TlvError::TableFull => (530, 19),
            TlvError::AlreadyMapped => (531, 20),
            TlvError::DupEntry => (532, 21),
            TlvError::InvalidTlvDel => (537, 38),
        }
    }
}

/// One mapped field: the option and where its data lives in the option
/// space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvEntry {
    /// Geneve option class.
    pub class: u16,
    /// Geneve option type.
    pub otype: u8,
    /// Option data length, bytes.
    pub len: u8,
    /// Byte offset in the option space (multiple of 4).
    pub offset: u16,
}

/// A bridge's TLV table; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlvTable {
    entries: [Option<TlvEntry>; NUM_OPTS],
}

impl Default for TlvTable {
    fn default() -> Self {
        TlvTable {
            entries: [None; NUM_OPTS],
        }
    }
}

impl TlvTable {
    /// An empty table.
    pub fn new() -> TlvTable {
        TlvTable::default()
    }

    /// The entry of `tun_metadata<idx>`, if mapped.
    pub fn get(&self, idx: u8) -> Option<TlvEntry> {
        self.entries.get(idx as usize).copied().flatten()
    }

    /// The index mapped to option (class, type), if any.
    pub fn index_of(&self, class: u16, otype: u8) -> Option<u8> {
        self.entries
            .iter()
            .position(|e| e.is_some_and(|e| e.class == class && e.otype == otype))
            .map(|i| i as u8)
    }

    /// The mappings by index, as NXT_TLV_TABLE_REPLY lists them.
    pub fn maps(&self) -> Vec<TlvMap> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.map(|e| TlvMap {
                    option_class: e.class,
                    option_type: e.otype,
                    option_len: e.len,
                    index: i as u16,
                })
            })
            .collect()
    }

    fn alloc(&self, len: usize) -> Option<u16> {
        let mut used = [false; TOT_OPT_SIZE / 4];
        for e in self.entries.iter().flatten() {
            for u in used
                .iter_mut()
                .skip(e.offset as usize / 4)
                .take(e.len as usize / 4)
            {
                *u = true;
            }
        }
        let units = len / 4;
        (0..=used.len() - units)
            .find(|&s| used[s..s + units].iter().all(|u| !u))
            .map(|s| (s * 4) as u16)
    }

    /// Applies an NXT_TLV_TABLE_MOD (OVS `tun_metadata_table_mod()`):
    /// all of `maps` or none. `in_use(idx)` tells whether a flow uses
    /// `tun_metadata<idx>` (such a field cannot be deleted).
    pub fn apply(
        &mut self,
        command: u16,
        maps: &[TlvMap],
        in_use: impl Fn(u8) -> bool,
    ) -> Result<(), TlvError> {
        let mut t = self.clone();
        match command {
            nxttmc::ADD => {
                for m in maps {
                    if m.index as usize >= NUM_OPTS {
                        return Err(TlvError::BadFieldIdx);
                    }
                    if m.option_len % 4 != 0 || m.option_len > MAX_OPT_SIZE {
                        return Err(TlvError::BadOptLen);
                    }
                    if t.entries[m.index as usize].is_some() {
                        return Err(TlvError::AlreadyMapped);
                    }
                    if t.index_of(m.option_class, m.option_type).is_some() {
                        return Err(TlvError::DupEntry);
                    }
                    let offset = t.alloc(m.option_len as usize).ok_or(TlvError::TableFull)?;
                    t.entries[m.index as usize] = Some(TlvEntry {
                        class: m.option_class,
                        otype: m.option_type,
                        len: m.option_len,
                        offset,
                    });
                }
            }
            nxttmc::DELETE => {
                for m in maps {
                    if m.index as usize >= NUM_OPTS {
                        return Err(TlvError::BadFieldIdx);
                    }
                    if t.entries[m.index as usize].is_some() && in_use(m.index as u8) {
                        return Err(TlvError::InvalidTlvDel);
                    }
                    t.entries[m.index as usize] = None;
                }
            }
            nxttmc::CLEAR => {
                if (0..NUM_OPTS as u8).any(|i| t.get(i).is_some() && in_use(i)) {
                    return Err(TlvError::InvalidTlvDel);
                }
                t = TlvTable::new();
            }
            _ => return Err(TlvError::BadCommand),
        }
        *self = t;
        Ok(())
    }
}

impl TlvTable {
    /// Fills `key`'s tun_metadata space and presence bits (see
    /// [`crate::table::key`]) from Geneve option TLVs as on the wire
    /// (RFC 8926 section 3.5: class 16 bits, type 8 bits, 3 reserved bits
    /// and a 5-bit length in 4-byte units, then the data), as OVS
    /// `tun_metadata_from_geneve_udpif()`. Options not in the table, or
    /// whose length differs from the mapped one, are left out; a truncated
    /// option ends the parse.
    pub fn geneve_to_md(&self, opts: &[u8], key: &mut XKey) {
        key.flow.w[TUN_OPTS_WORD..TUN_OPTS_WORD + TUN_OPTS_WORDS].fill(0);
        key.meta[TUN_MD_PRESENT_WORD] = 0;
        let mut rest = opts;
        while rest.len() >= 4 {
            let class = u16::from_be_bytes([rest[0], rest[1]]);
            let otype = rest[2];
            let len = (rest[3] & 0x1f) as usize * 4;
            let Some(data) = rest.get(4..4 + len) else {
                break;
            };
            if let Some(i) = self.index_of(class, otype) {
                let e = self.entries[i as usize].expect("index_of found it");
                if e.len as usize == len {
                    key.set_tun_md(&e, data, &vec![0xff; len]);
                    key.meta[TUN_MD_PRESENT_WORD] |= 1 << i;
                }
            }
            rest = &rest[4 + len..];
        }
    }

    /// The Geneve option TLVs (wire form) of the present mapped
    /// `tun_metadata` fields of `key`, by increasing index (OVS
    /// `tun_metadata_to_geneve_nlattr()` for a flow not in udpif form).
    pub fn md_to_geneve(&self, key: &XKey) -> Vec<u8> {
        let present = key.meta[TUN_MD_PRESENT_WORD];
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let Some(e) = e else {
                continue;
            };
            if present >> i & 1 == 0 {
                continue;
            }
            out.extend_from_slice(&e.class.to_be_bytes());
            out.push(e.otype);
            out.push(e.len / 4);
            out.extend_from_slice(&key.tun_md(e));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(class: u16, t: u8, len: u8, index: u16) -> TlvMap {
        TlvMap {
            option_class: class,
            option_type: t,
            option_len: len,
            index,
        }
    }

    #[test]
    fn add_delete_clear_and_errors() {
        let mut t = TlvTable::new();
        let free = |_| false;
        t.apply(nxttmc::ADD, &[m(0xffff, 0, 4, 0), m(0xffff, 1, 8, 1)], free)
            .unwrap();
        assert_eq!(t.get(1).unwrap().offset, 4);
        let e = |t: &mut TlvTable, c, ms: &[TlvMap]| t.apply(c, ms, free).unwrap_err();
        assert_eq!(e(&mut t, 0, &[m(1, 0, 4, 0)]), TlvError::AlreadyMapped);
        assert_eq!(e(&mut t, 0, &[m(0xffff, 1, 4, 2)]), TlvError::DupEntry);
        assert_eq!(e(&mut t, 0, &[m(1, 0, 5, 2)]), TlvError::BadOptLen);
        assert_eq!(e(&mut t, 0, &[m(1, 0, 128, 2)]), TlvError::BadOptLen);
        assert_eq!(e(&mut t, 0, &[m(1, 0, 4, 64)]), TlvError::BadFieldIdx);
        assert_eq!(e(&mut t, 9, &[]), TlvError::BadCommand);
        // Two 124-byte options fill what is left after 12 bytes: full.
        let big = [m(2, 0, 124, 2), m(2, 1, 124, 3)];
        assert_eq!(e(&mut t, 0, &big), TlvError::TableFull);
        assert_eq!(t.maps().len(), 2, "all or nothing");
        assert_eq!(
            t.apply(nxttmc::DELETE, &[m(0, 0, 0, 0)], |i| i == 0),
            Err(TlvError::InvalidTlvDel)
        );
        t.apply(nxttmc::DELETE, &[m(0, 0, 0, 0)], free).unwrap();
        assert_eq!(t.maps(), vec![m(0xffff, 1, 8, 1)]);
        t.apply(nxttmc::ADD, &[m(0xffff, 0, 4, 0)], free).unwrap();
        assert_eq!(t.get(0).unwrap().offset, 0, "freed space is reused");
        t.apply(nxttmc::CLEAR, &[], free).unwrap();
        assert!(t.maps().is_empty());
    }

    #[test]
    fn geneve_options_to_metadata_and_back() {
        let mut t = TlvTable::new();
        t.apply(
            nxttmc::ADD,
            &[m(0x0102, 0x80, 4, 3), m(0xffff, 1, 8, 0)],
            |_| false,
        )
        .unwrap();
        // An unmapped option, then tun_metadata3, then a truncated one.
        let opts = [
            0x09, 0x09, 0x01, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, //
            0x01, 0x02, 0x80, 0x01, 0x00, 0x00, 0x12, 0x34, //
            0xff, 0xff, 0x01, 0x02, 0x11,
        ];
        let mut k = XKey::default();
        t.geneve_to_md(&opts, &mut k);
        assert_eq!(k.meta[TUN_MD_PRESENT_WORD], 1 << 3);
        assert_eq!(k.tun_md(&t.get(3).unwrap()), [0, 0, 0x12, 0x34]);
        assert_eq!(t.md_to_geneve(&k), opts[8..16].to_vec());
    }
}
