//! Developer aid, a no-op unless OFARGS is set: runs `ovs-ofctl` with the
//! `|`-separated OFARGS (SOCK = the fake switch) and prints every frame it
//! sent with its decoding, then checks the round trip. Example:
//! `OFARGS='-O|OpenFlow13|add-flow|SOCK|ip,actions=ct(commit)' cargo test -p ofproto --test ofctl_explore -- --nocapture`

mod common;
use common::*;

#[test]
fn explore() {
    if !have_ofctl() {
        return;
    }
    let args: Vec<String> = std::env::var("OFARGS")
        .unwrap_or_default()
        .split('|')
        .map(String::from)
        .collect();
    if args.len() < 2 {
        return;
    }
    let vers: Vec<u8> = vec![1, 4, 5, 6];
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let s = run_ofctl(&vers, &a, &|_, _, _| None);
    for (f, (h, m)) in s.frames.iter().zip(&s.msgs) {
        println!("{} {:?}\n  {:?}", hex(f), h, m);
    }
    println!("OUT {} ERR {} ok {}", s.stdout, s.stderr, s.ok);
    assert_roundtrip(&s);
}
