//! Sans-IO tests of fragment reassembly (ipf) and the FTP/TFTP ALGs.

mod common;
use common::*;
use conntrack::format::format_ipf_status;
use conntrack::{Conntrack, IpfError};
use dp_core::actions::{CtAction, NatAction, NatKind};
use dp_core::flow::ct_state::*;
use dp_core::packet::{CtOrigTuple, DpPacket, PacketBatch};

const C: [u8; 4] = [10, 1, 1, 1];
const S: [u8; 4] = [10, 1, 1, 2];
const N: [u8; 4] = [192, 168, 0, 100];

fn ip_csum(h: &[u8]) -> u16 {
    let mut s = 0u32;
    for c in h.chunks(2) {
        s += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Splits an IPv4 packet (Ethernet frame) into fragments of `chunk`
/// payload bytes (a multiple of 8).
fn frag4(p: &DpPacket, chunk: usize, id: u16) -> Vec<DpPacket> {
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    let ihl = (d[l3] & 0xf) as usize * 4;
    let tot = u16::from_be_bytes([d[l3 + 2], d[l3 + 3]]) as usize;
    let payload = &d[l3 + ihl..l3 + tot];
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let n = chunk.min(payload.len() - off);
        let more = off + n < payload.len();
        let mut f = d[..l3 + ihl].to_vec();
        f[l3 + 2..l3 + 4].copy_from_slice(&((ihl + n) as u16).to_be_bytes());
        f[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        f[l3 + 6..l3 + 8].copy_from_slice(&fo.to_be_bytes());
        f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let c = ip_csum(&f[l3..l3 + ihl]);
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&payload[off..off + n]);
        out.push(mk(f));
        off += n;
    }
    out
}

/// Splits an IPv6 packet without extension headers into fragments.
fn frag6(p: &DpPacket, chunk: usize, id: u32) -> Vec<DpPacket> {
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    let plen = u16::from_be_bytes([d[l3 + 4], d[l3 + 5]]) as usize;
    let nh = d[l3 + 6];
    let payload = &d[l3 + 40..l3 + 40 + plen];
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let n = chunk.min(payload.len() - off);
        let more = off + n < payload.len();
        let mut f = d[..l3 + 40].to_vec();
        f[l3 + 4..l3 + 6].copy_from_slice(&((8 + n) as u16).to_be_bytes());
        f[l3 + 6] = 44;
        f.push(nh);
        f.push(0);
        let offlg = off as u16 | more as u16;
        f.extend_from_slice(&offlg.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&payload[off..off + n]);
        out.push(mk(f));
        off += n;
    }
    out
}

fn batch(pkts: Vec<DpPacket>) -> PacketBatch {
    let mut b = PacketBatch::new();
    for p in pkts {
        b.push(Box::new(p));
    }
    b
}

fn big_payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Reassembles IPv4 fragments (as they leave conntrack) into the IP
/// datagram's L4 bytes, checking the IP header checksums.
fn join4(frags: &[Box<DpPacket>]) -> (Vec<u8>, [u8; 4], [u8; 4]) {
    let mut parts: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut addrs = ([0; 4], [0; 4]);
    for f in frags {
        let d = f.data();
        let l3 = f.l3_ofs as usize;
        let ihl = (d[l3] & 0xf) as usize * 4;
        assert_eq!(ip_csum(&d[l3..l3 + ihl]), 0, "fragment IP checksum");
        let tot = u16::from_be_bytes([d[l3 + 2], d[l3 + 3]]) as usize;
        let off = (u16::from_be_bytes([d[l3 + 6], d[l3 + 7]]) & 0x1fff) as usize * 8;
        addrs = (
            d[l3 + 12..l3 + 16].try_into().unwrap(),
            d[l3 + 16..l3 + 20].try_into().unwrap(),
        );
        parts.push((off, d[l3 + ihl..l3 + tot].to_vec()));
    }
    parts.sort();
    (
        parts.into_iter().flat_map(|p| p.1).collect(),
        addrs.0,
        addrs.1,
    )
}

fn udp_csum_ok(src: [u8; 4], dst: [u8; 4], seg: &[u8]) -> bool {
    let mut v = Vec::new();
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&[0, 17]);
    v.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    v.extend_from_slice(seg);
    if v.len() % 2 == 1 {
        v.push(0);
    }
    ip_csum(&v) == 0
}

#[test]
fn ipv4_fragments_reassembled_and_forwarded_with_state() {
    let tr = Conntrack::default();
    let a = ct_action(0, true);
    let whole = udp4(C, S, 5000, 6000, &big_payload(3000));
    let frags = frag4(&whole, 1480, 77);
    assert_eq!(frags.len(), 3);
    let mut it = frags.into_iter();
    let f0 = it.next().unwrap();
    let f1 = it.next().unwrap();
    let f2 = it.next().unwrap();
    // Out of order: last first.
    let mut b = batch(vec![f2]);
    tr.execute(&mut b, &a, 0);
    assert!(b.is_empty(), "held");
    assert_eq!(tr.ipf_status(false).nfrag, 1);
    let mut b = batch(vec![f0]);
    tr.execute(&mut b, &a, 1);
    assert!(b.is_empty());
    let mut b = batch(vec![f1, udp4(S, C, 1, 2, b"x")]);
    tr.execute(&mut b, &a, 2);
    assert_eq!(
        b.len(),
        4,
        "the three fragments (where f1 was) and the other packet"
    );
    for f in &b.pkts[..3] {
        assert_eq!(f.md.ct_state, TRACKED | NEW);
        assert_eq!(
            f.md.ct_orig,
            CtOrigTuple::V4 {
                src: 0x0a010101,
                dst: 0x0a010102,
                src_port: 5000,
                dst_port: 6000,
                proto: 17
            }
        );
    }
    let (l4, _, _) = join4(&b.pkts[..3]);
    assert!(udp_csum_ok(C, S, &l4));
    let st = tr.ipf_status(false);
    assert_eq!(st.nfrag, 0);
    assert_eq!(st.v4.nfrag_accepted, 3);
    assert_eq!(st.v4.nfrag_completed_sent, 3);
    // The connection exists: a reply is established.
    let mut r = udp4(S, C, 6000, 5000, b"ok");
    tr.execute_one(&mut r, &a, 3);
    assert_eq!(r.md.ct_state, TRACKED | ESTABLISHED | REPLY_DIR);
    assert_eq!(tr.n_conns(), 2);
}

#[test]
fn ipv6_fragments_reassembled() {
    let tr = Conntrack::default();
    let a = ct_action(3, true);
    let c6 = [0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let s6 = [0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let whole = udp6(c6, s6, 5000, 6000, &big_payload(4000));
    let frags = frag6(&whole, 1448, 0xabcdef);
    assert_eq!(frags.len(), 3);
    let mut b = batch(frags);
    tr.execute(&mut b, &a, 0);
    assert_eq!(b.len(), 3);
    for f in &b.pkts {
        assert_eq!(f.md.ct_state, TRACKED | NEW);
        assert_eq!(f.md.ct_zone, 3);
    }
    let st = tr.ipf_status(false);
    assert_eq!(st.v6.nfrag_accepted, 3);
    assert_eq!(st.v6.nfrag_completed_sent, 3);
    let mut r = udp6(s6, c6, 6000, 5000, b"ok");
    tr.execute_one(&mut r, &a, 1);
    assert_eq!(r.md.ct_state, TRACKED | ESTABLISHED | REPLY_DIR);
}

#[test]
fn small_overlapping_and_disabled_fragments_are_invalid() {
    let tr = Conntrack::default();
    let a = ct_action(0, true);
    // 600-byte non-last fragments: too small (default minimum 1200).
    let whole = udp4(C, S, 5000, 6000, &big_payload(1500));
    let mut b = batch(frag4(&whole, 576, 1));
    tr.execute(&mut b, &a, 0);
    // Two too small, the last (small but last) held.
    assert_eq!(b.len(), 2);
    assert!(b.pkts.iter().all(|p| p.md.ct_state == TRACKED | INVALID));
    assert_eq!(tr.ipf_status(false).v4.nfrag_too_small, 2);
    assert_eq!(tr.ipf_status(false).nfrag, 1);

    // Lowering the minimum makes them acceptable; below 400 is refused.
    assert_eq!(
        tr.ipf_set_min_frag(false, 399),
        Err(IpfError::MinFragTooSmall)
    );
    tr.ipf_set_min_frag(false, 400).unwrap();
    let whole = udp4(C, S, 5001, 6000, &big_payload(1500));
    let fr = frag4(&whole, 576, 2);
    let dup = fr[0].clone();
    let mut b = batch(vec![fr[0].clone(), dup]);
    tr.execute(&mut b, &a, 0);
    assert_eq!(b.len(), 1, "duplicate refused");
    assert_eq!(b.pkts[0].md.ct_state, TRACKED | INVALID);
    assert_eq!(tr.ipf_status(false).v4.nfrag_overlap, 1);

    // Disabled: fragments go to conntrack, which cannot track them.
    tr.ipf_set_enabled(false, false);
    let mut b = batch(vec![fr[1].clone()]);
    tr.execute(&mut b, &a, 0);
    assert_eq!(b.len(), 1);
    assert_eq!(b.pkts[0].md.ct_state, TRACKED | INVALID);
    assert!(!tr.ipf_status(false).v4.enabled);

    // max-nfrags.
    assert_eq!(tr.ipf_set_max_nfrags(5001), Err(IpfError::MaxNfragsTooBig));
    tr.ipf_set_enabled(false, true);
    tr.ipf_set_max_nfrags(2).unwrap(); // 2 held already
    let mut b = batch(vec![fr[1].clone()]);
    tr.execute(&mut b, &a, 0);
    assert_eq!(b.pkts[0].md.ct_state, TRACKED | INVALID);
}

#[test]
fn expired_lists_come_back_invalid_and_stale_ones_are_purged() {
    let tr = Conntrack::default();
    let a = ct_action(0, true);
    let whole = udp4(C, S, 5000, 6000, &big_payload(3000));
    let fr = frag4(&whole, 1480, 9);
    let mut b = batch(vec![fr[0].clone()]);
    tr.execute(&mut b, &a, 0);
    assert!(b.is_empty());
    let text = format_ipf_status(&tr.ipf_status(true), true);
    assert!(
        text.contains("(src=10.1.1.1,dst=10.1.1.2,recirc_id=0,ip_id=9,dl_type=0x800,zone=0,nw_proto=17,num_fragments=1,state=first frag)"),
        "{text}"
    );
    // 15 s later, the next batch of the zone carries it back, invalid.
    let mut b = batch(vec![udp4(C, S, 1, 2, b"x")]);
    tr.execute(&mut b, &a, 15 * SEC + 1);
    assert_eq!(b.len(), 2);
    assert_eq!(b.pkts[1].md.ct_state, TRACKED | INVALID);
    assert_eq!(tr.ipf_status(false).v4.nfrag_expired_sent, 1);
    // Another one, never collected: purged 25 s after it arrived.
    let mut b = batch(vec![fr[1].clone()]);
    tr.execute(&mut b, &a, 20 * SEC);
    tr.sweep(40 * SEC, 1000);
    assert_eq!(tr.ipf_status(false).nfrag, 1);
    tr.sweep(46 * SEC, 1000);
    let st = tr.ipf_status(false);
    assert_eq!((st.nfrag, st.v4.nfrag_purged), (0, 1));
}

#[test]
fn snat_applies_to_every_fragment() {
    let tr = Conntrack::default();
    let mut a = ct_action(0, true);
    a.nat = Some(nat(NatKind::Src, "192.168.0.100", "192.168.0.100", None));
    let whole = udp4(C, S, 5000, 6000, &big_payload(3000));
    let mut b = batch(frag4(&whole, 1480, 5));
    tr.execute(&mut b, &a, 0);
    assert_eq!(b.len(), 3);
    for f in &b.pkts {
        assert_eq!(f.md.ct_state, TRACKED | NEW | SRC_NAT);
    }
    let (l4, src, dst) = join4(&b.pkts);
    assert_eq!((src, dst), (N, S));
    assert!(
        udp_csum_ok(N, S, &l4),
        "UDP checksum over the NATed datagram"
    );
}

#[test]
fn ipf_status_text() {
    let tr = Conntrack::default();
    tr.ipf_set_enabled(true, false);
    tr.ipf_set_min_frag(false, 1000).unwrap();
    let text = format_ipf_status(&tr.ipf_status(false), false);
    assert_eq!(
        text,
        "        Fragmentation Module Status\n\
         \x20       ---------------------------\n\
         \x20       v4 enabled: 1\n\
         \x20       v6 enabled: 0\n\
         \x20       max num frags (v4/v6): 1000\n\
         \x20       num frag: 0\n\
         \x20       min v4 frag size: 1000\n\
         \x20       v4 frags accepted: 0\n\
         \x20       v4 frags completed: 0\n\
         \x20       v4 frags expired: 0\n\
         \x20       v4 frags too small: 0\n\
         \x20       v4 frags overlapped: 0\n\
         \x20       v4 frags purged: 0\n\
         \x20       min v6 frag size: 1280\n\
         \x20       v6 frags accepted: 0\n\
         \x20       v6 frags completed: 0\n\
         \x20       v6 frags expired: 0\n\
         \x20       v6 frags too small: 0\n\
         \x20       v6 frags overlapped: 0\n\
         \x20       v6 frags purged: 0\n"
    );
}

// ---------------------------------------------------------------------
// ALGs.

fn ct_action(zone: u16, commit: bool) -> CtAction {
    ct(zone, commit)
}

fn ftp_commit(nat_: Option<NatAction>) -> CtAction {
    CtAction {
        commit: true,
        helper: Some("ftp".into()),
        nat: nat_,
        ..CtAction::default()
    }
}

fn run(tr: &Conntrack, p: &mut DpPacket, a: &CtAction, now: u64) -> u8 {
    tr.execute_one(p, a, now);
    p.md.ct_state
}

fn payload(p: &DpPacket) -> Vec<u8> {
    let d = p.data();
    let l3 = p.l3_ofs as usize;
    let ihl = (d[l3] & 0xf) as usize * 4;
    let tot = u16::from_be_bytes([d[l3 + 2], d[l3 + 3]]) as usize;
    let l4 = l3 + ihl;
    let doff = (d[l4 + 12] >> 4) as usize * 4;
    d[l4 + doff..l3 + tot].to_vec()
}

fn seq_ack(p: &DpPacket) -> (u32, u32) {
    let d = p.data();
    let l4 = p.l3_ofs as usize + (d[p.l3_ofs as usize] & 0xf) as usize * 4;
    (
        u32::from_be_bytes(d[l4 + 4..l4 + 8].try_into().unwrap()),
        u32::from_be_bytes(d[l4 + 8..l4 + 12].try_into().unwrap()),
    )
}

/// Control connection handshake C:40000 -> S:21 through `orig` (client
/// side) and `rpl` (server side).
fn ftp_handshake(tr: &Conntrack, orig: &CtAction, rpl: &CtAction, server_dst: [u8; 4]) {
    let mut p = tcp4(C, S, 40000, 21, 1000, None, "S", &[]);
    assert_eq!(run(tr, &mut p, orig, 0) & NEW, NEW);
    let mut p = tcp4(S, server_dst, 21, 40000, 5000, Some(1001), "S", &[]);
    assert_eq!(
        run(tr, &mut p, rpl, 0) & (ESTABLISHED | REPLY_DIR),
        ESTABLISHED | REPLY_DIR
    );
    let mut p = tcp4(C, S, 40000, 21, 1001, Some(5001), "", &[]);
    assert_eq!(run(tr, &mut p, orig, 0) & ESTABLISHED, ESTABLISHED);
}

#[test]
fn ftp_passive_and_active_data_connections_are_related() {
    let tr = Conntrack::default();
    let a = ftp_commit(None);
    let plain = ct(0, true);
    ftp_handshake(&tr, &a, &plain, C);
    // Passive: the server announces 10.1.1.2:51210.
    let msg = b"227 Entering Passive Mode (10,1,1,2,200,10).\r\n";
    let mut p = tcp4(S, C, 21, 40000, 5001, Some(1001), "P", msg);
    assert_eq!(
        run(&tr, &mut p, &plain, 1),
        TRACKED | ESTABLISHED | REPLY_DIR
    );
    assert_eq!(payload(&p), msg, "no NAT, no rewrite");
    assert_eq!(tr.n_expectations(), 1);
    // An unrelated connection is just new.
    let mut p = tcp4(C, S, 40001, 51211, 7000, None, "S", &[]);
    assert_eq!(run(&tr, &mut p, &ct(0, false), 1), TRACKED | NEW);
    // Uncommitted, the data connection is +new+rel; committed it consumes
    // the expectation.
    let mut p = tcp4(C, S, 40001, 51210, 7000, None, "S", &[]);
    assert_eq!(run(&tr, &mut p, &ct(0, false), 1), TRACKED | NEW | RELATED);
    let mut p = tcp4(C, S, 40001, 51210, 7000, None, "S", &[]);
    assert_eq!(run(&tr, &mut p, &plain, 1), TRACKED | NEW | RELATED);
    // ct_orig names the control connection.
    assert_eq!(
        p.md.ct_orig,
        CtOrigTuple::V4 {
            src: 0x0a010101,
            dst: 0x0a010102,
            src_port: 40000,
            dst_port: 21,
            proto: 6
        }
    );
    assert_eq!(tr.n_expectations(), 0);
    let mut p = tcp4(S, C, 51210, 40001, 9000, Some(7001), "S", &[]);
    assert_eq!(
        run(&tr, &mut p, &plain, 1),
        TRACKED | ESTABLISHED | REPLY_DIR
    );

    // Active: PORT 10,1,1,1,156,65 (port 156 * 256 + 65 = 40001).
    let msg = b"PORT 10,1,1,1,156,65\r\n";
    let mut p = tcp4(C, S, 40000, 21, 1001, Some(5001 + 47), "P", msg);
    assert_eq!(run(&tr, &mut p, &plain, 2), TRACKED | ESTABLISHED);
    let mut p = tcp4(S, C, 20, 156 * 256 + 65, 11000, None, "S", &[]);
    assert_eq!(run(&tr, &mut p, &plain, 2), TRACKED | NEW | RELATED);

    // The dump shows the helper and, verbose, the parent.
    let dump = conntrack::format::format_dump(&tr.dump(None, 3), true, false);
    assert!(dump.contains("dport=40000),id=1,status=0"), "{dump}");
    assert!(dump.contains(",helper=ftp"), "{dump}");
    assert!(
        dump.contains(",parent=(src=10.1.1.1,dst=10.1.1.2,sport=40000,dport=21)"),
        "{dump}"
    );

    // A PORT naming another host is refused (no third-party pinholes).
    let msg = b"PORT 10,9,9,9,156,66\r\n";
    let mut p = tcp4(C, S, 40000, 21, 1023, Some(5048), "P", msg);
    assert_eq!(run(&tr, &mut p, &plain, 3), TRACKED | INVALID);
}

#[test]
fn ftp_active_with_snat_rewrites_payload_and_sequence_numbers() {
    let tr = Conntrack::default();
    let snat = nat(NatKind::Src, "192.168.0.100", "192.168.0.100", None);
    let a = ftp_commit(Some(snat));
    let unnat = CtAction {
        nat: Some(NatAction::default()),
        ..ct(0, false)
    };
    ftp_handshake(&tr, &a, &unnat, N);
    let msg = b"PORT 10,1,1,1,156,65\r\n";
    let mut p = tcp4(C, S, 40000, 21, 1001, Some(5001), "P", msg);
    assert_eq!(run(&tr, &mut p, &a, 1), TRACKED | ESTABLISHED | SRC_NAT);
    assert_eq!(payload(&p), b"PORT 192,168,0,100,156,65\r\n");
    assert_eq!(tuple4(&p), (N, S, 40000, 21));
    assert_csums_ok(&p);
    assert_eq!(seq_ack(&p).0, 1001);
    // The server acknowledges the longer payload (+5); the client sees its
    // own numbers.
    let mut p = tcp4(S, N, 21, 40000, 5001, Some(1001 + 27), "P", b"200 OK\r\n");
    assert_eq!(
        run(&tr, &mut p, &unnat, 1),
        TRACKED | ESTABLISHED | REPLY_DIR | DST_NAT
    );
    assert_eq!(seq_ack(&p), (5001, 1001 + 22));
    assert_eq!(tuple4(&p), (S, C, 21, 40000));
    assert_csums_ok(&p);
    // The client's next segment is shifted by +5.
    let mut p = tcp4(C, S, 40000, 21, 1023, Some(5009), "P", b"LIST\r\n");
    assert_eq!(run(&tr, &mut p, &a, 1), TRACKED | ESTABLISHED | SRC_NAT);
    assert_eq!(seq_ack(&p), (1028, 5009));
    assert_csums_ok(&p);
    // The server opens the data connection to the translated address; it
    // is related and translated back to the client.
    let mut p = tcp4(S, N, 20, 40001, 11000, None, "S", &[]);
    let st = run(&tr, &mut p, &a, 2);
    assert_eq!(st, TRACKED | NEW | RELATED | DST_NAT);
    assert_eq!(tuple4(&p), (S, C, 20, 40001));
    assert_csums_ok(&p);
    let mut p = tcp4(C, S, 40001, 20, 12000, Some(11001), "S", &[]);
    let st = run(&tr, &mut p, &unnat, 2);
    assert_eq!(st, TRACKED | ESTABLISHED | REPLY_DIR | SRC_NAT);
    assert_eq!(tuple4(&p), (N, S, 40001, 20));
}

#[test]
fn ftp_passive_with_snat_data_connection_is_snatted() {
    let tr = Conntrack::default();
    let snat = nat(NatKind::Src, "192.168.0.100", "192.168.0.100", None);
    let a = ftp_commit(Some(snat));
    let unnat = CtAction {
        nat: Some(NatAction::default()),
        ..ct(0, false)
    };
    ftp_handshake(&tr, &a, &unnat, N);
    let msg = b"227 Entering Passive Mode (10,1,1,2,200,10).\r\n";
    let mut p = tcp4(S, N, 21, 40000, 5001, Some(1001), "P", msg);
    assert_eq!(
        run(&tr, &mut p, &unnat, 1),
        TRACKED | ESTABLISHED | REPLY_DIR | DST_NAT
    );
    assert_eq!(
        payload(&p),
        msg,
        "the server's own address needs no rewrite"
    );
    let mut p = tcp4(C, S, 40001, 51210, 7000, None, "S", &[]);
    let commit_nat = CtAction {
        nat: Some(NatAction::default()),
        ..ct(0, true)
    };
    assert_eq!(
        run(&tr, &mut p, &commit_nat, 1),
        TRACKED | NEW | RELATED | SRC_NAT
    );
    assert_eq!(tuple4(&p), (N, S, 40001, 51210));
    assert_csums_ok(&p);
}

#[test]
fn tftp_reply_from_new_port_is_related() {
    for with_nat in [false, true] {
        let tr = Conntrack::default();
        let a = CtAction {
            commit: true,
            helper: Some("tftp".into()),
            nat: with_nat.then(|| nat(NatKind::Src, "192.168.0.100", "192.168.0.100", None)),
            ..CtAction::default()
        };
        let mut rrq = udp4(C, S, 3000, 69, b"\x00\x01file\x00octet\x00");
        let st = run(&tr, &mut rrq, &a, 0);
        let client_side = if with_nat { N } else { C };
        assert_eq!(tuple4(&rrq).0, client_side);
        assert_eq!(st & (TRACKED | NEW), TRACKED | NEW);
        let commit_nat = CtAction {
            nat: with_nat.then(NatAction::default),
            ..ct(0, true)
        };
        let mut data = udp4(S, client_side, 4000, 3000, b"\x00\x03\x00\x01data");
        let st = run(&tr, &mut data, &commit_nat, 1);
        let want = TRACKED | NEW | RELATED | if with_nat { DST_NAT } else { 0 };
        assert_eq!(st, want, "nat={with_nat}");
        assert_eq!(tuple4(&data), (S, C, 4000, 3000));
        assert_csums_ok(&data);
        let mut ack = udp4(C, S, 3000, 4000, b"\x00\x04\x00\x01");
        let st = run(&tr, &mut ack, &commit_nat, 1);
        assert_eq!(st & (ESTABLISHED | REPLY_DIR), ESTABLISHED | REPLY_DIR);
        assert_eq!(tuple4(&ack), (client_side, S, 3000, 4000));
        // Another port of the same server is not related.
        let mut other = udp4(S, client_side, 4001, 3000, b"x");
        assert_eq!(run(&tr, &mut other, &ct(0, false), 1) & RELATED, 0);
    }
}
