//! The TLV table (Geneve option to `tun_metadataN`) through the real
//! `ovs-ofctl add-tlv-map` / `dump-tlv-map` / `del-tlv-map`, with Open
//! vSwitch's errors for bad mods, and flows on unmapped `tun_metadata`
//! fields refused.

mod common;

use common::{can_run, unique, Env};

fn bridge(e: &mut Env) -> String {
    let br = unique("rvt");
    e.add_br(&br);
    let mgmt = e.dir.join(format!("{br}.mgmt"));
    common::wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
    br
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
    assert!(err.contains("OFPBMC_BAD_FIELD"), "{err}");
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
