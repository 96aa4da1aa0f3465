//! Path MTU discovery with scripted segments: RFC 1191 "fragmentation needed" (checked per
//! RFC 5927), the per-destination cache, and black-hole detection (RFC 4821 §10.1).

use smoltcp::wire::TcpControl::Syn;

use super::harness::A_IP;
use super::script::{Script, LPORT, S};
use crate::error::TcpError;
use crate::tcp::{ConnHandle, TcpConfig, TcpIcmpError};
use crate::time::Duration;

/// Active open with a peer announcing MSS 1460 (the link's own MTU is 1500 in the script).
fn establish_1460(s: &mut Script) -> ConnHandle {
    let now = s.now;
    let (tcp, _) = s.host.ctx();
    let c = tcp.connect_inner(now, A_IP, Some(LPORT), s.peer).unwrap();
    s.recv().expect("SYN");
    let mut synack = S::new(Syn, 5000, Some(10_001));
    synack.mss = Some(1460);
    s.send(synack);
    s.recv().expect("ACK");
    c
}

fn frag_needed(s: &mut Script, seq: u32, mtu: u16) {
    let now = s.now;
    let (local, remote) = (s.local, s.peer);
    let (tcp, mut ctx) = s.host.ctx();
    tcp.icmp_error(
        now,
        &mut ctx,
        TcpIcmpError {
            local,
            remote,
            seq,
            hard: false,
            frag_mtu: Some(mtu),
            error: TcpError::HostUnreachable,
        },
    );
}

/// A connection (timestamps off, so MSS 1460) with `n` bytes sent and unacknowledged.
fn flight_of(n: usize, cfg: TcpConfig) -> (Script, ConnHandle) {
    let cfg = TcpConfig {
        timestamps: false,
        ..cfg
    };
    let mut s = Script::new(&cfg);
    let c = establish_1460(&mut s);
    s.host.tcp.send(s.now, c, &vec![5u8; n]).unwrap();
    sent_lengths(&mut s);
    (s, c)
}

fn sent_lengths(s: &mut Script) -> Vec<(u32, usize)> {
    let mut v = Vec::new();
    while let Some(x) = s.recv() {
        v.push((x.seq, x.data.len()));
    }
    v
}

/// RFC 1191 §6.3/§6.5: "fragmentation needed, MTU 1280" for data in flight lowers the MSS to
/// 1240 and resends everything in flight in segments that fit, at once.
#[test]
fn rfc1191_frag_needed_lowers_mss_and_resends_in_flight_data() {
    let cfg = TcpConfig {
        timestamps: false,
        ..TcpConfig::default()
    };
    let mut s = Script::new(&cfg);
    let c = establish_1460(&mut s);
    s.host.tcp.send(s.now, c, &[5u8; 4000]).unwrap();
    let first = sent_lengths(&mut s);
    assert_eq!(first[0], (10_001, 1460));
    frag_needed(&mut s, 10_001, 1280);
    let again = sent_lengths(&mut s);
    assert_eq!(again[0], (10_001, 1240), "resent at once, smaller");
    assert!(again.iter().all(|x| x.1 <= 1240));
    let info = s.host.tcp.info(c).unwrap();
    assert_eq!((info.pmtu, info.mss), (1280, 1240));
    assert_eq!(s.host.stats.tcp.pmtu_lowered, 1);
    // A new connection to the same host starts from what was learned.
    s.local = core::net::SocketAddrV4::new(A_IP, LPORT + 1);
    let now = s.now;
    let (tcp, _) = s.host.ctx();
    let c2 = tcp
        .connect_inner(now, A_IP, Some(LPORT + 1), s.peer)
        .unwrap();
    s.recv().expect("SYN");
    let mut synack = S::new(Syn, 7000, Some(10_001));
    synack.mss = Some(1460);
    s.send(synack);
    assert_eq!(s.host.tcp.info(c2).unwrap().mss, 1240);
}

/// RFC 5927 §4.1, §7.2 and RFC 1191 §6.3: a forged message is ignored when it quotes data
/// not in flight, reports an MTU that is not lower, or an invalid one; a tiny MTU is floored.
#[test]
fn rfc5927_forged_frag_needed_is_ignored_or_floored() {
    let (mut s, c) = flight_of(3000, TcpConfig::default());
    frag_needed(&mut s, 90_000, 1000); // not in flight
    frag_needed(&mut s, 10_001, 1600); // not lower
    frag_needed(&mut s, 10_001, 40); // invalid
    assert_eq!(s.host.tcp.info(c).unwrap().mss, 1460);
    assert_eq!(s.host.stats.tcp.drop_icmp_out_of_window, 1);
    assert_eq!(s.host.stats.tcp.drop_icmp_bad_mtu, 2);
    frag_needed(&mut s, 10_001, 100); // below the floor: 552
    assert_eq!(s.host.tcp.info(c).unwrap().mss, 512);
}

/// Run the clock deadline by deadline until something is sent (one RTO at a time); returns
/// what was sent.
fn next_timeout(s: &mut Script) -> Vec<(u32, usize)> {
    for _ in 0..20 {
        let t = s.host.tcp.poll_timeout().expect("a timer");
        s.advance(t.saturating_duration_since(s.now) + Duration::from_millis(1));
        let sent = sent_lengths(s);
        if !sent.is_empty() {
            return sent;
        }
    }
    panic!("nothing sent");
}

/// RFC 4821 §10.1 (Linux `tcp_mtu_probing`): full-sized segments that time out three times
/// in a row with no ICMP are resent at half the MSS.
#[test]
fn rfc4821_blackhole_halves_mss_after_repeated_timeouts() {
    let (mut s, _) = flight_of(3000, TcpConfig::default());
    let mut lens = Vec::new();
    for _ in 0..4 {
        lens.push(next_timeout(&mut s)[0].1);
    }
    assert_eq!(lens, [1460, 1460, 730, 730], "third timeout halves the MSS");
    assert_eq!(s.host.stats.tcp.pmtu_blackhole, 1);
    // Off when configured so.
    let (mut s, _) = flight_of(
        3000,
        TcpConfig {
            blackhole_rtos: 0,
            ..TcpConfig::default()
        },
    );
    for _ in 0..4 {
        assert_eq!(next_timeout(&mut s)[0].1, 1460);
    }
}
