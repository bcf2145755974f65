//! `icmpkit listen` flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Print (or capture) every ICMP and ICMPv6 packet this host receives, sends or forwards.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Needs CAP_NET_RAW. Reads a packet socket (as tcpdump -i any icmp: incoming, outgoing and \
forwarded packets, inside tunnels too); where none can be opened, raw ICMP sockets (only what \
reaches the host), with a note. Lines show the kernel time (UTC), the interface, the direction \
(in, out, broadcast, multicast, other-host), source > destination, TTL and the message. Ctrl-C \
(or -c / --duration) ends; the counts (received, by type, kernel drops) go to stderr.

Exit status: 0 after a clean end, 2 on errors (permissions, bad arguments, write failures).")]
pub struct ListenArgs {
    /// Only packets arriving on this interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// ICMPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// ICMPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Only these types: numbers or names (echo-request, time-exceeded, ...); repeatable, or comma-separated.
    #[arg(
        long = "type",
        value_name = "TYPE",
        value_delimiter = ',',
        value_parser = crate::flags::IcmpTypeArg,
        hide_possible_values = true
    )]
    pub types: Vec<String>,

    /// Only packets from this network (CIDR or address); repeatable.
    #[arg(long = "from", value_name = "CIDR", value_parser = parse_net)]
    pub from: Vec<ipnet::IpNet>,

    /// Only packets to this network (CIDR or address); repeatable.
    #[arg(long = "to", value_name = "CIDR", value_parser = parse_net)]
    pub to: Vec<ipnet::IpNet>,

    /// Only packets from or to this network (CIDR or address); repeatable.
    #[arg(long = "host", value_name = "CIDR", value_parser = parse_net)]
    pub host: Vec<ipnet::IpNet>,

    /// Which socket: `packet` (every direction), `raw` (what reaches the host), or `auto` (packet, else raw).
    #[arg(long = "socket", value_name = "KIND", default_value = "auto", value_parser = ["auto", "packet", "raw"])]
    pub socket: String,

    /// One JSON object per packet (the schema of `icmpkit decode --json`).
    #[arg(long = "json", conflicts_with = "verbose")]
    pub json: bool,

    /// Print every field as a tree under each line.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Write packets to FILE (pcapng if it ends in .pcapng, else pcap; raw IP link type) instead of printing them.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Stop after COUNT packets (after filters).
    #[arg(short = 'c', long = "count", value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop after SECONDS.
    #[arg(
        long = "duration",
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub duration: Option<Duration>,

    /// Do not print the counts at the end.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("not an address or CIDR network: {text}"))
}
