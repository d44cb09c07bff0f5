#!/usr/bin/env bash
# The main demo: rvs-vswitchd in place of ovs-vswitchd, configured with the
# real ovs-vsctl and inspected with the real ovs-appctl, switching ping and an
# iperf3 TCP transfer between two network namespaces over AF_XDP ports.
#
# Everything lives in a private temporary directory (database, sockets,
# pidfiles, logs: OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR point there) and is torn
# down on exit, failure or Ctrl-C.
# Usage: scripts/demo.sh [IPERF_SECONDS]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-5}"

scripts/setup.sh
cargo build --release -p vswitchd
BIN="$PWD/target/release/rvs-vswitchd"

DIR="$(mktemp -d /tmp/rvs-demo.XXXXXX)"
export OVS_RUNDIR="$DIR" OVS_LOGDIR="$DIR" OVS_DBDIR="$DIR" OVS_SYSCONFDIR="$DIR"
NS1=rvsdemo1 NS2=rvsdemo2 BR=br0
VSCTL=(ovs-vsctl --db="unix:$DIR/db.sock" --timeout=30)

cleanup() {
    set +e
    echo "== teardown"
    if [ -s "$DIR/ovs-vswitchd.pid" ]; then
        ovs-appctl --timeout=10 exit >/dev/null 2>&1 || kill "$(cat "$DIR/ovs-vswitchd.pid")" 2>/dev/null
    fi
    [ -s "$DIR/ovsdb-server.pid" ] && kill "$(cat "$DIR/ovsdb-server.pid")" 2>/dev/null
    ip netns pids "$NS2" 2>/dev/null | xargs -r kill 2>/dev/null
    for i in 1 2; do
        ip link del "veth$i" 2>/dev/null
        ip netns del "rvsdemo$i" 2>/dev/null
    done
    ip link del "$BR" 2>/dev/null
    sleep 0.2
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== namespaces $NS1 (10.0.0.1) and $NS2 (10.0.0.2), veth1/veth2 on the host side"
for i in 1 2; do
    ns="rvsdemo$i"
    ip netns del "$ns" 2>/dev/null || true
    ip link del "veth$i" 2>/dev/null || true
    ip netns add "$ns"
    ip link add "veth$i" type veth peer name eth0 netns "$ns"
    ip link set "veth$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "10.0.0.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    # AF_XDP hands frames over as they are: TCP from the namespace must carry
    # full checksums, not offloaded partial ones.
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
done

echo "== ovsdb-server and rvs-vswitchd (run/db/log dir $DIR)"
ovsdb-tool create "$DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$DIR/conf.db" --remote="punix:$DIR/db.sock" --pidfile --detach \
    --log-file --unixctl="$DIR/ovsdb-server.ctl"
"${VSCTL[@]}" --no-wait init
"${VSCTL[@]}" --no-wait set open . other_config:pmd-maxsleep=100
"$BIN" --pidfile --detach --log-file -vconsole:off

echo "== configure"
set -x
"${VSCTL[@]}" add-br $BR -- set bridge $BR datapath_type=netdev
"${VSCTL[@]}" add-port $BR veth1 -- set interface veth1 type=afxdp
"${VSCTL[@]}" add-port $BR veth2 -- set interface veth2 type=afxdp
set +x
"${VSCTL[@]}" show

echo "== ping $NS1 -> $NS2"
ip netns exec "$NS1" ping -c 3 -i 0.2 10.0.0.2

echo "== iperf3 TCP $NS1 -> $NS2, ${SECS}s"
ip netns exec "$NS2" iperf3 -s -1 >/dev/null 2>&1 &
sleep 0.5
ip netns exec "$NS1" iperf3 -c 10.0.0.2 -t "$SECS" -J >"$DIR/iperf.json"

echo "== ovs-appctl dpctl/dump-flows"
ovs-appctl dpctl/dump-flows
echo "== ovs-appctl fdb/show $BR"
ovs-appctl fdb/show $BR
echo "== ovs-appctl dpif-netdev/pmd-stats-show"
ovs-appctl dpif-netdev/pmd-stats-show
sleep 5
echo "== Interface statistics (written to the database every 5 s)"
"${VSCTL[@]}" --columns=name,ofport,statistics list interface veth1 veth2

python3 - "$DIR/iperf.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["end"]
s, c = r["sum_sent"], r["sum_received"]
print("== throughput through rvs-vswitchd (AF_XDP, 1 PMD): "
      f"{c['bits_per_second'] / 1e9:.2f} Gbit/s received "
      f"({c['bytes'] / 2**20:.0f} MiB in {c['seconds']:.1f} s, {s.get('retransmits', 0)} retransmits)")
PY
