//! # DPDK ports (`type=dpdk`)
//!
//! A port driven by a DPDK poll-mode driver through the system's DPDK 22.11
//! (`dpdk-sys`), configured as OVS-DPDK configures it
//! (`Documentation/topics/dpdk/phy.rst`, `vdev.rst`):
//!
//! | option | meaning | default |
//! | --- | --- | --- |
//! | `dpdk-devargs` | DPDK device arguments: a PCI address, or a vdev such as `net_pcap0,rx_pcap=/tmp/in.pcap,infinite_rx=1`, `net_null0`, `net_ring0`, `net_af_packet0,iface=veth0`, `net_af_xdp0,iface=eth0`, `net_tap0,iface=tap0` | required |
//! | `n_rxq` | rx queues (RSS spreads flows over them when the driver can) | 1 |
//! | `n_txq` | tx queues (rvs extension; OVS sizes them from the PMD count) | min(driver maximum, CPUs + 1) |
//! | `n_rxq_desc` | descriptors per rx queue, a power of 2 up to 4096 | 2048 |
//! | `n_txq_desc` | descriptors per tx queue, a power of 2 up to 4096 | 2048 |
//!
//! The device is probed with `rte_dev_probe(devargs)` (hot-plugged, as OVS
//! does) unless a port of that name already exists (e.g. one given with
//! `--vdev` in `dpdk-extra`), and removed with `rte_dev_remove` when the port
//! is dropped if it was probed here. The ethdev port is found by name: the
//! part of `dpdk-devargs` before the first comma.
//!
//! # EAL
//!
//! The Environment Abstraction Layer is initialised once per process
//! ([`dpdk_init`], from OVS's `other_config:dpdk-extra`, `dpdk-socket-mem`,
//! `dpdk-lcore-mask`; see [`dpdk_init_from_config`]), or with defaults by
//! the first [`DpdkNetdev::open`]. With free hugepages it runs
//! `--in-memory` (no files in hugetlbfs, as OVS); without, `--no-huge -m 512
//! --no-shconf --no-pci` (anonymous memory; `--in-memory` cannot be combined
//! with `--no-huge` in DPDK 22.11, and PCI devices must not DMA into
//! non-pinned memory). The calling thread gets its CPU affinity back after
//! `rte_eal_init` (which pins it to the main lcore), as OVS does.
//!
//! # Zero copy
//!
//! Received mbufs are wrapped, not copied: the [`DpPacket`] of a received
//! frame keeps its bytes in the mbuf (an [`ExternalBuf`], see
//! `dp_core::packet`), with the frame at the mbuf's `data_off` and the mbuf's
//! `buf_len` bytes as its buffer. Sending such a packet on any DPDK port
//! writes the packet's offset and length back into the mbuf (`data_off`,
//! `data_len`, `pkt_len`) and hands the mbuf itself to `rte_eth_tx_burst`.
//! Other packets are copied into an mbuf from the sending port's pool.
//! Multi-segment, indirect or shared mbufs (none of which the vdevs here
//! produce) are copied on receive.
//!
//! # Threads
//!
//! Rx and tx may be called from any thread. A thread that is not an EAL
//! lcore is registered with the EAL (`rte_thread_register`, as OVS registers
//! its PMD threads) on its first burst, and unregistered when it exits: it
//! gets an lcore id and with it the mempools' per-lcore caches, so mbufs are
//! recycled LIFO from a small hot set instead of round-robin through the
//! whole pool (the difference is several Mpps per core once frames are
//! large). Where no lcore id is left (`RTE_MAX_LCORE`), the thread goes on
//! without cache.
//! Each queue is locked; opening and closing ports is serialised by a global
//! lock, since DPDK's control path is not thread-safe.

use crate::{LinkState, Netdev, NetdevError, NetdevStats, Options};
use dp_core::packet::{DpPacket, ExternalBuf, PacketBatch, NETDEV_MAX_BURST};
use dpdk_sys as sys;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Default descriptors per rx queue (OVS `NIC_PORT_DEFAULT_RXQ_SIZE`).
pub const DEFAULT_RXQ_DESC: u16 = 2048;
/// Default descriptors per tx queue (OVS `NIC_PORT_DEFAULT_TXQ_SIZE`).
pub const DEFAULT_TXQ_DESC: u16 = 2048;
/// Largest accepted `n_rxq_desc` / `n_txq_desc` (OVS `NIC_PORT_MAX_Q_SIZE`).
pub const MAX_Q_DESC: u16 = 4096;
/// Memory in MiB the EAL takes without hugepages (`-m`).
pub const NO_HUGE_MEM_MB: u32 = 512;
/// Mbufs a port's pool holds beyond its rings (in-flight batches, packets
/// queued in the datapath). `net_pcap` with `infinite_rx=1` keeps every frame
/// of its `rx_pcap` file in an mbuf of the pool; those are added on top
/// ([`pcap_replay_mbufs`]).
pub const EXTRA_MBUFS: u32 = 4096;

/// Mbufs `net_pcap` keeps for `infinite_rx=1` replay: the number of frames
/// in the `rx_pcap` files of `devargs` per rx queue (0 for other devices, or
/// when a file cannot be read: the driver reports that itself).
pub fn pcap_replay_mbufs(devargs: &str) -> u32 {
    let mut parts = devargs.split(',');
    if !parts.next().is_some_and(|d| d.starts_with("net_pcap")) {
        return 0;
    }
    let kv: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
    if !kv
        .iter()
        .any(|(k, v)| *k == "infinite_rx" && v.trim() == "1")
    {
        return 0;
    }
    kv.iter()
        .filter(|(k, _)| *k == "rx_pcap")
        .map(|(_, path)| pcap_frames(path).unwrap_or(0))
        .sum()
}

/// Number of frames in a classic pcap file (either byte order, any
/// timestamp precision).
fn pcap_frames(path: &str) -> Option<u32> {
    let b = std::fs::read(path).ok()?;
    let magic = b.get(0..4)?;
    let le = match u32::from_le_bytes(magic.try_into().ok()?) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => return None,
    };
    let (mut i, mut n) = (24usize, 0u32);
    while let Some(h) = b.get(i + 8..i + 12) {
        let a: [u8; 4] = h.try_into().ok()?;
        let incl = if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        } as usize;
        i += 16 + incl;
        n += 1;
    }
    Some(n)
}

/// `RTE_MBUF_F_RX_RSS_HASH`: `hash.rss` is valid.
const MBUF_F_RX_RSS_HASH: u64 = 1 << 1;
/// `RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL`: the data is not the mbuf's own.
const MBUF_F_NOT_DIRECT: u64 = (1 << 62) | (1 << 61);
/// Ethernet header + two VLAN tags + CRC: frame bytes beyond the L3 MTU.
const MTU_OVERHEAD: u32 = 14 + 8 + 4;

static EAL: OnceLock<Result<(), NetdevError>> = OnceLock::new();

/// `LCORE_ID_ANY`: the lcore id of a thread unknown to the EAL.
const LCORE_ID_ANY: u32 = u32::MAX;

/// A thread's registration with the EAL (see the module documentation),
/// undone when the thread exits.
struct LcoreRegistration {
    registered: bool,
}

impl LcoreRegistration {
    fn new() -> LcoreRegistration {
        if !dpdk_initialized() {
            return LcoreRegistration { registered: false };
        }
        // SAFETY: reads the calling thread's per-lcore id; no preconditions.
        if unsafe { sys::rvs_rte_lcore_id() } != LCORE_ID_ANY {
            // An EAL lcore already (the main thread after rte_eal_init).
            return LcoreRegistration { registered: false };
        }
        // SAFETY: the EAL is initialised (checked above); registering the
        // calling thread only sets its per-thread lcore state.
        let ok = unsafe { sys::rte_thread_register() } == 0;
        // SAFETY: as above.
        let id = unsafe { sys::rvs_rte_lcore_id() };
        LcoreRegistration {
            registered: ok && id != LCORE_ID_ANY,
        }
    }
}

impl Drop for LcoreRegistration {
    fn drop(&mut self) {
        if self.registered {
            // SAFETY: this thread registered itself and is exiting; its lcore
            // id goes back to the EAL.
            unsafe { sys::rte_thread_unregister() };
        }
    }
}

thread_local! {
    static LCORE: LcoreRegistration = LcoreRegistration::new();
}

/// Registers the calling thread with the EAL if it is not an lcore yet.
fn ensure_lcore() {
    LCORE.with(|_| ());
}

/// Ports open in this process (by ethdev port id), and the lock that
/// serialises DPDK's control path.
static CONTROL: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// Pools of closed ports that still had mbufs out (in packets queued
/// elsewhere) when their port closed; freed once full again (OVS
/// `dpdk_mp_sweep`).
static RETIRED_POOLS: Mutex<Vec<Pool>> = Mutex::new(Vec::new());

fn control() -> MutexGuard<'static, Vec<u16>> {
    CONTROL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `rte_strerror(errnum)` with the number, e.g. `"No such device (19)"`.
fn rte_strerror(errnum: c_int) -> String {
    let errnum = errnum.abs();
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string, valid until the next call on this thread; it is
    // copied out at once.
    let s = unsafe { CStr::from_ptr(sys::rte_strerror(errnum)) };
    format!("{} ({errnum})", s.to_string_lossy())
}

/// The current `rte_errno`.
fn rte_errno() -> c_int {
    // SAFETY: reads the calling thread's rte_errno; no preconditions.
    unsafe { sys::rvs_rte_errno() }
}

fn rte_err(op: impl Into<String>, ret: c_int) -> NetdevError {
    NetdevError::Os {
        op: op.into(),
        err: rte_strerror(ret),
    }
}

/// True if this machine has free hugepages of any size.
fn hugepages_free() -> bool {
    let Ok(dirs) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return false;
    };
    dirs.flatten().any(|d| {
        std::fs::read_to_string(d.path().join("free_hugepages"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    })
}

/// The first CPU this thread may run on (EAL's main lcore goes there).
fn first_allowed_cpu() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .and_then(|l| {
                    l.trim()
                        .split([',', '-'])
                        .next()
                        .and_then(|c| c.trim().parse().ok())
                })
        })
        .unwrap_or(0)
}

/// The EAL arguments [`dpdk_init`] uses (after `argv[0]`): defaults for this
/// machine, then the user's `extra` split on whitespace (OVS `dpdk-extra`).
/// Defaults the user gave an equivalent for are left out.
pub fn eal_args(extra: &str, socket_mem: Option<&str>, lcore_mask: Option<&str>) -> Vec<String> {
    let user: Vec<String> = extra.split_whitespace().map(str::to_owned).collect();
    let has = |names: &[&str]| {
        user.iter().any(|a| {
            names
                .iter()
                .any(|n| a == n || a.starts_with(&format!("{n}=")))
        })
    };
    let mut args = Vec::new();
    if !has(&["-c", "-l", "--lcores"]) {
        match lcore_mask {
            Some(mask) => args.extend(["-c".to_owned(), mask.to_owned()]),
            None => args.extend(["--lcores".to_owned(), format!("0@{}", first_allowed_cpu())]),
        }
    }
    let no_huge = has(&["--no-huge"]) || !hugepages_free();
    if no_huge {
        if !has(&["--no-huge"]) {
            args.push("--no-huge".to_owned());
        }
        if !has(&["-m", "--socket-mem"]) {
            // socket-mem is per NUMA node in MiB; without hugepages only a
            // total (-m) exists.
            let mb = socket_mem
                .map(|s| {
                    s.split(',')
                        .filter_map(|v| v.trim().parse::<u32>().ok())
                        .sum()
                })
                .filter(|&mb: &u32| mb > 0)
                .unwrap_or(NO_HUGE_MEM_MB);
            args.extend(["-m".to_owned(), mb.to_string()]);
        }
        if !has(&["--no-shconf", "--in-memory"]) {
            args.push("--no-shconf".to_owned());
        }
        if !has(&["--no-pci", "-a", "--allow", "-b", "--block"]) {
            args.push("--no-pci".to_owned());
        }
    } else {
        if !has(&["--in-memory", "--no-shconf"]) {
            args.push("--in-memory".to_owned());
        }
        if let Some(sm) = socket_mem {
            if !has(&["-m", "--socket-mem"]) {
                args.extend(["--socket-mem".to_owned(), sm.to_owned()]);
            }
        }
    }
    if !has(&["--file-prefix"]) {
        args.extend([
            "--file-prefix".to_owned(),
            format!("rvs{}", std::process::id()),
        ]);
    }
    args.extend(user);
    args
}

/// Initialises DPDK's EAL once for the process (OVS `dpdk-init=true`):
/// `extra` is OVS `other_config:dpdk-extra` (whitespace-separated EAL
/// arguments, given after rvs's defaults so they can add to them),
/// `socket_mem` is `dpdk-socket-mem` (MiB per NUMA node, e.g. `"1024,0"`;
/// without hugepages their sum becomes `-m`). See the module documentation
/// for the defaults ([`eal_args`] shows them).
///
/// Only the first call initialises; later calls return its result whatever
/// their arguments (DPDK cannot re-initialise in one process).
///
/// # Errors
///
/// [`NetdevError::Os`] with `rte_errno`'s text if `rte_eal_init` fails.
pub fn dpdk_init(extra: &str, socket_mem: Option<&str>) -> Result<(), NetdevError> {
    init_with(extra, socket_mem, None)
}

/// [`dpdk_init`] from OVS `Open_vSwitch.other_config` keys: does nothing
/// (`Ok(false)`) unless `dpdk-init` is `true` (or `try`, as in OVS);
/// `dpdk-extra`, `dpdk-socket-mem` and `dpdk-lcore-mask` (hex core mask for
/// `-c`) feed the EAL arguments. `Ok(true)` when DPDK is initialised.
///
/// # Errors
///
/// As [`dpdk_init`]; with `dpdk-init=try` a failure is returned too (the
/// caller may go on without DPDK).
pub fn dpdk_init_from_config(other_config: &Options) -> Result<bool, NetdevError> {
    match other_config.get("dpdk-init").map(String::as_str) {
        Some("true") | Some("try") => {}
        _ => return Ok(false),
    }
    let extra = other_config.get("dpdk-extra").map_or("", String::as_str);
    init_with(
        extra,
        other_config.get("dpdk-socket-mem").map(String::as_str),
        other_config.get("dpdk-lcore-mask").map(String::as_str),
    )?;
    Ok(true)
}

fn init_with(
    extra: &str,
    socket_mem: Option<&str>,
    lcores: Option<&str>,
) -> Result<(), NetdevError> {
    EAL.get_or_init(|| {
        let mut args = vec!["rvs".to_owned()];
        args.extend(eal_args(extra, socket_mem, lcores));
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| NetdevError::InvalidOption {
                option: "dpdk-extra".to_owned(),
                reason: "contains a NUL byte".to_owned(),
            })?;
        // EAL keeps pointers into argv (and permutes it): both live for the
        // rest of the process.
        let argv: &'static mut [*mut c_char] = Box::leak(
            cargs
                .into_iter()
                .map(CString::into_raw)
                .chain(std::iter::once(ptr::null_mut()))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let argc = (argv.len() - 1) as c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings followed by a
        // NULL, all leaked so they outlive the EAL; the OnceLock makes this
        // the only rte_eal_init call of the process.
        let ret = unsafe { sys::rvs_rte_eal_init_keep_affinity(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(rte_err(
                format!("rte_eal_init({})", args[1..].join(" ")),
                rte_errno(),
            ));
        }
        Ok(())
    })
    .clone()
}

/// The DPDK version this build is linked against, as `rte_version()` prints
/// it and OVS writes it to `Open_vSwitch.dpdk_version` (e.g.
/// `"DPDK 22.11.11"`).
pub fn dpdk_version() -> String {
    let suffix = String::from_utf8_lossy(sys::RTE_VER_SUFFIX);
    let suffix = suffix.trim_end_matches('\0');
    let mut v = format!(
        "DPDK {}.{:02}.{}",
        sys::RTE_VER_YEAR,
        sys::RTE_VER_MONTH,
        sys::RTE_VER_MINOR
    );
    if !suffix.is_empty() {
        v.push_str(&format!("{suffix}{}", sys::RTE_VER_RELEASE));
    }
    v
}

/// True once [`dpdk_init`] (or the first [`DpdkNetdev::open`]) initialised
/// the EAL successfully.
pub fn dpdk_initialized() -> bool {
    matches!(EAL.get(), Some(Ok(())))
}

/// An mbuf pool (`rte_mempool` made by `rte_pktmbuf_pool_create`).
#[derive(Clone, Copy, Debug)]
struct Pool(NonNull<sys::rte_mempool>);

// SAFETY: an rte_mempool is made for concurrent use from any thread (its ring
// is multi-producer/multi-consumer; non-lcore threads bypass the per-lcore
// caches); the pointer is only passed to DPDK's thread-safe mempool calls.
unsafe impl Send for Pool {}
// SAFETY: as for Send: every operation through it is thread-safe in DPDK.
unsafe impl Sync for Pool {}

impl Pool {
    /// Mbufs in the pool now (not handed out).
    fn avail(self) -> u32 {
        // SAFETY: the pool is alive (freed only when full and unreferenced).
        unsafe { sys::rte_mempool_avail_count(self.0.as_ptr()) }
    }

    /// Mbufs the pool was made with.
    fn size(self) -> u32 {
        // SAFETY: as in avail.
        unsafe { sys::rvs_rte_mempool_size(self.0.as_ptr()) }
    }

    /// Frees the pool if every mbuf is back; else returns it.
    fn try_free(self) -> Option<Pool> {
        if self.avail() >= self.size() {
            // SAFETY: every mbuf is back in the pool, so nothing refers to
            // its memory any more, and the pool is not used after this.
            unsafe { sys::rte_mempool_free(self.0.as_ptr()) };
            None
        } else {
            Some(self)
        }
    }
}

/// Frees retired pools that are full again.
fn sweep_pools() {
    let mut retired = RETIRED_POOLS.lock().unwrap_or_else(|e| e.into_inner());
    retired.retain(|p| p.try_free().is_some());
}

/// A received mbuf holding a packet's bytes: the [`ExternalBuf`] of DPDK
/// packets. Its buffer is the mbuf's whole data area, `buf_len` bytes from
/// `buf_addr` (headroom + data room); the frame's place in it is tracked by
/// the [`DpPacket`] and written back into the mbuf on transmit. Dropping it
/// frees the mbuf to its pool (`rte_pktmbuf_free`). An empty wrapper (after
/// its mbuf was transmitted) has an empty buffer and is kept for reuse.
#[derive(Debug)]
pub struct Mbuf {
    m: *mut sys::rte_mbuf,
}

// SAFETY: the wrapper owns its mbuf exclusively (a direct, single-segment
// mbuf with refcount 1, checked on receive); freeing it from another thread
// is allowed by DPDK (mempool put is multi-producer).
unsafe impl Send for Mbuf {}
// SAFETY: shared references only read the mbuf's fields and data.
unsafe impl Sync for Mbuf {}

impl Mbuf {
    /// A wrapper holding no mbuf.
    fn empty() -> Mbuf {
        Mbuf { m: ptr::null_mut() }
    }

    /// Gives up the mbuf (the wrapper becomes empty).
    fn take(&mut self) -> *mut sys::rte_mbuf {
        std::mem::replace(&mut self.m, ptr::null_mut())
    }

    /// True if the wrapper holds an mbuf.
    pub fn is_some(&self) -> bool {
        !self.m.is_null()
    }
}

impl ExternalBuf for Mbuf {
    fn buf(&self) -> &[u8] {
        if self.m.is_null() {
            return &[];
        }
        // SAFETY: self.m is a live mbuf owned by this wrapper; its data area
        // is buf_len bytes at buf_addr, initialised memory (the pool's memory
        // comes zeroed from the OS and drivers only write into it), and no
        // one else accesses it while the wrapper owns the mbuf.
        unsafe {
            let m = &*self.m;
            std::slice::from_raw_parts(m.buf_addr as *const u8, m.buf_len as usize)
        }
    }

    fn buf_mut(&mut self) -> &mut [u8] {
        if self.m.is_null() {
            return &mut [];
        }
        // SAFETY: as in buf; &mut self makes the access exclusive.
        unsafe {
            let m = &*self.m;
            std::slice::from_raw_parts_mut(m.buf_addr as *mut u8, m.buf_len as usize)
        }
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        if !self.m.is_null() {
            // SAFETY: the wrapper owns this mbuf; it is not used afterwards.
            unsafe { sys::rvs_rte_pktmbuf_free(self.m) };
        }
    }
}

/// Reusable boxes of transmitted DPDK packets (the boxes themselves are what
/// is reused, hence `Box` in a `Vec`).
#[allow(clippy::vec_box)]
type SpareBoxes = Vec<Box<DpPacket>>;

/// Most spare packet boxes kept per thread.
const SPARE_MAX: usize = 4 * NETDEV_MAX_BURST;

thread_local! {
    /// Boxes of DPDK packets whose mbuf was transmitted, each holding an
    /// empty [`Mbuf`] wrapper, reused by rx on the same thread (a PMD thread
    /// both receives and transmits), so that steady-state rx allocates nothing.
    #[allow(clippy::vec_box, reason = "the boxes themselves are what is reused")]
    static SPARE: RefCell<Vec<Box<DpPacket>>> = const { RefCell::new(Vec::new()) };
}

/// A packet holding the received mbuf `m` (taken over), without copying when
/// `m` is direct, single-segment and not shared; else a copy (and `m` freed).
/// Reuses a box from `spare` (this thread's [`SPARE`], borrowed once per
/// burst by the caller) when there is one.
fn wrap_mbuf(m: *mut sys::rte_mbuf, spare: &mut SpareBoxes) -> Box<DpPacket> {
    // SAFETY: m was just returned by rte_eth_rx_burst, so it is a valid mbuf
    // owned by the caller.
    let (direct, data_off, data_len, pkt_len, rss) = unsafe {
        let r = &*m;
        let direct = r.nb_segs == 1 && r.refcnt == 1 && r.ol_flags & MBUF_F_NOT_DIRECT == 0;
        let rss = (r.ol_flags & MBUF_F_RX_RSS_HASH != 0).then_some(r.__bindgen_anon_2.hash.rss);
        (
            direct,
            r.data_off as usize,
            r.data_len as usize,
            r.pkt_len as usize,
            rss,
        )
    };
    let mut p = if direct {
        let mut p = spare
            .pop()
            .unwrap_or_else(|| Box::new(DpPacket::from_external(Box::new(Mbuf::empty()), 0, 0)));
        match p
            .external_mut()
            .and_then(|e| e.as_any().downcast_mut::<Mbuf>())
        {
            Some(w) => w.m = m,
            None => unreachable!("spare DPDK packets hold an Mbuf"),
        }
        p.set_external_frame(data_off, data_len);
        p
    } else {
        let mut frame = Vec::with_capacity(pkt_len);
        let mut seg = m;
        while !seg.is_null() && frame.len() < pkt_len {
            // SAFETY: seg is m or a segment chained from it (next), all valid
            // until m is freed below; data_len bytes at mtod are its data.
            unsafe {
                let s = &*seg;
                let d = sys::rvs_rte_pktmbuf_mtod(seg) as *const u8;
                frame.extend_from_slice(std::slice::from_raw_parts(d, s.data_len as usize));
                seg = s.next;
            }
        }
        frame.truncate(pkt_len);
        // SAFETY: m (with its chain) is owned here and not used afterwards.
        unsafe { sys::rvs_rte_pktmbuf_free(m) };
        Box::new(DpPacket::from_slice(&frame))
    };
    // No `md.init` here: the receiver sets the metadata with its port
    // number (the `Netdev::rx_burst` contract), once.
    p.rss_valid = rss.is_some();
    p.rss_hash = rss.unwrap_or(0);
    p
}

/// Puts back a spare box (empty wrapper) for the next rx on this thread
/// (`spare`: this thread's [`SPARE`], borrowed once per burst).
fn recycle(p: Box<DpPacket>, spare: &mut SpareBoxes) {
    if spare.len() < SPARE_MAX {
        spare.push(p);
    }
}

fn opt_u16(
    options: &Options,
    name: &str,
    default: u16,
    ok: impl Fn(u16) -> bool,
    want: &str,
) -> Result<u16, NetdevError> {
    match options.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|&n| ok(n))
            .ok_or_else(|| NetdevError::InvalidOption {
                option: name.to_owned(),
                reason: format!("{v:?} is not {want}"),
            }),
    }
}

/// A DPDK ethdev port. See the module documentation.
pub struct DpdkNetdev {
    name: String,
    devargs: String,
    port_id: u16,
    /// The `rte_device` to remove on drop, if this port probed it.
    device: Option<NonNull<sys::rte_device>>,
    pool: Pool,
    /// Frame bytes (headroom excluded) an mbuf of `pool` holds.
    mbuf_data_room: u32,
    rxqs: Vec<Mutex<()>>,
    txqs: Vec<Mutex<()>>,
    n_rxq_desc: u16,
    n_txq_desc: u16,
    driver: String,
    socket_id: c_int,
    mac: [u8; 6],
    tx_dropped: AtomicU64,
    tx_zero_copy: AtomicU64,
    tx_copied: AtomicU64,
}

// SAFETY: `device` is only used under the CONTROL lock when the port closes;
// everything else is plain data, atomics, mutexes, and the Sync pool.
unsafe impl Send for DpdkNetdev {}
// SAFETY: as for Send; rx/tx queues are serialised by their mutexes, and the
// ethdev calls made without a lock (stats, MTU, link, MAC) are thread-safe in
// DPDK for a started port.
unsafe impl Sync for DpdkNetdev {}

impl std::fmt::Debug for DpdkNetdev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkNetdev")
            .field("name", &self.name)
            .field("devargs", &self.devargs)
            .field("port_id", &self.port_id)
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

impl DpdkNetdev {
    /// Opens DPDK port `name` from its `Interface.options` (see the module
    /// documentation for the options), initialising the EAL with defaults if
    /// [`dpdk_init`] was not called: probes `dpdk-devargs`, configures
    /// `n_rxq` rx and `n_txq` tx queues with their descriptor counts, makes a
    /// pool of `n_rxq * n_rxq_desc + n_txq * n_txq_desc + 4096` mbufs, and
    /// starts the port (promiscuous where the driver can).
    ///
    /// # Errors
    ///
    /// [`NetdevError::InvalidOption`] for a missing `dpdk-devargs` or a bad
    /// number or a queue count beyond the driver's; [`NetdevError::NoDevice`]
    /// if the probed device has no ethdev port of the expected name;
    /// [`NetdevError::Os`] (with `rte_strerror` text) if EAL init, probing,
    /// pool creation, configuration, queue setup or start fails, or if the
    /// device is already used by another open port.
    pub fn open(name: &str, options: &Options) -> Result<Arc<dyn Netdev>, NetdevError> {
        Ok(DpdkNetdev::open_port(name, options)?)
    }

    /// [`DpdkNetdev::open`] returning the concrete type (for
    /// [`DpdkNetdev::mempool_available`] and the zero-copy counters).
    ///
    /// # Errors
    ///
    /// As [`DpdkNetdev::open`].
    pub fn open_port(name: &str, options: &Options) -> Result<Arc<DpdkNetdev>, NetdevError> {
        dpdk_init("", None)?;
        let devargs = options
            .get("dpdk-devargs")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| NetdevError::InvalidOption {
                option: "dpdk-devargs".to_owned(),
                reason: format!("required for dpdk port {name}"),
            })?;
        let n_rxq = opt_u16(options, "n_rxq", 1, |n| n >= 1, "a queue count >= 1")?;
        let n_txq_opt = options
            .get("n_txq")
            .map(|_| opt_u16(options, "n_txq", 1, |n| n >= 1, "a queue count >= 1"))
            .transpose()?;
        let desc_ok = |n: u16| n.is_power_of_two() && n <= MAX_Q_DESC;
        let want = "a power of 2 up to 4096";
        let mut n_rxq_desc = opt_u16(options, "n_rxq_desc", DEFAULT_RXQ_DESC, desc_ok, want)?;
        let mut n_txq_desc = opt_u16(options, "n_txq_desc", DEFAULT_TXQ_DESC, desc_ok, want)?;

        let devname = devargs.split(',').next().unwrap_or("").trim().to_owned();
        let c_devname = CString::new(devname.as_str()).map_err(|_| NetdevError::InvalidOption {
            option: "dpdk-devargs".to_owned(),
            reason: "contains a NUL byte".to_owned(),
        })?;
        let c_devargs = CString::new(devargs.as_str()).map_err(|_| NetdevError::InvalidOption {
            option: "dpdk-devargs".to_owned(),
            reason: "contains a NUL byte".to_owned(),
        })?;

        let mut open_ports = control();
        sweep_pools();

        let mut port_id: u16 = 0;
        // SAFETY: c_devname is a valid C string; port_id is a valid out-pointer.
        let found =
            unsafe { sys::rte_eth_dev_get_port_by_name(c_devname.as_ptr(), &mut port_id) } == 0;
        let probed = if found {
            false
        } else {
            // SAFETY: c_devargs is a valid C string; the EAL is initialised.
            let ret = unsafe { sys::rte_dev_probe(c_devargs.as_ptr()) };
            if ret < 0 {
                return Err(rte_err(
                    format!("probe DPDK device {devargs} for port {name}"),
                    ret,
                ));
            }
            // SAFETY: as above.
            if unsafe { sys::rte_eth_dev_get_port_by_name(c_devname.as_ptr(), &mut port_id) } != 0 {
                return Err(NetdevError::NoDevice(name.to_owned()));
            }
            true
        };
        if open_ports.contains(&port_id) {
            return Err(NetdevError::Os {
                op: format!("open dpdk port {name}"),
                err: format!("dpdk-devargs {devargs} is already in use"),
            });
        }

        // From here on, failures must undo the probe.
        let mut guard = ProbeGuard {
            port_id,
            probed,
            pool: None,
        };

        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: port_id is a valid port; info is a valid out-pointer.
        let ret = unsafe { sys::rte_eth_dev_info_get(port_id, &mut info) };
        if ret != 0 {
            return Err(rte_err(format!("rte_eth_dev_info_get({devname})"), ret));
        }
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name is the driver's static NUL-terminated name.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let device = NonNull::new(info.device);
        if n_rxq > info.max_rx_queues {
            return Err(NetdevError::InvalidOption {
                option: "n_rxq".to_owned(),
                reason: format!(
                    "{n_rxq} exceeds the {} rx queues of {driver}",
                    info.max_rx_queues
                ),
            });
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u16;
        let n_txq = match n_txq_opt {
            Some(n) if n > info.max_tx_queues => {
                return Err(NetdevError::InvalidOption {
                    option: "n_txq".to_owned(),
                    reason: format!(
                        "{n} exceeds the {} tx queues of {driver}",
                        info.max_tx_queues
                    ),
                })
            }
            Some(n) => n,
            None => (cpus + 1).min(info.max_tx_queues).max(1),
        };

        let mut conf = sys::rte_eth_conf::default();
        if n_rxq > 1 && info.flow_type_rss_offloads != 0 {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
        }
        // SAFETY: port_id is valid and stopped (just probed or never started
        // by us); conf is a valid configuration.
        let ret = unsafe { sys::rte_eth_dev_configure(port_id, n_rxq, n_txq, &conf) };
        if ret != 0 {
            return Err(rte_err(
                format!("rte_eth_dev_configure({devname}, {n_rxq} rxq, {n_txq} txq)"),
                ret,
            ));
        }
        // SAFETY: port_id valid; both counts are valid in/out pointers.
        let ret = unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut n_rxq_desc, &mut n_txq_desc)
        };
        if ret != 0 {
            return Err(rte_err(
                format!("rte_eth_dev_adjust_nb_rx_tx_desc({devname})"),
                ret,
            ));
        }

        // SAFETY: port_id is valid.
        let mut socket_id = unsafe { sys::rte_eth_dev_socket_id(port_id) };
        if socket_id < 0 {
            socket_id = sys::SOCKET_ID_ANY;
        }
        let n_mbufs = u32::from(n_rxq) * u32::from(n_rxq_desc)
            + u32::from(n_txq) * u32::from(n_txq_desc)
            + EXTRA_MBUFS
            + pcap_replay_mbufs(&devargs);
        let cache = (n_mbufs / 8).min(256);
        let pool_name = CString::new(format!(
            "rvs_mp_{port_id}_{}",
            POOL_SEQ.fetch_add(1, Ordering::Relaxed)
        ))
        .expect("no NUL");
        let data_room = sys::RTE_MBUF_DEFAULT_BUF_SIZE; // headroom + 2048
                                                        // SAFETY: pool_name is a valid C string; the sizes are in range
                                                        // (cache <= n/1.5 and <= RTE_MEMPOOL_CACHE_MAX_SIZE).
        let pool = unsafe {
            sys::rte_pktmbuf_pool_create(
                pool_name.as_ptr(),
                n_mbufs,
                cache,
                0,
                data_room as u16,
                socket_id,
            )
        };
        let Some(pool) = NonNull::new(pool).map(Pool) else {
            return Err(rte_err(
                format!("create mbuf pool of {n_mbufs} mbufs for {devname}"),
                rte_errno(),
            ));
        };
        guard.pool = Some(pool);

        for q in 0..n_rxq {
            // SAFETY: port configured with n_rxq queues; NULL rx_conf means
            // the driver's defaults; the pool outlives the port.
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(
                    port_id,
                    q,
                    n_rxq_desc,
                    socket_id as u32,
                    ptr::null(),
                    pool.0.as_ptr(),
                )
            };
            if ret != 0 {
                return Err(rte_err(
                    format!("rte_eth_rx_queue_setup({devname}, {q}, {n_rxq_desc} desc)"),
                    ret,
                ));
            }
        }
        for q in 0..n_txq {
            // SAFETY: port configured with n_txq queues; NULL tx_conf means
            // the driver's defaults.
            let ret = unsafe {
                sys::rte_eth_tx_queue_setup(port_id, q, n_txq_desc, socket_id as u32, ptr::null())
            };
            if ret != 0 {
                return Err(rte_err(
                    format!("rte_eth_tx_queue_setup({devname}, {q}, {n_txq_desc} desc)"),
                    ret,
                ));
            }
        }
        // SAFETY: port_id valid; failure (-ENOTSUP) is harmless.
        let _ = unsafe { sys::rte_eth_promiscuous_enable(port_id) };
        // SAFETY: port configured with all its queues set up.
        let ret = unsafe { sys::rte_eth_dev_start(port_id) };
        if ret != 0 {
            return Err(rte_err(format!("rte_eth_dev_start({devname})"), ret));
        }
        let mut mac = sys::rte_ether_addr::default();
        // SAFETY: port_id valid; mac is a valid out-pointer.
        let _ = unsafe { sys::rte_eth_macaddr_get(port_id, &mut mac) };

        guard.disarm();
        open_ports.push(port_id);
        Ok(Arc::new(DpdkNetdev {
            name: name.to_owned(),
            devargs,
            port_id,
            device: if probed { device } else { None },
            pool,
            mbuf_data_room: data_room - sys::RTE_PKTMBUF_HEADROOM,
            rxqs: (0..n_rxq).map(|_| Mutex::new(())).collect(),
            txqs: (0..n_txq).map(|_| Mutex::new(())).collect(),
            n_rxq_desc,
            n_txq_desc,
            driver,
            socket_id,
            mac: mac.addr_bytes,
            tx_dropped: AtomicU64::new(0),
            tx_zero_copy: AtomicU64::new(0),
            tx_copied: AtomicU64::new(0),
        }))
    }

    /// The ethdev port id.
    pub fn port_id(&self) -> u16 {
        self.port_id
    }

    /// The `dpdk-devargs` the port was opened with.
    pub fn devargs(&self) -> &str {
        &self.devargs
    }

    /// Mbufs available in this port's pool now (`rte_mempool_avail_count`):
    /// the pool's size less the mbufs in rx rings and in packets.
    pub fn mempool_available(&self) -> u32 {
        self.pool.avail()
    }

    /// Packets sent without copying (their own mbuf handed to the driver).
    pub fn tx_zero_copy_packets(&self) -> u64 {
        self.tx_zero_copy.load(Ordering::Relaxed)
    }

    /// Packets copied into a new mbuf to be sent.
    pub fn tx_copied_packets(&self) -> u64 {
        self.tx_copied.load(Ordering::Relaxed)
    }

    /// The mbuf a packet is sent in: its own (zero copy), else a new one from
    /// this port's pool with a copy of the frame; `None` if it cannot be
    /// sent (no mbuf, or longer than the mbuf's data room).
    ///
    /// `spare` takes the emptied box of a zero-copy packet; `zero_copy` and
    /// `copied` count the packets of each kind (added to the port's counters
    /// once per burst, not with an atomic operation per packet).
    fn to_mbuf(
        &self,
        mut p: Box<DpPacket>,
        spare: &mut SpareBoxes,
        zero_copy: &mut u64,
        copied: &mut u64,
    ) -> Option<*mut sys::rte_mbuf> {
        let (ofs, len) = (p.headroom(), p.len());
        if let Some(w) = p
            .external_mut()
            .and_then(|e| e.as_any().downcast_mut::<Mbuf>())
        {
            let m = w.take();
            if !m.is_null() {
                // SAFETY: m is a direct single-segment mbuf this packet owned
                // (checked on receive) and now owned here; ofs + len <=
                // buf_len because the packet's frame lies inside the mbuf's
                // buffer, so both fit their fields (buf_len is a u16).
                unsafe {
                    let r = &mut *m;
                    r.data_off = ofs as u16;
                    r.data_len = len as u16;
                    r.pkt_len = len as u32;
                    r.ol_flags = 0;
                }
                *zero_copy += 1;
                recycle(p, spare);
                return Some(m);
            }
        }
        if len > self.mbuf_data_room as usize {
            return None;
        }
        // SAFETY: the pool is alive for the port's lifetime.
        let m = unsafe { sys::rvs_rte_pktmbuf_alloc(self.pool.0.as_ptr()) };
        if m.is_null() {
            return None;
        }
        // SAFETY: m is a fresh mbuf (data_off = RTE_PKTMBUF_HEADROOM, empty)
        // with mbuf_data_room >= len bytes of tailroom; append returns a
        // pointer to len writable bytes inside it, which p's frame (a
        // separate allocation) is copied to.
        unsafe {
            let dst = sys::rvs_rte_pktmbuf_append(m, len as u16);
            ptr::copy_nonoverlapping(p.data().as_ptr(), dst as *mut u8, len);
        }
        *copied += 1;
        Some(m)
    }

    /// Sends `n` mbufs on queue `q`; frees and counts those not accepted.
    fn flush(&self, q: u16, mbufs: &mut [*mut sys::rte_mbuf; NETDEV_MAX_BURST], n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // SAFETY: mbufs[..n] are valid mbufs owned here; the queue is locked
        // by the caller; accepted mbufs pass to the driver.
        let sent =
            unsafe { sys::rvs_rte_eth_tx_burst(self.port_id, q, mbufs.as_mut_ptr(), n as u16) }
                as usize;
        if sent < n {
            // SAFETY: mbufs[sent..n] were not accepted and are still ours.
            unsafe {
                sys::rvs_rte_pktmbuf_free_bulk(mbufs.as_mut_ptr().add(sent), (n - sent) as u32)
            };
            self.tx_dropped
                .fetch_add((n - sent) as u64, Ordering::Relaxed);
        }
        sent
    }
}

/// Packet counts of [`DpdkNetdev::io_forward`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoFwdCounts {
    /// Packets received on the rx port.
    pub rx: u64,
    /// Packets the tx port accepted.
    pub tx: u64,
    /// Packets the tx port refused (freed).
    pub dropped: u64,
}

impl DpdkNetdev {
    /// DPDK io forwarding, as `dpdk-testpmd --forward-mode=io` (`app/test-pmd/
    /// iofwd.c`, `pkt_burst_io_forward`): on the calling thread, receive up
    /// to 32 mbufs from rx queue 0 of `self`, hand them unchanged to tx
    /// queue 0 of `to` and free whatever it did not accept, until `keep_on`
    /// returns false (asked every 1024 bursts, with the counts so far). No
    /// rvs packet objects, metadata or copies are involved: this is the
    /// limit of the ports and the core, to compare switches against.
    ///
    /// The thread should be an EAL lcore (the thread that initialised the
    /// EAL is), else every mbuf alloc/free goes to the mempool's shared ring
    /// instead of the lcore cache.
    pub fn io_forward(
        &self,
        to: &DpdkNetdev,
        mut keep_on: impl FnMut(IoFwdCounts) -> bool,
    ) -> IoFwdCounts {
        ensure_lcore();
        let _rxq = self.rxqs[0].lock().unwrap_or_else(|e| e.into_inner());
        let _txq = to.txqs[0].lock().unwrap_or_else(|e| e.into_inner());
        let mut c = IoFwdCounts::default();
        let mut mbufs = [ptr::null_mut::<sys::rte_mbuf>(); NETDEV_MAX_BURST];
        loop {
            for _ in 0..1024 {
                // SAFETY: rx queue 0 exists and is locked; mbufs has room for
                // NETDEV_MAX_BURST pointers; the returned mbufs become ours.
                let n = unsafe {
                    sys::rvs_rte_eth_rx_burst(
                        self.port_id,
                        0,
                        mbufs.as_mut_ptr(),
                        NETDEV_MAX_BURST as u16,
                    )
                } as usize;
                if n == 0 {
                    continue;
                }
                // SAFETY: mbufs[..n] are ours; tx queue 0 exists and is
                // locked; accepted mbufs pass to the driver.
                let sent = unsafe {
                    sys::rvs_rte_eth_tx_burst(to.port_id, 0, mbufs.as_mut_ptr(), n as u16)
                } as usize;
                if sent < n {
                    // SAFETY: mbufs[sent..n] were refused and are still ours.
                    unsafe {
                        sys::rvs_rte_pktmbuf_free_bulk(
                            mbufs.as_mut_ptr().add(sent),
                            (n - sent) as u32,
                        )
                    };
                }
                c.rx += n as u64;
                c.tx += sent as u64;
                c.dropped += (n - sent) as u64;
            }
            if !keep_on(c) {
                return c;
            }
        }
    }
}

static POOL_SEQ: AtomicU64 = AtomicU64::new(0);

/// Undoes a half-made port on an error in [`DpdkNetdev::open_port`].
struct ProbeGuard {
    port_id: u16,
    probed: bool,
    pool: Option<Pool>,
}

impl ProbeGuard {
    fn disarm(&mut self) {
        self.probed = false;
        self.pool = None;
        self.port_id = u16::MAX;
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if self.port_id == u16::MAX {
            return;
        }
        close_port(self.port_id, false, self.probed);
        if let Some(pool) = self.pool.take() {
            if let Some(p) = pool.try_free() {
                RETIRED_POOLS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(p);
            }
        }
    }
}

/// Stops (if `started`) and closes ethdev port `port_id` and, if `remove`,
/// hot-unplugs its device. Caller holds the CONTROL lock.
fn close_port(port_id: u16, started: bool, remove: bool) {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: port_id is a valid port; info a valid out-pointer.
    let dev = if unsafe { sys::rte_eth_dev_info_get(port_id, &mut info) } == 0 {
        info.device
    } else {
        ptr::null_mut()
    };
    // SAFETY: port_id valid; after close the port is not used again (it is
    // removed from the open set).
    unsafe {
        if started {
            sys::rte_eth_dev_stop(port_id);
        }
        sys::rte_eth_dev_close(port_id);
    }
    if remove && !dev.is_null() {
        // SAFETY: dev is the rte_device of the closed port, probed by us.
        unsafe { sys::rte_dev_remove(dev) };
    }
}

impl Drop for DpdkNetdev {
    fn drop(&mut self) {
        let mut open_ports = control();
        close_port(self.port_id, true, self.device.is_some());
        open_ports.retain(|&p| p != self.port_id);
        if let Some(p) = self.pool.try_free() {
            RETIRED_POOLS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(p);
        }
    }
}

impl Netdev for DpdkNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "dpdk"
    }

    fn is_pmd(&self) -> bool {
        true
    }

    fn n_rxq(&self) -> usize {
        self.rxqs.len()
    }

    fn n_txq(&self) -> usize {
        self.txqs.len()
    }

    fn rx_burst(&self, qid: usize, batch: &mut PacketBatch) -> Result<usize, NetdevError> {
        let Some(lock) = self.rxqs.get(qid) else {
            return Err(NetdevError::InvalidOption {
                option: "rx queue".to_owned(),
                reason: format!("{qid} >= n_rxq {} of {}", self.rxqs.len(), self.name),
            });
        };
        let room = NETDEV_MAX_BURST.saturating_sub(batch.len());
        if room == 0 {
            return Ok(0);
        }
        ensure_lcore();
        let _q = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut mbufs = [ptr::null_mut::<sys::rte_mbuf>(); NETDEV_MAX_BURST];
        // SAFETY: the queue exists and is locked; mbufs has room for `room`
        // pointers; the returned mbufs become ours.
        let n = unsafe {
            sys::rvs_rte_eth_rx_burst(self.port_id, qid as u16, mbufs.as_mut_ptr(), room as u16)
        } as usize;
        SPARE.with(|s| {
            let mut spare = s.borrow_mut();
            for &m in &mbufs[..n] {
                batch.push(wrap_mbuf(m, &mut spare));
            }
        });
        Ok(n)
    }

    fn tx_burst(&self, qid: usize, batch: &mut PacketBatch) -> usize {
        let q = qid % self.txqs.len();
        ensure_lcore();
        let _q = self.txqs[q].lock().unwrap_or_else(|e| e.into_inner());
        let mut mbufs = [ptr::null_mut::<sys::rte_mbuf>(); NETDEV_MAX_BURST];
        let mut n = 0;
        let mut sent = 0;
        let (mut zero_copy, mut copied, mut dropped) = (0u64, 0u64, 0u64);
        SPARE.with(|s| {
            let mut spare = s.borrow_mut();
            for p in batch.pkts.drain(..) {
                match self.to_mbuf(p, &mut spare, &mut zero_copy, &mut copied) {
                    Some(m) => {
                        mbufs[n] = m;
                        n += 1;
                        if n == NETDEV_MAX_BURST {
                            sent += self.flush(q as u16, &mut mbufs, n);
                            n = 0;
                        }
                    }
                    None => dropped += 1,
                }
            }
        });
        sent += self.flush(q as u16, &mut mbufs, n);
        if zero_copy != 0 {
            self.tx_zero_copy.fetch_add(zero_copy, Ordering::Relaxed);
        }
        if copied != 0 {
            self.tx_copied.fetch_add(copied, Ordering::Relaxed);
        }
        if dropped != 0 {
            self.tx_dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        sent
    }

    fn mtu(&self) -> u32 {
        let mut mtu: u16 = 0;
        // SAFETY: port valid; mtu a valid out-pointer.
        if unsafe { sys::rte_eth_dev_get_mtu(self.port_id, &mut mtu) } == 0 {
            u32::from(mtu)
        } else {
            sys::RTE_ETHER_MTU
        }
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), NetdevError> {
        if mtu + MTU_OVERHEAD > self.mbuf_data_room || mtu > u32::from(u16::MAX) {
            return Err(NetdevError::InvalidOption {
                option: "mtu_request".to_owned(),
                reason: format!(
                    "{mtu} does not fit the {}-byte mbufs of {}",
                    self.mbuf_data_room, self.name
                ),
            });
        }
        let _c = control();
        // SAFETY: port valid; DPDK checks the range against the driver's.
        let ret = unsafe { sys::rte_eth_dev_set_mtu(self.port_id, mtu as u16) };
        if ret != 0 {
            return Err(rte_err(format!("set MTU {mtu} on {}", self.name), ret));
        }
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_state(&self) -> LinkState {
        let mut link = sys::rte_eth_link::default();
        // SAFETY: port valid; link a valid out-pointer.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.port_id, &mut link) };
        if ret == 0 && u32::from(link.link_status()) == sys::RTE_ETH_LINK_UP {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn stats(&self) -> NetdevStats {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: port valid; s a valid out-pointer.
        let _ = unsafe { sys::rte_eth_stats_get(self.port_id, &mut s) };
        NetdevStats {
            rx_packets: s.ipackets,
            rx_bytes: s.ibytes,
            rx_dropped: s.imissed + s.rx_nombuf,
            rx_errors: s.ierrors,
            tx_packets: s.opackets,
            tx_bytes: s.obytes,
            tx_dropped: self.tx_dropped.load(Ordering::Relaxed),
            tx_errors: s.oerrors,
        }
    }

    fn status(&self) -> Options {
        let mut o = Options::new();
        o.insert("port_no".into(), self.port_id.to_string());
        o.insert("driver_name".into(), self.driver.clone());
        o.insert("dpdk-devargs".into(), self.devargs.clone());
        o.insert("numa_id".into(), self.socket_id.to_string());
        o.insert("n_rxq".into(), self.rxqs.len().to_string());
        o.insert("n_txq".into(), self.txqs.len().to_string());
        o.insert("n_rxq_desc".into(), self.n_rxq_desc.to_string());
        o.insert("n_txq_desc".into(), self.n_txq_desc.to_string());
        o.insert("mbuf_pool_available".into(), self.pool.avail().to_string());
        o.insert(
            "tx_zero_copy_packets".into(),
            self.tx_zero_copy_packets().to_string(),
        );
        o.insert(
            "tx_copied_packets".into(),
            self.tx_copied_packets().to_string(),
        );
        o
    }
}
