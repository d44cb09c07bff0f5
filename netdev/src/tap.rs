//! `tap` and `internal` ports: a Linux tap device (tuntap, see
//! `Documentation/networking/tuntap.rst`) whose file descriptor is the port.
//!
//! As in OVS `lib/netdev-linux.c` (`netdev_linux_construct_tap`), opening
//! the port attaches to the tap device `NAME` with `IFF_TAP | IFF_NO_PI`
//! (frames without a packet-information prefix), creating it if it does not
//! exist, makes it persistent (`TUNSETPERSIST`, so it may be moved to another
//! namespace while open) and sets it administratively up. A device created
//! by the port is removed when the port is dropped; a tap that existed
//! before is left in place. The OVS userspace datapath implements `internal`
//! ports (the bridge's own interface) the same way, as a tap named like the
//! port; only [`Netdev::kind`] differs.
//!
//! Frames written by the kernel side (what the host stack sends out of the
//! device) are read with one non-blocking `read(2)` each, up to
//! [`NETDEV_MAX_BURST`] per burst; transmitted frames are written with one
//! `write(2)` each and appear as received on the device. Writing to a tap
//! that is down fails with `EIO`: the frame is dropped and counted in
//! `tx_dropped`, as OVS does. There is one rx and one tx queue; the port is
//! not polled by PMD threads (OVS: non-PMD).

use crate::sys::{self, Ctl};
use crate::{LinkState, Netdev, NetdevError, NetdevStats, Options};
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Size of the read buffer: the largest frame a tap hands over whole (64 KiB
/// IP packet plus Ethernet header and a VLAN tag).
pub const TAP_MAX_FRAME: usize = 65535 + 18;

/// A `tap` or `internal` port. Made by [`TapNetdev::open`] (or
/// [`crate::open`] with type `"tap"`/`"internal"`).
#[derive(Debug)]
pub struct TapNetdev {
    name: String,
    kind: &'static str,
    file: File,
    ctl: Ctl,
    created: bool,
    rxbuf: Mutex<Vec<u8>>,
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

impl TapNetdev {
    /// Opens (creating if missing) the tap device `name`, for OVS type `kind`
    /// (`"tap"` or `"internal"`; anything else is treated as `"tap"`).
    ///
    /// No options are accepted (any is [`NetdevError::InvalidOption`]).
    /// Errors: [`NetdevError::Os`] if `/dev/net/tun` cannot be opened, the
    /// name is invalid (empty, longer than 15 bytes) or names a device that
    /// is not a tap (`TUNSETIFF` fails), or the device cannot be set up.
    pub fn open(name: &str, kind: &str, options: &Options) -> Result<TapNetdev, NetdevError> {
        let kind: &'static str = if kind == "internal" {
            "internal"
        } else {
            "tap"
        };
        if let Some(k) = options.keys().next() {
            return Err(NetdevError::InvalidOption {
                option: k.clone(),
                reason: format!("not supported by interface type {kind}"),
            });
        }
        let existed = sys::if_nametoindex(name).is_ok();
        let file = sys::tap_open(name)
            .map_err(|e| NetdevError::os(format!("{name}: creating tap device failed"), e))?;
        let created = !existed;
        if created {
            sys::tap_set_persist(&file, true).map_err(|e| {
                NetdevError::os(format!("{name}: creating tap device failed (persist)"), e)
            })?;
        }
        let dev = TapNetdev {
            name: name.to_string(),
            kind,
            file,
            ctl: Ctl::new().map_err(|e| NetdevError::os(format!("{name}: control socket"), e))?,
            created,
            rxbuf: Mutex::new(vec![0; TAP_MAX_FRAME]),
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            rx_errors: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
            tx_errors: AtomicU64::new(0),
        };
        // `dev` is dropped on error, which removes a device we created.
        dev.ctl
            .update_flags(name, libc::IFF_UP as u32, 0)
            .map_err(|e| NetdevError::os(format!("{name}: set up"), e))?;
        Ok(dev)
    }

    /// True if the port created the device (and will remove it when dropped).
    pub fn created(&self) -> bool {
        self.created
    }
}

impl Drop for TapNetdev {
    fn drop(&mut self) {
        if self.created {
            // The device goes away when `file` closes right after this.
            let _ = sys::tap_set_persist(&self.file, false);
        }
    }
}

impl Netdev for TapNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn is_pmd(&self) -> bool {
        false
    }

    fn n_rxq(&self) -> usize {
        1
    }

    fn n_txq(&self) -> usize {
        1
    }

    fn rx_burst(&self, qid: usize, batch: &mut PacketBatch) -> Result<usize, NetdevError> {
        if qid != 0 {
            return Err(NetdevError::InvalidOption {
                option: "rxq".into(),
                reason: format!("{}: no rx queue {qid} (n_rxq=1)", self.name),
            });
        }
        let want = NETDEV_MAX_BURST.saturating_sub(batch.len());
        let mut buf = self.rxbuf.lock().unwrap();
        let (mut n, mut bytes) = (0usize, 0u64);
        let mut result = Ok(());
        while n < want {
            match (&self.file).read(&mut buf[..]) {
                Ok(0) => break,
                Ok(len) => {
                    batch.push(Box::new(DpPacket::from_slice(&buf[..len])));
                    n += 1;
                    bytes += len as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.rx_errors.fetch_add(1, Ordering::Relaxed);
                    result = Err(NetdevError::os(format!("{}: read tap", self.name), e));
                    break;
                }
            }
        }
        self.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
        self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
        result.map(|()| n)
    }

    fn tx_burst(&self, _qid: usize, batch: &mut PacketBatch) -> usize {
        let (mut sent, mut bytes) = (0u64, 0u64);
        for p in batch.pkts.drain(..) {
            loop {
                match (&self.file).write(p.data()) {
                    Ok(_) => {
                        sent += 1;
                        bytes += p.len() as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e)
                        if e.kind() == ErrorKind::WouldBlock
                            || e.raw_os_error() == Some(libc::EIO) =>
                    {
                        self.tx_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        self.tx_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                break;
            }
        }
        self.tx_packets.fetch_add(sent, Ordering::Relaxed);
        self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
        sent as usize
    }

    fn mtu(&self) -> u32 {
        self.ctl.mtu(&self.name).unwrap_or(0)
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), NetdevError> {
        self.ctl
            .set_mtu(&self.name, mtu)
            .map_err(|e| NetdevError::os(format!("{}: set MTU {mtu}", self.name), e))
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
        NetdevStats {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            rx_dropped: 0,
            rx_errors: self.rx_errors.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_dropped: self.tx_dropped.load(Ordering::Relaxed),
            tx_errors: self.tx_errors.load(Ordering::Relaxed),
        }
    }
}
