//! One-line text of a message, in the style of tcpdump's ICMP6 lines.

use core::fmt;

use super::mld::record_type_name;
use super::names::{ExtendedEchoCode, ParamProblemCode, TimeExceededCode, code_name, type_name};
use super::ndp::{NeighborFlags, RouterFlags};
use super::repr::{Repr, extended_echo_state_name};
use crate::icmpv4::{fmt_extensions, fmt_interface_id};
use crate::quoted::{Quoted, Transport};

/// Writes a kebab-case name with spaces, as tcpdump spells it.
struct Spaced(&'static str);

impl fmt::Display for Spaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in self.0.split('-').enumerate() {
            if part.0 > 0 {
                f.write_str(" ")?;
            }
            f.write_str(part.1)?;
        }
        Ok(())
    }
}

/// Writes `flags [a, b]` for the named bits that are set, nothing when
/// none is.
fn write_flags(f: &mut fmt::Formatter<'_>, set: &[(bool, &str)]) -> fmt::Result {
    let mut first = true;
    for (on, name) in set {
        if *on {
            f.write_str(if first { ", flags [" } else { ", " })?;
            f.write_str(name)?;
            first = false;
        }
    }
    if first { Ok(()) } else { f.write_str("]") }
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ICMP6, ")?;
        self.fmt_summary(f)?;
        write!(f, ", length {}", self.buffer_len())
    }
}

impl Repr<'_> {
    /// What the message says, between "ICMP6, " and ", length N".
    fn fmt_summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repr::DstUnreachable { code, body } => {
                f.write_str("destination unreachable")?;
                match code_name(1, (*code).into()) {
                    Some(name) => write!(f, ", {}", Spaced(name))?,
                    None => write!(f, ", code {}", u8::from(*code))?,
                }
                if let Ok(quoted) = body.quoted() {
                    fmt_quoted_target(f, &quoted)?;
                }
                fmt_extensions(f, body)
            }
            Repr::PacketTooBig { mtu, .. } => write!(f, "packet too big, mtu {mtu}"),
            Repr::TimeExceeded { code, body } => {
                match code {
                    TimeExceededCode::HopLimitExceeded => {
                        f.write_str("time exceeded in-transit")?
                    }
                    TimeExceededCode::FragReassemblyExceeded => {
                        f.write_str("reassembly time exceeded")?
                    }
                    TimeExceededCode::Unknown(c) => write!(f, "time exceeded, code {c}")?,
                }
                if let Ok(quoted) = body.quoted() {
                    write!(f, " for {}", quoted.dst)?;
                }
                fmt_extensions(f, body)
            }
            Repr::ParamProblem { code, pointer, .. } => {
                f.write_str("parameter problem, ")?;
                match code {
                    ParamProblemCode::Unknown(c) => write!(f, "code {c}")?,
                    _ => write!(
                        f,
                        "{}",
                        Spaced(code_name(4, (*code).into()).unwrap_or("unknown"))
                    )?,
                }
                write!(f, " - octet {pointer}")
            }
            Repr::EchoRequest { id, sequence, .. } => {
                write!(f, "echo request, id {id}, seq {sequence}")
            }
            Repr::EchoReply { id, sequence, .. } => {
                write!(f, "echo reply, id {id}, seq {sequence}")
            }
            Repr::RouterSolicit { .. } => f.write_str("router solicitation"),
            Repr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                write!(f, "router advertisement, hop limit {hop_limit}")?;
                write_flags(
                    f,
                    &[
                        (flags.contains(RouterFlags::MANAGED), "managed"),
                        (flags.contains(RouterFlags::OTHER), "other stateful"),
                        (flags.contains(RouterFlags::HOME_AGENT), "home agent"),
                        (flags.contains(RouterFlags::PROXY), "proxy"),
                    ],
                )?;
                write!(
                    f,
                    ", pref {}, router lifetime {router_lifetime}s, reachable time {reachable_time}ms, retrans timer {retrans_time}ms",
                    flags.preference_name()
                )
            }
            Repr::NeighborSolicit { target, .. } => {
                write!(f, "neighbor solicitation, who has {target}")
            }
            Repr::NeighborAdvert { flags, target, .. } => {
                write!(f, "neighbor advertisement, tgt is {target}")?;
                write_flags(
                    f,
                    &[
                        (flags.contains(NeighborFlags::ROUTER), "router"),
                        (flags.contains(NeighborFlags::SOLICITED), "solicited"),
                        (flags.contains(NeighborFlags::OVERRIDE), "override"),
                    ],
                )
            }
            Repr::Redirect {
                target,
                destination,
                ..
            } => write!(f, "redirect, {destination} to {target}"),
            Repr::MldQuery {
                max_response_delay,
                multicast_address,
            } => {
                write!(
                    f,
                    "multicast listener query, max resp delay {max_response_delay}ms, addr {multicast_address}"
                )
            }
            Repr::MldReport { multicast_address } => {
                write!(f, "multicast listener report, addr {multicast_address}")
            }
            Repr::MldDone { multicast_address } => {
                write!(f, "multicast listener done, addr {multicast_address}")
            }
            Repr::Mldv2Query {
                multicast_address,
                sources,
                ..
            } => {
                write!(f, "multicast listener query v2 [gaddr {multicast_address}")?;
                if !sources.is_empty() {
                    write!(f, " {} source(s)", sources.len())?;
                }
                f.write_str("]")
            }
            Repr::Mldv2Report { records } => {
                write!(
                    f,
                    "multicast listener report v2, {} group record(s)",
                    records.len()
                )?;
                for record in records.iter() {
                    match record_type_name(record.record_type) {
                        Some(name) => write!(f, " [{} {}", Spaced(name), record.multicast_address)?,
                        None => write!(
                            f,
                            " [type {} {}",
                            record.record_type, record.multicast_address
                        )?,
                    }
                    if !record.sources.is_empty() {
                        write!(f, " {} source(s)", record.sources.len())?;
                    }
                    f.write_str("]")?;
                }
                Ok(())
            }
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } => {
                write!(f, "extended echo request, id {id}, seq {sequence}")?;
                if *local {
                    f.write_str(", local")?;
                }
                if let Some(interface) = self.interface_id() {
                    f.write_str(", interface ")?;
                    fmt_interface_id(f, &interface)?;
                }
                Ok(())
            }
            Repr::ExtendedEchoReply {
                code,
                id,
                sequence,
                state,
                active,
                ipv4,
                ipv6,
            } => {
                write!(f, "extended echo reply, id {id}, seq {sequence}")?;
                if *code != ExtendedEchoCode::NoError {
                    match code_name(161, (*code).into()) {
                        Some(name) => write!(f, ", {}", Spaced(name))?,
                        None => write!(f, ", code {}", u8::from(*code))?,
                    }
                }
                if let Some(name) = extended_echo_state_name(*state).filter(|_| *state != 0) {
                    write!(f, ", state {name}")?;
                }
                write_flags(f, &[(*active, "active"), (*ipv4, "ipv4"), (*ipv6, "ipv6")])
            }
            Repr::Unknown { msg_type, code, .. } => {
                match type_name(*msg_type) {
                    Some(name) => write!(f, "{}", Spaced(name))?,
                    None => write!(f, "type {msg_type}")?,
                }
                write!(f, ", code {code}")
            }
        }
    }
}

/// `, <dst>` and, when the quoted transport says, ` udp port N`, `tcp port
/// N` or ` echo id N seq M`: which probe the error is about.
fn fmt_quoted_target(f: &mut fmt::Formatter<'_>, quoted: &Quoted<'_>) -> fmt::Result {
    write!(f, ", {}", quoted.dst)?;
    match quoted.transport {
        Transport::Udp { dst_port, .. } => write!(f, " udp port {dst_port}"),
        Transport::Tcp { dst_port, .. } => write!(f, " tcp port {dst_port}"),
        Transport::Echo { id, sequence, .. } => write!(f, " echo id {id} seq {sequence}"),
        Transport::Other { .. } => Ok(()),
    }
}
