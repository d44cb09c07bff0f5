//! `tun_metadata`: matches on mapped Geneve options become exact megaflow
//! matches on the options, and set_field becomes `set(tunnel(...))`.

use super::*;
use crate::ofp::nicira::TlvMap;
use crate::table::key::match_from_oxm_tlv;
use crate::tlv::nxttmc;

/// Maps option (0x0102, 0x80, 4 bytes) to tun_metadata0 and
/// (0xffff, 1, 8 bytes) to tun_metadata1.
fn mapped() -> Pipeline {
    let p = pipeline();
    let maps = [
        TlvMap {
            option_class: 0x0102,
            option_type: 0x80,
            option_len: 4,
            index: 0,
        },
        TlvMap {
            option_class: 0xffff,
            option_type: 1,
            option_len: 8,
            index: 1,
        },
    ];
    p.tlv.write().apply(nxttmc::ADD, &maps, |_| false).unwrap();
    p
}

fn geneve_pkt(opts: &[u8]) -> Flow {
    let mut fl = ip_pkt(11);
    fl.set(f::TUN_ID, 5);
    fl.set(f::TUN_DST, 0xc0a8_0001);
    fl.set_tun_opts(opts);
    fl
}

/// An option we do not map, then tun_metadata0 = 0x1234.
const OPTS: &[u8] = &[
    0x09, 0x09, 0x01, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, //
    0x01, 0x02, 0x80, 0x01, 0x00, 0x00, 0x12, 0x34,
];

#[test]
fn tun_metadata_match_and_set_field() {
    let p = mapped();
    let md0 = MatchField::new(Field::TunMetadata(0), &[0x12, 0x34], None, true).unwrap();
    let (value, mask) = {
        let om = OxmMatch { fields: vec![md0] };
        match_from_oxm_tlv(&om, &p.tlv.read()).unwrap()
    };
    let set = MatchField::new(Field::TunMetadata(1), &[5], None, true).unwrap();
    let spec = FlowModSpec {
        command: command::ADD,
        table_id: 0,
        priority: 10,
        value,
        mask,
        cookie: 0,
        cookie_mask: 0,
        new_cookie: None,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        importance: 0,
        out_port: OFPP_ANY,
        instructions: apply(vec![Action::SetField(set), out(2)]),
        modify_may_add: false,
    };
    p.tables.write().apply(&spec, 0).unwrap();
    assert!(p.tables.read().tlv_in_use(0) && p.tables.read().tlv_in_use(1));
    assert!(!p.tables.read().tlv_in_use(2));

    let x = p.xlate(&geneve_pkt(OPTS), 0, true, false);
    let mut want = dp_core::packet::TunnelMetadata {
        tun_id: 5,
        ipv4_dst: 0xc0a8_0001,
        ..Default::default()
    };
    // tun_metadata0 as received, then the new tun_metadata1; the unmapped
    // option is not kept (as OVS re-encodes mapped metadata only).
    let opts: Vec<u8> = [
        &OPTS[8..],
        &[0xff, 0xff, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 5][..],
    ]
    .concat();
    want.opts[..opts.len()].copy_from_slice(&opts);
    want.opts_len = opts.len() as u8;
    assert_eq!(
        x.actions,
        vec![
            OdpAction::Set(SetAttr::Tunnel(Box::new(want))),
            OdpAction::Output(12)
        ]
    );
    // The megaflow matches the options exactly.
    assert_eq!(x.mask.get(f::TUN_OPTS_LEN), 0xff);
    assert!(x.mask.w[TUN_OPTS_WORD..TUN_OPTS_WORD + TUN_OPTS_WORDS]
        .iter()
        .all(|&w| w == u64::MAX));

    // Another value of the option, or no option at all: no match, and a
    // packet that never meets tun_metadata keeps its options wildcarded.
    let mut other = OPTS.to_vec();
    other[15] = 0x35;
    assert!(p
        .xlate(&geneve_pkt(&other), 0, true, false)
        .actions
        .is_empty());
    let x = p.xlate(&geneve_pkt(&OPTS[..8]), 0, true, false);
    assert!(x.actions.is_empty());
    let x = p.xlate(&ip_pkt(11), 0, true, false);
    assert!(x.actions.is_empty());
}

#[test]
fn unmapped_tun_metadata_is_invalid_tlv_field() {
    let p = mapped();
    let md5 = MatchField::new(Field::TunMetadata(5), &[1], None, true).unwrap();
    let om = OxmMatch { fields: vec![md5] };
    let err = match_from_oxm_tlv(&om, &p.tlv.read()).unwrap_err();
    assert_eq!(err.code.nx_codes(), Some((536, 37)));
}
