//! Messages a switch sends that `ovs-ofctl` never asks for in a dump
//! (packet-in, flow-removed, port-status, role, errors...): encoded by us,
//! printed by the real `ovs-ofctl ofp-print`, and decoded back.

mod common;
use common::*;
use ofproto::ofp::flow::{FlowRemoved, Match, PacketIn};
use ofproto::ofp::msgs::ErrorMsg;
use ofproto::ofp::nicira::{nxpint, NxMsg, Prop};
use ofproto::ofp::oxm::{Field, MatchField, OxmMatch};
use ofproto::ofp::switch::{BundleControl, PortStatus, Role};
use ofproto::ofp::{Decoder, ErrorCode, Message};

fn check(msg: &Message, v: u8, wants: &[&str]) {
    let b = msg.encode(v, 0x42);
    let (h, back) = Message::decode(&b).unwrap();
    assert_eq!((h.version, h.xid, h.length as usize), (v, 0x42, b.len()));
    assert_eq!(&back, msg, "decode(encode(m)) != m");
    if !have_ofctl() {
        return;
    }
    let out = ofp_print(&b);
    assert!(
        !out.contains("***"),
        "ovs-ofctl could not decode {}: {out}",
        hex(&b)
    );
    for w in wants {
        assert!(out.contains(w), "{w:?} not in {out}");
    }
}

const PKT: &str = "000102030405000000000001080045000014000000000000000000000000000000000000";

fn pkt() -> Vec<u8> {
    (0..PKT.len() / 2)
        .map(|i| u8::from_str_radix(&PKT[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn packet_in_all_versions() {
    for v in [1u8, 3, 4, 5, 6] {
        let m = OxmMatch {
            fields: vec![MatchField::new(Field::InPort, &[0, 0, 0, 3], None, false).unwrap()],
        };
        let pi = PacketIn {
            buffer_id: 0xffff_ffff,
            total_len: 36,
            reason: 1,
            table_id: if v >= 3 { 4 } else { 0 },
            cookie: if v >= 4 { 0x77 } else { 0 },
            in_port: if v == 1 { 3 } else { 0 },
            match_: if v == 1 { OxmMatch::default() } else { m },
            data: pkt(),
        };
        let mut wants = vec![
            "OFPT_PACKET_IN",
            "total_len=36",
            "in_port=3",
            "(via action)",
        ];
        if v >= 4 {
            wants.push("cookie=0x77");
        }
        check(&Message::PacketIn(pi), v, &wants);
    }
}

#[test]
fn packet_in2_properties() {
    let mut metadata = Vec::new();
    MatchField::new(Field::InPort, &[0, 0, 0, 3], None, false)
        .unwrap()
        .write(&mut metadata);
    let props = vec![
        Prop {
            ptype: nxpint::PACKET,
            value: pkt(),
        },
        Prop {
            ptype: nxpint::FULL_LEN,
            value: 36u32.to_be_bytes().to_vec(),
        },
        Prop {
            ptype: nxpint::TABLE_ID,
            value: vec![7],
        },
        Prop {
            ptype: nxpint::COOKIE,
            value: [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99].to_vec(),
        },
        Prop {
            ptype: nxpint::REASON,
            value: vec![1],
        },
        Prop {
            ptype: nxpint::METADATA,
            value: metadata,
        },
        Prop {
            ptype: nxpint::USERDATA,
            value: vec![1, 2, 3],
        },
    ];
    let m = Message::Nx(NxMsg::PacketIn2(props));
    check(
        &m,
        4,
        &[
            "NXT_PACKET_IN2",
            "table_id=7",
            "cookie=0x99",
            "in_port=3",
            "userdata=01.02.03",
        ],
    );
    assert_eq!(
        if let Message::Nx(n) = &m {
            n.prop(nxpint::TABLE_ID)
        } else {
            None
        },
        Some(&[7u8][..])
    );
}

#[test]
fn flow_removed_port_status_role_error_echo_bundle() {
    for v in [1u8, 4, 5] {
        let fields = vec![MatchField::new(Field::EthType, &[8, 0], None, v == 1).unwrap()];
        let m = if v == 1 {
            Match::Of10(ofproto::ofp::match10::Match10 {
                wildcards: 0x3fffff & !0x10,
                dl_type: 0x800,
                ..Default::default()
            })
        } else {
            Match::Oxm(OxmMatch { fields })
        };
        let fr = FlowRemoved {
            cookie: 0x5,
            priority: 9,
            reason: 0,
            table_id: if v == 1 { 0 } else { 3 },
            duration_sec: 1,
            duration_nsec: 0,
            idle_timeout: 5,
            hard_timeout: if v == 1 { 0 } else { 10 },
            packet_count: 3,
            byte_count: 300,
            match_: m,
        };
        check(
            &Message::FlowRemoved(fr),
            v,
            &[
                "OFPT_FLOW_REMOVED",
                "priority=9,ip",
                "reason=idle",
                "pkts3",
                "bytes300",
            ],
        );
        let mut port = ports().remove(0);
        if v == 1 {
            (port.curr_speed, port.max_speed) = (0, 0); // no speed fields in OF1.0
        }
        let ps = PortStatus { reason: 0, port };
        check(
            &Message::PortStatus(ps),
            v,
            &["OFPT_PORT_STATUS", "ADD: 1(p1): addr:02:00:00:00:00:01"],
        );
        check(
            &Message::EchoRequest(vec![1, 2, 3]),
            v,
            &["OFPT_ECHO_REQUEST"],
        );
        check(&Message::EchoReply(vec![]), v, &["OFPT_ECHO_REPLY"]);
        let (t, c) = ErrorCode::BadRequestType.to_wire(v);
        check(
            &Message::Error(ErrorMsg {
                err_type: t,
                code: c,
                experimenter: None,
                data: vec![v, 2, 0, 8, 0, 0, 0, 1],
            }),
            v,
            &["OFPT_ERROR", "OFPBRC_BAD_TYPE"],
        );
    }
    for v in [3u8, 4, 5] {
        check(
            &Message::RoleRequest(Role {
                role: 2,
                generation_id: 5,
            }),
            v,
            &["OFPT_ROLE_REQUEST", "role=primary", "generation_id=5"],
        );
        check(
            &Message::RoleReply(Role {
                role: 3,
                generation_id: 6,
            }),
            v,
            &["OFPT_ROLE_REPLY", "role=secondary", "generation_id=6"],
        );
    }
    let bc = BundleControl {
        onf: false,
        bundle_id: 3,
        ctrl_type: 1,
        flags: 1,
        props: vec![],
    };
    check(
        &Message::BundleControl(bc.clone()),
        5,
        &[
            "OFPT_BUNDLE_CONTROL",
            "bundle_id=0x3",
            "type=OPEN_REPLY",
            "flags=atomic",
        ],
    );
    check(
        &Message::BundleControl(BundleControl { onf: true, ..bc }),
        4,
        &["ONFT_BUNDLE_CONTROL", "type=OPEN_REPLY"],
    );
    check(
        &Message::Nx(NxMsg::SetPacketInFormat(2)),
        1,
        &["NXT_SET_PACKET_IN_FORMAT", "format=nxt_packet_in2"],
    );
    check(
        &Message::Nx(NxMsg::FlowModTableId(1)),
        1,
        &["NXT_FLOW_MOD_TABLE_ID", "enable"],
    );
    check(
        &Message::Nx(NxMsg::CtFlushZone(5)),
        1,
        &["NXT_CT_FLUSH_ZONE", "zone_id=5"],
    );
}

#[test]
fn rejected_messages_answer_with_the_right_error() {
    // Unknown type in OF1.3.
    let mut d = Decoder::new();
    d.feed(&[4, 200, 0, 8, 0, 0, 0, 9]);
    let r = d.next_message().unwrap().unwrap_err();
    assert_eq!(r.error.code, ErrorCode::BadRequestType);
    assert!(!r.fatal);
    let reply = r.error_reply();
    let (h, m) = Message::decode(&reply).unwrap();
    assert_eq!((h.version, h.xid), (4, 9));
    let Message::Error(e) = m else { panic!() };
    assert_eq!(
        (e.err_type, e.code, &e.data[..]),
        (1, 1, &[4u8, 200, 0, 8, 0, 0, 0, 9][..])
    );
    if have_ofctl() {
        assert!(ofp_print(&reply).contains("OFPBRC_BAD_TYPE"));
    }
    // Unknown Nicira action subtype inside an OF1.0 flow_mod -> BAD_ACTION / BAD_VENDOR_TYPE.
    let mut fm = vec![1u8, 14, 0, 0, 0, 0, 0, 1];
    fm.extend_from_slice(&[0, 0x3f, 0xff, 0xff]);
    fm.extend_from_slice(&[0; 36]);
    fm.extend_from_slice(&[0; 8]);
    fm.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
    ]);
    fm.extend_from_slice(&[
        0xff, 0xff, 0, 16, 0, 0, 0x23, 0x20, 0x0f, 0xff, 0, 0, 0, 0, 0, 0,
    ]);
    let n = fm.len() as u16;
    fm[2..4].copy_from_slice(&n.to_be_bytes());
    d.feed(&fm);
    let r = d.next_message().unwrap().unwrap_err();
    assert_eq!(r.error.code, ErrorCode::BadActionExpType);
    if have_ofctl() {
        assert!(
            ofp_print(&r.error_reply()).contains("OFPBAC_BAD_VENDOR_TYPE"),
            "{}",
            ofp_print(&r.error_reply())
        );
    }
    // Bad version, and a length below 8 is fatal.
    d.feed(&[9, 2, 0, 8, 0, 0, 0, 1]);
    assert_eq!(
        d.next_message().unwrap().unwrap_err().error.code,
        ErrorCode::BadRequestVersion
    );
    d.feed(&[4, 2, 0, 4, 0, 0, 0, 1]);
    let r = d.next_message().unwrap().unwrap_err();
    assert!(r.fatal);
    assert!(d.next_message().is_none());
}

#[test]
fn decoder_waits_for_partial_frames() {
    let msgs = [
        Message::EchoRequest(vec![1, 2, 3]),
        Message::BarrierRequest,
        Message::Nx(NxMsg::SetFlowFormat(2)),
    ];
    let mut stream = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        stream.extend(m.encode(1, i as u32));
    }
    let mut d = Decoder::new();
    let mut got = Vec::new();
    for b in &stream {
        d.feed(std::slice::from_ref(b));
        while let Some(r) = d.next_message() {
            got.push(r.unwrap());
        }
    }
    assert_eq!(got.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(), msgs);
    assert_eq!(
        got.iter().map(|(h, _)| h.xid).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(d.pending(), 0);
}

#[test]
fn version_negotiation() {
    use ofproto::ofp::{negotiate, Hello};
    let ours = [1u8, 4, 5, 6];
    // Peer with a bitmap {1, 4}: OF1.3.
    assert_eq!(
        negotiate(&ours, 4, &Hello::with_versions(&[1, 4])).unwrap(),
        4
    );
    // Peer without bitmap at OF1.4: everything up to 5 -> 5.
    assert_eq!(negotiate(&ours, 5, &Hello::default()).unwrap(), 5);
    // Peer with only OF1.1/1.2: failure = HELLO_FAILED / INCOMPATIBLE.
    let e = negotiate(&ours, 3, &Hello::with_versions(&[2, 3])).unwrap_err();
    assert_eq!(e.code, ErrorCode::HelloIncompatible);
    assert_eq!(e.code.to_wire(4), (0, 0));
    // The bitmap element round-trips, with padding.
    let h = Hello::with_versions(&[1, 4, 5, 6]);
    let b = Message::Hello(h.clone()).encode(6, 1);
    assert_eq!(hex(&b), "06000010000000010001000800000072");
    assert_eq!(Message::decode(&b).unwrap().1, Message::Hello(h));
    // A future-version HELLO still decodes so negotiation can happen.
    let (hd, m) = Message::decode(&[7, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x90]).unwrap();
    let Message::Hello(peer) = m else { panic!() };
    assert_eq!(negotiate(&ours, hd.version, &peer).unwrap(), 4);
}
