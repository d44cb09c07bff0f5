//! A fake switch for driving the real `ovs-ofctl` over a unix socket: it
//! speaks through the crate's own encoder, answers the handshake, barriers,
//! bundles and the queries `ovs-ofctl` makes, and records every frame the
//! tool sent.
#![allow(dead_code)]

use ofproto::ofp::hello::negotiate;
use ofproto::ofp::msgs::Message;
use ofproto::ofp::multipart::{mp_type, MpRepBody, MpReqBody, MultipartReply};
use ofproto::ofp::nicira::NxMsg;
use ofproto::ofp::switch::{FeaturesReply, Port, SwitchConfig};
use ofproto::ofp::{Decoder, Header, Hello};
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one `ovs-ofctl` run sent and printed.
pub struct Session {
    /// Every frame received, in order, with its decode result.
    pub frames: Vec<Vec<u8>>,
    /// Decoded frames (header, message).
    pub msgs: Vec<(Header, Message)>,
    /// Negotiated version.
    pub version: u8,
    /// Tool stdout.
    pub stdout: String,
    /// Tool stderr.
    pub stderr: String,
    /// Tool exit success.
    pub ok: bool,
}

impl Session {
    /// Messages other than the handshake/barrier noise.
    pub fn payload(&self) -> Vec<&(Header, Message)> {
        self.msgs
            .iter()
            .filter(|(_, m)| {
                !matches!(
                    m,
                    Message::Hello(_)
                        | Message::BarrierRequest
                        | Message::FeaturesRequest
                        | Message::EchoRequest(_)
                )
            })
            .collect()
    }
}

/// True when the real tool is installed (tests skip otherwise).
pub fn have_ofctl() -> bool {
    let ok = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!(
            "SKIP: ovs-ofctl not found (Debian openvswitch-common; scripts/setup.sh installs it)"
        );
    }
    ok
}

static N: AtomicUsize = AtomicUsize::new(0);

/// Our ports, as answered to FEATURES / PORT_DESC.
pub fn ports() -> Vec<Port> {
    vec![Port {
        port_no: 1,
        hw_addr: [0x02, 0, 0, 0, 0, 1],
        name: "p1".into(),
        curr: 0x820,
        advertised: 0x820,
        supported: 0x820,
        curr_speed: 10_000_000,
        max_speed: 10_000_000,
        ..Default::default()
    }]
}

/// A minimal OF1.3+ table-features entry: the 64-byte fixed part and the 8
/// required properties, empty.
pub fn table_features_entry(table_id: u8) -> Vec<u8> {
    let mut e = vec![0u8, 128, table_id, 0, 0, 0, 0, 0];
    let mut name = format!("table{table_id}").into_bytes();
    name.resize(32, 0);
    e.extend_from_slice(&name);
    e.extend_from_slice(&[0xff; 8]); // metadata_match
    e.extend_from_slice(&[0xff; 8]); // metadata_write
    e.extend_from_slice(&[0, 0, 0, 0]); // config / capabilities
    e.extend_from_slice(&1_000_000u32.to_be_bytes());
    for t in [0u16, 2, 4, 6, 8, 10, 12, 14] {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&[0, 4, 0, 0, 0, 0]);
    }
    e
}

/// Default answers: handshake, barrier, echo, features, config, port desc,
/// table names, bundles, TLV table. `extra` is asked first.
pub fn default_reply(v: u8, m: &Message) -> Vec<Message> {
    match m {
        Message::EchoRequest(d) => vec![Message::EchoReply(d.clone())],
        Message::FeaturesRequest => vec![Message::FeaturesReply(FeaturesReply {
            datapath_id: 0x1234,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0x47,
            actions: if v == 1 { 0xfff } else { 0 },
            ports: if v <= 3 { ports() } else { Vec::new() },
        })],
        Message::GetConfigRequest => vec![Message::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 128,
        })],
        Message::BarrierRequest => vec![Message::BarrierReply],
        Message::BundleControl(b) => vec![Message::BundleControl(b.reply())],
        Message::Nx(NxMsg::TlvTableRequest) => {
            vec![Message::Nx(NxMsg::TlvTableReply {
                max_option_space: 256,
                max_fields: 64,
                maps: Vec::new(),
            })]
        }
        Message::MultipartRequest(r) => {
            let body = match (r.mp_type, &r.body) {
                (mp_type::TABLE_FEATURES, MpReqBody::Empty) => {
                    MpRepBody::Raw(table_features_entry(0))
                }
                (mp_type::TABLE, _) if v == 1 => {
                    MpRepBody::Table(vec![ofproto::ofp::multipart::TableStats {
                        table_id: 0,
                        name: "classifier".into(),
                        wildcards: 0x3fffff,
                        max_entries: 1_000_000,
                        ..Default::default()
                    }])
                }
                (mp_type::PORT_DESC, _) => MpRepBody::PortDesc(ports()),
                _ => return Vec::new(),
            };
            vec![Message::MultipartReply(MultipartReply {
                mp_type: r.mp_type,
                flags: 0,
                nx: false,
                body,
            })]
        }
        _ => Vec::new(),
    }
}

/// A test's own answers: (negotiated version, header, message) -> replies,
/// or `None` for the defaults.
pub type Responder<'a> = &'a dyn Fn(u8, &Header, &Message) -> Option<Vec<Message>>;

/// Runs `ovs-ofctl ARGS` (each `SOCK` in ARGS becomes our socket) against
/// the fake switch speaking versions `ours`. `extra` may answer a message
/// first (return `None` to fall back to the defaults).
pub fn run_ofctl(ours: &[u8], args: &[&str], extra: Responder<'_>) -> Session {
    let dir = std::env::temp_dir().join(format!(
        "rvs-ofctl-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    listener.set_nonblocking(true).unwrap();
    let sock = format!("unix:{}", path.display());
    let args: Vec<String> = args.iter().map(|a| a.replace("SOCK", &sock)).collect();
    let mut child = Command::new("ovs-ofctl")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ovs-ofctl");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut frames = Vec::new();
    let mut msgs = Vec::new();
    let mut version = 0;
    let top = *ours.iter().max().unwrap();
    // ovs-ofctl may open several connections, overlapping (table names,
    // port names, then the command itself): serve them all, non-blocking.
    let mut conns: Vec<(std::os::unix::net::UnixStream, Decoder)> = Vec::new();
    let mut buf = [0u8; 65536];
    let mut exited: Option<Instant> = None;
    loop {
        if Instant::now() > deadline
            || exited.is_some_and(|t| t.elapsed() > Duration::from_millis(50))
        {
            break;
        }
        if exited.is_none() && child.try_wait().unwrap().is_some() {
            exited = Some(Instant::now());
        }
        let mut idle = true;
        if let Ok((mut st, _)) = listener.accept() {
            st.set_nonblocking(true).unwrap();
            st.write_all(&Message::Hello(Hello::with_versions(ours)).encode(top, 0))
                .unwrap();
            conns.push((st, Decoder::new()));
            idle = false;
        }
        let mut i = 0;
        while i < conns.len() {
            let (st, dec) = &mut conns[i];
            match st.read(&mut buf) {
                Ok(0) => {
                    conns.remove(i);
                    continue;
                }
                Ok(n) => {
                    idle = false;
                    dec.feed(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    conns.remove(i);
                    continue;
                }
            }
            while let Some(frame) = dec.next_frame().expect("framing") {
                let (h, m) = Message::decode(&frame)
                    .unwrap_or_else(|e| panic!("decode {e}: {}", hex(&frame)));
                frames.push(frame.clone());
                if let Message::Hello(hl) = &m {
                    version = negotiate(ours, h.version, hl).expect("negotiation");
                }
                let v = if version == 0 { h.version } else { version };
                let replies = extra(v, &h, &m).unwrap_or_else(|| default_reply(v, &m));
                for r in replies {
                    let bytes = r.encode(v, h.xid);
                    st.set_nonblocking(false).unwrap();
                    let _ = st.write_all(&bytes);
                    st.set_nonblocking(true).unwrap();
                }
                msgs.push((h, m));
            }
            i += 1;
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Session {
        frames,
        msgs,
        version,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Asserts decode -> encode gives the same bytes for every frame.
pub fn assert_roundtrip(s: &Session) {
    for f in &s.frames {
        let (h, m) = Message::decode(f).unwrap();
        let again = m.encode(h.version, h.xid);
        assert_eq!(hex(&again), hex(f), "re-encode differs for {m:?}");
    }
}

/// `ovs-ofctl ofp-print HEX` output for bytes we encoded.
pub fn ofp_print(b: &[u8]) -> String {
    let o = Command::new("ovs-ofctl")
        .arg("ofp-print")
        .arg(hex(b))
        .output()
        .expect("ofp-print");
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}
