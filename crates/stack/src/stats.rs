//! Counters: every drop has a named reason and a counter, per layer.
//!
//! Each layer's counters are a plain struct of `u64`; [`Stats::iter`] walks them all as
//! `("layer.name", value)` pairs and `Display` prints the non-zero ones compactly.

use core::fmt;

macro_rules! counters {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: u64,)*
        }

        impl $name {
            /// Every counter as `(name, value)`, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($field), self.$field)),*].into_iter()
            }
        }
    };
}

counters! {
    /// Ethernet II (IEEE 802.3 / RFC 894) counters.
    EthernetCounters {
        /// Frames handed to the stack.
        frames_in,
        /// Frames the stack produced.
        frames_out,
        /// Frames shorter than an Ethernet header.
        truncated,
        /// Frames addressed to another unicast or a multicast MAC.
        not_for_us,
        /// Frames whose EtherType is neither ARP nor IPv4.
        unknown_ethertype,
        /// Frames sent by our own MAC (looped back).
        from_self,
    }
}

counters! {
    /// ARP (RFC 826) counters.
    ArpCounters {
        /// ARP packets received.
        packets_in,
        /// Requests sent (including retries and gratuitous announcements).
        requests_sent,
        /// Replies sent for our address.
        replies_sent,
        /// Replies received.
        replies_in,
        /// Malformed or non Ethernet/IPv4 ARP packets.
        malformed,
        /// Packets about other hosts that taught us nothing (RFC 826 merge rule).
        not_for_us,
        /// Packets claiming our own address from another MAC (address conflict).
        conflicts,
        /// Cache entries that aged out.
        entries_expired,
        /// Cache entries evicted because the cache was full.
        entries_evicted,
        /// Destinations abandoned after all retries.
        resolution_failed,
        /// Packets dropped because their destination could not be resolved.
        pending_dropped_unresolved,
        /// Packets dropped because the resolution queue was full.
        pending_dropped_full,
        /// Replies or requests not sent because the ARP output queue was full (a flood of
        /// requests faster than `poll_transmit` drains them).
        out_dropped_full,
        /// Packets that waited for resolution and were released.
        pending_released,
        /// Replies for an address we neither cache nor asked for: not learned (Linux
        /// `arp_accept=0`: unsolicited replies cannot plant cache entries).
        unsolicited_ignored,
    }
}

counters! {
    /// IPv4 (RFC 791, RFC 1122 §3.3) counters.
    Ipv4Counters {
        /// Datagrams received (before validation).
        packets_in,
        /// Datagrams (or fragments) sent.
        packets_out,
        /// Shorter than a header, IHL < 5, or total length larger than the frame.
        truncated,
        /// Version field other than 4.
        bad_version,
        /// Header checksum mismatch (RFC 791 §3.1).
        bad_checksum,
        /// Source address is broadcast, multicast or loopback (RFC 1122 §3.2.1.3).
        bad_source,
        /// Addressed to someone else (we do not forward, RFC 1122 §3.3.1).
        not_for_us,
        /// Protocol we do not implement (answered with protocol unreachable).
        unknown_protocol,
        /// Datagrams we could not send: no connected route and no gateway.
        no_route,
        /// Datagrams too long to send.
        too_long,
        /// Fragments received.
        fragments_in,
        /// Fragments sent.
        fragments_out,
        /// Datagrams fragmented on output.
        fragmented,
        /// Datagrams reassembled.
        reassembled,
        /// Fragments dropped because reassembly memory was full.
        reassembly_mem_full,
        /// Fragments dropped because too many datagrams were incomplete.
        reassembly_too_many,
        /// Fragments that would make a datagram larger than allowed.
        reassembly_too_big,
        /// Datagrams dropped because a fragment overlapped different data.
        reassembly_overlap,
        /// Exact duplicate fragments ignored.
        reassembly_duplicate,
        /// Datagrams dropped because fragments disagreed on the total length.
        reassembly_inconsistent,
        /// Datagrams dropped because too many holes were open.
        reassembly_too_many_holes,
        /// Datagrams dropped because not all fragments arrived in time (RFC 1122 §3.3.2).
        reassembly_timeout,
    }
}

counters! {
    /// ICMP (RFC 792) counters.
    IcmpCounters {
        /// ICMP messages received.
        packets_in,
        /// ICMP messages sent.
        packets_out,
        /// Checksum mismatch.
        bad_checksum,
        /// Too short or malformed.
        malformed,
        /// Echo requests answered.
        echo_replies_sent,
        /// Echo requests sent by `ping`.
        echo_requests_sent,
        /// Echo replies matched to one of our pings.
        echo_replies_in,
        /// Echo replies matching no ping we remember.
        echo_replies_unmatched,
        /// Echo requests to a broadcast address ignored (RFC 1122 §3.2.2.6).
        echo_broadcast_ignored,
        /// Destination-unreachable messages sent.
        unreachable_sent,
        /// Time-exceeded messages sent.
        time_exceeded_sent,
        /// Errors received.
        errors_in,
        /// Errors received that quote nothing of ours.
        errors_unmatched,
        /// Errors not sent because of the rate limit (RFC 1812 §4.3.2.8).
        rate_limited,
        /// Errors not sent because RFC 1122 §3.2.2 forbids it (broadcast, non-first fragment,
        /// ICMP error, bad source).
        error_suppressed,
        /// Messages dropped because the output queue was full.
        queue_full,
        /// Message types we ignore.
        unhandled_type,
    }
}

counters! {
    /// UDP (RFC 768) counters.
    UdpCounters {
        /// Datagrams received.
        datagrams_in,
        /// Datagrams sent.
        datagrams_out,
        /// Shorter than the header or length field larger than the IP payload.
        truncated,
        /// Checksum mismatch.
        bad_checksum,
        /// Destination port 0.
        bad_port,
        /// No socket bound to the port (answered with port unreachable).
        no_socket,
        /// Dropped because the socket's receive queue was full.
        rx_queue_full,
        /// `udp_send_to` refused because the send queue was full.
        tx_queue_full,
        /// Errors reported by ICMP and stored on a socket.
        icmp_errors,
    }
}

counters! {
    /// Checks the facade makes before handing a segment to TCP (RFC 9293 §3.1).
    TcpInputCounters {
        /// Segments handed to TCP.
        segments_in,
        /// Shorter than a TCP header or with a bad data offset.
        truncated,
        /// Checksum over the pseudo-header and segment mismatched.
        bad_checksum,
    }
}

/// All counters of one stack. Plain data: copy it, diff it, print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ethernet counters.
    pub ethernet: EthernetCounters,
    /// ARP counters.
    pub arp: ArpCounters,
    /// IPv4 counters.
    pub ipv4: Ipv4Counters,
    /// ICMP counters.
    pub icmp: IcmpCounters,
    /// UDP counters.
    pub udp: UdpCounters,
    /// TCP input checks made by the facade.
    pub tcp_input: TcpInputCounters,
    /// TCP counters (kept by the TCP layer).
    pub tcp: crate::tcp::TcpCounters,
}

impl Stats {
    /// Every foundation counter as `("layer.name", value)` (TCP counters are in `self.tcp`).
    pub fn iter(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        let eth = self
            .ethernet
            .iter()
            .map(|(n, v)| (format!("ethernet.{n}"), v));
        let arp = self.arp.iter().map(|(n, v)| (format!("arp.{n}"), v));
        let ip = self.ipv4.iter().map(|(n, v)| (format!("ipv4.{n}"), v));
        let icmp = self.icmp.iter().map(|(n, v)| (format!("icmp.{n}"), v));
        let udp = self.udp.iter().map(|(n, v)| (format!("udp.{n}"), v));
        let tcp = self
            .tcp_input
            .iter()
            .map(|(n, v)| (format!("tcp_input.{n}"), v));
        eth.chain(arp).chain(ip).chain(icmp).chain(udp).chain(tcp)
    }

    /// Only the counters that are not zero.
    pub fn non_zero(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.iter().filter(|(_, v)| *v != 0)
    }
}

impl fmt::Display for Stats {
    /// One `name=value` per non-zero counter, space separated; TCP counters in debug form when
    /// they are not all zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, value) in self.non_zero() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{name}={value}")?;
        }
        if self.tcp != crate::tcp::TcpCounters::default() {
            if !first {
                f.write_str(" ")?;
            }
            write!(f, "tcp={:?}", self.tcp)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_only_non_zero() {
        let mut s = Stats::default();
        assert_eq!(s.to_string(), "");
        s.ipv4.bad_checksum = 3;
        s.udp.no_socket = 1;
        assert_eq!(s.to_string(), "ipv4.bad_checksum=3 udp.no_socket=1");
        assert!(s.iter().any(|(n, v)| n == "arp.requests_sent" && v == 0));
    }
}
