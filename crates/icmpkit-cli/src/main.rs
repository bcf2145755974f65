//! The `icmpkit` command.

mod commands;
mod exit;
mod packet_view;

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
    /// Decode ICMP/ICMPv6 packets from pcap/pcapng files or hex.
    Decode(commands::decode::DecodeArgs),
    /// Craft any ICMP/ICMPv6 message, send it, show what comes back.
    Send(commands::send::SendArgs),
    /// Answer echo, timestamp and extended echo requests from user space.
    Respond(commands::respond::RespondArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Ping(args) => commands::ping::run(args),
        Command::Decode(args) => commands::decode::run(args),
        Command::Send(args) => commands::send::run(args),
        Command::Respond(args) => commands::respond::run(args),
    };
    std::process::exit(code);
}
