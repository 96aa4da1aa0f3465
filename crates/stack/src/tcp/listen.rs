//! Listening sockets (RFC 9293 §3.10.1 passive OPEN, §3.10.7.2 SEGMENT ARRIVES in LISTEN) with
//! a real backlog: a bounded SYN queue (connections in SYN-RECEIVED) and a bounded accept queue
//! (ESTABLISHED, not yet accepted). Many connections share one listening port. When the SYN
//! queue is full, SYNs are answered with stateless SYN cookies instead (`syncookie.rs`,
//! RFC 4987 §3.6).

use std::collections::VecDeque;

use core::net::SocketAddrV4;

use super::conn::{Conn, Env};
use super::event::TcpEvent;
use super::input::Segment;
use super::{ConnHandle, ListenerHandle, Tcp, TcpState};
use crate::error::TcpError;
use crate::time::Instant;

/// One listening socket.
#[derive(Debug)]
pub(crate) struct Listener {
    /// Local address (IP may be unspecified: any of ours).
    pub local: SocketAddrV4,
    /// Accept-queue limit.
    pub backlog: usize,
    /// Established connections waiting for `accept`.
    pub accept: VecDeque<ConnHandle>,
    /// Connections in SYN-RECEIVED created by this listener.
    pub syn_count: usize,
    /// When this listener last answered a SYN with a cookie (RFC 4987 §3.6).
    pub cookie_sent: Option<Instant>,
}

impl Tcp {
    /// LISTEN (RFC 9293 §3.10.1): one listener per port.
    pub fn listen(
        &mut self,
        local: SocketAddrV4,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        if local.port() == 0 {
            return Err(TcpError::AddrNotAvailable);
        }
        if self.listen_by_port.contains_key(&local.port()) {
            return Err(TcpError::AddrInUse);
        }
        let backlog = if backlog == 0 {
            self.config.default_backlog
        } else {
            backlog
        };
        self.next_listener = self.next_listener.wrapping_add(1);
        let h = ListenerHandle(self.next_listener);
        self.listeners.insert(
            h,
            Listener {
                local,
                backlog,
                accept: VecDeque::new(),
                syn_count: 0,
                cookie_sent: None,
            },
        );
        self.listen_by_port.insert(local.port(), h);
        Ok(h)
    }

    /// Take the oldest established connection from the accept queue.
    pub fn accept(&mut self, l: ListenerHandle) -> Result<ConnHandle, TcpError> {
        let lst = self.listeners.get_mut(&l).ok_or(TcpError::InvalidHandle)?;
        while let Some(h) = lst.accept.pop_front() {
            if let Some(c) = self.conns.get_mut(&h) {
                c.in_accept_queue = false;
                c.listener = None;
                return Ok(h);
            }
        }
        Err(TcpError::WouldBlock)
    }

    /// Whether `accept` would return a connection.
    pub fn can_accept(&self, l: ListenerHandle) -> bool {
        self.listeners.get(&l).is_some_and(|x| !x.accept.is_empty())
    }

    /// Close a listener: connections not yet accepted are reset (RFC 9293 §3.10.4 in LISTEN:
    /// "any outstanding RECEIVEs are returned"; embryonic connections have no owner left).
    pub fn close_listener(&mut self, l: ListenerHandle) {
        let now = self.last_now;
        let Some(lst) = self.listeners.remove(&l) else {
            return;
        };
        if self.listen_by_port.get(&lst.local.port()) == Some(&l) {
            self.listen_by_port.remove(&lst.local.port());
        }
        let orphans: Vec<ConnHandle> = self
            .conns
            .iter()
            .filter(|(_, c)| c.listener == Some(l))
            .map(|(h, _)| *h)
            .collect();
        for h in orphans {
            let mut env = Env {
                now,
                cfg: &self.config,
                counters: &mut self.counters,
                events: &mut self.events,
            };
            if let Some(c) = self.conns.get_mut(&h) {
                c.listener = None;
                c.in_accept_queue = false;
                c.orphan = true;
                c.abort(&mut env);
            }
            self.mark_ready(h);
            self.after(h);
        }
    }

    /// RFC 9293 §3.10.7.2: a segment for a listening port with no connection.
    pub(super) fn on_listen_segment(
        &mut self,
        now: Instant,
        l: ListenerHandle,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) {
        // First, an RST is ignored.
        if seg.rst {
            return;
        }
        // Second, an ACK is answered with <SEQ=SEG.ACK><CTL=RST>, unless it completes a SYN
        // cookie handshake (RFC 4987 §3.6).
        if let Some(ack) = seg.ack {
            if self.cookie_check_enabled(now, l) && self.accept_cookie(now, l, local, remote, seg) {
                return;
            }
            self.queue_rst(now, local, remote, ack, None);
            return;
        }
        // Third, a SYN creates a connection in SYN-RECEIVED, within the bounds.
        if !seg.syn {
            self.counters.drop_listen_other += 1;
            return;
        }
        let Some(lst) = self.listeners.get(&l) else {
            return;
        };
        let syn_full = lst.syn_count >= self.config.max_syn_backlog;
        let accept_full = lst.accept.len() >= lst.backlog;
        let conns_full = self.conns.len() >= self.config.max_connections;
        if !accept_full && !conns_full && self.use_cookie(syn_full) {
            // RFC 4987 §3.6: answer without keeping state.
            self.send_cookie(now, l, local, remote, seg);
            return;
        }
        if syn_full || accept_full || conns_full {
            if syn_full {
                self.counters.drop_syn_queue_full += 1;
            } else if accept_full {
                self.counters.drop_accept_queue_full += 1;
            } else {
                self.counters.drop_too_many_connections += 1;
            }
            self.events.emit(now, || TcpEvent::SynDropped {
                listener: l,
                remote,
            });
            return;
        }
        let Some(h) = self.alloc_handle() else { return };
        let iss = self.new_isn(now, local, remote);
        let mut c = Conn::new(
            &self.config,
            h,
            local,
            remote,
            iss,
            self.mss,
            TcpState::Listen,
        );
        c.ts_offset = self.isn.ts_offset(local, remote);
        if let Some(mtu) = self.pmtu.get(*remote.ip(), now) {
            c.pmtu = c.pmtu.min(mtu); // RFC 1191 §6.3: what earlier connections learned
        }
        c.listener = Some(l);
        let mut env = Env {
            now,
            cfg: &self.config,
            counters: &mut self.counters,
            events: &mut self.events,
        };
        c.take_syn_options(&env, seg);
        c.snd_wnd = seg.window as u32; // unscaled in a SYN (RFC 7323 §2.2)
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = seg.seq;
        c.snd_wl2 = iss;
        c.set_state(&mut env, TcpState::SynReceived);
        env.counters.passive_opens += 1;
        if let Some(lst) = self.listeners.get_mut(&l) {
            lst.syn_count += 1;
        }
        self.by_tuple.insert((local, remote), h);
        self.conns.insert(h, c);
        self.mark_ready(h);
        self.after(h);
        // Text on a SYN is not accepted before ESTABLISHED; the peer retransmits it.
    }
}
