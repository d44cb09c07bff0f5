//! The CPU cycle counter for `other_config:pmd-perf-metrics` (OVS
//! `lib/dpif-netdev-perf.h`, `cycles_counter_update`, which reads the TSC
//! with `rte_get_tsc_cycles` under DPDK).
//!
//! On x86_64 [`rdtsc`] reads the time-stamp counter: an invariant TSC on
//! every CPU this is meant for, counting reference cycles at a constant rate
//! whatever the core's frequency, a few tens of cycles per read and no
//! system call. Elsewhere it falls back to a monotonic clock in
//! nanoseconds ([`tsc_hz`] is then 1e9), so the counts stay meaningful as
//! times, only not as cycles.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The cycle counter: TSC on x86_64, nanoseconds of a process-wide
/// monotonic clock elsewhere.
#[inline]
pub(crate) fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no memory operands and no preconditions; it is
        // part of the x86_64 baseline, so the instruction always exists.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static BASE: OnceLock<Instant> = OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Rate of [`rdtsc`] in counts per second, measured once (20 ms against the
/// monotonic clock, on first use) and cached. 1e9 where [`rdtsc`] is the
/// nanosecond fallback.
pub(crate) fn tsc_hz() -> f64 {
    static HZ: OnceLock<f64> = OnceLock::new();
    *HZ.get_or_init(|| {
        if !cfg!(target_arch = "x86_64") {
            return 1e9;
        }
        let (t0, c0) = (Instant::now(), rdtsc());
        std::thread::sleep(Duration::from_millis(20));
        let (dt, dc) = (t0.elapsed(), rdtsc().wrapping_sub(c0));
        if dt.is_zero() || dc == 0 {
            1e9
        } else {
            dc as f64 / dt.as_secs_f64()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_advances_and_rate_is_plausible() {
        let a = rdtsc();
        let b = rdtsc();
        assert!(b >= a);
        let hz = tsc_hz();
        // Anything from 100 MHz to 10 GHz is a believable counter rate.
        assert!((1e8..1e10).contains(&hz), "{hz}");
    }
}
