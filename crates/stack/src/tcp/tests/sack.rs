//! Selective acknowledgments end to end at the segment level (RFC 2018, RFC 6675).

use smoltcp::wire::TcpControl::{self, Syn};

use super::harness::*;
use super::script::*;
use crate::tcp::{RetransmitReason, TcpConfig, TcpEvent};
use crate::time::Duration;

const N: TcpControl = TcpControl::None;

fn sack_syn(seq: u32) -> S {
    let mut syn = S::new(Syn, seq, None);
    syn.mss = Some(1000);
    syn.sack_permitted = true;
    syn
}

/// RFC 2018 §2: SACK-permitted is answered only when offered; RFC 2018 §4: a duplicate ACK for
/// out-of-order data carries SACK blocks, the most recent block first.
#[test]
fn rfc2018_receiver_reports_blocks_most_recent_first() {
    let mut s = Script::new(&TcpConfig::default());
    let l = s.listen();
    s.send(sack_syn(5000));
    let synack = s.recv().unwrap();
    assert!(synack.sack_permitted, "SACK-permitted answered");
    s.send(S::new(N, 5001, Some(10_001)));
    let c = s.host.tcp.accept(l).unwrap();
    s.send(S::new(N, 5001 + 2000, Some(10_001)).data(&[1; 1000]));
    let r = s.recv().unwrap();
    assert_eq!(r.ack, Some(5001));
    assert_eq!(r.sack, [Some((7001, 8001)), None, None]);
    s.send(S::new(N, 5001 + 4000, Some(10_001)).data(&[1; 500]));
    let r = s.recv().unwrap();
    assert_eq!(
        r.sack,
        [Some((9001, 9501)), Some((7001, 8001)), None],
        "most recent first"
    );
    s.send(S::new(N, 5001, Some(10_001)).data(&[1; 2000]));
    let r = s.recv().unwrap();
    assert_eq!(
        (r.ack, r.sack),
        (Some(8001), [Some((9001, 9501)), None, None])
    );
    assert!(s.host.tcp.info(c).unwrap().sack);
    // Without the peer's offer there is no SACK at all.
    let mut s = Script::new(&TcpConfig::default());
    s.listen();
    let mut syn = sack_syn(5000);
    syn.sack_permitted = false;
    s.send(syn);
    assert!(!s.recv().unwrap().sack_permitted);
}

/// RFC 6675 §5: during recovery, SACK information lets the sender retransmit every hole in
/// one round trip instead of one per partial ACK.
#[test]
fn rfc6675_5_sender_retransmits_holes_below_sacked_data() {
    let mut s = Script::new(&TcpConfig::default());
    let l = s.listen();
    s.send(sack_syn(5000));
    s.recv().unwrap();
    s.send(S::new(N, 5001, Some(10_001)).win(60_000));
    let c = s.host.tcp.accept(l).unwrap();
    // Grow cwnd a little: send and acknowledge 4 segments.
    s.host.tcp.send(s.now, c, &[1; 4000]).unwrap();
    while s.recv().is_some() {}
    s.send(S::new(N, 5001, Some(14_001)).win(60_000));
    s.host.tcp.send(s.now, c, &[2; 20_000]).unwrap();
    let mut sent = Vec::new();
    while let Some(r) = s.recv() {
        sent.push(r.seq);
    }
    assert!(sent.len() >= 5, "{sent:?}");
    // Segments at 14001 and 16001 are lost; the peer SACKs what came after each.
    let dup = |s: &mut Script, blocks: [Option<(u32, u32)>; 3]| {
        let mut a = S::new(N, 5001, Some(14_001)).win(60_000);
        a.sack = blocks;
        s.send(a);
    };
    dup(&mut s, [Some((15_001, 16_001)), None, None]);
    dup(
        &mut s,
        [Some((17_001, 18_001)), Some((15_001, 16_001)), None],
    );
    dup(
        &mut s,
        [
            Some((18_001, 19_001)),
            Some((17_001, 18_001)),
            Some((15_001, 16_001)),
        ],
    );
    let mut rexmits = Vec::new();
    while let Some(r) = s.recv() {
        if r.seq < 19_001 {
            rexmits.push((r.seq, r.data.len()));
        }
    }
    assert_eq!(
        rexmits,
        [(14_001, 1000)],
        "fast retransmit of the first hole"
    );
    dup(
        &mut s,
        [
            Some((19_001, 20_001)),
            Some((17_001, 18_001)),
            Some((15_001, 16_001)),
        ],
    );
    let mut rexmits = Vec::new();
    while let Some(r) = s.recv() {
        if r.seq < 19_001 {
            rexmits.push((r.seq, r.data.len()));
        }
    }
    assert_eq!(
        rexmits,
        [(16_001, 1000)],
        "the second hole without waiting for a partial ACK"
    );
    let ev = s.host.take_events();
    assert!(ev.iter().any(|e| matches!(
        e,
        TcpEvent::Retransmit {
            reason: RetransmitReason::SackHole,
            ..
        }
    )));
}

/// Bulk transfers with SACK on and off are both byte-exact under loss.
#[test]
fn sack_on_and_off_byte_exact_under_loss() {
    for sack in [true, false] {
        let cfg = TcpConfig {
            sack,
            ..TcpConfig::default()
        };
        let mut p = Pair::new(&cfg, 40);
        p.impair = Impair {
            loss: 8.0,
            dup: 1.0,
            reorder: 3.0,
        };
        let data = pattern(300_000, 40);
        let f = transfer(&mut p, data.clone(), Duration::from_secs(600));
        assert!(f.received == data, "sack={sack}");
        assert_eq!(p.b.tcp.info(f.client.unwrap()).unwrap().sack, sack);
    }
}

/// A lost fast retransmission is detected from SACKs of data sent after it (the idea of
/// RFC 8985 RACK) and sent again without waiting for the retransmission timeout.
#[test]
fn lost_retransmission_is_resent_without_timeout() {
    let mut s = Script::new(&TcpConfig::default());
    let l = s.listen();
    s.send(sack_syn(5000));
    s.recv().unwrap();
    s.send(S::new(N, 5001, Some(10_001)).win(60_000));
    let c = s.host.tcp.accept(l).unwrap();
    s.host.tcp.send(s.now, c, &[1; 4000]).unwrap();
    while s.recv().is_some() {}
    s.send(S::new(N, 5001, Some(14_001)).win(60_000));
    s.host.tcp.send(s.now, c, &[2; 40_000]).unwrap();
    let mut highest = 0;
    while let Some(r) = s.recv() {
        highest = highest.max(r.seq + r.data.len() as u32);
    }
    // 14001 is lost; three dup ACKs SACKing what follows trigger the fast retransmit.
    let dup = |s: &mut Script, right: u32| {
        let mut a = S::new(N, 5001, Some(14_001)).win(60_000);
        a.sack = [Some((15_001, right)), None, None];
        s.send(a);
    };
    let mut right = 16_001;
    let mut rexmits = Vec::new();
    for _ in 0..3 {
        dup(&mut s, right);
        right += 1000;
        while let Some(r) = s.recv() {
            if r.seq == 14_001 {
                rexmits.push(s.now);
            }
            highest = highest.max(r.seq + r.data.len() as u32);
        }
    }
    assert_eq!(rexmits.len(), 1, "fast retransmit");
    // The retransmission is lost too. The peer keeps SACKing new data, sent after it.
    let mark = highest;
    while right < mark + 4000 {
        dup(&mut s, right);
        right += 1000;
        while let Some(r) = s.recv() {
            if r.seq == 14_001 {
                rexmits.push(s.now);
            }
        }
    }
    assert_eq!(
        rexmits.len(),
        2,
        "sent again once data beyond it was SACKed"
    );
    assert_eq!(s.host.stats.tcp.rto_expirations, 0);
}
