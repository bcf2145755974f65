//! The `icmpkit` command.

mod commands;
mod exit;

use clap::{Parser, Subcommand};

/// icmpkit: ping, sweep, trace, listen, send, respond and decode ICMP.
#[derive(Debug, Parser)]
#[command(name = "icmpkit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ping hosts (iputils ping compatible).
    Ping(commands::ping::PingArgs),
    /// Trace the route to a host (traceroute / mtr; ICMP, UDP or TCP; Paris; ECMP).
    Trace(commands::trace::TraceArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Ping(args) => commands::ping::run(args),
        Command::Trace(args) => commands::trace::run(args),
    };
    std::process::exit(code);
}
