//! The few raw system calls the runtime needs: an eventfd used to wake the event loop, and
//! `ppoll(2)` to sleep until a descriptor is readable or a deadline passes.
//!
//! Everything `unsafe` in the binary lives here, each block with its SAFETY argument.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A Linux eventfd in non-blocking mode: [`EventFd::wake`] makes it readable, [`EventFd::drain`]
/// makes it unreadable again. Used by socket callers to wake the event-loop thread.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// Create a non-blocking, close-on-exec eventfd with a zero counter.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd, is valid, and nothing else owns it.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Make the descriptor readable (adds 1 to the counter). Never blocks: if the counter is at
    /// its maximum the descriptor is already readable and the error is ignored.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid, live u64 to a descriptor we own.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Reset the counter to zero so the descriptor is no longer readable.
    pub fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a valid, live u64 from a descriptor we own; the
        // descriptor is non-blocking, so this returns EAGAIN when the counter is already zero.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Sleep until one of `fds` is readable or `timeout` has passed (`None`: no timeout).
/// Returns the number of readable descriptors (0 on timeout). `EINTR` counts as a wake-up.
///
/// `ppoll` takes a nanosecond timeout, so a deadline 300 µs away sleeps 300 µs instead of being
/// rounded to 0 ms (a busy loop) or to 1 ms (a late timer), as `poll`'s milliseconds would.
pub fn wait_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<usize> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64 / 2) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `pollfds` is a valid array of `pollfds.len()` entries that outlives the call;
    // `ts_ptr` is null or points to a live timespec; a null sigmask keeps the current mask.
    let n = unsafe {
        libc::ppoll(
            pollfds.as_mut_ptr(),
            pollfds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(err);
    }
    Ok(n as usize)
}

/// Restore the default SIGPIPE action (terminate quietly), as C command-line tools have:
/// `tcplab demo | head` then ends like `cat | head` instead of panicking in `println!`. Our
/// TCP connections live in userspace, so only pipes and terminals can raise SIGPIPE.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL for SIGPIPE touches no memory of ours; called at start-up
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_wakes_and_drains() {
        let efd = EventFd::new().unwrap();
        let fd = efd.as_raw_fd();
        assert_eq!(wait_readable(&[fd], Some(Duration::ZERO)).unwrap(), 0);
        efd.wake();
        efd.wake();
        assert_eq!(
            wait_readable(&[fd], Some(Duration::from_millis(100))).unwrap(),
            1
        );
        efd.drain();
        assert_eq!(wait_readable(&[fd], Some(Duration::ZERO)).unwrap(), 0);
    }

    #[test]
    fn timeout_sleeps_about_as_long_as_asked() {
        let efd = EventFd::new().unwrap();
        let start = std::time::Instant::now();
        wait_readable(&[efd.as_raw_fd()], Some(Duration::from_millis(20))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(19));
    }
}
