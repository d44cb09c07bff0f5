//! `tap` and `internal` ports: frames written by the port show up on the
//! device's kernel side and frames the kernel sends out of the device are
//! read by the port. The kernel side is observed and driven with a `system`
//! (AF_PACKET) port on the same device. Needs root; skipped otherwise.

mod common;

use common::*;
use dp_core::packet::{DpPacket, PacketBatch};
use netdev::{LinkState, Options};

fn batch_of(frames: &[Vec<u8>]) -> PacketBatch {
    let mut b = PacketBatch::new();
    for f in frames {
        b.push(Box::new(DpPacket::from_slice(f)));
    }
    b
}

fn exists(name: &str) -> bool {
    std::process::Command::new("ip")
        .args(["link", "show", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Deletes the device on drop in case the test fails before the port does.
struct DelOnDrop(String);
impl Drop for DelOnDrop {
    fn drop(&mut self) {
        if exists(&self.0) {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &self.0])
                .status();
        }
    }
}

fn roundtrip(kind: &str) {
    let name = unique("rvt");
    let _guard = DelOnDrop(name.clone());
    assert!(!exists(&name));
    let tap = netdev::open(&name, kind, &Options::new()).unwrap();
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
    assert_eq!(tap.kind(), kind);
    assert!(!tap.is_pmd());
    assert!(exists(&name), "tap device created");
    let show = sh(&["ip", "-o", "link", "show", &name]);
    assert!(show.contains(",UP"), "device set up: {show}");
    assert_eq!(tap.mac(), parse_mac(&show));
    // Operstate is applied by the kernel's linkwatch asynchronously.
    let start = std::time::Instant::now();
    while tap.link_state() != LinkState::Up && start.elapsed() < GUARD {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(tap.link_state(), LinkState::Up);
    tap.set_mtu(1450).unwrap();
    assert_eq!(tap.mtu(), 1450);

    let kernel = netdev::open(&name, "system", &Options::new()).unwrap();

    // Port -> kernel side.
    let frames: Vec<Vec<u8>> = (0..20)
        .map(|i| test_frame(i, 60 + i as usize * 30))
        .collect();
    assert_eq!(tap.tx_burst(0, &mut batch_of(&frames)), frames.len());
    let got = rx_frames(&*kernel, frames.len(), is_test_frame);
    assert_eq!(got.len(), frames.len());
    for (g, f) in got.iter().zip(&frames) {
        assert_eq!(hex(g), hex(f));
    }

    // Kernel side -> port.
    let back: Vec<Vec<u8>> = (100..140).map(|i| test_frame(i, 200)).collect();
    for chunk in back.chunks(32) {
        assert_eq!(kernel.tx_burst(0, &mut batch_of(chunk)), chunk.len());
    }
    let got = rx_frames(&*tap, back.len(), is_test_frame);
    assert_eq!(got.len(), back.len());
    for (g, f) in got.iter().zip(&back) {
        assert_eq!(hex(g), hex(f));
    }
    let st = tap.stats();
    assert_eq!(st.tx_packets, frames.len() as u64);
    assert!(st.rx_packets >= back.len() as u64);

    // Down: writes are dropped and counted.
    sh(&["ip", "link", "set", &name, "down"]);
    assert_eq!(tap.tx_burst(0, &mut batch_of(&frames[..2])), 0);
    assert_eq!(tap.stats().tx_dropped, 2);

    drop(kernel);
    drop(tap);
    assert!(!exists(&name), "tap device removed with its port");
}

#[test]
fn tap_port_roundtrip() {
    if need_root("tap_port_roundtrip") {
        roundtrip("tap");
    }
}

#[test]
fn internal_port_roundtrip() {
    if need_root("internal_port_roundtrip") {
        roundtrip("internal");
    }
}

#[test]
fn tap_rejects_options_and_keeps_existing_device() {
    if !need_root("tap_rejects_options_and_keeps_existing_device") {
        return;
    }
    let name = unique("rvt");
    let _guard = DelOnDrop(name.clone());
    let o: Options = [("n_rxq".to_string(), "2".to_string())].into();
    assert!(matches!(
        netdev::open(&name, "tap", &o),
        Err(netdev::NetdevError::InvalidOption { .. })
    ));
    assert!(!exists(&name));
    // A tap made beforehand is attached to and left in place.
    sh(&["ip", "tuntap", "add", "dev", &name, "mode", "tap"]);
    let tap = netdev::open(&name, "tap", &Options::new()).unwrap();
    drop(tap);
    assert!(exists(&name));
}
