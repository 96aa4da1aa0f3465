//! The routing table: connected routes and a default gateway (RFC 1122 §3.3.1).
//!
//! A host picks the next hop for each datagram it sends: a destination on a connected network
//! is reached directly (RFC 1122 §3.3.1.1 "local/remote decision"), anything else goes to a
//! gateway. Broadcasts (limited, 255.255.255.255, or directed to a connected network) go to the
//! Ethernet broadcast address without ARP.

use core::net::Ipv4Addr;

use smoltcp::wire::Ipv4Cidr;

/// One route: destinations inside `cidr` are reached through `via` (a gateway) or directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub cidr: Ipv4Cidr,
    /// Gateway, or `None` for a connected network.
    pub via: Option<Ipv4Addr>,
}

/// Where to send a datagram on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    /// Unicast to this address (resolved with ARP).
    Unicast(Ipv4Addr),
    /// Link-level broadcast (no ARP needed).
    Broadcast,
}

/// Routing table; longest prefix wins.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// A table with the connected network of `addr/prefix_len` and, if given, a default route.
    pub fn new(addr: Ipv4Addr, prefix_len: u8, gateway: Option<Ipv4Addr>) -> Self {
        let mut t = RouteTable::default();
        t.add(Route {
            cidr: Ipv4Cidr::new(addr, prefix_len).network(),
            via: None,
        });
        if let Some(gw) = gateway {
            t.add(Route {
                cidr: Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0),
                via: Some(gw),
            });
        }
        t
    }

    /// Add a route (replacing one for the same network).
    pub fn add(&mut self, route: Route) {
        self.routes.retain(|r| r.cidr != route.cidr);
        self.routes.push(route);
        self.routes
            .sort_by_key(|r| core::cmp::Reverse(r.cidr.prefix_len()));
    }

    /// All routes, longest prefix first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The next hop for `dst`, or `None` when no route covers it (RFC 1122 §3.3.1).
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<NextHop> {
        if dst.is_broadcast() {
            return Some(NextHop::Broadcast);
        }
        let route = self.routes.iter().find(|r| r.cidr.contains_addr(&dst))?;
        match route.via {
            // A directed broadcast to a connected network (RFC 1122 §3.3.6).
            None if route.cidr.prefix_len() < 31 && route.cidr.broadcast() == Some(dst) => {
                Some(NextHop::Broadcast)
            }
            None => Some(NextHop::Unicast(dst)),
            Some(gw) => Some(NextHop::Unicast(gw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1122_3_3_1_local_remote_decision() {
        let a = Ipv4Addr::new(198, 18, 0, 2);
        let gw = Ipv4Addr::new(198, 18, 0, 1);
        let t = RouteTable::new(a, 24, Some(gw));
        let local = Ipv4Addr::new(198, 18, 0, 9);
        assert_eq!(t.lookup(local), Some(NextHop::Unicast(local)));
        assert_eq!(
            t.lookup(Ipv4Addr::new(198, 19, 1, 1)),
            Some(NextHop::Unicast(gw))
        );
        assert_eq!(
            t.lookup(Ipv4Addr::new(198, 18, 0, 255)),
            Some(NextHop::Broadcast)
        );
        assert_eq!(t.lookup(Ipv4Addr::BROADCAST), Some(NextHop::Broadcast));
        let no_gw = RouteTable::new(a, 24, None);
        assert_eq!(no_gw.lookup(Ipv4Addr::new(198, 19, 1, 1)), None);
    }
}
