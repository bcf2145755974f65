//! Typed errors, along icmplib's hierarchy: permission, name/address,
//! socket unavailable, broadcast, timeout, ICMP error replies.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::Family;

/// Everything that can go wrong in icmpkit's library calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No ICMP socket could be opened for lack of privilege. The message
    /// says exactly how to grant it.
    #[error("{0}")]
    Permission(PermissionHint),
    /// A host name did not resolve, or resolved to no address of the
    /// requested family.
    #[error("cannot resolve {name:?}: {reason}")]
    NameLookup {
        /// The name as given.
        name: String,
        /// Why it failed.
        reason: String,
    },
    /// The target or an option is not a usable address (bad syntax, wrong
    /// family, unknown zone/interface).
    #[error("invalid address {input:?}: {reason}")]
    Address {
        /// The input as given.
        input: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The target is a broadcast address and broadcast was not asked for
    /// (`-b`).
    #[error("{0} is a broadcast address; pinging it must be asked for (SocketOptions::broadcast)")]
    Broadcast(IpAddr),
    /// A socket could not be created or configured for another reason
    /// (address family unsupported, device missing, option refused...).
    #[error("socket unavailable: {context}: {source}")]
    SocketUnavailable {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An I/O error while sending or receiving.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Bytes that do not parse as the packet they should be, or a message
    /// the packet model cannot build (from icmpkit-wire).
    #[error("packet: {0}")]
    Wire(#[from] icmpkit_wire::Error),
    /// An address or a prefix that does not parse (`?` on
    /// `str::parse::<IpAddr>()` and friends).
    #[error("invalid address: {0}")]
    AddressSyntax(#[from] std::net::AddrParseError),
    /// A network prefix that does not parse (`"192.0.2.0/33".parse::<IpNet>()`).
    #[error("invalid prefix: {0}")]
    PrefixSyntax(#[from] ipnet::AddrParseError),
    /// An option value is out of range or contradicts another: which
    /// option and why, to match on.
    #[error("invalid option: {0}")]
    InvalidOption(InvalidOption),
    /// A `*_blocking` function was called inside a tokio runtime, where
    /// it would block the runtime's thread: await the async form instead.
    #[error(
        "a *_blocking function was called inside a tokio runtime: await the async form \
         (ping, multiping, traceroute, send_and_receive) instead"
    )]
    BlockingInRuntime,
}

impl Error {
    /// The error for `option`, refused for `reason`.
    pub fn invalid(option: &'static str, reason: InvalidReason) -> Error {
        Error::InvalidOption(InvalidOption { option, reason })
    }

    /// The refused option and why, if this is [`Error::InvalidOption`].
    pub fn invalid_option(&self) -> Option<&InvalidOption> {
        match self {
            Error::InvalidOption(invalid) => Some(invalid),
            _ => None,
        }
    }
}

/// An option value icmpkit refuses: which option, and why. `Display`
/// reads `<option> <reason>` (`count must be at least 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidOption {
    /// The option as the library names it: a field of the options
    /// (`count`, `ttl`, `timeout`, `batch`...) or of a crafted message
    /// (`gateway`, `seq`, `pointer`...), never a command-line flag.
    pub option: &'static str,
    /// Why it is refused.
    pub reason: InvalidReason,
}

impl fmt::Display for InvalidOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.option, self.reason)
    }
}

/// Why an option is refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Below the smallest value that works.
    AtLeast {
        /// The smallest value accepted.
        min: u64,
    },
    /// Outside `min..=max`.
    Between {
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
        /// The value given, when known.
        got: Option<u64>,
    },
    /// An echo payload outside `min..=max`, `max` being the most one packet
    /// of `family` carries.
    PayloadFor {
        /// The smallest payload accepted.
        min: u64,
        /// The largest payload one packet of `family` carries.
        max: u64,
        /// The payload asked for.
        got: u64,
        /// The family whose limit it is.
        family: Family,
    },
    /// A real number outside `min..=max` (or not a number).
    BetweenReal {
        /// The smallest value accepted.
        min: f64,
        /// The largest value accepted.
        max: f64,
        /// The value given.
        got: f64,
    },
    /// Zero where only a positive value works (a timeout).
    Zero,
    /// A duration longer than icmpkit schedules.
    TooLong {
        /// The longest accepted.
        max: Duration,
        /// The duration given.
        got: Duration,
    },
    /// A field of a crafted message holding more than its bits.
    Bits {
        /// The field's width.
        bits: u32,
        /// The message, named (`ICMPv4 extended-echo-request (type 42)`).
        message: String,
    },
    /// An address of the other family than the one needed.
    WrongFamily {
        /// The family needed.
        expected: Family,
        /// The address given.
        got: IpAddr,
    },
    /// Something only IPv4 has; `what` completes the sentence (`is an
    /// IPv4 header field...`).
    Ipv4Only {
        /// What the option is, in IPv4 terms.
        what: &'static str,
    },
    /// Cannot be used together with the other thing named.
    Conflicts {
        /// What it conflicts with.
        with: &'static str,
    },
    /// A field the crafted message's type does not carry.
    NotAField {
        /// The message type, named.
        message: String,
        /// The fields it does carry.
        fields: Vec<&'static str>,
    },
    /// A name (of an ICMP type or code) that is not known.
    UnknownName {
        /// The name given.
        name: String,
        /// Where names come from (`for ICMPv4 destination-unreachable (type 3)`).
        context: String,
    },
    /// A type name of the other ICMP family than the destination's.
    OtherFamily {
        /// The name given.
        name: String,
        /// The destination's family.
        destination: Family,
    },
    /// Not a Linux interface name (1 to 15 bytes).
    InterfaceName {
        /// The name given.
        name: String,
    },
    /// Data that must be NDP options and does not parse as them.
    NotNdpOptions(icmpkit_wire::Error),
    /// The message cannot be built (the packet model's reason).
    Unbuildable(icmpkit_wire::Error),
    /// More than can be numbered or scheduled.
    TooMany {
        /// The limit, in words.
        limit: &'static str,
    },
    /// Something a message spec has no field for.
    NotExpressible {
        /// What the message carries.
        what: &'static str,
    },
    /// Needs a raw socket (the unprivileged kind cannot do it).
    NeedsRawSocket {
        /// Why.
        why: &'static str,
    },
    /// Nothing chosen (neither IPv4 nor IPv6).
    NothingChosen,
}

/// Refuses an echo payload (`payload_size`) below `min` or above what one
/// packet of `family` carries (`Family::max_icmp_data`: iputils' limits):
/// the one check ping and sweep make.
pub(crate) fn check_payload_size(size: usize, min: usize, family: Family) -> Result<()> {
    let max = family.max_icmp_data();
    if (min..=max).contains(&size) {
        return Ok(());
    }
    Err(Error::invalid(
        "payload_size",
        InvalidReason::PayloadFor {
            min: min as u64,
            max: max as u64,
            got: size as u64,
            family,
        },
    ))
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use InvalidReason::*;
        match self {
            AtLeast { min } => write!(f, "must be at least {min}"),
            Between { min, max, got } => {
                write!(f, "must be between {min} and {max}")?;
                match got {
                    Some(got) => write!(f, " (got {got})"),
                    None => Ok(()),
                }
            }
            PayloadFor {
                min,
                max,
                got,
                family,
            } => write!(
                f,
                "must be between {min} and {max} for {} (got {got})",
                family_name(*family)
            ),
            BetweenReal { min, max, got } => {
                write!(f, "must be between {min:?} and {max:?} (got {got})")
            }
            Zero => f.write_str("must be above 0"),
            TooLong { max, got } => write!(
                f,
                "must be at most {} s (got {} s)",
                max.as_secs(),
                got.as_secs_f64()
            ),
            Bits { bits, message } => {
                let max = 1u64.checked_shl(*bits).map_or(u64::MAX, |v| v - 1);
                write!(f, "of {message} is {bits} bits (0 to {max})")
            }
            WrongFamily { expected, got } => {
                write!(
                    f,
                    "must be an {} address, not {got}",
                    family_name(*expected)
                )
            }
            Ipv4Only { what } => f.write_str(what),
            Conflicts { with } => write!(f, "cannot be combined with {with}"),
            NotAField { message, fields } => {
                write!(f, "does not go with {message} (its fields: ")?;
                match fields.is_empty() {
                    true => f.write_str("none")?,
                    false => f.write_str(&fields.join(", "))?,
                }
                f.write_str(")")
            }
            UnknownName { name, context } => write!(f, "{name:?} is unknown {context}"),
            OtherFamily { name, destination } => {
                let (icmp, ip) = match destination {
                    Family::V4 => ("ICMPv6", "IPv4"),
                    Family::V6 => ("ICMPv4", "IPv6"),
                };
                write!(f, "{name} is an {icmp} type, but the destination is {ip}")
            }
            InterfaceName { name } => write!(
                f,
                "{name:?} is not a valid Linux interface name (1 to 15 bytes)"
            ),
            NotNdpOptions(e) => write!(f, "of an NDP message must be NDP options: {e}"),
            Unbuildable(e) => write!(f, "cannot be built: {e}"),
            TooMany { limit } => write!(f, "are too many ({limit})"),
            NotExpressible { what } => write!(
                f,
                "spec cannot carry {what}; emit the message with the wire crate instead"
            ),
            NeedsRawSocket { why } => write!(f, "needs a raw socket (CAP_NET_RAW): {why}"),
            NothingChosen => f.write_str("must include IPv4 or IPv6: nothing to do"),
        }
    }
}

/// Why no ICMP socket could be opened, with the remedies for this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionHint {
    /// IPv6 or IPv4.
    pub ipv6: bool,
    /// The kinds of socket that were tried: raw only (`Privileged`),
    /// datagram only (`Unprivileged`), or both (`Auto`); the remedies
    /// named are those for the kinds tried.
    pub tried: crate::socket::Privilege,
    /// The `net.ipv4.ping_group_range` read from /proc, if readable.
    pub ping_group_range: Option<(u32, u32)>,
    /// The caller's effective group id.
    pub gid: u32,
}

/// One way to get the privilege an ICMP socket needs. The library cannot
/// know how its program is installed or run: [`PermissionHint::worded`]
/// (or the caller itself) words these for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Remedy {
    /// Give the program `CAP_NET_RAW`, which raw sockets need.
    CapNetRaw,
    /// Let every group open unprivileged ICMP (datagram) sockets, IPv4
    /// and IPv6, through `net.ipv4.ping_group_range`.
    PingGroupRange,
    /// Run the program as root.
    Root,
}

impl Remedy {
    /// The shell command, `program` standing for the program's path (a
    /// path or a shell expression such as `"$(command -v ping)"`).
    pub fn command(self, program: &str) -> String {
        match self {
            Remedy::CapNetRaw => format!("sudo setcap cap_net_raw+ep {program}"),
            Remedy::PingGroupRange => {
                "sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"".to_string()
            }
            Remedy::Root => format!("sudo {program} ..."),
        }
    }

    /// What it allows.
    pub fn effect(self) -> &'static str {
        match self {
            Remedy::CapNetRaw => "allow raw sockets for the program",
            Remedy::PingGroupRange => "allow unprivileged ICMP sockets (IPv4 and IPv6)",
            Remedy::Root => "or run it as root",
        }
    }
}

impl PermissionHint {
    /// Whether raw and datagram sockets were tried.
    fn tried_kinds(&self) -> (bool, bool) {
        use crate::socket::Privilege;
        match self.tried {
            Privilege::Auto | Privilege::PreferRaw => (true, true),
            Privilege::Privileged => (true, false),
            Privilege::Unprivileged => (false, true),
        }
    }

    /// The remedies for the socket kinds tried, most specific first.
    pub fn remedies(&self) -> Vec<Remedy> {
        let (raw, datagram) = self.tried_kinds();
        let mut remedies = Vec::new();
        if raw {
            remedies.push(Remedy::CapNetRaw);
        }
        if datagram {
            remedies.push(Remedy::PingGroupRange);
        }
        remedies.push(Remedy::Root);
        remedies
    }

    /// The message with its remedies as commands naming `program`.
    /// `Display` names the running executable.
    pub fn worded<'a>(&'a self, program: &'a str) -> impl fmt::Display + 'a {
        WordedHint {
            hint: self,
            program,
        }
    }
}

struct WordedHint<'a> {
    hint: &'a PermissionHint,
    program: &'a str,
}

impl fmt::Display for WordedHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = self.hint;
        let family = if hint.ipv6 { "ICMPv6" } else { "ICMP" };
        let (raw, datagram) = hint.tried_kinds();
        // Root refused: "run it as root" would send the reader in circles.
        let as_root = nix::unistd::geteuid().is_root();
        write!(f, "permission denied: cannot open an {family} socket.")?;
        if raw {
            write!(f, " Raw sockets need CAP_NET_RAW")?;
            if as_root {
                write!(
                    f,
                    ", which this process lacks although it runs as root (a container, a user \
                     namespace or the capability bounding set withholds it: grant it there)"
                )?;
            }
            if !datagram {
                write!(f, " (this needs a raw socket)")?;
            }
            write!(f, ".")?;
        }
        if datagram {
            write!(
                f,
                " Unprivileged ICMP sockets are not allowed for group {}",
                hint.gid
            )?;
            match hint.ping_group_range {
                Some((lo, hi)) => write!(f, " (net.ipv4.ping_group_range = {lo} {hi}).")?,
                None => write!(f, " (net.ipv4.ping_group_range unreadable).")?,
            }
        }
        write!(f, " Fix one of:")?;
        for remedy in hint.remedies() {
            match remedy {
                Remedy::Root if as_root => {}
                Remedy::Root => write!(f, "\n  {}", remedy.effect())?,
                _ => write!(
                    f,
                    "\n  {}   # {}",
                    remedy.command(self.program),
                    remedy.effect()
                )?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for PermissionHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = std::env::current_exe()
            .ok()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| "PROGRAM".to_string());
        write!(f, "{}", self.worded(&program))
    }
}

/// Result with icmpkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
