//! `icmpkit respond` flags.

use std::time::Duration;

use clap::Args;

/// Answer ICMP echo (and timestamp, and RFC 8335 extended echo) requests
/// from user space, optionally late or not at all.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Run it with the kernel's own echo answers off, or every request gets \
two replies:\n  sysctl -w net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1\n\
Linux also answers ICMPv4 timestamp requests itself, whatever that sysctl says; \
--answer timestamp is for hosts that filter them."
)]
pub struct RespondArgs {
    /// What to answer: echo, timestamp, extended-echo, all (comma-separated; default echo,extended-echo).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "echo,extended-echo"
    )]
    pub answer: Vec<String>,

    /// Hold each answer this long (e.g. 20ms, 1.5s, 500us; a bare number is ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0", allow_hyphen_values = true)]
    pub delay: Duration,

    /// Add up to this much, at random, to each delay.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0", allow_hyphen_values = true)]
    pub jitter: Duration,

    /// Leave this share of requests unanswered: 10% or 0.1.
    #[arg(long, value_name = "SHARE", value_parser = parse_share, default_value = "0", allow_hyphen_values = true)]
    pub loss: f64,

    /// Seed for loss and jitter, to replay a run.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Only answer requests arriving on this interface.
    #[arg(short = 'I', long, value_name = "IFACE")]
    pub interface: Option<String>,

    /// Stop after handling COUNT requests (answered or dropped).
    #[arg(short = 'c', long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop after SECONDS.
    #[arg(
        short = 'w',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub deadline: Option<Duration>,

    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// No line per request; only the summary.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Show every field of each request and reply.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// One JSON object per request per line.
    #[arg(long, conflicts_with = "verbose")]
    pub json: bool,
}

/// `20ms`, `1.5s`, `500us`, or a bare number of milliseconds.
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1e-3)
    };
    let v: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 20ms, 1.5s, 500us"))?;
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=3600.0).contains(&secs) {
        return Err(format!("duration {s:?} out of range (0 to 1 hour)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `10%` or `0.1`.
pub(super) fn parse_share(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("bad share {s:?}: use e.g. 10% or 0.1"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("share {s:?} out of range (0 to 100%)"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_shares() {
        assert_eq!(parse_duration("20ms").unwrap(), Duration::from_millis(20));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_millis(7));
        assert!(parse_duration("-1ms").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_share("10%").unwrap(), 0.1);
        assert_eq!(parse_share("0.25").unwrap(), 0.25);
        assert!(parse_share("150%").is_err());
        assert!(parse_share("x").is_err());
    }
}
