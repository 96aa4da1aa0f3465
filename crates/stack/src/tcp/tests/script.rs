//! Scripted tests: one `Tcp` at A_IP, the test plays the peer at B_IP with hand-made segments
//! (built and parsed with `smoltcp::wire::TcpRepr`), smoltcp-style.

use core::net::SocketAddrV4;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber};

use super::harness::{Host, A_IP, B_IP, MTU};
use crate::tcp::{ConnHandle, ListenerHandle, TcpConfig, TcpState};
use crate::time::{Duration, Instant};

/// A segment, as the test writes or reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S {
    pub ctl: TcpControl,
    pub seq: u32,
    pub ack: Option<u32>,
    pub win: u16,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub sack: [Option<(u32, u32)>; 3],
    /// RFC 7323 timestamps option (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    pub data: Vec<u8>,
}

impl S {
    pub fn new(ctl: TcpControl, seq: u32, ack: Option<u32>) -> S {
        S {
            ctl,
            seq,
            ack,
            win: 65535,
            mss: None,
            wscale: None,
            sack_permitted: false,
            sack: [None; 3],
            ts: None,
            data: Vec::new(),
        }
    }
    pub fn data(mut self, d: &[u8]) -> S {
        self.data = d.to_vec();
        self
    }
    pub fn win(mut self, w: u16) -> S {
        self.win = w;
        self
    }
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> S {
        self.ts = Some((tsval, tsecr));
        self
    }
}

pub const LPORT: u16 = 80;
pub const PPORT: u16 = 40000;

pub struct Script {
    pub host: Host,
    pub now: Instant,
    pub local: SocketAddrV4,
    pub peer: SocketAddrV4,
}

impl Script {
    pub fn new(cfg: &TcpConfig) -> Script {
        let mut host = Host::new(A_IP, cfg, 42);
        host.tcp.isn_override = Some(10_000);
        Script {
            host,
            now: Instant::from_secs(1),
            local: SocketAddrV4::new(A_IP, LPORT),
            peer: SocketAddrV4::new(B_IP, PPORT),
        }
    }

    /// Deliver `s` from the peer.
    #[track_caller]
    pub fn send(&mut self, s: S) {
        self.send_from(PPORT, s)
    }

    pub fn send_from(&mut self, port: u16, s: S) {
        let repr = TcpRepr {
            src_port: port,
            dst_port: self.local.port(),
            control: s.ctl,
            seq_number: TcpSeqNumber(s.seq as i32),
            ack_number: s.ack.map(|a| TcpSeqNumber(a as i32)),
            window_len: s.win,
            window_scale: s.wscale,
            max_seg_size: s.mss,
            sack_permitted: s.sack_permitted,
            sack_ranges: s.sack,
            timestamp: s
                .ts
                .map(|(v, e)| smoltcp::wire::TcpTimestampRepr::new(v, e)),
            payload: &s.data,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut buf[..]),
            &IpAddress::Ipv4(B_IP),
            &IpAddress::Ipv4(A_IP),
            &ChecksumCapabilities::default(),
        );
        self.raw(&buf);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        let now = self.now;
        let (tcp, mut ctx) = self.host.ctx();
        tcp.process(now, &mut ctx, B_IP, A_IP, bytes);
    }

    /// The next segment our stack sends, if any.
    pub fn recv(&mut self) -> Option<S> {
        self.recv_with_bytes().map(|x| x.0)
    }

    /// The next segment our stack sends, parsed and as bytes (TCP header onwards).
    pub fn recv_with_bytes(&mut self) -> Option<(S, Vec<u8>)> {
        let now = self.now;
        let mut buf = vec![0u8; MTU - 20];
        let (tcp, mut ctx) = self.host.ctx();
        let t = tcp.poll_transmit(now, &mut ctx, &mut buf)?;
        let pkt = TcpPacket::new_checked(&buf[..t.len]).unwrap();
        assert!(
            pkt.verify_checksum(&IpAddress::Ipv4(t.src), &IpAddress::Ipv4(t.dst)),
            "checksum"
        );
        let r = TcpRepr::parse(
            &pkt,
            &IpAddress::Ipv4(t.src),
            &IpAddress::Ipv4(t.dst),
            &ChecksumCapabilities::default(),
        )
        .unwrap();
        let s = S {
            ctl: r.control,
            seq: r.seq_number.0 as u32,
            ack: r.ack_number.map(|a| a.0 as u32),
            win: r.window_len,
            mss: r.max_seg_size,
            wscale: r.window_scale,
            sack_permitted: r.sack_permitted,
            sack: r.sack_ranges,
            ts: r.timestamp.map(|t| (t.tsval, t.tsecr)),
            data: r.payload.to_vec(),
        };
        Some((s, buf[..t.len].to_vec()))
    }

    /// Assert nothing is sent now.
    #[track_caller]
    pub fn recv_nothing(&mut self) {
        let s = self.recv();
        assert!(s.is_none(), "unexpected segment {:?}", s);
    }

    /// Move the clock forward by `d`, running timers on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.host.tcp.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            let now = self.now;
            let (tcp, mut ctx) = self.host.ctx();
            tcp.handle_timeout(now, &mut ctx);
        }
        self.now = end;
    }

    pub fn listen(&mut self) -> ListenerHandle {
        self.host.tcp.listen(self.local, 0).unwrap()
    }

    /// Passive open up to ESTABLISHED with peer ISN 5000 (next peer seq 5001) and our ISN
    /// 10000 (next 10001); returns the accepted connection.
    pub fn establish_passive(&mut self) -> ConnHandle {
        let l = self.listen();
        let mut syn = S::new(TcpControl::Syn, 5000, None);
        syn.mss = Some(1000);
        self.send(syn);
        let synack = self.recv().expect("SYN,ACK");
        assert_eq!(
            (synack.ctl, synack.seq, synack.ack),
            (TcpControl::Syn, 10_000, Some(5001))
        );
        self.send(S::new(TcpControl::None, 5001, Some(10_001)));
        let c = self.host.tcp.accept(l).expect("accepted");
        assert_eq!(self.host.tcp.state(c), Some(TcpState::Established));
        c
    }

    /// Active open up to ESTABLISHED (peer ISN 5000, our ISN 10000).
    pub fn establish_active(&mut self) -> ConnHandle {
        let now = self.now;
        let (tcp, _ctx) = self.host.ctx();
        let c = tcp
            .connect_inner(now, A_IP, Some(LPORT), self.peer)
            .unwrap();
        let syn = self.recv().expect("SYN");
        assert_eq!((syn.ctl, syn.seq, syn.ack), (TcpControl::Syn, 10_000, None));
        let mut synack = S::new(TcpControl::Syn, 5000, Some(10_001));
        synack.mss = Some(1000);
        self.send(synack);
        let ack = self.recv().expect("ACK");
        assert_eq!(
            (ack.ctl, ack.seq, ack.ack),
            (TcpControl::None, 10_001, Some(5001))
        );
        assert_eq!(self.host.tcp.state(c), Some(TcpState::Established));
        c
    }

    pub fn state(&self, c: ConnHandle) -> Option<TcpState> {
        self.host.tcp.state(c)
    }
}
