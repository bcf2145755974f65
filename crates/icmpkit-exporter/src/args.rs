//! The command line: smokeping_prober's flags where they apply (so a unit
//! file written for it keeps working), and icmpkit's additions.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use icmpkit::socket::Privilege;
use icmpkit::sweep::Shard;

/// smokeping_prober's default `--buckets` (seconds).
pub const DEFAULT_BUCKETS: &str = "5e-05,0.0001,0.0002,0.0004,0.0008,0.0016,0.0032,0.0064,0.0128,0.0256,0.0512,0.1024,0.2048,0.4096,0.8192,1.6384,3.2768,6.5536,13.1072,26.2144";

/// Continuous ICMP monitoring of many targets for Prometheus.
///
/// Pings every host (from the arguments and from --config.file) at its
/// interval on one socket per address family, and serves per-target
/// counters and RTT histograms on /metrics (smokeping_prober's metric
/// shapes), health on /-/healthy, reload on POST /-/reload and SIGHUP.
#[derive(Debug, Clone, Parser)]
#[command(name = "icmpkit-exporter", version)]
pub struct Args {
    /// Address to listen on for HTTP (`:9374` is every address).
    #[arg(long = "web.listen-address", default_value = ":9374")]
    pub listen_address: String,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,

    /// YAML configuration file (smokeping_prober's `targets:` groups).
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,

    /// Comma-separated upper bounds (seconds) of the RTT histogram buckets.
    #[arg(long = "buckets", default_value = DEFAULT_BUCKETS, value_parser = parse_buckets)]
    pub buckets: Buckets,

    /// Ping interval of the hosts given as arguments (Go durations: 1s, 500ms, 1m30s).
    #[arg(short = 'i', long = "ping.interval", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Raw sockets only (needs CAP_NET_RAW). Default: datagram ICMP sockets
    /// where net.ipv4.ping_group_range allows them, raw ones otherwise.
    #[arg(long = "privileged", overrides_with = "unprivileged")]
    pub privileged: bool,

    /// Datagram ICMP sockets only (no privilege needed where
    /// net.ipv4.ping_group_range allows them).
    #[arg(long = "no-privileged", overrides_with = "privileged")]
    pub unprivileged: bool,

    /// Bytes of echo data of the hosts given as arguments (at least 32).
    #[arg(short = 's', long = "ping.size", default_value_t = 56)]
    pub size: usize,

    /// TOS / traffic class of the hosts given as arguments (decimal, 0x hex or 0b binary).
    #[arg(short = 'O', long = "ping.tos", default_value = "0x00", value_parser = parse_tos)]
    pub tos: u8,

    /// Emit smokeping_prober's exact metric names (`smokeping_*`) instead
    /// of `icmpkit_*`, so its dashboards and alert rules work unchanged.
    #[arg(long = "metrics.smokeping-names")]
    pub smokeping_names: bool,

    /// Take only shard i of n (0 <= i < n) of the targets, by a stable hash
    /// of the host as written: n exporters given the same list split it
    /// with no overlap and no gap.
    #[arg(long = "shard", value_name = "I/N")]
    pub shard: Option<Shard>,

    /// How often names are resolved again; a changed address (or a name
    /// that resolves at last) reloads the configuration.
    #[arg(long = "dns.refresh-interval", default_value = "5m", value_parser = parse_duration)]
    pub dns_refresh: Duration,

    /// A `prober` label on every series (tells sharded exporters apart).
    #[arg(long = "prober")]
    pub prober: Option<String>,

    /// Trace this host continuously (mtr's rounds): per-hop loss, RTT and
    /// path changes as `icmpkit_trace_*` series. Repeatable; the config
    /// file's `traces:` groups add more.
    #[arg(long = "trace", value_name = "HOST")]
    pub traces: Vec<String>,

    /// Time between the rounds of the --trace hosts.
    #[arg(long = "trace.interval", default_value = "30s", value_parser = parse_duration)]
    pub trace_interval: Duration,

    /// When /probe needs raw sockets (no datagram ICMP sockets allowed):
    /// how many per family are opened at start, before privileges are
    /// dropped. That many probes of a family run at once; more wait.
    #[arg(long = "probe.sockets", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub probe_sockets: u16,

    /// Hosts to ping (names or addresses).
    pub hosts: Vec<String>,
}

impl Args {
    /// The socket kind asked for.
    pub fn privilege(&self) -> Privilege {
        if self.privileged {
            Privilege::Privileged
        } else if self.unprivileged {
            Privilege::Unprivileged
        } else {
            Privilege::Auto
        }
    }

    /// `host:port` to bind (Go's `:port` meaning every address).
    pub fn bind_address(&self) -> String {
        if self.listen_address.starts_with(':') {
            format!("[::]{}", self.listen_address)
        } else {
            self.listen_address.clone()
        }
    }
}

/// Histogram bucket bounds, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(pub Vec<f64>);

impl Buckets {
    /// As durations.
    pub fn durations(&self) -> Vec<Duration> {
        self.0.iter().map(|&s| Duration::from_secs_f64(s)).collect()
    }
}

fn parse_buckets(s: &str) -> Result<Buckets, String> {
    let bounds = s
        .split(',')
        .map(|b| {
            let v: f64 = b
                .trim()
                .parse()
                .map_err(|_| format!("bad bucket {b:?}: not a number"))?;
            if v.is_finite() && v > 0.0 && v < 1e9 {
                Ok(v)
            } else {
                Err(format!(
                    "bad bucket {b:?}: must be a positive number of seconds"
                ))
            }
        })
        .collect::<Result<Vec<f64>, String>>()?;
    if !bounds.windows(2).all(|w| w[0] < w[1]) {
        return Err("buckets must be in increasing order".into());
    }
    Ok(Buckets(bounds))
}

/// A Go-style duration (`1s`, `500ms`, `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("bad duration {s:?}: {e}"))?;
    if d.is_zero() {
        return Err(format!("bad duration {s:?}: must be more than zero"));
    }
    Ok(d)
}

/// A TOS byte in decimal, `0x` hex or `0b` binary (as smokeping_prober).
pub fn parse_tos(s: &str) -> Result<u8, String> {
    let s = s.trim();
    let parsed = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u8::from_str_radix(hex, 16)
    } else if let Some(bin) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        u8::from_str_radix(bin, 2)
    } else {
        s.parse()
    };
    parsed.map_err(|_| format!("bad TOS {s:?}: expected 0..=255 (decimal, 0x hex or 0b binary)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smokeping_prober_flags_parse() {
        let args = Args::try_parse_from([
            "icmpkit-exporter",
            "--web.listen-address=127.0.0.1:9999",
            "--web.telemetry-path=/m",
            "-i",
            "1m30s",
            "-s",
            "100",
            "-O",
            "0x10",
            "--buckets=0.001,0.01",
            "host1",
            "host2",
        ])
        .unwrap();
        assert_eq!(args.bind_address(), "127.0.0.1:9999");
        assert_eq!(args.interval, Duration::from_secs(90));
        assert_eq!((args.size, args.tos), (100, 16));
        assert_eq!(args.buckets, Buckets(vec![0.001, 0.01]));
        assert_eq!(args.hosts, vec!["host1", "host2"]);
        assert_eq!(args.privilege(), Privilege::Auto);
    }

    #[test]
    fn go_style_listen_address_means_every_address() {
        let args = Args::try_parse_from(["icmpkit-exporter"]).unwrap();
        assert_eq!(args.bind_address(), "[::]:9374");
        assert_eq!(args.buckets.0.len(), 20);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["--buckets=0.1,0.01"][..],
            &["--buckets=abc"],
            &["-O", "300"],
            &["-i", "0s"],
            &["-i", "soon"],
            &["--shard", "3/3"],
        ] {
            let argv = std::iter::once("icmpkit-exporter").chain(bad.iter().copied());
            assert!(Args::try_parse_from(argv).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn privileged_flags_override_each_other() {
        let args = Args::try_parse_from(["x", "--privileged", "--no-privileged"]).unwrap();
        assert_eq!(args.privilege(), Privilege::Unprivileged);
        let args = Args::try_parse_from(["x", "--privileged"]).unwrap();
        assert_eq!(args.privilege(), Privilege::Privileged);
    }
}
