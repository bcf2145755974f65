//! `icmpkit decode` flags.

use std::path::PathBuf;

use clap::Args;

/// Decode ICMP/ICMPv6 packets from a capture file or from hex.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Input: -r FILE reads pcap or pcapng (Ethernet, Linux cooked v1/v2, raw IP, loopback link \
types; '-' is stdin). Otherwise each HEX argument is one packet, or, with none, stdin is read: \
a capture file if it starts with a pcap/pcapng magic number, else hex text (one packet per \
line, or tcpdump -x/-xx dumps). Hex may be an Ethernet frame, an IP packet or a bare ICMP \
message: it is detected. Hex without a single digit ('', blanks) is refused.

Exit status: 0 when every input was read, 2 on unreadable input (what came before is printed).")]
pub struct DecodeArgs {
    /// Packets in hex (Ethernet frame, IP packet or ICMP message).
    #[arg(value_name = "HEX", conflicts_with = "read")]
    pub hex: Vec<String>,

    /// Read a pcap or pcapng file ('-' for stdin).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// Print every field as a tree under each packet's line.
    #[arg(short = 'v', long = "verbose", conflicts_with = "json")]
    pub verbose: bool,

    /// One JSON object per ICMP packet (schema in the README).
    #[arg(long = "json")]
    pub json: bool,

    /// Bare ICMP messages in hex are ICMPv4 (default: by type, 128 and up is ICMPv6).
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Bare ICMP messages in hex are ICMPv6.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Do not print the counts at the end (on stderr).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}
