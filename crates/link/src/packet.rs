//! AF_PACKET on an existing interface (e.g. one end of a veth pair) via `pnet_datalink`.
//!
//! # Design
//! `pnet_datalink`'s receiver has no descriptor to poll and its `next()` blocks by default.
//! Rather than a reader thread feeding a queue, we open the `AF_PACKET` socket ourselves (in
//! `sys.rs`, the crate's one unsafe module) and hand it to pnet through `Config::socket_fd`;
//! pnet binds it to the interface and does the I/O. So we know the descriptor
//! ([`Link::raw_fd`], for `poll(2)`), can set options pnet lacks, and need no thread and no
//! extra copy. With a zero `read_timeout`, pnet's `next()` is a non-blocking `poll` +
//! `recvfrom`: `recv` calls it until it reports nothing ready (`TimedOut`/`WouldBlock`) or the
//! batch is full.
//!
//! - Buffers: pnet's read and write buffers default to 4096 bytes and would truncate larger
//!   frames; both are sized for [`MAX_FRAME`].
//! - Our own frames: an `ETH_P_ALL` socket also sees frames the host transmits on the
//!   interface (`PACKET_OUTGOING`), and pnet discards the `sockaddr_ll` that tells them apart.
//!   We set `PACKET_IGNORE_OUTGOING` (Linux 4.20+) so the kernel never delivers them; frames
//!   sent on this socket itself are never looped back to it by the kernel.
//! - Promiscuous mode is on by default: our stack uses its own MAC, different from the
//!   interface's, and a NIC with hardware filtering would otherwise drop frames for it.
//!
//! Needs `CAP_NET_RAW`. `now` is ignored.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};

use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender};

use crate::sys::{packet_socket, PacketSocketOptions};
use crate::tap::open_error;
use crate::{Batch, Duration, Instant, Link, LinkError, MAX_FRAME};

/// Options for [`PacketLink::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketConfig {
    /// Receive frames for every MAC address, not just the interface's (default true).
    pub promiscuous: bool,
    /// Socket receive buffer (`SO_RCVBUF`) in bytes; `None` keeps the kernel default.
    pub rcvbuf: Option<usize>,
}

impl Default for PacketConfig {
    fn default() -> Self {
        PacketConfig {
            promiscuous: true,
            rcvbuf: None,
        }
    }
}

/// AF_PACKET counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketStats {
    /// Frames sent.
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames dropped because the socket buffer was full.
    pub tx_dropped_full: u64,
    /// Frames refused by the kernel (e.g. `ENETDOWN`: the interface is down), logged once.
    pub tx_errors: u64,
    /// Frames received.
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames longer than the batch's buffers, delivered truncated.
    pub rx_truncated: u64,
}

/// An AF_PACKET socket bound to one interface; see the module documentation.
pub struct PacketLink {
    name: String,
    fd: RawFd,
    tx: Box<dyn DataLinkSender>,
    rx: Box<dyn DataLinkReceiver>,
    stats: PacketStats,
    warned_tx_error: bool,
}

impl std::fmt::Debug for PacketLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketLink")
            .field("name", &self.name)
            .field("fd", &self.fd)
            .field("stats", &self.stats)
            .finish()
    }
}

impl PacketLink {
    /// Open interface `name` with the default [`PacketConfig`].
    pub fn open(name: &str) -> Result<Self, LinkError> {
        PacketLink::open_with(name, PacketConfig::default())
    }

    /// Open interface `name`.
    pub fn open_with(name: &str, config: PacketConfig) -> Result<Self, LinkError> {
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| LinkError::NoSuchInterface(name.to_string()))?;
        if !iface.is_up() {
            log::warn!(
                "interface {name} is down: frames will not flow until `ip link set {name} up`"
            );
        }
        let what = format!("open AF_PACKET socket on {name}");
        let socket = packet_socket(PacketSocketOptions {
            ignore_outgoing: true,
            rcvbuf: config.rcvbuf,
        })
        .map_err(|e| open_error(what.clone(), e))?;
        let fd = socket.as_raw_fd();
        let pnet_config = pnet_datalink::Config {
            read_buffer_size: MAX_FRAME,
            write_buffer_size: MAX_FRAME,
            // Zero: `next()` and `send_to()` poll without waiting, so they never block.
            read_timeout: Some(Duration::ZERO),
            write_timeout: Some(Duration::ZERO),
            promiscuous: config.promiscuous,
            // pnet owns (and closes) the socket from here on, also on error.
            socket_fd: Some(socket.into_raw_fd()),
            ..pnet_datalink::Config::default()
        };
        let (tx, rx) = match pnet_datalink::channel(&iface, pnet_config) {
            Ok(Channel::Ethernet(tx, rx)) => (tx, rx),
            Ok(_) => {
                return Err(LinkError::Io {
                    op: what,
                    source: io::Error::new(
                        io::ErrorKind::Unsupported,
                        "pnet returned a non-Ethernet channel",
                    ),
                })
            }
            Err(e) => return Err(open_error(what, e)),
        };
        log::debug!("opened AF_PACKET on {name} (index {})", iface.index);
        Ok(PacketLink {
            name: name.to_string(),
            fd,
            tx,
            rx,
            stats: PacketStats::default(),
            warned_tx_error: false,
        })
    }

    /// The counters.
    pub fn stats(&self) -> PacketStats {
        self.stats
    }
}

/// Whether a pnet I/O error just means "nothing ready now".
fn is_not_ready(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Link for PacketLink {
    fn send(&mut self, _now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() > MAX_FRAME {
            return Err(LinkError::FrameTooLong(frame.len()));
        }
        match self.tx.send_to(frame, None) {
            Some(Ok(())) => {
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += frame.len() as u64;
                Ok(())
            }
            Some(Err(e)) if is_not_ready(&e) || e.raw_os_error() == Some(libc::ENOBUFS) => {
                self.stats.tx_dropped_full += 1;
                Ok(())
            }
            Some(Err(e))
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENETDOWN) | Some(libc::ENXIO) | Some(libc::EMSGSIZE)
                ) =>
            {
                self.stats.tx_errors += 1;
                if !self.warned_tx_error {
                    self.warned_tx_error = true;
                    log::warn!("{}: kernel refused a frame ({e})", self.name);
                }
                Ok(())
            }
            Some(Err(source)) => Err(LinkError::Io {
                op: format!("send on {}", self.name),
                source,
            }),
            // pnet returns None only when `build_and_send` lacks buffer space; `send_to`
            // always answers, but count it as a drop rather than trust that.
            None => {
                self.stats.tx_dropped_full += 1;
                Ok(())
            }
        }
    }

    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        while !batch.is_full() {
            match self.rx.next() {
                Ok(frame) => {
                    if !batch.push(frame) {
                        break;
                    }
                    let got = batch.frame(batch.len() - 1).len();
                    if got < frame.len() {
                        self.stats.rx_truncated += 1;
                    }
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += got as u64;
                }
                Err(e) if is_not_ready(&e) => break,
                // Deliver what we have; a lasting error shows up on the next call.
                Err(_) if !batch.is_empty() => break,
                Err(source) => {
                    return Err(LinkError::Io {
                        op: format!("receive on {}", self.name),
                        source,
                    })
                }
            }
        }
        Ok(batch.len())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.fd)
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        vec![
            ("packet.tx_frames", s.tx_frames),
            ("packet.tx_bytes", s.tx_bytes),
            ("packet.tx_dropped_full", s.tx_dropped_full),
            ("packet.tx_errors", s.tx_errors),
            ("packet.rx_frames", s.rx_frames),
            ("packet.rx_bytes", s.rx_bytes),
            ("packet.rx_truncated", s.rx_truncated),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interface_is_named() {
        let err = PacketLink::open("tl-no-such-if").unwrap_err();
        assert!(
            matches!(err, LinkError::NoSuchInterface(ref n) if n == "tl-no-such-if"),
            "{err}"
        );
    }

    /// Root only: over a veth pair in a fresh namespace, the kernel on the far end answers our
    /// ARP request; frames the kernel itself transmits on our interface are not received.
    #[test]
    fn kernel_answers_arp_over_veth() {
        use crate::testutil::*;
        use smoltcp::wire::{ArpOperation, ArpRepr, Ipv4Address};
        use std::time::Duration as StdDuration;

        let Some(ns) = NetNs::create("packet::kernel_answers_arp_over_veth") else {
            return;
        };
        ns.ip("link add tlv0 type veth peer name tlv1");
        ns.ip("addr add 198.18.78.1/24 dev tlv1");
        // An address on our side too, so the kernel transmits on tlv0 below.
        ns.ip("addr add 198.18.79.1/24 dev tlv0");
        ns.ip("link set tlv0 up");
        ns.ip("link set tlv1 up");
        let kernel = Ipv4Address::new(198, 18, 78, 1);
        let ours = Ipv4Address::new(198, 18, 78, 2);
        std::thread::scope(|s| {
            s.spawn(|| {
                ns.enter();
                let mut link = PacketLink::open("tlv0").expect("open AF_PACKET");
                link.send(Instant::ZERO, &arp_request(ours, kernel)).expect("send ARP request");
                let (ok, seen) = recv_until(&mut link, StdDuration::from_secs(3), |f| {
                    parse_arp(f).is_some_and(|a| is_reply_from(&a, kernel))
                });
                assert!(ok, "no ARP reply from the kernel; saw {} other frames", seen.len());
                // Our own request is not looped back to us.
                assert!(!seen.iter().any(|f| f[..] == arp_request(ours, kernel)[..]));

                // Make the kernel transmit on tlv0 (ARP requests for an absent neighbour):
                // PACKET_IGNORE_OUTGOING must keep them from us.
                let out = ns.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.79.2"]);
                assert!(!out.status.success(), "nobody should answer 198.18.79.2");
                let (_, seen) = recv_until(&mut link, StdDuration::from_millis(300), |_| false);
                let outgoing = seen.iter().filter_map(|f| parse_arp(f)).any(|a| {
                    matches!(a, ArpRepr::EthernetIpv4 { operation: ArpOperation::Request, target_protocol_addr, .. }
                        if target_protocol_addr == Ipv4Address::new(198, 18, 79, 2))
                });
                assert!(!outgoing, "the kernel's own transmissions were received");
            });
        });
    }
}
