//! Selective acknowledgment (RFC 2018): the sender's scoreboard of SACKed ranges and the
//! choice of the next hole to retransmit during fast recovery (a simplified RFC 6675 NextSeg:
//! holes below the highest SACKed byte, each retransmitted once per recovery episode).
//!
//! The receiver side (which blocks to report) is `RecvBuffer::sack_blocks`.

use super::seq::Seq;

/// SACKed ranges above SND.UNA, sorted and disjoint, bounded in number.
#[derive(Debug, Default)]
pub(crate) struct Scoreboard {
    blocks: Vec<(Seq, Seq)>,
    max: usize,
}

impl Scoreboard {
    /// A scoreboard holding at most `max` ranges (extra information is ignored, which only
    /// costs retransmission efficiency).
    pub fn new(max: usize) -> Self {
        Scoreboard {
            blocks: Vec::new(),
            max,
        }
    }

    /// Record a SACK block from an ACK, if it is plausible (RFC 2018 §4: within
    /// SND.UNA..SND.MAX; anything else is ignored). Returns whether it SACKed new data.
    pub fn add(&mut self, left: Seq, right: Seq, snd_una: Seq, snd_max: Seq) -> bool {
        if !(snd_una < left && left < right && right <= snd_max) {
            return false;
        }
        if self
            .blocks
            .iter()
            .any(|&(bl, br)| bl <= left && right <= br)
        {
            return false;
        }
        let (mut l, mut r) = (left, right);
        // Merge with every overlapping or adjacent block.
        let mut i = 0;
        while i < self.blocks.len() {
            let (bl, br) = self.blocks[i];
            if br < l || r < bl {
                i += 1;
                continue;
            }
            l = l.min_seq(bl);
            r = r.max_seq(br);
            self.blocks.remove(i);
        }
        let pos = self
            .blocks
            .iter()
            .position(|b| b.0 > l)
            .unwrap_or(self.blocks.len());
        if self.blocks.len() >= self.max {
            return false;
        }
        self.blocks.insert(pos, (l, r));
        true
    }

    /// Forget everything at or below the new cumulative ACK.
    pub fn ack(&mut self, snd_una: Seq) {
        self.blocks.retain(|b| b.1 > snd_una);
        if let Some(first) = self.blocks.first_mut() {
            if first.0 < snd_una {
                first.0 = snd_una;
            }
        }
    }

    /// Drop all SACK information (RFC 2018 §8: after a retransmission timeout the sender
    /// must not rely on it).
    pub fn clear(&mut self) {
        self.blocks.clear();
    }

    /// The next hole to retransmit at or after `from`: its start and length (at most `mss`),
    /// only below the highest SACKed byte (RFC 6675 §4 NextSeg, rule 1).
    pub fn next_hole(&self, from: Seq, mss: u32) -> Option<(Seq, u32)> {
        let mut start = from;
        for &(l, r) in &self.blocks {
            if start < l {
                return Some((start, start.dist_to(l).min(mss)));
            }
            start = start.max_seq(r);
        }
        None
    }

    /// The highest SACKed sequence number (end of the last block).
    pub fn highest(&self) -> Option<Seq> {
        self.blocks.last().map(|b| b.1)
    }

    /// The SACKed ranges (for tests and statistics).
    #[cfg(test)]
    pub fn blocks(&self) -> &[(Seq, Seq)] {
        &self.blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2018 §4: blocks merge, stay within SND.UNA..SND.MAX, and are trimmed by the
    /// cumulative ACK.
    #[test]
    fn rfc2018_4_scoreboard_merges_and_trims() {
        let mut s = Scoreboard::new(8);
        let una = Seq(u32::MAX - 1000); // across the wrap
        let max = una + 10_000;
        assert!(s.add(una + 2000, una + 3000, una, max));
        assert!(!s.add(una + 2000, una + 2500, una, max), "nothing new");
        s.add(una + 5000, una + 6000, una, max);
        s.add(una + 3000, una + 4000, una, max); // adjacent: merges
        s.add(una + 9000, una + 20_000, una, max); // beyond SND.MAX: ignored
        s.add(una, una + 100, una, max); // at SND.UNA: ignored
        assert_eq!(
            s.blocks(),
            &[(una + 2000, una + 4000), (una + 5000, una + 6000)]
        );
        s.ack(una + 2500);
        assert_eq!(
            s.blocks(),
            &[(una + 2500, una + 4000), (una + 5000, una + 6000)]
        );
        s.ack(una + 4500);
        assert_eq!(s.blocks(), &[(una + 5000, una + 6000)]);
    }

    /// RFC 6675 §4 NextSeg: holes below the highest SACKed byte, in order, MSS at a time.
    #[test]
    fn rfc6675_4_next_hole() {
        let mut s = Scoreboard::new(8);
        let una = Seq(1000);
        s.add(Seq(3000), Seq(4000), una, Seq(9000));
        s.add(Seq(6000), Seq(7000), una, Seq(9000));
        assert_eq!(s.next_hole(una, 1460), Some((Seq(1000), 1460)));
        assert_eq!(s.next_hole(Seq(2460), 1460), Some((Seq(2460), 540)));
        assert_eq!(s.next_hole(Seq(3000), 1460), Some((Seq(4000), 1460)));
        assert_eq!(s.next_hole(Seq(5460), 1460), Some((Seq(5460), 540)));
        assert_eq!(
            s.next_hole(Seq(6000), 1460),
            None,
            "nothing known lost above the last block"
        );
    }

    #[test]
    fn bounded() {
        let mut s = Scoreboard::new(2);
        for i in 0..10u32 {
            s.add(
                Seq(1000 + i * 100),
                Seq(1050 + i * 100),
                Seq(0),
                Seq(100_000),
            );
        }
        assert_eq!(s.blocks().len(), 2);
    }
}
