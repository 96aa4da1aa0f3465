#!/usr/bin/python3
"""Hostile TCP/IP peer for tcplab's hostile tests (scapy, Debian's python3-scapy).

Runs inside a test namespace on the kernel side of the TAP device. It speaks from an address
of its own (198.18.N.3 by default, MAC 02:00:00:00:00:03) that the kernel does not own, so
the kernel neither answers nor resets what tcplab sends there: this script is the whole peer.
It answers ARP for its address itself.

Each scenario checks what it can see on the wire and prints one line
`RESULT {json}` with its observations; the Rust test asserts on them. A failed check inside
a scenario prints `FAIL: ...` and exits 1. Everything is bounded in packets and seconds.

Usage: peer.py SCENARIO --target 198.18.N.2 [--port P] [--me 198.18.N.3] [--iface tap0]
"""

import argparse
import random
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the sources

import net_attacks  # noqa: E402
import tcp_attacks  # noqa: E402
from wire import Wire  # noqa: E402

SCENARIOS = {
    "closed-port": net_attacks.sc_closed_port,
    "established": tcp_attacks.sc_established,
    "zero-window": tcp_attacks.sc_zero_window,
    "no-ack": tcp_attacks.sc_no_ack,
    "inject": tcp_attacks.sc_inject,
    "malformed": net_attacks.sc_malformed,
    "fragments": net_attacks.sc_fragments,
    "flags": net_attacks.sc_flags,
    "conn-flood": tcp_attacks.sc_conn_flood,
    "ooo-flood": tcp_attacks.sc_ooo_flood,
    "syn-options": tcp_attacks.sc_syn_options,
    "arp-flood": net_attacks.sc_arp_flood,
    "icmp-errors": tcp_attacks.sc_icmp_errors,
    "lifecycle": tcp_attacks.sc_lifecycle,
    "blast": tcp_attacks.sc_blast,
    "broadcast": net_attacks.sc_broadcast,
    "sack": tcp_attacks.sc_sack,
    "server": tcp_attacks.sc_server,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--target", required=True)
    ap.add_argument("--me")
    ap.add_argument("--iface", default="tap0")
    ap.add_argument("--port", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--kernel-mac")
    ap.add_argument("--shrink", action="store_true")
    ap.add_argument("--kinds", help="inject: comma-separated junk kinds (indexes), default all")
    a = ap.parse_args()
    random.seed(a.seed)
    me = a.me or a.target.rsplit(".", 1)[0] + ".3"
    w = Wire(a.iface, me, a.target)
    SCENARIOS[a.scenario](w, a)


if __name__ == "__main__":
    main()
