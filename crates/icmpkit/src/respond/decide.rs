//! What to answer: a request in, a reply (with the delay before it goes
//! out) or a deliberate drop out. No I/O: the clock reading, the random
//! numbers and the interface table come from the caller.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use icmpkit_wire::extension::InterfaceId;
use icmpkit_wire::icmpv4::ExtendedEchoCode;
use icmpkit_wire::{Family, icmpv4, icmpv6};

use crate::engine::clock::{check_option_duration, nanos};
use crate::engine::random::SplitMix64;
use crate::{Error, InvalidReason, Result};

/// What a responder answers, and how it degrades the answers.
#[derive(Debug, Clone, PartialEq)]
pub struct RespondConfig {
    /// Answer echo requests.
    pub echo: bool,
    /// Answer ICMPv4 timestamp requests (Linux answers them itself too,
    /// whatever `icmp_echo_ignore_all` says).
    pub timestamp: bool,
    /// Answer RFC 8335 extended echo requests about local interfaces.
    pub extended_echo: bool,
    /// Wait this long before each answer.
    pub delay: Duration,
    /// Add up to this much (uniformly) to each delay.
    pub jitter: Duration,
    /// Share of requests left unanswered, 0.0 to 1.0.
    pub loss: f64,
}

impl Default for RespondConfig {
    fn default() -> Self {
        RespondConfig {
            echo: true,
            timestamp: false,
            extended_echo: true,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
        }
    }
}

impl RespondConfig {
    /// Rejects a loss outside 0..=1 and a delay or jitter beyond
    /// [`MAX_OPTION_DURATION`](crate::MAX_OPTION_DURATION).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(Error::invalid(
                "loss",
                InvalidReason::BetweenReal {
                    min: 0.0,
                    max: 1.0,
                    got: self.loss,
                },
            ));
        }
        // Bounded, `delay + jitter` and the due time cannot overflow.
        check_option_duration("delay", self.delay)?;
        check_option_duration("jitter", self.jitter)?;
        Ok(())
    }
}

/// The state of an interface an extended echo request asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InterfaceStatus {
    /// Up and running (the A bit).
    pub active: bool,
    /// Has an IPv4 address.
    pub ipv4: bool,
    /// Has an IPv6 address.
    pub ipv6: bool,
}

/// The result of looking an interface up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceLookup {
    /// No interface matches.
    NotFound,
    /// More than one interface matches (an address on several).
    Multiple,
    /// Exactly one matches.
    Found(InterfaceStatus),
}

/// Where interfaces are looked up (the system's table, or a fixed one in
/// tests).
pub trait Interfaces {
    /// The interface `query` names.
    fn lookup(&self, query: &InterfaceId<'_>) -> InterfaceLookup;
}

/// A request as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// Who asked.
    pub from: IpAddr,
    /// The address it was sent to (ours), when known: the ICMPv6 reply's
    /// checksum covers it.
    pub to: Option<IpAddr>,
    /// The ICMP message.
    pub icmp: &'a [u8],
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send `reply` back to the requester after `delay`.
    Answer {
        /// The ICMP reply.
        reply: Vec<u8>,
        /// How long to hold it.
        delay: Duration,
    },
    /// A request we answer, dropped on purpose (`loss`).
    Drop,
    /// Not something we answer (another type, disabled, malformed).
    Ignore,
}

/// Decides answers; its random numbers come from a seedable generator so
/// loss and jitter can be replayed.
#[derive(Debug, Clone)]
pub struct Responder {
    config: RespondConfig,
    rng: SplitMix64,
}

impl Responder {
    /// A responder with a random seed.
    pub fn new(config: RespondConfig) -> Result<Responder> {
        Self::with_rng(config, SplitMix64::from_os())
    }

    /// A responder whose loss and jitter follow `seed`.
    pub fn with_seed(config: RespondConfig, seed: u64) -> Result<Responder> {
        Self::with_rng(config, SplitMix64::seed_from_u64(seed))
    }

    fn with_rng(config: RespondConfig, rng: SplitMix64) -> Result<Responder> {
        config.validate()?;
        Ok(Responder { config, rng })
    }

    /// Decides about `request`; `now_ms` is the time in ms since midnight
    /// UT (for timestamp replies).
    pub fn decide(
        &mut self,
        request: &Request<'_>,
        interfaces: &dyn Interfaces,
        now_ms: u32,
    ) -> Decision {
        let Some(reply) = self.reply(request, interfaces, now_ms) else {
            return Decision::Ignore;
        };
        if self.config.loss > 0.0 && self.rng.next_f64() < self.config.loss {
            return Decision::Drop;
        }
        let jitter = match nanos(self.config.jitter) {
            0 => Duration::ZERO,
            max => Duration::from_nanos(self.rng.up_to(max)),
        };
        Decision::Answer {
            reply,
            delay: self.config.delay + jitter,
        }
    }

    /// The reply the request calls for, `None` when it is not answered.
    fn reply(
        &self,
        request: &Request<'_>,
        interfaces: &dyn Interfaces,
        now_ms: u32,
    ) -> Option<Vec<u8>> {
        match request.family {
            Family::V4 => self.reply_v4(request.icmp, interfaces, now_ms),
            Family::V6 => {
                let IpAddr::V6(requester) = request.from else {
                    return None;
                };
                let ours = match request.to {
                    Some(IpAddr::V6(a)) => a,
                    _ => Ipv6Addr::UNSPECIFIED,
                };
                self.reply_v6(request.icmp, interfaces, &ours, &requester)
            }
        }
    }

    fn reply_v4(&self, icmp: &[u8], interfaces: &dyn Interfaces, now_ms: u32) -> Option<Vec<u8>> {
        use icmpv4::Repr;
        let reply = match Repr::parse_bytes(icmp).ok()? {
            Repr::EchoRequest { id, sequence, data } if self.config.echo => {
                Repr::EchoReply { id, sequence, data }
            }
            Repr::Timestamp {
                reply: false,
                id,
                sequence,
                originate,
                ..
            } if self.config.timestamp => Repr::Timestamp {
                reply: true,
                id,
                sequence,
                originate,
                receive: now_ms,
                transmit: now_ms,
            },
            request @ Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } if self.config.extended_echo => {
                let (code, status, state) = probe_answer(request.interface_id(), local, interfaces);
                Repr::ExtendedEchoReply {
                    code,
                    id,
                    sequence,
                    state,
                    active: status.active,
                    ipv4: status.ipv4,
                    ipv6: status.ipv6,
                }
            }
            _ => return None,
        };
        let mut out = vec![0; reply.buffer_len()];
        reply.emit(&mut out).ok()?;
        Some(out)
    }

    fn reply_v6(
        &self,
        icmp: &[u8],
        interfaces: &dyn Interfaces,
        ours: &Ipv6Addr,
        requester: &Ipv6Addr,
    ) -> Option<Vec<u8>> {
        use icmpv6::Repr;
        let reply = match Repr::parse_bytes(icmp).ok()? {
            Repr::EchoRequest { id, sequence, data } if self.config.echo => {
                Repr::EchoReply { id, sequence, data }
            }
            request @ Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } if self.config.extended_echo => {
                let (code, status, state) = probe_answer(request.interface_id(), local, interfaces);
                Repr::ExtendedEchoReply {
                    code,
                    id,
                    sequence,
                    state,
                    active: status.active,
                    ipv4: status.ipv4,
                    ipv6: status.ipv6,
                }
            }
            _ => return None,
        };
        let mut out = vec![0; reply.buffer_len()];
        // An ICMPv6 raw socket recomputes the checksum with the source it
        // picks; this one is right when `ours` is that source.
        reply.emit(ours, requester, &mut out).ok()?;
        Some(out)
    }
}

/// RFC 8335 §4: the code, interface bits and state of an extended echo
/// reply. Only interfaces of this node are answered for (L bit set), as
/// Linux does; a query about a neighbour gets "no such table entry".
fn probe_answer(
    interface: Option<InterfaceId<'_>>,
    local: bool,
    interfaces: &dyn Interfaces,
) -> (ExtendedEchoCode, InterfaceStatus, u8) {
    let none = InterfaceStatus::default();
    let Some(interface) = interface else {
        return (ExtendedEchoCode::MalformedQuery, none, 0);
    };
    if !local {
        return (ExtendedEchoCode::NoSuchTableEntry, none, 0);
    }
    match interfaces.lookup(&interface) {
        InterfaceLookup::NotFound => (ExtendedEchoCode::NoSuchInterface, none, 0),
        InterfaceLookup::Multiple => (ExtendedEchoCode::MultipleInterfaces, none, 0),
        // State is for neighbours (L clear); a local interface reports 0.
        InterfaceLookup::Found(status) => (ExtendedEchoCode::NoError, status, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craft::{InterfaceQuery, MessageSpec};

    struct OneInterface;

    impl Interfaces for OneInterface {
        fn lookup(&self, query: &InterfaceId<'_>) -> InterfaceLookup {
            let up = InterfaceLookup::Found(InterfaceStatus {
                active: true,
                ipv4: true,
                ipv6: false,
            });
            match query {
                InterfaceId::Name(b"eth0") | InterfaceId::Index(2) => up,
                InterfaceId::Address { .. } if query.ip() == Some("192.0.2.1".parse().unwrap()) => {
                    up
                }
                _ => InterfaceLookup::NotFound,
            }
        }
    }

    const REQUESTER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 2));
    const US: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn answer(responder: &mut Responder, family: Family, icmp: &[u8]) -> Decision {
        let (from, to) = match family {
            Family::V4 => (REQUESTER, US),
            Family::V6 => (
                "2001:db8::2".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
            ),
        };
        let request = Request {
            family,
            from,
            to: Some(to),
            icmp,
        };
        responder.decide(&request, &OneInterface, 1000)
    }

    fn reply_of(d: Decision) -> Vec<u8> {
        match d {
            Decision::Answer { reply, .. } => reply,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn echo_is_answered_with_the_same_id_sequence_and_data() {
        let mut r = Responder::with_seed(RespondConfig::default(), 1).unwrap();
        for family in [Family::V4, Family::V6] {
            let (_, to) = match family {
                Family::V4 => (REQUESTER, US),
                Family::V6 => (REQUESTER, "2001:db8::1".parse().unwrap()),
            };
            let req = MessageSpec::echo_request(family, 77, 5, b"payload")
                .build(None, to)
                .unwrap();
            let reply = reply_of(answer(&mut r, family, &req));
            assert_eq!(reply[0], if family == Family::V4 { 0 } else { 129 });
            assert_eq!(&reply[4..], &req[4..], "id, sequence and data echoed");
        }
        let reply = reply_of(answer(
            &mut r,
            Family::V4,
            &MessageSpec::echo_request(Family::V4, 1, 1, b"x")
                .build(None, US)
                .unwrap(),
        ));
        assert!(icmpkit_wire::checksum::verify(&reply));
    }

    #[test]
    fn timestamp_only_when_enabled_and_with_our_clock() {
        let mut spec = MessageSpec::new(Family::V4, 13);
        spec.id = Some(9);
        spec.originate = Some(123);
        let req = spec.build(None, US).unwrap();
        let mut r = Responder::with_seed(RespondConfig::default(), 1).unwrap();
        assert_eq!(answer(&mut r, Family::V4, &req), Decision::Ignore);
        let config = RespondConfig {
            timestamp: true,
            ..RespondConfig::default()
        };
        let mut r = Responder::with_seed(config, 1).unwrap();
        let reply = reply_of(answer(&mut r, Family::V4, &req));
        match icmpv4::Repr::parse_bytes(&reply).unwrap() {
            icmpv4::Repr::Timestamp {
                reply: true,
                id: 9,
                originate: 123,
                receive: 1000,
                transmit: 1000,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extended_echo_reports_the_interface_or_why_not() {
        let mut r = Responder::with_seed(RespondConfig::default(), 1).unwrap();
        let probe = |interface: &str, local: bool| {
            let mut spec = MessageSpec::new(Family::V4, 42);
            spec.id = Some(4);
            spec.sequence = Some(2);
            spec.local = Some(local);
            spec.interface = Some(interface.parse::<InterfaceQuery>().unwrap());
            spec.build(None, US).unwrap()
        };
        let reply = reply_of(answer(&mut r, Family::V4, &probe("eth0", true)));
        assert_eq!(
            icmpv4::Repr::parse_bytes(&reply).unwrap(),
            icmpv4::Repr::ExtendedEchoReply {
                code: ExtendedEchoCode::NoError,
                id: 4,
                sequence: 2,
                state: 0,
                active: true,
                ipv4: true,
                ipv6: false
            }
        );
        for (query, local, expected) in [
            ("192.0.2.1", true, ExtendedEchoCode::NoError),
            ("eth9", true, ExtendedEchoCode::NoSuchInterface),
            ("eth0", false, ExtendedEchoCode::NoSuchTableEntry),
        ] {
            let reply = reply_of(answer(&mut r, Family::V4, &probe(query, local)));
            assert_eq!(reply[1], u8::from(expected), "{query} local={local}");
        }
        // No interface object at all: malformed query.
        let bare = [42u8, 0, 0, 0, 0, 4, 2, 1];
        let mut bare = bare.to_vec();
        let sum = icmpkit_wire::checksum::checksum(&bare);
        bare[2..4].copy_from_slice(&sum.to_be_bytes());
        let reply = reply_of(answer(&mut r, Family::V4, &bare));
        assert_eq!(reply[1], u8::from(ExtendedEchoCode::MalformedQuery));
    }

    #[test]
    fn loss_drops_about_its_share_and_delay_is_applied() {
        let config = RespondConfig {
            loss: 0.3,
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            ..RespondConfig::default()
        };
        let mut r = Responder::with_seed(config, 42).unwrap();
        let req = MessageSpec::echo_request(Family::V4, 1, 1, b"")
            .build(None, US)
            .unwrap();
        let (mut dropped, mut answered) = (0, 0);
        for _ in 0..2000 {
            match answer(&mut r, Family::V4, &req) {
                Decision::Drop => dropped += 1,
                Decision::Answer { delay, .. } => {
                    answered += 1;
                    assert!(delay >= Duration::from_millis(20));
                    assert!(delay <= Duration::from_millis(25));
                }
                Decision::Ignore => panic!("echo ignored"),
            }
        }
        assert_eq!(dropped + answered, 2000);
        assert!((500..700).contains(&dropped), "{dropped} of 2000 dropped");
        assert!(
            Responder::new(RespondConfig {
                loss: 1.5,
                ..RespondConfig::default()
            })
            .is_err()
        );
    }

    /// `delay + jitter` panicked (and the due time overflowed) for huge
    /// values; they are refused up front, naming the option.
    #[test]
    fn huge_delay_or_jitter_is_refused_by_name() {
        use crate::engine::clock::MAX_OPTION_DURATION;
        for (option, delay, jitter) in [
            ("delay", Duration::MAX, Duration::ZERO),
            ("jitter", Duration::ZERO, Duration::MAX),
            (
                "delay",
                MAX_OPTION_DURATION + Duration::from_nanos(1),
                Duration::ZERO,
            ),
        ] {
            let config = RespondConfig {
                delay,
                jitter,
                ..RespondConfig::default()
            };
            match Responder::with_seed(config, 1) {
                Err(Error::InvalidOption(e)) => assert_eq!(e.option, option, "{e}"),
                other => panic!("{option}: not refused: {other:?}"),
            }
        }
        // Both at the bound: accepted, and the sum does not overflow.
        let config = RespondConfig {
            delay: MAX_OPTION_DURATION,
            jitter: MAX_OPTION_DURATION,
            ..RespondConfig::default()
        };
        let mut r = Responder::with_seed(config, 1).unwrap();
        let req = MessageSpec::echo_request(Family::V4, 1, 1, b"")
            .build(None, US)
            .unwrap();
        match answer(&mut r, Family::V4, &req) {
            Decision::Answer { delay, .. } => assert!(delay >= MAX_OPTION_DURATION),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_messages_and_disabled_types_are_ignored() {
        let config = RespondConfig {
            echo: false,
            ..RespondConfig::default()
        };
        let mut r = Responder::with_seed(config, 1).unwrap();
        let req = MessageSpec::echo_request(Family::V4, 1, 1, b"")
            .build(None, US)
            .unwrap();
        assert_eq!(answer(&mut r, Family::V4, &req), Decision::Ignore);
        let mut r = Responder::with_seed(RespondConfig::default(), 1).unwrap();
        let reply = MessageSpec::new(Family::V4, 0).build(None, US).unwrap();
        assert_eq!(answer(&mut r, Family::V4, &reply), Decision::Ignore);
        assert_eq!(answer(&mut r, Family::V4, &[8, 0]), Decision::Ignore);
    }
}
