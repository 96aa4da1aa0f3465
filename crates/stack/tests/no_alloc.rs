//! Steady-state traffic through the facade does not allocate per packet: UDP datagrams
//! (copied into queues) and ICMP echo replies reuse pooled buffers; TCP segments are built in
//! place (design rule: "never allocates per segment on the hot path").

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tcplab_stack::{Config, EthernetAddress, Instant, Ipv4Addr, SocketAddrV4, Stack};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn exchange(a: &mut Stack, b: &mut Stack, buf: &mut [u8]) {
    loop {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(Instant::ZERO, buf) {
            b.handle_frame(Instant::ZERO, &buf[..n]);
            moved = true;
        }
        while let Some(n) = b.poll_transmit(Instant::ZERO, buf) {
            a.handle_frame(Instant::ZERO, &buf[..n]);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn udp_echo_and_ping_do_not_allocate_once_warm() {
    let mut a = Stack::new(Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]), A, 24)).unwrap();
    let mut b = Stack::new(Config::new(EthernetAddress([2, 0, 0, 0, 0, 2]), B, 24)).unwrap();
    let sa = a.udp_bind(SocketAddrV4::new(A, 0)).unwrap();
    let sb = b.udp_bind(SocketAddrV4::new(B, 7)).unwrap();
    let mut buf = vec![0u8; 14 + 1500];
    let mut data = vec![0u8; 4000];
    let payload = vec![7u8; 4000]; // fragmented: exercises fragmentation and reassembly too
    let mut round = |a: &mut Stack, b: &mut Stack, seq: u16| {
        a.udp_send_to(Instant::ZERO, sa, &payload, SocketAddrV4::new(B, 7))
            .unwrap();
        a.ping(Instant::ZERO, B, 1, seq, 56).unwrap();
        exchange(a, b, &mut buf);
        let (n, from) = b.udp_recv_from(sb, &mut data).unwrap().unwrap();
        b.udp_send_to(Instant::ZERO, sb, &data[..n], from).unwrap();
        exchange(a, b, &mut buf);
        assert_eq!(a.udp_recv_from(sa, &mut data).unwrap().unwrap().0, 4000);
        assert!(a.poll_ping().is_some());
    };
    // Warm up: ARP, queues and the buffer pool reach their working size.
    for seq in 0..20 {
        round(&mut a, &mut b, seq);
    }
    let before = allocs();
    for seq in 20..220 {
        round(&mut a, &mut b, seq);
    }
    let during = allocs() - before;
    assert_eq!(during, 0, "{during} allocations in 200 warm rounds");
}

#[test]
fn tcp_bulk_through_the_facade_does_not_allocate_once_warm() {
    let mut a = Stack::new(Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]), A, 24)).unwrap();
    let mut b = Stack::new(Config::new(EthernetAddress([2, 0, 0, 0, 0, 2]), B, 24)).unwrap();
    let l = b.tcp_listen(SocketAddrV4::new(B, 80), 0).unwrap();
    let c = a
        .tcp_connect(Instant::ZERO, SocketAddrV4::new(B, 80))
        .unwrap();
    let mut buf = vec![0u8; 14 + 1500];
    exchange(&mut a, &mut b, &mut buf);
    let s = b.tcp_accept(l).unwrap();
    let data = vec![1u8; 64 * 1024];
    let mut rx = vec![0u8; 64 * 1024];
    let mut received = 0usize;
    let mut round = |a: &mut Stack, b: &mut Stack| {
        let mut sent = 0;
        while sent < data.len() {
            sent += a.tcp_send(Instant::ZERO, c, &data[sent..]).unwrap_or(0);
            exchange(a, b, &mut buf);
            while let Ok(n) = b.tcp_recv(Instant::ZERO, s, &mut rx) {
                if n == 0 {
                    break;
                }
                received += n;
            }
            exchange(a, b, &mut buf);
        }
    };
    for _ in 0..5 {
        round(&mut a, &mut b);
    }
    let before = allocs();
    for _ in 0..20 {
        round(&mut a, &mut b);
    }
    let during = allocs() - before;
    assert_eq!(received, 25 * 64 * 1024);
    assert_eq!(during, 0, "{during} allocations while moving 1.25 MiB");
}
