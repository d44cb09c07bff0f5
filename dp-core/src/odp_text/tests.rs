use super::*;
use crate::actions::{CtAction, HashAlg, NatAction, NatKind, OdpAction, SetAttr, UserspaceAction};
use crate::flow::{fields as F, Flow, FRAG_ANY, FRAG_LATER, FRAG_MASK, VLAN_CFI};
use proptest::prelude::*;

const NOW: u64 = 1_000_000_000_000; // 1000 s

/// parse -> format gives the identical line, and format -> parse the identical value.
fn line_rt(s: &str) -> DumpedFlow {
    let f = parse_flow(s, NOW).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(format_flow(&f, NOW), s);
    assert_eq!(parse_flow(&format_flow(&f, NOW), NOW).unwrap(), f);
    f
}

fn match_rt(s: &str) -> Match {
    let m = parse_match(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(format_match(&m), s);
    assert_eq!(parse_match(&format_match(&m)).unwrap(), m);
    m
}

fn actions_rt(s: &str) -> Vec<OdpAction> {
    let a = parse_actions(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(format_actions(&a), s);
    assert_eq!(parse_actions(&format_actions(&a)).unwrap(), a);
    a
}

// Source: kube-ovn documentation, "Offload" section, output of
// `ovs-appctl dpctl/dump-flows type=offloaded` (userspace datapath).
#[test]
fn real_ct_state_ct_mark_nat_recirc() {
    let f = line_rt(
        "ct_state(-new+est-rel+rpl+trk),ct_mark(0/0x3),recirc_id(0x2d277),in_port(15),packet_type(ns=0,id=0),eth(src=00:00:00:9d:fb:1a,dst=00:00:00:ce:cf:b9),eth_type(0x0800),ipv4(dst=10.16.0.14,frag=no), packets:6, bytes:588, used:7.276s, actions:ct(zone=4,nat),recirc(0x2d278)",
    );
    assert_eq!(f.m.key.get(F::CT_STATE), 0x2a);
    assert_eq!(f.m.mask.get(F::CT_STATE), 0x2f);
    assert_eq!(f.m.mask.get(F::CT_MARK), 3);
    assert_eq!(f.m.key.get(F::NW_DST), 0x0a10_000e);
    assert_eq!(f.m.mask.get(F::NW_FRAG), FRAG_MASK as u64);
    assert_eq!(f.stats.used_ns, Some(NOW - 7_276_000_000));
    assert_eq!(
        f.actions,
        vec![
            OdpAction::Ct(CtAction {
                zone: 4,
                nat: Some(NatAction::default()),
                ..Default::default()
            }),
            OdpAction::Recirc(0x2d278)
        ]
    );
}

// Source: blog post on vDPA offload with OVS-DPDK, `ovs-appctl dpctl/dump-flows`
// ("flow-dump from pmd on cpu core: 1"). OVS prints the *unmasked* packet
// key (`48.0.0.3/255.0.0.0`); a `Match` keeps its key masked, so parsing
// yields 48.0.0.0, and a `Match` built with the unmasked key prints the
// original text byte for byte.
#[test]
fn real_masked_ipv4_set_eth() {
    let s = "recirc_id(0x6),in_port(3),packet_type(ns=0,id=0),eth(src=de:75:cc:30:86:84,dst=02:ac:10:ff:01:01),eth_type(0x0800),ipv4(src=48.128.0.10,dst=48.0.0.3/255.0.0.0,frag=no), packets:50694434, bytes:3041666040, used:0.000s, actions:set(eth(src=02:ac:10:ff:01:01,dst=de:75:cc:e1:c6:85)),4";
    let mut f = parse_flow(s, NOW).unwrap();
    assert_eq!(f.m.key.get(F::NW_DST), 0x3000_0000);
    assert_eq!(f.m.mask.get(F::NW_DST), 0xff00_0000);
    assert!(matches!(f.actions[0], OdpAction::Set(SetAttr::Eth { .. })));
    assert_eq!(format_flow(&f, NOW), s.replace("48.0.0.3/", "48.0.0.0/"));
    f.m.key.set(F::NW_DST, 0x3000_0003);
    assert_eq!(format_flow(&f, NOW), s);
}

// Source: OVS-DPDK test notes (`ovs-appctl dpif/dump-flows br-ext`), ARP flow
// key and statistics; port names replaced by numbers.
#[test]
fn real_arp() {
    let f = line_rt(
        "recirc_id(0),in_port(4),packet_type(ns=0,id=0),eth(src=00:01:00:00:00:03,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=192.168.2.10,tip=192.168.2.55,op=1), packets:0, bytes:0, used:never, actions:2",
    );
    assert_eq!(f.m.mask.get(F::NW_PROTO), 0xff);
    assert_eq!(f.stats.used_ns, None);
}

// Source: same notes: masked tos, masked eth set, clone(tnl_push vxlan).
// Port names (vxlan_sys_4789, br-ext, dpdk1) replaced by numbers.
#[test]
fn real_clone_tnl_push_vxlan() {
    let f = line_rt(
        "recirc_id(0),in_port(2),packet_type(ns=0,id=0),eth(src=00:01:00:00:00:02),eth_type(0x0800),ipv4(tos=0x1/0x3,frag=no), packets:93, bytes:11904, used:0.012s, actions:set(eth(src=00:01:00:00:00:04)),clone(tnl_push(tnl_port(4789),header(size=50,type=4,eth(dst=00:01:00:00:00:03,src=08:00:27:f9:11:96,dl_type=0x0800),ipv4(src=192.168.2.55,dst=192.168.2.10,proto=17,tos=0x1,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x64)),out_port(1)),5)",
    );
    assert!(matches!(f.actions[0], OdpAction::SetMasked { .. }));
    let OdpAction::Clone(c) = &f.actions[1] else {
        panic!()
    };
    let OdpAction::TnlPush(t) = &c[0] else {
        panic!()
    };
    assert_eq!(t.header.len(), 50);
    assert_eq!(t.tnl_type, 4);
    assert_eq!(&t.header[14..16], &[0x45, 0x01]);
}

// Source: OVS python/ovs/tests/test_odp.py (action strings taken from OVS).
#[test]
fn real_python_test_odp_actions() {
    actions_rt("set(tunnel(tun_id=0xabcdef1234567890,src=1.1.1.1,dst=2.2.2.2,ttl=64,flags(df|csum|key))),tnl_pop(4),tnl_push(tnl_port(6),header(size=50,type=4,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x1c7)),out_port(1)),tnl_push(tnl_port(6),header(size=70,type=4,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x86dd),ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0,proto=17,tclass=0x0,hlimit=64),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x1c7)),out_port(1))");
    let a = actions_rt("ct,ct(commit),ct(commit,zone=5),ct(commit,mark=0xa0a0a0a0/0xfefefefe),ct(commit,label=0x1234567890abcdef1234567890abcdef/0xf1f2f3f4f5f6f7f8f9f0fafbfcfdfeff),ct(commit,helper=ftp),ct(commit,helper=tftp),ct(commit,timeout=ovs_tp_1_tcp4),ct(nat)");
    assert_eq!(a.len(), 9);
    let a = actions_rt("ct(nat),ct(commit,nat(src)),ct(commit,nat(dst)),ct(commit,nat(src=10.0.0.240,random)),ct(commit,nat(src=10.0.0.240:32768-65535,random)),ct(commit,nat(dst=10.0.0.128-10.0.0.254,hash)),ct(commit,nat(src=10.0.0.240-10.0.0.254:32768-65535,persistent)),ct(commit,nat(src=fe80::20c:29ff:fe88:a18b,random)),ct(commit,nat(src=fe80::20c:29ff:fe88:1-fe80::20c:29ff:fe88:a18b,random)),ct(commit,helper=ftp,nat(src=10.1.1.240-10.1.1.255)),ct(force_commit)");
    let OdpAction::Ct(ct) = &a[4] else { panic!() };
    let nat = ct.nat.as_ref().unwrap();
    assert_eq!(nat.kind, Some(NatKind::Src));
    assert_eq!(nat.ports, Some((32768, 65535)));
    assert!(nat.random);
    // Bracketed IPv6 with ports (OVS's ipv6_format_addr_bracket()).
    actions_rt(
        "ct(commit,nat(src=[fe80::20c:29ff:fe88:1]-[fe80::20c:29ff:fe88:a18b]:255-4096,random))",
    );
}

// Source: OVS python/ovs/tests/test_odp.py key strings that OVS prints the same way.
#[test]
fn real_python_test_odp_keys() {
    let m = parse_match(
        "tunnel(tun_id=0x7f10354,src=10.10.10.10,dst=20.20.20.20,ttl=64,flags(csum|key))",
    )
    .unwrap();
    assert_eq!(m.key.get(F::TUN_ID), 0x7f10354);
    assert_eq!(
        format_match(&m),
        "tunnel(tun_id=0x7f10354,src=10.10.10.10,dst=20.20.20.20,ttl=64,flags(csum|key))"
    );
    let m = parse_match("in_port(2),eth(src=11:22:33:44:55:66,dst=66:55:44:33:22:11)").unwrap();
    assert_eq!(m.key.get(F::IN_PORT), 2);
    // encap() form from test_odp.py: a masked eth_type whose masked value is
    // below 0x600 prints as OVS prints it, eth_type(0/0xffff).
    let m = parse_match("encap(eth_type(0x0800),ipv4(src=10.76.23.240/255.255.255.248,dst=10.76.23.106,proto=17,tos=0/0,ttl=64,frag=no))").unwrap();
    assert_eq!(m.mask.get(F::NW_SRC), 0xffff_fff8);
}

// VLAN and QinQ nesting as OVS prints it (Documentation/topics/dpdk/pmd.rst
// shows `eth_type(0x8100),vlan(vid=1,pcp=0),encap(eth_type(0x0800),ipv4(...),udp(...))`).
#[test]
fn vlan_and_qinq() {
    let m = match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x8100),vlan(vid=1,pcp=0),encap(eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53))");
    assert_eq!(m.key.get(F::VLAN0_TCI), (VLAN_CFI | 1) as u64);
    assert_eq!(m.key.get(F::VLAN0_TPID), 0x8100);
    assert_eq!(m.key.get(F::ETH_TYPE), 0x0800);
    let m = match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth(dst=00:00:00:00:00:02),eth_type(0x88a8),vlan(vid=100),encap(eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x86dd),ipv6(src=2001:db8::1,frag=no)))");
    assert_eq!(m.key.get(F::VLAN1_TCI), (VLAN_CFI | 10 | 3 << 13) as u64);
    assert_eq!(m.mask.get(F::VLAN0_TCI), 0x1fff);
    // Operator form (ovs-dpctl add-flow) from an OVS scripts' usage.
    let m = parse_match(
        "in_port(3),eth(),eth_type(0x8100),vlan(vid=7,pcp=0),encap(eth_type(0x0806),arp())",
    )
    .unwrap();
    assert_eq!(
        format_match(&m),
        "in_port(3),eth_type(0x8100),vlan(vid=7,pcp=0),encap(eth_type(0x0806))"
    );
}

#[test]
fn ipv6_nd_tcp_flags_ct() {
    match_rt("ct_state(+new-est+trk),ct_zone(0x5),ct_label(0x1/0x1),recirc_id(0x1),in_port(2),packet_type(ns=0,id=0),eth_type(0x86dd),ipv6(src=fe80::1,dst=ff02::/ffff::,label=0x12345,proto=58,tclass=0x10/0xfc,hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=fe80::2,sll=00:11:22:33:44:55)");
    match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(src=10.0.0.1,proto=6,ttl=64,frag=first),tcp(dst=80),tcp_flags(syn|ack)");
    match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(src=1024/0xfc00),tcp_flags(+syn-rst-ack)");
    match_rt("ct_state(-new+est+trk),ct_tuple4(src=10.0.0.1,dst=10.0.0.2,proto=6,tp_dst=80),recirc_id(0x3),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=6,frag=no)");
    match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=later)");
    match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x8847),mpls(label=100,tc=0,ttl=64,bos=1)");
    match_rt("skb_priority(0x1),skb_mark(0x10/0xf0),recirc_id(0),dp_hash(0x5/0xf),in_port(1),packet_type(ns=1,id=0x800),eth_type(0x0800),ipv4(frag=no)");
    match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth(src=00:11:22:00:00:00/ff:ff:ff:00:00:00),eth_type(0/0xffff)");
}

// Geneve tunnel metadata in a match (format of tests/tunnel-push-pop.at).
#[test]
fn tunnel_geneve_match() {
    let m = match_rt("tunnel(tun_id=0x7b,src=1.1.2.92,dst=1.1.2.88,ttl=64,tp_dst=6081,geneve({class=0xffff,type=0x80,len=4,0xa/0xf}{class=0xffff,type=0,len=4}),flags(-df+csum+key)),recirc_id(0),in_port(6081),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no)");
    assert_eq!(m.key.get(F::TUN_OPTS_LEN), 16);
    let o = m.key.tun_opts();
    assert_eq!(&o[..8], &[0xff, 0xff, 0x80, 1, 0, 0, 0, 0xa]);
}

#[test]
fn nsh_actions_and_key() {
    // Formats as OVS's `format_odp_push_nsh_action()`, `pop_nsh()` and
    // `format_odp_set_nsh()` print them.
    let a = actions_rt("push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x1234,si=255,c1=0x11223344,c2=0x0,c3=0x0,c4=0x0),push_eth(src=00:11:22:33:44:55,dst=66:77:88:99:aa:bb),2");
    match &a[0] {
        OdpAction::PushNsh(p) => {
            assert_eq!((p.key.spi(), p.key.si(), p.key.np), (0x1234, 255, 3));
            assert_eq!(p.key.context[0], 0x1122_3344);
            assert_eq!(p.len(), 24);
        }
        x => panic!("{x:?}"),
    }
    let a = actions_rt("push_nsh(flags=1,ttl=2,mdtype=2,np=1,spi=0x10,si=3,md2=0x1020304aabbccdd)");
    match &a[0] {
        OdpAction::PushNsh(p) => assert_eq!(p.md2, [1, 2, 3, 4, 0xaa, 0xbb, 0xcc, 0xdd]),
        x => panic!("{x:?}"),
    }
    actions_rt("pop_eth,pop_nsh(),recirc(0x5)");
    let a = actions_rt("set(nsh(spi=0x5,si=254)),set(nsh(ttl=0x0a/0x3f,c2=0x1/0x000000ff))");
    match &a[0] {
        OdpAction::SetMasked {
            value: SetAttr::Nsh(v),
            mask: SetAttr::Nsh(m),
        } => {
            assert_eq!((v.path_hdr, m.path_hdr), (0x5fe, u32::MAX));
            assert_eq!(m.context, [0; 4]);
        }
        x => panic!("{x:?}"),
    }
    actions_rt(
        "set(nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x1234,si=255,c1=0x1,c2=0x2,c3=0x3,c4=0x4))",
    );
    assert!(parse_actions("push_nsh(spi=0x1/0xff)").is_err());
    assert!(parse_actions("set(nsh(spi=0x1000000))").is_err());
    assert!(parse_actions("set(nsh(foo=1))").is_err());
    assert!(parse_actions("pop_nsh(1)").is_err());

    let m = match_rt("recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x894f),nsh(mdtype=1,np=1,spi=0x123456,si=254,c1=0x1/0x000000ff)");
    assert_eq!(m.key.get(F::NSH_SPI), 0x123456);
    assert_eq!(m.mask.get(F::NSH_SPI), 0xffffff);
    assert_eq!(m.mask.get(F::NSH_C1), 0xff);
    assert_eq!(m.mask.get(F::NSH_TTL), 0);
}

#[test]
fn nested_and_misc_actions() {
    actions_rt("check_pkt_len(size=200,gt(4),le(clone(set(ipv4(ttl=63)),5),dec_ttl(le_1(userspace(pid=3,userdata(0102ff),actions,tunnel_out_port=7))),6))");
    actions_rt(
        "sample(sample=50.0%,actions(meter(3),trunc(100),2)),hash(l4(0)),hash(sym_l4(5)),recirc(0)",
    );
    actions_rt("push_vlan(vid=10,pcp=0),push_vlan(tpid=0x88a8,vid=4095,pcp=7),pop_vlan,push_mpls(label=100,tc=1,ttl=64,bos=1,eth_type=0x8847),pop_mpls(eth_type=0x800)");
    actions_rt("push_eth(src=00:11:22:33:44:55,dst=66:77:88:99:aa:bb),pop_eth,ct_clear,drop,1");
    actions_rt("set(skb_priority(0x1)),set(skb_mark(0x5/0xff)),set(ipv4(src=10.0.0.1,dst=10.0.0.2,tos=0,ttl=64)),set(ipv6(dst=2001:db8::1,hlimit=63)),set(tcp(src=80)),set(udp(src=1,dst=2)),set(sctp(dst=9/0xff))");
    actions_rt("set(arp(sip=1.2.3.4,tip=5.6.7.8,op=1,sha=00:00:00:00:00:01,tha=00:00:00:00:00:02)),set(nd(target=fe80::1,sll=00:00:00:00:00:01,tll=00:00:00:00:00:00)),set(mpls(label=7,tc=0,ttl=10,bos=1)),set(mpls(label=7/0xfffff,tc=0/0,ttl=10/0xff,bos=0/0))");
    actions_rt("tnl_push(tnl_port(6),header(size=58,type=5,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(crit,vni=0x1c7,options({class=0xffff,type=0x80,len=4,0xa}))),out_port(1))");
    actions_rt("tnl_push(tnl_port(6),header(size=50,type=5,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(oam,vni=0x1c7)),out_port(1))");
    actions_rt("tnl_push(tnl_port(3),header(size=42,type=3,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=47,tos=0,ttl=64,frag=0x4000),gre((flags=0x2000,proto=0x6558),key=0x1c8)),out_port(1))");
    actions_rt("tnl_push(tnl_port(3),header(size=66,type=109,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x86dd),ipv6(src=2001:cafe::88,dst=2001:cafe::92,label=0,proto=47,tclass=0x0,hlimit=64),gre((flags=0xa000,proto=0x6558),csum=0x0,key=0x1c8)),out_port(1))");
    actions_rt("set(tunnel(tun_id=0x5,src=2.2.2.2,dst=1.1.1.1,ttl=64,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x1234}),flags(df|key)))");
    assert_eq!(parse_actions("drop").unwrap(), vec![]);
    assert_eq!(format_actions(&[]), "drop");
    assert_eq!(
        parse_actions("userspace(pid=1)").unwrap(),
        vec![OdpAction::Userspace(UserspaceAction {
            pid: 1,
            ..Default::default()
        })]
    );
}

#[test]
fn ufid_and_flags_line() {
    let s = "ufid:12345678-9abc-def0-0fed-cba987654321, recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=22), packets:10, bytes:1000, used:1.500s, flags:SFP., actions:2";
    let f = line_rt(s);
    assert_eq!(f.stats.tcp_flags, 0x01b);
    // -m extras are skipped.
    let g = parse_flow("ufid:12345678-9abc-def0-0fed-cba987654321, recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=6,frag=no),tcp(dst=22), packets:10, bytes:1000, used:1.500s, flags:SFP., dp:ovs, actions:2, dp-extra-info:miniflow_bits(4,1)", NOW).unwrap();
    assert_eq!(g, f);
}

#[test]
fn operator_forms_and_errors() {
    let m =
        parse_match("in_port(1),eth(),eth_type(0x0800),ipv4(src=1.1.1.1/255.255.255.0,frag=no)")
            .unwrap();
    assert_eq!(
        format_match(&m),
        "in_port(1),eth_type(0x0800),ipv4(src=1.1.1.0/255.255.255.0,frag=no)"
    );
    for bad in [
        "in_port(1",
        "ipv4(src=1.2.3)",
        "foo(1)",
        "ipv4(frag=maybe)",
        "eth(src=zz:00:00:00:00:00)",
        "in_port(0x1ffffffff)",
        "tcp_flags(+bogus)",
        "vlan(vid=5000),encap()",
    ] {
        let e = parse_match(bad).unwrap_err();
        assert!(!e.msg.is_empty(), "{bad}");
    }
    for bad in [
        "set(foo(1))",
        "output(1)",
        "ct(bogus)",
        "push_vlan(vid=4096)",
        "1,,)",
    ] {
        assert!(parse_actions(bad).is_err(), "{bad}");
    }
    let e = parse_match("ipv4(src=1.2.3)").unwrap_err();
    assert!(e.msg.contains("1.2.3"), "{e}");
    assert!(parse_flow("in_port(1), packets:1, bytes:1, actions:1", NOW).is_err());
}

// ---------------------------------------------------------------------------
// Property tests.

fn vm32(bits: u32) -> impl Strategy<Value = (u64, u64)> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    (
        any::<u64>(),
        prop_oneof![Just(0u64), Just(max), any::<u64>()],
    )
        .prop_map(move |(v, m)| (v & max & m, m & max))
}

/// A match in the canonical form the text can carry (see `format_match`).
fn arb_match() -> impl Strategy<Value = Match> {
    (
        (
            any::<u32>(),
            any::<u32>(),
            vm32(32),
            vm32(32),
            vm32(8),
            vm32(16),
            vm32(32),
            vm32(48),
            vm32(48),
        ),
        (
            0usize..3,
            any::<[u16; 2]>(),
            any::<[u16; 2]>(),
            any::<bool>(),
        ),
        (
            0usize..7,
            vm32(32),
            vm32(32),
            any::<u8>(),
            vm32(8),
            vm32(8),
            0u8..4,
            vm32(16),
            vm32(16),
            vm32(12),
        ),
        (
            any::<u128>(),
            any::<u128>(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (
            any::<bool>(),
            any::<u32>(),
            any::<u32>(),
            vm32(8),
            0u8..2,
            vm32(64),
        ),
    )
        .prop_map(|(md, vl, l3, v6, tn)| {
            let (mut k, mut m) = (Flow::zero(), Flow::zero());
            macro_rules! set {
                ($f:expr, $x:expr) => {{
                    let (v, mm): (u64, u64) = $x;
                    k.set($f, v & mm);
                    m.set($f, mm);
                }};
            }
            set!(F::RECIRC_ID, (md.0 as u64, 0xffff_ffff));
            set!(F::IN_PORT, (md.1 as u64, 0xffff_ffff));
            set!(F::PACKET_TYPE, (0, 0xffff_ffff));
            set!(F::SKB_PRIORITY, md.2);
            set!(F::PKT_MARK, md.3);
            set!(F::CT_STATE, md.4);
            set!(F::CT_ZONE, md.5);
            set!(F::CT_MARK, md.6);
            set!(F::ETH_SRC, md.7);
            set!(F::ETH_DST, md.8);
            let (levels, vids, pcps, qinq_tpid) = vl;
            let tpids = [if qinq_tpid { 0x88a8 } else { 0x8100 }, 0x8100];
            let tcis = [F::VLAN0_TCI, F::VLAN1_TCI];
            let tpf = [F::VLAN0_TPID, F::VLAN1_TPID];
            for i in 0..levels {
                let tci = VLAN_CFI as u64 | (vids[i] & 0xfff) as u64 | ((pcps[i] as u64 & 7) << 13);
                let mask = VLAN_CFI as u64
                    | (((vids[i] as u64 >> 12) & 1) * 0xfff)
                    | (((pcps[i] as u64 >> 8) & 1) * 0xe000);
                set!(tcis[i], (tci, mask));
                set!(tpf[i], (tpids[i], 0xffff));
            }
            let (l3kind, a, b, proto, tos, ttl, frag, sp, dp, tcpf) = l3;
            let et = [0x0800u64, 0x86dd, 0x0806, 0x8847, 0x88cc, 0x05ff, 0x0800][l3kind];
            let et = if et == 0x05ff && levels > 0 {
                0x88cc
            } else {
                et
            };
            set!(F::ETH_TYPE, (et, 0xffff));
            let frag_v = [0u64, 0, FRAG_ANY as u64, (FRAG_ANY | FRAG_LATER) as u64][frag as usize];
            let frag_m = if frag == 0 { 0 } else { FRAG_MASK as u64 };
            let protos = [6u64, 17, 132, 1, 58, proto as u64];
            let pr = protos[proto as usize % protos.len()];
            match et {
                0x0800 | 0x86dd => {
                    if et == 0x0800 {
                        set!(F::NW_SRC, a);
                        set!(F::NW_DST, b);
                    } else {
                        k.set128(F::IPV6_SRC_HI, F::IPV6_SRC_LO, v6.0 & v6.1);
                        m.set128(F::IPV6_SRC_HI, F::IPV6_SRC_LO, v6.1);
                        set!(
                            F::IPV6_LABEL,
                            (
                                v6.2 as u64 & 0xfffff,
                                (v6.3 & 0xfffff) | if v6.3 & 1 == 0 { 0xfffff } else { 0 }
                            )
                        );
                    }
                    set!(F::NW_PROTO, (pr, 0xff));
                    set!(F::NW_TOS, tos);
                    set!(F::NW_TTL, ttl);
                    set!(F::NW_FRAG, (frag_v, frag_m));
                    if frag_v & FRAG_LATER as u64 == 0 {
                        match pr {
                            6 | 17 | 132 => {
                                set!(F::TP_SRC, sp);
                                set!(F::TP_DST, dp);
                                if pr == 6 {
                                    set!(F::TCP_FLAGS, tcpf);
                                }
                            }
                            1 if et == 0x0800 => {
                                set!(F::TP_SRC, (sp.0 & 0xff, sp.1 & 0xff));
                                set!(F::TP_DST, (dp.0 & 0xff, dp.1 & 0xff));
                            }
                            58 if et == 0x86dd => {
                                let nd = v6.4 & 1 == 1;
                                if nd {
                                    set!(F::TP_SRC, (135 + (v6.4 >> 1 & 1), 0xff));
                                    set!(F::TP_DST, (0, 0xff));
                                    k.set128(F::ND_TARGET_HI, F::ND_TARGET_LO, v6.0 & v6.1);
                                    m.set128(F::ND_TARGET_HI, F::ND_TARGET_LO, v6.1);
                                    set!(F::ARP_SHA, md.7);
                                } else {
                                    set!(F::TP_SRC, (sp.0 & 0xff, sp.1 & 0xff));
                                    set!(F::TP_DST, (dp.0 & 0xff, dp.1 & 0xff));
                                }
                            }
                            _ => {}
                        }
                    }
                    if et == 0x0800 && tn.0 {
                        set!(F::CT_NW_PROTO, (pr, 0xff));
                        set!(F::CT_NW_SRC, a);
                        set!(F::CT_TP_DST, dp);
                    }
                }
                0x0806 => {
                    set!(F::NW_SRC, a);
                    set!(F::NW_DST, b);
                    set!(
                        F::NW_PROTO,
                        (proto as u64, if tos.1 & 1 == 0 { 0xff } else { 0 })
                    );
                    set!(F::ARP_THA, md.8);
                }
                0x8847 => {
                    let lse = (a.0 as u32 & !0x100) | 0x100;
                    set!(F::MPLS_LSE0, (lse as u64, (b.1 as u32 | 0x100) as u64));
                }
                _ => {}
            }
            // Tunnel.
            if tn.0 {
                set!(F::TUN_DST, (tn.1 as u64 | 1, 0xffff_ffff));
                set!(
                    F::TUN_SRC,
                    (tn.2 as u64 | 1, if tn.2 & 2 == 0 { 0xffff_ffff } else { 0 })
                );
                set!(F::TUN_TTL, tn.3);
                let key = crate::flow::tun_flags::KEY as u64;
                let df_csum = (tn.3).0 & 0xb; // df, csum, oam (no key)
                let fl_m = (tn.3).1 & 0xb;
                let has_id = tn.4 == 1;
                set!(
                    F::TUN_FLAGS,
                    (
                        df_csum | if has_id { key } else { 0 },
                        fl_m | if has_id { key } else { 0 }
                    )
                );
                if has_id {
                    set!(F::TUN_ID, tn.5);
                }
                if tn.1 & 4 != 0 {
                    let opts = [0xffu8, 0xff, 0x80, 1, 0, 0, 0, (tn.2 & 0xff) as u8];
                    let mopts = [0xffu8, 0xff, 0xff, 0x1f, 0, 0, 0, 0xff];
                    k.set_tun_opts(&opts);
                    m.set_tun_opts(&mopts);
                    m.set(F::TUN_OPTS_LEN, 0xff);
                    k.set(F::TUN_OPTS_LEN, 8);
                }
            }
            Match::new(&k, &m)
        })
}

fn arb_setattr() -> impl Strategy<Value = (SetAttr, SetAttr)> {
    (
        any::<u128>(),
        any::<u128>(),
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        0usize..9,
    )
        .prop_map(|(a, b, c, d, kind)| {
            let mk = |x: u128, y: u128, c: [u8; 6], d: [u8; 6]| match kind {
                0 => SetAttr::Priority(x as u32),
                1 => SetAttr::Eth { src: c, dst: d },
                2 => SetAttr::Ipv4 {
                    src: x as u32,
                    dst: (x >> 32) as u32,
                    tos: (x >> 64) as u8,
                    ttl: (x >> 72) as u8,
                },
                3 => SetAttr::Ipv6 {
                    src: x,
                    dst: y,
                    label: (y as u32) & 0xfffff,
                    tclass: (x >> 7) as u8,
                    hlimit: (y >> 9) as u8,
                },
                4 => SetAttr::Tcp {
                    src: x as u16,
                    dst: y as u16,
                },
                5 => SetAttr::Udp {
                    src: x as u16,
                    dst: y as u16,
                },
                6 => SetAttr::Arp {
                    sip: x as u32,
                    tip: y as u32,
                    op: (x >> 40) as u16,
                    sha: c,
                    tha: d,
                },
                7 => SetAttr::Nd {
                    target: x,
                    sll: c,
                    tll: d,
                },
                _ => SetAttr::Mpls { lse: x as u32 },
            };
            // Mask: each field either all-ones or a random pattern.
            let mb = |v: u128, sel: u128| if sel & 1 == 0 { u128::MAX } else { v };
            let mask = mk(
                mb(b, a),
                mb(a ^ b, b),
                if a & 2 == 0 { [0xff; 6] } else { d },
                if b & 2 == 0 { [0xff; 6] } else { c },
            );
            let value = mk(a, b, c, d);
            (value, mask)
        })
}

fn and_mask(v: &SetAttr, m: &SetAttr) -> SetAttr {
    let ma = |a: [u8; 6], b: [u8; 6]| std::array::from_fn(|i| a[i] & b[i]);
    match (v, m) {
        (SetAttr::Priority(a), SetAttr::Priority(b)) => SetAttr::Priority(a & b),
        (SetAttr::Eth { src, dst }, SetAttr::Eth { src: a, dst: b }) => SetAttr::Eth {
            src: ma(*src, *a),
            dst: ma(*dst, *b),
        },
        (
            SetAttr::Ipv4 { src, dst, tos, ttl },
            SetAttr::Ipv4 {
                src: a,
                dst: b,
                tos: c,
                ttl: d,
            },
        ) => SetAttr::Ipv4 {
            src: src & a,
            dst: dst & b,
            tos: tos & c,
            ttl: ttl & d,
        },
        (
            SetAttr::Ipv6 {
                src,
                dst,
                label,
                tclass,
                hlimit,
            },
            SetAttr::Ipv6 {
                src: a,
                dst: b,
                label: c,
                tclass: d,
                hlimit: e,
            },
        ) => SetAttr::Ipv6 {
            src: src & a,
            dst: dst & b,
            label: label & c,
            tclass: tclass & d,
            hlimit: hlimit & e,
        },
        (SetAttr::Tcp { src, dst }, SetAttr::Tcp { src: a, dst: b }) => SetAttr::Tcp {
            src: src & a,
            dst: dst & b,
        },
        (SetAttr::Udp { src, dst }, SetAttr::Udp { src: a, dst: b }) => SetAttr::Udp {
            src: src & a,
            dst: dst & b,
        },
        (
            SetAttr::Arp {
                sip,
                tip,
                op,
                sha,
                tha,
            },
            SetAttr::Arp {
                sip: a,
                tip: b,
                op: c,
                sha: d,
                tha: e,
            },
        ) => SetAttr::Arp {
            sip: sip & a,
            tip: tip & b,
            op: op & c,
            sha: ma(*sha, *d),
            tha: ma(*tha, *e),
        },
        (
            SetAttr::Nd { target, sll, tll },
            SetAttr::Nd {
                target: a,
                sll: b,
                tll: c,
            },
        ) => SetAttr::Nd {
            target: target & a,
            sll: ma(*sll, *b),
            tll: ma(*tll, *c),
        },
        (SetAttr::Mpls { lse }, SetAttr::Mpls { lse: m }) => SetAttr::Mpls { lse: lse & m },
        _ => v.clone(),
    }
}

fn arb_leaf() -> impl Strategy<Value = OdpAction> {
    prop_oneof![
        any::<u32>().prop_map(OdpAction::Output),
        (any::<u32>(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)), any::<bool>(), proptest::option::of(any::<u32>()))
            .prop_map(|(pid, userdata, actions, tunnel_out_port)| OdpAction::Userspace(UserspaceAction { pid, userdata, actions, tunnel_out_port })),
        arb_setattr().prop_map(|(v, m)| OdpAction::SetMasked { value: and_mask(&v, &m), mask: m }),
        arb_setattr().prop_map(|(v, _)| OdpAction::Set(v)),
        (prop_oneof![Just(0x8100u16), Just(0x88a8)], any::<u16>()).prop_map(|(tpid, t)| OdpAction::PushVlan { tpid, tci: t & !0x1000 }),
        Just(OdpAction::PopVlan),
        (any::<u32>(), any::<u16>()).prop_map(|(lse, ethertype)| OdpAction::PushMpls { lse, ethertype }),
        any::<u16>().prop_map(|ethertype| OdpAction::PopMpls { ethertype }),
        any::<u32>().prop_map(OdpAction::Recirc),
        (any::<bool>(), any::<u32>()).prop_map(|(s, basis)| OdpAction::Hash { alg: if s { HashAlg::SymL4 } else { HashAlg::L4 }, basis }),
        (any::<[bool; 3]>(), any::<u16>(), proptest::option::of((any::<u32>(), any::<u32>())), proptest::option::of((any::<u128>(), any::<u128>())), 0u8..4, any::<[u32; 2]>(), any::<[u16; 2]>(), any::<[bool; 3]>())
            .prop_map(|(f, zone, mark, label, nk, ips, ports, nf)| {
                let nat = match nk {
                    0 => None,
                    1 => Some(NatAction::default()),
                    _ => {
                        let lo = std::net::IpAddr::V4(ips[0].into());
                        let hi = if ips[1] & 1 == 0 { lo } else { std::net::IpAddr::V4((ips[0] | 0xff).into()) };
                        let p0 = ports[0].max(1);
                        Some(NatAction {
                            kind: Some(if nk == 2 { NatKind::Src } else { NatKind::Dst }),
                            addr: f[2].then_some((lo, hi)),
                            ports: f[2].then_some((p0, if ports[1] & 1 == 0 { p0 } else { p0.max(ports[1]) })),
                            persistent: nf[0], hash: nf[1], random: nf[2] && !nf[1],
                        })
                    }
                };
                OdpAction::Ct(CtAction { commit: f[0] || f[1], force: f[1], zone, mark, label, helper: f[0].then(|| "ftp".to_string()), timeout: f[2].then(|| "tp1".to_string()), nat })
            }),
        Just(OdpAction::CtClear),
        any::<u32>().prop_map(OdpAction::TnlPop),
        any::<u32>().prop_map(OdpAction::Meter),
        any::<u32>().prop_map(OdpAction::Trunc),
        (any::<[u8; 6]>(), any::<[u8; 6]>()).prop_map(|(src, dst)| OdpAction::PushEth { src, dst }),
        Just(OdpAction::PopEth),
        (any::<u32>(), any::<u32>(), any::<u8>(), 0u8..4).prop_map(|(p, vni, tos, kind)| {
            let body = match kind {
                0 => format!("size=50,type=4,eth(dst=00:00:00:00:00:01,src=00:00:00:00:00:02,dl_type=0x0800),ipv4(src=1.1.1.1,dst=2.2.2.2,proto=17,tos={tos},ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni={:#x})", vni & 0xffffff),
                1 => format!("size=58,type=5,eth(dst=00:00:00:00:00:01,src=00:00:00:00:00:02,dl_type=0x0800),ipv4(src=1.1.1.1,dst=2.2.2.2,proto=17,tos={tos},ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0x0),geneve(vni={:#x},options({{class=0x102,type=0x80,len=4,{:#x}}}))", vni & 0xffffff, vni | 1),
                2 => format!("size=70,type=5,eth(dst=00:00:00:00:00:01,src=00:00:00:00:00:02,dl_type=0x86dd),ipv6(src=::1,dst=2001:db8::{:x},label={},proto=17,tclass={:#x},hlimit=64),udp(src=0,dst=6081,csum=0x0),geneve(vni={:#x})", vni & 0xffff, vni & 0xfffff, tos, vni & 0xffffff),
                _ => format!("size=46,type=3,eth(dst=00:00:00:00:00:01,src=00:00:00:00:00:02,dl_type=0x0800),ipv4(src=1.1.1.1,dst=2.2.2.2,proto=47,tos={tos},ttl=64,frag=0x4000),gre((flags=0x3000,proto=0x6558),key={:#x},seq=0x1)", vni),
            };
            parse_actions(&format!("tnl_push(tnl_port({p}),header({body}),out_port(1))")).unwrap().remove(0)
        }),
    ]
}

fn arb_actions() -> impl Strategy<Value = Vec<OdpAction>> {
    let leaf = arb_leaf();
    let tree = leaf.prop_recursive(3, 24, 4, |inner| {
        let list = proptest::collection::vec(inner, 0..4);
        prop_oneof![
            list.clone().prop_map(OdpAction::Clone),
            list.clone().prop_map(OdpAction::DecTtl),
            (0u32..=1000, list.clone()).prop_map(|(t, actions)| OdpAction::Sample {
                probability: ((u32::MAX as f64) * (t as f64 / 1000.0) + 0.5).floor() as u32,
                actions
            }),
            (any::<u16>(), list.clone(), list)
                .prop_map(|(pkt_len, gt, le)| OdpAction::CheckPktLen { pkt_len, gt, le }),
        ]
    });
    proptest::collection::vec(tree, 0..5)
}

/// Canonical form of an action list: what parsing its text yields (a `set`
/// with all-ones masks is a full `set`).
fn canon(a: Vec<OdpAction>) -> Vec<OdpAction> {
    parse_actions(&format_actions(&a)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn prop_match_format_parse_identity(m in arb_match()) {
        let s = format_match(&m);
        let p = parse_match(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        prop_assert_eq!(&p, &m, "{}", s);
        prop_assert_eq!(format_match(&p), s);
    }

    #[test]
    fn prop_random_match_text_is_stable(w in proptest::collection::vec(any::<u64>(), crate::flow::FLOW_WORDS), mw in proptest::collection::vec(any::<u64>(), crate::flow::FLOW_WORDS), et in prop_oneof![Just(0x0800u64), Just(0x86dd), Just(0x0806), Just(0x8847), Just(0x8100)]) {
        let mut k = Flow::zero();
        let mut m = Flow::zero();
        k.w.copy_from_slice(&w);
        m.w.copy_from_slice(&mw);
        k.set(F::ETH_TYPE, et);
        m.set(F::ETH_TYPE, 0xffff);
        k.set(F::PACKET_TYPE, 0);
        k.set(F::TUN_OPTS_LEN, 0);
        let mm = Match::new(&k, &m);
        let s = format_match(&mm);
        let p = parse_match(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        prop_assert_eq!(format_match(&p), s);
    }

    #[test]
    fn prop_actions_format_parse_identity(a in arb_actions()) {
        // Lists that are exactly [drop] print like the empty list.
        let a = canon(a);
        let s = format_actions(&a);
        let p = parse_actions(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        prop_assert_eq!(&p, &a, "{}", s);
        prop_assert_eq!(format_actions(&p), s);
    }

    #[test]
    fn prop_flow_line_identity(m in arb_match(), a in arb_actions(), pk in any::<u64>(), by in any::<u64>(), used in proptest::option::of(0u64..NOW), fl in 0u16..0x1000, u in proptest::option::of(any::<u128>())) {
        let f = DumpedFlow {
            ufid: u.map(crate::matches::Ufid),
            m,
            stats: crate::matches::FlowStats { packets: pk, bytes: by, used_ns: used.map(|x| x / 1_000_000 * 1_000_000), tcp_flags: fl },
            actions: canon(a),
        };
        let s = format_flow(&f, NOW);
        let p = parse_flow(&s, NOW).unwrap_or_else(|e| panic!("{s}: {e}"));
        prop_assert_eq!(p, f);
    }

    #[test]
    fn prop_garbage_never_panics(s in "\\PC{0,80}") {
        let _ = parse_match(&s);
        let _ = parse_actions(&s);
        let _ = parse_flow(&s, NOW);
    }

    #[test]
    fn prop_mutated_never_panics(m in arb_match(), a in arb_actions(), pos in any::<usize>(), cut in any::<usize>(), ins in "[(),=/:{}+\\-|.0-9a-fx ]{0,4}") {
        for s in [format_match(&m), format_actions(&a), format_flow(&DumpedFlow { ufid: None, m: m.clone(), stats: Default::default(), actions: a.clone() }, NOW)] {
            let n = s.len().max(1);
            let p = pos % n;
            let c = (p + cut % 6).min(s.len());
            let mut t = String::new();
            t.push_str(&s[..p]);
            t.push_str(&ins);
            t.push_str(&s[c..]);
            let _ = parse_match(&t);
            let _ = parse_actions(&t);
            let _ = parse_flow(&t, NOW);
        }
    }
}
