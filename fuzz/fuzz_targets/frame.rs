//! Arbitrary bytes as received frames: `Stack::handle_frame` must never panic, whatever the
//! Ethernet/ARP/IPv4/ICMP/UDP/TCP content, and the stack must keep answering afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplab_fuzz::{drain, fix_checksums, stack};
use tcplab_stack::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let (mut s, _listener) = stack();
    let mut buf = vec![0u8; 65536 + 64];
    let mut now = Instant::from_millis(1);
    // First byte: 0 = frames as given; 1 = checksums fixed; 2 = also addressed to us (so the
    // fuzzer spends its time past the Ethernet/IPv4 checks, in the protocol handlers).
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut frame = Vec::with_capacity(65536);
    // The input is split into frames at 2-byte big-endian length prefixes, so one input can
    // carry a sequence (fragments to reassemble, a SYN then an ACK, ...).
    let mut rest = data;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let take = len.min(rest.len());
        frame.clear();
        frame.extend_from_slice(&rest[..take]);
        if mode % 3 != 0 {
            fix_checksums(&mut frame, mode % 3 == 2);
        }
        s.handle_frame(now, &frame);
        rest = &rest[take..];
        drain(&mut s, now, &mut buf);
        now = now + Duration::from_millis(7);
        if s.poll_timeout().is_some_and(|d| d <= now) {
            s.handle_timeout(now);
            drain(&mut s, now, &mut buf);
        }
    }
    if !rest.is_empty() {
        s.handle_frame(now, rest);
        drain(&mut s, now, &mut buf);
    }
    // Run the clock out for a while: every timer (ARP retries, reassembly timeout, RTO...)
    // fires without panicking, and the timer chain terminates.
    for _ in 0..64 {
        match s.poll_timeout() {
            Some(d) => {
                now = now.max(d);
                s.handle_timeout(now);
                drain(&mut s, now, &mut buf);
            }
            None => break,
        }
    }
});
