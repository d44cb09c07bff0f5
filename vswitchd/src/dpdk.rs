//! DPDK in the daemon (OVS `lib/dpdk.c`): `Open_vSwitch.other_config`'s
//! `dpdk-init`, `dpdk-extra`, `dpdk-socket-mem` and `dpdk-lcore-mask`
//! initialise the EAL once, the first time the configuration asks for it,
//! and the daemon reports `dpdk_initialized` and `dpdk_version`.
//!
//! Built without the cargo feature `dpdk`, `dpdk-init` is ignored (with a
//! warning) and `type=dpdk` interfaces are refused as OVS refuses them when
//! DPDK is not initialised: the `dpdk` netdev class is not registered, so
//! opening one fails with `EAFNOSUPPORT`.
//!
//! As in OVS, `dpdk-init=true` that fails to initialise the EAL is fatal
//! (the daemon exits), `dpdk-init=try` logs the error and goes on without
//! DPDK; DPDK cannot be initialised twice in one process, so changes to the
//! keys after initialisation need a restart.

use crate::vlog;
use std::collections::BTreeMap;

/// What the daemon knows about DPDK.
#[derive(Default, Debug)]
pub struct DpdkState {
    /// True once `dpdk-init` was seen (initialisation was attempted).
    tried: bool,
    /// True if the EAL is up.
    initialized: bool,
}

impl DpdkState {
    /// Initialises DPDK if `other_config` asks for it and it was not tried
    /// yet (OVS `dpdk_init()` from `bridge_run`). Exits the process when
    /// `dpdk-init=true` fails, as OVS aborts.
    pub fn run(&mut self, other_config: &BTreeMap<String, String>) {
        if self.tried {
            return;
        }
        let mode = other_config.get("dpdk-init").map(String::as_str);
        let try_only = match mode {
            Some("true") => false,
            Some("try") => true,
            _ => return,
        };
        self.tried = true;
        self.initialized = init(other_config, try_only);
    }

    /// True if the EAL is up (`Open_vSwitch.dpdk_initialized`).
    pub fn initialized(&self) -> bool {
        self.initialized
    }

    /// The version string for `Open_vSwitch.dpdk_version` (`None` without
    /// the `dpdk` feature, where OVS leaves the column empty).
    pub fn version(&self) -> Option<String> {
        version()
    }

    /// The interface types DPDK adds to `Open_vSwitch.iface_types` (only
    /// once initialised, as OVS registers the classes then).
    pub fn iface_types(&self) -> &'static [&'static str] {
        if self.initialized {
            &["dpdk"]
        } else {
            &[]
        }
    }

    /// `Err` with OVS's `Interface.error` text when a `type=dpdk` interface
    /// cannot be opened because DPDK is not initialised.
    pub fn check_open(&self, name: &str) -> Result<(), String> {
        if self.initialized {
            Ok(())
        } else {
            Err(format!(
                "could not open network device {name} (Address family not supported by protocol)"
            ))
        }
    }
}

#[cfg(feature = "dpdk")]
fn version() -> Option<String> {
    Some(netdev::dpdk::dpdk_version())
}

#[cfg(not(feature = "dpdk"))]
fn version() -> Option<String> {
    None
}

#[cfg(feature = "dpdk")]
fn init(other_config: &BTreeMap<String, String>, try_only: bool) -> bool {
    vlog::info("dpdk", format!("Using {}", netdev::dpdk::dpdk_version()));
    vlog::info("dpdk", "DPDK Enabled - initializing...");
    match netdev::dpdk::dpdk_init_from_config(other_config) {
        Ok(true) => {
            vlog::info("dpdk", "DPDK Enabled - initialized");
            true
        }
        Ok(false) => false,
        Err(e) => {
            if try_only {
                vlog::err("dpdk", format!("Cannot init EAL: {e}"));
                false
            } else {
                vlog::emer("dpdk", format!("Cannot init EAL: {e}"));
                eprintln!("rvs-vswitchd: Cannot init EAL: {e}");
                std::process::exit(1);
            }
        }
    }
}

#[cfg(not(feature = "dpdk"))]
fn init(_other_config: &BTreeMap<String, String>, _try_only: bool) -> bool {
    vlog::warn(
        "dpdk",
        "DPDK not supported in this copy of Open vSwitch (rvs-vswitchd built without the cargo feature \"dpdk\")",
    );
    false
}
