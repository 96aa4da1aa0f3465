//! `tcplab serve echo|discard|chargen|http`: TCP servers on the userspace stack, one thread per
//! client, with a bound on concurrent clients.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{ServeArgs, Service};
use crate::cmd::{link_counters, print_counters, stack_counters, stop_signal, wait_for_stop};
use crate::error::AppError;
use crate::http::{self, HttpError, PathError};
use crate::net::{TcpListener, TcpStream};
use crate::runtime::Handle;
use crate::setup;

/// Largest request body we read and discard to keep a connection alive.
const MAX_DISCARDED_BODY: u64 = 1 << 20;
/// How long an HTTP connection may wait for (the next bytes of) a request: short enough that
/// connections that never send one (slowloris) cannot hold every client slot for long, as
/// Apache's `RequestReadTimeout header=20` and nginx's `client_header_timeout` do.
const HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a client may stop reading a response before the connection is dropped.
const HTTP_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the accept loop checks whether it should stop.
const ACCEPT_TICK: Duration = Duration::from_millis(100);

/// Application-level counters, printed on exit.
#[derive(Debug, Default)]
pub struct ServeCounters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections refused because `--max-clients` were being served.
    pub refused_busy: AtomicU64,
    /// Clients currently served.
    pub active: AtomicU64,
    /// Bytes read from clients.
    pub bytes_in: AtomicU64,
    /// Bytes written to clients.
    pub bytes_out: AtomicU64,
    /// HTTP requests answered, by class.
    pub http_2xx: AtomicU64,
    /// HTTP 4xx answers.
    pub http_4xx: AtomicU64,
    /// Connections that ended with an I/O error (reset, timeout).
    pub io_errors: AtomicU64,
}

impl ServeCounters {
    fn list(&self) -> Vec<(String, u64)> {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("accepted".into(), g(&self.accepted)),
            ("refused_busy".into(), g(&self.refused_busy)),
            ("bytes_in".into(), g(&self.bytes_in)),
            ("bytes_out".into(), g(&self.bytes_out)),
            ("http_2xx".into(), g(&self.http_2xx)),
            ("http_4xx".into(), g(&self.http_4xx)),
            ("io_errors".into(), g(&self.io_errors)),
        ]
    }
}

/// Run `tcplab serve`.
pub fn run(args: ServeArgs) -> Result<i32, AppError> {
    let root = if args.service == Service::Http {
        let root = args
            .root
            .canonicalize()
            .map_err(|e| AppError::Usage(format!("--root {}: {e}", args.root.display())))?;
        if !root.is_dir() {
            return Err(AppError::Usage(format!(
                "--root {} is not a directory",
                args.root.display()
            )));
        }
        root
    } else {
        PathBuf::new()
    };
    let stop = stop_signal(args.duration)?;
    let rt = setup::start(&args.link, "serve")?;
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, args.port);
    let listener = TcpListener::bind(&rt, local, 0)
        .map_err(|e| AppError::io(format!("listen on port {}", args.port), e))?;
    println!("ready");
    let _ = io::stdout().flush();

    let counters = Arc::new(ServeCounters::default());
    let stopping = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let (counters, stopping, handle) = (counters.clone(), stopping.clone(), rt.handle());
        let (service, max) = (args.service, args.max_clients);
        std::thread::spawn(move || {
            accept_loop(&handle, listener, service, root, max, &counters, &stopping)
        })
    };
    let outcome = wait_for_stop(&stop, &rt);
    log::info!("serve: stopping ({outcome:?})");
    stopping.store(true, Ordering::Relaxed);
    let _ = acceptor.join();
    let stats = rt.stats();
    let link = rt.shutdown();
    print_counters(
        "tcplab serve counters",
        &[
            ("serve", counters.list()),
            ("stack", stack_counters(&stats)),
            ("link", link_counters(&link)),
        ],
    );
    outcome.map(|_| 0)
}

fn accept_loop(
    rt: &Handle,
    listener: TcpListener,
    service: Service,
    root: PathBuf,
    max_clients: usize,
    counters: &Arc<ServeCounters>,
    stopping: &AtomicBool,
) {
    let root = Arc::new(root);
    while !stopping.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept_timeout(Some(ACCEPT_TICK)) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(e) => {
                if rt.stopped().is_some() {
                    return;
                }
                log::warn!("accept: {e}");
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        if counters.active.load(Ordering::Relaxed) >= max_clients as u64 {
            counters.refused_busy.fetch_add(1, Ordering::Relaxed);
            stream.abort();
            continue;
        }
        counters.active.fetch_add(1, Ordering::Relaxed);
        let (counters, root) = (counters.clone(), root.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("client-{peer}"))
            .spawn(move || {
                let r = match service {
                    Service::Echo => echo(&stream, &counters),
                    Service::Discard => discard(&stream, &counters),
                    Service::Chargen => chargen(&stream, &counters),
                    Service::Http => {
                        // An idle keep-alive client (or one that stopped reading) must not
                        // hold its thread forever.
                        let _ = stream.set_read_timeout(Some(HTTP_REQUEST_TIMEOUT));
                        let _ = stream.set_write_timeout(Some(HTTP_WRITE_TIMEOUT));
                        serve_http(&stream, &root, &counters)
                    }
                };
                if let Err(e) = r {
                    log::debug!("client {peer}: {e}");
                    counters.io_errors.fetch_add(1, Ordering::Relaxed);
                }
                counters.active.fetch_sub(1, Ordering::Relaxed);
            });
        if let Err(e) = spawned {
            log::warn!("cannot start a thread for {peer}: {e}");
        }
    }
}

/// RFC 862: send back every byte received; half-close when the client does.
pub fn echo(stream: &TcpStream, counters: &ServeCounters) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut r, mut w) = (stream, stream);
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return stream.shutdown(Shutdown::Write);
        }
        counters.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        w.write_all(&buf[..n])?;
        counters.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// RFC 863: read and throw away until the client closes.
pub fn discard(stream: &TcpStream, counters: &ServeCounters) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut r = stream;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return stream.shutdown(Shutdown::Write);
        }
        counters.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// RFC 864: lines of 72 printable characters, each starting one character further along the
/// 95 printable ASCII characters, until the client goes away.
pub fn chargen(stream: &TcpStream, counters: &ServeCounters) -> io::Result<()> {
    let mut w = stream;
    // Whole cycles of the pattern, about 64 KB, so the stream stays continuous and each
    // write hands the stack a large chunk.
    let cycle = chargen_block();
    let block = cycle.repeat((64 * 1024 / cycle.len()).max(1));
    loop {
        match w.write_all(&block) {
            Ok(()) => counters
                .bytes_out
                .fetch_add(block.len() as u64, Ordering::Relaxed),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
    }
}

/// One full cycle of the RFC 864 pattern (95 lines of 72 characters + CRLF).
pub fn chargen_block() -> Vec<u8> {
    let chars: Vec<u8> = (b' '..=b'~').collect();
    let mut out = Vec::with_capacity(95 * 74);
    for start in 0..chars.len() {
        out.extend((0..72).map(|i| chars[(start + i) % chars.len()]));
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// HTTP/1.1 static files: GET and HEAD, persistent connections, 400/403/404/405 answers.
pub fn serve_http(stream: &TcpStream, root: &Path, counters: &ServeCounters) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut writer = BufWriter::with_capacity(64 * 1024, stream);
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(r) => r,
            Err(HttpError::Closed) => return Ok(()),
            // The idle timeout between requests: close quietly, as servers do.
            Err(HttpError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(HttpError::Io(e)) => return Err(e),
            Err(e) => {
                log::debug!("bad request: {e}");
                counters.http_4xx.fetch_add(1, Ordering::Relaxed);
                simple(&mut writer, 400, false)?;
                writer.flush()?;
                return stream.shutdown(Shutdown::Write);
            }
        };
        let mut keep_alive = req.keep_alive();
        // Skip a (small) request body so the next request starts where it should.
        let body = req.fields.content_length().ok().flatten().unwrap_or(0);
        if body > MAX_DISCARDED_BODY {
            keep_alive = false;
        } else if body > 0 {
            io::copy(&mut (&mut reader).take(body), &mut io::sink())?;
        }
        let head_only = req.method == "HEAD";
        let status = if req.method != "GET" && !head_only {
            simple(&mut writer, 405, keep_alive)?;
            405
        } else {
            match open_target(root, &req.target) {
                Ok((file, len, ctype)) => {
                    http::write_response_head(&mut writer, 200, len, ctype, keep_alive)?;
                    if !head_only {
                        let sent = io::copy(&mut file.take(len), &mut writer)?;
                        counters.bytes_out.fetch_add(sent, Ordering::Relaxed);
                        if sent < len {
                            // The file shrank under us: the promised length cannot be kept.
                            keep_alive = false;
                        }
                    }
                    200
                }
                Err(status) => {
                    simple(&mut writer, status, keep_alive)?;
                    status
                }
            }
        };
        let c = if status < 300 {
            &counters.http_2xx
        } else {
            &counters.http_4xx
        };
        c.fetch_add(1, Ordering::Relaxed);
        writer.flush()?;
        if !keep_alive {
            return stream.shutdown(Shutdown::Write).or(Ok(()));
        }
    }
}

fn simple<W: Write>(w: &mut W, status: u16, keep_alive: bool) -> io::Result<()> {
    let body = format!("{status} {}\n", http::reason(status));
    http::write_response_head(
        w,
        status,
        body.len() as u64,
        "text/plain; charset=utf-8",
        keep_alive,
    )?;
    w.write_all(body.as_bytes())
}

/// Open the file a target names, or the status to answer instead.
fn open_target(root: &Path, target: &str) -> Result<(File, u64, &'static str), u16> {
    let mut path = match http::resolve(root, target) {
        Ok(p) => p,
        Err(PathError::Bad) => return Err(400),
        Err(PathError::Traversal) => return Err(403),
    };
    if path.is_dir() {
        path.push("index.html");
    }
    // A symlink inside the root may point outside it: compare the real paths.
    let real = path.canonicalize().map_err(|_| 404u16)?;
    if !real.starts_with(root) {
        return Err(403);
    }
    let file = File::open(&real).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            403u16
        } else {
            404
        }
    })?;
    let meta = file.metadata().map_err(|_| 404u16)?;
    if !meta.is_file() {
        return Err(404);
    }
    Ok((file, meta.len(), http::content_type(&real)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chargen_pattern_follows_rfc_864() {
        let b = chargen_block();
        assert_eq!(b.len(), 95 * 74);
        assert_eq!(&b[..72], &(b' '..=b'~').take(72).collect::<Vec<u8>>()[..]);
        assert_eq!(&b[72..74], b"\r\n");
        assert_eq!(b[74], b'!', "second line starts one character later");
    }

    #[test]
    fn open_target_statuses() {
        let dir = std::env::temp_dir().join(format!("tcplab-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), b"hello").unwrap();
        std::fs::write(dir.join("sub/index.html"), b"<p>").unwrap();
        let root = dir.canonicalize().unwrap();
        assert_eq!(
            open_target(&root, "/a.txt").map(|(_, l, t)| (l, t)),
            Ok((5, "text/plain; charset=utf-8"))
        );
        assert_eq!(open_target(&root, "/sub/").map(|(_, l, _)| l), Ok(3));
        assert_eq!(open_target(&root, "/missing").err(), Some(404));
        assert_eq!(open_target(&root, "/../etc/passwd").err(), Some(403));
        assert_eq!(open_target(&root, "/%zz").err(), Some(400));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
