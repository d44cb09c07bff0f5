//! OpenFlow controllers (`Bridge.controller`, ovs-vswitchd.conf.db(5)):
//! a tiny controller written here with the `ofproto::ofp` codec over std
//! TCP sockets drives the switch the way a real one would, configured with
//! the real `ovs-vsctl` (`set-controller`, `del-controller`,
//! `set-fail-mode`, `protocols`), observed with `ovs-ofctl`, `ovs-appctl`
//! and traffic between namespaces. Also: table-miss packet-ins by version
//! (OpenFlow 1.0-1.2 get them, 1.3+ only after OFPT_SET_ASYNC), GET_ASYNC,
//! and OFPT_ROLE_STATUS to a demoted OpenFlow 1.4 master.

mod common;

use common::{can_run, traffic_lock, wait_for, Env, Ns};
use ofproto::ofp::actions::{Action, OFPP_CONTROLLER};
use ofproto::ofp::flow::{command, PacketIn, PacketOut};
use ofproto::ofp::switch::Role;
use ofproto::ofp::{
    Decoder, Field, FlowMod, Header, Hello, Instruction, Match, MatchField, Message, OxmMatch,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A test controller: one OpenFlow connection (1.3 unless
/// [`Ctl::handshake_v`] picked another version).
struct Ctl {
    s: TcpStream,
    dec: Decoder,
    xid: u32,
    /// Wire version of what it sends.
    v: u8,
    /// Answer ECHO_REQUEST (a live controller) or stay silent.
    echo: bool,
}

impl Ctl {
    fn new(s: TcpStream) -> Ctl {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Ctl {
            s,
            dec: Decoder::new(),
            xid: 100,
            v: 4,
            echo: true,
        }
    }

    /// Accepts the switch's connection on `l` (within `secs`).
    fn accept(l: &TcpListener, secs: u64) -> Option<Ctl> {
        l.set_nonblocking(true).unwrap();
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if let Ok((s, _)) = l.accept() {
                s.set_nonblocking(false).unwrap();
                return Some(Ctl::new(s));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn send(&mut self, m: &Message) -> u32 {
        self.xid += 1;
        self.s.write_all(&m.encode(self.v, self.xid)).unwrap();
        self.xid
    }

    /// The next message within `secs`; `Err(())` once the switch closed
    /// the connection.
    fn recv(&mut self, secs: f64) -> Result<Option<(Header, Message)>, ()> {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let mut buf = [0u8; 65536];
        loop {
            if let Ok(Some(f)) = self.dec.next_frame() {
                let (h, m) = Message::decode(&f).expect("switch sent a valid message");
                if let (Message::EchoRequest(d), true) = (&m, self.echo) {
                    let r = Message::EchoReply(d.clone()).encode(self.v, h.xid);
                    self.s.write_all(&r).unwrap();
                    continue;
                }
                return Ok(Some((h, m)));
            }
            if Instant::now() >= end {
                return Ok(None);
            }
            match self.s.read(&mut buf) {
                Ok(0) => return Err(()),
                Ok(n) => self.dec.feed(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Err(()),
            }
        }
    }

    /// The first message matching `f` within `secs`.
    fn expect<T>(&mut self, secs: f64, mut f: impl FnMut(&Header, &Message) -> Option<T>) -> T {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            if let Ok(Some((h, m))) = self.recv(0.2) {
                if let Some(t) = f(&h, &m) {
                    return t;
                }
            }
        }
        panic!("expected message did not arrive");
    }

    /// Version handshake offering `versions`: the switch's HELLO, ours.
    fn hello(&mut self, versions: &[u8]) -> Hello {
        let h = self.expect(5.0, |_, m| match m {
            Message::Hello(h) => Some(h.clone()),
            _ => None,
        });
        let top = *versions.iter().max().unwrap();
        let m = Message::Hello(Hello::with_versions(versions)).encode(top, 1);
        self.s.write_all(&m).unwrap();
        h
    }

    /// HELLO (OpenFlow 1.3) and FEATURES; returns the datapath id.
    fn handshake(&mut self) -> u64 {
        self.handshake_v(4)
    }

    /// HELLO offering only wire version `v`, then FEATURES.
    fn handshake_v(&mut self, v: u8) -> u64 {
        self.v = v;
        self.hello(&[v]);
        let x = self.send(&Message::FeaturesRequest);
        self.expect(5.0, |h, m| match m {
            Message::FeaturesReply(f) if h.xid == x => Some(f.datapath_id),
            _ => None,
        })
    }

    /// Sends `m` then a barrier; the OFPT_ERROR (type, code) the switch
    /// answered `m` with, if any.
    fn error_of(&mut self, m: &Message) -> Option<(u16, u16)> {
        let x = self.send(m);
        let b = self.send(&Message::BarrierRequest);
        let mut err = None;
        self.expect(5.0, |h, r| match r {
            Message::Error(e) if h.xid == x => {
                err = Some((e.err_type, e.code));
                None
            }
            Message::BarrierReply if h.xid == b => Some(()),
            _ => None,
        });
        err
    }

    fn role(&mut self, role: u32, generation_id: u64) -> Result<u32, (u16, u16)> {
        let x = self.send(&Message::RoleRequest(Role {
            role,
            generation_id,
        }));
        self.expect(5.0, |h, m| match m {
            Message::RoleReply(r) if h.xid == x => Some(Ok(r.role)),
            Message::Error(e) if h.xid == x => Some(Err((e.err_type, e.code))),
            _ => None,
        })
    }
}

/// An OpenFlow 1.3 FLOW_MOD adding `priority=PRIO,in_port=IN` with
/// `actions`.
fn flow_mod(prio: u16, in_port: u32, actions: Vec<Action>) -> Message {
    let mut m = OxmMatch::default();
    m.fields
        .push(MatchField::new(Field::InPort, &in_port.to_be_bytes(), None, false).unwrap());
    Message::FlowMod(FlowMod {
        cookie: 0,
        cookie_mask: 0,
        table_id: 0,
        command: command::ADD,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: prio,
        buffer_id: u32::MAX,
        out_port: ofproto::ofp::actions::OFPP_ANY,
        out_group: 0xffff_ffff,
        flags: 0,
        importance: 0,
        match_: Match::Oxm(m),
        instructions: vec![Instruction::ApplyActions(actions)],
    })
}

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rvc")
}

fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

/// `dump-flows` lines without the volatile fields.
fn flows(e: &Env, br: &str) -> Vec<String> {
    e.ofctl(&["-O", "OpenFlow13", "dump-flows", br])
        .unwrap()
        .lines()
        .filter(|l| !l.contains("reply") && !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .split(", ")
                .filter(|p| {
                    !["cookie=", "duration=", "table=", "n_packets=", "n_bytes="]
                        .iter()
                        .any(|k| p.starts_with(k))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// The bridge's only Controller row, column `col` (`ovs-vsctl get`).
fn ctl_col(e: &Env, br: &str, col: &str) -> String {
    e.get("controller", br, col).trim_matches('"').to_string()
}

/// Waits until `is_connected` of the bridge's controller is `want`.
fn wait_connected(e: &Env, br: &str, want: bool, secs: u64) {
    let w = want.to_string();
    wait_for(secs, || (ctl_col(e, br, "is_connected") == w).then_some(()))
        .unwrap_or_else(|| panic!("is_connected never became {want}\n{}", e.log()));
}

/// A free local TCP port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends one UDP datagram carrying `payload` from `ns` to `dst:9` (a
/// static neighbour, so no ARP).
fn udp(ns: &Ns, dst: &str, payload: &str) {
    let _ = ns.exec(&[
        "ip",
        "neigh",
        "replace",
        dst,
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        &ns.peer,
    ]);
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.sendto(b'{payload}',('{dst}',9))\n"
    );
    ns.exec(&["python3", "-c", &script]).unwrap();
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

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn tcp_controller_programs_flows_and_gets_packet_ins() {
    if !can_run("tcp_controller_programs_flows_and_gets_packet_ins") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.91.0.1");
    let b = Ns::new("10.91.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    assert_eq!(flows(&e, &br), vec!["priority=0 actions=NORMAL"]);

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp:127.0.0.1:{}", l.local_addr().unwrap().port());
    e.vsctl(&["set-controller", &br, &target]).unwrap();
    let mut c = Ctl::accept(&l, 10).expect("the switch connects");
    let dpid = c.handshake();
    assert_eq!(
        format!("{dpid:016x}"),
        e.get("bridge", &br, "datapath_id").trim_matches('"')
    );
    wait_connected(&e, &br, true, 10);
    assert_eq!(ctl_col(&e, &br, "role"), "other");
    assert_eq!(ctl_col(&e, &br, "status:state"), "ACTIVE");
    // The first controller flushed the default flow (OVS connmgr).
    assert!(flows(&e, &br).is_empty(), "{:?}", flows(&e, &br));

    let to_ctl = vec![Action::Output {
        port: OFPP_CONTROLLER,
        max_len: 0xffff,
    }];
    assert_eq!(c.error_of(&flow_mod(10, 1, to_ctl)), None);
    assert_eq!(
        flows(&e, &br),
        vec!["priority=10,in_port=1 actions=CONTROLLER:65535"]
    );

    // Traffic from port 1 reaches the controller as PACKET_IN...
    let rx_b = rx(&b);
    udp(&a, "10.91.0.2", "rvs-ctl-marker");
    let data = c.expect(10.0, |_, m| match m {
        Message::PacketIn(p) if contains(&p.data, b"rvs-ctl-marker") => {
            let in_port = p.match_.get(Field::InPort).map(|f| f.value_u64());
            assert_eq!(in_port, Some(1));
            Some(p.data.clone())
        }
        _ => None,
    });
    assert_eq!(rx(&b), rx_b, "nothing forwarded without the controller");
    // ... and its PACKET_OUT to port 2 arrives in the other namespace.
    c.send(&Message::PacketOut(PacketOut {
        buffer_id: u32::MAX,
        in_port: OFPP_CONTROLLER,
        match_: OxmMatch::default(),
        actions: vec![Action::Output {
            port: 2,
            max_len: 0,
        }],
        data,
    }));
    wait_for(5, || (rx(&b) > rx_b).then_some(())).expect("PACKET_OUT arrives");
}

#[test]
fn ptcp_service_protocols_and_roles() {
    if !can_run("ptcp_service_protocols_and_roles") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    let p = free_port();
    e.vsctl(&[
        "set-controller",
        &br,
        &format!("ptcp:{p}:127.0.0.1"),
        "--",
        "set",
        "bridge",
        &br,
        "protocols=OpenFlow13",
    ])
    .unwrap();
    let connect = || {
        wait_for(10, || TcpStream::connect(("127.0.0.1", p)).ok())
            .map(Ctl::new)
            .expect("ptcp listener")
    };
    // Version negotiation honours protocols, on .mgmt too.
    assert!(e.ofctl(&["-O", "OpenFlow10", "show", &br]).is_err());
    wait_for(5, || {
        e.log().contains("version negotiation failed").then_some(())
    })
    .expect("rvs refused OpenFlow 1.0");
    let show = e.ofctl(&["-O", "OpenFlow13", "show", &br]).unwrap();
    assert!(show.contains("OFPT_FEATURES_REPLY (OF1.3)"), "{show}");
    let mut old = connect();
    let hello = old.expect(5.0, |_, m| match m {
        Message::Hello(h) => Some(h.clone()),
        _ => None,
    });
    assert_eq!(hello.bitmap_versions(), Some(vec![4]));
    old.s
        .write_all(&Message::Hello(Hello::default()).encode(1, 1))
        .unwrap();
    let err = old.expect(5.0, |_, m| match m {
        Message::Error(e) => Some((e.err_type, e.code)),
        _ => None,
    });
    // OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE.
    assert_eq!(err, (0, 0));

    // A passive target is a service, not a primary controller: the bridge
    // keeps its NORMAL flow and the row stays disconnected (as in OVS).
    let mut c1 = connect();
    c1.handshake();
    let mut c2 = connect();
    c2.handshake();
    assert_eq!(flows(&e, &br), vec!["priority=0 actions=NORMAL"]);
    assert_eq!(ctl_col(&e, &br, "is_connected"), "false");

    // Roles (OpenFlow 1.3.5 section 6.3.6).
    assert_eq!(c1.role(2, 10), Ok(2));
    assert_eq!(c2.role(2, 9), Err((11, 0)), "stale generation_id");
    assert_eq!(c2.role(3, 11), Ok(3));
    let out1 = vec![Action::Output {
        port: 1,
        max_len: 0,
    }];
    assert_eq!(c2.error_of(&flow_mod(5, 9, out1.clone())), Some((1, 10)));
    assert_eq!(c1.error_of(&flow_mod(5, 9, out1.clone())), None);
    // A new master demotes the old one.
    assert_eq!(c2.role(2, 12), Ok(2));
    assert_eq!(c1.role(0, 0), Ok(3));
    assert_eq!(c1.error_of(&flow_mod(6, 9, out1)), Some((1, 10)));
    assert_eq!(flows(&e, &br).len(), 2);
}

#[test]
fn fail_mode_secure_and_fail_open() {
    if !can_run("fail_mode_secure_and_fail_open") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.92.0.1");
    let b = Ns::new("10.92.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    assert!(a.ping("10.92.0.2", 10), "standalone bridge forwards");
    // secure, live: the flow table is flushed and nothing forwards.
    e.vsctl(&["set-fail-mode", &br, "secure"]).unwrap();
    assert!(flows(&e, &br).is_empty());
    // (Installed megaflows go with the next revalidation.)
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !a.ping("10.92.0.2", 2),
        "secure bridge without flows drops\n{:?}\n{:?}\n{}",
        e.appctl(&["dpctl/dump-flows"]),
        e.appctl(&["bridge/dump-flows", &br]),
        e.log()
    );

    // Back to standalone with an unreachable controller: no flows, then
    // fail-open after 3 x inactivity_probe, with the flow hidden.
    let target = format!("tcp:127.0.0.1:{}", free_port());
    e.vsctl(&[
        "set-controller",
        &br,
        &target,
        "--",
        "set",
        "controller",
        &br,
        "inactivity_probe=1000",
        "max_backoff=1000",
    ])
    .unwrap();
    e.vsctl(&["del-fail-mode", &br]).unwrap();
    assert!(flows(&e, &br).is_empty());
    assert!(
        a.ping("10.92.0.2", 15),
        "fail-open forwards\n{:?}\n{:?}\n{:?}\n{}",
        e.vsctl(&["list", "bridge"]),
        e.vsctl(&["list", "controller"]),
        e.appctl(&["bridge/dump-flows", &br]),
        e.log()
    );
    assert!(flows(&e, &br).is_empty(), "{:?}", flows(&e, &br));
    let dump = e.appctl(&["bridge/dump-flows", &br]).unwrap();
    assert!(dump.contains("priority=15790320,actions=NORMAL"), "{dump}");
    assert!(e.log().contains("failing open"));
    assert_eq!(ctl_col(&e, &br, "is_connected"), "false");
    assert_eq!(ctl_col(&e, &br, "status:last_error"), "Connection refused");
    // secure again: no fail-open.
    e.vsctl(&["set-fail-mode", &br, "secure"]).unwrap();
    wait_for(5, || (!a.ping("10.92.0.2", 1)).then_some(())).expect("secure drops");
}

#[test]
fn controller_keepalive_reconnect_and_del_controller() {
    if !can_run("controller_keepalive_reconnect_and_del_controller") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    e.vsctl(&[
        "set-controller",
        &br,
        &format!("tcp:127.0.0.1:{port}"),
        "--",
        "set",
        "controller",
        &br,
        "inactivity_probe=1000",
        "max_backoff=1000",
    ])
    .unwrap();
    let mut c = Ctl::accept(&l, 10).expect("connects");
    c.handshake();
    wait_connected(&e, &br, true, 10);

    // A silent controller is probed, then dropped, then reconnected.
    c.echo = false;
    c.expect(5.0, |_, m| {
        matches!(m, Message::EchoRequest(_)).then_some(())
    });
    let end = Instant::now() + Duration::from_secs(5);
    while c.recv(0.2).is_ok() {
        assert!(Instant::now() < end, "silent controller not dropped");
    }
    let mut c = Ctl::accept(&l, 10).expect("reconnects after a probe failure");
    c.handshake();

    // Controller killed: the row shows it; it comes back: reconnect.
    drop(c);
    drop(l);
    wait_connected(&e, &br, false, 10);
    let state = ctl_col(&e, &br, "status:state");
    assert!(
        ["BACKOFF", "CONNECTING"].contains(&state.as_str()),
        "{state}"
    );
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut c = Ctl::accept(&l, 10).expect("reconnects when the controller is back");
    c.handshake();
    wait_connected(&e, &br, true, 10);

    // del-controller closes the connection and stops reconnecting.
    e.vsctl(&["del-controller", &br]).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while c.recv(0.2).is_ok() {
        assert!(Instant::now() < end, "connection not closed");
    }
    assert!(
        Ctl::accept(&l, 3).is_none(),
        "no reconnect after del-controller"
    );
    // Without controllers (standalone), the default flow is back.
    assert_eq!(flows(&e, &br), vec!["priority=0 actions=NORMAL"]);
}

/// Table misses by version: with no flow, an OpenFlow 1.0 controller gets
/// OFPR_NO_MATCH packet-ins of `miss_send_len` bytes (total_len the whole
/// frame), an OpenFlow 1.3 one none until it enables OFPR_NO_MATCH with
/// OFPT_SET_ASYNC (and GET_ASYNC reports it).
#[test]
fn table_miss_packet_ins_by_version_and_set_async() {
    if !can_run("table_miss_packet_ins_by_version_and_set_async") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.92.0.1");
    let b = Ns::new("10.92.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    let l10 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l13 = TcpListener::bind("127.0.0.1:0").unwrap();
    let t = |l: &TcpListener| format!("tcp:127.0.0.1:{}", l.local_addr().unwrap().port());
    e.vsctl(&["set-controller", &br, &t(&l10), &t(&l13)])
        .unwrap();
    let mut c10 = Ctl::accept(&l10, 10).expect("the switch connects");
    let mut c13 = Ctl::accept(&l13, 10).expect("the switch connects");
    c10.handshake_v(1);
    c13.handshake_v(4);
    wait_for(10, || flows(&e, &br).is_empty().then_some(())).expect("default flow flushed");

    let miss = |c: &mut Ctl, marker: &str, secs: f64| -> Option<PacketIn> {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            if let Ok(Some((_, Message::PacketIn(p)))) = c.recv(0.2) {
                if contains(&p.data, marker.as_bytes()) {
                    return Some(p);
                }
            }
        }
        None
    };
    // 400 bytes of UDP payload: the frame is 442 bytes.
    let payload = |m: &str| format!("{m}{}", "x".repeat(400 - m.len()));
    udp(&a, "10.92.0.2", &payload("rvs-miss-1"));
    let p = miss(&mut c10, "rvs-miss-1", 10.0).expect("OpenFlow 1.0 gets the miss");
    assert_eq!(p.reason, 0, "OFPR_NO_MATCH");
    assert_eq!(p.total_len, 442);
    assert_eq!(p.data.len(), 128, "OFP_DEFAULT_MISS_SEND_LEN");
    assert_eq!(p.in_port, 1);
    assert!(
        miss(&mut c13, "rvs-miss-1", 1.0).is_none(),
        "OpenFlow 1.3 drops misses by default"
    );

    // The OpenFlow 1.3 controller asks for misses; GET_ASYNC says so.
    use ofproto::ofp::async_cfg::{acpt, AsyncMasks};
    c13.send(&Message::SetAsync(AsyncMasks(vec![
        (acpt::PACKET_IN_MASTER, 0b11),
        (acpt::PACKET_IN_SLAVE, 0),
        (acpt::PORT_STATUS_MASTER, 0b111),
        (acpt::PORT_STATUS_SLAVE, 0b111),
        (acpt::FLOW_REMOVED_MASTER, 0b1111),
        (acpt::FLOW_REMOVED_SLAVE, 0),
    ])));
    let x = c13.send(&Message::GetAsyncRequest);
    let got = c13.expect(5.0, |h, m| match m {
        Message::GetAsyncReply(r) if h.xid == x => Some(r.clone()),
        _ => None,
    });
    assert_eq!(got.0[0], (acpt::PACKET_IN_MASTER, 0b11), "{got:?}");
    // ... and the OpenFlow 1.0 one wants whole frames.
    c10.send(&Message::SetConfig(ofproto::ofp::switch::SwitchConfig {
        flags: 0,
        miss_send_len: 0xffff,
    }));
    c10.error_of(&Message::BarrierRequest);
    udp(&a, "10.92.0.2", &payload("rvs-miss-2"));
    let p = miss(&mut c10, "rvs-miss-2", 10.0).expect("OpenFlow 1.0 gets the miss");
    assert_eq!((p.data.len(), p.total_len), (442, 442));
    let p = miss(&mut c13, "rvs-miss-2", 10.0).expect("OpenFlow 1.3 asked for misses");
    assert_eq!((p.reason, p.data.len(), p.total_len), (0, 128, 442));

    // Without an OpenFlow 1.0-1.2 connection a miss is not sent at all.
    drop(c10);
    e.vsctl(&["set-controller", &br, &t(&l13)]).unwrap();
    wait_for(10, || {
        udp(&a, "10.92.0.2", &payload("rvs-miss-3"));
        miss(&mut c13, "rvs-miss-3", 0.5).is_none().then_some(())
    })
    .expect("no miss packet-ins without an OpenFlow 1.0-1.2 connection");
    // `ovs-ofctl monitor` (OpenFlow 1.0, miss_send_len 65534) brings them
    // back, to itself too.
    let m = common::OfctlBg::start(&e, "monitor", &["monitor", &br, "65534"]);
    let seen = wait_for(10, || {
        udp(&a, "10.92.0.2", &payload("rvs-miss-4"));
        std::thread::sleep(Duration::from_millis(300));
        m.out()
            .contains("(via no_match) data_len=442")
            .then_some(())
    });
    assert!(seen.is_some(), "{}", m.out());
}

/// OpenFlow 1.4: a master demoted by another controller's ROLE_REQUEST
/// gets OFPT_ROLE_STATUS (slave, OFPCRR_MASTER_REQUEST, the new
/// generation_id); GET_ASYNC answers with all twelve properties.
#[test]
fn role_status_to_a_demoted_master() {
    if !can_run("role_status_to_a_demoted_master") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    let p = free_port();
    e.vsctl(&[
        "set-controller",
        &br,
        &format!("ptcp:{p}:127.0.0.1"),
        "--",
        "set",
        "bridge",
        &br,
        "protocols=OpenFlow14",
    ])
    .unwrap();
    let connect = || {
        wait_for(10, || TcpStream::connect(("127.0.0.1", p)).ok())
            .map(Ctl::new)
            .expect("ptcp listener")
    };
    let mut c1 = connect();
    c1.handshake_v(5);
    let mut c2 = connect();
    c2.handshake_v(5);
    assert_eq!(c1.role(2, 1), Ok(2));
    assert_eq!(c2.role(2, 2), Ok(2));
    let st = c1.expect(5.0, |_, m| match m {
        Message::RoleStatus(s) => Some(*s),
        _ => None,
    });
    assert_eq!((st.role, st.reason, st.generation_id), (3, 0, 2));
    let x = c2.send(&Message::GetAsyncRequest);
    let got = c2.expect(5.0, |h, m| match m {
        Message::GetAsyncReply(r) if h.xid == x => Some(r.clone()),
        _ => None,
    });
    assert_eq!(got.0.len(), 12, "{got:?}");
}
