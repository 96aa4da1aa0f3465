#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy, and all tests (unit, simulation, property,
# smoltcp interop, and — as root — Linux kernel interop inside throw-away network namespaces).
# On a fresh Debian machine it installs the system tools the tests use (when root).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if ! command -v cargo >/dev/null 2>&1; then
    echo "tcplab: cargo is missing: install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --release -- -D warnings
echo "== cargo test"
if [ "$(id -u)" != 0 ]; then
    echo "note: not root: kernel interop tests will print SKIPPED (needs root)"
fi
cargo test --workspace --release --no-fail-fast "$@"
