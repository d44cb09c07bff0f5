//! NSH (RFC 8300) through rvs-vswitchd, driven by the real `ovs-ofctl`:
//! `decap(),decap()` strips Ethernet and NSH from a crafted
//! Ethernet/NSH/Ethernet/IPv4 frame sent from one namespace, and the inner
//! frame arrives byte for byte in the other; in the reverse direction
//! `encap(nsh(...))`, `set_field` on NSH fields and `encap(ethernet)` wrap a
//! frame, and the NSH frame that arrives carries the fields the flow set.
//! Frames are sent and captured with python3 AF_PACKET sockets.

mod common;

use common::{can_run, traffic_lock, unique, Env, Ns};
use std::process::{Child, Command, Stdio};

fn of13(e: &Env, args: &[&str]) -> String {
    let mut a = vec!["-O", "OpenFlow13"];
    a.extend_from_slice(args);
    e.ofctl(&a)
        .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
}

fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn mac_bytes(mac: &str) -> Vec<u8> {
    mac.split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect()
}

/// Starts a capture in `ns`: prints (hex) the first frame received on its
/// interface whose Ethertype is `ethertype` and that contains `marker`,
/// within 8 seconds.
fn capture(ns: &Ns, ethertype: u16, marker: &[u8]) -> Child {
    let script = format!(
        "import socket,time,sys\n\
         s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\n\
         s.bind(('{dev}',0))\n\
         s.settimeout(0.5)\n\
         end=time.time()+8\n\
         print('ready',flush=True)\n\
         while time.time()<end:\n\
         \x20try:\n\
         \x20 f,a=s.recvfrom(65535)\n\
         \x20except socket.timeout:\n\
         \x20 continue\n\
         \x20if a[2]==socket.PACKET_OUTGOING: continue\n\
         \x20if f[12:14]==bytes.fromhex('{et:04x}') and bytes.fromhex('{m}') in f:\n\
         \x20 print(f.hex(),flush=True); sys.exit(0)\n\
         sys.exit(1)\n",
        dev = ns.peer,
        et = ethertype,
        m = hex(marker),
    );
    let mut c = Command::new("ip")
        .args(["netns", "exec", &ns.ns, "python3", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    // Wait for "ready" so that nothing sent afterwards is missed.
    use std::io::BufRead;
    let mut line = String::new();
    let out = c.stdout.take().unwrap();
    let mut r = std::io::BufReader::new(out);
    r.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    c.stdout = Some(r.into_inner());
    c
}

/// The frame `capture` printed, or a panic with its stderr.
fn captured(c: Child, what: &str) -> Vec<u8> {
    let o = c.wait_with_output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        o.status.success(),
        "{what}: nothing captured\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Sends `frame` 3 times (the first goes through an upcall) from `ns`.
fn send(ns: &Ns, frame: &[u8]) {
    let script = format!(
        "import socket,time\n\
         s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
         s.bind(('{}',0))\n\
         for i in range(3):\n\
         \x20s.send(bytes.fromhex('{}')); time.sleep(0.3)\n",
        ns.peer,
        hex(frame)
    );
    ns.exec(&["python3", "-c", &script]).unwrap();
}

/// An Ethernet/IPv4/UDP frame with payload `payload` (checksums are not
/// checked by anything on the way).
fn udp_frame(dst: &[u8], src: &[u8], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(dst);
    f.extend_from_slice(src);
    f.extend_from_slice(&[0x08, 0x00]);
    let tot = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (tot >> 8) as u8,
        tot as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 86, 0, 1, 10, 86, 0, 2]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn nsh_decap_and_encap_between_namespaces() {
    if !can_run("nsh_decap_and_encap_between_namespaces") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = unique("rvn");
    e.add_br(&br);
    let mgmt = e.dir.join(format!("{br}.mgmt"));
    common::wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
    let a = Ns::new("10.86.0.1");
    let b = Ns::new("10.86.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    let (amac, bmac) = (a.mac(), b.mac());
    of13(&e, &["del-flows", &br]);
    of13(
        &e,
        &[
            "add-flow",
            &br,
            "in_port=1,dl_type=0x894f,nsh_spi=0x42,actions=decap(),decap(),output:2",
        ],
    );
    let encap = format!(
        "in_port=2,udp,tp_dst=7777,actions=encap(nsh(md_type=1)),set_field:0x43->nsh_spi,\
         set_field:0x11223344->nsh_c1,encap(ethernet),set_field:{amac}->eth_dst,output:1"
    );
    of13(&e, &["add-flow", &br, &encap]);
    // ovs-ofctl decodes what rvs encodes back exactly as it normalises
    // the flows itself.
    let flows = of13(&e, &["dump-flows", &br, "--no-stats"]);
    assert!(
        flows.contains("in_port=1,dl_type=0x894f,nsh_spi=0x42 actions=decap(),decap(),output:2"),
        "{flows}"
    );
    assert!(
        flows.contains(&format!(
            "udp,in_port=2,tp_dst=7777 actions=encap(nsh(md_type=1)),set_field:0x43->nsh_spi,\
             set_field:0x11223344->nsh_c1,encap(ethernet),set_field:{amac}->eth_dst,output:1"
        )),
        "{flows}"
    );

    // ns1 -> ns2: Ethernet / NSH (SPI 0x42, next protocol Ethernet) /
    // Ethernet / IPv4 / UDP; the inner frame arrives unchanged.
    let inner = udp_frame(
        &mac_bytes(&bmac),
        &[2, 0, 0, 0, 0, 0x77],
        5555,
        b"NSHTEST-in",
    );
    let mut outer = mac_bytes("02:00:00:00:00:99");
    outer.extend_from_slice(&mac_bytes(&amac));
    outer.extend_from_slice(&[0x89, 0x4f]);
    outer.extend_from_slice(&[0x0f, 0xc6, 1, 3, 0, 0, 0x42, 255]);
    outer.extend_from_slice(&[0; 16]);
    outer.extend_from_slice(&inner);
    let cap = capture(&b, 0x0800, b"NSHTEST-in");
    send(&a, &outer);
    let got = captured(cap, "decap");
    assert_eq!(
        hex(&got[..inner.len()]),
        hex(&inner),
        "{}",
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    let dp = e.appctl(&["dpctl/dump-flows"]).unwrap_or_default();
    assert!(dp.contains("pop_eth,pop_nsh(),recirc("), "{dp}");
    assert!(dp.contains("nsh(np=3,spi=0x42)"), "{dp}");

    // ns2 -> ns1: the frame is wrapped in NSH (SPI 0x43, SI 255, TTL 63,
    // c1 0x11223344, next protocol Ethernet) and Ethernet to ns1's MAC.
    let plain = udp_frame(&mac_bytes(&amac), &mac_bytes(&bmac), 7777, b"NSHTEST-out");
    let cap = capture(&a, 0x894f, b"NSHTEST-out");
    send(&b, &plain);
    let got = captured(cap, "encap");
    let mut want = mac_bytes(&amac);
    want.extend_from_slice(&[0; 6]);
    want.extend_from_slice(&[0x89, 0x4f]);
    want.extend_from_slice(&[0x0f, 0xc6, 1, 3, 0, 0, 0x43, 255]);
    want.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]);
    want.extend_from_slice(&[0; 12]);
    want.extend_from_slice(&plain);
    assert_eq!(hex(&got[..want.len()]), hex(&want));
    let dp = e.appctl(&["dpctl/dump-flows"]).unwrap_or_default();
    assert!(
        dp.contains(
            "push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x43,si=255,c1=0x11223344,c2=0x0,c3=0x0,c4=0x0),push_eth(src=00:00:00:00:00:00,"
        ),
        "{dp}"
    );
}
