//! `tcplab get http://HOST:PORT/PATH -o FILE`: an HTTP/1.1 download over the userspace stack,
//! with a progress bar and a final throughput line.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::GetArgs;
use crate::error::AppError;
use crate::http::{self, Url};
use crate::net::TcpStream;
use crate::runtime::Handle;
use crate::setup;

/// Run `tcplab get`.
pub fn run(args: GetArgs) -> Result<i32, AppError> {
    let url: Url = args.url.parse().map_err(AppError::Usage)?;
    let rt = setup::start(&args.link, "get")?;
    let outcome = download(&rt, &url, &args.output, !args.quiet, None)?;
    println!("{}", outcome.summary());
    Ok(0)
}

/// What a download achieved.
#[derive(Debug, Clone, Copy)]
pub struct Downloaded {
    /// Body bytes written.
    pub bytes: u64,
    /// Seconds from connect to the last byte.
    pub secs: f64,
}

impl Downloaded {
    /// `"<bytes> bytes in <secs> s (<rate> Mbit/s)"`.
    pub fn summary(&self) -> String {
        let rate = if self.secs > 0.0 {
            self.bytes as f64 * 8.0 / self.secs / 1e6
        } else {
            0.0
        };
        format!(
            "{} bytes in {:.3} s ({:.2} Mbit/s)",
            self.bytes, self.secs, rate
        )
    }
}

/// Download `url` into the file `out`; an HTTP status other than 200 is an error.
pub fn download(
    rt: &Handle,
    url: &Url,
    out: &std::path::Path,
    progress: bool,
    timeout: Option<Duration>,
) -> Result<Downloaded, AppError> {
    let file =
        File::create(out).map_err(|e| AppError::io(format!("create {}", out.display()), e))?;
    let mut sink = BufWriter::with_capacity(256 * 1024, file);
    let d = fetch(rt, url, &mut sink, progress, timeout)?;
    sink.flush()
        .map_err(|e| AppError::io(format!("write {}", out.display()), e))?;
    Ok(d)
}

/// Fetch `url` and write its body to `sink`. `timeout` bounds the connect and each read.
pub fn fetch<W: Write>(
    rt: &Handle,
    url: &Url,
    sink: &mut W,
    progress: bool,
    timeout: Option<Duration>,
) -> Result<Downloaded, AppError> {
    let start = Instant::now();
    let stream = TcpStream::connect_timeout(rt, url.addr, timeout)
        .map_err(|e| AppError::io(format!("connect to {}", url.addr), e))?;
    stream
        .set_read_timeout(timeout)
        .map_err(|e| AppError::io("set read timeout", e))?;
    let ctx = |e: io::Error| AppError::io(format!("GET {}", url.path), e);
    http::write_get(&mut &stream, &url.host, &url.path).map_err(ctx)?;
    let mut reader = BufReader::with_capacity(64 * 1024, &stream);
    let resp = http::read_response(&mut reader)
        .map_err(|e| AppError::Failed(format!("GET {}: {e}", url.path)))?;
    if resp.status != 200 {
        return Err(AppError::Failed(format!(
            "GET {}: HTTP {} {}",
            url.path, resp.status, resp.reason
        )));
    }
    // RFC 9112 §6.1: chunked is the only transfer coding a client must understand.
    let coding = resp
        .fields
        .get("transfer-encoding")
        .map(|v| v.trim().to_ascii_lowercase());
    match coding.as_deref() {
        None | Some("identity") => {}
        Some("chunked") => {
            let bar = progress_bar(None, progress);
            let bytes = http::copy_chunked(&mut reader, sink, |t| bar.set_position(t))
                .map_err(|e| AppError::Failed(format!("GET {}: {e}", url.path)))?;
            bar.finish_and_clear();
            let secs = start.elapsed().as_secs_f64();
            return Ok(Downloaded { bytes, secs });
        }
        Some(other) => {
            return Err(AppError::Failed(format!(
                "GET {}: transfer coding '{other}' is not supported",
                url.path
            )));
        }
    }
    let length = resp
        .fields
        .content_length()
        .map_err(|e| AppError::Failed(format!("GET {}: {e}", url.path)))?;
    let bar = progress_bar(length, progress);
    let mut buf = vec![0u8; 64 * 1024];
    let mut got: u64 = 0;
    loop {
        let want = match length {
            Some(len) if got >= len => break,
            Some(len) => buf.len().min((len - got).min(usize::MAX as u64) as usize),
            None => buf.len(),
        };
        let n = reader.read(&mut buf[..want]).map_err(ctx)?;
        if n == 0 {
            if let Some(len) = length {
                return Err(AppError::Failed(format!(
                    "GET {}: connection closed after {got} of {len} bytes",
                    url.path
                )));
            }
            break;
        }
        sink.write_all(&buf[..n])
            .map_err(|e| AppError::io("write output", e))?;
        got += n as u64;
        bar.set_position(got);
    }
    bar.finish_and_clear();
    Ok(Downloaded {
        bytes: got,
        secs: start.elapsed().as_secs_f64(),
    })
}

fn progress_bar(length: Option<u64>, show: bool) -> ProgressBar {
    // indicatif draws nothing when stderr is not a terminal.
    let target = if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = match length {
        Some(len) => ProgressBar::with_draw_target(Some(len), target),
        None => ProgressBar::with_draw_target(None, target),
    };
    let style = match length {
        Some(_) => {
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        }
        None => ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}"),
    };
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_format() {
        let d = Downloaded {
            bytes: 1_000_000,
            secs: 2.0,
        };
        assert_eq!(d.summary(), "1000000 bytes in 2.000 s (4.00 Mbit/s)");
        assert_eq!(
            Downloaded {
                bytes: 0,
                secs: 0.0
            }
            .summary(),
            "0 bytes in 0.000 s (0.00 Mbit/s)"
        );
    }
}
