//! The receiving side: the receive buffer, out-of-order reassembly with a memory cap
//! (RFC 9293 §3.10.7.4 "segment text", RFC 5681 §4.2 immediate ACKs for out-of-order data), and
//! the window we offer, with receiver-side silly window syndrome avoidance (RFC 9293
//! §3.8.6.2.2).
//!
//! In-order bytes wait in a ring until the application reads them. Out-of-order bytes are kept
//! as sorted, non-overlapping blocks beyond RCV.NXT; together with the in-order bytes they never
//! exceed the buffer capacity (they only ever fill window we offered), and the number of blocks
//! is bounded too.

use std::collections::VecDeque;

use super::seq::Seq;

/// One out-of-order block: `data` starts at sequence number `seq`.
#[derive(Debug)]
struct Block {
    seq: Seq,
    data: Vec<u8>,
}

impl Block {
    fn end(&self) -> Seq {
        self.seq + self.data.len() as u32
    }
}

/// What inserting a segment did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insert {
    /// Bytes by which RCV.NXT advanced (segment + any blocks it joined).
    pub advanced: u32,
    /// The segment (or part of it) was stored out of order.
    pub out_of_order: bool,
    /// The segment filled (part of) a gap before stored blocks.
    pub filled_gap: bool,
    /// Bytes that could not be stored (block limit reached).
    pub dropped: u32,
}

/// Receive buffer with reassembly.
#[derive(Debug)]
pub(crate) struct RecvBuffer {
    ready: VecDeque<u8>,
    cap: usize,
    ooo: Vec<Block>,
    ooo_bytes: usize,
    max_blocks: usize,
    /// Start of the most recent out-of-order arrival (reported first, RFC 2018 §4).
    last_ooo: Option<Seq>,
}

impl RecvBuffer {
    /// A buffer of at most `cap` bytes and `max_blocks` out-of-order blocks.
    pub fn new(cap: usize, max_blocks: usize) -> Self {
        RecvBuffer {
            ready: VecDeque::new(),
            cap,
            ooo: Vec::new(),
            ooo_bytes: 0,
            max_blocks,
            last_ooo: None,
        }
    }

    /// Bytes the application can read.
    pub fn readable(&self) -> usize {
        self.ready.len()
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Room beyond RCV.NXT: what we may offer as window.
    pub fn free(&self) -> usize {
        self.cap.saturating_sub(self.ready.len())
    }

    /// Bytes held out of order.
    pub fn ooo_bytes(&self) -> usize {
        self.ooo_bytes
    }

    /// Read up to `buf.len()` in-order bytes.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let (a, b) = self.ready.as_slices();
        let n1 = a.len().min(buf.len());
        buf[..n1].copy_from_slice(&a[..n1]);
        let n2 = b.len().min(buf.len() - n1);
        buf[n1..n1 + n2].copy_from_slice(&b[..n2]);
        self.ready.drain(..n1 + n2);
        n1 + n2
    }

    /// Store `data` starting at `seq`, given the current RCV.NXT. The caller has trimmed the
    /// segment to the window (RFC 9293 §3.10.7.4: `rcv_nxt <= seq` and the end within
    /// RCV.NXT + free()).
    pub fn insert(&mut self, rcv_nxt: Seq, seq: Seq, data: &[u8]) -> Insert {
        let mut res = Insert::default();
        if data.is_empty() {
            return res;
        }
        let room = self.free() as u32;
        let limit = rcv_nxt + room;
        let mut data = data;
        let end = seq + data.len() as u32;
        if end > limit {
            let keep = seq.dist_to(limit) as usize;
            res.dropped += (data.len() - keep) as u32;
            data = &data[..keep];
        }
        if data.is_empty() {
            return res;
        }
        if seq == rcv_nxt {
            self.ready.extend(data);
            let mut next = seq + data.len() as u32;
            res.advanced = data.len() as u32;
            res.filled_gap = !self.ooo.is_empty();
            // Join every block that now touches the in-order data.
            while let Some(first) = self.ooo.first() {
                if first.seq > next {
                    break;
                }
                let b = self.ooo.remove(0);
                self.ooo_bytes -= b.data.len();
                if b.end() > next {
                    let skip = b.seq.dist_to(next) as usize;
                    let tail = &b.data[skip..];
                    self.ready.extend(tail);
                    res.advanced += tail.len() as u32;
                    next += tail.len() as u32;
                }
            }
            return res;
        }
        res.out_of_order = true;
        self.last_ooo = Some(seq);
        self.insert_ooo(seq, data, &mut res);
        res
    }

    /// Insert beyond RCV.NXT, keeping only bytes not already held (first copy wins).
    fn insert_ooo(&mut self, seq: Seq, data: &[u8], res: &mut Insert) {
        let end = seq + data.len() as u32;
        let mut cur = seq;
        let mut i = 0;
        while cur < end {
            // Skip blocks that end before `cur`.
            while i < self.ooo.len() && self.ooo[i].end() <= cur {
                i += 1;
            }
            let gap_end = if i < self.ooo.len() {
                self.ooo[i].seq.min_seq(end)
            } else {
                end
            };
            if cur < gap_end {
                if self.ooo.len() >= self.max_blocks {
                    res.dropped += cur.dist_to(end);
                    return;
                }
                let from = seq.dist_to(cur) as usize;
                let to = seq.dist_to(gap_end) as usize;
                self.ooo.insert(
                    i,
                    Block {
                        seq: cur,
                        data: data[from..to].to_vec(),
                    },
                );
                self.ooo_bytes += to - from;
                i += 1;
                cur = gap_end;
            } else if i < self.ooo.len() {
                cur = self.ooo[i].end();
                i += 1;
            }
        }
        self.coalesce();
    }

    /// Merge adjacent blocks so the block count stays small.
    fn coalesce(&mut self) {
        let mut i = 0;
        while i + 1 < self.ooo.len() {
            if self.ooo[i].end() == self.ooo[i + 1].seq {
                let next = self.ooo.remove(i + 1);
                self.ooo[i].data.extend_from_slice(&next.data);
            } else {
                i += 1;
            }
        }
    }

    /// Up to three SACK blocks for an ACK (RFC 2018 §4): the block holding the most recent
    /// out-of-order arrival first, then the others in sequence order.
    pub fn sack_blocks(&self) -> [Option<(u32, u32)>; 3] {
        let mut out = [None; 3];
        let mut n = 0;
        let recent = self
            .last_ooo
            .and_then(|s| self.ooo.iter().position(|b| b.seq <= s && s < b.end()));
        if let Some(i) = recent {
            out[0] = Some((self.ooo[i].seq.0, self.ooo[i].end().0));
            n = 1;
        }
        for (i, b) in self.ooo.iter().enumerate() {
            if n == 3 {
                break;
            }
            if Some(i) != recent {
                out[n] = Some((b.seq.0, b.end().0));
                n += 1;
            }
        }
        out
    }

    /// Release all memory (reset or close).
    pub fn clear(&mut self) {
        self.ready = VecDeque::new();
        self.ooo = Vec::new();
        self.ooo_bytes = 0;
    }

    /// The window to announce (RFC 9293 §3.8.6.2.2, receiver SWS avoidance, MUST-39): the right
    /// edge moves only when it can move by at least min(buffer/2, MSS); `offered` is the window
    /// remaining from the last announcement (RCV.ADV - RCV.NXT). The window never shrinks
    /// (§3.8.6.2.2 / MUST-36 discourages shrinking).
    pub fn window_to_offer(&self, offered: u32, mss: u32) -> u32 {
        let free = self.free() as u32;
        let threshold = (self.cap as u32 / 2).min(mss);
        if free >= offered.saturating_add(threshold) || free == self.cap as u32 {
            free
        } else {
            offered.min(free.max(offered))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0u8; b.readable()];
        let n = b.read(&mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn in_order_append() {
        let mut b = RecvBuffer::new(100, 8);
        let r = b.insert(Seq(10), Seq(10), b"hello");
        assert_eq!(r.advanced, 5);
        assert_eq!(read_all(&mut b), b"hello");
    }

    /// RFC 9293 §3.10.7.4 / RFC 5681 §4.2: out-of-order data is held and joined when the gap
    /// fills; overlapping retransmissions do not duplicate bytes.
    #[test]
    fn rfc9293_3_10_7_4_reassembly_out_of_order() {
        let mut b = RecvBuffer::new(100, 8);
        let base = Seq(u32::MAX - 3); // across the wrap
        let r = b.insert(base, base + 6, b"ghi");
        assert!(r.out_of_order);
        assert_eq!(r.advanced, 0);
        b.insert(base, base + 3, b"defg"); // overlaps the block
        assert_eq!(b.ooo.len(), 1, "adjacent blocks coalesce");
        assert_eq!(b.ooo_bytes(), 6);
        let r = b.insert(base, base, b"abc");
        assert_eq!(r.advanced, 9);
        assert!(r.filled_gap);
        assert_eq!(read_all(&mut b), b"abcdefghi");
        assert_eq!(b.ooo_bytes(), 0);
    }

    /// Memory cap: out-of-order blocks are bounded in number; data beyond capacity is refused.
    #[test]
    fn reassembly_memory_is_bounded() {
        let mut b = RecvBuffer::new(50, 2);
        b.insert(Seq(0), Seq(10), b"a");
        b.insert(Seq(0), Seq(20), b"b");
        let r = b.insert(Seq(0), Seq(30), b"c");
        assert_eq!(r.dropped, 1, "third block refused");
        let r = b.insert(Seq(0), Seq(45), b"0123456789");
        assert!(r.dropped > 0, "beyond capacity is trimmed");
        assert!(b.ooo_bytes() + b.readable() <= 50);
    }

    /// RFC 9293 §3.8.6.2.2: the right edge moves only by at least min(buf/2, MSS).
    #[test]
    fn rfc9293_3_8_6_2_2_receiver_sws() {
        let mut b = RecvBuffer::new(10_000, 8);
        b.insert(Seq(0), Seq(0), &[0u8; 10_000]);
        assert_eq!(b.window_to_offer(0, 1000), 0);
        let mut small = [0u8; 500];
        b.read(&mut small);
        assert_eq!(
            b.window_to_offer(0, 1000),
            0,
            "500 < MSS: keep window closed"
        );
        b.read(&mut small);
        assert_eq!(b.window_to_offer(0, 1000), 1000, "one MSS free: open");
    }
}
