//! A sweep as the driver runs it: the [`Session`](super::session::Session)'s books (shared with the
//! extra sending threads, [`super::sender`]) plus what turns probes into
//! messages and packets into the session's inputs. No I/O, no clock reads:
//! the driver passes the time.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use icmpkit_wire::Family;

use crate::IcmpError;
use crate::driver::{Protocol, SendOutcome, Transmit};
use crate::engine::clock::{Deadline, Timestamp, nanos};
use crate::engine::probe::{self, Incoming};
use crate::resolve::family_of;
use crate::socket::{ErrorOrigin, QueuedError};

use super::report::SweepEvent;
use super::sender::{MessageBuilder, Shared, Via, refusal_text};
use super::session::{EchoReply, Next, Probe};
use super::transport::{PACKET_VIA, SweepMeta};

/// Which socket of the transport sends a family's probes, and its kind.
#[derive(Debug, Clone, Copy)]
pub(super) struct FamilyRoute {
    pub via: usize,
    /// Datagram sockets deliver ICMP errors on the error queue only.
    pub datagram: bool,
}

/// A sweep, as a [`Protocol`].
#[derive(Debug)]
pub(crate) struct SweepProtocol {
    shared: Arc<Shared>,
    builder: MessageBuilder,
    /// Indexed by family: IPv4, IPv6.
    routes: [Option<FamilyRoute>; 2],
    max_batch: usize,
    /// Scratch for [`Session::next_batch`](super::session::Session::next_batch).
    batch: Vec<Probe>,
    /// Probes given back (the send buffer was full): given out again
    /// first, stamped anew.
    ready: VecDeque<Probe>,
    /// Probes the session handed out with their messages, built (under
    /// one lock of the session) at `built_at`, not yet given out.
    prebuilt: VecDeque<(Probe, Vec<u8>, Via)>,
    built_at: Timestamp,
    /// Message buffers to build into.
    spare: Vec<Vec<u8>>,
    /// Probes given to the driver and not answered yet, with the time
    /// their stamps carry, in the order given.
    given: VecDeque<(Probe, Timestamp)>,
    /// Probes sent and not yet recorded in the session (all stamped
    /// `sent_at`): recorded under one lock once the batch is answered.
    sent_run: Vec<Probe>,
    sent_at: Timestamp,
    wake: Option<Deadline>,
    /// The session said it is over.
    done: bool,
    stopped: bool,
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl SweepProtocol {
    pub(super) fn new(
        shared: Arc<Shared>,
        builder: MessageBuilder,
        routes: [Option<FamilyRoute>; 2],
        max_batch: usize,
    ) -> Self {
        SweepProtocol {
            shared,
            builder,
            routes,
            max_batch,
            batch: Vec::with_capacity(max_batch),
            ready: VecDeque::with_capacity(max_batch),
            prebuilt: VecDeque::with_capacity(max_batch),
            built_at: Timestamp::default(),
            spare: Vec::new(),
            given: VecDeque::with_capacity(max_batch),
            sent_run: Vec::with_capacity(max_batch),
            sent_at: Timestamp::default(),
            wake: None,
            done: false,
            stopped: false,
        }
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(super) fn builder(&self) -> &MessageBuilder {
        &self.builder
    }

    /// Stops sending and waiting (Ctrl-C) but still gives out what was
    /// learnt ([`Session::cut_short`](super::session::Session::cut_short)): the probes held here go back to the
    /// session first, so that the targets awaiting them get their results.
    pub(super) fn finish_early(&mut self, now: Timestamp) {
        self.record_sent();
        let mut held: Vec<Probe> = self.ready.drain(..).collect();
        held.extend(self.prebuilt.drain(..).map(|(probe, _, _)| probe));
        let mut session = self.shared.session();
        session.requeue(&held);
        session.cut_short(now);
    }

    /// Builds `probe`'s message stamped `now` (one lock of the session).
    fn build(&mut self, probe: &Probe, now: Timestamp, message: &mut Vec<u8>) -> Via {
        let session = self.shared.session();
        self.builder.build_one(&session, probe, now, message)
    }

    /// Records the probes of the batch that left (one lock of the
    /// session for the whole batch).
    fn record_sent(&mut self) {
        if !self.sent_run.is_empty() {
            self.shared.session().on_sent(&self.sent_run, self.sent_at);
            self.sent_run.clear();
        }
    }

    fn route(&self, family: Family) -> Option<FamilyRoute> {
        self.routes[slot(family)]
    }

    /// Takes the next batch from the session and builds its messages
    /// stamped `now` (one lock for both); false (with the wake-up time
    /// set) when there is none now.
    fn refill(&mut self, now: Timestamp) -> bool {
        let mut session = self.shared.session();
        let next = session.next_batch(now, &mut self.batch);
        match next {
            Next::Send => {
                self.built_at = now;
                for probe in self.batch.drain(..) {
                    let mut message = self.spare.pop().unwrap_or_default();
                    let via = self.builder.build_one(&session, &probe, now, &mut message);
                    self.prebuilt.push_back((probe, message, via));
                }
                true
            }
            Next::WaitUntil(ns) => {
                self.wake = Some(Deadline::from_monotonic_ns(ns));
                false
            }
            Next::Done => {
                self.done = true;
                self.wake = None;
                false
            }
        }
    }

    fn on_packet(&mut self, buf: &[u8], meta: &SweepMeta, now: Timestamp) {
        let r = &meta.received;
        let icmp = buf.get(r.icmp.clone()).unwrap_or(&[]);
        let family = meta.family;
        let mut session = self.shared.session();
        match probe::classify(family, icmp) {
            Incoming::EchoReply {
                id,
                sequence,
                data,
                checksum_ok,
            } => {
                let reply = EchoReply {
                    from: r.source,
                    // Datagram sockets only deliver replies to their own id.
                    id: if meta.datagram {
                        session.id(family)
                    } else {
                        id
                    },
                    sequence,
                    data,
                    bytes: icmp.len(),
                    ttl: r.ttl,
                    kernel_rx_ns: r.kernel_time.map(nanos),
                    checksum_ok,
                };
                session.on_reply(family, &reply, now);
            }
            Incoming::Error {
                icmp_type,
                code,
                info,
                quoted,
                quoted_icmp,
            } => {
                let err = IcmpError::classify(family, r.source, icmp_type, code, info);
                session.on_error(family, quoted_icmp, quoted.destination, err);
            }
            Incoming::Corrupted => session.on_corrupted(),
            Incoming::Other => {}
        }
    }
}

impl Protocol for SweepProtocol {
    type Event = SweepEvent;
    type Meta = SweepMeta;

    fn poll_timeout(&self) -> Option<Deadline> {
        self.wake
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        let mut session = self.shared.session();
        session.expire(now);
        if self.wake.is_some_and(|w| w.is_reached(now)) {
            // Until the next batch is asked for (a full buffer may delay
            // it), wake for the next timeout only: a passed wake-up would
            // spin.
            self.wake = session.next_timeout_ns().map(Deadline::from_monotonic_ns);
        }
    }

    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool {
        if self.stopped {
            return false;
        }
        if self.ready.is_empty() && self.prebuilt.is_empty() && !self.refill(now) {
            return false;
        }
        let (probe, via) = match self.ready.pop_front() {
            Some(probe) => (probe, self.build(&probe, now, &mut out.message)),
            None => {
                let Some((probe, mut message, mut via)) = self.prebuilt.pop_front() else {
                    return false;
                };
                if self.built_at == now {
                    std::mem::swap(&mut out.message, &mut message);
                } else {
                    // Left from an earlier turn: stamp it anew.
                    via = self.build(&probe, now, &mut out.message);
                }
                self.spare.push(message);
                (probe, via)
            }
        };
        let destination = self.builder.targets().destination(probe.index);
        // Not a target, or a family without a socket (cannot happen): the
        // send refuses it, and the probe is settled as refused.
        out.destination = destination.map(|(address, _)| address);
        out.scope_id = destination.map_or(0, |(_, scope_id)| scope_id);
        out.via = destination
            .and_then(|(address, _)| self.route(family_of(address)))
            .map_or(usize::MAX, |r| r.via);
        if let Via::Frame(ifindex) = via {
            // A whole frame, for the packet socket; its interface where
            // a socket address would carry a zone.
            out.via = PACKET_VIA;
            out.scope_id = ifindex;
        }
        out.token = probe.index;
        self.given.push_back((probe, now));
        true
    }

    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome) {
        let Some((probe, at)) = self.given.pop_front() else {
            return;
        };
        debug_assert_eq!(probe.index, sent.token, "answered in the order given");
        match outcome {
            SendOutcome::Sent => {
                if at != self.sent_at {
                    self.record_sent();
                    self.sent_at = at;
                }
                self.sent_run.push(probe);
            }
            SendOutcome::Failed { error, .. } => {
                self.shared
                    .session()
                    .on_send_error(&probe, at, &refusal_text(&error));
            }
        }
        if self.given.is_empty() {
            self.record_sent();
        }
    }

    fn on_blocked(&mut self, blocked: &Transmit) {
        // Answered the last first: the last given, back to the front.
        if let Some((probe, _)) = self.given.pop_back() {
            debug_assert_eq!(probe.index, blocked.token);
            self.ready.push_front(probe);
        }
        if self.given.is_empty() {
            self.record_sent();
        }
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn handle_incoming(&mut self, buf: &[u8], meta: &SweepMeta, now: Timestamp) {
        self.on_packet(buf, meta, now);
    }

    /// An ICMP error quoting our request on a datagram socket (a raw
    /// socket also receives each ICMP error as a packet, handled with the
    /// whole quote, so it is counted once there). Local errors are taken
    /// where a send fails.
    fn handle_queued_error(&mut self, q: &QueuedError, quote: &[u8], _now: Timestamp) {
        if q.origin == ErrorOrigin::Local {
            return;
        }
        let Some(from) = q.offender.or(q.destination) else {
            return;
        };
        let family = family_of(q.destination.unwrap_or(from));
        if !self.route(family).is_some_and(|r| r.datagram) {
            return;
        }
        let err = IcmpError::classify(family, from, q.icmp_type, q.icmp_code, q.info);
        self.shared
            .session()
            .on_error(family, quote, q.destination, err);
    }

    fn handle_receive_error(&mut self, _error: &io::Error) {
        self.shared.session().on_receive_error();
    }

    fn poll_event(&mut self) -> Option<SweepEvent> {
        self.shared.session().poll_event()
    }

    fn is_done(&self) -> bool {
        (self.done || self.stopped) && !self.shared.session().has_events()
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.wake = None;
        // The sending threads return at their next batch.
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    fn awaiting_replies(&self) -> bool {
        // Read to `WouldBlock` after each batch: a sweep nearly always
        // has probes in flight.
        true
    }

    fn read_errors_after_send(&self) -> bool {
        // Datagram sockets get ICMP errors on the error queue only: read
        // it between batches, or a busy sweep would let its probes time
        // out before their errors are read.
        self.routes.iter().flatten().any(|r| r.datagram)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::permutation::Shard;
    use crate::engine::stamp::StampKey;
    use crate::sweep::session::{Schedule, Session};
    use crate::sweep::targets::{TargetSet, TargetSpec};

    fn at(ms: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 1_700_000_000_000_000_000 + ms * 1_000_000,
            monotonic_ns: 10_000_000_000 + ms * 1_000_000,
        }
    }

    /// A count-1 sweep of `net` with no rate limit, in batches of `batch`.
    fn protocol(net: &str, batch: usize) -> SweepProtocol {
        let mut b = TargetSet::builder();
        let TargetSpec::Net(n) = net.parse::<TargetSpec>().unwrap() else {
            panic!("a prefix");
        };
        b.net(n);
        let schedule = Schedule {
            retries: 0,
            rate: 0,
            batch,
            timeout: Duration::from_millis(100),
            ..Schedule::default()
        };
        let key = StampKey::from_parts(1, 2);
        let mut session =
            Session::new(b.build().unwrap(), schedule, 9, Shard::default(), key).unwrap();
        session.set_id(Family::V4, 0x1234);
        let builder = MessageBuilder::new(session.shared_targets(), 56, batch, None);
        let route = FamilyRoute {
            via: 0,
            datagram: false,
        };
        SweepProtocol::new(
            Arc::new(Shared::new(session)),
            builder,
            [Some(route), None],
            batch,
        )
    }

    /// Takes every message due at `now`, as the driver gathers a batch.
    fn gather(p: &mut SweepProtocol, now: Timestamp) -> Vec<Transmit> {
        let mut out = Vec::new();
        while out.len() < p.max_batch() {
            let mut t = Transmit::default();
            if !p.poll_transmit(now, &mut t) {
                break;
            }
            out.push(t);
        }
        out
    }

    fn sent() -> SendOutcome {
        SendOutcome::Sent
    }

    fn events(p: &mut SweepProtocol) -> Vec<SweepEvent> {
        std::iter::from_fn(|| p.poll_event()).collect()
    }

    #[test]
    fn a_blocked_batch_is_given_out_again_in_order_and_stamped_anew() {
        let mut p = protocol("192.0.2.0/29", 4);
        let first = gather(&mut p, at(0));
        assert_eq!(first.len(), 4);
        p.on_sent(&first[0], sent());
        for t in first[1..].iter().rev() {
            p.on_blocked(t);
        }
        let again = gather(&mut p, at(5));
        let tokens = |ts: &[Transmit]| ts.iter().map(|t| t.token).collect::<Vec<_>>();
        // The three put back first, in order, then a fresh one.
        assert_eq!(again.len(), 4);
        assert_eq!(tokens(&again[..3]), tokens(&first[1..]));
        assert!(!tokens(&first).contains(&again[3].token));
        // Stamped with the new time: the payload differs from the first.
        assert_ne!(again[0].message, first[1].message);
        for t in &again {
            p.on_sent(t, sent());
        }
        assert_eq!(p.shared().session().summary(at(5)).probes_sent, 5);
        // The one target left comes next, then nothing until timeouts.
        let rest = gather(&mut p, at(6));
        assert_eq!(rest.len(), 1);
        for t in &rest {
            p.on_sent(t, sent());
        }
        assert!(gather(&mut p, at(7)).is_empty());
    }

    #[test]
    fn finishing_early_gives_a_result_to_targets_held_back_by_a_full_buffer() {
        let mut p = protocol("192.0.2.0/29", 4);
        let batch = gather(&mut p, at(0));
        assert_eq!(batch.len(), 4);
        p.on_sent(&batch[0], sent());
        for t in batch[1..].iter().rev() {
            p.on_blocked(t);
        }
        p.finish_early(at(1));
        let hosts: Vec<u64> = events(&mut p)
            .into_iter()
            .filter_map(|e| match e {
                SweepEvent::Host(h) => Some(h.index),
                _ => None,
            })
            .collect();
        let mut expected: Vec<u64> = batch.iter().map(|t| t.token).collect();
        expected.sort_unstable();
        assert_eq!(hosts, expected);
        assert!(!p.poll_transmit(at(2), &mut Transmit::default()));
        assert!(p.is_done());
    }

    #[test]
    fn a_refused_send_names_its_target_and_a_receive_error_is_counted() {
        let mut p = protocol("192.0.2.0/30", 2);
        let batch = gather(&mut p, at(0));
        let error = io::Error::from_raw_os_error(libc::ENETUNREACH);
        p.on_sent(&batch[0], SendOutcome::Failed { error, local: None });
        p.on_sent(&batch[1], sent());
        p.handle_receive_error(&io::Error::from_raw_os_error(libc::ENOMEM));
        let first = events(&mut p).into_iter().next();
        match first {
            Some(SweepEvent::SendError { index, message, .. }) => {
                assert_eq!(index, batch[0].token);
                assert_eq!(message, "Network is unreachable");
            }
            other => panic!("{other:?}"),
        }
        let summary = p.shared().session().summary(at(0));
        assert_eq!((summary.send_errors, summary.probes_sent), (1, 1));
        assert_eq!(summary.receive_errors, 1);
    }
}
