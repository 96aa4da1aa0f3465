//! The crate's only `unsafe` code: thin wrappers over the Linux `eventfd(2)`, `poll(2)`,
//! AF_PACKET and TUN/TAP (`TUNSETIFF`, `TUNSETOFFLOAD`, `read`/`writev`) system calls.
//!
//! An [`EventFd`] is the readiness signal of the in-memory link ([`crate::memory`]): it is
//! readable exactly while frames are queued, so a runtime thread can sleep in `poll(2)` on it
//! like on a TAP descriptor. [`packet_socket`] opens the AF_PACKET socket that
//! [`crate::packet`] hands to `pnet_datalink`, so that we know its descriptor and can set
//! options pnet does not offer.

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

/// Put `fd` in non-blocking mode (`O_NONBLOCK`), keeping its other status flags.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL takes no pointers; a bad `fd` gives EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `IFNAMSIZ` from `<net/if.h>`: interface names are at most 15 bytes plus NUL.
const IFNAMSIZ: usize = 16;

/// `struct ifreq` as `TUNSETIFF` reads it: the name, then the flags (`ifr_flags`), padded to
/// the size of the kernel's union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Open `/dev/net/tun` (non-blocking, close-on-exec) and attach it to TAP device `name` with
/// `flags` (`IFF_TAP | ...`); creates the device if it does not exist. Returns the descriptor
/// and the device's name as the kernel reports it.
pub(crate) fn open_tap(name: &str, flags: libc::c_int) -> io::Result<(OwnedFd, String)> {
    if name.len() >= IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: a NUL-terminated path literal; open returns a new descriptor or -1.
    let fd = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open, is valid and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = IfReqFlags {
        name: [0; IFNAMSIZ],
        flags: flags as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`; `req` is a live, writable value
    // of that layout and size (40 bytes) for the duration of the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReqFlags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = req
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(req.name.len());
    let actual = String::from_utf8_lossy(&req.name[..len]).into_owned();
    Ok((fd, actual))
}

/// `TUNSETOFFLOAD`: which offloads (`TUN_F_*`) the kernel may use on frames it hands us.
pub(crate) fn tun_set_offload(fd: RawFd, offloads: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value; no pointers.
    if unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD, offloads as libc::c_ulong) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One `read(2)` into `buf`.
///
/// Made with `syscall(2)` rather than glibc's `read`, which is a thread-cancellation point
/// and wraps every call in two extra function calls that showed in profiles at one call per
/// frame; we never cancel threads.
pub(crate) fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live, writable region of exactly `buf.len()` bytes; SYS_read takes
    // (fd, pointer, length) as passed.
    let n = unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// One `write(2)` of `buf` (one TAP frame), with `syscall(2)` as `read_fd`.
pub(crate) fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live, readable region of exactly `buf.len()` bytes; the kernel only
    // reads it.
    let n = unsafe { libc::syscall(libc::SYS_write, fd, buf.as_ptr(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// One `writev(2)` of `head` followed by `body` (one TAP frame).
pub(crate) fn write2_fd(fd: RawFd, head: &[u8], body: &[u8]) -> io::Result<usize> {
    let iov = [
        libc::iovec {
            iov_base: head.as_ptr() as *mut libc::c_void,
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: body.as_ptr() as *mut libc::c_void,
            iov_len: body.len(),
        },
    ];
    // SAFETY: two iovecs describing live, readable slices of their stated lengths; the
    // kernel only reads them. (`syscall(2)` for the reason given at `read_fd`.)
    let n = unsafe { libc::syscall(libc::SYS_writev, fd, iov.as_ptr(), 2) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `PACKET_IGNORE_OUTGOING` from `<linux/if_packet.h>` (Linux 4.20), spelled out so older
/// `libc` crates work too.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Options for [`packet_socket`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketSocketOptions {
    /// Do not deliver frames the host itself transmits on the interface (`PACKET_OUTGOING`).
    pub(crate) ignore_outgoing: bool,
    /// `SO_RCVBUF` in bytes, if set.
    pub(crate) rcvbuf: Option<usize>,
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: we pass a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Open an `AF_PACKET`/`SOCK_RAW` socket receiving every protocol (`ETH_P_ALL`), close-on-exec,
/// with the given options. Not yet bound to an interface.
pub(crate) fn packet_socket(opts: PacketSocketOptions) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be() as libc::c_int;
    // SAFETY: socket takes no pointers; it returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket, is valid and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if opts.ignore_outgoing {
        if let Err(e) = setsockopt_int(fd.as_raw_fd(), libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        {
            // Kernels before 4.20: the host's own transmissions will be seen as received.
            log::warn!("PACKET_IGNORE_OUTGOING unsupported ({e}); frames the host sends will be received too");
        }
    }
    if let Some(bytes) = opts.rcvbuf {
        let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, bytes)?;
    }
    Ok(fd)
}

/// Whether the process runs as root (the namespace tests need it).
#[cfg(test)]
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Move the calling thread into the network namespace bound at `path`
/// (e.g. `/run/netns/NAME`). Used by root-only tests; other threads are unaffected.
#[cfg(test)]
pub(crate) fn enter_netns(path: &std::path::Path) -> io::Result<()> {
    let file = std::fs::File::open(path)?;
    // SAFETY: setns takes a valid descriptor (kept open by `file` during the call) and a
    // namespace type constant.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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
