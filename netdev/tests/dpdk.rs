//! DPDK port tests over vdevs (no NIC, no hugepages needed): `net_pcap` rx
//! replay into `net_pcap` tx capture, `net_ring` loopback, `net_null`.
//!
//! Run with `cargo test -p netdev --features dpdk --test dpdk`. One process
//! initialises the EAL once, so every DPDK test lives in this binary and the
//! tests take a global lock to run one at a time.
#![cfg(feature = "dpdk")]

use dp_core::packet::{DpPacket, PacketBatch};
use netdev::dpdk::{self, DpdkNetdev};
use netdev::{LinkState, Netdev, NetdevError, Options};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the test lock and makes sure the EAL is up (no hugepages needed).
fn eal() -> MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    dpdk::dpdk_init("--log-level=lib.eal:warning", None).expect("EAL init");
    assert!(dpdk::dpdk_initialized());
    g
}

fn opts(kv: &[(&str, &str)]) -> Options {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A temporary directory removed on drop.
struct TmpDir(PathBuf);
impl TmpDir {
    fn new(tag: &str) -> TmpDir {
        let p = std::env::temp_dir().join(format!("rvs-dpdk-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TmpDir(p)
    }
}
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Classic libpcap file (magic a1b2c3d4, v2.4, LINKTYPE_ETHERNET).
fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// Frames of a classic pcap file (either byte order).
fn read_pcap(path: &std::path::Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(path).unwrap();
    assert!(b.len() >= 24, "pcap too short");
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        m => panic!("not a pcap file: magic {m:#x}"),
    };
    let u32_at = |i: usize| {
        let a: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut frames = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let incl = u32_at(i + 8) as usize;
        frames.push(b[i + 16..i + 16 + incl].to_vec());
        i += 16 + incl;
    }
    frames
}

/// A UDP-in-IPv4 Ethernet frame of `len` bytes numbered `seq`.
fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(60)];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    let ip_len = (f.len() - 14) as u16;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    for (j, b) in f[46..].iter_mut().enumerate() {
        *b = (seq as usize + j) as u8;
    }
    f
}

/// Receives until `want` packets arrived (or ~2 s passed).
fn rx_until(dev: &dyn Netdev, want: usize) -> PacketBatch {
    let mut got = PacketBatch::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while got.len() < want && std::time::Instant::now() < deadline {
        let mut b = PacketBatch::new();
        dev.rx_burst(0, &mut b).unwrap();
        got.pkts.extend(b.pkts);
    }
    got
}

#[test]
fn eal_is_up_without_hugepages() {
    let _g = eal();
    let args = dpdk::eal_args("", None, None);
    let huge = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|d| {
            d.flatten().any(|e| {
                std::fs::read_to_string(e.path().join("free_hugepages"))
                    .is_ok_and(|s| s.trim() != "0")
            })
        })
        .unwrap_or(false);
    if huge {
        assert!(args.contains(&"--in-memory".to_owned()), "{args:?}");
    } else {
        for a in ["--no-huge", "--no-shconf", "--no-pci", "-m"] {
            assert!(args.contains(&a.to_owned()), "{a} missing from {args:?}");
        }
    }
    // User arguments replace the defaults they overlap.
    let args = dpdk::eal_args("-l 1 --file-prefix x", Some("256"), None);
    assert!(!args.contains(&"--lcores".to_owned()), "{args:?}");
    assert_eq!(args.iter().filter(|a| *a == "--file-prefix").count(), 1);
    // Later calls return the first result.
    assert!(dpdk::dpdk_init("--bogus-option", None).is_ok());
}

#[test]
fn pcap_replay_forwarded_to_pcap_capture_byte_for_byte() {
    let _g = eal();
    let dir = TmpDir::new("pcap");
    let frames: Vec<Vec<u8>> = (0..100u32)
        .map(|i| frame(i, [60, 64, 128, 333, 1000, 1514][i as usize % 6]))
        .collect();
    let inp = dir.0.join("in.pcap");
    let outp = dir.0.join("out.pcap");
    write_pcap(&inp, &frames);

    let rx = DpdkNetdev::open_port(
        "pcap-rx",
        &opts(&[
            (
                "dpdk-devargs",
                &format!("net_pcap_rvsrx,rx_pcap={}", inp.display()),
            ),
            ("n_rxq_desc", "256"),
            ("n_txq_desc", "256"),
        ]),
    )
    .unwrap();
    let tx = DpdkNetdev::open_port(
        "pcap-tx",
        &opts(&[
            (
                "dpdk-devargs",
                &format!("net_pcap_rvstx,tx_pcap={}", outp.display()),
            ),
            ("n_rxq_desc", "256"),
            ("n_txq_desc", "256"),
        ]),
    )
    .unwrap();
    assert_eq!(rx.kind(), "dpdk");
    assert!(rx.is_pmd());
    assert_eq!(rx.status()["driver_name"], "net_pcap");
    assert_eq!(rx.link_state(), LinkState::Up);

    let tx_pool_before = tx.mempool_available();
    let mut expect = Vec::new();
    let mut sent_total = 0;
    let mut copies = 0;
    let mut i = 0usize;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while i < frames.len() && std::time::Instant::now() < deadline {
        let mut b = PacketBatch::new();
        let n = rx.rx_burst(0, &mut b).unwrap();
        assert_eq!(n, b.len());
        let mut out = PacketBatch::new();
        for mut p in b.pkts {
            assert!(p.is_external(), "received packets stay in their mbuf");
            assert_eq!(p.data(), &frames[i][..], "rx frame {i}");
            if i % 3 == 1 {
                // A VLAN push inside the mbuf's headroom: still zero copy.
                p.insert_at(12, 4)
                    .copy_from_slice(&[0x81, 0x00, 0x00, 0x64]);
                let mut e = frames[i][..12].to_vec();
                e.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
                e.extend_from_slice(&frames[i][12..]);
                expect.push(e);
            } else if i % 5 == 0 {
                // A packet that is not an mbuf is copied into one.
                p = Box::new(DpPacket::from_slice(p.data()));
                copies += 1;
                expect.push(frames[i].clone());
            } else {
                expect.push(frames[i].clone());
            }
            out.push(p);
            i += 1;
        }
        sent_total += tx.tx_burst(0, &mut out);
        assert!(out.is_empty());
    }
    assert_eq!(i, frames.len(), "all frames replayed");
    assert_eq!(sent_total, frames.len());
    assert_eq!(tx.tx_zero_copy_packets(), (frames.len() - copies) as u64);
    assert_eq!(tx.tx_copied_packets(), copies as u64);
    // net_pcap frees what it dumped: the tx pool is whole again.
    assert_eq!(tx.mempool_available(), tx_pool_before);

    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let rs = rx.stats();
    assert_eq!((rs.rx_packets, rs.rx_bytes), (frames.len() as u64, bytes));
    let ts = tx.stats();
    let out_bytes: u64 = expect.iter().map(|f| f.len() as u64).sum();
    assert_eq!(
        (ts.tx_packets, ts.tx_bytes, ts.tx_dropped),
        (frames.len() as u64, out_bytes, 0)
    );

    drop(tx); // closes the dumper
    let got = read_pcap(&outp);
    assert_eq!(got.len(), expect.len());
    for (k, (g, e)) in got.iter().zip(&expect).enumerate() {
        assert_eq!(g, e, "tx frame {k}");
    }
    drop(rx);
}

#[test]
fn pcap_infinite_rx_replays_forever() {
    let _g = eal();
    let dir = TmpDir::new("inf");
    let frames: Vec<Vec<u8>> = (0..7u32).map(|i| frame(i, 100 + i as usize)).collect();
    let inp = dir.0.join("in.pcap");
    write_pcap(&inp, &frames);
    let rx = DpdkNetdev::open(
        "pcap-inf",
        &opts(&[
            (
                "dpdk-devargs",
                &format!("net_pcap_rvsinf,rx_pcap={},infinite_rx=1", inp.display()),
            ),
            ("n_rxq_desc", "256"),
            ("n_txq_desc", "256"),
        ]),
    )
    .unwrap();
    let got = rx_until(&*rx, 70);
    assert!(got.len() >= 70);
    for (k, p) in got.pkts.iter().enumerate() {
        assert_eq!(p.data(), &frames[k % 7][..], "frame {k}");
    }
}

#[test]
fn ring_loopback_frames_one_by_one_and_zero_copy_tx() {
    let _g = eal();
    // A net_ring port made without arguments uses one ring for rx and tx:
    // what it sends, it receives.
    let ring = DpdkNetdev::open_port(
        "ring0",
        &opts(&[
            ("dpdk-devargs", "net_ring_rvs0"),
            ("n_rxq_desc", "512"),
            ("n_txq_desc", "512"),
        ]),
    )
    .unwrap();
    assert_eq!(ring.n_rxq(), 1);
    for k in 0..40u32 {
        let f = frame(k, 60 + 37 * k as usize);
        let mut b = PacketBatch::new();
        b.push(Box::new(DpPacket::from_slice(&f)));
        let before = ring.mempool_available();
        assert_eq!(ring.tx_burst(0, &mut b), 1);
        assert_eq!(
            ring.mempool_available(),
            before - 1,
            "copied into one new mbuf"
        );
        let got = rx_until(&*ring, 1);
        assert_eq!(got.len(), 1, "frame {k} came back");
        assert_eq!(got.pkts[0].data(), &f[..], "frame {k}");
        assert!(got.pkts[0].is_external());

        // Zero copy: sending the received packet takes no new mbuf.
        let avail = ring.mempool_available();
        let zc = ring.tx_zero_copy_packets();
        let mut b = got;
        assert_eq!(ring.tx_burst(0, &mut b), 1);
        assert_eq!(ring.mempool_available(), avail, "no mbuf allocated");
        assert_eq!(ring.tx_zero_copy_packets(), zc + 1);
        let again = rx_until(&*ring, 1);
        assert_eq!(again.len(), 1);
        assert_eq!(again.pkts[0].data(), &f[..]);
        drop(again);
        assert_eq!(
            ring.mempool_available(),
            avail + 1,
            "dropping the packet frees its mbuf"
        );
    }
    let s = ring.stats();
    assert_eq!((s.rx_packets, s.tx_packets), (80, 80));
    assert_eq!(ring.tx_copied_packets(), 40);
}

#[test]
fn null_port_basics_and_errors() {
    let _g = eal();
    let null = DpdkNetdev::open(
        "null0",
        &opts(&[
            ("dpdk-devargs", "net_null_rvs0"),
            ("n_rxq", "2"),
            ("n_txq", "2"),
            ("n_rxq_desc", "128"),
            ("n_txq_desc", "128"),
        ]),
    )
    .unwrap();
    assert_eq!((null.n_rxq(), null.n_txq()), (2, 2));
    assert_eq!(null.mtu(), 1500);
    null.set_mtu(1400).unwrap();
    assert_eq!(null.mtu(), 1400);
    assert!(null.set_mtu(9000).is_err(), "does not fit 2 KiB mbufs");
    assert_eq!(null.link_state(), LinkState::Up);
    let mut b = PacketBatch::new();
    for k in 0..10 {
        b.push(Box::new(DpPacket::from_slice(&frame(k, 64))));
    }
    assert_eq!(null.tx_burst(3, &mut b), 10);
    assert!(null.rx_burst(2, &mut b).is_err(), "no rx queue 2");
    let s = null.stats();
    assert_eq!(s.tx_packets, 10);

    // The same device cannot back two ports.
    let e =
        DpdkNetdev::open_port("null0b", &opts(&[("dpdk-devargs", "net_null_rvs0")])).unwrap_err();
    assert!(e.to_string().contains("already in use"), "{e}");
    drop(null);
    // ...but can be opened again once closed (hot-unplugged on drop).
    let again = DpdkNetdev::open_port(
        "null0",
        &opts(&[
            ("dpdk-devargs", "net_null_rvs0"),
            ("n_rxq_desc", "128"),
            ("n_txq_desc", "128"),
        ]),
    )
    .unwrap();
    drop(again);

    assert!(matches!(
        DpdkNetdev::open_port("x", &Options::new()),
        Err(NetdevError::InvalidOption { option, .. }) if option == "dpdk-devargs"
    ));
    assert!(matches!(
        DpdkNetdev::open_port("x", &opts(&[("dpdk-devargs", "net_null_rvs1"), ("n_rxq_desc", "1000")])),
        Err(NetdevError::InvalidOption { option, .. }) if option == "n_rxq_desc"
    ));
    let e =
        DpdkNetdev::open_port("x", &opts(&[("dpdk-devargs", "net_nosuchdriver0")])).unwrap_err();
    assert!(matches!(e, NetdevError::Os { .. }), "{e:?}");
    // A failed open leaves nothing behind: the name is free for a good one.
    let e = DpdkNetdev::open_port(
        "x",
        &opts(&[("dpdk-devargs", "net_null_rvs2"), ("n_rxq", "5000")]),
    )
    .unwrap_err();
    assert!(matches!(e, NetdevError::InvalidOption { .. }), "{e:?}");
    DpdkNetdev::open_port(
        "x",
        &opts(&[
            ("dpdk-devargs", "net_null_rvs2"),
            ("n_rxq_desc", "128"),
            ("n_txq_desc", "128"),
        ]),
    )
    .unwrap();
}

/// A veth pair removed on drop (deleting one end deletes both).
struct Veth(String);
impl Veth {
    /// `None` where veths cannot be made (not root, no `ip`).
    fn new(a: &str, b: &str) -> Option<Veth> {
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let _ = ip(&["link", "del", a]);
        if !ip(&["link", "add", a, "type", "veth", "peer", "name", b]) {
            return None;
        }
        let v = Veth(a.to_owned());
        for dev in [a, b] {
            // No IPv6 autoconfiguration chatter on the pair.
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
            if !ip(&["link", "set", dev, "up"]) {
                return None;
            }
        }
        Some(v)
    }
}
impl Drop for Veth {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn af_packet_over_veth_frames_one_by_one() {
    let _g = eal();
    let id = std::process::id() % 100_000;
    let (a, b) = (format!("rvsA{id}"), format!("rvsB{id}"));
    let Some(_veth) = Veth::new(&a, &b) else {
        eprintln!("skipped: cannot make a veth pair (needs root and iproute2)");
        return;
    };
    let pa = DpdkNetdev::open_port(
        "afp-a",
        &opts(&[
            ("dpdk-devargs", &format!("net_af_packet_rvsa{id},iface={a}")),
            ("n_rxq_desc", "256"),
            ("n_txq_desc", "256"),
        ]),
    )
    .unwrap();
    let pb = DpdkNetdev::open_port(
        "afp-b",
        &opts(&[
            ("dpdk-devargs", &format!("net_af_packet_rvsb{id},iface={b}")),
            ("n_rxq_desc", "256"),
            ("n_txq_desc", "256"),
        ]),
    )
    .unwrap();
    assert_eq!(pa.status()["driver_name"], "net_af_packet");
    // Our frames carry IPv4 to 10.0.0.2 with a sequence number; anything else
    // the kernel may send on the pair is ignored.
    let ours = |d: &[u8]| d.len() >= 46 && d[12..14] == [8, 0] && d[30..34] == [10, 0, 0, 2];
    for k in 0..20u32 {
        let f = frame(k, 60 + 71 * k as usize);
        let mut batch = PacketBatch::new();
        batch.push(Box::new(DpPacket::from_slice(&f)));
        assert_eq!(pa.tx_burst(0, &mut batch), 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut got = None;
        while got.is_none() && std::time::Instant::now() < deadline {
            let mut rb = PacketBatch::new();
            pb.rx_burst(0, &mut rb).unwrap();
            got = rb.pkts.into_iter().find(|p| ours(p.data()));
        }
        let got = got.unwrap_or_else(|| panic!("frame {k} not received on {b}"));
        assert_eq!(got.data(), &f[..], "frame {k}");
        // And back, zero copy: the received mbuf goes out on the other end.
        let mut back = PacketBatch::new();
        back.push(got);
        let zc = pb.tx_zero_copy_packets();
        assert_eq!(pb.tx_burst(0, &mut back), 1);
        assert_eq!(pb.tx_zero_copy_packets(), zc + 1);
        let got = rx_until_match(&*pa, &ours);
        assert_eq!(got.as_deref(), Some(&f[..]), "frame {k} back on {a}");
    }
    assert!(pa.stats().tx_packets >= 20 && pb.stats().rx_packets >= 20);
}

/// The first received frame `ours` accepts, within ~2 s.
fn rx_until_match(dev: &dyn Netdev, ours: &dyn Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let mut rb = PacketBatch::new();
        dev.rx_burst(0, &mut rb).unwrap();
        if let Some(p) = rb.pkts.iter().find(|p| ours(p.data())) {
            return Some(p.data().to_vec());
        }
    }
    None
}

/// Forwarding rate, zero copy, `net_pcap` (replaying from memory) to
/// `net_null`: `cargo test --release -p netdev --features dpdk --test dpdk
/// -- --ignored --nocapture forward_rate`.
#[test]
#[ignore = "measurement"]
fn forward_rate_pcap_to_null() {
    let _g = eal();
    let dir = TmpDir::new("rate");
    let frames: Vec<Vec<u8>> = (0..64u32).map(|i| frame(i, 64)).collect();
    let inp = dir.0.join("in.pcap");
    write_pcap(&inp, &frames);
    let rx = DpdkNetdev::open_port(
        "rate-rx",
        &opts(&[(
            "dpdk-devargs",
            &format!("net_pcap_rvsrate,rx_pcap={},infinite_rx=1", inp.display()),
        )]),
    )
    .unwrap();
    let tx =
        DpdkNetdev::open_port("rate-tx", &opts(&[("dpdk-devargs", "net_null_rvsrate")])).unwrap();
    let n = 5_000_000u64;
    let mut done = 0u64;
    let t = std::time::Instant::now();
    let mut b = PacketBatch::new();
    while done < n {
        rx.rx_burst(0, &mut b).unwrap();
        done += tx.tx_burst(0, &mut b) as u64;
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "forwarded {n} 64-byte frames in {dt:.3} s: {:.2} Mpps ({} zero-copy, {} copied)",
        n as f64 / dt / 1e6,
        tx.tx_zero_copy_packets(),
        tx.tx_copied_packets()
    );
    assert_eq!(tx.tx_copied_packets(), 0);
}

#[test]
fn infinite_rx_replays_a_pcap_larger_than_the_rings() {
    let _g = eal();
    let dir = TmpDir::new("bigpcap");
    let path = dir.0.join("in.pcap");
    let frames: Vec<Vec<u8>> = (0..10_000).map(|i| frame(i, 60)).collect();
    write_pcap(&path, &frames);
    let devargs = format!("net_pcap_big,rx_pcap={},infinite_rx=1", path.display());
    assert_eq!(dpdk::pcap_replay_mbufs(&devargs), 10_000);
    assert_eq!(dpdk::pcap_replay_mbufs("net_null0"), 0);
    let dev = DpdkNetdev::open("big", &opts(&[("dpdk-devargs", &devargs)])).expect("open");
    let got = rx_until(&*dev, 64);
    assert!(got.len() >= 64, "replayed {}", got.len());
}
