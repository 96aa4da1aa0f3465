//! A small HTTP/1.1 message parser and writer (RFC 9112), shared by `serve http` and `get`.
//!
//! Only what a static file server and a download client need: request and status lines,
//! header fields, `Content-Length` bodies, persistent connections (RFC 9112 §9.3). The header
//! section is bounded ([`MAX_HEAD_BYTES`], [`MAX_FIELDS`]); anything malformed is an error the
//! server answers with 400, never a panic.

use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddrV4;
use std::path::{Component, Path, PathBuf};

/// Largest header section (request/status line + fields) we accept.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header fields we accept in one message.
pub const MAX_FIELDS: usize = 100;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The peer closed the connection before sending any byte of a new message (the normal
    /// end of a persistent connection).
    #[error("connection closed")]
    Closed,
    /// The message violates RFC 9112; the server answers 400 and closes.
    #[error("bad message: {0}")]
    Bad(String),
    /// The header section exceeds [`MAX_HEAD_BYTES`] or [`MAX_FIELDS`] (RFC 9110 §15.5.20
    /// suggests 431; we answer 400 and close).
    #[error("header section too large (limit {0} bytes)")]
    TooLarge(usize),
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn bad(msg: impl Into<String>) -> HttpError {
    HttpError::Bad(msg.into())
}

/// HTTP version of a message (RFC 9112 §2.3); only 1.0 and 1.1 are spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: connections close after each response unless keep-alive is asked for.
    Http10,
    /// HTTP/1.1: connections persist unless `Connection: close` (RFC 9112 §9.3).
    Http11,
}

impl Version {
    fn parse(s: &str) -> Result<Version, HttpError> {
        match s {
            "HTTP/1.1" => Ok(Version::Http11),
            "HTTP/1.0" => Ok(Version::Http10),
            _ => Err(bad(format!("unsupported version '{}'", s.escape_debug()))),
        }
    }
}

/// Header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated field `name` lists `token` (e.g. `Connection: close`).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// `Content-Length` (RFC 9110 §8.6): `None` if absent; an error if malformed or if several
    /// fields disagree (RFC 9112 §6.3 item 5).
    pub fn content_length(&self) -> Result<Option<u64>, HttpError> {
        let mut found: Option<u64> = None;
        for (_, v) in self
            .0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 19 {
                    return Err(bad("invalid Content-Length"));
                }
                let n: u64 = part.parse().map_err(|_| bad("invalid Content-Length"))?;
                if found.is_some_and(|f| f != n) {
                    return Err(bad("conflicting Content-Length values"));
                }
                found = Some(n);
            }
        }
        Ok(found)
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method token, e.g. `GET` (case-sensitive, RFC 9110 §9.1).
    pub method: String,
    /// The request target in origin form (`/path?query`).
    pub target: String,
    /// The version.
    pub version: Version,
    /// Header fields.
    pub fields: Fields,
}

impl Request {
    /// Whether the connection stays open after the response (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.fields.has_token("connection", "close"),
            Version::Http10 => self.fields.has_token("connection", "keep-alive"),
        }
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The version.
    pub version: Version,
    /// Status code, 100..=999.
    pub status: u16,
    /// Reason phrase (informational only).
    pub reason: String,
    /// Header fields.
    pub fields: Fields,
}

fn is_tchar(b: u8) -> bool {
    // RFC 9110 §5.6.2 token characters.
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Read one header section (start line + fields, up to the empty line) as text lines, at most
/// `limit` bytes. Empty lines before the start line are skipped (RFC 9112 §2.2).
fn read_head_lines<R: BufRead>(r: &mut R, limit: usize) -> Result<Vec<String>, HttpError> {
    let mut lines = Vec::new();
    let mut used = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        let room = (limit - used) as u64;
        let n = Read::take(&mut *r, room).read_until(b'\n', &mut line)?;
        used += n;
        if n == 0 {
            if used >= limit {
                return Err(HttpError::TooLarge(limit));
            }
            return Err(if lines.is_empty() && used == 0 {
                HttpError::Closed
            } else {
                bad("truncated header section")
            });
        }
        if line.last() != Some(&b'\n') {
            if used >= limit {
                return Err(HttpError::TooLarge(limit));
            }
            return Err(bad("truncated header section"));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            return Ok(lines);
        }
        if lines.len() > MAX_FIELDS {
            return Err(HttpError::TooLarge(limit));
        }
        let text = String::from_utf8(std::mem::take(&mut line))
            .map_err(|_| bad("non-UTF-8 bytes in header section"))?;
        if text.bytes().any(|b| b == 0 || b == b'\r') {
            return Err(bad("stray CR or NUL in header section"));
        }
        lines.push(text);
    }
}

fn parse_fields(lines: &[String]) -> Result<Fields, HttpError> {
    let mut fields = Vec::with_capacity(lines.len());
    for l in lines {
        if l.starts_with(' ') || l.starts_with('\t') {
            // RFC 9112 §5.2: obsolete line folding is rejected with 400.
            return Err(bad("obsolete line folding"));
        }
        let (name, value) = l
            .split_once(':')
            .ok_or_else(|| bad("header field without ':'"))?;
        // RFC 9112 §5.1: no whitespace between name and colon; the name is a token.
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(bad(format!("invalid field name '{}'", name.escape_debug())));
        }
        fields.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    Ok(Fields(fields))
}

/// Read and parse one request head. [`HttpError::Closed`] means the client closed cleanly
/// between requests.
pub fn read_request<R: BufRead>(r: &mut R) -> Result<Request, HttpError> {
    let lines = read_head_lines(r, MAX_HEAD_BYTES)?;
    parse_request(&lines)
}

fn parse_request(lines: &[String]) -> Result<Request, HttpError> {
    let (start, rest) = lines.split_first().ok_or_else(|| bad("empty request"))?;
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    let mut parts = start.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad("invalid method"));
    }
    if !target.starts_with('/') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("request target must be in origin form"));
    }
    let version = Version::parse(version)?;
    let fields = parse_fields(rest)?;
    // RFC 9112 §3.2: a 1.1 request without Host gets 400.
    if version == Version::Http11 && fields.get("host").is_none() {
        return Err(bad("missing Host field"));
    }
    // We do not decode request bodies sent with a transfer coding (RFC 9112 §6.1); a request
    // with both is a smuggling vector (§6.3 item 3).
    if fields.get("transfer-encoding").is_some() {
        return Err(bad("Transfer-Encoding in requests is not supported"));
    }
    fields.content_length()?;
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        version,
        fields,
    })
}

/// Read and parse one response head.
pub fn read_response<R: BufRead>(r: &mut R) -> Result<Response, HttpError> {
    let lines = read_head_lines(r, MAX_HEAD_BYTES)?;
    let (start, rest) = lines.split_first().ok_or_else(|| bad("empty response"))?;
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    let mut parts = start.splitn(3, ' ');
    let version = Version::parse(parts.next().unwrap_or(""))?;
    let code = parts.next().unwrap_or("");
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("malformed status code"));
    }
    let status: u16 = code.parse().map_err(|_| bad("malformed status code"))?;
    if status < 100 {
        return Err(bad("malformed status code"));
    }
    let reason = parts.next().unwrap_or("").to_string();
    Ok(Response {
        version,
        status,
        reason,
        fields: parse_fields(rest)?,
    })
}

/// Longest chunk-size line we accept (RFC 9112 §7.1: size, optional extensions, CRLF).
const MAX_CHUNK_LINE: usize = 1024;

/// Read one line of at most `limit` bytes, without its line end; end of stream is an error.
fn read_line_bounded<R: BufRead>(r: &mut R, limit: usize) -> Result<String, HttpError> {
    let mut line = Vec::new();
    let n = Read::take(&mut *r, limit as u64).read_until(b'\n', &mut line)?;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err(if n >= limit {
            HttpError::TooLarge(limit)
        } else {
            bad("truncated chunked body")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad("non-UTF-8 bytes in chunked framing"))
}

/// Copy a body in the chunked transfer coding (RFC 9112 §7.1) from `r` to `w`, reporting the
/// bytes decoded so far to `progress`. Chunk extensions and trailer fields are read and
/// ignored (§7.1.1, §7.1.2). Returns the body length.
pub fn copy_chunked<R: BufRead, W: Write>(
    r: &mut R,
    w: &mut W,
    mut progress: impl FnMut(u64),
) -> Result<u64, HttpError> {
    let mut total: u64 = 0;
    loop {
        let line = read_line_bounded(r, MAX_CHUNK_LINE)?;
        let size = line
            .split(';')
            .next()
            .unwrap_or("")
            .trim_matches([' ', '\t']);
        if size.is_empty() || size.len() > 15 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("invalid chunk size"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| bad("invalid chunk size"))?;
        if size == 0 {
            // The trailer section ends with an empty line.
            for _ in 0..=MAX_FIELDS {
                if read_line_bounded(r, MAX_HEAD_BYTES)?.is_empty() {
                    return Ok(total);
                }
            }
            return Err(HttpError::TooLarge(MAX_HEAD_BYTES));
        }
        let copied = io::copy(&mut Read::take(&mut *r, size), w)?;
        if copied < size {
            return Err(bad("truncated chunk"));
        }
        total += copied;
        progress(total);
        match read_line_bounded(r, 2 + 1) {
            Ok(l) if l.is_empty() => {}
            Err(HttpError::Io(e)) => return Err(HttpError::Io(e)),
            _ => return Err(bad("missing CRLF after chunk data")),
        }
    }
}

/// The reason phrase for the status codes we send.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// `t` as an IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

/// Write a response head with `Date` (RFC 9110 §6.6.1), `Content-Length` and the connection
/// decision.
pub fn write_response_head<W: Write>(
    w: &mut W,
    status: u16,
    content_length: u64,
    content_type: &str,
    keep_alive: bool,
) -> io::Result<()> {
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nDate: {}\r\nServer: tcplab\r\nContent-Length: {content_length}\r\nContent-Type: {content_type}\r\nConnection: {}\r\n\r\n",
        reason(status),
        http_date(std::time::SystemTime::now()),
        if keep_alive { "keep-alive" } else { "close" }
    )
}

/// Write a GET request for `path` to `host`.
pub fn write_get<W: Write>(w: &mut W, host: &str, path: &str) -> io::Result<()> {
    write!(w, "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tcplab\r\nAccept: */*\r\nConnection: close\r\n\r\n")
}

/// A parsed `http://HOST[:PORT]/PATH` URL; HOST must be an IPv4 address (no DNS here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Where to connect.
    pub addr: SocketAddrV4,
    /// The `Host` field value (as written in the URL).
    pub host: String,
    /// The origin-form target, at least `/`.
    pub path: String,
}

impl std::str::FromStr for Url {
    type Err = String;
    fn from_str(s: &str) -> Result<Url, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("'{s}' is not an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("bad port '{p}' in '{s}'"))?,
            ),
            None => (authority, 80),
        };
        let ip = host
            .parse()
            .map_err(|_| format!("host '{host}' is not an IPv4 address (no DNS in tcplab)"))?;
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(format!(
                "URL path of '{s}' contains spaces or control characters"
            ));
        }
        Ok(Url {
            addr: SocketAddrV4::new(ip, port),
            host: authority.to_string(),
            path: path.to_string(),
        })
    }
}

/// Why a request target cannot be served from the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Bad percent-encoding or a NUL byte: 400.
    Bad,
    /// `..` would leave the root: 403.
    Traversal,
}

/// Map an origin-form target to a path under `root`: drop the query, percent-decode, and refuse
/// `..` segments so a request can never name a file outside the root.
pub fn resolve(root: &Path, target: &str) -> Result<PathBuf, PathError> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path).ok_or(PathError::Bad)?;
    let mut out = root.to_path_buf();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(PathError::Traversal),
            s => {
                // A segment that is not a plain name once decoded (e.g. "a\\..") is refused.
                let mut comps = Path::new(s).components();
                match (comps.next(), comps.next()) {
                    (Some(Component::Normal(_)), None) => out.push(s),
                    _ => return Err(PathError::Traversal),
                }
            }
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// A Content-Type for a file name, by extension.
pub fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    fn req(s: &[u8]) -> Result<Request, HttpError> {
        read_request(&mut BufReader::new(s))
    }

    #[test]
    fn parses_get_with_keep_alive_defaults() {
        let r = req(b"GET /a/b.txt?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/a/b.txt?x=1");
        assert!(r.keep_alive());
        let r = req(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n").unwrap();
        assert!(!r.keep_alive());
        let r = req(b"HEAD / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!r.keep_alive());
        let r = req(b"GET / HTTP/1.0\nConnection: keep-alive\n\n").unwrap();
        assert!(
            r.keep_alive(),
            "bare LF line ends are accepted (RFC 9112 §2.2)"
        );
    }

    #[test]
    fn two_pipelined_requests_then_clean_close() {
        let mut r = BufReader::new(
            &b"\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        );
        assert_eq!(read_request(&mut r).unwrap().target, "/1");
        assert_eq!(read_request(&mut r).unwrap().target, "/2");
        assert!(matches!(read_request(&mut r), Err(HttpError::Closed)));
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n",
            b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n",
            b"G\xc3T / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n",
            b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n",
            b"GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n",
        ];
        for c in cases {
            assert!(
                matches!(req(c), Err(HttpError::Bad(_))),
                "{:?} -> {:?}",
                String::from_utf8_lossy(c),
                req(c)
            );
        }
    }

    #[test]
    fn header_section_is_bounded() {
        let mut big = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        assert!(matches!(req(&big), Err(HttpError::TooLarge(_))));
        let mut many = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 0..(MAX_FIELDS + 5) {
            many.extend(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert!(matches!(req(&many), Err(HttpError::TooLarge(_))));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A deterministic pseudo-random sweep over short inputs built from HTTP-ish bytes.
        let alphabet = b"GET /HTP1.0\r\n: %2e\x00\xffa";
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((x >> (i % 60)) as usize + i) % alphabet.len()])
                .collect();
            let _ = req(&bytes);
            let _ = read_response(&mut BufReader::new(&bytes[..]));
        }
    }

    #[test]
    fn parses_responses() {
        let mut r =
            BufReader::new(&b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello"[..]);
        let resp = read_response(&mut r).unwrap();
        assert_eq!((resp.status, resp.version), (200, Version::Http10));
        assert_eq!(resp.fields.content_length().unwrap(), Some(5));
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
        assert_eq!(rest, "hello");
        assert!(read_response(&mut BufReader::new(&b"HTTP/1.1 2000 OK\r\n\r\n"[..])).is_err());
        assert!(read_response(&mut BufReader::new(&b"HTTP/1.1 404\r\n\r\n"[..])).is_ok());
    }

    #[test]
    fn chunked_bodies_decode_and_bad_framing_is_an_error() {
        let body = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        let mut r = BufReader::new(&body[..]);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let n = copy_chunked(&mut r, &mut out, |t| seen.push(t)).unwrap();
        assert_eq!(out, b"Wikipedia in \r\n\r\nchunks.");
        assert_eq!((n, seen), (out.len() as u64, vec![4, 10, 24]));
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "NEXT", "decoding stops after the trailer section");
        for bad_body in [
            &b"zz\r\nab\r\n0\r\n\r\n"[..],
            b"4\r\nab",
            b"2\r\nabXY0\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"2\r\nab\r\n",
        ] {
            let r = copy_chunked(&mut BufReader::new(bad_body), &mut Vec::new(), |_| {});
            assert!(
                matches!(r, Err(HttpError::Bad(_))),
                "{:?}: {r:?}",
                String::from_utf8_lossy(bad_body)
            );
        }
        let long = vec![b'1'; 5000];
        assert!(copy_chunked(&mut BufReader::new(&long[..]), &mut Vec::new(), |_| {}).is_err());
    }

    #[test]
    fn resolve_refuses_traversal() {
        let root = Path::new("/srv");
        assert_eq!(
            resolve(root, "/a/b.txt?q=1").unwrap(),
            Path::new("/srv/a/b.txt")
        );
        assert_eq!(resolve(root, "/a%20b").unwrap(), Path::new("/srv/a b"));
        assert_eq!(resolve(root, "/./a//b").unwrap(), Path::new("/srv/a/b"));
        assert_eq!(resolve(root, "/../etc/passwd"), Err(PathError::Traversal));
        assert_eq!(
            resolve(root, "/a/%2e%2e/%2e%2e/etc/passwd"),
            Err(PathError::Traversal)
        );
        assert_eq!(
            resolve(root, "/a%2f..%2f..%2fetc"),
            Err(PathError::Traversal)
        );
        assert_eq!(resolve(root, "/%zz"), Err(PathError::Bad));
        assert_eq!(resolve(root, "/a%00"), Err(PathError::Bad));
    }

    #[test]
    fn urls() {
        let u: Url = "http://198.18.0.1:8080/f/x.bin".parse().unwrap();
        assert_eq!(u.addr, "198.18.0.1:8080".parse().unwrap());
        assert_eq!(
            (u.host.as_str(), u.path.as_str()),
            ("198.18.0.1:8080", "/f/x.bin")
        );
        let u: Url = "http://198.18.0.1".parse().unwrap();
        assert_eq!((u.addr.port(), u.path.as_str()), (80, "/"));
        assert!("https://198.18.0.1/".parse::<Url>().is_err());
        assert!("http://example.com/".parse::<Url>().is_err());
        assert!("http://198.18.0.1:99999/".parse::<Url>().is_err());
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        // The example of RFC 9110 §5.6.7.
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn response_head_is_well_formed() {
        let mut out = Vec::new();
        write_response_head(&mut out, 404, 9, "text/plain", false).unwrap();
        let parsed = read_response(&mut BufReader::new(&out[..])).unwrap();
        assert_eq!(parsed.status, 404);
        assert_eq!(parsed.fields.content_length().unwrap(), Some(9));
        assert!(parsed.fields.has_token("connection", "close"));
    }
}
