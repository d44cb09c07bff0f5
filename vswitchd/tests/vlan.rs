//! VLAN access/trunk semantics of the NORMAL action through the daemon,
//! configured only with `ovs-vsctl` (Port `tag`, `trunks`, `vlan_mode`) and
//! observed with real traffic between namespaces and `ovs-appctl fdb/show`.

mod common;

use common::{can_run, traffic_lock, unique, Env, Ns};

/// Adds `ns`'s host device to `br` as a `system` port with extra `Port`
/// settings (e.g. `tag=10`).
fn add(e: &Env, br: &str, ns: &Ns, port_settings: &[&str]) {
    let mut args = vec!["add-port", br, &ns.host];
    args.extend_from_slice(port_settings);
    e.vsctl(&args).unwrap();
    assert_eq!(e.get("interface", &ns.host, "error"), "[]");
}

/// Runs inside the trunk namespace: sends one 802.1Q-tagged (VID 10)
/// broadcast ARP request "who-has 10.78.0.1 tell 10.78.0.4" from
/// 02:00:00:00:0a:04, then prints, for `secs` seconds, every received
/// frame's source MAC and VLAN (from the kernel's PACKET_AUXDATA, since the
/// veth hands the tag over out of band): `SRC VID` or `SRC untagged`.
const TRUNK_PEER: &str = r#"
import socket, struct, sys, time
dev, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((dev, 0))
s.setsockopt(263, 8, 1)  # SOL_PACKET, PACKET_AUXDATA
me = bytes.fromhex("02000000 0a04".replace(" ", ""))
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, me, bytes([10, 78, 0, 4]), b"\0" * 6, bytes([10, 78, 0, 1]))
frame = b"\xff" * 6 + me + struct.pack("!HHH", 0x8100, 10, 0x0806) + arp
s.send(frame)
s.settimeout(0.2)
end = time.time() + secs
while time.time() < end:
    try:
        data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(20))
    except socket.timeout:
        continue
    vid = None
    for level, kind, d in anc:
        if level == 263 and kind == 8:
            status, _, _, _, _, tci = struct.unpack("IIIHHH", d[:18])
            if status & 0x10:
                vid = tci & 0xfff
    src = data[6:12].hex(":")
    if vid is None and data[12:14] == b"\x81\x00":
        vid = struct.unpack("!H", data[14:16])[0] & 0xfff
    print(src, vid if vid is not None else "untagged", flush=True)
"#;

#[test]
fn access_ports_isolate_vlans_and_trunks_carry_them_tagged() {
    if !can_run("access_ports_isolate_vlans_and_trunks_carry_them_tagged") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = unique("rvv");
    e.add_br(&br);
    // Same subnet everywhere: only the VLAN configuration separates them.
    let a10 = Ns::new("10.78.0.1");
    let b10 = Ns::new("10.78.0.2");
    let c20 = Ns::new("10.78.0.3");
    let trunk = Ns::new("10.78.9.9");
    add(&e, &br, &a10, &["tag=10"]);
    add(&e, &br, &b10, &["tag=10"]);
    add(&e, &br, &c20, &["tag=20"]);
    add(&e, &br, &trunk, &["trunks=10", "vlan_mode=trunk"]);
    // Access ports: same VLAN connects, different VLANs never do.
    assert!(
        a10.ping(&b10.ip, 20),
        "same access VLAN must connect\n{}",
        e.log()
    );
    assert!(!a10.ping(&c20.ip, 3), "VLAN 10 must not reach VLAN 20");

    // The trunk host (no kernel VLAN devices here) speaks raw 802.1Q: its
    // tagged ARP request reaches a10 untagged, a10's reply comes back tagged
    // with VID 10, and nothing from VLAN 20 ever shows up on the trunk.
    let capture = {
        let ns = trunk.ns.clone();
        let peer = trunk.peer.clone();
        std::thread::spawn(move || {
            common::run(&[
                "ip", "netns", "exec", &ns, "python3", "-c", TRUNK_PEER, &peer, "4",
            ])
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = c20.exec(&["ping", "-c", "3", "-i", "0.3", "-W", "1", "10.78.0.99"]);
    let seen = capture.join().unwrap().unwrap();
    let a_mac = a10.mac();
    assert!(
        seen.lines().any(|l| l == format!("{a_mac} 10")),
        "a10's ARP reply must reach the trunk tagged with VID 10:\n{seen}\n{}",
        e.log()
    );
    assert!(
        !seen.contains(&c20.mac()),
        "VLAN 20 leaked onto the trunk:\n{seen}"
    );
    assert!(
        seen.lines().all(|l| l.ends_with(" 10")),
        "untagged or foreign VLAN frames on the trunk:\n{seen}"
    );

    // fdb/show lists the learned MACs with their VLANs.
    let fdb = e.appctl(&["fdb/show", &br]).unwrap();
    let row = |mac: &str| fdb.lines().find(|l| l.contains(mac)).map(str::to_string);
    let ra = row(&a10.mac()).expect("a learned");
    assert_eq!(ra.split_whitespace().nth(1), Some("10"), "{fdb}");
    if let Some(rc) = row(&c20.mac()) {
        assert_eq!(rc.split_whitespace().nth(1), Some("20"), "{fdb}");
    }
    // The learned trunk host sits in VLAN 10 on the trunk port.
    let rt = row("02:00:00:00:0a:04").expect("trunk host learned");
    assert_eq!(rt.split_whitespace().nth(1), Some("10"), "{fdb}");
    // Frames to the trunk are tagged by the datapath.
    let flows = e.appctl(&["dpctl/dump-flows"]).unwrap();
    assert!(flows.contains("push_vlan(vid=10"), "{flows}");
    let log = e.log();
    assert!(!log.contains("|WARN|") && !log.contains("|ERR|"), "{log}");
}
