//! Text of `ovs-appctl dpif-netdev/pmd-stats-show` and `pmd-rxq-show`, in
//! OVS 3.1's exact layout (`lib/dpif-netdev.c`: `pmd_info_show_stats`,
//! `pmd_info_show_rxq`).

use crate::thread::ThreadStats;
use std::fmt::Write;

/// NUMA node of `core` from sysfs (0 when unknown).
pub(crate) fn numa_of(core: usize) -> usize {
    let dir = format!("/sys/devices/system/cpu/cpu{core}");
    std::fs::read_dir(dir)
        .ok()
        .and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("node")?.parse().ok())
                .next()
        })
        .unwrap_or(0)
}

/// CPU clock in MHz from /proc/cpuinfo, to express times as cycles like OVS
/// (which counts TSC cycles). 1000 (1 cycle per ns) if unknown.
pub(crate) fn cpu_mhz() -> f64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(1000.0)
}

pub(crate) fn thread_header(out: &mut String, core: Option<usize>) {
    match core {
        Some(c) => {
            let _ = writeln!(out, "pmd thread numa_id {} core_id {}:", numa_of(c), c);
        }
        None => out.push_str("main thread:\n"),
    }
}

/// One thread's block of `pmd-stats-show`.
pub(crate) fn format_stats(out: &mut String, core: Option<usize>, s: &ThreadStats, mhz: f64) {
    thread_header(out, core);
    let f = &s.fast;
    let total_packets = f.recv;
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let passes = if total_packets > 0 {
        (total_packets + f.recirc) as f64 / total_packets as f64
    } else {
        0.0
    };
    let _ = write!(
        out,
        "  packets received: {}\n  packet recirculations: {}\n  avg. datapath passes per packet: {:.2}\n  phwol hits: 0\n  mfex opt hits: 0\n  simple match hits: {}\n  emc hits: {}\n  smc hits: {}\n  megaflow hits: {}\n  avg. subtable lookups per megaflow hit: {:.2}\n  miss with success upcall: {}\n  miss with failed upcall: {}\n  avg. packets per output batch: {:.2}\n",
        total_packets,
        f.recirc,
        passes,
        f.simple_hit,
        f.emc_hit,
        f.smc_hit,
        f.masked_hit,
        ratio(f.lookups, f.masked_hit),
        f.miss,
        f.lost,
        ratio(s.sent_pkts, s.sent_batches),
    );
    let cyc = |ns: u64| (ns as f64 * mhz / 1000.0) as u64;
    let (idle, busy) = (cyc(s.idle_ns), cyc(s.busy_ns));
    let total = idle + busy;
    if core.is_none() || total == 0 {
        return;
    }
    let _ = write!(
        out,
        "  idle cycles: {} ({:.2}%)\n  processing cycles: {} ({:.2}%)\n",
        idle,
        idle as f64 / total as f64 * 100.0,
        busy,
        busy as f64 / total as f64 * 100.0
    );
    if total_packets == 0 {
        return;
    }
    let _ = write!(
        out,
        "  avg cycles per packet: {:.2} ({}/{})\n  avg processing cycles per packet: {:.2} ({}/{})\n",
        total as f64 / total_packets as f64,
        total,
        total_packets,
        busy as f64 / total_packets as f64,
        busy,
        total_packets
    );
}

/// One PMD's block of `pmd-perf-show`: OVS 3.1's layout
/// (`lib/dpif-netdev.c` `pmd_info_show_perf`, `lib/dpif-netdev-perf.c`
/// `pmd_perf_format_overall_stats`, checked against OVS 3.1.0's output) for
/// the counters rvs keeps (no partial hardware offload or MFEX: their lines
/// read 0), then, when `pmd-perf-metrics` is on, the rvs
/// section "Cycles per packet by stage" (TSC cycles per received packet) in
/// place of OVS's histograms. Cycles are TSC cycles at `tsc_hz` (times
/// measured in ns are converted at that rate).
pub(crate) fn format_perf(
    out: &mut String,
    core: usize,
    s: &ThreadStats,
    tsc_hz: f64,
    wall_clock: &str,
) {
    let duration = s.duration_ns as f64 / 1e9;
    let _ = write!(
        out,
        "\nTime: {wall_clock}\nMeasurement duration: {duration:.3} s\n\n"
    );
    thread_header(out, Some(core));
    out.push('\n');
    if duration == 0.0 {
        return;
    }
    let f = &s.fast;
    let cyc = |ns: u64| (ns as f64 * tsc_hz / 1e9) as u64;
    let (idle, busy) = (cyc(s.idle_ns), cyc(s.busy_ns));
    let total = idle + busy;
    let pct = |a: u64, b: u64| {
        if b > 0 {
            100.0 * a as f64 / b as f64
        } else {
            0.0
        }
    };
    let per_iter = |v: f64| {
        if s.iterations > 0 {
            v / s.iterations as f64
        } else {
            0.0
        }
    };
    // Label padded to 22 columns, value right-aligned in 12, as OVS 3.1
    // prints them ("  - Simple Match hits:           0").
    let line = |out: &mut String, label: &str, value: &dyn std::fmt::Display, rest: String| {
        let _ = writeln!(
            out,
            "{:<22}{:>12}  ({rest})",
            format!("  {label}:"),
            value.to_string()
        );
    };
    line(
        out,
        "Iterations",
        &s.iterations,
        format!("{:.2} us/it", per_iter(total as f64 * 1e6 / tsc_hz)),
    );
    line(
        out,
        "- Used TSC cycles",
        &total,
        format!(
            "{:>5.1} % of total cycles",
            100.0 * total as f64 / duration / tsc_hz
        ),
    );
    line(
        out,
        "- idle iterations",
        &s.idle_iterations,
        format!("{:>5.1} % of used cycles", pct(idle, total)),
    );
    line(
        out,
        "- busy iterations",
        &(s.iterations - s.idle_iterations.min(s.iterations)),
        format!("{:>5.1} % of used cycles", pct(busy, total)),
    );
    line(
        out,
        "- sleep iterations",
        &s.sleep_iterations,
        format!(
            "{:>5.1} % of iterations",
            pct(s.sleep_iterations, s.iterations)
        ),
    );
    line(
        out,
        "Sleep time (us)",
        &format!("{:.0}", s.sleep_ns as f64 / 1000.0),
        format!(
            "{:>3.0} us/iteration avg.",
            per_iter(s.sleep_ns as f64 / 1000.0)
        ),
    );
    let rx = f.recv;
    let passes = f.recv + f.recirc;
    let upcall_us = if f.miss > 0 && s.perf_metrics {
        s.stages.upcall as f64 * 1e6 / tsc_hz / f.miss as f64
    } else {
        0.0
    };
    if rx > 0 {
        line(
            out,
            "Rx packets",
            &rx,
            format!(
                "{:.0} Kpps, {:.0} cycles/pkt",
                rx as f64 / duration / 1000.0,
                busy as f64 / rx as f64
            ),
        );
        line(
            out,
            "Datapath passes",
            &passes,
            format!("{:.2} passes/pkt", passes as f64 / rx as f64),
        );
        for label in ["- PHWOL hits", "- MFEX Opt hits"] {
            line(out, label, &0, format!("{:>5.1} %", 0.0));
        }
        line(
            out,
            "- Simple Match hits",
            &f.simple_hit,
            format!("{:>5.1} %", pct(f.simple_hit, passes)),
        );
        line(
            out,
            "- EMC hits",
            &f.emc_hit,
            format!("{:>5.1} %", pct(f.emc_hit, passes)),
        );
        line(
            out,
            "- SMC hits",
            &f.smc_hit,
            format!("{:>5.1} %", pct(f.smc_hit, passes)),
        );
        let lookups = if f.masked_hit > 0 {
            f.lookups as f64 / f.masked_hit as f64
        } else {
            0.0
        };
        line(
            out,
            "- Megaflow hits",
            &f.masked_hit,
            format!(
                "{:>5.1} %, {lookups:.2} subtbl lookups/hit",
                pct(f.masked_hit, passes)
            ),
        );
        line(
            out,
            "- Upcalls",
            &f.miss,
            format!("{:>5.1} %, {upcall_us:.1} us/upcall", pct(f.miss, passes)),
        );
        line(
            out,
            "- Lost upcalls",
            &f.lost,
            format!("{:>5.1} %", pct(f.lost, passes)),
        );
    } else {
        let _ = writeln!(out, "{:<22}{:>12}", "  Rx packets:", 0);
    }
    if s.sent_pkts > 0 {
        line(
            out,
            "Tx packets",
            &s.sent_pkts,
            format!("{:.0} Kpps", s.sent_pkts as f64 / duration / 1000.0),
        );
        line(
            out,
            "Tx batches",
            &s.sent_batches,
            format!(
                "{:.2} pkts/batch",
                s.sent_pkts as f64 / s.sent_batches.max(1) as f64
            ),
        );
    } else {
        let _ = write!(out, "{:<22}{:>12}\n\n", "  Tx packets:", 0);
    }
    if !s.perf_metrics || rx == 0 {
        return;
    }
    let st = &s.stages;
    let stages = [
        ("rx", s.rx_cycles),
        ("extract", st.extract),
        ("EMC", st.emc),
        ("SMC/dpcls", st.smc_dpcls),
        ("upcall", st.upcall),
        ("actions", st.actions),
        ("tx", s.tx_cycles),
    ];
    let staged: u64 = stages.iter().map(|(_, c)| c).sum();
    let per = |c: u64| format!("{:.1}", c as f64 / rx as f64);
    let _ = write!(
        out,
        "\n  Cycles per packet by stage (rvs; TSC {:.2} GHz; rx batches {}, {:.2} pkts/batch):\n",
        tsc_hz / 1e9,
        s.rx_batches,
        rx as f64 / s.rx_batches.max(1) as f64,
    );
    for (name, c) in stages {
        line(
            out,
            &format!("- {name}"),
            &per(c),
            format!("{:>5.1} %", pct(c, s.busy_cycles)),
        );
    }
    let other = s.busy_cycles.saturating_sub(staged);
    line(
        out,
        "- other",
        &per(other),
        format!("{:>5.1} %", pct(other, s.busy_cycles)),
    );
    line(
        out,
        "Busy iterations",
        &per(s.busy_cycles),
        "cycles/pkt".to_owned(),
    );
}

/// One rx queue line of `pmd-rxq-show`.
pub(crate) struct RxqLine {
    pub port: String,
    pub qid: usize,
    pub busy_ns: u64,
}

/// One PMD's block of `pmd-rxq-show`; `total_ns` is the thread's measured
/// time (idle + busy) over the same period as the queues' `busy_ns`.
pub(crate) fn format_rxq(
    out: &mut String,
    core: usize,
    isolated: bool,
    mut rxqs: Vec<RxqLine>,
    thread_busy_ns: u64,
    total_ns: u64,
) {
    let _ = write!(
        out,
        "pmd thread numa_id {} core_id {}:\n  isolated : {}\n",
        numa_of(core),
        core,
        isolated
    );
    rxqs.sort_by(|a, b| a.port.cmp(&b.port).then(a.qid.cmp(&b.qid)));
    let mut rxq_total = 0;
    for q in &rxqs {
        rxq_total += q.busy_ns;
        let _ = write!(
            out,
            "  port: {:<16}  queue-id: {:>2} (enabled)   pmd usage: ",
            q.port, q.qid
        );
        if total_ns > 0 {
            let _ = writeln!(out, "{:>2.0} %", q.busy_ns as f64 * 100.0 / total_ns as f64);
        } else {
            out.push_str("NOT AVAIL\n");
        }
    }
    if !rxqs.is_empty() {
        out.push_str("  overhead: ");
        if total_ns > 0 {
            let over = thread_busy_ns.saturating_sub(rxq_total);
            let _ = writeln!(out, "{:>2.0} %", over as f64 * 100.0 / total_ns as f64);
        } else {
            out.push_str("NOT AVAIL\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_block_reads_like_ovs() {
        let mut s = ThreadStats::default();
        s.fast.recv = 206;
        s.fast.recirc = 160;
        s.fast.simple_hit = 5;
        s.fast.masked_hit = 146;
        s.fast.lookups = 331;
        s.fast.miss = 219;
        s.fast.lost = 1;
        s.sent_pkts = 10;
        s.sent_batches = 10;
        s.idle_ns = 3000;
        s.busy_ns = 1000;
        let mut out = String::new();
        format_stats(&mut out, Some(2), &s, 1000.0);
        let expect = "pmd thread numa_id 0 core_id 2:
  packets received: 206
  packet recirculations: 160
  avg. datapath passes per packet: 1.78
  phwol hits: 0
  mfex opt hits: 0
  simple match hits: 5
  emc hits: 0
  smc hits: 0
  megaflow hits: 146
  avg. subtable lookups per megaflow hit: 2.27
  miss with success upcall: 219
  miss with failed upcall: 1
  avg. packets per output batch: 1.00
  idle cycles: 3000 (75.00%)
  processing cycles: 1000 (25.00%)
  avg cycles per packet: 19.42 (4000/206)
  avg processing cycles per packet: 4.85 (1000/206)
";
        assert_eq!(out, expect);
    }

    #[test]
    fn perf_block_reads_like_ovs() {
        // Counters of an OVS 3.1.0 run (of_pipeline_100k in
        // scripts/bench-vs-ovs.sh); the expected lines are copied from its
        // `ovs-appctl dpif-netdev/pmd-perf-show`.
        let mut s = ThreadStats::default();
        s.fast.recv = 7_798_112;
        s.fast.emc_hit = 603_488;
        s.fast.masked_hit = 7_194_624;
        s.fast.lookups = 7_194_624;
        s.sent_pkts = 7_798_080;
        s.sent_batches = 243_690;
        s.iterations = 243_690;
        s.busy_ns = 6_000_000_000;
        s.duration_ns = 6_918_000_000;
        let mut out = String::new();
        format_perf(&mut out, 1, &s, 1e9, "15:12:22.369");
        assert!(out.starts_with(
            "\nTime: 15:12:22.369\nMeasurement duration: 6.918 s\n\npmd thread numa_id "
        ));
        for line in [
            "  Iterations:               243690  (24.62 us/it)",
            "  - idle iterations:             0  (  0.0 % of used cycles)",
            "  - busy iterations:        243690  (100.0 % of used cycles)",
            "  - sleep iterations:            0  (  0.0 % of iterations)",
            "  Sleep time (us):               0  (  0 us/iteration avg.)",
            "  Datapath passes:         7798112  (1.00 passes/pkt)",
            "  - PHWOL hits:                  0  (  0.0 %)",
            "  - MFEX Opt hits:               0  (  0.0 %)",
            "  - Simple Match hits:           0  (  0.0 %)",
            "  - EMC hits:               603488  (  7.7 %)",
            "  - SMC hits:                    0  (  0.0 %)",
            "  - Megaflow hits:         7194624  ( 92.3 %, 1.00 subtbl lookups/hit)",
            "  - Upcalls:                     0  (  0.0 %, 0.0 us/upcall)",
            "  - Lost upcalls:                0  (  0.0 %)",
            "  Tx batches:               243690  (32.00 pkts/batch)",
        ] {
            assert!(out.contains(&format!("\n{line}\n")), "{line}\n{out}");
        }
        // Metrics off: no stage section.
        assert!(!out.contains("by stage"));
        // The same traffic answered by simple match (OVS 3.1 `pf_64_1flow`).
        s.fast.simple_hit = s.fast.recv;
        s.fast.emc_hit = 0;
        s.fast.masked_hit = 0;
        let mut out = String::new();
        format_perf(&mut out, 1, &s, 1e9, "15:12:22.369");
        let line = "  - Simple Match hits:     7798112  (100.0 %)";
        assert!(out.contains(&format!("\n{line}\n")), "{line}\n{out}");
    }

    #[test]
    fn rxq_block_reads_like_ovs() {
        let mut out = String::new();
        let q = |p: &str, qid, busy_ns| RxqLine {
            port: p.into(),
            qid,
            busy_ns,
        };
        format_rxq(
            &mut out,
            3,
            false,
            vec![q("dpdk1", 0, 10), q("dpdk0", 0, 50)],
            70,
            100,
        );
        assert_eq!(
            out,
            "pmd thread numa_id 0 core_id 3:\n  isolated : false\n  port: dpdk0             queue-id:  0 (enabled)   pmd usage: 50 %\n  port: dpdk1             queue-id:  0 (enabled)   pmd usage: 10 %\n  overhead: 10 %\n"
        );
    }
}
