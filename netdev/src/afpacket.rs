//! `system` ports (OVS `Interface.type` `""` or `"system"`): an existing
//! Linux network device driven through `AF_PACKET` sockets with
//! memory-mapped rings, as OVS `lib/netdev-linux.c` does for the userspace
//! datapath (its TPACKET_V3 path).
//!
//! # Rings
//!
//! * **rx**: one socket per rx queue, each with a `PACKET_RX_RING` in
//!   `TPACKET_V3` format (packet(7), `Documentation/networking/packet_mmap.rst`):
//!   [`RX_BLOCK_NR`] blocks of [`RX_BLOCK_SIZE`] bytes, each block a
//!   `struct tpacket_block_desc` followed by variable-size
//!   `struct tpacket3_hdr` + frame records. The kernel hands a block over
//!   when it is full or after the retire timeout ([`RX_RETIRE_MS`]); frames
//!   are copied out into fresh [`DpPacket`]s and the block is given back as
//!   soon as its last frame has been taken. Sockets are bound with
//!   `ETH_P_ALL`, set `PACKET_IGNORE_OUTGOING` (our own transmissions, and
//!   the host's, are not received; outgoing records are also skipped by
//!   `sll_pkttype` for fanout groups, where the per-socket option does not
//!   apply) and put the device in promiscuous mode with
//!   `PACKET_ADD_MEMBERSHIP`/`PACKET_MR_PROMISC` (undone when the port is
//!   closed). With `n_rxq` > 1 the sockets form a `PACKET_FANOUT` group
//!   (`PACKET_FANOUT_HASH`: the kernel spreads flows over the queues by
//!   their hash; the group id is allocated with
//!   `PACKET_FANOUT_FLAG_UNIQUEID`).
//! * **tx**: one more socket, bound to the device with protocol 0 (so it
//!   receives nothing), with a `PACKET_TX_RING` in `TPACKET_V3` format. The
//!   kernel supports V3 tx rings (Linux >= 4.11) only as fixed-size frame
//!   slots, like V2 (no block descriptors; `tp_next_offset` must be 0): the
//!   ring is [`TX_FRAME_NR`] slots of [`TX_FRAME_SIZE`] bytes, the frame
//!   starting `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))` = 48 bytes into
//!   its slot. A burst marks its slots `TP_STATUS_SEND_REQUEST` and flushes
//!   them with one `send(fd, NULL, 0, MSG_DONTWAIT)`. `PACKET_LOSS` is set so
//!   a frame the kernel rejects is skipped instead of stalling the ring.
//!
//! # VLAN
//!
//! The kernel strips the outer VLAN tag of received frames into
//! `tp_vlan_tci` (with `TP_STATUS_VLAN_VALID`, and `tp_vlan_tpid` with
//! `TP_STATUS_VLAN_TPID_VALID`); rx puts the tag back after the MAC
//! addresses, as OVS `netdev_linux_rxq_recv_sock` does, so the datapath sees
//! the frame as it was on the wire.
//!
//! # Statistics
//!
//! Packets and bytes are counted by the port itself (frame bytes as the
//! datapath sees them, VLAN tag included); `rx_dropped` adds the ring
//! overruns the kernel reports with `PACKET_STATISTICS` (`tp_drops`, read
//! and reset by every [`Netdev::stats`] call, summed here).
//!
//! MTU, MAC and link state use the interface ioctls of netdevice(7); link
//! state is `IFF_RUNNING`, as OVS reports `Interface.link_state`.

use crate::sys::{self, Ctl, Mmap, TpacketReq3, TpacketStatsV3};
use crate::{LinkState, Netdev, NetdevError, NetdevStats, Options};
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

/// Bytes per rx ring block (a multiple of the page size; bounds the largest
/// frame received whole: about 64 KiB less the headers).
pub const RX_BLOCK_SIZE: u32 = 1 << 16;
/// Blocks per rx ring (per rx queue): 2 MiB of ring per queue.
pub const RX_BLOCK_NR: u32 = 32;
/// Rx block retire timeout in milliseconds: a partly filled block is handed
/// to userspace at most this long after its first frame.
pub const RX_RETIRE_MS: u32 = 1;
/// Bytes per tx ring slot: frames up to `TX_FRAME_SIZE - 48` bytes (and the
/// MTU + 18) can be sent.
pub const TX_FRAME_SIZE: u32 = 1 << 14;
/// Tx ring slots.
pub const TX_FRAME_NR: u32 = 128;
/// Largest accepted `n_rxq`.
pub const MAX_RXQ: usize = 64;

const TX_BLOCK_SIZE: u32 = 1 << 16;
const RX_FRAME_SIZE: u32 = 2048;

// tpacket_block_desc (version, offset_to_priv, then tpacket_hdr_v1).
const BD_STATUS: usize = 8;
const BD_NUM_PKTS: usize = 12;
const BD_FIRST_PKT: usize = 16;
// tpacket3_hdr.
const H_NEXT: usize = 0;
const H_SNAPLEN: usize = 12;
const H_LEN: usize = 16;
const H_STATUS: usize = 20;
const H_MAC: usize = 24;
const H_VLAN_TCI: usize = 32;
const H_VLAN_TPID: usize = 36;
/// TPACKET_ALIGN(sizeof(struct tpacket3_hdr)): the sockaddr_ll of an rx
/// record, and the frame of a tx slot, start here.
const H_ALIGNED: usize = 48;
/// sockaddr_ll.sll_pkttype within the record.
const H_PKTTYPE: usize = H_ALIGNED + 10;
const PACKET_OUTGOING: u8 = 4;

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_WRONG_FORMAT: u32 = 1 << 2;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// Ethernet header plus one VLAN tag: the kernel lets a frame exceed the MTU
/// by this much on a packet socket.
const L2_OVERHEAD: usize = 18;

/// A `system` port. Made by [`AfPacketNetdev::open`] (or [`crate::open`]
/// with type `""`/`"system"`).
#[derive(Debug)]
pub struct AfPacketNetdev {
    name: String,
    ifindex: u32,
    rxqs: Vec<RxQueue>,
    tx: TxQueue,
    ctl: Ctl,
    mtu: AtomicU32,
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

#[derive(Debug)]
struct RxQueue {
    ring: Mutex<RxRing>,
    fd: OwnedFd,
}

#[derive(Debug)]
struct RxRing {
    map: Mmap,
    /// Block being read.
    cur: usize,
    /// Whether `cur` is owned by us and partly read.
    in_block: bool,
    /// Records left in `cur`.
    left: u32,
    /// Offset of the next record in `cur`.
    next: usize,
}

#[derive(Debug)]
struct TxQueue {
    ring: Mutex<TxRing>,
    fd: OwnedFd,
}

#[derive(Debug)]
struct TxRing {
    map: Mmap,
    /// Next slot to fill.
    head: usize,
}

fn os_err(name: &str, what: &str, e: std::io::Error) -> NetdevError {
    if e.raw_os_error() == Some(libc::ENODEV) || e.raw_os_error() == Some(libc::ENXIO) {
        NetdevError::NoDevice(name.to_string())
    } else {
        NetdevError::os(format!("{name}: {what}"), e)
    }
}

/// Parses `n_rxq` (1..=[`MAX_RXQ`]); shared with the tap and dummy ports.
pub(crate) fn parse_n_queues(option: &str, v: &str) -> Result<usize, NetdevError> {
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_RXQ).contains(&n) => Ok(n),
        _ => Err(NetdevError::InvalidOption {
            option: option.to_string(),
            reason: format!("\"{v}\" is not an integer between 1 and {MAX_RXQ}"),
        }),
    }
}

impl AfPacketNetdev {
    /// Opens the existing device `name`.
    ///
    /// Options: `n_rxq` (1..=[`MAX_RXQ`], default 1; > 1 uses a
    /// `PACKET_FANOUT_HASH` group). There is always one tx queue.
    ///
    /// Errors: [`NetdevError::NoDevice`] if there is no such device (the
    /// message reads `could not open network device NAME (No such device)`,
    /// as in OVS), [`NetdevError::InvalidOption`] for an unknown option or a
    /// bad `n_rxq`, [`NetdevError::Os`] if a socket, ring or mapping cannot
    /// be set up (e.g. `EPERM` without `CAP_NET_RAW`).
    pub fn open(name: &str, options: &Options) -> Result<AfPacketNetdev, NetdevError> {
        let mut n_rxq = 1;
        for (k, v) in options {
            match k.as_str() {
                "n_rxq" => n_rxq = parse_n_queues(k, v)?,
                _ => {
                    return Err(NetdevError::InvalidOption {
                        option: k.clone(),
                        reason: "not supported by interface type system".into(),
                    })
                }
            }
        }
        let ifindex =
            sys::if_nametoindex(name).map_err(|_| NetdevError::NoDevice(name.to_string()))?;
        let ctl = Ctl::new().map_err(|e| os_err(name, "control socket", e))?;
        let mtu = ctl.mtu(name).map_err(|e| os_err(name, "get MTU", e))?;

        let mut rxqs = Vec::with_capacity(n_rxq);
        let mut fanout_id = None;
        for q in 0..n_rxq {
            let rxq = open_rxq(name, ifindex, q)?;
            if n_rxq > 1 {
                fanout_id = Some(join_fanout(name, &rxq.fd, fanout_id)?);
            }
            rxqs.push(rxq);
        }
        let tx = open_txq(name, ifindex)?;
        Ok(AfPacketNetdev {
            name: name.to_string(),
            ifindex,
            rxqs,
            tx,
            ctl,
            mtu: AtomicU32::new(mtu),
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            rx_dropped: AtomicU64::new(0),
            rx_errors: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
            tx_errors: AtomicU64::new(0),
        })
    }

    /// The kernel's ifindex of the device.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
}

fn open_rxq(name: &str, ifindex: u32, q: usize) -> Result<RxQueue, NetdevError> {
    let what = |s: &str| format!("rx queue {q}: {s}");
    let fd = sys::packet_socket().map_err(|e| os_err(name, &what("AF_PACKET socket"), e))?;
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_VERSION, &sys::TPACKET_V3)
        .map_err(|e| os_err(name, &what("PACKET_VERSION TPACKET_V3"), e))?;
    let req = TpacketReq3 {
        tp_block_size: RX_BLOCK_SIZE,
        tp_block_nr: RX_BLOCK_NR,
        tp_frame_size: RX_FRAME_SIZE,
        tp_frame_nr: RX_BLOCK_SIZE / RX_FRAME_SIZE * RX_BLOCK_NR,
        tp_retire_blk_tov: RX_RETIRE_MS,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    };
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_RX_RING, &req)
        .map_err(|e| os_err(name, &what("PACKET_RX_RING"), e))?;
    let map = Mmap::map(&fd, (RX_BLOCK_SIZE * RX_BLOCK_NR) as usize)
        .map_err(|e| os_err(name, &what("mmap rx ring"), e))?;
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_IGNORE_OUTGOING, &1i32)
        .map_err(|e| os_err(name, &what("PACKET_IGNORE_OUTGOING"), e))?;
    sys::bind_ll(&fd, ifindex, sys::ETH_P_ALL).map_err(|e| os_err(name, &what("bind"), e))?;
    let mreq = sys::PacketMreq {
        mr_ifindex: ifindex as libc::c_int,
        mr_type: sys::PACKET_MR_PROMISC,
        ..Default::default()
    };
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_ADD_MEMBERSHIP, &mreq)
        .map_err(|e| os_err(name, &what("PACKET_ADD_MEMBERSHIP promiscuous"), e))?;
    Ok(RxQueue {
        ring: Mutex::new(RxRing {
            map,
            cur: 0,
            in_block: false,
            left: 0,
            next: 0,
        }),
        fd,
    })
}

/// Adds `fd` to the port's fanout group, creating it (with a kernel-chosen
/// unique id) when `id` is `None`; returns the group id.
fn join_fanout(name: &str, fd: &OwnedFd, id: Option<u32>) -> Result<u32, NetdevError> {
    let err = |e| os_err(name, "PACKET_FANOUT", e);
    match id {
        None => {
            let v = sys::PACKET_FANOUT_HASH << 16 | sys::PACKET_FANOUT_FLAG_UNIQUEID << 16;
            sys::setsockopt(fd, libc::SOL_PACKET, sys::PACKET_FANOUT, &v).map_err(err)?;
            let got: u32 =
                sys::getsockopt(fd, libc::SOL_PACKET, sys::PACKET_FANOUT).map_err(err)?;
            Ok(got & 0xffff)
        }
        Some(id) => {
            let v = id | sys::PACKET_FANOUT_HASH << 16;
            sys::setsockopt(fd, libc::SOL_PACKET, sys::PACKET_FANOUT, &v).map_err(err)?;
            Ok(id)
        }
    }
}

fn open_txq(name: &str, ifindex: u32) -> Result<TxQueue, NetdevError> {
    let what = |s: &str| format!("tx queue: {s}");
    let fd = sys::packet_socket().map_err(|e| os_err(name, &what("AF_PACKET socket"), e))?;
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_VERSION, &sys::TPACKET_V3)
        .map_err(|e| os_err(name, &what("PACKET_VERSION TPACKET_V3"), e))?;
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_LOSS, &1i32)
        .map_err(|e| os_err(name, &what("PACKET_LOSS"), e))?;
    let req = TpacketReq3 {
        tp_block_size: TX_BLOCK_SIZE,
        tp_block_nr: TX_FRAME_NR / (TX_BLOCK_SIZE / TX_FRAME_SIZE),
        tp_frame_size: TX_FRAME_SIZE,
        tp_frame_nr: TX_FRAME_NR,
        ..Default::default()
    };
    sys::setsockopt(&fd, libc::SOL_PACKET, sys::PACKET_TX_RING, &req)
        .map_err(|e| os_err(name, &what("PACKET_TX_RING"), e))?;
    let map = Mmap::map(&fd, (TX_FRAME_SIZE * TX_FRAME_NR) as usize)
        .map_err(|e| os_err(name, &what("mmap tx ring"), e))?;
    sys::bind_ll(&fd, ifindex, 0).map_err(|e| os_err(name, &what("bind"), e))?;
    Ok(TxQueue {
        ring: Mutex::new(TxRing { map, head: 0 }),
        fd,
    })
}

/// The status word at `p` (block or frame), shared with the kernel.
///
/// # Safety
/// `p` must be 4-byte aligned and inside a live ring mapping.
#[inline]
unsafe fn status_word<'a>(p: *mut u8) -> &'a AtomicU32 {
    // SAFETY: guaranteed by the caller; the kernel accesses the word
    // atomically (smp_wmb/smp_rmb protocol of packet_mmap.rst).
    unsafe { &*(p as *const AtomicU32) }
}

/// Reads a plain field of a record the kernel has handed over.
///
/// # Safety
/// `p..p+size_of::<T>()` must be inside a live ring mapping, owned by
/// userspace (status acquired).
#[inline]
unsafe fn rd<T: Copy>(p: *const u8) -> T {
    // SAFETY: guaranteed by the caller; unaligned read for robustness.
    unsafe { std::ptr::read_unaligned(p as *const T) }
}

impl RxRing {
    /// Moves up to `want` frames from the ring into `batch`; returns (frames,
    /// bytes, errors).
    fn recv(&mut self, batch: &mut PacketBatch, want: usize) -> (usize, u64, u64) {
        let (mut n, mut bytes, mut errors) = (0usize, 0u64, 0u64);
        let bs = RX_BLOCK_SIZE as usize;
        while n < want {
            let block = self.map.ptr().wrapping_add(self.cur * bs);
            if !self.in_block {
                // SAFETY: `block` is the start of block `cur` (< RX_BLOCK_NR) of
                // the mapping; its status word is at an aligned offset.
                let st = unsafe { status_word(block.wrapping_add(BD_STATUS)) };
                if st.load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                    break;
                }
                // SAFETY: the block is ours (TP_STATUS_USER acquired) and the
                // fields are inside its descriptor.
                unsafe {
                    self.left = rd::<u32>(block.wrapping_add(BD_NUM_PKTS));
                    self.next = rd::<u32>(block.wrapping_add(BD_FIRST_PKT)) as usize;
                }
                self.in_block = true;
            }
            while self.left > 0 && n < want {
                let ofs = self.next;
                if ofs + H_ALIGNED + 20 > bs {
                    errors += 1;
                    self.left = 0;
                    break;
                }
                let h = block.wrapping_add(ofs);
                // SAFETY: the record header lies inside the block (checked
                // above) which is owned by userspace.
                let (next, snaplen, len, status, mac, tci, tpid, pkttype) = unsafe {
                    (
                        rd::<u32>(h.wrapping_add(H_NEXT)) as usize,
                        rd::<u32>(h.wrapping_add(H_SNAPLEN)) as usize,
                        rd::<u32>(h.wrapping_add(H_LEN)) as usize,
                        rd::<u32>(h.wrapping_add(H_STATUS)),
                        rd::<u16>(h.wrapping_add(H_MAC)) as usize,
                        rd::<u32>(h.wrapping_add(H_VLAN_TCI)),
                        rd::<u16>(h.wrapping_add(H_VLAN_TPID)),
                        rd::<u8>(h.wrapping_add(H_PKTTYPE)),
                    )
                };
                self.left -= 1;
                self.next = ofs + next;
                if ofs + mac + snaplen > bs {
                    errors += 1;
                    self.left = 0;
                    break;
                }
                if pkttype == PACKET_OUTGOING {
                    continue;
                }
                if snaplen < len || snaplen < 12 {
                    // Truncated by the ring (frame larger than a block).
                    errors += 1;
                    continue;
                }
                // SAFETY: `mac + snaplen` bytes from the record are inside the
                // block (checked above), owned by userspace until released.
                let frame = unsafe { std::slice::from_raw_parts(h.wrapping_add(mac), snaplen) };
                let mut p = Box::new(DpPacket::from_slice(frame));
                if status & TP_STATUS_VLAN_VALID != 0 || tci != 0 {
                    let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                        tpid
                    } else {
                        0x8100
                    };
                    let tag = p.insert_at(12, 4);
                    tag[..2].copy_from_slice(&tpid.to_be_bytes());
                    tag[2..].copy_from_slice(&(tci as u16).to_be_bytes());
                }
                bytes += p.len() as u64;
                batch.push(p);
                n += 1;
            }
            if self.left == 0 {
                // SAFETY: as above; handing the block back to the kernel after
                // the last read of it (release orders those reads first).
                let st = unsafe { status_word(block.wrapping_add(BD_STATUS)) };
                st.store(TP_STATUS_KERNEL, Ordering::Release);
                self.in_block = false;
                self.cur = (self.cur + 1) % RX_BLOCK_NR as usize;
            }
        }
        (n, bytes, errors)
    }
}

impl TxRing {
    /// Places `frame` in the next free slot and marks it for sending; false
    /// if the ring is full. `frame.len()` must fit a slot.
    fn put(&mut self, frame: &[u8]) -> Result<(), ()> {
        let slot = self
            .map
            .ptr()
            .wrapping_add(self.head * TX_FRAME_SIZE as usize);
        // SAFETY: `slot` is slot `head` (< TX_FRAME_NR) of the mapping, its
        // status word aligned at offset H_STATUS.
        let st = unsafe { status_word(slot.wrapping_add(H_STATUS)) };
        let s = st.load(Ordering::Acquire);
        if s != TP_STATUS_AVAILABLE && s != TP_STATUS_WRONG_FORMAT {
            return Err(());
        }
        debug_assert!(H_ALIGNED + frame.len() <= TX_FRAME_SIZE as usize);
        // SAFETY: the slot is ours (AVAILABLE or rejected), and header plus
        // frame fit in the slot (checked by the caller).
        unsafe {
            std::ptr::write_unaligned(slot.wrapping_add(H_NEXT) as *mut u32, 0);
            std::ptr::write_unaligned(slot.wrapping_add(H_LEN) as *mut u32, frame.len() as u32);
            std::ptr::write_unaligned(slot.wrapping_add(H_SNAPLEN) as *mut u32, frame.len() as u32);
            std::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                slot.wrapping_add(H_ALIGNED),
                frame.len(),
            );
        }
        st.store(TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = (self.head + 1) % TX_FRAME_NR as usize;
        Ok(())
    }
}

impl Netdev for AfPacketNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "system"
    }

    fn is_pmd(&self) -> bool {
        false
    }

    fn n_rxq(&self) -> usize {
        self.rxqs.len()
    }

    fn n_txq(&self) -> usize {
        1
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
        if want == 0 {
            return Ok(0);
        }
        let (n, bytes, errors) = q.ring.lock().unwrap().recv(batch, want);
        if n > 0 {
            self.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
            self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        if errors > 0 {
            self.rx_errors.fetch_add(errors, Ordering::Relaxed);
        }
        Ok(n)
    }

    fn tx_burst(&self, _qid: usize, batch: &mut PacketBatch) -> usize {
        if batch.is_empty() {
            return 0;
        }
        let max_len = (self.mtu.load(Ordering::Relaxed) as usize + L2_OVERHEAD)
            .min(TX_FRAME_SIZE as usize - H_ALIGNED);
        let (mut sent, mut bytes, mut dropped) = (0u64, 0u64, 0u64);
        {
            let mut ring = self.tx.ring.lock().unwrap();
            for p in batch.pkts.drain(..) {
                let len = p.len();
                if !(14..=max_len).contains(&len) || ring.put(p.data()).is_err() {
                    dropped += 1;
                    continue;
                }
                sent += 1;
                bytes += len as u64;
            }
            if sent > 0 {
                if let Err(e) = sys::kick_tx(&self.tx.fd) {
                    // EAGAIN/ENOBUFS: the frames stay queued and go out with
                    // the next flush. Anything else is an error (the frames
                    // still stay in the ring).
                    let eno = e.raw_os_error();
                    if eno != Some(libc::EAGAIN) && eno != Some(libc::ENOBUFS) {
                        self.tx_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        self.tx_packets.fetch_add(sent, Ordering::Relaxed);
        self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
        if dropped > 0 {
            self.tx_dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        sent as usize
    }

    fn mtu(&self) -> u32 {
        match self.ctl.mtu(&self.name) {
            Ok(m) => {
                self.mtu.store(m, Ordering::Relaxed);
                m
            }
            Err(_) => self.mtu.load(Ordering::Relaxed),
        }
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), NetdevError> {
        self.ctl
            .set_mtu(&self.name, mtu)
            .map_err(|e| os_err(&self.name, &format!("set MTU {mtu}"), e))?;
        self.mtu.store(mtu, Ordering::Relaxed);
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.ctl.hwaddr(&self.name).unwrap_or([0; 6])
    }

    fn link_state(&self) -> LinkState {
        match self.ctl.flags(&self.name) {
            Ok(f) if f & libc::IFF_RUNNING as u32 != 0 => LinkState::Up,
            _ => LinkState::Down,
        }
    }

    fn stats(&self) -> NetdevStats {
        for q in &self.rxqs {
            if let Ok(s) =
                sys::getsockopt::<TpacketStatsV3>(&q.fd, libc::SOL_PACKET, sys::PACKET_STATISTICS)
            {
                self.rx_dropped
                    .fetch_add(s.tp_drops as u64, Ordering::Relaxed);
            }
        }
        NetdevStats {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            rx_dropped: self.rx_dropped.load(Ordering::Relaxed),
            rx_errors: self.rx_errors.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_dropped: self.tx_dropped.load(Ordering::Relaxed),
            tx_errors: self.tx_errors.load(Ordering::Relaxed),
        }
    }

    fn status(&self) -> Options {
        let mut s = Options::new();
        s.insert("rx-ring".into(), "tpacket-v3".into());
        s.insert("tx-ring".into(), "tpacket-v3".into());
        s
    }
}
