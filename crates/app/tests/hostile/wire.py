"""Raw frames and a hand-driven TCP connection for the hostile peer (see peer.py)."""

import json
import random
import select
import sys
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, conf, fragment  # noqa: F401
from scapy.layers.inet import UDPerror  # noqa: F401

conf.verb = 0
ME_MAC = "02:00:00:00:00:03"
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
INJECT_TTL = 33


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def result(**kw):
    print("RESULT " + json.dumps(kw), flush=True)


def seq_lt(a, b):
    return ((a - b) % 2**32) > 2**31


def seq_gt(a, b):
    return seq_lt(b, a)


def pure_acks(segs):
    return [t for t in segs if t.flags & ACK and not t.flags & (SYN | RST | FIN) and not bytes(t.payload)]


def chargen_block():
    chars = bytes(range(0x20, 0x7F))
    out = bytearray()
    for start in range(len(chars)):
        out += bytes(chars[(start + i) % len(chars)] for i in range(72)) + b"\r\n"
    return bytes(out)


class Wire:
    """Raw frames on the TAP's kernel side: send to tcplab, receive what tcplab sends."""

    def __init__(self, iface, me, target):
        self.sock = conf.L2socket(iface=iface)
        self.iface = iface
        self.me, self.target = me, target
        self.target_mac = None
        self.resolve()

    def send_l3(self, pkt, src_mac=ME_MAC):
        self.sock.send(Ether(src=src_mac, dst=self.target_mac) / pkt)

    def send_raw(self, frame_bytes):
        self.sock.send(Raw(frame_bytes))

    def frames(self, timeout):
        """Yields frames from tcplab until `timeout` seconds pass; answers ARP for `me`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return
            p = self.sock.recv()
            if p is None or not p.haslayer(Ether) or p[Ether].src == ME_MAC:
                continue
            if p.haslayer(ARP):
                a = p[ARP]
                if a.op == 1 and a.pdst == self.me:
                    self.sock.send(
                        Ether(src=ME_MAC, dst=a.hwsrc)
                        / ARP(op=2, hwsrc=ME_MAC, psrc=self.me, hwdst=a.hwsrc, pdst=a.psrc)
                    )
                continue
            if p.haslayer(IP) and p[IP].src == self.target and p[IP].dst == self.me:
                yield p

    def resolve(self):
        for _ in range(10):
            self.sock.send(
                Ether(src=ME_MAC, dst="ff:ff:ff:ff:ff:ff")
                / ARP(op=1, hwsrc=ME_MAC, psrc=self.me, pdst=self.target)
            )
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if not r:
                    continue
                p = self.sock.recv()
                if p is not None and p.haslayer(ARP) and p[ARP].op == 2 and p[ARP].psrc == self.target:
                    self.target_mac = p[ARP].hwsrc
                    return
        fail(f"no ARP reply from {self.target}")


class Conn:
    """One TCP connection from `me` to tcplab, driven by hand (no window scale, MSS 1460)."""

    def __init__(self, wire, dport, sport=None, win=65535):
        self.w, self.dport = wire, dport
        self.sport = sport or random.randint(20000, 60000)
        self.win = win
        self.iss = random.randint(0, 2**32 - 1)
        self.snd_nxt = self.iss
        self.rcv_nxt = None
        self.peer_nxt = None  # highest seq+len tcplab sent
        self.data = bytearray()  # in-order bytes received from tcplab
        self.log = []  # every TCP segment from tcplab on this connection (for scenarios)

    def ip(self):
        return IP(src=self.w.me, dst=self.w.target)

    def seg(self, flags, seq=None, ack=None, payload=b"", win=None, options=None, chksum=None):
        t = TCP(
            sport=self.sport,
            dport=self.dport,
            flags=flags,
            seq=self.snd_nxt if seq is None else seq % 2**32,
            ack=(self.rcv_nxt or 0) if ack is None else ack % 2**32,
            window=self.win if win is None else win,
            options=options or [],
        )
        if chksum is not None:
            t.chksum = chksum
        p = self.ip() / t
        if payload:
            p = p / Raw(payload)
        self.w.send_l3(p)

    def open(self, timeout=5.0):
        self.seg(SYN, ack=0, options=[("MSS", 1460)])
        for p in self.w.frames(timeout):
            t = self.mine(p)
            if t is not None and t.flags & SYN and t.flags & ACK:
                check(t.ack == (self.iss + 1) % 2**32, f"SYN-ACK acks {t.ack}, want {self.iss + 1}")
                self.snd_nxt = (self.iss + 1) % 2**32
                self.rcv_nxt = (t.seq + 1) % 2**32
                self.peer_nxt = self.rcv_nxt
                self.seg(ACK)
                return
            if t is not None and t.flags & RST:
                fail("connection refused")
        fail("no SYN-ACK")

    def mine(self, p):
        if not p.haslayer(TCP):
            return None
        t = p[TCP]
        if t.sport != self.dport or t.dport != self.sport:
            return None
        self.log.append((time.monotonic(), int(t.flags), t.seq, t.ack, len(bytes(t.payload)), t.window))
        return t

    def pump(self, timeout, ack=True, stop=None, ack_win=None):
        """Receives for `timeout` s: in-order data is appended and (with `ack`) acknowledged.
        Returns early when `stop(conn)` is true. Returns the segments seen."""
        seen = []
        for p in self.w.frames(timeout):
            t = self.mine(p)
            if t is None:
                continue
            seen.append(t)
            payload = bytes(t.payload)
            end = (t.seq + len(payload) + (1 if t.flags & FIN else 0)) % 2**32
            if self.peer_nxt is None or seq_gt(end, self.peer_nxt):
                self.peer_nxt = end
            if payload and t.seq == self.rcv_nxt:
                self.data += payload
                self.rcv_nxt = (self.rcv_nxt + len(payload)) % 2**32
            elif payload and seq_lt(t.seq, self.rcv_nxt) and seq_gt(t.seq + len(payload), self.rcv_nxt):
                cut = (self.rcv_nxt - t.seq) % 2**32
                self.data += payload[cut:]
                self.rcv_nxt = (t.seq + len(payload)) % 2**32
            if t.flags & FIN and (t.seq + len(payload)) % 2**32 == self.rcv_nxt:
                self.rcv_nxt = (self.rcv_nxt + 1) % 2**32
            if ack and (payload or t.flags & FIN):
                self.seg(ACK, win=ack_win)
            if stop and stop(self):
                break
        return seen

    def send(self, payload):
        self.seg(PSH | ACK, payload=payload)
        self.snd_nxt = (self.snd_nxt + len(payload)) % 2**32

    def echo_check(self, payload, timeout=5.0):
        """Sends `payload` to an echo server and checks it comes back exactly."""
        start = len(self.data)
        self.send(payload)
        self.pump(timeout, stop=lambda c: len(c.data) >= start + len(payload))
        got = bytes(self.data[start:])
        check(got == payload, f"echo returned {got[:80]!r}, want {payload[:80]!r}")

    def abort(self):
        self.seg(RST | ACK)
