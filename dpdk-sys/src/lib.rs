//! # dpdk-sys: raw bindings to the system's DPDK 22.11
//!
//! Generated at build time by `bindgen` from the headers of Debian's
//! `libdpdk-dev` (found with `pkg-config --cflags --libs libdpdk`), limited to
//! what rvs uses: EAL init/cleanup and hotplug (`rte_eal_init`,
//! `rte_dev_probe`, `rte_dev_remove`), ethdev control (`rte_eth_dev_configure`,
//! queue setup, start/stop/close, stats, MAC, MTU, link, device info, port by
//! name), mbuf pools (`rte_pktmbuf_pool_create`, `rte_mempool_*`), and the
//! types they take (`rte_mbuf`, `rte_eth_conf`, `rte_eth_dev_info`, ...).
//!
//! DPDK's fast-path functions are `static inline` in its headers and so have
//! no symbol to link against; a small C shim compiled with the same flags
//! wraps them as `rvs_*` functions: [`rvs_rte_eth_rx_burst`],
//! [`rvs_rte_eth_tx_burst`], [`rvs_rte_pktmbuf_alloc`],
//! [`rvs_rte_pktmbuf_free`], `append`/`prepend`/`adj`/`trim`/`mtod`,
//! [`rvs_rte_errno`] (the per-lcore `rte_errno`), and
//! [`rvs_rte_eal_init_keep_affinity`] (`rte_eal_init` that gives the calling
//! thread its CPU affinity back afterwards, as OVS does).
//!
//! Everything here is `unsafe` FFI with DPDK's own contracts (see the DPDK
//! 22.11 API documentation); the safe wrapper is `netdev::dpdk`.
//!
//! The shared `librte_*` libraries are linked; poll-mode drivers (`net_pcap`,
//! `net_null`, `net_ring`, `net_af_packet`, ...) are loaded by the EAL at
//! init from its plugin directory (`/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0`
//! on Debian), so they need no link-time dependency.

/// The generated bindings (bindgen output; its lints are not ours).
#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    rustdoc::all
)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub use bindings::*;
