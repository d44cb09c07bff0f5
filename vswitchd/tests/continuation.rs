//! `controller(pause)` and NXT_RESUME, driven by the real tools: a flow
//! pauses each IPv4 packet and sends it to the controller with a
//! continuation; `ovs-ofctl monitor BRIDGE resume` sends every continuation
//! straight back, and rvs finishes the translation (a `mod_dl_dst` and a
//! `resubmit` to the table that outputs). Pings cross only while the
//! controller resumes them. A forged continuation gets NXR_STALE.

mod common;

use common::{can_run, traffic_lock, Env, Ns, OfctlBg};
use std::io::{Read, Write};
use std::time::Duration;

fn ofctl(e: &Env, args: &[&str]) -> String {
    common::ofctl_ok(e, args)
}

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rvc")
}

fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

#[test]
fn paused_pings_cross_only_when_the_controller_resumes_them() {
    if !can_run("paused_pings_cross_only_when_the_controller_resumes_them") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.87.0.1");
    let b = Ns::new("10.87.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    // `a` sends to a MAC nobody has: only the frozen mod_dl_dst makes the
    // ping reach `b`.
    a.exec(&[
        "ip",
        "neigh",
        "replace",
        "10.87.0.2",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        &a.peer,
    ])
    .unwrap();
    let bmac = b.mac();
    ofctl(&e, &["del-flows", &br]);
    for f in [
        format!("table=0,in_port=1,ip,actions=controller(pause),mod_dl_dst:{bmac},resubmit(,1)"),
        "table=0,in_port=1,arp,actions=output:2".to_string(),
        "table=0,in_port=2,actions=output:1".to_string(),
        "table=1,actions=output:2".to_string(),
    ] {
        ofctl(&e, &["add-flow", &br, &f]);
    }
    assert!(
        !a.ping("10.87.0.2", 2),
        "no controller: paused, not forwarded"
    );
    let m = OfctlBg::start(
        &e,
        "resume",
        &["monitor", &br, "65534", "-P", "nxt_packet_in2", "resume"],
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(a.ping("10.87.0.2", 10), "{}\n{}", m.out(), e.log());
    let out = m.out();
    assert!(out.contains("NXT_PACKET_IN2"), "{out}");
    assert!(
        out.contains("continuation.actions=") && out.contains("resubmit(,1)"),
        "{out}"
    );
    assert!(out.contains("NXT_RESUME"), "{out}");
    // Every packet is paused (nothing after the pause is cached): without
    // the controller, pings stop again.
    drop(m);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!a.ping("10.87.0.2", 2));
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}

/// Sends one OpenFlow 1.3 message on the bridge's management socket after
/// the hello exchange and returns the first reply that is not a HELLO.
fn exchange(e: &Env, br: &str, msg: &[u8]) -> Vec<u8> {
    let mut s = std::os::unix::net::UnixStream::connect(e.dir.join(format!("{br}.mgmt"))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).unwrap();
    s.write_all(msg).unwrap();
    loop {
        let mut h = [0u8; 8];
        s.read_exact(&mut h).unwrap();
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        let mut body = vec![0u8; len - 8];
        s.read_exact(&mut body).unwrap();
        if h[1] != 0 {
            let mut m = h.to_vec();
            m.extend(body);
            return m;
        }
    }
}

#[test]
fn forged_continuation_is_stale() {
    if !can_run("forged_continuation_is_stale") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    // NXT_RESUME (OF1.3 experimenter 0x2320 subtype 28): NXPINT_PACKET (a
    // 14-byte Ethernet header), NXPINT_CONTINUATION naming another bridge.
    let mut body: Vec<u8> = vec![0, 0, 0x23, 0x20, 0, 0, 0, 28];
    body.extend([0, 0, 0, 18]);
    body.extend([0xff; 6]);
    body.extend([2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    body.extend([0; 6]);
    body.extend([0, 8, 0, 32, 0, 0, 0, 0]);
    body.extend([0x80, 0, 0, 20]);
    body.extend([0x42; 16]);
    body.extend([0; 4]);
    let mut msg = vec![4, 4, 0, 0, 0, 0, 0, 7];
    msg.extend(body);
    let n = msg.len() as u16;
    msg[2..4].copy_from_slice(&n.to_be_bytes());
    let reply = exchange(&e, &br, &msg);
    let hex: String = reply.iter().map(|b| format!("{b:02x}")).collect();
    let text = ofctl(&e, &["ofp-print", &hex]);
    assert!(
        text.contains("OFPT_ERROR") && text.contains("NXR_STALE"),
        "{text}"
    );
    // A truncated continuation property is an error, not a crash.
    let mut bad = msg.clone();
    bad.truncate(msg.len() - 8);
    let n = bad.len() as u16;
    bad[2..4].copy_from_slice(&n.to_be_bytes());
    let reply = exchange(&e, &br, &bad);
    assert_eq!(reply[1], 1, "OFPT_ERROR");
    assert!(ofctl(&e, &["show", &br]).contains("OFPT_FEATURES_REPLY"));
}
