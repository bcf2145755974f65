//! Sending crafted messages and collecting what answers them: the entry
//! points ([`Sender`], [`send_and_receive`]). The I/O is the generic
//! driver's; craft's own logic is its pure protocol (`protocol.rs`: what to
//! send when, matching through [`Probe`], timeouts) and the crafted IP
//! header is a detail of its transport (`transport.rs`).

use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use icmpkit_wire::Family;

use crate::driver::{Driver, IcmpTransport, StopHandle, TransportCounters};
use crate::resolve::{ToTarget, family_of, resolve};
use crate::socket::{
    AsyncRawIpSocket, IcmpSocket, PmtuDisc, Privilege, RawIpSocket, SocketOptions, TypeFilter,
};
use crate::{Error, InvalidReason, Result};

use super::matcher::AnswerKind;
#[cfg(doc)]
use super::matcher::Probe;
use super::message::{MessageSpec, reply_type};
use super::options::{IpOptions, SendOptions};
use super::protocol::CraftProtocol;
use super::transport::CraftTransport;
#[cfg(test)]
use super::transport::ip_packet;

/// A message that answered one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Which send it answers (0-based).
    pub index: u64,
    /// A reply, or an error quoting our message.
    pub kind: AnswerKind,
    /// Who sent it.
    pub from: IpAddr,
    /// The address it was sent to.
    pub to: Option<IpAddr>,
    /// Its TTL / hop limit as received.
    pub ttl: Option<u8>,
    /// Time from our send to its arrival (kernel stamps when consistent).
    pub rtt: Duration,
    /// The ICMP message (from its type byte).
    pub message: Vec<u8>,
    /// Not the first answer to that send.
    pub duplicate: bool,
}

/// What happens during a run, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEvent {
    /// A message left.
    Sent {
        /// Its number (0-based).
        index: u64,
        /// The ICMP message as built (for ICMPv6 the kernel may redo the
        /// checksum).
        message: Vec<u8>,
    },
    /// The kernel refused a send.
    SendError {
        /// Its number.
        index: u64,
        /// Why.
        error: String,
    },
    /// Something answered.
    Answer(Answer),
    /// A request got no answer in time.
    Timeout {
        /// Its number.
        index: u64,
    },
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SendReport {
    /// Messages sent.
    pub sent: u64,
    /// Sends that got at least one answer.
    pub answered: u64,
    /// Replies received (duplicates included).
    pub replies: u64,
    /// Errors quoting our messages received.
    pub errors: u64,
}

/// Sends a crafted message `count` times and hands out what happens as
/// [`SendEvent`]s: scapy's `sr` on real sockets. Pull events with
/// [`Sender::next_event`] or as a `futures_core::Stream`; stop it from
/// elsewhere with [`Sender::stop_handle`].
#[derive(Debug)]
pub struct Sender {
    driver: Driver<CraftProtocol, CraftTransport>,
}

impl Sender {
    /// Checks the message against its type, opens the sockets (a raw ICMP
    /// socket to send and hear answers, plus a raw IP socket when the IP
    /// header is crafted) and is ready to send. Needs a tokio runtime.
    pub fn open(spec: MessageSpec, dst: IpAddr, opts: &SendOptions) -> Result<Sender> {
        let mut opts = opts.clone();
        opts.ip.ttl = opts
            .ip
            .ttl
            .or(default_hop_limit(spec.family, spec.msg_type));
        if family_of(dst) != spec.family {
            return Err(Error::invalid(
                "destination",
                InvalidReason::WrongFamily {
                    expected: spec.family,
                    got: dst,
                },
            ));
        }
        spec.validate()?;
        opts.validate()?;
        check_ip_options(spec.family, &opts.ip)?;
        let crafted_header = needs_crafted_header(&opts.ip)?;
        if crafted_header && opts.scope_id != 0 {
            return Err(Error::invalid(
                "scope_id",
                InvalidReason::Conflicts {
                    with: "a crafted IP header (an IP id, or a source address the host does \
                           not have)",
                },
            ));
        }
        let raw_ip = crafted_header
            .then(|| RawIpSocket::open(spec.family).and_then(AsyncRawIpSocket::register))
            .transpose()?;
        let socket_opts = SocketOptions {
            ttl: opts.ip.ttl,
            tos: opts.ip.tos,
            pmtu: opts.ip.dont_fragment.map(|df| match df {
                true => PmtuDisc::Do,
                false => PmtuDisc::Dont,
            }),
            // A spoofed source cannot be bound; it is written in the header.
            source: opts.ip.source.filter(|_| !crafted_header),
            interface: opts.ip.interface.clone(),
            type_filter: Some(TypeFilter::pass_all()),
            ..SocketOptions::default()
        };
        let socket = IcmpSocket::open(spec.family, Privilege::Privileged, &socket_opts)?;
        let id = spec.id.unwrap_or_else(crate::engine::random::random);
        let transport = CraftTransport::new(
            IcmpTransport::new(socket)?,
            raw_ip.map(|raw| (raw, opts.ip.clone())),
        );
        let protocol = CraftProtocol::new(spec, dst, opts, id);
        Ok(Sender {
            driver: Driver::new(protocol, transport, RECV_LEN),
        })
    }

    /// The identifier the messages carry (given, or chosen at random).
    pub fn id(&self) -> u16 {
        self.driver.protocol().id()
    }

    /// Whether the IP header is crafted (raw IP socket).
    pub fn crafts_ip_header(&self) -> bool {
        self.driver.transport().crafts_ip_header()
    }

    /// Totals so far.
    pub fn report(&self) -> SendReport {
        self.driver.protocol().report()
    }

    /// The message of send number `index`, as [`Sender`] fills it in: the
    /// chosen id, and the sequence counting up from the one given (1 by
    /// default).
    pub fn message_for(&self, index: u64) -> MessageSpec {
        self.driver.protocol().message_for(index)
    }

    /// A handle that stops this run from another task or thread: no more
    /// sends, the answers not yet in are not waited for, and the event
    /// stream ends.
    pub fn stop_handle(&self) -> StopHandle {
        self.driver.stop_handle()
    }

    /// Receive errors and full-buffer waits the driver met so far.
    pub fn transport_counters(&self) -> TransportCounters {
        self.driver.counters()
    }

    /// The next event, `None` when every message is sent and answered or
    /// timed out. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<SendEvent> {
        self.driver.next_event().await
    }
}

impl futures_core::Stream for Sender {
    type Item = SendEvent;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<SendEvent>> {
        self.get_mut().driver.poll_event(cx)
    }
}

/// Largest packet read whole.
const RECV_LEN: usize = 65_536;

/// IPv4-only options on IPv6, and addresses of the wrong family.
fn check_ip_options(family: Family, ip: &IpOptions) -> Result<()> {
    if family == Family::V6 {
        if ip.ip_id.is_some() {
            return Err(Error::invalid(
                "ip-id",
                InvalidReason::Ipv4Only {
                    what: "is an IPv4 header field (IPv6 has no identification outside fragments)",
                },
            ));
        }
        if ip.dont_fragment.is_some() {
            return Err(Error::invalid(
                "df",
                InvalidReason::Ipv4Only {
                    what: "is an IPv4 header bit (IPv6 routers never fragment)",
                },
            ));
        }
    }
    if let Some(s) = ip.source
        && family_of(s) != family
    {
        return Err(Error::invalid(
            "source",
            InvalidReason::WrongFamily {
                expected: family,
                got: s,
            },
        ));
    }
    if ip.ttl == Some(0) {
        return Err(Error::invalid(
            "ttl",
            InvalidReason::Between {
                min: 1,
                max: 255,
                got: Some(0),
            },
        ));
    }
    Ok(())
}

/// The hop limit NDP messages (router and neighbor solicitations and
/// advertisements, redirects: ICMPv6 133 to 137) must carry: receivers
/// drop them with any other (RFC 4861 §6.1.1, §7.1.1, §8.1), so it is
/// their default instead of the socket's (64, or 1 for multicast).
const NDP_HOP_LIMIT: u8 = 255;

/// The hop limit a message of `msg_type` gets when none is asked for:
/// [`NDP_HOP_LIMIT`] for NDP, the socket's own otherwise.
fn default_hop_limit(family: Family, msg_type: u8) -> Option<u8> {
    let ndp = family == Family::V6 && (133..=137).contains(&msg_type);
    ndp.then_some(NDP_HOP_LIMIT)
}

/// A crafted IP header is needed for an IP identification or a source the
/// host does not have (binding to it fails with `EADDRNOTAVAIL`).
fn needs_crafted_header(ip: &IpOptions) -> Result<bool> {
    if ip.ip_id.is_some() {
        return Ok(true);
    }
    let Some(source) = ip.source else {
        return Ok(false);
    };
    match UdpSocket::bind((source, 0)) {
        Ok(_) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(true),
        Err(e) => Err(Error::Address {
            input: source.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Sends `spec` to `dst` (an address, or a name resolved in the message's
/// family; an IPv6 zone such as `fe80::1%eth0` sets the scope) as `opts`
/// says and returns every answer: the whole run at once.
pub async fn send_and_receive(
    spec: MessageSpec,
    dst: impl ToTarget,
    opts: &SendOptions,
) -> Result<(Vec<Answer>, SendReport)> {
    let target = resolve(&dst.target_text(), Some(spec.family)).await?;
    let mut opts = opts.clone();
    if opts.scope_id == 0 {
        opts.scope_id = target.scope_id;
    }
    let mut sender = Sender::open(spec, target.address, &opts)?;
    let mut answers = Vec::new();
    while let Some(event) = sender.next_event().await {
        if let SendEvent::Answer(a) = event {
            answers.push(a);
        }
    }
    Ok((answers, sender.report()))
}

/// Blocking form of [`send_and_receive`] (runs its own runtime).
pub fn send_and_receive_blocking(
    spec: MessageSpec,
    dst: impl ToTarget,
    opts: &SendOptions,
) -> Result<(Vec<Answer>, SendReport)> {
    crate::blocking::run(send_and_receive(spec, dst, opts))
}

/// Whether messages of `spec`'s type get a reply (so a caller knows
/// whether waiting makes sense beyond errors).
pub fn expects_reply(spec: &MessageSpec) -> bool {
    reply_type(spec.family, spec.msg_type).is_some()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use icmpkit_wire::ip::ipv4;

    use super::*;

    #[test]
    fn huge_interval_or_timeout_is_refused_before_any_socket() {
        let spec = MessageSpec::echo_request(Family::V4, 1, 1, b"abcd");
        let dst: IpAddr = "127.0.0.1".parse().unwrap();
        for option in ["interval", "timeout"] {
            let mut opts = SendOptions::default();
            match option {
                "interval" => opts.interval = Duration::MAX,
                _ => opts.timeout = Duration::MAX,
            }
            // `Instant::now() + Duration::MAX` panicked at the first send.
            let err = Sender::open(spec.clone(), dst, &opts).unwrap_err();
            assert!(
                err.invalid_option().is_some_and(|e| e.option == option),
                "{option}: {err}"
            );
        }
        assert!(SendOptions::default().validate().is_ok());
    }

    #[test]
    fn ipv4_only_options_are_refused_on_ipv6() {
        let ip = IpOptions {
            ip_id: Some(1),
            ..IpOptions::default()
        };
        assert!(check_ip_options(Family::V6, &ip).is_err());
        assert!(check_ip_options(Family::V4, &ip).is_ok());
        let ip = IpOptions {
            source: Some("192.0.2.1".parse().unwrap()),
            ..IpOptions::default()
        };
        assert!(check_ip_options(Family::V6, &ip).is_err());
    }

    #[test]
    fn a_foreign_source_or_an_ip_id_needs_a_crafted_header() {
        assert!(!needs_crafted_header(&IpOptions::default()).unwrap());
        let local = IpOptions {
            source: Some("127.0.0.1".parse().unwrap()),
            ..IpOptions::default()
        };
        assert!(!needs_crafted_header(&local).unwrap());
        let foreign = IpOptions {
            source: Some("192.0.2.77".parse().unwrap()),
            ..IpOptions::default()
        };
        assert!(needs_crafted_header(&foreign).unwrap());
    }

    #[test]
    fn crafted_ipv4_header_carries_the_fields() {
        let spec = MessageSpec::echo_request(Family::V4, 1, 1, b"abcd");
        let dst: IpAddr = "192.0.2.1".parse().unwrap();
        let message = spec.build(None, dst).unwrap();
        let ip = IpOptions {
            ttl: Some(7),
            tos: Some(0xb8),
            dont_fragment: Some(true),
            ip_id: Some(0x4242),
            source: Some("198.51.100.9".parse().unwrap()),
            interface: None,
        };
        let packet = ip_packet(&message, dst, &ip, 0x4242).unwrap();
        let p = ipv4::Packet::new_checked(&packet[..]).unwrap();
        assert_eq!(p.ttl(), 7);
        assert_eq!(p.ident(), 0x4242);
        assert!(p.dont_frag());
        assert_eq!((p.dscp(), p.ecn()), (0xb8 >> 2, 0));
        assert_eq!(p.src_addr(), Ipv4Addr::new(198, 51, 100, 9));
        assert_eq!(p.payload(), &message[..]);
        assert!(p.verify_checksum());
    }

    /// NDP must leave with hop limit 255 (RFC 4861) unless asked
    /// otherwise; every other message keeps the socket's default.
    #[test]
    fn ndp_defaults_to_hop_limit_255() {
        for t in 133..=137 {
            assert_eq!(default_hop_limit(Family::V6, t), Some(255), "{t}");
        }
        for (family, t) in [
            (Family::V6, 128),
            (Family::V6, 132),
            (Family::V6, 138),
            (Family::V4, 133),
            (Family::V4, 8),
        ] {
            assert_eq!(default_hop_limit(family, t), None, "{family:?} {t}");
        }
    }
}
