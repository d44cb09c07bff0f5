//! The `ct` action through the datapath with the real connection tracker: a
//! stateful firewall written the way operators write it in OpenFlow
//! (`table=0,ip,ct_state=-trk,actions=ct(table=1)`,
//! `table=1,ct_state=+trk+new,in_port=1,actions=ct(commit),output:2`,
//! `table=1,ct_state=+trk+est,actions=output:<other>`), expressed directly as
//! the datapath actions and megaflow masks xlate would produce, until the
//! OpenFlow layer exists.

use conntrack::Conntrack;
use dp_core::actions::{CtAction, OdpAction};
use dp_core::fastpath::Upcall;
use dp_core::flow::{ct_state, fields, Flow};
use dp_core::packet::DpPacket;
use netdev::dummy::DummyNetdev;
use netdev::Options;
use pmd::{Datapath, DpConfig, UpcallProvider};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Firewall;

impl UpcallProvider for Firewall {
    fn upcall(&self, _pkt: &DpPacket, flow: &Flow) -> Result<Upcall, String> {
        let mut mask = Flow::zero();
        for f in [fields::IN_PORT, fields::RECIRC_ID, fields::ETH_TYPE] {
            mask.set_exact(f);
        }
        let in_port = flow.get(fields::IN_PORT) as u32;
        let other = if in_port == 1 { 2 } else { 1 };
        let actions = if flow.get(fields::ETH_TYPE) != 0x0800 {
            vec![OdpAction::Output(other)]
        } else if flow.get(fields::RECIRC_ID) == 0 {
            // table=0: ip,ct_state=-trk -> ct(zone=1,table=1)
            mask.set(fields::CT_STATE, ct_state::TRACKED as u64);
            vec![
                OdpAction::Ct(CtAction {
                    zone: 1,
                    ..Default::default()
                }),
                OdpAction::Recirc(1),
            ]
        } else {
            mask.set(
                fields::CT_STATE,
                (ct_state::NEW | ct_state::ESTABLISHED | ct_state::TRACKED) as u64,
            );
            let st = flow.get(fields::CT_STATE) as u8;
            if st & ct_state::ESTABLISHED != 0 {
                vec![OdpAction::Output(other)]
            } else if st & ct_state::NEW != 0 && in_port == 1 {
                vec![
                    OdpAction::Ct(CtAction {
                        zone: 1,
                        commit: true,
                        ..Default::default()
                    }),
                    OdpAction::Output(2),
                ]
            } else {
                vec![]
            }
        };
        Ok(Upcall {
            actions,
            mask: Some(mask),
            ufid: None,
        })
    }
}

fn dummy() -> Arc<DummyNetdev> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "ct{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    DummyNetdev::open(&name, &Options::new()).unwrap()
}

/// TCP flags of a crafted segment.
#[derive(Clone, Copy)]
enum Flags {
    Syn,
    SynAck,
    Ack,
}

/// A TCP segment from host `src` to host `dst` (addresses 10.0.0.N, MACs
/// 02:00:00:00:00:NN) with sequence `seq` and acknowledgement `ackn`.
fn tcp(src: u8, dst: u8, ports: (u16, u16), flags: Flags, seq: u32, ackn: u32) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, src], [2, 0, 0, 0, 0, dst])
        .ipv4([10, 0, 0, src], [10, 0, 0, dst], 64)
        .tcp(ports.0, ports.1, seq, 64240);
    b = match flags {
        Flags::Syn => b.syn(),
        Flags::SynAck => b.syn().ack(ackn),
        Flags::Ack => b.ack(ackn),
    };
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn wait_sent(p: &DummyNetdev, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(p.take_sent());
        std::thread::sleep(Duration::from_millis(1));
    }
    got
}

#[test]
fn stateful_firewall_admits_replies_and_blocks_unsolicited_inbound() {
    let (inside, outside) = (dummy(), dummy());
    let ct = Arc::new(Conntrack::new(Default::default()));
    let cfg = DpConfig {
        pmd_max_sleep_us: 200,
        ..DpConfig::default()
    };
    let mut dp = Datapath::new(cfg, Arc::new(Firewall), Some(ct.clone()));
    dp.add_port(1, inside.clone(), None).unwrap();
    dp.add_port(2, outside.clone(), None).unwrap();

    // Outbound SYN: committed and forwarded.
    let syn = tcp(1, 2, (40000, 80), Flags::Syn, 1000, 0);
    inside.receive(&syn);
    assert_eq!(wait_sent(&outside, 1), vec![syn]);
    // The SYN-ACK reply is established and admitted.
    let synack = tcp(2, 1, (80, 40000), Flags::SynAck, 5000, 1001);
    outside.receive(&synack);
    assert_eq!(wait_sent(&inside, 1), vec![synack]);
    let ack = tcp(1, 2, (40000, 80), Flags::Ack, 1001, 5001);
    inside.receive(&ack);
    assert_eq!(wait_sent(&outside, 1), vec![ack]);

    // Unsolicited inbound SYN to another port: dropped.
    outside.receive(&tcp(2, 1, (80, 22), Flags::Syn, 7, 0));
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        inside.take_sent().is_empty(),
        "unsolicited inbound must be dropped"
    );

    let dump = conntrack::format::format_dump(&ct.dump(Some(1), 0), false, false);
    assert!(
        dump.contains("tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80)"),
        "{dump}"
    );
    assert_eq!(ct.n_conns(), 1);
}
