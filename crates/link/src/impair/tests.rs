//! Impairment tests: each effect measured over many frames with a virtual clock, the rate
//! limiter's timing, the ingress direction, and determinism per seed.

use std::collections::VecDeque;

use super::*;
use crate::Duration;

/// A link that records what is sent to it and serves queued frames on `recv`.
#[derive(Debug, Default)]
struct Recorder {
    sent: Vec<(Instant, Vec<u8>)>,
    incoming: VecDeque<Vec<u8>>,
}

impl Link for Recorder {
    fn send(&mut self, now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        if let Some((last, _)) = self.sent.last() {
            assert!(*last <= now, "time went backwards for the inner link");
        }
        self.sent.push((now, frame.to_vec()));
        Ok(())
    }
    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        while !batch.is_full() {
            let Some(f) = self.incoming.pop_front() else {
                break;
            };
            batch.push(&f);
        }
        Ok(batch.len())
    }
    fn name(&self) -> String {
        "rec".into()
    }
}

fn impair(spec: &str) -> Impair<Recorder> {
    Impair::new(Recorder::default(), spec.parse().unwrap()).unwrap()
}

/// A 100-byte frame carrying its number in the first 4 bytes.
fn frame(i: u32) -> Vec<u8> {
    let mut f = vec![0xAB; 100];
    f[..4].copy_from_slice(&i.to_be_bytes());
    f
}

fn number(f: &[u8]) -> u32 {
    u32::from_be_bytes(f[..4].try_into().unwrap())
}

/// Fire every timeout up to and including `until`, jumping the virtual clock like a driver.
fn advance(link: &mut Impair<Recorder>, until: Instant) {
    while let Some(t) = link.poll_timeout() {
        if t > until {
            break;
        }
        link.handle_timeout(t).unwrap();
    }
}

/// Send `n` numbered frames, one every `gap`, then let everything drain.
fn send_numbered(link: &mut Impair<Recorder>, n: u32, gap: Duration) {
    let mut now = Instant::ZERO;
    for i in 0..n {
        advance(link, now);
        link.send(now, &frame(i)).unwrap();
        now += gap;
    }
    advance(link, Instant::from_secs(1_000_000));
    assert_eq!(link.poll_timeout(), None);
    assert_eq!(link.held(), 0);
}

const GAP: Duration = Duration::from_micros(100);

#[track_caller]
fn assert_near(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} ± {tol}"
    );
}

#[test]
fn no_impairment_passes_through_immediately() {
    let mut l = impair("");
    l.send(Instant::from_millis(3), b"abc").unwrap();
    assert_eq!(
        l.inner().sent,
        vec![(Instant::from_millis(3), b"abc".to_vec())]
    );
    assert_eq!(l.poll_timeout(), None);
    assert_eq!(l.name(), "impair(rec)");
}

#[test]
fn independent_loss_rate() {
    let n = 20_000;
    let mut l = impair("loss=10%");
    send_numbered(&mut l, n, GAP);
    let s = l.tx_stats();
    assert_eq!(s.frames_in, n as u64);
    assert_eq!(s.lost + s.frames_out, n as u64);
    assert_eq!(l.inner().sent.len() as u64, s.frames_out);
    assert_near("loss fraction", s.lost as f64 / n as f64, 0.10, 0.01);
    // Survivors keep their order and are not delayed.
    let nums: Vec<u32> = l.inner().sent.iter().map(|(_, f)| number(f)).collect();
    assert!(nums.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn gilbert_elliott_burst_loss() {
    // Steady-state bad fraction p / (p + r) = 1/26; mean burst length 1/r = 4 frames.
    let n = 200_000;
    let mut l = impair("ge_p=1%,ge_r=25%");
    send_numbered(&mut l, n, Duration::from_micros(1));
    let s = l.tx_stats();
    assert_eq!(s.lost, 0);
    assert_near(
        "burst loss fraction",
        s.burst_lost as f64 / n as f64,
        1.0 / 26.0,
        0.006,
    );
    let mut received = vec![false; n as usize];
    for (_, f) in &l.inner().sent {
        received[number(f) as usize] = true;
    }
    let mut bursts = Vec::new();
    let mut run = 0;
    for ok in received {
        if ok {
            if run > 0 {
                bursts.push(run);
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    let mean = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;
    assert_near("mean burst length", mean, 4.0, 0.4);
}

#[test]
fn fixed_delay() {
    let mut l = impair("delay=20ms");
    l.send(Instant::ZERO, &frame(0)).unwrap();
    l.send(Instant::from_millis(1), &frame(1)).unwrap();
    assert!(l.inner().sent.is_empty());
    assert_eq!(l.poll_timeout(), Some(Instant::from_millis(20)));
    // Too early: nothing moves.
    l.handle_timeout(Instant::from_millis(19)).unwrap();
    assert!(l.inner().sent.is_empty());
    // A recv call with a later `now` also flushes due egress frames.
    let mut batch = Batch::new(4, 128);
    assert_eq!(l.recv(Instant::from_millis(20), &mut batch).unwrap(), 0);
    assert_eq!(l.inner().sent, vec![(Instant::from_millis(20), frame(0))]);
    assert_eq!(l.poll_timeout(), Some(Instant::from_millis(21)));
    advance(&mut l, Instant::from_millis(100));
    assert_eq!(l.inner().sent[1], (Instant::from_millis(21), frame(1)));
    assert_eq!(l.tx_stats().delayed, 2);
}

#[test]
fn jitter_spreads_delay_uniformly() {
    let n = 20_000u32;
    let gap = Duration::from_millis(1);
    let mut l = impair("delay=20ms,jitter=5ms");
    send_numbered(&mut l, n, gap);
    let delays: Vec<f64> = l
        .inner()
        .sent
        .iter()
        .map(|(t, f)| (*t - Instant::ZERO).as_secs_f64() * 1e3 - number(f) as f64)
        .collect();
    assert_eq!(delays.len(), n as usize);
    let mean = delays.iter().sum::<f64>() / n as f64;
    let (min, max) = delays
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &d| (a.min(d), b.max(d)));
    assert_near("mean delay ms", mean, 20.0, 0.1);
    assert!((15.0..15.1).contains(&min), "min {min}");
    assert!((24.9..=25.0).contains(&max), "max {max}");
    // Uniform on [15, 25]: variance 100/12.
    let var = delays.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
    assert_near("delay variance", var, 100.0 / 12.0, 0.4);
}

#[test]
fn reordering_holds_some_frames_back() {
    let n = 20_000u32;
    let mut l = impair("reorder=10%,reorder_delay=5ms");
    send_numbered(&mut l, n, Duration::from_millis(1));
    let s = l.tx_stats();
    assert_near(
        "reordered fraction",
        s.reordered as f64 / n as f64,
        0.10,
        0.01,
    );
    let sent = &l.inner().sent;
    assert_eq!(sent.len(), n as usize);
    // A held-back frame is overtaken by the next frames: count frames arriving after a
    // higher-numbered one.
    let mut highest = 0;
    let mut late = 0;
    for (t, f) in sent {
        let i = number(f);
        let delay = *t - Instant::from_millis(i as u64);
        assert!(delay == Duration::ZERO || delay == Duration::from_millis(5));
        if i < highest {
            late += 1;
        }
        highest = highest.max(i);
    }
    assert_near("late arrivals", late as f64 / n as f64, 0.10, 0.012);
}

#[test]
fn duplication() {
    let n = 20_000u32;
    let mut l = impair("dup=5%");
    send_numbered(&mut l, n, GAP);
    let s = l.tx_stats();
    let sent = &l.inner().sent;
    assert_eq!(sent.len() as u64, n as u64 + s.duplicated);
    assert_eq!(s.frames_out, sent.len() as u64);
    assert_near("dup fraction", s.duplicated as f64 / n as f64, 0.05, 0.006);
    let twins = sent.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(twins as u64, s.duplicated, "copies leave together");
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let n = 20_000u32;
    let mut l = impair("corrupt=5%");
    send_numbered(&mut l, n, GAP);
    let s = l.tx_stats();
    let mut changed = 0;
    let mut positions = [0u32; 100];
    for (i, (_, got)) in l.inner().sent.iter().enumerate() {
        let want = frame(i as u32);
        let diff: Vec<(usize, u32)> = got
            .iter()
            .zip(&want)
            .enumerate()
            .map(|(k, (a, b))| (k, (a ^ b).count_ones()))
            .filter(|x| x.1 > 0)
            .collect();
        if !diff.is_empty() {
            assert_eq!(diff.len(), 1);
            assert_eq!(diff[0].1, 1, "exactly one bit");
            positions[diff[0].0] += 1;
            changed += 1;
        }
    }
    assert_eq!(changed, s.corrupted);
    assert_near("corrupt fraction", changed as f64 / n as f64, 0.05, 0.006);
    // Flips land all over the frame, not just at the start.
    assert!(positions[50..].iter().sum::<u32>() > changed as u32 / 3);
}

#[test]
fn rate_limit_serializes_frames() {
    // 8 Mbit/s: a 1000-byte frame takes exactly 1 ms.
    let mut l = impair("rate=8mbit,queue=5");
    let f = vec![0u8; 1000];
    for _ in 0..10 {
        l.send(Instant::ZERO, &f).unwrap();
    }
    let s = l.tx_stats();
    assert_eq!(s.queue_dropped, 5, "tail drop beyond the 5-frame queue");
    assert_eq!(s.rate_delayed, 5);
    advance(&mut l, Instant::from_secs(1));
    let times: Vec<Instant> = l.inner().sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, (1..=5).map(Instant::from_millis).collect::<Vec<_>>());

    // After the queue drained, a frame at 10 ms leaves at 11 ms; one sent while the
    // bottleneck is busy waits for it.
    l.send(Instant::from_millis(10), &f).unwrap();
    l.send(Instant::from_nanos(10_500_000), &f).unwrap();
    advance(&mut l, Instant::from_secs(1));
    let times: Vec<Instant> = l.inner().sent[5..].iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        vec![Instant::from_millis(11), Instant::from_millis(12)]
    );
}

#[test]
fn rate_limit_sustained_throughput() {
    // Offer 2000 frames/s of 1250 bytes to a 5 Mbit/s bottleneck (500 frames/s): the output
    // rate must match the bottleneck and the excess must be tail-dropped.
    let mut l = impair("rate=5mbit,queue=20,delay=10ms");
    let f = vec![1u8; 1250];
    let mut now = Instant::ZERO;
    for _ in 0..4000 {
        advance(&mut l, now);
        l.send(now, &f).unwrap();
        now += Duration::from_micros(500);
    }
    advance(&mut l, Instant::from_secs(100));
    let sent = &l.inner().sent;
    let s = l.tx_stats();
    assert_eq!(sent.len() as u64 + s.queue_dropped, 4000);
    // 2 s of offered load at 500 frames/s, plus the queue draining afterwards.
    assert_near("frames through", sent.len() as f64, 1000.0 + 20.0, 2.0);
    for w in sent.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(2),
            "spacing is the serialization time"
        );
    }
}

#[test]
fn delay_line_limit_drops() {
    let mut l = impair("delay=1s,limit=3");
    for i in 0..5 {
        l.send(Instant::ZERO, &frame(i)).unwrap();
    }
    assert_eq!(l.tx_stats().limit_dropped, 2);
    assert_eq!(l.held(), 3);
}

#[test]
fn ingress_direction() {
    let mut l = impair("dir=rx,delay=5ms");
    // Egress is untouched.
    l.send(Instant::ZERO, b"out").unwrap();
    assert_eq!(l.inner().sent.len(), 1);
    l.inner_mut()
        .incoming
        .extend([b"in-1".to_vec(), b"in-2".to_vec()]);
    let mut batch = Batch::new(1, 64);
    assert_eq!(l.recv(Instant::ZERO, &mut batch).unwrap(), 0);
    assert_eq!(l.poll_timeout(), Some(Instant::from_millis(5)));
    assert_eq!(l.recv(Instant::from_millis(4), &mut batch).unwrap(), 0);
    // The batch holds one frame: the second stays due and poll_timeout says so.
    assert_eq!(l.recv(Instant::from_millis(5), &mut batch).unwrap(), 1);
    assert_eq!(batch.frame(0), b"in-1");
    assert_eq!(l.poll_timeout(), Some(Instant::from_millis(5)));
    assert_eq!(l.recv(Instant::from_millis(6), &mut batch).unwrap(), 1);
    assert_eq!(batch.frame(0), b"in-2");
    assert_eq!(l.poll_timeout(), None);
    assert_eq!(l.rx_stats().frames_out, 2);
    assert_eq!(l.tx_stats().frames_in, 0);
}

#[test]
fn counters_name_each_direction() {
    let l = impair("dir=both,loss=1%");
    let names: Vec<&str> = l.counters().iter().map(|c| c.0).collect();
    assert!(names.contains(&"impair.tx.lost"));
    assert!(names.contains(&"impair.rx.queue_dropped"));
    let l = impair("loss=1%");
    assert!(!l.counters().iter().any(|c| c.0.starts_with("impair.rx")));
}

/// Frames with the instant they were seen.
type Log = Vec<(Instant, Vec<u8>)>;

/// Run a mixed workload in both directions and return everything observable: frames sent to
/// the inner link, frames received from the wrapper, counters.
fn workload(seed: u64) -> (Log, Log, ImpairStats) {
    let spec = format!(
        "loss=3%,ge_p=1%,ge_r=30%,delay=2ms,jitter=1ms,reorder=5%,dup=3%,corrupt=3%,rate=5mbit,queue=3,dir=both,seed={seed}"
    );
    let mut l = impair(&spec);
    let mut received = Vec::new();
    let mut batch = Batch::new(8, 256);
    let mut now = Instant::ZERO;
    for i in 0..3000u32 {
        // The driver contract: when a timeout is due, handle it, then receive.
        while let Some(t) = l.poll_timeout().filter(|&t| t <= now) {
            l.handle_timeout(t).unwrap();
            l.recv(t, &mut batch).unwrap();
            received.extend(batch.iter().map(|f| (t, f.to_vec())));
        }
        l.send(now, &frame(i)).unwrap();
        l.inner_mut().incoming.push_back(frame(1_000_000 + i));
        l.recv(now, &mut batch).unwrap();
        received.extend(batch.iter().map(|f| (now, f.to_vec())));
        now += Duration::from_micros(37 * (i as u64 % 7));
    }
    (l.inner().sent.clone(), received, l.stats())
}

#[test]
fn same_seed_same_output() {
    let a = workload(7);
    let b = workload(7);
    assert_eq!(a, b);
    let c = workload(8);
    assert_ne!(a.0, c.0, "another seed gives other decisions");
    // The workload exercised every impairment.
    let s = a.2;
    for (what, v) in [
        ("lost", s.lost),
        ("burst_lost", s.burst_lost),
        ("duplicated", s.duplicated),
        ("corrupted", s.corrupted),
        ("reordered", s.reordered),
        ("rate_delayed", s.rate_delayed),
        ("queue_dropped", s.queue_dropped),
    ] {
        assert!(v > 0, "{what} never happened");
    }
}

#[test]
fn oversized_frames_are_rejected_before_queueing() {
    let mut l = impair("delay=1ms");
    assert!(matches!(
        l.send(Instant::ZERO, &vec![0; MAX_FRAME + 1]),
        Err(LinkError::FrameTooLong(_))
    ));
    assert_eq!(l.held(), 0);
}
