//! TCP events for the trace: every state transition, retransmission, timer firing and
//! congestion-window decision, each citing the RFC section behind it.

use core::fmt;
use core::net::SocketAddrV4;

use super::timers::Timer;
use super::{ConnHandle, ListenerHandle, TcpState};
use crate::error::TcpError;
use crate::time::{Duration, Instant};

/// Why a segment was retransmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetransmitReason {
    /// The retransmission timer expired (RFC 6298 §5.4).
    Timeout,
    /// Third duplicate ACK (RFC 5681 §3.2).
    FastRetransmit,
    /// Partial ACK during fast recovery (RFC 6582 §3.2 step 5).
    PartialAck,
    /// A hole below SACKed data during recovery (RFC 6675 §5).
    SackHole,
    /// The path MTU went down: data in flight is resent in smaller segments (RFC 1191 §6.5).
    PathMtu,
}

impl RetransmitReason {
    /// The RFC section behind this kind of retransmission.
    pub fn rfc(self) -> &'static str {
        match self {
            RetransmitReason::Timeout => "RFC 6298 §5.4",
            RetransmitReason::FastRetransmit => "RFC 5681 §3.2",
            RetransmitReason::PartialAck => "RFC 6582 §3.2",
            RetransmitReason::SackHole => "RFC 6675 §5",
            RetransmitReason::PathMtu => "RFC 1191 §6.5",
        }
    }
}

/// Why cwnd or ssthresh changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CongestionReason {
    /// Growth on new ACKs (RFC 5681 §3.1 slow start / congestion avoidance).
    Ack,
    /// Entering fast recovery (RFC 5681 §3.2).
    FastRecovery,
    /// Partial or full ACK during recovery (RFC 6582 §3.2).
    Recovery,
    /// Retransmission timeout (RFC 5681 §3.1 eq. 4).
    Timeout,
    /// Restart after an idle period (RFC 5681 §4.1).
    Idle,
    /// HyStart++ saw the round's minimum RTT grow and left slow start for Conservative Slow
    /// Start (RFC 9406 §4.2).
    HystartCss,
    /// HyStart++ saw the RTT drop back below the CSS baseline: the exit was spurious, slow
    /// start again (RFC 9406 §4.2).
    HystartResume,
    /// HyStart++ ended Conservative Slow Start after CSS_ROUNDS rounds: ssthresh = cwnd,
    /// congestion avoidance (RFC 9406 §4.2).
    HystartExit,
}

impl CongestionReason {
    /// The RFC section behind this change.
    pub fn rfc(self) -> &'static str {
        match self {
            CongestionReason::Ack | CongestionReason::Timeout => "RFC 5681 §3.1",
            CongestionReason::FastRecovery => "RFC 5681 §3.2",
            CongestionReason::Recovery => "RFC 6582 §3.2",
            CongestionReason::Idle => "RFC 5681 §4.1",
            CongestionReason::HystartCss
            | CongestionReason::HystartResume
            | CongestionReason::HystartExit => "RFC 9406 §4.2",
        }
    }
}

/// A TCP event for the trace (see [`crate::event`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TcpEvent {
    /// A connection changed state (RFC 9293 §3.3.2).
    StateChange {
        /// The connection.
        conn: ConnHandle,
        /// Old state.
        from: TcpState,
        /// New state.
        to: TcpState,
    },
    /// A segment was sent again.
    Retransmit {
        /// The connection.
        conn: ConnHandle,
        /// First sequence number of the retransmitted range.
        seq: u32,
        /// Bytes of data in it.
        len: u32,
        /// Why.
        reason: RetransmitReason,
    },
    /// A connection timer expired.
    TimerFired {
        /// The connection.
        conn: ConnHandle,
        /// Which timer.
        timer: Timer,
    },
    /// cwnd or ssthresh changed.
    Congestion {
        /// The connection.
        conn: ConnHandle,
        /// New congestion window, bytes.
        cwnd: u32,
        /// New slow-start threshold, bytes.
        ssthresh: u32,
        /// Why.
        reason: CongestionReason,
    },
    /// A new RTT measurement updated the RTO (RFC 6298 §2).
    RttSample {
        /// The connection.
        conn: ConnHandle,
        /// The measurement.
        rtt: Duration,
        /// Smoothed RTT after it.
        srtt: Duration,
        /// RTO after it.
        rto: Duration,
    },
    /// The connection ended with an error (reset, refused, timed out, unreachable).
    Aborted {
        /// The connection.
        conn: ConnHandle,
        /// The error reported to the application.
        error: TcpError,
    },
    /// A challenge ACK answered a suspicious RST or SYN (RFC 5961 §3.2, §4.2).
    ChallengeAck {
        /// The connection.
        conn: ConnHandle,
    },
    /// A RST answered a segment for no connection (RFC 9293 §3.10.7.1).
    ResetSent {
        /// Our address.
        local: SocketAddrV4,
        /// The peer.
        remote: SocketAddrV4,
    },
    /// A SYN was dropped because a listener's SYN queue or accept queue was full, or the
    /// connection limit was reached (RFC 9293 §3.10.7.2 leaves this to the implementation).
    SynDropped {
        /// The listener.
        listener: ListenerHandle,
        /// The peer.
        remote: SocketAddrV4,
    },
    /// A listener answered a SYN with a stateless SYN cookie (RFC 4987 §3.6).
    SynCookieSent {
        /// The listener.
        listener: ListenerHandle,
        /// The peer.
        remote: SocketAddrV4,
    },
    /// An ACK carried a valid SYN cookie: the connection was created (RFC 4987 §3.6).
    SynCookieValid {
        /// The listener.
        listener: ListenerHandle,
        /// The peer.
        remote: SocketAddrV4,
        /// The new connection.
        conn: ConnHandle,
    },
    /// An ACK to a listener carried no valid SYN cookie (RFC 4987 §3.6); it gets a RST.
    SynCookieInvalid {
        /// The listener.
        listener: ListenerHandle,
        /// The peer.
        remote: SocketAddrV4,
    },
    /// A zero-window probe was sent (RFC 9293 §3.8.6.1).
    WindowProbe {
        /// The connection.
        conn: ConnHandle,
    },
    /// A keep-alive probe was sent (RFC 9293 §3.8.4).
    KeepAliveProbe {
        /// The connection.
        conn: ConnHandle,
    },
    /// The path MTU estimate went down (RFC 1191 §6.3 from ICMP "fragmentation needed", or
    /// black-hole detection after repeated timeouts, RFC 4821 §10.1), and with it the MSS.
    PathMtu {
        /// The connection.
        conn: ConnHandle,
        /// New path MTU, bytes.
        mtu: u16,
        /// New send MSS, bytes.
        mss: u32,
        /// Whether it came from repeated timeouts rather than an ICMP message.
        blackhole: bool,
    },
}

impl TcpEvent {
    /// The RFC section behind this event.
    pub fn rfc(&self) -> Option<&'static str> {
        Some(match self {
            TcpEvent::StateChange { .. } => "RFC 9293 §3.3.2",
            TcpEvent::Retransmit { reason, .. } => reason.rfc(),
            TcpEvent::TimerFired { timer, .. } => timer.rfc(),
            TcpEvent::Congestion { reason, .. } => reason.rfc(),
            TcpEvent::RttSample { .. } => "RFC 6298 §2",
            TcpEvent::Aborted { .. } => "RFC 9293 §3.10.7",
            TcpEvent::ChallengeAck { .. } => "RFC 5961 §3.2",
            TcpEvent::ResetSent { .. } => "RFC 9293 §3.10.7.1",
            TcpEvent::SynDropped { .. } => "RFC 9293 §3.10.7.2",
            TcpEvent::SynCookieSent { .. }
            | TcpEvent::SynCookieValid { .. }
            | TcpEvent::SynCookieInvalid { .. } => "RFC 4987 §3.6",
            TcpEvent::WindowProbe { .. } => "RFC 9293 §3.8.6.1",
            TcpEvent::KeepAliveProbe { .. } => "RFC 9293 §3.8.4",
            TcpEvent::PathMtu {
                blackhole: false, ..
            } => "RFC 1191 §6.3",
            TcpEvent::PathMtu { .. } => "RFC 4821 §10.1",
        })
    }
}

impl fmt::Display for TcpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpEvent::StateChange { conn, from, to } => {
                write!(f, "tcp#{} {:?} -> {:?}", conn.0, from, to)
            }
            TcpEvent::Retransmit {
                conn,
                seq,
                len,
                reason,
            } => {
                write!(
                    f,
                    "tcp#{} retransmit seq={} len={} ({:?})",
                    conn.0, seq, len, reason
                )
            }
            TcpEvent::TimerFired { conn, timer } => {
                write!(f, "tcp#{} timer {} fired", conn.0, timer.name())
            }
            TcpEvent::Congestion {
                conn,
                cwnd,
                ssthresh,
                reason,
            } => {
                write!(
                    f,
                    "tcp#{} cwnd={} ssthresh={} ({:?})",
                    conn.0, cwnd, ssthresh, reason
                )
            }
            TcpEvent::RttSample {
                conn,
                rtt,
                srtt,
                rto,
            } => {
                write!(
                    f,
                    "tcp#{} rtt={:?} srtt={:?} rto={:?}",
                    conn.0, rtt, srtt, rto
                )
            }
            TcpEvent::Aborted { conn, error } => write!(f, "tcp#{} aborted: {}", conn.0, error),
            TcpEvent::ChallengeAck { conn } => write!(f, "tcp#{} challenge ACK", conn.0),
            TcpEvent::ResetSent { local, remote } => {
                write!(f, "tcp RST {} -> {} (no connection)", local, remote)
            }
            TcpEvent::SynDropped { listener, remote } => {
                write!(
                    f,
                    "tcp listener#{} dropped SYN from {} (queue full)",
                    listener.0, remote
                )
            }
            TcpEvent::SynCookieSent { listener, remote } => {
                write!(f, "tcp listener#{} SYN cookie to {}", listener.0, remote)
            }
            TcpEvent::SynCookieValid {
                listener,
                remote,
                conn,
            } => write!(
                f,
                "tcp#{} from listener#{} valid SYN cookie from {}",
                conn.0, listener.0, remote
            ),
            TcpEvent::SynCookieInvalid { listener, remote } => {
                write!(
                    f,
                    "tcp listener#{} invalid SYN cookie from {}",
                    listener.0, remote
                )
            }
            TcpEvent::WindowProbe { conn } => write!(f, "tcp#{} zero-window probe", conn.0),
            TcpEvent::KeepAliveProbe { conn } => write!(f, "tcp#{} keep-alive probe", conn.0),
            TcpEvent::PathMtu {
                conn,
                mtu,
                mss,
                blackhole,
            } => write!(
                f,
                "tcp#{} path MTU {mtu} (mss {mss}){}",
                conn.0,
                if *blackhole {
                    ", black hole: repeated timeouts"
                } else {
                    ""
                }
            ),
        }
    }
}

/// Events recorded during calls that have no [`crate::ctx::Ctx`] (socket calls), flushed into
/// the stack's sink at the next call that has one. Nothing is recorded while events are off.
#[derive(Debug, Default)]
pub(crate) struct EventBuf {
    /// Mirrors the stack's sink: record only when on.
    pub enabled: bool,
    /// Pending events with their time.
    pub buf: Vec<(Instant, TcpEvent)>,
}

/// Bound on events buffered between two flushes.
const EVENT_BUF_CAP: usize = 65536;

impl EventBuf {
    /// Record the event built by `make` if recording is on.
    #[inline]
    pub fn emit(&mut self, now: Instant, make: impl FnOnce() -> TcpEvent) {
        if self.enabled && self.buf.len() < EVENT_BUF_CAP {
            self.buf.push((now, make()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    /// Every event renders as one line and names its RFC section.
    #[test]
    fn every_event_has_rfc_and_one_line_display() {
        let conn = ConnHandle(7);
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80);
        let all = [
            TcpEvent::StateChange {
                conn,
                from: TcpState::Listen,
                to: TcpState::SynReceived,
            },
            TcpEvent::Retransmit {
                conn,
                seq: 1,
                len: 2,
                reason: RetransmitReason::Timeout,
            },
            TcpEvent::Retransmit {
                conn,
                seq: 1,
                len: 2,
                reason: RetransmitReason::FastRetransmit,
            },
            TcpEvent::Retransmit {
                conn,
                seq: 1,
                len: 2,
                reason: RetransmitReason::PartialAck,
            },
            TcpEvent::Retransmit {
                conn,
                seq: 1,
                len: 2,
                reason: RetransmitReason::SackHole,
            },
            TcpEvent::TimerFired {
                conn,
                timer: Timer::Persist,
            },
            TcpEvent::Congestion {
                conn,
                cwnd: 1,
                ssthresh: 2,
                reason: CongestionReason::Idle,
            },
            TcpEvent::Congestion {
                conn,
                cwnd: 1,
                ssthresh: 2,
                reason: CongestionReason::HystartCss,
            },
            TcpEvent::RttSample {
                conn,
                rtt: Duration::from_millis(1),
                srtt: Duration::from_millis(1),
                rto: Duration::from_millis(200),
            },
            TcpEvent::Aborted {
                conn,
                error: TcpError::ConnectionReset,
            },
            TcpEvent::ChallengeAck { conn },
            TcpEvent::ResetSent {
                local: a,
                remote: a,
            },
            TcpEvent::SynDropped {
                listener: ListenerHandle(1),
                remote: a,
            },
            TcpEvent::SynCookieSent {
                listener: ListenerHandle(1),
                remote: a,
            },
            TcpEvent::SynCookieValid {
                listener: ListenerHandle(1),
                remote: a,
                conn,
            },
            TcpEvent::SynCookieInvalid {
                listener: ListenerHandle(1),
                remote: a,
            },
            TcpEvent::WindowProbe { conn },
            TcpEvent::KeepAliveProbe { conn },
        ];
        for e in all {
            let rfc = e.rfc().unwrap();
            assert!(rfc.starts_with("RFC "), "{rfc}");
            let line = e.to_string();
            assert!(!line.is_empty() && !line.contains('\n'), "{line}");
        }
        for t in Timer::ALL {
            assert!(t.rfc().starts_with("RFC ") && !t.name().is_empty());
        }
    }
}
