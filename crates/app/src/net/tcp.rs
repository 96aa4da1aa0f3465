//! `TcpListener` and `TcpStream` over the userspace stack (RFC 9293 via `tcplab_stack`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tcplab_stack::{ConnHandle, ListenerHandle, TcpError, TcpState};

use crate::error::tcp_io_error;
use crate::runtime::{Handle, Interest};

/// A listening socket with an accept queue (RFC 9293 §3.10.1 passive OPEN).
#[derive(Debug)]
pub struct TcpListener {
    rt: Handle,
    handle: ListenerHandle,
    local: SocketAddrV4,
}

impl TcpListener {
    /// Listen on `addr` (our address or 0.0.0.0) with an accept queue of `backlog` connections
    /// (0: the stack's default).
    pub fn bind(rt: &Handle, addr: SocketAddrV4, backlog: usize) -> io::Result<TcpListener> {
        let handle = rt
            .with(|s, _| s.tcp_listen(addr, backlog))?
            .map_err(tcp_io_error)?;
        Ok(TcpListener {
            rt: rt.clone(),
            handle,
            local: addr,
        })
    }

    /// The address this listener was bound to.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local
    }

    /// Wait for the next established connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        self.accept_timeout(None)
    }

    /// Like [`TcpListener::accept`], failing with `TimedOut` after `timeout`.
    pub fn accept_timeout(
        &self,
        timeout: Option<Duration>,
    ) -> io::Result<(TcpStream, SocketAddrV4)> {
        let conn = self.rt.wait(
            timeout,
            Interest::TcpAccept(self.handle),
            |core, _| match core.stack.tcp_accept(self.handle) {
                Err(TcpError::WouldBlock) => None,
                r => Some(r),
            },
        )?;
        let conn = conn.map_err(tcp_io_error)?;
        let stream = TcpStream::from_handle(&self.rt, conn);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let h = self.handle;
        let _ = self.rt.with(|s, _| s.tcp_close_listener(h));
    }
}

/// One TCP connection; `Read`/`Write` block like std's. Dropping it closes the connection
/// (the stack finishes the FIN exchange on its own, RFC 9293 §3.10.4).
#[derive(Debug)]
pub struct TcpStream {
    rt: Handle,
    handle: ConnHandle,
    local: Option<SocketAddrV4>,
    peer: Option<SocketAddrV4>,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
    read_shut: AtomicBool,
    /// The stack no longer knows the handle (after `abort`).
    released: bool,
}

impl TcpStream {
    fn from_handle(rt: &Handle, handle: ConnHandle) -> TcpStream {
        let info = rt
            .inspect(|core| core.stack.tcp_info(handle))
            .unwrap_or_default();
        TcpStream {
            rt: rt.clone(),
            handle,
            local: info.local,
            peer: info.remote,
            read_timeout: Mutex::new(None),
            write_timeout: Mutex::new(None),
            read_shut: AtomicBool::new(false),
            released: false,
        }
    }

    /// Active open to `addr` (RFC 9293 §3.10.1); returns once the connection is established.
    /// A RST answer gives `ConnectionRefused`, exhausted SYN retransmissions `TimedOut`.
    pub fn connect(rt: &Handle, addr: SocketAddrV4) -> io::Result<TcpStream> {
        Self::connect_timeout(rt, addr, None)
    }

    /// Like [`TcpStream::connect`], giving up with `TimedOut` after `timeout`.
    pub fn connect_timeout(
        rt: &Handle,
        addr: SocketAddrV4,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let handle = rt
            .with(|s, now| s.tcp_connect(now, addr))?
            .map_err(tcp_io_error)?;
        // The stream owns the handle from here, so every error path below releases it.
        let mut stream = TcpStream::from_handle(rt, handle);
        let outcome = rt.wait(timeout, Interest::TcpOpen(handle), |core, now| {
            match core.stack.tcp_state(handle) {
                Some(TcpState::SynSent | TcpState::SynReceived) => None,
                Some(TcpState::Closed) | None => {
                    Some(Err(connect_error(&mut core.stack, now, handle)))
                }
                Some(_) => Some(Ok(())),
            }
        });
        match outcome {
            Ok(Ok(())) => {
                let info = rt
                    .inspect(|core| core.stack.tcp_info(handle))
                    .unwrap_or_default();
                stream.local = info.local;
                stream.peer = info.remote.or(Some(addr));
                Ok(stream)
            }
            Ok(Err(e)) => Err(tcp_io_error(e)),
            Err(e) => Err(e),
        }
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddrV4> {
        self.peer
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Our end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        self.local
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Turn Nagle's algorithm off (`true`) or back on (RFC 9293 §3.7.4).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let h = self.handle;
        self.rt
            .with(|s, _| s.tcp_set_nodelay(h, nodelay))?
            .map_err(tcp_io_error)
    }

    /// Reads block at most `timeout` (`None`: forever), then fail with `WouldBlock` as std's do.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner()) = timeout;
        Ok(())
    }

    /// Writes block at most `timeout` (`None`: forever), then fail with `WouldBlock`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        *self.write_timeout.lock().unwrap_or_else(|p| p.into_inner()) = timeout;
        Ok(())
    }

    /// Shut down reading (later reads return 0), writing (send FIN after queued data, RFC 9293
    /// §3.10.4), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut.store(true, Ordering::Relaxed);
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            let h = self.handle;
            self.rt
                .with(|s, now| s.tcp_shutdown_write(now, h))?
                .map_err(tcp_io_error)?;
        }
        Ok(())
    }

    /// Abort the connection with a RST (RFC 9293 §3.10.5) instead of closing it gracefully.
    pub fn abort(mut self) {
        let h = self.handle;
        let _ = self.rt.with(|s, now| s.tcp_abort(now, h));
        // The abort released the handle; Drop must not close it again.
        self.released = true;
    }

    /// The connection's state (RFC 9293 §3.3.2), `None` once the stack forgot it.
    pub fn state(&self) -> Option<TcpState> {
        let h = self.handle;
        self.rt.inspect(|core| core.stack.tcp_state(h))
    }

    fn read_impl(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.read_shut.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let timeout = *self.read_timeout.lock().unwrap_or_else(|p| p.into_inner());
        let h = self.handle;
        let r = self.rt.wait(timeout, Interest::TcpRecv(h), |core, now| {
            if !core.stack.tcp_can_recv(h) {
                return None;
            }
            match core.stack.tcp_recv(now, h, buf) {
                Err(TcpError::WouldBlock) => None,
                r => Some(r),
            }
        });
        finish(r)
    }

    fn write_impl(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let timeout = *self.write_timeout.lock().unwrap_or_else(|p| p.into_inner());
        let h = self.handle;
        let r = self.rt.wait(timeout, Interest::TcpSend(h), |core, now| {
            if !core.stack.tcp_can_send(h) {
                return None;
            }
            match core.stack.tcp_send(now, h, buf) {
                Err(TcpError::WouldBlock) => None,
                r => Some(r),
            }
        });
        finish(r)
    }
}

/// Turn the outcome of a blocking call into std's shape: a timeout of ours becomes
/// `WouldBlock`, as std reports an expired `SO_RCVTIMEO`/`SO_SNDTIMEO` on Unix.
fn finish(r: io::Result<Result<usize, TcpError>>) -> io::Result<usize> {
    match r {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(tcp_io_error(e)),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            Err(io::Error::new(io::ErrorKind::WouldBlock, e))
        }
        Err(e) => Err(e),
    }
}

/// Why a connection attempt ended: the stack reports the stored error on the next call.
fn connect_error(
    stack: &mut tcplab_stack::Stack,
    now: tcplab_stack::Instant,
    h: ConnHandle,
) -> TcpError {
    let mut probe = [0u8; 1];
    match stack.tcp_recv(now, h, &mut probe) {
        Err(e) if e != TcpError::WouldBlock && e != TcpError::InvalidHandle => e,
        _ => TcpError::ConnectionRefused,
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }
    /// Like std's, a no-op: written bytes are already queued in the stack.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let h = self.handle;
        let _ = self.rt.with(|s, now| s.tcp_close(now, h));
    }
}
