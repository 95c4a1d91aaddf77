#!/usr/bin/env bash
# Figures of the node probe, on a two-pod lab (scripts/bench/probe-pods.yaml), as root:
#  1. per-packet cost of the TC classifiers, from the kernel's own bpf_stats;
#  2. iperf3 TCP throughput client -> server without and with the probe, interleaved runs;
#  3. annotated events per second that agent plus annotator (`trace --agent`) sustain under a
#     flood of policy drops (UDP to a port the policy closes), and what was lost.
# Usage: scripts/bench-probe.sh        RUNS=10 SECS=3 FLOOD_SECS=5 to change the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "the probe benchmark needs root" >&2; exit 1; }
RUNS=${RUNS:-10}
SECS=${SECS:-3}
FLOOD_SECS=${FLOOD_SECS:-5}
PORT=9184
bash scripts/install-ebpf.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --bin kubectl-netpol_tui 2>&1 | grep -v '^warning: netpol-tui@' | tail -1
BIN=$PWD/target/release/kubectl-netpol_tui
MANIFEST=scripts/bench/probe-pods.yaml
tmp=$(mktemp -d)
stats_before=$(cat /proc/sys/kernel/bpf_stats_enabled)
lab_pid=""; agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null || true
  echo "$stats_before" > /proc/sys/kernel/bpf_stats_enabled
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_for() { # file pattern
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

"$BIN" lab -f "$MANIFEST" --no-traffic --no-probe \
  --extra-rule 'ip daddr 10.250.0.11 udp dport { 5201, 5202 } ip length < 40 accept' \
  --extra-rule 'ip daddr 10.250.0.11 udp dport { 5201, 5202 } drop' >/dev/null 2>"$tmp/lab.err" &
lab_pid=$!
wait_for "$tmp/lab.err" "lab: ready"
ip netns exec nplab-p1 iperf3 -s -D -1 --pidfile "$tmp/iperf.pid" >/dev/null 2>&1 || true

agent_start() {
  : > "$tmp/agent.err"
  ip netns exec nplab-node "$BIN" agent --listen 127.0.0.1:$PORT --interfaces 'npl*' 2>"$tmp/agent.err" &
  agent_pid=$!
  wait_for "$tmp/agent.err" "attached to npl1"
  wait_for "$tmp/agent.err" "attached to npl0"
}
agent_stop() {
  kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""
}
# run_time_ns and run_cnt of the agent's classifiers (prog_type 3, sched_cls).
tc_stats() {
  local t=0 c=0
  for f in /proc/"$agent_pid"/fdinfo/*; do
    if grep -q '^prog_type:[[:space:]]*3$' "$f" 2>/dev/null; then
      t=$((t + $(awk '/^run_time_ns:/ {print $2}' "$f")))
      c=$((c + $(awk '/^run_cnt:/ {print $2}' "$f")))
    fi
  done
  echo "$t $c"
}
iperf_tcp() {
  ip netns exec nplab-p1 iperf3 -s -D -1 >/dev/null 2>&1
  sleep 0.2
  ip netns exec nplab-p0 iperf3 -c 10.250.0.11 -t "$SECS" -J > "$tmp/iperf.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' "$tmp/iperf.json"
}

echo 1 > /proc/sys/kernel/bpf_stats_enabled
: > "$tmp/off"; : > "$tmp/on"; : > "$tmp/ns"
for i in $(seq 1 "$RUNS"); do
  order="off on"; [ $((i % 2)) = 0 ] && order="on off"
  for mode in $order; do
    if [ "$mode" = on ]; then
      agent_start
      iperf_tcp >> "$tmp/on"
      read -r t c < <(tc_stats)
      [ "$c" -gt 0 ] && python3 -c "print($t / $c)" >> "$tmp/ns"
      agent_stop
    else
      iperf_tcp >> "$tmp/off"
    fi
  done
done

# Flood of drops: UDP to the server, which the policy does not admit (TCP only).
agent_start
ip netns exec nplab-node "$BIN" trace -f "$MANIFEST" --agent 127.0.0.1:$PORT -o json \
  --duration $((FLOOD_SECS + 3)) >/dev/null 2>"$tmp/trace.err" &
trace_pid=$!
sleep 1
# iperf3's 4-byte UDP hello passes (the first extra rule); every datagram after it is
# dropped (the second). Two senders, as one iperf3 process does not fill the ring here.
for port in 5201 5202; do
  ip netns exec nplab-p1 iperf3 -s -D -1 -p $port >/dev/null 2>&1
done
sleep 0.2
senders=()
for port in 5201 5202; do
  ip netns exec nplab-p0 iperf3 -c 10.250.0.11 -p $port -u -b 0 -l 64 -t "$FLOOD_SECS" -J > "$tmp/flood$port.json" &
  senders+=($!)
done
wait "${senders[@]}" || true
wait "$trace_pid" || true
agent_stop

python3 - "$tmp" "$RUNS" "$SECS" "$FLOOD_SECS" <<'PY'
import json, re, statistics, sys
tmp, runs, secs, flood_secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
read = lambda n: [float(x) for x in open(f"{tmp}/{n}").read().split()]
off, on, ns = read("off"), read("on"), read("ns")
g = lambda v: v / 1e9
print(f"netpol-tui probe benchmark (release build, kernel {open('/proc/sys/kernel/osrelease').read().strip()})")
print(f"TC classifiers, per packet (bpf_stats, during the TCP runs): median {statistics.median(ns):.0f} ns, "
      f"min {min(ns):.0f}, max {max(ns):.0f} ({len(ns)} runs)")
mo, mn = statistics.median(off), statistics.median(on)
print(f"iperf3 TCP client->server, {runs} interleaved runs of {secs} s each way:")
print(f"  without probe: median {g(mo):.2f} Gbit/s (min {g(min(off)):.2f}, max {g(max(off)):.2f})")
print(f"  with probe:    median {g(mn):.2f} Gbit/s (min {g(min(on)):.2f}, max {g(max(on)):.2f})")
print(f"  median loss: {100 * (mo - mn) / mo:.1f}%")
sent = 0
for port in (5201, 5202):
    flood = json.load(open(f"{tmp}/flood{port}.json"))
    n = flood.get("end", {}).get("sum", {}).get("packets", 0)
    if not n:
        sys.exit(f"the flood to {port} did not run: {flood.get('error', 'no packets')}")
    sent += n
err = open(f"{tmp}/trace.err").read()
m = re.search(r"summary: (\d+) flows seen.*kernel lost (\d+).*reader lost (\d+).*kernel sent (\d+)", err)
seen, klost, rlost, ksent = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
print(f"flood of drops: 2 iperf3 UDP streams client->server, {sent} packets in {flood_secs} s ({sent / flood_secs / 1e3:.0f}k/s)")
print(f"  annotated by trace --agent: {seen} flows, {seen / flood_secs / 1e3:.0f}k/s; "
      f"kernel lost {klost}, reader lost {rlost} (default ring, 4 MiB)")
PY
