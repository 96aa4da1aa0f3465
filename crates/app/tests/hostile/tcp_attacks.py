"""Hostile-peer scenarios on TCP connections: crafted segments, windows, ACK behaviour,
injection, floods of connections and segments, SACK, a hostile server (see peer.py)."""

import json
import random
import select
import sys
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, conf, fragment  # noqa: F401
from scapy.layers.inet import UDPerror  # noqa: F401
from wire import (  # noqa: F401
    ACK, FIN, INJECT_TTL, ME_MAC, PSH, RST, SYN, URG, Conn, chargen_block, check, fail, pure_acks,
    result, seq_gt, seq_lt,
)


def sc_established(w, a):
    """Crafted segments against an ESTABLISHED connection to `serve echo`."""
    c = Conn(w, a.port)
    c.open()
    c.echo_check(b"first")
    out = {}

    # RST with a wrong but in-window sequence number: RFC 5961 §3.2 challenge ACK, no reset.
    c.log.clear()
    c.seg(RST | ACK, seq=c.snd_nxt + 100)
    segs = c.pump(1.0, ack=False)
    chal = [t for t in pure_acks(segs) if t.ack == c.snd_nxt]
    check(not any(t.flags & RST for t in segs), "answered an in-window RST with RST")
    out["challenge_ack_for_rst"] = bool(chal)
    # RST far outside the window: silently dropped.
    c.seg(RST, seq=c.snd_nxt + 2**30)
    c.echo_check(b"alive after bad RSTs")

    # SYN in ESTABLISHED: RFC 5961 §4.2 challenge ACK, connection survives.
    c.log.clear()
    c.seg(SYN, seq=c.snd_nxt - 1000, ack=0)
    segs = c.pump(1.0, ack=False)
    check(not any(t.flags & RST for t in segs), "SYN in ESTABLISHED reset the connection")
    out["challenge_ack_for_syn"] = bool([t for t in pure_acks(segs) if t.ack == c.snd_nxt])
    c.echo_check(b"alive after SYN")

    # Out-of-window data: not delivered; answered with an ACK (RFC 9293 §3.10.7.4).
    c.log.clear()
    c.seg(PSH | ACK, seq=c.snd_nxt + 10_000_000, payload=b"JUNK-FAR-AHEAD")
    c.seg(PSH | ACK, seq=c.snd_nxt - 100_000, payload=b"JUNK-OLD")
    segs = c.pump(1.0, ack=False)
    out["acks_for_out_of_window"] = len(pure_acks(segs))
    c.echo_check(b"no junk echoed")

    # ACK for data never sent (SEG.ACK > SND.NXT): ACK back, drop (RFC 9293 §3.10.7.4).
    c.seg(PSH | ACK, ack=c.rcv_nxt + 500_000, payload=b"JUNK-ACK-UNSENT")
    c.pump(0.5, ack=False)
    c.echo_check(b"alive after unsent ACK")

    # Bad TCP checksum: dropped (never echoed), connection unaffected.
    c.seg(PSH | ACK, payload=b"JUNK-BAD-SUM", chksum=0xDEAD)
    c.pump(0.5, ack=False)
    c.echo_check(b"bad checksum dropped")

    # Bad IP header checksum.
    p = IP(src=w.me, dst=w.target, chksum=0xBEEF) / TCP(sport=c.sport, dport=c.dport, flags=PSH | ACK,
                                                        seq=c.snd_nxt, ack=c.rcv_nxt, window=c.win) / Raw(b"JUNK-IP-SUM")
    w.send_l3(p)
    c.pump(0.5, ack=False)
    c.echo_check(b"bad ip checksum dropped")

    # Garbage options (RFC 9293 §3.1: "MUST be prepared to handle an illegal option length";
    # dropping the segment, resetting, or ignoring the rest of the options like Linux does are
    # all allowed). Whatever tcplab decides, the stream must stay consistent: a segment it
    # accepts is echoed exactly once, one it drops not at all.
    bad_opts = [
        b"\x02\x00\x05\xb4",  # MSS with length 0
        b"\x02\x09\x05\xb4",  # length beyond the option space
        b"\x08\x01\x00\x00",  # timestamp with length 1
        b"\xfe\xff\x01\x02",  # unknown kind, huge length
        b"\x03\x03\x0f\x00",  # window scale 15 outside a SYN: valid, ignored (RFC 7323 §2.2)
    ]
    accepted = []
    for i, opt in enumerate(bad_opts):
        payload = f"<opt{i}>".encode()
        raw = TCP(sport=c.sport, dport=c.dport, flags=PSH | ACK, seq=c.snd_nxt, ack=c.rcv_nxt,
                  window=c.win, dataofs=6) / Raw(opt + payload)
        w.send_l3(IP(src=w.me, dst=w.target) / raw)
        start = len(c.data)
        segs = c.pump(0.7, stop=lambda c: len(c.data) >= start + len(payload))
        check(not any(t.flags & RST for t in segs), f"option {opt!r}: connection reset")
        got = bytes(c.data[start:])
        check(got in (b"", payload), f"option {opt!r}: echoed {got!r}")
        if got:
            accepted.append(i)
            c.snd_nxt = (c.snd_nxt + len(payload)) % 2**32
        c.echo_check(f"|after-opt{i}".encode())
    out["bad_options_accepted"] = accepted

    # Overlapping and duplicated retransmissions with different content.
    c.log.clear()
    x = c.snd_nxt
    c.seg(PSH | ACK, seq=x, payload=b"A" * 10)
    c.seg(PSH | ACK, seq=x, payload=b"B" * 20)  # bytes 0..10 duplicate A's, 10..20 new
    c.seg(PSH | ACK, seq=x + 30, payload=b"C" * 10)  # out of order
    c.seg(PSH | ACK, seq=x + 30, payload=b"D" * 10)  # duplicate out of order, other content
    c.seg(PSH | ACK, seq=x + 20, payload=b"E" * 20)  # fills the hole, overlaps the held block
    c.snd_nxt = (x + 40) % 2**32
    start = len(c.data)
    c.pump(3.0, stop=lambda c: len(c.data) >= start + 40)
    got = bytes(c.data[start:start + 40])
    check(len(got) == 40, f"overlap: echoed {len(got)} of 40 bytes: {got!r}")
    check(got[:10] == b"A" * 10, f"overlap: bytes 0..10 {got[:10]!r} (already acknowledged A's)")
    check(got[10:20] == b"B" * 10, f"overlap: bytes 10..20 {got[10:20]!r}")
    check(got[20:30] == b"E" * 10, f"overlap: bytes 20..30 {got[20:30]!r}")
    check(len(set(got[30:40])) == 1 and got[30:31] in (b"C", b"D", b"E"), f"overlap: bytes 30..40 {got[30:40]!r}")
    out["overlap_tail"] = got[30:31].decode()
    c.echo_check(b"final")
    c.abort()
    result(**out)


def sc_zero_window(w, a):
    """A peer that advertises a zero window and never reads (`serve chargen`): tcplab must
    stop at the window, probe it (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17), and resume when
    the window opens."""
    c = Conn(w, a.port, win=8192)
    c.open()
    c.pump(1.0, stop=lambda c: len(c.data) >= 8192)
    check(len(c.data) >= 1000, f"chargen sent only {len(c.data)} bytes")
    # Close the window: ACK everything received with window 0, then never read. Segments
    # still in flight are taken and acknowledged with window 0 too (a receiver may keep more
    # than it offered), so tcplab ends with nothing in flight and a zero window: the persist
    # case. With `--shrink`, the in-flight data is left unacknowledged instead (a window the
    # receiver shrank, RFC 9293 §3.8.6.2.2/RFC 1122 §4.2.2.16): tcplab must then go on probing
    # with retransmissions rather than fall silent.
    c.seg(ACK, win=0)
    c.pump(0.5, ack=not a.shrink, ack_win=0)
    c.log.clear()
    segs = c.pump(a.seconds, ack=False)
    beyond = [t for t in segs if len(bytes(t.payload)) > 1 and seq_gt(t.seq + len(bytes(t.payload)), c.rcv_nxt + 1)]
    if a.shrink:
        # Retransmissions of the data beyond the shrunk window are the probes here.
        probes = [t for t in segs if not t.flags & (SYN | FIN | RST) and not seq_gt(t.seq, c.rcv_nxt)]
    else:
        probes = [t for t in segs if len(bytes(t.payload)) <= 1 and not t.flags & (SYN | FIN | RST)]
        check(not beyond, f"sent {len(beyond)} data segments into a zero window")
    check(len(probes) >= 2, f"only {len(probes)} zero-window probes in {a.seconds}s: {c.log}")
    times = [s[0] for s in c.log]
    gaps = [round(b - x, 2) for x, b in zip(times, times[1:])]
    # Open the window again: data must flow from where it stopped, in order.
    before = len(c.data)
    c.win = 65535
    c.seg(ACK)
    c.pump(3.0, stop=lambda c: len(c.data) >= before + 20000)
    check(len(c.data) >= before + 20000, f"after the window opened only {len(c.data) - before} bytes")
    block = chargen_block()
    cycle = len(block)
    check(bytes(c.data) == (block * (len(c.data) // cycle + 1))[:len(c.data)], "chargen stream corrupted")
    c.abort()
    result(probes=len(probes), probe_gaps=gaps, resumed_bytes=len(c.data) - before)


def sc_no_ack(w, a):
    """A peer that stops acknowledging: tcplab retransmits the oldest unacknowledged segment
    with exponential backoff (RFC 6298 (5.5)) and sends nothing new beyond its window."""
    c = Conn(w, a.port, win=16384)
    c.open()
    c.log.clear()
    c.pump(a.seconds, ack=False)
    data_segs = [s for s in c.log if s[4] > 0]
    check(data_segs, "chargen sent nothing")
    first = data_segs[0][2]
    rexmit = [s for s in data_segs[1:] if s[2] == first]
    check(len(rexmit) >= 2, f"only {len(rexmit)} retransmissions of the first segment in {a.seconds}s")
    times = [data_segs[0][0]] + [s[0] for s in rexmit]
    gaps = [b - x for x, b in zip(times, times[1:])]
    # Doubling (RFC 6298 (5.5)), with slack for scheduling jitter on a loaded machine.
    for g1, g2 in zip(gaps, gaps[1:]):
        check(g2 >= g1 * 1.5 - 0.15, f"retransmission gaps do not back off: {gaps}")
    check(gaps[-1] >= 3 * gaps[0], f"retransmission gaps do not back off: {gaps}")
    sent_bytes = max((s[2] - first) % 2**32 + s[4] for s in data_segs)
    check(sent_bytes <= 16384, f"sent {sent_bytes} bytes into a 16384-byte window")
    c.seg(RST, seq=c.snd_nxt)
    result(retransmissions=len(rexmit), gaps=[round(g, 2) for g in gaps], bytes_in_flight=sent_bytes)


def sc_inject(w, a):
    """While the kernel downloads from `serve http`, inject junk spoofed as the kernel:
    out-of-window data, in-window RSTs with wrong sequence numbers, SYNs, ACKs of unsent
    data, in-window data with bad checksums. Runs `a.seconds` or until the download ends.

    Junk never carries an ACK of data the kernel has not acknowledged itself (it repeats the
    kernel's latest ACK and window, seen on the wire): an on-path forger who acknowledges
    in-flight data in an acceptable segment makes any RFC 9293 sender, Linux included, free
    that data; no TCP can defend against that, so it is not what this checks."""
    kmac = a.kernel_mac
    kack = None  # (ack, window) of the kernel's latest segment to tcplab
    # A listening socket sees both directions (the sending one skips the kernel's frames).
    lis = conf.L2listen(iface=w.iface)
    injected = 0
    deadline = time.monotonic() + a.seconds
    quiet_since = time.monotonic()
    tuple_seen = False
    while time.monotonic() < deadline:
        got = None
        r, _, _ = select.select([lis], [], [], 0.2)
        if r:
            p = lis.recv()
            if (p is not None and p.haslayer(TCP) and p.haslayer(IP) and p[IP].dst == w.target
                    and p[TCP].dport == a.port and p[Ether].src == kmac and p[TCP].flags & ACK
                    and p[IP].ttl != INJECT_TTL):
                t = p[TCP]
                if kack is None or not seq_lt(t.ack, kack[0]):
                    kack = (t.ack, t.window)
            elif (p is not None and p.haslayer(TCP) and p.haslayer(IP) and p[IP].src == w.target
                    and p[TCP].sport == a.port and not p[TCP].flags & (SYN | RST | FIN)):
                got = p
        if got is None:
            if tuple_seen and time.monotonic() - quiet_since > 2.0:
                break
            continue
        quiet_since = time.monotonic()
        tuple_seen = True
        t = got[TCP]
        if random.random() > a.rate or kack is None:
            continue
        kip, kport = got[IP].dst, t.dport
        rcv = t.ack  # what tcplab expects next from the kernel
        una, kwin = kack  # what the kernel itself acknowledged, and its window
        base = IP(src=kip, dst=w.target, ttl=INJECT_TTL)  # tells our junk from the kernel's
        junk = [
            TCP(sport=kport, dport=a.port, flags=PSH | ACK, seq=rcv + 5_000_000, ack=una, window=65535) / Raw(b"X" * 100),
            TCP(sport=kport, dport=a.port, flags=RST, seq=rcv + random.randint(1, 60000), window=0),
            TCP(sport=kport, dport=a.port, flags=RST | ACK, seq=rcv - random.randint(1, 2**20), ack=una),
            TCP(sport=kport, dport=a.port, flags=SYN, seq=random.randint(0, 2**32 - 1), window=65535),
            TCP(sport=kport, dport=a.port, flags=ACK, seq=rcv, ack=una + 50_000_000, window=kwin),
            TCP(sport=kport, dport=a.port, flags=PSH | ACK, seq=rcv, ack=una, window=65535, chksum=0x1234) / Raw(b"GET /evil HTTP/1.1\r\n\r\n"),
            TCP(sport=kport, dport=a.port, flags=FIN | ACK, seq=rcv + 70000, ack=una, window=65535),
            TCP(sport=kport, dport=a.port, flags=0x3F, seq=rcv + 123456, ack=una, window=65535),
        ]
        kinds = [int(k) for k in a.kinds.split(",")] if a.kinds else range(len(junk))
        # A few per observed frame: with TAP offloads tcplab may send 64 KB super-segments,
        # so frames are few.
        for _ in range(3):
            j = junk[random.choice(list(kinds))].copy()
            j.seq %= 2**32
            j.ack %= 2**32
            if j.flags & ACK and j.ack == una:
                j.window = kwin
            w.sock.send(Ether(src=kmac, dst=w.target_mac) / base / j)
            injected += 1
    result(injected=injected)


def sc_conn_flood(w, a):
    """Opens `a.count` connections (full handshakes, from one address, distinct ports) and
    leaves them idle: tcplab must accept them (its SYN backlog refills as handshakes
    complete) without memory growing past its bounds. The Rust side measures RSS, then checks
    a kernel client is still served."""
    pending = {}
    established = set()
    base = 30000
    deadline = time.monotonic() + a.seconds
    rounds = 0
    while len(established) < a.count and time.monotonic() < deadline:
        rounds += 1
        for i in range(a.count):
            sport = base + i
            if sport in established:
                continue
            iss = pending.setdefault(sport, random.randint(0, 2**32 - 1))
            w.send_l3(IP(src=w.me, dst=w.target) / TCP(sport=sport, dport=a.port, flags=SYN, seq=iss,
                                                       window=65535, options=[("MSS", 1460)]))
            if i % 64 == 63:
                for p in w.frames(0.05):
                    _flood_ack(w, p, a.port, pending, established)
        for p in w.frames(0.5):
            _flood_ack(w, p, a.port, pending, established)
    result(established=len(established), rounds=rounds)


def _flood_ack(w, p, port, pending, established):
    if not p.haslayer(TCP):
        return
    t = p[TCP]
    if t.sport == port and t.flags & SYN and t.flags & ACK and t.dport in pending:
        if t.ack == (pending[t.dport] + 1) % 2**32:
            w.send_l3(IP(src=w.me, dst=w.target) / TCP(sport=t.dport, dport=port, flags=ACK,
                                                       seq=t.ack, ack=t.seq + 1, window=65535))
            established.add(t.dport)


def sc_ooo_flood(w, a):
    """Out-of-order flood against `serve echo`: `a.count` one-byte segments every other byte
    beyond a hole (each a separate block: `max_ooo_blocks` must bound them), duplicates, then
    the real data in order: the echo must be exactly the real data."""
    c = Conn(w, a.port)
    c.open()
    c.echo_check(b"start")
    x = c.snd_nxt
    for i in range(a.count):
        c.seg(PSH | ACK, seq=x + 100 + 2 * i, payload=b"#")
    for i in range(0, a.count, 7):
        c.seg(PSH | ACK, seq=x + 100 + 2 * i, payload=b"%")
    c.pump(0.5, ack=False)
    # The real stream: it overwrites the holes; bytes tcplab kept out of order at the odd
    # offsets are the flood's "#" (or "%") and the echo must be consistent with that, so use
    # a payload that ends before the flood to check exactness, then a full resynchronisation.
    real = bytes(random.Random(a.seed).getrandbits(8) for _ in range(100))
    start = len(c.data)
    c.send(real)
    c.pump(3.0, stop=lambda c: len(c.data) >= start + 100)
    got = bytes(c.data[start:start + 100])
    check(got == real, f"echo of the real data differs: {got[:40]!r}")
    c.abort()
    result(segments=a.count)


def sc_syn_options(w, a):
    """SYNs with absurd options: MSS 0 and 1, window scale 255 (RFC 7323 §2.3: use 14),
    SACK-permitted and timestamps with bad lengths, option list running past the header.
    Each connection that opens must carry an echo exactly; none may crash tcplab."""
    opts = [
        [("MSS", 0)],
        [("MSS", 1), ("WScale", 255)],
        [("WScale", 14), ("MSS", 65535)],
        b"\x04\x05\x00\x00",  # SACK-permitted with length 5
        b"\x08\x03\x00\x00",  # timestamps with length 3
        b"\x02\x04\x05",  # MSS cut by the end of the header (dataofs 6 with 3 bytes + pad)
    ]
    opened = 0
    for i, o in enumerate(opts):
        c = Conn(w, a.port)
        if isinstance(o, list):
            c.seg(SYN, ack=0, options=o)
        else:
            raw = o + b"\x00" * ((4 - len(o) % 4) % 4)
            w.send_l3(IP(src=w.me, dst=w.target) / TCP(sport=c.sport, dport=a.port, flags=SYN, seq=c.iss,
                                                       window=c.win, dataofs=5 + len(raw) // 4) / Raw(raw))
        sa = None
        for p in w.frames(1.5):
            t = c.mine(p)
            if t is not None and t.flags & SYN and t.flags & ACK:
                sa = t
                break
        if sa is None:
            continue  # dropped as malformed: allowed
        opened += 1
        c.snd_nxt = (c.iss + 1) % 2**32
        c.rcv_nxt = c.peer_nxt = (sa.seq + 1) % 2**32
        c.seg(ACK)
        c.echo_check(b"x" * 1400, timeout=8.0)  # many segments back with a tiny MSS
        c.abort()
    result(opened=opened, tried=len(opts))


def sc_icmp_errors(w, a):
    """Forged ICMP errors quoting a running connection (`serve chargen`): port and protocol
    unreachable (hard errors), fragmentation needed with MTU 68, host unreachable, also with a
    sequence number outside the flight (RFC 5927 §4.1: ignore). In ESTABLISHED these must not
    abort the connection (RFC 5927 §4.2; RFC 1122 §4.2.3.9 soft errors): data keeps flowing,
    byte-exact."""
    c = Conn(w, a.port)
    c.open()
    c.pump(0.5, stop=lambda c: len(c.data) >= 20000)
    sent = 0
    for code, seq_off in ((3, 0), (2, 0), (4, 0), (1, 0), (3, 10**8), (2, -10**8)):
        # Quote tcplab's latest segment (in flight: we have not ACKed it yet, or just did).
        seq = (c.rcv_nxt + seq_off) % 2**32
        quoted = IP(src=w.target, dst=w.me) / TCP(sport=a.port, dport=c.sport, seq=seq, ack=c.snd_nxt, flags=ACK)
        icmp = ICMP(type=3, code=code, nexthopmtu=68 if code == 4 else 0) / Raw(bytes(quoted)[:28])
        w.send_l3(IP(src=w.me, dst=w.target) / icmp)
        sent += 1
        c.pump(0.2)
    before = len(c.data)
    segs = c.pump(2.0, stop=lambda c: len(c.data) >= before + 50000)
    check(not any(t.flags & RST for t in segs), "connection reset after ICMP errors")
    check(len(c.data) >= before + 50000, f"only {len(c.data) - before} bytes after ICMP errors")
    block = chargen_block()
    check(bytes(c.data) == (block * (len(c.data) // len(block) + 1))[:len(c.data)], "stream corrupted")
    small = [t for t in segs if 0 < len(bytes(t.payload)) < 500]
    c.abort()
    result(errors_sent=sent, bytes_after=len(c.data) - before, small_segments=len(small))


def sc_lifecycle(w, a):
    """Connection life-cycle abuse against `serve echo`:
    - our sequence numbers wrap past 2^32 mid-stream, with URG and a bogus urgent pointer;
    - SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST> and the half-open
      connection survives (RFC 9293 §3.10.7.4), an in-window RST with a wrong sequence number
      resets nothing; then the right ACK opens it;
    - close: our FIN after data, junk after our FIN (never delivered), tcplab's FIN is
      acknowledged and a later segment gets a RST (the connection is gone)."""
    out = {}
    # Sequence wrap.
    c = Conn(w, a.port)
    c.iss = 2**32 - 700
    c.snd_nxt = c.iss
    c.open()
    c.echo_check(bytes(range(256)) * 5)  # crosses 2^32
    c.seg(PSH | ACK | URG, payload=b"urgent!")
    c.snd_nxt = (c.snd_nxt + 7) % 2**32
    c.pump(1.0, stop=lambda c: c.data.endswith(b"urgent!"))
    check(c.data.endswith(b"urgent!"), "URG data not echoed")
    c.echo_check(b"after wrap")
    out["wrapped"] = c.snd_nxt < c.iss
    c.abort()

    # SYN-RECEIVED.
    c = Conn(w, a.port)
    c.seg(SYN, ack=0, options=[("MSS", 1460)])
    sa = None
    for p in w.frames(2.0):
        t = c.mine(p)
        if t is not None and t.flags & SYN and t.flags & ACK:
            sa = t
            break
    check(sa is not None, "no SYN-ACK")
    c.snd_nxt = (c.iss + 1) % 2**32
    c.rcv_nxt = c.peer_nxt = (sa.seq + 1) % 2**32
    bad_ack = (sa.seq + 5000) % 2**32
    c.log.clear()
    c.seg(ACK, ack=bad_ack)
    rst = [t for t in c.pump(1.0, ack=False) if t.flags & RST]
    check(rst and rst[0].seq == bad_ack, f"unacceptable ACK in SYN-RECEIVED: {c.log}")
    c.seg(RST, seq=c.snd_nxt + 1000)  # wrong sequence number: must not reset
    c.pump(0.3, ack=False)
    c.seg(ACK)
    c.echo_check(b"opened after abuse", timeout=3.0)

    # Close.
    c.send(b"bye")
    c.seg(FIN | ACK)
    fin_seq = c.snd_nxt
    c.snd_nxt = (c.snd_nxt + 1) % 2**32
    c.pump(2.0, stop=lambda c: c.data.endswith(b"bye") and any(s[1] & FIN for s in c.log))
    check(c.data.endswith(b"bye"), f"data before FIN not echoed: {bytes(c.data[-20:])!r}")
    fins = [s for s in c.log if s[1] & FIN]
    check(fins, "tcplab did not close after our FIN")
    # Junk after our FIN (RFC 9293 §3.10.7.4 seventh: ignore text after FIN).
    c.seg(PSH | ACK, seq=fin_seq + 1, payload=b"AFTER-FIN")
    c.pump(0.5)  # acknowledges tcplab's FIN too
    check(b"AFTER-FIN" not in c.data, "data after FIN was delivered")
    time.sleep(0.3)
    c.log.clear()
    c.seg(PSH | ACK, payload=b"late")
    segs = c.pump(1.0, ack=False)
    out["rst_after_close"] = any(t.flags & RST for t in segs)
    result(**out)


def sc_blast(w, a):
    """A peer that never reads (window 0 from the start) yet blasts `a.count` KiB at `serve
    echo`, ignoring tcplab's window: the echo server's writes block, its reads stop, tcplab's
    receive window closes and everything beyond it is dropped (counted). tcplab must advertise
    a zero window, never accept more than it offered, and keep answering."""
    c = Conn(w, a.port, win=0)
    c.open()
    chunk = b"z" * 1400
    offered_max = 0
    for i in range(a.count * 1024 // 1400):
        c.seg(PSH | ACK, payload=chunk, win=0)
        c.snd_nxt = (c.snd_nxt + len(chunk)) % 2**32
        if i % 50 == 49:
            for p in w.frames(0.01):
                c.mine(p)
    c.pump(1.0, ack=False)
    acks = [s for s in c.log if s[1] & ACK]
    check(acks, "no ACKs from tcplab")
    last_ack, last_win = acks[-1][3], acks[-1][5]
    accepted = (last_ack - (c.iss + 1)) % 2**32
    check(last_win == 0, f"window not closed after the blast: {last_win}")
    check(accepted <= 2 * 1024 * 1024, f"tcplab accepted {accepted} bytes from a blaster")
    w.send_l3(IP(src=w.me, dst=w.target) / ICMP(type=8, id=66, seq=1) / Raw(b"blast over"))
    ok = any(p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == 66 for p in w.frames(3.0))
    check(ok, "no echo reply after the blast")
    c.abort()
    result(sent=a.count * 1024, accepted=accepted, last_window=last_win)


def sc_sack(w, a):
    """SACK abuse against `serve chargen` (RFC 2018, negotiated in our SYN): bogus blocks
    (beyond SND.NXT, reversed, below SND.UNA), 500 ACKs with four tiny scattered blocks each
    (scoreboard fragmentation, cf. CVE-2019-11477), then reneging: the blocks claimed all but
    the first segment, but this receiver kept none of it. RFC 2018 §8: SACKed data is not
    acknowledged and must be retransmitted; the stream assembled in order must be exact."""
    c = Conn(w, a.port)
    c.seg(SYN, ack=0, options=[("MSS", 1460), ("SAckOK", b"")])
    sa = None
    for p in w.frames(3.0):
        t = c.mine(p)
        if t is not None and t.flags & SYN and t.flags & ACK:
            sa = t
            break
    check(sa is not None, "no SYN-ACK")
    sack_ok = any(o[0] == "SAckOK" for o in sa.options)
    c.snd_nxt = (c.iss + 1) % 2**32
    c.rcv_nxt = c.peer_nxt = (sa.seq + 1) % 2**32
    c.seg(ACK)
    first = c.rcv_nxt
    c.log.clear()
    c.pump(0.4, ack=False)  # the first flight, unacknowledged, not kept
    segs = [(s[2], s[4]) for s in c.log if s[4] > 0]
    end = max((sq - first) % 2**32 + ln for sq, ln in segs) + first
    # With TAP offloads the flight may be one super-segment: claim all but its first 1460.
    check((end - first) % 2**32 >= 2920, f"first flight too small: {segs}")
    s2 = (first + 1460) % 2**32

    def sack(blocks):
        c.seg(ACK, ack=first, options=[("NOP", None), ("NOP", None), ("SAck", tuple(x % 2**32 for b in blocks for x in b))])

    for _ in range(3):
        sack([(s2, end)])  # "all but the first segment"
    sack([(end + 1000, end + 5000)])  # beyond SND.NXT
    sack([(end, s2)])  # reversed
    sack([(first - 5000, first - 1000)])  # below SND.UNA
    sack([(first - 2**31, first + 2**31 - 1)])  # everything and more
    rnd = random.Random(a.seed)
    span = (end - first) % 2**32
    for _ in range(500):
        blocks = []
        for _ in range(4):
            off = rnd.randint(1, max(2, span - 2))
            blocks.append((first + off, first + off + 1))
        sack(blocks)
    # Renege: from now on an ordinary in-order receiver (no SACK, out-of-order dropped).
    c.pump(12.0, stop=lambda c: len(c.data) >= 200_000)
    check(len(c.data) >= 200_000, f"after reneging only {len(c.data)} bytes arrived in order")
    block = chargen_block()
    check(bytes(c.data) == (block * (len(c.data) // len(block) + 1))[:len(c.data)], "stream corrupted")
    c.abort()
    result(sack_permitted=sack_ok, first_flight=len(segs), bytes=len(c.data))


def sc_server(w, a):
    """A hostile server for `tcplab connect` (which connects to `me`:`a.port`):
    - SYN-SENT: a SYN-ACK acknowledging something never sent gets <SEQ=SEG.ACK><CTL=RST>
      (RFC 9293 §3.10.7.3) and the connect goes on; a RST without ACK is ignored;
    - then a SYN-ACK with absurd options (MSS 0, window scale 200) opens the connection;
    - tcplab's data ("hello") is acknowledged and answered ("world");
    - finally an exact RST: tcplab connect must report ConnectionReset (checked in Rust)."""
    syn = None
    for p in w.frames(a.seconds):
        if p.haslayer(TCP) and p[TCP].dport == a.port and p[TCP].flags == SYN:
            syn = p[TCP]
            break
    check(syn is not None, "no SYN from tcplab connect")
    c = Conn(w, syn.sport, sport=a.port)
    iss = syn.seq
    c.rcv_nxt = (iss + 1) % 2**32
    c.seg(SYN | ACK, seq=c.iss, ack=iss + 1000, options=[("MSS", 1460)])
    rst = [t for t in c.pump(1.0, ack=False) if t.flags & RST]
    check(rst and rst[0].seq == (iss + 1000) % 2**32, f"bad SYN-ACK not answered by RST: {c.log}")
    c.seg(RST, seq=c.iss, ack=0)  # RST without ACK in SYN-SENT: ignored
    # The connect retries its SYN after the RTO; answer that one properly (absurd options).
    syn2 = None
    for p in w.frames(5.0):
        if p.haslayer(TCP) and p[TCP].dport == a.port and p[TCP].flags == SYN:
            syn2 = p[TCP]
            break
    check(syn2 is not None and syn2.seq == iss, f"no SYN retransmission: {syn2 and syn2.seq}")
    c.seg(SYN | ACK, seq=c.iss, ack=iss + 1, options=[("MSS", 0), ("WScale", 200)])
    c.snd_nxt = (c.iss + 1) % 2**32
    c.peer_nxt = c.rcv_nxt
    c.pump(5.0, stop=lambda c: bytes(c.data).endswith(b"hello"))
    check(bytes(c.data).endswith(b"hello"), f"no data from tcplab connect: {bytes(c.data)!r}")
    c.send(b"world\n")
    c.pump(1.0)
    c.seg(RST | ACK)
    result(connected=True)
