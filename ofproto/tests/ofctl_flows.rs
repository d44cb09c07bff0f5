//! Round trips of what the real `ovs-ofctl` sends for flow programming:
//! every match field and every action, OF1.0 (NXM) / 1.3 / 1.4 / 1.5,
//! flow_mod commands and flags, bundles.

mod common;
use common::*;
use ofproto::ofp::flow::{command, flags};
use ofproto::ofp::instructions::Instruction;
use ofproto::ofp::nicira::NxMsg;
use ofproto::ofp::oxm::Field;
use ofproto::ofp::{Action, FlowMod, Match, Message};

const VERSIONS: &[(&str, u8)] = &[
    ("OpenFlow10", 1),
    ("OpenFlow13", 4),
    ("OpenFlow14", 5),
    ("OpenFlow15", 6),
];

/// One flow per match field family (the same list for all versions).
const FIELD_FLOWS: &[&str] = &[
    "in_port=1",
    "dl_src=00:01:02:03:04:05/ff:ff:ff:00:00:00,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
    "dl_type=0x0800,nw_tos=8,nw_ecn=1,nw_ttl=3,nw_proto=6,tp_src=80,tp_dst=0x1000/0xf000",
    "vlan_vid=0x1005,vlan_pcp=3",
    "dl_vlan=5",
    "tcp,tcp_flags=+syn-ack",
    "udp,tp_src=1,tp_dst=2",
    "sctp,tp_src=1,tp_dst=2",
    "icmp,icmp_type=8,icmp_code=0",
    "arp,arp_op=1,arp_spa=1.2.3.4,arp_tpa=1.2.3.0/24,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:02",
    "ip,nw_src=10.0.0.0/8,nw_dst=192.168.1.1",
    "ipv6,ipv6_src=2001::1/64,ipv6_dst=::1,ipv6_label=0x12345",
    "icmp6,icmpv6_type=135,nd_target=2001::2,nd_sll=00:00:00:00:00:03",
    "icmp6,icmpv6_type=136,icmpv6_code=0,nd_tll=00:00:00:00:00:04",
    "mpls,mpls_label=5,mpls_tc=1,mpls_bos=1",
    "tun_id=0x1234/0xffff,metadata=0x55,reg0=1,reg15=2/0xff",
    // Open vSwitch spells xreg/xxreg matches as the 32-bit registers they cover.
    "xxreg1=5",
    "xreg5=0x300000000/0xf00000000",
    "tun_src=1.1.1.1,tun_dst=2.2.2.2,tun_flags=+oam,tun_ipv6_src=::1,tun_ipv6_dst=::2",
    "tun_metadata0=0x1234,tun_metadata63=0x1/0x1",
    "ct_state=+trk+est,ct_zone=5,ct_mark=0x1/0xff,ct_label=0x1",
    "ip,ct_state=+trk,ct_nw_src=1.1.1.1,ct_nw_dst=2.2.2.2,ct_nw_proto=6,ct_tp_src=1,ct_tp_dst=2",
    "ipv6,ct_state=+trk,ct_ipv6_src=::1,ct_ipv6_dst=::2",
    "pkt_mark=1/3,dp_hash=0x5/0xf,recirc_id=3,conj_id=7",
    "packet_type=(1,0x800)",
    "packet_type=(1,0x894f),nsh_flags=1,nsh_ttl=2,nsh_mdtype=1,nsh_np=3,nsh_spi=0x123,nsh_si=5,nsh_c1=0x1,nsh_c2=0x2/0xff,nsh_c3=3,nsh_c4=4",
    "dl_type=0x894f,nsh_spi=0x5,nsh_si=255,nsh_flags=0/1",
    "ip,ip_frag=first,tun_gbp_id=1,tun_gbp_flags=1",
    "actset_output=3",
];

/// Action lists accepted with an `ip` match in every version (others are
/// version-specific below).
const ACTIONS_ALL: &[&str] = &[
    "output:1,output:in_port,controller:100,normal,flood,all,local",
    "drop",
    "mod_vlan_vid:5,mod_vlan_pcp:3,strip_vlan",
    "enqueue:1:2,set_queue:3,pop_queue",
    "push_mpls:0x8847,set_mpls_label:5,set_mpls_tc:1,set_mpls_ttl:10,dec_mpls_ttl,pop_mpls:0x0800",
    "dec_ttl",
    "in_port=1,actions=resubmit:3,resubmit(,2),resubmit(1,2)",
    "set_tunnel:5,set_tunnel64:0x123456789,load:5->NXM_NX_REG0[0..15],load:0x1234->NXM_NX_TUN_ID[],set_field:5->reg1,set_field:0x5/0xff->reg2",
    "move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    "output:NXM_NX_REG0[0..15],output(port=1,max_len=100)",
    "learn(table=1,idle_timeout=10,hard_timeout=20,priority=5,cookie=0x5,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15],output:NXM_OF_IN_PORT[],load:5->NXM_NX_REG1[])",
    "conjunction(5,1/2)",
    "ct(commit,zone=5,exec(set_field:1->ct_mark,set_field:2->ct_label)),ct(table=3,zone=NXM_NX_REG0[0..15],nat),ct_clear",
    "tcp,actions=ct(commit,nat(src=10.0.0.1-10.0.0.5:100-200,random)),ct(commit,alg=ftp)",
    "tcp6,actions=ct(commit,nat(dst=[fe80::1]-[fe80::2],persistent))",
    "controller(reason=no_match,id=5,max_len=100),controller(userdata=01.02.03,pause,meter_id=3)",
    "note:01.02.03.04.05.06.07,exit",
    "multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[0..5])",
    "bundle(eth_src,0,hrw,ofport,members:1,2,3),bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:1,2)",
    "sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3),sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3,sampling_port=5),sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3,ingress)",
    "clone(set_field:1->reg0,output:2)",
    "check_pkt_larger(100)->NXM_NX_REG0[0]",
    "push:NXM_NX_REG0[],pop:NXM_NX_REG1[]",
    "write_metadata:0x5/0xff,goto_table:3",
    "clear_actions,write_actions(output:1,set_queue:2)",
    "delete_field:tun_metadata0",
];

fn flow_line(s: &str) -> String {
    if s.contains("actions=") {
        format!("table=0,priority=5,{s}")
    } else {
        format!("table=0,priority=5,ip,actions={s}")
    }
}

fn write_file(name: &str, lines: &[String]) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("rvs-ofctl-{}-{name}", std::process::id()));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn flow_mods(s: &Session) -> Vec<FlowMod> {
    s.msgs
        .iter()
        .filter_map(|(_, m)| match m {
            Message::FlowMod(f) | Message::Nx(NxMsg::FlowMod(f)) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_match_field_round_trips_in_every_version() {
    if !have_ofctl() {
        return;
    }
    let lines: Vec<String> = FIELD_FLOWS
        .iter()
        .map(|f| format!("table=1,priority=5,{f},actions=drop"))
        .collect();
    let file = write_file("fields", &lines);
    for (name, v) in VERSIONS {
        let s = run_ofctl(
            &[1, 4, 5, 6],
            &["-O", name, "add-flows", "SOCK", file.to_str().unwrap()],
            &|_, _, _| None,
        );
        assert!(s.ok, "{name}: {}", s.stderr);
        assert_eq!(s.version, *v);
        assert_roundtrip(&s);
        let fms = flow_mods(&s);
        assert_eq!(fms.len(), lines.len(), "{name}");
        for fm in &fms {
            assert_eq!(fm.table_id, 1);
            assert_eq!(fm.priority, 5);
            let fields = fm.match_.fields();
            assert!(
                fields.fields.iter().all(|f| f.field != Field::Unknown),
                "{name}: unknown field in {fields:?}"
            );
            fields
                .validate()
                .unwrap_or_else(|e| panic!("{name}: {e} in {fields:?}"));
        }
        // Spot checks on decoded values.
        let all: Vec<_> = fms.iter().flat_map(|f| f.match_.fields().fields).collect();
        let get = |f: Field| {
            all.iter()
                .find(|m| m.field == f)
                .unwrap_or_else(|| panic!("{name}: no {f:?}"))
        };
        assert_eq!(get(Field::Ipv4Src).value, [10, 0, 0, 0]);
        assert_eq!(
            get(Field::Ipv4Src).mask.as_deref(),
            Some(&[255, 0, 0, 0][..])
        );
        assert_eq!(get(Field::CtZone).value, [0, 5]);
        if *v >= 6 {
            // OF1.5: Open vSwitch pairs 32-bit registers into OXM_OF_PKT_REGn.
            assert_eq!(
                get(Field::XReg(7)).mask.as_deref(),
                Some(&[0, 0, 0, 0, 0, 0, 0, 0xff][..])
            );
            assert_eq!(get(Field::XReg(3)).value_u64(), 5);
            assert_eq!(get(Field::XReg(5)).value_u64(), 3 << 32);
        } else {
            assert_eq!(
                get(Field::Reg(15)).mask.as_deref(),
                Some(&[0, 0, 0, 0xff][..])
            );
            assert_eq!(get(Field::Reg(7)).value_u64(), 5);
            assert_eq!(get(Field::Reg(10)).value_u64(), 3);
        }
        assert_eq!(get(Field::TunMetadata(63)).value, [1]);
        assert_eq!(get(Field::Ipv6Flabel).value_u64(), 0x12345);
        assert_eq!(get(Field::TcpFlags).value_u64(), 0x002);
        assert_eq!(get(Field::PacketType).value_u64(), 0x0001_0800);
        if *v >= 4 {
            assert_eq!(get(Field::VlanVid).value_u64(), 0x1005);
            assert_eq!(get(Field::IpDscp).value, [2]);
        } else {
            assert_eq!(get(Field::VlanTci).value_u64() & 0x1fff, 0x1005);
            assert_eq!(get(Field::NwTos).value, [8]);
        }
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn every_action_round_trips_in_every_version() {
    if !have_ofctl() {
        return;
    }
    let mut per_version: Vec<(&str, Vec<&str>)> = VERSIONS
        .iter()
        .map(|(n, _)| (*n, ACTIONS_ALL.to_vec()))
        .collect();
    // Version-specific spellings.
    per_version[0].1.extend(["dec_ttl(1,2,3)", "fin_timeout(idle_timeout=5,hard_timeout=10)", "set_nw_ttl:5", "mod_dl_src:00:01:02:03:04:05,mod_dl_dst:00:01:02:03:04:06,mod_nw_src:1.2.3.4,mod_nw_dst:1.2.3.5,mod_nw_tos:8", "tcp,actions=mod_tp_src:1,mod_tp_dst:2"]);
    for (_, l) in per_version.iter_mut().skip(1) {
        l.extend([
            "push_vlan:0x8100,set_field:4100->vlan_vid,pop_vlan",
            "meter:2,group:1",
            "set_nw_ttl:5",
            "encap(nsh(md_type=1)),decap(),encap(ethernet)",
            "encap(nsh(md_type=2,tlv(0x1000,10,0x12345678),tlv(0x2000,20,0x01))),set_field:0x5->nsh_spi,set_field:0x1/0x3->nsh_flags,move:NXM_NX_REG0[0..7]->nsh_si[],set_field:0xabc->nsh_c1,encap(ethernet)",
            "packet_type=(1,0x894f),actions=decap(packet_type(ns=0,type=0))",
            "dl_type=0x894f,actions=dec_nsh_ttl,decap(),decap()",
            "packet_type=(1,0x894f),actions=dec_nsh_ttl",
        ]);
    }
    for (name, acts) in per_version {
        let lines: Vec<String> = acts.iter().map(|a| flow_line(a)).collect();
        let file = write_file(&format!("acts-{name}"), &lines);
        let s = run_ofctl(
            &[1, 4, 5, 6],
            &["-O", name, "add-flows", "SOCK", file.to_str().unwrap()],
            &|_, _, _| None,
        );
        let _ = std::fs::remove_file(&file);
        assert!(s.ok, "{name}: {}", s.stderr);
        assert_roundtrip(&s);
        assert_eq!(flow_mods(&s).len(), lines.len(), "{name}");
    }
}

#[test]
fn decoded_ct_flow_matches_the_text() {
    if !have_ofctl() {
        return;
    }
    let s = run_ofctl(
        &[4],
        &[
            "-O",
            "OpenFlow13",
            "add-flow",
            "SOCK",
            "table=0,priority=10,ip,nw_src=10.0.0.0/8,actions=ct(commit,zone=5,exec(set_field:1->ct_mark)),resubmit(,1)",
        ],
        &|_, _, _| None,
    );
    assert!(s.ok, "{}", s.stderr);
    assert_roundtrip(&s);
    let fm = &flow_mods(&s)[0];
    assert_eq!(
        (fm.command, fm.priority, fm.table_id, fm.buffer_id),
        (command::ADD, 10, 0, 0xffff_ffff)
    );
    let Match::Oxm(m) = &fm.match_ else { panic!() };
    assert_eq!(m.get(Field::EthType).unwrap().value, [8, 0]);
    let acts = fm.apply_actions();
    let Action::Ct(ct) = acts[0] else {
        panic!("{acts:?}")
    };
    assert_eq!((ct.flags, ct.zone, ct.recirc_table), (1, 5, 255));
    let Action::SetField(sf) = &ct.actions[0] else {
        panic!()
    };
    assert_eq!((sf.field, sf.value_u64()), (Field::CtMark, 1));
    assert!(matches!(
        acts[1],
        Action::Resubmit {
            table: 1,
            ct: false,
            ..
        }
    ));
}

#[test]
fn flow_mod_commands_and_flags() {
    if !have_ofctl() {
        return;
    }
    for (name, v) in VERSIONS {
        let mut all = Vec::new();
        for args in [
            vec!["add-flow", "SOCK", "cookie=0x5,idle_timeout=10,hard_timeout=20,priority=7,send_flow_rem,check_overlap,ip,actions=drop"],
            vec!["mod-flows", "SOCK", "cookie=0x5/0xff,ip,actions=output:1"],
            vec!["--strict", "mod-flows", "SOCK", "priority=7,ip,actions=output:2"],
            vec!["del-flows", "SOCK", "cookie=0x5/-1,out_port=3,ip"],
            vec!["--strict", "del-flows", "SOCK", "priority=7,ip"],
        ] {
            let mut a = vec!["-O", name];
            a.extend(args);
            let s = run_ofctl(&[1, 4, 5, 6], &a, &|_, _, _| None);
            assert!(s.ok, "{name} {a:?}: {}", s.stderr);
            assert_roundtrip(&s);
            all.extend(flow_mods(&s));
        }
        let cmds: Vec<u8> = all.iter().map(|f| f.command).collect();
        assert_eq!(
            cmds,
            [
                command::ADD,
                command::MODIFY,
                command::MODIFY_STRICT,
                command::DELETE,
                command::DELETE_STRICT
            ],
            "{name}"
        );
        let add = &all[0];
        assert_eq!(
            (add.cookie, add.idle_timeout, add.hard_timeout, add.priority),
            (5, 10, 20, 7)
        );
        assert_eq!(
            add.flags & (flags::SEND_FLOW_REM | flags::CHECK_OVERLAP),
            flags::SEND_FLOW_REM | flags::CHECK_OVERLAP
        );
        assert_eq!(all[3].out_port, 3, "{name}");
        if *v >= 4 {
            assert_eq!((all[1].cookie, all[1].cookie_mask), (5, 0xff));
            assert_eq!(all[3].table_id, 0xff);
        }
    }
    // OF1.3+ only flags, OF1.4 importance.
    let s = run_ofctl(
        &[4, 5],
        &[
            "-O",
            "OpenFlow14",
            "add-flow",
            "SOCK",
            "importance=9,reset_counts,no_packet_counts,no_byte_counts,actions=drop",
        ],
        &|_, _, _| None,
    );
    assert!(s.ok, "{}", s.stderr);
    assert_roundtrip(&s);
    let f = &flow_mods(&s)[0];
    assert_eq!(f.importance, 9);
    assert_eq!(
        f.flags,
        flags::RESET_COUNTS | flags::NO_PKT_COUNTS | flags::NO_BYT_COUNTS
    );
}

#[test]
fn bundles_of13_extension_and_of14() {
    if !have_ofctl() {
        return;
    }
    for (name, vers) in [
        ("OpenFlow13", vec![4u8]),
        ("OpenFlow14", vec![5]),
        ("OpenFlow15", vec![6]),
    ] {
        let s = run_ofctl(
            &vers,
            &[
                "-O",
                name,
                "--bundle",
                "add-flow",
                "SOCK",
                "priority=10,ip,actions=output:1",
            ],
            &|_, _, _| None,
        );
        assert!(s.ok, "{name}: {}", s.stderr);
        assert_roundtrip(&s);
        let mut saw = (false, false, false);
        for (_, m) in &s.msgs {
            match m {
                Message::BundleControl(b) => {
                    assert_eq!(b.onf, name == "OpenFlow13");
                    if b.ctrl_type == 0 {
                        saw.0 = true;
                    }
                    if b.ctrl_type == 4 {
                        saw.2 = true;
                    }
                }
                Message::BundleAdd(b) => {
                    let (_, inner) = b.inner().unwrap();
                    let Message::FlowMod(f) = inner else {
                        panic!("{inner:?}")
                    };
                    assert_eq!(f.priority, 10);
                    saw.1 = true;
                }
                _ => {}
            }
        }
        assert_eq!(saw, (true, true, true), "{name}");
    }
}

#[test]
fn instructions_decode() {
    if !have_ofctl() {
        return;
    }
    let s = run_ofctl(&[4], &["-O", "OpenFlow13", "add-flow", "SOCK", "ip,actions=meter:2,clear_actions,write_actions(output:1),write_metadata:0x5/0xff,goto_table:3"], &|_, _, _| None);
    assert!(s.ok, "{}", s.stderr);
    assert_roundtrip(&s);
    let f = &flow_mods(&s)[0];
    assert_eq!(
        f.instructions,
        vec![
            Instruction::Meter(2),
            Instruction::ClearActions,
            Instruction::WriteActions(vec![Action::Output {
                port: 1,
                max_len: 0
            }]),
            Instruction::WriteMetadata {
                metadata: 5,
                mask: 0xff
            },
            Instruction::GotoTable(3),
        ]
    );
}
