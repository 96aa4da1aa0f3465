//! The sending side's data: the send buffer, which doubles as the retransmission queue, and the
//! rules deciding when a segment may leave: Nagle (RFC 9293 §3.7.4, RFC 1122 §4.2.3.4) and
//! sender-side silly window syndrome avoidance (RFC 9293 §3.8.6.2.1).
//!
//! The buffer is a ring holding every byte from SND.UNA on: bytes before SND.NXT are in flight
//! (the retransmission queue, addressed by sequence range), bytes after it are not yet sent.
//! Retransmitting a range is copying it out again, so there is no per-segment bookkeeping.

use std::collections::VecDeque;

/// Bytes from SND.UNA to the end of what the application queued.
#[derive(Debug)]
pub(crate) struct SendBuffer {
    buf: VecDeque<u8>,
    cap: usize,
}

impl SendBuffer {
    /// An empty buffer that will hold at most `cap` bytes (memory grows only as data is queued).
    pub fn new(cap: usize) -> Self {
        SendBuffer {
            buf: VecDeque::new(),
            cap,
        }
    }

    /// Queue as much of `data` as fits; returns the number of bytes taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.buf.extend(&data[..n]);
        n
    }

    /// Bytes held (in flight + unsent).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Room left.
    pub fn free(&self) -> usize {
        self.cap - self.buf.len().min(self.cap)
    }

    /// Drop `n` acknowledged bytes from the front (SND.UNA advanced by `n`).
    pub fn ack(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
    }

    /// Copy `dst.len()` bytes starting `offset` bytes after SND.UNA into `dst`.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        let (a, b) = self.buf.as_slices();
        let mut done = 0;
        let mut off = offset;
        for part in [a, b] {
            if done == dst.len() {
                break;
            }
            if off >= part.len() {
                off -= part.len();
                continue;
            }
            let n = (part.len() - off).min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&part[off..off + n]);
            done += n;
            off = 0;
        }
    }

    /// Release the memory (connection finished or reset).
    pub fn clear(&mut self) {
        self.buf = VecDeque::new();
    }
}

/// Inputs to the "may a segment of `len` bytes leave now" decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendDecision {
    /// Bytes that the usable window and the buffer allow in this segment.
    pub len: u32,
    /// Bytes queued but not yet sent.
    pub unsent: u32,
    /// Bytes in flight (sent, not acknowledged).
    pub in_flight: u32,
    /// Effective send MSS.
    pub mss: u32,
    /// Largest window the peer ever offered (for the SWS fraction).
    pub max_snd_wnd: u32,
    /// Nagle disabled (`nodelay`).
    pub nodelay: bool,
}

impl SendDecision {
    /// RFC 9293 §3.8.6.2.1 (sender SWS avoidance, MUST-38) combined with Nagle (§3.7.4, MUST-39
    /// ... SHOULD-7): send if a full segment can go; or if all queued data can go and nothing is
    /// in flight (or Nagle is off); or if at least half the peer's largest window can go.
    /// The override timeout of the RFC is the persist timer, handled by the caller.
    pub fn allows(&self) -> bool {
        if self.len == 0 {
            return false;
        }
        if self.len >= self.mss {
            return true;
        }
        if self.len == self.unsent && (self.nodelay || self.in_flight == 0) {
            return true;
        }
        // Fs = 1/2 of the maximum window (RFC 9293 §3.8.6.2.1 suggests 1/2), but only when
        // Nagle does not hold it back.
        (self.nodelay || self.in_flight == 0)
            && self.max_snd_wnd > 0
            && self.len >= self.max_snd_wnd / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_write_ack_copy_across_wrap() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.write(b"abcdef"), 6);
        b.ack(4);
        assert_eq!(b.write(b"ghijklmn"), 6, "bounded by capacity");
        let mut out = [0u8; 8];
        b.copy_out(0, &mut out);
        assert_eq!(&out, b"efghijkl");
        let mut out = [0u8; 3];
        b.copy_out(5, &mut out);
        assert_eq!(&out, b"jkl");
    }

    fn d(len: u32, unsent: u32, in_flight: u32, nodelay: bool) -> SendDecision {
        SendDecision {
            len,
            unsent,
            in_flight,
            mss: 1000,
            max_snd_wnd: 65535,
            nodelay,
        }
    }

    /// RFC 9293 §3.7.4 (Nagle): a small segment waits while data is in flight.
    #[test]
    fn rfc9293_3_7_4_nagle_holds_small_segment_while_unacked() {
        assert!(d(10, 10, 0, false).allows(), "nothing in flight: send");
        assert!(!d(10, 10, 500, false).allows(), "in flight: wait");
        assert!(d(10, 10, 500, true).allows(), "nodelay: send");
        assert!(
            d(1000, 1500, 500, false).allows(),
            "full segment always goes"
        );
    }

    /// RFC 9293 §3.8.6.2.1: sender SWS avoidance: no partial segment unless it drains the queue
    /// or reaches half the peer's largest window.
    #[test]
    fn rfc9293_3_8_6_2_1_sender_sws() {
        // Window allows only 300 of 5000 queued bytes: a silly segment, hold it.
        assert!(!d(300, 5000, 0, false).allows());
        assert!(!d(300, 5000, 0, true).allows());
        // Half of the largest window (max 400 -> 200) can be sent.
        let mut x = d(300, 5000, 0, false);
        x.max_snd_wnd = 400;
        assert!(x.allows());
        assert!(!d(0, 5000, 0, true).allows());
    }
}
