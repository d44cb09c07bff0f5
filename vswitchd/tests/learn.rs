//! `learn` and conjunctive matches through rvs-vswitchd, driven only by the
//! real tools: a MAC-learning pipeline built from `learn` (the classic OVS
//! example) forwards ping between two namespaces and `dump-flows table=10`
//! shows what it learned (and `delete_learned` removes it with its
//! learner); a conjunctive ACL (`conjunction(1,1/2)` on source IPs,
//! `conjunction(1,2/2)` on TCP ports, `conj_id=1`) admits exactly the
//! allowed (source, port) combinations of real TCP connections.

mod common;

use common::{can_run, traffic_lock, Env, Ns};
use std::process::{Child, Command, Stdio};

fn ofctl(e: &Env, args: &[&str]) -> String {
    common::ofctl_ok(e, args)
}

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rvl")
}

fn port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    common::of_port(e, br, ns, ofport)
}

/// `dump-flows BR table=10` lines (flows only).
fn table10(e: &Env, br: &str) -> Vec<String> {
    ofctl(e, &["dump-flows", br, "table=10"])
        .lines()
        .filter(|l| l.contains("actions="))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn learn_builds_a_mac_learning_switch() {
    if !can_run("learn_builds_a_mac_learning_switch") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.85.0.1");
    let b = Ns::new("10.85.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    ofctl(&e, &["del-flows", &br]);
    ofctl(
        &e,
        &[
            "add-flow",
            &br,
            "table=0,priority=0,actions=learn(table=10,idle_timeout=300,priority=10,\
             cookie=0x5,delete_learned,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],\
             output:NXM_OF_IN_PORT[]),resubmit(,10)",
        ],
    );
    ofctl(&e, &["add-flow", &br, "table=10,priority=0,actions=flood"]);
    assert!(
        a.ping(&b.ip, 20),
        "ping through the learn pipeline\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]),
        e.log()
    );
    let (ma, mb) = (a.mac(), b.mac());
    let learned = common::wait_for(10, || {
        let t = table10(&e, &br);
        let has = |mac: &str, port: u32| {
            t.iter().any(|l| {
                l.contains("cookie=0x5")
                    && l.contains("priority=10")
                    && l.contains(&format!("dl_dst={mac}"))
                    && l.ends_with(&format!("actions=output:{port}"))
            })
        };
        (has(&ma, 1) && has(&mb, 2)).then_some(t)
    });
    let learned = learned.unwrap_or_else(|| {
        panic!(
            "learned flows missing:\n{}\n{}",
            ofctl(&e, &["dump-flows", &br]),
            e.log()
        )
    });
    // Every learned flow (the bridge's LOCAL port may have sent something
    // too, learned as `actions=LOCAL`) sits next to the default flood flow.
    assert!(
        learned
            .iter()
            .all(|l| l.contains("cookie=0x5") || l.contains("priority=0 ")),
        "{learned:?}"
    );
    // The learned flows carry the traffic: their counters move.
    assert!(a.ping(&b.ip, 10));
    let hit = common::wait_for(10, || {
        table10(&e, &br)
            .iter()
            .any(|l| l.contains(&format!("dl_dst={mb}")) && !l.contains("n_packets=0,"))
            .then_some(())
    });
    assert!(hit.is_some(), "{:?}", table10(&e, &br));
    // delete_learned: deleting the learner deletes what it learned.
    ofctl(&e, &["del-flows", &br, "table=0"]);
    let t = table10(&e, &br);
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(
        t[0].contains("priority=0") && t[0].contains("FLOOD"),
        "{t:?}"
    );
}

/// A TCP server in `ns` on every port of `ports` (accepts, says "ok").
fn tcp_server(ns: &Ns, ports: &[u16]) -> Child {
    let script = format!(
        "import socket,threading\n\
         def serve(p):\n\
         \x20   s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         \x20   s.bind(('',p)); s.listen(16)\n\
         \x20   while True:\n\
         \x20       c,_=s.accept(); c.sendall(b'ok'); c.close()\n\
         for p in {ports:?}:\n\
         \x20   threading.Thread(target=serve,args=(p,),daemon=True).start()\n\
         print('ready',flush=True)\n\
         threading.Event().wait()\n"
    );
    let mut c = Command::new("ip")
        .args(["netns", "exec", &ns.ns, "python3", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(c.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    c
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tries a TCP connection from every source in `srcs` to `dst` on every
/// port; the `(src, port)` pairs that connected and got "ok".
fn reachable(ns: &Ns, srcs: &[&str], dst: &str, ports: &[u16]) -> Vec<(String, u16)> {
    let script = format!(
        "import socket\n\
         for src in {srcs:?}:\n\
         \x20   for p in {ports:?}:\n\
         \x20       ok=False\n\
         \x20       for attempt in range(3):\n\
         \x20           s=socket.socket(); s.settimeout(1.0)\n\
         \x20           try:\n\
         \x20               s.bind((src,0)); s.connect(('{dst}',p)); ok=s.recv(2)==b'ok'\n\
         \x20           except OSError:\n\
         \x20               pass\n\
         \x20           s.close()\n\
         \x20           if ok: break\n\
         \x20       if ok: print(src,p)\n"
    );
    let out = ns.exec(&["python3", "-c", &script]).unwrap();
    out.lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (
                w.next().unwrap().to_string(),
                w.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn conjunctive_acl_admits_exactly_the_allowed_combinations() {
    if !can_run("conjunctive_acl_admits_exactly_the_allowed_combinations") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let client = Ns::new("10.86.0.1");
    let server = Ns::new("10.86.0.9");
    for ip in ["10.86.0.2/24", "10.86.0.3/24"] {
        client
            .exec(&["ip", "addr", "add", ip, "dev", &client.peer])
            .unwrap();
    }
    port(&e, &br, &client, 1);
    port(&e, &br, &server, 2);
    ofctl(&e, &["del-flows", &br]);
    for f in [
        "priority=100,ip,nw_src=10.86.0.1,actions=conjunction(1,1/2)",
        "priority=100,ip,nw_src=10.86.0.2,actions=conjunction(1,1/2)",
        "priority=100,tcp,tp_dst=80,actions=conjunction(1,2/2)",
        "priority=100,tcp,tp_dst=443,actions=conjunction(1,2/2)",
        "priority=100,conj_id=1,ip,actions=normal",
        "priority=90,ip,nw_src=10.86.0.9,actions=normal",
        "priority=50,arp,actions=normal",
        "priority=1,actions=drop",
    ] {
        ofctl(&e, &["add-flow", &br, f]);
    }
    let dump = ofctl(&e, &["dump-flows", &br]);
    for want in [
        "conj_id=1,ip actions=NORMAL",
        "nw_src=10.86.0.2 actions=conjunction(1,1/2)",
        "tp_dst=443 actions=conjunction(1,2/2)",
    ] {
        assert!(dump.contains(want), "{want} missing:\n{dump}");
    }
    let _srv = Kill(tcp_server(&server, &[22, 80, 443]));
    let srcs = ["10.86.0.1", "10.86.0.2", "10.86.0.3"];
    let ports = [80, 443, 22];
    let got = reachable(&client, &srcs, &server.ip, &ports);
    let want: Vec<(String, u16)> = ["10.86.0.1", "10.86.0.2"]
        .iter()
        .flat_map(|s| [80u16, 443].map(|p| (s.to_string(), p)))
        .collect();
    assert_eq!(
        got,
        want,
        "\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]),
        e.appctl(&["dpctl/dump-flows"]).unwrap_or_default()
    );
    // The conj_id flow counted the admitted connections.
    let dump = ofctl(&e, &["dump-flows", &br, "conj_id=1"]);
    assert!(!dump.contains("n_packets=0,"), "{dump}");
}

#[test]
fn bundle_and_multipath_forward_traffic() {
    if !can_run("bundle_and_multipath_forward_traffic") {
        return;
    }
    let _g = traffic_lock();
    let mut e = Env::new();
    let br = bridge(&mut e);
    let a = Ns::new("10.87.0.1");
    let b = Ns::new("10.87.0.2");
    port(&e, &br, &a, 1);
    port(&e, &br, &b, 2);
    ofctl(&e, &["del-flows", &br]);
    for f in [
        // a -> b: a bundle whose only live member is port 2 (port 7 does
        // not exist).
        "in_port=1,actions=bundle(symmetric_l4,0,hrw,ofport,members:7,2)",
        // b -> a: multipath over 2 links into reg0, then table 1.
        "in_port=2,actions=multipath(symmetric_l3l4,0,hrw,2,0,NXM_NX_REG0[]),resubmit(,1)",
        "table=1,reg0=0,actions=output:1",
        "table=1,reg0=1,actions=output:1",
    ] {
        ofctl(&e, &["add-flow", &br, f]);
    }
    let dump = ofctl(&e, &["dump-flows", &br]);
    assert!(
        dump.contains("bundle(symmetric_l4,0,hrw,ofport,members:7,2)")
            && dump.contains("multipath(symmetric_l3l4,0,hrw,2,0,NXM_NX_REG0[])"),
        "{dump}"
    );
    assert!(
        a.ping(&b.ip, 20),
        "ping through bundle + multipath\n{}\n{}",
        ofctl(&e, &["dump-flows", &br]),
        e.log()
    );
}
