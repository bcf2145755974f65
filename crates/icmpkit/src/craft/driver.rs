//! Sending crafted messages and collecting what answers them: the I/O loop
//! around [`MessageSpec`] and [`Probe`].

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::time::{Duration, Instant};

use icmpkit_wire::Family;
use icmpkit_wire::ip::{ipv4, ipv6};

use crate::engine::clock::{Timestamp, nanos, round_trip};
use crate::resolve::{ToTarget, family_of, resolve};
use crate::socket::{
    AsyncIcmpSocket, IcmpSocket, PmtuDisc, Privilege, RawIpSocket, SocketOptions, TypeFilter,
};
use crate::{Error, InvalidReason, Result};

use super::matcher::{AnswerKind, Incoming, Probe};
use super::message::{Field, MessageSpec, fields_of, reply_type};
use super::options::{IpOptions, SendOptions};

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

/// A send still within its timeout: answered ones stay until then to
/// recognise duplicates.
#[derive(Debug)]
struct Outstanding {
    index: u64,
    probe: Probe,
    sent: Timestamp,
    deadline: Instant,
    answered: bool,
}

/// Sends a crafted message `count` times and hands out what happens as
/// [`SendEvent`]s: scapy's `sr` on real sockets.
#[derive(Debug)]
pub struct Sender {
    spec: MessageSpec,
    dst: IpAddr,
    opts: SendOptions,
    socket: AsyncIcmpSocket,
    raw_ip: Option<RawIpSocket>,
    /// Sends within their timeout, oldest first (so deadlines ascend).
    probes: VecDeque<Outstanding>,
    next_index: u64,
    next_send: Instant,
    id: u16,
    events: VecDeque<SendEvent>,
    report: SendReport,
    recv_buf: Vec<u8>,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Sender {
    /// Checks the message against its type, opens the sockets (a raw ICMP
    /// socket to send and hear answers, plus a raw IP socket when the IP
    /// header is crafted) and is ready to send. Needs a tokio runtime.
    pub fn open(spec: MessageSpec, dst: IpAddr, opts: &SendOptions) -> Result<Sender> {
        let opts = opts.clone();
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
            .then(|| RawIpSocket::open(spec.family))
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
        let socket = AsyncIcmpSocket::register(socket)?;
        let id = spec.id.unwrap_or_else(crate::engine::random::random);
        Ok(Sender {
            spec,
            dst,
            opts,
            socket,
            raw_ip,
            probes: VecDeque::new(),
            next_index: 0,
            next_send: Instant::now(),
            id,
            events: VecDeque::new(),
            report: SendReport::default(),
            recv_buf: vec![0; 65_536],
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        })
    }

    /// The identifier the messages carry (given, or chosen at random).
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Whether the IP header is crafted (raw IP socket).
    pub fn crafts_ip_header(&self) -> bool {
        self.raw_ip.is_some()
    }

    /// Totals so far.
    pub fn report(&self) -> SendReport {
        self.report
    }

    /// The message of send number `index`, as [`Sender`] fills it in: the
    /// chosen id, and the sequence counting up from the one given (1 by
    /// default).
    pub fn message_for(&self, index: u64) -> MessageSpec {
        let mut spec = self.spec.clone();
        let fields = fields_of(spec.family, spec.msg_type);
        if fields.contains(&Field::Id) {
            spec.id = Some(self.id);
        }
        if fields.contains(&Field::Sequence) {
            let first = u64::from(spec.sequence.unwrap_or(1));
            let modulus = if is_8bit_sequence(&spec) { 256 } else { 65_536 };
            spec.sequence = Some(((first + index) % modulus) as u16);
        }
        spec
    }

    /// The next event, `None` when every message is sent and answered or
    /// timed out. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<SendEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            // With interval 0 nothing below waits: spend the task's budget
            // so it yields now and then and the runtime (timers, signals,
            // other tasks) gets its turn. Nothing has changed yet, so a
            // future dropped here loses nothing.
            tokio::task::consume_budget().await;
            let now = Instant::now();
            self.expire(now);
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.next_index < self.opts.count && now >= self.next_send {
                self.send_next();
                continue;
            }
            let wake = self.next_wake()?;
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::from_std(wake));
            tokio::select! {
                ready = self.socket.ready() => {
                    if let Ok(mut guard) = ready {
                        drain(guard.get_inner(), &mut self.probes, &mut self.events, &mut self.report, &mut self.recv_buf);
                        guard.clear_ready();
                    }
                }
                _ = self.timer.as_mut() => {}
            }
        }
    }

    /// When something is next due: a send, or the deadline of a send
    /// still waiting for its answer. `None`: the run is over.
    fn next_wake(&self) -> Option<Instant> {
        let send = (self.next_index < self.opts.count).then_some(self.next_send);
        // Deadlines ascend: the first unanswered send's comes first.
        let deadline = self.probes.iter().find(|p| !p.answered).map(|p| p.deadline);
        match (send, deadline) {
            (Some(s), Some(d)) => Some(s.min(d)),
            (s, d) => s.or(d),
        }
    }

    /// Drops the sends past their deadline (oldest first: deadlines
    /// ascend), reporting the requests that got no answer. What is left
    /// is only what the timeout still covers, so matching an arrival
    /// scans a window, not the whole run.
    fn expire(&mut self, now: Instant) {
        while let Some(p) = self.probes.front()
            && now >= p.deadline
        {
            if !p.answered && p.probe.reply_type().is_some() {
                self.events.push_back(SendEvent::Timeout { index: p.index });
            }
            self.probes.pop_front();
        }
    }

    fn send_next(&mut self) {
        let index = self.next_index;
        self.next_index += 1;
        self.next_send = Instant::now() + self.opts.interval;
        let spec = self.message_for(index);
        let message = match spec.build(self.opts.ip.source, self.dst) {
            Ok(m) => m,
            Err(e) => {
                self.events.push_back(SendEvent::SendError {
                    index,
                    error: e.to_string(),
                });
                return;
            }
        };
        let sent = Timestamp::now();
        let result = match &self.raw_ip {
            Some(raw) => ip_packet(&message, self.dst, &self.opts.ip)
                .and_then(|packet| raw.send_to(&packet, self.dst)),
            None => self
                .socket
                .get_ref()
                .send_to_scoped(&message, self.dst, self.opts.scope_id),
        };
        if let Err(e) = result {
            self.events.push_back(SendEvent::SendError {
                index,
                error: e.to_string(),
            });
            return;
        }
        self.report.sent += 1;
        if let Some(mut probe) = Probe::new(spec.family, self.dst, &message) {
            probe.accept_any_source(self.opts.any_source);
            // Messages nobody answers wait only for errors, and only as
            // long as the caller asked.
            self.probes.push_back(Outstanding {
                index,
                probe,
                sent,
                deadline: Instant::now() + self.opts.timeout,
                answered: false,
            });
        }
        self.events.push_back(SendEvent::Sent { index, message });
        // On fast paths (loopback, veth) the answer is queued before
        // sendto returns; reading it now also empties the socket between
        // sends at interval 0, where the loop never waits for readiness.
        drain(
            self.socket.get_ref(),
            &mut self.probes,
            &mut self.events,
            &mut self.report,
            &mut self.recv_buf,
        );
    }
}

/// Reads everything queued and turns what answers a probe into events.
fn drain(
    socket: &IcmpSocket,
    probes: &mut VecDeque<Outstanding>,
    events: &mut VecDeque<SendEvent>,
    report: &mut SendReport,
    buf: &mut [u8],
) {
    while let Ok(received) = socket.recv(buf) {
        let now = Timestamp::now();
        let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
        let kernel = received.kernel_time.map(nanos);
        let incoming = Incoming::parse(socket.family(), received.source, icmp);
        let Some((slot, kind)) = match_send(probes, &incoming) else {
            continue;
        };
        let probe = &mut probes[slot];
        let duplicate = probe.answered;
        if !duplicate {
            report.answered += 1;
        }
        probe.answered = true;
        match kind {
            AnswerKind::Reply => report.replies += 1,
            AnswerKind::Error => report.errors += 1,
        }
        events.push_back(SendEvent::Answer(Answer {
            index: probe.index,
            kind,
            from: received.source,
            to: received.destination,
            ttl: received.ttl,
            rtt: round_trip(probe.sent, kernel, now),
            message: icmp.to_vec(),
            duplicate,
        }));
    }
}

/// The earliest unanswered send `incoming` matches, else the latest it
/// matches (a duplicate).
fn match_send(
    probes: &VecDeque<Outstanding>,
    incoming: &Incoming<'_>,
) -> Option<(usize, AnswerKind)> {
    let mut latest = None;
    for (slot, p) in probes.iter().enumerate() {
        if let Some(kind) = p.probe.matches_incoming(incoming) {
            if !p.answered {
                return Some((slot, kind));
            }
            latest = Some((slot, kind));
        }
    }
    latest
}

fn is_8bit_sequence(spec: &MessageSpec) -> bool {
    matches!(
        (spec.family, spec.msg_type),
        (Family::V4, 42 | 43) | (Family::V6, 160 | 161)
    )
}

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

/// The IP datagram around `message` for a raw IP socket. An IPv4 source
/// left unspecified is filled in by the kernel; IPv6 needs one for the
/// checksum, which [`MessageSpec::build`] computed with it.
fn ip_packet(message: &[u8], dst: IpAddr, ip: &IpOptions) -> std::io::Result<Vec<u8>> {
    let invalid = |e: icmpkit_wire::Error| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let mut packet = match (dst, ip.source) {
        (IpAddr::V4(dst), src) => {
            let src = match src {
                Some(IpAddr::V4(s)) => s,
                _ => Ipv4Addr::UNSPECIFIED,
            };
            let tos = ip.tos.unwrap_or(0);
            let header = ipv4::Repr {
                src,
                dst,
                protocol: ipv4::PROTOCOL_ICMP,
                ttl: ip.ttl.unwrap_or(64),
                ident: ip.ip_id.unwrap_or_else(crate::engine::random::random),
                dont_frag: ip.dont_fragment.unwrap_or(false),
                more_frags: false,
                frag_offset: 0,
                dscp: tos >> 2,
                ecn: tos & 3,
                options: &[],
                payload_len: message.len(),
            };
            let mut buf = vec![0; header.buffer_len()];
            header.emit(&mut buf).map_err(invalid)?;
            buf
        }
        (IpAddr::V6(dst), src) => {
            let src = match src {
                Some(IpAddr::V6(s)) => s,
                _ => Ipv6Addr::UNSPECIFIED,
            };
            let header = ipv6::Repr {
                src,
                dst,
                next_header: ipv6::NEXT_ICMPV6,
                hop_limit: ip.ttl.unwrap_or(64),
                traffic_class: ip.tos.unwrap_or(0),
                flow_label: 0,
                payload_len: message.len(),
            };
            let mut buf = vec![0; ipv6::HEADER_LEN];
            header.emit(&mut buf).map_err(invalid)?;
            buf
        }
    };
    packet.extend_from_slice(message);
    Ok(packet)
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
        let packet = ip_packet(&message, dst, &ip).unwrap();
        let p = ipv4::Packet::new_checked(&packet[..]).unwrap();
        assert_eq!(p.ttl(), 7);
        assert_eq!(p.ident(), 0x4242);
        assert!(p.dont_frag());
        assert_eq!((p.dscp(), p.ecn()), (0xb8 >> 2, 0));
        assert_eq!(p.src_addr(), Ipv4Addr::new(198, 51, 100, 9));
        assert_eq!(p.payload(), &message[..]);
        assert!(p.verify_checksum());
    }
}
