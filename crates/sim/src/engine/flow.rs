//! One flow's applications: the client and server sides of its connections, driven through
//! the stack's TCP calls on the virtual clock.
//!
//! Every connection runs the same script: `txns` transactions of a request (client to
//! server) and a response (server to client), then the client half-closes (or, for short
//! connections, closes) and each side closes when it reads the other's FIN. A bulk flow is one
//! transaction with an empty response. Every byte written follows a deterministic pattern
//! ([`pattern`]) and every byte read is checked against it.

use std::net::SocketAddrV4;

use tcplab_stack::{ConnHandle, Instant, ListenerHandle, Stack, TcpError};

use crate::scenario::{FlowKind, FlowSpec};
use crate::{HostId, World};

/// Largest read or write per call.
const CHUNK: usize = 64 * 1024;

/// Byte `off` of stream `stream` (one stream per connection and direction).
pub(crate) fn pattern(stream: u64, off: u64) -> u8 {
    let x = off.wrapping_add(stream.wrapping_mul(0x9e37_79b9));
    (x ^ (x >> 7) ^ (x >> 13)) as u8
}

/// One end of a connection, as far as the metrics and graphs need it.
#[derive(Debug, Clone)]
pub(crate) struct End {
    pub host: HostId,
    pub handle: ConnHandle,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub written: u64,
}

#[derive(Debug)]
struct ConnRun {
    /// Index of the connection in the flow (pattern streams `2n` and `2n + 1`).
    n: u64,
    client: ConnHandle,
    client_local: SocketAddrV4,
    client_end: usize,
    server: Option<(ConnHandle, usize)>,
    txn: u64,
    req_sent: u64,
    resp_got: u64,
    req_got: u64,
    resp_sent: u64,
    responding: bool,
    c_tx: u64,
    c_rx: u64,
    s_tx: u64,
    s_rx: u64,
    client_shut: bool,
    client_done: bool,
    server_done: bool,
}

/// One `write` request of a side of a connection.
struct WriteReq<'a> {
    h: ConnHandle,
    stream: u64,
    off: &'a mut u64,
    want: u64,
    chunk: u64,
    one_call: bool,
}

/// A flow being run.
pub(crate) struct FlowRun {
    pub spec: FlowSpec,
    client: HostId,
    server: HostId,
    server_addr: SocketAddrV4,
    listener: ListenerHandle,
    start: Instant,
    txns: u64,
    req: u64,
    resp: u64,
    /// Request bytes per write call (bulk: `write_size`, many writes per round).
    req_chunk: u64,
    bulk: bool,
    short: bool,
    total_conns: u64,
    concurrency: u64,
    launched: u64,
    active: Vec<ConnRun>,
    pause_until: Option<Instant>,
    pause_done: bool,
    buf: Vec<u8>,
    /// Every connection end, client and server, in the order they appeared.
    pub ends: Vec<End>,
    pub first_error: Option<String>,
    pub last_read: Option<Instant>,
    pub bytes_read: u64,
    pub verified: bool,
    pub transactions: u64,
}

fn failure(e: TcpError, what: &str, n: u64) -> String {
    format!("connection {n}: {what}: {e}")
}

impl FlowRun {
    /// Open the server's listener; the client connects at `spec.start`.
    pub(crate) fn new(
        w: &mut World,
        spec: FlowSpec,
        client: HostId,
        server: HostId,
    ) -> Result<FlowRun, TcpError> {
        let server_addr = SocketAddrV4::new(w.stack_ref(server).ipv4_addr(), spec.port);
        let (txns, req, resp, req_chunk, total_conns, concurrency) = match spec.kind {
            FlowKind::Bulk { bytes, write_size } => (1, bytes, 0, write_size, 1, 1),
            FlowKind::RequestResponse {
                request,
                response,
                count,
                request_writes,
            } => (
                count,
                request,
                response,
                request.div_ceil(request_writes),
                1,
                1,
            ),
            FlowKind::ShortConnections {
                request,
                response,
                count,
                concurrency,
            } => (1, request, response, request.max(1), count, concurrency),
        };
        let backlog = (concurrency as usize).max(16);
        let listener = w.stack(server).tcp_listen(server_addr, backlog)?;
        Ok(FlowRun {
            bulk: matches!(spec.kind, FlowKind::Bulk { .. }),
            short: matches!(spec.kind, FlowKind::ShortConnections { .. }),
            start: Instant::ZERO + spec.start,
            spec,
            client,
            server,
            server_addr,
            listener,
            txns,
            req,
            resp,
            req_chunk: req_chunk.max(1),
            total_conns,
            concurrency,
            launched: 0,
            active: Vec::new(),
            pause_until: None,
            pause_done: false,
            buf: vec![0u8; CHUNK],
            ends: Vec::new(),
            first_error: None,
            last_read: None,
            bytes_read: 0,
            verified: true,
            transactions: 0,
        })
    }

    /// Every connection launched and finished.
    pub(crate) fn done(&self) -> bool {
        self.launched == self.total_conns && self.active.is_empty()
    }

    /// Transactions, connections or bulk transfers this flow must complete.
    pub(crate) fn expected(&self) -> u64 {
        if self.short {
            self.total_conns
        } else if self.bulk {
            1
        } else {
            self.txns
        }
    }

    /// The flow's own next wake-up: its start, or the end of a receive pause.
    pub(crate) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let start = (self.launched == 0 && self.start > now).then_some(self.start);
        let pause = self.pause_until.filter(|t| *t > now);
        start.into_iter().chain(pause).min()
    }

    fn error(&mut self, msg: String) {
        self.first_error.get_or_insert(msg);
    }

    /// Let the applications act at the world's current instant; returns whether they did
    /// anything (then the caller settles the world and asks again).
    pub(crate) fn poll(&mut self, w: &mut World) -> bool {
        let now = w.now();
        if now < self.start {
            return false;
        }
        let mut acted = false;
        // Launch connections up to the concurrency limit.
        while self.launched < self.total_conns && (self.active.len() as u64) < self.concurrency {
            acted = true;
            let n = self.launched;
            self.launched += 1;
            match w.stack(self.client).tcp_connect(now, self.server_addr) {
                Ok(c) => {
                    let stack = w.stack(self.client);
                    if self.spec.nodelay {
                        let _ = stack.tcp_set_nodelay(c, true);
                    }
                    let local = stack
                        .tcp_info(c)
                        .and_then(|i| i.local)
                        .unwrap_or(SocketAddrV4::new(stack.ipv4_addr(), 0));
                    self.ends.push(End {
                        host: self.client,
                        handle: c,
                        local,
                        remote: self.server_addr,
                        written: 0,
                    });
                    self.active.push(ConnRun {
                        n,
                        client: c,
                        client_local: local,
                        client_end: self.ends.len() - 1,
                        server: None,
                        txn: 0,
                        req_sent: 0,
                        resp_got: 0,
                        req_got: 0,
                        resp_sent: 0,
                        responding: false,
                        c_tx: 0,
                        c_rx: 0,
                        s_tx: 0,
                        s_rx: 0,
                        client_shut: false,
                        client_done: false,
                        server_done: false,
                    });
                }
                Err(e) => self.error(failure(e, "connect", n)),
            }
        }
        acted |= self.accept(w);
        let mut active = std::mem::take(&mut self.active);
        for c in &mut active {
            acted |= self.client_side(w, c);
            acted |= self.server_side(w, c);
        }
        active.retain(|c| {
            let finished = c.client_done && c.server_done;
            if finished {
                self.ends[c.client_end].written = c.c_tx;
                if let Some((_, e)) = c.server {
                    self.ends[e].written = c.s_tx;
                }
            }
            !finished
        });
        self.active = active;
        acted
    }

    fn accept(&mut self, w: &mut World) -> bool {
        let mut acted = false;
        let now = w.now();
        loop {
            let stack = w.stack(self.server);
            let h = match stack.tcp_accept(self.listener) {
                Ok(h) => h,
                Err(_) => return acted,
            };
            acted = true;
            let remote = stack.tcp_info(h).and_then(|i| i.remote);
            let Some(c) = self
                .active
                .iter_mut()
                .find(|c| c.server.is_none() && Some(c.client_local) == remote)
            else {
                stack.tcp_abort(now, h);
                continue;
            };
            if self.spec.nodelay {
                let _ = stack.tcp_set_nodelay(h, true);
            }
            self.ends.push(End {
                host: self.server,
                handle: h,
                local: self.server_addr,
                remote: c.client_local,
                written: 0,
            });
            c.server = Some((h, self.ends.len() - 1));
        }
    }

    /// Write `req.want` bytes of stream `req.stream` from offset `*req.off` in calls of at most
    /// `req.chunk` bytes (only one call when `req.one_call`); returns bytes written.
    fn write(
        buf: &mut [u8],
        stack: &mut Stack,
        now: Instant,
        req: WriteReq<'_>,
    ) -> Result<u64, TcpError> {
        let WriteReq {
            h,
            stream,
            off,
            want,
            chunk,
            one_call,
        } = req;
        let mut done = 0;
        while done < want {
            let len = (want - done).min(chunk).min(buf.len() as u64) as usize;
            for (i, b) in buf[..len].iter_mut().enumerate() {
                *b = pattern(stream, *off + i as u64);
            }
            match stack.tcp_send(now, h, &buf[..len]) {
                Ok(n) => {
                    done += n as u64;
                    *off += n as u64;
                    if one_call || n < len {
                        break;
                    }
                }
                Err(TcpError::WouldBlock) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Read what is there (at most `limit` bytes; `None`: all) from stream `stream`, checking
    /// the pattern. Returns (bytes, eof).
    fn read(
        &mut self,
        w: &mut World,
        host: HostId,
        h: ConnHandle,
        stream: u64,
        off: &mut u64,
    ) -> Result<(u64, bool), TcpError> {
        let now = w.now();
        let mut total = 0;
        loop {
            match w.stack(host).tcp_recv(now, h, &mut self.buf) {
                Ok(0) => return Ok((total, true)),
                Ok(n) => {
                    for (i, b) in self.buf[..n].iter().enumerate() {
                        if *b != pattern(stream, *off + i as u64) {
                            self.verified = false;
                        }
                    }
                    *off += n as u64;
                    total += n as u64;
                    self.bytes_read += n as u64;
                    self.last_read = Some(now);
                }
                Err(TcpError::WouldBlock) => return Ok((total, false)),
                Err(e) => return Err(e),
            }
        }
    }

    fn client_side(&mut self, w: &mut World, c: &mut ConnRun) -> bool {
        if c.client_done {
            return false;
        }
        let now = w.now();
        let host = self.client;
        let mut acted = false;
        // Write the current request.
        if c.txn < self.txns && c.req_sent < self.req {
            let one_call = !self.bulk;
            let req = WriteReq {
                h: c.client,
                stream: 2 * c.n,
                off: &mut c.c_tx,
                want: self.req - c.req_sent,
                chunk: self.req_chunk,
                one_call,
            };
            let r = Self::write(&mut self.buf, w.stack(host), now, req);
            match r {
                Ok(n) => {
                    if n > 0 {
                        acted = true;
                        c.req_sent += n;
                    }
                }
                Err(e) => return self.client_failed(w, c, e, "send"),
            }
        }
        // Read the response (or the server's FIN).
        let (got, eof) = match self.read(w, host, c.client, 2 * c.n + 1, &mut c.c_rx) {
            Ok(x) => x,
            Err(e) => return self.client_failed(w, c, e, "recv"),
        };
        acted |= got > 0;
        c.resp_got += got;
        if c.txn < self.txns && !self.bulk && c.req_sent == self.req && c.resp_got >= self.resp {
            // Transaction complete.
            acted = true;
            c.txn += 1;
            self.transactions += 1;
            c.req_sent = 0;
            c.resp_got -= self.resp;
        }
        let finished = if self.bulk {
            c.req_sent == self.req
        } else {
            c.txn == self.txns
        };
        if finished && !c.client_shut {
            acted = true;
            c.client_shut = true;
            if self.short {
                w.stack(host).tcp_close(now, c.client);
                c.client_done = true;
                return true;
            }
            if let Err(e) = w.stack(host).tcp_shutdown_write(now, c.client) {
                return self.client_failed(w, c, e, "shutdown");
            }
        }
        if eof {
            acted = true;
            w.stack(host).tcp_close(now, c.client);
            c.client_done = true;
            if !finished {
                self.error(format!("connection {}: server closed early", c.n));
            }
        }
        acted
    }

    fn client_failed(&mut self, w: &mut World, c: &mut ConnRun, e: TcpError, what: &str) -> bool {
        self.error(failure(e, what, c.n));
        let now = w.now();
        w.stack(self.client).tcp_close(now, c.client);
        c.client_done = true;
        if c.server.is_none() {
            // It never reached the server's application: nothing to finish there.
            c.server_done = true;
        }
        true
    }

    fn server_side(&mut self, w: &mut World, c: &mut ConnRun) -> bool {
        let Some((h, _)) = c.server else {
            return false;
        };
        if c.server_done {
            return false;
        }
        let now = w.now();
        let host = self.server;
        let mut acted = false;
        let paused = self.pause_until.is_some_and(|t| t > now);
        if !paused && !c.responding {
            let (got, eof) = match self.read(w, host, h, 2 * c.n, &mut c.s_rx) {
                Ok(x) => x,
                Err(e) => return self.server_failed(w, c, h, e, "recv"),
            };
            acted |= got > 0;
            c.req_got += got;
            if let Some((after, d)) = self.spec.recv_pause {
                if !self.pause_done && c.s_rx >= after {
                    self.pause_done = true;
                    self.pause_until = Some(now + d);
                    acted = true;
                }
            }
            if self.bulk && c.req_got >= self.req && self.transactions == 0 {
                self.transactions = 1;
            }
            if !self.bulk && c.req_got >= self.req {
                c.responding = true;
                c.req_got -= self.req.min(c.req_got);
            }
            if eof {
                w.stack(host).tcp_close(now, h);
                c.server_done = true;
                return true;
            }
        }
        if c.responding {
            let want = self.resp - c.resp_sent;
            let req = WriteReq {
                h,
                stream: 2 * c.n + 1,
                off: &mut c.s_tx,
                want,
                chunk: CHUNK as u64,
                one_call: false,
            };
            let r = Self::write(&mut self.buf, w.stack(host), now, req);
            match r {
                Ok(n) => {
                    acted |= n > 0;
                    c.resp_sent += n;
                    if c.resp_sent == self.resp {
                        c.responding = false;
                        c.resp_sent = 0;
                        acted = true;
                    }
                }
                Err(e) => return self.server_failed(w, c, h, e, "send"),
            }
        }
        acted
    }

    fn server_failed(
        &mut self,
        w: &mut World,
        c: &mut ConnRun,
        h: ConnHandle,
        e: TcpError,
        what: &str,
    ) -> bool {
        self.error(failure(e, &format!("server {what}"), c.n));
        let now = w.now();
        w.stack(self.server).tcp_close(now, h);
        c.server_done = true;
        true
    }

    /// Record the bytes written by connections still open when the run ended.
    pub(crate) fn record_unfinished(&mut self) {
        for c in &self.active {
            self.ends[c.client_end].written = c.c_tx;
            if let Some((_, e)) = c.server {
                self.ends[e].written = c.s_tx;
            }
        }
    }
}
