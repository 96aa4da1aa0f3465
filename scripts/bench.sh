#!/usr/bin/env bash
# First benchmark (issue #3): bulk TCP between a userspace stack and the Linux kernel over a TAP
# device at MTU 1500, inside a network namespace this script creates (and deletes on exit).
#
#   tap_send  the stack sends (RFC 864 chargen server), the kernel reads  (tl-bench-peer recv)
#   tap_recv  the stack receives (RFC 863 discard server), the kernel writes (tl-bench-peer send)
#
# Each measure runs tcplab (A) and the smoltcp 0.14 baseline (B, benches/src/bin/smoltcp_tap.rs)
# alternately, A B A B, for PAIRS pairs; medians and ratio = tcplab / baseline are reported.
# Reference row kernel_veth: iperf3 kernel <-> kernel over a veth pair between two namespaces.
#
# Usage: scripts/bench.sh [--quick]      (root; 1 GiB per transfer, 5 pairs; --quick 256 MiB, 3)
# Output: a Markdown table on stdout and target/bench/results.json, a JSON list of rows
#   {"measure","unit","tcplab","baseline","baseline_value","ratio"}.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

BYTES=$((1024 * 1024 * 1024))
PAIRS=5
if [ "${1:-}" = "--quick" ]; then
  BYTES=$((256 * 1024 * 1024))
  PAIRS=3
fi
BYTES=${TL_BENCH_BYTES:-$BYTES}
PAIRS=${TL_BENCH_PAIRS:-$PAIRS}
RUN_TIMEOUT=${TL_BENCH_RUN_TIMEOUT:-180}   # seconds per transfer, after which it counts as failed
# Every measured process (both stacks, the kernel peer, iperf3) runs at the same raised
# priority, so builds or tests elsewhere on a shared machine disturb the samples less.
NICE=(nice -n "${TL_BENCH_NICE:--10}")

if [ "$(id -u)" -ne 0 ]; then
  echo "bench.sh: error: needs root (network namespaces and TAP devices)" >&2
  exit 2
fi
bash scripts/setup.sh >&2

echo "bench.sh: building release binaries" >&2
cargo build --release -q -p tcplab -p tcplab-bench
TCPLAB=$ROOT/target/release/tcplab
SMOLTCP=$ROOT/target/release/tl-smoltcp-tap
PEER=$ROOT/target/release/tl-bench-peer

OUT=$ROOT/target/bench
mkdir -p "$OUT"
SAMPLES=$OUT/samples.tsv
: > "$SAMPLES"

NS=tl-$$-bench
NSA=tl-$$-vetha
NSB=tl-$$-vethb
SERVER_PID=

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  for ns in "$NS" "$NSA" "$NSB"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The lab: namespace NS with tap0, kernel side 198.18.10.1/24, MTU 1500; the stack under test
# is 198.18.10.2 on the other side of the TAP device.
ip netns add "$NS"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev tap0 mode tap
ip -n "$NS" link set tap0 mtu 1500
ip -n "$NS" addr add 198.18.10.1/24 dev tap0
ip -n "$NS" link set tap0 up

# start_server IMPL MODE: starts the stack under test (chargen or discard on port 5001) and
# waits for its "ready" line.
start_server() {
  local impl=$1 mode=$2 log=$OUT/server.log
  : > "$log"
  case $impl in
    tcplab) "${NICE[@]}" ip netns exec "$NS" "$TCPLAB" serve "$mode" --tap tap0 --addr 198.18.10.2/24 --port 5001 \
              >"$log" 2>"$OUT/server.err" & ;;
    smoltcp) "${NICE[@]}" ip netns exec "$NS" "$SMOLTCP" "$mode" --tap tap0 --addr 198.18.10.2/24 --port 5001 \
              >"$log" 2>"$OUT/server.err" & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 150); do
    grep -q ready "$log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench.sh: $impl $mode server did not become ready: $(tail -n 3 "$OUT/server.err")" >&2
  stop_server
  return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  # The two stacks use different MACs: forget the old one.
  ip -n "$NS" neigh flush dev tap0 2>/dev/null || true
  # tcplab's TAP link turns on the device's TSO/checksum offloads and turns them off when it
  # exits; a server killed with SIGKILL cannot, and the next (plain TAP) server would get
  # 64 KiB super-segments with partial checksums. Reset them on every path.
  ip netns exec "$NS" ethtool -K tap0 tx off tso off >/dev/null 2>&1 || true
}

# run_one MEASURE IMPL: one transfer; appends "MEASURE IMPL GBPS" (or "nan") to SAMPLES.
run_one() {
  local measure=$1 impl=$2 mode peer_mode line gbps=nan
  case $measure in
    tap_send) mode=chargen; peer_mode=recv ;;
    tap_recv) mode=discard; peer_mode=send ;;
  esac
  if start_server "$impl" "$mode"; then
    if line=$(timeout "$RUN_TIMEOUT" "${NICE[@]}" ip netns exec "$NS" "$PEER" "$peer_mode" 198.18.10.2:5001 "$BYTES" 2>>"$OUT/peer.err"); then
      gbps=${line##*gbps=}
    else
      echo "bench.sh: $measure $impl transfer failed or timed out ($(tail -n 1 "$OUT/peer.err"))" >&2
    fi
    stop_server
  fi
  printf '%s\t%s\t%s\n' "$measure" "$impl" "$gbps" >> "$SAMPLES"
  printf 'bench.sh: %-9s %-8s %s Gbit/s\n' "$measure" "$impl" "$gbps" >&2
}

echo "bench.sh: $PAIRS pairs of $BYTES bytes per measure" >&2
for i in $(seq "$PAIRS"); do
  for measure in tap_send tap_recv; do
    run_one "$measure" tcplab
    run_one "$measure" smoltcp
  done
done

# Reference: kernel <-> kernel over veth (iperf3), same byte count, a few runs.
ip netns add "$NSA"
ip netns add "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" link add veth0 type veth peer name veth1 netns "$NSB"
ip -n "$NSA" addr add 198.18.11.2/24 dev veth0
ip -n "$NSB" addr add 198.18.11.1/24 dev veth1
ip -n "$NSA" link set veth0 up
ip -n "$NSB" link set veth1 up
for i in $(seq 3); do
  gbps=nan
  "${NICE[@]}" ip netns exec "$NSB" timeout "$RUN_TIMEOUT" iperf3 -s -1 -B 198.18.11.1 -p 5201 >/dev/null 2>&1 &
  srv=$!
  sleep 0.5
  if json=$("${NICE[@]}" ip netns exec "$NSA" timeout "$RUN_TIMEOUT" iperf3 -c 198.18.11.1 -p 5201 -n "$BYTES" -J 2>/dev/null); then
    gbps=$(printf '%s' "$json" | python3 -c 'import json,sys; print("%.4f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
  fi
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  printf 'kernel_veth\tkernel\t%s\n' "$gbps" >> "$SAMPLES"
  printf 'bench.sh: %-9s %-8s %s Gbit/s\n' kernel_veth kernel "$gbps" >&2
done

python3 - "$SAMPLES" "$OUT/results.json" "$BYTES" "$PAIRS" <<'PY'
import json, math, statistics, sys

samples, out, nbytes, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
vals = {}
for line in open(samples):
    measure, impl, v = line.rstrip("\n").split("\t")
    vals.setdefault((measure, impl), []).append(float(v))

def median(xs):
    good = [x for x in xs if not math.isnan(x)]
    return round(statistics.median(good), 4) if good else None

rows = []
for measure in ("tap_send", "tap_recv"):
    a = median(vals.get((measure, "tcplab"), []))
    b = median(vals.get((measure, "smoltcp"), []))
    rows.append({
        "measure": measure,
        "unit": "Gbit/s",
        "tcplab": a,
        "baseline": "smoltcp 0.14 (own TAP device, CUBIC, 256 KiB buffers)",
        "baseline_value": b,
        "ratio": round(a / b, 3) if a is not None and b else None,
    })
rows.append({
    "measure": "kernel_veth",
    "unit": "Gbit/s",
    "tcplab": None,
    "baseline": "Linux kernel <-> kernel over veth (iperf3), reference",
    "baseline_value": median(vals.get(("kernel_veth", "kernel"), [])),
    "ratio": None,
})
with open(out, "w") as f:
    json.dump(rows, f, indent=2)
    f.write("\n")

def fmt(x):
    return "-" if x is None else ("%.3f" % x)

def samples_of(measure, impl):
    return " ".join("fail" if math.isnan(x) else "%.2f" % x for x in vals.get((measure, impl), []))

print(f"### tcplab bench: {nbytes / 2**20:.0f} MiB per transfer, {pairs} A/B pairs, medians\n")
print("| measure | unit | tcplab | baseline | baseline value | ratio |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['measure']} | {r['unit']} | {fmt(r['tcplab'])} | {r['baseline']} | {fmt(r['baseline_value'])} | {fmt(r['ratio'])} |")
print("\nSamples (Gbit/s, in run order):\n")
for (measure, impl) in sorted(vals):
    print(f"- {measure} {impl}: {samples_of(measure, impl)}")
print(f"\nwritten: {out}")
PY
