//! # `afxdp` ports: AF_XDP sockets on a Linux network device
//!
//! The userspace datapath's `type=afxdp` port (OVS `lib/netdev-afxdp.c`,
//! documented in OVS `Documentation/intro/install/afxdp.rst`; the kernel side
//! is `Documentation/networking/af_xdp.rst`). Each rx queue of the device gets
//! one AF_XDP socket (XSK) bound to it, with its own UMEM; libxdp (through the
//! [`xsk_rs`] crate) loads the default XSK redirect program on the device when
//! the first socket is bound, and this port detaches it again when it is
//! dropped.
//!
//! # Options (`Interface.options`)
//!
//! | option            | values                                                          | default       |
//! |-------------------|-----------------------------------------------------------------|---------------|
//! | `xdp-mode`        | `best-effort`, `native-with-zerocopy`, `native`, `generic`      | `best-effort` |
//! | `use-need-wakeup` | `true`, `false`                                                 | `true`        |
//! | `n_rxq`           | 1..=16 (one XSK per queue; the device must have that many)      | 1             |
//!
//! `best-effort` tries `native-with-zerocopy`, then `native`, then `generic`
//! on queue 0 and keeps the first that binds, as OVS does; the mode in use is
//! reported as `xdp-mode-in-use` by [`Netdev::status`]. `native` and `generic`
//! bind in copy mode (`XDP_COPY`); `native-with-zerocopy` binds with
//! `XDP_ZEROCOPY` and fails (`EOPNOTSUPP`) on drivers without it, such as veth.
//! As in OVS the number of tx queues equals the number of rx queues.
//!
//! # Memory
//!
//! Each queue has a UMEM of [`NUM_FRAMES`] frames of [`FRAME_SIZE`] bytes
//! (16 MiB); half of them belong to the receive side (all of them always on
//! the fill ring, the rx ring or being copied out), the other half to the
//! transmit side (free, on the tx ring or on the completion ring). Received
//! frames are copied into a fresh [`DpPacket`] and their UMEM frame goes back
//! on the fill ring at once; transmitted packets are copied into a free UMEM
//! frame. Rx and tx of one queue therefore never share a frame and take
//! separate locks.
//!
//! # Not yet
//!
//! Zero copy between UMEM and [`DpPacket`] (OVS `DPBUF_AFXDP`), multi-buffer
//! (frames longer than one UMEM frame) and changing options on an open port
//! (close and reopen it instead).

use crate::{LinkState, Netdev, NetdevError, NetdevStats, Options};
use dp_core::packet::{DpPacket, PacketBatch, DEFAULT_HEADROOM, NETDEV_MAX_BURST};
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

/// UMEM frame size in bytes (libxdp `XSK_UMEM__DEFAULT_FRAME_SIZE`, one page).
pub const FRAME_SIZE: u32 = 4096;

/// Headroom the kernel keeps in front of the packet in each UMEM frame
/// (`XDP_PACKET_HEADROOM`), bytes.
pub const XDP_HEADROOM: u32 = 256;

/// Largest frame (Ethernet header to end of payload, no FCS) a port can
/// receive or transmit: one UMEM frame less [`XDP_HEADROOM`], bytes.
pub const MAX_FRAME_LEN: usize = (FRAME_SIZE - XDP_HEADROOM) as usize;

/// Descriptors in each of the four rings of a queue (fill, completion, rx,
/// tx); libxdp's defaults (`XSK_RING_{PROD,CONS}__DEFAULT_NUM_DESCS`).
pub const RING_SIZE: u32 = 2048;

/// UMEM frames per queue: one ring's worth for the receive side and one for
/// the transmit side.
pub const NUM_FRAMES: u32 = 2 * RING_SIZE;

/// Most rx queues (XSK sockets) a port may have (OVS `MAX_XSKQ`).
pub const MAX_QUEUES: usize = 16;

/// How long [`AfxdpNetdev::open`] keeps retrying a bind that answers `EBUSY`
/// (the kernel releases a queue asynchronously after its previous socket is
/// closed, typically within a second).
pub const BUSY_RETRY_FOR: Duration = Duration::from_secs(5);

/// Packets the kernel transmits per `sendto()` kick in copy mode
/// (`TX_BATCH_SIZE` in `net/xdp/xsk.c`: 16 on older kernels, 32 on newer ones;
/// the smaller value is assumed).
const KERNEL_TX_BATCH: usize = 16;

/// An XDP attach/bind mode (OVS `enum afxdp_mode`, option `xdp-mode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum XdpMode {
    /// `best-effort`: the first of `native-with-zerocopy`, `native`,
    /// `generic` that works.
    BestEffort,
    /// `native-with-zerocopy`: driver XDP (`XDP_FLAGS_DRV_MODE`), zero-copy
    /// bind (`XDP_ZEROCOPY`).
    NativeZeroCopy,
    /// `native`: driver XDP (`XDP_FLAGS_DRV_MODE`), copy bind (`XDP_COPY`).
    Native,
    /// `generic`: generic/SKB XDP (`XDP_FLAGS_SKB_MODE`), copy bind
    /// (`XDP_COPY`).
    Generic,
}

impl XdpMode {
    /// The OVS option value (`"best-effort"`, `"native-with-zerocopy"`,
    /// `"native"`, `"generic"`).
    pub fn name(self) -> &'static str {
        match self {
            XdpMode::BestEffort => "best-effort",
            XdpMode::NativeZeroCopy => "native-with-zerocopy",
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        }
    }

    /// Parses an OVS option value (case-insensitive, as OVS's `strcasecmp`).
    pub fn parse(s: &str) -> Option<XdpMode> {
        [
            XdpMode::BestEffort,
            XdpMode::NativeZeroCopy,
            XdpMode::Native,
            XdpMode::Generic,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(s))
    }

    /// `IFLA_XDP` attach flags of a concrete mode (none for best-effort).
    fn xdp_flags(self) -> XdpFlags {
        match self {
            XdpMode::BestEffort => XdpFlags::empty(),
            XdpMode::NativeZeroCopy | XdpMode::Native => XdpFlags::XDP_FLAGS_DRV_MODE,
            XdpMode::Generic => XdpFlags::XDP_FLAGS_SKB_MODE,
        }
    }

    /// `sockaddr_xdp.sxdp_flags` bind flags of a concrete mode.
    fn bind_flags(self) -> BindFlags {
        match self {
            XdpMode::BestEffort => BindFlags::empty(),
            XdpMode::NativeZeroCopy => BindFlags::XDP_ZEROCOPY,
            XdpMode::Native | XdpMode::Generic => BindFlags::XDP_COPY,
        }
    }
}

/// Parsed `Interface.options` of an `afxdp` port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AfxdpConfig {
    /// `xdp-mode` (default [`XdpMode::BestEffort`]).
    pub mode: XdpMode,
    /// `use-need-wakeup` (default true): bind with `XDP_USE_NEED_WAKEUP` and
    /// only kick the kernel when a ring says it needs it.
    pub use_need_wakeup: bool,
    /// `n_rxq` (default 1, at most [`MAX_QUEUES`]).
    pub n_rxq: usize,
}

impl AfxdpConfig {
    /// Parses the options OVS's `netdev_afxdp_set_config` knows. Unknown
    /// options are ignored, as OVS ignores them; a bad value of a known one
    /// is a [`NetdevError::InvalidOption`].
    pub fn from_options(options: &Options) -> Result<AfxdpConfig, NetdevError> {
        let mode = match options.get("xdp-mode") {
            None => XdpMode::BestEffort,
            Some(v) => XdpMode::parse(v).ok_or_else(|| NetdevError::InvalidOption {
                option: "xdp-mode".into(),
                reason: format!(
                    "\"{v}\" is not one of best-effort, native-with-zerocopy, native, generic"
                ),
            })?,
        };
        let use_need_wakeup = match options.get("use-need-wakeup").map(String::as_str) {
            None | Some("true") => true,
            Some("false") => false,
            Some(v) => {
                return Err(NetdevError::InvalidOption {
                    option: "use-need-wakeup".into(),
                    reason: format!("\"{v}\" is not true or false"),
                })
            }
        };
        let n_rxq = match options.get("n_rxq") {
            None => 1,
            Some(v) => match v.parse::<usize>() {
                // OVS clamps 0 (and negatives) to 1.
                Ok(n) if n <= MAX_QUEUES => n.max(1),
                _ => {
                    return Err(NetdevError::InvalidOption {
                        option: "n_rxq".into(),
                        reason: format!("\"{v}\" is not a number of queues in 1..={MAX_QUEUES}"),
                    })
                }
            },
        };
        Ok(AfxdpConfig {
            mode,
            use_need_wakeup,
            n_rxq,
        })
    }
}

/// Per-queue counters, written only by the holder of the queue's rx or tx
/// lock, read by [`Netdev::stats`].
#[derive(Default)]
struct QueueCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

/// Adds `n` to a counter only its lock holder writes (no read-modify-write
/// atomics needed).
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

/// The receive side of a queue: the fill and rx rings and the frames that
/// cycle between them.
struct RxSide {
    fq: FillQueue,
    rxq: RxQueue,
    /// Receive frames not on the fill ring (normally none: every frame goes
    /// back right after its packet is copied out).
    free: Vec<FrameDesc>,
    /// Scratch descriptors for one burst.
    descs: Vec<FrameDesc>,
}

/// The transmit side of a queue: the tx and completion rings and the frames
/// that cycle between them.
struct TxSide {
    txq: TxQueue,
    cq: CompQueue,
    /// Transmit frames free for use.
    free: Vec<FrameDesc>,
    /// Frames on the tx ring or the completion ring.
    outstanding: usize,
    /// Scratch descriptors for one burst / one reclaim.
    descs: Vec<FrameDesc>,
}

/// One XSK socket with its UMEM. Field order matters only for readability:
/// libxdp deletes the socket when the last of its rings is dropped and the
/// UMEM when the last handle on it is.
struct XskQueue {
    rx: Mutex<RxSide>,
    tx: Mutex<TxSide>,
    umem: Umem,
    counters: QueueCounters,
}

/// An `afxdp` port. See the [module documentation](self).
pub struct AfxdpNetdev {
    name: String,
    ifindex: u32,
    config: AfxdpConfig,
    /// The concrete mode the sockets are bound in (never `BestEffort`).
    mode_in_use: XdpMode,
    /// The XDP program id that was attached when the sockets were bound.
    prog_id: u32,
    queues: Vec<XskQueue>,
}

/// Locks a mutex, ignoring poisoning (the rings stay consistent: every
/// operation on them is a single libxdp call).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sysfs(name: &str, attr: &str) -> io::Result<String> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{attr}")).map(|s| s.trim().to_string())
}

/// The ifindex of `name` in the current network namespace.
fn ifindex_of(name: &str) -> Result<u32, NetdevError> {
    if name.is_empty() || name.contains('/') || name.len() > 15 {
        return Err(NetdevError::NoDevice(name.to_string()));
    }
    let s = sysfs(name, "ifindex").map_err(|_| NetdevError::NoDevice(name.to_string()))?;
    s.parse()
        .map_err(|_| NetdevError::NoDevice(name.to_string()))
}

/// The errno of a libxdp socket or UMEM creation error, if it carries one.
fn errno_of(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    e.source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)
}

fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    match e.source() {
        Some(s) => format!("{s} ({e})"),
        None => e.to_string(),
    }
}

/// The id of the XDP program attached to `ifindex` in the mode of `flags`
/// (0 if none).
fn xdp_prog_id(ifindex: u32, flags: XdpFlags) -> io::Result<u32> {
    let mut id: u32 = 0;
    // SAFETY: `bpf_xdp_query_id` writes one u32 through the pointer, which
    // points at a live local; the ifindex and flags are plain integers.
    let ret = unsafe { libxdp_sys::bpf_xdp_query_id(ifindex as i32, flags.bits() as i32, &mut id) };
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret));
    }
    Ok(id)
}

/// Detaches whatever XDP program is attached to the device `name` in mode
/// `mode` (`native` or `generic`; `best-effort` tries both). Returns whether
/// a program was detached. For recovery after a crash left a program behind
/// (OVS `signal_remove_xdp`); a port detaches its own program when dropped.
pub fn detach_xdp_program(name: &str, mode: XdpMode) -> Result<bool, NetdevError> {
    let ifindex = ifindex_of(name)?;
    let modes: &[XdpMode] = match mode {
        XdpMode::BestEffort => &[XdpMode::Native, XdpMode::Generic],
        XdpMode::NativeZeroCopy | XdpMode::Native => &[XdpMode::Native],
        XdpMode::Generic => &[XdpMode::Generic],
    };
    let mut detached = false;
    for m in modes {
        let flags = m.xdp_flags();
        let id = xdp_prog_id(ifindex, flags)
            .map_err(|e| NetdevError::os(format!("query XDP program of {name}"), e))?;
        if id != 0 {
            detach(ifindex, flags)
                .map_err(|e| NetdevError::os(format!("detach XDP program from {name}"), e))?;
            detached = true;
        }
    }
    Ok(detached)
}

fn detach(ifindex: u32, flags: XdpFlags) -> io::Result<()> {
    // SAFETY: `bpf_xdp_detach` takes plain integers and an optional options
    // pointer, here null (no expected-program check).
    let ret = unsafe { libxdp_sys::bpf_xdp_detach(ifindex as i32, flags.bits(), std::ptr::null()) };
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret));
    }
    Ok(())
}

impl AfxdpNetdev {
    /// Opens the device `name` as an `afxdp` port with `options` (see the
    /// [module documentation](self)): creates `n_rxq` UMEMs and XSK sockets,
    /// binds socket `i` to queue `i` of the device in the requested (or, for
    /// `best-effort`, the first working) XDP mode, and fills each fill ring.
    ///
    /// Errors: [`NetdevError::NoDevice`] if there is no such device,
    /// [`NetdevError::InvalidOption`] for a bad option value,
    /// [`NetdevError::Os`] if a UMEM or socket cannot be created or bound
    /// (e.g. `Operation not supported` for `native-with-zerocopy` on veth,
    /// `Invalid argument` for a queue the device does not have, `Device or
    /// resource busy` still after [`BUSY_RETRY_FOR`] of retries). Needs
    /// `CAP_NET_ADMIN` and `CAP_BPF`/`CAP_SYS_ADMIN` (root) and, for libxdp, a
    /// bpffs at `/sys/fs/bpf` (or `LIBXDP_BPFFS`).
    pub fn open(name: &str, options: &Options) -> Result<Arc<dyn Netdev>, NetdevError> {
        Ok(Arc::new(AfxdpNetdev::open_concrete(name, options)?))
    }

    /// [`AfxdpNetdev::open`] returning the concrete type (for
    /// [`AfxdpNetdev::mode_in_use`] and [`AfxdpNetdev::close`]).
    pub fn open_concrete(name: &str, options: &Options) -> Result<AfxdpNetdev, NetdevError> {
        let config = AfxdpConfig::from_options(options)?;
        let ifindex = ifindex_of(name)?;
        let iface: Interface = name
            .parse()
            .map_err(|_| NetdevError::NoDevice(name.to_string()))?;

        let mut queues = Vec::with_capacity(config.n_rxq);
        let mode_in_use = if config.mode == XdpMode::BestEffort {
            let mut last_err = None;
            let mut found = None;
            for m in [XdpMode::NativeZeroCopy, XdpMode::Native, XdpMode::Generic] {
                match XskQueue::open(name, &iface, 0, m, config.use_need_wakeup) {
                    Ok(q) => {
                        queues.push(q);
                        found = Some(m);
                        break;
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            match found {
                Some(m) => m,
                None => return Err(last_err.expect("three modes were tried")),
            }
        } else {
            config.mode
        };
        // Built before the remaining queues so that a failure on one of them
        // drops the queues bound so far and detaches the program.
        let mut dev = AfxdpNetdev {
            name: name.to_string(),
            ifindex,
            config,
            mode_in_use,
            prog_id: 0,
            queues,
        };
        for qid in dev.queues.len()..config.n_rxq {
            let q = XskQueue::open(
                name,
                &iface,
                qid as u32,
                mode_in_use,
                config.use_need_wakeup,
            )?;
            dev.queues.push(q);
        }
        dev.prog_id = xdp_prog_id(ifindex, mode_in_use.xdp_flags())
            .map_err(|e| NetdevError::os(format!("query XDP program of {name}"), e))?;
        if dev.prog_id == 0 {
            return Err(NetdevError::Os {
                op: format!("load XDP program on {name}"),
                err: "no XDP program attached after binding the AF_XDP sockets".into(),
            });
        }
        Ok(dev)
    }

    /// The concrete XDP mode the sockets are bound in (what `best-effort`
    /// chose).
    pub fn mode_in_use(&self) -> XdpMode {
        self.mode_in_use
    }

    /// The parsed options the port was opened with.
    pub fn config(&self) -> AfxdpConfig {
        self.config
    }

    /// Closes every socket, deletes the UMEMs and detaches the XDP program
    /// the sockets loaded (if it is still the one attached). Dropping the port
    /// does the same; this form reports a failure to detach.
    pub fn close(mut self) -> Result<(), NetdevError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), NetdevError> {
        if self.queues.is_empty() && self.prog_id == 0 {
            return Ok(());
        }
        // Deletes every socket (libxdp removes their xsks_map entries) and
        // then every UMEM.
        self.queues.clear();
        let prog_id = std::mem::take(&mut self.prog_id);
        if prog_id == 0 {
            return Ok(());
        }
        let flags = self.mode_in_use.xdp_flags();
        let name = &self.name;
        // libxdp may already have detached its program when the last socket
        // went; only what is still attached, and still ours, is removed.
        match xdp_prog_id(self.ifindex, flags) {
            Ok(id) if id == prog_id => detach(self.ifindex, flags)
                .map_err(|e| NetdevError::os(format!("detach XDP program from {name}"), e)),
            Ok(_) => Ok(()),
            // The device is gone (and its program with it).
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(NetdevError::os(format!("query XDP program of {name}"), e)),
        }
    }

    fn queue(&self, qid: usize) -> Result<&XskQueue, NetdevError> {
        self.queues
            .get(qid)
            .ok_or_else(|| NetdevError::InvalidOption {
                option: "rx queue".into(),
                reason: format!(
                    "{}: no rx queue {qid} (n_rxq={})",
                    self.name,
                    self.queues.len()
                ),
            })
    }
}

impl Drop for AfxdpNetdev {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("afxdp: {e}");
        }
    }
}

impl XskQueue {
    /// Creates a UMEM and a socket bound to queue `qid` of `iface` in `mode`,
    /// retrying `EBUSY` for up to [`BUSY_RETRY_FOR`].
    fn open(
        name: &str,
        iface: &Interface,
        qid: u32,
        mode: XdpMode,
        use_need_wakeup: bool,
    ) -> Result<XskQueue, NetdevError> {
        let deadline = Instant::now() + BUSY_RETRY_FOR;
        let mut backoff = Duration::from_millis(20);
        loop {
            match XskQueue::try_open(name, iface, qid, mode, use_need_wakeup) {
                Err((NetdevError::Os { .. }, Some(libc::EBUSY))) if Instant::now() < deadline => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                Err((e, _)) => return Err(e),
                Ok(q) => return Ok(q),
            }
        }
    }

    fn try_open(
        name: &str,
        iface: &Interface,
        qid: u32,
        mode: XdpMode,
        use_need_wakeup: bool,
    ) -> Result<XskQueue, (NetdevError, Option<i32>)> {
        let umem_config = UmemConfig::builder()
            .frame_size(FrameSize::new(FRAME_SIZE).expect("4096 is a valid frame size"))
            .fill_queue_size(QueueSize::new(RING_SIZE).expect("power of two"))
            .comp_queue_size(QueueSize::new(RING_SIZE).expect("power of two"))
            .frame_headroom(0)
            .build()
            .expect("valid UMEM layout");
        let (umem, mut frames) = Umem::new(
            umem_config,
            NonZeroU32::new(NUM_FRAMES).expect("non-zero"),
            false,
        )
        .map_err(|e| {
            (
                NetdevError::Os {
                    op: format!("create UMEM for {name} queue {qid}"),
                    err: describe(&e),
                },
                errno_of(&e),
            )
        })?;

        let mut bind_flags = mode.bind_flags();
        if use_need_wakeup {
            bind_flags |= BindFlags::XDP_USE_NEED_WAKEUP;
        }
        let socket_config = SocketConfig::builder()
            .rx_queue_size(QueueSize::new(RING_SIZE).expect("power of two"))
            .tx_queue_size(QueueSize::new(RING_SIZE).expect("power of two"))
            .libxdp_flags(LibxdpFlags::empty())
            .xdp_flags(mode.xdp_flags() | XdpFlags::XDP_FLAGS_UPDATE_IF_NOEXIST)
            .bind_flags(bind_flags)
            .build();
        // SAFETY: the UMEM is fresh and not shared, so no socket is bound to
        // this (device, queue) pair from it and loading the default program
        // (no INHIBIT_PROG_LOAD) is allowed.
        let created = unsafe { Socket::new(socket_config, &umem, iface, qid) };
        let (txq, rxq, fq_cq) = created.map_err(|e| {
            (
                NetdevError::Os {
                    op: format!(
                        "bind AF_XDP socket to {name} queue {qid} in {} mode",
                        mode.name()
                    ),
                    err: describe(&e),
                },
                errno_of(&e),
            )
        })?;
        let Some((mut fq, cq)) = fq_cq else {
            return Err((
                NetdevError::Os {
                    op: format!("bind AF_XDP socket to {name} queue {qid}"),
                    err: "libxdp returned no fill/completion rings for a fresh UMEM".into(),
                },
                None,
            ));
        };

        let tx_free = frames.split_off(RING_SIZE as usize);
        // SAFETY: the receive frames belong to `umem`, which `fq` was created
        // from, and none of them is on any other ring.
        let filled = unsafe { fq.produce(&frames) };
        if filled != frames.len() {
            return Err((
                NetdevError::Os {
                    op: format!("fill the fill ring of {name} queue {qid}"),
                    err: format!("only {filled} of {} descriptors fit", frames.len()),
                },
                None,
            ));
        }
        frames.clear();
        Ok(XskQueue {
            rx: Mutex::new(RxSide {
                fq,
                rxq,
                free: frames,
                descs: vec![FrameDesc::default(); NETDEV_MAX_BURST],
            }),
            tx: Mutex::new(TxSide {
                txq,
                cq,
                free: tx_free,
                outstanding: 0,
                descs: vec![FrameDesc::default(); RING_SIZE as usize],
            }),
            umem,
            counters: QueueCounters::default(),
        })
    }

    fn rx_burst(
        &self,
        batch: &mut PacketBatch,
        max: usize,
        use_need_wakeup: bool,
    ) -> Result<usize, NetdevError> {
        let mut guard = lock(&self.rx);
        let rx = &mut *guard;
        // Frames left over from an earlier burst (none normally) go back first.
        if !rx.free.is_empty() {
            // SAFETY: the frames in `free` belong to this queue's UMEM and are
            // on no ring.
            let n = unsafe { rx.fq.produce(&rx.free) };
            rx.free.drain(..n);
        }
        let max = max.min(rx.descs.len());
        // SAFETY: the descriptors are only written by the call (frames of this
        // queue's UMEM, handed over from the rx ring).
        let n = unsafe { rx.rxq.consume(&mut rx.descs[..max]) };
        if n == 0 {
            if use_need_wakeup && rx.fq.needs_wakeup() {
                // OVS `xsk_rx_wakeup_if_needed`: poll(POLLIN, 0).
                rx.fq
                    .wakeup(rx.rxq.fd_mut(), 0)
                    .map_err(|e| NetdevError::os("poll AF_XDP socket", e))?;
            }
            return Ok(0);
        }
        let mut bytes = 0u64;
        let mut errors = 0u64;
        for desc in &rx.descs[..n] {
            // SAFETY: `desc` came off this queue's rx ring, so it names a
            // frame of `self.umem` that the kernel has finished writing and
            // that is on no ring until it is produced to the fill ring below.
            let data = unsafe { self.umem.data(desc) };
            let frame = data.contents();
            if frame.is_empty() || desc.has_more_frames() {
                errors += 1;
                continue;
            }
            let mut p = DpPacket::with_capacity(DEFAULT_HEADROOM, frame.len());
            p.set_frame(frame);
            bytes += frame.len() as u64;
            batch.push(Box::new(p));
        }
        // SAFETY: the frames were consumed from the rx ring above and their
        // contents have been copied out; they belong to this queue's UMEM.
        let back = unsafe { rx.fq.produce(&rx.descs[..n]) };
        if back < n {
            // Cannot happen (the fill ring holds every receive frame), but
            // keep the frames rather than leak them.
            let rest: Vec<FrameDesc> = rx.descs[back..n].to_vec();
            rx.free.extend(rest);
        }
        let got = n - errors as usize;
        bump(&self.counters.rx_packets, got as u64);
        bump(&self.counters.rx_bytes, bytes);
        bump(&self.counters.rx_errors, errors);
        Ok(got)
    }

    /// Moves completed transmit frames back to the free list.
    fn reclaim(tx: &mut TxSide) {
        if tx.outstanding == 0 {
            return;
        }
        // SAFETY: the descriptors are only written by the call (frames of
        // this queue's UMEM, handed back by the completion ring).
        let n = unsafe { tx.cq.consume(&mut tx.descs) };
        tx.free.extend_from_slice(&tx.descs[..n]);
        tx.outstanding -= n.min(tx.outstanding);
    }

    /// `sendto()` kick (OVS `kick_tx`): in copy mode each call transmits a
    /// kernel batch synchronously, so `EAGAIN` is retried once per batch
    /// outstanding. Never blocks (`MSG_DONTWAIT`).
    fn kick(tx: &mut TxSide, use_need_wakeup: bool) -> Result<(), i32> {
        if use_need_wakeup && !tx.txq.needs_wakeup() {
            return Ok(());
        }
        let fd = tx.txq.fd().as_raw_fd();
        let mut retries = tx.outstanding / KERNEL_TX_BATCH + 1;
        loop {
            // SAFETY: a zero-length sendto with null buffer and address on a
            // live AF_XDP socket fd (owned by `tx.txq`'s socket, alive for the
            // borrow) is the documented tx kick; nothing is read or written
            // through the pointers.
            let ret = unsafe {
                libc::sendto(
                    fd,
                    std::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            };
            if ret >= 0 {
                return Ok(());
            }
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            match errno {
                libc::EAGAIN if retries > 0 => retries -= 1,
                libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::EINTR => return Ok(()),
                e => return Err(e),
            }
        }
    }

    /// Puts `ready` (written transmit frames) on the tx ring; returns how
    /// many went (all or none: libxdp reserves all-or-nothing). Frames that
    /// did not go are back on the free list.
    fn post(tx: &mut TxSide, ready: &[FrameDesc]) -> usize {
        if ready.is_empty() {
            return 0;
        }
        // SAFETY: the frames were taken from this queue's free transmit list
        // (frames of this queue's UMEM on no ring) and written by the caller.
        let n = unsafe { tx.txq.produce(ready) };
        tx.outstanding += n;
        tx.free.extend_from_slice(&ready[n..]);
        n
    }

    fn tx_burst(&self, batch: &mut PacketBatch, use_need_wakeup: bool) -> usize {
        let mut guard = lock(&self.tx);
        let tx = &mut *guard;
        XskQueue::reclaim(tx);

        let mut dropped = 0u64;
        let mut sent = 0u64;
        let mut bytes = 0u64;
        let mut ready = [FrameDesc::default(); NETDEV_MAX_BURST];
        let mut ready_bytes = 0u64;
        let mut k = 0usize;
        let total = batch.pkts.len();
        for (i, p) in batch.pkts.drain(..).enumerate() {
            let frame = p.data();
            let desc = if frame.is_empty() || frame.len() > MAX_FRAME_LEN {
                None
            } else {
                tx.free.pop()
            };
            if let Some(mut desc) = desc {
                // SAFETY: `desc` was on the free list: a frame of this queue's
                // UMEM that is on no ring and referenced nowhere else.
                let mut data = unsafe { self.umem.data_mut(&mut desc) };
                let mut cur = data.cursor();
                cur.set_pos(0);
                // Cannot fail: the frame is at most MAX_FRAME_LEN long, the
                // data segment of a UMEM frame.
                if cur.write_all(frame).is_ok() {
                    ready[k] = desc;
                    k += 1;
                    ready_bytes += frame.len() as u64;
                } else {
                    tx.free.push(desc);
                    dropped += 1;
                }
            } else {
                dropped += 1;
            }
            if k == NETDEV_MAX_BURST || (i + 1 == total && k > 0) {
                let n = XskQueue::post(tx, &ready[..k]);
                if n == k {
                    sent += n as u64;
                    bytes += ready_bytes;
                } else {
                    dropped += k as u64;
                }
                k = 0;
                ready_bytes = 0;
            }
        }
        if tx.outstanding > 0 {
            if XskQueue::kick(tx, use_need_wakeup).is_err() {
                bump(&self.counters.tx_errors, 1);
            }
            XskQueue::reclaim(tx);
        }
        bump(&self.counters.tx_packets, sent);
        bump(&self.counters.tx_bytes, bytes);
        bump(&self.counters.tx_dropped, dropped);
        sent as usize
    }
}

impl Netdev for AfxdpNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "afxdp"
    }

    fn is_pmd(&self) -> bool {
        true
    }

    fn n_rxq(&self) -> usize {
        self.queues.len()
    }

    fn n_txq(&self) -> usize {
        self.queues.len()
    }

    fn rx_burst(&self, qid: usize, batch: &mut PacketBatch) -> Result<usize, NetdevError> {
        let q = self.queue(qid)?;
        let room = NETDEV_MAX_BURST.saturating_sub(batch.len());
        if room == 0 {
            return Ok(0);
        }
        q.rx_burst(batch, room, self.config.use_need_wakeup)
    }

    fn tx_burst(&self, qid: usize, batch: &mut PacketBatch) -> usize {
        if self.queues.is_empty() {
            batch.pkts.clear();
            return 0;
        }
        let q = &self.queues[qid % self.queues.len()];
        q.tx_burst(batch, self.config.use_need_wakeup)
    }

    fn mtu(&self) -> u32 {
        sysfs(&self.name, "mtu")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), NetdevError> {
        // Ethernet header and one VLAN tag must fit in a UMEM frame.
        if mtu as usize + 18 > MAX_FRAME_LEN || mtu < 68 {
            return Err(NetdevError::InvalidOption {
                option: "mtu_request".into(),
                reason: format!(
                    "{mtu} is outside 68..={} for an afxdp port",
                    MAX_FRAME_LEN - 18
                ),
            });
        }
        std::fs::write(format!("/sys/class/net/{}/mtu", self.name), mtu.to_string())
            .map_err(|e| NetdevError::os(format!("set MTU of {} to {mtu}", self.name), e))
    }

    fn mac(&self) -> [u8; 6] {
        let mut mac = [0u8; 6];
        if let Ok(s) = sysfs(&self.name, "address") {
            for (b, h) in mac.iter_mut().zip(s.split(':')) {
                *b = u8::from_str_radix(h, 16).unwrap_or(0);
            }
        }
        mac
    }

    fn link_state(&self) -> LinkState {
        // `carrier` reads EINVAL while the device is administratively down.
        match sysfs(&self.name, "carrier").as_deref() {
            Ok("1") => LinkState::Up,
            _ => LinkState::Down,
        }
    }

    fn stats(&self) -> NetdevStats {
        let mut s = NetdevStats::default();
        for q in &self.queues {
            let c = &q.counters;
            s.rx_packets += c.rx_packets.load(Ordering::Relaxed);
            s.rx_bytes += c.rx_bytes.load(Ordering::Relaxed);
            s.rx_dropped += c.rx_dropped.load(Ordering::Relaxed);
            s.rx_errors += c.rx_errors.load(Ordering::Relaxed);
            s.tx_packets += c.tx_packets.load(Ordering::Relaxed);
            s.tx_bytes += c.tx_bytes.load(Ordering::Relaxed);
            s.tx_dropped += c.tx_dropped.load(Ordering::Relaxed);
            s.tx_errors += c.tx_errors.load(Ordering::Relaxed);
            // The kernel's per-socket counters (XDP_STATISTICS): frames it
            // dropped because the rx ring or the fill ring was full/empty,
            // and invalid descriptors.
            let xs = lock(&q.rx).rxq.fd().xdp_statistics();
            if let Ok(xs) = xs {
                s.rx_dropped += xs.rx_dropped() + xs.rx_ring_full();
                s.rx_errors += xs.rx_invalid_descs();
                s.tx_errors += xs.tx_invalid_descs();
            }
        }
        s
    }

    fn status(&self) -> Options {
        let mut o = Options::new();
        o.insert("n_rxq".into(), self.queues.len().to_string());
        o.insert("xdp-mode".into(), self.config.mode.name().into());
        o.insert("xdp-mode-in-use".into(), self.mode_in_use.name().into());
        o.insert(
            "use-need-wakeup".into(),
            self.config.use_need_wakeup.to_string(),
        );
        o
    }
}
