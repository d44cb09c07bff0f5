//! The TLV table (Geneve option to `tun_metadataN`) through the real
//! `ovs-ofctl add-tlv-map` / `dump-tlv-map` / `del-tlv-map`, with Open
//! vSwitch's errors for bad mods, flows on unmapped `tun_metadata` fields
//! refused, flows on mapped ones round-tripping through dump-flows, and a
//! mapping in use kept.

mod common;

use common::{can_run, Env};

fn bridge(e: &mut Env) -> String {
    common::of_bridge(e, "rvt")
}

#[test]
fn tlv_map_add_dump_delete_and_errors() {
    if !can_run("tlv_map_add_dump_delete_and_errors") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    let ok = |args: &[&str]| {
        e.ofctl(args)
            .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
    };
    let dump = ok(&["dump-tlv-map", &br]);
    assert!(
        dump.contains("max option space=256 max fields=64"),
        "{dump}"
    );
    assert!(dump.contains("allocated option space=0"), "{dump}");
    ok(&[
        "add-tlv-map",
        &br,
        "{class=0xffff,type=0,len=4}->tun_metadata0,{class=0x0102,type=0x80,len=8}->tun_metadata3",
    ]);
    let dump = ok(&["dump-tlv-map", &br]);
    assert!(dump.contains("allocated option space=12"), "{dump}");
    assert!(
        dump.contains(" 0xffff     0       4  tun_metadata0")
            && dump.contains("  0x102  0x80       8  tun_metadata3"),
        "{dump}"
    );
    // Errors as Open vSwitch reports them.
    let err = e
        .ofctl(&[
            "add-tlv-map",
            &br,
            "{class=0x1,type=0,len=4}->tun_metadata0",
        ])
        .unwrap_err();
    assert!(err.contains("NXTTMFC_ALREADY_MAPPED"), "{err}");
    let err = e
        .ofctl(&[
            "add-tlv-map",
            &br,
            "{class=0xffff,type=0,len=4}->tun_metadata1",
        ])
        .unwrap_err();
    assert!(err.contains("NXTTMFC_DUP_ENTRY"), "{err}");
    let err = e
        .ofctl(&[
            "add-tlv-map",
            &br,
            "{class=0x1,type=0,len=5}->tun_metadata1",
        ])
        .unwrap_err();
    assert!(err.contains("NXTTMFC_BAD_OPT_LEN"), "{err}");
    let full = (10..13)
        .map(|i| format!("{{class=0x2,type={i},len=124}}->tun_metadata{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let err = e.ofctl(&["add-tlv-map", &br, &full]).unwrap_err();
    assert!(err.contains("NXTTMFC_TABLE_FULL"), "{err}");
    // A flow on an unmapped field is refused.
    let err = e
        .ofctl(&[
            "-O",
            "OpenFlow13",
            "add-flow",
            &br,
            "tun_metadata5=0x1234,actions=drop",
        ])
        .unwrap_err();
    assert!(err.contains("NXFMFC_INVALID_TLV_FIELD"), "{err}");
    ok(&[
        "del-tlv-map",
        &br,
        "{class=0xffff,type=0,len=4}->tun_metadata0",
    ]);
    let dump = ok(&["dump-tlv-map", &br]);
    assert!(
        dump.contains("allocated option space=8") && !dump.contains("tun_metadata0"),
        "{dump}"
    );
    ok(&["del-tlv-map", &br]);
    let dump = ok(&["dump-tlv-map", &br]);
    assert!(dump.contains("allocated option space=0"), "{dump}");
}

#[test]
fn tun_metadata_flows_round_trip_and_pin_their_mapping() {
    if !can_run("tun_metadata_flows_round_trip_and_pin_their_mapping") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    let ok = |args: &[&str]| {
        e.ofctl(args)
            .unwrap_or_else(|err| panic!("{err}\n{}", e.log()))
    };
    let map0 = "{class=0xffff,type=0,len=4}->tun_metadata0";
    ok(&[
        "add-tlv-map",
        &br,
        &format!("{map0},{{class=0x0102,type=0x80,len=8}}->tun_metadata1"),
    ]);
    // An action on an unmapped field is refused too.
    let err = e
        .ofctl(&[
            "-O",
            "OpenFlow13",
            "add-flow",
            &br,
            "actions=set_field:0x5->tun_metadata7,NORMAL",
        ])
        .unwrap_err();
    assert!(err.contains("NXFMFC_INVALID_TLV_FIELD"), "{err}");
    for proto in ["OpenFlow10", "OpenFlow13"] {
        ok(&[
            "-O",
            proto,
            "add-flow",
            &br,
            "priority=7,tun_metadata0=0x1234,actions=set_field:0x5->tun_metadata1,NORMAL",
        ]);
        ok(&[
            "-O",
            proto,
            "add-flow",
            &br,
            "priority=6,tun_metadata1=0x10/0xf0,actions=drop",
        ]);
        let dump = ok(&["-O", proto, "dump-flows", &br]);
        assert!(
            dump.contains(
                "priority=7,tun_metadata0=0x1234 actions=set_field:0x5->tun_metadata1,NORMAL"
            ),
            "{proto}: {dump}"
        );
        assert!(
            dump.contains("priority=6,tun_metadata1=0x10/0xf0 actions=drop"),
            "{proto}: {dump}"
        );
        // The mapping a flow uses cannot go.
        let err = e.ofctl(&["del-tlv-map", &br, map0]).unwrap_err();
        assert!(err.contains("NXTTMFC_INVALID_TLV_DEL"), "{proto}: {err}");
        let err = e.ofctl(&["del-tlv-map", &br]).unwrap_err();
        assert!(err.contains("NXTTMFC_INVALID_TLV_DEL"), "{proto}: {err}");
        ok(&["del-flows", &br, "tun_metadata0=0x1234"]);
        let dump = ok(&["dump-flows", &br]);
        assert!(!dump.contains("tun_metadata0"), "{proto}: {dump}");
        assert!(dump.contains("tun_metadata1=0x10/0xf0"), "{proto}: {dump}");
        ok(&["del-flows", &br]);
    }
    ok(&["del-tlv-map", &br, map0]);
    let dump = ok(&["dump-tlv-map", &br]);
    assert!(!dump.contains("tun_metadata0"), "{dump}");
}
