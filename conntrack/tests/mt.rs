//! Several threads hammer established connections and create new ones
//! (including the same tuples concurrently) while a sweeper runs.

mod common;
use common::*;
use conntrack::{Config, Conntrack};
use dp_core::flow::ct_state::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn threads_hammer_established_and_new() {
    const THREADS: usize = 4;
    const OWN: u16 = 300;
    const SHARED_EST: u16 = 16;
    const RACED: u16 = 100;
    let ct_ = Arc::new(Conntrack::new(Config {
        n_shards: 16,
        ..Config::default()
    }));
    let c = [10, 0, 0, 1];
    let s = [10, 0, 0, 2];
    for sp in 0..SHARED_EST {
        let mut p = udp4(c, s, sp, 7, b"x");
        ct_.execute_one(&mut p, &ct(0, true), 0);
        let mut p = udp4(s, c, 7, sp, b"x");
        ct_.execute_one(&mut p, &ct(0, true), 0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let (ct_, stop) = (ct_.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += ct_.sweep(SEC, 64).removed;
            }
            n
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let ct_ = ct_.clone();
            std::thread::spawn(move || {
                let mut est = 0u64;
                for round in 0..2000u16 {
                    // Established traffic on the shared connections.
                    let sp = round % SHARED_EST;
                    let mut p = if round % 2 == 0 {
                        udp4(c, s, sp, 7, b"x")
                    } else {
                        udp4(s, c, 7, sp, b"x")
                    };
                    ct_.execute_one(&mut p, &ct(0, false), SEC);
                    assert!(
                        p.md.ct_state & ESTABLISHED != 0,
                        "state {:#x}",
                        p.md.ct_state
                    );
                    est += 1;
                    // New connections of this thread (zone 1).
                    if round < OWN {
                        let mut p = udp4([10, 1, t as u8, 1], s, round, 9, b"y");
                        ct_.execute_one(&mut p, &ct(1, true), SEC);
                        assert_eq!(p.md.ct_state, TRACKED | NEW);
                    }
                    // Everyone races to create the same tuples (zone 2).
                    if round < RACED {
                        let mut p = tcp4([10, 2, 0, 1], s, 1000 + round, 80, 1, None, "S", &[]);
                        ct_.execute_one(&mut p, &ct(2, true), SEC);
                        assert_eq!(p.md.ct_state, TRACKED | NEW);
                    }
                }
                est
            })
        })
        .collect();
    let est: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(sweeper.join().unwrap(), 0);
    assert_eq!(est, THREADS as u64 * 2000);
    let total = SHARED_EST as u32 + THREADS as u32 * OWN as u32 + RACED as u32;
    assert_eq!(ct_.n_conns(), total);
    assert_eq!(ct_.dump(None, SEC).len() as u32, total);
    assert_eq!(ct_.zone_count(0), SHARED_EST as u32);
    assert_eq!(ct_.zone_count(1), THREADS as u32 * OWN as u32);
    assert_eq!(ct_.zone_count(2), RACED as u32);
    // Packet counters add up on the shared connections.
    let pk: u64 = ct_
        .dump(Some(0), SEC)
        .iter()
        .map(|e| e.packets[0] + e.packets[1])
        .sum();
    assert_eq!(pk, 2 * SHARED_EST as u64 + est);
    // Everything expires.
    let st = ct_.sweep(u64::MAX - 1, usize::MAX);
    assert_eq!(st.removed as u32, total);
    assert_eq!(ct_.n_conns(), 0);
    assert_eq!(ct_.zone_count(1), 0);
}
