//! A Linux TAP device via the `tun-tap` crate: Ethernet frames to and from the kernel.
//!
//! The device is opened without the 4-byte packet-information prefix (`IFF_NO_PI`) and in
//! non-blocking mode; [`Link::raw_fd`] is the TAP descriptor, so a runtime sleeps in `poll(2)`
//! on it. Opening creates the device if it does not exist (needs `CAP_NET_ADMIN`) or attaches
//! to an existing one created with `ip tuntap add dev NAME mode tap` (then a user listed as its
//! owner may open it). Address, MTU and up/down state of the kernel side are configured with
//! `ip`, outside this crate. `now` is ignored: the kernel timestamps nothing for us.
//!
//! One `read(2)` returns one frame; a `recv` reads until the batch is full or the device has
//! nothing more (`EAGAIN`). One `write(2)` sends one frame; a full device queue (`EAGAIN`)
//! drops the frame and counts it, like a NIC.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use tun_tap::{Iface, Mode};

use crate::{Batch, Instant, Link, LinkError, MAX_FRAME};

/// Longest interface name Linux accepts (`IFNAMSIZ` - 1).
const MAX_IFNAME: usize = 15;

/// TAP counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Frames written to the device.
    pub tx_frames: u64,
    /// Bytes written.
    pub tx_bytes: u64,
    /// Frames dropped because the device queue was full (`EAGAIN`).
    pub tx_dropped_full: u64,
    /// Frames dropped because the kernel refused them (`EIO`: the interface is down, or
    /// `EINVAL`: malformed), logged once.
    pub tx_errors: u64,
    /// Frames read.
    pub rx_frames: u64,
    /// Bytes read.
    pub rx_bytes: u64,
    /// Frames that filled a whole batch buffer and may have been truncated.
    pub rx_maybe_truncated: u64,
}

/// A TAP device; see the module documentation.
#[derive(Debug)]
pub struct TapLink {
    iface: Iface,
    stats: TapStats,
    warned_tx_error: bool,
}

/// Map an OS error from opening `what` to a readable [`LinkError`].
pub(crate) fn open_error(what: String, source: io::Error) -> LinkError {
    match source.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LinkError::PermissionDenied(what),
        Some(libc::ENODEV) | Some(libc::ENXIO) => LinkError::NoSuchInterface(what),
        _ => LinkError::Io { op: what, source },
    }
}

impl TapLink {
    /// Open (or create) the TAP device `name`, non-blocking, without packet information.
    pub fn open(name: &str) -> Result<Self, LinkError> {
        let what = format!("open TAP device {name}");
        if name.is_empty()
            || name.len() > MAX_IFNAME
            || name.contains(['\0', '/'])
            || name.contains(char::is_whitespace)
        {
            return Err(LinkError::Io {
                op: what,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "interface names are 1 to 15 bytes without '/', NUL or spaces",
                ),
            });
        }
        let iface = Iface::without_packet_info(name, Mode::Tap).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                // The only file tun-tap opens is the clone device.
                LinkError::Io {
                    op: format!("{what}: /dev/net/tun is missing (no TUN/TAP support?)"),
                    source: e,
                }
            } else {
                open_error(what.clone(), e)
            }
        })?;
        crate::sys::set_nonblocking(iface.as_raw_fd()).map_err(|source| LinkError::Io {
            op: format!("set {name} non-blocking"),
            source,
        })?;
        log::debug!("opened TAP device {}", iface.name());
        Ok(TapLink {
            iface,
            stats: TapStats::default(),
            warned_tx_error: false,
        })
    }

    /// The counters.
    pub fn stats(&self) -> TapStats {
        self.stats
    }
}

impl Link for TapLink {
    fn send(&mut self, _now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() > MAX_FRAME {
            return Err(LinkError::FrameTooLong(frame.len()));
        }
        loop {
            match self.iface.send(frame) {
                Ok(_) => {
                    self.stats.tx_frames += 1;
                    self.stats.tx_bytes += frame.len() as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.tx_dropped_full += 1;
                    return Ok(());
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::EINVAL)) => {
                    self.stats.tx_errors += 1;
                    if !self.warned_tx_error {
                        self.warned_tx_error = true;
                        log::warn!(
                            "{}: kernel refused a frame ({e}); is the interface up?",
                            self.iface.name()
                        );
                    }
                    return Ok(());
                }
                Err(source) => {
                    return Err(LinkError::Io {
                        op: format!("write to TAP device {}", self.iface.name()),
                        source,
                    })
                }
            }
        }
    }

    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        while let Some(buf) = batch.next_buf() {
            let size = buf.len();
            match self.iface.recv(buf) {
                Ok(n) => {
                    if n == size {
                        self.stats.rx_maybe_truncated += 1;
                    }
                    batch.commit(n);
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Deliver what we have; a lasting error shows up on the next call.
                Err(_) if !batch.is_empty() => break,
                Err(source) => {
                    return Err(LinkError::Io {
                        op: format!("read from TAP device {}", self.iface.name()),
                        source,
                    })
                }
            }
        }
        Ok(batch.len())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.iface.as_raw_fd())
    }

    fn name(&self) -> String {
        self.iface.name().to_string()
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        vec![
            ("tap.tx_frames", s.tx_frames),
            ("tap.tx_bytes", s.tx_bytes),
            ("tap.tx_dropped_full", s.tx_dropped_full),
            ("tap.tx_errors", s.tx_errors),
            ("tap.rx_frames", s.rx_frames),
            ("tap.rx_bytes", s.rx_bytes),
            ("tap.rx_maybe_truncated", s.rx_maybe_truncated),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_rejected_before_the_kernel() {
        for name in ["", "much-too-long-name", "a/b", "a b"] {
            let err = TapLink::open(name).unwrap_err();
            assert!(err.to_string().contains("interface names"), "{name}: {err}");
        }
    }

    #[test]
    fn permission_errors_are_readable() {
        let e = open_error(
            "open TAP device tap0".into(),
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert!(matches!(e, LinkError::PermissionDenied(_)));
        assert_eq!(
            e.to_string(),
            "open TAP device tap0: permission denied (run as root or grant CAP_NET_ADMIN/CAP_NET_RAW)"
        );
        let e = open_error("x".into(), io::Error::from_raw_os_error(libc::ENODEV));
        assert!(matches!(e, LinkError::NoSuchInterface(_)));
    }

    /// Non-root only (as root it is skipped): opening needs privileges, and the error says so.
    #[test]
    fn unprivileged_open_is_permission_denied() {
        if crate::sys::is_root() {
            eprintln!("SKIPPED tap::unprivileged_open_is_permission_denied: runs as root");
            return;
        }
        if !std::path::Path::new("/dev/net/tun").exists() {
            eprintln!("SKIPPED tap::unprivileged_open_is_permission_denied: no /dev/net/tun");
            return;
        }
        let err = TapLink::open("tltap9").unwrap_err();
        assert!(matches!(err, LinkError::PermissionDenied(_)), "{err}");
        assert!(
            err.to_string()
                .contains("open TAP device tltap9: permission denied"),
            "{err}"
        );
        let err = crate::packet::PacketLink::open("lo").unwrap_err();
        assert!(matches!(err, LinkError::PermissionDenied(_)), "{err}");
    }

    /// Root only: the kernel answers our ARP request through a TAP device in a fresh
    /// namespace, and its reply comes back through `recv` after `poll(2)` on the fd.
    #[test]
    fn kernel_answers_arp_over_tap() {
        use crate::testutil::*;
        use smoltcp::wire::Ipv4Address;
        use std::time::Duration as StdDuration;

        let Some(ns) = NetNs::create("tap::kernel_answers_arp_over_tap") else {
            return;
        };
        let kernel = Ipv4Address::new(198, 18, 77, 1);
        let ours = Ipv4Address::new(198, 18, 77, 2);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Only this thread moves into the namespace; the TAP device is created there.
                ns.enter();
                let mut tap = TapLink::open("tltap0").expect("open TAP");
                assert_eq!(tap.name(), "tltap0");
                ns.ip("addr add 198.18.77.1/24 dev tltap0");
                ns.ip("link set tltap0 up");
                // Nothing queued yet: recv returns at once instead of blocking.
                let mut batch = Batch::new(4, MAX_FRAME);
                let _ = tap
                    .recv(Instant::ZERO, &mut batch)
                    .expect("non-blocking recv");
                tap.send(Instant::ZERO, &arp_request(ours, kernel))
                    .expect("send ARP request");
                let (ok, seen) = recv_until(&mut tap, StdDuration::from_secs(3), |f| {
                    parse_arp(f).is_some_and(|a| is_reply_from(&a, kernel))
                });
                assert!(
                    ok,
                    "no ARP reply from the kernel; saw {} other frames",
                    seen.len()
                );
                assert!(tap.stats().tx_frames == 1 && tap.stats().rx_frames >= 1);
            });
        });
    }
}
