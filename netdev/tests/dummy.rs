//! `dummy` ports and the pcap reader/writer. No privileges needed.

use dp_core::packet::{DpPacket, PacketBatch};
use netdev::dummy::{self, read_pcap, PcapWriter};
use netdev::{LinkState, NetdevError, Options};

fn frame(i: u8, len: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, i, 0x88, 0xb5];
    f.extend((0..len - 14).map(|k| (k as u8).wrapping_mul(i)));
    f
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rvs-netdev-{}-{name}", std::process::id()))
}

#[test]
fn dummy_inject_and_take_sent() {
    let o: Options = [("n_rxq".to_string(), "2".to_string())].into();
    let dev = netdev::open("dmy0", "dummy", &o).unwrap();
    assert_eq!((dev.kind(), dev.is_pmd(), dev.n_rxq()), ("dummy", true, 2));
    let d = dummy::lookup("dmy0").expect("registered");
    for i in 0..40 {
        d.receive(&frame(i, 64));
    }
    d.receive_on(1, &frame(99, 100));
    let mut b = PacketBatch::new();
    assert_eq!(dev.rx_burst(0, &mut b).unwrap(), 32, "one burst at most");
    assert_eq!(dev.rx_burst(0, &mut b).unwrap(), 0, "batch full");
    let mut b2 = PacketBatch::new();
    assert_eq!(dev.rx_burst(0, &mut b2).unwrap(), 8);
    let mut b3 = PacketBatch::new();
    assert_eq!(dev.rx_burst(1, &mut b3).unwrap(), 1);
    assert_eq!(b3.pkts[0].data(), &frame(99, 100)[..]);
    assert!(dev.rx_burst(2, &mut b3).is_err());
    assert_eq!(b.pkts[5].data(), &frame(5, 64)[..]);

    assert_eq!(dev.tx_burst(0, &mut b2), 8);
    let sent = d.take_sent();
    assert_eq!(sent, (32..40).map(|i| frame(i, 64)).collect::<Vec<_>>());
    assert!(d.take_sent().is_empty());
    let st = dev.stats();
    assert_eq!((st.rx_packets, st.tx_packets, st.tx_bytes), (41, 8, 8 * 64));

    dev.set_mtu(9000).unwrap();
    assert_eq!(dev.mtu(), 9000);
    assert!(dev.set_mtu(10).is_err());
    assert_eq!(dev.mac()[..4], [0xaa, 0x55, 0xaa, 0x55]);
    d.set_link_state(LinkState::Down);
    assert_eq!(dev.link_state(), LinkState::Down);
    drop(d);
    drop(dev);
    assert!(dummy::lookup("dmy0").is_none());
}

#[test]
fn dummy_pcap_round_trip() {
    let rx = tmp("rx.pcap");
    let tx = tmp("tx.pcap");
    let frames: Vec<Vec<u8>> = (0..50).map(|i| frame(i, 60 + i as usize * 20)).collect();
    let mut w = PcapWriter::create(&rx).unwrap();
    for f in &frames {
        w.write_frame(f).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    assert_eq!(read_pcap(&rx).unwrap(), frames);

    let o: Options = [
        ("rx_pcap".to_string(), rx.display().to_string()),
        ("tx_pcap".to_string(), tx.display().to_string()),
    ]
    .into();
    let dev = netdev::open("dmy-pcap", "dummy", &o).unwrap();
    let mut got = Vec::new();
    loop {
        let mut b = PacketBatch::new();
        if dev.rx_burst(0, &mut b).unwrap() == 0 {
            break;
        }
        got.extend(b.pkts.iter().map(|p| p.data().to_vec()));
        dev.tx_burst(0, &mut b);
    }
    assert_eq!(got, frames);
    assert_eq!(read_pcap(&tx).unwrap(), frames);

    // The file is what libpcap writes: magic, v2.4, Ethernet.
    let bytes = std::fs::read(&tx).unwrap();
    assert_eq!(
        u32::from_ne_bytes(bytes[0..4].try_into().unwrap()),
        0xa1b2c3d4
    );
    assert_eq!(u16::from_ne_bytes(bytes[4..6].try_into().unwrap()), 2);
    assert_eq!(u16::from_ne_bytes(bytes[6..8].try_into().unwrap()), 4);
    assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 1);
    let _ = std::fs::remove_file(&rx);
    let _ = std::fs::remove_file(&tx);

    // Bad options.
    for (k, v) in [
        ("rx_pcap", "/nonexistent/x.pcap"),
        ("n_txq", "0"),
        ("bogus", "1"),
    ] {
        let o: Options = [(k.to_string(), v.to_string())].into();
        match netdev::open("dmy-bad", "dummy", &o) {
            Err(NetdevError::InvalidOption { option, .. }) => assert_eq!(option, k),
            r => panic!("{k}={v}: {:?}", r.err()),
        }
    }
    let _ = DpPacket::default();
}
