//! Datapath meters: the `meter(N)` action (OVS `dpif-netdev.c`
//! `dp_netdev_run_meter()`; OpenFlow 1.3.5 section 5.7 for the semantics).
//!
//! Each meter has bands with a token bucket each. A packet that exceeds one
//! or more bands is handled by the exceeded band with the highest rate
//! (OpenFlow 1.3.5 section 5.7.1); a `drop` band removes it, a
//! `dscp_remark` band lets it pass (counted).
//!
//! Sharing between threads: the control side edits the set of meters under
//! a mutex and publishes an immutable snapshot (`Arc<HashMap>`) with a
//! generation number. A PMD thread compares the generation (one atomic
//! load per received batch) and takes the new snapshot only when it
//! changed; the fast path therefore takes no global lock. Token buckets
//! are per band behind a per-band mutex (held for a few arithmetic
//! operations per batch); counters are atomics.

use dp_core::packet::PacketBatch;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Largest datapath meter id handed out (OVS `MAX_METERS`).
pub const MAX_METERS: u32 = 65536;

/// Band action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandKind {
    /// Drop packets over the rate.
    Drop,
    /// Let them pass (DSCP remarking is not done; counted only).
    DscpRemark,
}

/// One band's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandConfig {
    /// What happens to packets over the rate.
    pub kind: BandKind,
    /// Rate: packets per second (`pktps`) or kilobits per second.
    pub rate: u32,
    /// Bucket depth in the rate's unit (packets or kilobits).
    pub burst: u32,
}

/// A meter's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    /// Rates in packets per second (else kilobits per second).
    pub pktps: bool,
    /// Bands.
    pub bands: Vec<BandConfig>,
}

/// Statistics of a meter (OpenFlow `ofp_meter_stats` counters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterStats {
    /// Packets that reached the meter.
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Per band: (packets, bytes) that exceeded it and it handled.
    pub bands: Vec<(u64, u64)>,
}

#[derive(Debug)]
struct Band {
    cfg: BandConfig,
    /// (tokens in thousandths of a unit, last refill ns).
    bucket: Mutex<(u64, u64)>,
    packets: AtomicU64,
    bytes: AtomicU64,
}

/// One meter as the datapath runs it.
#[derive(Debug)]
pub struct DpMeter {
    pktps: bool,
    bands: Vec<Band>,
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
}

impl DpMeter {
    fn new(cfg: &MeterConfig) -> DpMeter {
        DpMeter {
            pktps: cfg.pktps,
            bands: cfg
                .bands
                .iter()
                .map(|b| Band {
                    cfg: *b,
                    // Start full.
                    bucket: Mutex::new((b.burst.max(1) as u64 * 1000, u64::MAX)),
                    packets: AtomicU64::new(0),
                    bytes: AtomicU64::new(0),
                })
                .collect(),
            packets_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
        }
    }

    /// Runs `batch` through the meter at `now_ns`, removing dropped packets.
    pub fn run(&self, now_ns: u64, batch: &mut PacketBatch) {
        let n = batch.pkts.len();
        if n == 0 {
            return;
        }
        let bytes: u64 = batch.pkts.iter().map(|p| p.len() as u64).sum();
        self.packets_in.fetch_add(n as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
        // For each packet, the index of the band that handles it (if any).
        let mut exceeded: Vec<Option<usize>> = vec![None; n];
        for (bi, band) in self.bands.iter().enumerate() {
            let cap = band.cfg.burst.max(1) as u64 * 1000;
            let mut b = band.bucket.lock();
            // Refill: `rate` units per second = rate * 1000 milli-units per
            // 1e9 ns.
            if b.1 != u64::MAX && now_ns > b.1 {
                let add = (now_ns - b.1) as u128 * band.cfg.rate as u128 / 1_000_000;
                b.0 = (b.0 as u128 + add).min(cap as u128) as u64;
            }
            b.1 = now_ns;
            for (i, p) in batch.pkts.iter().enumerate() {
                // Cost in milli-units: a packet is 1000; a kilobit is 1000
                // bits, so a packet costs its size in bits.
                let cost = if self.pktps { 1000 } else { p.len() as u64 * 8 };
                if b.0 >= cost {
                    b.0 -= cost;
                } else {
                    let better = match exceeded[i] {
                        Some(o) => self.bands[o].cfg.rate < band.cfg.rate,
                        None => true,
                    };
                    if better {
                        exceeded[i] = Some(bi);
                    }
                }
            }
        }
        let mut i = 0;
        batch.pkts.retain(|p| {
            let e = exceeded[i];
            i += 1;
            match e {
                Some(bi) => {
                    let band = &self.bands[bi];
                    band.packets.fetch_add(1, Ordering::Relaxed);
                    band.bytes.fetch_add(p.len() as u64, Ordering::Relaxed);
                    band.cfg.kind != BandKind::Drop
                }
                None => true,
            }
        });
    }

    /// Current counters.
    pub fn stats(&self) -> MeterStats {
        MeterStats {
            packets_in: self.packets_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bands: self
                .bands
                .iter()
                .map(|b| {
                    (
                        b.packets.load(Ordering::Relaxed),
                        b.bytes.load(Ordering::Relaxed),
                    )
                })
                .collect(),
        }
    }
}

/// Control-side state: the meters by id and the reserved ids.
type Ctl = (HashMap<u32, Arc<DpMeter>>, BTreeSet<u32>);

/// An immutable set of meters as a thread uses it.
pub type MeterSnapshot = Arc<HashMap<u32, Arc<DpMeter>>>;

/// The datapath's meters, shared by the control side and every thread; see
/// the module documentation.
#[derive(Debug, Default)]
pub struct Meters {
    ctl: Mutex<Ctl>,
    snap: Mutex<MeterSnapshot>,
    gen: AtomicU64,
}

impl Meters {
    /// No meters.
    pub fn new() -> Meters {
        Meters::default()
    }

    /// Reserves a free meter id (lowest first), or None when all
    /// [`MAX_METERS`] are taken.
    pub fn alloc(&self) -> Option<u32> {
        let mut c = self.ctl.lock();
        let id = (0..MAX_METERS).find(|i| !c.1.contains(i))?;
        c.1.insert(id);
        Some(id)
    }

    /// Configures meter `id` (reserving it if needed); its buckets start
    /// full and its counters at zero.
    pub fn set(&self, id: u32, cfg: &MeterConfig) {
        let mut c = self.ctl.lock();
        c.1.insert(id);
        c.0.insert(id, Arc::new(DpMeter::new(cfg)));
        self.publish(&c.0);
    }

    /// Removes meter `id` and frees its id; returns its last counters.
    pub fn del(&self, id: u32) -> Option<MeterStats> {
        let mut c = self.ctl.lock();
        c.1.remove(&id);
        let m = c.0.remove(&id)?;
        self.publish(&c.0);
        Some(m.stats())
    }

    /// Counters of meter `id`.
    pub fn stats(&self, id: u32) -> Option<MeterStats> {
        self.ctl.lock().0.get(&id).map(|m| m.stats())
    }

    fn publish(&self, m: &HashMap<u32, Arc<DpMeter>>) {
        *self.snap.lock() = Arc::new(m.clone());
        self.gen.fetch_add(1, Ordering::Release);
    }

    /// Generation of the published snapshot (changes on every edit).
    pub fn generation(&self) -> u64 {
        self.gen.load(Ordering::Acquire)
    }

    /// The published snapshot.
    pub fn snapshot(&self) -> MeterSnapshot {
        self.snap.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dp_core::packet::DpPacket;

    fn batch(n: usize, len: usize) -> PacketBatch {
        let mut b = PacketBatch::new();
        for _ in 0..n {
            b.pkts.push(Box::new(DpPacket::from_slice(&vec![0u8; len])));
        }
        b
    }

    #[test]
    fn pktps_drop_band_limits_to_rate_plus_burst() {
        let ms = Meters::new();
        let id = ms.alloc().unwrap();
        ms.set(
            id,
            &MeterConfig {
                pktps: true,
                bands: vec![BandConfig {
                    kind: BandKind::Drop,
                    rate: 100,
                    burst: 10,
                }],
            },
        );
        let m = ms.snapshot().get(&id).unwrap().clone();
        // 1000 packets per 10 ms for one second: 100 pkt/s + burst 10 pass.
        let mut passed = 0;
        for step in 0..100u64 {
            let mut b = batch(10, 60);
            m.run(step * 10_000_000, &mut b);
            passed += b.len();
        }
        assert!((100..=112).contains(&passed), "{passed}");
        let s = ms.stats(id).unwrap();
        assert_eq!(s.packets_in, 1000);
        assert_eq!(s.bands[0].0, 1000 - passed as u64);
        assert_eq!(ms.del(id).unwrap().packets_in, 1000);
        assert!(ms.snapshot().is_empty());
        assert_eq!(ms.alloc(), Some(id), "id reused");
    }

    #[test]
    fn kbps_and_highest_exceeded_band_wins() {
        let m = DpMeter::new(&MeterConfig {
            pktps: false,
            bands: vec![
                BandConfig {
                    kind: BandKind::Drop,
                    rate: 800, // 100 kB/s
                    burst: 8,  // 1000 bytes
                },
                BandConfig {
                    kind: BandKind::DscpRemark,
                    rate: 80,
                    burst: 8,
                },
            ],
        });
        // 1000 bytes of burst: the first 10 x 100-byte packets pass both.
        let mut b = batch(20, 100);
        m.run(0, &mut b);
        assert_eq!(b.len(), 10);
        let s = m.stats();
        assert_eq!(s.bands[0].0, 10, "drop band (higher rate) handled them");
        assert_eq!(s.bands[1].0, 0);
        // After 10 ms the 800 kbit/s band has 1000 bytes again, the 80 kbit/s
        // one only 100: packets over the low band only pass (remark).
        let mut b = batch(5, 100);
        m.run(10_000_000, &mut b);
        assert_eq!(b.len(), 5);
        assert_eq!(m.stats().bands[1].0, 4);
    }
}
