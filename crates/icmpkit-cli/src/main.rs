//! The `icmpkit` command.

// Output goes through `output` (broken pipes end the process quietly).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod commands;
mod events;
mod exit;
mod flags;
mod man;
mod output;
mod packet_view;
mod runtime;
mod schema;
mod signals;
mod terminal;

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
    /// Probe many hosts at once: prefixes, ranges, lists (fping -g, zmap).
    Sweep(commands::sweep::SweepArgs),
    /// Trace the route to a host (traceroute / mtr; ICMP, UDP or TCP; Paris; ECMP).
    Trace(commands::trace::TraceArgs),
    /// A live trace (mtr): a full-screen table per target; mtr's report on a pipe.
    Mtr(commands::mtr::MtrArgs),
    /// Decode ICMP/ICMPv6 packets from pcap/pcapng files or hex.
    Decode(commands::decode::DecodeArgs),
    /// Print or capture every ICMP/ICMPv6 packet reaching this host.
    Listen(commands::listen::ListenArgs),
    /// Craft any ICMP/ICMPv6 message, send it, show what comes back.
    Send(commands::send::SendArgs),
    /// Answer echo, timestamp and extended echo requests from user space.
    Respond(commands::respond::RespondArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (icmpkit.1 and one per command) into a directory.
    #[command(hide = true)]
    Man {
        /// Where to write them (created if missing).
        #[arg(long, value_name = "DIR", default_value = "target/man")]
        dir: std::path::PathBuf,
    },
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
        Command::Trace(args) => commands::trace::run(args),
        Command::Mtr(args) => commands::mtr::run(args),
        Command::Decode(args) => commands::decode::run(args),
        Command::Listen(args) => commands::listen::run(args),
        Command::Send(args) => commands::send::run(args),
        Command::Respond(args) => commands::respond::run(args),
        Command::Man { dir } => match man::write_pages(Cli::command(), &dir) {
            Ok(()) => exit::OK,
            Err(e) => exit::fail(&format!("writing the man pages to {}: {e}", dir.display())),
        },
        Command::Completions { shell } => {
            // Built in memory: clap_complete panics on a failing writer.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "icmpkit", &mut script);
            match std::io::Write::write_all(&mut crate::output::stdout(), &script) {
                Ok(()) => exit::OK,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
                Err(e) => exit::fail(&format!("writing the completions: {e}")),
            }
        }
    };
    std::process::exit(code);
}
