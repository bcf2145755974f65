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
    /// Probe many hosts at once: prefixes, ranges, lists (fping -g, zmap).
    Sweep(commands::sweep::SweepArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage_error = e.use_stderr();
            let _ = e.print();
            // sweep follows fping: bad arguments exit 3; others clap's 2.
            let sweep = std::env::args().nth(1).as_deref() == Some("sweep");
            std::process::exit(match (usage_error, sweep) {
                (false, _) => exit::OK,
                (true, true) => exit::BAD_ARGS,
                (true, false) => exit::ERROR,
            });
        }
    };
    let code = match cli.command {
        Command::Ping(args) => commands::ping::run(args),
        Command::Sweep(args) => commands::sweep::run(args),
    };
    std::process::exit(code);
}
