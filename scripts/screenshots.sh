#!/usr/bin/env bash
# Makes the PNGs in screenshots/ from real runs of the release binary: tmux runs the demo and
# receives keys, capture-pane keeps the colours, scripts/ansi2html.py turns the capture into
# a page, and headless Chromium takes the picture. Everything comes from apt.
# Usage: scripts/screenshots.sh [OUT_DIR]   (default: screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-screenshots}
mkdir -p "$out"

need=()
command -v tmux >/dev/null || need+=(tmux)
command -v chromium >/dev/null || need+=(chromium)
fc-list 2>/dev/null | grep -q "DejaVu Sans Mono" || need+=(fonts-dejavu-core)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

cargo build --release --locked
bin=$PWD/target/release/kubectl-netpol_tui
socket=netpol-shots-$$
work=$(mktemp -d)
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

cols=120 rows=40

# shot NAME THEME KEYS... : starts the demo (or what SHOT_ARGS says), sends the keys (a word
# "sleep:N" waits N seconds, "text:..." types literally), captures the screen and writes
# NAME.png.
shot() {
  local name=$1 theme=$2; shift 2
  # shellcheck disable=SC2086
  tmux -L "$socket" -f /dev/null new-session -d -s shot -x $cols -y $rows \
    env TERM=xterm-256color COLORTERM=truecolor NETPOL_TUI_THEME_DIR=/nonexistent \
    "$bin" ${SHOT_ARGS:-demo} --theme "$theme"
  sleep 2.5   # let flows arrive
  for k in "$@"; do
    case $k in
      sleep:*) sleep "${k#sleep:}" ;;
      text:*) tmux -L "$socket" send-keys -t shot -l "${k#text:}"; sleep 0.2 ;;
      *) tmux -L "$socket" send-keys -t shot "$k"; sleep 0.2 ;;
    esac
  done
  sleep 0.5
  tmux -L "$socket" capture-pane -t shot -e -p > "$work/$name.ansi"
  tmux -L "$socket" send-keys -t shot C-c
  sleep 0.3
  tmux -L "$socket" kill-server 2>/dev/null || true
  local bg="#1b1d2b" fg="#c8d3f5"
  [ "$theme" = light ] && { bg="#fafafa"; fg="#24292f"; }
  [ "$theme" = high-contrast ] && { bg="#000000"; fg="#ffffff"; }
  python3 scripts/ansi2html.py "$work/$name.ansi" "$work/$name.html" --bg "$bg" --fg "$fg" --title "$name"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$work/chrome" --force-device-scale-factor=1 \
    --window-size=1030,705 --screenshot="$out/$name.png" "file://$work/$name.html" 2>/dev/null
  echo "$out/$name.png"
}

# The question a new user asks first: why can frontend not reach the database?
shot main dark C-p text:production/frontend Enter
shot explain dark C-p text:production/frontend Enter e text:datab Enter text:postgres Enter
shot policy dark C-p text:production/frontend Enter e text:datab Enter text:postgres Enter Enter
shot flows dark Tab Tab z v
shot namespace dark C-p text:production Enter
shot finder dark C-p text:prod
shot help dark '?'
shot light light C-p text:production/backend Enter
shot colorblind colorblind C-p text:production/frontend Enter
shot high-contrast high-contrast : text:netpol Enter
# The likely mistakes, as lint finds them; a Cilium policy's L7 rules.
shot problems dark : text:problems Enter
shot cilium dark C-p text:backend-api-l7 Enter
# The demo on Calico: a quarantined canary stopped by the security tier, ordered first.
SHOT_ARGS="--demo=calico" shot calico dark C-p text:shop/frontend-canary Enter e text:orders Enter text:api Enter
# Audit mode: the demo's staged rollout step, judged.
shot audit dark C-p text:monitoring/prometheus Enter
shot breakage dark b
# The UI on a real probe: a lab (root) serves its flows as an agent does, and the UI reads
# them: the nodes view, and the flows grouped into connections.
if [ "$(id -u)" = 0 ]; then
  port=9187
  "$bin" lab --demo --serve 127.0.0.1:$port >/dev/null 2>"$work/lab.err" &
  lab=$!
  for _ in $(seq 1 200); do grep -q "lab: ready" "$work/lab.err" && break; sleep 0.1; done
  grep -q "lab: ready" "$work/lab.err" || { cat "$work/lab.err" >&2; exit 1; }
  SHOT_ARGS="--demo --agent 127.0.0.1:$port" shot nodes dark sleep:4 : text:nodes Enter
  SHOT_ARGS="--demo --agent 127.0.0.1:$port" shot connections dark sleep:4 Tab Tab c Down
  kill -INT "$lab"; wait "$lab" 2>/dev/null || true
else
  echo "not made: nodes.png and connections.png (the lab needs root)"
fi
