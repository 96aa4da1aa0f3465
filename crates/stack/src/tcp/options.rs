//! Option negotiation: MSS (RFC 9293 §3.7.1, RFC 6691) and window scale (RFC 7323 §2).
//!
//! Parsing and emitting the options themselves is `smoltcp::wire::TcpRepr`'s job; this file holds
//! the rules that decide what the negotiated values are.

/// RFC 9293 §3.7.1 (MUST-15): without an MSS option, assume 536 bytes.
pub(crate) const DEFAULT_MSS: u16 = 536;

/// RFC 7323 §2.3: the shift count is at most 14.
pub(crate) const MAX_WINDOW_SCALE: u8 = 14;

/// The effective send MSS (RFC 9293 §3.7.1, RFC 6691 §2): the peer's announced MSS (536 when
/// absent) limited by what our own link can carry, and never below `min_mss` so a hostile peer
/// announcing MSS 1 cannot make us shred data into 1-byte segments.
pub(crate) fn effective_send_mss(peer_mss: Option<u16>, our_mss: u16, min_mss: u16) -> u16 {
    let peer = peer_mss.unwrap_or(DEFAULT_MSS);
    peer.min(our_mss).max(min_mss.min(our_mss))
}

/// Window scale negotiation (RFC 7323 §2.2): scaling is in effect only when both SYNs carried the
/// option; returns `(send_shift, recv_shift)`. A shift above 14 is treated as 14 (§2.3).
pub(crate) fn negotiate_window_scale(ours_offered: Option<u8>, peers: Option<u8>) -> (u8, u8) {
    match (ours_offered, peers) {
        (Some(ours), Some(theirs)) => (theirs.min(MAX_WINDOW_SCALE), ours.min(MAX_WINDOW_SCALE)),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9293 §3.7.1 (MUST-15): no MSS option means 536.
    #[test]
    fn rfc9293_3_7_1_default_mss_is_536() {
        assert_eq!(effective_send_mss(None, 1460, 64), 536);
    }

    /// RFC 6691 §2: the effective MSS is the smaller of the peer's and ours.
    #[test]
    fn rfc6691_2_mss_is_min_of_both() {
        assert_eq!(effective_send_mss(Some(9000), 1460, 64), 1460);
        assert_eq!(effective_send_mss(Some(1200), 1460, 64), 1200);
        assert_eq!(
            effective_send_mss(Some(1), 1460, 64),
            64,
            "clamped against tiny MSS"
        );
    }

    /// RFC 7323 §2.2/§2.3: both sides must offer; shifts cap at 14.
    #[test]
    fn rfc7323_2_window_scale_needs_both_sides() {
        assert_eq!(negotiate_window_scale(Some(7), None), (0, 0));
        assert_eq!(negotiate_window_scale(None, Some(7)), (0, 0));
        assert_eq!(negotiate_window_scale(Some(7), Some(3)), (3, 7));
        assert_eq!(negotiate_window_scale(Some(7), Some(15)), (14, 7));
    }
}
