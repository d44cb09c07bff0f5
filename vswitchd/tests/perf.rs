//! `ovs-appctl dpif-netdev/pmd-perf-show` (OVS 3.1 layout, `lib/dpif-netdev.c`
//! `pmd_info_show_perf`) with and without `other_config:pmd-perf-metrics`,
//! after real traffic through a PMD thread (AF_XDP ports on veth pairs).

mod common;

use common::*;

/// A bridge with two namespaces on `type=afxdp` ports (PMD-polled), with
/// pmd-perf-metrics set to `metrics`, and pings between them.
fn pinged(metrics: bool) -> (Env, String) {
    let mut e = Env::new();
    e.vsctl(&[
        "set",
        "open",
        ".",
        &format!("other_config:pmd-perf-metrics={metrics}"),
    ])
    .unwrap();
    let br = unique("rvb");
    e.add_br(&br);
    let a = Ns::new("10.78.0.1");
    let b = Ns::new("10.78.0.2");
    for n in [&a, &b] {
        e.vsctl(&[
            "add-port",
            &br,
            &n.host,
            "--",
            "set",
            "interface",
            &n.host,
            "type=afxdp",
        ])
        .unwrap();
        assert_eq!(e.get("interface", &n.host, "error"), "[]");
    }
    assert!(a.ping(&b.ip, 20), "{}", e.log());
    a.exec(&["ping", "-c", "20", "-i", "0.05", &b.ip]).unwrap();
    let out = e.appctl(&["dpif-netdev/pmd-perf-show"]).unwrap();
    (e, out)
}

/// The first number after `label` in `out` (e.g. `"  Rx packets:"`).
fn number_after(out: &str, label: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in\n{out}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn pmd_perf_show_with_metrics_has_stage_cycles() {
    if !can_run("pmd_perf_show_with_metrics_has_stage_cycles") {
        return;
    }
    let _g = traffic_lock();
    let (_e, out) = pinged(true);
    assert!(out.starts_with("\nTime: "), "{out}");
    assert!(out.contains("\nMeasurement duration: "), "{out}");
    assert!(out.contains("\npmd thread numa_id "), "{out}");
    assert!(!out.contains("main thread"), "PMD threads only\n{out}");
    for label in [
        "  Iterations:",
        "  - Used TSC cycles:",
        "  - idle iterations:",
        "  - busy iterations:",
    ] {
        assert!(number_after(&out, label) > 0.0, "{label}\n{out}");
    }
    // OVS 3.1's lines for caches rvs does not have read 0.
    assert!(
        out.contains("\n  - PHWOL hits:                  0  (  0.0 %)\n"),
        "{out}"
    );
    // 20+ pings each way, and the ARP exchange.
    assert!(number_after(&out, "  Rx packets:") >= 40.0, "{out}");
    assert!(number_after(&out, "  Datapath passes:") >= 40.0, "{out}");
    assert!(number_after(&out, "  - Upcalls:") >= 2.0, "{out}");
    assert!(number_after(&out, "  Tx packets:") >= 40.0, "{out}");
    assert!(number_after(&out, "  Tx batches:") > 0.0, "{out}");
    assert!(
        out.contains("\n  Cycles per packet by stage (rvs; TSC "),
        "{out}"
    );
    let mut sum = 0.0;
    for stage in [
        "rx",
        "extract",
        "EMC",
        "SMC/dpcls",
        "upcall",
        "actions",
        "tx",
        "other",
    ] {
        let v = number_after(&out, &format!("  - {stage}:"));
        assert!(v >= 0.0, "{stage}\n{out}");
        sum += v;
    }
    // Every packet was received, extracted, looked up and sent.
    for stage in ["rx", "extract", "actions", "tx", "upcall"] {
        assert!(
            number_after(&out, &format!("  - {stage}:")) > 0.0,
            "{stage}\n{out}"
        );
    }
    let busy = number_after(&out, "  Busy iterations:");
    assert!(
        busy > 0.0 && (sum - busy).abs() <= busy * 0.01 + 1.0,
        "{out}"
    );
    // The upcall time is known with metrics on.
    let up = out.lines().find(|l| l.starts_with("  - Upcalls:")).unwrap();
    assert!(!up.contains(", 0.0 us/upcall)"), "{up}");
}

#[test]
fn pmd_perf_show_without_metrics_prints_basic_counters() {
    if !can_run("pmd_perf_show_without_metrics_prints_basic_counters") {
        return;
    }
    let _g = traffic_lock();
    let (e, out) = pinged(false);
    assert!(number_after(&out, "  Rx packets:") >= 40.0, "{out}");
    assert!(number_after(&out, "  Iterations:") > 0.0, "{out}");
    assert!(!out.contains("Cycles per packet by stage"), "{out}");
    // After a clear the counters start again from zero.
    e.appctl(&["dpif-netdev/pmd-stats-clear"]).unwrap();
    let out = e.appctl(&["dpif-netdev/pmd-perf-show"]).unwrap();
    assert_eq!(number_after(&out, "  Rx packets:"), 0.0, "{out}");
}

/// Port-forwarding flows (`in_port=A,actions=output:B` and back) give
/// megaflows that match only in_port, recirc_id, eth_type and nw_frag, the
/// "simple match" case of OVS 3.x (`dp_netdev_simple_match_*`): pings are
/// then answered without extraction, and `pmd-stats-show` /
/// `pmd-perf-show` count them as simple match hits, while `dpctl/dump-flows`
/// still counts the megaflow's packets.
#[test]
fn port_forwarding_uses_simple_match() {
    if !can_run("port_forwarding_uses_simple_match") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = unique("rvb");
    e.add_br(&br);
    let a = Ns::new("10.79.0.1");
    let b = Ns::new("10.79.0.2");
    for n in [&a, &b] {
        e.vsctl(&[
            "add-port",
            &br,
            &n.host,
            "--",
            "set",
            "interface",
            &n.host,
            "type=afxdp",
        ])
        .unwrap();
        assert_eq!(e.get("interface", &n.host, "error"), "[]");
    }
    let (pa, pb) = (
        e.get("interface", &a.host, "ofport"),
        e.get("interface", &b.host, "ofport"),
    );
    e.ofctl(&["del-flows", &br]).unwrap();
    e.ofctl(&[
        "add-flow",
        &br,
        &format!("in_port={pa},actions=output:{pb}"),
    ])
    .unwrap();
    e.ofctl(&[
        "add-flow",
        &br,
        &format!("in_port={pb},actions=output:{pa}"),
    ])
    .unwrap();
    assert!(a.ping(&b.ip, 20), "{}", e.log());
    e.appctl(&["dpif-netdev/pmd-stats-clear"]).unwrap();
    a.exec(&["ping", "-c", "20", "-i", "0.05", &b.ip]).unwrap();
    // The ICMP megaflows match only in_port, recirc_id, eth_type, nw_frag.
    let flows = e.appctl(&["dpctl/dump-flows"]).unwrap();
    let icmp: Vec<_> = flows
        .lines()
        .filter(|l| l.contains("eth_type(0x0800)"))
        .collect();
    assert!(!icmp.is_empty(), "{flows}");
    for l in &icmp {
        assert!(l.contains("ipv4(frag=no)"), "{l}\n{flows}");
        assert!(!l.contains("packets:0,"), "{l}\n{flows}");
    }
    let stats = e.appctl(&["dpif-netdev/pmd-stats-show"]).unwrap();
    let hits: u64 = stats
        .lines()
        .filter_map(|l| l.strip_prefix("  simple match hits: "))
        .map(|v| v.trim().parse::<u64>().unwrap())
        .sum();
    // 20 requests and 20 replies (an ARP refresh may take the full path).
    assert!(hits >= 38, "{stats}");
    let perf = e.appctl(&["dpif-netdev/pmd-perf-show"]).unwrap();
    assert!(
        number_after(&perf, "  - Simple Match hits:") >= 1.0,
        "{perf}"
    );
    // `dpctl/show` counts them as hits, as OVS's `dpif_netdev_get_stats`.
    let show = e.appctl(&["dpctl/show"]).unwrap();
    let hit: u64 = show
        .split("lookups: hit:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{show}"));
    assert!(hit >= hits, "{show}\n{stats}");
}
