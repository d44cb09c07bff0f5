//! OpenFlow 1.1 standard match (`ofp11_match`, OpenFlow 1.1.0 section
//! A.2.3): what the real `ovs-ofctl -O OpenFlow11` sends decodes to the
//! fields it names and re-encodes to the same bytes.

mod common;
use common::*;
use ofproto::ofp::multipart::{mp_type, MpRepBody, MultipartReply, TableStats};
use ofproto::ofp::oxm::Field;
use ofproto::ofp::Message;

/// `ovs-ofctl -O OpenFlow11` asks for table statistics (88-byte
/// `ofp11_table_stats`) before a flow_mod.
fn table_stats(_v: u8, _h: &ofproto::ofp::Header, m: &Message) -> Option<Vec<Message>> {
    match m {
        Message::MultipartRequest(r) if r.mp_type == mp_type::TABLE => {
            Some(vec![Message::MultipartReply(MultipartReply {
                mp_type: mp_type::TABLE,
                flags: 0,
                nx: false,
                body: MpRepBody::Table(vec![TableStats {
                    table_id: 0,
                    name: "classifier".into(),
                    wildcards: 0x3ff,
                    max_entries: 1_000_000,
                    ..Default::default()
                }]),
            })])
        }
        _ => None,
    }
}

#[test]
fn of11_flow_mods_decode_and_round_trip() {
    if !have_ofctl() {
        return;
    }
    for (flow, checks) in [
        (
            "priority=5,in_port=3,tcp,nw_src=10.0.0.0/8,tp_dst=80,actions=output:2",
            vec![
                (Field::InPort, vec![0, 0, 0, 3]),
                (Field::EthType, vec![8, 0]),
                (Field::IpProto, vec![6]),
                (Field::Ipv4Src, vec![10, 0, 0, 0]),
                (Field::TcpDst, vec![0, 80]),
            ],
        ),
        (
            "dl_vlan=5,dl_src=00:01:02:03:04:05,arp,arp_op=1,actions=drop",
            vec![
                (Field::VlanVid, vec![0x10, 5]),
                (Field::EthSrc, vec![0, 1, 2, 3, 4, 5]),
                (Field::ArpOp, vec![0, 1]),
            ],
        ),
        (
            "metadata=0x5/0xff,udp,nw_tos=8,tp_src=53,actions=drop",
            vec![
                (Field::Metadata, vec![0, 0, 0, 0, 0, 0, 0, 5]),
                (Field::IpDscp, vec![2]),
                (Field::UdpSrc, vec![0, 53]),
            ],
        ),
    ] {
        let s = run_ofctl(
            &[2],
            &["-O", "OpenFlow11", "add-flow", "SOCK", flow],
            &table_stats,
        );
        assert!(s.ok, "{flow}: {}", s.stderr);
        assert_eq!(s.version, 2);
        assert_roundtrip(&s);
        let fm = s
            .msgs
            .iter()
            .find_map(|(_, m)| match m {
                Message::FlowMod(f) => Some(f.clone()),
                _ => None,
            })
            .expect("flow_mod");
        let fields = fm.match_.fields();
        for (f, v) in checks {
            assert_eq!(
                fields.get(f).map(|m| m.value.clone()),
                Some(v),
                "{flow}: {f:?} in {fields:?}"
            );
        }
    }
}
