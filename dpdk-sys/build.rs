//! Builds the bindings to the system's DPDK (Debian `libdpdk-dev` 22.11):
//! flags from `pkg-config --cflags --libs libdpdk`, `bindgen` over an
//! allow-listed set of `rte_*` items, and the C shim (`csrc/shim.c`) for the
//! static-inline fast-path functions.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| panic!("dpdk-sys: cannot run pkg-config: {e} (run scripts/setup.sh)"));
    if !out.status.success() {
        panic!(
            "dpdk-sys: `pkg-config {} libdpdk` failed: {} (install libdpdk-dev: scripts/setup.sh)",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout)
        .expect("pkg-config output is UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Compiler flags: `-I`, `-D`, `-include FILE`, `-m...` are kept, in order.
fn cflags() -> Vec<String> {
    let raw = pkg_config(&["--cflags"]);
    let mut flags = Vec::new();
    let mut it = raw.into_iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(file) = it.next() {
                flags.push(f);
                flags.push(file);
            }
        } else if f.starts_with("-I") || f.starts_with("-D") || f.starts_with("-m") {
            flags.push(f);
        }
    }
    flags
}

fn main() {
    println!("cargo:rerun-if-changed=csrc/shim.c");
    println!("cargo:rerun-if-changed=csrc/shim.h");
    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let cflags = cflags();

    // Link the shared librte_* libraries pkg-config names.
    for f in pkg_config(&["--libs"]) {
        if let Some(dir) = f.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = f.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }

    let mut cc = cc::Build::new();
    cc.file("csrc/shim.c").opt_level(2).warnings(true);
    let mut it = cflags.iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(file) = it.next() {
                cc.flag("-include").flag(file);
            }
        } else {
            cc.flag(f);
        }
    }
    cc.compile("rvs_dpdk_shim");

    let bindings = bindgen::Builder::default()
        .header("csrc/wrapper.h")
        .clang_args(&cflags)
        .clang_arg("-Icsrc")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .allowlist_function("rvs_.*")
        .allowlist_function(
            "rte_eal_(init|cleanup|hotplug_add|hotplug_remove|has_hugepages|process_type)",
        )
        .allowlist_function("rte_dev_(probe|remove)")
        .allowlist_function("rte_(strerror|socket_id|lcore_count)")
        .allowlist_function("rte_thread_(register|unregister)")
        .allowlist_function(
            "rte_eth_(dev_configure|rx_queue_setup|tx_queue_setup|dev_start|dev_stop|dev_close\
             |stats_get|stats_reset|macaddr_get|dev_get_mtu|dev_set_mtu|link_get_nowait\
             |dev_info_get|dev_get_port_by_name|dev_get_name_by_port|dev_socket_id\
             |dev_adjust_nb_rx_tx_desc|dev_count_avail|dev_is_valid_port|promiscuous_enable)",
        )
        .allowlist_function("rte_pktmbuf_(pool_create|free_bulk)")
        .allowlist_function("rte_mempool_(free|avail_count|in_use_count|lookup)")
        .allowlist_type("rte_(mbuf|mempool|eth_conf|eth_dev_info|eth_stats|eth_link|ether_addr)")
        .allowlist_type("rte_eth_(rxconf|txconf|rx_mq_mode|tx_mq_mode)")
        .allowlist_var("RTE_ETH_(NAME_MAX_LEN|LINK_UP|LINK_DOWN)")
        .allowlist_var(
            "RTE_(MBUF_DEFAULT_BUF_SIZE|PKTMBUF_HEADROOM|MAX_ETHPORTS|MEMPOOL_CACHE_MAX_SIZE)",
        )
        .allowlist_var("RTE_ETHER_(ADDR_LEN|MTU|HDR_LEN|CRC_LEN)")
        .allowlist_var("SOCKET_ID_ANY")
        .allowlist_var("RTE_VER_(YEAR|MONTH|MINOR|SUFFIX|RELEASE)")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .generate()
        .expect("dpdk-sys: bindgen failed on csrc/wrapper.h (is libclang-dev installed?)");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("dpdk-sys: cannot write bindings.rs");
}
