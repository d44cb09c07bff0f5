//! Fuzz-style property tests: random bytes and mutated valid messages never
//! make the codec panic, and whatever decodes also re-encodes and re-decodes.

use ofproto::ofp::flow::{FlowMod, Match};
use ofproto::ofp::instructions::Instruction;
use ofproto::ofp::multipart::{mp_type, MpRepBody, MultipartReply};
use ofproto::ofp::nx_actions::Ct;
use ofproto::ofp::oxm::{Field, MatchField, OxmMatch};
use ofproto::ofp::{Action, Decoder, Hello, Message};
use proptest::prelude::*;

fn hexb(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Valid messages: captured from ovs-ofctl 3.1 and built with the encoder.
fn corpus() -> Vec<Vec<u8>> {
    let mut c: Vec<Vec<u8>> = [
        // OF1.3 flow_mod: ip,nw_src=10/8 actions=ct(commit,zone=5,exec(set_field:1->ct_mark)),resubmit(,1)
        "040e00880000000600000000000000000000000000000000000000000000000affffffffffffffffffffffff000000000001001680000a020800800017080a000000ff00000000000004004000000000ffff00280000232000230001000000000005ff0000000000001900100001d6040000000100000000ffff001000002320000efff801000000",
        // OF1.0 NXT_FLOW_MOD reg0=5
        "0104003800000004000023200000000d0000000000000000000000000000000affffffffffff000000080000000000000001000400000005",
        // OF1.3 group_mod select, two buckets
        "040f00500000000600000100000000010020000a00000001ffffffff000000000000001000000001000000000000000000200014ffffffffffffffff0000000000000010000000020000000000000000",
        // OF1.5 packet_out
        "060d005400000006ffffffff001000000001000c80000004000000010000000000000010000000020000000000000000000102030405000000000001080045000014000000000000000000000000000000000000",
        // OF1.3 port_mod, OF1.0 stats request, NX TLV table mod
        "04100028000000040000000100000000020000000001000000000001000000010000000000000000",
        "0110000c0000000200030000",
        "010400200000000400002320000000180000000000000000ffff000400000000",
        // OF1.3 flow_mod with the ONF tcp_flags experimenter OXM
        "040e005000000006000000000000000000000000000000000000000000008000ffffffffffffffffffffffff000000000001001b80000a0208008000140106ffff55084f4e4600000200120000000000",
    ]
    .iter()
    .map(|h| hexb(h))
    .collect();
    let fields = vec![
        MatchField::new(Field::EthType, &[8, 0], None, false).unwrap(),
        MatchField::new(
            Field::Ipv4Dst,
            &[1, 2, 3, 0],
            Some(&[255, 255, 255, 0]),
            false,
        )
        .unwrap(),
    ];
    let ct = Action::Ct(Box::new(Ct {
        flags: 1,
        zone_src: 0,
        zone: 1,
        recirc_table: 2,
        alg: 0,
        actions: vec![Action::Clone(vec![Action::Output {
            port: 1,
            max_len: 0,
        }])],
    }));
    let fm = FlowMod {
        cookie: 1,
        cookie_mask: 0,
        table_id: 0,
        command: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 1,
        buffer_id: u32::MAX,
        out_port: u32::MAX,
        out_group: u32::MAX,
        flags: 0,
        importance: 0,
        match_: Match::Oxm(OxmMatch { fields }),
        instructions: vec![
            Instruction::ApplyActions(vec![ct]),
            Instruction::GotoTable(3),
        ],
    };
    for v in [4u8, 5] {
        c.push(Message::FlowMod(fm.clone()).encode(v, 1));
    }
    c.push(Message::Hello(Hello::with_versions(&[1, 4, 5, 6])).encode(6, 1));
    c.push(
        Message::MultipartReply(MultipartReply {
            mp_type: mp_type::PORT_DESC,
            flags: 0,
            nx: false,
            body: MpRepBody::PortDesc(vec![Default::default()]),
        })
        .encode(5, 1),
    );
    c
}

fn exercise(bytes: &[u8]) {
    if let Ok((h, m)) = Message::decode(bytes) {
        let again = m.encode(h.version, h.xid);
        // Whatever decoded must survive its own encoding.
        let _ = Message::decode(&again);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), chunk in 1usize..64) {
        let mut d = Decoder::new();
        for c in data.chunks(chunk) {
            d.feed(c);
            while let Some(r) = d.next_message() {
                match r {
                    Ok((h, m)) => { let _ = m.encode(h.version, h.xid); }
                    Err(rej) => { let _ = rej.error_reply(); if rej.fatal { break; } }
                }
            }
        }
    }

    #[test]
    fn random_bodies_with_valid_headers_never_panic(version in 1u8..=6, t in 0u8..40, body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut b = vec![version, t, 0, 0, 0, 0, 0, 1];
        b.extend(body);
        let n = b.len() as u16;
        b[2..4].copy_from_slice(&n.to_be_bytes());
        exercise(&b);
    }

    #[test]
    fn mutated_valid_messages_never_panic(pick in 0usize..64, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>(), do_cut in any::<bool>()) {
        let c = corpus();
        let mut b = c[pick % c.len()].clone();
        for (at, x) in flips {
            let i = 8 + at % (b.len() - 8).max(1);
            if i < b.len() { b[i] ^= x; }
        }
        if do_cut {
            b.truncate((8 + cut % b.len()).min(b.len()));
        }
        let n = b.len() as u16;
        b[2..4].copy_from_slice(&n.to_be_bytes());
        exercise(&b);
    }
}

#[test]
fn corpus_round_trips() {
    for b in corpus() {
        let (h, m) = Message::decode(&b).unwrap();
        assert_eq!(m.encode(h.version, h.xid), b, "{m:?}");
    }
}

#[test]
fn deep_action_nesting_is_an_error_not_a_crash() {
    // clone(clone(clone(...))) 3000 deep inside an OF1.3 packet-out.
    let depth = 3000usize;
    let mut acts = Vec::new();
    for i in 0..depth {
        let len = 16 * (depth - i) as u16;
        acts.extend_from_slice(&[0xff, 0xff]);
        acts.extend_from_slice(&len.to_be_bytes());
        acts.extend_from_slice(&[0, 0, 0x23, 0x20, 0, 42, 0, 0, 0, 0, 0, 0]);
    }
    let mut b = vec![
        4u8, 13, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1,
    ];
    b.extend_from_slice(&(acts.len() as u16).to_be_bytes());
    b.extend_from_slice(&[0; 6]);
    b.extend(acts);
    let n = b.len() as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    assert!(Message::decode(&b).is_err());
}
