//! Stack configuration: addresses, routes, and every bound, each with a sane default.

use core::net::Ipv4Addr;

use smoltcp::wire::EthernetAddress;

use crate::tcp::TcpConfig;

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
            tcp: TcpConfig::default(),
        }
    }
}
