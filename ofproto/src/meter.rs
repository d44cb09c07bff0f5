//! The meter table (OpenFlow 1.3.5 section 5.7 "Meter Table", section
//! 7.3.4.4 "Meter Modification Message"; OVS `ofproto/ofproto.c` meters,
//! `ovs-ofctl(8)` "Meter Syntax").
//!
//! OpenFlow meters are configuration here; the datapath enforces them (token
//! buckets per datapath meter, `pmd` crate). Each OpenFlow meter is bound
//! to a datapath meter id chosen by the caller when the meter is added
//! ([`MeterTable::apply`]'s `alloc`), and xlate emits `meter(DP_ID)`
//! ([`MeterTable::dp_id`]).

use crate::ofp::error::ErrorCode;
use crate::ofp::switch::{MeterBand, MeterMod};
use crate::ofp::OfpError;
use crate::table::FlowModError;
use std::collections::BTreeMap;

/// OFPMC_ADD.
pub const OFPMC_ADD: u16 = 0;
/// OFPMC_MODIFY.
pub const OFPMC_MODIFY: u16 = 1;
/// OFPMC_DELETE.
pub const OFPMC_DELETE: u16 = 2;
/// OFPMF_KBPS: rates in kilobits per second.
pub const OFPMF_KBPS: u16 = 1;
/// OFPMF_PKTPS: rates in packets per second.
pub const OFPMF_PKTPS: u16 = 2;
/// OFPMF_BURST: burst sizes are given.
pub const OFPMF_BURST: u16 = 4;
/// OFPMF_STATS: collect statistics.
pub const OFPMF_STATS: u16 = 8;
/// OFPM_MAX: last usable meter id.
pub const OFPM_MAX: u32 = 0xffff_0000;
/// OFPM_ALL: every meter.
pub const OFPM_ALL: u32 = 0xffff_ffff;
/// OFPMBT_DROP.
pub const OFPMBT_DROP: u16 = 1;
/// OFPMBT_DSCP_REMARK.
pub const OFPMBT_DSCP_REMARK: u16 = 2;

/// OFPMMFC_METER_EXISTS.
pub const OFPMMFC_METER_EXISTS: u16 = 1;
/// OFPMMFC_INVALID_METER.
pub const OFPMMFC_INVALID_METER: u16 = 2;
/// OFPMMFC_UNKNOWN_METER.
pub const OFPMMFC_UNKNOWN_METER: u16 = 3;
/// OFPMMFC_BAD_COMMAND.
pub const OFPMMFC_BAD_COMMAND: u16 = 4;
/// OFPMMFC_BAD_FLAGS.
pub const OFPMMFC_BAD_FLAGS: u16 = 5;
/// OFPMMFC_BAD_RATE.
pub const OFPMMFC_BAD_RATE: u16 = 6;
/// OFPMMFC_BAD_BAND.
pub const OFPMMFC_BAD_BAND: u16 = 8;

/// OFPET_METER_MOD_FAILED (type 12, OpenFlow 1.3+) with `code`.
fn mm_err(code: u16, what: &'static str) -> FlowModError {
    FlowModError::Codec(OfpError::new(ErrorCode::Wire { err_type: 12, code }, what))
}

/// One OpenFlow meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    /// OpenFlow meter id.
    pub id: u32,
    /// OFPMF_* flags.
    pub flags: u16,
    /// Bands.
    pub bands: Vec<MeterBand>,
    /// Datapath meter id enforcing it.
    pub dp_id: u32,
    /// Creation time (caller's monotonic ns).
    pub created_ns: u64,
}

impl Meter {
    /// Burst of band `b` in its unit (packets or kilobits): the configured
    /// one with OFPMF_BURST, else the rate (one second's worth, as OVS's
    /// userspace datapath does).
    pub fn burst(&self, b: &MeterBand) -> u32 {
        if self.flags & OFPMF_BURST != 0 && b.burst_size > 0 {
            b.burst_size
        } else {
            b.rate
        }
    }
}

/// What a METER_MOD changed, for the caller to mirror into the datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterChange {
    /// The meter was added or modified: (re)configure its datapath meter.
    Set(Meter),
    /// These meters were deleted: free their datapath meters.
    Deleted(Vec<Meter>),
}

/// The meters of a bridge.
#[derive(Debug, Default)]
pub struct MeterTable {
    /// Meters by OpenFlow id.
    pub meters: BTreeMap<u32, Meter>,
    /// Bumped on every change (revalidation trigger).
    pub version: u64,
}

impl MeterTable {
    /// An empty table.
    pub fn new() -> MeterTable {
        MeterTable::default()
    }

    /// Datapath meter id of OpenFlow meter `id`.
    pub fn dp_id(&self, id: u32) -> Option<u32> {
        self.meters.get(&id).map(|m| m.dp_id)
    }

    /// Applies a METER_MOD at `now_ns` (OpenFlow 1.3.5 section 7.3.4.4);
    /// `alloc` gives a datapath meter id to a new meter.
    pub fn apply(
        &mut self,
        mm: &MeterMod,
        now_ns: u64,
        alloc: impl FnOnce() -> Option<u32>,
    ) -> Result<MeterChange, FlowModError> {
        match mm.command {
            OFPMC_ADD | OFPMC_MODIFY => {
                if mm.meter_id == 0 || mm.meter_id > OFPM_MAX {
                    return Err(mm_err(OFPMMFC_INVALID_METER, "invalid meter id"));
                }
                let unit = mm.flags & (OFPMF_KBPS | OFPMF_PKTPS);
                if unit == (OFPMF_KBPS | OFPMF_PKTPS)
                    || mm.flags & !(OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS) != 0
                {
                    return Err(mm_err(OFPMMFC_BAD_FLAGS, "bad meter flags"));
                }
                if mm.bands.is_empty() {
                    return Err(mm_err(OFPMMFC_BAD_BAND, "meter without band"));
                }
                if mm.bands.iter().any(|b| b.rate == 0) {
                    return Err(mm_err(OFPMMFC_BAD_RATE, "zero rate"));
                }
                if mm
                    .bands
                    .iter()
                    .any(|b| b.band_type != OFPMBT_DROP && b.band_type != OFPMBT_DSCP_REMARK)
                {
                    return Err(mm_err(OFPMMFC_BAD_BAND, "unsupported band type"));
                }
                let old = self.meters.get(&mm.meter_id);
                let (dp_id, created_ns) = match (mm.command, old) {
                    (OFPMC_ADD, Some(_)) => {
                        return Err(mm_err(OFPMMFC_METER_EXISTS, "meter exists"))
                    }
                    (OFPMC_MODIFY, None) => {
                        return Err(mm_err(OFPMMFC_UNKNOWN_METER, "no such meter"))
                    }
                    (_, Some(o)) => (o.dp_id, o.created_ns),
                    (_, None) => (
                        // OFPMMFC_OUT_OF_METERS.
                        alloc().ok_or_else(|| mm_err(10, "out of meters"))?,
                        now_ns,
                    ),
                };
                let m = Meter {
                    id: mm.meter_id,
                    flags: mm.flags,
                    bands: mm.bands.clone(),
                    dp_id,
                    created_ns,
                };
                self.meters.insert(mm.meter_id, m.clone());
                self.version += 1;
                Ok(MeterChange::Set(m))
            }
            OFPMC_DELETE => {
                let ids: Vec<u32> = if mm.meter_id == OFPM_ALL {
                    self.meters.keys().copied().collect()
                } else {
                    self.meters
                        .contains_key(&mm.meter_id)
                        .then_some(mm.meter_id)
                        .into_iter()
                        .collect()
                };
                let gone: Vec<Meter> = ids.iter().filter_map(|id| self.meters.remove(id)).collect();
                if !gone.is_empty() {
                    self.version += 1;
                }
                Ok(MeterChange::Deleted(gone))
            }
            _ => Err(mm_err(OFPMMFC_BAD_COMMAND, "unknown meter command")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mm(cmd: u16, id: u32, flags: u16, rate: u32) -> MeterMod {
        MeterMod {
            command: cmd,
            flags,
            meter_id: id,
            bands: vec![MeterBand {
                band_type: OFPMBT_DROP,
                rate,
                burst_size: 10,
                prec_level: 0,
                experimenter: 0,
            }],
        }
    }

    #[test]
    fn meter_mod_semantics() {
        let mut t = MeterTable::new();
        let c = t
            .apply(&mm(OFPMC_ADD, 1, OFPMF_PKTPS | OFPMF_BURST, 100), 5, || {
                Some(7)
            })
            .unwrap();
        let MeterChange::Set(m) = c else { panic!() };
        assert_eq!((m.dp_id, m.created_ns, m.burst(&m.bands[0])), (7, 5, 10));
        assert_eq!(t.dp_id(1), Some(7));
        let e = t.apply(&mm(OFPMC_ADD, 1, OFPMF_PKTPS, 1), 0, || Some(8));
        assert_eq!(e.unwrap_err().to_wire(4), (12, OFPMMFC_METER_EXISTS));
        let e = t.apply(&mm(OFPMC_MODIFY, 2, OFPMF_PKTPS, 1), 0, || Some(8));
        assert_eq!(e.unwrap_err().to_wire(4), (12, OFPMMFC_UNKNOWN_METER));
        let e = t.apply(&mm(OFPMC_ADD, 0, OFPMF_PKTPS, 1), 0, || Some(8));
        assert_eq!(e.unwrap_err().to_wire(4), (12, OFPMMFC_INVALID_METER));
        let e = t.apply(&mm(OFPMC_ADD, 3, OFPMF_PKTPS | OFPMF_KBPS, 1), 0, || {
            Some(8)
        });
        assert_eq!(e.unwrap_err().to_wire(4), (12, OFPMMFC_BAD_FLAGS));
        let e = t.apply(&mm(OFPMC_ADD, 3, OFPMF_PKTPS, 0), 0, || Some(8));
        assert_eq!(e.unwrap_err().to_wire(4), (12, OFPMMFC_BAD_RATE));
        // Modify keeps the datapath meter; without BURST, burst = rate.
        let MeterChange::Set(m) = t
            .apply(&mm(OFPMC_MODIFY, 1, OFPMF_KBPS, 500), 9, || None)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!((m.dp_id, m.created_ns, m.burst(&m.bands[0])), (7, 5, 500));
        t.apply(&mm(OFPMC_ADD, 2, OFPMF_PKTPS, 1), 0, || Some(8))
            .unwrap();
        let MeterChange::Deleted(d) = t
            .apply(&mm(OFPMC_DELETE, OFPM_ALL, 0, 1), 0, || None)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(d.iter().map(|m| m.dp_id).collect::<Vec<_>>(), vec![7, 8]);
        assert!(t.meters.is_empty());
    }
}
