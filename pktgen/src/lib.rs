//! # rvs-pktgen: traffic for rvs benchmarks
//!
//! The concepts of DPDK's pktgen, boiled down to what the rvs benchmarks
//! need:
//!
//! * every header field that varies (source/destination MAC, IPv4 address,
//!   L4 port) is a [`FieldRange`]: `start`, `min`, `max`, `step`; flow `i`
//!   takes the value `min + (start - min + i * step) mod (max - min + 1)`;
//! * the number of flows cycles the fields: packet `k` belongs to flow
//!   `k % flows`;
//! * frame size ([`SizeSpec`]): fixed, a range stepped per packet, or
//!   simple IMIX (7:4:1 of 64, 570 and 1518 bytes); sizes count the 4-byte
//!   FCS, as RFC 2544 and NIC counters do, so a "64-byte" frame is 60 bytes
//!   in a pcap;
//! * protocol ([`Proto`]): UDP, TCP SYN or ICMP echo request, over IPv4,
//!   optionally with an 802.1Q tag;
//! * a [`Stamp`] in the payload (magic, sequence number, transmit time) for
//!   loss and latency measurement when the frame has room for it.

#![warn(missing_docs)]

use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

/// One varying header field: values `min..=max`, starting at `start`,
/// advancing by `step` per flow (pktgen's `start/min/max/inc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRange {
    /// Value of flow 0.
    pub start: u64,
    /// Smallest value.
    pub min: u64,
    /// Largest value.
    pub max: u64,
    /// Increment per flow (0: constant).
    pub step: u64,
}

impl FieldRange {
    /// A constant field.
    pub fn fixed(v: u64) -> FieldRange {
        FieldRange {
            start: v,
            min: v,
            max: v,
            step: 0,
        }
    }

    /// The value of flow `flow`.
    pub fn value(&self, flow: u64) -> u64 {
        let span = self.max - self.min + 1;
        let ofs = (self.start - self.min) as u128 + flow as u128 * self.step as u128;
        self.min + (ofs % span as u128) as u64
    }

    /// Parses `VALUE` or `MIN-MAX[/STEP][@START]` with `one` parsing a
    /// single value (step defaults to 1, start to `MIN`).
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(s: &str, one: impl Fn(&str) -> Option<u64>) -> Result<FieldRange, String> {
        let (s, start) = match s.split_once('@') {
            Some((r, st)) => (r, Some(one(st).ok_or(format!("bad start \"{st}\""))?)),
            None => (s, None),
        };
        let (s, step) = match s.split_once('/') {
            Some((r, st)) => (
                r,
                Some(st.parse().map_err(|_| format!("bad step \"{st}\""))?),
            ),
            None => (s, None),
        };
        let r = match s.split_once('-') {
            Some((a, b)) => {
                let min = one(a).ok_or(format!("bad value \"{a}\""))?;
                let max = one(b).ok_or(format!("bad value \"{b}\""))?;
                if max < min {
                    return Err(format!("range \"{s}\": max < min"));
                }
                FieldRange {
                    start: start.unwrap_or(min),
                    min,
                    max,
                    step: step.unwrap_or(1),
                }
            }
            None => {
                let v = one(s).ok_or(format!("bad value \"{s}\""))?;
                FieldRange::fixed(v)
            }
        };
        if r.start < r.min || r.start > r.max {
            return Err(format!("start outside {}..={}", r.min, r.max));
        }
        Ok(r)
    }
}

/// Parses a MAC address (`aa:bb:cc:dd:ee:ff`) as a 48-bit number.
pub fn parse_mac(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        u8::from_str_radix(p, 16).ok().map(|b| acc << 8 | b as u64)
    })
}

/// Parses a dotted IPv4 address as a number.
pub fn parse_ip(s: &str) -> Option<u64> {
    s.parse::<Ipv4Addr>().ok().map(|a| u32::from(a) as u64)
}

/// Parses a decimal L4 port.
pub fn parse_port(s: &str) -> Option<u64> {
    s.parse::<u16>().ok().map(u64::from)
}

/// Frame sizes, FCS included (64..=9018).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeSpec {
    /// Every frame this size.
    Fixed(usize),
    /// `min..=max` stepped by `step` per packet.
    Range {
        /// Smallest size.
        min: usize,
        /// Largest size.
        max: usize,
        /// Increment per packet.
        step: usize,
    },
    /// Simple IMIX: of every 12 frames 7 are 64, 4 are 570, 1 is 1518 bytes.
    Imix,
}

impl SizeSpec {
    /// Parses `64`, `64-1518[/STEP]` or `imix`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(s: &str) -> Result<SizeSpec, String> {
        if s.eq_ignore_ascii_case("imix") {
            return Ok(SizeSpec::Imix);
        }
        let r = FieldRange::parse(s, |v| v.parse().ok())?;
        if r.min < 64 || r.max > 9018 {
            return Err(format!("size {s}: frames are 64..=9018 bytes"));
        }
        Ok(if r.min == r.max {
            SizeSpec::Fixed(r.min as usize)
        } else {
            SizeSpec::Range {
                min: r.min as usize,
                max: r.max as usize,
                step: r.step.max(1) as usize,
            }
        })
    }

    /// Size (FCS included) of packet `k`.
    pub fn size(&self, k: u64) -> usize {
        match *self {
            SizeSpec::Fixed(n) => n,
            SizeSpec::Range { min, max, step } => {
                let span = (max - min) / step + 1;
                min + (k as usize % span) * step
            }
            SizeSpec::Imix => match k % 12 {
                0..=6 => 64,
                7..=10 => 570,
                _ => 1518,
            },
        }
    }

    /// How many packets one full cycle of sizes takes.
    pub fn period(&self) -> u64 {
        match *self {
            SizeSpec::Fixed(_) => 1,
            SizeSpec::Range { min, max, step } => ((max - min) / step + 1) as u64,
            SizeSpec::Imix => 12,
        }
    }
}

/// The L4 protocol of generated frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// UDP datagrams.
    Udp,
    /// TCP segments with SYN set.
    TcpSyn,
    /// ICMP echo requests (the L4 "ports" become the identifier).
    Icmp,
}

impl Proto {
    /// Parses `udp`, `tcp` (or `tcp-syn`), `icmp`.
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Some(Proto::Udp),
            "tcp" | "tcp-syn" | "syn" => Some(Proto::TcpSyn),
            "icmp" => Some(Proto::Icmp),
            _ => None,
        }
    }

    fn ip_proto(self) -> u8 {
        match self {
            Proto::Udp => 17,
            Proto::TcpSyn => 6,
            Proto::Icmp => 1,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Proto::Udp | Proto::Icmp => 8,
            Proto::TcpSyn => 20,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Udp => "udp",
            Proto::TcpSyn => "tcp-syn",
            Proto::Icmp => "icmp",
        })
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficSpec {
    /// Source MAC.
    pub src_mac: FieldRange,
    /// Destination MAC.
    pub dst_mac: FieldRange,
    /// Source IPv4 address.
    pub src_ip: FieldRange,
    /// Destination IPv4 address.
    pub dst_ip: FieldRange,
    /// Source L4 port (ICMP: echo identifier).
    pub src_port: FieldRange,
    /// Destination L4 port (ICMP: ignored).
    pub dst_port: FieldRange,
    /// Frame sizes.
    pub size: SizeSpec,
    /// L4 protocol.
    pub proto: Proto,
    /// 802.1Q VLAN ID to tag frames with.
    pub vlan: Option<u16>,
    /// Distinct flows to cycle through (>= 1).
    pub flows: u64,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            src_mac: FieldRange::fixed(0x02_00_00_00_00_01),
            dst_mac: FieldRange::fixed(0x02_00_00_00_00_02),
            src_ip: FieldRange::fixed(0x0a_00_00_01),
            dst_ip: FieldRange::fixed(0x0a_00_00_02),
            src_port: FieldRange::fixed(1024),
            dst_port: FieldRange::fixed(1024),
            size: SizeSpec::Fixed(64),
            proto: Proto::Udp,
            vlan: None,
            flows: 1,
        }
    }
}

/// Bytes of a [`Stamp`] in a payload.
pub const STAMP_LEN: usize = 14;
/// The stamp's first two bytes.
pub const STAMP_MAGIC: u16 = 0x5256;

/// What a generated frame carries in its payload: sequence number and
/// transmit time (ns on the sender's clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Sequence number (wraps).
    pub seq: u32,
    /// Transmit time, ns.
    pub tx_ns: u64,
}

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u32) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl TrafficSpec {
    /// The flow packet `k` belongs to.
    pub fn flow_of(&self, k: u64) -> u64 {
        k % self.flows.max(1)
    }

    /// Offset of the L4 payload in frames of this spec.
    pub fn payload_offset(&self) -> usize {
        14 + if self.vlan.is_some() { 4 } else { 0 } + 20 + self.proto.header_len()
    }

    /// Frame `k` (without FCS), stamped with sequence number `k` and time 0
    /// when it has room for a [`Stamp`]. Checksums are valid (UDP's covers
    /// the stamp; [`TrafficSpec::stamp`] keeps it valid by zeroing it).
    pub fn frame(&self, k: u64) -> Vec<u8> {
        let flow = self.flow_of(k);
        let len = self.size.size(k) - 4;
        let mut f = Vec::with_capacity(len);
        f.extend_from_slice(&self.dst_mac.value(flow).to_be_bytes()[2..]);
        f.extend_from_slice(&self.src_mac.value(flow).to_be_bytes()[2..]);
        if let Some(v) = self.vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&(v & 0xfff).to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let l3 = f.len();
        let ip_len = (len - l3) as u16;
        let (src, dst) = (
            self.src_ip.value(flow) as u32,
            self.dst_ip.value(flow) as u32,
        );
        f.extend_from_slice(&[
            0x45,
            0,
            0,
            0,
            0,
            0,
            0x40,
            0,
            64,
            self.proto.ip_proto(),
            0,
            0,
        ]);
        f[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
        f[l3 + 4..l3 + 6].copy_from_slice(&(k as u16).to_be_bytes());
        f.extend_from_slice(&src.to_be_bytes());
        f.extend_from_slice(&dst.to_be_bytes());
        let c = csum_fold(csum_add(0, &f[l3..l3 + 20]));
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        let l4 = f.len();
        let (sp, dp) = (
            self.src_port.value(flow) as u16,
            self.dst_port.value(flow) as u16,
        );
        match self.proto {
            Proto::Udp => {
                f.extend_from_slice(&sp.to_be_bytes());
                f.extend_from_slice(&dp.to_be_bytes());
                f.extend_from_slice(&(len as u16 - l4 as u16).to_be_bytes());
                f.extend_from_slice(&[0, 0]);
            }
            Proto::TcpSyn => {
                f.extend_from_slice(&sp.to_be_bytes());
                f.extend_from_slice(&dp.to_be_bytes());
                f.extend_from_slice(&(k as u32).to_be_bytes());
                f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
            }
            Proto::Icmp => {
                f.extend_from_slice(&[8, 0, 0, 0]);
                f.extend_from_slice(&sp.to_be_bytes());
                f.extend_from_slice(&(k as u16).to_be_bytes());
            }
        }
        f.resize(len, 0);
        if len - l4 - self.proto.header_len() >= STAMP_LEN {
            let p = l4 + self.proto.header_len();
            f[p..p + 2].copy_from_slice(&STAMP_MAGIC.to_be_bytes());
            f[p + 2..p + 6].copy_from_slice(&(k as u32).to_be_bytes());
        }
        self.fix_l4_csum(&mut f, l3, l4);
        f
    }

    fn fix_l4_csum(&self, f: &mut [u8], l3: usize, l4: usize) {
        match self.proto {
            // UDP checksum 0: "none", so stamping needs no update.
            Proto::Udp => {}
            Proto::TcpSyn => {
                f[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
                let mut s = csum_add(0, &f[l3 + 12..l3 + 20]);
                s += 6 + (f.len() - l4) as u32;
                let c = csum_fold(csum_add(s, &f[l4..]));
                f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
            }
            Proto::Icmp => {
                f[l4 + 2..l4 + 4].copy_from_slice(&[0, 0]);
                let c = csum_fold(csum_add(0, &f[l4..]));
                f[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
            }
        }
    }

    /// Writes the transmit time into a frame made by [`TrafficSpec::frame`]
    /// (no-op for frames without a stamp); keeps the L4 checksum valid.
    pub fn stamp(&self, f: &mut [u8], tx_ns: u64) {
        let p = self.payload_offset();
        if f.len() < p + STAMP_LEN {
            return;
        }
        f[p + 6..p + 14].copy_from_slice(&tx_ns.to_be_bytes());
        let l3 = 14 + if self.vlan.is_some() { 4 } else { 0 };
        self.fix_l4_csum(f, l3, l3 + 20);
    }

    /// Number of frames that cover every flow and every size at least once.
    pub fn default_count(&self) -> u64 {
        let (a, b) = (self.flows.max(1), self.size.period());
        a / gcd(a, b) * b
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The [`Stamp`] of a received frame, if it is one of ours (IPv4 with an
/// optional 802.1Q tag, UDP/TCP/ICMP, magic present).
pub fn read_stamp(f: &[u8]) -> Option<Stamp> {
    let mut l3 = 14;
    let mut et = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
    if et == 0x8100 {
        et = u16::from_be_bytes([*f.get(16)?, *f.get(17)?]);
        l3 = 18;
    }
    if et != 0x0800 {
        return None;
    }
    let ihl = (*f.get(l3)? & 0x0f) as usize * 4;
    let l4 = l3 + ihl;
    let hl = match *f.get(l3 + 9)? {
        17 | 1 => 8,
        6 => ((*f.get(l4 + 12)? >> 4) as usize) * 4,
        _ => return None,
    };
    let p = l4 + hl;
    let s = f.get(p..p + STAMP_LEN)?;
    if u16::from_be_bytes([s[0], s[1]]) != STAMP_MAGIC {
        return None;
    }
    Some(Stamp {
        seq: u32::from_be_bytes(s[2..6].try_into().ok()?),
        tx_ns: u64::from_be_bytes(s[6..14].try_into().ok()?),
    })
}

/// Writes `frames` as a classic little-endian pcap file (v2.4, Ethernet),
/// one microsecond apart.
///
/// # Errors
/// The file's I/O error.
pub fn write_pcap<'a>(
    path: &Path,
    frames: impl IntoIterator<Item = &'a [u8]>,
) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.write_all(&v.to_le_bytes())?;
    }
    let mut n = 0u64;
    for f in frames {
        let (sec, usec) = (
            1_700_000_000 + (n / 1_000_000) as u32,
            (n % 1_000_000) as u32,
        );
        for v in [sec, usec, f.len() as u32, f.len() as u32] {
            out.write_all(&v.to_le_bytes())?;
        }
        out.write_all(f)?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// Latency samples (ns) and their percentiles.
#[derive(Default, Debug, Clone)]
pub struct Latency {
    samples: Vec<u64>,
    seen: u64,
}

/// Samples kept at most (every n-th is kept beyond that).
const MAX_SAMPLES: usize = 1 << 20;

impl Latency {
    /// Records one latency.
    pub fn add(&mut self, ns: u64) {
        self.seen += 1;
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(ns);
        } else {
            // Keep a uniform-ish sample: replace by a hash of the count.
            let i = (self.seen.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 44) as usize % MAX_SAMPLES;
            self.samples[i] = ns;
        }
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.seen
    }

    /// The `p`-th percentile (0..=100), ns.
    pub fn percentile(&mut self, p: f64) -> Option<u64> {
        if self.samples.is_empty() {
            return None;
        }
        self.samples.sort_unstable();
        let i = ((p / 100.0) * (self.samples.len() - 1) as f64).round() as usize;
        Some(self.samples[i.min(self.samples.len() - 1)])
    }

    /// Forgets every sample.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cycle() {
        let r = FieldRange::parse("10.0.0.1-10.0.0.4", parse_ip).unwrap();
        let v: Vec<u64> = (0..6).map(|i| r.value(i) & 0xff).collect();
        assert_eq!(v, [1, 2, 3, 4, 1, 2]);
        let r = FieldRange::parse("1000-1009/3@1006", parse_port).unwrap();
        assert_eq!(
            (0..4).map(|i| r.value(i)).collect::<Vec<_>>(),
            [1006, 1009, 1002, 1005]
        );
        assert_eq!(
            FieldRange::parse("02:00:00:00:00:01", parse_mac).unwrap(),
            FieldRange::fixed(0x0200_0000_0001)
        );
        assert!(FieldRange::parse("5-1", parse_port).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(SizeSpec::parse("64").unwrap().size(5), 64);
        let r = SizeSpec::parse("64-128/32").unwrap();
        assert_eq!(
            (0..4).map(|k| r.size(k)).collect::<Vec<_>>(),
            [64, 96, 128, 64]
        );
        let imix = SizeSpec::parse("imix").unwrap();
        let total: usize = (0..12).map(|k| imix.size(k)).sum();
        assert_eq!(total, 7 * 64 + 4 * 570 + 1518);
        assert!(SizeSpec::parse("32").is_err());
    }

    #[test]
    fn frames_are_valid_and_stamped() {
        for proto in [Proto::Udp, Proto::TcpSyn, Proto::Icmp] {
            for vlan in [None, Some(100)] {
                let spec = TrafficSpec {
                    proto,
                    vlan,
                    size: SizeSpec::Fixed(128),
                    flows: 4,
                    src_ip: FieldRange::parse("10.0.0.1-10.0.0.255", parse_ip).unwrap(),
                    ..Default::default()
                };
                let mut f = spec.frame(7);
                assert_eq!(f.len(), 124);
                let l3 = if vlan.is_some() { 18 } else { 14 };
                assert_eq!(csum_fold(csum_add(0, &f[l3..l3 + 20])), 0, "IP checksum");
                assert_eq!(f[l3 + 15], 4, "flow 3 -> 10.0.0.4");
                spec.stamp(&mut f, 123_456_789);
                assert_eq!(
                    read_stamp(&f),
                    Some(Stamp {
                        seq: 7,
                        tx_ns: 123_456_789
                    })
                );
                let l4 = l3 + 20;
                if proto == Proto::Icmp {
                    assert_eq!(csum_fold(csum_add(0, &f[l4..])), 0, "ICMP checksum");
                }
                if proto == Proto::TcpSyn {
                    let mut s = csum_add(0, &f[l3 + 12..l3 + 20]);
                    s += 6 + (f.len() - l4) as u32;
                    assert_eq!(csum_fold(csum_add(s, &f[l4..])), 0, "TCP checksum");
                }
            }
        }
        // A 64-byte TCP frame has no room for a stamp.
        let spec = TrafficSpec {
            proto: Proto::TcpSyn,
            ..Default::default()
        };
        assert_eq!(read_stamp(&spec.frame(0)), None);
        assert_eq!(read_stamp(&TrafficSpec::default().frame(3)).unwrap().seq, 3);
    }

    #[test]
    fn pcap_roundtrip_and_percentiles() {
        let spec = TrafficSpec {
            flows: 3,
            size: SizeSpec::Imix,
            ..Default::default()
        };
        assert_eq!(spec.default_count(), 12);
        let frames: Vec<Vec<u8>> = (0..spec.default_count()).map(|k| spec.frame(k)).collect();
        let p = std::env::temp_dir().join(format!("rvs-pktgen-{}.pcap", std::process::id()));
        let n = write_pcap(&p, frames.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(n, 12);
        let b = std::fs::read(&p).unwrap();
        let _ = std::fs::remove_file(&p);
        let want: usize = 24 + frames.iter().map(|f| 16 + f.len()).sum::<usize>();
        assert_eq!(b.len(), want);
        let mut l = Latency::default();
        for v in 1..=100 {
            l.add(v);
        }
        assert_eq!(l.percentile(50.0), Some(51));
        assert_eq!(l.percentile(99.0), Some(99));
    }
}
