//! The remaining OpenFlow actions through rvs-vswitchd and the real tools:
//! `check_pkt_larger`, `fin_timeout`, `set_queue`/`enqueue`/`pop_queue` and
//! `learn` with `limit`/`result_dst` (NXAST_LEARN2) survive `ovs-ofctl
//! add-flow` / `dump-flows` as OVS prints them; rvs re-encodes them byte for
//! byte as `ovs-ofctl` sent them; big and small pings take different
//! ports through `check_pkt_larger`; a `fin_timeout` flow goes away soon
//! after the TCP connection through it closes; `ovs-ofctl monitor` shows
//! OpenFlow 1.0 / NXM flow-removed messages and packet-ins with the rule's
//! cookie, `max_len` truncation and the full `total_len`.

mod common;

use common::{can_run, traffic_lock, unique, Env, Ns};
use ofproto::ofp::actions::{decode_actions, encode_actions};
use std::time::Duration;

fn ofctl(e: &Env, args: &[&str]) -> String {
    common::ofctl_ok(e, args)
}

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rva")
}

fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

/// The `actions=` part of each dump-flows line (in dump order).
fn dumped_actions(e: &Env, args: &[&str]) -> Vec<String> {
    ofctl(e, args)
        .lines()
        .filter_map(|l| l.split_once("actions=").map(|(_, a)| a.to_string()))
        .collect()
}

/// Frames received by the namespace side of `ns`.
fn rx(ns: &Ns) -> u64 {
    ns.exec(&[
        "cat",
        &format!("/sys/class/net/{}/statistics/rx_packets", ns.peer),
    ])
    .unwrap()
    .trim()
    .parse()
    .unwrap()
}

/// Flows whose actions are written in OpenFlow version `.2` (`ovs-ofctl
/// -O`): match (with its trailing comma, if any) and actions as
/// `ovs-ofctl dump-flows` prints them.
const ROUND_TRIP: &[(&str, &str, &str)] = &[
    ("", "check_pkt_larger(1500)->NXM_NX_REG0[0]", "OpenFlow13"),
    ("", "check_pkt_larger(200)->NXM_NX_REG3[7]", "OpenFlow10"),
    ("", "fin_timeout(idle_timeout=5,hard_timeout=10)", "OpenFlow10"),
    ("tcp,", "fin_timeout(idle_timeout=1)", "OpenFlow13"),
    ("", "set_queue:5,output:2", "OpenFlow10"),
    ("", "set_queue:7,output:2,pop_queue,output:3", "OpenFlow13"),
    ("", "enqueue:2:3", "OpenFlow10"),
    (
        "",
        "learn(table=5,limit=10,result_dst=NXM_NX_REG1[3],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[]),resubmit(,1)",
        "OpenFlow10",
    ),
    (
        "",
        "learn(table=6,idle_timeout=30,limit=2,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])",
        "OpenFlow13",
    ),
    (
        "",
        "learn(table=7,result_dst=NXM_NX_REG0[0],NXM_OF_VLAN_TCI[0..11])",
        "OpenFlow13",
    ),
];

#[test]
fn new_actions_round_trip_through_add_and_dump_flows() {
    if !can_run("new_actions_round_trip_through_add_and_dump_flows") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    for (i, (m, acts, ver)) in ROUND_TRIP.iter().enumerate() {
        ofctl(&e, &["del-flows", &br]);
        let flow = format!("priority={},{m}actions={acts}", 100 + i);
        ofctl(&e, &["-O", ver, "add-flow", &br, &flow]);
        // Table 0 only: host traffic on the bridge's LOCAL port may hit a
        // learn flow and add learned flows to other tables meanwhile.
        let got = dumped_actions(&e, &["-O", ver, "dump-flows", &br, "table=0"]);
        assert_eq!(got, vec![acts.to_string()], "{ver}");
    }
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}

#[test]
fn rvs_reencodes_new_actions_byte_for_byte() {
    if !can_run("rvs_reencodes_new_actions_byte_for_byte") {
        return;
    }
    // The actions of the flow_mod `ovs-ofctl add-flow` sends, decoded and
    // re-encoded by rvs, are byte for byte what OVS sent.
    for (m, acts, ver) in ROUND_TRIP {
        let v: u8 = if *ver == "OpenFlow10" { 1 } else { 4 };
        let sock = std::env::temp_dir().join(format!("{}.sock", unique("rvact")));
        let ofp = ovs_flow_mod_bytes(&format!("{m}actions={acts}"), v, &sock);
        let at = if v == 1 {
            // OF1.0 flow_mod: header 8, ofp_match 40, 24 more, actions.
            72
        } else {
            // OF1.3: header 8 + 40, match (padded), instruction header 8.
            let match_len = u16::from_be_bytes([ofp[50], ofp[51]]) as usize;
            48 + match_len.div_ceil(8) * 8 + 8
        };
        let wire = &ofp[at..];
        let decoded = decode_actions(wire, v).unwrap_or_else(|e| panic!("{acts}: {e:?}"));
        let mut again = Vec::new();
        encode_actions(&decoded, v, &mut again);
        assert_eq!(again, wire, "{acts}: rvs re-encoding differs from OVS");
    }
}

/// The bytes of the OFPT_FLOW_MOD (OpenFlow version `v`, 1 or 4) that
/// `ovs-ofctl add-flow` sends for `flow`, captured by playing the switch
/// on the unix socket `sock` (HELLO, then a reply to its barrier).
fn ovs_flow_mod_bytes(flow: &str, v: u8, sock: &std::path::Path) -> Vec<u8> {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    let l = UnixListener::bind(sock).unwrap();
    let sock_arg = format!("unix:{}", sock.display());
    let ver = if v == 1 { "OpenFlow10" } else { "OpenFlow13" };
    let child = std::process::Command::new("ovs-ofctl")
        .args([
            "-O",
            ver,
            "--timeout=5",
            "--no-names",
            "add-flow",
            &sock_arg,
            flow,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&[v, 0, 0, 8, 0, 0, 0, 1]).unwrap();
    // OFPT_BARRIER_REQUEST is 18 in OpenFlow 1.0, 20 in 1.3.
    let barrier = if v == 1 { 18 } else { 20 };
    let mut out = None;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while out.is_none() {
        let n = s.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 8 {
            let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
            if buf.len() < len {
                break;
            }
            let msg: Vec<u8> = buf.drain(..len).collect();
            match msg[1] {
                14 => out = Some(msg),
                // BARRIER_REQUEST: reply so the tool finishes.
                t if t == barrier => {
                    let mut r = msg.clone();
                    r[1] = barrier + 1;
                    r.truncate(8);
                    r[2..4].copy_from_slice(&8u16.to_be_bytes());
                    let _ = s.write_all(&r);
                }
                _ => {}
            }
        }
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(sock);
    out.unwrap_or_else(|| panic!("no flow_mod from ovs-ofctl for {flow}"))
}

#[test]
fn check_pkt_larger_steers_big_pings_to_another_port() {
    if !can_run("check_pkt_larger_steers_big_pings_to_another_port") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.87.0.1");
    let b = Ns::new("10.87.0.2");
    let c = Ns::new("10.87.0.3");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    port(&e, &br, &c, 3);
    ofctl(&e, &["del-flows", &br]);
    for f in [
        // Frames longer than 200 bytes from a go to c, the rest to b.
        "table=0,priority=10,in_port=1,ip,actions=check_pkt_larger(200)->NXM_NX_REG0[0],resubmit(,1)",
        "table=0,priority=5,in_port=1,actions=output:2",
        "table=0,priority=5,in_port=2,actions=set_queue:5,output:1",
        "table=1,priority=10,reg0=0x1/0x1,actions=output:3",
        "table=1,priority=0,actions=output:2",
    ] {
        ofctl(&e, &["add-flow", &br, f]);
    }
    assert!(
        a.ping(&b.ip, 20),
        "small ping\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]),
        e.log()
    );
    let (b0, c0) = (rx(&b), rx(&c));
    // 5 small pings: all answered, c sees none.
    a.exec(&["ping", "-c", "5", "-i", "0.2", "-W", "1", &b.ip])
        .unwrap_or_else(|err| panic!("small pings: {err}"));
    // 5 big pings (542-byte frames): steered to c, so none is answered.
    let big = a.exec(&[
        "ping", "-c", "5", "-i", "0.2", "-W", "1", "-s", "500", &b.ip,
    ]);
    assert!(big.is_err(), "big pings answered: {big:?}");
    std::thread::sleep(Duration::from_millis(300));
    let (db, dc) = (rx(&b) - b0, rx(&c) - c0);
    assert!(dc >= 5, "c got {dc} frames");
    assert!((5..8).contains(&db), "b got {db} frames");
    let dp = e.appctl(&["dpctl/dump-flows"]).unwrap();
    // ofports 3 and 2 have datapath ports of their own: find them.
    let odp = |name: &str| {
        let show = e.appctl(&["dpctl/show"]).unwrap();
        show.lines()
            .find(|l| l.contains(&format!(": {name}")))
            .and_then(|l| l.trim().strip_prefix("port "))
            .and_then(|l| l.split(':').next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{name} in {show}"))
    };
    let want = format!(
        "check_pkt_len(size=200,gt({}),le({}))",
        odp(&c.host),
        odp(&b.host)
    );
    assert!(dp.contains(&want), "{want}\n{dp}");
    // set_queue on the reply path: skb_priority is set, replies still flow.
    assert!(dp.contains("set(skb_priority(0x5))"), "{dp}");
}

#[test]
fn fin_timeout_flow_expires_after_the_connection_closes() {
    if !can_run("fin_timeout_flow_expires_after_the_connection_closes") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.88.0.1");
    let b = Ns::new("10.88.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    ofctl(&e, &["del-flows", &br]);
    ofctl(
        &e,
        &[
            "add-flow",
            &br,
            "priority=10,idle_timeout=60,tcp,actions=fin_timeout(idle_timeout=1),NORMAL",
        ],
    );
    ofctl(&e, &["add-flow", &br, "priority=0,actions=NORMAL"]);
    assert!(a.ping(&b.ip, 20), "ping\n{}", e.log());
    common::tcp_transfer_checked(&a, &b, 200_000);
    // The FIN reaches the megaflow's statistics; the revalidator shortens
    // the rule's idle timeout to 1 s and the idle rule expires.
    let gone = common::wait_for(15, || {
        (!ofctl(&e, &["dump-flows", &br]).contains("tcp")).then_some(())
    });
    assert!(
        gone.is_some(),
        "fin_timeout flow still there:\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]),
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    // Without FIN the same rule stays: the idle timeout is untouched.
    ofctl(
        &e,
        &[
            "add-flow",
            &br,
            "priority=10,idle_timeout=60,tcp,actions=fin_timeout(idle_timeout=1),NORMAL",
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    let d = ofctl(&e, &["dump-flows", &br]);
    assert!(d.contains("idle_timeout=60") && d.contains("tcp"), "{d}");
}

/// `ovs-ofctl ARGS` running in the background with its output in a file;
/// killed (by its own handle) on drop.
struct Bg(std::process::Child, std::path::PathBuf);

impl Bg {
    fn start(e: &Env, name: &str, args: &[&str]) -> Bg {
        let path = e.dir.join(format!("{name}.out"));
        let f = std::fs::File::create(&path).unwrap();
        let child = std::process::Command::new("ovs-ofctl")
            .env("OVS_RUNDIR", &e.dir)
            .args(args)
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        Bg(child, path)
    }

    fn out(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }

    fn wait_for(&self, what: &str) -> bool {
        common::wait_for(10, || self.out().contains(what).then_some(())).is_some()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn monitor_shows_of10_flow_removed_and_packet_in_cookie_and_max_len() {
    if !can_run("monitor_shows_of10_flow_removed_and_packet_in_cookie_and_max_len") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.89.0.1");
    port(&e, &br, &a, 1);
    ofctl(&e, &["del-flows", &br]);
    let m10 = Bg::start(&e, "m10", &["monitor", &br, "65534"]);
    let nxm = NxmConn::open(&e, &br);
    let m13 = Bg::start(
        &e,
        "m13",
        &[
            "-O",
            "OpenFlow13",
            "monitor",
            &br,
            "65534",
            "-P",
            "standard",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    // FLOW_REMOVED in the OpenFlow 1.0 layout (ofp10 match) and as
    // NXT_FLOW_REMOVED for the NXM connection.
    ofctl(
        &e,
        &[
            "add-flow",
            &br,
            "cookie=0x42,priority=5,in_port=2,udp,tp_dst=53,send_flow_rem,actions=drop",
        ],
    );
    ofctl(
        &e,
        &[
            "--strict",
            "del-flows",
            &br,
            "priority=5,in_port=2,udp,tp_dst=53",
        ],
    );
    assert!(m10.wait_for("reason=delete"), "{}\n{}", m10.out(), e.log());
    let o = m10.out();
    assert!(
        o.contains("OFPT_FLOW_REMOVED") && o.contains("priority=5,udp,in_port=2,tp_dst=53"),
        "{o}"
    );
    assert!(o.contains("cookie:0x42"), "{o}");
    // What real ovs-ofctl prints for the NXT_FLOW_REMOVED rvs sent.
    let msg = nxm.next_nxt(14).expect("NXT_FLOW_REMOVED");
    let file = e.dir.join("nxt_flow_removed.bin");
    std::fs::write(&file, &msg).unwrap();
    let o = ofctl(&e, &["ofp-parse", file.to_str().unwrap()]);
    assert!(
        o.contains("NXT_FLOW_REMOVED")
            && o.contains("priority=5,udp,in_port=2,tp_dst=53 reason=delete")
            && o.contains("cookie:0x42"),
        "{o}"
    );
    // PACKET_IN: the rule's cookie, max_len truncation, the full total_len.
    ofctl(
        &e,
        &[
            "add-flow",
            &br,
            "cookie=0x1234,in_port=1,udp,actions=controller(max_len=64)",
        ],
    );
    a.exec(&[
        "ip",
        "neigh",
        "replace",
        "10.89.0.99",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        &a.peer,
    ])
    .unwrap();
    a.exec(&[
        "python3",
        "-c",
        "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);\
         s.sendto(b'x'*200,('10.89.0.99',9))",
    ])
    .unwrap();
    assert!(m13.wait_for("OFPT_PACKET_IN"), "{}\n{}", m13.out(), e.log());
    let o = m13.out();
    // 14 + 20 + 8 + 200 bytes on the wire; 64 sent.
    assert!(o.contains("cookie=0x1234"), "{o}");
    assert!(o.contains("total_len=242"), "{o}");
    assert!(o.contains("data_len=64"), "{o}");
    assert!(m10.wait_for("total_len=242"), "{}", m10.out());
}

/// A raw OpenFlow 1.0 connection to a bridge that asked for the NXM flow
/// format (NXT_SET_FLOW_FORMAT nxm) and asynchronous messages (SET_CONFIG
/// with miss_send_len 0xffff), as a controller speaking NXM would.
struct NxmConn(std::os::unix::net::UnixStream);

impl NxmConn {
    fn open(e: &Env, br: &str) -> NxmConn {
        use std::io::Write;
        let mut s = std::os::unix::net::UnixStream::connect(e.dir.join(format!("{br}.mgmt")))
            .expect("mgmt socket");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut m = vec![1, 0, 0, 8, 0, 0, 0, 1];
        // OFPT_VENDOR NXT_SET_FLOW_FORMAT (12) NXFF_NXM (2).
        m.extend_from_slice(&[
            1, 4, 0, 20, 0, 0, 0, 2, 0, 0, 0x23, 0x20, 0, 0, 0, 12, 0, 0, 0, 2,
        ]);
        // OFPT_SET_CONFIG: flags 0, miss_send_len 0xffff.
        m.extend_from_slice(&[1, 9, 0, 12, 0, 0, 0, 3, 0, 0, 0xff, 0xff]);
        s.write_all(&m).unwrap();
        NxmConn(s)
    }

    /// The next Nicira vendor message of subtype `st`, whole.
    fn next_nxt(&self, st: u32) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut s = &self.0;
        loop {
            let mut h = [0u8; 8];
            s.read_exact(&mut h).ok()?;
            let len = u16::from_be_bytes([h[2], h[3]]) as usize;
            let mut body = vec![0u8; len.saturating_sub(8)];
            s.read_exact(&mut body).ok()?;
            if h[1] == 4 && body.len() >= 8 && body[4..8] == st.to_be_bytes() {
                let mut m = h.to_vec();
                m.extend_from_slice(&body);
                return Some(m);
            }
        }
    }
}
