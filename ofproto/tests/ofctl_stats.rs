//! Requests `ovs-ofctl` sends for queries (dump-*, show, groups, meters,
//! packet-out, port-mod, config, TLV map) decode and round-trip; replies we
//! encode are printed by the real tool as expected (proves reply encoding).

mod common;
use common::*;
use ofproto::ofp::flow::Match;
use ofproto::ofp::instructions::Instruction;
use ofproto::ofp::multipart::*;
use ofproto::ofp::nicira::{NxMsg, TlvMap};
use ofproto::ofp::oxm::{Field, MatchField, OxmMatch};
use ofproto::ofp::switch::{Bucket, MeterBand, SwitchConfig};
use ofproto::ofp::{Action, Header, Message};
use std::cell::Cell;

fn reply(v: u8, r: &MultipartRequest, nx: bool, body: MpRepBody) -> Option<Vec<Message>> {
    let _ = v;
    Some(vec![Message::MultipartReply(MultipartReply {
        mp_type: r.mp_type,
        flags: 0,
        nx,
        body,
    })])
}

fn sample_flow(v: u8, nx: bool) -> FlowStats {
    let nxm = v == 1;
    let fields = vec![
        MatchField::new(Field::EthType, &[8, 0], None, nxm).unwrap(),
        MatchField::new(Field::Ipv4Src, &[10, 0, 0, 0], Some(&[255, 0, 0, 0]), nxm).unwrap(),
        MatchField::new(
            Field::CtState,
            &[0, 0, 0, 0x20],
            Some(&[0, 0, 0, 0x20]),
            nxm,
        )
        .unwrap(),
    ];
    let m = if v == 1 && !nx {
        Match::Of10(ofproto::ofp::match10::Match10 {
            wildcards: ofproto::ofp::match10::OFPFW10_ALL & !ofproto::ofp::match10::OFPFW10_DL_TYPE,
            dl_type: 0x0800,
            ..Default::default()
        })
    } else {
        Match::Oxm(OxmMatch { fields })
    };
    let acts = vec![
        Action::Output {
            port: 1,
            max_len: 0,
        },
        Action::Resubmit {
            in_port: 0xfff8,
            table: 3,
            ct: false,
            short: false,
        },
    ];
    FlowStats {
        table_id: 2,
        duration_sec: 7,
        duration_nsec: 500_000_000,
        priority: 100,
        idle_timeout: 10,
        hard_timeout: 0,
        flags: 0,
        importance: 0,
        idle_age: 0,
        hard_age: 0,
        cookie: 0xab,
        packet_count: 42,
        byte_count: 4200,
        match_: m,
        instructions: vec![Instruction::ApplyActions(acts)],
    }
}

#[test]
fn dump_flows_replies_print_as_flows() {
    if !have_ofctl() {
        return;
    }
    for (name, v) in [("OpenFlow10", 1u8), ("OpenFlow13", 4), ("OpenFlow14", 5)] {
        let s = run_ofctl(
            &[1, 4, 5],
            &["-O", name, "dump-flows", "SOCK", "table=2,ip"],
            &|v, _h, m| match m {
                Message::MultipartRequest(r) if r.mp_type == mp_type::FLOW => {
                    let nx = matches!(r.body, MpReqBody::Flow { nx: true, .. });
                    reply(v, r, nx, MpRepBody::Flow(vec![sample_flow(v, nx)]))
                }
                _ => None,
            },
        );
        assert!(s.ok, "{name}: {}", s.stderr);
        assert_roundtrip(&s);
        let req = s
            .msgs
            .iter()
            .find_map(|(_, m)| match m {
                Message::MultipartRequest(MultipartRequest {
                    mp_type: mp_type::FLOW,
                    body: MpReqBody::Flow { nx, req },
                    ..
                }) => Some((*nx, req.clone())),
                _ => None,
            })
            .expect("flow stats request");
        assert_eq!(req.0, v == 1, "{name}: OF1.0 dump-flows uses NXST_FLOW");
        assert_eq!(req.1.table_id, 2);
        assert_eq!(
            req.1.match_.fields().get(Field::EthType).unwrap().value,
            [8, 0]
        );
        let out = &s.stdout;
        for want in [
            "cookie=0xab",
            "duration=7.5",
            "table=2",
            "n_packets=42",
            "n_bytes=4200",
            "idle_timeout=10",
            "priority=100",
            "ct_state=+trk",
            "nw_src=10.0.0.0/8",
            "actions=output:1,resubmit(,3)",
        ] {
            assert!(out.contains(want), "{name}: {want:?} not in {out}");
        }
    }
}

#[test]
fn dump_aggregate_tables_ports_desc() {
    if !have_ofctl() {
        return;
    }
    for (name, v) in [("OpenFlow10", 1u8), ("OpenFlow13", 4)] {
        let handler = |v: u8, _h: &Header, m: &Message| match m {
            Message::MultipartRequest(r) => match r.mp_type {
                mp_type::AGGREGATE => {
                    let nx = matches!(r.body, MpReqBody::Flow { nx: true, .. });
                    reply(
                        v,
                        r,
                        nx,
                        MpRepBody::Aggregate {
                            packet_count: 11,
                            byte_count: 1100,
                            flow_count: 3,
                        },
                    )
                }
                mp_type::DESC => reply(
                    v,
                    r,
                    false,
                    MpRepBody::Desc(Desc {
                        mfr_desc: "rvs project".into(),
                        hw_desc: "userspace".into(),
                        sw_desc: "rvs 0.1".into(),
                        serial_num: "none".into(),
                        dp_desc: "br0".into(),
                    }),
                ),
                mp_type::TABLE if r.body == MpReqBody::Empty => reply(
                    v,
                    r,
                    false,
                    MpRepBody::Table(vec![TableStats {
                        table_id: 0,
                        name: "classifier".into(),
                        wildcards: 0x3fffff,
                        max_entries: 1_000_000,
                        active_count: 5,
                        lookup_count: 77,
                        matched_count: 66,
                    }]),
                ),
                mp_type::PORT_STATS => {
                    let mut c = [0u64; 12];
                    for (i, x) in c.iter_mut().enumerate() {
                        *x = 100 + i as u64;
                    }
                    reply(
                        v,
                        r,
                        false,
                        MpRepBody::Port(vec![PortStats {
                            port_no: 1,
                            counters: c,
                            duration_sec: 3,
                            duration_nsec: 0,
                        }]),
                    )
                }
                _ => None,
            },
            _ => None,
        };
        let run = |cmd: &[&str]| {
            let mut a = vec!["-O", name];
            a.extend(cmd);
            let s = run_ofctl(&[1, 4], &a, &handler);
            assert!(s.ok, "{name} {cmd:?}: {}", s.stderr);
            assert_roundtrip(&s);
            s.stdout
        };
        let out = run(&["dump-aggregate", "SOCK", "ip"]);
        assert!(
            out.contains("packet_count=11 byte_count=1100 flow_count=3"),
            "{name}: {out}"
        );
        let out = run(&["dump-desc", "SOCK"]);
        assert!(
            out.contains("Manufacturer: rvs project") && out.contains("DP Description: br0"),
            "{name}: {out}"
        );
        let out = run(&["dump-tables", "SOCK"]);
        assert!(
            out.contains("active=5") && out.contains("lookup=77") && out.contains("matched=66"),
            "{name}: {out}"
        );
        let out = run(&["dump-ports", "SOCK", "1"]);
        assert!(
            out.contains("rx pkts=100") && out.contains("tx pkts=101") && out.contains("bytes=102"),
            "{name}: {out}"
        );
        if v > 1 {
            let out = run(&["dump-ports-desc", "SOCK"]);
            assert!(
                out.contains("1(p1): addr:02:00:00:00:00:01"),
                "{name}: {out}"
            );
        }
        let out = run(&["show", "SOCK"]);
        assert!(
            out.contains("dpid:0000000000001234") && out.contains("1(p1)"),
            "{name}: {out}"
        );
    }
}

#[test]
fn groups_and_meters() {
    if !have_ofctl() {
        return;
    }
    let run = |cmd: &[&str], h: Responder<'_>| {
        let mut a = vec!["-O", "OpenFlow13"];
        a.extend(cmd);
        let s = run_ofctl(&[4], &a, h);
        assert!(s.ok, "{cmd:?}: {}", s.stderr);
        assert_roundtrip(&s);
        s
    };
    let none = |_: u8, _: &Header, _: &Message| None;
    let s = run(&["add-group", "SOCK", "group_id=1,type=select,bucket=weight:10,watch_port:1,actions=output:1,bucket=weight:20,actions=output:2"], &none);
    let g = s
        .msgs
        .iter()
        .find_map(|(_, m)| {
            if let Message::GroupMod(g) = m {
                Some(g.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        (g.command, g.group_type, g.group_id, g.buckets.len()),
        (0, 1, 1, 2)
    );
    assert_eq!((g.buckets[0].weight, g.buckets[0].watch_port), (10, 1));
    run(
        &["mod-group", "SOCK", "group_id=1,type=all,bucket=output:1"],
        &none,
    );
    run(&["del-groups", "SOCK", "group_id=1"], &none);
    let s = run(&["add-meter", "SOCK", "meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100,type=dscp_remark,rate=2000,burst_size=10,prec_level=1"], &none);
    let mm = s
        .msgs
        .iter()
        .find_map(|(_, m)| {
            if let Message::MeterMod(g) = m {
                Some(g.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!((mm.command, mm.meter_id, mm.bands.len()), (0, 1, 2));
    assert_eq!(
        (
            mm.bands[1].band_type,
            mm.bands[1].rate,
            mm.bands[1].prec_level
        ),
        (2, 2000, 1)
    );
    run(
        &["mod-meter", "SOCK", "meter=1,pktps,bands=type=drop,rate=5"],
        &none,
    );
    run(&["del-meter", "SOCK", "meter=1"], &none);

    let h = |v: u8, _h: &Header, m: &Message| match m {
        Message::MultipartRequest(r) => match r.mp_type {
            mp_type::GROUP_DESC => reply(
                v,
                r,
                false,
                MpRepBody::GroupDesc(vec![GroupDesc {
                    group_type: 1,
                    group_id: 7,
                    buckets: vec![Bucket {
                        weight: 3,
                        watch_port: 0xffff_ffff,
                        watch_group: 0xffff_ffff,
                        actions: vec![Action::Output {
                            port: 5,
                            max_len: 0,
                        }],
                    }],
                }]),
            ),
            mp_type::GROUP => reply(
                v,
                r,
                false,
                MpRepBody::Group(vec![GroupStats {
                    group_id: 7,
                    ref_count: 2,
                    packet_count: 9,
                    byte_count: 900,
                    duration_sec: 1,
                    duration_nsec: 0,
                    buckets: vec![(9, 900)],
                }]),
            ),
            mp_type::METER_CONFIG => reply(
                v,
                r,
                false,
                MpRepBody::MeterConfig(vec![MeterConfig {
                    flags: 1,
                    meter_id: 4,
                    bands: vec![MeterBand {
                        band_type: 1,
                        rate: 1000,
                        burst_size: 0,
                        prec_level: 0,
                        experimenter: 0,
                    }],
                }]),
            ),
            mp_type::METER => reply(
                v,
                r,
                false,
                MpRepBody::Meter(vec![MeterStats {
                    meter_id: 4,
                    flow_count: 1,
                    packet_in_count: 8,
                    byte_in_count: 800,
                    duration_sec: 2,
                    duration_nsec: 0,
                    bands: vec![(1, 100)],
                }]),
            ),
            _ => None,
        },
        _ => None,
    };
    let out = run(&["dump-groups", "SOCK"], &h).stdout;
    assert!(
        out.contains("group_id=7,type=select,bucket=weight:3,actions=output:5"),
        "{out}"
    );
    let out = run(&["dump-group-stats", "SOCK"], &h).stdout;
    assert!(
        out.contains("group_id=7") && out.contains("ref_count=2") && out.contains("packet_count=9"),
        "{out}"
    );
    let out = run(&["dump-meters", "SOCK"], &h).stdout;
    assert!(
        out.contains("meter=4 kbps bands=") && out.contains("type=drop rate=1000"),
        "{out}"
    );
    let out = run(&["meter-stats", "SOCK"], &h).stdout;
    assert!(
        out.contains("meter:4 flow_count:1 packet_in_count:8 byte_in_count:800"),
        "{out}"
    );
}

#[test]
fn packet_out_port_mod_config_tlv() {
    if !have_ofctl() {
        return;
    }
    let pkt = "000102030405000000000001080045000014000000000000000000000000000000000000";
    for (name, v) in [
        ("OpenFlow10", 1u8),
        ("OpenFlow13", 4),
        ("OpenFlow14", 5),
        ("OpenFlow15", 6),
    ] {
        let arg = format!("in_port=1,packet={pkt},actions=output:2");
        let s = run_ofctl(
            &[1, 4, 5, 6],
            &["-O", name, "packet-out", "SOCK", &arg],
            &|_, _, _| None,
        );
        assert!(s.ok, "{name}: {}", s.stderr);
        assert_roundtrip(&s);
        let po = s
            .msgs
            .iter()
            .find_map(|(_, m)| {
                if let Message::PacketOut(p) = m {
                    Some(p.clone())
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(
            po.actions,
            vec![Action::Output {
                port: 2,
                max_len: 0
            }]
        );
        assert_eq!(hex(&po.data), pkt);
        if v == 6 {
            assert_eq!(po.match_.get(Field::InPort).unwrap().value_u64(), 1);
        } else {
            assert_eq!(po.in_port, 1);
        }
        let s = run_ofctl(
            &[1, 4, 5, 6],
            &["-O", name, "mod-port", "SOCK", "p1", "down"],
            &|_, _, _| None,
        );
        assert!(s.ok, "{name}: {}", s.stderr);
        assert_roundtrip(&s);
        let pm = s
            .msgs
            .iter()
            .find_map(|(_, m)| {
                if let Message::PortMod(p) = m {
                    Some(p.clone())
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(
            (pm.port_no, pm.hw_addr, pm.config & 1, pm.mask & 1),
            (1, [2, 0, 0, 0, 0, 1], 1, 1),
            "{name}"
        );
    }
    // set-frags then get-frags reads back what was set.
    let cfg = Cell::new(SwitchConfig {
        flags: 0,
        miss_send_len: 128,
    });
    let s = run_ofctl(
        &[4],
        &["-O", "OpenFlow13", "set-frags", "SOCK", "drop"],
        &|_, _, m| match m {
            Message::SetConfig(c) => {
                cfg.set(*c);
                Some(Vec::new())
            }
            Message::GetConfigRequest => Some(vec![Message::GetConfigReply(cfg.get())]),
            _ => None,
        },
    );
    assert!(s.ok, "{}", s.stderr);
    assert_roundtrip(&s);
    assert_eq!(cfg.get().flags, 1);
    // TLV table.
    let s = run_ofctl(
        &[1],
        &[
            "add-tlv-map",
            "SOCK",
            "{class=0xffff,type=3,len=8}->tun_metadata5",
        ],
        &|_, _, _| None,
    );
    assert!(s.ok, "{}", s.stderr);
    assert_roundtrip(&s);
    assert!(s.msgs.iter().any(|(_, m)| *m
        == Message::Nx(NxMsg::TlvTableMod {
            command: 0,
            maps: vec![TlvMap {
                option_class: 0xffff,
                option_type: 3,
                option_len: 8,
                index: 5
            }]
        })));
    let s = run_ofctl(&[1], &["dump-tlv-map", "SOCK"], &|_, _, m| match m {
        Message::Nx(NxMsg::TlvTableRequest) => Some(vec![Message::Nx(NxMsg::TlvTableReply {
            max_option_space: 256,
            max_fields: 64,
            maps: vec![TlvMap {
                option_class: 0x0102,
                option_type: 0x80,
                option_len: 4,
                index: 1,
            }],
        })]),
        _ => None,
    });
    assert!(s.ok, "{}", s.stderr);
    assert!(
        s.stdout.contains("0x102")
            && s.stdout.contains("0x80")
            && s.stdout.contains("tun_metadata1"),
        "{}",
        s.stdout
    );
}
