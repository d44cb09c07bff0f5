//! Packet buffers, their metadata, and batches.
//!
//! # Design
//!
//! A [`DpPacket`] (OVS `struct dp_packet`) owns a byte buffer with
//! [headroom](DpPacket::headroom) in front of the frame so that tunnel
//! encapsulation, VLAN and MPLS pushes prepend headers without moving the
//! payload. Header offsets (`l2_5`, `l3`, `l4`) are set by the flow extractor
//! ([`crate::extract`]) and are **relative to the start of the frame**; the
//! methods that add or remove bytes at the front keep them consistent.
//!
//! Packets travel in a [`PacketBatch`] of at most [`NETDEV_MAX_BURST`] boxed
//! packets: moving a packet between batches (rx queue -> per-flow batch -> tx
//! queue) moves a pointer, never the frame. Netdevs recycle the boxes.
//!
//! All integers in the metadata are host byte order; IPv4 addresses are
//! `u32` (`10.0.0.1` = `0x0a000001`), IPv6 addresses `u128`, as in [`Flow`](crate::flow::Flow).
//!
//! # Foreign buffers (zero copy)
//!
//! A packet's bytes either live in a `Vec<u8>` it owns or in an
//! [`ExternalBuf`]: a buffer owned by a port's driver, such as a DPDK mbuf,
//! that a netdev wraps on receive without copying the frame
//! ([`DpPacket::from_external`]). The packet keeps tracking the frame's
//! offset and length inside that buffer itself; every method behaves the same
//! for both kinds of storage. Operations that need more room than the
//! external buffer has (a [`DpPacket::push_front`] beyond the headroom, a
//! [`DpPacket::put_tail`] beyond the tailroom) and [`DpPacket::set_frame`]
//! move the frame into an owned `Vec` and drop the external buffer (which
//! gives it back to its driver); [`Clone`] copies into an owned `Vec`. The
//! port the packet is sent on can take the buffer back for a zero-copy
//! transmit through [`DpPacket::external_mut`].
//!
//! A netdev that keeps boxes of packets it transmitted for reuse should not
//! keep those that are [`external`](DpPacket::is_external): their buffer
//! belongs to another port's pool until the packet is dropped.

use std::any::Any;
use std::fmt;

/// A packet buffer owned outside the packet (a DPDK mbuf, an AF_XDP umem
/// frame), wrapped without copying by the port that received it. The buffer
/// is the whole area the frame may occupy: headroom, frame and tailroom
/// (for a DPDK mbuf: `buf_len` bytes from `buf_addr`); the [`DpPacket`] that
/// holds it tracks where the frame is. Dropping the value gives the buffer
/// back to its owner (e.g. `rte_pktmbuf_free`).
///
/// `buf` and `buf_mut` must keep returning the same length while the packet
/// holds the buffer, and must be cheap: the packet calls them on every access.
pub trait ExternalBuf: Send + Sync {
    /// The whole buffer (headroom + data room).
    fn buf(&self) -> &[u8];
    /// The whole buffer, writable.
    fn buf_mut(&mut self) -> &mut [u8];
    /// The concrete type, so that the port that made the buffer can recognise
    /// its own (`downcast_mut`) on transmit.
    fn as_any(&mut self) -> &mut dyn Any;
}

/// Where a packet's bytes live.
enum Storage {
    /// A buffer the packet owns.
    Owned(Vec<u8>),
    /// A driver's buffer (see [`ExternalBuf`]).
    External(Box<dyn ExternalBuf>),
}

impl Clone for Storage {
    fn clone(&self) -> Self {
        match self {
            Storage::Owned(v) => Storage::Owned(v.clone()),
            Storage::External(e) => Storage::Owned(e.buf().to_vec()),
        }
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Owned(v) => write!(f, "Owned({} bytes)", v.len()),
            Storage::External(e) => write!(f, "External({} bytes)", e.buf().len()),
        }
    }
}

/// Maximum number of packets in a batch (OVS `NETDEV_MAX_BURST`).
pub const NETDEV_MAX_BURST: usize = 32;

/// Default headroom in bytes reserved in front of a received frame (OVS
/// `DP_NETDEV_HEADROOM`): room for an outer Ethernet + IPv6 + UDP + Geneve
/// header with options.
pub const DEFAULT_HEADROOM: usize = 128;

/// Marker for "offset not set".
pub const OFS_NONE: u16 = u16::MAX;

/// Geneve option bytes a packet can carry (RFC 8926 section 3.4).
pub const TUN_OPTS_MAX: usize = crate::flow::TUN_OPTS_MAX_LEN;

/// Tunnel metadata of a packet received on (or about to be sent into) a tunnel
/// (OVS `struct flow_tnl`). A tunnel is present iff `ipv4_dst` or `ipv6_dst`
/// is non-zero.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TunnelMetadata {
    /// Tunnel key: VNI (VXLAN/Geneve, 24 bits), GRE key (32 bits), STT context (64 bits).
    pub tun_id: u64,
    /// Outer IPv4 source, host order.
    pub ipv4_src: u32,
    /// Outer IPv4 destination, host order.
    pub ipv4_dst: u32,
    /// Outer IPv6 source.
    pub ipv6_src: u128,
    /// Outer IPv6 destination.
    pub ipv6_dst: u128,
    /// Outer TOS / traffic class.
    pub tos: u8,
    /// Outer TTL / hop limit.
    pub ttl: u8,
    /// Outer UDP source port (host order).
    pub tp_src: u16,
    /// Outer UDP destination port (host order).
    pub tp_dst: u16,
    /// [`crate::flow::tun_flags`] bits.
    pub flags: u16,
    /// VXLAN-GBP group policy id.
    pub gbp_id: u16,
    /// VXLAN-GBP flags.
    pub gbp_flags: u8,
    /// Length of `opts` in use, bytes (0..=252).
    pub opts_len: u8,
    /// Geneve option TLVs as on the wire (RFC 8926 section 3.5).
    pub opts: [u8; TUN_OPTS_MAX],
}

impl Default for TunnelMetadata {
    fn default() -> Self {
        TunnelMetadata {
            tun_id: 0,
            ipv4_src: 0,
            ipv4_dst: 0,
            ipv6_src: 0,
            ipv6_dst: 0,
            tos: 0,
            ttl: 0,
            tp_src: 0,
            tp_dst: 0,
            flags: 0,
            gbp_id: 0,
            gbp_flags: 0,
            opts_len: 0,
            opts: [0; TUN_OPTS_MAX],
        }
    }
}

impl TunnelMetadata {
    /// True if the packet came from (or is bound for) a tunnel.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.ipv4_dst != 0 || self.ipv6_dst != 0
    }

    /// The Geneve options in use.
    #[inline]
    pub fn opts(&self) -> &[u8] {
        &self.opts[..self.opts_len as usize]
    }
}

/// The original-direction tuple of the connection a packet belongs to, set by
/// conntrack (OVS `ct_nw_src`, `ct_ipv6_src`, `ct_tp_src`, ... fields).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum CtOrigTuple {
    /// Not tracked, or tracked without a tuple.
    #[default]
    None,
    /// IPv4 tuple (addresses host order).
    V4 {
        /// Source address.
        src: u32,
        /// Destination address.
        dst: u32,
        /// L4 source port (ICMP: type).
        src_port: u16,
        /// L4 destination port (ICMP: code).
        dst_port: u16,
        /// IP protocol.
        proto: u8,
    },
    /// IPv6 tuple.
    V6 {
        /// Source address.
        src: u128,
        /// Destination address.
        dst: u128,
        /// L4 source port (ICMPv6: type).
        src_port: u16,
        /// L4 destination port (ICMPv6: code).
        dst_port: u16,
        /// Next header.
        proto: u8,
    },
}

/// Per-packet metadata that is part of the flow key but not of the frame
/// (OVS `struct pkt_metadata`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PacketMetadata {
    /// Datapath (odp) port the packet was received on.
    pub in_port: u32,
    /// Recirculation id; 0 for packets fresh from a port.
    pub recirc_id: u32,
    /// Hash computed by the `hash` action (0 if none).
    pub dp_hash: u32,
    /// QoS priority (`skb_priority`).
    pub skb_priority: u32,
    /// Packet mark (`skb_mark` / `pkt_mark`).
    pub pkt_mark: u32,
    /// Conntrack state bits ([`crate::flow::ct_state`]).
    pub ct_state: u8,
    /// Conntrack zone.
    pub ct_zone: u16,
    /// Conntrack mark.
    pub ct_mark: u32,
    /// Conntrack label (128 bits).
    pub ct_label: u128,
    /// Original-direction tuple of the tracked connection.
    pub ct_orig: CtOrigTuple,
    /// Tunnel metadata.
    pub tunnel: TunnelMetadata,
    /// Packet type (OpenFlow 1.5 `packet_type`, namespace << 16 | type): 0 for
    /// an Ethernet frame, `1 << 16 | ethertype` for an L3 packet (after
    /// `pop_eth`, or received on an L3 tunnel).
    pub packet_type: u32,
}

impl PacketMetadata {
    /// Resets for a packet freshly received on `in_port` (OVS `pkt_metadata_init`).
    /// Cheap: the Geneve option bytes are not cleared, only their length.
    #[inline]
    pub fn init(&mut self, in_port: u32) {
        self.in_port = in_port;
        self.recirc_id = 0;
        self.dp_hash = 0;
        self.skb_priority = 0;
        self.pkt_mark = 0;
        self.ct_state = 0;
        self.ct_zone = 0;
        self.ct_mark = 0;
        self.ct_label = 0;
        self.ct_orig = CtOrigTuple::None;
        self.packet_type = 0;
        let t = &mut self.tunnel;
        t.tun_id = 0;
        t.ipv4_src = 0;
        t.ipv4_dst = 0;
        t.ipv6_src = 0;
        t.ipv6_dst = 0;
        t.tos = 0;
        t.ttl = 0;
        t.tp_src = 0;
        t.tp_dst = 0;
        t.flags = 0;
        t.gbp_id = 0;
        t.gbp_flags = 0;
        t.opts_len = 0;
    }
}

/// A packet: frame bytes with headroom, header offsets and metadata.
#[derive(Clone, Debug)]
pub struct DpPacket {
    buf: Storage,
    data_ofs: usize,
    size: usize,
    /// Metadata (in_port, recirc_id, conntrack, tunnel, ...).
    pub md: PacketMetadata,
    /// Offset of the MPLS label stack (L2.5) from the frame start, or [`OFS_NONE`].
    pub l2_5_ofs: u16,
    /// Offset of the L3 header from the frame start, or [`OFS_NONE`].
    pub l3_ofs: u16,
    /// Offset of the L4 header from the frame start, or [`OFS_NONE`].
    pub l4_ofs: u16,
    /// RSS / flow hash of the packet, valid iff `rss_valid`.
    pub rss_hash: u32,
    /// Whether `rss_hash` is valid (set by the NIC or computed by the datapath).
    pub rss_valid: bool,
}

impl Default for DpPacket {
    fn default() -> Self {
        DpPacket::with_capacity(DEFAULT_HEADROOM, 2048)
    }
}

impl DpPacket {
    /// An empty packet with `headroom` bytes in front and room for `capacity`
    /// frame bytes.
    pub fn with_capacity(headroom: usize, capacity: usize) -> DpPacket {
        DpPacket {
            buf: Storage::Owned(vec![0; headroom + capacity]),
            data_ofs: headroom,
            size: 0,
            md: PacketMetadata::default(),
            l2_5_ofs: OFS_NONE,
            l3_ofs: OFS_NONE,
            l4_ofs: OFS_NONE,
            rss_hash: 0,
            rss_valid: false,
        }
    }

    /// A packet holding a copy of `frame` with [`DEFAULT_HEADROOM`] in front.
    pub fn from_slice(frame: &[u8]) -> DpPacket {
        let mut p = DpPacket::with_capacity(DEFAULT_HEADROOM, frame.len().max(64));
        p.set_frame(frame);
        p
    }

    /// A packet whose frame is bytes `data_ofs..data_ofs + len` of the
    /// external buffer `buf` (both clamped to the buffer), without copying.
    /// Metadata is default, offsets unset, hash invalid.
    pub fn from_external(buf: Box<dyn ExternalBuf>, data_ofs: usize, len: usize) -> DpPacket {
        let mut p = DpPacket {
            buf: Storage::External(buf),
            data_ofs: 0,
            size: 0,
            md: PacketMetadata::default(),
            l2_5_ofs: OFS_NONE,
            l3_ofs: OFS_NONE,
            l4_ofs: OFS_NONE,
            rss_hash: 0,
            rss_valid: false,
        };
        p.set_bounds(data_ofs, len);
        p
    }

    /// True if the bytes live in an [`ExternalBuf`].
    #[inline]
    pub fn is_external(&self) -> bool {
        matches!(self.buf, Storage::External(_))
    }

    /// The external buffer, if the bytes live in one (for the port that made
    /// it: it downcasts through [`ExternalBuf::as_any`] to recognise its own,
    /// reads [`headroom`](Self::headroom) and [`len`](Self::len) for the
    /// frame's place, and may swap the buffer's content for another of the
    /// same length, then call [`set_external_frame`](Self::set_external_frame)).
    #[inline]
    pub fn external_mut(&mut self) -> Option<&mut dyn ExternalBuf> {
        match &mut self.buf {
            Storage::External(e) => Some(e.as_mut()),
            Storage::Owned(_) => None,
        }
    }

    /// Sets the frame to bytes `data_ofs..data_ofs + len` of the current
    /// buffer (clamped to it) and clears offsets and hash; metadata is left as
    /// is. For a port that reuses a packet (and its external buffer wrapper)
    /// for a newly received frame.
    pub fn set_external_frame(&mut self, data_ofs: usize, len: usize) {
        self.set_bounds(data_ofs, len);
        self.reset_offsets();
        self.rss_valid = false;
    }

    fn set_bounds(&mut self, data_ofs: usize, len: usize) {
        let cap = self.raw().len();
        self.data_ofs = data_ofs.min(cap);
        self.size = len.min(cap - self.data_ofs);
    }

    /// The whole buffer.
    #[inline(always)]
    fn raw(&self) -> &[u8] {
        match &self.buf {
            Storage::Owned(v) => v,
            Storage::External(e) => e.buf(),
        }
    }

    /// The whole buffer, writable.
    #[inline(always)]
    fn raw_mut(&mut self) -> &mut [u8] {
        match &mut self.buf {
            Storage::Owned(v) => v,
            Storage::External(e) => e.buf_mut(),
        }
    }

    /// Moves the frame into an owned buffer of `data_ofs + size + extra`
    /// bytes (same offsets), dropping the external buffer. No-op if owned.
    fn make_owned(&mut self, extra: usize) {
        if let Storage::External(e) = &self.buf {
            let end = self.data_ofs + self.size;
            let mut v = vec![0u8; end + extra];
            v[self.data_ofs..end].copy_from_slice(&e.buf()[self.data_ofs..end]);
            self.buf = Storage::Owned(v);
        }
    }

    /// Replaces the frame with a copy of `frame` (keeps the headroom, grows the
    /// buffer if needed) and clears offsets and hash; metadata is left as is.
    /// A packet in an external buffer gets an owned one (the external buffer
    /// is dropped).
    pub fn set_frame(&mut self, frame: &[u8]) {
        let headroom = DEFAULT_HEADROOM.min(self.data_ofs.max(DEFAULT_HEADROOM));
        match &mut self.buf {
            Storage::Owned(v) => {
                if v.len() < headroom + frame.len() {
                    v.resize(headroom + frame.len(), 0);
                }
            }
            Storage::External(_) => {
                self.buf = Storage::Owned(vec![0; headroom + frame.len().max(2048)]);
            }
        }
        self.data_ofs = headroom;
        self.size = frame.len();
        self.raw_mut()[headroom..headroom + frame.len()].copy_from_slice(frame);
        self.reset_offsets();
        self.rss_valid = false;
    }

    /// Clears the header offsets.
    #[inline]
    pub fn reset_offsets(&mut self) {
        self.l2_5_ofs = OFS_NONE;
        self.l3_ofs = OFS_NONE;
        self.l4_ofs = OFS_NONE;
    }

    /// The frame bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.raw()[self.data_ofs..self.data_ofs + self.size]
    }

    /// The frame bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (ofs, size) = (self.data_ofs, self.size);
        &mut self.raw_mut()[ofs..ofs + size]
    }

    /// Frame length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.size
    }

    /// True if the frame is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Bytes free in front of the frame.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.data_ofs
    }

    /// Bytes free after the frame.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.raw().len() - self.data_ofs - self.size
    }

    /// Grows the frame by `n` bytes at the front and returns them (uninitialised
    /// content: the caller writes the new header). Reallocates if headroom is
    /// short (a packet in an external buffer is then copied into an owned
    /// one). Valid offsets are shifted by `n`.
    pub fn push_front(&mut self, n: usize) -> &mut [u8] {
        if self.data_ofs < n {
            let extra = n - self.data_ofs + DEFAULT_HEADROOM;
            let mut nb = vec![0u8; self.raw().len() + extra];
            nb[self.data_ofs + extra..self.data_ofs + extra + self.size]
                .copy_from_slice(self.data());
            self.buf = Storage::Owned(nb);
            self.data_ofs += extra;
        }
        self.data_ofs -= n;
        self.size += n;
        self.shift_offsets(n as isize);
        let ofs = self.data_ofs;
        &mut self.raw_mut()[ofs..ofs + n]
    }

    /// Removes `n` bytes from the front (clamped to the frame length). Offsets
    /// are shifted by `-n`; those that would point before the new start are
    /// cleared.
    pub fn pull_front(&mut self, n: usize) {
        let n = n.min(self.size);
        self.data_ofs += n;
        self.size -= n;
        self.shift_offsets(-(n as isize));
    }

    fn shift_offsets(&mut self, by: isize) {
        for o in [&mut self.l2_5_ofs, &mut self.l3_ofs, &mut self.l4_ofs] {
            if *o != OFS_NONE {
                let v = *o as isize + by;
                *o = if (0..OFS_NONE as isize).contains(&v) {
                    v as u16
                } else {
                    OFS_NONE
                };
            }
        }
    }

    /// Inserts `n` zero bytes at frame offset `at` (e.g. a VLAN tag after the
    /// MAC addresses) by moving the first `at` bytes forward into the
    /// headroom. Offsets `>= at` shift by `n`. Returns the inserted bytes.
    /// `at` is clamped to the frame length.
    pub fn insert_at(&mut self, at: usize, n: usize) -> &mut [u8] {
        let at = at.min(self.size);
        self.push_front(n);
        // push_front shifted every offset; those before `at` must not move.
        for o in [&mut self.l2_5_ofs, &mut self.l3_ofs, &mut self.l4_ofs] {
            if *o != OFS_NONE && ((*o as usize) - n) < at {
                *o -= n as u16;
            }
        }
        let start = self.data_ofs;
        let raw = self.raw_mut();
        raw.copy_within(start + n..start + n + at, start);
        let ins = &mut raw[start + at..start + at + n];
        ins.fill(0);
        ins
    }

    /// Removes `n` bytes at frame offset `at` (e.g. a VLAN tag) by moving the
    /// first `at` bytes backward. Offsets `> at` shift by `-n`; offsets inside
    /// the removed range are cleared. Clamped to the frame.
    pub fn remove_at(&mut self, at: usize, n: usize) {
        let at = at.min(self.size);
        let n = n.min(self.size - at);
        let start = self.data_ofs;
        self.raw_mut().copy_within(start..start + at, start + n);
        self.data_ofs += n;
        self.size -= n;
        for o in [&mut self.l2_5_ofs, &mut self.l3_ofs, &mut self.l4_ofs] {
            if *o != OFS_NONE {
                let v = *o as usize;
                if v >= at + n {
                    *o -= n as u16;
                } else if v >= at {
                    *o = OFS_NONE;
                }
            }
        }
    }

    /// Appends `n` zero bytes at the end and returns them. Grows the buffer
    /// if tailroom is short (a packet in an external buffer is then copied
    /// into an owned one).
    pub fn put_tail(&mut self, n: usize) -> &mut [u8] {
        if self.tailroom() < n {
            self.make_owned(n);
            let need = self.data_ofs + self.size + n;
            if let Storage::Owned(v) = &mut self.buf {
                if v.len() < need {
                    v.resize(need, 0);
                }
            }
        }
        let start = self.data_ofs + self.size;
        self.size += n;
        let t = &mut self.raw_mut()[start..start + n];
        t.fill(0);
        t
    }

    /// Shortens the frame to `len` bytes (no-op if already shorter). Offsets at
    /// or beyond the new end are cleared.
    pub fn truncate(&mut self, len: usize) {
        if len < self.size {
            self.size = len;
            for o in [&mut self.l2_5_ofs, &mut self.l3_ofs, &mut self.l4_ofs] {
                if *o != OFS_NONE && *o as usize >= len {
                    *o = OFS_NONE;
                }
            }
        }
    }

    /// Bytes from the L3 header to the end of the frame (empty if unset).
    #[inline]
    pub fn l3(&self) -> &[u8] {
        self.tail_from(self.l3_ofs)
    }

    /// Bytes from the L4 header to the end of the frame (empty if unset).
    #[inline]
    pub fn l4(&self) -> &[u8] {
        self.tail_from(self.l4_ofs)
    }

    #[inline]
    fn tail_from(&self, ofs: u16) -> &[u8] {
        if ofs == OFS_NONE || ofs as usize > self.size {
            &[]
        } else {
            &self.data()[ofs as usize..]
        }
    }
}

/// A batch of at most [`NETDEV_MAX_BURST`] packets (OVS `dp_packet_batch`).
#[derive(Debug, Default)]
pub struct PacketBatch {
    /// The packets, in arrival order.
    pub pkts: Vec<Box<DpPacket>>,
}

impl PacketBatch {
    /// An empty batch with room for [`NETDEV_MAX_BURST`] packets.
    pub fn new() -> PacketBatch {
        PacketBatch {
            pkts: Vec::with_capacity(NETDEV_MAX_BURST),
        }
    }

    /// Number of packets.
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// True if there are no packets.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// True if the batch holds [`NETDEV_MAX_BURST`] packets.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pkts.len() >= NETDEV_MAX_BURST
    }

    /// Adds a packet. The caller keeps batches at most [`NETDEV_MAX_BURST`]
    /// long (rx bursts and per-flow batches never exceed it); a longer batch
    /// still works, only less efficiently.
    #[inline]
    pub fn push(&mut self, p: Box<DpPacket>) {
        self.pkts.push(p);
    }

    /// Total frame bytes in the batch.
    pub fn bytes(&self) -> u64 {
        self.pkts.iter().map(|p| p.len() as u64).sum()
    }

    /// A deep copy of every packet (for `clone`, and `output` that is not the
    /// last action).
    pub fn deep_clone(&self) -> PacketBatch {
        PacketBatch {
            pkts: self.pkts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_keep_offsets() {
        let mut p = DpPacket::from_slice(&[1, 2, 3, 4, 5, 6]);
        p.l3_ofs = 2;
        p.push_front(4).copy_from_slice(&[9, 9, 9, 9]);
        assert_eq!(p.data(), &[9, 9, 9, 9, 1, 2, 3, 4, 5, 6]);
        assert_eq!(p.l3_ofs, 6);
        p.pull_front(4);
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(p.l3_ofs, 2);
    }

    #[test]
    fn push_beyond_headroom_reallocates() {
        let mut p = DpPacket::from_slice(&[7; 10]);
        p.push_front(DEFAULT_HEADROOM + 50).fill(1);
        assert_eq!(p.len(), 10 + DEFAULT_HEADROOM + 50);
        assert_eq!(&p.data()[DEFAULT_HEADROOM + 50..], &[7; 10]);
    }

    #[test]
    fn insert_and_remove_in_the_middle() {
        let mut p = DpPacket::from_slice(&[1, 2, 3, 4, 5, 6]);
        p.l3_ofs = 4;
        p.l2_5_ofs = 1;
        p.insert_at(2, 2).copy_from_slice(&[8, 8]);
        assert_eq!(p.data(), &[1, 2, 8, 8, 3, 4, 5, 6]);
        assert_eq!((p.l2_5_ofs, p.l3_ofs), (1, 6));
        p.remove_at(2, 2);
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!((p.l2_5_ofs, p.l3_ofs), (1, 4));
        p.truncate(3);
        assert_eq!(p.l3_ofs, OFS_NONE);
        p.put_tail(2);
        assert_eq!(p.data(), &[1, 2, 3, 0, 0]);
    }

    /// A foreign buffer that counts its drops.
    struct Ext(Vec<u8>, std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl ExternalBuf for Ext {
        fn buf(&self) -> &[u8] {
            &self.0
        }
        fn buf_mut(&mut self) -> &mut [u8] {
            &mut self.0
        }
        fn as_any(&mut self) -> &mut dyn Any {
            self
        }
    }
    impl Drop for Ext {
        fn drop(&mut self) {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn ext(
        frame: &[u8],
        headroom: usize,
        tailroom: usize,
    ) -> (DpPacket, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut b = vec![0xee; headroom];
        b.extend_from_slice(frame);
        b.extend(std::iter::repeat(0xee).take(tailroom));
        let p = DpPacket::from_external(Box::new(Ext(b, drops.clone())), headroom, frame.len());
        (p, drops)
    }

    #[test]
    fn external_storage_behaves_like_owned() {
        let (mut p, drops) = ext(&[1, 2, 3, 4, 5, 6], 8, 4);
        assert!(p.is_external());
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!((p.headroom(), p.tailroom()), (8, 4));
        p.l3_ofs = 2;
        p.push_front(4).copy_from_slice(&[9, 9, 9, 9]);
        assert!(p.is_external(), "fits in the headroom: no copy");
        assert_eq!(p.data(), &[9, 9, 9, 9, 1, 2, 3, 4, 5, 6]);
        assert_eq!(p.l3_ofs, 6);
        p.pull_front(4);
        p.insert_at(2, 2).copy_from_slice(&[8, 8]);
        assert_eq!(p.data(), &[1, 2, 8, 8, 3, 4, 5, 6]);
        p.remove_at(2, 2);
        p.put_tail(4);
        assert!(p.is_external());
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6, 0, 0, 0, 0]);
        p.data_mut()[0] = 7;
        let c = p.clone();
        assert!(!c.is_external());
        assert_eq!(c.data(), p.data());
        assert_eq!(c.headroom(), p.headroom());
        assert!(p
            .external_mut()
            .unwrap()
            .as_any()
            .downcast_mut::<Ext>()
            .is_some());
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 0);
        drop(p);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn external_storage_copies_when_out_of_room() {
        let (mut p, drops) = ext(&[1, 2, 3], 2, 0);
        p.l3_ofs = 1;
        p.push_front(3).copy_from_slice(&[7, 7, 7]);
        assert!(!p.is_external());
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(p.data(), &[7, 7, 7, 1, 2, 3]);
        assert_eq!(p.l3_ofs, 4);

        let (mut p, drops) = ext(&[1, 2, 3], 2, 1);
        p.put_tail(2).copy_from_slice(&[4, 5]);
        assert!(!p.is_external());
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(p.data(), &[1, 2, 3, 4, 5]);
        assert_eq!(p.headroom(), 2);

        let (mut p, drops) = ext(&[1, 2, 3], 2, 1);
        p.set_frame(&[6; 5]);
        assert!(!p.is_external());
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(p.data(), &[6; 5]);

        let (mut p, _) = ext(&[1, 2, 3], 2, 1);
        p.set_external_frame(1, 100);
        assert_eq!((p.headroom(), p.len()), (1, 5));
        assert_eq!(p.data(), &[0xee, 1, 2, 3, 0xee]);
    }
}
