//! Fragment reassembly (RFC 791 §3.2, RFC 815 hole descriptors, RFC 1122 §3.3.2), bounded.
//!
//! Datagrams are keyed by (source, destination, protocol, identification) as RFC 791 says.
//! Each keeps a list of holes (RFC 815): a fragment must fall entirely inside one hole. A
//! fragment that repeats data already received byte for byte is a harmless duplicate (links
//! duplicate frames); one that overlaps with different or partial data drops the whole
//! datagram, since overlapping fragments are a known evasion and attack technique (RFC 5722
//! makes the same choice for IPv6).
//!
//! Bounds (all in [`crate::config::Ipv4Config`]): total bytes over all datagrams, bytes per
//! datagram, number of concurrent datagrams (the oldest is evicted for a new one), holes per
//! datagram, and a timeout after which the datagram is discarded (RFC 1122 §3.3.2), reporting
//! whether fragment zero had arrived so the caller can send ICMP time exceeded (RFC 792 code 1).

use core::net::Ipv4Addr;

use crate::config::Ipv4Config;
use crate::event::DropReason;
use crate::pool::BufPool;
use crate::time::Instant;

/// Identity of a datagram being reassembled (RFC 791 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ident: u16,
}

/// A copy of the first fragment's IP header plus the first 8 payload bytes: what an ICMP
/// error about the datagram quotes (RFC 792).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quote {
    pub bytes: [u8; 68],
    pub len: usize,
}

impl Quote {
    pub fn new(header: &[u8], payload: &[u8]) -> Quote {
        let mut q = Quote {
            bytes: [0; 68],
            len: 0,
        };
        let h = header.len().min(60);
        let p = payload.len().min(8);
        q.bytes[..h].copy_from_slice(&header[..h]);
        q.bytes[h..h + p].copy_from_slice(&payload[..p]);
        q.len = h + p;
        q
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

const INFINITY: usize = usize::MAX;

#[derive(Debug)]
struct Slot {
    key: Key,
    data: Vec<u8>,
    holes: Vec<(usize, usize)>,
    total: Option<usize>,
    first: Option<Quote>,
    deadline: Instant,
}

/// One received fragment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece<'a> {
    /// Its IP header (kept from fragment zero for ICMP quotes).
    pub header: &'a [u8],
    /// Fragment offset in bytes.
    pub offset: usize,
    /// The MF flag.
    pub more: bool,
    /// Its payload.
    pub data: &'a [u8],
}

/// A reassembled datagram.
#[derive(Debug)]
pub(crate) struct Complete {
    pub key: Key,
    /// The first fragment's header and 8 payload bytes (for ICMP errors about the datagram).
    pub quote: Quote,
    pub payload: Vec<u8>,
}

/// Result of feeding one fragment.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Stored; more fragments are needed.
    Incomplete,
    /// An exact duplicate of data already held (ignored).
    Duplicate,
    /// The datagram is whole.
    Complete(Complete),
    /// The fragment (and for some reasons the whole datagram) was dropped.
    Dropped(DropReason),
}

/// An incomplete datagram that timed out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expired {
    pub key: Key,
    /// Set when fragment zero had arrived: the caller sends ICMP time exceeded, code 1.
    pub first: Option<Quote>,
}

/// All incomplete datagrams.
#[derive(Debug)]
pub(crate) struct Reassembler {
    slots: Vec<Slot>,
    bytes: usize,
    cfg: Ipv4Config,
    /// Hole lists of finished datagrams, reused so steady traffic does not allocate.
    spare_holes: Vec<Vec<(usize, usize)>>,
}

impl Reassembler {
    pub fn new(cfg: &Ipv4Config) -> Self {
        Reassembler {
            slots: Vec::new(),
            bytes: 0,
            cfg: cfg.clone(),
            spare_holes: Vec::new(),
        }
    }

    /// Bytes held by incomplete datagrams.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of incomplete datagrams.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    fn remove(&mut self, i: usize) -> Slot {
        let mut slot = self.slots.swap_remove(i);
        self.bytes -= slot.data.len();
        if self.spare_holes.len() < self.cfg.reassembly_max_datagrams {
            let mut holes = core::mem::take(&mut slot.holes);
            holes.clear();
            self.spare_holes.push(holes);
        }
        slot
    }

    /// Feed one fragment of the datagram `key`.
    pub fn insert(
        &mut self,
        pool: &mut BufPool,
        now: Instant,
        key: Key,
        piece: Piece<'_>,
    ) -> Outcome {
        let Piece {
            header,
            offset,
            more,
            data: frag,
        } = piece;
        let (start, end) = (offset, offset + frag.len());
        if end > self.cfg.reassembly_max_datagram {
            if let Some(i) = self.slots.iter().position(|s| s.key == key) {
                pool.give(self.remove(i).data);
            }
            return Outcome::Dropped(DropReason::ReassemblyTooBig);
        }
        // RFC 791 §3.2: every fragment but the last carries a multiple of 8 octets.
        if more && (frag.is_empty() || !frag.len().is_multiple_of(8)) {
            return Outcome::Dropped(DropReason::ReassemblyInconsistent);
        }
        let i = match self.slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                if self.cfg.reassembly_max_datagrams == 0 {
                    return Outcome::Dropped(DropReason::ReassemblyTooMany);
                }
                if self.slots.len() >= self.cfg.reassembly_max_datagrams {
                    // Evict the oldest incomplete datagram: under a flood of bogus fragments
                    // this keeps room for new, legitimate ones.
                    let oldest = self.oldest().unwrap_or(0);
                    pool.give(self.remove(oldest).data);
                }
                self.slots.push(Slot {
                    key,
                    data: pool.take(0),
                    holes: {
                        let mut h = self.spare_holes.pop().unwrap_or_default();
                        h.push((0, INFINITY));
                        h
                    },
                    total: None,
                    first: None,
                    deadline: now + self.cfg.reassembly_timeout,
                });
                self.slots.len() - 1
            }
        };
        let slot = &self.slots[i];
        // RFC 791 §3.2: the last fragment fixes the total length; all others must agree.
        let bad_total = match (more, slot.total) {
            (false, Some(t)) => t != end,
            (false, None) => slot.data.len() > end,
            (true, Some(t)) => end > t,
            (true, None) => false,
        };
        if bad_total {
            pool.give(self.remove(i).data);
            return Outcome::Dropped(DropReason::ReassemblyInconsistent);
        }
        let Some(h) = slot
            .holes
            .iter()
            .position(|&(hs, he)| hs <= start && end <= he)
        else {
            // Not inside one hole: either an exact duplicate or an overlap.
            let covered = !slot.holes.iter().any(|&(hs, he)| hs < end && start < he);
            if covered && end <= slot.data.len() && slot.data[start..end] == *frag {
                return Outcome::Duplicate;
            }
            pool.give(self.remove(i).data);
            return Outcome::Dropped(DropReason::ReassemblyOverlap);
        };
        let growth = end.saturating_sub(slot.data.len());
        if growth > 0 && self.bytes + growth > self.cfg.reassembly_max_bytes {
            // Make room by evicting the oldest other datagrams.
            while self.bytes + growth > self.cfg.reassembly_max_bytes {
                match self.oldest_except(&key) {
                    Some(j) => {
                        pool.give(self.remove(j).data);
                    }
                    None => {
                        let i = self.slots.iter().position(|s| s.key == key).unwrap_or(0);
                        if self.slots[i].data.is_empty() {
                            pool.give(self.remove(i).data);
                        }
                        return Outcome::Dropped(DropReason::ReassemblyMemFull);
                    }
                }
            }
        }
        let i = self.slots.iter().position(|s| s.key == key).unwrap_or(0);
        let slot = &mut self.slots[i];
        let (hs, he) = slot.holes.swap_remove(h);
        if start > hs {
            slot.holes.push((hs, start));
        }
        if end < he && more {
            slot.holes.push((end, he));
        }
        if !more {
            slot.total = Some(end);
            slot.holes.retain(|&(s, _)| s < end);
            for hole in &mut slot.holes {
                hole.1 = hole.1.min(end);
            }
        }
        if slot.holes.len() > self.cfg.reassembly_max_holes {
            pool.give(self.remove(i).data);
            return Outcome::Dropped(DropReason::ReassemblyTooManyHoles);
        }
        if growth > 0 {
            slot.data.resize(end, 0);
            self.bytes += growth;
        }
        slot.data[start..end].copy_from_slice(frag);
        if start == 0 {
            slot.first = Some(Quote::new(header, frag));
        }
        if !slot.holes.is_empty() {
            return Outcome::Incomplete;
        }
        let slot = self.remove(i);
        Outcome::Complete(Complete {
            key: slot.key,
            quote: slot.first.unwrap_or(Quote {
                bytes: [0; 68],
                len: 0,
            }),
            payload: slot.data,
        })
    }

    fn oldest(&self) -> Option<usize> {
        (0..self.slots.len()).min_by_key(|&i| self.slots[i].deadline)
    }

    fn oldest_except(&self, key: &Key) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].key != *key)
            .min_by_key(|&i| self.slots[i].deadline)
    }

    /// The earliest reassembly deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots.iter().map(|s| s.deadline).min()
    }

    /// Discard every datagram whose deadline has passed, reporting each to `on_expired`.
    pub fn expire(
        &mut self,
        now: Instant,
        pool: &mut BufPool,
        mut on_expired: impl FnMut(Expired),
    ) {
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].deadline <= now {
                let slot = self.remove(i);
                pool.give(slot.data);
                on_expired(Expired {
                    key: slot.key,
                    first: slot.first,
                });
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::BufPool;
    use crate::time::Duration;

    fn key(ident: u16) -> Key {
        Key {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            proto: 17,
            ident,
        }
    }

    /// Offer one header-less fragment of datagram `ident` (offset in bytes).
    fn frag(
        r: &mut Reassembler,
        pool: &mut BufPool,
        now: Instant,
        ident: u16,
        offset: usize,
        more: bool,
        data: &[u8],
    ) -> Outcome {
        r.insert(
            pool,
            now,
            key(ident),
            Piece {
                header: &[],
                offset,
                more,
                data,
            },
        )
    }

    fn cfg() -> Ipv4Config {
        Ipv4Config {
            reassembly_max_bytes: 4096,
            reassembly_max_datagrams: 2,
            ..Default::default()
        }
    }

    #[test]
    fn rfc815_out_of_order_fragments_complete() {
        let mut r = Reassembler::new(&cfg());
        let mut pool = BufPool::new(4);
        let data: Vec<u8> = (0..100u8).collect();
        let t = Instant::ZERO;
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 80, false, &data[80..]),
            Outcome::Incomplete
        ));
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 40, true, &data[40..80]),
            Outcome::Incomplete
        ));
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 40, true, &data[40..80]),
            Outcome::Duplicate
        ));
        match r.insert(
            &mut pool,
            t,
            key(1),
            Piece {
                header: &[0x45; 20],
                offset: 0,
                more: true,
                data: &data[..40],
            },
        ) {
            Outcome::Complete(c) => {
                assert_eq!(c.payload, data);
                assert_eq!(c.quote.len, 28);
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(r.bytes(), 0);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn overlapping_fragment_drops_datagram() {
        let mut r = Reassembler::new(&cfg());
        let mut pool = BufPool::new(4);
        let t = Instant::ZERO;
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 0, true, &[1; 16]),
            Outcome::Incomplete
        ));
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 8, true, &[2; 16]),
            Outcome::Dropped(DropReason::ReassemblyOverlap)
        ));
        assert_eq!(r.len(), 0);
        assert_eq!(r.bytes(), 0);
    }

    #[test]
    fn rfc791_total_length_must_agree() {
        let mut r = Reassembler::new(&cfg());
        let mut pool = BufPool::new(4);
        let t = Instant::ZERO;
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 16, false, &[1; 8]),
            Outcome::Incomplete
        ));
        assert!(matches!(
            frag(&mut r, &mut pool, t, 1, 32, false, &[1; 8]),
            Outcome::Dropped(DropReason::ReassemblyInconsistent)
        ));
        // Non-last fragments must be multiples of 8 octets.
        assert!(matches!(
            frag(&mut r, &mut pool, t, 2, 0, true, &[1; 7]),
            Outcome::Dropped(DropReason::ReassemblyInconsistent)
        ));
    }

    #[test]
    fn bounded_by_memory_and_count() {
        let mut r = Reassembler::new(&cfg());
        let mut pool = BufPool::new(4);
        let t = Instant::ZERO;
        for id in 0..10 {
            let now = t + Duration::from_millis(id as u64);
            let _ = frag(&mut r, &mut pool, now, id, 0, true, &[0; 1024]);
            assert!(r.bytes() <= 4096);
            assert!(r.len() <= 2);
        }
        assert!(matches!(
            frag(&mut r, &mut pool, t, 99, 8192, true, &[0; 8]),
            Outcome::Dropped(DropReason::ReassemblyMemFull)
        ));
        assert!(r.bytes() <= 4096);
    }

    #[test]
    fn rfc1122_3_3_2_timeout_reports_first_fragment() {
        let mut r = Reassembler::new(&cfg());
        let mut pool = BufPool::new(4);
        let t = Instant::ZERO;
        let _ = r.insert(
            &mut pool,
            t,
            key(1),
            Piece {
                header: &[0x45; 20],
                offset: 0,
                more: true,
                data: &[0; 8],
            },
        );
        let _ = r.insert(
            &mut pool,
            t,
            key(2),
            Piece {
                header: &[0x45; 20],
                offset: 8,
                more: true,
                data: &[0; 8],
            },
        );
        assert_eq!(r.poll_timeout(), Some(t + cfg().reassembly_timeout));
        let mut got = Vec::new();
        r.expire(t + Duration::from_secs(1), &mut pool, |e| got.push(e));
        assert!(got.is_empty());
        r.expire(t + cfg().reassembly_timeout, &mut pool, |e| got.push(e));
        assert_eq!(got.len(), 2);
        let first = got.iter().find(|e| e.key.ident == 1).unwrap();
        assert!(first.first.is_some());
        assert!(got
            .iter()
            .find(|e| e.key.ident == 2)
            .unwrap()
            .first
            .is_none());
        assert_eq!(r.bytes(), 0);
    }
}
