//! `icmpkit sweep` flags: fping's, plus zmap's rate, seed and shard.

use clap::Args;
use std::time::Duration;

/// Probe many hosts at once (fping -g, zmap's ICMP echo scan).
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Targets: CIDR prefixes (192.0.2.0/24, 2001:db8::/120), ranges \
(192.0.2.10-192.0.2.20), addresses and names; from the command line, -f FILE, or stdin. \
IPv4 prefixes shorter than /31 skip their network and broadcast addresses.\n\n\
Exit status: 0 if every target is alive, 1 if some are not (or there is no target to probe), \
2 if a name did not resolve, \
3 on bad arguments, 4 on a system failure (permissions, sockets), \
141 if the reader of the output went away (a broken pipe)."
)]
pub struct SweepArgs {
    /// Targets: prefixes, ranges, addresses or names.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Generate targets from a prefix, or from START END (fping -g).
    #[arg(short = 'g', long = "generate")]
    pub generate: bool,

    /// Read targets from FILE, one per line ("-" for stdin).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,

    /// Leave out these prefixes (repeat, or separate with commas).
    #[arg(long = "exclude", value_name = "CIDR", value_delimiter = ',')]
    pub exclude: Vec<String>,

    /// Leave out the prefixes listed in FILE.
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_file: Option<String>,

    /// Show only alive targets, one per line.
    #[arg(short = 'a', long = "alive", conflicts_with = "unreachable")]
    pub alive: bool,

    /// Show only unreachable targets, one per line.
    #[arg(short = 'u', long = "unreachable")]
    pub unreachable: bool,

    /// Probes per target, with per-target statistics at the end (-c 1 is
    /// one probe, no retries).
    #[arg(short = 'c', long = "count", value_name = "N", conflicts_with = "vcount",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub count: Option<u32>,

    /// Probes per target, listing every RTT at the end ("-" for lost ones).
    #[arg(short = 'C', long = "vcount", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub vcount: Option<u32>,

    /// Loop (fping -l): probe every target once a period until stopped
    /// (Ctrl-C or SIGTERM prints the per-target statistics). The 16-bit
    /// echo sequence caps a loop at 65536 probes per target (18 h at -p 1000).
    #[arg(short = 'l', long = "loop", conflicts_with_all = ["count", "vcount"])]
    pub loop_forever: bool,

    /// With -c/-C/-l: quiet as -q, but print every target's statistics of
    /// the last SECS seconds every SECS seconds (fping -Q).
    #[arg(short = 'Q', long = "squiet", value_name = "SECS",
          value_parser = report_interval)]
    pub squiet: Option<Duration>,

    /// fping's statistics block at the end (fping -s), instead of the
    /// one-line summary.
    #[arg(short = 's', long = "stats")]
    pub stats: bool,

    /// Show the round-trip time on "is alive" lines (fping -e).
    #[arg(short = 'e', long = "elapsed")]
    pub elapsed: bool,

    /// Prefix per-probe lines with the UNIX time (fping -D).
    #[arg(short = 'D', long = "timestamp")]
    pub timestamp: bool,

    /// Say whether at least N targets are alive, instead of listing them;
    /// exit 0 if so, 1 if not (fping -x).
    #[arg(short = 'x', long = "reachable", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub reachable: Option<u64>,

    /// As -x, but stop as soon as N targets are alive (fping 5.2 -X).
    #[arg(short = 'X', long = "fast-reachable", value_name = "N", conflicts_with = "reachable",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub fast_reachable: Option<u64>,

    /// Retries of an unanswered probe (single-probe mode).
    #[arg(short = 'r', long = "retry", value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// Timeout of the first attempt, in milliseconds.
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "MS",
        default_value = "500",
        allow_negative_numbers = true,
        value_parser = crate::flags::msecs
    )]
    pub timeout: Duration,

    /// Backoff factor: each retry waits this much longer.
    #[arg(
        short = 'B',
        long = "backoff",
        value_name = "F",
        default_value_t = 1.5,
        allow_negative_numbers = true
    )]
    pub backoff: f64,

    /// Milliseconds between two probes to one target (-c/-C).
    #[arg(
        short = 'p',
        long = "period",
        value_name = "MS",
        default_value = "1000",
        allow_negative_numbers = true,
        value_parser = crate::flags::msecs
    )]
    pub period: Duration,

    /// Milliseconds between two packets overall, exactly (fping -i; 0.25
    /// is four a millisecond; 0 = no limit).
    #[arg(
        short = 'i',
        long = "interval",
        value_name = "MS",
        conflicts_with = "rate",
        allow_negative_numbers = true,
        value_parser = crate::flags::msecs
    )]
    pub interval: Option<Duration>,

    /// Packets per second (0 = as fast as the host can go). Default 10000.
    #[arg(long = "rate", value_name = "PPS")]
    pub rate: Option<u64>,

    /// Most probes waiting for an answer at once.
    #[arg(long = "max-in-flight", value_name = "N", default_value_t = 1 << 17)]
    pub max_in_flight: u64,

    /// Threads sending probes (zmap's --sender-threads). Default: one per
    /// CPU (up to 4) for raw-socket sweeps of 4096+ targets at --rate 0 or
    /// 100000+, else 1. Datagram sockets always send from one.
    #[arg(long = "senders", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub senders: Option<u16>,

    /// What writes the probes: `raw` (the raw ICMP socket, the kernel
    /// routes each), `packet` (whole Ethernet frames on a packet socket,
    /// like zmap; probes it cannot send go through the raw socket, with a
    /// note on stderr), or `auto` (packet for raw-socket sweeps of 4096+
    /// targets at --rate 0 or 100000+, else raw).
    #[arg(long = "sender", value_name = "auto|raw|packet", default_value = "auto",
          value_parser = ["auto", "raw", "packet"])]
    pub sender: String,

    /// Bytes of echo data (at least 32; at most 65507 to IPv4 targets,
    /// 65527 to IPv6 ones, as ping).
    #[arg(short = 'b', long = "size", value_name = "BYTES", default_value_t = 56)]
    pub size: usize,

    /// Seed of the random target order (printed in the summary).
    #[arg(long = "seed", value_name = "N")]
    pub seed: Option<u64>,

    /// Probe only share I of N (0 <= I < N) of the targets, as zmap's --shard/--shards.
    #[arg(long = "shard", value_name = "I/N")]
    pub shard: Option<String>,

    /// Set the Don't Fragment bit on IPv4 probes (fping -M): a probe above
    /// the path MTU then fails ("Message too long") instead of being
    /// fragmented.
    #[arg(short = 'M', long = "dont-fragment")]
    pub dont_fragment: bool,

    /// Time to live / hop limit of the probes.
    #[arg(short = 'H', long = "ttl", value_name = "TTL",
          value_parser = clap::value_parser!(u8).range(1..))]
    pub ttl: Option<u8>,

    /// Type of service / traffic class of the probes (decimal or 0x hex).
    #[arg(short = 'O', long = "tos", value_name = "TOS", value_parser = crate::flags::tos, allow_negative_numbers = true)]
    pub tos: Option<u8>,

    /// Source interface name or source address.
    #[arg(short = 'I', long = "iface", value_name = "INTERFACE")]
    pub interface: Option<String>,

    /// -4 / -6.
    #[command(flatten)]
    pub family: crate::flags::FamilyArgs,

    /// Quiet (fping's): no "is alive" lines, per-probe lines, ICMP error
    /// lines or summary; with -c/-C only the per-target statistics.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// One JSON object per target, then a summary object.
    #[arg(long = "json", conflicts_with = "csv")]
    pub json: bool,

    /// CSV: a header, then one row per target.
    #[arg(long = "csv")]
    pub csv: bool,

    /// --privileged / --unprivileged.
    #[command(flatten)]
    pub socket_kind: crate::flags::PrivilegeArgs,
}

/// clap value parser of `-Q`: seconds, more than zero (a zero interval
/// would print statistics without end).
fn report_interval(text: &str) -> Result<Duration, String> {
    let every = crate::flags::secs(text)?;
    if every < Duration::from_millis(1) {
        return Err("must be at least 0.001 seconds".into());
    }
    Ok(every)
}
