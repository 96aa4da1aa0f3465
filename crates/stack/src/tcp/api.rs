//! The application's side of TCP (RFC 9293 §3.9.1 user interface): OPEN (active, with an
//! ephemeral port per RFC 6335 §6 and an RFC 6528 ISN), SEND, RECEIVE, CLOSE, ABORT, STATUS,
//! and the options (Nagle, keep-alive). Listener calls are in `listen.rs`.

use core::net::{Ipv4Addr, SocketAddrV4};

use super::conn::{Conn, Env};
use super::ports;
use super::seq::Seq;
use super::{ConnHandle, Tcp, TcpInfo, TcpState, Timer};
use crate::ctx::Ctx;
use crate::error::TcpError;
use crate::time::{Duration, Instant};

impl Tcp {
    /// RFC 6528 ISN (or the test override).
    pub(super) fn new_isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> Seq {
        match self.isn_override {
            Some(x) => Seq(x),
            None => self.isn.isn(now, local, remote),
        }
    }

    pub(super) fn alloc_handle(&mut self) -> Option<ConnHandle> {
        for _ in 0..1024 {
            self.next_conn = self.next_conn.wrapping_add(1);
            let h = ConnHandle(self.next_conn);
            if !self.conns.contains_key(&h) {
                return Some(h);
            }
        }
        None
    }

    /// RFC 6056 §3.3.3: the first port, from this destination's offset on, whose 4-tuple is
    /// free (no connection, no TIME-WAIT entry) and that is not a listening port.
    fn pick_port(&mut self, local_ip: Ipv4Addr, remote: SocketAddrV4) -> Result<u16, TcpError> {
        let offset = ports::offset(self.port_key, local_ip, remote);
        for _ in 0..ports::EPHEMERAL_COUNT {
            let p = ports::candidate(offset, self.next_port);
            self.next_port = self.next_port.wrapping_add(1);
            let key = (SocketAddrV4::new(local_ip, p), remote);
            if !self.by_tuple.contains_key(&key)
                && !self.timewait.contains(&key)
                && !self.listen_by_port.contains_key(&p)
            {
                return Ok(p);
            }
        }
        Err(TcpError::NoPorts)
    }

    /// Active OPEN (RFC 9293 §3.10.1): SYN-SENT, SYN queued for `poll_transmit`.
    pub(crate) fn connect(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        local_ip: Ipv4Addr,
        remote: SocketAddrV4,
    ) -> Result<ConnHandle, TcpError> {
        self.begin(now, ctx);
        let r = self.connect_inner(now, local_ip, None, remote);
        self.end(ctx);
        r
    }

    pub(super) fn connect_inner(
        &mut self,
        now: Instant,
        local_ip: Ipv4Addr,
        local_port: Option<u16>,
        remote: SocketAddrV4,
    ) -> Result<ConnHandle, TcpError> {
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_broadcast() {
            return Err(TcpError::AddrNotAvailable);
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(TcpError::TooManyConnections);
        }
        let port = match local_port {
            Some(p)
                if self
                    .by_tuple
                    .contains_key(&(SocketAddrV4::new(local_ip, p), remote))
                    || self
                        .timewait
                        .contains(&(SocketAddrV4::new(local_ip, p), remote)) =>
            {
                return Err(TcpError::AddrInUse)
            }
            Some(p) => p,
            None => self.pick_port(local_ip, remote)?,
        };
        let h = self.alloc_handle().ok_or(TcpError::TooManyConnections)?;
        let local = SocketAddrV4::new(local_ip, port);
        let iss = self.new_isn(now, local, remote);
        let mut c = Conn::new(
            &self.config,
            h,
            local,
            remote,
            iss,
            self.mss,
            TcpState::Closed,
        );
        c.ts_offset = self.isn.ts_offset(local, remote);
        if let Some(mtu) = self.pmtu.get(*remote.ip(), now) {
            c.pmtu = c.pmtu.min(mtu); // RFC 1191 §6.3: what earlier connections learned
        }
        let mut env = Env {
            now,
            cfg: &self.config,
            counters: &mut self.counters,
            events: &mut self.events,
        };
        c.set_state(&mut env, TcpState::SynSent);
        env.counters.active_opens += 1;
        self.by_tuple.insert((local, remote), h);
        self.conns.insert(h, c);
        self.mark_ready(h);
        self.after(h);
        Ok(h)
    }

    /// Run `f` on connection `c` with an environment, then do the bookkeeping.
    pub(super) fn with_conn<R>(
        &mut self,
        now: Instant,
        c: ConnHandle,
        f: impl FnOnce(&mut Conn, &mut Env<'_>) -> Result<R, TcpError>,
    ) -> Result<R, TcpError> {
        self.last_now = self.last_now.max(now);
        let conn = self
            .conns
            .get_mut(&c)
            .filter(|x| !x.orphan && !x.in_accept_queue);
        let Some(conn) = conn else {
            return Err(TcpError::InvalidHandle);
        };
        let mut env = Env {
            now,
            cfg: &self.config,
            counters: &mut self.counters,
            events: &mut self.events,
        };
        let r = f(conn, &mut env);
        self.mark_ready(c);
        self.after(c);
        r
    }

    /// SEND (RFC 9293 §3.10.2).
    pub fn send(&mut self, now: Instant, c: ConnHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.with_conn(now, c, |conn, _| conn.send(data))
    }

    /// RECEIVE (RFC 9293 §3.10.3).
    pub fn recv(&mut self, now: Instant, c: ConnHandle, buf: &mut [u8]) -> Result<usize, TcpError> {
        self.with_conn(now, c, |conn, _| conn.recv(buf))
    }

    /// Half-close (RFC 9293 §3.10.4).
    pub fn shutdown_write(&mut self, now: Instant, c: ConnHandle) -> Result<(), TcpError> {
        self.with_conn(now, c, |conn, env| conn.shutdown_write(env))
    }

    /// CLOSE (RFC 9293 §3.10.4) and release the handle.
    pub fn close(&mut self, now: Instant, c: ConnHandle) {
        let _ = self.with_conn(now, c, |conn, env| {
            conn.close(env);
            Ok(())
        });
    }

    /// ABORT (RFC 9293 §3.10.5) and release the handle.
    pub fn abort(&mut self, now: Instant, c: ConnHandle) {
        let _ = self.with_conn(now, c, |conn, env| {
            conn.orphan = true;
            conn.abort(env);
            Ok(())
        });
    }

    /// Nagle off (`true`) or on (RFC 9293 §3.7.4).
    pub fn set_nodelay(&mut self, c: ConnHandle, nodelay: bool) -> Result<(), TcpError> {
        let now = self.last_now;
        self.with_conn(now, c, |conn, _| {
            conn.nodelay = nodelay;
            Ok(())
        })
    }

    /// Keep-alives after `idle` (RFC 9293 §3.8.4), or off.
    pub fn set_keepalive(&mut self, c: ConnHandle, idle: Option<Duration>) -> Result<(), TcpError> {
        let now = self.last_now;
        self.with_conn(now, c, |conn, env| {
            conn.keepalive = idle;
            match idle {
                Some(d) => conn.timers.set(Timer::KeepAlive, env.now + d),
                None => conn.timers.stop(Timer::KeepAlive),
            }
            Ok(())
        })
    }

    fn get(&self, c: ConnHandle) -> Option<&Conn> {
        self.conns.get(&c).filter(|x| !x.orphan)
    }

    /// The connection's state. A handle whose connection went to TIME-WAIT reports it until
    /// the compact entry ends (`timewait.rs`), then CLOSED.
    pub fn state(&self, c: ConnHandle) -> Option<TcpState> {
        self.get(c).map(|x| self.visible_state(c, x))
    }

    fn visible_state(&self, h: ConnHandle, c: &Conn) -> TcpState {
        match c.detached {
            true if self.in_timewait(h, c) => TcpState::TimeWait,
            true => TcpState::Closed,
            false => c.state,
        }
    }

    /// Per-connection statistics.
    pub fn info(&self, c: ConnHandle) -> Option<TcpInfo> {
        self.get(c).map(|x| {
            let mut i = x.info();
            i.state = Some(self.visible_state(c, x));
            i
        })
    }

    /// Whether `recv` would not block.
    pub fn can_recv(&self, c: ConnHandle) -> bool {
        self.get(c).is_none_or(Conn::can_recv)
    }

    /// Whether `send` would not block.
    pub fn can_send(&self, c: ConnHandle) -> bool {
        self.get(c).is_none_or(Conn::can_send)
    }

    /// Connections whose FIN is queued or sent but not yet acknowledged (FIN-WAIT-1, CLOSING,
    /// LAST-ACK): a driver about to exit waits for this to reach zero (bounded) so that a
    /// close the application already made reaches the peer, as a kernel lingers after a
    /// process exits (RFC 9293 §3.10.4).
    pub fn closing_count(&self) -> usize {
        self.conns
            .values()
            .filter(|c| {
                matches!(
                    c.state,
                    TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
                )
            })
            .count()
    }

    /// Number of connections in any state but TIME-WAIT (see `timewait_count`), including
    /// unaccepted ones and handles the application still holds.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}
