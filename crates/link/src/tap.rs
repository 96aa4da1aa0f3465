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
//!
//! With [`TapConfig::offload`] (the default) the device is opened with a `virtio_net_hdr` per
//! frame and TCPv4 segmentation offload, so one `read`/`write` carries up to 64 KiB of TCP
//! data; the [`offload`] module cuts and merges segments so the stack still sends and receives
//! exactly the MTU-sized frames of a plain TAP link (see there). `TCPLAB_TAP_OFFLOAD=0` in the
//! environment turns it off for [`TapLink::open`].

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use tun_tap::{Iface, Mode};

use crate::sys;
use crate::{Batch, Instant, Link, LinkError, MAX_FRAME};

mod offload;

use offload::{Coalescer, Push, Splitter, VnetHdr, GSO_NONE, VNET_HDR_LEN};

/// How a TAP device is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapConfig {
    /// Exchange TCP super-segments with the kernel (`IFF_VNET_HDR`, `TUN_F_CSUM |
    /// TUN_F_TSO4`), split and merged in software at this link; default true.
    pub offload: bool,
}

impl Default for TapConfig {
    fn default() -> Self {
        TapConfig { offload: true }
    }
}

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
    /// Offload: TCP super-segments read (each split into `rx_frames`).
    pub rx_super: u64,
    /// Offload: frames dropped because their `virtio_net_hdr` was unusable (an unknown GSO
    /// type, a super-segment that is not TCPv4, checksum offsets outside the frame).
    pub rx_bad_offload: u64,
    /// Offload: TCP super-segments written (each merged from several `tx_frames`).
    pub tx_super: u64,
}

/// The open device: plain (one frame per `read`/`write`, via `tun-tap`) or with offloads.
#[derive(Debug)]
enum Dev {
    Plain(Iface),
    Offload(Box<OffloadDev>),
}

/// A TAP descriptor opened with `IFF_VNET_HDR` and TSO.
#[derive(Debug)]
struct OffloadDev {
    fd: OwnedFd,
    name: String,
    /// The last frame read, after its `virtio_net_hdr`.
    rx: Box<[u8]>,
    /// A super-segment in `rx` still being split (the batch filled up).
    split: Option<(Splitter, usize)>,
    tx: Coalescer,
}

impl Drop for OffloadDev {
    fn drop(&mut self) {
        // The offload setting belongs to the device, not to our descriptor: switch it off so a
        // later user of a persistent device without a `virtio_net_hdr` gets plain frames.
        if let Err(e) = sys::tun_set_offload(self.fd.as_raw_fd(), 0) {
            log::debug!("{}: cannot reset TAP offloads: {e}", self.name);
        }
    }
}

/// A TAP device; see the module documentation.
#[derive(Debug)]
pub struct TapLink {
    dev: Dev,
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
    /// Open (or create) the TAP device `name`, non-blocking, without packet information, with
    /// the default [`TapConfig`] (offloads off if `TCPLAB_TAP_OFFLOAD=0` is set).
    pub fn open(name: &str) -> Result<Self, LinkError> {
        let offload = std::env::var_os("TCPLAB_TAP_OFFLOAD").is_none_or(|v| v != "0");
        TapLink::open_with(name, TapConfig { offload })
    }

    /// Open (or create) the TAP device `name` as `config` says.
    pub fn open_with(name: &str, config: TapConfig) -> Result<Self, LinkError> {
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
        if config.offload {
            let dev = open_offload(name).map_err(|e| open_error(what.clone(), e))?;
            log::debug!("opened TAP device {} with offloads", dev.name);
            return Ok(TapLink {
                dev: Dev::Offload(Box::new(dev)),
                stats: TapStats::default(),
                warned_tx_error: false,
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
        // A previous user that died with offloads on (they belong to the device) would
        // otherwise leave us super-segments and partial checksums we cannot read here.
        if let Err(e) = sys::tun_set_offload(iface.as_raw_fd(), 0) {
            log::debug!("{}: cannot reset TAP offloads: {e}", iface.name());
        }
        log::debug!("opened TAP device {}", iface.name());
        Ok(TapLink {
            dev: Dev::Plain(iface),
            stats: TapStats::default(),
            warned_tx_error: false,
        })
    }

    /// The counters.
    pub fn stats(&self) -> TapStats {
        self.stats
    }
}

/// Open `name` with a `virtio_net_hdr` per frame and TCPv4 segmentation offload.
fn open_offload(name: &str) -> io::Result<OffloadDev> {
    let flags = libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR;
    let (fd, actual) = sys::open_tap(name, flags)?;
    // The kernel may now hand us (and accept from us) TCPv4 super-segments whose TCP
    // checksum is partial; `offload` completes or recomputes every checksum.
    sys::tun_set_offload(fd.as_raw_fd(), libc::TUN_F_CSUM | libc::TUN_F_TSO4)?;
    Ok(OffloadDev {
        fd,
        name: actual,
        rx: vec![0u8; VNET_HDR_LEN + MAX_FRAME].into_boxed_slice(),
        split: None,
        tx: Coalescer::new(),
    })
}

/// What became of one `write(2)`.
enum Sent {
    Ok,
    /// Dropped (queue full or the kernel refused it), counted.
    Dropped,
}

impl TapLink {
    fn dev_name(&self) -> &str {
        match &self.dev {
            Dev::Plain(iface) => iface.name(),
            Dev::Offload(d) => &d.name,
        }
    }

    /// Write one frame (after `head`, the `virtio_net_hdr`, in offload mode), retrying on
    /// `EINTR`; a full queue or a refused frame is dropped and counted, like a NIC.
    fn write_one(&mut self, head: &[u8], frame: &[u8]) -> Result<Sent, LinkError> {
        loop {
            let r = match &mut self.dev {
                // Plain: the frame alone (`tun-tap`'s `send` is one `write(2)`).
                Dev::Plain(iface) => sys::write_fd(iface.as_raw_fd(), frame),
                Dev::Offload(d) => sys::write2_fd(d.fd.as_raw_fd(), head, frame),
            };
            match r {
                Ok(_) => return Ok(Sent::Ok),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.tx_dropped_full += 1;
                    return Ok(Sent::Dropped);
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::EINVAL)) => {
                    self.stats.tx_errors += 1;
                    if !self.warned_tx_error {
                        self.warned_tx_error = true;
                        log::warn!(
                            "{}: kernel refused a frame ({e}); is the interface up?",
                            self.dev_name()
                        );
                    }
                    return Ok(Sent::Dropped);
                }
                Err(source) => {
                    return Err(LinkError::Io {
                        op: format!("write to TAP device {}", self.dev_name()),
                        source,
                    })
                }
            }
        }
    }

    /// Offload mode: write what the coalescer holds, if anything.
    fn flush_offload(&mut self) -> Result<(), LinkError> {
        let Dev::Offload(d) = &mut self.dev else {
            return Ok(());
        };
        let Some((hdr, frame, segs)) = d.tx.take() else {
            return Ok(());
        };
        let fd = d.fd.as_raw_fd();
        let head = hdr.emit();
        let len = frame.len();
        // `write_one` needs `&mut self`; the frame lives in the coalescer, which `take` left
        // untouched until the next `push`, so write it here directly.
        let r = loop {
            match sys::write2_fd(fd, &head, frame) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        match r {
            Ok(_) => {
                self.stats.tx_frames += segs as u64;
                self.stats.tx_bytes += len as u64;
                if hdr.gso_type != GSO_NONE {
                    self.stats.tx_super += 1;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stats.tx_dropped_full += segs as u64;
                Ok(())
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::EINVAL)) => {
                self.stats.tx_errors += segs as u64;
                if !self.warned_tx_error {
                    self.warned_tx_error = true;
                    log::warn!(
                        "{}: kernel refused a frame ({e}); is the interface up?",
                        d.name
                    );
                }
                Ok(())
            }
            Err(source) => Err(LinkError::Io {
                op: format!("write to TAP device {}", d.name),
                source,
            }),
        }
    }

    /// Offload mode: fill `batch` with frames, splitting super-segments.
    fn recv_offload(&mut self, batch: &mut Batch) -> Result<usize, LinkError> {
        let Dev::Offload(d) = &mut self.dev else {
            return Ok(0);
        };
        let d = &mut **d;
        loop {
            // First the rest of a super-segment a full batch interrupted.
            if let Some((sp, len)) = &mut d.split {
                let frame = &d.rx[VNET_HDR_LEN..VNET_HDR_LEN + *len];
                while let Some(out) = batch.next_buf() {
                    let Some(n) = sp.next_into(frame, out) else {
                        break;
                    };
                    batch.commit(n);
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += n as u64;
                }
                if !sp.done() {
                    if batch.is_full() {
                        return Ok(batch.len());
                    }
                    // A segment larger than the batch's buffers: cannot be delivered.
                    self.stats.rx_bad_offload += 1;
                }
                d.split = None;
            }
            if batch.is_full() {
                return Ok(batch.len());
            }
            let n = match sys::read_fd(d.fd.as_raw_fd(), &mut d.rx) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(batch.len()),
                // Deliver what we have; a lasting error shows up on the next call.
                Err(_) if !batch.is_empty() => return Ok(batch.len()),
                Err(source) => {
                    return Err(LinkError::Io {
                        op: format!("read from TAP device {}", d.name),
                        source,
                    })
                }
            };
            if n < VNET_HDR_LEN {
                self.stats.rx_bad_offload += 1;
                continue;
            }
            if n == d.rx.len() {
                self.stats.rx_maybe_truncated += 1;
            }
            let head: &[u8; VNET_HDR_LEN] = d.rx[..VNET_HDR_LEN].try_into().expect("fixed size");
            let hdr = VnetHdr::parse(head);
            let len = n - VNET_HDR_LEN;
            let frame = &mut d.rx[VNET_HDR_LEN..n];
            if hdr.gso_type == GSO_NONE {
                if offload::complete_csum(frame, &hdr).is_err() {
                    self.stats.rx_bad_offload += 1;
                    continue;
                }
                batch.push(frame);
                if len > batch.buf_size() {
                    self.stats.rx_maybe_truncated += 1;
                }
                self.stats.rx_frames += 1;
                self.stats.rx_bytes += len as u64;
                continue;
            }
            // Every segment's checksums are recomputed, so a partial one needs no completion.
            match Splitter::new(frame, &hdr) {
                Ok(sp) => {
                    self.stats.rx_super += 1;
                    d.split = Some((sp, len));
                }
                Err(_) => self.stats.rx_bad_offload += 1,
            }
        }
    }
}

impl Link for TapLink {
    fn send(&mut self, _now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() > MAX_FRAME {
            return Err(LinkError::FrameTooLong(frame.len()));
        }
        let head = VnetHdr::default().emit();
        if let Sent::Ok = self.write_one(&head, frame)? {
            self.stats.tx_frames += 1;
            self.stats.tx_bytes += frame.len() as u64;
        }
        Ok(())
    }

    fn send_batch(
        &mut self,
        now: Instant,
        frames: &Batch,
        from: usize,
    ) -> Result<(), (usize, LinkError)> {
        if !matches!(self.dev, Dev::Offload(_)) {
            for i in from..frames.len() {
                self.send(now, frames.frame(i)).map_err(|e| (i, e))?;
            }
            return Ok(());
        }
        for i in from..frames.len() {
            let frame = frames.frame(i);
            if frame.len() > MAX_FRAME {
                // Keep the order: what came before goes out first.
                self.flush_offload().map_err(|e| (i, e))?;
                return Err((i, LinkError::FrameTooLong(frame.len())));
            }
            let Dev::Offload(d) = &mut self.dev else {
                unreachable!("checked above");
            };
            if d.tx.push(frame) == Push::Flush {
                self.flush_offload().map_err(|e| (i, e))?;
                let Dev::Offload(d) = &mut self.dev else {
                    unreachable!("checked above");
                };
                // An empty coalescer accepts any frame.
                let _ = d.tx.push(frame);
            }
        }
        self.flush_offload()
            .map_err(|e| (frames.len().saturating_sub(1), e))
    }

    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        let iface = match &mut self.dev {
            Dev::Plain(iface) => iface,
            Dev::Offload(_) => return self.recv_offload(batch),
        };
        while let Some(buf) = batch.next_buf() {
            let size = buf.len();
            match sys::read_fd(iface.as_raw_fd(), buf) {
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
                        op: format!("read from TAP device {}", iface.name()),
                        source,
                    })
                }
            }
        }
        Ok(batch.len())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(match &self.dev {
            Dev::Plain(iface) => iface.as_raw_fd(),
            Dev::Offload(d) => d.fd.as_raw_fd(),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // Segments of a super-segment still waiting for a batch are due at once: the
        // descriptor may not become readable again to wake the driver for them.
        match &self.dev {
            Dev::Offload(d) if d.split.is_some() => Some(Instant::ZERO),
            _ => None,
        }
    }

    fn name(&self) -> String {
        self.dev_name().to_string()
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        let mut v = vec![
            ("tap.tx_frames", s.tx_frames),
            ("tap.tx_bytes", s.tx_bytes),
            ("tap.tx_dropped_full", s.tx_dropped_full),
            ("tap.tx_errors", s.tx_errors),
            ("tap.rx_frames", s.rx_frames),
            ("tap.rx_bytes", s.rx_bytes),
            ("tap.rx_maybe_truncated", s.rx_maybe_truncated),
        ];
        if matches!(self.dev, Dev::Offload(_)) {
            v.extend([
                ("tap.rx_super", s.rx_super),
                ("tap.rx_bad_offload", s.rx_bad_offload),
                ("tap.tx_super", s.tx_super),
            ]);
        }
        v
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
    /// namespace, and its reply comes back through `recv` after `poll(2)` on the fd; with and
    /// without offloads (which the link switches off again when dropped).
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
                for offload in [true, false, true] {
                    let mut tap =
                        TapLink::open_with("tltap0", TapConfig { offload }).expect("open TAP");
                    assert_eq!(tap.name(), "tltap0");
                    ns.ip("addr replace 198.18.77.1/24 dev tltap0");
                    ns.ip("link set tltap0 up");
                    ns.ip("neigh flush dev tltap0");
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
                        "offload {offload}: no ARP reply from the kernel; saw {} other frames",
                        seen.len()
                    );
                    assert!(tap.stats().tx_frames == 1 && tap.stats().rx_frames >= 1);
                }
            });
        });
    }
}
