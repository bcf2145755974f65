//! The `icmpkit` command.

mod commands;
mod exit;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Trace the route to a host (traceroute / mtr; ICMP, UDP or TCP; Paris; ECMP).
    Trace(commands::trace::TraceArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Ping(args) => commands::ping::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "icmpkit",
                &mut std::io::stdout(),
            );
            exit::OK
        }
        Command::Trace(args) => commands::trace::run(args),
    };
    std::process::exit(code);
}
