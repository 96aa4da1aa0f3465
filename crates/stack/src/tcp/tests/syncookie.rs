//! SYN cookies (RFC 4987 §3.6) at the listener: a spoofed SYN flood that fills the SYN queue
//! must not deny service to a real client; cookie connections carry data both ways and close
//! cleanly; bad or expired cookies get the RFC 9293 §3.10.7.2 RST; `Off` keeps the old drops.

use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber};

use super::harness::*;
use super::script::*;
use crate::error::TcpError;
use crate::tcp::{SynCookies, TcpConfig, TcpEvent, TcpState};
use crate::time::Duration;

/// A spoofed SYN from `B_IP:port` to `A_IP:80`, as raw bytes.
fn spoofed_syn(port: u16, seq: u32) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: port,
        dst_port: 80,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: None,
        window_len: 29200,
        window_scale: Some(7),
        max_seg_size: Some(1460),
        sack_permitted: true,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut buf[..]),
        &IpAddress::Ipv4(B_IP),
        &IpAddress::Ipv4(A_IP),
        &ChecksumCapabilities::default(),
    );
    buf
}

/// Spoofed sources use ports below the ephemeral range; their SYN,ACKs are never answered
/// (the "hosts" do not exist), so the listener's SYN-RECEIVED entries just sit there.
const SPOOF_FIRST: u16 = 1000;

/// A pair where `a` listens on port 80 and has been flooded with `n` spoofed SYNs.
fn flooded(cfg: &TcpConfig, n: u16) -> (Pair, crate::tcp::ListenerHandle) {
    let mut p = Pair::new(cfg, 7);
    let l =
        p.a.tcp
            .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 0)
            .unwrap();
    p.filter = Some(Box::new(|to_b, seg: &[u8]| {
        let dst_port = u16::from_be_bytes([seg[2], seg[3]]);
        !(to_b && dst_port < 49152)
    }));
    for i in 0..n {
        let now = p.now;
        let syn = spoofed_syn(SPOOF_FIRST + i, 1000 * u32::from(i));
        let (tcp, mut ctx) = p.a.ctx();
        tcp.process(now, &mut ctx, B_IP, A_IP, &syn);
        p.flush();
    }
    (p, l)
}

/// Run a client transfer of `data` into the flooded listener.
/// Also returns the server connection's info as of its acceptance.
fn transfer_to(
    p: &mut Pair,
    l: crate::tcp::ListenerHandle,
    data: &[u8],
    limit: Duration,
) -> (Flow, Option<crate::tcp::TcpInfo>) {
    let mut f = Flow::start(p, data.to_vec(), 80, false);
    let mut info = None;
    p.run_until(limit, |p| {
        f.poll(p, Some(l));
        if info.is_none() {
            info = f.server.and_then(|s| p.a.tcp.info(s));
        }
        f.eof || f.client_error.is_some() || f.server_error.is_some()
    });
    (f, info)
}

/// RFC 4987 §3.6: with the SYN queue full of spoofed half-open connections, a real client
/// still connects (through a cookie) and transfers data byte-exact; the flood's state stays
/// bounded by `max_syn_backlog`.
#[test]
fn rfc4987_3_6_spoofed_flood_does_not_deny_service() {
    let cfg = TcpConfig::default();
    assert_eq!(cfg.syncookies, SynCookies::WhenFull);
    let (mut p, l) = flooded(&cfg, 1000);
    let t = p.a.stats.tcp.clone();
    assert_eq!(p.a.tcp.connection_count(), cfg.max_syn_backlog);
    assert_eq!(t.syncookies_sent, 1000 - cfg.max_syn_backlog as u64);
    assert_eq!(t.drop_syn_queue_full, 0);

    let data = pattern(200_000, 3);
    let (f, info) = transfer_to(&mut p, l, &data, Duration::from_secs(20));
    assert_eq!(f.client_error, None);
    assert!(f.eof, "server saw EOF");
    assert_eq!(f.received, data, "byte-exact");
    let t = &p.a.stats.tcp;
    assert_eq!(t.syncookies_valid, 1);
    assert_eq!(t.syncookies_invalid, 0);
    // The cookie carried the client's options: MSS 1460, SACK, window scaling.
    let info = info.expect("accepted");
    assert_eq!(info.mss, 1460);
    assert!(info.sack);
    assert!(
        p.a.take_events()
            .iter()
            .any(|e| matches!(e, TcpEvent::SynCookieValid { .. })),
        "event recorded"
    );
}

/// `SynCookies::Off` keeps the old behaviour: a full SYN queue drops every new SYN, the real
/// client's included.
#[test]
fn rfc4987_3_6_off_drops_syns_when_queue_full() {
    let cfg = TcpConfig {
        syncookies: SynCookies::Off,
        ..TcpConfig::default()
    };
    let (mut p, l) = flooded(&cfg, 1000);
    let (f, _) = transfer_to(&mut p, l, b"hello", Duration::from_secs(5));
    assert!(f.server.is_none() && !f.eof, "no connection while flooded");
    let client = f.client.unwrap();
    assert_eq!(p.b.tcp.state(client), Some(TcpState::SynSent));
    let t = &p.a.stats.tcp;
    assert!(t.drop_syn_queue_full > 1000 - cfg.max_syn_backlog as u64);
    assert_eq!((t.syncookies_sent, t.syncookies_valid), (0, 0));
}

/// `Always`: the listener keeps no SYN-RECEIVED state; the cookie connection carries data in
/// both directions and both sides close without a RST.
#[test]
fn rfc4987_3_6_cookie_connection_data_both_ways_and_clean_close() {
    let cfg_a = TcpConfig {
        syncookies: SynCookies::Always,
        ..TcpConfig::default()
    };
    let mut p = Pair::with_configs(&cfg_a, &TcpConfig::default(), 11);
    let l =
        p.a.tcp
            .listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 0)
            .unwrap();
    let up = pattern(150_000, 5);
    let down = pattern(90_000, 6);
    let now = p.now;
    let (tcp, mut ctx) = p.b.ctx();
    let client = tcp
        .connect(now, &mut ctx, B_IP, SocketAddrV4::new(A_IP, 80))
        .unwrap();
    // The SYN is answered without creating state.
    p.run_until(Duration::from_millis(15), |p| {
        p.a.stats.tcp.syncookies_sent > 0
    });
    assert_eq!(p.a.tcp.connection_count(), 0, "no state for the SYN");

    let (mut server, mut sent_up, mut sent_down) = (None, 0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let (mut eof_a, mut eof_b, mut closed_a, mut closed_b) = (false, false, false, false);
    let mut buf = vec![0u8; 16384];
    let done = p.run_until(Duration::from_secs(30), |p| {
        let now = p.now;
        if server.is_none() {
            server = p.a.tcp.accept(l).ok();
        }
        if sent_up < up.len() {
            sent_up += p.b.tcp.send(now, client, &up[sent_up..]).unwrap_or(0);
        } else if !closed_b {
            p.b.tcp.shutdown_write(now, client).unwrap();
            closed_b = true;
        }
        loop {
            match p.b.tcp.recv(now, client, &mut buf) {
                Ok(0) => eof_b = true,
                Ok(n) => got_down.extend_from_slice(&buf[..n]),
                Err(TcpError::WouldBlock) => break,
                Err(e) => panic!("client: {e}"),
            }
            if eof_b {
                break;
            }
        }
        if let Some(s) = server {
            if sent_down < down.len() {
                sent_down += p.a.tcp.send(now, s, &down[sent_down..]).unwrap_or(0);
            } else if !closed_a {
                p.a.tcp.shutdown_write(now, s).unwrap();
                closed_a = true;
            }
            loop {
                match p.a.tcp.recv(now, s, &mut buf) {
                    Ok(0) => eof_a = true,
                    Ok(n) => got_up.extend_from_slice(&buf[..n]),
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("server: {e}"),
                }
                if eof_a {
                    break;
                }
            }
        }
        eof_a && eof_b
    });
    assert!(done, "both directions finished");
    assert_eq!(got_up, up, "client -> server byte-exact");
    assert_eq!(got_down, down, "server -> client byte-exact");
    let server = server.unwrap();
    // Both FINs are acknowledged: TIME-WAIT on one side, CLOSED on the other, then gone.
    p.run_until(Duration::from_secs(5), |p| {
        let sa = p.a.tcp.state(server);
        let sb = p.b.tcp.state(client);
        matches!(sa, Some(TcpState::TimeWait | TcpState::Closed))
            && matches!(sb, Some(TcpState::TimeWait | TcpState::Closed))
    });
    for (st, who) in [
        (p.a.tcp.state(server), "server"),
        (p.b.tcp.state(client), "client"),
    ] {
        assert!(
            matches!(st, Some(TcpState::TimeWait | TcpState::Closed)),
            "{who}: {st:?}"
        );
    }
    let (ta, tb) = (&p.a.stats.tcp, &p.b.stats.tcp);
    assert_eq!((ta.syncookies_sent, ta.syncookies_valid), (1, 1));
    assert_eq!((ta.resets_sent, tb.resets_sent), (0, 0), "clean close");
    let info = p.a.tcp.info(server).unwrap();
    assert!(info.sack, "SACK-permitted carried in the cookie");
}

fn always() -> Script {
    Script::new(&TcpConfig {
        syncookies: SynCookies::Always,
        ..TcpConfig::default()
    })
}

/// The cookie SYN,ACK answers the SYN's options (RFC 7323 §1.3, RFC 2018 §2) and the final
/// ACK, even one carrying data, creates an ESTABLISHED connection with the MSS rounded down
/// to the cookie table.
#[test]
fn rfc4987_3_6_cookie_synack_and_final_ack_with_data() {
    let mut s = always();
    let l = s.listen();
    let mut syn = S::new(TcpControl::Syn, 5000, None);
    syn.mss = Some(1300);
    syn.wscale = Some(3);
    syn.sack_permitted = true;
    s.send(syn);
    let sa = s.recv().expect("SYN,ACK");
    assert_eq!((sa.ctl, sa.ack), (TcpControl::Syn, Some(5001)));
    assert_eq!(sa.mss, Some(1460));
    assert_eq!(sa.wscale, Some(7));
    assert!(sa.sack_permitted);
    assert_eq!(s.host.tcp.connection_count(), 0, "stateless");
    s.recv_nothing();
    let ack = S::new(TcpControl::Psh, 5001, Some(sa.seq.wrapping_add(1)))
        .data(b"hello")
        .win(1000);
    s.send(ack);
    let c = s.host.tcp.accept(l).expect("accepted");
    assert_eq!(s.state(c), Some(TcpState::Established));
    let mut buf = [0u8; 16];
    assert_eq!(s.host.tcp.recv(s.now, c, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    let info = s.host.tcp.info(c).unwrap();
    assert_eq!(info.mss, 1220, "1300 rounded down to the table");
    assert_eq!(
        info.snd_wnd,
        1000 << 3,
        "peer's window scale from the cookie"
    );
    assert!(info.sack);
    // Our reply acknowledges the data from the cookie's ISS + 1.
    s.advance(Duration::from_millis(500));
    let a = s.recv().expect("ACK");
    assert_eq!((a.seq, a.ack), (sa.seq.wrapping_add(1), Some(5006)));
    assert_eq!(s.host.stats.tcp.syncookies_valid, 1);
}

/// RFC 9293 §3.10.7.2: an ACK with a wrong or expired cookie gets <SEQ=SEG.ACK><CTL=RST> and
/// creates nothing.
#[test]
fn rfc4987_3_6_bad_or_expired_cookie_gets_rst() {
    let mut s = always();
    let l = s.listen();
    s.send(S::new(TcpControl::Syn, 5000, None));
    let sa = s.recv().expect("SYN,ACK");
    assert_eq!(
        (sa.mss, sa.wscale, sa.sack_permitted),
        (Some(1460), None, false)
    );
    // Wrong cookie.
    let bad = sa.seq.wrapping_add(2);
    s.send(S::new(TcpControl::None, 5001, Some(bad)));
    let r = s.recv().expect("RST");
    assert_eq!((r.ctl, r.seq), (TcpControl::Rst, bad));
    // Wrong peer sequence number (cookie bound to the SYN's ISN).
    s.send(S::new(TcpControl::None, 5002, Some(sa.seq.wrapping_add(1))));
    assert_eq!(s.recv().map(|r| r.ctl), Some(TcpControl::Rst));
    assert_eq!(s.host.stats.tcp.syncookies_invalid, 2);
    assert_eq!(s.host.tcp.connection_count(), 0);
    // Two slots later the right cookie has expired.
    s.advance(Duration::from_secs(130));
    s.send(S::new(TcpControl::None, 5001, Some(sa.seq.wrapping_add(1))));
    assert_eq!(s.recv().map(|r| r.ctl), Some(TcpControl::Rst));
    assert_eq!(s.host.stats.tcp.syncookies_invalid, 3);
    assert!(s.host.tcp.accept(l).is_err());
    assert_eq!(s.host.stats.tcp.syncookies_valid, 0);
}

/// `WhenFull` checks cookies only after the listener sent some: before that, a stray ACK is
/// answered with the plain RST (RFC 9293 §3.10.7.2) and counted nowhere else.
#[test]
fn rfc4987_3_6_when_full_checks_only_after_sending_cookies() {
    let cfg = TcpConfig {
        max_syn_backlog: 2,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let l = s.listen();
    s.send(S::new(TcpControl::None, 1, Some(2)));
    assert_eq!(s.recv().map(|r| r.ctl), Some(TcpControl::Rst));
    assert_eq!(s.host.stats.tcp.syncookies_invalid, 0);
    // Two SYNs fill the queue; the third is answered with a cookie.
    for port in [30000, 30001] {
        s.send_from(port, S::new(TcpControl::Syn, 7, None));
        assert!(s.recv().is_some());
    }
    s.send(S::new(TcpControl::Syn, 5000, None));
    let sa = s.recv().expect("cookie SYN,ACK");
    assert_eq!(s.host.stats.tcp.syncookies_sent, 1);
    assert_eq!(s.host.tcp.connection_count(), 2);
    s.send(S::new(TcpControl::None, 5001, Some(sa.seq.wrapping_add(1))));
    let c = s.host.tcp.accept(l).expect("cookie connection accepted");
    assert_eq!(s.state(c), Some(TcpState::Established));
    // The SYN-RECEIVED count is unchanged by the cookie connection.
    assert_eq!(s.host.tcp.listeners.get(&l).unwrap().syn_count, 2);
}

/// Random ACKs, SYNs and garbage against a cookie listener never panic, never create a
/// connection without a valid cookie, and keep the SYN,ACK queue bounded.
#[test]
fn hostile_acks_against_cookie_listener() {
    let cfg = TcpConfig {
        syncookies: SynCookies::Always,
        max_pending_syncookies: 8,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    s.listen();
    let mut x = 0x9e37_79b9_u32;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for i in 0..20_000u32 {
        let ctl = if i % 5 == 0 {
            TcpControl::Syn
        } else {
            TcpControl::None
        };
        let ack = (ctl == TcpControl::None).then(&mut rnd);
        let port = 1024 + (rnd() % 1000) as u16;
        s.send_from(port, S::new(ctl, rnd(), ack).data(&[1; 3]));
        if i % 100 == 0 {
            while s.recv().is_some() {}
        }
    }
    assert!(s.host.tcp.synacks.len() <= 8);
    let t = &s.host.stats.tcp;
    assert!(t.drop_syncookie_queue_full > 0);
    assert!(t.syncookies_valid <= 1, "{}", t.syncookies_valid);
    assert_eq!(s.host.tcp.connection_count() as u64, t.syncookies_valid);
}
