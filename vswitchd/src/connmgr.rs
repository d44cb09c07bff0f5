//! The OpenFlow connection manager of a bridge (OVS `ofproto/connmgr.c`,
//! `lib/rconn.c`, `ofproto/fail-open.c`, `vswitchd/bridge.c`
//! `bridge_configure_remotes()`; ovs-vswitchd.conf.db(5) "Controller
//! TABLE").
//!
//! A [`ConnMgr`] owns every OpenFlow endpoint of one bridge:
//!
//! * the passive management socket `$OVS_RUNDIR/<bridge>.mgmt` that
//!   `ovs-ofctl` talks to by default (a service connection);
//! * one **primary controller** per active `Bridge.controller` target
//!   (`tcp:IP[:PORT]`, default port 6653; `unix:PATH`): a thread that
//!   connects, serves the connection ([`crate::ofconn::Conn`]) and, when it
//!   fails or drops, waits (1 s, doubling up to `max_backoff`, default 8 s)
//!   and connects again, like OVS's `rconn`;
//! * one **service listener** per passive target (`ptcp:[PORT][:IP]`,
//!   `punix:PATH`), each accepted connection served by its own thread.
//!
//! Adding or removing a Controller row starts or stops only that target;
//! other connections and forwarding are untouched.
//!
//! **fail_mode** (OVS `connmgr_flushed()`, `connmgr_set_fail_mode()`,
//! `connmgr_set_controllers()`): the flow table is flushed whenever the
//! bridge goes from having primary controllers to having none (or back),
//! and when fail_mode changes while it has none; after a flush, a bridge
//! without primary controllers that is not `secure` gets the flow
//! `priority=0 actions=NORMAL`. With primary controllers and fail_mode
//! `standalone` (the default), **fail-open** applies: once no controller has
//! been admitted for 3 x the largest inactivity probe interval, the bridge
//! forwards as if it had the hidden flow `priority=15790320 (0xf0f0f0)
//! actions=NORMAL` ([`OpenFlowBridge::set_fail_open`]), until a controller
//! is admitted again (connected and sent a message other than HELLO, ECHO,
//! ERROR, FEATURES or CONFIG).
//!
//! Threads: the owner (the daemon's control thread, under the switch lock)
//! calls [`ConnMgr::configure`], [`ConnMgr::run`] and
//! [`ConnMgr::controller_info`]; connection threads only touch the shared
//! [`RconnState`] of their controller (one mutex) and the bridge.
//!
//! Unlike OVS, which raises probe intervals below 5 s to 5 s, rvs honours
//! `inactivity_probe` down to 100 ms, so that tests can use short timeouts.

use crate::ofconn::{
    role_name, ConnKind, ConnObserver, ConnOpts, ConnShared, OfStream, Sink, ROLE_EQUAL,
};
use crate::openflow::OpenFlowBridge;
use crate::vlog;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The IANA OpenFlow port, the default for `tcp:` and `ptcp:` targets.
pub const OFP_PORT: u16 = 6653;

/// Default `Controller.max_backoff` (OVS: 8 s).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Default `Controller.inactivity_probe` (OVS: 5 s).
pub const DEFAULT_PROBE: Duration = Duration::from_secs(5);

/// First reconnect delay after a failure (OVS rconn `min_backoff`, 1 s).
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// A parsed controller target (OVS `lib/stream.c`, `lib/vconn.c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `tcp:IP[:PORT]`: connect.
    Tcp(SocketAddr),
    /// `unix:PATH`: connect.
    Unix(PathBuf),
    /// `ptcp:[PORT][:IP]`: listen.
    PTcp(SocketAddr),
    /// `punix:PATH`: listen.
    PUnix(PathBuf),
}

impl Target {
    /// Parses `s`. IPv6 addresses go in brackets (`tcp:[::1]:6653`,
    /// `ptcp:6653:[::1]`). Errors name what is wrong.
    pub fn parse(s: &str) -> Result<Target, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("{s}: missing connection type"))?;
        let ip = |t: &str| -> Result<IpAddr, String> {
            t.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("{s}: bad IP address \"{t}\""))
        };
        let port = |t: &str| -> Result<u16, String> {
            t.parse().map_err(|_| format!("{s}: bad port \"{t}\""))
        };
        match kind {
            "tcp" => {
                let (h, p) = match rest.rfind(':') {
                    Some(i) if !rest[i..].contains(']') => (&rest[..i], Some(&rest[i + 1..])),
                    _ => (rest, None),
                };
                let p = p.map_or(Ok(OFP_PORT), port)?;
                Ok(Target::Tcp(SocketAddr::new(ip(h)?, p)))
            }
            "ptcp" => {
                let (p, h) = rest.split_once(':').unwrap_or((rest, ""));
                let p = if p.is_empty() { OFP_PORT } else { port(p)? };
                let h = if h.is_empty() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    ip(h)?
                };
                Ok(Target::PTcp(SocketAddr::new(h, p)))
            }
            "unix" | "punix" if rest.is_empty() => Err(format!("{s}: missing path")),
            "unix" => Ok(Target::Unix(PathBuf::from(rest))),
            "punix" => Ok(Target::PUnix(PathBuf::from(rest))),
            _ => Err(format!("{s}: unsupported connection type \"{kind}\"")),
        }
    }

    /// Whether this target is active (a primary controller).
    pub fn is_active(&self) -> bool {
        matches!(self, Target::Tcp(_) | Target::Unix(_))
    }
}

/// What the connection manager needs of one `Controller` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerCfg {
    /// `target`, verbatim.
    pub target: String,
    /// `max_backoff` (at least 1 s).
    pub max_backoff: Duration,
    /// `inactivity_probe`; `None` when 0 (disabled).
    pub probe: Option<Duration>,
}

impl ControllerCfg {
    /// From the row's columns, applying OVS's defaults (8 s, 5 s).
    pub fn from_row(c: &ovsdb::vswitch::Controller) -> ControllerCfg {
        let max_backoff = c.max_backoff.map_or(DEFAULT_MAX_BACKOFF, |ms| {
            Duration::from_millis(ms.max(1000) as u64)
        });
        let probe = match c.inactivity_probe {
            None => Some(DEFAULT_PROBE),
            Some(ms) if ms <= 0 => None,
            Some(ms) => Some(Duration::from_millis(ms.max(100) as u64)),
        };
        ControllerCfg {
            target: c.target.clone(),
            max_backoff,
            probe,
        }
    }
}

/// A passive socket accepting OpenFlow connections; dropping it stops
/// accepting (and removes a unix socket file). Open connections end when
/// their peer closes.
pub struct Listener {
    path: Option<PathBuf>,
    stop: Arc<AtomicBool>,
}

enum PListener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl PListener {
    fn accept(&self) -> std::io::Result<OfStream> {
        Ok(match self {
            PListener::Unix(l) => OfStream::Unix(l.accept()?.0),
            PListener::Tcp(l) => OfStream::Tcp(l.accept()?.0),
        })
    }
}

impl Listener {
    /// Binds `target` (`PUnix` or `PTcp`) for bridge `br` and serves each
    /// accepted connection as a service connection probed every `probe`.
    pub fn start(
        br: Arc<OpenFlowBridge>,
        shared: Arc<ConnShared>,
        target: &Target,
        probe: Option<Duration>,
    ) -> std::io::Result<Listener> {
        let (l, path) = match target {
            Target::PUnix(p) => {
                let _ = std::fs::remove_file(p);
                (PListener::Unix(UnixListener::bind(p)?), Some(p.clone()))
            }
            Target::PTcp(a) => (PListener::Tcp(TcpListener::bind(a)?), None),
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a passive target",
                ))
            }
        };
        match &l {
            PListener::Unix(u) => u.set_nonblocking(true)?,
            PListener::Tcp(t) => t.set_nonblocking(true)?,
        }
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::Builder::new()
            .name(format!("ofservice-{}", br.name()))
            .spawn(move || {
                while !st.load(Ordering::SeqCst) {
                    match l.accept() {
                        Ok(s) => {
                            let (b, sh) = (br.clone(), shared.clone());
                            let _ = std::thread::Builder::new().name("ofconn".into()).spawn(
                                move || {
                                    let opts = ConnOpts {
                                        kind: ConnKind::Service,
                                        probe,
                                        observer: None,
                                    };
                                    if let Some(c) = crate::ofconn::Conn::new(b, sh, s, opts) {
                                        c.run();
                                    }
                                },
                            );
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
            })?;
        Ok(Listener { path, stop })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What one primary controller's reconnect loop knows (OVS `struct rconn`):
/// read for `Controller` status and fail-open, written by its thread.
#[derive(Default)]
struct RconnInner {
    /// `VOID`, `BACKOFF`, `CONNECTING`, `ACTIVE`, `IDLE`.
    state: &'static str,
    connected: bool,
    admitted: bool,
    last_connected: Option<Instant>,
    last_disconnected: Option<Instant>,
    last_admitted: Option<Instant>,
    last_error: Option<String>,
    /// The live connection: to shut it down, and its role.
    stream: Option<OfStream>,
    sink: Option<Weak<Sink>>,
}

/// The shared state of one primary controller; see [`RconnInner`].
pub struct RconnState {
    created: Instant,
    inner: Mutex<RconnInner>,
}

impl ConnObserver for RconnState {
    fn admitted(&self) {
        let mut i = self.inner.lock();
        if !i.admitted {
            i.admitted = true;
            i.last_admitted = Some(Instant::now());
        }
    }

    fn idle(&self, idle: bool) {
        let mut i = self.inner.lock();
        if i.connected {
            i.state = if idle { "IDLE" } else { "ACTIVE" };
        }
    }
}

impl RconnState {
    /// How long this controller has not been admitted (0 while it is;
    /// OVS `rconn_failure_duration()`).
    fn failure_duration(&self, now: Instant) -> Duration {
        let i = self.inner.lock();
        if i.connected && i.admitted {
            return Duration::ZERO;
        }
        let since = i
            .last_admitted
            .map_or(self.created, |a| a.max(self.created));
        now.saturating_duration_since(since)
    }
}

/// An io error as OVS prints an errno (`ovs_retval_to_string()`): the
/// message without Rust's " (os error N)".
fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// One primary controller: its reconnect thread runs until the value is
/// dropped.
struct Active {
    cfg: Arc<Mutex<ControllerCfg>>,
    st: Arc<RconnState>,
    stop: Arc<AtomicBool>,
}

impl Active {
    fn start(
        br: Arc<OpenFlowBridge>,
        shared: Arc<ConnShared>,
        cfg: ControllerCfg,
        target: Target,
    ) -> Active {
        let st = Arc::new(RconnState {
            created: Instant::now(),
            inner: Mutex::new(RconnInner {
                state: "VOID",
                ..RconnInner::default()
            }),
        });
        let cfg = Arc::new(Mutex::new(cfg));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s, sp) = (cfg.clone(), st.clone(), stop.clone());
        let name = format!("{}<->{}", br.name(), cfg.lock().target);
        let spawned = std::thread::Builder::new()
            .name("rconn".into())
            .spawn(move || reconnect_loop(br, shared, target, name, c, s, sp));
        if let Err(e) = spawned {
            vlog::warn("rconn", format!("cannot start controller thread ({e})"));
        }
        Active { cfg, st, stop }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = &self.st.inner.lock().stream {
            s.shutdown();
        }
    }
}

fn connect(t: &Target, timeout: Duration) -> std::io::Result<OfStream> {
    match t {
        Target::Tcp(a) => {
            let s = TcpStream::connect_timeout(a, timeout)?;
            let _ = s.set_nodelay(true);
            Ok(OfStream::Tcp(s))
        }
        Target::Unix(p) => Ok(OfStream::Unix(UnixStream::connect(p)?)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not an active target",
        )),
    }
}

/// OVS `reconnect.c` backoff: after a connection that lasted at least the
/// current backoff, start again at 1 s; otherwise 1 s, then doubling, up
/// to `max`.
fn next_backoff(cur: Duration, max: Duration, stable: bool) -> Duration {
    if stable || cur < MIN_BACKOFF {
        MIN_BACKOFF.min(max)
    } else if cur < max / 2 {
        cur * 2
    } else {
        max
    }
}

fn reconnect_loop(
    br: Arc<OpenFlowBridge>,
    shared: Arc<ConnShared>,
    target: Target,
    name: String,
    cfg: Arc<Mutex<ControllerCfg>>,
    st: Arc<RconnState>,
    stop: Arc<AtomicBool>,
) {
    let mut backoff = Duration::ZERO;
    while !stop.load(Ordering::SeqCst) {
        st.inner.lock().state = "CONNECTING";
        vlog::info("rconn", format!("{name}: connecting..."));
        let (max_backoff, probe) = {
            let c = cfg.lock();
            (c.max_backoff, c.probe)
        };
        let stable = match connect(&target, backoff.max(MIN_BACKOFF)) {
            Ok(s) => {
                vlog::info("rconn", format!("{name}: connected"));
                let opts = ConnOpts {
                    kind: ConnKind::Primary,
                    probe,
                    observer: Some(st.clone()),
                };
                let clone = s.try_clone().ok();
                match crate::ofconn::Conn::new(br.clone(), shared.clone(), s, opts) {
                    Some(conn) => {
                        let t0 = Instant::now();
                        {
                            let mut i = st.inner.lock();
                            i.state = "ACTIVE";
                            i.connected = true;
                            i.admitted = false;
                            i.last_connected = Some(t0);
                            i.stream = clone;
                            i.sink = Some(Arc::downgrade(&conn.sink()));
                        }
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        conn.run();
                        let mut i = st.inner.lock();
                        let now = Instant::now();
                        if i.admitted {
                            i.last_admitted = Some(now);
                        }
                        i.connected = false;
                        i.admitted = false;
                        i.last_disconnected = Some(now);
                        i.stream = None;
                        i.sink = None;
                        i.last_error = Some("End of file".into());
                        drop(i);
                        if !stop.load(Ordering::SeqCst) {
                            vlog::info("rconn", format!("{name}: connection dropped"));
                        }
                        t0.elapsed() >= backoff
                    }
                    None => false,
                }
            }
            Err(e) => {
                let why = errno_text(&e);
                vlog::info("rconn", format!("{name}: connection failed ({why})"));
                st.inner.lock().last_error = Some(why);
                false
            }
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        backoff = next_backoff(backoff, max_backoff, stable);
        st.inner.lock().state = "BACKOFF";
        vlog::info(
            "rconn",
            format!(
                "{name}: waiting {} seconds before reconnect",
                backoff.as_secs()
            ),
        );
        let until = Instant::now() + backoff;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The status of one primary controller, as `Controller.is_connected`,
/// `role` and `status` show it (OVS `connmgr_get_controller_info()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerInfo {
    /// Connected now.
    pub is_connected: bool,
    /// `"other"`, `"master"` or `"slave"`.
    pub role: &'static str,
    /// `state`, `last_error`, `sec_since_connect`, `sec_since_disconnect`.
    pub status: BTreeMap<String, String>,
}

/// The connection manager of one bridge; see the module documentation.
pub struct ConnMgr {
    br: Arc<OpenFlowBridge>,
    shared: Arc<ConnShared>,
    _mgmt: Option<Listener>,
    controllers: BTreeMap<String, Active>,
    services: BTreeMap<String, Listener>,
    secure: bool,
}

impl ConnMgr {
    /// The manager of a new bridge `br` (whose flow table is empty) with
    /// its `<bridge>.mgmt` socket, configured as [`ConnMgr::configure`]
    /// does; the bridge gets the NORMAL flow only without primary
    /// controllers and not `secure` (OVS `bridge.c`).
    pub fn new(
        br: Arc<OpenFlowBridge>,
        ctrls: &[ControllerCfg],
        secure: bool,
        versions: Vec<u8>,
    ) -> ConnMgr {
        let shared = Arc::new(ConnShared::new(versions.clone()));
        let path = crate::cli::rundir().join(format!("{}.mgmt", br.name()));
        let mgmt = match Listener::start(br.clone(), shared.clone(), &Target::PUnix(path), None) {
            Ok(l) => Some(l),
            Err(e) => {
                vlog::warn(
                    "connmgr",
                    format!("{}: cannot listen on mgmt socket ({e})", br.name()),
                );
                None
            }
        };
        let mut m = ConnMgr {
            br,
            shared,
            _mgmt: mgmt,
            controllers: BTreeMap::new(),
            services: BTreeMap::new(),
            secure,
        };
        m.configure(ctrls, secure, versions);
        if !m.has_controllers() {
            m.flushed();
        }
        m
    }

    /// Whether any primary (active) controller is configured, connected or
    /// not (OVS `connmgr_has_controllers()`).
    pub fn has_controllers(&self) -> bool {
        !self.controllers.is_empty()
    }

    /// After the flow table was flushed: the NORMAL flow for a standalone
    /// bridge without primary controllers (OVS `connmgr_flushed()`).
    fn flushed(&self) {
        if !self.has_controllers() && !self.secure {
            let _ = self.br.flow_mod(&crate::openflow::default_flow());
        }
    }

    fn flush(&self) {
        self.br.flush_flows();
        self.flushed();
    }

    /// Applies the bridge's `controller` rows, `fail_mode` (`secure` or
    /// not) and allowed versions (`protocols`): starts and stops only the
    /// targets that changed, and flushes the flow table as OVS does (see
    /// the module documentation). Unparsable targets are logged and skipped.
    pub fn configure(&mut self, ctrls: &[ControllerCfg], secure: bool, versions: Vec<u8>) {
        let name = self.br.name().to_string();
        let had = self.has_controllers();
        let versions_changed = *self.shared.versions.read() != versions;
        if versions_changed {
            *self.shared.versions.write() = versions;
            // Controllers reconnect to offer the new versions (OVS
            // `rconn_set_allowed_versions()`).
            self.controllers.clear();
        }
        let mut want: BTreeMap<String, (Target, &ControllerCfg)> = BTreeMap::new();
        for c in ctrls {
            match Target::parse(&c.target) {
                Ok(t) => {
                    want.entry(c.target.clone()).or_insert((t, c));
                }
                Err(e) => vlog::warn(
                    "connmgr",
                    format!("{name}: unsupported controller \"{}\" ({e})", c.target),
                ),
            }
        }
        self.controllers.retain(|t, _| {
            let keep = want.get(t).is_some_and(|(t, _)| t.is_active());
            if !keep {
                vlog::info(
                    "connmgr",
                    format!("{name}: removed primary controller \"{t}\""),
                );
            }
            keep
        });
        self.services.retain(|t, _| {
            let keep = want.get(t).is_some_and(|(t, _)| !t.is_active());
            if !keep {
                vlog::info(
                    "connmgr",
                    format!("{name}: removed service controller \"{t}\""),
                );
            }
            keep
        });
        for (t, (target, c)) in want {
            if target.is_active() {
                match self.controllers.get(&t) {
                    Some(a) => *a.cfg.lock() = c.clone(),
                    None => {
                        if !versions_changed {
                            vlog::info(
                                "connmgr",
                                format!("{name}: added primary controller \"{t}\""),
                            );
                        }
                        let a =
                            Active::start(self.br.clone(), self.shared.clone(), c.clone(), target);
                        self.controllers.insert(t, a);
                    }
                }
            } else if !self.services.contains_key(&t) {
                match Listener::start(self.br.clone(), self.shared.clone(), &target, c.probe) {
                    Ok(l) => {
                        vlog::info(
                            "connmgr",
                            format!("{name}: added service controller \"{t}\""),
                        );
                        self.services.insert(t, l);
                    }
                    Err(e) => vlog::warn(
                        "connmgr",
                        format!("{name}: {t}: listen failed ({})", errno_text(&e)),
                    ),
                }
            }
        }
        let mode_changed = self.secure != secure;
        self.secure = secure;
        if had != self.has_controllers() || (mode_changed && !self.has_controllers()) {
            self.flush();
        }
        self.run();
    }

    /// Periodic work (OVS `fail_open_run()`): enters fail-open when no
    /// primary controller has been admitted for 3 x the largest probe
    /// interval, leaves it when one is.
    pub fn run(&self) {
        let want = if self.has_controllers() && !self.secure {
            let now = Instant::now();
            let trigger = 3 * self
                .controllers
                .values()
                .filter_map(|a| a.cfg.lock().probe)
                .max()
                .unwrap_or(Duration::ZERO);
            let failure = self
                .controllers
                .values()
                .map(|a| a.st.failure_duration(now))
                .min()
                .unwrap_or(Duration::ZERO);
            (failure >= trigger, failure)
        } else {
            (false, Duration::ZERO)
        };
        if want.0 != self.br.fail_open() {
            if want.0 {
                vlog::warn(
                    "fail_open",
                    format!(
                        "{}: Could not connect to controller (or switch failed \
                         controller's post-connection admission control policy) for \
                         {} seconds, failing open",
                        self.br.name(),
                        want.1.as_secs()
                    ),
                );
            } else {
                vlog::warn(
                    "fail_open",
                    format!("{}: No longer in fail-open mode", self.br.name()),
                );
            }
            self.br.set_fail_open(want.0);
        }
    }

    /// The status of the primary controller `target`; `None` for passive or
    /// unknown targets (whose rows OVS leaves disconnected, without role or
    /// status).
    pub fn controller_info(&self, target: &str) -> Option<ControllerInfo> {
        let a = self.controllers.get(target)?;
        let i = a.st.inner.lock();
        let now = Instant::now();
        let role = i
            .sink
            .as_ref()
            .and_then(Weak::upgrade)
            .map_or(ROLE_EQUAL, |s| s.role());
        let mut status = BTreeMap::new();
        if let Some(e) = &i.last_error {
            status.insert("last_error".to_string(), e.clone());
        }
        status.insert("state".to_string(), i.state.to_string());
        if let Some(t) = i.last_connected {
            status.insert(
                "sec_since_connect".to_string(),
                now.duration_since(t).as_secs().to_string(),
            );
        }
        if let Some(t) = i.last_disconnected {
            status.insert(
                "sec_since_disconnect".to_string(),
                now.duration_since(t).as_secs().to_string(),
            );
        }
        Some(ControllerInfo {
            is_connected: i.connected,
            role: role_name(role).unwrap_or("other"),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_ovs_defaults() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            Target::parse("tcp:127.0.0.1").unwrap(),
            Target::Tcp(a("127.0.0.1:6653"))
        );
        assert_eq!(
            Target::parse("tcp:10.0.0.1:6633").unwrap(),
            Target::Tcp(a("10.0.0.1:6633"))
        );
        assert_eq!(
            Target::parse("tcp:[::1]:7000").unwrap(),
            Target::Tcp(a("[::1]:7000"))
        );
        assert_eq!(
            Target::parse("ptcp:").unwrap(),
            Target::PTcp(a("0.0.0.0:6653"))
        );
        assert_eq!(
            Target::parse("ptcp:6700:127.0.0.1").unwrap(),
            Target::PTcp(a("127.0.0.1:6700"))
        );
        assert_eq!(
            Target::parse("punix:/tmp/x").unwrap(),
            Target::PUnix("/tmp/x".into())
        );
        assert!(Target::parse("unix:/tmp/y").unwrap().is_active());
        assert!(Target::parse("ssl:1.2.3.4").is_err());
        assert!(Target::parse("tcp:nothost").is_err());
        assert!(Target::parse("tcp:1.2.3.4:99999").is_err());
        assert!(Target::parse("punix:").is_err());
        assert!(Target::parse("bogus").is_err());
    }

    #[test]
    fn backoff_doubles_to_max_and_resets_after_a_stable_connection() {
        let max = Duration::from_secs(8);
        let mut b = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..6 {
            b = next_backoff(b, max, false);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 8, 8]);
        assert_eq!(next_backoff(b, max, true), MIN_BACKOFF);
    }

    #[test]
    fn controller_rows_get_ovs_defaults() {
        let row = |mb: Option<i64>, ip: Option<i64>| ovsdb::vswitch::Controller {
            uuid: ovsdb::Uuid::nil(),
            target: "tcp:1.2.3.4".into(),
            max_backoff: mb,
            inactivity_probe: ip,
            connection_mode: None,
            other_config: BTreeMap::new(),
        };
        let c = ControllerCfg::from_row(&row(None, None));
        assert_eq!(c.max_backoff, DEFAULT_MAX_BACKOFF);
        assert_eq!(c.probe, Some(DEFAULT_PROBE));
        let c = ControllerCfg::from_row(&row(Some(10), Some(0)));
        assert_eq!(c.max_backoff, Duration::from_secs(1));
        assert_eq!(c.probe, None);
    }
}
