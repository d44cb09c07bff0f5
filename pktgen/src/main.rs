//! `rvs-pktgen`: writes benchmark traffic to a pcap file (for DPDK
//! `net_pcap` replay), or sends it live on an rvs port (AF_XDP, AF_PACKET,
//! or DPDK with the `dpdk` feature) at a target rate while receiving on
//! another and reporting rx rate, loss and latency percentiles; or, with
//! `iofwd` (`dpdk` feature), forwards between two DPDK ports as
//! `dpdk-testpmd --forward-mode=io` does, to measure the ports' limit. See
//! the library documentation for the traffic model and `--help` for the
//! flags.

use clap::{Arg, ArgAction, ArgMatches, Command};
use dp_core::packet::{DpPacket, PacketBatch, NETDEV_MAX_BURST};
use netdev::{Netdev, Options};
use pktgen::{
    parse_ip, parse_mac, parse_port, read_stamp, write_pcap, FieldRange, Latency, Proto, SizeSpec,
    TrafficSpec,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most distinct frames kept in memory for live transmission.
const MAX_FRAMES: u64 = 1 << 16;

fn traffic_args() -> Vec<Arg> {
    let a = |name: &'static str, default: &'static str, help: &'static str| {
        Arg::new(name).long(name).default_value(default).help(help)
    };
    vec![
        a(
            "src-mac",
            "02:00:00:00:00:01",
            "source MAC: VALUE or MIN-MAX[/STEP][@START]",
        ),
        a(
            "dst-mac",
            "02:00:00:00:00:02",
            "destination MAC (same syntax)",
        ),
        a("src-ip", "10.0.0.1", "source IPv4 address (same syntax)"),
        a(
            "dst-ip",
            "10.0.0.2",
            "destination IPv4 address (same syntax)",
        ),
        a("src-port", "1024", "source L4 port (ICMP: echo identifier)"),
        a("dst-port", "1024", "destination L4 port"),
        a(
            "size",
            "64",
            "frame size with FCS: N, MIN-MAX[/STEP] or imix",
        ),
        a("proto", "udp", "udp, tcp-syn or icmp"),
        Arg::new("vlan")
            .long("vlan")
            .help("802.1Q VLAN ID to tag frames with"),
        a(
            "flows",
            "1",
            "distinct flows (each varying field advances one step per flow)",
        ),
    ]
}

fn spec_from(m: &ArgMatches) -> Result<TrafficSpec, String> {
    let s = |n: &str| m.get_one::<String>(n).cloned().unwrap_or_default();
    let field = |n: &str, p: fn(&str) -> Option<u64>| {
        FieldRange::parse(&s(n), p).map_err(|e| format!("--{n}: {e}"))
    };
    Ok(TrafficSpec {
        src_mac: field("src-mac", parse_mac)?,
        dst_mac: field("dst-mac", parse_mac)?,
        src_ip: field("src-ip", parse_ip)?,
        dst_ip: field("dst-ip", parse_ip)?,
        src_port: field("src-port", parse_port)?,
        dst_port: field("dst-port", parse_port)?,
        size: SizeSpec::parse(&s("size")).map_err(|e| format!("--size: {e}"))?,
        proto: Proto::parse(&s("proto")).ok_or("--proto: udp, tcp-syn or icmp")?,
        vlan: match m.get_one::<String>("vlan") {
            Some(v) => Some(
                v.parse::<u16>()
                    .ok()
                    .filter(|v| *v < 4096)
                    .ok_or("--vlan: 0..4095")?,
            ),
            None => None,
        },
        flows: s("flows")
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or("--flows: a number >= 1")?,
    })
}

fn cli() -> Command {
    Command::new("rvs-pktgen")
        .about("Traffic generator for rvs benchmarks")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .subcommand(
            Command::new("pcap")
                .about("write the traffic to a pcap file (for DPDK net_pcap rx_pcap=FILE replay)")
                .arg(
                    Arg::new("out")
                        .long("out")
                        .short('o')
                        .required(true)
                        .help("pcap file"),
                )
                .arg(
                    Arg::new("count")
                        .long("count")
                        .help("frames to write (default: enough to cover every flow and size)"),
                )
                .arg(
                    Arg::new("prepend")
                        .long("prepend")
                        .action(ArgAction::Append)
                        .help("extra first frame SRC_MAC>DST_MAC (e.g. to announce a MAC)"),
                )
                .args(traffic_args()),
        )
        .subcommand(
            Command::new("run")
                .about("send live on a port at a rate; receive on another and report loss/latency")
                .arg(
                    Arg::new("tx")
                        .long("tx")
                        .required(true)
                        .help("port to send on, TYPE:NAME (afxdp:veth0, system:veth0, dpdk:name)"),
                )
                .arg(
                    Arg::new("rx")
                        .long("rx")
                        .help("port to receive on, TYPE:NAME"),
                )
                .arg(
                    Arg::new("tx-netns")
                        .long("tx-netns")
                        .help("network namespace (ip netns NAME) the --tx port is in"),
                )
                .arg(
                    Arg::new("rx-netns")
                        .long("rx-netns")
                        .help("network namespace (ip netns NAME) the --rx port is in"),
                )
                .arg(
                    Arg::new("opt")
                        .long("opt")
                        .action(ArgAction::Append)
                        .help("port option KEY=VALUE (e.g. xdp-mode=generic, dpdk-devargs=...)"),
                )
                .arg(
                    Arg::new("rate")
                        .long("rate")
                        .default_value("0")
                        .help("target packets per second (0: as fast as possible)"),
                )
                .arg(
                    Arg::new("duration")
                        .long("duration")
                        .default_value("10")
                        .help("seconds to send"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("print the final summary as JSON"),
                )
                .args(traffic_args()),
        )
        .subcommand(
            Command::new("iofwd")
                .about(
                    "DPDK io forwarding (as dpdk-testpmd --forward-mode=io, one lcore): \
                     rx burst 32 -> tx burst, free what was not sent; prints the rate \
                     (needs the dpdk feature)",
                )
                .arg(
                    Arg::new("rx-devargs")
                        .long("rx-devargs")
                        .required(true)
                        .help("devargs of the rx port (e.g. net_pcap0,rx_pcap=F,infinite_rx=1)"),
                )
                .arg(
                    Arg::new("tx-devargs")
                        .long("tx-devargs")
                        .required(true)
                        .help("devargs of the tx port (e.g. net_null0,no-rx=1)"),
                )
                .arg(
                    Arg::new("eal")
                        .long("eal")
                        .default_value("")
                        .allow_hyphen_values(true)
                        .help("EAL arguments (as OVS dpdk-extra)"),
                )
                .arg(
                    Arg::new("warmup")
                        .long("warmup")
                        .default_value("2")
                        .help("seconds before measuring"),
                )
                .arg(
                    Arg::new("duration")
                        .long("duration")
                        .default_value("10")
                        .help("seconds measured"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("print the result as JSON"),
                ),
        )
}

/// `iofwd`: the io-forwarding limit of two DPDK ports on the calling core.
#[cfg(feature = "dpdk")]
fn cmd_iofwd(m: &ArgMatches) -> Result<(), String> {
    use netdev::dpdk::{dpdk_init, DpdkNetdev, IoFwdCounts};
    let secs = |name: &str| -> Result<f64, String> {
        m.get_one::<String>(name)
            .expect("has a default")
            .parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0)
            .ok_or_else(|| format!("--{name}: seconds"))
    };
    let (warmup, duration) = (secs("warmup")?, secs("duration")?);
    dpdk_init(m.get_one::<String>("eal").expect("has a default"), None)
        .map_err(|e| format!("EAL: {e}"))?;
    let open = |name: &str, arg: &str| {
        let mut o = Options::new();
        o.insert(
            "dpdk-devargs".to_owned(),
            m.get_one::<String>(arg).expect("required").clone(),
        );
        DpdkNetdev::open_port(name, &o).map_err(|e| format!("{name}: {e}"))
    };
    let rx = open("iofwd-rx", "rx-devargs")?;
    let tx = open("iofwd-tx", "tx-devargs")?;
    let start = Instant::now();
    let mut mark: Option<(Instant, IoFwdCounts)> = None;
    let mut last_print = start;
    let mut window = (0.0f64, IoFwdCounts::default());
    rx.io_forward(&tx, |c| {
        let now = Instant::now();
        if mark.is_none() && now.duration_since(start).as_secs_f64() >= warmup {
            mark = Some((now, c));
        }
        if let Some((t0, c0)) = mark {
            let dt = now.duration_since(t0).as_secs_f64();
            window = (
                dt,
                IoFwdCounts {
                    rx: c.rx - c0.rx,
                    tx: c.tx - c0.tx,
                    dropped: c.dropped - c0.dropped,
                },
            );
            if now.duration_since(last_print) >= Duration::from_secs(1) {
                last_print = now;
                eprintln!(
                    "iofwd: {:.2} Mpps forwarded",
                    window.1.tx as f64 / dt.max(1e-9) / 1e6
                );
            }
            return dt < duration;
        }
        true
    });
    let (dt, c) = window;
    let mpps = |n: u64| n as f64 / dt.max(1e-9) / 1e6;
    if m.get_flag("json") {
        println!(
            "{{\"seconds\": {dt:.3}, \"rx_packets\": {}, \"tx_packets\": {}, \"dropped\": {}, \"rx_mpps\": {:.3}, \"tx_mpps\": {:.3}}}",
            c.rx, c.tx, c.dropped, mpps(c.rx), mpps(c.tx)
        );
    } else {
        println!(
            "io forwarding over {dt:.2} s: rx {:.3} Mpps, tx {:.3} Mpps, dropped {}",
            mpps(c.rx),
            mpps(c.tx),
            c.dropped
        );
    }
    Ok(())
}

#[cfg(not(feature = "dpdk"))]
fn cmd_iofwd(_: &ArgMatches) -> Result<(), String> {
    Err("iofwd needs DPDK: build with --features dpdk".into())
}

fn main() {
    let m = cli().get_matches();
    let r = match m.subcommand() {
        Some(("pcap", m)) => cmd_pcap(m),
        Some(("run", m)) => cmd_run(m),
        Some(("iofwd", m)) => cmd_iofwd(m),
        _ => Err("unknown subcommand".into()),
    };
    if let Err(e) = r {
        eprintln!("rvs-pktgen: {e}");
        std::process::exit(1);
    }
}

fn cmd_pcap(m: &ArgMatches) -> Result<(), String> {
    let spec = spec_from(m)?;
    let out = PathBuf::from(m.get_one::<String>("out").expect("required"));
    let count = match m.get_one::<String>("count") {
        Some(c) => c.parse::<u64>().map_err(|_| "--count: a number")?,
        None => spec.default_count(),
    };
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for p in m.get_many::<String>("prepend").into_iter().flatten() {
        let (src, dst) = p
            .split_once('>')
            .and_then(|(a, b)| Some((parse_mac(a)?, parse_mac(b)?)))
            .ok_or("--prepend: SRC_MAC>DST_MAC")?;
        let one = TrafficSpec {
            src_mac: FieldRange::fixed(src),
            dst_mac: FieldRange::fixed(dst),
            flows: 1,
            size: SizeSpec::Fixed(64),
            ..spec.clone()
        };
        frames.push(one.frame(0));
    }
    frames.extend((0..count).map(|k| spec.frame(k)));
    let n = write_pcap(&out, frames.iter().map(Vec::as_slice))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let bytes: usize = frames.iter().map(Vec::len).sum();
    println!(
        "wrote {n} frames ({bytes} bytes without FCS, {} flows, {} {}) to {}",
        spec.flows,
        spec.proto,
        match spec.size {
            SizeSpec::Fixed(s) => format!("{s}-byte"),
            SizeSpec::Range { min, max, .. } => format!("{min}..{max}-byte"),
            SizeSpec::Imix => "IMIX".into(),
        },
        out.display()
    );
    Ok(())
}

fn open_port(spec: &str, opts: &Options) -> Result<Arc<dyn Netdev>, String> {
    let (kind, name) = spec
        .split_once(':')
        .ok_or_else(|| format!("port \"{spec}\": TYPE:NAME"))?;
    netdev::open(name, kind, opts).map_err(|e| e.to_string())
}

/// Moves the calling thread into network namespace `name` (as `ip netns
/// exec` does for a process): a private mount namespace for this thread, a
/// fresh sysfs (device lookups by name read `/sys/class/net`, which shows the
/// namespace of whoever mounted it) and a fresh bpffs at `/sys/fs/bpf` for
/// libxdp's pins. Only this thread changes namespace; the port opened,
/// used and dropped on it lives in `name`.
fn enter_netns(name: &str) -> Result<(), String> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{name}");
    let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let c = |s: &str| CString::new(s).expect("no NUL");
    let (root, sys, bpf_dir) = (c("/"), c("/sys"), c("/sys/fs/bpf"));
    let (sysfs, bpf, none) = (c("sysfs"), c("bpf"), c("none"));
    let os_err = |what: &str| format!("netns {name}: {what}: {}", std::io::Error::last_os_error());
    // SAFETY: plain system calls on this thread with NUL-terminated strings
    // that outlive them and a file descriptor that stays open until the end
    // of this function; none of them touch memory of this process.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(os_err("unshare(CLONE_NEWNS)"));
        }
        if libc::mount(
            none.as_ptr(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_SLAVE | libc::MS_REC,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("mount --make-rslave /"));
        }
        if libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
            return Err(os_err("setns"));
        }
        libc::umount2(sys.as_ptr(), libc::MNT_DETACH);
        if libc::mount(
            sysfs.as_ptr(),
            sys.as_ptr(),
            sysfs.as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("mount sysfs"));
        }
        if libc::mount(
            bpf.as_ptr(),
            bpf_dir.as_ptr(),
            bpf.as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("mount bpffs"));
        }
    }
    Ok(())
}

/// Opens port `spec` on the calling thread, in network namespace `netns`
/// when one is given.
fn open_port_in(
    spec: &str,
    netns: Option<&str>,
    opts: &Options,
) -> Result<Arc<dyn Netdev>, String> {
    if let Some(ns) = netns {
        enter_netns(ns)?;
    }
    open_port(spec, opts)
}

/// Counters shared by the tx and rx threads.
#[derive(Default)]
struct Counters {
    tx: AtomicU64,
    tx_bytes: AtomicU64,
    rx: AtomicU64,
    rx_bytes: AtomicU64,
}

fn cmd_run(m: &ArgMatches) -> Result<(), String> {
    let spec = Arc::new(spec_from(m)?);
    let mut opts = Options::new();
    for o in m.get_many::<String>("opt").into_iter().flatten() {
        let (k, v) = o.split_once('=').ok_or("--opt: KEY=VALUE")?;
        opts.insert(k.into(), v.into());
    }
    let rate: f64 = m
        .get_one::<String>("rate")
        .and_then(|r| r.parse().ok())
        .ok_or("--rate: packets per second")?;
    let secs: f64 = m
        .get_one::<String>("duration")
        .and_then(|r| r.parse().ok())
        .ok_or("--duration: seconds")?;
    let tx_spec = m.get_one::<String>("tx").expect("required").clone();
    let tx_ns = m.get_one::<String>("tx-netns").cloned();
    let rx_spec = m.get_one::<String>("rx").cloned();
    let rx_ns = m.get_one::<String>("rx-netns").cloned();
    let have_rx = rx_spec.is_some();
    // Each port is opened, used and dropped (XDP program detached) on its
    // own thread, which may have entered the port's network namespace.
    let (ready_tx, ready) = std::sync::mpsc::channel::<Result<(), String>>();
    let go = Arc::new(AtomicBool::new(false));
    let frames: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..spec.default_count().min(MAX_FRAMES))
            .map(|k| spec.frame(k))
            .collect(),
    );
    let epoch = Instant::now();
    let c = Arc::new(Counters::default());
    let lat = Arc::new(Mutex::new((Latency::default(), Latency::default())));
    let stop_tx = Arc::new(AtomicBool::new(false));
    let stop_rx = Arc::new(AtomicBool::new(false));

    let rx_thread = rx_spec.map(|rx_spec| {
        let (c, lat, stop) = (c.clone(), lat.clone(), stop_rx.clone());
        let (opts, ready_tx) = (opts.clone(), ready_tx.clone());
        std::thread::spawn(move || {
            let port = match open_port_in(&rx_spec, rx_ns.as_deref(), &opts) {
                Ok(p) => {
                    let _ = ready_tx.send(Ok(()));
                    p
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("--rx {rx_spec}: {e}")));
                    return;
                }
            };
            let mut batch = PacketBatch::new();
            while !stop.load(Ordering::Relaxed) {
                let mut got = 0;
                for q in 0..port.n_rxq() {
                    if port.rx_burst(q, &mut batch).is_err() {
                        continue;
                    }
                    let now = epoch.elapsed().as_nanos() as u64;
                    let mut l = lat.lock().unwrap_or_else(|e| e.into_inner());
                    for p in batch.pkts.drain(..) {
                        got += 1;
                        c.rx_bytes.fetch_add(p.len() as u64, Ordering::Relaxed);
                        if let Some(s) = read_stamp(p.data()) {
                            if s.tx_ns != 0 && now >= s.tx_ns {
                                l.0.add(now - s.tx_ns);
                                l.1.add(now - s.tx_ns);
                            }
                        }
                    }
                }
                c.rx.fetch_add(got, Ordering::Relaxed);
                if got == 0 {
                    std::thread::yield_now();
                }
            }
        })
    });

    let tx_thread = {
        let (c, stop, spec, frames, go) = (
            c.clone(),
            stop_tx.clone(),
            spec.clone(),
            frames.clone(),
            go.clone(),
        );
        let (opts, ready_tx) = (opts.clone(), ready_tx.clone());
        std::thread::spawn(move || {
            let port = match open_port_in(&tx_spec, tx_ns.as_deref(), &opts) {
                Ok(p) => {
                    let _ = ready_tx.send(Ok(()));
                    p
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("--tx {tx_spec}: {e}")));
                    return;
                }
            };
            while !go.load(Ordering::Relaxed) {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut k: u64 = 0;
            let mut batch = PacketBatch::new();
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if rate > 0.0 {
                    let due = Duration::from_secs_f64(k as f64 / rate);
                    let el = start.elapsed();
                    if el < due {
                        let wait = due - el;
                        if wait > Duration::from_micros(200) {
                            std::thread::sleep(wait - Duration::from_micros(100));
                        }
                        continue;
                    }
                }
                let now = epoch.elapsed().as_nanos() as u64;
                let mut bytes = 0;
                for _ in 0..NETDEV_MAX_BURST {
                    let f = &frames[(k % frames.len() as u64) as usize];
                    let mut p = DpPacket::from_slice(f);
                    spec.stamp(p.data_mut(), now);
                    bytes += p.len() as u64;
                    batch.push(Box::new(p));
                    k += 1;
                }
                let sent = port.tx_burst(0, &mut batch) as u64;
                c.tx.fetch_add(sent, Ordering::Relaxed);
                c.tx_bytes
                    .fetch_add(bytes * sent / NETDEV_MAX_BURST as u64, Ordering::Relaxed);
            }
        })
    };

    drop(ready_tx);
    let mut open_err = None;
    for _ in 0..1 + have_rx as usize {
        match ready.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => open_err = open_err.or(Some(e)),
            Err(_) => open_err = open_err.or(Some("port thread ended".to_string())),
        }
    }
    if let Some(e) = open_err {
        stop_tx.store(true, Ordering::Relaxed);
        stop_rx.store(true, Ordering::Relaxed);
        let _ = tx_thread.join();
        if let Some(t) = rx_thread {
            let _ = t.join();
        }
        return Err(e);
    }
    go.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let (mut last_tx, mut last_rx, mut last_t) = (0u64, 0u64, start);
    while start.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_secs(1).min(Duration::from_secs_f64(
            (secs - start.elapsed().as_secs_f64()).max(0.01),
        )));
        let (tx, rx) = (c.tx.load(Ordering::Relaxed), c.rx.load(Ordering::Relaxed));
        let dt = last_t.elapsed().as_secs_f64();
        let (p50, p99) = {
            let mut l = lat.lock().unwrap_or_else(|e| e.into_inner());
            let r = (l.0.percentile(50.0), l.0.percentile(99.0));
            l.0.clear();
            r
        };
        println!(
            "[{:5.1}s] tx {:8.3} Mpps  rx {:8.3} Mpps  loss {:6.2}%  latency p50 {} p99 {}",
            start.elapsed().as_secs_f64(),
            (tx - last_tx) as f64 / dt / 1e6,
            (rx - last_rx) as f64 / dt / 1e6,
            loss(tx, rx, have_rx),
            us(p50),
            us(p99),
        );
        (last_tx, last_rx, last_t) = (tx, rx, Instant::now());
    }
    stop_tx.store(true, Ordering::Relaxed);
    let _ = tx_thread.join();
    let elapsed = start.elapsed().as_secs_f64();
    // In-flight frames get a moment to arrive.
    std::thread::sleep(Duration::from_millis(200));
    stop_rx.store(true, Ordering::Relaxed);
    if let Some(t) = rx_thread {
        let _ = t.join();
    }
    let (tx, rx) = (c.tx.load(Ordering::Relaxed), c.rx.load(Ordering::Relaxed));
    let mut l = lat.lock().unwrap_or_else(|e| e.into_inner());
    let all = &mut l.1;
    let pct: Vec<(f64, Option<u64>)> = [50.0, 90.0, 99.0, 99.9]
        .iter()
        .map(|&p| (p, all.percentile(p)))
        .collect();
    if m.get_flag("json") {
        let p = |v: Option<u64>| v.map_or("null".into(), |v| v.to_string());
        println!(
            "{{\"tx_packets\":{tx},\"rx_packets\":{rx},\"seconds\":{elapsed:.3},\"tx_mpps\":{:.4},\"rx_mpps\":{:.4},\"loss_pct\":{:.4},\"latency_ns\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p99.9\":{}}}}}",
            tx as f64 / elapsed / 1e6,
            rx as f64 / elapsed / 1e6,
            loss(tx, rx, have_rx),
            p(pct[0].1),
            p(pct[1].1),
            p(pct[2].1),
            p(pct[3].1)
        );
    } else {
        println!(
            "total: tx {tx} ({:.3} Mpps, {:.3} Gbit/s)  rx {rx} ({:.3} Mpps)  loss {:.2}%  latency {}",
            tx as f64 / elapsed / 1e6,
            c.tx_bytes.load(Ordering::Relaxed) as f64 * 8.0 / elapsed / 1e9,
            rx as f64 / elapsed / 1e6,
            loss(tx, rx, have_rx),
            pct.iter()
                .map(|(p, v)| format!("p{p} {}", us(*v)))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    Ok(())
}

fn loss(tx: u64, rx: u64, have_rx: bool) -> f64 {
    if !have_rx || tx == 0 {
        return 0.0;
    }
    tx.saturating_sub(rx) as f64 * 100.0 / tx as f64
}

fn us(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}us", v as f64 / 1000.0))
}
