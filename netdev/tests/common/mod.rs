//! Shared helpers of the netdev integration tests: root check, unique
//! names, veth pairs in their own network namespace (removed on drop, also
//! when a test fails), frame builders, and a helper process that runs this
//! test binary again inside a namespace (`ip netns exec NS <exe>
//! netns_helper`) to send or capture frames on the far side.

#![allow(dead_code)]

use netdev::Netdev;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Guard against hangs (never a timed assertion): how long to wait for
/// frames that should arrive.
pub const GUARD: Duration = Duration::from_secs(20);

/// Experimental ethertype used for crafted frames (IEEE 802 local
/// experimental 1).
pub const ETH_TEST: u16 = 0x88b5;

/// True if running as root; prints why the test is skipped otherwise.
pub fn need_root(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        // Written to stderr directly so libtest's output capture does not
        // hide it.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP {test}: needs root (network namespaces, veth, AF_PACKET)"
        );
    }
    root
}

/// A name unique to this process and call, at most 15 bytes.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let s = format!("{prefix}{}x{n}", std::process::id() % 1_000_000);
    assert!(s.len() <= 15, "{s} too long");
    s
}

/// Runs a command, panicking with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh_quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A veth pair: `host` in this namespace, `peer` in namespace `ns`, both up,
/// IPv6 off (no router solicitations in the way). Deleted on drop.
pub struct Veth {
    pub ns: String,
    pub host: String,
    pub peer: String,
}

impl Veth {
    pub fn new() -> Veth {
        let v = Veth {
            ns: unique("rvsns"),
            host: unique("rvh"),
            peer: unique("rvp"),
        };
        sh(&["ip", "netns", "add", &v.ns]);
        sh(&[
            "ip", "link", "add", &v.host, "type", "veth", "peer", "name", &v.peer, "netns", &v.ns,
        ]);
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", v.host),
            "1",
        );
        sh_quiet(&[
            "ip",
            "netns",
            "exec",
            &v.ns,
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", v.peer),
        ]);
        sh(&["ip", "link", "set", &v.host, "up"]);
        sh(&["ip", "-n", &v.ns, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &v.ns, "link", "set", &v.peer, "up"]);
        v
    }

    /// MAC address of the peer, from `ip -n NS -o link show`.
    pub fn peer_mac(&self) -> [u8; 6] {
        parse_mac(&sh(&[
            "ip", "-n", &self.ns, "-o", "link", "show", &self.peer,
        ]))
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        sh_quiet(&["ip", "link", "del", &self.host]);
        sh_quiet(&["ip", "netns", "del", &self.ns]);
    }
}

/// The `link/ether` address in `ip -o link show` output.
pub fn parse_mac(out: &str) -> [u8; 6] {
    let w: Vec<&str> = out.split_whitespace().collect();
    let i = w
        .iter()
        .position(|x| *x == "link/ether")
        .expect("link/ether")
        + 1;
    let b: Vec<u8> = w[i]
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    b.try_into().unwrap()
}

/// The `mtu N` in `ip -o link show` output.
pub fn parse_mtu(out: &str) -> u32 {
    let w: Vec<&str> = out.split_whitespace().collect();
    let i = w.iter().position(|x| *x == "mtu").expect("mtu") + 1;
    w[i].parse().unwrap()
}

/// An Ethernet frame.
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A crafted test frame (ethertype [`ETH_TEST`]) numbered `i`, at least 60
/// bytes, with a payload that depends on `i`.
pub fn test_frame(i: u32, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len.max(60) - 14)
        .map(|k| (k as u32 * 7 + i * 13) as u8)
        .enumerate()
        .map(|(k, b)| if k < 4 { i.to_be_bytes()[k] } else { b })
        .collect();
    eth(
        [0x02, 0, 0, 0, 0, 0x02],
        [0x02, 0, 0, 0, (i >> 8) as u8, i as u8],
        ETH_TEST,
        &payload,
    )
}

/// A VLAN-tagged test frame: `tpid`, `tci`, then [`ETH_TEST`].
pub fn vlan_frame(i: u32, tpid: u16, tci: u16) -> Vec<u8> {
    let mut f = test_frame(i, 64);
    let mut tag = tpid.to_be_bytes().to_vec();
    tag.extend_from_slice(&tci.to_be_bytes());
    f.splice(12..12, tag);
    f
}

/// An Ethernet + IPv4 + UDP frame (IPv4 checksum set, UDP checksum 0).
pub fn udp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(payload);
    eth(dst_mac, src_mac, 0x0800, &ip)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Polls every rx queue of `dev` until `count` frames satisfying `keep`
/// have arrived (or [`GUARD`] passed); returns them in arrival order.
pub fn rx_frames(dev: &dyn Netdev, count: usize, keep: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < count && start.elapsed() < GUARD {
        let mut idle = true;
        for q in 0..dev.n_rxq() {
            let mut b = dp_core::packet::PacketBatch::new();
            if dev.rx_burst(q, &mut b).unwrap() > 0 {
                idle = false;
            }
            got.extend(b.pkts.iter().map(|p| p.data().to_vec()).filter(|f| keep(f)));
        }
        if idle {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    got
}

/// True if `f` is a crafted frame (possibly VLAN-tagged).
pub fn is_test_frame(f: &[u8]) -> bool {
    f.len() >= 18
        && (f[12..14] == ETH_TEST.to_be_bytes()
            || (matches!(u16::from_be_bytes([f[12], f[13]]), 0x8100 | 0x88a8)
                && f[16..18] == ETH_TEST.to_be_bytes()))
}

/// This test binary run again inside namespace `ns` as the
/// `netns_helper` test with `RVS_NETDEV_HELPER=cmd`; lines it prints are
/// delivered on a channel.
pub struct Helper {
    child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Helper {
    pub fn spawn(ns: &str, cmd: &str) -> Helper {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(exe)
            .args(["netns_helper", "--exact", "--nocapture", "--test-threads=1"])
            .env("RVS_NETDEV_HELPER", cmd)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn helper");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Helper { child, lines: rx }
    }

    /// Waits for a line with `@@prefix` (panics after [`GUARD`] or
    /// if the helper exits first).
    pub fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(&format!("@@{prefix}")) => return l,
                Ok(_) => {}
                Err(e) => panic!("helper: no {prefix:?} line: {e}"),
            }
        }
    }

    /// Waits for the helper to exit and returns what follows `@@prefix` in
    /// its lines (libtest may print its own text before a line's start).
    pub fn finish(mut self, prefix: &str) -> Vec<String> {
        let st = self.child.wait().unwrap();
        let got: Vec<String> = self
            .lines
            .iter()
            .filter_map(|l| {
                let tag = format!("@@{prefix}");
                l.find(&tag).map(|i| l[i + tag.len()..].to_string())
            })
            .collect();
        assert!(st.success(), "helper failed: {st}");
        got
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
