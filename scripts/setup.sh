#!/usr/bin/env bash
# Installs what building and testing rvs needs on a fresh Debian machine of
# this project's kind (Rust toolchain already present). Idempotent.
set -euo pipefail

# The afxdp port (netdev crate, xsk-rs -> libxdp-sys -> libbpf-sys) builds
# libxdp and libbpf from the sources vendored in those crates: make, gcc,
# clang and llvm (llc) compile libxdp and its BPF programs (clang >= 11), m4
# expands the dispatcher template, libelf-dev and zlib1g-dev are linked,
# libpcap-dev is probed by xdp-tools' configure, and bindgen loads libclang.
# xdp-tools' configure compiles libxdp against the system libbpf when
# pkg-config finds one (libbpf-dev, which the DPDK packages pull in too) and
# against its own copy otherwise; libbpf-dev is listed so that the build is
# the same either way. iproute2 and python3 run the afxdp tests (veth pairs in
# namespaces, raw AF_PACKET sockets); iputils-ping, ethtool (checksum offload
# off on the namespace side of veths) and iperf3 run the rvs-vswitchd tests
# and scripts/demo.sh.
need_apt=()
for pkg in pkg-config make gcc clang llvm libclang-dev m4 libelf-dev zlib1g-dev libpcap-dev libbpf-dev \
    iproute2 python3 iputils-ping ethtool iperf3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Open vSwitch's database tools for the ovsdb crate's integration tests
# (ovsdb-server, ovsdb-tool, ovs-vsctl, ovs-appctl and vswitch.ovsschema). The
# package's maintainer scripts would start the system's ovsdb-server and
# ovs-vswitchd; a policy-rc.d that exits 101 forbids that during the install
# (one already present, as in Docker images, is left as it was).
if ! dpkg -s openvswitch-switch >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    rc=0
    apt-get install -y -qq --no-install-recommends openvswitch-switch || rc=$?
    if [ "$own_policy" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
    [ "$rc" = 0 ] || exit "$rc"
fi
# Whatever the package may have started anyway: the tests run their own.
for pidfile in /var/run/openvswitch/ovs-vswitchd.pid /var/run/openvswitch/ovsdb-server.pid; do
    if [ -s "$pidfile" ]; then
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    fi
done

# DPDK 22.11 for the netdev crate's `dpdk` feature: headers and pkg-config
# file (libdpdk-dev), dpdk-testpmd (dpdk), libclang for bindgen in dpdk-sys,
# and the vdev PMDs the tests and this machine kind use (no PCI NICs here:
# ports are net_pcap, net_null, net_ring, net_af_packet, net_af_xdp, net_tap
# vdevs) plus the ring mempool driver every mbuf pool needs.
need_apt=()
for pkg in libdpdk-dev dpdk libclang-dev librte-net-pcap23 librte-net-null23 \
    librte-net-ring23 librte-net-af-packet23 librte-net-af-xdp23 \
    librte-net-tap23 librte-mempool-ring23; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

command -v cargo >/dev/null || { echo "setup: cargo not found (the machine's Rust toolchain is required)" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# AF_XDP sockets: libxdp pins its programs under a bpffs at /sys/fs/bpf
# (LIBXDP_BPFFS overrides the path); mount one where the machine has none.
if [ "$(id -u)" = 0 ] && [ -d /sys/fs/bpf ] && ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf bpf /sys/fs/bpf || echo "setup: could not mount bpffs on /sys/fs/bpf" >&2
fi
