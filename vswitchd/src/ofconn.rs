//! The OpenFlow connection manager of a bridge: the passive management
//! socket `$OVS_RUNDIR/<bridge>.mgmt` that `ovs-ofctl` talks to by default
//! (OVS `ofproto/connmgr.c`), one thread per connection.
//!
//! Each connection negotiates a version (OpenFlow 1.0-1.5, OpenFlow 1.5.1
//! section 7.5.1), then serves: ECHO, FEATURES, GET/SET_CONFIG, BARRIER,
//! ROLE (standard and Nicira), FLOW_MOD (standard and NXT_FLOW_MOD, with
//! NXT_FLOW_MOD_TABLE_ID), NXT_SET_FLOW_FORMAT / SET_PACKET_IN_FORMAT /
//! SET_CONTROLLER_ID, multipart DESC / FLOW / AGGREGATE / TABLE /
//! TABLE_FEATURES / PORT_DESC / PORT_STATS (and NXST_FLOW / NXST_AGGREGATE),
//! bundles (OpenFlow 1.4+ and the OpenFlow 1.3 ONF extension; commit is
//! atomic), PACKET_OUT, the TLV table request, GROUP_MOD / METER_MOD and
//! the group and meter multiparts (OpenFlow 1.3.5 sections 7.3.4.2, 7.3.4.4,
//! 7.3.5.9-7.3.5.14). Anything else is answered with the OFPT_ERROR the spec
//! asks for.
//!
//! Asynchronous messages (OpenFlow 1.5.1 section 7.4): every connection
//! subscribes to its bridge ([`crate::openflow::AsyncSink`]) and receives
//! PACKET_IN (standard, or NXT_PACKET_IN2 after NXT_SET_PACKET_IN_FORMAT),
//! FLOW_REMOVED (OpenFlow 1.1+ connections) and PORT_STATUS once it set a
//! nonzero miss_send_len, as OVS does for service connections
//! (`ovs-ofctl monitor BRIDGE 65534`).

use crate::openflow::{AsyncEvent, AsyncSink, OfPort, OpenFlowBridge};
use crate::vlog;
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
use ofproto::table::key::match_from_oxm;
use ofproto::table::{FlowModError, FlowModSpec};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// OpenFlow versions served (1.0 to 1.5).
pub const VERSIONS: &[u8] = &[1, 2, 3, 4, 5, 6];

/// Number of tables reported (OVS reports 254; table 254 is hidden).
pub const N_TABLES_REPORTED: u8 = 254;

/// The listener of one bridge; dropping it stops accepting and removes the
/// socket file (open connections end when their peer closes).
pub struct Listener {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// Binds `$OVS_RUNDIR/<bridge>.mgmt` and starts accepting.
    pub fn start(bridge: Arc<OpenFlowBridge>) -> std::io::Result<Listener> {
        let path = crate::cli::rundir().join(format!("{}.mgmt", bridge.name()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path)?;
        l.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::Builder::new()
            .name(format!("ofconn-{}", bridge.name()))
            .spawn(move || {
                while !st.load(Ordering::SeqCst) {
                    match l.accept() {
                        Ok((s, _)) => {
                            let b = bridge.clone();
                            let _ = std::thread::Builder::new().name("ofconn".into()).spawn(
                                move || {
                                    let _ = s.set_nonblocking(false);
                                    if let Some(c) = Conn::new(b, s) {
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
        let _ = std::fs::remove_file(&self.path);
    }
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
}

/// The sending side of a connection, shared with the bridge for
/// asynchronous messages.
struct Sink {
    w: Mutex<UnixStream>,
    cfg: Mutex<AsyncCfg>,
}

impl Sink {
    fn write(&self, b: &[u8]) -> bool {
        self.w.lock().write_all(b).is_ok()
    }
}

impl AsyncSink for Sink {
    fn deliver(&self, ev: &AsyncEvent) -> bool {
        let cfg = *self.cfg.lock();
        if cfg.version == 0 || cfg.miss_send_len == 0 {
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
            } => {
                let mut m = OxmMatch::default();
                if let Some(f) = MatchField::new(Field::InPort, &in_port.to_be_bytes(), None, false)
                {
                    m.fields.push(f);
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
                        data: data.clone(),
                    })
                } else {
                    let mut md = Vec::new();
                    m.encode_tlvs(&mut md);
                    let mut ck = vec![0u8; 4];
                    ck.extend_from_slice(&cookie.to_be_bytes());
                    let p = |ptype: u16, value: Vec<u8>| Prop { ptype, value };
                    Message::Nx(NxMsg::PacketIn2(vec![
                        p(nxpint::PACKET, data.clone()),
                        p(nxpint::FULL_LEN, total_len.to_be_bytes().to_vec()),
                        p(nxpint::TABLE_ID, vec![*table_id]),
                        p(nxpint::COOKIE, ck),
                        p(nxpint::REASON, vec![*reason]),
                        p(nxpint::METADATA, md),
                    ]))
                }
            }
            AsyncEvent::FlowRemoved {
                rule,
                reason,
                duration_ns,
            } => {
                let nxm = v == 1 && cfg.flow_format == ofproto::ofp::nicira::NXFF_NXM;
                let match_ = if v == 1 && !nxm {
                    // OpenFlow 1.0.0 section 5.4.2: the ofp10 match.
                    Match::Of10(Match10::from_fields(&rule.oxm(true)))
                } else {
                    Match::Oxm(rule.oxm(nxm))
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
        config: 0,
        state: if p.netdev.link_state().to_string() == "up" {
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

struct Conn {
    br: Arc<OpenFlowBridge>,
    s: UnixStream,
    sink: Arc<Sink>,
    /// Keeps the bridge's subscription alive.
    _sub: Arc<dyn AsyncSink>,
    version: u8,
    table_id_ext: bool,
    miss_send_len: u16,
    flags: u16,
    bundles: HashMap<u32, Vec<(Header, Vec<u8>, FlowModSpec)>>,
    bundle_err: HashMap<u32, bool>,
}

fn ofp_err(code: ErrorCode) -> FlowModError {
    FlowModError::Codec(ofproto::ofp::OfpError::new(code, "unsupported"))
}

impl Conn {
    fn new(br: Arc<OpenFlowBridge>, s: UnixStream) -> Option<Conn> {
        let sink = Arc::new(Sink {
            w: Mutex::new(s.try_clone().ok()?),
            cfg: Mutex::new(AsyncCfg::default()),
        });
        let sub: Arc<dyn AsyncSink> = sink.clone();
        br.subscribe(&sub);
        Some(Conn {
            br,
            s,
            sink,
            _sub: sub,
            version: 0,
            table_id_ext: false,
            miss_send_len: 0,
            flags: 0,
            bundles: HashMap::new(),
            bundle_err: HashMap::new(),
        })
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

    fn run(mut self) {
        let hello = Message::Hello(Hello::with_versions(VERSIONS));
        if !self.sink.write(&hello.encode(6, 0)) {
            return;
        }
        let mut dec = Decoder::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = match self.s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
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
                if !self.handle(&h, m, &frame) {
                    return;
                }
            }
        }
    }

    /// Handles one message; false closes the connection.
    fn handle(&mut self, h: &Header, m: Message, frame: &[u8]) -> bool {
        if self.version == 0 {
            return match m {
                Message::Hello(hl) => match negotiate(VERSIONS, h.version, &hl) {
                    Ok(v) => {
                        self.version = v;
                        self.sync_async();
                        true
                    }
                    Err(e) => {
                        self.error(h, frame, &FlowModError::Codec(e));
                        false
                    }
                },
                _ => false,
            };
        }
        let v = self.version;
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
            Message::RoleRequest(r) => self.send(h.xid, &Message::RoleReply(r)),
            Message::FlowMod(fm) | Message::Nx(NxMsg::FlowMod(fm)) => {
                match FlowModSpec::from_ofp(&fm, v, self.table_id_ext)
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
                NxMsg::RoleRequest(r) => self.send(h.xid, &Message::Nx(NxMsg::RoleReply(r))),
                NxMsg::TlvTableRequest => self.send(
                    h.xid,
                    &Message::Nx(NxMsg::TlvTableReply {
                        max_option_space: 256,
                        max_fields: 64,
                        maps: Vec::new(),
                    }),
                ),
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
            Message::MultipartRequest(r) => self.multipart(h, r, frame),
            Message::BundleControl(b) => self.bundle_control(h, b, frame),
            Message::BundleAdd(b) => {
                let id = b.bundle_id;
                let res = b
                    .inner()
                    .map_err(FlowModError::Codec)
                    .and_then(|(ih, im)| match im {
                        Message::FlowMod(fm) | Message::Nx(NxMsg::FlowMod(fm)) => {
                            FlowModSpec::from_ofp(&fm, v, self.table_id_ext).map(|s| (ih, s))
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
                            wildcards: 0x3fffff,
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
            _ => self.error(h, frame, &ofp_err(ErrorCode::BadRequestMultipart)),
        }
    }

    fn flow_stats(
        &self,
        req: &FlowStatsRequest,
        nxm: bool,
        now: u64,
    ) -> Result<Vec<FlowStats>, FlowModError> {
        let (value, mask) = match_from_oxm(&req.match_.fields())?;
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
                    match_: Match::Oxm(r.oxm(nxm)),
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
