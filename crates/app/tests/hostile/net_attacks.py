"""Hostile-peer scenarios below TCP connections: closed ports, flag combinations, malformed
frames, fragments, ARP, broadcast (see peer.py)."""

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


def sc_closed_port(w, a):
    """RFC 9293 §3.10.7.1 (CLOSED): RST answers, exact fields. RFC 792/1122: UDP port
    unreachable, rate-limited (RFC 1812 §4.3.2.8)."""
    c = Conn(w, a.port)
    seq = random.randint(0, 2**32 - 1)
    # SYN without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN counts as one.
    c.seg(SYN, seq=seq, ack=0)
    rst = [t for t in c.pump(2.0, ack=False, stop=lambda c: c.log) if t.flags & RST]
    check(rst, "no RST for SYN to a closed port")
    check(rst[0].flags & ACK and rst[0].seq == 0 and rst[0].ack == (seq + 1) % 2**32,
          f"RST for SYN: flags={rst[0].flags} seq={rst[0].seq} ack={rst[0].ack}")
    # ACK segment: <SEQ=SEG.ACK><CTL=RST>.
    c.log.clear()
    c.seg(ACK, seq=seq, ack=12345678)
    rst = [t for t in c.pump(2.0, ack=False, stop=lambda c: c.log) if t.flags & RST]
    check(rst and rst[0].seq == 12345678 and not rst[0].flags & ACK,
          f"RST for ACK: {[(int(t.flags), t.seq) for t in rst]}")
    # FIN with 5 data bytes and no ACK: ACK = SEG.SEQ + 5 + 1 (FIN counts).
    c.log.clear()
    c.seg(FIN, seq=seq, ack=0, payload=b"hello")
    rst = [t for t in c.pump(2.0, ack=False, stop=lambda c: c.log) if t.flags & RST]
    check(rst and rst[0].ack == (seq + 6) % 2**32, "RST for FIN+data: wrong ACK")
    # An incoming RST is never answered (§3.10.7.1: "an incoming segment containing a RST is
    # discarded").
    c.log.clear()
    c.seg(RST, seq=seq, ack=0)
    c.pump(1.0, ack=False)
    check(not c.log, f"answered a RST: {c.log}")
    # UDP to closed ports: port unreachable quoting our datagram, rate-limited.
    sent, replies, quoted_ok = 400, 0, True
    t0 = time.monotonic()
    for i in range(sent):
        w.send_l3(IP(src=w.me, dst=w.target, id=i) / UDP(sport=40000, dport=30000 + i) / Raw(b"x" * 8))
    for p in w.frames(1.5):
        if p.haslayer(ICMP) and p[ICMP].type == 3 and p[ICMP].code == 3:
            replies += 1
            if not (p.haslayer(UDPerror) and p[UDPerror].sport == 40000):
                quoted_ok = False
    elapsed = time.monotonic() - t0
    check(replies > 0, "no ICMP port unreachable")
    check(quoted_ok, "port unreachable does not quote our UDP header")
    result(udp_sent=sent, port_unreachable=replies, seconds=round(elapsed, 2))


def sc_malformed(w, a):
    """Truncated, oversized and garbage frames (issue #2 "Bad input"), then a valid ping."""
    frames = []
    good = bytes(Ether(src=ME_MAC, dst=w.target_mac) / IP(src=w.me, dst=w.target) / TCP(dport=a.port, flags=SYN) / Raw(b"x" * 40))
    for cut in range(0, len(good), 3):  # every truncation
        frames.append(good[:cut])
    eth = bytes(Ether(src=ME_MAC, dst=w.target_mac))
    frames += [
        eth + bytes(IP(src=w.me, dst=w.target, len=60000) / UDP(dport=7) / Raw(b"short")),  # total length > frame
        eth + bytes(IP(src=w.me, dst=w.target, len=10) / UDP(dport=7)),  # total length < header
        eth + bytes(IP(src=w.me, dst=w.target, ihl=15) / UDP(dport=7)),  # header longer than packet
        eth + bytes(IP(src=w.me, dst=w.target, ihl=3) / UDP(dport=7)),  # header shorter than 20
        eth + bytes(IP(src=w.me, dst=w.target, version=6) / UDP(dport=7)),
        eth + bytes(IP(src=w.me, dst=w.target) / TCP(dport=a.port, dataofs=15, flags=SYN)),
        eth + bytes(IP(src=w.me, dst=w.target) / TCP(dport=a.port, dataofs=2, flags=SYN)),
        eth + bytes(IP(src=w.me, dst=w.target) / UDP(dport=7, len=4000) / Raw(b"u")),
        eth + bytes(IP(src=w.me, dst=w.target) / UDP(dport=7, len=3) / Raw(b"u")),
        eth + bytes(IP(src=w.me, dst=w.target, proto=253) / Raw(b"unknown protocol")),
        eth + bytes(IP(src=w.me, dst=w.target) / ICMP(type=8, code=0) / Raw(b"p" * 1400))[:-700],
        eth + bytes(IP(src=w.me, dst=w.target, options=b"\x44\x00\x00\x00") / UDP(dport=7)),
        eth + bytes(IP(src=w.me, dst=w.target, options=b"\x07\xff\x04\x00") / UDP(dport=7)),
        eth + bytes(IP(src="0.0.0.0", dst=w.target) / TCP(dport=a.port, flags=SYN)),
        eth + bytes(IP(src="255.255.255.255", dst=w.target) / TCP(dport=a.port, flags=SYN)),
        eth + bytes(IP(src=w.target, dst=w.target) / TCP(sport=a.port, dport=a.port, flags=SYN)),  # LAND
        eth + bytes(IP(src="224.0.0.1", dst=w.target) / UDP(dport=9)),
        bytes(Ether(src=ME_MAC, dst=w.target_mac, type=0x0806)) + b"\x00\x01\x08\x00\x06",  # short ARP
        bytes(Ether(src=ME_MAC, dst=w.target_mac, type=0x0806) / ARP(hwlen=32, plen=200)),
        bytes(Ether(src=ME_MAC, dst=w.target_mac, type=0x88B5)) + b"\x00" * 50,
        bytes(Ether(src=ME_MAC, dst=w.target_mac)) + b"\x45" + b"\xff" * 1485,
    ]
    for size in (1500, 4000, 9000):  # oversized frames (the test raises the TAP's MTU)
        frames.append(eth + bytes(IP(src=w.me, dst=w.target) / UDP(dport=7) / Raw(b"o" * (size - 28))))
    rnd = random.Random(a.seed)
    for _ in range(a.count):
        n = rnd.randint(0, 1600)
        body = bytes(rnd.getrandbits(8) for _ in range(n))
        kind = rnd.randint(0, 2)
        if kind == 0:
            frames.append(eth + body)  # IPv4 ethertype, random body
        elif kind == 1:
            ipb = bytearray(bytes(IP(src=w.me, dst=w.target, proto=6) / Raw(body[:40])))
            frames.append(eth + bytes(ipb))  # valid IP header, garbage TCP
        else:
            frames.append(body)  # anything at all
    sent = 0
    for f in frames:
        try:
            w.send_raw(f)
            sent += 1
        except OSError:
            pass  # shorter than an Ethernet header or larger than the MTU: the kernel refuses
    # A valid ping still works afterwards.
    w.send_l3(IP(src=w.me, dst=w.target) / ICMP(type=8, id=77, seq=1) / Raw(b"still alive"))
    ok = any(p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == 77 for p in w.frames(3.0))
    check(ok, "no echo reply after the malformed frames")
    result(frames_sent=sent)


def sc_fragments(w, a):
    """Fragment floods: overlapping fragments with different content, never-completed
    datagrams under many IDs, tiny fragments, a reassembly past 65535 bytes. Then a
    fragmented 4000-byte ping must still be answered."""
    rnd = random.Random(a.seed)
    sent = 0
    for i in range(a.count):
        ipid = rnd.randint(0, 65535)
        kind = i % 5
        if kind == 0:  # overlapping fragments with different content (teardrop-like)
            w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, flags="MF", frag=0) / Raw(b"A" * 64))
            w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, flags="MF", frag=4) / Raw(b"B" * 64))
            w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, frag=2) / Raw(b"C" * 16))
            sent += 4
        elif kind == 1:  # first fragment only: never completes
            w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, flags="MF", frag=0) / Raw(b"F" * 1024))
            sent += 1
        elif kind == 2:  # many tiny fragments with gaps (hole explosion)
            for k in range(0, 200, 2):
                w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=1, flags="MF", frag=k) / Raw(b"t" * 8))
                sent += 1
        elif kind == 3:  # beyond 65535 bytes in total
            w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, flags="MF", frag=8189) / Raw(b"Z" * 1000))
            w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, frag=8180) / Raw(b"Z" * 800))
            sent += 2
        else:  # the same fragment over and over
            for _ in range(20):
                w.send_l3(IP(src=w.me, dst=w.target, id=ipid, proto=17, flags="MF", frag=1) / Raw(b"R" * 512))
                sent += 1
    # A legitimate fragmented ping (4000 bytes) is still reassembled and answered.
    ping = IP(src=w.me, dst=w.target, id=4242) / ICMP(type=8, id=99, seq=1) / Raw(bytes(range(256)) * 15 + b"q" * 160)
    for f in fragment(ping, fragsize=1480):
        w.send_l3(f)
    replied = False
    for p in w.frames(4.0):
        if p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == 99:
            replied = True
            break
        if p[IP].flags.MF or p[IP].frag:
            # The reply is fragmented too; scapy does not reassemble here: first fragment ok.
            if p[IP].frag == 0 and p.haslayer(ICMP) and p[ICMP].type == 0:
                replied = True
                break
    check(replied, "fragmented ping not answered after the fragment flood")
    result(fragments_sent=sent)


def rfc_answer(flags, listening):
    """What RFC 9293 §3.10.7.1 (closed port) / §3.10.7.2 (LISTEN) prescribe for one segment:
    "SA", "R", "RA" or None (silently dropped)."""
    if flags & RST:
        return None  # an incoming RST is never answered
    if flags & ACK:
        return "R"  # <SEQ=SEG.ACK><CTL=RST>
    if listening:
        return "SA" if flags & SYN else None  # third check: SYN; fourth: drop
    return "RA"  # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>


def sc_flags(w, a):
    """Every combination of the eight TCP flag bits (FIN SYN RST PSH ACK URG ECE CWR) sent once
    to the listening port and once to a closed port, from distinct source ports: each answer
    (or silence) must be what RFC 9293 prescribes, with the prescribed SEQ/ACK fields. SYN+FIN
    is contradictory: dropping it as malformed is also accepted."""
    rnd = random.Random(a.seed)
    probes = {}
    for bits in range(256):
        for listening, dport in ((True, a.port), (False, a.port + 1)):
            sport = 10000 + bits * 2 + (0 if listening else 1)
            seq, ack = rnd.randint(0, 2**32 - 1), rnd.randint(0, 2**32 - 1)
            payload = b"data" if bits % 3 == 0 else b""
            probes[sport] = (bits, listening, seq, ack, len(payload))
            w.send_l3(IP(src=w.me, dst=w.target) / TCP(sport=sport, dport=dport, flags=bits, seq=seq,
                                                       ack=ack, window=1024) / Raw(payload))
            if bits % 16 == 15:
                time.sleep(0.01)  # stay under the RST queue bound (max_pending_rsts)
    answers = {}
    for p in w.frames(2.0):
        if p.haslayer(TCP) and p[TCP].dport in probes and p[TCP].dport not in answers:
            answers[p[TCP].dport] = p[TCP]
    wrong = []
    for sport, (bits, listening, seq, ack, plen) in sorted(probes.items()):
        want = rfc_answer(bits, listening)
        got = answers.get(sport)
        gotf = None if got is None else "".join(c for c, b in (("S", SYN), ("R", RST), ("A", ACK)) if got.flags & b)
        gotf = {"SA": "SA", "R": "R", "RA": "RA"}.get(gotf, gotf)
        if got is None and want is not None and bits & SYN and bits & FIN:
            continue  # SYN+FIN dropped as malformed: allowed
        if gotf != want:
            wrong.append(f"flags=0x{bits:02x} {'listen' if listening else 'closed'}: got {gotf} want {want}")
            continue
        if want == "R" and got.seq != ack:
            wrong.append(f"flags=0x{bits:02x}: RST seq {got.seq} != SEG.ACK {ack}")
        if want == "RA":
            seglen = plen + (1 if bits & SYN else 0) + (1 if bits & FIN else 0)
            if got.seq != 0 or got.ack != (seq + seglen) % 2**32:
                wrong.append(f"flags=0x{bits:02x}: RST,ACK seq={got.seq} ack={got.ack}, want 0/{(seq + seglen) % 2**32}")
        if want == "SA" and got.ack != (seq + 1) % 2**32:
            wrong.append(f"flags=0x{bits:02x}: SYN-ACK ack={got.ack}, want {(seq + 1) % 2**32}")
    for line in wrong:
        print(line, flush=True)
    result(probes=len(probes), answered=len(answers), wrong=len(wrong))


def sc_arp_flood(w, a):
    """ARP abuse: `a.count` requests for tcplab's address from distinct spoofed senders (each
    may be learned: the cache must stay bounded), as many unsolicited replies, malformed ARP,
    and a gratuitous ARP claiming tcplab's own address from another MAC. tcplab must still
    answer ARP for its address with its own MAC, and ping."""
    rnd = random.Random(a.seed)
    prefix = w.target.rsplit(".", 1)[0]
    frames = []
    for i in range(a.count):
        mac = "02:%02x:%02x:%02x:%02x:%02x" % tuple(rnd.randint(0, 255) for _ in range(5))
        ip = f"{prefix}.{10 + i % 240}"
        op = 1 if i % 2 == 0 else 2
        frames.append(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff" if op == 1 else w.target_mac)
                      / ARP(op=op, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00" if op == 1 else w.target_mac,
                            pdst=w.target))
    for i in range(a.count // 4):  # senders off the subnet, and odd sizes/opcodes
        frames.append(Ether(src=ME_MAC, dst="ff:ff:ff:ff:ff:ff")
                      / ARP(op=rnd.choice([1, 2, 3, 9, 0]), hwsrc=ME_MAC, psrc=f"203.0.{i % 250}.{i % 200}",
                            pdst=w.target, hwlen=rnd.choice([6, 0, 16]), plen=rnd.choice([4, 0, 16])))
    for f in frames:
        w.sock.send(f)
    # Someone else claims tcplab's address (RFC 5227 conflict): tcplab keeps answering for it.
    w.sock.send(Ether(src="02:66:66:66:66:66", dst="ff:ff:ff:ff:ff:ff")
                / ARP(op=2, hwsrc="02:66:66:66:66:66", psrc=w.target, hwdst="ff:ff:ff:ff:ff:ff", pdst=w.target))
    time.sleep(0.3)
    mac_before = w.target_mac
    w.target_mac = None
    w.resolve()
    check(w.target_mac == mac_before, f"tcplab answered ARP with {w.target_mac}, was {mac_before}")
    # Up to three pings, one second apart (a loaded CI machine may drop one frame of the
    # burst's aftermath on the TAP queue); how many were needed is reported.
    tries = 0
    ok = False
    while not ok and tries < 3:
        tries += 1
        w.send_l3(IP(src=w.me, dst=w.target) / ICMP(type=8, id=55, seq=tries) / Raw(b"arp flood over"))
        ok = any(p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == 55 for p in w.frames(1.0))
    check(ok, "no echo reply after the ARP flood (3 pings)")
    result(frames=len(frames) + 1, ping_tries=tries)


def sc_broadcast(w, a):
    """Segments to broadcast and multicast destinations must not be answered (RFC 1122
    §4.2.3.10: a SYN to a broadcast or multicast address is silently dropped; §3.2.2: no ICMP
    error about a datagram to a broadcast/multicast address; §3.2.2.6: echo to broadcast may
    be ignored, tcplab's default). Also a source that is broadcast or multicast (RFC 1122
    §3.2.1.3: discard)."""
    prefix = w.target.rsplit(".", 1)[0]
    bcast = "ff:ff:ff:ff:ff:ff"
    probes = []
    for dst in (f"{prefix}.255", "255.255.255.255", "224.0.0.1", "239.1.2.3"):
        dmac = bcast if not dst.startswith(("224", "239")) else "01:00:5e:00:00:01"
        probes.append(Ether(src=ME_MAC, dst=dmac) / IP(src=w.me, dst=dst) / TCP(sport=4444, dport=a.port, flags=SYN))
        probes.append(Ether(src=ME_MAC, dst=dmac) / IP(src=w.me, dst=dst) / TCP(sport=4445, dport=a.port + 1, flags=SYN))
        probes.append(Ether(src=ME_MAC, dst=dmac) / IP(src=w.me, dst=dst) / UDP(sport=4446, dport=33333) / Raw(b"u"))
        probes.append(Ether(src=ME_MAC, dst=dmac) / IP(src=w.me, dst=dst) / ICMP(type=8, id=88) / Raw(b"e"))
    # Our unicast address, but a broadcast link-layer destination: still not for a RST storm.
    probes.append(Ether(src=ME_MAC, dst=bcast) / IP(src=w.me, dst=w.target) / UDP(sport=4447, dport=33334) / Raw(b"b"))
    # Broadcast and multicast sources, unicast destination.
    for src in (f"{prefix}.255", "224.0.0.5"):
        probes.append(Ether(src=ME_MAC, dst=w.target_mac) / IP(src=src, dst=w.target) / TCP(sport=4448, dport=a.port + 1, flags=SYN))
        probes.append(Ether(src=ME_MAC, dst=w.target_mac) / IP(src=src, dst=w.target) / UDP(sport=4449, dport=33335))
    for p in probes:
        w.sock.send(p)
    answers = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        r, _, _ = select.select([w.sock], [], [], 0.1)
        if not r:
            continue
        p = w.sock.recv()
        if p is None or not p.haslayer(IP) or p[IP].src != w.target:
            continue
        if p.haslayer(TCP) or p.haslayer(ICMP):
            answers.append(p.summary())
    for line in answers:
        print("answer:", line, flush=True)
    result(probes=len(probes), answers=len(answers))
