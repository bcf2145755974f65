//! A trace as the driver runs it: the [`Session`]'s books plus what turns
//! probes into messages and what arrives into answers (the matching). No
//! I/O, no clock reads, no randomness: the driver passes the time, the
//! entry point the keys.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use icmpkit_wire::Family;

use crate::driver::{Protocol, SendOutcome, Transmit};
use crate::engine::clock::{Deadline, Timestamp, nanos, round_trip};
use crate::engine::stamp::{ProbeId, STAMP_LEN, StampKey};
use crate::socket::{ErrorOrigin, QueuedError};

use super::probe::{self, Matcher, ProbeKey, ProbeProtocol, Response};
use super::report::{Hop, ProbeReply, ReplyKind, TraceEvent};
use super::session::{Next, Session};
use super::transport::{ConnectOutcome, TraceMeta};

/// How probes are framed, per probe transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Paris echo requests, stamped with the key.
    Icmp,
    /// UDP payloads numbered by their sequence.
    Udp,
    /// Raw SYNs from `source` (the address their checksum covers), probe
    /// `seq` numbered `tcp_sequence(sequence_base, seq)`.
    RawTcp { source: IpAddr, sequence_base: u32 },
    /// `connect()` calls: nothing to frame.
    TcpConnect,
}

/// The trace's fixed inputs, drawn by the entry point.
#[derive(Debug)]
pub(crate) struct TraceSetup {
    pub matcher: Matcher,
    pub framing: Framing,
    /// The destination (its port for UDP/TCP) and IPv6 zone.
    pub destination: SocketAddr,
    pub scope_id: u32,
    /// Bytes of probe data (without path-MTU discovery).
    pub data_size: usize,
    pub stamp_key: StampKey,
    /// Errors come from the error queues (no raw listener).
    pub datagram: bool,
}

/// A trace, as a [`Protocol`].
#[derive(Debug)]
pub(crate) struct TraceProtocol {
    session: Session,
    setup: TraceSetup,
    /// Raw TCP: the probe each acknowledgment number answers (a probe's
    /// sequence + 1, and + its payload for a reset to a path-MTU probe).
    tcp_acks: HashMap<u32, u16>,
    /// Probe data of ICMP probes, reused.
    data: Vec<u8>,
    /// The time the last message given out was stamped with, and its TCP
    /// payload length.
    stamped_at: Timestamp,
    payload_len: usize,
    events: VecDeque<TraceEvent>,
    wake: Option<Deadline>,
    done: bool,
    corrupted: u64,
}

impl TraceProtocol {
    pub fn new(session: Session, setup: TraceSetup) -> Self {
        TraceProtocol {
            session,
            setup,
            tcp_acks: HashMap::new(),
            data: Vec::new(),
            stamped_at: Timestamp::default(),
            payload_len: 0,
            events: VecDeque::new(),
            wake: None,
            done: false,
            corrupted: 0,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Runs `session` next on the same sockets (the live trace's next
    /// rounds): the finished session's books go; events not yet taken
    /// stay. A late answer to a probe of the old session is told from a
    /// new probe of the same number by its stamp (ICMP) or not at all
    /// (UDP, TCP): the old session ended only after its wait time.
    pub fn renew(&mut self, session: Session) {
        self.session = session;
        self.tcp_acks.clear();
        self.wake = None;
        self.done = false;
    }

    /// ICMPv4 messages dropped for a bad checksum.
    pub fn corrupted(&self) -> u64 {
        self.corrupted
    }

    /// A hop handed out earlier, now with its responders' names.
    pub fn name_hop(&mut self, hop: Hop) {
        self.session.name_hop(hop);
    }

    /// Bytes of probe data that make an IP packet of `size` bytes.
    fn data_size_for(&self, size: u32) -> usize {
        let (ip_header, size) = match self.setup.matcher.family {
            Family::V4 => (20, size),
            // Every IPv6 link carries 1280 bytes (RFC 8200).
            Family::V6 => (40, size.max(1280)),
        };
        match self.setup.matcher.protocol {
            ProbeProtocol::Tcp => (size as usize).saturating_sub(ip_header + probe::SYN_HEADER_LEN),
            // ICMP echo and UDP headers are both 8 bytes; ICMP needs 2 data
            // bytes for its Paris checksum.
            ProbeProtocol::Icmp | ProbeProtocol::Udp => {
                (size as usize).saturating_sub(ip_header + 8).max(2)
            }
        }
    }

    /// Writes probe `seq` into `out` (false: it cannot be framed, and has
    /// failed).
    fn frame(&mut self, seq: u16, now: Timestamp, out: &mut Transmit) -> bool {
        let spec = self.session.probe(seq);
        let data_size = spec
            .size
            .map_or(self.setup.data_size, |size| self.data_size_for(size));
        out.destination = Some(self.setup.destination.ip());
        out.scope_id = self.setup.scope_id;
        out.token = u64::from(seq);
        out.ttl = Some(spec.ttl);
        out.via = usize::from(spec.flow);
        let matcher = &self.setup.matcher;
        match self.setup.framing {
            Framing::Icmp => {
                self.data.clear();
                self.data.resize(data_size, 0);
                let id = ProbeId {
                    destination: matcher.target,
                    id: matcher.echo_id,
                    sequence: seq,
                };
                if let Some(stamp) = self.data.get_mut(2..) {
                    self.setup.stamp_key.write(&id, now, stamp);
                }
                probe::paris_echo_request(
                    matcher.family,
                    matcher.echo_id,
                    seq,
                    &self.data,
                    probe::flow_checksum(spec.flow),
                    &mut out.message,
                );
            }
            Framing::Udp => probe::udp_payload(seq, data_size, &mut out.message),
            Framing::RawTcp {
                source,
                sequence_base,
            } => {
                self.payload_len = spec.size.map_or(0, |_| data_size);
                let framed = matcher
                    .flow_ports
                    .get(usize::from(spec.flow))
                    .ok_or_else(|| "no TCP port for this flow".to_string())
                    .and_then(|&port| {
                        probe::tcp_syn(
                            SocketAddr::new(source, port),
                            self.setup.destination,
                            probe::tcp_sequence(sequence_base, seq),
                            self.payload_len,
                            &mut out.message,
                        )
                        .map_err(|e| e.to_string())
                    });
                if let Err(error) = framed {
                    let events = self.session.on_send_error(seq, now, error);
                    self.events.extend(events);
                    return false;
                }
            }
            Framing::TcpConnect => out.message.clear(),
        }
        self.stamped_at = now;
        true
    }

    /// A decoded response: matched to its probe, checked, and given to
    /// the session.
    fn on_response(
        &mut self,
        response: Response,
        reply_ttl: Option<u8>,
        kernel_time: Option<std::time::Duration>,
        received: Timestamp,
    ) {
        let Some(answered) = self.probe_of(&response.key) else {
            return;
        };
        // Timed from the probe it answers, even when it is credited to a
        // nearer hop's probe sent long before (rate limits dropped that
        // one's answer): its wait is no round trip.
        let Some(sent) = self.session.sent_at(answered) else {
            return;
        };
        let seq = self.session.credited_probe(
            answered,
            response.kind,
            response.annotation,
            response.quoted_ttl,
        );
        if self.session.sent_at(seq).is_none() {
            return;
        }
        if let Some(data) = &response.echo_data {
            // Echo replies must carry the stamp we wrote (after the two
            // Paris bytes), when the probe had room for one.
            let id = ProbeId {
                destination: self.setup.matcher.target,
                id: self.setup.matcher.echo_id,
                sequence: seq,
            };
            if self.setup.data_size >= 2 + STAMP_LEN
                && self
                    .setup
                    .stamp_key
                    .check(&id, data.get(2..).unwrap_or(&[]))
                    != Some(sent)
            {
                return;
            }
        }
        let reply = ProbeReply {
            from: response.from,
            rtt: round_trip(sent, kernel_time.map(nanos), received),
            kind: response.kind,
            annotation: response.annotation,
            reply_ttl,
            extensions: response.extensions,
        };
        let events = self.session.on_reply(seq, reply);
        self.events.extend(events);
    }

    /// The probe a response names.
    fn probe_of(&self, key: &ProbeKey) -> Option<u16> {
        match *key {
            ProbeKey::Sequence(seq) => Some(seq),
            // Only made without a raw TCP sender, whose probes are named
            // by sequence: never with a raw listener, which needs one.
            ProbeKey::TcpPort(_) => None,
            ProbeKey::TcpAck { port, ack } => {
                let seq = *self.tcp_acks.get(&ack)?;
                let flow = usize::from(self.session.probe(seq).flow);
                (self.setup.matcher.flow_ports.get(flow) == Some(&port)).then_some(seq)
            }
        }
    }

    /// How a TCP probe's connect ended: an ICMP error from its queue
    /// (unprivileged), or the destination reached (SYN-ACK or reset).
    fn on_connect(&mut self, outcome: &ConnectOutcome, now: Timestamp) {
        let matcher = &self.setup.matcher;
        let answer = match &outcome.queued {
            Some(q) if self.setup.datagram => {
                let from = q.offender.unwrap_or(matcher.target);
                matcher
                    .queued(q.icmp_type, q.icmp_code, q.info, from, &[])
                    .map(|(_, kind, annotation)| (from, kind, annotation, q.kernel_time))
            }
            _ if outcome.refused || (!outcome.failed && outcome.connected) => {
                Some((matcher.target, ReplyKind::Reached, None, None))
            }
            // An ICMP error ended the attempt (the raw listener reports
            // it), or some other error did.
            _ => None,
        };
        let Some((from, kind, annotation, kernel_time)) = answer else {
            return;
        };
        let Ok(seq) = u16::try_from(outcome.token) else {
            return;
        };
        let response = Response {
            key: ProbeKey::Sequence(seq),
            from,
            kind,
            annotation,
            extensions: Vec::new(),
            echo_data: None,
            quoted_ttl: None,
        };
        self.on_response(response, None, kernel_time, now);
    }
}

impl Protocol for TraceProtocol {
    type Event = TraceEvent;
    type Meta = TraceMeta;

    fn poll_timeout(&self) -> Option<Deadline> {
        self.wake
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        let expired = self.session.expire(now);
        self.events.extend(expired);
    }

    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool {
        loop {
            match self.session.next(now) {
                Next::Send(seq) => {
                    self.wake = None;
                    if self.frame(seq, now, out) {
                        return true;
                    }
                }
                Next::WaitUntil(ns) => {
                    self.wake = Some(Deadline::from_monotonic_ns(ns));
                    return false;
                }
                Next::Done => {
                    self.wake = None;
                    self.done = true;
                    return false;
                }
            }
        }
    }

    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome) {
        let Ok(seq) = u16::try_from(sent.token) else {
            return;
        };
        let at = self.stamped_at;
        let events = match outcome {
            SendOutcome::Sent => {
                self.session.on_sent(seq, at);
                if let Framing::RawTcp { sequence_base, .. } = self.setup.framing {
                    // A SYN-ACK acknowledges the SYN alone (data in a SYN
                    // is dropped without a Fast Open cookie); a reset
                    // acknowledges the data too.
                    let ack = probe::tcp_sequence(sequence_base, seq).wrapping_add(1);
                    self.tcp_acks.insert(ack, seq);
                    self.tcp_acks
                        .insert(ack.wrapping_add(self.payload_len as u32), seq);
                }
                return;
            }
            SendOutcome::Failed { error, local }
                if self.session.probe(seq).size.is_some()
                    && error.raw_os_error() == Some(libc::EMSGSIZE) =>
            {
                // The MTU the kernel queued with its local error (the
                // interface's, under `IP_PMTUDISC_PROBE`).
                let mtu = local
                    .filter(|q| q.errno == libc::EMSGSIZE && q.info != 0)
                    .map(|q| q.info);
                self.session
                    .on_send_too_big(seq, at, mtu, error.to_string())
            }
            SendOutcome::Failed { error, .. } => {
                self.session.on_send_error(seq, at, error.to_string())
            }
        };
        self.events.extend(events);
    }

    fn handle_incoming(&mut self, buf: &[u8], meta: &TraceMeta, now: Timestamp) {
        match meta {
            TraceMeta::Icmp(received) => {
                let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
                if !self.setup.matcher.checksum_ok(icmp) {
                    self.corrupted += 1;
                    tracing::debug!(from = %received.source, "ICMP message with a bad checksum dropped");
                    return;
                }
                if let Some(response) = self.setup.matcher.raw_message(icmp, received.source) {
                    self.on_response(response, received.ttl, received.kernel_time, now);
                }
            }
            TraceMeta::Segment(received) => {
                let segment = buf.get(received.segment.clone()).unwrap_or(&[]);
                if let Some(response) = self.setup.matcher.tcp_segment(segment, received.source) {
                    self.on_response(response, received.ttl, received.kernel_time, now);
                }
            }
            TraceMeta::Datagram => {}
            TraceMeta::Connect(outcome) => self.on_connect(outcome, now),
        }
    }

    fn handle_queued_error(&mut self, error: &QueuedError, quote: &[u8], now: Timestamp) {
        // With a raw listener, errors are taken from it (it has the
        // extensions); the error queues are then only emptied.
        if !self.setup.datagram || error.origin == ErrorOrigin::Local {
            return;
        }
        let matcher = &self.setup.matcher;
        let from = error.offender.unwrap_or(matcher.target);
        let original = quote.get(..error.len).unwrap_or(&[]);
        let Some((Some(key), kind, annotation)) =
            matcher.queued(error.icmp_type, error.icmp_code, error.info, from, original)
        else {
            return;
        };
        let response = Response {
            key,
            from,
            kind,
            annotation,
            extensions: Vec::new(),
            echo_data: None,
            quoted_ttl: None,
        };
        self.on_response(response, None, error.kernel_time, now);
    }

    fn poll_event(&mut self) -> Option<TraceEvent> {
        self.events.pop_front()
    }

    fn is_done(&self) -> bool {
        self.done && self.events.is_empty()
    }

    fn stop(&mut self) {
        self.session.stop();
        // The stop drops the probes still waiting at the next expiry: a
        // deadline already passed makes the driver read what is queued
        // first (`read_before_deadlines`), so answers that came in while
        // nobody polled are not dropped with them.
        self.wake = Some(Deadline::from_monotonic_ns(0));
    }

    fn awaiting_replies(&self) -> bool {
        // A connect's outcome never comes before the call returns.
        self.setup.framing != Framing::TcpConnect
    }

    fn read_before_deadlines(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::socket::Received;
    use crate::trace::session::Plan;

    const TARGET: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    const ROUTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    /// A UDP trace of `flows` flows to TTL 2, one probe each.
    fn udp_trace(flows: u16, datagram: bool) -> TraceProtocol {
        udp_trace_to(2, flows, datagram)
    }

    /// A UDP trace of `flows` flows to `max_ttl`, one probe each.
    fn udp_trace_to(max_ttl: u8, flows: u16, datagram: bool) -> TraceProtocol {
        let plan = Plan {
            max_ttl,
            queries: 1,
            flows,
            ..Plan::default()
        };
        let setup = TraceSetup {
            matcher: Matcher {
                family: Family::V4,
                target: TARGET,
                protocol: ProbeProtocol::Udp,
                echo_id: 0,
                dst_port: 33434,
                flow_ports: (0..flows).map(|f| 40_000 + f).collect(),
                tcp_sequence_base: None,
            },
            framing: Framing::Udp,
            destination: SocketAddr::new(TARGET, 33434),
            scope_id: 0,
            data_size: 32,
            stamp_key: StampKey::random(),
            datagram,
        };
        TraceProtocol::new(Session::new(plan).unwrap(), setup)
    }

    fn sent() -> SendOutcome {
        SendOutcome::Sent
    }

    /// A time exceeded from `ROUTER`, as an error queue reports it.
    fn time_exceeded(len: usize) -> QueuedError {
        QueuedError {
            origin: ErrorOrigin::Icmp,
            errno: libc::EHOSTUNREACH,
            icmp_type: 11,
            icmp_code: 0,
            info: 0,
            offender: Some(ROUTER),
            destination: Some(TARGET),
            len,
            kernel_time: None,
            tx_time: None,
            key: 0,
            received_at: Instant::now(),
        }
    }

    #[test]
    fn each_probe_gets_its_ttl_and_its_flows_socket() {
        let mut trace = udp_trace(2, true);
        let now = Timestamp::now();
        let mut out = Transmit::default();
        let mut seen = Vec::new();
        while trace.poll_transmit(now, &mut out) {
            seen.push((out.token, out.ttl, out.via));
            assert_eq!(out.destination, Some(TARGET));
            assert_eq!(probe::udp_sequence(&out.message), Some(out.token as u16));
            trace.on_sent(&out, sent());
        }
        assert_eq!(
            seen,
            vec![
                (0, Some(1), 0),
                (1, Some(1), 1),
                (2, Some(2), 0),
                (3, Some(2), 1)
            ]
        );
    }

    #[test]
    fn an_error_queue_entry_answers_its_probe_only_without_a_raw_listener() {
        for datagram in [true, false] {
            let mut trace = udp_trace(1, datagram);
            let now = Timestamp::now();
            let mut out = Transmit::default();
            assert!(trace.poll_transmit(now, &mut out));
            trace.on_sent(&out, sent());
            let quote = out.message.clone();
            trace.handle_queued_error(&time_exceeded(quote.len()), &quote, now);
            let answered = std::iter::from_fn(|| trace.poll_event()).any(
                |e| matches!(e, TraceEvent::Probe(p) if p.reply.as_ref().is_some_and(|r| r.from == ROUTER)),
            );
            // With a raw listener the same error comes (with its
            // extensions) as a packet: the queue's copy must not count.
            assert_eq!(answered, datagram);
        }
    }

    #[test]
    fn a_named_hop_replaces_the_one_handed_out() {
        let mut trace = udp_trace(1, true);
        let now = Timestamp::now();
        let mut out = Transmit::default();
        assert!(trace.poll_transmit(now, &mut out));
        trace.on_sent(&out, sent());
        let quote = out.message.clone();
        trace.handle_queued_error(&time_exceeded(quote.len()), &quote, now);
        let mut hop = std::iter::from_fn(|| trace.poll_event())
            .find_map(|e| match e {
                TraceEvent::Hop(hop) => Some(hop),
                _ => None,
            })
            .expect("hop 1 is complete");
        assert_eq!(trace.session().hops()[0].responders[0].name, None);
        hop.responders[0].name = Some("r1.example".into());
        trace.name_hop(hop);
        assert_eq!(
            trace.session().hops()[0].responders[0].name.as_deref(),
            Some("r1.example")
        );
    }

    /// A host unreachable from `ROUTER` quoting UDP probe `message`, which
    /// arrived there with `ttl_left`, as a raw ICMPv4 socket reads it.
    fn host_unreachable(message: &[u8], ttl_left: u8) -> Vec<u8> {
        let IpAddr::V4(target) = TARGET else {
            unreachable!()
        };
        let udp_len = (8 + message.len()) as u16;
        let mut icmp = vec![3, 1, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&[0x45, 0]);
        icmp.extend_from_slice(&(20 + udp_len).to_be_bytes());
        icmp.extend_from_slice(&[0, 0, 0, 0, ttl_left, 17, 0, 0, 192, 0, 2, 2]);
        icmp.extend_from_slice(&target.octets());
        icmp.extend_from_slice(&40_000u16.to_be_bytes());
        icmp.extend_from_slice(&33_434u16.to_be_bytes());
        icmp.extend_from_slice(&udp_len.to_be_bytes());
        icmp.extend_from_slice(&[0, 0]);
        icmp.extend_from_slice(message);
        let sum = icmpkit_wire::checksum::checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        icmp
    }

    #[test]
    fn an_answer_credited_to_a_nearer_hop_is_timed_from_its_own_probe() {
        // TTL 1 and 2 leave at once, TTL 3 two seconds later (rate limits
        // dropped the router's answer to TTL 2). The router's unreachable
        // for TTL 3 says it is 2 hops away (2 of 3 left), so it answers
        // hop 2, 1 ms after the probe it quotes: not 2.001 s, the time
        // since hop 2's own probe left.
        let mut trace = udp_trace_to(3, 1, false);
        let start = Timestamp::now();
        let later = start.after(Duration::from_secs(2));
        let mut out = Transmit::default();
        let mut third = Vec::new();
        for now in [start, start, later] {
            assert!(trace.poll_transmit(now, &mut out));
            trace.on_sent(&out, sent());
            third = out.message.clone();
        }
        assert_eq!(out.ttl, Some(3));
        let icmp = host_unreachable(&third, 2);
        let received = Received {
            len: icmp.len(),
            icmp: 0..icmp.len(),
            truncated: false,
            control_truncated: false,
            source: ROUTER,
            destination: None,
            ttl: Some(63),
            tos: None,
            kernel_time: None,
            received_at: Instant::now(),
            ifindex: None,
        };
        let arrived = later.after(Duration::from_millis(1));
        trace.handle_incoming(&icmp, &TraceMeta::Icmp(received), arrived);
        let answer = std::iter::from_fn(|| trace.poll_event())
            .find_map(|e| match e {
                TraceEvent::Probe(p) if p.reply.is_some() => Some(p),
                _ => None,
            })
            .expect("an answered probe");
        assert_eq!(answer.ttl, 2, "credited to the router's true distance");
        let reply = answer.reply.expect("its reply");
        assert_eq!(reply.from, ROUTER);
        assert_eq!(reply.rtt, Duration::from_millis(1));
    }
}
