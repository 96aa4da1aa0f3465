//! The crate's only `unsafe` code: thin wrappers over the Linux `eventfd(2)` and `poll(2)`
//! system calls.
//!
//! An [`EventFd`] is the readiness signal of the queue-backed links ([`crate::memory`],
//! [`crate::packet`]): it is readable exactly while frames are queued, so a runtime thread can
//! sleep in `poll(2)` on it like on a TAP descriptor.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking, close-on-exec Linux event counter (`eventfd(2)`).
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// Create a new counter at zero (not readable).
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd, is valid and owned by nobody else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Make the descriptor readable (add 1 to the counter).
    pub(crate) fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: we pass a pointer to an 8-byte local that lives across the call, and its
        // exact size, as eventfd(2) requires. A failure can only be EAGAIN (counter at
        // u64::MAX - 1), in which case the descriptor is readable anyway.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Make the descriptor non-readable (reset the counter to zero).
    pub(crate) fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: we pass a pointer to a writable 8-byte local and its exact size. On a
        // non-blocking eventfd a zero counter gives EAGAIN, which means "already drained".
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8);
        }
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Wait up to `timeout_ms` milliseconds (negative: forever) until `fd` is readable.
/// Returns whether it is. Interrupted waits (`EINTR`) report "not readable" so callers
/// re-check their own state.
///
/// A convenience for drivers and tests that serve one link; a runtime with several
/// descriptors calls `poll(2)` itself.
pub fn wait_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: we pass a pointer to one valid pollfd and the count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(n > 0 && pfd.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_signal_and_drain() {
        let ev = EventFd::new().unwrap();
        assert!(!wait_readable(ev.as_raw_fd(), 0).unwrap());
        ev.signal();
        ev.signal();
        assert!(wait_readable(ev.as_raw_fd(), 0).unwrap());
        ev.drain();
        assert!(!wait_readable(ev.as_raw_fd(), 0).unwrap());
        // Draining twice is harmless.
        ev.drain();
        assert!(!wait_readable(ev.as_raw_fd(), 0).unwrap());
    }
}
