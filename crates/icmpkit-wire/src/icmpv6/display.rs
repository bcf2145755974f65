//! One-line text of a message, as tcpdump prints ICMP6 lines.
//!
//! The words are tcpdump's (`print-icmp6.c`) wherever tcpdump prints the
//! message, so that lines can be compared with a capture; where tcpdump
//! shows only a type (router advertisement, MLDv2 report records, neighbor
//! flags) the details it prints with `-v` are added, and codes it does not
//! know (destination unreachable 5-8, parameter problem 4-10) get their
//! IANA names.

use core::fmt;

use super::mld::MldRecords;
use super::names::{
    DstUnreachableCode, ExtendedEchoCode, ParamProblemCode, TimeExceededCode, code_name, type_name,
};
use super::ndp::{NeighborFlags, RouterFlags};
use super::repr::{Repr, extended_echo_state_name};
use crate::display::{Spaced, fmt_extensions};
use crate::extended_echo;
use crate::extension::ErrorBody;
use crate::quoted::{Quoted, Transport};

/// Writes `, Flags [a, b]` for the named bits that are set, nothing when
/// none is (tcpdump's `-v` form).
fn write_flags(f: &mut fmt::Formatter<'_>, set: &[(bool, &str)]) -> fmt::Result {
    let mut first = true;
    for (on, name) in set {
        if *on {
            f.write_str(if first { ", Flags [" } else { ", " })?;
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
            Repr::DstUnreachable { code, body } => fmt_unreachable(f, *code, body),
            Repr::PacketTooBig { mtu, .. } => write!(f, "packet too big, mtu {mtu}"),
            Repr::TimeExceeded { code, body } => {
                f.write_str("time exceeded in-transit")?;
                match code {
                    TimeExceededCode::HopLimitExceeded => {
                        if let Ok(quoted) = body.quoted() {
                            write!(f, " for {}", quoted.dst)?;
                        }
                    }
                    TimeExceededCode::FragReassemblyExceeded => f.write_str(" (reassembly)")?,
                    TimeExceededCode::Unknown(c) => write!(f, ", unknown code ({c})")?,
                }
                fmt_extensions(f, body)
            }
            Repr::ParamProblem { code, pointer, .. } => {
                f.write_str("parameter problem, ")?;
                match code {
                    ParamProblemCode::ErroneousHeaderField => f.write_str("erroneous")?,
                    ParamProblemCode::UnrecognizedNextHeader => f.write_str("next header")?,
                    ParamProblemCode::UnrecognizedOption => f.write_str("option")?,
                    ParamProblemCode::IncompleteHeaderChain => {
                        f.write_str("incomplete header chain")?
                    }
                    ParamProblemCode::Unknown(c) => write!(f, "code-#{c}")?,
                    named => write!(
                        f,
                        "{}",
                        Spaced(code_name(4, (*named).into()).unwrap_or("unknown"))
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
            // tcpdump runs "query" and "max" together; the space is ours.
            Repr::MldQuery {
                max_response_delay,
                multicast_address,
            } => {
                write!(
                    f,
                    "multicast listener query max resp delay: {max_response_delay} addr: {multicast_address}"
                )
            }
            Repr::MldReport { multicast_address } => {
                write!(f, "multicast listener report addr: {multicast_address}")
            }
            Repr::MldDone { multicast_address } => {
                write!(f, "multicast listener done addr: {multicast_address}")
            }
            Repr::Mldv2Query {
                multicast_address,
                sources,
                ..
            } => {
                write!(f, "multicast listener query v2 [gaddr {multicast_address}")?;
                if !sources.is_empty() {
                    write!(f, ", {} source(s)", sources.len())?;
                }
                f.write_str("]")
            }
            Repr::Mldv2Report { records } => fmt_mldv2_report(f, records),
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } => extended_echo::fmt_request(f, *id, *sequence, *local, self.interface_id()),
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
                        None => write!(f, ", unknown code ({})", u8::from(*code))?,
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
                    None => write!(f, "unknown icmp6 type ({msg_type})")?,
                }
                write!(f, ", code {code}")
            }
        }
    }
}

/// tcpdump's destination unreachable words, then the quoted destination
/// (and port, for port unreachable) when the quoted packet parses.
fn fmt_unreachable(
    f: &mut fmt::Formatter<'_>,
    code: DstUnreachableCode,
    body: &ErrorBody<'_>,
) -> fmt::Result {
    f.write_str("destination unreachable, ")?;
    let quoted = body.quoted().ok();
    match code {
        DstUnreachableCode::NoRoute => f.write_str("unreachable route")?,
        DstUnreachableCode::AdminProhibited => f.write_str("unreachable prohibited")?,
        DstUnreachableCode::BeyondScope => f.write_str("beyond scope")?,
        DstUnreachableCode::AddressUnreachable => f.write_str("unreachable address")?,
        DstUnreachableCode::PortUnreachable => {
            f.write_str("unreachable port")?;
            if let Some(q) = quoted {
                write!(f, ", {}", q.dst)?;
                fmt_port(f, &q)?;
            }
            return fmt_extensions(f, body);
        }
        DstUnreachableCode::Unknown(c) => write!(f, "unknown unreach code ({c})")?,
        named => write!(
            f,
            "{}",
            Spaced(code_name(1, named.into()).unwrap_or("unknown"))
        )?,
    }
    if let Some(q) = quoted {
        write!(f, " {}", q.dst)?;
        if code == DstUnreachableCode::BeyondScope {
            write!(f, ", source address {}", q.src)?;
        }
    }
    fmt_extensions(f, body)
}

/// ` udp port N`, ` tcp port N` or ` echo id N seq M`: which probe a port
/// unreachable is about.
fn fmt_port(f: &mut fmt::Formatter<'_>, quoted: &Quoted<'_>) -> fmt::Result {
    match quoted.transport {
        Transport::Udp { dst_port, .. } => write!(f, " udp port {dst_port}"),
        Transport::Tcp { dst_port, .. } => write!(f, " tcp port {dst_port}"),
        Transport::Echo { id, sequence, .. } => write!(f, " echo id {id} seq {sequence}"),
        Transport::Other { .. } => Ok(()),
    }
}

/// tcpdump's `-v` form: the record count, then `[gaddr G is_in, N
/// source(s)]` per record.
fn fmt_mldv2_report(f: &mut fmt::Formatter<'_>, records: &MldRecords<'_>) -> fmt::Result {
    write!(
        f,
        "multicast listener report v2, {} group record(s)",
        records.len()
    )?;
    for record in records.iter() {
        write!(f, " [gaddr {} ", record.multicast_address)?;
        match record.record_type {
            1 => f.write_str("is_in")?,
            2 => f.write_str("is_ex")?,
            3 => f.write_str("to_in")?,
            4 => f.write_str("to_ex")?,
            5 => f.write_str("allow")?,
            6 => f.write_str("block")?,
            other => write!(f, "[v2-report-#{other}]")?,
        }
        write!(f, ", {} source(s)]", record.sources.len())?;
    }
    Ok(())
}
