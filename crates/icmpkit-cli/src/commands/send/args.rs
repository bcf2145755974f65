//! `icmpkit send` flags.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args};

use crate::flags;

/// Craft any ICMPv4/ICMPv6 message, send it, and show what comes back.
#[derive(Debug, Clone, Args)]
#[command(
    group(ArgGroup::new("payload").args(["data", "hex", "file", "size"])),
    after_help = "Types by number or name: echo-request, timestamp-request, address-mask-request, \
information-request, extended-echo-request, router-solicitation, neighbor-solicitation, \
destination-unreachable, time-exceeded, ... Each type takes only its own fields; a field \
it lacks is an error.\n\nExit status: 0 if every request got its reply (or, for messages \
nobody answers, everything was sent), 1 if some got none (or only an ICMP error), 2 on errors."
)]
pub struct SendArgs {
    /// Where to send (address or name).
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Message type: a number or a name (default echo-request).
    #[arg(
        short = 't',
        long = "type",
        value_name = "TYPE",
        default_value = "echo-request",
        value_parser = crate::flags::IcmpTypeArg,
        hide_possible_values = true
    )]
    pub msg_type: String,

    /// Code: a number or a name for the type (default 0).
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,

    /// Identifier (echo, timestamp, information, address mask, extended echo; random by default).
    #[arg(long, value_name = "ID", value_parser = flags::u16_value)]
    pub id: Option<u16>,

    /// Sequence number of the first message (default 1; counts up with --count).
    #[arg(long, value_name = "SEQ", value_parser = flags::u16_value)]
    pub seq: Option<u16>,

    /// Redirect: the gateway address.
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<Ipv4Addr>,

    /// Next-hop MTU (fragmentation needed, packet too big).
    #[arg(long, value_name = "MTU")]
    pub mtu: Option<u32>,

    /// Parameter problem: offset of the faulty byte.
    #[arg(long, value_name = "OFFSET")]
    pub pointer: Option<u32>,

    /// Address mask request/reply: the mask.
    #[arg(long, value_name = "MASK")]
    pub mask: Option<Ipv4Addr>,

    /// Neighbor solicitation/advertisement, redirect: the target address.
    #[arg(long, value_name = "ADDR")]
    pub target: Option<Ipv6Addr>,

    /// ICMPv6 redirect: the redirected destination.
    #[arg(long, value_name = "ADDR")]
    pub destination: Option<Ipv6Addr>,

    /// Timestamp: originate time in ms since midnight UT (default: now).
    #[arg(long, value_name = "MS")]
    pub originate: Option<u32>,

    /// Timestamp: receive time.
    #[arg(long, value_name = "MS")]
    pub receive: Option<u32>,

    /// Timestamp: transmit time.
    #[arg(long, value_name = "MS")]
    pub transmit: Option<u32>,

    /// Extended echo: the L bit, "the interface is on the node asked" (default true).
    #[arg(long, value_name = "BOOL")]
    pub local: Option<bool>,

    /// Extended echo: the interface asked about, by name, ifIndex or address (default: HOST's address).
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,

    /// Bytes 4..8 of the header, for types without named fields (decimal or 0x hex).
    #[arg(long, value_name = "U32", value_parser = flags::u32_value)]
    pub rest_of_header: Option<u32>,

    /// Payload: this text.
    #[arg(long, value_name = "TEXT")]
    pub data: Option<String>,

    /// Payload: these bytes in hex.
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,

    /// Payload: the contents of this file.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Payload: this many bytes of --pattern (default: each byte its
    /// offset); at most 65507 to an IPv4 target, 65527 to an IPv6 one.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(..=65_527))]
    pub size: Option<u16>,

    /// Fill pattern for --size, in hex (e.g. ff00).
    #[arg(long, value_name = "HEX", requires = "size")]
    pub pattern: Option<String>,

    /// IP TTL / hop limit.
    #[arg(long, value_name = "TTL", value_parser = clap::value_parser!(u8).range(1..))]
    pub ttl: Option<u8>,

    /// IP TOS byte / traffic class (decimal or 0x hex).
    #[arg(long, value_name = "TOS", value_parser = flags::tos, allow_negative_numbers = true)]
    pub tos: Option<u8>,

    /// Set the IPv4 don't-fragment bit.
    #[arg(long)]
    pub df: bool,

    /// IPv4 identification (crafts the IP header: needs root).
    #[arg(long, value_name = "ID", value_parser = flags::u16_value)]
    pub ip_id: Option<u16>,

    /// Source address: a local one is used as is; any other is spoofed
    /// through a crafted IP header (needs root), and its answers go there.
    #[arg(long, value_name = "ADDR")]
    pub source: Option<std::net::IpAddr>,

    /// Send from this interface (SO_BINDTODEVICE).
    #[arg(short = 'I', long = "bind-interface", value_name = "IFACE")]
    pub bind_interface: Option<String>,

    /// Messages to send.
    #[arg(short = 'c', long, value_name = "COUNT", default_value_t = 1)]
    pub count: u64,

    /// Seconds between messages.
    #[arg(
        short = 'i',
        long,
        value_name = "SECONDS",
        default_value = "1",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub interval: Duration,

    /// Seconds to wait for answers after each message (default 2 for
    /// requests, 0 for messages nobody answers).
    #[arg(
        short = 'W',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = crate::flags::secs
    )]
    pub timeout: Option<Duration>,

    /// Accept replies from any source address.
    #[arg(long)]
    pub any_source: bool,

    /// -4 / -6.
    #[command(flatten)]
    pub family: crate::flags::FamilyArgs,

    /// Show every field of each packet.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// One JSON object per event per line.
    #[arg(long, conflicts_with = "verbose")]
    pub json: bool,
}
