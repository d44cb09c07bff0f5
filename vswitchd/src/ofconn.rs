//! One OpenFlow connection of a bridge (OVS `ofproto/connmgr.c` `struct
//! ofconn`), over any byte stream ([`OfStream`]: unix or TCP), served by one
//! thread; [`crate::connmgr`] decides which connections exist (the
//! `<bridge>.mgmt` socket, `Bridge.controller` targets).
//!
//! Each connection sends HELLO first, negotiates a version among those the
//! bridge allows (`Bridge.protocols`, OpenFlow 1.5.1 section 7.5.1; no
//! common version: OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE and close), then
//! serves: ECHO, FEATURES, GET/SET_CONFIG, BARRIER,
//! ROLE (standard and Nicira), FLOW_MOD (standard and NXT_FLOW_MOD, with
//! NXT_FLOW_MOD_TABLE_ID), NXT_SET_FLOW_FORMAT / SET_PACKET_IN_FORMAT /
//! SET_CONTROLLER_ID, multipart DESC / FLOW / AGGREGATE / TABLE /
//! TABLE_FEATURES / PORT_DESC / PORT_STATS (and NXST_FLOW / NXST_AGGREGATE),
//! bundles (OpenFlow 1.4+ and the OpenFlow 1.3 ONF extension; commit is
//! atomic), PACKET_OUT, NXT_RESUME (continuations of `controller(pause)`,
//! [`OpenFlowBridge::resume`]), the TLV table (NXT_TLV_TABLE_MOD/REQUEST,
//! [`ofproto::tlv`]), GROUP_MOD / METER_MOD and
//! the group and meter multiparts (OpenFlow 1.3.5 sections 7.3.4.2, 7.3.4.4,
//! 7.3.5.9-7.3.5.14). Anything else is answered with the OFPT_ERROR the spec
//! asks for.
//!
//! Asynchronous messages (OpenFlow 1.5.1 section 7.4): every connection
//! subscribes to its bridge ([`crate::openflow::AsyncSink`]) and receives
//! PACKET_IN (standard, or NXT_PACKET_IN2 after NXT_SET_PACKET_IN_FORMAT),
//! FLOW_REMOVED (OpenFlow 1.1+ connections) and PORT_STATUS. A primary
//! (controller) connection starts with miss_send_len 128; a service
//! connection gets them only once it set a nonzero miss_send_len, as OVS
//! does (`ovs-ofctl monitor BRIDGE 65534`).
//!
//! Roles (OpenFlow 1.3.5 section 6.3.6, NXT_ROLE_REQUEST): every connection
//! starts as `equal` ("other"); a new master demotes the bridge's other
//! masters to slaves; master/slave requests carry a generation_id that must
//! not be older than the last one seen (else OFPET_ROLE_REQUEST_FAILED /
//! OFPRRFC_STALE). A slave gets only PORT_STATUS (the default asynchronous
//! configuration of OpenFlow 1.3.5 section 7.3.10) and is refused
//! state-changing messages with OFPBRC_IS_SLAVE.
//!
//! Keepalive (OVS `rconn`): when a connection has a probe interval and
//! nothing arrived for that long, it sends ECHO_REQUEST; still silent one
//! interval later, it is dropped.

use crate::ofasync::{AsyncConfig, AsyncKind, REASON_IMPLICIT_MISS};
use crate::openflow::{AsyncEvent, AsyncSink, OfPort, OpenFlowBridge, ResumeError};
use crate::vlog;
use ofproto::ofp::async_cfg::RoleStatus;
use ofproto::ofp::continuation::Continuation;
use ofproto::ofp::error::ErrorCode;
use ofproto::ofp::flow::Match;
use ofproto::ofp::flow::{FlowRemoved, PacketIn};
use ofproto::ofp::hello::negotiate;
use ofproto::ofp::match10::Match10;
use ofproto::ofp::msgs::{ErrorMsg, Message};
use ofproto::ofp::multipart::{
    mp_type, Desc, FlowStats, FlowStatsRequest, GroupDesc, GroupStats, MeterConfig, MeterStats,
    MpRepBody, MpReqBody, MultipartReply, PortStats, TableStats,
};
use ofproto::ofp::nicira::NxMsg;
use ofproto::ofp::nicira::{nxpint, Prop};
use ofproto::ofp::oxm::{Field, MatchField, OxmMatch};
use ofproto::ofp::switch::PortStatus;
use ofproto::ofp::switch::{bundle_ctrl, BundleControl, FeaturesReply, Port, SwitchConfig};
use ofproto::ofp::{Decoder, Header, Hello};
use ofproto::table::key::match_from_oxm_tlv;
use ofproto::table::{FlowModError, FlowModSpec};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// OpenFlow versions served by default (1.0 to 1.5; OVS's default when
/// `Bridge.protocols` is empty).
pub const VERSIONS: &[u8] = &[1, 2, 3, 4, 5, 6];

/// Number of tables reported (OVS reports 254; table 254 is hidden).
pub const N_TABLES_REPORTED: u8 = 254;

/// The wire versions allowed by `Bridge.protocols` (`OpenFlow10` ..
/// `OpenFlow15`, ovs-vswitchd.conf.db(5)); unknown names are ignored, and
/// an empty (or all-unknown) list allows every version OVS allows.
pub fn allowed_versions(protocols: &[String]) -> Vec<u8> {
    let mut v: Vec<u8> = protocols
        .iter()
        .filter_map(|p| match p.as_str() {
            "OpenFlow10" => Some(1),
            "OpenFlow11" => Some(2),
            "OpenFlow12" => Some(3),
            "OpenFlow13" => Some(4),
            "OpenFlow14" => Some(5),
            "OpenFlow15" => Some(6),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    if v.is_empty() {
        VERSIONS.to_vec()
    } else {
        v
    }
}

/// A byte stream to an OpenFlow peer: a unix-domain or TCP socket.
pub enum OfStream {
    /// `unix:` / `punix:` (and the `.mgmt` socket).
    Unix(UnixStream),
    /// `tcp:` / `ptcp:`.
    Tcp(TcpStream),
}

impl OfStream {
    /// A second handle to the same socket (for the writing side).
    pub fn try_clone(&self) -> std::io::Result<OfStream> {
        Ok(match self {
            OfStream::Unix(s) => OfStream::Unix(s.try_clone()?),
            OfStream::Tcp(s) => OfStream::Tcp(s.try_clone()?),
        })
    }

    /// Read timeout (`None`: block).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            OfStream::Unix(s) => s.set_read_timeout(t),
            OfStream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    /// Blocking mode (accepted sockets inherit the listener's non-blocking
    /// mode on some platforms).
    pub fn set_nonblocking(&self, nb: bool) -> std::io::Result<()> {
        match self {
            OfStream::Unix(s) => s.set_nonblocking(nb),
            OfStream::Tcp(s) => s.set_nonblocking(nb),
        }
    }

    /// Shuts both directions down, which ends the connection's thread.
    pub fn shutdown(&self) {
        let _ = match self {
            OfStream::Unix(s) => s.shutdown(Shutdown::Both),
            OfStream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for OfStream {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            OfStream::Unix(s) => s.read(b),
            OfStream::Tcp(s) => s.read(b),
        }
    }
}

impl Write for OfStream {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            OfStream::Unix(s) => s.write(b),
            OfStream::Tcp(s) => s.write(b),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            OfStream::Unix(s) => s.flush(),
            OfStream::Tcp(s) => s.flush(),
        }
    }
}

/// OFPCR_ROLE_NOCHANGE (OpenFlow 1.3.5 section 7.3.9).
pub const ROLE_NOCHANGE: u32 = 0;
/// OFPCR_ROLE_EQUAL ("other" in `Controller.role`).
pub const ROLE_EQUAL: u32 = 1;
/// OFPCR_ROLE_MASTER.
pub const ROLE_MASTER: u32 = 2;
/// OFPCR_ROLE_SLAVE.
pub const ROLE_SLAVE: u32 = 3;

/// The `Controller.role` text of an OFPCR_ROLE_* value (OVS
/// `ofp12_controller_role_to_str()`).
pub fn role_name(role: u32) -> Option<&'static str> {
    match role {
        ROLE_EQUAL => Some("other"),
        ROLE_MASTER => Some("master"),
        ROLE_SLAVE => Some("slave"),
        _ => None,
    }
}

/// Whether a connection is to a controller (`Bridge.controller` with an
/// active target: async messages by default) or a service connection
/// (`.mgmt`, `ptcp:`/`punix:` targets: async messages only after
/// OFPT_SET_CONFIG with a nonzero miss_send_len), OVS `enum ofconn_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// OFCONN_PRIMARY.
    Primary,
    /// OFCONN_SERVICE.
    Service,
}

/// State shared by all connections of one bridge: the versions it allows,
/// the master election id (generation_id) and the live connections, for
/// role changes (OVS `struct connmgr` fields).
#[derive(Default)]
pub struct ConnShared {
    /// Wire versions allowed ([`allowed_versions`]); read at each HELLO.
    pub versions: parking_lot::RwLock<Vec<u8>>,
    election_id: Mutex<Option<u64>>,
    conns: Mutex<Vec<Weak<Sink>>>,
}

impl ConnShared {
    /// Shared state allowing `versions`.
    pub fn new(versions: Vec<u8>) -> ConnShared {
        ConnShared {
            versions: parking_lot::RwLock::new(versions),
            ..ConnShared::default()
        }
    }

    fn register(&self, s: &Arc<Sink>) {
        let mut v = self.conns.lock();
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(s));
    }

    /// Records a master/slave request's generation_id; false if it is
    /// stale, i.e. `(id - current) as i64 < 0` (OpenFlow 1.3.5 section
    /// 6.3.6, OVS `ofconn_set_master_election_id()`).
    fn set_election_id(&self, id: u64) -> bool {
        let mut cur = self.election_id.lock();
        if let Some(c) = *cur {
            if (id.wrapping_sub(c) as i64) < 0 {
                return false;
            }
        }
        *cur = Some(id);
        true
    }

    /// Gives `me` `role`; a new master demotes the other masters to slaves.
    /// Demoted OpenFlow 1.4+ masters are told with OFPT_ROLE_STATUS
    /// (OpenFlow 1.4.1 section 7.4.4, reason OFPCRR_MASTER_REQUEST; OVS
    /// `ofconn_set_role()`).
    fn set_role(&self, me: &Arc<Sink>, role: u32) {
        if role == ROLE_MASTER {
            let generation_id = self.election_id.lock().unwrap_or(u64::MAX);
            for s in self.conns.lock().iter().filter_map(Weak::upgrade) {
                if Arc::ptr_eq(&s, me) {
                    continue;
                }
                let demoted = s
                    .role
                    .compare_exchange(ROLE_MASTER, ROLE_SLAVE, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
                let v = s.cfg.lock().version;
                if demoted && v >= 5 {
                    let st = Message::RoleStatus(RoleStatus {
                        role: ROLE_SLAVE,
                        reason: 0,
                        generation_id,
                    });
                    s.write(&st.encode(v, 0));
                }
            }
        }
        me.role.store(role, Ordering::SeqCst);
    }

    /// Recomputes whether a table miss goes to the controller: some live
    /// connection speaks OpenFlow 1.0-1.2 (OVS
    /// `update_want_packet_in_on_miss()`; connections that have not
    /// finished HELLO are left out). A change revalidates the megaflows.
    pub fn update_miss(&self, br: &OpenFlowBridge) {
        let want = self
            .conns
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .any(|s| (1..=3).contains(&s.cfg.lock().version));
        let old = br
            .pipe
            .miss_packet_in
            .swap(want, std::sync::atomic::Ordering::SeqCst);
        if old != want {
            br.pipe.tables.write().version += 1;
        }
    }
}

/// Connection-level observations a controller's reconnect loop reports in
/// `Controller.status` (see [`crate::connmgr`]).
pub trait ConnObserver: Send + Sync {
    /// The connection received an "admitted" message: anything but HELLO,
    /// ERROR, ECHO, FEATURES and (GET_/SET_)CONFIG (OVS `rconn`
    /// `is_admitted_msg()`).
    fn admitted(&self);
    /// An inactivity probe is outstanding (`true`: rconn state IDLE) or was
    /// answered (`false`: ACTIVE).
    fn idle(&self, idle: bool);
}

/// How one connection behaves.
pub struct ConnOpts {
    /// Primary or service.
    pub kind: ConnKind,
    /// Inactivity probe interval (`None`: no keepalive).
    pub probe: Option<Duration>,
    /// Who is told about admission and probes.
    pub observer: Option<Arc<dyn ConnObserver>>,
}

/// What a connection asked for in asynchronous messages.
#[derive(Debug, Clone, Copy, Default)]
struct AsyncCfg {
    /// Negotiated version (0: not yet).
    version: u8,
    /// OFPT_SET_CONFIG miss_send_len; a service (passive) connection gets
    /// asynchronous messages only once it set a nonzero one (OVS
    /// `ofconn_receives_async_msg()`).
    miss_send_len: u16,
    /// NXT_SET_PACKET_IN_FORMAT: 0 standard, 1 NXM, 2 NXT_PACKET_IN2.
    pin_format: u32,
    /// NXT_SET_FLOW_FORMAT: NXFF_OPENFLOW10 0, NXFF_NXM 2 (OpenFlow 1.0
    /// connections; picks OFPT_FLOW_REMOVED or NXT_FLOW_REMOVED).
    flow_format: u32,
    /// Which messages and reasons the connection receives, by role
    /// (OFPT_SET_ASYNC; set to the version's default at negotiation).
    masks: AsyncConfig,
}

/// The sending side of a connection, shared with the bridge for
/// asynchronous messages and with [`ConnShared`] for roles.
pub struct Sink {
    w: Mutex<OfStream>,
    cfg: Mutex<AsyncCfg>,
    /// OFPCR_ROLE_* of the connection.
    role: AtomicU32,
}

impl Sink {
    fn write(&self, b: &[u8]) -> bool {
        self.w.lock().write_all(b).is_ok()
    }

    /// The connection's OFPCR_ROLE_* role.
    pub fn role(&self) -> u32 {
        self.role.load(Ordering::SeqCst)
    }
}

impl AsyncSink for Sink {
    fn deliver(&self, ev: &AsyncEvent) -> bool {
        let cfg = *self.cfg.lock();
        if cfg.version == 0 || cfg.miss_send_len == 0 {
            return true;
        }
        let (kind, why) = match ev {
            AsyncEvent::PacketIn { reason, .. } => (AsyncKind::PacketIn, *reason),
            AsyncEvent::PortStatus { reason, .. } => (AsyncKind::PortStatus, *reason),
            AsyncEvent::FlowRemoved { reason, .. } => (AsyncKind::FlowRemoved, *reason),
        };
        if !cfg.masks.wants(kind, why, self.role() == ROLE_SLAVE) {
            return true;
        }
        let v = cfg.version;
        let msg = match ev {
            AsyncEvent::PacketIn {
                data,
                total_len,
                reason,
                table_id,
                cookie,
                in_port,
                paused,
            } => {
                // A miss without a table-miss flow is OFPR_NO_MATCH with
                // the connection's miss_send_len bytes (OFPCML_NO_BUFFER
                // 0xffff: all); total_len stays the frame's.
                let (reason, data) = if *reason == REASON_IMPLICIT_MISS {
                    let n = match cfg.miss_send_len {
                        0xffff => data.len(),
                        n => data.len().min(n as usize),
                    };
                    (&0u8, &data[..n])
                } else {
                    (reason, &data[..])
                };
                let mut m = OxmMatch::default();
                if let Some(f) = MatchField::new(Field::InPort, &in_port.to_be_bytes(), None, false)
                {
                    m.fields.push(f);
                }
                if let Some((p, _)) = paused {
                    m = pause_metadata(*in_port, &p.meta);
                }
                if cfg.pin_format == 0 {
                    Message::PacketIn(PacketIn {
                        buffer_id: u32::MAX,
                        total_len: (*total_len).min(0xffff) as u16,
                        reason: *reason,
                        table_id: *table_id,
                        cookie: *cookie,
                        in_port: *in_port,
                        match_: m,
                        data: data.to_vec(),
                    })
                } else {
                    let mut md = Vec::new();
                    m.encode_tlvs(&mut md);
                    let mut ck = vec![0u8; 4];
                    ck.extend_from_slice(&cookie.to_be_bytes());
                    let p = |ptype: u16, value: Vec<u8>| Prop { ptype, value };
                    let mut props = vec![
                        p(nxpint::PACKET, data.to_vec()),
                        p(nxpint::FULL_LEN, total_len.to_be_bytes().to_vec()),
                        p(nxpint::TABLE_ID, vec![*table_id]),
                        p(nxpint::COOKIE, ck),
                        p(nxpint::REASON, vec![*reason]),
                        p(nxpint::METADATA, md),
                    ];
                    if let Some((st, bridge)) = paused {
                        let c = Continuation {
                            bridge: *bridge,
                            segments: st.segments.clone(),
                            action_set: st.action_set.clone(),
                            conntracked: false,
                        };
                        props.push(p(nxpint::CONTINUATION, c.encode(v)));
                        if let Some(u) = &st.userdata {
                            props.push(p(nxpint::USERDATA, u.clone()));
                        }
                    }
                    Message::Nx(NxMsg::PacketIn2(props))
                }
            }
            AsyncEvent::FlowRemoved {
                rule,
                reason,
                duration_ns,
                tlv,
            } => {
                let nxm = v == 1 && cfg.flow_format == ofproto::ofp::nicira::NXFF_NXM;
                let match_ = if v == 1 && !nxm {
                    // OpenFlow 1.0.0 section 5.4.2: the ofp10 match.
                    Match::Of10(Match10::from_fields(&rule.oxm(true, tlv)))
                } else {
                    Match::Oxm(rule.oxm(nxm, tlv))
                };
                let fr = FlowRemoved {
                    cookie: rule.cookie,
                    priority: rule.priority,
                    reason: *reason,
                    table_id: rule.table_id,
                    duration_sec: (duration_ns / 1_000_000_000) as u32,
                    duration_nsec: (duration_ns % 1_000_000_000) as u32,
                    idle_timeout: rule.idle_timeout,
                    hard_timeout: rule.hard_timeout,
                    packet_count: rule.packets.load(Ordering::Relaxed),
                    byte_count: rule.bytes.load(Ordering::Relaxed),
                    match_,
                };
                if nxm {
                    Message::Nx(NxMsg::FlowRemoved(fr))
                } else {
                    Message::FlowRemoved(fr)
                }
            }
            AsyncEvent::PortStatus { reason, port } => Message::PortStatus(PortStatus {
                reason: *reason,
                port: port_desc(port),
            }),
        };
        self.write(&msg.encode(v, 0))
    }
}

/// NXPINT_METADATA of a paused packet: in_port, then `metadata` and the
/// registers that are nonzero (OVS `flow_get_metadata()`).
fn pause_metadata(in_port: u32, meta: &[u64; ofproto::table::key::META_WORDS]) -> OxmMatch {
    let mut value = ofproto::table::key::XKey::default();
    let mut mask = ofproto::table::key::XKey::default();
    value
        .flow
        .set(dp_core::flow::fields::IN_PORT, in_port as u64);
    mask.flow.set_exact(dp_core::flow::fields::IN_PORT);
    for (i, &w) in meta.iter().enumerate().take(9) {
        value.meta[i] = w;
        mask.meta[i] = if i == 0 {
            u64::MAX * (w != 0) as u64
        } else {
            (0xffff_ffff_0000_0000 * (w >> 32 != 0) as u64)
                | (0xffff_ffff * (w & 0xffff_ffff != 0) as u64)
        };
    }
    ofproto::table::key::match_to_oxm(&value, &mask, false)
}

/// The OpenFlow description of a bridge port.
fn port_desc(p: &OfPort) -> Port {
    Port {
        port_no: if p.ofport == 0xfffe {
            ofproto::ofp::actions::OFPP_LOCAL
        } else {
            p.ofport
        },
        hw_addr: p.netdev.mac(),
        name: p.name.chars().take(15).collect(),
        config: p.config,
        // OFPPS_LINK_DOWN: the device's link, or the port administratively
        // down (OFPPC_PORT_DOWN, which OVS applies to the device).
        state: if p.netdev.link_state().to_string() == "up"
            && p.config & ofproto::ofp::switch::ofppc::PORT_DOWN == 0
        {
            0
        } else {
            1
        },
        curr: 0x820,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
        other_props: Vec::new(),
    }
}

/// One OpenFlow connection; [`Conn::run`] serves it until it closes.
pub struct Conn {
    br: Arc<OpenFlowBridge>,
    s: OfStream,
    shared: Arc<ConnShared>,
    opts: ConnOpts,
    sink: Arc<Sink>,
    /// Keeps the bridge's subscription alive.
    sub: Arc<dyn AsyncSink>,
    version: u8,
    table_id_ext: bool,
    miss_send_len: u16,
    flags: u16,
    bundles: HashMap<u32, Vec<(Header, Vec<u8>, FlowModSpec)>>,
    bundle_err: HashMap<u32, bool>,
}

impl Drop for Conn {
    /// A closed connection no longer asks for table-miss packet-ins.
    fn drop(&mut self) {
        self.sink.cfg.lock().version = 0;
        self.shared.update_miss(&self.br);
    }
}

/// OFPQ_ALL: every queue of a port.
const OFPQ_ALL: u32 = 0xffff_ffff;

fn ofp_err(code: ErrorCode) -> FlowModError {
    FlowModError::Codec(ofproto::ofp::OfpError::new(code, "unsupported"))
}

impl Conn {
    /// A connection of bridge `br` over `s`, subscribed to its asynchronous
    /// messages; `None` if the socket cannot be duplicated.
    pub fn new(
        br: Arc<OpenFlowBridge>,
        shared: Arc<ConnShared>,
        s: OfStream,
        opts: ConnOpts,
    ) -> Option<Conn> {
        let _ = s.set_nonblocking(false);
        let sink = Arc::new(Sink {
            w: Mutex::new(s.try_clone().ok()?),
            cfg: Mutex::new(AsyncCfg::default()),
            role: AtomicU32::new(ROLE_EQUAL),
        });
        shared.register(&sink);
        let sub: Arc<dyn AsyncSink> = sink.clone();
        br.subscribe(&sub);
        // OFP_DEFAULT_MISS_SEND_LEN for controllers, 0 for services.
        let miss_send_len = if opts.kind == ConnKind::Primary {
            128
        } else {
            0
        };
        Some(Conn {
            br,
            s,
            shared,
            opts,
            sink,
            sub,
            version: 0,
            table_id_ext: false,
            miss_send_len,
            flags: 0,
            bundles: HashMap::new(),
            bundle_err: HashMap::new(),
        })
    }

    /// The connection's sending side (its role, for status reports).
    pub fn sink(&self) -> Arc<Sink> {
        self.sink.clone()
    }

    fn send(&mut self, xid: u32, m: &Message) -> bool {
        let v = if self.version == 0 { 6 } else { self.version };
        self.sink.write(&m.encode(v, xid))
    }

    /// Mirrors the connection's settings into its asynchronous sink.
    fn sync_async(&self) {
        let mut c = self.sink.cfg.lock();
        c.version = self.version;
        c.miss_send_len = self.miss_send_len;
    }

    fn error(&mut self, h: &Header, frame: &[u8], e: &FlowModError) -> bool {
        if let FlowModError::Codec(c) = e {
            if let Some((c10, c12)) = c.code.nx_codes() {
                return self.send_nx_error(h, frame, c10, c12);
            }
        }
        let v = if self.version == 0 {
            h.version
        } else {
            self.version
        };
        let (err_type, code) = e.to_wire(v);
        let data = frame[..frame.len().min(64)].to_vec();
        self.send(
            h.xid,
            &Message::Error(ErrorMsg {
                err_type,
                code,
                experimenter: None,
                data,
            }),
        )
    }

    /// Sends HELLO, then serves the connection until the peer closes it,
    /// it fails the keepalive, or the socket is shut down.
    pub fn run(mut self) {
        let versions = self.shared.versions.read().clone();
        let top = versions.iter().copied().max().unwrap_or(6);
        let hello = Message::Hello(Hello::with_versions(&versions));
        if !self.sink.write(&hello.encode(top, 0)) {
            return;
        }
        let mut dec = Decoder::new();
        let mut buf = vec![0u8; 65536];
        // Keepalive: poll at a quarter of the probe interval.
        if let Some(p) = self.opts.probe {
            let _ = self
                .s
                .set_read_timeout(Some((p / 4).max(Duration::from_millis(50))));
        }
        let mut last_rx = Instant::now();
        let mut probe_sent: Option<Instant> = None;
        loop {
            let n = match self.s.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    let Some(p) = self.opts.probe else { continue };
                    match probe_sent {
                        None if last_rx.elapsed() >= p => {
                            let v = if self.version == 0 { top } else { self.version };
                            let echo = Message::EchoRequest(Vec::new()).encode(v, 0);
                            if !self.sink.write(&echo) {
                                return;
                            }
                            probe_sent = Some(Instant::now());
                            if let Some(o) = &self.opts.observer {
                                o.idle(true);
                            }
                        }
                        Some(t) if t.elapsed() >= p => {
                            vlog::info(
                                "rconn",
                                format!(
                                    "{}: no response to inactivity probe after {} seconds, \
                                     disconnecting",
                                    self.br.name(),
                                    p.as_secs_f64()
                                ),
                            );
                            return;
                        }
                        _ => {}
                    }
                    continue;
                }
                Err(_) => return,
            };
            last_rx = Instant::now();
            if probe_sent.take().is_some() {
                if let Some(o) = &self.opts.observer {
                    o.idle(false);
                }
            }
            dec.feed(&buf[..n]);
            loop {
                let frame = match dec.next_frame() {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(rej) => {
                        let _ = self.sink.write(&rej.error_reply());
                        if rej.fatal {
                            return;
                        }
                        continue;
                    }
                };
                let (h, m) = match Message::decode(&frame) {
                    Ok(x) => x,
                    Err(e) => {
                        let Some(h) = Header::parse(&frame) else {
                            return;
                        };
                        if !self.error(&h, &frame, &FlowModError::Codec(e)) {
                            return;
                        }
                        continue;
                    }
                };
                if let Some(o) = &self.opts.observer {
                    if !matches!(
                        m,
                        Message::Hello(_)
                            | Message::Error(_)
                            | Message::EchoRequest(_)
                            | Message::EchoReply(_)
                            | Message::FeaturesRequest
                            | Message::FeaturesReply(_)
                            | Message::GetConfigRequest
                            | Message::GetConfigReply(_)
                            | Message::SetConfig(_)
                    ) {
                        o.admitted();
                    }
                }
                if !self.handle(&h, m, &frame) {
                    return;
                }
            }
        }
    }

    /// Handles one message; false closes the connection.
    fn handle(&mut self, h: &Header, m: Message, frame: &[u8]) -> bool {
        if self.version == 0 {
            let versions = self.shared.versions.read().clone();
            return match m {
                Message::Hello(hl) => match negotiate(&versions, h.version, &hl) {
                    Ok(v) => {
                        self.version = v;
                        self.sink.cfg.lock().masks = AsyncConfig::default_for(v);
                        self.sync_async();
                        self.shared.update_miss(&self.br);
                        true
                    }
                    Err(e) => {
                        vlog::info(
                            "vconn",
                            format!(
                                "{}: version negotiation failed (we support versions {}, \
                                 peer supports version 0x{:02x})",
                                self.br.name(),
                                versions
                                    .iter()
                                    .map(|v| format!("0x{v:02x}"))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                h.version
                            ),
                        );
                        self.error(h, frame, &FlowModError::Codec(e));
                        false
                    }
                },
                _ => false,
            };
        }
        let v = self.version;
        if self.sink.role() == ROLE_SLAVE
            && matches!(
                m,
                Message::FlowMod(_)
                    | Message::Nx(NxMsg::FlowMod(_))
                    | Message::GroupMod(_)
                    | Message::MeterMod(_)
                    | Message::PacketOut(_)
                    | Message::PortMod(_)
                    | Message::TableMod { .. }
                    | Message::BundleAdd(_)
            )
        {
            return self.is_slave_error(h, frame);
        }
        match m {
            Message::Hello(_) => true,
            Message::EchoRequest(d) => self.send(h.xid, &Message::EchoReply(d)),
            Message::EchoReply(_) | Message::Error(_) => true,
            Message::FeaturesRequest => {
                let reply = FeaturesReply {
                    datapath_id: self.br.datapath_id.load(Ordering::Relaxed),
                    n_buffers: 0,
                    n_tables: N_TABLES_REPORTED,
                    auxiliary_id: 0,
                    capabilities: 0x4f,
                    actions: if v == 1 { 0xfff } else { 0 },
                    ports: if v <= 3 { self.ports() } else { Vec::new() },
                };
                self.send(h.xid, &Message::FeaturesReply(reply))
            }
            Message::GetConfigRequest => {
                let c = SwitchConfig {
                    flags: self.flags,
                    miss_send_len: self.miss_send_len,
                };
                self.send(h.xid, &Message::GetConfigReply(c))
            }
            Message::SetConfig(c) => {
                self.flags = c.flags;
                self.miss_send_len = c.miss_send_len;
                self.sync_async();
                true
            }
            Message::BarrierRequest => self.send(h.xid, &Message::BarrierReply),
            Message::SetAsync(m) => {
                self.sink.cfg.lock().masks.apply(&m, v);
                true
            }
            Message::GetAsyncRequest => {
                let m = self.sink.cfg.lock().masks.to_wire(v);
                self.send(h.xid, &Message::GetAsyncReply(m))
            }
            Message::RoleRequest(r) => self.role_request(h, r, frame),
            Message::FlowMod(fm) | Message::Nx(NxMsg::FlowMod(fm)) => {
                let tlv = self.br.pipe.tlv.read().clone();
                match FlowModSpec::from_ofp(&fm, v, self.table_id_ext, &tlv)
                    .and_then(|s| self.br.flow_mod(&s))
                {
                    Ok(_) => true,
                    Err(e) => self.error(h, frame, &e),
                }
            }
            Message::Nx(nx) => match nx {
                NxMsg::FlowModTableId(on) => {
                    self.table_id_ext = on != 0;
                    true
                }
                NxMsg::SetPacketInFormat(f) => {
                    self.sink.cfg.lock().pin_format = f;
                    true
                }
                NxMsg::SetFlowFormat(f) => {
                    self.sink.cfg.lock().flow_format = f;
                    true
                }
                NxMsg::SetControllerId(_) => true,
                NxMsg::SetAsyncConfig(m) => {
                    self.sink.cfg.lock().masks.apply(&m, v);
                    true
                }
                NxMsg::RoleRequest(r) => {
                    // NX_ROLE_OTHER 0, MASTER 1, SLAVE 2 (no generation_id).
                    let role = match r {
                        0 => ROLE_EQUAL,
                        1 => ROLE_MASTER,
                        2 => ROLE_SLAVE,
                        _ => return self.send_raw_error(h, frame, 1, 5),
                    };
                    self.shared.set_role(&self.sink, role);
                    let nx = match self.sink.role() {
                        ROLE_MASTER => 1,
                        ROLE_SLAVE => 2,
                        _ => 0,
                    };
                    self.send(h.xid, &Message::Nx(NxMsg::RoleReply(nx)))
                }
                NxMsg::Resume(_) => match self.br.resume(&nx, v) {
                    Ok(()) => true,
                    // OFPERR_NXR_STALE: NX1.0-1.1(1,534), NX1.2+(35).
                    Err(ResumeError::Stale) => self.send_nx_error(h, frame, 534, 35),
                    Err(ResumeError::Bad(e)) => self.error(h, frame, &FlowModError::Codec(e)),
                    Err(ResumeError::Exec(e)) => {
                        vlog::warn("connmgr", format!("resume failed: {e}"));
                        true
                    }
                },
                NxMsg::TlvTableMod { command, maps } => {
                    // A mapping that a flow uses cannot be deleted
                    // (NXTTMFC_INVALID_TLV_DEL).
                    let mut tlv = self.br.pipe.tlv.write();
                    let tables = self.br.pipe.tables.read();
                    let r = tlv.apply(command, &maps, |i| tables.tlv_in_use(i));
                    drop((tables, tlv));
                    match r {
                        Ok(()) => true,
                        Err(e) => {
                            let (c10, c12) = e.nx_codes();
                            self.send_nx_error(h, frame, c10, c12)
                        }
                    }
                }
                NxMsg::CtFlushZone(zone) => {
                    let f = ofproto::ofp::ct_flush::CtFlush {
                        zone: Some(zone),
                        ..Default::default()
                    };
                    self.ct_flush(h, frame, &f)
                }
                NxMsg::CtFlush(f) => self.ct_flush(h, frame, &f),
                NxMsg::TlvTableRequest => {
                    let maps = self.br.pipe.tlv.read().maps();
                    self.send(
                        h.xid,
                        &Message::Nx(NxMsg::TlvTableReply {
                            max_option_space: ofproto::tlv::TOT_OPT_SIZE as u32,
                            max_fields: ofproto::tlv::NUM_OPTS as u16,
                            maps,
                        }),
                    )
                }
                _ => self.error(h, frame, &ofp_err(ErrorCode::BadRequestExpType)),
            },
            Message::GroupMod(gm) => match self.br.group_mod(&gm) {
                Ok(()) => true,
                Err(e) => self.error(h, frame, &e),
            },
            Message::MeterMod(mm) => match self.br.meter_mod(&mm) {
                Ok(()) => true,
                Err(e) => self.error(h, frame, &e),
            },
            Message::PortMod(pm) => match self.br.port_mod(&pm, v) {
                Ok(Some(port)) => {
                    // OFPPR_MODIFY to the other connections (and to this
                    // one from OpenFlow 1.5 on).
                    let skip = (v < 6).then_some(&self.sub);
                    self.br
                        .publish_except(&AsyncEvent::PortStatus { reason: 2, port }, skip);
                    true
                }
                Ok(None) => true,
                Err(e) => {
                    let (t, c) = e.to_wire(v);
                    self.send_raw_error(h, frame, t, c)
                }
            },
            Message::QueueGetConfigRequest(port) => match self.queue_check(port, OFPQ_ALL) {
                Ok(()) => self.send(
                    h.xid,
                    &Message::QueueGetConfigReply {
                        port,
                        queues: Vec::new(),
                    },
                ),
                Err((t, c)) => self.send_raw_error(h, frame, t, c),
            },
            Message::MultipartRequest(r) => self.multipart(h, r, frame),
            Message::BundleControl(b) => self.bundle_control(h, b, frame),
            Message::BundleAdd(b) => {
                let id = b.bundle_id;
                let res = b
                    .inner()
                    .map_err(FlowModError::Codec)
                    .and_then(|(ih, im)| match im {
                        Message::FlowMod(fm) | Message::Nx(NxMsg::FlowMod(fm)) => {
                            let tlv = self.br.pipe.tlv.read().clone();
                            FlowModSpec::from_ofp(&fm, v, self.table_id_ext, &tlv).map(|s| (ih, s))
                        }
                        _ => Err(ofp_err(ErrorCode::BadRequestType)),
                    });
                match res {
                    Ok((ih, s)) => {
                        self.bundles
                            .entry(id)
                            .or_default()
                            .push((ih, b.message.clone(), s));
                        true
                    }
                    Err(e) => {
                        self.bundle_err.insert(id, true);
                        self.error(h, frame, &e)
                    }
                }
            }
            Message::PacketOut(po) => {
                let in_port = if v >= 6 {
                    po.match_
                        .get(ofproto::ofp::Field::InPort)
                        .map_or(ofproto::ofp::actions::OFPP_CONTROLLER, |f| {
                            f.value_u64() as u32
                        })
                } else {
                    po.in_port
                };
                if po.buffer_id != u32::MAX {
                    return self.error(h, frame, &ofp_err(ErrorCode::BadRequestLen));
                }
                if let Err(e) = self.br.packet_out(&po.data, in_port, &po.actions) {
                    vlog::warn("connmgr", format!("packet-out failed: {e}"));
                }
                true
            }
            _ => self.error(h, frame, &ofp_err(ErrorCode::BadRequestType)),
        }
    }

    /// Queue statistics and configuration requests (OFPMP_QUEUE,
    /// OFPT_QUEUE_GET_CONFIG_REQUEST, OFPMP_QUEUE_DESC) as OVS answers them
    /// for ports without QoS (`handle_queue_stats_request()`,
    /// `handle_queue_get_config_request()`): rvs ports have no queues, so
    /// `port` (OFPP_ANY: every port) with OFPQ_ALL gets an empty reply, a
    /// specific queue OFPQOFC_BAD_QUEUE and an unknown port
    /// OFPQOFC_BAD_PORT. `Err` is the OFPT_ERROR `(type, code)`
    /// (OFPET_QUEUE_OP_FAILED is 5 in OpenFlow 1.0, 9 later).
    fn queue_check(&self, port: u32, queue_id: u32) -> Result<(), (u16, u16)> {
        let t = if self.version <= 1 { 5 } else { 9 };
        // OpenFlow 1.0 spells "every port" OFPP_ALL (OVS
        // `ofputil_decode_queue_stats_request()`).
        let any = port == ofproto::ofp::actions::OFPP_ANY
            || (self.version == 1 && port == ofproto::ofp::actions::OFPP_ALL);
        let known = any || self.ports().iter().any(|p| p.port_no == port);
        if !known {
            return Err((t, 0));
        }
        if queue_id != OFPQ_ALL {
            return Err((t, 1));
        }
        Ok(())
    }

    /// NXT_CT_FLUSH_ZONE / NXT_CT_FLUSH (OVS `handle_nxt_ct_flush_zone()`,
    /// `handle_nxt_ct_flush()`): no reply on success; without a tracker,
    /// OFPBRC_EPERM as OVS's EOPNOTSUPP maps.
    fn ct_flush(&mut self, h: &Header, frame: &[u8], f: &ofproto::ofp::ct_flush::CtFlush) -> bool {
        match self.br.ct_flush(f) {
            Some(_) => true,
            None => self.error(h, frame, &ofp_err(ErrorCode::BadRequestEperm)),
        }
    }

    /// OFPT_ROLE_REQUEST (OpenFlow 1.3.5 sections 6.3.6 and 7.3.9, OVS
    /// `handle_role_request()`): NOCHANGE only reports; MASTER and SLAVE
    /// check and record the generation_id; the reply carries the role now
    /// held and the current generation_id (all-ones if none yet).
    fn role_request(&mut self, h: &Header, r: ofproto::ofp::switch::Role, frame: &[u8]) -> bool {
        if r.role > ROLE_SLAVE {
            // OFPET_ROLE_REQUEST_FAILED / OFPRRFC_BAD_ROLE.
            return self.send_raw_error(h, frame, 11, 2);
        }
        if r.role != ROLE_NOCHANGE {
            if r.role != ROLE_EQUAL && !self.shared.set_election_id(r.generation_id) {
                // OFPET_ROLE_REQUEST_FAILED / OFPRRFC_STALE.
                return self.send_raw_error(h, frame, 11, 0);
            }
            self.shared.set_role(&self.sink, r.role);
        }
        let reply = ofproto::ofp::switch::Role {
            role: self.sink.role(),
            generation_id: self.shared.election_id.lock().unwrap_or(u64::MAX),
        };
        self.send(h.xid, &Message::RoleReply(reply))
    }

    /// OFPBRC_IS_SLAVE: OpenFlow 1.2+ (OFPET_BAD_REQUEST, 10); earlier
    /// versions get OVS's Nicira vendor error (NXET_VENDOR 0xb0c2 wrapping
    /// type 1 code 514, OVS `lib/ofp-errors.h`).
    fn is_slave_error(&mut self, h: &Header, frame: &[u8]) -> bool {
        if self.version >= 3 {
            return self.send_raw_error(h, frame, 1, 10);
        }
        let mut data = Vec::with_capacity(72);
        data.extend_from_slice(&0x2320u32.to_be_bytes());
        data.extend_from_slice(&1u16.to_be_bytes());
        data.extend_from_slice(&514u16.to_be_bytes());
        data.extend_from_slice(&frame[..frame.len().min(64)]);
        self.send(
            h.xid,
            &Message::Error(ErrorMsg {
                err_type: 0xb0c2,
                code: 0,
                experimenter: None,
                data,
            }),
        )
    }

    fn bundle_control(&mut self, h: &Header, b: BundleControl, frame: &[u8]) -> bool {
        match b.ctrl_type {
            bundle_ctrl::OPEN_REQUEST => {
                self.bundles.insert(b.bundle_id, Vec::new());
                self.bundle_err.remove(&b.bundle_id);
                self.send(h.xid, &Message::BundleControl(b.reply()))
            }
            bundle_ctrl::CLOSE_REQUEST => self.send(h.xid, &Message::BundleControl(b.reply())),
            bundle_ctrl::DISCARD_REQUEST => {
                self.bundles.remove(&b.bundle_id);
                self.bundle_err.remove(&b.bundle_id);
                self.send(h.xid, &Message::BundleControl(b.reply()))
            }
            bundle_ctrl::COMMIT_REQUEST => {
                let msgs = self.bundles.remove(&b.bundle_id).unwrap_or_default();
                if self.bundle_err.remove(&b.bundle_id).is_some() {
                    // OFPBFC_MSG_FAILED (type 17 OFPET_BUNDLE_FAILED, code 14).
                    return self.send_raw_error(h, frame, 17, 14);
                }
                let specs: Vec<FlowModSpec> = msgs.iter().map(|m| m.2.clone()).collect();
                match self.br.flow_mods_atomic(&specs) {
                    Ok(_) => self.send(h.xid, &Message::BundleControl(b.reply())),
                    Err((i, e)) => {
                        let (ih, bytes, _) = &msgs[i];
                        let ok = self.error(ih, bytes, &e);
                        ok && self.send_raw_error(h, frame, 17, 14)
                    }
                }
            }
            _ => self.send_raw_error(h, frame, 17, 3),
        }
    }

    /// Sends a Nicira extension error (OVS `ofperr_encode_msg()`): for
    /// OpenFlow 1.0/1.1 `NXET_VENDOR 0xb0c2, NXVC_VENDOR_ERROR 0` with
    /// `vendor 0x2320, type 1, code code10` before the data; for 1.2+
    /// `OFPET_EXPERIMENTER 0xffff, exp_code code12, experimenter 0x2320`.
    fn send_nx_error(&mut self, h: &Header, frame: &[u8], code10: u16, code12: u16) -> bool {
        let v = if self.version == 0 {
            h.version
        } else {
            self.version
        };
        let mut data = Vec::new();
        let (err_type, code, experimenter) = if v <= 2 {
            data.extend_from_slice(&0x2320u32.to_be_bytes());
            data.extend_from_slice(&1u16.to_be_bytes());
            data.extend_from_slice(&code10.to_be_bytes());
            (0xb0c2, 0, None)
        } else {
            (0xffff, code12, Some(0x2320))
        };
        data.extend_from_slice(&frame[..frame.len().min(64)]);
        self.send(
            h.xid,
            &Message::Error(ErrorMsg {
                err_type,
                code,
                experimenter,
                data,
            }),
        )
    }

    fn send_raw_error(&mut self, h: &Header, frame: &[u8], t: u16, code: u16) -> bool {
        // OF1.3 ONF bundles report as OFPET_EXPERIMENTER in OVS; keep the
        // standard numbering, which `ovs-ofctl` prints as a bundle error.
        let data = frame[..frame.len().min(64)].to_vec();
        self.send(
            h.xid,
            &Message::Error(ErrorMsg {
                err_type: t,
                code,
                experimenter: None,
                data,
            }),
        )
    }

    fn ports(&self) -> Vec<Port> {
        self.br.of_ports().iter().map(port_desc).collect()
    }

    fn reply(&mut self, xid: u32, t: u16, nx: bool, bodies: Vec<MpRepBody>) -> bool {
        let n = bodies.len();
        for (i, body) in bodies.into_iter().enumerate() {
            let m = Message::MultipartReply(MultipartReply {
                mp_type: t,
                flags: if i + 1 < n { 1 } else { 0 },
                nx,
                body,
            });
            if !self.send(xid, &m) {
                return false;
            }
        }
        true
    }

    fn multipart(
        &mut self,
        h: &Header,
        r: ofproto::ofp::multipart::MultipartRequest,
        frame: &[u8],
    ) -> bool {
        let v = self.version;
        let now = self.br.now_ns();
        match (r.mp_type, r.body) {
            (mp_type::DESC, _) => {
                let d = Desc {
                    mfr_desc: "Nicira, Inc.".into(),
                    hw_desc: "Open vSwitch".into(),
                    sw_desc: crate::bridge::OVS_VERSION.into(),
                    serial_num: "None".into(),
                    dp_desc: "None".into(),
                };
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::Desc(d)])
            }
            (t @ (mp_type::FLOW | mp_type::AGGREGATE), MpReqBody::Flow { nx, req }) => {
                match self.flow_stats(&req, nx || v == 1, now) {
                    Ok(stats) => {
                        if t == mp_type::FLOW {
                            let bodies: Vec<MpRepBody> = if stats.is_empty() {
                                vec![MpRepBody::Flow(Vec::new())]
                            } else {
                                stats
                                    .chunks(64)
                                    .map(|c| MpRepBody::Flow(c.to_vec()))
                                    .collect()
                            };
                            self.reply(h.xid, t, nx, bodies)
                        } else {
                            let body = MpRepBody::Aggregate {
                                packet_count: stats.iter().map(|s| s.packet_count).sum(),
                                byte_count: stats.iter().map(|s| s.byte_count).sum(),
                                flow_count: stats.len() as u32,
                            };
                            self.reply(h.xid, t, nx, vec![body])
                        }
                    }
                    Err(e) => self.error(h, frame, &e),
                }
            }
            (mp_type::TABLE, _) => {
                let tables = self.br.pipe.tables.read();
                let stats: Vec<TableStats> = (0..N_TABLES_REPORTED)
                    .map(|i| {
                        let t = &tables.tables[i as usize];
                        TableStats {
                            table_id: i,
                            name: if i == 0 {
                                "classifier".into()
                            } else {
                                format!("table{i}")
                            },
                            // OFPFW10_ALL, or OFPFW11_ALL for OpenFlow 1.1.
                            wildcards: if v == 2 { 0x3ff } else { 0x3fffff },
                            max_entries: 1_000_000,
                            active_count: t.rules.len() as u32,
                            lookup_count: t.lookups.load(Ordering::Relaxed),
                            matched_count: t.matched.load(Ordering::Relaxed),
                        }
                    })
                    .collect();
                drop(tables);
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::Table(stats)])
            }
            (mp_type::TABLE_FEATURES, MpReqBody::Empty) => {
                let body = MpRepBody::Raw(table_features_entry(0));
                self.reply(h.xid, r.mp_type, false, vec![body])
            }
            (mp_type::PORT_DESC, _) => {
                let p = self.ports();
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::PortDesc(p)])
            }
            (mp_type::PORT_STATS, body) => {
                let want = match body {
                    MpReqBody::Port(p) => p,
                    _ => ofproto::ofp::actions::OFPP_ANY,
                };
                let stats: Vec<PortStats> = self
                    .br
                    .of_ports()
                    .into_iter()
                    .filter_map(|p| {
                        let no = if p.ofport == 0xfffe {
                            ofproto::ofp::actions::OFPP_LOCAL
                        } else {
                            p.ofport
                        };
                        if want != ofproto::ofp::actions::OFPP_ANY
                            && want != no
                            && !(v == 1 && want == 0xffff)
                        {
                            return None;
                        }
                        let s = p.netdev.stats();
                        let mut c = [u64::MAX; 12];
                        c[..8].copy_from_slice(&[
                            s.rx_packets,
                            s.tx_packets,
                            s.rx_bytes,
                            s.tx_bytes,
                            s.rx_dropped,
                            s.tx_dropped,
                            s.rx_errors,
                            s.tx_errors,
                        ]);
                        Some(PortStats {
                            port_no: no,
                            counters: c,
                            duration_sec: (now / 1_000_000_000) as u32,
                            duration_nsec: (now % 1_000_000_000) as u32,
                        })
                    })
                    .collect();
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::Port(stats)])
            }
            (mp_type::GROUP, body) if v >= 2 => {
                let want = match body {
                    MpReqBody::Id(id) => id,
                    _ => ofproto::group::OFPG_ALL,
                };
                let tables = self.br.pipe.tables.read();
                let groups = self.br.pipe.groups.read();
                let stats: Vec<GroupStats> = groups
                    .groups
                    .values()
                    .filter(|g| want == ofproto::group::OFPG_ALL || want == g.id)
                    .map(|g| {
                        let d = now.saturating_sub(g.created_ns);
                        let refs = tables
                            .tables
                            .iter()
                            .flat_map(|t| t.rules.values())
                            .filter(|r| r.uses_group(g.id))
                            .count();
                        GroupStats {
                            group_id: g.id,
                            ref_count: refs as u32,
                            packet_count: g.packets.load(Ordering::Relaxed),
                            byte_count: g.bytes.load(Ordering::Relaxed),
                            duration_sec: (d / 1_000_000_000) as u32,
                            duration_nsec: (d % 1_000_000_000) as u32,
                            buckets: g.bucket_counters(),
                        }
                    })
                    .collect();
                drop((groups, tables));
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::Group(stats)])
            }
            (mp_type::GROUP_DESC, _) if v >= 2 => {
                let descs: Vec<GroupDesc> = self
                    .br
                    .pipe
                    .groups
                    .read()
                    .groups
                    .values()
                    .map(|g| GroupDesc {
                        group_type: g.group_type,
                        group_id: g.id,
                        buckets: g.buckets.clone(),
                    })
                    .collect();
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::GroupDesc(descs)])
            }
            (mp_type::GROUP_FEATURES, _) if v >= 2 => {
                // types (all four), capabilities (select weight, liveness,
                // chaining), max_groups[4], actions[4] (OpenFlow 1.3.5
                // section 7.3.5.11).
                let mut b = Vec::new();
                b.extend_from_slice(&0xfu32.to_be_bytes());
                b.extend_from_slice(&0x7u32.to_be_bytes());
                for _ in 0..4 {
                    b.extend_from_slice(&ofproto::group::OFPG_MAX.to_be_bytes());
                }
                for _ in 0..4 {
                    b.extend_from_slice(&0x03ff_ffffu32.to_be_bytes());
                }
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::Raw(b)])
            }
            (mp_type::METER | mp_type::METER_CONFIG, body) if v >= 4 => {
                let want = match body {
                    MpReqBody::Id(id) => id,
                    _ => ofproto::meter::OFPM_ALL,
                };
                let meters: Vec<ofproto::meter::Meter> = self
                    .br
                    .pipe
                    .meters
                    .read()
                    .meters
                    .values()
                    .filter(|m| want == ofproto::meter::OFPM_ALL || want == m.id)
                    .cloned()
                    .collect();
                let body = if r.mp_type == mp_type::METER_CONFIG {
                    MpRepBody::MeterConfig(
                        meters
                            .iter()
                            .map(|m| MeterConfig {
                                flags: m.flags,
                                meter_id: m.id,
                                bands: m.bands.clone(),
                            })
                            .collect(),
                    )
                } else {
                    let tables = self.br.pipe.tables.read();
                    let stats = meters
                        .iter()
                        .map(|m| {
                            let flows = tables
                                .tables
                                .iter()
                                .flat_map(|t| t.rules.values())
                                .filter(|r| r.uses_meter(m.id))
                                .count();
                            let s = self.br.dp_meter_stats(m.dp_id).unwrap_or_default();
                            let d = now.saturating_sub(m.created_ns);
                            MeterStats {
                                meter_id: m.id,
                                flow_count: flows as u32,
                                packet_in_count: s.packets_in,
                                byte_in_count: s.bytes_in,
                                duration_sec: (d / 1_000_000_000) as u32,
                                duration_nsec: (d % 1_000_000_000) as u32,
                                bands: (0..m.bands.len())
                                    .map(|i| s.bands.get(i).copied().unwrap_or((0, 0)))
                                    .collect(),
                            }
                        })
                        .collect();
                    MpRepBody::Meter(stats)
                };
                self.reply(h.xid, r.mp_type, false, vec![body])
            }
            (mp_type::METER_FEATURES, _) if v >= 4 => {
                // max_meter, band_types (drop, dscp_remark), capabilities
                // (kbps, pktps, burst, stats), max_bands, max_color
                // (OpenFlow 1.3.5 section 7.3.5.13).
                let mut b = Vec::new();
                b.extend_from_slice(&pmd::meter::MAX_METERS.to_be_bytes());
                b.extend_from_slice(&0x6u32.to_be_bytes());
                b.extend_from_slice(&0xfu32.to_be_bytes());
                b.extend_from_slice(&[8, 0, 0, 0]);
                self.reply(h.xid, r.mp_type, false, vec![MpRepBody::Raw(b)])
            }
            (t @ (mp_type::QUEUE | mp_type::QUEUE_DESC), MpReqBody::Queue { port, queue_id }) => {
                match self.queue_check(port, queue_id) {
                    Ok(()) => self.reply(h.xid, t, false, vec![MpRepBody::Raw(Vec::new())]),
                    Err((et, c)) => self.send_raw_error(h, frame, et, c),
                }
            }
            _ => self.error(h, frame, &ofp_err(ErrorCode::BadRequestMultipart)),
        }
    }

    fn flow_stats(
        &self,
        req: &FlowStatsRequest,
        nxm: bool,
        now: u64,
    ) -> Result<Vec<FlowStats>, FlowModError> {
        let tlv = self.br.pipe.tlv.read().clone();
        let (value, mask) = match_from_oxm_tlv(&req.match_.fields(), &tlv)?;
        let tables = self.br.pipe.tables.read();
        let out_port = if self.version == 1 && req.out_port == 0xffff {
            ofproto::ofp::actions::OFPP_ANY
        } else {
            req.out_port
        };
        let rules = tables.select(
            req.table_id,
            &value,
            &mask,
            None,
            req.cookie,
            req.cookie_mask,
            out_port,
        );
        Ok(rules
            .into_iter()
            .filter(|r| r.table_id < N_TABLES_REPORTED)
            .map(|r| {
                let d = now.saturating_sub(r.created_ns);
                let used = r.used_ns.load(Ordering::Relaxed);
                let idle_age = (now.saturating_sub(used) / 1_000_000_000 + 1).min(0xffff) as u16;
                let hard_age =
                    (now.saturating_sub(r.modified_ns) / 1_000_000_000 + 1).min(0xffff) as u16;
                FlowStats {
                    table_id: r.table_id,
                    duration_sec: (d / 1_000_000_000) as u32,
                    duration_nsec: (d % 1_000_000_000) as u32,
                    priority: r.priority,
                    idle_timeout: r.idle_timeout,
                    hard_timeout: r.hard_timeout,
                    flags: r.flags,
                    importance: r.importance,
                    idle_age,
                    hard_age,
                    cookie: r.cookie,
                    packet_count: r.packets.load(Ordering::Relaxed),
                    byte_count: r.bytes.load(Ordering::Relaxed),
                    match_: Match::Oxm(r.oxm(nxm, &tlv)),
                    instructions: r.instructions.clone(),
                }
            })
            .collect())
    }
}

/// One OpenFlow 1.3+ table-features entry: the 64-byte fixed part and the 8
/// required properties, empty (OpenFlow 1.5.1 section 7.3.5.18;
/// `ovs-ofctl` only needs the table's name and this shape).
pub fn table_features_entry(table_id: u8) -> Vec<u8> {
    let mut e = vec![0u8, 128, table_id, 0, 0, 0, 0, 0];
    let mut name = if table_id == 0 {
        b"classifier".to_vec()
    } else {
        format!("table{table_id}").into_bytes()
    };
    name.resize(32, 0);
    e.extend_from_slice(&name);
    e.extend_from_slice(&[0xff; 8]);
    e.extend_from_slice(&[0xff; 8]);
    e.extend_from_slice(&[0, 0, 0, 0]);
    e.extend_from_slice(&1_000_000u32.to_be_bytes());
    for t in [0u16, 2, 4, 6, 8, 10, 12, 14] {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&[0, 4, 0, 0, 0, 0]);
    }
    e
}
