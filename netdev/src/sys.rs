//! Raw Linux calls used by the AF_PACKET and tap ports: packet sockets and
//! their socket options (packet(7)), shared ring mappings (mmap(2),
//! `Documentation/networking/packet_mmap.rst`), interface ioctls
//! (netdevice(7): `SIOCGIFMTU`, `SIOCSIFMTU`, `SIOCGIFHWADDR`,
//! `SIOCGIFFLAGS`, `SIOCSIFFLAGS`) and the tun/tap clone device
//! (`Documentation/networking/tuntap.rst`).
//!
//! Every `unsafe` block of the crate that is not ring access lives here; each
//! one says why it is sound. Errors are `std::io::Error` from `errno`; the
//! callers turn them into [`crate::NetdevError`].

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// Interface name buffer size including the terminating NUL (`IFNAMSIZ`).
pub(crate) const IFNAMSIZ: usize = 16;

/// `ETH_P_ALL`: every protocol (host order).
pub(crate) const ETH_P_ALL: u16 = 0x0003;

// <linux/if_packet.h> socket options and values.
pub(crate) const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
pub(crate) const PACKET_RX_RING: libc::c_int = 5;
pub(crate) const PACKET_STATISTICS: libc::c_int = 6;
pub(crate) const PACKET_VERSION: libc::c_int = 10;
pub(crate) const PACKET_TX_RING: libc::c_int = 13;
pub(crate) const PACKET_LOSS: libc::c_int = 14;
pub(crate) const PACKET_FANOUT: libc::c_int = 18;
pub(crate) const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
pub(crate) const PACKET_MR_PROMISC: libc::c_ushort = 1;
pub(crate) const PACKET_FANOUT_HASH: u32 = 0;
pub(crate) const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
pub(crate) const TPACKET_V3: libc::c_int = 2;

// <linux/if_tun.h>
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

/// `struct tpacket_req3` (packet_mmap.rst, "TPACKET_V3").
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TpacketReq3 {
    pub tp_block_size: u32,
    pub tp_block_nr: u32,
    pub tp_frame_size: u32,
    pub tp_frame_nr: u32,
    pub tp_retire_blk_tov: u32,
    pub tp_sizeof_priv: u32,
    pub tp_feature_req_word: u32,
}

/// `struct tpacket_stats_v3`, read (and reset) by `PACKET_STATISTICS`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TpacketStatsV3 {
    pub tp_packets: u32,
    pub tp_drops: u32,
    pub tp_freeze_q_cnt: u32,
}

/// `struct packet_mreq`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PacketMreq {
    pub mr_ifindex: libc::c_int,
    pub mr_type: libc::c_ushort,
    pub mr_alen: libc::c_ushort,
    pub mr_address: [u8; 8],
}

/// Plain-old-data socket option values: every bit pattern is a valid value,
/// so `getsockopt` may fill them.
pub(crate) trait Pod: Copy + Default {}
impl Pod for libc::c_int {}
impl Pod for u32 {}
impl Pod for TpacketReq3 {}
impl Pod for TpacketStatsV3 {}
impl Pod for PacketMreq {}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Checks an interface name (1..=15 bytes, no NUL or `/`) and returns it NUL
/// padded as the kernel wants it (`EINVAL` if invalid).
pub(crate) fn ifname(name: &str) -> io::Result<[u8; IFNAMSIZ]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= IFNAMSIZ || b.iter().any(|&c| c == 0 || c == b'/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut out = [0u8; IFNAMSIZ];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

/// The ifindex of `name` (if_nametoindex(3)); `ENODEV` if there is none.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    ifname(name)?;
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}

/// A non-blocking, close-on-exec `AF_PACKET`/`SOCK_RAW` socket with protocol
/// 0, so it receives nothing until bound (packet(7)).
pub(crate) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// setsockopt(2) with a plain value.
pub(crate) fn setsockopt<T: Pod>(
    fd: &OwnedFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: &T,
) -> io::Result<()> {
    // SAFETY: `val` points to `size_of::<T>()` readable bytes for the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            val as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// getsockopt(2) into a plain value.
pub(crate) fn getsockopt<T: Pod>(
    fd: &OwnedFd,
    level: libc::c_int,
    opt: libc::c_int,
) -> io::Result<T> {
    let mut val = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` is `len` writable bytes and `T: Pod` accepts any bytes the
    // kernel writes; `len` is a valid in/out length.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &mut val as *mut T as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok(val)
}

/// Binds a packet socket to `ifindex` for `protocol` (host order; 0 binds the
/// device for transmission without receiving anything).
pub(crate) fn bind_ll(fd: &OwnedFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Asks the kernel to transmit the frames marked `TP_STATUS_SEND_REQUEST` in
/// a packet socket's tx ring, without waiting (`send(fd, NULL, 0,
/// MSG_DONTWAIT)`, packet_mmap.rst "Transmission process").
pub(crate) fn kick_tx(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: a zero-length send with a null buffer is how the tx ring is
    // flushed; the kernel reads no user memory through the pointer.
    cvt(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null(),
            0,
        ) as libc::c_int
    })?;
    Ok(())
}

/// A shared read/write mapping of a packet socket's rings, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory owned by this value; every
// access through `ptr` is synchronised by the users (a per-ring mutex plus
// the status-word protocol with the kernel).
unsafe impl Send for Mmap {}
// SAFETY: as above; `&Mmap` only hands out the base pointer.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `len` bytes of `fd` at offset 0, shared, read/write.
    pub(crate) fn map(fd: &OwnedFd, len: usize) -> io::Result<Mmap> {
        // SAFETY: a fresh mapping placed by the kernel; no existing memory is
        // affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: p as *mut u8,
            len,
        })
    }

    /// Base address of the mapping.
    #[inline]
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping made in `map`, and no
        // reference into it outlives `self`.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}

/// `struct ifreq`: name plus a 24-byte union (x86_64/aarch64 layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        Ok(IfReq {
            name: ifname(name)?,
            data: [0; 24],
        })
    }
    fn int(&self) -> libc::c_int {
        libc::c_int::from_ne_bytes(self.data[..4].try_into().unwrap())
    }
    fn set_int(&mut self, v: libc::c_int) {
        self.data[..4].copy_from_slice(&v.to_ne_bytes());
    }
    fn short(&self) -> libc::c_short {
        libc::c_short::from_ne_bytes(self.data[..2].try_into().unwrap())
    }
    fn set_short(&mut self, v: libc::c_short) {
        self.data[..2].copy_from_slice(&v.to_ne_bytes());
    }
}

fn ioctl_ifreq(fd: RawFd, req: libc::c_ulong, ifr: &mut IfReq) -> io::Result<()> {
    // SAFETY: `ifr` is a valid, writable `struct ifreq` for the interface
    // ioctls used here (netdevice(7)), which read and write only within it.
    cvt(unsafe { libc::ioctl(fd, req as _, ifr as *mut IfReq) })?;
    Ok(())
}

/// An `AF_INET`/`SOCK_DGRAM` socket for interface ioctls (netdevice(7)), in
/// the network namespace the process was in when it was made (OVS
/// `af_inet_ioctl`).
#[derive(Debug)]
pub(crate) struct Ctl(OwnedFd);

impl Ctl {
    /// Makes the control socket.
    pub(crate) fn new() -> io::Result<Ctl> {
        // SAFETY: plain syscall with constant arguments.
        let fd =
            cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
        Ok(Ctl(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// `SIOCGIFMTU`.
    pub(crate) fn mtu(&self, name: &str) -> io::Result<u32> {
        let mut ifr = IfReq::new(name)?;
        ioctl_ifreq(self.0.as_raw_fd(), libc::SIOCGIFMTU, &mut ifr)?;
        Ok(ifr.int() as u32)
    }

    /// `SIOCSIFMTU`.
    pub(crate) fn set_mtu(&self, name: &str, mtu: u32) -> io::Result<()> {
        let mtu =
            libc::c_int::try_from(mtu).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut ifr = IfReq::new(name)?;
        ifr.set_int(mtu);
        ioctl_ifreq(self.0.as_raw_fd(), libc::SIOCSIFMTU, &mut ifr)
    }

    /// `SIOCGIFHWADDR`: the 6-byte hardware address.
    pub(crate) fn hwaddr(&self, name: &str) -> io::Result<[u8; 6]> {
        let mut ifr = IfReq::new(name)?;
        ioctl_ifreq(self.0.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr)?;
        // struct sockaddr: sa_family (2 bytes) then sa_data.
        Ok(ifr.data[2..8].try_into().unwrap())
    }

    /// `SIOCGIFFLAGS`: `IFF_*` flags.
    pub(crate) fn flags(&self, name: &str) -> io::Result<u32> {
        let mut ifr = IfReq::new(name)?;
        ioctl_ifreq(self.0.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr)?;
        Ok(ifr.short() as u16 as u32)
    }

    /// Turns `on` flags on and `off` flags off (`SIOCGIFFLAGS` then
    /// `SIOCSIFFLAGS`), e.g. `IFF_UP`.
    pub(crate) fn update_flags(&self, name: &str, on: u32, off: u32) -> io::Result<()> {
        let old = self.flags(name)?;
        let new = (old | on) & !off;
        if new != old {
            let mut ifr = IfReq::new(name)?;
            ifr.set_short(new as u16 as libc::c_short);
            ioctl_ifreq(self.0.as_raw_fd(), libc::SIOCSIFFLAGS, &mut ifr)?;
        }
        Ok(())
    }
}

/// Opens `/dev/net/tun` non-blocking and attaches it to tap device `name`
/// (`IFF_TAP | IFF_NO_PI`), creating the device if it does not exist.
pub(crate) fn tap_open(name: &str) -> io::Result<File> {
    let mut ifr = IfReq::new(name)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    ifr.set_short(IFF_TAP | IFF_NO_PI);
    ioctl_ifreq(file.as_raw_fd(), TUNSETIFF, &mut ifr)?;
    Ok(file)
}

/// `TUNSETPERSIST`: whether the tap device outlives its last file descriptor.
pub(crate) fn tap_set_persist(file: &File, persist: bool) -> io::Result<()> {
    // SAFETY: TUNSETPERSIST takes its argument by value; no memory is read.
    cvt(unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            TUNSETPERSIST as _,
            persist as libc::c_ulong,
        )
    })?;
    Ok(())
}
