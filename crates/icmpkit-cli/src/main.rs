//! The `icmpkit` command.

use clap::Parser;

/// icmpkit: ping, sweep, trace, listen, send, respond and decode ICMP.
#[derive(Debug, Parser)]
#[command(name = "icmpkit", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
