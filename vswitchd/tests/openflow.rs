//! The bridge as an OpenFlow switch, driven only by the real tools:
//! `ovs-vsctl` creates bridges and ports, `ovs-ofctl` programs flows over
//! `$OVS_RUNDIR/<bridge>.mgmt` (OpenFlow 1.0 + NXM, 1.3, 1.4, 1.5, bundles),
//! `ovs-appctl` traces, and traffic between namespaces checks the datapath
//! follows the tables (and revalidates when they change).

mod common;

use common::{can_run, traffic_lock, unique, Env, Ns};
use std::process::Command;

/// `ovs-ofctl ARGS` against the test's run directory.
fn ofctl(e: &Env, args: &[&str]) -> Result<String, String> {
    let out = Command::new("ovs-ofctl")
        .env("OVS_RUNDIR", &e.dir)
        .arg("--timeout=10")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ovs-ofctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// `dump-flows` output without the reply header, the volatile fields
/// (duration, counters, ages) and the defaults `cookie=0x0`, `table=0`, one
/// flow per line, sorted.
fn flows(e: &Env, br: &str, proto: Option<&str>) -> Vec<String> {
    let mut args = vec![];
    if let Some(p) = proto {
        args.push("-O");
        args.push(p);
    }
    args.extend_from_slice(&["dump-flows", br]);
    let out = ofctl(e, &args).unwrap();
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.contains("reply") && !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .split(", ")
                .filter(|p| {
                    ![
                        "duration=",
                        "n_packets=",
                        "n_bytes=",
                        "idle_age=",
                        "hard_age=",
                    ]
                    .iter()
                    .any(|k| p.starts_with(k))
                        && *p != "cookie=0x0"
                        && *p != "table=0"
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn bridge(e: &mut Env) -> String {
    let br = unique("rvo");
    e.add_br(&br);
    let mgmt = e.dir.join(format!("{br}.mgmt"));
    common::wait_for(10, || mgmt.exists().then_some(())).expect("mgmt socket");
    br
}

#[test]
fn flow_table_crud_over_every_version() {
    if !can_run("flow_table_crud_over_every_version") {
        return;
    }
    let mut e = Env::new();
    let br = bridge(&mut e);
    // The default flow of a bridge without controller.
    assert_eq!(flows(&e, &br, None), sorted(&["priority=0 actions=NORMAL"]));
    ofctl(&e, &["del-flows", &br]).unwrap();
    assert!(flows(&e, &br, None).is_empty());
    for proto in [
        None,
        Some("OpenFlow13"),
        Some("OpenFlow14"),
        Some("OpenFlow15"),
    ] {
        let mut pre: Vec<&str> = Vec::new();
        if let Some(p) = proto {
            pre.extend_from_slice(&["-O", p]);
        }
        let run = |args: &[&str]| {
            let mut a = pre.clone();
            a.extend_from_slice(args);
            ofctl(&e, &a).unwrap()
        };
        run(&["add-flow", &br, "in_port=1,actions=output:2"]);
        run(&[
            "add-flow",
            &br,
            "priority=200,ip,nw_dst=10.0.0.0/24,actions=drop",
        ]);
        run(&[
            "add-flow",
            &br,
            "table=1,cookie=0x5,priority=7,tcp,tp_dst=80,actions=mod_dl_dst:02:00:00:00:00:09,resubmit(,2)",
        ]);
        run(&["add-flow", &br, "table=2,reg0=0x7,actions=NORMAL"]);
        let expect_of = |v13: bool| {
            let goto = if v13 { "goto_table:1" } else { "resubmit(,1)" };
            let _ = goto;
            sorted(&[
                "in_port=1 actions=output:2",
                "priority=200,ip,nw_dst=10.0.0.0/24 actions=drop",
                "cookie=0x5, table=1, priority=7,tcp,tp_dst=80 actions=mod_dl_dst:02:00:00:00:00:09,resubmit(,2)",
                "table=2, reg0=0x7 actions=NORMAL",
            ])
        };
        let got = flows(&e, &br, proto);
        let want = expect_of(proto.is_some());
        // OpenFlow 1.2+ spells mod_dl_dst as set_field.
        let got: Vec<String> = got
            .into_iter()
            .map(|l| {
                l.replace(
                    "set_field:02:00:00:00:00:09->eth_dst",
                    "mod_dl_dst:02:00:00:00:00:09",
                )
            })
            .collect();
        assert_eq!(got, want, "{proto:?}");
        // mod-flows (loose) rewrites actions of every matching flow.
        run(&["mod-flows", &br, "in_port=1,actions=output:3"]);
        assert!(flows(&e, &br, proto).contains(&"in_port=1 actions=output:3".to_string()));
        // Strict delete needs the priority.
        run(&["--strict", "del-flows", &br, "ip,nw_dst=10.0.0.0/24"]);
        assert_eq!(flows(&e, &br, proto).len(), 4);
        run(&[
            "--strict",
            "del-flows",
            &br,
            "priority=200,ip,nw_dst=10.0.0.0/24",
        ]);
        assert_eq!(flows(&e, &br, proto).len(), 3);
        // del-flows by table and cookie.
        run(&["del-flows", &br, "table=1,cookie=0x5/-1"]);
        assert_eq!(flows(&e, &br, proto).len(), 2);
        run(&["del-flows", &br]);
        assert!(flows(&e, &br, proto).is_empty(), "{proto:?}");
    }
    // add-flows FILE and --bundle (atomic: one bad flow rejects them all).
    let file = e.dir.join("flows.txt");
    std::fs::write(
        &file,
        "priority=10,in_port=1,actions=output:2\npriority=10,in_port=2,actions=output:1\narp,actions=NORMAL\n",
    )
    .unwrap();
    ofctl(&e, &["add-flows", &br, file.to_str().unwrap()]).unwrap();
    assert_eq!(
        flows(&e, &br, None),
        sorted(&[
            "priority=10,in_port=1 actions=output:2",
            "priority=10,in_port=2 actions=output:1",
            "arp actions=NORMAL",
        ])
    );
    ofctl(&e, &["del-flows", &br]).unwrap();
    ofctl(
        &e,
        &[
            "-O",
            "OpenFlow14",
            "--bundle",
            "add-flows",
            &br,
            file.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(flows(&e, &br, None).len(), 3);
    std::fs::write(
        &file,
        "priority=5,in_port=3,actions=drop\npriority=10,in_port=1,actions=output:4\n",
    )
    .unwrap();
    let bad = e.dir.join("bad.txt");
    std::fs::write(
        &bad,
        "priority=5,in_port=7,actions=drop\npriority=10,in_port=1,dl_type=0x0800,nw_dst=1.2.3.4,actions=output:2\n",
    )
    .unwrap();
    // check_overlap makes the second flow overlap the existing in_port=1 one.
    let r = ofctl(
        &e,
        &[
            "-O",
            "OpenFlow14",
            "--bundle",
            "--flags=check_overlap",
            "add-flows",
            &br,
            bad.to_str().unwrap(),
        ],
    );
    assert!(r.is_err(), "overlap must fail the bundle");
    assert_eq!(
        flows(&e, &br, None).len(),
        3,
        "nothing of a failed bundle applied"
    );
    // dump-aggregate, dump-tables, show, dump-ports-desc.
    let agg = ofctl(&e, &["dump-aggregate", &br]).unwrap();
    assert!(agg.contains("flow_count=3"), "{agg}");
    let agg13 = ofctl(&e, &["-O", "OpenFlow13", "dump-aggregate", &br]).unwrap();
    assert!(agg13.contains("flow_count=3"), "{agg13}");
    let show = ofctl(&e, &["show", &br]).unwrap();
    assert!(show.contains("LOCAL("), "{show}");
    ofctl(&e, &["-O", "OpenFlow13", "dump-tables", &br]).unwrap();
    ofctl(&e, &["-O", "OpenFlow13", "dump-ports-desc", &br]).unwrap();
    ofctl(&e, &["dump-ports", &br]).unwrap();
    let log = e.log();
    assert!(!log.contains("|ERR|"), "{log}");
}
