//! `tcplab connect HOST:PORT`: netcat over the userspace stack. Stdin goes to the connection
//! (a half-close, RFC 9293 §3.10.4, when stdin ends), the connection goes to stdout; the command
//! ends when the peer has closed and stdin is done.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use crate::cli::ConnectArgs;
use crate::error::AppError;
use crate::net::TcpStream;
use crate::setup;

/// Run `tcplab connect`.
pub fn run(args: ConnectArgs) -> Result<i32, AppError> {
    let rt = setup::start(&args.link, "connect")?;
    let target = args.target;
    let stream = Arc::new(
        TcpStream::connect(&rt, target)
            .map_err(|e| AppError::io(format!("connect to {target}"), e))?,
    );

    let upstream = {
        let stream = stream.clone();
        std::thread::spawn(move || -> io::Result<()> {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = stdin.read(&mut buf)?;
                if n == 0 {
                    return stream.shutdown(Shutdown::Write);
                }
                (&*stream).write_all(&buf[..n])?;
            }
        })
    };

    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let down: io::Result<()> = loop {
        match (&*stream).read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = stdout.write_all(&buf[..n]).and_then(|()| stdout.flush()) {
                    break Err(e);
                }
            }
            Err(e) => break Err(e),
        }
    };
    down.map_err(|e| AppError::io(format!("connection to {target}"), e))?;
    match upstream.join() {
        Ok(Ok(())) => Ok(0),
        Ok(Err(e)) => Err(AppError::io(format!("sending to {target}"), e)),
        Err(_) => Err(AppError::Failed("stdin thread panicked".into())),
    }
}
