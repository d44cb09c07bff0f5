#!/usr/bin/env python3
"""Report of scripts/bench-vs-ovs.sh: medians per scenario and switch, as a
table on stdout, markdown + JSON + PNG bar chart under $OUT. Reads the runs
from $RESULTS (one JSON object per line) and the context from the
environment the script exports."""
import json
import os
import platform
import statistics
import subprocess

env = os.environ
runs = [json.loads(l) for l in open(env["RESULTS"]) if l.strip()]
names = dict(
    kv.split("=", 1) for kv in env.get("SCENARIO_NAMES", "").split(";") if "=" in kv
)
scenarios = list(dict.fromkeys(r["scenario"] for r in runs))


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def dpdk_version():
    try:
        return subprocess.run(
            ["pkg-config", "--modversion", "libdpdk"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


testpmd = env.get("TESTPMD", "")
limit_text = "n/a (dpdk-testpmd not packaged)" if not testpmd else "not measured"
machine = {
    "cpu": cpu_model(),
    "cores": os.cpu_count(),
    "kernel": platform.release(),
    "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    "ovs": env.get("OVS_VERSION", "").strip(),
    "rvs": env.get("RVS_REV", ""),
    "dpdk": dpdk_version(),
    "rustc": env.get("RUSTC_VERSION", ""),
    "load_before": env.get("LOAD_BEFORE", ""),
    "load_after": env.get("LOAD_AFTER", ""),
    "rounds": int(env.get("ROUNDS", "3")),
    "warmup_s": float(env.get("WARMUP", "5")),
    "window_s": float(env.get("WINDOW", "10")),
}

rows = []
for sc in scenarios:
    row = {"scenario": sc, "description": names.get(sc, sc)}
    for sw in ("ovs", "rvs"):
        rs = [r for r in runs if r["scenario"] == sc and r["switch"] == sw]
        ok = [r["pps"] for r in rs if r["pps"] is not None]
        row[sw] = {
            "pipeline": rs[0]["pipeline"] if rs else None,
            "runs_mpps": [round(p / 1e6, 3) for p in ok],
            "errors": [r["raw"] for r in rs if r["pps"] is None],
            "median_mpps": round(statistics.median(ok) / 1e6, 3) if ok else None,
        }
    o, v = row["ovs"]["median_mpps"], row["rvs"]["median_mpps"]
    row["ratio_rvs_ovs"] = round(v / o, 3) if o and v else None
    row["limit"] = limit_text
    rows.append(row)
for sc, what in [
    ("vxlan_encap", "VXLAN encapsulation"),
    ("geneve_encap", "Geneve encapsulation"),
]:
    rows.append(
        {
            "scenario": sc,
            "description": what,
            "ovs": {"pipeline": None, "median_mpps": None, "runs_mpps": [], "errors": []},
            "rvs": {"pipeline": None, "median_mpps": None, "runs_mpps": [], "errors": []},
            "ratio_rvs_ovs": None,
            "limit": limit_text,
            "note": "not yet supported (rvs has no tunnel ports); not run",
        }
    )


def cell(sw, row):
    m = row[sw]["median_mpps"]
    if m is not None:
        return f"{m:.2f}"
    if row.get("note"):
        return "not yet supported" if sw == "rvs" else "not run"
    if row[sw]["pipeline"] is None:
        return "not yet supported by rvs" if sw == "rvs" else "—"
    return "failed"


header = "| scenario | OVS Mpps (median) | rvs Mpps (median) | ratio rvs/OVS | limit (testpmd io-fwd) | OVS pipeline | rvs pipeline | OVS runs | rvs runs |"
lines = [header, "|---|---|---|---|---|---|---|---|---|"]
for row in rows:
    ratio = f"{row['ratio_rvs_ovs']:.2f}" if row["ratio_rvs_ovs"] else "—"
    lines.append(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            row["description"],
            cell("ovs", row),
            cell("rvs", row),
            ratio,
            row["limit"],
            row["ovs"]["pipeline"] or "—",
            row["rvs"]["pipeline"] or "—",
            ", ".join(f"{x:.2f}" for x in row["ovs"]["runs_mpps"]) or "—",
            ", ".join(f"{x:.2f}" for x in row["rvs"]["runs_mpps"]) or "—",
        )
    )
table = "\n".join(lines)
print(table)

out, stamp = env["OUT"], env["STAMP"]
base = os.path.join(out, f"vs-ovs-{stamp}")
with open(base + ".json", "w") as f:
    json.dump({"machine": machine, "rows": rows, "runs": runs}, f, indent=1)
md = [
    f"# rvs vs OVS-DPDK, {stamp} UTC",
    "",
    "`scripts/bench-vs-ovs.sh` (ROUNDS={rounds}, WARMUP={warmup_s:g} s, WINDOW={window_s:g} s): "
    "one PMD core each (`pmd-cpu-mask=0x2`, `dpdk-lcore-mask=0x1`), rx port "
    "`net_pcap0,rx_pcap=FILE,infinite_rx=1`, tx port `net_null0,no-rx=1`, EAL "
    "`--no-huge --legacy-mem -m 1024 --no-pci --no-shconf`; rate = growth of "
    "`statistics:tx_packets` of the tx port. Runs alternate OVS, rvs per round. "
    "Frame sizes include the 4-byte FCS (a 64 B frame is 60 bytes in the pcap).".format(**machine),
    "",
    f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
    f"kernel {machine['kernel']}; {machine['ovs']}; DPDK {machine['dpdk']}; rvs {machine['rvs']}, "
    f"{machine['rustc']}; load average before {machine['load_before']}, after {machine['load_after']}.",
    "",
    table,
    "",
]
with open(base + ".md", "w") as f:
    f.write("\n".join(md))

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r["ovs"]["median_mpps"] or r["rvs"]["median_mpps"]]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    xs = range(len(measured))
    w = 0.38
    ov = [r["ovs"]["median_mpps"] or 0 for r in measured]
    rv = [r["rvs"]["median_mpps"] or 0 for r in measured]
    ax.bar([x - w / 2 for x in xs], ov, w, label="OVS-DPDK 3.1")
    ax.bar([x + w / 2 for x in xs], rv, w, label="rvs")
    for x, r in zip(xs, measured):
        if r["rvs"]["median_mpps"] is None:
            ax.text(x + w / 2, 0.05, "n/s", ha="center", va="bottom", fontsize=8, rotation=90)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["description"].replace(", ", "\n") for r in measured], fontsize=8)
    ax.set_ylabel("Mpps (median), one PMD core")
    ax.set_title(f"rvs vs OVS-DPDK on DPDK vdevs ({machine['cpu']})", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=110)
    print(f"wrote {base}.md, {base}.json, {base}.png")
except ImportError:
    print(f"wrote {base}.md, {base}.json (python3-matplotlib missing: no chart)")
