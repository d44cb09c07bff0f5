//! `dummy` ports: in-memory ports for tests (after OVS `lib/netdev-dummy.c`).
//!
//! Frames are injected into an rx queue with [`DummyNetdev::receive`] (or
//! [`DummyNetdev::receive_on`]) and what the datapath transmits is collected
//! for [`DummyNetdev::take_sent`]. Open dummy ports are also found by name
//! with [`lookup`] (what OVS's `netdev-dummy/receive NAME` does), so code
//! that only holds the `Arc<dyn Netdev>` from [`crate::open`] can reach them.
//!
//! Options:
//! * `n_rxq`, `n_txq`: queue counts (1..=64, default 1).
//! * `rx_pcap=FILE`: a classic pcap file (LINKTYPE_ETHERNET) whose frames
//!   are queued on rx queue 0 when the port is opened.
//! * `tx_pcap=FILE`: every transmitted frame is also appended to this pcap
//!   file (created or truncated at open, flushed after each burst).
//!
//! These follow DPDK `net_pcap`'s meaning of `rx_pcap` (input) rather than
//! OVS netdev-dummy's (where `rx_pcap` logs what was received).
//!
//! The pcap format written and read is the classic libpcap one
//! (<https://wiki.wireshark.org/Development/LibpcapFileFormat>): a 24-byte
//! global header (magic `0xa1b2c3d4`, version 2.4, snaplen, link type) then
//! per frame a 16-byte record header (seconds, microseconds, captured and
//! original length) and the bytes. Both byte orders and the
//! nanosecond-resolution magic (`0xa1b23c4d`) are read.

use crate::afpacket::parse_n_queues;
use crate::{LinkState, Netdev, NetdevError, NetdevStats, Options};
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

/// pcap link type of Ethernet frames (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written in pcap headers, bytes.
pub const PCAP_SNAPLEN: u32 = 262_144;

/// Reads every frame of a classic pcap file of Ethernet frames.
///
/// Errors: `InvalidData` if the magic, link type or a record is bad (a
/// truncated last record included), or the I/O error.
pub fn read_pcap(path: impl AsRef<Path>) -> io::Result<Vec<Vec<u8>>> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if data.len() < 24 {
        return Err(bad("pcap: short global header"));
    }
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => return Err(bad("pcap: bad magic")),
    };
    let u32_at = |b: &[u8], i: usize| {
        let a: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    if u32_at(&data, 20) & 0x0fff_ffff != LINKTYPE_ETHERNET {
        return Err(bad("pcap: link type is not Ethernet"));
    }
    let mut frames = Vec::new();
    let mut i = 24;
    while i < data.len() {
        if i + 16 > data.len() {
            return Err(bad("pcap: truncated record header"));
        }
        let caplen = u32_at(&data, i + 8) as usize;
        i += 16;
        if i + caplen > data.len() {
            return Err(bad("pcap: truncated record"));
        }
        frames.push(data[i..i + caplen].to_vec());
        i += caplen;
    }
    Ok(frames)
}

/// Writes a classic pcap file of Ethernet frames (microsecond timestamps,
/// host byte order as libpcap does).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (or truncates) `path` and writes the global header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        PcapWriter::new(BufWriter::new(File::create(path)?))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
        h.extend_from_slice(&2u16.to_ne_bytes());
        h.extend_from_slice(&4u16.to_ne_bytes());
        h.extend_from_slice(&0i32.to_ne_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        h.extend_from_slice(&PCAP_SNAPLEN.to_ne_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Appends one frame stamped with the current time (truncated to
    /// [`PCAP_SNAPLEN`] bytes, original length kept).
    pub fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let cap = frame.len().min(PCAP_SNAPLEN as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(now.as_secs() as u32).to_ne_bytes());
        h[4..8].copy_from_slice(&now.subsec_micros().to_ne_bytes());
        h[8..12].copy_from_slice(&(cap as u32).to_ne_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..cap])
    }

    /// Flushes buffered records.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn registry() -> &'static Mutex<HashMap<String, Weak<DummyNetdev>>> {
    static R: OnceLock<Mutex<HashMap<String, Weak<DummyNetdev>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// The open dummy port called `name`, if any.
pub fn lookup(name: &str) -> Option<Arc<DummyNetdev>> {
    registry().lock().unwrap().get(name).and_then(Weak::upgrade)
}

/// An in-memory port. Made by [`DummyNetdev::open`] (or [`crate::open`]
/// with type `"dummy"`). PMD-polled, like OVS `dummy-pmd`.
#[derive(Debug)]
pub struct DummyNetdev {
    name: String,
    rxqs: Vec<Mutex<VecDeque<Vec<u8>>>>,
    n_txq: usize,
    sent: Mutex<Vec<Vec<u8>>>,
    tx_pcap: Mutex<Option<PcapWriter<BufWriter<File>>>>,
    mtu: AtomicU32,
    mac: [u8; 6],
    link: AtomicU8,
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_errors: AtomicU64,
}

impl DummyNetdev {
    /// Opens a dummy port (see the module documentation for the options)
    /// and registers it for [`lookup`] (replacing an older one of the same
    /// name). MTU 1500, link up, MAC `aa:55:aa:55:00:NN` (NN counts ports,
    /// as OVS netdev-dummy).
    ///
    /// Errors: [`NetdevError::InvalidOption`] for an unknown option, a bad
    /// queue count, or a pcap file that cannot be read or created.
    pub fn open(name: &str, options: &Options) -> Result<Arc<DummyNetdev>, NetdevError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let (mut n_rxq, mut n_txq) = (1, 1);
        let mut rx_frames = Vec::new();
        let mut tx_pcap = None;
        for (k, v) in options {
            let invalid = |reason: String| NetdevError::InvalidOption {
                option: k.clone(),
                reason,
            };
            match k.as_str() {
                "n_rxq" => n_rxq = parse_n_queues(k, v)?,
                "n_txq" => n_txq = parse_n_queues(k, v)?,
                "rx_pcap" => {
                    rx_frames = read_pcap(v).map_err(|e| invalid(format!("{v}: {e}")))?;
                }
                "tx_pcap" => {
                    tx_pcap =
                        Some(PcapWriter::create(v).map_err(|e| invalid(format!("{v}: {e}")))?);
                }
                _ => return Err(invalid("not supported by interface type dummy".into())),
            }
        }
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dev = Arc::new(DummyNetdev {
            name: name.to_string(),
            rxqs: (0..n_rxq).map(|_| Mutex::new(VecDeque::new())).collect(),
            n_txq,
            sent: Mutex::new(Vec::new()),
            tx_pcap: Mutex::new(tx_pcap),
            mtu: AtomicU32::new(1500),
            mac: [0xaa, 0x55, 0xaa, 0x55, (n >> 8) as u8, n as u8],
            link: AtomicU8::new(1),
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            tx_errors: AtomicU64::new(0),
        });
        dev.rxqs[0].lock().unwrap().extend(rx_frames);
        registry()
            .lock()
            .unwrap()
            .insert(name.to_string(), Arc::downgrade(&dev));
        Ok(dev)
    }

    /// Queues `frame` on rx queue 0.
    pub fn receive(&self, frame: &[u8]) {
        self.receive_on(0, frame);
    }

    /// Queues `frame` on rx queue `qid % n_rxq`.
    pub fn receive_on(&self, qid: usize, frame: &[u8]) {
        self.rxqs[qid % self.rxqs.len()]
            .lock()
            .unwrap()
            .push_back(frame.to_vec());
    }

    /// Frames waiting on rx queue `qid` (0 for a queue that does not exist).
    pub fn rx_pending(&self, qid: usize) -> usize {
        self.rxqs.get(qid).map_or(0, |q| q.lock().unwrap().len())
    }

    /// Takes every frame transmitted so far, in order.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    /// Sets the carrier state reported by [`Netdev::link_state`].
    pub fn set_link_state(&self, state: LinkState) {
        self.link
            .store((state == LinkState::Up) as u8, Ordering::Relaxed);
    }
}

impl Drop for DummyNetdev {
    fn drop(&mut self) {
        if let Ok(mut r) = registry().lock() {
            if r.get(&self.name).is_some_and(|w| w.strong_count() == 0) {
                r.remove(&self.name);
            }
        }
    }
}

impl Netdev for DummyNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "dummy"
    }

    fn is_pmd(&self) -> bool {
        true
    }

    fn n_rxq(&self) -> usize {
        self.rxqs.len()
    }

    fn n_txq(&self) -> usize {
        self.n_txq
    }

    fn rx_burst(&self, qid: usize, batch: &mut PacketBatch) -> Result<usize, NetdevError> {
        let q = self
            .rxqs
            .get(qid)
            .ok_or_else(|| NetdevError::InvalidOption {
                option: "rxq".into(),
                reason: format!(
                    "{}: no rx queue {qid} (n_rxq={})",
                    self.name,
                    self.rxqs.len()
                ),
            })?;
        let want = NETDEV_MAX_BURST.saturating_sub(batch.len());
        let mut q = q.lock().unwrap();
        let (mut n, mut bytes) = (0usize, 0u64);
        while n < want {
            let Some(f) = q.pop_front() else { break };
            bytes += f.len() as u64;
            batch.push(Box::new(DpPacket::from_slice(&f)));
            n += 1;
        }
        drop(q);
        self.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
        self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
        Ok(n)
    }

    fn tx_burst(&self, _qid: usize, batch: &mut PacketBatch) -> usize {
        let n = batch.len();
        let bytes = batch.bytes();
        {
            let mut pcap = self.tx_pcap.lock().unwrap();
            if let Some(w) = pcap.as_mut() {
                let mut ok = true;
                for p in &batch.pkts {
                    ok &= w.write_frame(p.data()).is_ok();
                }
                ok &= w.flush().is_ok();
                if !ok {
                    self.tx_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.sent
            .lock()
            .unwrap()
            .extend(batch.pkts.drain(..).map(|p| p.data().to_vec()));
        self.tx_packets.fetch_add(n as u64, Ordering::Relaxed);
        self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
        n
    }

    fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), NetdevError> {
        if !(68..=65535).contains(&mtu) {
            return Err(NetdevError::InvalidOption {
                option: "mtu_request".into(),
                reason: format!("{mtu} is not between 68 and 65535"),
            });
        }
        self.mtu.store(mtu, Ordering::Relaxed);
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_state(&self) -> LinkState {
        if self.link.load(Ordering::Relaxed) != 0 {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn stats(&self) -> NetdevStats {
        NetdevStats {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_errors: self.tx_errors.load(Ordering::Relaxed),
            ..Default::default()
        }
    }
}
