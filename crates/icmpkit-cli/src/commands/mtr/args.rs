//! `icmpkit mtr` flags: mtr's where they apply, plus icmpkit's.

use clap::Args;
use std::time::Duration;

/// A live trace (mtr): a full-screen table on a terminal, mtr's report on a pipe.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "On a terminal: a live table per target (keys: ? for help, q to quit). On a \
pipe, or with -r/-w/-j/-C: the rounds are run (-c, default 10) and the report printed, as \
`icmpkit trace --report`. Probes are Paris-stable (--paris is always on); --flows N probes N \
flows and lists every responder per hop. Exit status: 0 when the trace ran, 2 on errors."
)]
pub struct MtrArgs {
    /// Hosts or addresses to trace (several: one tab each).
    #[arg(required = true, value_name = "HOST")]
    pub targets: Vec<String>,

    /// -4 / -6.
    #[command(flatten)]
    pub family: crate::flags::FamilyArgs,

    /// Rounds to run, then exit (report mode: default 10).
    #[arg(short = 'c', long = "report-cycles", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub count: Option<u64>,

    /// Seconds between rounds.
    #[arg(
        short = 'i',
        long = "interval",
        value_name = "SECONDS",
        default_value = "1",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub interval: Duration,

    /// Numeric addresses only (no reverse names).
    #[arg(short = 'n', long = "no-dns")]
    pub numeric: bool,

    /// Report mode: run the rounds, print mtr's report.
    #[arg(short = 'r', long = "report")]
    pub report: bool,

    /// Wide report: host names never cut (mtr's -w).
    #[arg(short = 'w', long = "report-wide")]
    pub wide: bool,

    /// Fields and their order, by mtr's letters (L loss%, D dropped, R
    /// received, S sent, N newest RTT, B best, A average, W worst, V
    /// standard deviation, G geometric mean, J current jitter, M jitter
    /// mean, X worst jitter, I interarrival jitter, space a blank), in the
    /// report and the live table (default: report "LS NABWV", table
    /// "LSNABWVR").
    #[arg(short = 'o', long = "order", value_name = "FIELDS",
          value_parser = crate::commands::trace::fields::order)]
    pub order: Option<String>,

    /// Show RFC 4884 extensions (MPLS labels, interface information), as
    /// mtr -e; in the live view `e` switches them.
    #[arg(short = 'e', long = "mpls", visible_alias = "extensions")]
    pub extensions: bool,

    /// The hops as one JSON document (as `icmpkit trace --json`).
    #[arg(short = 'j', long = "json", conflicts_with = "csv")]
    pub json: bool,

    /// One CSV line per hop and responder (as `icmpkit trace --csv`).
    #[arg(short = 'C', long = "csv")]
    pub csv: bool,

    /// -T and --flows, spelt as trace's.
    #[command(flatten)]
    pub shared: crate::commands::trace::SharedArgs,

    /// UDP probes (default port 33434).
    #[arg(short = 'u', long = "udp", conflicts_with = "tcp")]
    pub udp: bool,

    /// Destination port for UDP/TCP probes.
    #[arg(short = 'P', long = "port", value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// First TTL.
    #[arg(short = 'f', long = "first-ttl", value_name = "NUMBER", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..))]
    pub first_ttl: u8,

    /// Largest TTL.
    #[arg(short = 'm', long = "max-ttl", value_name = "NUMBER", default_value_t = 30,
          value_parser = clap::value_parser!(u8).range(1..))]
    pub max_ttl: u8,

    /// Packet size in bytes, IP and ICMP/UDP headers included (IPv4: 28
    /// of them); TCP SYNs carry no data.
    #[arg(
        short = 's',
        long = "psize",
        value_name = "BYTES",
        default_value_t = 60
    )]
    pub size: usize,

    /// Type of service / traffic class (decimal or 0x hex).
    #[arg(short = 'Q', long = "tos", value_name = "TOS", value_parser = crate::flags::tos)]
    pub tos: Option<u8>,

    /// Interface to send through (needs privilege).
    #[arg(short = 'I', long = "interface", value_name = "NAME")]
    pub interface: Option<String>,

    /// Source address.
    #[arg(short = 'a', long = "address", value_name = "ADDRESS")]
    pub source: Option<std::net::IpAddr>,

    /// Seconds to wait for each probe's answer.
    #[arg(
        short = 'Z',
        long = "timeout",
        value_name = "SECONDS",
        default_value = "5",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub timeout: Duration,

    /// Paris-stable probes: always on, accepted for habit.
    #[arg(long = "paris")]
    pub paris: bool,

    /// After the live view closes, print the report.
    #[arg(long = "report-on-exit")]
    pub report_on_exit: bool,

    /// --privileged / --unprivileged.
    #[command(flatten)]
    pub socket_kind: crate::flags::PrivilegeArgs,
}

impl MtrArgs {
    /// Report mode was asked for (or stdout is no terminal: see the caller).
    pub fn wants_report(&self) -> bool {
        self.report || self.wide || self.json || self.csv
    }
}
