//! Recycled byte buffers for the datagrams the stack must copy (UDP queues, ICMP messages,
//! reassembled datagrams, segments parked for ARP), so steady traffic does not allocate per
//! packet. Bounded: at most [`crate::Config::buffer_pool`] idle buffers are kept, and only
//! buffers no larger than one maximal IPv4 datagram.

/// Largest capacity worth keeping: one maximal IPv4 datagram.
const MAX_KEEP: usize = 65536;

/// A free list of `Vec<u8>`.
#[derive(Debug)]
pub(crate) struct BufPool {
    free: Vec<Vec<u8>>,
    max_free: usize,
}

impl BufPool {
    pub fn new(max_free: usize) -> Self {
        BufPool {
            free: Vec::with_capacity(max_free.min(1024)),
            max_free,
        }
    }

    /// A zero-filled buffer of `len` bytes.
    pub fn take(&mut self, len: usize) -> Vec<u8> {
        let mut v = self.free.pop().unwrap_or_default();
        v.clear();
        v.resize(len, 0);
        v
    }

    /// A buffer holding a copy of `data`.
    pub fn copy_of(&mut self, data: &[u8]) -> Vec<u8> {
        let mut v = self.free.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(data);
        v
    }

    /// Return a buffer for reuse.
    pub fn give(&mut self, v: Vec<u8>) {
        if self.free.len() < self.max_free && v.capacity() > 0 && v.capacity() <= MAX_KEEP {
            self.free.push(v);
        }
    }

    /// Idle buffers held.
    #[cfg(test)]
    pub fn idle(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_and_stays_bounded() {
        let mut p = BufPool::new(2);
        let a = p.take(100);
        let ptr = a.as_ptr();
        assert_eq!(a, vec![0; 100]);
        p.give(a);
        let b = p.copy_of(b"abc");
        assert_eq!(b.as_ptr(), ptr, "the same allocation is reused");
        assert_eq!(b, b"abc");
        p.give(b);
        p.give(vec![1; 10]);
        p.give(vec![1; 10]);
        assert_eq!(p.idle(), 2);
        p.give(vec![0; MAX_KEEP + 1]);
        assert_eq!(p.idle(), 2);
    }
}
