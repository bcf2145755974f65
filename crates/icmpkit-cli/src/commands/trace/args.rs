//! `icmpkit trace` flags: traceroute's, plus mtr's report and Paris/ECMP
//! options.

use clap::Args;
use std::time::Duration;

/// Trace the route to a host (traceroute / mtr), every TTL in parallel.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Probes are Paris-stable: every probe of a flow has the same flow \
identifier (ICMP checksum, UDP/TCP ports), so per-flow load balancers keep it on one path; \
--flows N probes N flows and lists every responder seen per hop. Without privilege, ICMP \
probes use a datagram ICMP socket and UDP/TCP probes ordinary sockets (errors come from \
the error queue; RFC 4884 extensions such as MPLS labels need a raw socket). \
Exit status: 0 when the trace ran, 2 on errors."
)]
pub struct TraceArgs {
    /// Host or address to trace.
    #[arg(value_name = "HOST")]
    pub target: String,

    /// -4 / -6.
    #[command(flatten)]
    pub family: crate::flags::FamilyArgs,

    /// ICMP echo probes (the default).
    #[arg(short = 'I', long = "icmp", conflicts_with_all = ["udp", "tcp"])]
    pub icmp: bool,

    /// UDP probes to one constant port (default 33434).
    #[arg(short = 'U', long = "udp", conflicts_with = "tcp")]
    pub udp: bool,

    /// -T and --flows, spelt as mtr's.
    #[command(flatten)]
    pub shared: SharedArgs,

    /// Destination port for UDP/TCP probes (1-65535: the kernel refuses
    /// to send to port 0).
    #[arg(short = 'p', long = "port", value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// First TTL to probe.
    #[arg(short = 'f', long = "first", value_name = "FIRST_TTL", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..))]
    pub first_ttl: u8,

    /// Maximum number of hops (TTLs) to probe.
    #[arg(short = 'm', long = "max-hops", value_name = "MAX_TTL", default_value_t = 30,
          value_parser = clap::value_parser!(u8).range(1..))]
    pub max_ttl: u8,

    /// Probes per hop (and per flow).
    #[arg(short = 'q', long = "queries", value_name = "NQUERIES", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub queries: u16,

    /// Probes in flight at once.
    #[arg(
        short = 'N',
        long = "sim-queries",
        value_name = "SQUERIES",
        default_value_t = 32
    )]
    pub in_flight: usize,

    /// Minimal time between probes: seconds, or milliseconds if above 10 (as traceroute).
    #[arg(
        short = 'z',
        long = "sendwait",
        value_name = "SENDWAIT",
        default_value = "0",
        allow_negative_numbers = true,
        value_parser = crate::flags::send_wait
    )]
    pub send_wait: Duration,

    /// Seconds to wait for each probe's answer.
    #[arg(
        short = 'w',
        long = "wait",
        value_name = "WAIT",
        default_value = "5",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub wait: Duration,

    /// Move on from a hop once one of its probes was answered.
    #[arg(long = "fast")]
    pub fast: bool,

    /// Do not look up reverse DNS names.
    #[arg(short = 'n')]
    pub numeric: bool,

    /// Show RFC 4884 extensions (MPLS labels, interface information) after
    /// each responder, as traceroute -e (JSON and CSV always carry them).
    #[arg(short = 'e', long = "extensions")]
    pub extensions: bool,

    /// Source address.
    #[arg(short = 's', long = "source", value_name = "SRC_ADDR")]
    pub source: Option<std::net::IpAddr>,

    /// Interface to send through (needs privilege).
    #[arg(short = 'i', long = "interface", value_name = "DEVICE")]
    pub interface: Option<String>,

    /// Type of service / traffic class (decimal or 0x hex).
    #[arg(short = 't', long = "tos", value_name = "TOS", value_parser = crate::flags::tos, allow_negative_numbers = true)]
    pub tos: Option<u8>,

    /// Bytes of probe data after the ICMP/UDP header (default 32: 60-byte IPv4 packets).
    #[arg(long = "data-size", value_name = "BYTES", default_value_t = 32)]
    pub data_size: usize,

    /// Path-MTU discovery (like tracepath): probes with DF set start at the
    /// interface MTU and shrink on every "fragmentation needed" / "packet
    /// too big"; each hop shows the path MTU up to it (ICMP, UDP, and TCP
    /// with raw sockets: the SYNs then carry data).
    #[arg(long = "mtu")]
    pub mtu: bool,

    /// Set DF on the probes (traceroute -F): a probe too big for a link is
    /// refused there (`!F-MTU`) instead of fragmented.
    #[arg(short = 'F', long = "dont-fragment", conflicts_with = "mtu")]
    pub dont_fragment: bool,

    /// --privileged / --unprivileged.
    #[command(flatten)]
    pub socket_kind: crate::flags::PrivilegeArgs,

    /// mtr-style report after CYCLES probes per hop.
    #[arg(long = "report", short = 'r')]
    pub report: bool,

    /// Probes per hop in report mode (mtr -c; needs --report).
    #[arg(short = 'c', long = "report-cycles", value_name = "CYCLES", default_value_t = 10,
          requires = "report",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub cycles: u16,

    /// Report fields, by mtr's letters (mtr -o): L loss%, D dropped, R
    /// received, S sent, N newest RTT, B best, A average, W worst, V
    /// standard deviation, G geometric mean, J current jitter, M jitter
    /// mean, X worst jitter, I interarrival jitter, space a blank.
    #[arg(short = 'o', long = "order", value_name = "FIELDS", default_value = super::fields::DEFAULT_ORDER,
          requires = "report", value_parser = super::fields::order)]
    pub order: String,

    /// Wide report (mtr -w): host names never cut.
    #[arg(long = "report-wide", requires = "report")]
    pub wide: bool,

    /// Seconds between report rounds (mtr -i).
    #[arg(
        long = "interval",
        value_name = "SECONDS",
        default_value = "1",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub interval: Duration,

    /// Print the hops as one JSON document.
    #[arg(long = "json", conflicts_with_all = ["csv", "report"])]
    pub json: bool,

    /// Print one CSV line per hop and responder.
    #[arg(long = "csv", conflicts_with = "report")]
    pub csv: bool,
}

/// The flags `trace` and `mtr` spell alike, defined once (both flatten
/// it); the others differ between traceroute's and mtr's spellings.
#[derive(Debug, Clone, Copy, Args)]
pub struct SharedArgs {
    /// TCP SYN probes (default port 80): from one source port per flow with
    /// raw sockets (Paris-stable), a connect() each unprivileged.
    #[arg(short = 'T', long = "tcp")]
    pub tcp: bool,

    /// Probe N flows (each Paris-stable) and list every responder per hop (ECMP).
    #[arg(long = "flows", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub flows: u16,
}
