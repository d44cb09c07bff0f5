//! Unit tests of the sans-IO core (no server).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::data::{Atom, Datum, Row, Uuid};
use crate::idl::{Idl, IdlConfig, IdlEvent, MonitorMethod, TableSelect};
use crate::jsonrpc::{Framer, Incoming, Message, Session};
use crate::schema::{AtomicType, ColumnType, DatabaseSchema};
use crate::transact::{
    parse_transact_result, Condition, Function, Mutation, Mutator, OpResult, Transaction, WaitUntil,
};
use crate::Error;

const U1: &str = "550e8400-e29b-41d4-a716-446655440000";
const U2: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

fn u(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

// ---- framing ----

#[test]
fn framer_concatenated_and_split() {
    let a = r#"{"id":1,"result":[],"error":null}"#;
    let b = r#"{"method":"echo","params":["x"],"id":"echo"}"#;
    let all = format!("{a} {b}\n{a}");
    let mut f = Framer::new();
    assert_eq!(f.push(all.as_bytes()).unwrap().len(), 3);
    assert_eq!(f.pending(), 0);
    // Every split point of two concatenated objects yields both, once.
    let two = format!("{a}{b}");
    for cut in 0..=two.len() {
        let mut f = Framer::new();
        let mut got = f.push(&two.as_bytes()[..cut]).unwrap();
        got.extend(f.push(&two.as_bytes()[cut..]).unwrap());
        assert_eq!(got.len(), 2, "cut at {cut}");
        assert_eq!(got[1]["method"], "echo");
    }
    // Byte by byte, including a multibyte UTF-8 string.
    let s = r#"{"method":"x","params":["hé€"],"id":null}"#;
    let mut f = Framer::new();
    let mut got = Vec::new();
    for b in s.as_bytes() {
        got.extend(f.push(std::slice::from_ref(b)).unwrap());
    }
    assert_eq!(got, vec![serde_json::from_str::<Value>(s).unwrap()]);
}

#[test]
fn framer_rejects_garbage() {
    let mut f = Framer::new();
    assert!(matches!(f.push(b"{\"a\":1} }"), Err(Error::Protocol(_))));
    let mut f = Framer::new();
    assert!(f.push(b"[1, 2").unwrap().is_empty());
    assert!(matches!(f.push(b" x]"), Err(Error::Protocol(_))));
}

#[test]
fn message_shapes() {
    let m = Message::from_json(json!({"method": "update2", "params": [1], "id": null})).unwrap();
    assert_eq!(
        m,
        Message::Notification {
            method: "update2".into(),
            params: json!([1])
        }
    );
    let m =
        Message::from_json(json!({"result": null, "error": "unknown method", "id": 3})).unwrap();
    assert_eq!(
        m,
        Message::Response {
            result: Err(json!("unknown method")),
            id: json!(3)
        }
    );
    assert!(Message::from_json(json!([1])).is_err());
    assert!(Message::from_json(json!({"foo": 1})).is_err());
    assert!(Message::from_json(json!({"method": 5, "id": 1})).is_err());
    let r = Message::Request {
        method: "list_dbs".into(),
        params: json!([]),
        id: json!(1),
    };
    assert_eq!(Message::from_json(r.to_json()).unwrap(), r);
}

#[test]
fn session_echo_ids_and_probe() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, Some(Duration::from_secs(5)));
    let id = s.request("list_dbs", json!([]));
    let sent: Value = serde_json::from_slice(&s.take_transmit()).unwrap();
    assert_eq!(sent, json!({"method": "list_dbs", "params": [], "id": id}));
    // Server echo answered automatically, response matched to the request.
    let input = format!(
        r#"{{"method":"echo","params":["ping"],"id":"echo"}}{{"result":["Open_vSwitch"],"error":null,"id":{id}}}{{"result":1,"error":null,"id":999}}"#
    );
    s.receive(input.as_bytes(), t0).unwrap();
    let reply: Value = serde_json::from_slice(&s.take_transmit()).unwrap();
    assert_eq!(
        reply,
        json!({"result": ["ping"], "error": null, "id": "echo"})
    );
    assert_eq!(
        s.poll(),
        Some(Incoming::Response {
            id,
            method: "list_dbs".into(),
            result: Ok(json!(["Open_vSwitch"]))
        })
    );
    assert_eq!(s.poll(), None, "unknown id 999 dropped");
    // Inactivity probe: echo after 5 s of silence, failure after 10 s.
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    s.handle_timeout(t0 + Duration::from_secs(4)).unwrap();
    assert!(!s.wants_transmit());
    s.handle_timeout(t0 + Duration::from_secs(5)).unwrap();
    let probe: Value = serde_json::from_slice(&s.take_transmit()).unwrap();
    assert_eq!(probe["method"], "echo");
    // The answer to the probe is swallowed and resets the timer.
    let ans = format!(r#"{{"result":[],"error":null,"id":{}}}"#, probe["id"]);
    s.receive(ans.as_bytes(), t0 + Duration::from_secs(6))
        .unwrap();
    assert_eq!(s.poll(), None);
    s.handle_timeout(t0 + Duration::from_secs(11)).unwrap();
    assert!(s.wants_transmit());
    s.take_transmit();
    assert!(matches!(
        s.handle_timeout(t0 + Duration::from_secs(16)),
        Err(Error::Disconnected(_))
    ));
}

// ---- data ----

fn ty(v: Value) -> ColumnType {
    ColumnType::parse(&v).unwrap()
}

#[test]
fn datum_json_round_trips() {
    let cases = [
        (json!(42), ty(json!("integer"))),
        (json!(-1.5), ty(json!("real"))),
        (json!(true), ty(json!("boolean"))),
        (json!("br0"), ty(json!("string"))),
        (json!(["uuid", U1]), ty(json!("uuid"))),
        (json!(["named-uuid", "row1"]), ty(json!({"key": "uuid"}))),
        (
            json!(["set", []]),
            ty(json!({"key": "integer", "min": 0, "max": 1})),
        ),
        (
            json!(["set", [1, 2, 3]]),
            ty(json!({"key": "integer", "min": 0, "max": 4095})),
        ),
        (
            json!(["set", [["uuid", U1], ["uuid", U2]]]),
            ty(json!({"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"})),
        ),
        (
            json!(["map", []]),
            ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"})),
        ),
        (
            json!(["map", [["a", "1"], ["b", "2"]]]),
            ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"})),
        ),
        (
            json!(["map", [["rx_packets", 10], ["tx_packets", 20]]]),
            ty(json!({"key": "string", "value": "integer", "min": 0, "max": "unlimited"})),
        ),
    ];
    for (j, t) in &cases {
        let d = Datum::from_json_typed(j, t).unwrap();
        assert_eq!(&d.to_json(), j);
        assert_eq!(Datum::from_json(j).unwrap(), d, "untyped {j}");
    }
    // A singleton set may be written bare or as ["set", [x]]; output is bare.
    let d = Datum::from_json(&json!(["set", ["x"]])).unwrap();
    assert_eq!(d, Datum::scalar("x"));
    assert_eq!(d.to_json(), json!("x"));
    // Typed coercions: integer into real, empty set into empty map.
    assert_eq!(
        Datum::from_json_typed(&json!(1), &ty(json!("real"))).unwrap(),
        Datum::scalar(Atom::Real(1.0))
    );
    let m = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
    assert_eq!(
        Datum::from_json_typed(&json!(["set", []]), &m).unwrap(),
        Datum::empty_map()
    );
    // Errors, never panics.
    for bad in [
        json!(null),
        json!({}),
        json!(["uuid", "nope"]),
        json!(["map", [[1]]]),
        json!(["set", [[1, 2, 3]]]),
    ] {
        assert!(Datum::from_json(&bad).is_err(), "{bad}");
    }
    assert!(Datum::from_json_typed(&json!("x"), &ty(json!("integer"))).is_err());
    assert!(Datum::from_json_typed(&json!(["map", [["a", "b"]]]), &ty(json!("string"))).is_err());
    // Accessors and ordering.
    let d = Datum::set([3i64, 1, 2]);
    assert_eq!(d.integers(), vec![1, 2, 3]);
    assert_eq!(Datum::from(Uuid::nil()).as_uuid(), Some(Uuid::nil()));
    assert_eq!(
        Datum::map([("k", "v")])
            .string_map()
            .get("k")
            .map(String::as_str),
        Some("v")
    );
}

#[test]
fn defaults() {
    assert_eq!(
        Datum::default_of(&ty(json!("integer"))),
        Datum::scalar(0i64)
    );
    assert_eq!(Datum::default_of(&ty(json!("string"))), Datum::scalar(""));
    assert_eq!(
        Datum::default_of(&ty(json!({"key": "integer", "min": 0}))),
        Datum::empty_set()
    );
    assert_eq!(
        Datum::default_of(&ty(
            json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"})
        )),
        Datum::empty_map()
    );
}

#[test]
fn update2_diff_semantics() {
    // Scalar: replaced.
    let mut d = Datum::scalar("a");
    d.apply_diff(&Datum::scalar("b"), &ColumnType::scalar(AtomicType::String))
        .unwrap();
    assert_eq!(d, Datum::scalar("b"));
    // Optional (0..1): symmetric difference {a} ^ {a, b} = {b}; {b} ^ {b} = {}.
    let opt = ty(json!({"key": "string", "min": 0, "max": 1}));
    let mut d = Datum::scalar("a");
    d.apply_diff(&Datum::set(["a", "b"]), &opt).unwrap();
    assert_eq!(d, Datum::scalar("b"));
    d.apply_diff(&Datum::scalar("b"), &opt).unwrap();
    assert_eq!(d, Datum::empty_set());
    // ... and an empty diff clears it (ovsdb-server 3.1 on `del-fail-mode`).
    let mut d = Datum::scalar("secure");
    d.apply_diff(&Datum::empty_set(), &opt).unwrap();
    assert_eq!(d, Datum::empty_set());
    // Set: symmetric difference.
    let set = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
    let mut d = Datum::set([1i64, 2, 3]);
    d.apply_diff(&Datum::set([2i64, 4]), &set).unwrap();
    assert_eq!(d, Datum::set([1i64, 3, 4]));
    // Map: same value removes, different value replaces, absent adds.
    let map = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
    let mut d = Datum::map([("a", "1"), ("b", "2"), ("c", "3")]);
    d.apply_diff(&Datum::map([("a", "1"), ("b", "9"), ("d", "4")]), &map)
        .unwrap();
    assert_eq!(d, Datum::map([("b", "9"), ("c", "3"), ("d", "4")]));
    // Mismatched shapes fail.
    assert!(d.apply_diff(&Datum::set(["x"]), &map).is_err());
}

#[test]
fn schema_parse() {
    let s = DatabaseSchema::parse(&json!({
        "name": "Test", "version": "1.2.3", "cksum": "1 2",
        "tables": {
            "Bridge": {
                "columns": {
                    "name": {"type": "string", "mutable": false},
                    "ports": {"type": {"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"}},
                    "fail_mode": {"type": {"key": {"type": "string", "enum": ["set", ["standalone", "secure"]]}, "min": 0, "max": 1}},
                    "mirrors": {"type": {"key": {"type": "uuid", "refTable": "Mirror", "refType": "weak"}, "min": 0, "max": "unlimited"}},
                    "tag": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 1}},
                    "other_config": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}, "ephemeral": true}
                },
                "isRoot": true, "indexes": [["name"]]
            }
        }
    }))
    .unwrap();
    assert_eq!(
        (s.name.as_str(), s.version.as_str(), s.cksum.as_deref()),
        ("Test", "1.2.3", Some("1 2"))
    );
    let b = &s.tables["Bridge"];
    assert!(b.is_root);
    assert_eq!(b.indexes, vec![vec!["name".to_string()]]);
    assert!(!b.columns["name"].mutable);
    assert!(b.columns["name"].ty.is_scalar());
    assert!(b.columns["other_config"].ephemeral);
    assert!(b.columns["other_config"].ty.is_map());
    let ports = &b.columns["ports"].ty;
    assert_eq!(
        (ports.min, ports.max, ports.key.ref_table.as_deref()),
        (0, None, Some("Port"))
    );
    assert_eq!(b.columns["mirrors"].ty.key.ref_type, crate::RefType::Weak);
    assert_eq!(
        b.columns["fail_mode"].ty.key.enum_values,
        Some(Datum::set(["secure", "standalone"]))
    );
    assert_eq!(b.columns["tag"].ty.key.max_integer, Some(4095));
    assert_eq!(s.column_type("Bridge", "tag").map(|t| t.max), Some(Some(1)));
    assert!(DatabaseSchema::parse(&json!({"name": "x"})).is_err());
    assert!(DatabaseSchema::parse(
        &json!({"name": "x", "tables": {"T": {"columns": {"c": {"type": "float"}}}}})
    )
    .is_err());
}

#[test]
fn real_vswitch_schema_parses_if_installed() {
    let Ok(text) = std::fs::read_to_string("/usr/share/openvswitch/vswitch.ovsschema") else {
        return; // covered by the integration tests, which require it
    };
    let s = DatabaseSchema::parse(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(s.name, "Open_vSwitch");
    assert!(s.column_type("Interface", "statistics").unwrap().is_map());
}

// ---- transact ----

#[test]
fn transact_builder_json() {
    let mut t = Transaction::new("Open_vSwitch");
    let mut row = Row::new();
    row.insert("name".into(), Datum::from("br0"));
    row.insert("ports".into(), Datum::set([Atom::NamedUuid("p".into())]));
    t.insert("Bridge", row, Some("b"));
    t.select(
        "Bridge",
        vec![Condition::new("name", Function::Eq, "br0")],
        Some(&["name", "_uuid"]),
    );
    t.update(
        "Bridge",
        vec![Condition::uuid(u(U1))],
        Row::from([("fail_mode".to_string(), Datum::from("secure"))]),
    );
    t.mutate(
        "Open_vSwitch",
        vec![],
        vec![
            Mutation::new("next_cfg", Mutator::Add, 1i64),
            Mutation::new(
                "bridges",
                Mutator::Insert,
                Datum::set([Atom::NamedUuid("b".into())]),
            ),
            Mutation::new("other_config", Mutator::Delete, Datum::set(["k"])),
        ],
    );
    t.delete(
        "Port",
        vec![Condition::new("tag", Function::Includes, 5i64)],
    );
    t.wait(
        "Bridge",
        vec![],
        &["name"],
        vec![Row::from([("name".to_string(), Datum::from("br0"))])],
        WaitUntil::NotEqual,
        Some(100),
    );
    t.commit(true);
    t.abort();
    t.comment("ovs-vsctl: add-br br0");
    t.assert_lock("ovs_vswitchd");
    assert_eq!(
        t.to_params(),
        json!(["Open_vSwitch",
            {"op": "insert", "table": "Bridge", "row": {"name": "br0", "ports": ["named-uuid", "p"]}, "uuid-name": "b"},
            {"op": "select", "table": "Bridge", "where": [["name", "==", "br0"]], "columns": ["name", "_uuid"]},
            {"op": "update", "table": "Bridge", "where": [["_uuid", "==", ["uuid", U1]]], "row": {"fail_mode": "secure"}},
            {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [
                ["next_cfg", "+=", 1], ["bridges", "insert", ["named-uuid", "b"]], ["other_config", "delete", "k"]]},
            {"op": "delete", "table": "Port", "where": [["tag", "includes", 5]]},
            {"op": "wait", "timeout": 100, "table": "Bridge", "where": [], "columns": ["name"], "until": "!=", "rows": [{"name": "br0"}]},
            {"op": "commit", "durable": true},
            {"op": "abort"},
            {"op": "comment", "comment": "ovs-vsctl: add-br br0"},
            {"op": "assert", "lock": "ovs_vswitchd"}
        ])
    );
    // verify(): a wait with timeout 0 on one row.
    let mut t = Transaction::new("Open_vSwitch");
    t.verify("Open_vSwitch", u(U1), "next_cfg", Datum::from(3i64));
    assert_eq!(
        t.ops[0].to_json(),
        json!({"op": "wait", "timeout": 0, "table": "Open_vSwitch", "where": [["_uuid", "==", ["uuid", U1]]],
               "columns": ["next_cfg"], "until": "==", "rows": [{"next_cfg": 3}]})
    );
}

#[test]
fn transact_results() {
    let r = parse_transact_result(
        &json!([{"uuid": ["uuid", U1]}, {"rows": [{"name": "br0"}]}, {"count": 2}, {}]),
        4,
    )
    .unwrap();
    assert_eq!(r[0], OpResult::Insert(u(U1)));
    assert_eq!(
        r[1],
        OpResult::Rows(vec![Row::from([("name".to_string(), Datum::from("br0"))])])
    );
    assert_eq!(r[2], OpResult::Count(2));
    assert_eq!(r[3], OpResult::Empty);
    // An operation error, and a commit error after all operations.
    let e = parse_transact_result(
        &json!([{}, {"error": "constraint violation", "details": "bad"}, null]),
        3,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Server { ref error, ref details } if error == "constraint violation" && details.as_deref() == Some("operation 1: bad"))
    );
    let e = parse_transact_result(
        &json!([{}, {"error": "referential integrity violation"}]),
        1,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Server { ref details, .. } if details.as_deref() == Some("commit")));
    assert!(parse_transact_result(&json!({"x": 1}), 1).is_err());
}

// ---- IDL ----

fn test_schema() -> Value {
    json!({"name": "DB", "version": "1.0.0", "tables": {
        "T": {"columns": {
            "name": {"type": "string"},
            "n": {"type": "integer"},
            "r": {"type": "real"},
            "tags": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
            "opt": {"type": {"key": "string", "min": 0, "max": 1}},
            "m": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}
        }},
        "Other": {"columns": {"x": {"type": "integer"}}}
    }})
}

/// Feeds `v` to the IDL as if from the server.
fn feed(idl: &mut Idl, v: Value) {
    idl.receive(
        serde_json::to_string(&v).unwrap().as_bytes(),
        Instant::now(),
    )
    .unwrap();
}

/// The requests the IDL sent since the last call.
fn sent(idl: &mut Idl) -> Vec<Value> {
    let b = idl.take_transmit();
    serde_json::Deserializer::from_slice(&b)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn idl_monitor_fallback_and_updates() {
    let mut cfg = IdlConfig::new("DB");
    cfg.tables = vec![TableSelect::all("T")];
    let mut idl = Idl::new(cfg);
    idl.connected(Instant::now());
    let req = sent(&mut idl);
    assert_eq!(req[0]["method"], "get_schema");
    assert_eq!(req[0]["params"], json!(["DB"]));
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "result": test_schema(), "error": null}),
    );
    let req = sent(&mut idl);
    assert_eq!(req[0]["method"], "monitor_cond_since");
    let p = &req[0]["params"];
    assert_eq!(p[0], "DB");
    assert_eq!(
        p[2]["T"][0]["columns"],
        json!(["m", "n", "name", "opt", "r", "tags"])
    );
    assert!(p[2].get("Other").is_none());
    assert_eq!(p[3], "00000000-0000-0000-0000-000000000000");
    // Server without monitor_cond_since, then without monitor_cond.
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "result": null, "error": "unknown method"}),
    );
    let req = sent(&mut idl);
    assert_eq!(req[0]["method"], "monitor_cond");
    assert_eq!(idl.monitor_method(), MonitorMethod::Cond);
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "result": null, "error": "unknown method"}),
    );
    let req = sent(&mut idl);
    assert_eq!(req[0]["method"], "monitor");
    assert!(req[0]["params"][2]["T"].is_object());
    // Plain monitor reply (RFC 7047 <table-updates>).
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "error": null, "result": {"T": {
            U1: {"new": {"name": "a", "n": 1, "r": 2, "tags": ["set", [1, 2]], "opt": ["set", []], "m": ["map", [["k", "v"]]]}}
        }}}),
    );
    assert!(idl.is_synced());
    assert!(matches!(
        idl.poll_event(),
        Some(IdlEvent::Synced { seqno: 1 })
    ));
    let row = idl.replica().row("T", &u(U1)).unwrap();
    assert_eq!(row["r"], Datum::scalar(Atom::Real(2.0)));
    assert_eq!(row["m"], Datum::map([("k", "v")]));
    let mon = req[0]["params"][1].clone();
    feed(
        &mut idl,
        json!({"method": "update", "id": null, "params": [mon, {"T": {
            U1: {"old": {"n": 1}, "new": {"name": "a", "n": 5, "r": 2, "tags": 3, "opt": "x", "m": ["map", []]}},
            U2: {"new": {"name": "b"}}
        }}]}),
    );
    assert!(matches!(
        idl.poll_event(),
        Some(IdlEvent::Changed { seqno: 2 })
    ));
    assert_eq!(
        idl.replica().get("T", &u(U1), "n"),
        Some(&Datum::from(5i64))
    );
    assert_eq!(
        idl.replica().get("T", &u(U1), "m"),
        Some(&Datum::empty_map())
    );
    assert_eq!(
        idl.replica().get("T", &u(U2), "tags"),
        Some(&Datum::empty_set()),
        "defaults filled"
    );
    feed(
        &mut idl,
        json!({"method": "update", "id": null, "params": [mon, {"T": {U2: {"old": {"name": "b"}}}}]}),
    );
    assert_eq!(idl.replica().len("T"), 1);
    assert_eq!(idl.change_seqno(), 3);
}

fn synced_cond_since() -> (Idl, Value) {
    let mut cfg = IdlConfig::new("DB");
    cfg.tables = vec![TableSelect::columns(
        "T",
        &["name", "tags", "opt", "m", "n"],
    )];
    let mut idl = Idl::new(cfg);
    idl.connected(Instant::now());
    let req = sent(&mut idl);
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "result": test_schema(), "error": null}),
    );
    let req = sent(&mut idl);
    let mon = req[0]["params"][1].clone();
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "error": null, "result": [false, "11111111-1111-1111-1111-111111111111", {"T": {
            U1: {"initial": {"name": "a", "tags": ["set", [1, 2]], "m": ["map", [["a", "1"], ["b", "2"]]]}}
        }}]}),
    );
    (idl, mon)
}

#[test]
fn idl_update3_and_resync() {
    let (mut idl, mon) = synced_cond_since();
    assert_eq!(idl.monitor_method(), MonitorMethod::CondSince);
    assert_eq!(
        idl.last_txn_id(),
        Some("11111111-1111-1111-1111-111111111111")
    );
    let row = idl.replica().row("T", &u(U1)).unwrap();
    assert_eq!(row["opt"], Datum::empty_set());
    assert_eq!(
        row["n"],
        Datum::from(0i64),
        "omitted scalar gets its default"
    );
    assert!(!row.contains_key("r"), "unselected column absent");
    // update3 with diffs.
    feed(
        &mut idl,
        json!({"method": "update3", "id": null, "params": [mon, "22222222-2222-2222-2222-222222222222", {"T": {
            U1: {"modify": {"name": "z", "tags": ["set", [2, 3]], "opt": "x", "m": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]]}},
            U2: {"insert": {"name": "b"}}
        }}]}),
    );
    let row = idl.replica().row("T", &u(U1)).unwrap();
    assert_eq!(row["name"], Datum::from("z"));
    assert_eq!(row["tags"], Datum::set([1i64, 3]));
    assert_eq!(row["opt"], Datum::from("x"));
    assert_eq!(row["m"], Datum::map([("b", "3"), ("c", "4")]));
    assert_eq!(
        idl.last_txn_id(),
        Some("22222222-2222-2222-2222-222222222222")
    );
    feed(
        &mut idl,
        json!({"method": "update3", "id": null, "params": [mon, "33333333-3333-3333-3333-333333333333", {"T": {U2: {"delete": null}}}]}),
    );
    assert_eq!(idl.replica().len("T"), 1);
    // Someone else's monitor is ignored.
    feed(
        &mut idl,
        json!({"method": "update3", "id": null, "params": ["other", "x", {"T": {U2: {"insert": {}}}}]}),
    );
    assert_eq!(idl.replica().len("T"), 1);
    let seq = idl.change_seqno();

    // Reconnect: resume from the last txn id; found=true keeps the replica.
    idl.disconnected();
    assert!(!idl.is_synced());
    idl.connected(Instant::now());
    let req = sent(&mut idl);
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "result": test_schema(), "error": null}),
    );
    let req = sent(&mut idl);
    assert_eq!(req[0]["params"][3], "33333333-3333-3333-3333-333333333333");
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "error": null, "result": [true, "44444444-4444-4444-4444-444444444444", {}]}),
    );
    assert_eq!(idl.replica().len("T"), 1);
    assert_eq!(idl.change_seqno(), seq + 1);
    // Reconnect with found=false: cleared and reloaded.
    idl.disconnected();
    idl.connected(Instant::now());
    let req = sent(&mut idl);
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "result": test_schema(), "error": null}),
    );
    let req = sent(&mut idl);
    feed(
        &mut idl,
        json!({"id": req[0]["id"], "error": null, "result": [false, "55555555-5555-5555-5555-555555555555", {"T": {U2: {"initial": {"name": "new"}}}}]}),
    );
    assert_eq!(idl.replica().len("T"), 1);
    assert!(idl.replica().row("T", &u(U2)).is_some());
}

#[test]
fn idl_requests_locks_and_errors() {
    let (mut idl, _) = synced_cond_since();
    while idl.poll_event().is_some() {}
    let mut t = Transaction::new("DB");
    t.comment("x");
    let tid = idl.transact(&t).unwrap();
    let lid = idl.lock("L").unwrap();
    let cid = idl.request("list_dbs", json!([])).unwrap();
    let req = sent(&mut idl);
    assert_eq!(
        req[0]["params"],
        json!(["DB", {"op": "comment", "comment": "x"}])
    );
    assert_eq!(
        req[1],
        json!({"method": "lock", "params": ["L"], "id": lid})
    );
    feed(&mut idl, json!({"id": tid, "result": [{}], "error": null}));
    feed(
        &mut idl,
        json!({"id": lid, "result": {"locked": true}, "error": null}),
    );
    feed(
        &mut idl,
        json!({"method": "stolen", "params": ["L"], "id": null}),
    );
    assert!(
        matches!(idl.poll_event(), Some(IdlEvent::Transact { id, result: Ok(ref r) }) if id == tid && r == &[OpResult::Empty])
    );
    assert!(matches!(idl.poll_event(), Some(IdlEvent::Reply { id, .. }) if id == lid));
    assert!(matches!(idl.poll_event(), Some(IdlEvent::Locked(ref n)) if n == "L"));
    assert!(matches!(idl.poll_event(), Some(IdlEvent::Stolen(ref n)) if n == "L"));
    // Pending requests fail on disconnect.
    idl.disconnected();
    assert!(
        matches!(idl.poll_event(), Some(IdlEvent::Reply { id, result: Err(Error::Disconnected(_)), .. }) if id == cid)
    );
    assert!(matches!(idl.poll_event(), Some(IdlEvent::Disconnected)));
    assert!(matches!(idl.transact(&t), Err(Error::Disconnected(_))));
}

#[test]
fn idl_schema_mismatch_and_malformed_input() {
    let mut cfg = IdlConfig::new("DB");
    cfg.tables = vec![TableSelect::columns("T", &["nope"])];
    let mut idl = Idl::new(cfg);
    idl.connected(Instant::now());
    let req = sent(&mut idl);
    let r = idl.receive(
        serde_json::to_vec(&json!({"id": req[0]["id"], "result": test_schema(), "error": null}))
            .unwrap()
            .as_slice(),
        Instant::now(),
    );
    assert!(matches!(r, Err(Error::SchemaMismatch(_))));

    // Malformed updates are errors, not panics.
    let bad_updates = [
        json!({"T": {"not-a-uuid": {"insert": {}}}}),
        json!({"T": {U1: {"insert": {"n": "string"}}}}),
        json!({"T": {U1: {"frobnicate": {}}}}),
        json!({"T": [1]}),
        json!(7),
    ];
    for bad in bad_updates {
        let (mut idl, mon) = synced_cond_since();
        let msg = json!({"method": "update3", "id": null, "params": [mon, "x", bad]});
        assert!(idl
            .receive(msg.to_string().as_bytes(), Instant::now())
            .is_err());
    }
    let (mut idl, _) = synced_cond_since();
    assert!(idl.receive(b"\x00garbage", Instant::now()).is_err());
}
