//! Harness of the daemon tests: real `ovsdb-server` (database created with
//! `ovsdb-tool` from Debian's schema), the real `rvs-vswitchd` binary, real
//! `ovs-vsctl`/`ovs-appctl`, and network namespaces joined by veth pairs.
//! Everything is private to one test (a temporary run/db/log directory,
//! unique bridge, namespace and device names) and torn down in `Drop`, also
//! when the test fails: processes we started are killed by pid, namespaces
//! and veths deleted.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The Debian package's schema.
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Serialises tests that move traffic (2 shared cores).
pub fn traffic_lock() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// True if the test can run (root, OVS tools present); prints why not.
pub fn can_run(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    let tools = Path::new(SCHEMA).exists()
        && Path::new("/usr/sbin/ovsdb-server").exists()
        && Path::new("/usr/bin/ovs-vsctl").exists();
    if !root || !tools {
        eprintln!("SKIP {test}: needs root and openvswitch-switch (scripts/setup.sh)");
    }
    root && tools
}

/// A name unique to this process and call, at most 15 bytes.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let s = format!("{prefix}{}x{n}", std::process::id() % 100_000);
    assert!(s.len() <= 15, "{s} too long");
    s
}

/// Runs a command; `Ok(stdout)` or `Err(stderr)`.
pub fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// Runs a command, panicking on failure.
pub fn sh(args: &[&str]) -> String {
    run(args).unwrap_or_else(|e| panic!("{e}"))
}

fn quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Polls `f` every 50 ms until it returns `Some` or `secs` pass.
pub fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// ovsdb-server + rvs-vswitchd in a private directory.
pub struct Env {
    /// The run/db/log directory.
    pub dir: PathBuf,
    ovsdb: Option<Child>,
    vswitchd: Option<Child>,
    /// Pid of a `--detach`ed daemon (not our child).
    detached: Option<u32>,
    /// Bridges to delete from the host on drop (their tap devices).
    pub bridges: Vec<String>,
}

impl Env {
    /// Creates the database and starts ovsdb-server (not the switch).
    pub fn new_db_only() -> Env {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rvs-vswitchd-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("conf.db");
        sh(&["ovsdb-tool", "create", db.to_str().unwrap(), SCHEMA]);
        let mut e = Env {
            dir,
            ovsdb: None,
            vswitchd: None,
            detached: None,
            bridges: Vec::new(),
        };
        e.start_ovsdb();
        e.vsctl(&["--no-wait", "init"]).unwrap();
        e
    }

    /// Database, then the switch (`--pidfile --log-file -vconsole:off`),
    /// with `pmd-maxsleep=200` so idle PMDs do not spin.
    pub fn new() -> Env {
        let mut e = Env::new_db_only();
        e.vsctl(&[
            "--no-wait",
            "set",
            "open",
            ".",
            "other_config:pmd-maxsleep=200",
        ])
        .unwrap();
        e.start_vswitchd(&[]);
        e
    }

    /// The database socket path.
    pub fn db_sock(&self) -> PathBuf {
        self.dir.join("db.sock")
    }

    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("OVS_RUNDIR", &self.dir)
            .env("OVS_LOGDIR", &self.dir)
            .env("OVS_DBDIR", &self.dir)
            .env("OVS_SYSCONFDIR", &self.dir);
        c
    }

    /// Starts (or restarts) ovsdb-server on the database.
    pub fn start_ovsdb(&mut self) {
        let child = self
            .cmd("ovsdb-server")
            .arg(self.dir.join("conf.db"))
            .arg(format!("--remote=punix:{}", self.db_sock().display()))
            .arg(format!(
                "--unixctl={}",
                self.dir.join("ovsdb-server.ctl").display()
            ))
            .arg(format!(
                "--log-file={}",
                self.dir.join("ovsdb-server.log").display()
            ))
            .arg("-vconsole:off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ovsdb-server");
        self.ovsdb = Some(child);
        let sock = self.db_sock();
        wait_for(10, || sock.exists().then_some(())).expect("ovsdb-server socket");
    }

    /// Kills ovsdb-server.
    pub fn stop_ovsdb(&mut self) {
        if let Some(mut c) = self.ovsdb.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.db_sock());
    }

    /// Starts rvs-vswitchd (foreground child) with `extra` arguments and
    /// waits for its control socket.
    pub fn start_vswitchd(&mut self, extra: &[&str]) {
        let child = self
            .cmd(env!("CARGO_BIN_EXE_rvs-vswitchd"))
            .arg(format!("unix:{}", self.db_sock().display()))
            .args(["--pidfile", "--log-file", "-vconsole:off"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rvs-vswitchd");
        let pid = child.id();
        self.vswitchd = Some(child);
        let ctl = self.dir.join(format!("ovs-vswitchd.{pid}.ctl"));
        wait_for(20, || ctl.exists().then_some(())).expect("rvs-vswitchd control socket");
    }

    /// Starts rvs-vswitchd with `--detach`; returns the parent's exit status
    /// and how long it took.
    pub fn start_detached(&mut self) -> (bool, Duration) {
        let t = Instant::now();
        let st = self
            .cmd(env!("CARGO_BIN_EXE_rvs-vswitchd"))
            .arg(format!("unix:{}", self.db_sock().display()))
            .args(["--pidfile", "--log-file", "--detach", "--no-chdir"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("rvs-vswitchd --detach");
        self.detached = self.pid();
        (st.success(), t.elapsed())
    }

    /// The foreground daemon's process, if any.
    pub fn vswitchd_child(&mut self) -> Option<&mut Child> {
        self.vswitchd.as_mut()
    }

    /// The pid in the pidfile.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pidfile())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// `$OVS_RUNDIR/ovs-vswitchd.pid`.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("ovs-vswitchd.pid")
    }

    /// The log file's contents.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ovs-vswitchd.log")).unwrap_or_default()
    }

    /// `ovs-vsctl --timeout=20 ARGS`.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .cmd("ovs-vsctl")
            .arg(format!("--db=unix:{}", self.db_sock().display()))
            .arg("--timeout=20")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `ovs-ofctl --timeout=10 ARGS` against the test's run directory (so
    /// a bridge name reaches `$OVS_RUNDIR/BRIDGE.mgmt`).
    pub fn ofctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ovs-ofctl")
            .env("OVS_RUNDIR", &self.dir)
            .arg("--timeout=10")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "ovs-ofctl {args:?}: {}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    /// `ovs-appctl --timeout=20 ARGS` (target found through the pidfile in
    /// `$OVS_RUNDIR`, as operators use it).
    pub fn appctl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .cmd("ovs-appctl")
            .arg("--timeout=20")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Adds a netdev bridge (remembered for cleanup).
    pub fn add_br(&mut self, br: &str) {
        self.bridges.push(br.to_string());
        self.vsctl(&[
            "add-br",
            br,
            "--",
            "set",
            "bridge",
            br,
            "datapath_type=netdev",
        ])
        .unwrap();
    }

    /// A column of a row, as `ovs-vsctl get` prints it (trimmed).
    pub fn get(&self, table: &str, row: &str, col: &str) -> String {
        self.vsctl(&["get", table, row, col])
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.vswitchd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pid) = self.detached.take() {
            quiet(&["kill", "-9", &pid.to_string()]);
            let _ = wait_for(5, || {
                (!Path::new(&format!("/proc/{pid}")).exists()).then_some(())
            });
        }
        self.stop_ovsdb();
        for b in &self.bridges {
            quiet(&["ip", "link", "del", b]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A namespace holding one end of a veth pair; the other end (`host`) is in
/// the test's namespace, to be added to a bridge. The namespace side has
/// address `ip`/24, IPv6 off, and transmit checksum offload off (needed for
/// TCP through AF_XDP/AF_PACKET: the switch does not complete partial
/// checksums). Deleted on drop.
pub struct Ns {
    /// Namespace name.
    pub ns: String,
    /// Host-side device.
    pub host: String,
    /// Namespace-side device.
    pub peer: String,
    /// Namespace-side IPv4 address.
    pub ip: String,
}

impl Ns {
    /// Creates the namespace and the pair; `ip` like `"10.11.0.1"`.
    pub fn new(ip: &str) -> Ns {
        let n = Ns {
            ns: unique("rvns"),
            host: unique("rvh"),
            peer: unique("rvp"),
            ip: ip.to_string(),
        };
        sh(&["ip", "netns", "add", &n.ns]);
        sh(&[
            "ip", "link", "add", &n.host, "type", "veth", "peer", "name", &n.peer, "netns", &n.ns,
        ]);
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", n.host),
            "1",
        );
        quiet(&[
            "ip",
            "netns",
            "exec",
            &n.ns,
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", n.peer),
        ]);
        sh(&["ip", "link", "set", &n.host, "up"]);
        sh(&["ip", "-n", &n.ns, "link", "set", "lo", "up"]);
        sh(&[
            "ip",
            "-n",
            &n.ns,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            &n.peer,
        ]);
        sh(&["ip", "-n", &n.ns, "link", "set", &n.peer, "up"]);
        sh(&[
            "ip", "netns", "exec", &n.ns, "ethtool", "-K", &n.peer, "tx", "off",
        ]);
        n
    }

    /// `ip netns exec NS ARGS...`.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", &self.ns];
        v.extend_from_slice(args);
        run(&v)
    }

    /// Pings `dst` until one reply arrives (up to `secs`).
    pub fn ping(&self, dst: &str, secs: u64) -> bool {
        wait_for(secs, || {
            self.exec(&["ping", "-c", "1", "-W", "1", dst])
                .ok()
                .map(|_| ())
        })
        .is_some()
    }

    /// The namespace side's MAC address, lower-case.
    pub fn mac(&self) -> String {
        let out = sh(&["ip", "-n", &self.ns, "-o", "link", "show", &self.peer]);
        let w: Vec<&str> = out.split_whitespace().collect();
        let i = w
            .iter()
            .position(|x| *x == "link/ether")
            .expect("link/ether")
            + 1;
        w[i].to_lowercase()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        quiet(&["ip", "link", "del", &self.host]);
        quiet(&["ip", "netns", "del", &self.ns]);
    }
}

pub const TCP_SERVER: &str = r#"
import socket, sys
n = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5201)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
got = 0; bad = -1
while got < n:
    d = c.recv(1 << 16)
    if not d: break
    for k in range(0, len(d), 4096):
        chunk = d[k:k+4096]
        exp = bytes(((got + k + j) * 7 + 3) % 251 for j in range(len(chunk)))
        if chunk != exp and bad < 0:
            bad = got + k
    got += len(d)
c.sendall(b"OK" if (got == n and bad < 0) else b"BAD")
print(got, bad)
"#;

pub const TCP_CLIENT: &str = r#"
import socket, sys, time
n = int(sys.argv[1]); dst = sys.argv[2]
for i in range(100):
    try:
        s = socket.create_connection((dst, 5201), timeout=5); break
    except OSError:
        time.sleep(0.2)
data = bytes(((i * 7) + 3) % 251 for i in range(n))
s.settimeout(60); s.sendall(data); s.shutdown(socket.SHUT_WR)
r = s.recv(16)
print(r.decode())
"#;

/// Sends `n` bytes over TCP from namespace `a` to a server in namespace `b`
/// (python3 sockets) and checks every byte arrived, in order; panics with
/// both sides' output otherwise.
pub fn tcp_transfer_checked(a: &Ns, b: &Ns, n: usize) {
    let n = n.to_string();
    let server = Command::new("ip")
        .args(["netns", "exec", &b.ns, "python3", "-c", TCP_SERVER, &n])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = a.exec(&["python3", "-c", TCP_CLIENT, &n, &b.ip]);
    let out = server.wait_with_output().unwrap();
    let server_out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        client.as_deref().map(str::trim),
        Ok("OK"),
        "server: {server_out} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server_out.trim(), format!("{n} -1"));
}

/// `ovs-ofctl ARGS` running in the background (e.g. `monitor`) against the
/// test's run directory, stdout and stderr in `<dir>/<name>.out`; killed
/// (by its own handle) on drop.
pub struct OfctlBg(Child, PathBuf);

impl OfctlBg {
    /// Starts `ovs-ofctl ARGS`.
    pub fn start(e: &Env, name: &str, args: &[&str]) -> OfctlBg {
        let path = e.dir.join(format!("{name}.out"));
        let f = std::fs::File::create(&path).unwrap();
        let child = Command::new("ovs-ofctl")
            .env("OVS_RUNDIR", &e.dir)
            .args(args)
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        OfctlBg(child, path)
    }

    /// Everything it printed so far.
    pub fn out(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }

    /// True once its output contains `what` (waits up to 10 s).
    pub fn wait_for(&self, what: &str) -> bool {
        wait_for(10, || self.out().contains(what).then_some(())).is_some()
    }
}

impl Drop for OfctlBg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Adds bridge `unique(prefix)` and waits for its OpenFlow management
/// socket `<bridge>.mgmt`; returns the bridge name.
pub fn of_bridge(e: &mut Env, prefix: &str) -> String {
    let br = unique(prefix);
    e.add_br(&br);
    let mgmt = e.dir.join(format!("{br}.mgmt"));
    wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
    br
}

/// Adds `ns`'s host-side interface to `br` as OpenFlow port `ofport`.
pub fn of_port(e: &Env, br: &str, ns: &Ns, ofport: u32) {
    e.vsctl(&[
        "add-port",
        br,
        &ns.host,
        "--",
        "set",
        "interface",
        &ns.host,
        &format!("ofport_request={ofport}"),
    ])
    .unwrap();
    assert_eq!(e.get("interface", &ns.host, "ofport"), ofport.to_string());
}

/// `ovs-ofctl ARGS` that must succeed (panics with the daemon log if not).
pub fn ofctl_ok(e: &Env, args: &[&str]) -> String {
    e.ofctl(args)
        .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
}
