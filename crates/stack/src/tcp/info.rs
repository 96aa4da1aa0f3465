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
}

/// TCP-wide counters: traffic, connection outcomes, and every drop by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TcpCounters {
    pub segments_in: u64,
    pub segments_out: u64,
    pub resets_sent: u64,
    pub resets_received: u64,
    pub active_opens: u64,
    pub passive_opens: u64,
    pub established: u64,
    pub timeouts: u64,
    pub rto_expirations: u64,
    pub fast_retransmits: u64,
    /// Holes retransmitted from SACK information during recovery (RFC 6675).
    pub sack_retransmits: u64,
    pub retransmitted_segments: u64,
    pub dup_acks: u64,
    pub challenge_acks: u64,
    pub segs_out_of_order: u64,
    /// Header could not be parsed (bad flags combination, bad options, port 0).
    pub drop_malformed: u64,
    /// Failed the §3.10.7.4 acceptability test.
    pub drop_out_of_window: u64,
    /// ACK of unsent data, or too old (RFC 5961 §5.2), or unacceptable in SYN-SENT/RCVD.
    pub drop_bad_ack: u64,
    /// Segment without ACK in a synchronized state.
    pub drop_no_ack: u64,
    /// Text after the peer's FIN.
    pub drop_after_fin: u64,
    /// Data beyond buffer space or out-of-order block limit.
    pub drop_recv_buffer_full: u64,
    /// Segment for a listener that was neither SYN, ACK nor RST.
    pub drop_listen_other: u64,
    pub drop_syn_queue_full: u64,
    pub drop_accept_queue_full: u64,
    pub drop_too_many_connections: u64,
    /// RST for a segment without connection not sent because the RST queue was full.
    pub drop_rst_queue_full: u64,
    /// ICMP error quoting a sequence number outside the flight (RFC 5927 §4.1).
    pub drop_icmp_out_of_window: u64,
    /// Challenge ACK not sent: RFC 5961 §7 rate limit reached.
    pub drop_challenge_ack_limit: u64,
    pub icmp_hard_errors: u64,
    pub icmp_soft_errors: u64,
    /// SYN,ACKs sent with a SYN cookie instead of SYN-RECEIVED state (RFC 4987 §3.6).
    pub syncookies_sent: u64,
    /// Handshakes completed from a valid cookie.
    pub syncookies_valid: u64,
    /// ACKs to a listener whose cookie check failed (answered with RST, RFC 9293 §3.10.7.2).
    pub syncookies_invalid: u64,
    /// Cookie SYN,ACK not sent because `max_pending_syncookies` were already queued.
    pub drop_syncookie_queue_full: u64,
}
