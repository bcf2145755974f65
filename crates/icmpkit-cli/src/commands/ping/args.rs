//! `icmpkit ping` flags: iputils ping's, with its defaults.

use clap::Args;
use std::time::Duration;

/// Send ICMP echo requests and report replies, as iputils ping does.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit status: 0 if every target answered, 1 if some target got no reply \
(or, with -w, fewer than -c), 2 on errors (no route for the first request included), \
141 if the reader of the output went away (a broken pipe)."
)]
pub struct PingArgs {
    /// Hosts or addresses to ping (several are pinged concurrently, each with its own statistics).
    #[arg(required = true, value_name = "HOST")]
    pub targets: Vec<String>,

    /// Stop after sending COUNT requests.
    #[arg(short = 'c', value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Seconds between requests (default 1; below 0.002 needs privilege).
    #[arg(short = 'i', value_name = "INTERVAL", allow_negative_numbers = true,
          value_parser = crate::flags::secs)]
    pub interval: Option<Duration>,

    /// Seconds to wait for a reply (default 10).
    #[arg(short = 'W', value_name = "TIMEOUT", allow_negative_numbers = true,
          value_parser = crate::flags::secs)]
    pub timeout: Option<Duration>,

    /// Seconds after which to stop, whatever happened.
    #[arg(short = 'w', value_name = "DEADLINE", allow_negative_numbers = true,
          value_parser = crate::flags::secs)]
    pub deadline: Option<Duration>,

    /// Bytes of data in each request (default 56).
    #[arg(short = 's', value_name = "SIZE", default_value_t = 56)]
    pub size: usize,

    /// Time to live / hop limit.
    #[arg(short = 't', value_name = "TTL", value_parser = clap::value_parser!(u8).range(1..))]
    pub ttl: Option<u8>,

    /// Type of service / traffic class (decimal or 0x hex).
    #[arg(short = 'Q', value_name = "TOS", value_parser = crate::flags::tos, allow_negative_numbers = true)]
    pub tos: Option<u8>,

    /// Flood: send as fast as replies come back, at least 100 per second (needs privilege).
    #[arg(short = 'f')]
    pub flood: bool,

    /// Adaptive: adapt the interval to the round-trip time.
    #[arg(short = 'A')]
    pub adaptive: bool,

    /// Print a Unix timestamp before each line.
    #[arg(short = 'D')]
    pub timestamps: bool,

    /// Report requests still unanswered when the next one is sent.
    #[arg(short = 'O')]
    pub outstanding: bool,

    /// Quiet: only the header and the statistics.
    #[arg(short = 'q')]
    pub quiet: bool,

    /// Source interface name or source address.
    #[arg(short = 'I', value_name = "INTERFACE")]
    pub interface: Option<String>,

    /// Path MTU discovery: do, want, dont or probe.
    #[arg(short = 'M', value_name = "PMTUDISC", value_parser = ["do", "want", "dont", "probe"])]
    pub pmtudisc: Option<String>,

    /// Fill pattern for the data, up to 16 bytes in hex (e.g. ff00).
    #[arg(short = 'p', value_name = "PATTERN", value_parser = parse_pattern)]
    pub pattern: Option<Pattern>,

    /// Audible: ring the terminal bell on each reply.
    #[arg(short = 'a')]
    pub audible: bool,

    /// Verbose: show the echo identifier (`ident=`) on reply lines.
    #[arg(short = 'v')]
    pub verbose: bool,

    /// Echo identifier of the requests (raw sockets; datagram sockets get
    /// theirs from the kernel). Decimal or 0x hex.
    #[arg(short = 'e', value_name = "IDENTIFIER", value_parser = crate::flags::u16_value)]
    pub identifier: Option<u16>,

    /// IPv6 flow label of the requests (20 bits; decimal or 0x hex).
    #[arg(short = 'F', value_name = "FLOWLABEL", value_parser = crate::flags::u32_value)]
    pub flow_label: Option<u32>,

    /// Numeric output only: no names for responders.
    #[arg(short = 'n')]
    pub numeric: bool,

    /// Send PRELOAD requests at once before waiting for replies.
    #[arg(short = 'l', value_name = "PRELOAD", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub preload: Option<u32>,

    /// Allow pinging a broadcast address.
    #[arg(short = 'b')]
    pub broadcast: bool,

    /// -4 / -6.
    #[command(flatten)]
    pub family: crate::flags::FamilyArgs,

    /// Mark outgoing packets (SO_MARK; decimal or 0x hex).
    #[arg(short = 'm', value_name = "MARK", value_parser = crate::flags::mark, allow_negative_numbers = true)]
    pub mark: Option<u32>,

    /// --privileged / --unprivileged.
    #[command(flatten)]
    pub socket_kind: crate::flags::PrivilegeArgs,

    /// One JSON object per event per line (NDJSON), then one summary per
    /// target (README, "Machine output").
    #[arg(long, conflicts_with_all = ["csv", "graph"])]
    pub json: bool,

    /// CSV: one row per reply, error or timeout, then one summary row per
    /// target.
    #[arg(long, conflicts_with = "graph")]
    pub csv: bool,

    /// A live RTT chart of every target (loss marked, iputils' statistics
    /// beneath) on a terminal; the usual lines elsewhere.
    #[arg(long)]
    pub graph: bool,
}

/// A `-p` fill pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(pub Vec<u8>);

fn parse_pattern(s: &str) -> Result<Pattern, String> {
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("patterns must be 1 to 32 hex digits (up to 16 bytes)".into());
    }
    // iputils reads pairs of hex digits; an odd last digit stands alone.
    let bytes = s
        .as_bytes()
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("0"), 16).unwrap_or(0))
        .collect();
    Ok(Pattern(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(parse_pattern("ff00").unwrap().0, vec![0xff, 0x00]);
        assert_eq!(parse_pattern("abc").unwrap().0, vec![0xab, 0x0c]);
        assert!(parse_pattern("zz").is_err());
        assert!(parse_pattern(&"a".repeat(33)).is_err());
    }
}
