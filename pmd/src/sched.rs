//! Rx queue to PMD assignment (OVS `sched_numa_list_schedule`,
//! `Documentation/topics/dpdk/pmd.rst`). Pure: rx queues and cores in, an
//! assignment out, so every mode is unit-tested without threads.

use crate::config::RxqAssign;
use std::collections::{BTreeMap, BTreeSet};

/// One rx queue to place.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RxqInfo {
    /// Port name (for messages and `pmd-rxq-show`).
    pub port: String,
    /// Datapath port number.
    pub port_no: u32,
    /// Queue id within the port.
    pub qid: usize,
    /// Processing cycles measured for this queue over the last intervals
    /// (0 when unknown); orders queues in `cycles` and `group` modes.
    pub cycles: u64,
    /// Core this queue is pinned to by `pmd-rxq-affinity`, if any.
    pub affinity: Option<usize>,
}

/// The result: which queues each PMD core polls.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Assignment {
    /// Core -> indexes into the input queue slice, in polling order. Every
    /// core of the input appears, possibly with no queue.
    pub per_core: BTreeMap<usize, Vec<usize>>,
    /// Cores isolated by pinned queues (`pmd-rxq-isolate=true`).
    pub isolated: BTreeSet<usize>,
    /// Warnings in OVS's wording, for the log.
    pub warnings: Vec<String>,
}

/// Assigns `rxqs` to PMD threads on `cores` (non-empty, each distinct).
///
/// Pinned queues go to their core if it runs a PMD (else a warning and they
/// are placed like the others, as OVS does); with `isolate`, a core with
/// pinned queues polls nothing else. The remaining queues are placed by
/// `mode` over the non-isolated cores; if there is none, they stay unpolled
/// with a warning.
pub fn assign(rxqs: &[RxqInfo], cores: &[usize], mode: RxqAssign, isolate: bool) -> Assignment {
    let mut a = Assignment {
        per_core: cores.iter().map(|&c| (c, Vec::new())).collect(),
        ..Default::default()
    };
    let mut load: BTreeMap<usize, u64> = cores.iter().map(|&c| (c, 0)).collect();
    let mut rest = Vec::new();
    for (i, q) in rxqs.iter().enumerate() {
        match q.affinity {
            Some(core) if a.per_core.contains_key(&core) => {
                a.per_core.get_mut(&core).expect("core present").push(i);
                *load.get_mut(&core).expect("core present") += q.cycles;
                if isolate {
                    a.isolated.insert(core);
                }
            }
            Some(core) => {
                a.warnings.push(format!(
                    "Core {core} cannot be pinned with port '{}' rx queue {}. \
                     Use pmd-cpu-mask to enable a pmd on core {core}. \
                     An alternative core will be assigned.",
                    q.port, q.qid
                ));
                rest.push(i);
            }
            None => rest.push(i),
        }
    }
    let targets: Vec<usize> = cores
        .iter()
        .copied()
        .filter(|c| !a.isolated.contains(c))
        .collect();
    if targets.is_empty() {
        for &i in &rest {
            a.warnings.push(format!(
                "No non-isolated pmd on any numa available for port '{}' rx queue {}. \
                 This rx queue will not be polled.",
                rxqs[i].port, rxqs[i].qid
            ));
        }
        return a;
    }
    if mode != RxqAssign::RoundRobin {
        // Busiest first; stable, so equal loads keep port/queue order.
        rest.sort_by(|&x, &y| rxqs[y].cycles.cmp(&rxqs[x].cycles));
    }
    let n = targets.len();
    let (mut idx, mut up) = (0usize, true);
    for &i in &rest {
        let core = match mode {
            RxqAssign::RoundRobin => {
                let c = targets[idx % n];
                idx += 1;
                c
            }
            RxqAssign::Cycles => {
                // Up/down walk: 0,1,..,n-1,n-1,..,0,0,1,...
                let c = targets[idx];
                if up {
                    if idx == n - 1 {
                        up = false;
                    } else {
                        idx += 1;
                    }
                } else if idx == 0 {
                    up = true;
                } else {
                    idx -= 1;
                }
                c
            }
            RxqAssign::Group => *targets
                .iter()
                .min_by_key(|c| (load[c], a.per_core[c].len()))
                .expect("targets non-empty"),
        };
        a.per_core.get_mut(&core).expect("core present").push(i);
        *load.get_mut(&core).expect("core present") += rxqs[i].cycles;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(port: &str, qid: usize, cycles: u64, affinity: Option<usize>) -> RxqInfo {
        RxqInfo {
            port: port.into(),
            port_no: 1,
            qid,
            cycles,
            affinity,
        }
    }

    #[test]
    fn roundrobin_keeps_port_queue_order() {
        let rxqs = vec![q("a", 0, 9, None), q("a", 1, 1, None), q("b", 0, 5, None)];
        let a = assign(&rxqs, &[1, 2], RxqAssign::RoundRobin, true);
        assert_eq!(a.per_core[&1], vec![0, 2]);
        assert_eq!(a.per_core[&2], vec![1]);
    }

    #[test]
    fn cycles_walks_up_and_down_busiest_first() {
        let rxqs: Vec<_> = (0..6).map(|i| q("p", i, 100 - i as u64, None)).collect();
        let a = assign(&rxqs, &[1, 2, 3], RxqAssign::Cycles, true);
        // Order by cycles: 0..5; walk 1,2,3,3,2,1.
        assert_eq!(a.per_core[&1], vec![0, 5]);
        assert_eq!(a.per_core[&2], vec![1, 4]);
        assert_eq!(a.per_core[&3], vec![2, 3]);
    }

    #[test]
    fn group_fills_the_least_loaded() {
        let rxqs = vec![
            q("p", 0, 100, None),
            q("p", 1, 60, None),
            q("p", 2, 50, None),
            q("p", 3, 10, None),
        ];
        let a = assign(&rxqs, &[1, 2], RxqAssign::Group, true);
        // 100 -> 1; 60 -> 2; 50 -> 2 (60 < 100); 10 -> 1 (110 = 110, fewer queues).
        assert_eq!(a.per_core[&1], vec![0, 3]);
        assert_eq!(a.per_core[&2], vec![1, 2]);
    }

    #[test]
    fn pinned_queues_isolate_their_core() {
        let rxqs = vec![
            q("p", 0, 0, Some(2)),
            q("p", 1, 0, None),
            q("p", 2, 0, None),
        ];
        let a = assign(&rxqs, &[1, 2], RxqAssign::RoundRobin, true);
        assert_eq!(a.per_core[&2], vec![0]);
        assert_eq!(a.per_core[&1], vec![1, 2]);
        assert!(a.isolated.contains(&2));
        let a = assign(&rxqs, &[1, 2], RxqAssign::Group, false);
        assert!(a.isolated.is_empty());
        assert_eq!(a.per_core[&2].len() + a.per_core[&1].len(), 3);
    }

    #[test]
    fn pinning_to_a_core_without_pmd_warns_and_falls_back() {
        let rxqs = vec![q("p", 0, 0, Some(7))];
        let a = assign(&rxqs, &[1], RxqAssign::Cycles, true);
        assert_eq!(a.per_core[&1], vec![0]);
        assert!(a.warnings[0].contains("Core 7 cannot be pinned"));
    }

    #[test]
    fn all_isolated_leaves_queues_unpolled_with_a_warning() {
        let rxqs = vec![q("p", 0, 0, Some(1)), q("x", 0, 0, None)];
        let a = assign(&rxqs, &[1], RxqAssign::Cycles, true);
        assert_eq!(a.per_core[&1], vec![0]);
        assert!(a.warnings[0].contains("will not be polled"));
    }
}
