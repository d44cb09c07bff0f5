//! Datapath tunables from `Open_vSwitch.other_config`, parsed and validated
//! (OVS `dpif_netdev_set_config`, `ovs-vswitchd.conf.db(5)`).

use std::collections::BTreeMap;
use std::fmt;

/// How rx queues are spread over PMD threads (`other_config:pmd-rxq-assign`,
/// OVS `Documentation/topics/dpdk/pmd.rst`, "Port/Rx Queue assignment to PMD
/// threads").
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum RxqAssign {
    /// `roundrobin`: queues in port/queue order, one PMD after the other.
    RoundRobin,
    /// `cycles` (default): queues sorted by measured processing cycles, the
    /// busiest first, dealt to PMDs walking up then down the PMD list.
    #[default]
    Cycles,
    /// `group`: queues sorted by cycles, each to the PMD with the lowest load
    /// so far.
    Group,
}

impl RxqAssign {
    /// The OVS name.
    pub fn as_str(self) -> &'static str {
        match self {
            RxqAssign::RoundRobin => "roundrobin",
            RxqAssign::Cycles => "cycles",
            RxqAssign::Group => "group",
        }
    }
}

impl fmt::Display for RxqAssign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Datapath configuration. `Default` is OVS's: one PMD on the lowest core,
/// `cycles` assignment, isolation on, EMC insertion 1/100, SMC off, flow
/// limit 200000.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DpConfig {
    /// Cores to run PMD threads on (`pmd-cpu-mask`); empty: the lowest
    /// available core.
    pub pmd_cores: Vec<usize>,
    /// `pmd-rxq-assign`.
    pub rxq_assign: RxqAssign,
    /// `pmd-rxq-isolate`: a PMD with pinned queues polls nothing else.
    pub rxq_isolate: bool,
    /// `emc-insert-inv-prob` (0 disables the EMC).
    pub emc_insert_inv_prob: u32,
    /// `smc-enable`.
    pub smc_enable: bool,
    /// `flow-limit`: megaflows per PMD.
    pub flow_limit: usize,
    /// `pmd-maxsleep`: longest sleep of an idle PMD, microseconds (0: never
    /// sleep, busy-poll; OVS default).
    pub pmd_max_sleep_us: u64,
    /// `pmd-perf-metrics`: collect per-stage cycle counts for
    /// `dpif-netdev/pmd-perf-show` (OVS default false; costs a few TSC
    /// reads per batch when on).
    pub pmd_perf_metrics: bool,
}

impl Default for DpConfig {
    fn default() -> Self {
        DpConfig {
            pmd_cores: Vec::new(),
            rxq_assign: RxqAssign::Cycles,
            rxq_isolate: true,
            emc_insert_inv_prob: dp_core::emc::DEFAULT_EMC_INSERT_INV_PROB,
            smc_enable: false,
            flow_limit: dp_core::flow_table::DEFAULT_FLOW_LIMIT,
            pmd_max_sleep_us: 0,
            pmd_perf_metrics: false,
        }
    }
}

/// A rejected `other_config` value: key, value and why (for the log; OVS
/// keeps the previous or default value and logs a warning).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConfigError {
    /// The `other_config` key.
    pub key: String,
    /// The offending value.
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid other_config:{}=\"{}\": {}",
            self.key, self.value, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// Parses a CPU mask (`pmd-cpu-mask`): hexadecimal with or without `0x`,
/// bit N = core N (OVS `ovs_numa_dump_cores_with_cmask`). Returns the core
/// numbers in increasing order.
pub fn parse_cpu_mask(s: &str) -> Result<Vec<usize>, String> {
    let hex = s.trim();
    let hex = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex);
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("not a hexadecimal CPU mask".into());
    }
    let mut cores = Vec::new();
    for (i, c) in hex.chars().rev().enumerate() {
        let nibble = c.to_digit(16).expect("checked hex digit") as usize;
        for b in 0..4 {
            if nibble & (1 << b) != 0 {
                cores.push(i * 4 + b);
            }
        }
    }
    Ok(cores)
}

impl DpConfig {
    /// Builds a configuration from `other_config`. Each invalid value is
    /// reported and replaced by its default; everything else still applies.
    pub fn from_other_config(oc: &BTreeMap<String, String>) -> (DpConfig, Vec<ConfigError>) {
        let mut cfg = DpConfig::default();
        let mut errs = Vec::new();
        let mut bad = |k: &str, v: &str, why: &str| {
            errs.push(ConfigError {
                key: k.into(),
                value: v.into(),
                reason: why.into(),
            })
        };
        if let Some(v) = oc.get("pmd-cpu-mask") {
            match parse_cpu_mask(v) {
                Ok(c) if c.is_empty() => bad("pmd-cpu-mask", v, "the mask selects no core"),
                Ok(c) => cfg.pmd_cores = c,
                Err(e) => bad("pmd-cpu-mask", v, &e),
            }
        }
        if let Some(v) = oc.get("pmd-rxq-assign") {
            match v.as_str() {
                "roundrobin" => cfg.rxq_assign = RxqAssign::RoundRobin,
                "cycles" => cfg.rxq_assign = RxqAssign::Cycles,
                "group" => cfg.rxq_assign = RxqAssign::Group,
                _ => bad("pmd-rxq-assign", v, "expected roundrobin, cycles or group"),
            }
        }
        if let Some(v) = oc.get("pmd-rxq-isolate") {
            match v.as_str() {
                "true" => cfg.rxq_isolate = true,
                "false" if cfg.rxq_assign == RxqAssign::Group => cfg.rxq_isolate = false,
                "false" => bad(
                    "pmd-rxq-isolate",
                    v,
                    "can only be set false when using pmd-rxq-assign=group",
                ),
                _ => bad("pmd-rxq-isolate", v, "expected true or false"),
            }
        }
        if let Some(v) = oc.get("emc-insert-inv-prob") {
            match v.parse::<u32>() {
                Ok(n) => cfg.emc_insert_inv_prob = n,
                Err(_) => bad(
                    "emc-insert-inv-prob",
                    v,
                    "expected an integer 0..4294967295",
                ),
            }
        }
        if let Some(v) = oc.get("smc-enable") {
            match v.as_str() {
                "true" => cfg.smc_enable = true,
                "false" => cfg.smc_enable = false,
                _ => bad("smc-enable", v, "expected true or false"),
            }
        }
        if let Some(v) = oc.get("flow-limit") {
            match v.parse::<usize>() {
                Ok(n) => cfg.flow_limit = n,
                Err(_) => bad("flow-limit", v, "expected a non-negative integer"),
            }
        }
        if let Some(v) = oc.get("pmd-maxsleep") {
            match v.parse::<u64>() {
                // OVS caps the sleep at its RCU quiesce interval (10 ms).
                Ok(n) => cfg.pmd_max_sleep_us = n.min(10_000),
                Err(_) => bad("pmd-maxsleep", v, "expected microseconds"),
            }
        }
        if let Some(v) = oc.get("pmd-perf-metrics") {
            match v.as_str() {
                "true" => cfg.pmd_perf_metrics = true,
                "false" => cfg.pmd_perf_metrics = false,
                _ => bad("pmd-perf-metrics", v, "expected true or false"),
            }
        }
        (cfg, errs)
    }
}

/// Parses a port's `other_config:pmd-rxq-affinity` (`"0:3,1:7"`: queue 0 on
/// core 3, queue 1 on core 7; OVS `parse_affinity_list`). Returns `(queue,
/// core)` pairs.
pub fn parse_rxq_affinity(s: &str) -> Result<Vec<(usize, usize)>, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (q, c) = item
            .split_once(':')
            .ok_or_else(|| format!("\"{item}\" is not QUEUE:CORE"))?;
        let q = q
            .trim()
            .parse()
            .map_err(|_| format!("bad queue id \"{q}\""))?;
        let c = c
            .trim()
            .parse()
            .map_err(|_| format!("bad core id \"{c}\""))?;
        out.push((q, c));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oc(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cpu_masks() {
        assert_eq!(parse_cpu_mask("0x2").unwrap(), vec![1]);
        assert_eq!(parse_cpu_mask("6").unwrap(), vec![1, 2]);
        assert_eq!(parse_cpu_mask("0x101").unwrap(), vec![0, 8]);
        assert!(parse_cpu_mask("0xz").is_err());
        assert!(parse_cpu_mask("").is_err());
    }

    #[test]
    fn bad_values_are_reported_and_the_rest_applies() {
        let (cfg, errs) = DpConfig::from_other_config(&oc(&[
            ("pmd-cpu-mask", "nonsense"),
            ("pmd-rxq-assign", "group"),
            ("emc-insert-inv-prob", "-1"),
            ("smc-enable", "true"),
            ("flow-limit", "1000"),
        ]));
        assert_eq!(cfg.rxq_assign, RxqAssign::Group);
        assert!(cfg.smc_enable);
        assert_eq!(cfg.flow_limit, 1000);
        assert_eq!(cfg.emc_insert_inv_prob, 100);
        assert!(cfg.pmd_cores.is_empty());
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["pmd-cpu-mask", "emc-insert-inv-prob"]);
        assert!(errs[0].to_string().contains("pmd-cpu-mask=\"nonsense\""));
    }

    #[test]
    fn isolate_false_needs_group() {
        let (_, errs) = DpConfig::from_other_config(&oc(&[("pmd-rxq-isolate", "false")]));
        assert_eq!(errs.len(), 1);
        let (cfg, errs) = DpConfig::from_other_config(&oc(&[
            ("pmd-rxq-assign", "group"),
            ("pmd-rxq-isolate", "false"),
        ]));
        assert!(errs.is_empty());
        assert!(!cfg.rxq_isolate);
    }

    #[test]
    fn affinity_lists() {
        assert_eq!(
            parse_rxq_affinity("0:3, 1:7").unwrap(),
            vec![(0, 3), (1, 7)]
        );
        assert!(parse_rxq_affinity("0-3").is_err());
        assert!(parse_rxq_affinity("a:1").is_err());
    }
}
