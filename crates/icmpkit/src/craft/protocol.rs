//! Craft as the driver runs it: what to send when (count, interval), the
//! sends still within their timeout, and matching what arrives to them
//! (through [`Probe`]). No I/O, no clock reads: the driver passes `now`,
//! and the identifier is chosen by the entry point.

use std::collections::VecDeque;
use std::net::IpAddr;

use icmpkit_wire::Family;

use crate::driver::{Protocol, SendOutcome, Transmit};
use crate::engine::clock::{Deadline, Timestamp, nanos, round_trip};
use crate::socket::{QueuedError, Received};

use super::driver::{Answer, SendEvent, SendReport};
use super::matcher::{AnswerKind, Incoming, Probe};
use super::message::{Field, MessageSpec, fields_of};
use super::options::SendOptions;

/// A send still within its timeout: answered ones stay until then to
/// recognise duplicates.
#[derive(Debug)]
struct Outstanding {
    index: u64,
    probe: Probe,
    sent: Timestamp,
    deadline: Deadline,
    answered: bool,
}

/// The message given out last, until the driver says what became of it.
#[derive(Debug)]
struct Pending {
    index: u64,
    at: Timestamp,
}

/// A craft run, as a [`Protocol`].
#[derive(Debug)]
pub(crate) struct CraftProtocol {
    spec: MessageSpec,
    dst: IpAddr,
    opts: SendOptions,
    id: u16,
    /// Sends within their timeout, oldest first (so deadlines ascend).
    probes: VecDeque<Outstanding>,
    next_index: u64,
    /// When the next send is due (`None`: at once).
    next_send: Option<Deadline>,
    pending: Option<Pending>,
    events: VecDeque<SendEvent>,
    report: SendReport,
    stopped: bool,
}

impl CraftProtocol {
    pub fn new(spec: MessageSpec, dst: IpAddr, opts: SendOptions, id: u16) -> Self {
        CraftProtocol {
            spec,
            dst,
            opts,
            id,
            probes: VecDeque::new(),
            next_index: 0,
            next_send: None,
            pending: None,
            events: VecDeque::new(),
            report: SendReport::default(),
            stopped: false,
        }
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn report(&self) -> SendReport {
        self.report
    }

    /// The message of send number `index`: the chosen id, and the sequence
    /// counting up from the one given (1 by default).
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

    fn sends_left(&self) -> bool {
        !self.stopped && self.next_index < self.opts.count
    }

    fn send_due(&self, now: Timestamp) -> bool {
        self.sends_left() && self.next_send.is_none_or(|d| d.is_reached(now))
    }

    /// Drops the sends past their deadline (oldest first: deadlines
    /// ascend), reporting the requests that got no answer. What is left
    /// is only what the timeout still covers, so matching an arrival
    /// scans a window, not the whole run.
    fn expire(&mut self, now: Timestamp) {
        while let Some(p) = self.probes.front()
            && p.deadline.is_reached(now)
        {
            if !p.answered && p.probe.reply_type().is_some() {
                self.events.push_back(SendEvent::Timeout { index: p.index });
            }
            self.probes.pop_front();
        }
    }

    /// The earliest unanswered send `incoming` matches, else the latest it
    /// matches (a duplicate).
    fn match_send(&self, incoming: &Incoming<'_>) -> Option<(usize, AnswerKind)> {
        let mut latest = None;
        for (slot, p) in self.probes.iter().enumerate() {
            if let Some(kind) = p.probe.matches_incoming(incoming) {
                if !p.answered {
                    return Some((slot, kind));
                }
                latest = Some((slot, kind));
            }
        }
        latest
    }

    fn advance(&mut self, at: Timestamp) {
        self.next_index += 1;
        self.next_send = Some(Deadline::after(at, self.opts.interval));
    }
}

impl Protocol for CraftProtocol {
    type Event = SendEvent;
    type Meta = Received;

    fn poll_timeout(&self) -> Option<Deadline> {
        // A first send is due at once.
        let send = self
            .sends_left()
            .then(|| self.next_send.unwrap_or(Deadline::from_monotonic_ns(0)));
        // Deadlines ascend: the first unanswered send's comes first.
        let deadline = self.probes.iter().find(|p| !p.answered).map(|p| p.deadline);
        match (send, deadline) {
            (Some(s), Some(d)) => Some(s.min(d)),
            (s, d) => s.or(d),
        }
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.expire(now);
    }

    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool {
        if !self.send_due(now) {
            return false;
        }
        let index = self.next_index;
        let mut spec = self.message_for(index);
        if fields_of(spec.family, spec.msg_type).contains(&Field::Originate) {
            // The default originate is the send time, given by the driver.
            spec.originate.get_or_insert(ms_since_midnight_at(now));
        }
        out.message.clear();
        match spec.build(self.opts.ip.source, self.dst) {
            Ok(message) => out.message.extend_from_slice(&message),
            Err(e) => {
                self.events.push_back(SendEvent::SendError {
                    index,
                    error: e.to_string(),
                });
                self.advance(now);
                return false;
            }
        }
        out.destination = Some(self.dst);
        out.scope_id = self.opts.scope_id;
        out.token = index;
        self.pending = Some(Pending { index, at: now });
        true
    }

    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome) {
        let Some(Pending { index, at }) = self.pending.take() else {
            return;
        };
        self.advance(at);
        if let SendOutcome::Failed { error, .. } = outcome {
            self.events.push_back(SendEvent::SendError {
                index,
                error: error.to_string(),
            });
            return;
        }
        self.report.sent += 1;
        if let Some(mut probe) = Probe::new(self.spec.family, self.dst, &sent.message) {
            probe.accept_any_source(self.opts.any_source);
            // Messages nobody answers wait only for errors, and only as
            // long as the caller asked.
            self.probes.push_back(Outstanding {
                index,
                probe,
                sent: at,
                deadline: Deadline::after(at, self.opts.timeout),
                answered: false,
            });
        }
        self.events.push_back(SendEvent::Sent {
            index,
            message: sent.message.clone(),
        });
    }

    fn on_blocked(&mut self, _blocked: &Transmit) {
        // The same send is given out again, built anew.
        self.pending = None;
    }

    fn handle_incoming(&mut self, buf: &[u8], received: &Received, now: Timestamp) {
        let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
        let incoming = Incoming::parse(self.spec.family, received.source, icmp);
        let Some((slot, kind)) = self.match_send(&incoming) else {
            return;
        };
        let probe = &mut self.probes[slot];
        let duplicate = probe.answered;
        if !duplicate {
            self.report.answered += 1;
        }
        probe.answered = true;
        match kind {
            AnswerKind::Reply => self.report.replies += 1,
            AnswerKind::Error => self.report.errors += 1,
        }
        let kernel = received.kernel_time.map(nanos);
        self.events.push_back(SendEvent::Answer(Answer {
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

    fn handle_queued_error(&mut self, _error: &QueuedError, _quote: &[u8], _now: Timestamp) {
        // A raw socket hears ICMP errors as packets (with the whole quote);
        // local errors are taken where a send fails.
    }

    fn poll_event(&mut self) -> Option<SendEvent> {
        self.events.pop_front()
    }

    fn is_done(&self) -> bool {
        self.events.is_empty()
            && self.pending.is_none()
            && (self.stopped || (!self.sends_left() && self.probes.iter().all(|p| p.answered)))
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn read_errors_after_send(&self) -> bool {
        // Nothing craft wants is on the error queue (no transmit stamps).
        false
    }
}

/// Milliseconds since midnight UT at `now` (an ICMPv4 timestamp's unit).
pub(crate) fn ms_since_midnight_at(now: Timestamp) -> u32 {
    ((now.realtime_ns / 1_000_000) % 86_400_000) as u32
}

fn is_8bit_sequence(spec: &MessageSpec) -> bool {
    matches!(
        (spec.family, spec.msg_type),
        (Family::V4, 42 | 43) | (Family::V6, 160 | 161)
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const DST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn at(ms: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 1_000_000_000 + ms * 1_000_000,
            monotonic_ns: ms * 1_000_000,
        }
    }

    fn sent() -> SendOutcome {
        SendOutcome::Sent
    }

    fn reply_to(request: &[u8]) -> (Vec<u8>, Received) {
        let mut reply = request.to_vec();
        reply[0] = 14; // timestamp reply
        reply[2..4].copy_from_slice(&[0, 0]);
        let received = Received {
            len: reply.len(),
            icmp: 0..reply.len(),
            truncated: false,
            source: DST,
            destination: None,
            ttl: Some(64),
            tos: None,
            kernel_time: None,
            received_at: Instant::now(),
            ifindex: None,
            control_truncated: false,
        };
        (reply, received)
    }

    /// The run is driven by the times it is given alone: the originate
    /// field is the send time passed in, sends follow the interval, a
    /// reply is timed from its send, a duplicate is marked, and the
    /// unanswered send times out at its deadline.
    #[test]
    fn a_run_follows_the_times_it_is_given() {
        let mut spec = MessageSpec::new(Family::V4, 13);
        spec.id = Some(7);
        let opts = SendOptions {
            count: 2,
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
            ..SendOptions::default()
        };
        let mut p = CraftProtocol::new(spec, DST, opts, 7);
        let mut out = Transmit::default();
        assert_eq!(p.poll_timeout(), Some(Deadline::from_monotonic_ns(0)));
        assert!(p.poll_transmit(at(0), &mut out));
        assert_eq!(&out.message[8..12], &1000u32.to_be_bytes(), "originate");
        p.on_sent(&out, sent());
        let first = out.message.clone();
        assert!(matches!(
            p.poll_event(),
            Some(SendEvent::Sent { index: 0, .. })
        ));
        assert!(!p.poll_transmit(at(99), &mut out), "before the interval");
        assert_eq!(
            p.poll_timeout(),
            Some(Deadline::after(at(0), Duration::from_millis(100)))
        );

        let (reply, received) = reply_to(&first);
        p.handle_incoming(&reply, &received, at(30));
        p.handle_incoming(&reply, &received, at(40));
        let Some(SendEvent::Answer(a)) = p.poll_event() else {
            panic!("no answer")
        };
        assert_eq!(
            (a.index, a.rtt, a.duplicate),
            (0, Duration::from_millis(30), false)
        );
        assert!(matches!(
            p.poll_event(),
            Some(SendEvent::Answer(Answer {
                duplicate: true,
                ..
            }))
        ));

        assert!(p.poll_transmit(at(100), &mut out));
        p.on_sent(&out, sent());
        assert!(matches!(
            p.poll_event(),
            Some(SendEvent::Sent { index: 1, .. })
        ));
        assert!(!p.is_done());
        p.handle_timeout(at(599));
        assert_eq!(p.poll_event(), None);
        p.handle_timeout(at(600));
        assert_eq!(p.poll_event(), Some(SendEvent::Timeout { index: 1 }));
        assert!(p.is_done());
        let report = p.report();
        assert_eq!((report.sent, report.answered, report.replies), (2, 1, 2));
    }

    #[test]
    fn a_stopped_run_sends_nothing_more_and_ends() {
        let spec = MessageSpec::echo_request(Family::V4, 1, 1, b"abcd");
        let opts = SendOptions {
            count: 5,
            ..SendOptions::default()
        };
        let mut p = CraftProtocol::new(spec, DST, opts, 1);
        let mut out = Transmit::default();
        assert!(p.poll_transmit(at(0), &mut out));
        p.on_sent(&out, sent());
        p.poll_event();
        assert!(!p.is_done());
        p.stop();
        assert!(!p.poll_transmit(at(5_000), &mut out));
        assert!(p.is_done());
    }
}
