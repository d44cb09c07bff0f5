//! The datapath end to end over in-memory `dummy` ports (OVS's netdev-dummy
//! equivalent): forwarding with MAC learning, megaflows visible in dumps,
//! statistics text, rx queue placement in every mode, and re-placement while
//! traffic flows without losing a packet.

use dp_core::actions::OdpAction;
use dp_core::flow_table::PutFlags;
use dp_core::odp_text::parse_match;
use netdev::dummy::DummyNetdev;
use netdev::{Netdev, Options};
use pmd::learning::LearningSwitch;
use pmd::{Datapath, DpConfig, RxqAssign};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn uniq(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn dummy(n_rxq: usize) -> Arc<DummyNetdev> {
    let mut o = Options::new();
    o.insert("n_rxq".into(), n_rxq.to_string());
    DummyNetdev::open(&uniq("d"), &o).expect("dummy port")
}

fn cfg(cores: Vec<usize>, mode: RxqAssign) -> DpConfig {
    DpConfig {
        pmd_cores: cores,
        rxq_assign: mode,
        // Tests share two cores: idle PMDs sleep instead of spinning.
        pmd_max_sleep_us: 200,
        ..DpConfig::default()
    }
}

fn frame(src: u8, dst: [u8; 6], sport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, src], dst)
        .ipv4([10, 0, 0, src], [10, 0, 0, dst[5]], 64)
        .udp(sport, 9)
        .write(&mut v, &sport.to_be_bytes())
        .unwrap();
    v
}

const fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// Collects what `port` transmits until `n` frames arrived (or 10 s).
fn collect(port: &DummyNetdev, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(port.take_sent());
        std::thread::sleep(Duration::from_millis(1));
    }
    got
}

fn two_port_switch() -> (
    Datapath,
    Arc<DummyNetdev>,
    Arc<DummyNetdev>,
    Arc<DummyNetdev>,
) {
    let (p1, p2, p3) = (dummy(1), dummy(1), dummy(1));
    let sw = Arc::new(LearningSwitch::new(vec![1, 2, 3]));
    let mut dp = Datapath::new(cfg(vec![], RxqAssign::Cycles), sw, None);
    dp.add_port(1, p1.clone(), None).unwrap();
    dp.add_port(2, p2.clone(), None).unwrap();
    dp.add_port(3, p3.clone(), None).unwrap();
    (dp, p1, p2, p3)
}

#[test]
fn learning_switch_floods_then_forwards_and_installs_megaflows() {
    let (dp, p1, p2, p3) = two_port_switch();
    // Unknown destination: flooded to 2 and 3.
    let f = frame(1, [0xff; 6], 1000);
    p1.receive(&f);
    assert_eq!(collect(&p2, 1), vec![f.clone()]);
    assert_eq!(collect(&p3, 1), vec![f]);
    // Reply to the learned MAC: only to port 1.
    let r = frame(2, mac(1), 2000);
    p2.receive(&r);
    assert_eq!(collect(&p1, 1), vec![r]);
    // A burst of 100 from 1 to 2 (now known), every frame intact and in order.
    let burst: Vec<Vec<u8>> = (0..100).map(|i| frame(1, mac(2), 3000 + i)).collect();
    for b in &burst {
        p1.receive(b);
    }
    assert_eq!(collect(&p2, 100), burst);
    assert!(p3.take_sent().is_empty(), "no flooding once learned");

    let dump = dp.flow_dump().unwrap();
    let lines: Vec<String> = dump
        .iter()
        .flat_map(|(_, flows)| flows.iter())
        .map(|f| dp_core::odp_text::format_match(&f.m))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("in_port(1)") && l.contains("dst=02:00:00:00:00:02")),
        "{lines:?}"
    );
    let stats = dp.pmd_stats_show().unwrap();
    assert!(stats.starts_with("pmd thread numa_id "), "{stats}");
    assert!(stats.contains("\nmain thread:\n"), "{stats}");
    let recv: u64 = stats
        .lines()
        .filter_map(|l| l.trim().strip_prefix("packets received: "))
        .map(|v| v.parse::<u64>().unwrap())
        .sum();
    assert_eq!(recv, 102);
    dp.pmd_stats_clear();
    let cleared = dp.pmd_stats_show().unwrap();
    assert!(cleared.contains("  packets received: 0\n"), "{cleared}");
}

#[test]
fn flows_put_from_the_control_path_forward_and_can_be_deleted() {
    let (dp, p1, p2, p3) = two_port_switch();
    let m = parse_match("recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)").unwrap();
    let ufid = dp_core::matches::Ufid(7);
    dp.flow_put(&m, Some(ufid), &[OdpAction::Output(3)], PutFlags::CREATE)
        .unwrap();
    let f = frame(1, mac(2), 1);
    p1.receive(&f);
    assert_eq!(collect(&p3, 1), vec![f]);
    assert!(p2.take_sent().is_empty());
    let gone = dp.flow_del(&ufid).unwrap();
    assert_eq!(gone.stats.packets, 1);
    assert!(dp.flow_del(&ufid).is_err());
    dp.flow_flush().unwrap();
    assert!(dp.flow_dump().unwrap().iter().all(|(_, f)| f.is_empty()));
}

#[test]
fn rx_queues_are_placed_in_every_mode() {
    let cores = vec![0, 1];
    for mode in [RxqAssign::RoundRobin, RxqAssign::Cycles, RxqAssign::Group] {
        let sw = Arc::new(LearningSwitch::new(vec![1, 2]));
        let mut dp = Datapath::new(cfg(cores.clone(), mode), sw, None);
        dp.add_port(1, dummy(2), None).unwrap();
        dp.add_port(2, dummy(2), None).unwrap();
        let a = dp.rxq_assignment();
        assert_eq!(a.keys().copied().collect::<Vec<_>>(), cores, "{mode}");
        assert_eq!(a.values().map(Vec::len).sum::<usize>(), 4, "{mode}");
        assert!(a.values().all(|q| q.len() == 2), "{mode}: balanced {a:?}");
        let show = dp.pmd_rxq_show().unwrap();
        assert_eq!(show.matches("queue-id:").count(), 4, "{show}");
        assert!(show.contains("  isolated : false\n"), "{show}");
    }
}

#[test]
fn affinity_pins_and_isolates() {
    let sw = Arc::new(LearningSwitch::new(vec![1, 2]));
    let mut dp = Datapath::new(cfg(vec![0, 1], RxqAssign::Cycles), sw, None);
    dp.add_port(1, dummy(2), Some("0:1,1:1")).unwrap();
    dp.add_port(2, dummy(2), None).unwrap();
    let a = dp.rxq_assignment();
    assert_eq!(a[&1], vec![(1, 0), (1, 1)]);
    assert_eq!(a[&0], vec![(2, 0), (2, 1)]);
    assert!(dp
        .pmd_rxq_show()
        .unwrap()
        .contains("core_id 1:\n  isolated : true\n"));
    let warnings = dp.set_rxq_affinity(1, Some("0:5")).unwrap();
    assert!(
        warnings[0].contains("Core 5 cannot be pinned"),
        "{warnings:?}"
    );
}

#[test]
fn replacing_queues_and_pmds_under_traffic_loses_nothing() {
    let (p1, p2) = (dummy(2), dummy(1));
    let sw = Arc::new(LearningSwitch::new(vec![1, 2]));
    let mut dp = Datapath::new(cfg(vec![0], RxqAssign::RoundRobin), sw.clone(), None);
    dp.add_port(1, p1.clone(), None).unwrap();
    dp.add_port(2, p2.clone(), None).unwrap();
    // Teach the switch where mac(2) lives so every frame is unicast.
    p2.receive(&frame(2, [0xff; 6], 1));
    collect(&p1, 1);
    let total = 3000u16;
    let sender = {
        let p1 = p1.clone();
        std::thread::spawn(move || {
            for i in 0..total {
                p1.receive_on(i as usize % 2, &frame(1, mac(2), i));
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    let mut modes = [RxqAssign::Cycles, RxqAssign::Group, RxqAssign::RoundRobin]
        .iter()
        .cycle();
    for round in 0..6 {
        let cores = if round % 2 == 0 { vec![0, 1] } else { vec![1] };
        dp.set_config(cfg(cores, *modes.next().unwrap()));
        std::thread::sleep(Duration::from_millis(5));
    }
    sender.join().unwrap();
    let got = collect(&p2, total as usize);
    assert_eq!(
        got.len(),
        total as usize,
        "every frame forwarded exactly once"
    );
    let mut ports: Vec<u16> = got
        .iter()
        .map(|f| u16::from_be_bytes([f[34], f[35]]))
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, (0..total).collect::<Vec<_>>());
    assert_eq!(p2.stats().tx_packets, total as u64);
}
