//! TCP interop between tcplab's `Stack` and smoltcp 0.14's `Interface` + `tcp::Socket` (issue
//! #3), over an in-memory link in one thread with a virtual clock: ARP, the three-way
//! handshake, a bulk transfer in both directions at once, and the close, with tcplab as server
//! and as client, on a clean link and through seeded loss, delay, reordering and duplication.
//! No root needed; deterministic.
//!
//! Size per direction: `TL_SMOLTCP_MB` (default 10 MB; 2 MB when `CI` is set); the impaired
//! runs move a tenth of that.

use std::collections::VecDeque;

use smoltcp::iface::{Config as SmolConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp as stcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint};
use tcplab_link::impair::{Direction, Impair, ImpairConfig};
use tcplab_link::memory::{self, MemoryLink};
use tcplab_link::{Batch, Link, MAX_FRAME};
use tcplab_stack::{Config, ConnHandle, Instant, Ipv4Addr, SocketAddrV4, Stack, TcpError};

const OURS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const THEIRS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// Virtual time per busy loop iteration (frames in flight): a small non-zero link delay.
const STEP_NS: u64 = 20_000;
/// Virtual time limit of one scenario.
const LIMIT_NS: u64 = 600 * 1_000_000_000;

fn size() -> usize {
    let default_mb = if std::env::var_os("CI").is_some() {
        2
    } else {
        10
    };
    let mb = std::env::var("TL_SMOLTCP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_mb);
    mb * 1_000_000
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + (i >> 11) * 7) as u8).wrapping_add(seed))
        .collect()
}

/// smoltcp `phy::Device` over one end of a tcplab link: frames smoltcp transmits are sent on
/// the link, frames the link receives are handed to smoltcp one by one.
struct LinkDevice<L: Link> {
    link: L,
    batch: Batch,
    rx: VecDeque<Vec<u8>>,
    now: Instant,
}

impl<L: Link> LinkDevice<L> {
    fn new(link: L) -> Self {
        LinkDevice {
            link,
            batch: Batch::new(64, MAX_FRAME),
            rx: VecDeque::new(),
            now: Instant::ZERO,
        }
    }
}

struct RxToken(Vec<u8>);
struct TxToken<'a, L: Link> {
    link: &'a mut L,
    now: Instant,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl<L: Link> phy::TxToken for TxToken<'_, L> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.link.send(self.now, &buf).expect("in-memory link send");
        r
    }
}

impl<L: Link> Device for LinkDevice<L> {
    type RxToken<'a>
        = RxToken
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, L>
    where
        Self: 'a;

    fn receive(&mut self, _ts: SmolInstant) -> Option<(RxToken, TxToken<'_, L>)> {
        if self.rx.is_empty() {
            self.link
                .recv(self.now, &mut self.batch)
                .expect("in-memory link recv");
            self.rx.extend(self.batch.iter().map(|f| f.to_vec()));
        }
        let frame = self.rx.pop_front()?;
        Some((
            RxToken(frame),
            TxToken {
                link: &mut self.link,
                now: self.now,
            },
        ))
    }

    fn transmit(&mut self, _ts: SmolInstant) -> Option<TxToken<'_, L>> {
        Some(TxToken {
            link: &mut self.link,
            now: self.now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// One side's application: sends `tx` then half-closes, reads until EOF.
struct Flow {
    tx: Vec<u8>,
    sent: usize,
    rx: Vec<u8>,
    eof: bool,
    shut: bool,
}

impl Flow {
    fn new(tx: Vec<u8>) -> Self {
        Flow {
            tx,
            sent: 0,
            rx: Vec::new(),
            eof: false,
            shut: false,
        }
    }
}

/// The whole lab: our stack on one end of the link, smoltcp on the other.
struct Lab {
    now: u64,
    stack: Stack,
    /// Our end of the cable, through the seeded impairment wrapper (both directions).
    ours: Impair<MemoryLink>,
    batch: Batch,
    out: Vec<u8>,
    dev: LinkDevice<MemoryLink>,
    iface: Interface,
    sockets: SocketSet<'static>,
    sock: SocketHandle,
}

impl Lab {
    /// A lab whose link is impaired as `spec` says (`""`: a clean link).
    fn new(spec: &str) -> Lab {
        let (a, b) = memory::pair(memory::DEFAULT_CAPACITY);
        let mut icfg: ImpairConfig = spec.parse().expect("impairment spec");
        icfg.dir = Direction::Both;
        let a = Impair::new(a, icfg).expect("impairment");
        let mut cfg = Config::new(EthernetAddress([0x02, 0, 198, 18, 0, 1]), OURS, 24);
        cfg.seed = 42;
        let stack = Stack::new(cfg).expect("stack config");
        let mut dev = LinkDevice::new(b);
        let mut scfg = SmolConfig::new(HardwareAddress::Ethernet(EthernetAddress([
            0x02, 0, 198, 18, 0, 2,
        ])));
        scfg.random_seed = 7;
        let mut iface = Interface::new(scfg, &mut dev, SmolInstant::from_micros(0));
        iface.update_ip_addrs(|a| a.push(IpCidr::new(THEIRS.into(), 24)).expect("address"));
        // The same buffer sizes as tcplab's defaults (TcpConfig: 256 KiB each way).
        let socket = stcp::Socket::new(
            stcp::SocketBuffer::new(vec![0; 256 * 1024]),
            stcp::SocketBuffer::new(vec![0; 256 * 1024]),
        );
        let mut sockets = SocketSet::new(vec![]);
        let sock = sockets.add(socket);
        Lab {
            now: 0,
            stack,
            ours: a,
            batch: Batch::new(64, MAX_FRAME),
            out: vec![0; MAX_FRAME],
            dev,
            iface,
            sockets,
            sock,
        }
    }

    fn t(&self) -> Instant {
        Instant::from_nanos(self.now)
    }

    /// Our stack: receive, timers (RFC 6298 retransmission etc. fire on the virtual clock).
    fn ours_input(&mut self) {
        let t = self.t();
        if self.ours.poll_timeout().is_some_and(|d| d <= t) {
            self.ours.handle_timeout(t).expect("impairment timeout");
        }
        self.ours.recv(t, &mut self.batch).expect("recv");
        for f in self.batch.iter() {
            self.stack.handle_frame(t, f);
        }
        if self.stack.poll_timeout().is_some_and(|d| d <= t) {
            self.stack.handle_timeout(t);
        }
    }

    fn ours_output(&mut self) {
        let t = self.t();
        while let Some(n) = self.stack.poll_transmit(t, &mut self.out) {
            self.ours.send(t, &self.out[..n]).expect("send");
        }
    }

    fn smol_poll(&mut self) {
        self.dev.now = self.t();
        let ts = SmolInstant::from_micros((self.now / 1000) as i64);
        self.iface.poll(ts, &mut self.dev, &mut self.sockets);
    }

    fn smol(&mut self) -> &mut stcp::Socket<'static> {
        self.sockets.get_mut::<stcp::Socket>(self.sock)
    }

    /// Advance the virtual clock: by one small step while frames are in flight, else to the
    /// earliest deadline of either stack.
    fn advance(&mut self) {
        let busy =
            self.ours.inner().queued() > 0 || self.dev.link.queued() > 0 || !self.dev.rx.is_empty();
        let mut next = self.now + STEP_NS;
        if !busy {
            let ts = SmolInstant::from_micros((self.now / 1000) as i64);
            let a = [self.stack.poll_timeout(), self.ours.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .map(|d| d.as_nanos());
            let b = self
                .iface
                .poll_at(ts, &self.sockets)
                .map(|d| d.total_micros() as u64 * 1000);
            if let Some(d) = [a, b].into_iter().flatten().min() {
                next = next.max(d);
            }
        }
        self.now = next;
        assert!(
            self.now < LIMIT_NS,
            "scenario did not finish within {} virtual seconds",
            LIMIT_NS / 1_000_000_000
        );
    }
}

/// Our side of a connection: push `flow.tx`, half-close when all is queued, drain receives.
fn drive_ours(stack: &mut Stack, t: Instant, c: ConnHandle, flow: &mut Flow) {
    while flow.sent < flow.tx.len() {
        let end = (flow.sent + 64 * 1024).min(flow.tx.len());
        match stack.tcp_send(t, c, &flow.tx[flow.sent..end]) {
            Ok(n) => flow.sent += n,
            Err(TcpError::WouldBlock) => break,
            Err(e) => panic!("tcplab send: {e}"),
        }
    }
    if flow.sent == flow.tx.len() && !flow.shut {
        stack.tcp_shutdown_write(t, c).expect("tcplab shutdown");
        flow.shut = true;
    }
    let mut buf = [0u8; 16 * 1024];
    while !flow.eof {
        match stack.tcp_recv(t, c, &mut buf) {
            Ok(0) => flow.eof = true,
            Ok(n) => flow.rx.extend_from_slice(&buf[..n]),
            Err(TcpError::WouldBlock) => break,
            Err(e) => panic!("tcplab recv: {e}"),
        }
    }
}

/// smoltcp's side: the same application logic on a smoltcp socket.
fn drive_smol(s: &mut stcp::Socket<'static>, flow: &mut Flow) {
    while s.can_send() && flow.sent < flow.tx.len() {
        match s.send_slice(&flow.tx[flow.sent..]) {
            Ok(0) => break,
            Ok(n) => flow.sent += n,
            Err(e) => panic!("smoltcp send: {e}"),
        }
    }
    if flow.sent == flow.tx.len() && !flow.shut && s.may_send() {
        s.close(); // smoltcp's close is a half-close: FIN after queued data.
        flow.shut = true;
    }
    let mut buf = [0u8; 16 * 1024];
    while s.can_recv() {
        match s.recv_slice(&mut buf) {
            Ok(n) => flow.rx.extend_from_slice(&buf[..n]),
            Err(e) => panic!("smoltcp recv: {e}"),
        }
    }
    if flow.sent > 0 && !s.may_recv() && !s.can_recv() && s.state() != stcp::State::SynSent {
        flow.eof = true;
    }
}

fn check(flow_ours: &Flow, flow_smol: &Flow) {
    assert_eq!(
        flow_ours.rx.len(),
        flow_smol.tx.len(),
        "bytes tcplab received"
    );
    assert!(
        flow_ours.rx == flow_smol.tx,
        "tcplab received different bytes"
    );
    assert_eq!(
        flow_smol.rx.len(),
        flow_ours.tx.len(),
        "bytes smoltcp received"
    );
    assert!(
        flow_smol.rx == flow_ours.tx,
        "smoltcp received different bytes"
    );
}

#[test]
fn tcplab_server_smoltcp_client_both_ways_and_close() {
    tcplab_server(size(), "");
}

#[test]
fn tcplab_client_smoltcp_server_both_ways_and_close() {
    tcplab_client(size(), "");
}

/// Retransmission, duplicate and out-of-order handling interoperate: seeded loss, delay with
/// jitter, reordering and duplication in both directions, both roles, several seeds.
#[test]
fn both_roles_through_loss_delay_reordering_and_duplication() {
    let n = size() / 10;
    for seed in 1..=3 {
        let spec = format!("loss=2%,delay=2ms,jitter=1ms,reorder=1%,dup=1%,seed={seed}");
        tcplab_server(n, &spec);
        tcplab_client(n, &spec);
    }
}

/// tcplab listens, smoltcp connects; `n` bytes each way at once; smoltcp closes first.
fn tcplab_server(n: usize, spec: &str) {
    let mut lab = Lab::new(spec);
    let l = lab
        .stack
        .tcp_listen(SocketAddrV4::new(OURS, 5000), 0)
        .expect("listen");
    let (mut fo, mut fs) = (Flow::new(pattern(n, 1)), Flow::new(pattern(n, 2)));
    let cx = lab.iface.context();
    lab.sockets
        .get_mut::<stcp::Socket>(lab.sock)
        .connect(cx, IpEndpoint::new(OURS.into(), 5000), 49152)
        .expect("smoltcp connect");
    let mut conn: Option<ConnHandle> = None;
    let mut closed = false;
    loop {
        lab.ours_input();
        let t = lab.t();
        if conn.is_none() {
            match lab.stack.tcp_accept(l) {
                Ok(c) => conn = Some(c),
                Err(TcpError::WouldBlock) => {}
                Err(e) => panic!("accept: {e}"),
            }
        }
        if let Some(c) = conn.filter(|_| !closed) {
            drive_ours(&mut lab.stack, t, c, &mut fo);
            if fo.eof && fo.shut {
                lab.stack.tcp_close(t, c);
                closed = true;
            }
        }
        lab.ours_output();
        lab.smol_poll();
        drive_smol(lab.smol(), &mut fs);
        lab.smol_poll();
        if closed
            && fs.eof
            && matches!(
                lab.smol().state(),
                stcp::State::TimeWait | stcp::State::Closed
            )
        {
            break;
        }
        lab.advance();
    }
    check(&fo, &fs);
}

/// smoltcp listens, tcplab connects; `n` bytes each way at once; tcplab closes first.
fn tcplab_client(n: usize, spec: &str) {
    let mut lab = Lab::new(spec);
    lab.smol().listen(5001).expect("smoltcp listen");
    let (mut fo, mut fs) = (Flow::new(pattern(n, 3)), Flow::new(pattern(n, 4)));
    let c = lab
        .stack
        .tcp_connect(lab.t(), SocketAddrV4::new(THEIRS, 5001))
        .expect("connect");
    let mut closed = false;
    loop {
        lab.ours_input();
        let t = lab.t();
        if !closed
            && !matches!(
                lab.stack.tcp_state(c),
                Some(tcplab_stack::TcpState::SynSent)
            )
        {
            drive_ours(&mut lab.stack, t, c, &mut fo);
            if fo.eof && fo.shut {
                lab.stack.tcp_close(t, c);
                closed = true;
            }
        }
        lab.ours_output();
        lab.smol_poll();
        if lab.smol().state() != stcp::State::Listen {
            drive_smol(lab.smol(), &mut fs);
        }
        lab.smol_poll();
        // smoltcp as the passive server ends in CLOSED once our ACK of its FIN arrives, or in
        // TIME-WAIT if its FIN crossed ours (simultaneous close, RFC 9293 §3.6).
        if closed
            && fs.eof
            && matches!(
                lab.smol().state(),
                stcp::State::TimeWait | stcp::State::Closed
            )
        {
            break;
        }
        lab.advance();
    }
    check(&fo, &fs);
}

#[test]
fn smoltcp_connect_to_closed_tcplab_port_is_reset() {
    let mut lab = Lab::new("");
    let cx = lab.iface.context();
    lab.sockets
        .get_mut::<stcp::Socket>(lab.sock)
        .connect(cx, IpEndpoint::new(OURS.into(), 5999), 49153)
        .expect("smoltcp connect");
    // RFC 9293 §3.10.7.1: a SYN to a port with no listener gets RST, and smoltcp gives up.
    loop {
        lab.ours_input();
        lab.ours_output();
        lab.smol_poll();
        if lab.smol().state() == stcp::State::Closed {
            break;
        }
        lab.advance();
        assert!(lab.now < 5_000_000_000, "no RST within 5 virtual seconds");
    }
}
