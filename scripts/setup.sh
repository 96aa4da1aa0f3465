#!/usr/bin/env bash
# Installs the system tools tcplab's interop tests and benchmark use, when missing.
# Safe to run repeatedly; does nothing when everything is present. Needs root to install
# (as non-root it only reports what is missing: the interop tests then skip with a notice).
set -euo pipefail

# command -> Debian package providing it
declare -A PKG=(
  [ip]=iproute2
  [ping]=iputils-ping
  [socat]=socat
  [tshark]=tshark
  [iperf3]=iperf3
  [nc]=netcat-openbsd
  [tcpdump]=tcpdump
  [curl]=curl
  [wget]=wget
  [ethtool]=ethtool
  [python3]=python3
  [setpriv]=util-linux
  [hping3]=hping3
  [nmap]=nmap
  [ab]=apache2-utils
)

missing=()
for cmd in "${!PKG[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${PKG[$cmd]}")
done
# python3-scapy has no command: the hostile tests run it with Debian's /usr/bin/python3.
/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1 || missing+=(python3-scapy)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all tools present"
  exit 0
fi

# De-duplicate package names.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing ${missing[*]} (run as root to install; interop tests will be skipped)" >&2
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
