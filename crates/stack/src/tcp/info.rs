//! TCP configuration (every bound is a field), per-connection statistics (`TcpInfo`, like
//! Linux `tcp_info`) and TCP-wide counters (every drop has a named counter).

use core::net::SocketAddrV4;

use super::{CongestionAlgorithm, SynCookies, TcpState};
use crate::time::Duration;

/// TCP settings; every bound has a default.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Send buffer per connection, bytes.
    pub send_buffer: usize,
    /// Receive buffer per connection, bytes (also bounds out-of-order data).
    pub recv_buffer: usize,
    /// Maximum out-of-order blocks held per connection (bounds reassembly bookkeeping).
    pub max_ooo_blocks: usize,
    /// Minimum RTO (RFC 6298 (2.4) says 1 s; Linux uses 200 ms).
    pub rto_min: Duration,
    /// Maximum RTO (RFC 6298 (2.5): at least 60 s).
    pub rto_max: Duration,
    /// Initial RTO (RFC 6298 (2.1): 1 s).
    pub rto_initial: Duration,
    /// Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// How long an orphaned connection may sit in FIN-WAIT-2 (like Linux `tcp_fin_timeout`).
    pub fin_wait2_timeout: Duration,
    /// Delayed-ACK timeout (RFC 9293 §3.8.6.3: < 0.5 s; RFC 1122 says <= 200 ms is typical).
    pub delayed_ack: Duration,
    /// Retransmissions of one segment (or unanswered zero-window probes) before the connection
    /// is aborted (RFC 1122 §4.2.3.5 R2).
    pub max_retransmits: u32,
    /// SYN retransmissions before connect fails (RFC 1122 §4.2.3.5: at least 3 minutes
    /// for R2 of a SYN is recommended; the default gives about 2 minutes with a 1 s start).
    pub max_syn_retransmits: u32,
    /// Maximum number of connections (all states).
    pub max_connections: usize,
    /// Default accept-queue limit when `listen` is given 0.
    pub default_backlog: usize,
    /// Connections in SYN-RECEIVED per listener (SYN-flood bound).
    pub max_syn_backlog: usize,
    /// RSTs for segments without a connection waiting to be sent (excess is dropped).
    pub max_pending_rsts: usize,
    /// When listeners answer SYNs with stateless SYN cookies (RFC 4987 §3.6).
    pub syncookies: SynCookies,
    /// Cookie SYN,ACKs waiting to be sent (excess is dropped; the peer retransmits its SYN).
    pub max_pending_syncookies: usize,
    /// Smallest send MSS we accept from a peer (bounds per-byte overhead, RFC 6691).
    pub min_mss: u16,
    /// Nagle's algorithm on by default (RFC 9293 §3.7.4).
    pub nagle: bool,
    /// Keep-alive idle time; `None` disables keep-alives (RFC 9293 §3.8.4).
    pub keepalive: Option<Duration>,
    /// Interval between unanswered keep-alive probes (RFC 1122 §4.2.3.6).
    pub keepalive_interval: Duration,
    /// Unanswered keep-alive probes before the connection is dropped.
    pub keepalive_probes: u32,
    /// Offer and use selective acknowledgments (RFC 2018).
    pub sack: bool,
    /// SACKed ranges remembered per connection by the sender (RFC 2018 scoreboard bound).
    pub max_sack_blocks: usize,
    /// Challenge ACKs per connection per second (RFC 5961 §7).
    pub challenge_ack_limit: u32,
    /// Window scale shift we offer (RFC 7323 §2), 0..=14.
    pub window_scale: u8,
    /// Congestion control algorithm (RFC 9438 CUBIC by default, as in Linux).
    pub congestion: CongestionAlgorithm,
    /// Offer and use TCP timestamps (RFC 7323: RTTM and PAWS).
    pub timestamps: bool,
    /// Consecutive timeouts of the same data after which the MSS is halved (path MTU
    /// black-hole detection, RFC 4821 §10.1; 0 turns it off).
    pub blackhole_rtos: u32,
    /// Connections kept in TIME-WAIT at most (compact entries, outside `max_connections`);
    /// when full the oldest is dropped early, like Linux `tcp_max_tw_buckets`.
    pub max_timewait: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            max_ooo_blocks: 64,
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            rto_initial: Duration::from_secs(1),
            msl: Duration::from_secs(30),
            fin_wait2_timeout: Duration::from_secs(60),
            delayed_ack: Duration::from_millis(40),
            max_retransmits: 15,
            max_syn_retransmits: 6,
            max_connections: 4096,
            default_backlog: 128,
            max_syn_backlog: 256,
            max_pending_rsts: 64,
            syncookies: SynCookies::WhenFull,
            max_pending_syncookies: 64,
            min_mss: 64,
            nagle: true,
            keepalive: None,
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            sack: true,
            max_sack_blocks: 32,
            challenge_ack_limit: 10,
            window_scale: 7,
            congestion: CongestionAlgorithm::Cubic,
            timestamps: true,
            blackhole_rtos: 3,
            max_timewait: 65_536,
        }
    }
}

/// Per-connection statistics as plain data (like Linux `tcp_info`).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct TcpInfo {
    pub state: Option<TcpState>,
    pub local: Option<SocketAddrV4>,
    pub remote: Option<SocketAddrV4>,
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub rto: Duration,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub mss: u16,
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_retransmitted: u64,
    pub bytes_received: u64,
    pub segs_out_of_order: u64,
    pub retransmits: u64,
    /// Bytes currently held out of order.
    pub ooo_bytes: u64,
    /// Selective acknowledgments negotiated (RFC 2018).
    pub sack: bool,
    /// Congestion control algorithm in use (`CongestionAlgorithm::name`).
    pub congestion: &'static str,
    /// Timestamps negotiated (RFC 7323).
    pub timestamps: bool,
    /// Path MTU estimate (RFC 1191), bytes.
    pub pmtu: u16,
    /// Window scale shifts in use: the peer's (applied to windows it sends) and ours
    /// (RFC 7323 §2).
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
}

counters! {
    /// TCP-wide counters: traffic, connection outcomes, and every drop by reason.
    #[allow(missing_docs)]
    TcpCounters {
        segments_in,
        segments_out,
        resets_sent,
        resets_received,
        active_opens,
        passive_opens,
        established,
        timeouts,
        rto_expirations,
        fast_retransmits,
        /// Holes retransmitted from SACK information during recovery (RFC 6675).
        sack_retransmits,
        retransmitted_segments,
        dup_acks,
        challenge_acks,
        segs_out_of_order,
        /// Header could not be parsed (bad flags combination, bad options, port 0).
        drop_malformed,
        /// Failed the §3.10.7.4 acceptability test.
        drop_out_of_window,
        /// ACK of unsent data, or too old (RFC 5961 §5.2), or unacceptable in SYN-SENT/RCVD.
        drop_bad_ack,
        /// Segment without ACK in a synchronized state.
        drop_no_ack,
        /// Text after the peer's FIN.
        drop_after_fin,
        /// Data beyond buffer space or out-of-order block limit.
        drop_recv_buffer_full,
        /// Segment for a listener that was neither SYN, ACK nor RST.
        drop_listen_other,
        drop_syn_queue_full,
        drop_accept_queue_full,
        drop_too_many_connections,
        /// RST for a segment without connection not sent because the RST queue was full.
        drop_rst_queue_full,
        /// ICMP error quoting a sequence number outside the flight (RFC 5927 §4.1).
        drop_icmp_out_of_window,
        /// Challenge ACK not sent: RFC 5961 §7 rate limit reached.
        drop_challenge_ack_limit,
        icmp_hard_errors,
        icmp_soft_errors,
        /// SYN,ACKs sent with a SYN cookie instead of SYN-RECEIVED state (RFC 4987 §3.6).
        syncookies_sent,
        /// Handshakes completed from a valid cookie.
        syncookies_valid,
        /// ACKs to a listener whose cookie check failed (answered with RST, RFC 9293 §3.10.7.2).
        syncookies_invalid,
        /// Cookie SYN,ACK not sent because `max_pending_syncookies` were already queued.
        drop_syncookie_queue_full,
        /// Connections that entered TIME-WAIT (as compact entries).
        timewait_entered,
        /// TIME-WAIT entries dropped early because `max_timewait` were held.
        drop_timewait_full,
        /// TIME-WAIT 4-tuples reused by a new SYN (RFC 6191).
        timewait_reopened,
        /// RSTs ignored in TIME-WAIT (RFC 1337).
        timewait_rst_ignored,
        /// ACKs sent from TIME-WAIT entries (retransmitted FINs, unacceptable segments).
        timewait_acks,
        /// Segments dropped by PAWS (RFC 7323 §5.3: timestamp older than TS.Recent).
        drop_paws,
        /// Path MTU reductions from ICMP "fragmentation needed" (RFC 1191).
        pmtu_lowered,
        /// "Fragmentation needed" ignored: MTU not lower than the estimate, or invalid
        /// (RFC 1191 §6.3, RFC 5927 §7.2).
        drop_icmp_bad_mtu,
        /// MSS reductions after repeated timeouts (black-hole detection, RFC 4821 §10.1).
        pmtu_blackhole,
    }
}
