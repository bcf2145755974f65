//! The responder as the driver runs it: each request heard goes to the
//! [`Responder`] (pure decision: reply, delay, loss), an answer is held
//! until its time (`poll_timeout`) and then handed out to be sent
//! (`poll_transmit`). No I/O, no clock reads: the driver passes `now`; the
//! interface lookups RFC 8335 needs are given to it.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use icmpkit_wire::Family;

use crate::craft::ms_since_midnight_at;
use crate::driver::{Protocol, SendOutcome, Transmit};
use crate::engine::clock::{Deadline, Timestamp};
use crate::socket::QueuedError;

use super::decide::{Decision, Interfaces, Request, Responder};
use super::server::{MAX_HELD, Outcome, RespondEvent};
use super::transport::Heard;

/// An answer held until `due`; the queue orders them by due time, then
/// arrival order (`n`).
#[derive(Debug)]
struct Held {
    due: Deadline,
    n: u64,
    socket: usize,
    /// The requester's interface: the reply's scope id, so that it leaves
    /// on the link an IPv6 link-local request came from.
    ifindex: u32,
    event: RespondEvent,
    reply: Vec<u8>,
    delay: Duration,
}

impl Held {
    fn key(&self) -> (Deadline, u64) {
        (self.due, self.n)
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The responder, as a [`Protocol`].
#[derive(Debug)]
pub(crate) struct RespondProtocol<I> {
    responder: Responder,
    interfaces: I,
    /// The family of each socket of the set.
    families: Vec<Family>,
    /// Held answers, earliest due first (then arrival order).
    queue: BinaryHeap<Reverse<Held>>,
    /// The answer given out last, until the driver says what became of it.
    sending: Option<Held>,
    arrivals: u64,
    /// Answers dropped because [`MAX_HELD`] were already held.
    overflowed: u64,
    events: VecDeque<RespondEvent>,
    stopped: bool,
}

impl<I: Interfaces> RespondProtocol<I> {
    pub fn new(responder: Responder, interfaces: I, families: Vec<Family>) -> Self {
        RespondProtocol {
            responder,
            interfaces,
            families,
            queue: BinaryHeap::new(),
            sending: None,
            arrivals: 0,
            overflowed: 0,
            events: VecDeque::new(),
            stopped: false,
        }
    }

    pub fn held(&self) -> usize {
        self.queue.len() + usize::from(self.sending.is_some())
    }

    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Queues an answer to go out `delay` after `now` on socket `socket`,
    /// unless [`MAX_HELD`] are already waiting: then it is dropped and
    /// reported.
    fn hold(
        &mut self,
        now: Timestamp,
        socket: usize,
        ifindex: u32,
        mut event: RespondEvent,
        reply: Vec<u8>,
        delay: Duration,
    ) {
        if self.queue.len() >= MAX_HELD {
            self.overflowed += 1;
            event.outcome = Outcome::SendFailed(format!(
                "not answered: {MAX_HELD} answers already held back by the delay"
            ));
            self.events.push_back(event);
            return;
        }
        let n = self.arrivals;
        self.arrivals += 1;
        self.queue.push(Reverse(Held {
            due: Deadline::after(now, delay),
            n,
            socket,
            ifindex,
            event,
            reply,
            delay,
        }));
    }

    /// The earliest held answer if it is due at `now`.
    fn pop_due(&mut self, now: Timestamp) -> Option<Held> {
        if !self.queue.peek()?.0.due.is_reached(now) {
            return None;
        }
        self.queue.pop().map(|Reverse(held)| held)
    }
}

impl<I: Interfaces> Protocol for RespondProtocol<I> {
    type Event = RespondEvent;
    type Meta = Heard;

    fn poll_timeout(&self) -> Option<Deadline> {
        if self.stopped {
            return None;
        }
        self.queue.peek().map(|Reverse(held)| held.due)
    }

    fn handle_timeout(&mut self, _now: Timestamp) {
        // Held answers leave through poll_transmit.
    }

    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool {
        if self.stopped {
            return false;
        }
        let Some(held) = self.pop_due(now) else {
            return false;
        };
        out.message.clear();
        out.message.extend_from_slice(&held.reply);
        out.destination = Some(held.event.from);
        out.scope_id = held.ifindex;
        out.via = held.socket;
        self.sending = Some(held);
        true
    }

    fn on_sent(&mut self, _sent: &Transmit, outcome: SendOutcome) {
        let Some(held) = self.sending.take() else {
            return;
        };
        let mut event = held.event;
        event.outcome = match outcome {
            SendOutcome::Sent => Outcome::Answered {
                reply: held.reply,
                delay: held.delay,
            },
            SendOutcome::Failed { error, .. } => Outcome::SendFailed(error.to_string()),
        };
        self.events.push_back(event);
    }

    fn on_blocked(&mut self, _blocked: &Transmit) {
        // Back in the queue, still first: it leaves once there is room.
        if let Some(held) = self.sending.take() {
            self.queue.push(Reverse(held));
        }
    }

    fn handle_incoming(&mut self, buf: &[u8], heard: &Heard, now: Timestamp) {
        let Some(&family) = self.families.get(heard.via) else {
            return;
        };
        let received = &heard.received;
        let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
        let request = Request {
            family,
            from: received.source,
            to: received.destination,
            icmp,
        };
        let decision = self
            .responder
            .decide(&request, &self.interfaces, ms_since_midnight_at(now));
        let event = RespondEvent {
            time: Duration::from_nanos(now.realtime_ns),
            family,
            from: received.source,
            to: received.destination,
            ttl: received.ttl,
            request: icmp.to_vec(),
            outcome: Outcome::Dropped,
        };
        match decision {
            Decision::Ignore => {}
            Decision::Drop => self.events.push_back(event),
            Decision::Answer { reply, delay } => {
                let ifindex = received.ifindex.unwrap_or(0);
                self.hold(now, heard.via, ifindex, event, reply, delay);
            }
        }
    }

    fn handle_queued_error(&mut self, _error: &QueuedError, _quote: &[u8], _now: Timestamp) {
        // Raw sockets: nothing the responder wants is on the error queue.
    }

    fn poll_event(&mut self) -> Option<RespondEvent> {
        self.events.pop_front()
    }

    fn is_done(&self) -> bool {
        self.stopped && self.events.is_empty()
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn read_errors_after_send(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Instant;

    use super::*;
    use crate::respond::RespondConfig;
    use crate::respond::interfaces::SystemInterfaces;
    use crate::socket::Received;

    fn protocol(config: RespondConfig) -> RespondProtocol<SystemInterfaces> {
        let responder = Responder::with_seed(config, 1).unwrap();
        RespondProtocol::new(responder, SystemInterfaces, vec![Family::V4])
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 5_000_000_000 + ms * 1_000_000,
            monotonic_ns: ms * 1_000_000,
        }
    }

    fn event(n: u16) -> RespondEvent {
        RespondEvent {
            time: Duration::ZERO,
            family: Family::V6,
            from: "fe80::1".parse().unwrap(),
            to: None,
            ttl: None,
            request: n.to_be_bytes().to_vec(),
            outcome: Outcome::Dropped,
        }
    }

    fn echo_request(from: Ipv4Addr) -> (Vec<u8>, Heard) {
        let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i'];
        let sum = icmpkit_wire::checksum::checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let received = Received {
            len: icmp.len(),
            icmp: 0..icmp.len(),
            truncated: false,
            source: IpAddr::V4(from),
            destination: None,
            ttl: Some(64),
            tos: None,
            kernel_time: None,
            received_at: Instant::now(),
            ifindex: Some(3),
            control_truncated: false,
        };
        (icmp, Heard { via: 0, received })
    }

    #[test]
    fn held_answers_are_capped_and_the_overflow_counted() {
        let mut p = protocol(RespondConfig::default());
        let delay = Duration::from_secs(60);
        for n in 0..=MAX_HELD {
            p.hold(at(0), 0, 7, event(n as u16), vec![129], delay);
        }
        assert_eq!(p.queue.len(), MAX_HELD);
        assert_eq!(p.overflowed, 1);
        let dropped: Vec<_> = p.events.drain(..).collect();
        assert_eq!(dropped.len(), 1);
        assert!(
            matches!(&dropped[0].outcome, Outcome::SendFailed(m) if m.contains("held")),
            "{:?}",
            dropped[0].outcome
        );
        // Nothing is due before its delay; then all of it, once each.
        assert!(p.pop_due(at(59_999)).is_none());
        let mut due = 0;
        while p.pop_due(at(60_000)).is_some() {
            due += 1;
        }
        assert_eq!(due, MAX_HELD);
    }

    #[test]
    fn due_answers_leave_by_time_then_arrival_with_their_interface() {
        let mut p = protocol(RespondConfig::default());
        let ms = Duration::from_millis;
        for (n, (delay, ifindex)) in [(ms(30), 1), (ms(10), 2), (ms(30), 3), (ms(0), 4)]
            .into_iter()
            .enumerate()
        {
            p.hold(at(0), 0, ifindex, event(n as u16), vec![129], delay);
        }
        assert_eq!(p.pop_due(at(0)).map(|h| h.ifindex), Some(4));
        assert!(p.pop_due(at(9)).is_none());
        let order: Vec<u32> = std::iter::from_fn(|| p.pop_due(at(30)))
            .map(|h| h.ifindex)
            .collect();
        assert_eq!(order, [2, 1, 3]);
    }

    /// A request is answered at the time the driver gives, after the
    /// configured delay, on the interface and socket it came by; a full
    /// send buffer keeps the answer for the next try.
    #[test]
    fn a_request_is_answered_after_its_delay_and_kept_when_blocked() {
        let config = RespondConfig {
            delay: Duration::from_millis(20),
            ..RespondConfig::default()
        };
        let mut p = protocol(config);
        let (icmp, heard) = echo_request(Ipv4Addr::new(192, 0, 2, 9));
        p.handle_incoming(&icmp, &heard, at(100));
        assert_eq!(
            p.poll_timeout(),
            Some(Deadline::after(at(100), Duration::from_millis(20)))
        );
        let mut out = Transmit::default();
        assert!(!p.poll_transmit(at(119), &mut out));
        assert!(p.poll_transmit(at(120), &mut out));
        assert_eq!(out.message[0], 0, "echo reply");
        assert_eq!((out.scope_id, out.via), (3, 0));
        p.on_blocked(&out);
        assert_eq!(p.held(), 1);
        assert!(p.poll_transmit(at(121), &mut out));
        let sent = SendOutcome::Sent;
        p.on_sent(&out, sent);
        let e = p.poll_event().unwrap();
        assert_eq!(e.time, Duration::from_nanos(at(100).realtime_ns));
        assert!(
            matches!(e.outcome, Outcome::Answered { delay, .. } if delay == Duration::from_millis(20))
        );
        assert_eq!(p.held(), 0);
        assert!(!p.is_done());
        p.stop();
        assert!(p.is_done());
    }
}
