//! AF_XDP port on real veth pairs.
//!
//! Each test creates its own network namespace and veth pair (names unique
//! per process and test, removed by a guard also when the test fails), opens
//! the host end as an `afxdp` port and exchanges frames with raw AF_PACKET
//! sockets (python3) on the namespace end. Needs root; skipped with a message
//! otherwise.

use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use netdev::afxdp::{self, AfxdpNetdev, XdpMode, MAX_FRAME_LEN};
use netdev::{LinkState, Netdev, NetdevError, Options};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ethertype of the test frames (IEEE local experimental 1).
const ETHERTYPE: u16 = 0x88b5;

/// Guard against a hang, not a timing assertion: how long a test waits for
/// frames that should arrive in microseconds.
const PATIENCE: Duration = Duration::from_secs(30);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// True if the test can run; prints why not otherwise.
fn prerequisites() -> bool {
    if !is_root() {
        eprintln!("SKIP: afxdp tests need root (CAP_NET_ADMIN, CAP_BPF) to create veth pairs and AF_XDP sockets");
        return false;
    }
    // libxdp pins its programs in a bpffs; mount one if the machine has none
    // (scripts/setup.sh does the same).
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
        })
        .unwrap_or(false);
    if !mounted {
        let _ = Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status();
    }
    true
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A namespace with one end of a veth pair in it; the other end stays in the
/// test's namespace. Removed on drop.
struct Veth {
    ns: String,
    host: String,
    peer: String,
}

impl Veth {
    /// Creates the pair with `queues` rx/tx queues per end, both ends up,
    /// IPv6 off (no neighbour discovery noise).
    fn new(queues: u32) -> Veth {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let v = Veth {
            ns: format!("axns{pid}n{n}"),
            host: format!("axh{pid}n{n}"),
            peer: format!("axp{pid}n{n}"),
        };
        assert!(v.host.len() <= 15 && v.peer.len() <= 15);
        run(&["ip", "netns", "add", &v.ns]);
        let q = queues.to_string();
        run(&[
            "ip",
            "link",
            "add",
            &v.host,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            &v.peer,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ]);
        run(&["ip", "link", "set", &v.peer, "netns", &v.ns]);
        for (ns, dev) in [(None, &v.host), (Some(&v.ns), &v.peer)] {
            let sysctl = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
            match ns {
                None => {
                    let _ = Command::new("sysctl").args(["-qw", &sysctl]).status();
                    run(&["ip", "link", "set", dev, "up"]);
                }
                Some(ns) => {
                    let _ = Command::new("ip")
                        .args(["netns", "exec", ns, "sysctl", "-qw", &sysctl])
                        .status();
                    run(&["ip", "-n", ns, "link", "set", dev, "up"]);
                }
            }
        }
        v
    }

    fn peer_mac(&self) -> [u8; 6] {
        let out = run(&["ip", "-n", &self.ns, "-o", "link", "show", &self.peer]);
        let mac = out
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .expect("peer has a MAC");
        parse_mac(mac)
    }

    /// `ip link show` of the host end.
    fn host_link(&self) -> String {
        run(&["ip", "link", "show", &self.host])
    }

    /// Sends `frames` from the namespace end (AF_PACKET, raw).
    fn send_from_peer(&self, frames: &[Vec<u8>]) {
        let hex: Vec<String> = frames.iter().map(|f| hex(f)).collect();
        let mut args = vec![
            "netns".to_string(),
            "exec".into(),
            self.ns.clone(),
            "python3".into(),
            "-c".into(),
            SEND_PY.into(),
            self.peer.clone(),
        ];
        args.extend(hex);
        let out = Command::new("ip").args(&args).output().expect("python3");
        assert!(
            out.status.success(),
            "sending from {}: {}",
            self.peer,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts capturing `count` frames of [`ETHERTYPE`] on the namespace
    /// end; returns once the capture socket is bound.
    fn capture_on_peer(&self, count: usize) -> Capture {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", CAPTURE_PY])
            .arg(&self.peer)
            .arg(count.to_string())
            .arg(ETHERTYPE.to_string())
            .arg(PATIENCE.as_secs().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "capture did not start");
        Capture { child, out }
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting one end deletes the pair; the namespace goes last.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(Stdio::null())
            .status();
    }
}

struct Capture {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Capture {
    /// The captured frames, in arrival order.
    fn frames(mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut line = String::new();
        while {
            line.clear();
            self.out.read_line(&mut line).unwrap() > 0
        } {
            frames.push(unhex(line.trim()));
        }
        let st = self.child.wait().unwrap();
        assert!(st.success(), "capture failed (timed out?)");
        frames
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SEND_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"#;

const CAPTURE_PY: &str = r#"
import socket, sys
dev, count, etype, patience = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(etype))
s.bind((dev, etype))
s.settimeout(patience)
print("ready", flush=True)
for _ in range(count):
    data, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    print(data.hex(), flush=True)
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn parse_mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (b, h) in m.iter_mut().zip(s.split(':')) {
        *b = u8::from_str_radix(h, 16).unwrap();
    }
    m
}

/// A test frame: `dst`, `src`, [`ETHERTYPE`], then `len - 14` payload bytes
/// that start with a tag and the index and continue with a pattern.
fn frame(dst: [u8; 6], src: [u8; 6], tag: &str, i: usize, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend_from_slice(format!("{tag}-{i:04}|").as_bytes());
    while f.len() < len {
        f.push((f.len() * 7 + i) as u8);
    }
    f.truncate(len);
    f
}

fn opts(pairs: &[(&str, &str)]) -> Options {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Receives from every rx queue of `port` until `want` frames of
/// [`ETHERTYPE`] have arrived; returns them (other frames are ignored).
fn receive(port: &dyn Netdev, want: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} frames arrived on {}",
            got.len(),
            port.name()
        );
        let mut any = false;
        for q in 0..port.n_rxq() {
            let mut batch = PacketBatch::new();
            let n = port.rx_burst(q, &mut batch).expect("rx_burst");
            assert_eq!(n, batch.len());
            assert!(n <= NETDEV_MAX_BURST);
            any |= n > 0;
            for p in batch.pkts {
                let d = p.data();
                if d.len() >= 14 && d[12..14] == ETHERTYPE.to_be_bytes() {
                    got.push(d.to_vec());
                }
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    got
}

/// The whole exchange on one port: frames in from the namespace, a burst out
/// to it, counters, and the program gone after the port is dropped.
fn exchange(mode: &str, need_wakeup: &str, expect_mode: XdpMode) {
    if !prerequisites() {
        return;
    }
    let veth = Veth::new(1);
    let dev = AfxdpNetdev::open_concrete(
        &veth.host,
        &opts(&[("xdp-mode", mode), ("use-need-wakeup", need_wakeup)]),
    )
    .unwrap_or_else(|e| panic!("open {} in {mode} mode: {e}", veth.host));
    assert_eq!(dev.mode_in_use(), expect_mode);
    let port: Arc<dyn Netdev> = Arc::new(dev);
    assert_eq!(port.kind(), "afxdp");
    assert!(port.is_pmd());
    assert_eq!((port.n_rxq(), port.n_txq()), (1, 1));
    let status = port.status();
    assert_eq!(status["xdp-mode"], mode);
    assert_eq!(status["xdp-mode-in-use"], expect_mode.name());
    assert_eq!(status["use-need-wakeup"], need_wakeup);
    assert_eq!(status["n_rxq"], "1");
    assert_eq!(port.link_state(), LinkState::Up);
    assert_eq!(port.mtu(), 1500);
    let link = veth.host_link();
    let attr = if expect_mode == XdpMode::Generic {
        "xdpgeneric"
    } else {
        "xdp"
    };
    assert!(
        link.contains(attr),
        "no {attr} program on the device:\n{link}"
    );
    let host_mac = port.mac();
    let peer_mac = veth.peer_mac();

    // Namespace -> port: sizes from the minimum to a full MTU frame.
    let sizes = [60usize, 64, 128, 333, 1000, 1514];
    let inbound: Vec<Vec<u8>> = (0..40)
        .map(|i| frame(host_mac, peer_mac, "in", i, sizes[i % sizes.len()]))
        .collect();
    veth.send_from_peer(&inbound);
    let got = receive(&*port, inbound.len());
    assert_eq!(got, inbound, "received frames differ from those sent");
    let st = port.stats();
    assert!(st.rx_packets >= inbound.len() as u64, "{st:?}");
    assert!(
        st.rx_bytes >= inbound.iter().map(|f| f.len() as u64).sum::<u64>(),
        "{st:?}"
    );

    // Port -> namespace: a full burst, then a short one, each frame checked.
    let outbound: Vec<Vec<u8>> = (0..NETDEV_MAX_BURST + 7)
        .map(|i| frame([0xff; 6], host_mac, "out", i, sizes[(i + 3) % sizes.len()]))
        .collect();
    let cap = veth.capture_on_peer(outbound.len());
    let mut sent = 0;
    for chunk in outbound.chunks(NETDEV_MAX_BURST) {
        let mut batch = PacketBatch::new();
        for f in chunk {
            batch.push(Box::new(DpPacket::from_slice(f)));
        }
        sent += port.tx_burst(0, &mut batch);
        assert!(batch.is_empty());
    }
    assert_eq!(sent, outbound.len());
    assert_eq!(cap.frames(), outbound, "frames on the wire differ");

    // Too long for a UMEM frame: dropped and counted.
    let mut batch = PacketBatch::new();
    batch.push(Box::new(DpPacket::from_slice(&frame(
        [0xff; 6],
        host_mac,
        "big",
        0,
        MAX_FRAME_LEN + 1,
    ))));
    assert_eq!(port.tx_burst(0, &mut batch), 0);
    assert!(batch.is_empty());

    let st = port.stats();
    assert_eq!(st.tx_packets, outbound.len() as u64, "{st:?}");
    assert_eq!(
        st.tx_bytes,
        outbound.iter().map(|f| f.len() as u64).sum::<u64>(),
        "{st:?}"
    );
    assert_eq!(st.tx_dropped, 1, "{st:?}");
    assert_eq!(st.tx_errors, 0, "{st:?}");

    // MTU: set through the port, bounded by the UMEM frame.
    port.set_mtu(1400).expect("set_mtu 1400");
    assert_eq!(port.mtu(), 1400);
    assert!(matches!(
        port.set_mtu(MAX_FRAME_LEN as u32),
        Err(NetdevError::InvalidOption { .. })
    ));
    port.set_mtu(1500).expect("set_mtu 1500");

    // An rx queue the port does not have is an error, not a panic.
    let mut batch = PacketBatch::new();
    assert!(port.rx_burst(1, &mut batch).is_err());

    drop(port);
    let link = veth.host_link();
    assert!(
        !link.contains("xdp"),
        "XDP program left on the device after the port was dropped:\n{link}"
    );
}

#[test]
fn generic_mode_rx_tx_stats_and_detach() {
    exchange("generic", "true", XdpMode::Generic);
}

#[test]
fn native_mode_rx_tx_stats_and_detach() {
    exchange("native", "true", XdpMode::Native);
}

#[test]
fn generic_mode_without_need_wakeup() {
    exchange("generic", "false", XdpMode::Generic);
}

/// veth has no zero-copy support, so best-effort settles on native copy mode
/// (OVS tries native-with-zerocopy, native, generic in that order).
#[test]
fn best_effort_picks_native_on_veth() {
    exchange("best-effort", "true", XdpMode::Native);
}

#[test]
fn zero_copy_on_veth_is_a_clear_error_and_leaves_nothing() {
    if !prerequisites() {
        return;
    }
    let veth = Veth::new(1);
    let err = AfxdpNetdev::open(&veth.host, &opts(&[("xdp-mode", "native-with-zerocopy")]))
        .err()
        .expect("zero copy is not supported on veth");
    match &err {
        NetdevError::Os { op, err: e } => {
            assert!(op.contains("native-with-zerocopy"), "{err}");
            assert!(e.contains("Operation not supported"), "{err}");
        }
        e => panic!("unexpected error {e}"),
    }
    eprintln!("zero copy on veth: {err}");
    let link = veth.host_link();
    assert!(!link.contains("xdp"), "program left behind:\n{link}");
}

#[test]
fn quick_reopen_retries_busy_queue() {
    if !prerequisites() {
        return;
    }
    let veth = Veth::new(1);
    let o = opts(&[("xdp-mode", "generic")]);
    for _ in 0..3 {
        let port = AfxdpNetdev::open(&veth.host, &o).expect("open (after a close)");
        assert_eq!(port.status()["xdp-mode-in-use"], "generic");
        drop(port);
    }
    // And the last one still works.
    let port = AfxdpNetdev::open(&veth.host, &o).unwrap();
    let peer_mac = veth.peer_mac();
    let f = frame(port.mac(), peer_mac, "re", 0, 100);
    veth.send_from_peer(std::slice::from_ref(&f));
    assert_eq!(receive(&*port, 1), vec![f]);
    drop(port);
    assert!(!veth.host_link().contains("xdp"));
}

/// A queue still bound by another socket answers EBUSY; the open keeps
/// retrying (as it does right after a close, while the kernel releases the
/// queue) and succeeds once the holder is gone.
#[test]
fn open_waits_out_a_busy_queue() {
    if !prerequisites() {
        return;
    }
    let veth = Veth::new(1);
    let o = opts(&[("xdp-mode", "generic")]);
    let holder = AfxdpNetdev::open(&veth.host, &o).expect("first open");
    let releaser = std::thread::spawn(move || {
        // Well inside the retry window (afxdp::BUSY_RETRY_FOR).
        std::thread::sleep(afxdp::BUSY_RETRY_FOR / 10);
        drop(holder);
    });
    let port = AfxdpNetdev::open(&veth.host, &o).expect("open once the queue is free");
    releaser.join().unwrap();
    let f = frame(port.mac(), veth.peer_mac(), "busy", 0, 90);
    veth.send_from_peer(std::slice::from_ref(&f));
    assert_eq!(receive(&*port, 1), vec![f]);
    drop(port);
    assert!(!veth.host_link().contains("xdp"));
}

#[test]
fn two_queues_bind_one_socket_each() {
    if !prerequisites() {
        return;
    }
    let veth = Veth::new(2);
    let port = AfxdpNetdev::open(
        &veth.host,
        &opts(&[("xdp-mode", "generic"), ("n_rxq", "2")]),
    )
    .expect("open with 2 queues");
    assert_eq!((port.n_rxq(), port.n_txq()), (2, 2));
    assert_eq!(port.status()["n_rxq"], "2");
    // Frames arrive on whichever queue the kernel picks; all are seen.
    let peer_mac = veth.peer_mac();
    let frames: Vec<Vec<u8>> = (0..16)
        .map(|i| frame(port.mac(), peer_mac, "mq", i, 80))
        .collect();
    veth.send_from_peer(&frames);
    let mut got = receive(&*port, frames.len());
    got.sort();
    assert_eq!(got, frames);
    // tx on queue 3 maps to queue 1.
    let cap = veth.capture_on_peer(1);
    let out = frame([0xff; 6], port.mac(), "mqout", 0, 70);
    let mut batch = PacketBatch::new();
    batch.push(Box::new(DpPacket::from_slice(&out)));
    assert_eq!(port.tx_burst(3, &mut batch), 1);
    assert_eq!(cap.frames(), vec![out]);
    drop(port);
    assert!(!veth.host_link().contains("xdp"));
}

#[test]
fn more_queues_than_the_device_has_fail_cleanly() {
    if !prerequisites() {
        return;
    }
    let veth = Veth::new(1);
    let err = AfxdpNetdev::open(
        &veth.host,
        &opts(&[("xdp-mode", "generic"), ("n_rxq", "2")]),
    )
    .err()
    .expect("queue 1 does not exist");
    assert!(
        matches!(&err, NetdevError::Os { op, .. } if op.contains("queue 1")),
        "{err}"
    );
    let link = veth.host_link();
    assert!(!link.contains("xdp"), "program left behind:\n{link}");
}

#[test]
fn bad_options_and_missing_device() {
    // Option parsing needs no privileges.
    for (k, v) in [
        ("xdp-mode", "turbo"),
        ("use-need-wakeup", "maybe"),
        ("n_rxq", "17"),
        ("n_rxq", "x"),
    ] {
        match AfxdpNetdev::open("lo", &opts(&[(k, v)])) {
            Err(NetdevError::InvalidOption { option, .. }) => assert_eq!(option, k),
            Err(e) => panic!("{k}={v}: unexpected error {e}"),
            Ok(_) => panic!("{k}={v} accepted"),
        }
    }
    match AfxdpNetdev::open("axnosuchdev0", &Options::new()) {
        Err(NetdevError::NoDevice(n)) => assert_eq!(n, "axnosuchdev0"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a device that does not exist"),
    }
    assert_eq!(XdpMode::parse("Native"), Some(XdpMode::Native));
    assert!(matches!(
        afxdp::detach_xdp_program("axnosuchdev0", XdpMode::Generic),
        Err(NetdevError::NoDevice(_))
    ));
}
