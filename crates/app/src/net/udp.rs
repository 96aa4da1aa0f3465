//! `UdpSocket` over the userspace stack (RFC 768 via `tcplab_stack`).

use std::io;
use std::net::SocketAddrV4;
use std::sync::Mutex;
use std::time::Duration;

use tcplab_stack::{UdpError, UdpHandle};

use crate::error::udp_io_error;
use crate::runtime::{Handle, Interest};

/// A bound UDP socket; datagrams queue in the stack (bounded) until read.
#[derive(Debug)]
pub struct UdpSocket {
    rt: Handle,
    handle: UdpHandle,
    local: SocketAddrV4,
    read_timeout: Mutex<Option<Duration>>,
}

impl UdpSocket {
    /// Bind to `addr` (our address or 0.0.0.0; port 0 picks an ephemeral port).
    pub fn bind(rt: &Handle, addr: SocketAddrV4) -> io::Result<UdpSocket> {
        let (handle, local) = rt
            .with(|s, _| {
                let h = s.udp_bind(addr)?;
                Ok::<_, UdpError>((h, s.udp_local_addr(h).unwrap_or(addr)))
            })?
            .map_err(udp_io_error)?;
        Ok(UdpSocket {
            rt: rt.clone(),
            handle,
            local,
            read_timeout: Mutex::new(None),
        })
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local
    }

    /// `recv_from` blocks at most `timeout` (`None`: forever), then fails with `WouldBlock`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner()) = timeout;
        Ok(())
    }

    /// Send one datagram to `dst`, waiting while the stack's send queue is full.
    pub fn send_to(&self, buf: &[u8], dst: SocketAddrV4) -> io::Result<usize> {
        let h = self.handle;
        let r = self.rt.wait(
            Some(Duration::from_secs(5)),
            Interest::Any,
            |core, now| match core.stack.udp_send_to(now, h, buf, dst) {
                Err(UdpError::QueueFull) => None,
                r => Some(r),
            },
        )?;
        r.map(|()| buf.len()).map_err(udp_io_error)
    }

    /// Wait for one datagram; returns its length and source. A datagram longer than `buf` is
    /// dropped by the stack and reported as `InvalidInput`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddrV4)> {
        let timeout = *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner());
        let h = self.handle;
        let r = self.rt.wait(timeout, Interest::UdpRecv(h), |core, _| {
            if !core.stack.udp_can_recv(h) {
                return None;
            }
            match core.stack.udp_recv_from(h, buf) {
                Ok(None) => None,
                Ok(Some(v)) => Some(Ok(v)),
                Err(e) => Some(Err(e)),
            }
        });
        match r {
            Ok(r) => r.map_err(udp_io_error),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                Err(io::Error::new(io::ErrorKind::WouldBlock, e))
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let h = self.handle;
        let _ = self.rt.with(|s, _| s.udp_close(h));
    }
}
