//! Test support for the root-only TAP and AF_PACKET tests: a uniquely named network
//! namespace deleted on every path (Drop guard, also on panic), and ARP frames built and
//! checked with `smoltcp::wire`.
//!
//! Lab addresses come from 198.18.0.0/15 only; nothing is ever configured in the root
//! namespace.

use std::os::fd::RawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Ipv4Address,
};

use crate::sys::{enter_netns, is_root, wait_readable};
use crate::{Batch, Instant, Link};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace named `tl-<pid>-<n>`, deleted on drop.
#[derive(Debug)]
pub(crate) struct NetNs {
    pub(crate) name: String,
}

impl NetNs {
    /// Create a namespace, or print why the test is skipped and return `None`.
    pub(crate) fn create(test: &str) -> Option<NetNs> {
        if !is_root() {
            eprintln!("SKIPPED {test}: needs root (it creates a network namespace)");
            return None;
        }
        let name = format!(
            "tl-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match Command::new("ip").args(["netns", "add", &name]).output() {
            Ok(out) if out.status.success() => Some(NetNs { name }),
            Ok(out) => {
                eprintln!(
                    "SKIPPED {test}: `ip netns add` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: cannot run `ip` ({e}); install iproute2");
                None
            }
        }
    }

    /// Run `ip -n NAME <args>` and panic with its stderr on failure.
    pub(crate) fn ip(&self, args: &str) {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args.split_whitespace())
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {args}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run a command inside the namespace (`ip netns exec NAME ...`), returning its output.
    pub(crate) fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("run ip netns exec")
    }

    /// Move the calling thread into the namespace.
    pub(crate) fn enter(&self) {
        enter_netns(&std::path::Path::new("/run/netns").join(&self.name))
            .expect("setns into test namespace");
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Our side's MAC in the tests (locally administered).
pub(crate) const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x77, 0x02]);

/// An ARP request from `OUR_MAC`/`ours` asking for `target`.
pub(crate) fn arp_request(ours: Ipv4Address, target: Ipv4Address) -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: OUR_MAC,
        source_protocol_addr: ours,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    let eth = EthernetRepr {
        src_addr: OUR_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let mut buf = vec![0u8; eth.buffer_len() + arp.buffer_len()];
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    buf
}

/// The ARP content of `frame`, if it is a valid ARP frame.
pub(crate) fn parse_arp(frame: &[u8]) -> Option<ArpRepr> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()
}

/// Whether `arp` is `from`'s reply to our request.
pub(crate) fn is_reply_from(arp: &ArpRepr, from: Ipv4Address) -> bool {
    matches!(arp, ArpRepr::EthernetIpv4 { operation: ArpOperation::Reply, source_protocol_addr, target_hardware_addr, .. }
        if *source_protocol_addr == from && *target_hardware_addr == OUR_MAC)
}

/// Receive frames for up to `timeout`, sleeping in poll(2) on the link's descriptor, until
/// `done` returns true for one of them; returns every frame seen.
pub(crate) fn recv_until(
    link: &mut dyn Link,
    timeout: StdDuration,
    mut done: impl FnMut(&[u8]) -> bool,
) -> (bool, Vec<Vec<u8>>) {
    let fd: RawFd = link.raw_fd().expect("OS links have a descriptor");
    let start = StdInstant::now();
    let mut batch = Batch::new(16, crate::MAX_FRAME);
    let mut seen = Vec::new();
    while start.elapsed() < timeout {
        wait_readable(fd, 50).expect("poll");
        link.recv(Instant::ZERO, &mut batch).expect("recv");
        for f in batch.iter() {
            seen.push(f.to_vec());
            if done(f) {
                return (true, seen);
            }
        }
    }
    (false, seen)
}
