//! Sans-IO tests of the tracker: state machines, NAT, limits, expiry,
//! operator formats.

mod common;
use common::*;
use conntrack::format::{self, format_entry};
use conntrack::{Config, ConnKey, Conntrack, TpAttr};
use dp_core::actions::{CtAction, NatAction, NatKind};
use dp_core::flow::ct_state::*;
use dp_core::packet::{CtOrigTuple, DpPacket};

const C: [u8; 4] = [10, 1, 1, 1];
const S: [u8; 4] = [10, 1, 1, 2];

fn run(ct: &Conntrack, p: &mut DpPacket, a: &CtAction, now: u64) -> u8 {
    ct.execute_one(p, a, now);
    p.md.ct_state
}

/// SYN, SYN-ACK, ACK through `a`; returns (client next seq, server next seq).
fn handshake(ct: &Conntrack, a: &CtAction, sp: u16, now: u64) -> (u32, u32) {
    let mut p = tcp4(C, S, sp, 80, 1000, None, "S", &[]);
    assert_eq!(run(ct, &mut p, a, now), TRACKED | NEW);
    let mut p = tcp4(S, C, 80, sp, 5000, Some(1001), "S", &[]);
    assert_eq!(run(ct, &mut p, a, now), TRACKED | ESTABLISHED | REPLY_DIR);
    let mut p = tcp4(C, S, sp, 80, 1001, Some(5001), "", &[]);
    assert_eq!(run(ct, &mut p, a, now), TRACKED | ESTABLISHED);
    (1001, 5001)
}

#[test]
fn tcp_handshake_new_est_rpl() {
    let ctk = Conntrack::default();
    let a = ct_action_commit(1);
    let (cs, ss) = handshake(&ctk, &a, 34567, 0);
    let mut p = tcp4(
        C,
        S,
        34567,
        80,
        cs,
        Some(ss),
        "P",
        b"GET / HTTP/1.0\r\n\r\n",
    );
    assert_eq!(run(&ctk, &mut p, &a, SEC), TRACKED | ESTABLISHED);
    assert_eq!(p.md.ct_zone, 1);
    assert_eq!(
        p.md.ct_orig,
        CtOrigTuple::V4 {
            src: 0x0a010101,
            dst: 0x0a010102,
            src_port: 34567,
            dst_port: 80,
            proto: 6
        }
    );
    let mut p = tcp4(
        S,
        C,
        80,
        34567,
        ss,
        Some(cs + 18),
        "P",
        b"HTTP/1.0 200 OK\r\n",
    );
    assert_eq!(
        run(&ctk, &mut p, &ct(1, false), SEC),
        TRACKED | ESTABLISHED | REPLY_DIR
    );
    assert_eq!(ctk.n_conns(), 1);
    let d = ctk.dump(None, SEC);
    assert_eq!(d.len(), 1);
    assert_eq!(
        format_entry(&d[0], false, false),
        "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),zone=1,protoinfo=(state=ESTABLISHED)"
    );
    // Established: 24 h timeout.
    assert_eq!(d[0].timeout, 24 * 3600);
}

fn ct_action_commit(zone: u16) -> CtAction {
    ct(zone, true)
}

#[test]
fn tcp_uncommitted_is_new_then_synack_invalid() {
    let ct_ = Conntrack::default();
    let mut p = tcp4(C, S, 1111, 80, 1000, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &ct(0, false), 0), TRACKED | NEW);
    assert_eq!(ct_.n_conns(), 0);
    // A SYN+ACK cannot create a connection.
    let mut p = tcp4(S, C, 80, 1111, 5000, Some(1001), "S", &[]);
    assert_eq!(run(&ct_, &mut p, &ct(0, true), 0), TRACKED | INVALID);
    assert_eq!(ct_.n_conns(), 0);
}

#[test]
fn tcp_retransmitted_syn_stays_new() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let mut p = tcp4(C, S, 1111, 80, 1000, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = tcp4(C, S, 1111, 80, 1000, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, SEC), TRACKED | NEW);
    assert_eq!(ct_.n_conns(), 1);
}

#[test]
fn tcp_illegal_flags_invalid() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let mut p = tcp4(C, S, 1, 80, 1000, None, "SF", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    // FIN without ACK.
    let mut p = tcp4(C, S, 1, 80, 1000, None, "F", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    // No flags at all.
    let mut p = tcp4(C, S, 1, 80, 1000, None, "", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    // SYN+RST on an established connection.
    handshake(&ct_, &a, 2, 0);
    let mut p = tcp4(C, S, 2, 80, 1001, None, "SR", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    assert_eq!(ct_.n_conns(), 1);
}

#[test]
fn tcp_rst_teardown() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let (cs, _) = handshake(&ct_, &a, 4000, 0);
    let mut p = tcp4(C, S, 4000, 80, cs, None, "R", &[]);
    assert_eq!(run(&ct_, &mut p, &a, SEC), TRACKED | ESTABLISHED);
    let d = ct_.dump(None, SEC);
    let t = d[0].tcp.unwrap();
    assert_eq!(t.state_orig.name(), "TIME_WAIT");
    assert_eq!(t.state_reply.name(), "TIME_WAIT");
    assert_eq!(d[0].timeout, 30); // TCP_CLOSE
                                  // After the close timeout the tuple is free: a new SYN is +new.
    let mut p = tcp4(C, S, 4000, 80, 9000, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 32 * SEC), TRACKED | NEW);
}

#[test]
fn tcp_rst_out_of_window_invalid() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let (cs, _) = handshake(&ct_, &a, 4001, 0);
    let mut p = tcp4(C, S, 4001, 80, cs + 100_000, None, "R", &[]);
    assert_eq!(run(&ct_, &mut p, &a, SEC), TRACKED | INVALID);
    assert_eq!(
        ct_.dump(None, SEC)[0].tcp.unwrap().state_orig.name(),
        "ESTABLISHED"
    );
}

#[test]
fn tcp_fin_teardown_and_reuse() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let (cs, ss) = handshake(&ct_, &a, 5000, 0);
    let mut p = tcp4(C, S, 5000, 80, cs, Some(ss), "F", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED);
    let d = ct_.dump(None, 0);
    assert_eq!(d[0].tcp.unwrap().state_orig.name(), "CLOSING");
    assert_eq!(d[0].timeout, 15 * 60); // TCP_FIN_WAIT
    let mut p = tcp4(S, C, 80, 5000, ss, Some(cs + 1), "F", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED | REPLY_DIR);
    let mut p = tcp4(C, S, 5000, 80, cs + 1, Some(ss + 1), "", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED);
    let d = ct_.dump(None, 0);
    let t = d[0].tcp.unwrap();
    assert_eq!(
        (t.state_orig.name(), t.state_reply.name()),
        ("FIN_WAIT_2", "FIN_WAIT_2")
    );
    assert!(format_entry(&d[0], false, false).ends_with("protoinfo=(state=TIME_WAIT)"));
    assert_eq!(d[0].timeout, 30); // TCP_CLOSE
                                  // A new SYN on the closed tuple replaces the connection.
    let id = d[0].id;
    let mut p = tcp4(C, S, 5000, 80, 77777, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, SEC), TRACKED | NEW);
    let d = ct_.dump(None, SEC);
    assert_eq!(d.len(), 1);
    assert_ne!(d[0].id, id);
    assert_eq!(ct_.n_conns(), 1);
}

#[test]
fn tcp_out_of_window_invalid_and_liberal_mode() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let (cs, ss) = handshake(&ct_, &a, 6000, 0);
    // Data far beyond the receiver's window.
    let mut p = tcp4(
        C,
        S,
        6000,
        80,
        cs.wrapping_add(10_000_000),
        Some(ss),
        "",
        b"x",
    );
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    // Acking data the server never sent.
    let mut p = tcp4(
        C,
        S,
        6000,
        80,
        cs,
        Some(ss.wrapping_add(50_000_000)),
        "",
        b"x",
    );
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    // Liberal mode (sequence checking off) accepts it.
    ct_.set_tcp_seq_chk(false);
    assert!(!ct_.tcp_seq_chk());
    let mut p = tcp4(
        C,
        S,
        6000,
        80,
        cs.wrapping_add(10_000_000),
        Some(ss),
        "",
        b"x",
    );
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED);
    // Flags are still checked.
    let mut p = tcp4(C, S, 6000, 80, cs, None, "SF", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
}

#[test]
fn tcp_midstream_pickup() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let mut p = tcp4(C, S, 7000, 80, 123456, Some(999), "", b"data");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = tcp4(S, C, 80, 7000, 999, Some(123460), "", b"resp");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED | REPLY_DIR);
    let d = ct_.dump(None, 0);
    assert_eq!(
        format_entry(&d[0], true, false),
        format!(
            "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=7000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=7000),id={},status=0,protoinfo=(state_orig=ESTABLISHED,state_reply=SYN_SENT,flags_orig=BE_LIBERAL,flags_reply=BE_LIBERAL)",
            d[0].id
        )
    );
}

#[test]
fn udp_states() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let mut p = udp4(C, S, 5353, 53, b"q");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    assert_eq!(ct_.dump(None, 0)[0].timeout, 60);
    let mut p = udp4(C, S, 5353, 53, b"q");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = udp4(S, C, 53, 5353, b"r");
    assert_eq!(
        run(&ct_, &mut p, &ct(0, false), 0),
        TRACKED | ESTABLISHED | REPLY_DIR
    );
    assert_eq!(ct_.dump(None, 0)[0].timeout, 30);
    let mut p = udp4(C, S, 5353, 53, b"q");
    assert_eq!(run(&ct_, &mut p, &ct(0, false), 0), TRACKED | ESTABLISHED);
    assert_eq!(
        format_entry(&ct_.dump(None, 0)[0], false, true),
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=5353,dport=53,packets=3,bytes=129),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=5353,packets=1,bytes=43),timeout=30"
    );
}

#[test]
fn bad_checksum_invalid() {
    let ct_ = Conntrack::default();
    let mut p = udp4(C, S, 1, 2, b"abc");
    let l4 = p.l4_ofs as usize;
    p.data_mut()[l4 + 6] ^= 0xff;
    assert_eq!(run(&ct_, &mut p, &ct(0, true), 0), TRACKED | INVALID);
    let mut p = udp4(C, S, 1, 2, b"abc");
    let l3 = p.l3_ofs as usize;
    p.data_mut()[l3 + 10] ^= 0xff;
    assert_eq!(run(&ct_, &mut p, &ct(0, true), 0), TRACKED | INVALID);
    assert_eq!(ct_.n_conns(), 0);
}

#[test]
fn non_ip_and_fragments_invalid() {
    let ct_ = Conntrack::default();
    let mut p = udp4(C, S, 1, 2, b"abc");
    // Set MF: a first fragment (ipf not implemented).
    let l3 = p.l3_ofs as usize;
    {
        let d = p.data_mut();
        d[l3 + 6] |= 0x20;
        d[l3 + 10] = 0;
        d[l3 + 11] = 0;
        let c = dp_core::csum::ipv4_header_checksum(&d[l3..l3 + 20]);
        d[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    assert_eq!(run(&ct_, &mut p, &ct(0, true), 0), TRACKED | INVALID);
    let mut arp = DpPacket::from_slice(&[0xffu8; 60]);
    dp_core::extract::extract_flow(&mut arp);
    assert_eq!(run(&ct_, &mut arp, &ct(3, true), 0), TRACKED | INVALID);
    assert_eq!(arp.md.ct_zone, 3);
}

#[test]
fn icmp_echo() {
    let ct_ = Conntrack::default();
    let a = ct(1, true);
    // An echo reply cannot start a connection.
    let mut p = echo4(S, C, 7, true);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    let mut p = echo4(C, S, 7, false);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = echo4(S, C, 7, true);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED | REPLY_DIR);
    assert_eq!(
        format_entry(&ct_.dump(None, 0)[0], false, false),
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=7,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=7,type=0,code=0),zone=1"
    );
    assert_eq!(ct_.dump(None, 0)[0].timeout, 30);
}

#[test]
fn icmpv6_echo_and_ipv6() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let c6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let s6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let mut p = echo6(c6, s6, 9, false);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = echo6(s6, c6, 9, true);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED | REPLY_DIR);
    let mut p = udp6(c6, s6, 1000, 2000, b"x");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = tcp6(c6, s6, 1000, 22, 1, None, true);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = tcp6(s6, c6, 22, 1000, 100, Some(2), true);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED | REPLY_DIR);
    let mut lines: Vec<String> = ct_
        .dump(None, 0)
        .iter()
        .map(|e| format_entry(e, false, false))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "icmpv6,orig=(src=fd00::1,dst=fd00::2,id=9,type=128,code=0),reply=(src=fd00::2,dst=fd00::1,id=9,type=129,code=0)",
            "tcp,orig=(src=fd00::1,dst=fd00::2,sport=1000,dport=22),reply=(src=fd00::2,dst=fd00::1,sport=22,dport=1000),protoinfo=(state=ESTABLISHED)",
            "udp,orig=(src=fd00::1,dst=fd00::2,sport=1000,dport=2000),reply=(src=fd00::2,dst=fd00::1,sport=2000,dport=1000)",
        ]
    );
}

#[test]
fn icmp_error_related_to_tcp() {
    let ct_ = Conntrack::default();
    let a = ct(0, true);
    let syn = tcp4(C, S, 4444, 80, 1000, None, "S", &[]);
    let quoted = ip_part(&syn);
    let mut p = syn;
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    // The server (or a router on its side) answers port unreachable.
    let mut e = unreach4(S, C, &quoted);
    assert_eq!(
        run(&ct_, &mut e, &ct(0, false), 0),
        TRACKED | RELATED | REPLY_DIR
    );
    assert_eq!(e.md.ct_orig, p.md.ct_orig);
    // Quoting an unknown connection: invalid.
    let other = tcp4(C, S, 4445, 80, 1000, None, "S", &[]);
    let mut e = unreach4(S, C, &ip_part(&other));
    assert_eq!(run(&ct_, &mut e, &ct(0, false), 0), TRACKED | INVALID);
    // Outer destination must be the quoted source.
    let mut e = unreach4(S, [10, 9, 9, 9], &quoted);
    assert_eq!(run(&ct_, &mut e, &ct(0, false), 0), TRACKED | INVALID);
}

#[test]
fn zones_isolate() {
    let ct_ = Conntrack::default();
    let mut p = udp4(C, S, 1, 2, b"x");
    assert_eq!(run(&ct_, &mut p, &ct(1, true), 0), TRACKED | NEW);
    let mut p = udp4(S, C, 2, 1, b"x");
    assert_eq!(run(&ct_, &mut p, &ct(2, false), 0), TRACKED | NEW);
    let mut p = udp4(S, C, 2, 1, b"x");
    assert_eq!(
        run(&ct_, &mut p, &ct(1, false), 0),
        TRACKED | ESTABLISHED | REPLY_DIR
    );
    assert_eq!(p.md.ct_zone, 1);
    assert_eq!(ct_.dump(Some(2), 0).len(), 0);
    assert_eq!(ct_.dump(Some(1), 0).len(), 1);
}

#[test]
fn mark_and_label_on_commit() {
    let ct_ = Conntrack::default();
    let a = CtAction {
        zone: 1,
        commit: true,
        mark: Some((5, 0xff)),
        label: Some((0xabc << 64, u128::MAX)),
        ..CtAction::default()
    };
    let (cs, ss) = handshake(&ct_, &a, 34567, 0);
    let mut p = tcp4(S, C, 80, 34567, ss, Some(cs), "", &[]);
    run(&ct_, &mut p, &ct(1, false), 0);
    assert_eq!(p.md.ct_mark, 5);
    assert_eq!(p.md.ct_label, 0xabc << 64);
    // Masked update: only the low nibble.
    let a2 = CtAction {
        zone: 1,
        commit: true,
        mark: Some((0x0a, 0x0f)),
        ..CtAction::default()
    };
    let mut p = tcp4(C, S, 34567, 80, cs, Some(ss), "", &[]);
    run(&ct_, &mut p, &a2, 0);
    assert_eq!(p.md.ct_mark, 0x0a);
    // The mark set without commit is ignored.
    let a3 = CtAction {
        zone: 1,
        mark: Some((0x77, 0xff)),
        ..CtAction::default()
    };
    let mut p = tcp4(C, S, 34567, 80, cs, Some(ss), "", &[]);
    run(&ct_, &mut p, &a3, 0);
    assert_eq!(p.md.ct_mark, 0x0a);
    let a4 = CtAction {
        zone: 1,
        commit: true,
        mark: Some((5, 0xff)),
        ..CtAction::default()
    };
    let mut p = tcp4(C, S, 34567, 80, cs, Some(ss), "", &[]);
    run(&ct_, &mut p, &a4, 0);
    assert_eq!(
        format_entry(&ct_.dump(None, 0)[0], false, false),
        "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),zone=1,mark=5,labels=0xabc0000000000000000,protoinfo=(state=ESTABLISHED)"
    );
}

#[test]
fn snat_pool_port_range_collisions_and_reply() {
    let ct_ = Conntrack::default();
    let a = CtAction {
        commit: true,
        nat: Some(nat(
            NatKind::Src,
            "192.168.0.100",
            "192.168.0.100",
            Some((5000, 5001)),
        )),
        ..CtAction::default()
    };
    let server = [8, 8, 8, 8];
    let c1 = [10, 0, 0, 1];
    let c2 = [10, 0, 0, 2];
    let c3 = [10, 0, 0, 3];
    let mut ports = Vec::new();
    for c in [c1, c2] {
        let mut p = tcp4(c, server, 40000, 443, 1, None, "S", &[]);
        assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW | SRC_NAT);
        assert_csums_ok(&p);
        let (s, d, sp, dp) = tuple4(&p);
        assert_eq!((s, d, dp), ([192, 168, 0, 100], server, 443));
        assert!((5000..=5001).contains(&sp));
        ports.push(sp);
    }
    assert_ne!(ports[0], ports[1], "collision must pick another port");
    // Pool exhausted: refused, not committed.
    let mut p = tcp4(c3, server, 40000, 443, 1, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    assert_eq!(ct_.n_conns(), 2);
    // Reply to the translated tuple is reverse-translated to client 2.
    let mut r = tcp4(
        server,
        [192, 168, 0, 100],
        443,
        ports[1],
        900,
        Some(2),
        "S",
        &[],
    );
    assert_eq!(
        run(&ct_, &mut r, &ct(0, false), 0),
        TRACKED | ESTABLISHED | REPLY_DIR
    );
    // Without `nat` in the action nothing is translated.
    assert_eq!(tuple4(&r).1, [192, 168, 0, 100]);
    let mut r = tcp4(
        server,
        [192, 168, 0, 100],
        443,
        ports[1],
        900,
        Some(2),
        "S",
        &[],
    );
    let bare = CtAction {
        nat: Some(NatAction::default()),
        ..CtAction::default()
    };
    assert_eq!(
        run(&ct_, &mut r, &bare, 0),
        TRACKED | ESTABLISHED | REPLY_DIR | DST_NAT
    );
    assert_eq!(tuple4(&r), (server, c2, 443, 40000));
    assert_csums_ok(&r);
    // Bare nat re-applies the SNAT in the original direction.
    let mut p = tcp4(c2, server, 40000, 443, 2, Some(901), "", &[]);
    assert_eq!(run(&ct_, &mut p, &bare, 0), TRACKED | ESTABLISHED | SRC_NAT);
    assert_eq!(tuple4(&p), ([192, 168, 0, 100], server, ports[1], 443));
    assert_csums_ok(&p);
    // Dump shows the translated reply tuple.
    let lines: Vec<String> = ct_
        .dump(None, 0)
        .iter()
        .map(|e| format_entry(e, false, false))
        .collect();
    assert!(lines.contains(&format!(
        "tcp,orig=(src=10.0.0.2,dst=8.8.8.8,sport=40000,dport=443),reply=(src=8.8.8.8,dst=192.168.0.100,sport=443,dport={}),protoinfo=(state=ESTABLISHED)",
        ports[1]
    )));
}

#[test]
fn snat_keeps_port_when_free_and_udp_checksums() {
    let ct_ = Conntrack::default();
    let a = CtAction {
        commit: true,
        nat: Some(nat(NatKind::Src, "192.168.0.1", "192.168.0.4", None)),
        ..CtAction::default()
    };
    let mut p = udp4([10, 0, 0, 1], [1, 1, 1, 1], 33333, 53, b"hello");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW | SRC_NAT);
    let (s, _, sp, _) = tuple4(&p);
    assert_eq!(s[..3], [192, 168, 0]);
    assert!((1..=4).contains(&s[3]));
    assert_eq!(sp, 33333);
    assert_csums_ok(&p);
}

#[test]
fn dnat_to_backend() {
    let ct_ = Conntrack::default();
    let vip = [172, 16, 0, 10];
    let be = [10, 2, 0, 5];
    let a = CtAction {
        commit: true,
        zone: 3,
        nat: Some(nat(
            NatKind::Dst,
            "10.2.0.5",
            "10.2.0.5",
            Some((8080, 8080)),
        )),
        ..CtAction::default()
    };
    let mut p = tcp4(C, vip, 50000, 80, 1, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW | DST_NAT);
    assert_eq!(tuple4(&p), (C, be, 50000, 8080));
    assert_csums_ok(&p);
    let natted = ct(3, false);
    let mut r = tcp4(be, C, 8080, 50000, 100, Some(2), "S", &[]);
    let an = CtAction {
        zone: 3,
        nat: Some(NatAction::default()),
        ..CtAction::default()
    };
    assert_eq!(
        run(&ct_, &mut r, &an, 0),
        TRACKED | ESTABLISHED | REPLY_DIR | SRC_NAT
    );
    assert_eq!(tuple4(&r), (vip, C, 80, 50000));
    assert_csums_ok(&r);
    // The same packet going through ct again in the same zone (after
    // recirculation) finds the connection through ct_orig and is not
    // translated twice.
    let mut p = tcp4(C, vip, 50000, 80, 2, Some(101), "", &[]);
    assert_eq!(run(&ct_, &mut p, &an, 0), TRACKED | ESTABLISHED | DST_NAT);
    assert_eq!(tuple4(&p), (C, be, 50000, 8080));
    assert_eq!(
        run(&ct_, &mut p, &natted, 0),
        TRACKED | ESTABLISHED | DST_NAT
    );
    assert_eq!(tuple4(&p), (C, be, 50000, 8080));
}

#[test]
fn icmp_error_related_with_snat() {
    let ct_ = Conntrack::default();
    let a = CtAction {
        commit: true,
        nat: Some(nat(NatKind::Src, "192.168.0.100", "192.168.0.100", None)),
        ..CtAction::default()
    };
    let server = [8, 8, 4, 4];
    let mut p = udp4(C, server, 4000, 53, b"q");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW | SRC_NAT);
    // A router beyond the NAT quotes the translated packet.
    let mut e = unreach4([5, 5, 5, 5], [192, 168, 0, 100], &ip_part(&p));
    let bare = CtAction {
        nat: Some(NatAction::default()),
        ..CtAction::default()
    };
    assert_eq!(
        run(&ct_, &mut e, &bare, 0),
        TRACKED | RELATED | REPLY_DIR | DST_NAT
    );
    assert_csums_ok(&e);
    let d = e.data();
    let l3 = e.l3_ofs as usize;
    assert_eq!(d[l3 + 16..l3 + 20], C);
    // Embedded header now carries the original tuple.
    let il3 = l3 + 28;
    assert_eq!(d[il3 + 12..il3 + 16], C);
    assert_eq!(u16::from_be_bytes([d[il3 + 20], d[il3 + 21]]), 4000);
    assert_eq!(dp_core::csum::checksum(&d[il3..il3 + 20]), 0);
}

#[test]
fn global_limit() {
    let ct_ = Conntrack::new(Config {
        max_conns: 2,
        ..Config::default()
    });
    assert_eq!(ct_.max_conns(), 2);
    let a = ct(0, true);
    let (cs, ss) = handshake(&ct_, &a, 1, 0);
    let mut p = udp4(C, S, 9, 9, b"x");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    // Flood of SYNs: refused, not committed.
    for sp in 100..200 {
        let mut p = tcp4(C, S, sp, 80, 1, None, "S", &[]);
        assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | INVALID);
    }
    assert_eq!(ct_.n_conns(), 2);
    // Existing connections keep working.
    let mut p = tcp4(S, C, 80, 1, ss, Some(cs), "", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | ESTABLISHED | REPLY_DIR);
    // Uncommitted new packets are still +new.
    let mut p = tcp4(C, S, 300, 80, 1, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &ct(0, false), 0), TRACKED | NEW);
    ct_.set_max_conns(3);
    let mut p = tcp4(C, S, 300, 80, 1, None, "S", &[]);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    assert_eq!(format::format_count(ct_.n_conns()), "3\n");
}

#[test]
fn zone_limits() {
    let ct_ = Conntrack::default();
    ct_.set_zone_limit(5, Some(1));
    ct_.set_default_zone_limit(3);
    let mut p = udp4(C, S, 1, 1, b"x");
    assert_eq!(run(&ct_, &mut p, &ct(5, true), 0), TRACKED | NEW);
    let mut p = udp4(C, S, 2, 2, b"x");
    assert_eq!(run(&ct_, &mut p, &ct(5, true), 0), TRACKED | INVALID);
    // Existing one unaffected.
    let mut p = udp4(S, C, 1, 1, b"x");
    assert_eq!(
        run(&ct_, &mut p, &ct(5, true), 0),
        TRACKED | ESTABLISHED | REPLY_DIR
    );
    // Zone 6 uses the default (3).
    for sp in 0..5u16 {
        let mut p = udp4(C, S, 10 + sp, 1, b"x");
        let st = run(&ct_, &mut p, &ct(6, true), 0);
        assert_eq!(
            st,
            if sp < 3 {
                TRACKED | NEW
            } else {
                TRACKED | INVALID
            }
        );
    }
    let (def, rows) = ct_.limits(None);
    assert_eq!(
        format::format_limits(def, &rows),
        "default limit=3\nzone=5,limit=1,count=1\n"
    );
    let (def, rows) = ct_.limits(Some(&[5, 6, 7]));
    assert_eq!(
        format::format_limits(def, &rows),
        "default limit=3\nzone=5,limit=1,count=1\nzone=6,limit=3,count=3\nzone=7,limit=3,count=0\n"
    );
    // Removing a connection frees its slot.
    assert_eq!(ct_.flush(Some(5), None), 1);
    let mut p = udp4(C, S, 2, 2, b"x");
    assert_eq!(run(&ct_, &mut p, &ct(5, true), 0), TRACKED | NEW);
}

#[test]
fn expiry_with_fake_clock_and_sweep() {
    let ct_ = Conntrack::new(Config {
        n_shards: 4,
        ..Config::default()
    });
    let a = ct(0, true);
    let mut p = udp4(C, S, 1, 1, b"x");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let mut p = echo4(C, S, 1, false);
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    handshake(&ct_, &a, 77, 0);
    assert_eq!(ct_.n_conns(), 3);
    // Before the UDP/ICMP timeout (60 s) nothing goes.
    let st = ct_.sweep(59 * SEC, usize::MAX);
    assert_eq!(st.removed, 0);
    assert!(st.wrapped);
    // An expired connection is gone for lookups even before the sweep.
    let mut p = udp4(S, C, 1, 1, b"x");
    assert_eq!(run(&ct_, &mut p, &ct(0, false), 61 * SEC), TRACKED | NEW);
    let st = ct_.sweep(61 * SEC, usize::MAX);
    assert_eq!(st.removed, 2);
    assert_eq!(ct_.n_conns(), 1);
    assert_eq!(ct_.dump(None, 61 * SEC).len(), 1);
    // Established TCP lasts 24 h.
    assert_eq!(ct_.sweep(24 * 3600 * SEC - 1, usize::MAX).removed, 0);
    assert_eq!(ct_.sweep(24 * 3600 * SEC + 1, usize::MAX).removed, 1);
    assert_eq!(ct_.n_conns(), 0);
    assert_eq!(ct_.sweep(u64::MAX, 1).examined, 0);
}

#[test]
fn sweep_budget_is_incremental() {
    let ct_ = Conntrack::new(Config {
        n_shards: 16,
        ..Config::default()
    });
    for sp in 0..200u16 {
        let mut p = udp4(C, S, sp, 1, b"x");
        run(&ct_, &mut p, &ct(0, true), 0);
    }
    let mut removed = 0;
    let mut calls = 0;
    loop {
        let st = ct_.sweep(100 * SEC, 10);
        removed += st.removed;
        calls += 1;
        if st.wrapped {
            break;
        }
    }
    assert_eq!(removed, 200);
    assert!(calls > 1);
    assert_eq!(ct_.n_conns(), 0);
}

#[test]
fn zone_timeout_policy() {
    let ct_ = Conntrack::default();
    ct_.set_timeout_policy(7, &[(TpAttr::UdpFirst, 5), (TpAttr::UdpMultiple, 9)]);
    ct_.set_zone_timeout_policy(2, Some(7));
    let mut p = udp4(C, S, 1, 1, b"x");
    run(&ct_, &mut p, &ct(2, true), 0);
    assert_eq!(ct_.dump(None, 0)[0].timeout, 5);
    let mut p = udp4(S, C, 1, 1, b"x");
    run(&ct_, &mut p, &ct(2, true), 0);
    assert_eq!(ct_.dump(None, 0)[0].timeout, 9);
    assert_eq!(ct_.sweep(10 * SEC, usize::MAX).removed, 1);
    // Other zones keep the defaults; the action's timeout= wins.
    let mut p = udp4(C, S, 2, 2, b"x");
    run(&ct_, &mut p, &ct(3, true), 0);
    let mut p = udp4(C, S, 3, 3, b"x");
    let a = CtAction {
        zone: 3,
        commit: true,
        timeout: Some("7".into()),
        ..CtAction::default()
    };
    run(&ct_, &mut p, &a, 0);
    let mut t: Vec<u32> = ct_.dump(None, 0).iter().map(|e| e.timeout).collect();
    t.sort();
    assert_eq!(t, vec![5, 60]);
    assert_eq!(TpAttr::from_name("tcp_syn_sent"), Some(TpAttr::TcpSynSent));
    assert_eq!(TpAttr::TcpEstablished.default_secs(), 86400);
    assert!(ct_.del_timeout_policy(7));
    assert!(!ct_.del_timeout_policy(0));
}

#[test]
fn flush_zone_and_tuple() {
    let ct_ = Conntrack::default();
    for z in [1u16, 1, 2] {
        let sp = ct_.n_conns() as u16;
        let mut p = udp4(C, S, 100 + sp, 1, b"x");
        run(&ct_, &mut p, &ct(z, true), 0);
    }
    let k = ConnKey::new(
        0,
        17,
        "10.1.1.2".parse().unwrap(),
        "10.1.1.1".parse().unwrap(),
        1,
        100,
        0,
        0,
    )
    .unwrap();
    // The reply tuple finds it too; wrong zone finds nothing.
    assert_eq!(ct_.flush(Some(2), Some(&k)), 0);
    assert_eq!(ct_.flush(Some(1), Some(&k)), 1);
    assert_eq!(ct_.n_conns(), 2);
    assert_eq!(ct_.flush(Some(1), None), 1);
    assert_eq!(ct_.flush(None, None), 1);
    assert_eq!(ct_.n_conns(), 0);
    assert!(ct_.dump(None, 0).is_empty());
}

#[test]
fn force_commit_replaces_reply_direction_conn() {
    let ct_ = Conntrack::default();
    let mut p = udp4(C, S, 1, 2, b"x");
    run(&ct_, &mut p, &ct(0, true), 0);
    let a = CtAction {
        commit: true,
        force: true,
        ..CtAction::default()
    };
    let mut p = udp4(S, C, 2, 1, b"x");
    assert_eq!(run(&ct_, &mut p, &a, 0), TRACKED | NEW);
    let d = ct_.dump(None, 0);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].orig.sport, 2);
    assert_eq!(ct_.n_conns(), 1);
}

#[test]
fn stats_bkts_maxconns_formats() {
    let ct_ = Conntrack::new(Config {
        n_shards: 8,
        ..Config::default()
    });
    let a = ct(0, true);
    handshake(&ct_, &a, 10, 0);
    let mut p = tcp4(C, S, 11, 80, 1, None, "S", &[]);
    run(&ct_, &mut p, &a, 0);
    let mut p = udp4(C, S, 1, 1, b"x");
    run(&ct_, &mut p, &a, 0);
    let mut p = echo4(C, S, 3, false);
    run(&ct_, &mut p, &a, 0);
    let d = ct_.dump(None, 0);
    assert_eq!(
        format::format_stats(&d, false),
        "Connections Stats:\n    Total: 4\n  TCP: 2\n  UDP: 1\n  ICMP: 1\n"
    );
    assert_eq!(
        format::format_stats(&d, true),
        "Connections Stats:\n    Total: 4\n  TCP: 2\n    Conn per TCP states:\n\t  [SYN_SENT]=1\n\t  [ESTABLISHED]=1\n  UDP: 1\n  ICMP: 1\n"
    );
    let b = format::format_bkts(&d, ct_.n_shards(), 0);
    assert!(b.starts_with("Total Buckets: 8\nCurrent Connections: 4\n\n+-----------+-----------------------------------------+\n|  Buckets  |         Connections per Buckets         |\n+-----------+-----------------------------------------+\n   0..  7   | "));
    assert!(b.ends_with("\n\n"));
    let row = b.lines().nth(6).unwrap();
    assert_eq!(row.len(), "   0..  7   | ".len() + 8 * 5);
    assert_eq!(
        format::format_bkts(&[], 8, 0),
        "Total Buckets: 8\nCurrent Connections: 0\n\n"
    );
    assert_eq!(format::format_count(ct_.max_conns()), "3000000\n");
    assert_eq!(format::SET_MAXCONNS_OK, "setting maxconns successful");
    assert_eq!(format::format_dump(&ct_.dump(Some(9), 0), false, false), "");
}
