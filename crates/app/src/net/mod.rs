//! A blocking socket API over a [`crate::runtime::Runtime`], shaped like `std::net`.
//!
//! Each call locks the stack, makes one `tcp_*`/`udp_*` call, and if it would block waits until
//! the event loop has handled input or timers, then retries. Sockets are `Send + Sync`, so one
//! thread can read while another writes (`&TcpStream` implements `Read` and `Write`).

pub mod ping;
pub mod tcp;
pub mod udp;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
