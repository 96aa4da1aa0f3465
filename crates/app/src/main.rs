//! `tcplab`: run the userspace TCP/IP stack against the Linux kernel, another tcplab, or itself.
//!
//! Subcommands (CLI.md): `demo`, `ping`, `host`, `serve`, `connect`, `get`, `plot`, `sim`. Each failure ends
//! as one line on stderr, `tcplab: error: ...`, with exit code 2 for usage and configuration
//! errors and 1 for runtime failures.

use clap::error::ErrorKind;
use clap::Parser;

use tcplab::cli::{self, Cli, Command};
use tcplab::cmd;

fn main() {
    tcplab::sys::default_sigpipe();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                std::process::exit(e.exit_code());
            }
            _ => {
                eprintln!("tcplab: error: {}", cli::one_line(&e));
                std::process::exit(2);
            }
        },
    };
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Ping(a) => cmd::ping::run(a),
        Command::Host(a) => cmd::host::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Connect(a) => cmd::connect::run(a),
        Command::Get(a) => cmd::get::run(a),
        Command::Plot(a) => cmd::plot::run(a),
        Command::Sim(a) => cmd::sim::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            eprintln!("tcplab: error: {msg}");
            std::process::exit(e.exit_code());
        }
    }
}
