//! rvs-vswitchd with DPDK ports (`type=dpdk`) over `net_pcap` vdevs: no NIC
//! and no hugepages needed. Each test runs its own daemon (one EAL per
//! process). Run with `cargo test -p vswitchd --features dpdk --test dpdk`.
#![cfg(feature = "dpdk")]

mod common;

use common::*;
use std::path::Path;

/// Classic libpcap file (magic a1b2c3d4, v2.4, LINKTYPE_ETHERNET).
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [
            1_700_000_000u32 + i as u32,
            0,
            f.len() as u32,
            f.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// The IPv4 frames of a classic little-endian pcap file (empty if it is
/// missing); what the host's stack sends from the bridge's tap (IPv6
/// neighbour discovery) is left out.
fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let Ok(b) = std::fs::read(path) else {
        return Vec::new();
    };
    let mut frames = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
        if i + 16 + incl > b.len() {
            break;
        }
        let f = &b[i + 16..i + 16 + incl];
        if f.len() >= 14 && f[12..14] == [0x08, 0x00] {
            frames.push(f.to_vec());
        }
        i += 16 + incl;
    }
    frames
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const BCAST: [u8; 6] = [0xff; 6];

/// A 64-byte UDP-in-IPv4 frame `src` -> `dst` numbered `seq`.
fn frame(dst: [u8; 6], src: [u8; 6], seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, src[5]]);
    f[30..34].copy_from_slice(&[10, 0, 0, dst[5]]);
    f[34..36].copy_from_slice(&1000u16.to_be_bytes());
    f[36..38].copy_from_slice(&2000u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    f
}

/// A database whose `Open_vSwitch` row asks for DPDK, then the daemon.
fn dpdk_env(dir_tag: &str) -> Env {
    let mut e = Env::new_db_only();
    e.vsctl(&[
        "--no-wait",
        "set",
        "open",
        ".",
        "other_config:pmd-maxsleep=200",
        "other_config:dpdk-init=true",
        "other_config:dpdk-socket-mem=256",
        &format!(
            "other_config:dpdk-extra=--file-prefix=rvst{dir_tag}{} --log-level=lib.eal:warning",
            std::process::id()
        ),
    ])
    .unwrap();
    e.start_vswitchd(&[]);
    e
}

/// `statistics:KEY` of interface `i` as a number.
fn stat(e: &Env, i: &str, key: &str) -> u64 {
    let s = e.get("interface", i, &format!("statistics:{key}"));
    s.trim().parse().unwrap_or(0)
}

/// Adds `type=dpdk` port `name` with `devargs` and extra settings.
fn add_dpdk(e: &Env, br: &str, name: &str, devargs: &str, extra: &[&str]) {
    let mut args = vec![
        "add-port".to_owned(),
        br.to_owned(),
        name.to_owned(),
        "--".to_owned(),
        "set".to_owned(),
        "interface".to_owned(),
        name.to_owned(),
        "type=dpdk".to_owned(),
        format!("options:dpdk-devargs=\"{devargs}\""),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    e.vsctl(&a).unwrap();
}

#[test]
fn dpdk_port_without_dpdk_init_gets_ovs_error() {
    if !can_run("dpdk_port_without_dpdk_init_gets_ovs_error") {
        return;
    }
    let mut e = Env::new();
    let br = unique("rvb");
    e.add_br(&br);
    let p = unique("dpk");
    add_dpdk(&e, &br, &p, "net_null0", &[]);
    assert_eq!(e.get("open", ".", "dpdk_initialized"), "false");
    assert_eq!(
        e.get("interface", &p, "error"),
        format!("\"could not open network device {p} (Address family not supported by protocol)\"")
    );
    assert_eq!(e.get("interface", &p, "ofport"), "-1");
    assert!(!e.get("open", ".", "iface_types").contains("dpdk"));
}

#[test]
fn net_pcap_ports_forward_with_normal_and_learning() {
    if !can_run("net_pcap_ports_forward_with_normal_and_learning") {
        return;
    }
    let _t = traffic_lock();
    let mut e = dpdk_env("l");
    let up = wait_for(20, || {
        (e.get("open", ".", "dpdk_initialized") == "true").then_some(())
    });
    assert!(up.is_some(), "DPDK not initialised: {}", e.log());
    assert_eq!(e.get("open", ".", "dpdk_version"), "\"DPDK 22.11.11\"");
    assert!(e.get("open", ".", "iface_types").contains("dpdk"));
    let br = unique("rvb");
    e.add_br(&br);

    let d = e.dir.clone();
    let (a_in, b_in) = (d.join("a_in.pcap"), d.join("b_in.pcap"));
    let (a_out, b_out, c_out) = (
        d.join("a_out.pcap"),
        d.join("b_out.pcap"),
        d.join("c_out.pcap"),
    );
    const N: u32 = 100;
    let a_frames: Vec<Vec<u8>> = (0..N).map(|s| frame(MAC_B, MAC_A, s)).collect();
    write_pcap(&a_in, &a_frames);
    let b_frames = vec![frame(BCAST, MAC_B, 9999)];
    write_pcap(&b_in, &b_frames);

    // B announces itself on pb (a broadcast, flooded to pc), then A talks
    // to B on pa: learned, so only pb gets A's frames.
    let (pa, pb, pc) = (unique("dpa"), unique("dpb"), unique("dpc"));
    add_dpdk(
        &e,
        &br,
        &pc,
        &format!("net_pcap_c,tx_pcap={}", c_out.display()),
        &[],
    );
    add_dpdk(
        &e,
        &br,
        &pb,
        &format!(
            "net_pcap_b,rx_pcap={},tx_pcap={}",
            b_in.display(),
            b_out.display()
        ),
        &["options:n_rxq_desc=512", "options:n_txq_desc=1024"],
    );
    assert_eq!(e.get("interface", &pb, "error"), "[]", "{}", e.log());
    assert_eq!(e.get("interface", &pb, "status:n_rxq_desc"), "\"512\"");
    assert_eq!(e.get("interface", &pb, "status:n_txq_desc"), "\"1024\"");
    assert_eq!(e.get("interface", &pb, "status:driver_name"), "net_pcap");
    let ofp_b = e.get("interface", &pb, "ofport");
    let learned = wait_for(10, || {
        let fdb = e.appctl(&["fdb/show", &br]).unwrap();
        fdb.lines()
            .any(|l| l.contains("02:00:00:00:00:0b") && l.split_whitespace().next() == Some(&ofp_b))
            .then_some(())
    });
    assert!(
        learned.is_some(),
        "B not learned: {}\n{:?}\n{:?}\n{}\n{}",
        e.appctl(&["fdb/show", &br]).unwrap(),
        e.appctl(&["dpif-netdev/pmd-rxq-show"]),
        e.appctl(&["dpctl/dump-flows"]),
        e.get("interface", &pb, "statistics"),
        e.log()
    );

    add_dpdk(
        &e,
        &br,
        &pa,
        &format!(
            "net_pcap_a,rx_pcap={},tx_pcap={}",
            a_in.display(),
            a_out.display()
        ),
        &["options:n_rxq=1"],
    );
    assert_eq!(e.get("interface", &pa, "error"), "[]", "{}", e.log());
    let got = wait_for(15, || (read_pcap(&b_out).len() >= N as usize).then_some(()));
    assert!(
        got.is_some(),
        "pb sent {} of {N} frames; {}",
        read_pcap(&b_out).len(),
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    let out = read_pcap(&b_out);
    assert_eq!(out.len(), a_frames.len());
    assert!(out == a_frames, "pb's tx pcap holds A's frames, in order");
    // pc saw B's broadcast only; pa got nothing back.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(read_pcap(&c_out) == b_frames, "pc got B's broadcast only");
    assert!(read_pcap(&a_out).is_empty());
    let flows = e.appctl(&["dpctl/dump-flows"]).unwrap();
    assert!(flows.contains("actions:"), "{flows}");

    // Statistics come from the ethdev counters (refreshed every 5 s).
    let counted = wait_for(12, || {
        (stat(&e, &pb, "tx_packets") >= N as u64).then_some(())
    });
    assert!(
        counted.is_some(),
        "{}",
        e.get("interface", &pb, "statistics")
    );
    assert_eq!(stat(&e, &pa, "rx_packets"), N as u64);

    // fdb/add teaches a MAC on a port.
    assert_eq!(
        e.appctl(&["fdb/add", &br, &pc, "0", "02:00:00:00:00:0c"])
            .unwrap(),
        "OK\n"
    );
    let fdb = e.appctl(&["fdb/show", &br]).unwrap();
    let ofp_c = e.get("interface", &pc, "ofport");
    assert!(
        fdb.lines().any(|l| l.contains("02:00:00:00:00:0c")
            && l.split_whitespace().next() == Some(ofp_c.as_str())),
        "{fdb}"
    );

    // Ports go away cleanly.
    e.vsctl(&["del-port", &br, &pa]).unwrap();
    e.vsctl(&["del-port", &br, &pb]).unwrap();
    let log = e.log();
    assert!(log.contains("DPDK Enabled - initialized"), "{log}");
    assert!(!log.contains("|ERR|") && !log.contains("|EMER|"), "{log}");
}

/// Two namespaces joined through `type=dpdk` ports on `net_af_packet` vdevs
/// (DPDK reaching the veths): ping and a TCP transfer with every byte
/// checked, packets staying in mbufs end to end.
#[test]
fn namespaces_through_net_af_packet_vdevs() {
    if !can_run("namespaces_through_net_af_packet_vdevs") {
        return;
    }
    let _g = traffic_lock();
    let mut e = dpdk_env("afp");
    let br = unique("rvdp");
    e.add_br(&br);
    let a = Ns::new("10.79.0.1");
    let b = Ns::new("10.79.0.2");
    add_dpdk(
        &e,
        &br,
        "dpdk-a",
        &format!("net_af_packet0,iface={}", a.host),
        &[],
    );
    add_dpdk(
        &e,
        &br,
        "dpdk-b",
        &format!("net_af_packet1,iface={}", b.host),
        &[],
    );
    for i in ["dpdk-a", "dpdk-b"] {
        assert_eq!(e.get("interface", i, "error"), "[]", "{}", e.log());
    }
    assert!(
        a.ping(&b.ip, 20),
        "ping through DPDK ports failed\n{}",
        e.log()
    );
    tcp_transfer_checked(&a, &b, 1 << 20);
    assert!(
        stat(&e, "dpdk-a", "rx_packets") > 0
            || wait_for(12, || (stat(&e, "dpdk-a", "rx_packets") > 0).then_some(())).is_some()
    );
}
