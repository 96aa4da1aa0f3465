//! Sequences of TCP segments from a peer, well-formed at the IP layer (valid checksums) so
//! they reach the TCP state machine: arbitrary flags, sequence and acknowledgment numbers
//! (mostly near the values the connection expects), windows, options, payloads, and time
//! steps, against a listener and against our own active open. Invariants: no panic, the
//! stack's output stays bounded, and the stack keeps accepting calls.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smoltcp::wire::{TcpControl, TcpRepr, TcpSeqNumber};
use tcplab_fuzz::{arp_from_peer, drain, parse_tcp, stack, tcp_frame, LISTEN_PORT, PEER};
use tcplab_stack::{Duration, Instant, SocketAddrV4};

#[derive(Arbitrary, Debug)]
struct Seg {
    /// 0: to the listener, 1: to our active connection, else: a random port.
    target: u8,
    syn: bool,
    fin: bool,
    rst: bool,
    psh: bool,
    has_ack: bool,
    /// Offset from the next sequence number the stack expects from us.
    seq_off: i16,
    /// Offset from the highest sequence number the stack has sent.
    ack_off: i16,
    window: u16,
    window_scale: Option<u8>,
    mss: Option<u16>,
    sack_permitted: bool,
    payload_len: u16,
    /// Virtual milliseconds to let pass after this segment.
    wait_ms: u16,
    /// Application call after this segment.
    app: u8,
}

#[derive(Arbitrary, Debug)]
struct Input {
    connect_first: bool,
    segs: Vec<Seg>,
}

/// What we know of one connection from the stack's output.
#[derive(Default, Clone, Copy)]
struct Track {
    /// Next sequence number the stack expects from the peer.
    rcv_nxt: u32,
    /// Highest sequence number (+ length) the stack has sent.
    snd_max: u32,
}

fuzz_target!(|input: Input| {
    let (mut s, l) = stack();
    let mut buf = vec![0u8; 65536 + 64];
    let mut now = Instant::from_millis(1);
    s.handle_frame(now, &arp_from_peer());
    drain(&mut s, now, &mut buf);

    let client = if input.connect_first {
        s.tcp_connect(now, SocketAddrV4::new(PEER, 5000)).ok()
    } else {
        None
    };
    let listener_peer_port = 40000u16;
    let mut track = [Track::default(); 2];
    let mut accepted = Vec::new();
    let payload = vec![0x5au8; 4096];

    let observe = |frames: Vec<Vec<u8>>, track: &mut [Track; 2]| {
        for f in frames {
            if let Some((sport, dport, seq, _ack, syn, fin, len)) = parse_tcp(&f) {
                let i = if sport == LISTEN_PORT && dport == listener_peer_port {
                    0
                } else {
                    1
                };
                let end = seq.wrapping_add(len as u32 + syn as u32 + fin as u32);
                if (end.wrapping_sub(track[i].snd_max) as i32) > 0 || track[i].snd_max == 0 {
                    track[i].snd_max = end;
                }
            }
        }
    };
    observe(drain(&mut s, now, &mut buf), &mut track);

    for seg in input.segs.iter().take(256) {
        let (i, src_port, dst_port) = match seg.target % 4 {
            0 => (0, listener_peer_port, LISTEN_PORT),
            1 => (1, 5000, 0),
            _ => (1, 5000 + seg.target as u16, seg.payload_len),
        };
        // Our active connection's local port is whatever the stack chose: learn it from its SYN.
        let dst_port = if dst_port == 0 {
            client_port(&s, client).unwrap_or(49152)
        } else {
            dst_port
        };
        let t = track[i];
        let seq = t.rcv_nxt.wrapping_add(seg.seq_off as i32 as u32);
        let ack = t.snd_max.wrapping_add(seg.ack_off as i32 as u32);
        let control = match (seg.syn, seg.fin, seg.rst, seg.psh) {
            (true, _, _, _) => TcpControl::Syn,
            (_, true, _, _) => TcpControl::Fin,
            (_, _, true, _) => TcpControl::Rst,
            (_, _, _, true) => TcpControl::Psh,
            _ => TcpControl::None,
        };
        let len = (seg.payload_len as usize) % (payload.len() + 1);
        let repr = TcpRepr {
            src_port,
            dst_port,
            control,
            seq_number: TcpSeqNumber(seq as i32),
            ack_number: seg.has_ack.then_some(TcpSeqNumber(ack as i32)),
            window_len: seg.window,
            window_scale: seg.window_scale,
            max_seg_size: seg.mss,
            sack_permitted: seg.sack_permitted,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &payload[..len],
        };
        s.handle_frame(now, &tcp_frame(&repr));
        // Track what a well-behaved peer would send next (only segments the stack should
        // accept move it; the fuzzer explores around it with the offsets).
        if seg.seq_off == 0 {
            track[i].rcv_nxt =
                seq.wrapping_add(len as u32 + seg.syn as u32 + (seg.fin && !seg.syn) as u32);
        }
        if seg.syn && seg.seq_off == 0 {
            track[i].rcv_nxt = seq.wrapping_add(1 + len as u32);
        }

        // An application call.
        match seg.app % 6 {
            0 => {
                if let Some(Ok(c)) = l.map(|l| s.tcp_accept(l)) {
                    accepted.push(c);
                }
            }
            1 => {
                for &c in accepted.iter().chain(client.iter()) {
                    let _ = s.tcp_send(now, c, &payload[..(seg.window as usize % 3000)]);
                }
            }
            2 => {
                let mut rb = [0u8; 2048];
                for &c in accepted.iter().chain(client.iter()) {
                    let _ = s.tcp_recv(now, c, &mut rb);
                }
            }
            3 => {
                for &c in accepted.iter().chain(client.iter()) {
                    let _ = s.tcp_shutdown_write(now, c);
                }
            }
            4 => {
                if let Some(c) = accepted.pop() {
                    s.tcp_close(now, c);
                }
            }
            _ => {}
        }
        observe(drain(&mut s, now, &mut buf), &mut track);

        now = now + Duration::from_millis(seg.wait_ms as u64 % 5000);
        if s.poll_timeout().is_some_and(|d| d <= now) {
            s.handle_timeout(now);
            observe(drain(&mut s, now, &mut buf), &mut track);
        }
    }
    for c in accepted.into_iter().chain(client) {
        let _ = s.tcp_info(c);
        s.tcp_abort(now, c);
    }
    drain(&mut s, now, &mut buf);
});

fn client_port(s: &tcplab_stack::Stack, c: Option<tcplab_stack::ConnHandle>) -> Option<u16> {
    s.tcp_info(c?)?.local.map(|a| a.port())
}
