#!/usr/bin/env bash
# Installs the Debian packages tcplab's tests and scripts use, when they are missing.
# As root it apt-gets them; otherwise it lists what is missing and carries on (the tests that
# need them skip with a message).
set -euo pipefail

# command -> Debian package
declare -A need=(
    [ip]=iproute2 [ping]=iputils-ping [socat]=socat [curl]=curl [wget]=wget
    [nc]=netcat-openbsd [tshark]=tshark [iperf3]=iperf3 [python3]=python3 [sha256sum]=coreutils
    [setpriv]=util-linux
)
missing=()
for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: missing packages (install them as root: apt-get install ${missing[*]})" >&2
fi
