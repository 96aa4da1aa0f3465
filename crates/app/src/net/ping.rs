//! ICMP echo (RFC 792) from a runtime: send a request, wait for its result.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_stack::icmp::PingEvent;

use crate::error::stack_io_error;
use crate::runtime::{Handle, Interest};

/// Results of other identifiers kept for their owners, at most this many.
const STASH_LIMIT: usize = 64;

fn ident_of(ev: &PingEvent) -> u16 {
    match ev {
        PingEvent::Reply { ident, .. } | PingEvent::Error { ident, .. } => *ident,
    }
}

/// Send one echo request with `payload_len` data bytes.
pub fn send(
    rt: &Handle,
    dst: Ipv4Addr,
    ident: u16,
    seq: u16,
    payload_len: usize,
) -> io::Result<()> {
    rt.with(|s, now| s.ping(now, dst, ident, seq, payload_len))?
        .map_err(stack_io_error)
}

/// Wait up to `timeout` for the next result (reply or ICMP error) for identifier `ident`.
/// Returns `Ok(None)` on timeout.
pub fn next_result(rt: &Handle, ident: u16, timeout: Duration) -> io::Result<Option<PingEvent>> {
    let r = rt.wait(Some(timeout), Interest::Any, |core, _| {
        if let Some(i) = core.ping_stash.iter().position(|e| ident_of(e) == ident) {
            return core.ping_stash.remove(i);
        }
        while let Some(ev) = core.stack.poll_ping() {
            if ident_of(&ev) == ident {
                return Some(ev);
            }
            if core.ping_stash.len() >= STASH_LIMIT {
                core.ping_stash.pop_front();
            }
            core.ping_stash.push_back(ev);
        }
        None
    });
    match r {
        Ok(ev) => Ok(Some(ev)),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
        Err(e) => Err(e),
    }
}
