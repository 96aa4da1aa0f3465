//! Stack configuration: addresses, routes, and every bound, each with a sane default.
//!
//! Every queue or memory bound the stack keeps is a field here, so that hostile or broken
//! peers can never grow memory past what the operator chose (see `Stack::memory_usage`).

use core::net::Ipv4Addr;

use smoltcp::wire::EthernetAddress;

use crate::tcp::TcpConfig;
use crate::time::Duration;

/// Everything a [`crate::Stack`] needs to start. Every queue or memory bound is a field here.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our Ethernet address.
    pub mac: EthernetAddress,
    /// Our IPv4 address.
    pub addr: Ipv4Addr,
    /// Prefix length of the connected network (e.g. 24).
    pub prefix_len: u8,
    /// Default gateway, if any (RFC 1122 §3.3.1.1).
    pub gateway: Option<Ipv4Addr>,
    /// Link MTU: the largest IP datagram we send without fragmenting.
    pub mtu: usize,
    /// Seed for all randomness (ISN secret, IP identification, jitter): same seed, same bytes.
    pub seed: u64,
    /// Capacity of the event queue when events are enabled.
    pub event_capacity: usize,
    /// Idle packet buffers kept for reuse (each at most 64 KiB), so copied datagrams do not
    /// allocate per packet.
    pub buffer_pool: usize,
    /// ARP settings (RFC 826).
    pub arp: ArpConfig,
    /// IPv4 settings (RFC 791, RFC 1122 §3.3).
    pub ipv4: Ipv4Config,
    /// ICMP settings (RFC 792, RFC 1812 §4.3.2.8).
    pub icmp: IcmpConfig,
    /// UDP settings (RFC 768).
    pub udp: UdpConfig,
    /// TCP settings.
    pub tcp: TcpConfig,
}

impl Config {
    /// A configuration with defaults for everything but the addresses.
    pub fn new(mac: EthernetAddress, addr: Ipv4Addr, prefix_len: u8) -> Self {
        Config {
            mac,
            addr,
            prefix_len,
            gateway: None,
            mtu: 1500,
            seed: 0,
            event_capacity: 65536,
            buffer_pool: 64,
            arp: ArpConfig::default(),
            ipv4: Ipv4Config::default(),
            icmp: IcmpConfig::default(),
            udp: UdpConfig::default(),
            tcp: TcpConfig::default(),
        }
    }
}

/// ARP cache and resolution bounds (RFC 826, RFC 1122 §2.3.2).
#[derive(Debug, Clone)]
pub struct ArpConfig {
    /// How long a learned entry stays valid (RFC 1122 §2.3.2.1: entries must time out).
    pub cache_ttl: Duration,
    /// When an entry in use has less than this left, a unicast request refreshes it while
    /// traffic keeps flowing (RFC 1122 §2.3.2.1 "unicast poll"), so busy connections never
    /// stall on an expired entry.
    pub refresh_before: Duration,
    /// Maximum number of cache entries; the entry closest to expiry is evicted first.
    pub max_entries: usize,
    /// Delay before the first retransmission of a request; doubled after each retry.
    pub retry_initial: Duration,
    /// Upper bound of the retry delay after doubling.
    pub retry_max: Duration,
    /// Requests sent (including the first) before giving up on an address.
    pub max_requests: u32,
    /// Packets waiting for one destination to resolve (RFC 1122 §2.3.2.2: "SHOULD save at
    /// least one").
    pub max_pending_per_dest: usize,
    /// Packets waiting for resolution over all destinations.
    pub max_pending_total: usize,
    /// Bytes waiting for resolution over all destinations.
    pub max_pending_bytes: usize,
    /// Destinations being resolved at the same time.
    pub max_resolving: usize,
    /// Send a gratuitous ARP announcing our address on start.
    pub gratuitous_on_start: bool,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            cache_ttl: Duration::from_secs(60),
            refresh_before: Duration::from_secs(15),
            max_entries: 512,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(8),
            max_requests: 4,
            max_pending_per_dest: 32,
            max_pending_total: 256,
            max_pending_bytes: 512 * 1024,
            max_resolving: 64,
            gratuitous_on_start: true,
        }
    }
}

/// IPv4 sending and reassembly bounds (RFC 791, RFC 815, RFC 1122 §3.3.2).
#[derive(Debug, Clone)]
pub struct Ipv4Config {
    /// TTL of datagrams we originate (RFC 1700 / RFC 1122 §3.2.1.7 recommend 64).
    pub ttl: u8,
    /// How long an incomplete datagram is kept (RFC 1122 §3.3.2: 60 to 120 s suggested;
    /// Linux uses 30 s).
    pub reassembly_timeout: Duration,
    /// Bytes of all incomplete datagrams together.
    pub reassembly_max_bytes: usize,
    /// Largest reassembled datagram payload accepted (RFC 791: at most 65515 bytes).
    pub reassembly_max_datagram: usize,
    /// Incomplete datagrams kept at the same time.
    pub reassembly_max_datagrams: usize,
    /// Holes tracked per datagram (bounds the work of a fragment flood).
    pub reassembly_max_holes: usize,
}

impl Default for Ipv4Config {
    fn default() -> Self {
        Ipv4Config {
            ttl: 64,
            reassembly_timeout: Duration::from_secs(30),
            reassembly_max_bytes: 1024 * 1024,
            reassembly_max_datagram: 65535 - 20,
            reassembly_max_datagrams: 32,
            reassembly_max_holes: 64,
        }
    }
}

/// ICMP bounds (RFC 792, RFC 1812 §4.3.2.8 rate limiting).
#[derive(Debug, Clone)]
pub struct IcmpConfig {
    /// Error messages allowed per second on average (token-bucket refill rate).
    pub error_rate_per_sec: u32,
    /// Error messages allowed in a burst (token-bucket depth).
    pub error_burst: u32,
    /// ICMP messages (replies, errors, pings) waiting to be sent.
    pub max_queued: usize,
    /// Bytes of ICMP messages waiting to be sent.
    pub max_queued_bytes: usize,
    /// Echo requests we remember to match replies (oldest forgotten first).
    pub max_outstanding_pings: usize,
    /// Ping results waiting for `Stack::poll_ping`.
    pub max_ping_events: usize,
    /// Answer echo requests sent to a broadcast address (RFC 1122 §3.2.2.6: MAY be ignored).
    pub reply_to_broadcast_echo: bool,
}

impl Default for IcmpConfig {
    fn default() -> Self {
        IcmpConfig {
            error_rate_per_sec: 100,
            error_burst: 50,
            max_queued: 128,
            max_queued_bytes: 512 * 1024,
            max_outstanding_pings: 256,
            max_ping_events: 256,
            reply_to_broadcast_echo: false,
        }
    }
}

/// UDP bounds (RFC 768).
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Datagrams queued per socket for `udp_recv_from`.
    pub rx_max_datagrams: usize,
    /// Payload bytes queued per socket for `udp_recv_from`.
    pub rx_max_bytes: usize,
    /// Datagrams queued for sending, all sockets together.
    pub tx_max_datagrams: usize,
    /// Bytes queued for sending, all sockets together.
    pub tx_max_bytes: usize,
    /// Open sockets.
    pub max_sockets: usize,
    /// First ephemeral port (RFC 6335 §6: 49152..=65535).
    pub ephemeral_first: u16,
    /// Last ephemeral port.
    pub ephemeral_last: u16,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            rx_max_datagrams: 256,
            rx_max_bytes: 1024 * 1024,
            tx_max_datagrams: 256,
            tx_max_bytes: 1024 * 1024,
            max_sockets: 1024,
            ephemeral_first: 49152,
            ephemeral_last: 65535,
        }
    }
}
