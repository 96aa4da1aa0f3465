//! Packet capture: write frames to a pcap file that tcpdump, tshark and Wireshark open.
//!
//! The format is classic pcap with nanosecond timestamps (magic `0xa1b23c4d`), link type
//! Ethernet (`LINKTYPE_ETHERNET` = 1), written by the `pcap-file` crate. Timestamps are the
//! `now` passed by the caller, plus an optional base ([`PcapSink::set_time_base`]): on a
//! virtual clock the same run gives a byte-identical file; a runtime on the monotonic clock
//! can set the wall-clock time of its epoch as the base so the capture shows real dates.
//!
//! - [`PcapSink`] writes frames a driver hands it;
//! - [`Pcap`] wraps any link and records every frame sent and received through it. Where it
//!   sits matters: `Pcap<Impair<L>>` records what the stack sent (before impairment) and what
//!   it received, `Impair<Pcap<L>>` records what went on the wire (after loss, with the
//!   release times).
//!
//! A capture error never breaks the link: it is logged once, counted
//! (`pcap.write_errors`), and reported by [`PcapSink::flush`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::RawFd;
use std::path::Path;

use byteorder_slice::LittleEndian;
use pcap_file::pcap::{PcapHeader, PcapPacket};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use crate::{Batch, Duration, Instant, Link, LinkError};

/// Snapshot length written in the header: the largest frame any link accepts fits whole.
const SNAPLEN: u32 = 262_144;

fn pcap_to_io(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Writes frames to a pcap stream; see the module documentation.
pub struct PcapSink<W: Write = BufWriter<File>> {
    writer: W,
    what: String,
    time_base: Duration,
    frames: u64,
    write_errors: u64,
    first_error: Option<io::Error>,
}

impl<W: Write> std::fmt::Debug for PcapSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSink")
            .field("what", &self.what)
            .field("frames", &self.frames)
            .field("write_errors", &self.write_errors)
            .finish()
    }
}

impl PcapSink<BufWriter<File>> {
    /// Create (truncate) the file at `path` and write the pcap header.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, LinkError> {
        let path = path.as_ref();
        let what = format!("pcap file {}", path.display());
        let file = File::create(path).map_err(|source| LinkError::Io {
            op: format!("create {what}"),
            source,
        })?;
        PcapSink::with_writer(BufWriter::new(file), what)
    }
}

impl<W: Write> PcapSink<W> {
    /// Write the pcap header to `writer` and return a sink appending frames to it.
    pub fn new(writer: W) -> Result<Self, LinkError> {
        PcapSink::with_writer(writer, "pcap stream".into())
    }

    fn with_writer(mut writer: W, what: String) -> Result<Self, LinkError> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            // Fixed, not native, so a capture is the same bytes on every machine (the
            // frames below are written little-endian to match).
            endianness: Endianness::Little,
            ..PcapHeader::default()
        };
        header.write_to(&mut writer).map_err(|e| LinkError::Io {
            op: format!("write header of {what}"),
            source: pcap_to_io(e),
        })?;
        Ok(PcapSink {
            writer,
            what,
            time_base: Duration::ZERO,
            frames: 0,
            write_errors: 0,
            first_error: None,
        })
    }

    /// Add `base` to every timestamp, e.g. the wall-clock time (since the Unix epoch) at
    /// which the runtime's `Instant::ZERO` was taken. Zero by default.
    pub fn set_time_base(&mut self, base: Duration) {
        self.time_base = base;
    }

    /// Append `frame`, stamped `now` (+ the time base). Errors are counted and returned; the
    /// first one is kept for [`PcapSink::flush`].
    pub fn write(&mut self, now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        let ts = self.time_base + Duration::from_nanos(now.as_nanos());
        let incl = frame.len().min(SNAPLEN as usize);
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let packet = PcapPacket::new(ts, orig, &frame[..incl]);
        match packet.write_to::<_, LittleEndian>(
            &mut self.writer,
            TsResolution::NanoSecond,
            SNAPLEN,
        ) {
            Ok(_) => {
                self.frames += 1;
                Ok(())
            }
            Err(e) => {
                let e = pcap_to_io(e);
                self.write_errors += 1;
                if self.first_error.is_none() {
                    log::warn!(
                        "{}: capture failed, further errors are only counted: {e}",
                        self.what
                    );
                    self.first_error = Some(io::Error::new(e.kind(), e.to_string()));
                }
                Err(LinkError::Io {
                    op: format!("write {}", self.what),
                    source: e,
                })
            }
        }
    }

    /// Flush buffered frames to the file; reports the first write error seen since the last
    /// flush, if any.
    pub fn flush(&mut self) -> Result<(), LinkError> {
        if let Some(source) = self.first_error.take() {
            return Err(LinkError::Io {
                op: format!("write {}", self.what),
                source,
            });
        }
        self.writer.flush().map_err(|source| LinkError::Io {
            op: format!("flush {}", self.what),
            source,
        })
    }

    /// Frames written.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames that could not be written.
    pub fn write_errors(&self) -> u64 {
        self.write_errors
    }

    /// The underlying writer (e.g. to inspect an in-memory capture).
    pub fn get_ref(&self) -> &W {
        &self.writer
    }
}

impl<W: Write> Drop for PcapSink<W> {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            log::warn!("{e}");
        }
    }
}

/// A link wrapper that records every frame sent and received through it; see the module
/// documentation.
#[derive(Debug)]
pub struct Pcap<L, W: Write = BufWriter<File>> {
    inner: L,
    sink: PcapSink<W>,
}

impl<L: Link> Pcap<L> {
    /// Record `inner`'s frames into a new pcap file at `path`.
    pub fn create(inner: L, path: impl AsRef<Path>) -> Result<Self, LinkError> {
        Ok(Pcap {
            inner,
            sink: PcapSink::create(path)?,
        })
    }
}

impl<L: Link, W: Write> Pcap<L, W> {
    /// Record `inner`'s frames into `sink`.
    pub fn new(inner: L, sink: PcapSink<W>) -> Self {
        Pcap { inner, sink }
    }

    /// Flush the capture file.
    pub fn flush(&mut self) -> Result<(), LinkError> {
        self.sink.flush()
    }

    /// The capture sink (e.g. for [`PcapSink::set_time_base`]).
    pub fn sink_mut(&mut self) -> &mut PcapSink<W> {
        &mut self.sink
    }

    /// The capture sink.
    pub fn sink(&self) -> &PcapSink<W> {
        &self.sink
    }

    /// The wrapped link.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The wrapped link, mutably.
    pub fn inner_mut(&mut self) -> &mut L {
        &mut self.inner
    }
}

impl<L: Link, W: Write + Send> Link for Pcap<L, W> {
    fn send(&mut self, now: Instant, frame: &[u8]) -> Result<(), LinkError> {
        self.inner.send(now, frame)?;
        // A capture failure is logged and counted by the sink, never a link failure.
        let _ = self.sink.write(now, frame);
        Ok(())
    }

    fn recv(&mut self, now: Instant, batch: &mut Batch) -> Result<usize, LinkError> {
        let n = self.inner.recv(now, batch)?;
        for frame in batch.iter() {
            let _ = self.sink.write(now, frame);
        }
        Ok(n)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), LinkError> {
        self.inner.handle_timeout(now)
    }

    fn name(&self) -> String {
        format!("pcap({})", self.inner.name())
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut out = vec![
            ("pcap.frames", self.sink.frames),
            ("pcap.write_errors", self.sink.write_errors),
        ];
        out.extend(self.inner.counters());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impair::{Impair, ImpairConfig};
    use crate::memory;
    use pcap_file::pcap::PcapReader;

    fn read_back(bytes: &[u8]) -> (PcapHeader, Vec<(Duration, u32, Vec<u8>)>) {
        let mut reader = PcapReader::new(bytes).unwrap();
        let header = reader.header();
        let mut out = Vec::new();
        while let Some(p) = reader.next_packet() {
            let p = p.unwrap();
            out.push((p.timestamp, p.orig_len, p.data.into_owned()));
        }
        (header, out)
    }

    #[test]
    fn sink_round_trip_with_nanosecond_timestamps() {
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        sink.write(Instant::from_nanos(1_234_567_891), b"first frame")
            .unwrap();
        sink.write(Instant::from_secs(5), &[0xEE; 1514]).unwrap();
        sink.flush().unwrap();
        assert_eq!(sink.frames(), 2);
        let bytes = sink.get_ref().clone();
        // Little-endian nanosecond magic, as tcpdump writes with --nano.
        assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        let (header, packets) = read_back(&bytes);
        assert_eq!(header.datalink, DataLink::ETHERNET);
        assert_eq!(header.ts_resolution, TsResolution::NanoSecond);
        assert_eq!(header.snaplen, SNAPLEN);
        assert_eq!(packets.len(), 2);
        assert_eq!(
            packets[0],
            (
                Duration::from_nanos(1_234_567_891),
                11,
                b"first frame".to_vec()
            )
        );
        assert_eq!(packets[1], (Duration::from_secs(5), 1514, vec![0xEE; 1514]));
    }

    #[test]
    fn time_base_shifts_timestamps() {
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        sink.set_time_base(Duration::from_secs(1_700_000_000));
        sink.write(Instant::from_millis(1500), b"x").unwrap();
        let (_, packets) = read_back(sink.get_ref());
        assert_eq!(packets[0].0, Duration::from_millis(1_700_000_001_500));
    }

    #[test]
    fn wrapper_records_both_directions_to_a_file() {
        let path =
            std::env::temp_dir().join(format!("tcplab-link-pcap-{}.pcap", std::process::id()));
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let _cleanup = Cleanup(path.clone());
        let (a, mut b) = memory::pair(8);
        {
            let mut a = Pcap::create(a, &path).unwrap();
            assert_eq!(a.name(), "pcap(memory-a)");
            a.send(Instant::from_millis(1), b"out-going").unwrap();
            b.send(Instant::from_millis(2), b"in-coming").unwrap();
            let mut batch = Batch::new(4, 64);
            assert_eq!(a.recv(Instant::from_millis(3), &mut batch).unwrap(), 1);
            assert!(a.counters().contains(&("pcap.frames", 2)));
            // Dropping the wrapper flushes the file.
        }
        let (_, packets) = read_back(&std::fs::read(&path).unwrap());
        assert_eq!(
            packets
                .iter()
                .map(|p| (p.0, p.2.as_slice()))
                .collect::<Vec<_>>(),
            vec![
                (Duration::from_millis(1), &b"out-going"[..]),
                (Duration::from_millis(3), &b"in-coming"[..])
            ]
        );
    }

    /// Two impaired memory links exchanging frames on a virtual clock, captured at both ends.
    fn impaired_run(seed: u64) -> (Vec<u8>, Vec<u8>) {
        let (a, b) = memory::pair(64);
        let cfg: ImpairConfig =
            format!("loss=5%,delay=3ms,jitter=2ms,dup=5%,corrupt=5%,seed={seed}")
                .parse()
                .unwrap();
        let mut a = Impair::new(Pcap::new(a, PcapSink::new(Vec::new()).unwrap()), cfg).unwrap();
        let mut b = Pcap::new(b, PcapSink::new(Vec::new()).unwrap());
        let mut batch = Batch::new(16, 2048);
        let mut now = Instant::ZERO;
        for i in 0..500u32 {
            while let Some(t) = a.poll_timeout().filter(|&t| t <= now) {
                a.handle_timeout(t).unwrap();
            }
            a.send(now, &[i.to_be_bytes().as_slice(), &[7u8; 60]].concat())
                .unwrap();
            b.recv(now, &mut batch).unwrap();
            for f in batch.iter() {
                let reply = f.iter().rev().copied().collect::<Vec<u8>>();
                b.send(now, &reply).unwrap();
            }
            a.recv(now, &mut batch).unwrap();
            now += Duration::from_micros(250);
        }
        let a_bytes = a.inner().sink().get_ref().clone();
        (a_bytes, b.sink().get_ref().clone())
    }

    #[test]
    fn same_seed_gives_byte_identical_captures() {
        let first = impaired_run(3);
        let second = impaired_run(3);
        assert_eq!(first, second);
        assert!(read_back(&first.0).1.len() > 400);
        assert!(read_back(&first.1).1.len() > 400);
        assert_ne!(first, impaired_run(4));
    }

    #[test]
    fn write_errors_are_counted_not_fatal() {
        /// Accepts this many bytes, then fails.
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // Room for the 24-byte header only.
        let sink = PcapSink::new(Failing(24)).unwrap();
        let (a, mut b) = memory::pair(8);
        let mut a = Pcap::new(a, sink);
        a.send(Instant::ZERO, b"still delivered").unwrap();
        a.send(Instant::ZERO, b"again").unwrap();
        let mut batch = Batch::new(4, 64);
        assert_eq!(b.recv(Instant::ZERO, &mut batch).unwrap(), 2);
        assert_eq!(a.sink().write_errors(), 2);
        assert!(matches!(a.flush(), Err(LinkError::Io { .. })));
        assert!(a.flush().is_ok(), "the error is reported once");
    }

    /// tshark (when installed) reads our file and decodes the frame inside.
    #[test]
    fn tshark_decodes_the_capture() {
        use crate::testutil::arp_request;
        use smoltcp::wire::Ipv4Address;
        let Ok(out) = std::process::Command::new("tshark")
            .arg("--version")
            .output()
        else {
            eprintln!("SKIPPED pcap::tshark_decodes_the_capture: tshark is not installed");
            return;
        };
        assert!(out.status.success());
        let path =
            std::env::temp_dir().join(format!("tcplab-link-tshark-{}.pcap", std::process::id()));
        {
            let mut sink = PcapSink::create(&path).unwrap();
            let frame = arp_request(
                Ipv4Address::new(198, 18, 0, 2),
                Ipv4Address::new(198, 18, 0, 1),
            );
            sink.write(Instant::from_nanos(1_000_000_123), &frame)
                .unwrap();
        }
        let out = std::process::Command::new("tshark")
            .args([
                "-r",
                path.to_str().unwrap(),
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "arp.dst.proto_ipv4",
            ])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1.000000123"), "nanosecond timestamp: {text}");
        assert!(text.contains("198.18.0.1"), "ARP decoded: {text}");
    }
}
