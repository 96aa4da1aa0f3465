#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECS seconds each (default 60). Not part of CI.
# Needs cargo-fuzz (installed here if missing) and a nightly toolchain, or RUSTC_BOOTSTRAP=1
# with stable. A crash stops the run and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-60}

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi

for target in $("${FUZZ[@]}" list); do
  echo "== $target: ${SECS}s"
  "${FUZZ[@]}" run "$target" -- -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::peak_rss_mb|ERROR|panicked|SUMMARY' || true
  # libFuzzer exits non-zero on a crash; grep above hides the status, so check for artifacts.
  if ls artifacts/"$target"/crash-* >/dev/null 2>&1; then
    echo "== $target: CRASH, see fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
