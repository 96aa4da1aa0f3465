//! Errors of the `tcplab` binary and the mapping of stack errors to `std::io::Error`.
//!
//! Every error ends as one line on stderr (`tcplab: error: ...`). Usage and configuration
//! errors exit with 2, runtime failures with 1 (see CLI.md).

use std::io;

use tcplab_link::LinkError;
use tcplab_stack::{StackError, TcpError, UdpError};

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A bad or missing option, caught before any network activity (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Opening or driving a link failed. Permission, missing interface and bad impairment
    /// specifications are configuration errors (exit 2); I/O failures are runtime errors.
    #[error("{0}")]
    Link(#[from] LinkError),
    /// The stack rejected its configuration (exit 2).
    #[error("{0}")]
    Stack(#[from] StackError),
    /// An I/O error with what we were doing (exit 1).
    #[error("{context}: {source}")]
    Io {
        /// What we were doing, e.g. "connect to 198.18.0.1:80".
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Reading a capture or writing a graph failed (exit 1).
    #[error("{0}")]
    Graph(#[from] crate::graph::GraphError),
    /// A scenario file is malformed (exit 2).
    #[error("{0}")]
    Scenario(#[from] tcplab_sim::ScenarioError),
    /// A scenario could not be run (exit 1).
    #[error("{0}")]
    Sim(#[from] tcplab_sim::RunError),
    /// A step of the command did not succeed (exit 1), e.g. no ping reply or an HTTP error.
    #[error("{0}")]
    Failed(String),
}

impl AppError {
    /// Wrap an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> AppError {
        AppError::Io {
            context: context.into(),
            source,
        }
    }

    /// The process exit code for this error: 2 for usage/configuration, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Usage(_) | AppError::Stack(_) | AppError::Scenario(_) => 2,
            AppError::Link(
                LinkError::PermissionDenied(_)
                | LinkError::NoSuchInterface(_)
                | LinkError::BadSpec(_),
            ) => 2,
            AppError::Link(_)
            | AppError::Io { .. }
            | AppError::Graph(_)
            | AppError::Failed(_)
            | AppError::Sim(_) => 1,
        }
    }
}

/// Map a TCP error to the `io::ErrorKind` std's sockets report for the same condition, so
/// applications written against std::net handle ours the same way (a refused connect is
/// `ConnectionRefused`, a write after reset is `ConnectionReset`, ...).
pub fn tcp_io_error(e: TcpError) -> io::Error {
    use io::ErrorKind as K;
    let kind = match e {
        TcpError::AddrInUse => K::AddrInUse,
        TcpError::AddrNotAvailable | TcpError::NoPorts => K::AddrNotAvailable,
        TcpError::InvalidHandle | TcpError::NotConnected => K::NotConnected,
        TcpError::TooManyConnections => K::OutOfMemory,
        TcpError::NoRoute(_) | TcpError::HostUnreachable => K::Other,
        TcpError::WouldBlock => K::WouldBlock,
        TcpError::ConnectionRefused => K::ConnectionRefused,
        TcpError::ConnectionReset => K::ConnectionReset,
        TcpError::TimedOut => K::TimedOut,
        TcpError::BrokenPipe => K::BrokenPipe,
        TcpError::InvalidState => K::InvalidInput,
    };
    io::Error::new(kind, e)
}

/// Map a UDP error to the `io::ErrorKind` std reports for the same condition.
pub fn udp_io_error(e: UdpError) -> io::Error {
    use io::ErrorKind as K;
    let kind = match &e {
        UdpError::AddrInUse | UdpError::NoPorts => K::AddrInUse,
        UdpError::AddrNotAvailable => K::AddrNotAvailable,
        UdpError::InvalidHandle => K::NotConnected,
        UdpError::QueueFull => K::WouldBlock,
        UdpError::TooLong(_) | UdpError::Truncated(_) => K::InvalidInput,
        UdpError::NoRoute(_) => K::Other,
    };
    io::Error::new(kind, e)
}

/// Map a stack-level error (ping, routing) to an `io::Error`.
pub fn stack_io_error(e: StackError) -> io::Error {
    let kind = match &e {
        StackError::QueueFull => io::ErrorKind::WouldBlock,
        StackError::TooLong(_) | StackError::Config(_) => io::ErrorKind::InvalidInput,
        StackError::NoRoute(_) => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind as K;

    #[test]
    fn tcp_errors_map_to_std_kinds() {
        let cases = [
            (TcpError::ConnectionRefused, K::ConnectionRefused),
            (TcpError::ConnectionReset, K::ConnectionReset),
            (TcpError::TimedOut, K::TimedOut),
            (TcpError::BrokenPipe, K::BrokenPipe),
            (TcpError::WouldBlock, K::WouldBlock),
            (TcpError::NotConnected, K::NotConnected),
            (TcpError::AddrInUse, K::AddrInUse),
            (TcpError::AddrNotAvailable, K::AddrNotAvailable),
        ];
        for (e, kind) in cases {
            let io = tcp_io_error(e);
            assert_eq!(io.kind(), kind, "{e:?}");
            assert_eq!(io.to_string(), e.to_string());
        }
    }

    #[test]
    fn udp_errors_map_to_std_kinds() {
        assert_eq!(udp_io_error(UdpError::AddrInUse).kind(), K::AddrInUse);
        assert_eq!(
            udp_io_error(UdpError::AddrNotAvailable).kind(),
            K::AddrNotAvailable
        );
        assert_eq!(
            udp_io_error(UdpError::TooLong(70000)).kind(),
            K::InvalidInput
        );
    }

    #[test]
    fn exit_codes_separate_usage_from_runtime() {
        assert_eq!(AppError::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            AppError::Link(LinkError::BadSpec("loss=abc".into())).exit_code(),
            2
        );
        assert_eq!(
            AppError::Link(LinkError::PermissionDenied("tap0".into())).exit_code(),
            2
        );
        assert_eq!(AppError::Link(LinkError::Closed).exit_code(), 1);
        assert_eq!(AppError::Failed("no reply".into()).exit_code(), 1);
        let e = AppError::io(
            "connect to 198.18.0.1:80",
            io::Error::from(K::ConnectionRefused),
        );
        assert_eq!(e.exit_code(), 1);
        assert!(!e.to_string().contains('\n'));
    }
}
