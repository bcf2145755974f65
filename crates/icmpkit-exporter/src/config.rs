//! The configuration file (smokeping_prober's `targets:` groups) and the
//! list of hosts to ping it makes with the command line's.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use icmpkit::socket::Family;
use icmpkit::sweep::Shard;
use serde::Deserialize;

use icmpkit::trace::ProbeProtocol;

use crate::args::{Args, parse_duration, parse_tos};
use crate::traces::{TraceSpec, parse_protocol};

/// The file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Groups of hosts sharing options.
    #[serde(default)]
    pub targets: Vec<TargetGroup>,
    /// blackbox_exporter-like modules for /probe.
    #[serde(default)]
    pub modules: BTreeMap<String, crate::probe::ModuleFile>,
    /// Groups of hosts to trace continuously.
    #[serde(default)]
    pub traces: Vec<TraceGroup>,
}

/// One `traces:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceGroup {
    #[serde(default)]
    hosts: Vec<String>,
    /// Time between round starts (default `--trace.interval`).
    interval: Option<String>,
    network: Option<String>,
    /// icmp (default), udp or tcp.
    protocol: Option<String>,
    port: Option<u16>,
    max_hops: Option<u8>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// One `targets:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    #[serde(default)]
    hosts: Vec<String>,
    /// smokeping_prober accepts a single `host:` too.
    host: Option<String>,
    interval: Option<String>,
    network: Option<String>,
    protocol: Option<String>,
    size: Option<usize>,
    source: Option<String>,
    tos: Option<Scalar>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A YAML value given as a number or a string (`tos: 0x10` or `tos: 16`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Number(u64),
    Text(String),
}

/// One host to ping and how, before resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    pub host: String,
    pub family: Option<Family>,
    pub interval: Duration,
    pub size: usize,
    pub tos: u8,
    pub source: Option<IpAddr>,
    pub labels: BTreeMap<String, String>,
}

/// Reads and checks the file.
pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    parse(&text).with_context(|| format!("config file {}", path.display()))
}

/// Parses the file's text.
pub fn parse(text: &str) -> anyhow::Result<ConfigFile> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    Ok(serde_yaml_ng::from_str(text)?)
}

/// Every host of the command line and the file, shard applied, each with
/// its options (the file's group options over the command line's).
pub fn hosts(args: &Args, file: &ConfigFile) -> anyhow::Result<Vec<HostSpec>> {
    let mut out: Vec<HostSpec> = args
        .hosts
        .iter()
        .map(|host| HostSpec {
            host: host.clone(),
            family: None,
            interval: args.interval,
            size: args.size,
            tos: args.tos,
            source: None,
            labels: BTreeMap::new(),
        })
        .collect();
    for (i, group) in file.targets.iter().enumerate() {
        let spec = group_spec(args, group).with_context(|| format!("targets[{i}]"))?;
        for host in group.hosts.iter().chain(group.host.as_ref()) {
            out.push(HostSpec {
                host: host.clone(),
                ..spec.clone()
            });
        }
    }
    if let Some(shard) = args.shard {
        out.retain(|spec| in_shard(&spec.host, shard));
    }
    Ok(out)
}

fn group_spec(args: &Args, group: &TargetGroup) -> anyhow::Result<HostSpec> {
    if let Some(protocol) = &group.protocol
        && protocol != "icmp"
    {
        bail!("protocol {protocol:?} is not supported (only icmp)");
    }
    let family = network(group.network.as_deref())?;
    let interval = match &group.interval {
        Some(text) => parse_duration(text).map_err(|e| anyhow::anyhow!("interval: {e}"))?,
        None => args.interval,
    };
    let tos = match &group.tos {
        None => args.tos,
        Some(Scalar::Number(n)) => {
            u8::try_from(*n).map_err(|_| anyhow::anyhow!("tos {n}: expected 0..=255"))?
        }
        Some(Scalar::Text(t)) => parse_tos(t).map_err(|e| anyhow::anyhow!("tos: {e}"))?,
    };
    let source = match &group.source {
        None => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| anyhow::anyhow!("source {s:?}: not an IP address"))?,
        ),
    };
    check_labels(&group.labels)?;
    Ok(HostSpec {
        host: String::new(),
        family,
        interval,
        size: group.size.unwrap_or(args.size),
        tos,
        source,
        labels: group.labels.clone(),
    })
}

/// Every trace target of the command line and the file, shard applied.
pub fn traces(args: &Args, file: &ConfigFile) -> anyhow::Result<Vec<TraceSpec>> {
    let mut out: Vec<TraceSpec> = args
        .traces
        .iter()
        .map(|host| TraceSpec {
            host: host.clone(),
            family: None,
            interval: args.trace_interval,
            protocol: ProbeProtocol::Icmp,
            port: None,
            max_hops: 30,
            labels: BTreeMap::new(),
        })
        .collect();
    for (i, group) in file.traces.iter().enumerate() {
        let spec = trace_group_spec(args, group).with_context(|| format!("traces[{i}]"))?;
        for host in &group.hosts {
            out.push(TraceSpec {
                host: host.clone(),
                ..spec.clone()
            });
        }
    }
    if let Some(shard) = args.shard {
        out.retain(|spec| in_shard(&spec.host, shard));
    }
    Ok(out)
}

fn trace_group_spec(args: &Args, group: &TraceGroup) -> anyhow::Result<TraceSpec> {
    let family = network(group.network.as_deref())?;
    let interval = match &group.interval {
        Some(text) => parse_duration(text).map_err(|e| anyhow::anyhow!("interval: {e}"))?,
        None => args.trace_interval,
    };
    let protocol = match &group.protocol {
        Some(p) => parse_protocol(p).map_err(anyhow::Error::msg)?,
        None => ProbeProtocol::Icmp,
    };
    let max_hops = group.max_hops.unwrap_or(30);
    if max_hops == 0 {
        bail!("max_hops 0: expected 1..=255");
    }
    check_labels(&group.labels)?;
    Ok(TraceSpec {
        host: String::new(),
        family,
        interval,
        protocol,
        port: group.port,
        max_hops,
        labels: group.labels.clone(),
    })
}

fn network(network: Option<&str>) -> anyhow::Result<Option<Family>> {
    Ok(match network {
        None | Some("ip") => None,
        Some("ip4") => Some(Family::V4),
        Some("ip6") => Some(Family::V6),
        Some(other) => bail!("network {other:?}: expected ip, ip4 or ip6"),
    })
}

fn check_labels(labels: &BTreeMap<String, String>) -> anyhow::Result<()> {
    for key in labels.keys() {
        if !valid_label_name(key) || RESERVED_LABELS.contains(&key.as_str()) {
            bail!("label {key:?}: not a valid label name, or one the exporter sets");
        }
    }
    Ok(())
}

/// Labels the exporter sets itself (`le`: the histogram's buckets; a user
/// label `le` gave each bucket line the name twice, and Prometheus refuses
/// a page with a duplicate label: every target's scrape failed).
pub const RESERVED_LABELS: [&str; 11] = [
    "host",
    "ip",
    "source",
    "tos",
    "prober",
    "type",
    "code",
    "hop",
    "responder",
    "stat",
    "le",
];

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// True if `host` (as written) is shard `shard`'s: a fixed-key SipHash of
/// the name, so every exporter given the same list agrees.
pub fn in_shard(host: &str, shard: Shard) -> bool {
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0, 0);
    h.write(host.as_bytes());
    h.finish() % shard.count() == shard.index()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("x").chain(argv.iter().copied())).unwrap()
    }

    #[test]
    fn smokeping_prober_example_config_is_read() {
        let file = parse(
            "targets:\n- hosts:\n  - localhost\n  interval: 1s\n  network: ip\n  protocol: icmp\n  size: 56\n  source: 127.0.1.1\n  tos: 0x00\n  labels:\n    site: lab\n",
        )
        .unwrap();
        let hosts = hosts(&args(&["a"]), &file).unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[1].host, "localhost");
        assert_eq!(hosts[1].source, Some("127.0.1.1".parse().unwrap()));
        assert_eq!(hosts[1].labels.get("site").map(String::as_str), Some("lab"));
        assert_eq!(hosts[0].interval, Duration::from_secs(1));
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (text, needle) in [
            ("targets:\n- hosts: [a]\n  network: ip5\n", "network"),
            ("targets:\n- hosts: [a]\n  protocol: udp\n", "protocol"),
            ("targets:\n- hosts: [a]\n  interval: never\n", "duration"),
            ("targets:\n- hosts: [a]\n  tos: 999\n", "tos"),
            ("targets:\n- hosts: [a]\n  labels: {host: x}\n", "label"),
            ("targets:\n- hosts: [a]\n  labels: {le: x}\n", "label"),
            ("targets:\n- hosts: [a]\n  colour: red\n", "colour"),
            ("traces:\n- hosts: [a]\n  protocol: sctp\n", "sctp"),
            ("traces:\n- hosts: [a]\n  max_hops: 0\n", "max_hops"),
            ("traces:\n- hosts: [a]\n  labels: {hop: x}\n", "label"),
            ("traces:\n- hosts: [a]\n  interval: soon\n", "duration"),
        ] {
            let err = parse(text)
                .and_then(|f| hosts(&args(&[]), &f).and_then(|_| traces(&args(&[]), &f)))
                .unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
    }

    #[test]
    fn shards_split_a_list_with_no_overlap_and_no_gap() {
        let names: Vec<String> = (0..1000).map(|i| format!("host{i}.example")).collect();
        let n = 3;
        let mut seen = vec![0u32; names.len()];
        for i in 0..n {
            let shard = Shard::new(i, n).unwrap();
            let mine: Vec<usize> = (0..names.len())
                .filter(|&k| in_shard(&names[k], shard))
                .collect();
            // Roughly a third each.
            assert!(
                (250..420).contains(&mine.len()),
                "shard {i}: {}",
                mine.len()
            );
            for k in mine {
                seen[k] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }
}
