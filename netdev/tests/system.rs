//! `system` (AF_PACKET) ports on real veth pairs, the far end in a network
//! namespace of the test's own. Needs root; skipped with a message
//! otherwise.

mod common;

use common::*;
use dp_core::packet::{DpPacket, PacketBatch};
use netdev::{LinkState, NetdevError, Options};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn opts(kv: &[(&str, &str)]) -> Options {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn batch_of(frames: &[Vec<u8>]) -> PacketBatch {
    let mut b = PacketBatch::new();
    for f in frames {
        b.push(Box::new(DpPacket::from_slice(f)));
    }
    b
}

/// Not a test of its own: the far-side helper, active only when this binary
/// is run again with `RVS_NETDEV_HELPER` set (see `common::Helper`).
#[test]
fn netns_helper() {
    let Ok(cmd) = std::env::var("RVS_NETDEV_HELPER") else {
        return;
    };
    let w: Vec<&str> = cmd.split_whitespace().collect();
    match w[0] {
        // send IFACE HEX...: transmit the frames from IFACE.
        "send" => {
            let dev = netdev::open(w[1], "system", &Options::new()).unwrap();
            let frames: Vec<Vec<u8>> = w[2..].iter().map(|h| unhex(h)).collect();
            let mut n = 0;
            for chunk in frames.chunks(32) {
                n += dev.tx_burst(0, &mut batch_of(chunk));
            }
            println!("@@SENT {n}");
        }
        // capture IFACE N: print the first N crafted frames received.
        "capture" => {
            let dev = netdev::open(w[1], "system", &Options::new()).unwrap();
            println!("@@READY");
            let n: usize = w[2].parse().unwrap();
            for f in rx_frames(&*dev, n, is_test_frame) {
                println!("@@FRAME {}", hex(&f));
            }
        }
        // udprecv ADDR N: print the payloads of N datagrams to ADDR.
        "udprecv" => {
            let s = UdpSocket::bind(w[1]).unwrap();
            s.set_read_timeout(Some(GUARD)).unwrap();
            println!("@@READY");
            let mut buf = [0u8; 2048];
            for _ in 0..w[2].parse::<usize>().unwrap() {
                match s.recv(&mut buf) {
                    Ok(n) => println!("@@UDP {}", hex(&buf[..n])),
                    Err(_) => break,
                }
            }
        }
        // udpsend ADDR: one datagram to ADDR (the kernel ARPs for it first).
        "udpsend" => {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.send_to(b"hello", w[1]).unwrap();
            println!("@@SENT 1");
        }
        other => panic!("unknown helper command {other}"),
    }
}

#[test]
fn missing_device_gives_ovs_error() {
    let name = unique("rvsnone");
    let err = netdev::open(&name, "system", &Options::new())
        .err()
        .expect("must fail");
    assert_eq!(err, NetdevError::NoDevice(name.clone()));
    assert_eq!(
        err.to_string(),
        format!("could not open network device {name} (No such device)")
    );
    let err = netdev::open(&name, "", &Options::new()).err().unwrap();
    assert!(matches!(err, NetdevError::NoDevice(_)));
}

#[test]
fn unknown_type_and_bad_options() {
    let err = netdev::open("p0", "bogus", &Options::new()).err().unwrap();
    assert!(matches!(err, NetdevError::Unsupported(_)));
    assert!(
        err.to_string().contains("unknown interface type \"bogus\""),
        "{err}"
    );
    for (k, v) in [("n_rxq", "0"), ("n_rxq", "x"), ("no_such_option", "1")] {
        let err = netdev::open("lo", "system", &opts(&[(k, v)]))
            .err()
            .unwrap();
        match err {
            NetdevError::InvalidOption { option, .. } => assert_eq!(option, k),
            e => panic!("{k}={v}: {e:?}"),
        }
    }
}

#[test]
fn rx_frames_from_namespace_with_vlan_and_stats() {
    if !need_root("rx_frames_from_namespace_with_vlan_and_stats") {
        return;
    }
    let v = Veth::new();
    let dev = netdev::open(&v.host, "system", &Options::new()).unwrap();
    assert_eq!(dev.kind(), "system");
    assert!(!dev.is_pmd());
    assert_eq!((dev.n_rxq(), dev.n_txq()), (1, 1));

    let mut sent: Vec<Vec<u8>> = (0..10)
        .map(|i| test_frame(i, 60 + i as usize * 50))
        .collect();
    sent.push(vlan_frame(100, 0x8100, 0x2064)); // PCP 1, VID 100
    sent.push(vlan_frame(101, 0x88a8, 0x0fff)); // 802.1ad S-tag
    sent.push(vlan_frame(102, 0x8100, 0x0000)); // priority tag, VID 0
    let cmd = format!(
        "send {} {}",
        v.peer,
        sent.iter().map(|f| hex(f)).collect::<Vec<_>>().join(" ")
    );
    let h = Helper::spawn(&v.ns, &cmd);
    assert_eq!(h.finish("SENT "), vec![sent.len().to_string()]);

    let got = rx_frames(&*dev, sent.len(), is_test_frame);
    assert_eq!(got.len(), sent.len(), "frames received");
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(hex(g), hex(s));
    }
    let st = dev.stats();
    assert!(st.rx_packets >= sent.len() as u64, "{st:?}");
    let bytes: u64 = sent.iter().map(|f| f.len() as u64).sum();
    assert!(st.rx_bytes >= bytes, "{st:?}");
    assert_eq!(st.rx_errors, 0);

    // A frame made by the kernel, not by this crate: the namespace's ARP
    // request for an address on the peer's subnet.
    sh(&[
        "ip",
        "-n",
        &v.ns,
        "addr",
        "add",
        "10.250.0.1/24",
        "dev",
        &v.peer,
    ]);
    let h = Helper::spawn(&v.ns, "udpsend 10.250.0.2:9");
    h.finish("SENT ");
    let arp = rx_frames(&*dev, 1, |f| f.len() >= 42 && f[12..14] == [0x08, 0x06]);
    assert_eq!(arp.len(), 1, "ARP request received");
    let a = &arp[0];
    assert_eq!(a[0..6], [0xff; 6]);
    assert_eq!(a[6..12], v.peer_mac());
    assert_eq!(a[20..22], [0, 1], "ARP request");
    assert_eq!(a[28..32], [10, 250, 0, 1], "sender IP");
    assert_eq!(a[38..42], [10, 250, 0, 2], "target IP");
}

#[test]
fn tx_burst_reaches_namespace_frame_by_frame() {
    if !need_root("tx_burst_reaches_namespace_frame_by_frame") {
        return;
    }
    let v = Veth::new();
    let dev = netdev::open(&v.host, "system", &Options::new()).unwrap();

    // Crafted frames, captured on the far side.
    let frames: Vec<Vec<u8>> = (0..32)
        .map(|i| test_frame(i, 60 + i as usize * 40))
        .collect();
    let h = Helper::spawn(&v.ns, &format!("capture {} {}", v.peer, frames.len()));
    h.expect("READY");
    let mut b = batch_of(&frames);
    assert_eq!(dev.tx_burst(0, &mut b), frames.len());
    assert!(b.is_empty());
    let got = h.finish("FRAME ");
    assert_eq!(got.len(), frames.len());
    for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
        assert_eq!(*g, hex(f), "frame {i}");
    }

    // UDP datagrams delivered by the namespace's own IP stack.
    sh(&[
        "ip",
        "-n",
        &v.ns,
        "addr",
        "add",
        "10.251.0.1/24",
        "dev",
        &v.peer,
    ]);
    let peer_mac = v.peer_mac();
    let h = Helper::spawn(&v.ns, "udprecv 10.251.0.1:4789 3");
    h.expect("READY");
    let payloads: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 100 + i as usize]).collect();
    let udp: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| {
            udp_frame(
                peer_mac,
                dev.mac(),
                [10, 251, 0, 2],
                [10, 251, 0, 1],
                5000,
                4789,
                p,
            )
        })
        .collect();
    assert_eq!(dev.tx_burst(0, &mut batch_of(&udp)), 3);
    let got = h.finish("UDP ");
    assert_eq!(got, payloads.iter().map(|p| hex(p)).collect::<Vec<_>>());

    // Too long for the MTU (1500 + 18): dropped and counted.
    let mut b = batch_of(&[test_frame(999, 1600)]);
    assert_eq!(dev.tx_burst(0, &mut b), 0);
    let st = dev.stats();
    assert_eq!(st.tx_packets, 35, "{st:?}");
    let bytes: u64 = frames.iter().chain(&udp).map(|f| f.len() as u64).sum();
    assert_eq!(st.tx_bytes, bytes);
    assert_eq!(st.tx_dropped, 1);

    // Our own transmissions are not received back (PACKET_IGNORE_OUTGOING).
    let mut b = PacketBatch::new();
    dev.rx_burst(0, &mut b).unwrap();
    assert!(b.pkts.iter().all(|p| !is_test_frame(p.data())));
}

#[test]
fn fanout_spreads_over_rx_queues() {
    if !need_root("fanout_spreads_over_rx_queues") {
        return;
    }
    let v = Veth::new();
    let dev = netdev::open(&v.host, "system", &opts(&[("n_rxq", "4")])).unwrap();
    assert_eq!(dev.n_rxq(), 4);
    let frames: Vec<Vec<u8>> = (0..64u8)
        .map(|i| {
            udp_frame(
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 2],
                [10, 9, i, 1],
                [10, 9, 0, 2],
                1000 + i as u16,
                2000,
                &[i; 30],
            )
        })
        .collect();
    let cmd = format!(
        "send {} {}",
        v.peer,
        frames.iter().map(|f| hex(f)).collect::<Vec<_>>().join(" ")
    );
    Helper::spawn(&v.ns, &cmd).finish("SENT ");
    let is_ours = |f: &[u8]| f.len() > 26 && f[12..14] == [8, 0] && f[26..28] == [10, 9];
    let start = Instant::now();
    let mut per_q = [0usize; 4];
    let mut got = Vec::new();
    while got.len() < frames.len() && start.elapsed() < GUARD {
        for (q, n) in per_q.iter_mut().enumerate() {
            let mut b = PacketBatch::new();
            dev.rx_burst(q, &mut b).unwrap();
            for p in b.pkts.iter().filter(|p| is_ours(p.data())) {
                *n += 1;
                got.push(p.data().to_vec());
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    got.sort();
    let mut want = frames.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(
        per_q.iter().filter(|&&n| n > 0).count() > 1,
        "hash fanout used one queue only: {per_q:?}"
    );
    let mut b = PacketBatch::new();
    assert!(dev.rx_burst(4, &mut b).is_err());
}

#[test]
fn mtu_mac_and_link_state() {
    if !need_root("mtu_mac_and_link_state") {
        return;
    }
    let v = Veth::new();
    let dev = netdev::open(&v.host, "", &Options::new()).unwrap();
    let show = || sh(&["ip", "-o", "link", "show", &v.host]);
    assert_eq!(dev.mtu(), parse_mtu(&show()));
    dev.set_mtu(1400).unwrap();
    assert_eq!(dev.mtu(), 1400);
    assert_eq!(parse_mtu(&show()), 1400);
    assert!(dev.set_mtu(10).is_err());
    assert_eq!(dev.mac(), parse_mac(&show()));

    // Carrier follows the peer; operstate changes are applied by the
    // kernel's linkwatch asynchronously, so wait for them.
    let wait_for = |want: LinkState| {
        let start = Instant::now();
        while dev.link_state() != want && start.elapsed() < GUARD {
            std::thread::sleep(Duration::from_millis(10));
        }
        dev.link_state()
    };
    assert_eq!(wait_for(LinkState::Up), LinkState::Up);
    sh(&["ip", "-n", &v.ns, "link", "set", &v.peer, "down"]);
    assert_eq!(wait_for(LinkState::Down), LinkState::Down);
    sh(&["ip", "-n", &v.ns, "link", "set", &v.peer, "up"]);
    assert_eq!(wait_for(LinkState::Up), LinkState::Up);
}
