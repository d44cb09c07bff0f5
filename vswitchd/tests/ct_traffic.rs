//! Conntrack end to end through `rvs-vswitchd`: OpenFlow `ct(...)` rules
//! written with `ovs-ofctl` the way operators write them, real traffic
//! between network namespaces (python3 sockets, `ftplib`), and the results
//! checked on the wire (addresses the peers see, every byte) and with
//! `ovs-appctl dpctl/*` (connections, limits, fragment counters).
//!
//! Every test owns its daemon, bridge, namespaces and helper processes;
//! all are torn down in `Drop`, also when an assertion fails.

mod common;

use common::{can_run, traffic_lock, unique, wait_for, Env, Ns};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The helper programs: servers and clients run inside the namespaces.
const PY: &str = r#"
import hashlib, os, socket, sys, threading, time

def md5(b):
    return hashlib.md5(b).hexdigest()

def out(*a):
    print(*a, flush=True)

def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()

def tcp_roundtrip(c, n):
    data = os.urandom(n)
    t = threading.Thread(target=c.sendall, args=(data,))
    t.start()
    got = bytearray()
    while len(got) < n:
        d = c.recv(65536)
        if not d:
            break
        got += d
    t.join()
    return bytes(got) == data, len(got)

FTP_DATA = bytes(range(256)) * 40

def ftp_server(ip):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, 21))
    ls.listen(5)
    out("ready")
    while True:
        c, a = ls.accept()
        out("ctl-peer", a[0], a[1])
        f = c.makefile("rb")
        c.sendall(b"220 rvs test ftp\r\n")
        pasv = None
        port = None
        for line in f:
            cmd = line.decode().strip()
            verb = cmd.split(" ")[0].upper()
            arg = cmd[len(verb):].strip()
            if verb == "USER":
                c.sendall(b"331 password please\r\n")
            elif verb == "PASS":
                c.sendall(b"230 logged in\r\n")
            elif verb == "TYPE":
                c.sendall(b"200 type set\r\n")
            elif verb == "PASV":
                pasv = socket.socket()
                pasv.bind((ip, 0))
                pasv.listen(1)
                p = pasv.getsockname()[1]
                h = ip.replace(".", ",")
                c.sendall(("227 Entering Passive Mode (%s,%d,%d).\r\n" % (h, p >> 8, p & 255)).encode())
            elif verb == "PORT":
                n = arg.split(",")
                port = (".".join(n[:4]), int(n[4]) * 256 + int(n[5]))
                out("port-cmd", port[0], port[1])
                c.sendall(b"200 PORT ok\r\n")
            elif verb == "RETR":
                c.sendall(b"150 opening data connection\r\n")
                if pasv is not None:
                    pasv.settimeout(10)
                    d, a = pasv.accept()
                    out("data-peer", a[0], a[1])
                    pasv.close()
                    pasv = None
                else:
                    d = socket.create_connection(port, timeout=10)
                    out("data-connected", port[0], port[1])
                d.sendall(FTP_DATA)
                d.close()
                c.sendall(b"226 transfer complete\r\n")
            elif verb == "QUIT":
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"502 not implemented\r\n")
        c.close()

TFTP_DATA = bytes(range(256)) * 9

def tftp_server(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 69))
    out("ready")
    while True:
        d, a = s.recvfrom(1500)
        out("rrq-peer", a[0], a[1])
        if d[:2] != b"\0\1":
            continue
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t.bind((ip, 0))
        t.settimeout(1)
        blk = 1
        while True:
            chunk = TFTP_DATA[(blk - 1) * 512:blk * 512]
            for _ in range(5):
                t.sendto(b"\0\3" + blk.to_bytes(2, "big") + chunk, a)
                try:
                    r, ra = t.recvfrom(1500)
                except socket.timeout:
                    continue
                if r[:2] == b"\0\4" and int.from_bytes(r[2:4], "big") == blk:
                    out("ack-peer", ra[0], ra[1], blk)
                    break
            else:
                out("failed", blk)
                break
            if len(chunk) < 512:
                out("done")
                break
            blk += 1
        t.close()

def tftp_get(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    got = b""
    expect = 1
    for _ in range(5):
        s.sendto(b"\0\1file\0octet\0", (host, 69))
        try:
            d, a = s.recvfrom(1500)
            break
        except socket.timeout:
            pass
    else:
        out("no data")
        sys.exit(1)
    s.settimeout(5)
    while True:
        if d[:2] == b"\0\3" and int.from_bytes(d[2:4], "big") == expect:
            got += d[4:]
            s.sendto(b"\0\4" + d[2:4], a)
            expect += 1
            if len(d) - 4 < 512:
                break
        d, a = s.recvfrom(1500)
    out("got", len(got), "same", int(got == TFTP_DATA), "from", a[0], a[1])
    sys.exit(0 if got == TFTP_DATA else 1)

def syn_flood(dst, port, n):
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((dst, port))
        socks.append(s)
        time.sleep(0.005)
    out("flooded", n)
    time.sleep(2)

mode = sys.argv[1]
if mode == "udp-echo":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    out("ready")
    while True:
        d, a = s.recvfrom(65535)
        out("peer", a[0], a[1], "len", len(d), "md5", md5(d))
        s.sendto(d, a)
elif mode == "tcp-echo":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.listen(64)
    out("ready")
    while True:
        c, a = s.accept()
        out("peer", a[0], a[1])
        threading.Thread(target=echo, args=(c,), daemon=True).start()
elif mode == "udp-send":
    dst, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if len(sys.argv) > 5:
        s.bind(("0.0.0.0", int(sys.argv[5])))
    s.settimeout(1)
    data = os.urandom(n)
    for _ in range(8):
        s.sendto(data, (dst, port))
        try:
            d, a = s.recvfrom(65535)
        except socket.timeout:
            continue
        out("reply", a[0], a[1], "len", len(d), "md5", md5(d), "sent", md5(data), "same", int(d == data))
        sys.exit(0)
    out("no reply")
    sys.exit(1)
elif mode == "tcp-send":
    dst, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    c = socket.create_connection((dst, port), timeout=10)
    ok, got = tcp_roundtrip(c, n)
    out("peer", *c.getpeername(), "got", got, "same", int(ok))
    c.close()
    sys.exit(0 if ok else 1)
elif mode == "tcp-hold":
    dst, port, go = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    c = socket.create_connection((dst, port), timeout=10)
    ok, got = tcp_roundtrip(c, 10000)
    out("est", int(ok))
    n = 0
    while not os.path.exists(go):
        ok, got = tcp_roundtrip(c, 10000)
        n += 1
        if not ok:
            out("broken", n, got)
            sys.exit(1)
        time.sleep(0.02)
    out("during", n)
    for i in range(3):
        ok, got = tcp_roundtrip(c, 100000)
        out("again", i, int(ok))
    c.close()
elif mode == "ftp-server":
    ftp_server(sys.argv[2])
elif mode == "ftp-get":
    import ftplib
    host, passive = sys.argv[2], sys.argv[3] == "pasv"
    f = ftplib.FTP()
    f.connect(host, 21, timeout=10)
    f.login("rvs", "rvs")
    f.set_pasv(passive)
    buf = []
    f.retrbinary("RETR file", buf.append)
    f.quit()
    got = b"".join(buf)
    out("got", len(got), "same", int(got == FTP_DATA))
    sys.exit(0 if got == FTP_DATA else 1)
elif mode == "udp-refused":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.connect((sys.argv[2], int(sys.argv[3])))
    for _ in range(5):
        s.send(b"x")
        try:
            s.recv(100)
            out("answered")
            sys.exit(1)
        except ConnectionRefusedError:
            out("refused")
            sys.exit(0)
        except socket.timeout:
            pass
    out("no answer")
    sys.exit(1)
elif mode == "tftp-server":
    tftp_server(sys.argv[2])
elif mode == "tftp-get":
    tftp_get(sys.argv[2])
elif mode == "syn-flood":
    syn_flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"#;

const PYTHON: &str = "/usr/bin/python3";

/// A helper process in a namespace (stdout and stderr to a file), killed by
/// pid on drop.
struct Bg {
    child: Child,
    out: PathBuf,
}

impl Bg {
    fn spawn(ns: &Ns, out: PathBuf, args: &[&str]) -> Bg {
        let f = std::fs::File::create(&out).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.ns, PYTHON, "-u"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .expect("python3");
        Bg { child, out }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits until the output contains `pat`.
    fn wait(&self, pat: &str, secs: u64) -> bool {
        wait_for(secs, || self.output().contains(pat).then_some(())).is_some()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test's switch: daemon, bridge, namespaces on OpenFlow ports 1.., the
/// helper script.
struct Net {
    // Dropped first: namespaces and veths go before the daemon.
    ns: Vec<Ns>,
    e: Env,
    br: String,
    py: String,
}

impl Net {
    fn new(ips: &[&str]) -> Net {
        let mut e = Env::new();
        let br = unique("rvt");
        e.add_br(&br);
        let mgmt = e.dir.join(format!("{br}.mgmt"));
        wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
        let ns: Vec<Ns> = ips.iter().map(|ip| Ns::new(ip)).collect();
        for (i, n) in ns.iter().enumerate() {
            let of = (i + 1).to_string();
            e.vsctl(&[
                "add-port",
                &br,
                &n.host,
                "--",
                "set",
                "interface",
                &n.host,
                &format!("ofport_request={of}"),
            ])
            .unwrap();
            assert_eq!(e.get("interface", &n.host, "ofport"), of);
        }
        let py = e.dir.join("ct_helper.py");
        std::fs::write(&py, PY).unwrap();
        let py = py.to_str().unwrap().to_string();
        Net { ns, e, br, py }
    }

    /// Replaces the bridge's flows with `text` (one flow per line) through
    /// `ovs-ofctl add-flows`.
    fn flows(&self, text: &str) {
        self.e.ofctl(&["del-flows", &self.br]).unwrap();
        let file = self.e.dir.join("flows.txt");
        std::fs::write(&file, text).unwrap();
        self.e
            .ofctl(&["add-flows", &self.br, file.to_str().unwrap()])
            .unwrap();
    }

    fn appctl(&self, args: &[&str]) -> String {
        self.e
            .appctl(args)
            .unwrap_or_else(|err| panic!("{args:?}: {err}"))
    }

    /// Runs the helper in namespace `i` to completion (30 s at most).
    fn py(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["timeout", "30", PYTHON, "-u", &self.py];
        v.extend_from_slice(args);
        self.ns[i].exec(&v)
    }

    /// Starts the helper in namespace `i` in the background.
    fn bg(&self, i: usize, name: &str, args: &[&str]) -> Bg {
        let mut v = vec![self.py.as_str()];
        v.extend_from_slice(args);
        Bg::spawn(&self.ns[i], self.e.dir.join(format!("{name}.out")), &v)
    }

    /// Static neighbour entry in namespace `i`: `ip` at namespace `j`'s MAC
    /// (for addresses nobody answers ARP for: NAT pools, virtual IPs).
    fn neigh(&self, i: usize, ip: &str, j: usize) {
        let mac = self.ns[j].mac();
        self.ns[i]
            .exec(&[
                "ip",
                "neigh",
                "replace",
                ip,
                "lladdr",
                &mac,
                "dev",
                &self.ns[i].peer,
                "nud",
                "permanent",
            ])
            .unwrap();
    }

    /// State for assertion messages.
    fn diag(&self) -> String {
        format!(
            "--- dump-conntrack -m\n{}--- ofctl dump-flows\n{}--- dpctl/dump-flows\n{}--- log\n{}",
            self.e
                .appctl(&["dpctl/dump-conntrack", "-m"])
                .unwrap_or_default(),
            self.e.ofctl(&["dump-flows", &self.br]).unwrap_or_default(),
            self.e.appctl(&["dpctl/dump-flows"]).unwrap_or_default(),
            self.e.log()
        )
    }

    /// `n_packets` of the flows whose `dump-flows` line contains every
    /// string of `pats`.
    fn n_packets(&self, pats: &[&str]) -> u64 {
        let out = self.e.ofctl(&["dump-flows", &self.br]).unwrap();
        out.lines()
            .filter(|l| pats.iter().all(|p| l.contains(p)))
            .filter_map(|l| {
                l.split(", ")
                    .find_map(|p| p.trim().strip_prefix("n_packets="))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .sum()
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// SNAT to a pool of addresses and ports: the outside sees the translated
/// source, replies are translated back, `dump-conntrack` shows the NAT.
#[test]
fn snat_to_a_pool() {
    if !can_run("snat_to_a_pool") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    n.neigh(1, "10.99.0.100", 0);
    n.neigh(1, "10.99.0.101", 0);
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1,nat)\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+new,actions=ct(commit,nat(src=10.99.0.100-10.99.0.101:5000-5010)),output:2\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+est,actions=output:2\n\
         table=1,priority=10,in_port=2,ip,ct_state=+trk+est,actions=output:1\n\
         table=1,priority=10,in_port=2,icmp,ct_state=+trk+rel,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    );
    let udp = n.bg(1, "udp", &["udp-echo", "10.99.0.2", "7000"]);
    let tcp = n.bg(1, "tcp", &["tcp-echo", "10.99.0.2", "7001"]);
    assert!(udp.wait("ready", 10) && tcp.wait("ready", 10));

    let r = n.py(0, &["udp-send", "10.99.0.2", "7000", "100"]);
    let r = r.unwrap_or_else(|err| panic!("udp: {err}\n{}\n{}", udp.output(), n.diag()));
    assert!(
        r.contains("reply 10.99.0.2 7000 len 100") && r.contains("same 1"),
        "{r}"
    );
    let r = n.py(0, &["tcp-send", "10.99.0.2", "7001", "200000"]);
    let r = r.unwrap_or_else(|err| panic!("tcp: {err}\n{}\n{}", tcp.output(), n.diag()));
    assert!(r.contains("got 200000 same 1"), "{r}");

    // The outside saw only pool addresses and ports.
    for (name, out) in [("udp", udp.output()), ("tcp", tcp.output())] {
        let peers: Vec<&str> = out.lines().filter(|l| l.starts_with("peer ")).collect();
        assert!(!peers.is_empty(), "{name}: {out}");
        for p in peers {
            let w: Vec<&str> = p.split_whitespace().collect();
            assert!(
                w[1] == "10.99.0.100" || w[1] == "10.99.0.101",
                "{name} source not translated: {p}"
            );
            let port: u16 = w[2].parse().unwrap();
            assert!((5000..=5010).contains(&port), "{name} port: {p}");
        }
    }
    let dump = n.appctl(&["dpctl/dump-conntrack"]);
    for proto in ["udp", "tcp"] {
        let line = dump
            .lines()
            .find(|l| l.starts_with(&format!("{proto},orig=(src=10.99.0.1,dst=10.99.0.2,")))
            .unwrap_or_else(|| panic!("no {proto} entry:\n{dump}"));
        assert!(
            line.contains("reply=(src=10.99.0.2,dst=10.99.0.10"),
            "{line}"
        );
        let dport: u16 = line
            .split("reply=(")
            .nth(1)
            .unwrap()
            .split(',')
            .find_map(|kv| kv.strip_prefix("dport="))
            .unwrap()
            .trim_end_matches(')')
            .parse()
            .unwrap();
        assert!((5000..=5010).contains(&dport), "{line}");
    }
    // ICMP echo is translated too (identifier as the port).
    assert!(n.ns[0].ping("10.99.0.2", 10), "{}", n.diag());
    let dump = n.appctl(&["dpctl/dump-conntrack"]);
    assert!(
        dump.lines()
            .any(|l| l.starts_with("icmp,orig=(src=10.99.0.1,dst=10.99.0.2,")
                && l.contains("reply=(src=10.99.0.2,dst=10.99.0.10")),
        "{dump}"
    );
    // An ICMP error about a translated datagram (port unreachable) comes
    // back related, its embedded header translated back: the client's
    // connected socket sees ECONNREFUSED.
    let r = n.py(0, &["udp-refused", "10.99.0.2", "7999"]);
    assert!(
        r.as_deref().is_ok_and(|o| o.contains("refused")),
        "{r:?}\n{}",
        n.diag()
    );
    assert!(n.n_packets(&["ct_state=+rel+trk", "icmp", "in_port=2"]) >= 1);
    // Unsolicited traffic to the pool is not admitted.
    assert!(n.py(1, &["udp-send", "10.99.0.100", "5000", "10"]).is_err());
}

/// DNAT of a virtual IP to a backend: a TCP connection to
/// `10.99.0.200:80` reaches the backend's real address and port, every
/// byte checked both ways.
#[test]
fn dnat_to_a_backend() {
    if !can_run("dnat_to_a_backend") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.3"]);
    n.neigh(0, "10.99.0.200", 1);
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1,nat)\n\
         table=1,priority=10,in_port=1,tcp,nw_dst=10.99.0.200,tp_dst=80,ct_state=+trk+new,actions=ct(commit,nat(dst=10.99.0.3:8080)),output:2\n\
         table=1,priority=10,in_port=1,tcp,ct_state=+trk+est,ct_nw_dst=10.99.0.200,ct_nw_proto=6,ct_tp_dst=80,nw_dst=10.99.0.3,tp_dst=8080,actions=output:2\n\
         table=1,priority=10,in_port=2,ip,ct_state=+trk+est,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    );
    // Established packets are matched on their original (pre-DNAT)
    // destination, `ct_nw_dst`/`ct_tp_dst`, and on the translated one.
    let srv = n.bg(1, "backend", &["tcp-echo", "10.99.0.3", "8080"]);
    assert!(srv.wait("ready", 10));
    for _ in 0..2 {
        let r = n.py(0, &["tcp-send", "10.99.0.200", "80", "1000000"]);
        let r = r.unwrap_or_else(|err| panic!("{err}\n{}\n{}", srv.output(), n.diag()));
        assert!(r.contains("peer 10.99.0.200 80 got 1000000 same 1"), "{r}");
    }
    assert!(srv.output().contains("peer 10.99.0.1 "), "{}", srv.output());
    let dump = n.appctl(&["dpctl/dump-conntrack"]);
    assert!(
        dump.lines().any(
            |l| l.starts_with("tcp,orig=(src=10.99.0.1,dst=10.99.0.200,")
                && l.contains("dport=80),reply=(src=10.99.0.3,dst=10.99.0.1,sport=8080,")
        ),
        "{dump}"
    );
    // The backend's real port is not reachable directly.
    assert!(n.py(0, &["tcp-send", "10.99.0.3", "8080", "10"]).is_err());
}

/// FTP through SNAT with the FTP ALG, active and passive mode: the data
/// connection is admitted as `+rel` and translated like its control
/// connection.
#[test]
fn ftp_through_snat_active_and_passive() {
    if !can_run("ftp_through_snat_active_and_passive") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    n.neigh(1, "10.99.0.100", 0);
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1,nat)\n\
         table=1,priority=20,in_port=1,tcp,tp_dst=21,ct_state=+trk+new,actions=ct(commit,alg=ftp,nat(src=10.99.0.100)),output:2\n\
         table=1,priority=20,in_port=1,tcp,ct_state=+trk+new+rel,actions=ct(commit,nat),output:2\n\
         table=1,priority=20,in_port=2,tcp,ct_state=+trk+new+rel,actions=ct(commit,nat),output:1\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+est,actions=output:2\n\
         table=1,priority=10,in_port=2,ip,ct_state=+trk+est,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    );
    let srv = n.bg(1, "ftp", &["ftp-server", "10.99.0.2"]);
    assert!(srv.wait("ready", 10));

    // Active: the client's PORT is rewritten to the pool address, the
    // server's data connection comes in related and is translated back.
    let r = n.py(0, &["ftp-get", "10.99.0.2", "active"]);
    let r = r.unwrap_or_else(|err| panic!("active: {err}\n{}\n{}", srv.output(), n.diag()));
    assert!(r.contains("same 1"), "{r}");
    let so = srv.output();
    assert!(so.contains("ctl-peer 10.99.0.100 "), "{so}");
    assert!(so.contains("port-cmd 10.99.0.100 "), "{so}");
    assert!(so.contains("data-connected 10.99.0.100 "), "{so}");
    let rel_in = n.n_packets(&["in_port=2", "ct_state=+new+rel+trk"]);
    assert!(
        rel_in >= 1,
        "inbound data connection not +rel\n{}",
        n.diag()
    );

    // Passive: the client's data connection to the announced port is
    // related and source-translated like the control connection.
    let r = n.py(0, &["ftp-get", "10.99.0.2", "pasv"]);
    let r = r.unwrap_or_else(|err| panic!("passive: {err}\n{}\n{}", srv.output(), n.diag()));
    assert!(r.contains("same 1"), "{r}");
    let so = srv.output();
    assert!(so.contains("data-peer 10.99.0.100 "), "{so}");
    let rel_out = n.n_packets(&["in_port=1", "ct_state=+new+rel+trk"]);
    assert!(
        rel_out >= 1,
        "outbound data connection not +rel\n{}",
        n.diag()
    );
    let dump = n.appctl(&["dpctl/dump-conntrack", "-m"]);
    assert!(dump.contains("helper=ftp"), "{dump}");
    assert!(dump.contains("parent=("), "{dump}");
}

/// TFTP through SNAT with the TFTP ALG: the server answers from a new
/// port, which is admitted as `+rel` and translated back to the client;
/// the client's ACKs leave translated.
#[test]
fn tftp_through_snat() {
    if !can_run("tftp_through_snat") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    n.neigh(1, "10.99.0.100", 0);
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1,nat)\n\
         table=1,priority=20,in_port=1,udp,tp_dst=69,ct_state=+trk+new,actions=ct(commit,alg=tftp,nat(src=10.99.0.100)),output:2\n\
         table=1,priority=20,in_port=2,udp,ct_state=+trk+new+rel,actions=ct(commit,nat),output:1\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+est,actions=output:2\n\
         table=1,priority=10,in_port=2,ip,ct_state=+trk+est,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    );
    let srv = n.bg(1, "tftp", &["tftp-server", "10.99.0.2"]);
    assert!(srv.wait("ready", 10));
    let r = n.py(0, &["tftp-get", "10.99.0.2"]);
    let r = r.unwrap_or_else(|err| panic!("{err}\n{}\n{}", srv.output(), n.diag()));
    assert!(r.contains("got 2304 same 1 from 10.99.0.2 "), "{r}");
    assert!(srv.wait("done", 5), "{}", srv.output());
    let so = srv.output();
    assert!(so.contains("rrq-peer 10.99.0.100 "), "{so}");
    assert!(so.contains("ack-peer 10.99.0.100 "), "{so}");
    assert!(
        n.n_packets(&["in_port=2", "ct_state=+new+rel+trk"]) >= 1,
        "{}",
        n.diag()
    );
}

/// A 3000-byte UDP datagram (3 fragments at MTU 1500) through `ct()`
/// rules is reassembled for conntrack and arrives intact, both ways.
#[test]
fn fragmented_udp_through_conntrack() {
    if !can_run("fragmented_udp_through_conntrack") {
        return;
    }
    fragmented_udp(false);
}

/// The same through SNAT: every fragment carries the translated address,
/// the first one the translated port (and a checksum valid for the whole
/// datagram), in both directions.
#[test]
fn fragmented_udp_through_snat() {
    if !can_run("fragmented_udp_through_snat") {
        return;
    }
    fragmented_udp(true);
}

fn fragmented_udp(snat: bool) {
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    if snat {
        n.neigh(1, "10.99.0.100", 0);
    }
    let (nat, commit) = if snat {
        (",nat", "ct(commit,nat(src=10.99.0.100:6000-6001))")
    } else {
        ("", "ct(commit)")
    };
    n.flows(&format!(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1{nat})\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+new,actions={commit},output:2\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+est,actions=output:2\n\
         table=1,priority=10,in_port=2,ip,ct_state=+trk+est,actions=output:1\n\
         table=1,priority=1,actions=drop\n"
    ));
    let accepted = |st: &str| -> u64 {
        st.lines()
            .find_map(|l| l.trim().strip_prefix("v4 frags accepted: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{st}"))
    };
    let before = accepted(&n.appctl(&["dpctl/ipf-get-status"]));
    let srv = n.bg(1, "udp", &["udp-echo", "10.99.0.2", "7000"]);
    assert!(srv.wait("ready", 10));
    let r = n.py(0, &["udp-send", "10.99.0.2", "7000", "3000"]);
    let r = r.unwrap_or_else(|err| panic!("{err}\n{}\n{}", srv.output(), n.diag()));
    assert!(r.contains("len 3000") && r.contains("same 1"), "{r}");
    let sent_md5 = r
        .split("sent ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let seen = if snat {
        "peer 10.99.0.100 600"
    } else {
        "peer 10.99.0.1 "
    };
    let so = srv.output();
    assert!(so.contains(seen), "{so}");
    assert!(so.contains(&format!("len 3000 md5 {sent_md5}")), "{so}");
    let st = n.appctl(&["dpctl/ipf-get-status"]);
    assert!(accepted(&st) >= before + 6, "3 fragments each way:\n{st}");
    let dump = n.appctl(&["dpctl/dump-conntrack"]);
    assert!(
        dump.contains("udp,orig=(src=10.99.0.1,dst=10.99.0.2,"),
        "{dump}"
    );
}

/// The same 5-tuple in zones 1 and 2 gives two separate connections; a
/// reply looked up in another zone than its request is new there.
#[test]
fn zones_isolate_the_same_tuple() {
    if !can_run("zones_isolate_the_same_tuple") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    // Requests committed in zones 1 and 2; replies checked in zone 1
    // (admitted) and zone 3 (where they are new: counted, not admitted).
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,in_port=1,udp,actions=ct(commit,zone=1),ct(commit,zone=2),output:2\n\
         table=0,priority=10,in_port=2,udp,actions=ct(zone=3,table=2)\n\
         table=2,priority=10,udp,ct_state=+trk+new,ct_zone=3,actions=ct(zone=1,table=1)\n\
         table=1,priority=10,in_port=2,udp,ct_state=+trk+est,ct_zone=1,actions=output:1\n\
         table=1,priority=1,actions=drop\n\
         table=2,priority=1,actions=drop\n",
    );
    let srv = n.bg(1, "udp", &["udp-echo", "10.99.0.2", "7000"]);
    assert!(srv.wait("ready", 10));
    let r = n.py(0, &["udp-send", "10.99.0.2", "7000", "50", "6000"]);
    let r = r.unwrap_or_else(|err| panic!("{err}\n{}\n{}", srv.output(), n.diag()));
    assert!(r.contains("same 1"), "{r}");
    let tuple = "udp,orig=(src=10.99.0.1,dst=10.99.0.2,sport=6000,dport=7000),reply=(src=10.99.0.2,dst=10.99.0.1,sport=7000,dport=6000)";
    let z = |zone: &str| n.appctl(&["dpctl/dump-conntrack", &format!("zone={zone}")]);
    let (z1, z2) = (z("1"), z("2"));
    assert_eq!(
        z1.lines().filter(|l| l.starts_with(tuple)).count(),
        1,
        "{z1}"
    );
    assert!(z1.contains(",zone=1"), "{z1}");
    assert_eq!(
        z2.lines().filter(|l| l.starts_with(tuple)).count(),
        1,
        "{z2}"
    );
    assert!(z2.contains(",zone=2"), "{z2}");
    assert!(!z1.contains("zone=2") && !z2.contains("zone=1"));
    // Zone 3 saw the reply as new and committed nothing.
    assert_eq!(z("3"), "");
    assert!(
        n.n_packets(&["table=2", "ct_state=+new+trk", "ct_zone=3"]) >= 1,
        "{}",
        n.diag()
    );
    let all = n.appctl(&["dpctl/dump-conntrack"]);
    assert_eq!(
        all.lines().filter(|l| l.starts_with(tuple)).count(),
        2,
        "{all}"
    );
    // Flushing zone 1 leaves zone 2's connection.
    n.appctl(&["dpctl/flush-conntrack", "zone=1"]);
    assert_eq!(z("1"), "");
    assert_eq!(z("2").lines().filter(|l| l.starts_with(tuple)).count(), 1);
}

/// A zone limit holds under a SYN flood: the zone fills to the limit, new
/// connections beyond it are not committed, and an established connection
/// keeps working.
#[test]
fn zone_limit_under_syn_flood() {
    if !can_run("zone_limit_under_syn_flood") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    const LIMIT: usize = 10;
    n.appctl(&["dpctl/ct-set-limits", &format!("zone=5,limit={LIMIT}")]);
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1,zone=5)\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+new,actions=ct(commit,zone=5),output:2\n\
         table=1,priority=10,in_port=1,ip,ct_state=+trk+est,actions=output:2\n\
         table=1,priority=10,in_port=2,ip,ct_state=+trk+est,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    );
    let srv = n.bg(1, "echo", &["tcp-echo", "10.99.0.2", "7001"]);
    assert!(srv.wait("ready", 10));
    let go = n.e.dir.join("go");
    let hold = n.bg(0, "hold", &["tcp-hold", "10.99.0.2", "7001", path_str(&go)]);
    assert!(hold.wait("est 1", 15), "{}\n{}", hold.output(), n.diag());
    // SYNs to a closed port, far more than the limit.
    let r = n.py(0, &["syn-flood", "10.99.0.2", "9", "200"]);
    assert!(r.is_ok(), "{r:?}");
    let limits = n.appctl(&["dpctl/ct-get-limits", "zone=5"]);
    assert!(
        limits.contains(&format!("zone=5,limit={LIMIT},count={LIMIT}")),
        "{limits}\n{}",
        n.diag()
    );
    let dump = n.appctl(&["dpctl/dump-conntrack", "zone=5"]);
    assert_eq!(dump.lines().count(), LIMIT, "{dump}");
    std::fs::write(&go, "").unwrap();
    assert!(
        hold.wait("again 2 1", 20),
        "established connection broken: {}\n{}",
        hold.output(),
        n.diag()
    );
    assert!(!hold.output().contains(" 0\n"), "{}", hold.output());
}

/// Marks and labels set at commit (`exec(set_field:...)`) are matched by
/// the replies' rules and shown by `dump-conntrack`.
#[test]
fn mark_and_label_set_at_commit_steer_replies() {
    if !can_run("mark_and_label_set_at_commit_steer_replies") {
        return;
    }
    let _t = traffic_lock();
    let n = Net::new(&["10.99.0.1", "10.99.0.2"]);
    n.flows(
        "table=0,priority=10,arp,actions=NORMAL\n\
         table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1)\n\
         table=1,priority=10,in_port=1,udp,ct_state=+trk+new,actions=ct(commit,exec(set_field:0x2a->ct_mark,set_field:0x1234->ct_label)),output:2\n\
         table=1,priority=10,in_port=1,udp,ct_state=+trk+est,actions=output:2\n\
         table=1,priority=10,in_port=2,udp,ct_state=+trk+est,ct_mark=0x2a,ct_label=0x1234,actions=output:1\n\
         table=1,priority=1,actions=drop\n",
    );
    let srv = n.bg(1, "udp", &["udp-echo", "10.99.0.2", "7000"]);
    assert!(srv.wait("ready", 10));
    let r = n.py(0, &["udp-send", "10.99.0.2", "7000", "64"]);
    let r = r.unwrap_or_else(|err| panic!("{err}\n{}\n{}", srv.output(), n.diag()));
    assert!(r.contains("same 1"), "{r}");
    assert!(
        n.n_packets(&["ct_mark=0x2a", "in_port=2"]) >= 1,
        "{}",
        n.diag()
    );
    let dump = n.appctl(&["dpctl/dump-conntrack"]);
    assert!(
        dump.lines()
            .any(|l| l.starts_with("udp,orig=(src=10.99.0.1,dst=10.99.0.2,")
                && l.contains(",mark=42,labels=0x1234")),
        "{dump}"
    );
}
