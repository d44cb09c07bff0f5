//! Integration tests against Debian's real `ovsdb-server` and `ovs-vsctl`
//! (package `openvswitch-switch`, installed by `scripts/setup.sh`). Each test
//! runs its own server in a private temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ovsdb::vswitch::StatusTxn;
use ovsdb::{
    Atom, Client, Condition, Datum, Error, Function, IdlConfig, IdlDriver, Mutation, Mutator,
    OpResult, Row, Transaction,
};

const T: Duration = Duration::from_secs(10);
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Finds a binary in PATH or the sbin directories, or fails naming setup.sh.
fn binary(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
    for d in dirs {
        let p = Path::new(d).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} not found: the ovsdb integration tests need Open vSwitch's tools \
         (Debian package openvswitch-switch); run scripts/setup.sh to install them"
    );
}

fn run(cmd: &Path, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", cmd.display()));
    assert!(
        out.status.success(),
        "{} {:?} failed: {}",
        cmd.display(),
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A private ovsdb-server; killed (and its directory removed) on drop.
struct Server {
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn new() -> Server {
        assert!(
            Path::new(SCHEMA).is_file(),
            "{SCHEMA} missing: run scripts/setup.sh (installs openvswitch-switch)"
        );
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rvs-ovsdb-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Server { dir, child: None };
        let db = s.path("conf.db");
        run(&binary("ovsdb-tool"), &["create", &db, SCHEMA]);
        s.start();
        s
    }

    fn path(&self, f: &str) -> String {
        self.dir.join(f).to_string_lossy().into_owned()
    }

    fn remote(&self) -> String {
        format!("unix:{}", self.path("db.sock"))
    }

    fn start(&mut self) {
        let sock = self.path("db.sock");
        let _ = std::fs::remove_file(&sock);
        let child = Command::new(binary("ovsdb-server"))
            .arg(self.path("conf.db"))
            .arg(format!("--remote=punix:{sock}"))
            .arg(format!("--unixctl={}", self.path("ovsdb-server.ctl")))
            .arg(format!("--pidfile={}", self.path("ovsdb-server.pid")))
            .arg("--no-chdir")
            .arg(format!("--log-file={}", self.path("ovsdb-server.log")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting ovsdb-server");
        self.child = Some(child);
        let deadline = Instant::now() + T;
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "ovsdb-server did not come up; see {}",
                self.path("ovsdb-server.log")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db={}", self.remote());
        let mut a = vec![db.as_str(), "--no-wait", "--timeout=10"];
        a.extend_from_slice(args);
        run(&binary("ovs-vsctl"), &a)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn synced_driver(s: &Server) -> IdlDriver {
    let mut cfg = IdlConfig::vswitch();
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(400);
    let mut d = IdlDriver::new(&s.remote(), cfg);
    d.wait_until(T, |i| i.is_synced())
        .unwrap_or_else(|e| panic!("IDL did not sync: {e}; last error {:?}", d.last_error()));
    d
}

#[test]
fn client_list_dbs_schema_and_transact() {
    let s = Server::new();
    let mut c = Client::connect(&s.remote()).unwrap();
    assert!(c.list_dbs(T).unwrap().contains(&"Open_vSwitch".to_string()));
    let schema = c.get_schema("Open_vSwitch", T).unwrap();
    assert_eq!(schema.name, "Open_vSwitch");
    let ports = schema.column_type("Bridge", "ports").unwrap();
    assert_eq!(ports.key.ref_table.as_deref(), Some("Port"));
    assert_eq!(ports.max, None);
    assert!(schema.column_type("Interface", "options").unwrap().is_map());
    assert!(matches!(c.get_schema("nope", T), Err(Error::Server { .. })));
    assert!(
        matches!(c.call("frobnicate", serde_json::json!([]), T), Err(ref e) if e.is_unknown_method())
    );

    // insert with uuid-name referenced by a mutate, then select.
    let mut t = Transaction::new("Open_vSwitch");
    t.insert("Open_vSwitch", Row::new(), Some("root"));
    let mut br = Row::new();
    br.insert("name".into(), Datum::from("brx"));
    br.insert("datapath_type".into(), Datum::from("netdev"));
    t.insert("Bridge", br, Some("b"));
    t.mutate(
        "Open_vSwitch",
        vec![Condition::new(
            "_uuid",
            Function::Eq,
            Atom::NamedUuid("root".into()),
        )],
        vec![Mutation::new(
            "bridges",
            Mutator::Insert,
            Datum::set([Atom::NamedUuid("b".into())]),
        )],
    );
    t.comment("rvs ovsdb test");
    t.commit(false);
    let r = c.transact(&t, T).unwrap();
    let OpResult::Insert(bridge) = r[1] else {
        panic!("{r:?}")
    };
    assert_eq!(r[2], OpResult::Count(1));
    let mut t = Transaction::new("Open_vSwitch");
    t.select(
        "Bridge",
        vec![Condition::uuid(bridge)],
        Some(&["name", "datapath_type"]),
    );
    let r = c.transact(&t, T).unwrap();
    let OpResult::Rows(rows) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(rows[0]["name"], Datum::from("brx"));
    assert_eq!(
        s.vsctl(&["get", "bridge", "brx", "datapath_type"]),
        "netdev"
    );

    // A failing operation reports error and details.
    let mut t = Transaction::new("Open_vSwitch");
    t.wait(
        "Bridge",
        vec![Condition::uuid(bridge)],
        &["name"],
        vec![Row::from([("name".to_string(), Datum::from("other"))])],
        ovsdb::WaitUntil::Equal,
        Some(0),
    );
    assert!(
        matches!(c.transact(&t, T), Err(Error::Server { ref error, .. }) if error == "timed out")
    );
    let mut t = Transaction::new("Open_vSwitch");
    t.abort();
    assert!(
        matches!(c.transact(&t, T), Err(Error::Server { ref error, .. }) if error == "aborted")
    );
}

#[test]
fn replica_follows_ovs_vsctl_and_status_is_written_back() {
    let s = Server::new();
    let mut d = synced_driver(&s);
    s.vsctl(&["init"]);
    d.wait_until(T, |i| i.replica().open_vswitch().is_some())
        .unwrap();

    s.vsctl(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "fail_mode=secure",
        "protocols=OpenFlow13",
    ]);
    d.wait_until(T, |i| {
        i.replica()
            .bridge_by_name("br0")
            .is_some_and(|b| b.datapath_type == "netdev")
    })
    .unwrap();
    let r = d.idl().replica();
    let br0 = r.bridge_by_name("br0").unwrap();
    assert_eq!(br0.fail_mode.as_deref(), Some("secure"));
    assert_eq!(br0.protocols, vec!["OpenFlow13".to_string()]);
    assert_eq!(r.open_vswitch().unwrap().bridges, vec![br0.uuid]);
    let p = r.port(&br0.ports[0]).unwrap();
    assert_eq!(p.name, "br0");
    assert_eq!(r.interface(&p.interfaces[0]).unwrap().type_, "internal");

    let seq = d.idl().change_seqno();
    s.vsctl(&[
        "add-port",
        "br0",
        "p1",
        "--",
        "set",
        "interface",
        "p1",
        "type=afxdp",
        "options:n_rxq=2",
        "options:xdp-mode=native-with-zerocopy",
        "ofport_request=5",
        "mtu_request=9000",
        "--",
        "set",
        "port",
        "p1",
        "tag=10",
        "trunks=20,30",
        "vlan_mode=native-untagged",
        "other_config:k=v",
    ]);
    d.wait_until(T, |i| {
        i.replica()
            .interface_by_name("p1")
            .is_some_and(|i| i.type_ == "afxdp")
    })
    .unwrap();
    assert!(d.idl().change_seqno() > seq);
    let r = d.idl().replica();
    let i = r.interface_by_name("p1").unwrap();
    assert_eq!(i.options.get("n_rxq").map(String::as_str), Some("2"));
    assert_eq!(
        i.options.get("xdp-mode").map(String::as_str),
        Some("native-with-zerocopy")
    );
    assert_eq!((i.ofport_request, i.mtu_request), (Some(5), Some(9000)));
    let p = r.port_by_name("p1").unwrap();
    assert_eq!(
        (p.tag, p.trunks.clone(), p.vlan_mode.as_deref()),
        (Some(10), vec![20, 30], Some("native-untagged"))
    );
    assert_eq!(p.other_config.get("k").map(String::as_str), Some("v"));
    assert_eq!(p.interfaces, vec![i.uuid]);
    assert_eq!(r.bridge_by_name("br0").unwrap().ports.len(), 2);

    // Map diff: change one option, remove another.
    s.vsctl(&[
        "set",
        "interface",
        "p1",
        "options:n_rxq=4",
        "--",
        "remove",
        "interface",
        "p1",
        "options",
        "xdp-mode",
    ]);
    d.wait_until(T, |i| {
        i.replica()
            .interface_by_name("p1")
            .is_some_and(|i| i.options.len() == 1 && i.options["n_rxq"] == "4")
    })
    .unwrap();

    // Status written back like ovs-vswitchd does, verified against next_cfg.
    // ovs-vsctl --no-wait leaves next_cfg alone; bump it as a waiting one would.
    s.vsctl(&["set", "Open_vSwitch", ".", "next_cfg=3"]);
    d.wait_until(T, |i| {
        i.replica().open_vswitch().is_some_and(|o| o.next_cfg == 3)
    })
    .unwrap();
    let ovs = d.idl().replica().open_vswitch().unwrap();
    let br0 = d.idl().replica().bridge_by_name("br0").unwrap();
    let stats = [
        ("rx_packets".to_string(), 7i64),
        ("tx_bytes".to_string(), 1500),
    ]
    .into();
    let status = [("driver_name".to_string(), "rvs-afxdp".to_string())].into();
    let mut st = StatusTxn::new();
    st.verify_next_cfg(ovs.uuid, ovs.next_cfg)
        .cur_cfg(ovs.uuid, ovs.next_cfg)
        .ovs_version(ovs.uuid, "3.1.0-rvs")
        .datapath_types(ovs.uuid, &["netdev"])
        .iface_types(ovs.uuid, &["afxdp", "internal", "tap"])
        .bridge_datapath_id(br0.uuid, Some("0000aabbccddeeff"))
        .interface_ofport(i.uuid, Some(5))
        .interface_link_state(i.uuid, Some("up"))
        .interface_mac_in_use(i.uuid, Some("aa:bb:cc:dd:ee:ff"))
        .interface_mtu(i.uuid, Some(9000))
        .interface_error(i.uuid, None)
        .interface_statistics(i.uuid, &stats)
        .interface_status(i.uuid, &status);
    d.transact(&st.build(), T).unwrap();
    assert_eq!(
        s.vsctl(&["get", "Open_vSwitch", ".", "cur_cfg"]),
        ovs.next_cfg.to_string()
    );
    assert_eq!(
        s.vsctl(&["get", "Open_vSwitch", ".", "ovs_version"]),
        "\"3.1.0-rvs\""
    );
    assert_eq!(s.vsctl(&["get", "interface", "p1", "ofport"]), "5");
    assert_eq!(s.vsctl(&["get", "interface", "p1", "link_state"]), "up");
    assert_eq!(
        s.vsctl(&["get", "interface", "p1", "statistics:rx_packets"]),
        "7"
    );
    assert_eq!(
        s.vsctl(&["get", "interface", "p1", "status:driver_name"]),
        "rvs-afxdp"
    );
    assert_eq!(
        s.vsctl(&["get", "bridge", "br0", "datapath_id"]),
        "\"0000aabbccddeeff\""
    );
    // Our own write comes back through the monitor.
    d.wait_until(T, |i| {
        i.replica()
            .open_vswitch()
            .is_some_and(|o| o.cur_cfg == ovs.next_cfg)
    })
    .unwrap();

    // A stale next_cfg fails the verification and writes nothing.
    let mut st = StatusTxn::new();
    st.verify_next_cfg(ovs.uuid, ovs.next_cfg + 100)
        .cur_cfg(ovs.uuid, 12345);
    assert!(
        matches!(d.transact(&st.build(), T), Err(Error::Server { ref error, .. }) if error == "timed out")
    );
    assert_eq!(
        s.vsctl(&["get", "Open_vSwitch", ".", "cur_cfg"]),
        ovs.next_cfg.to_string()
    );

    // Deletions reach the replica.
    s.vsctl(&["del-port", "br0", "p1"]);
    d.wait_until(T, |i| {
        i.replica().interface_by_name("p1").is_none() && i.replica().port_by_name("p1").is_none()
    })
    .unwrap();
    assert!(d.idl().is_synced());
}

#[test]
fn reconnects_and_resyncs_after_server_restart() {
    let mut s = Server::new();
    let mut d = synced_driver(&s);
    s.vsctl(&["init"]);
    s.vsctl(&["add-br", "br0"]);
    d.wait_until(T, |i| i.replica().bridge_by_name("br0").is_some())
        .unwrap();
    assert_eq!(d.connect_count(), 1);

    s.stop();
    d.wait_until(T, |i| !i.is_connected()).unwrap();
    // Changes made while the client is away: br0 goes, br1 comes.
    s.start();
    s.vsctl(&["del-br", "br0", "--", "add-br", "br1"]);
    d.wait_until(T, |i| {
        i.is_synced()
            && i.replica().bridge_by_name("br1").is_some()
            && i.replica().bridge_by_name("br0").is_none()
    })
    .unwrap_or_else(|e| panic!("no resync: {e}; last error {:?}", d.last_error()));
    assert!(d.connect_count() >= 2);
    assert_eq!(d.idl().replica().bridges().len(), 1);
    // Still live after the resync.
    s.vsctl(&["add-br", "br2"]);
    d.wait_until(T, |i| i.replica().bridge_by_name("br2").is_some())
        .unwrap();
    let ovs = d.idl().replica().open_vswitch().unwrap();
    let mut st = StatusTxn::new();
    st.cur_cfg(ovs.uuid, ovs.next_cfg);
    d.transact(&st.build(), T).unwrap();
    assert_eq!(
        s.vsctl(&["get", "Open_vSwitch", ".", "cur_cfg"]),
        ovs.next_cfg.to_string()
    );
}

/// The params of the next notification `method`, skipping others.
fn wait_for(c: &mut Client, method: &str) -> serde_json::Value {
    loop {
        let (m, p) = c.wait_notification(T).unwrap();
        if m == method {
            return p;
        }
    }
}

#[test]
fn lock_steal_unlock_between_two_clients() {
    let s = Server::new();
    s.vsctl(&["init"]);
    let mut a = Client::connect(&s.remote()).unwrap();
    let mut b = Client::connect(&s.remote()).unwrap();
    assert!(a.lock("rvs", T).unwrap());
    assert!(!b.lock("rvs", T).unwrap(), "second locker must wait");

    let mut t = Transaction::new("Open_vSwitch");
    t.assert_lock("rvs");
    a.transact(&t, T).unwrap();
    assert!(
        matches!(b.transact(&t, T), Err(Error::Server { ref error, .. }) if error == "not owner")
    );

    // A session waiting for a lock must give up its request before stealing.
    b.unlock("rvs", T).unwrap();
    assert!(b.steal("rvs", T).unwrap());
    // (ovsdb-server may also have sent a "locked" notification for the grant.)
    assert_eq!(wait_for(&mut a, "stolen"), serde_json::json!(["rvs"]));
    b.transact(&t, T).unwrap();
    assert!(
        matches!(a.transact(&t, T), Err(Error::Server { ref error, .. }) if error == "not owner")
    );

    // a gives up its stolen lock and asks again (queued behind b); b unlocks;
    // a is told it got the lock.
    a.unlock("rvs", T).unwrap();
    assert!(!a.lock("rvs", T).unwrap());
    b.unlock("rvs", T).unwrap();
    assert_eq!(wait_for(&mut a, "locked"), serde_json::json!(["rvs"]));
    a.transact(&t, T).unwrap();

    // The IDL driver's lock path, with the Locked event.
    let mut d = synced_driver(&s);
    let v = d.call("lock", serde_json::json!(["other"]), T).unwrap();
    assert_eq!(v["locked"], true);
    let mut got = false;
    while let Some(e) = d.poll_event() {
        got |= matches!(e, ovsdb::IdlEvent::Locked(ref n) if n == "other");
    }
    assert!(got, "Locked event");
}
