//! Runtime tests: an idle loop sleeps, waits time out, stop wakes waiters, time is monotonic.

use std::os::fd::{AsRawFd, RawFd};

use super::*;
use tcplab_link::{Batch, LinkError};
use tcplab_stack::{Config, EthernetAddress};

/// A link that never receives anything, with a descriptor that never becomes readable.
struct Silent(EventFd);

impl Link for Silent {
    fn send(&mut self, _: Instant, _: &[u8]) -> Result<(), LinkError> {
        Ok(())
    }
    fn recv(&mut self, _: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        batch.clear();
        Ok(0)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.0.as_raw_fd())
    }
    fn name(&self) -> String {
        "silent".into()
    }
}

fn runtime() -> Runtime {
    let mac = EthernetAddress([2, 0, 198, 18, 0, 9]);
    let stack = Stack::new(Config::new(mac, "198.18.0.9".parse().unwrap(), 24)).unwrap();
    Runtime::start(
        stack,
        Box::new(Silent(EventFd::new().unwrap())),
        RuntimeOptions::default(),
    )
    .unwrap()
}

#[test]
fn idle_runtime_sleeps() {
    let rt = runtime();
    std::thread::sleep(StdDuration::from_millis(300));
    // The stack may have a few startup timers (gratuitous ARP); a spinning loop would
    // count hundreds of thousands of iterations.
    assert!(
        rt.loop_iterations() < 20,
        "{} iterations while idle",
        rt.loop_iterations()
    );
}

#[test]
fn wait_times_out_and_stop_wakes_waiters() {
    let rt = runtime();
    let start = StdInstant::now();
    let r: io::Result<()> = rt.wait(Some(StdDuration::from_millis(50)), Interest::Any, |_, _| {
        None
    });
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() >= StdDuration::from_millis(49));

    let h = rt.handle();
    let waiter = std::thread::spawn(move || h.wait(None, Interest::Any, |_, _| None::<()>));
    std::thread::sleep(StdDuration::from_millis(50));
    let link_counters = rt.shutdown();
    assert!(link_counters.is_empty());
    let err = waiter.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("stopped"), "{err}");
}

#[test]
fn now_never_goes_backwards_across_threads() {
    let rt = runtime();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let h = rt.handle();
            std::thread::spawn(move || {
                let mut last = Instant::ZERO;
                for _ in 0..1000 {
                    let now = h.inspect(|c| c.now());
                    assert!(now >= last);
                    last = now;
                }
            })
        })
        .collect();
    for t in handles {
        t.join().unwrap();
    }
}
