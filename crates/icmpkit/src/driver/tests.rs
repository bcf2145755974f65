//! The driver's loop on a fake transport: drain order, the receive-error
//! policy, full send buffers, lost readiness edges and cancel safety,
//! without root or sockets. (The lab tests run the same loop on real
//! kernels.)

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::*;
use crate::socket::{ErrorOrigin, Received};

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What the fake socket has queued and how it answers.
#[derive(Default)]
struct FakeState {
    /// Packets (their first byte tags them) or receive errors.
    packets: VecDeque<Result<u8, io::ErrorKind>>,
    /// Error-queue entries, tagged by errno.
    errors: VecDeque<i32>,
    /// Readiness raised and not cleared yet.
    ready: bool,
    /// Answers of the next sends (`Ok` when empty).
    send_results: VecDeque<io::ErrorKind>,
    /// Room in the send buffer (false: sends are answered `WouldBlock`).
    full: bool,
    sent: Vec<u64>,
    /// Messages sent before the buffer fills (`None`: no limit).
    room: Option<usize>,
    /// Sizes of the batches handed to `send_batch`.
    batches: Vec<usize>,
    /// Queued (without raising readiness) when readiness is cleared: a
    /// packet that arrives between the last read and the clear.
    arrives_on_clear: Vec<u8>,
    clears: u32,
    /// Error-queue reads, empty or not.
    error_reads: u32,
}

#[derive(Clone, Default)]
struct Fake {
    state: Arc<Mutex<FakeState>>,
    notify: Arc<Notify>,
}

impl Fake {
    fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// A packet arrives and raises readiness.
    fn deliver(&self, tag: u8) {
        self.with(|s| {
            s.packets.push_back(Ok(tag));
            s.ready = true;
        });
        self.notify.notify_waiters();
    }

    fn deliver_error(&self, errno: i32) {
        self.with(|s| {
            s.errors.push_back(errno);
            s.ready = true;
        });
        self.notify.notify_waiters();
    }

    fn make_room(&self) {
        self.with(|s| {
            s.full = false;
            s.room = None;
        });
        self.notify.notify_waiters();
    }
}

fn received(tag: u8) -> Received {
    Received {
        len: 1,
        icmp: 0..1,
        truncated: false,
        source: PEER,
        destination: None,
        ttl: Some(tag),
        tos: None,
        kernel_time: None,
        received_at: Instant::now(),
        ifindex: None,
        control_truncated: false,
    }
}

fn queued(errno: i32) -> QueuedError {
    QueuedError {
        origin: ErrorOrigin::Icmp,
        errno,
        icmp_type: 3,
        icmp_code: 1,
        info: 0,
        offender: Some(PEER),
        destination: Some(PEER),
        len: 0,
        kernel_time: None,
        tx_time: None,
        key: 0,
        received_at: Instant::now(),
    }
}

impl Transport for Fake {
    type Meta = Received;

    fn send(&self, transmit: &Transmit) -> io::Result<()> {
        self.with(|s| {
            if s.full || s.room == Some(0) {
                s.full = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if let Some(kind) = s.send_results.pop_front() {
                return Err(kind.into());
            }
            if let Some(room) = s.room.as_mut() {
                *room -= 1;
            }
            s.sent.push(transmit.token);
            Ok(())
        })
    }

    fn send_batch(&self, transmits: &[Transmit]) -> io::Result<usize> {
        self.with(|s| s.batches.push(transmits.len()));
        let mut sent = 0;
        for transmit in transmits {
            match self.send(transmit) {
                Ok(()) => sent += 1,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(sent)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.with(|s| match s.packets.pop_front() {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(Err(kind)) => Err(kind.into()),
            Some(Ok(tag)) => {
                buf[0] = tag;
                Ok(received(tag))
            }
        })
    }

    fn recv_error(&self, _buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        Ok(self
            .with(|s| {
                s.error_reads += 1;
                s.errors.pop_front()
            })
            .map(queued))
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        let fake = self.clone();
        Box::pin(async move {
            loop {
                let notified = fake.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let ready = fake.with(|s| {
                    s.ready.then_some(Readiness {
                        readable: !s.packets.is_empty(),
                        error: !s.errors.is_empty(),
                    })
                });
                if let Some(r) = ready {
                    return Ok(r);
                }
                notified.await;
            }
        })
    }

    fn clear_ready(&self) {
        self.with(|s| {
            s.ready = false;
            s.clears += 1;
            // Queued just before the clear: their edge is erased by it.
            for tag in std::mem::take(&mut s.arrives_on_clear) {
                s.packets.push_back(Ok(tag));
            }
        });
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        let fake = self.clone();
        Box::pin(async move {
            loop {
                let notified = fake.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if !fake.with(|s| s.full) {
                    return Ok(());
                }
                notified.await;
            }
        })
    }
}

/// A protocol that sends the tokens it is given, reports everything it is
/// told as a line, and ends when told to stop.
#[derive(Default)]
struct Recorder {
    to_send: VecDeque<u64>,
    /// Messages given out and not answered yet (the first of `to_send`).
    given: usize,
    batch: usize,
    events: VecDeque<String>,
    stopped: bool,
    /// A deadline that reports "deadline" once reached.
    deadline: Option<Deadline>,
    read_before_deadlines: bool,
    /// Takes packets only while fewer events than this wait.
    max_pending: Option<usize>,
    /// Says it takes nothing from the error queue.
    no_error_queue: bool,
    /// A deadline reported for ever, passed or not (a held-back probe's).
    sticky_deadline: Option<Deadline>,
    /// Calls of handle_timeout (turns taken).
    timeouts_handled: u32,
    /// Ends when asked for a message and none is left (as ping does once
    /// its last answer is in).
    ends_when_sent: bool,
}

impl Recorder {
    fn sending(tokens: &[u64]) -> Self {
        Recorder {
            to_send: tokens.iter().copied().collect(),
            ..Recorder::default()
        }
    }
}

impl Protocol for Recorder {
    type Event = String;
    type Meta = Received;

    fn poll_timeout(&self) -> Option<Deadline> {
        self.sticky_deadline.or(self.deadline)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.timeouts_handled += 1;
        if self.deadline.is_some_and(|d| d.is_reached(now)) {
            self.deadline = None;
            self.events.push_back("deadline".into());
        }
    }

    fn read_before_deadlines(&self) -> bool {
        self.read_before_deadlines
    }

    fn uses_error_queue(&self) -> bool {
        !self.no_error_queue
    }

    fn poll_transmit(&mut self, _now: Timestamp, out: &mut Transmit) -> bool {
        let Some(&token) = self.to_send.get(self.given) else {
            if self.ends_when_sent && self.to_send.is_empty() {
                self.stopped = true;
            }
            return false;
        };
        self.given += 1;
        out.destination = Some(PEER);
        out.token = token;
        true
    }

    fn max_batch(&self) -> usize {
        self.batch.max(1)
    }

    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome) {
        assert_eq!(self.to_send.front(), Some(&sent.token), "answered in order");
        self.to_send.pop_front();
        self.given -= 1;
        self.events.push_back(match outcome {
            SendOutcome::Sent => format!("sent {}", sent.token),
            SendOutcome::Failed { error, .. } => {
                format!("failed {} {:?}", sent.token, error.kind())
            }
        });
    }

    fn on_blocked(&mut self, blocked: &Transmit) {
        // Answered the last first: the last one given out.
        assert_eq!(self.to_send.get(self.given - 1), Some(&blocked.token));
        self.given -= 1;
        self.events.push_back(format!("blocked {}", blocked.token));
    }

    fn handle_incoming(&mut self, buf: &[u8], _meta: &Received, _now: Timestamp) {
        self.events.push_back(format!("packet {}", buf[0]));
    }

    fn handle_queued_error(&mut self, error: &QueuedError, _quote: &[u8], _now: Timestamp) {
        self.events.push_back(format!("queued {}", error.errno));
    }

    fn handle_receive_error(&mut self, error: &io::Error) {
        self.events
            .push_back(format!("receive error {:?}", error.kind()));
    }

    fn poll_event(&mut self) -> Option<String> {
        self.events.pop_front()
    }

    fn is_done(&self) -> bool {
        self.stopped && self.events.is_empty()
    }

    fn accepts_packets(&self) -> bool {
        self.max_pending.is_none_or(|max| self.events.len() < max)
    }

    fn stop(&mut self) {
        self.stopped = true;
    }
}

fn driver(protocol: Recorder, fake: &Fake) -> Driver<Recorder, Fake> {
    Driver::new(protocol, fake.clone(), 64)
}

/// The next event, or `None` if none comes within a short wait.
async fn next(d: &mut Driver<Recorder, Fake>) -> Option<String> {
    tokio::time::timeout(Duration::from_millis(200), d.next_event())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn error_queue_is_read_before_packets_and_everything_is_drained() {
    let fake = Fake::default();
    let mut d = driver(Recorder::default(), &fake);
    fake.deliver(1);
    fake.deliver(2);
    fake.deliver_error(113);
    assert_eq!(next(&mut d).await.as_deref(), Some("queued 113"));
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 1"));
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 2"));
    assert_eq!(next(&mut d).await, None, "nothing else is queued");
}

#[tokio::test]
async fn a_receive_error_is_counted_and_reading_goes_on() {
    let fake = Fake::default();
    let mut d = driver(Recorder::default(), &fake);
    fake.with(|s| s.packets.push_back(Err(io::ErrorKind::ConnectionRefused)));
    fake.deliver(7);
    assert_eq!(
        next(&mut d).await.as_deref(),
        Some("receive error ConnectionRefused")
    );
    // The old loops (`while let Ok(..) = recv`) stopped here and cleared
    // readiness, stranding packet 7 until another packet came.
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 7"));
    assert_eq!(d.counters().receive_errors, 1);
}

#[tokio::test]
async fn an_error_storm_yields_but_loses_nothing() {
    let fake = Fake::default();
    let mut d = driver(Recorder::default(), &fake);
    fake.with(|s| {
        for _ in 0..(ERRORS_PER_DRAIN * 3) {
            s.packets.push_back(Err(io::ErrorKind::ConnectionRefused));
        }
    });
    fake.deliver(9);
    let mut seen = Vec::new();
    while let Some(e) = next(&mut d).await {
        seen.push(e);
    }
    assert_eq!(seen.len() as u32, ERRORS_PER_DRAIN * 3 + 1);
    assert_eq!(seen.last().map(String::as_str), Some("packet 9"));
}

#[tokio::test]
async fn a_packet_queued_while_readiness_is_cleared_is_still_read() {
    let fake = Fake::default();
    let mut d = driver(Recorder::default(), &fake);
    fake.with(|s| s.arrives_on_clear = vec![5]);
    fake.deliver(4);
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 4"));
    // No readiness is raised for 5: only the read after the clear finds it.
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 5"));
    assert!(fake.with(|s| s.clears) >= 1);
}

#[tokio::test]
async fn a_full_send_buffer_waits_and_sends_the_same_probe() {
    let fake = Fake::default();
    fake.with(|s| s.full = true);
    let mut d = driver(Recorder::sending(&[1, 2]), &fake);
    assert_eq!(next(&mut d).await.as_deref(), Some("blocked 1"));
    // Nothing is sent, nothing fails, while the buffer stays full.
    assert_eq!(next(&mut d).await, None);
    assert!(fake.with(|s| s.sent.is_empty()));
    fake.make_room();
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 1"));
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 2"));
    assert_eq!(fake.with(|s| s.sent.clone()), vec![1, 2]);
    assert_eq!(d.counters().blocked_sends, 1);
}

#[tokio::test]
async fn a_refused_send_is_reported_with_its_error() {
    let fake = Fake::default();
    fake.with(|s| s.send_results.push_back(io::ErrorKind::NetworkUnreachable));
    let mut d = driver(Recorder::sending(&[1, 2]), &fake);
    assert_eq!(
        next(&mut d).await.as_deref(),
        Some("failed 1 NetworkUnreachable")
    );
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 2"));
}

#[tokio::test]
async fn dropping_next_event_while_it_waits_loses_nothing() {
    let fake = Fake::default();
    let mut d = driver(Recorder::default(), &fake);
    for round in 0..20u8 {
        // The wait is cancelled (as a losing select! branch is)...
        assert!(
            tokio::time::timeout(Duration::from_millis(2), d.next_event())
                .await
                .is_err()
        );
        // ...and what arrives afterwards is still delivered, once.
        fake.deliver(round);
        assert_eq!(next(&mut d).await, Some(format!("packet {round}")));
    }
    assert_eq!(next(&mut d).await, None);
}

#[tokio::test]
async fn a_stop_handle_ends_a_waiting_driver_from_another_task() {
    let fake = Fake::default();
    let mut d = driver(Recorder::default(), &fake);
    let stop = d.stop_handle();
    let waiter = tokio::spawn(async move { d.next_event().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    stop.stop();
    let ended = tokio::time::timeout(Duration::from_secs(2), waiter).await;
    assert!(matches!(ended, Ok(Ok(None))), "{ended:?}");
}

/// A packet that arrived before a deadline while nobody polled is read
/// before the deadline is acted on, when the protocol asks for it.
#[tokio::test]
async fn a_packet_queued_before_a_passed_deadline_is_read_first_when_asked() {
    for read_first in [false, true] {
        let fake = Fake::default();
        let protocol = Recorder {
            deadline: Some(Deadline::after(Timestamp::now(), Duration::from_millis(20))),
            read_before_deadlines: read_first,
            ..Recorder::default()
        };
        let mut d = driver(protocol, &fake);
        fake.deliver(3);
        // Nobody polls until the deadline has passed.
        tokio::time::sleep(Duration::from_millis(40)).await;
        let order = [next(&mut d).await, next(&mut d).await];
        let expected = if read_first {
            ["packet 3", "deadline"]
        } else {
            ["deadline", "packet 3"]
        };
        assert_eq!(
            order.map(|e| e.unwrap_or_default()),
            expected.map(String::from)
        );
    }
}

#[tokio::test]
async fn a_batch_is_gathered_and_sent_in_one_call() {
    let fake = Fake::default();
    let mut recorder = Recorder::sending(&[1, 2, 3, 4, 5]);
    recorder.batch = 3;
    let mut d = driver(recorder, &fake);
    for token in 1..=5 {
        assert_eq!(next(&mut d).await, Some(format!("sent {token}")));
    }
    assert_eq!(fake.with(|s| s.batches.clone()), vec![3, 2]);
    assert_eq!(fake.with(|s| s.sent.clone()), vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_batch_cut_short_by_a_full_buffer_puts_back_the_rest_in_order() {
    let fake = Fake::default();
    fake.with(|s| s.room = Some(1));
    let mut recorder = Recorder::sending(&[1, 2, 3]);
    recorder.batch = 3;
    let mut d = driver(recorder, &fake);
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 1"));
    assert_eq!(next(&mut d).await.as_deref(), Some("blocked 3"));
    assert_eq!(next(&mut d).await.as_deref(), Some("blocked 2"));
    assert_eq!(next(&mut d).await, None);
    fake.make_room();
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 2"));
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 3"));
    assert_eq!(fake.with(|s| s.sent.clone()), vec![1, 2, 3]);
    assert_eq!(d.counters().blocked_sends, 1);
}

#[tokio::test]
async fn a_refused_message_in_a_batch_fails_alone() {
    let fake = Fake::default();
    fake.with(|s| s.send_results.push_back(io::ErrorKind::NetworkUnreachable));
    let mut recorder = Recorder::sending(&[1, 2, 3]);
    recorder.batch = 3;
    let mut d = driver(recorder, &fake);
    assert_eq!(
        next(&mut d).await.as_deref(),
        Some("failed 1 NetworkUnreachable")
    );
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 2"));
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 3"));
    // The rest of the batch went in one more call.
    assert_eq!(fake.with(|s| s.batches.clone()), vec![3, 2]);
}

#[tokio::test]
async fn a_protocol_full_of_events_leaves_packets_queued_until_they_are_taken() {
    let fake = Fake::default();
    let recorder = Recorder {
        max_pending: Some(1),
        ..Recorder::default()
    };
    let mut d = driver(recorder, &fake);
    for tag in 1..=3 {
        fake.deliver(tag);
    }
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 1"));
    assert_eq!(
        fake.with(|s| s.packets.len()),
        2,
        "the rest stays in the socket while an event waits"
    );
    assert_eq!(fake.with(|s| s.clears), 0, "readiness is kept for them");
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 2"));
    assert_eq!(next(&mut d).await.as_deref(), Some("packet 3"));
    assert_eq!(next(&mut d).await, None);
    fake.deliver(4);
    assert_eq!(
        next(&mut d).await.as_deref(),
        Some("packet 4"),
        "a new edge is seen"
    );
}

#[tokio::test]
async fn a_protocol_without_an_error_queue_is_not_read_there_after_clearing() {
    for uses in [true, false] {
        let fake = Fake::default();
        let recorder = Recorder {
            no_error_queue: !uses,
            ..Recorder::default()
        };
        let mut d = driver(recorder, &fake);
        fake.deliver(1);
        assert_eq!(next(&mut d).await.as_deref(), Some("packet 1"));
        let reads = fake.with(|s| s.error_reads);
        assert_eq!(reads > 0, uses, "error-queue reads: {reads}");
        // Readiness that says "error" is always read.
        fake.deliver_error(113);
        assert_eq!(next(&mut d).await.as_deref(), Some("queued 113"));
    }
}

#[tokio::test]
async fn a_blocked_send_with_a_passed_deadline_waits_instead_of_spinning() {
    let fake = Fake::default();
    fake.with(|s| s.full = true);
    let mut recorder = Recorder::sending(&[1]);
    // Ping's held-back probe keeps reporting the send deadline that passed.
    recorder.sticky_deadline = Some(Deadline::from_monotonic_ns(0));
    let mut d = driver(recorder, &fake);
    assert_eq!(next(&mut d).await.as_deref(), Some("blocked 1"));
    assert_eq!(next(&mut d).await, None, "nothing while the buffer is full");
    let turns = d.protocol().timeouts_handled;
    assert!(turns < 50, "{turns} turns in 200 ms: the loop spins");
    fake.make_room();
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 1"));
}

#[tokio::test]
async fn an_owed_drain_stays_owed_until_the_socket_is_empty() {
    let fake = Fake::default();
    // One event at a time (a listener's back-pressure); three packets queue
    // while readiness is cleared, so no edge will announce them.
    let recorder = Recorder {
        max_pending: Some(1),
        ..Recorder::default()
    };
    let mut d = driver(recorder, &fake);
    fake.with(|s| {
        s.arrives_on_clear = vec![2, 3, 4];
        s.ready = true;
    });
    fake.notify.notify_waiters();
    for tag in 2..=4 {
        assert_eq!(next(&mut d).await, Some(format!("packet {tag}")));
    }
    assert_eq!(next(&mut d).await, None);
}

#[tokio::test]
async fn a_protocol_that_ends_when_asked_to_send_ends_the_stream() {
    let fake = Fake::default();
    let started = Instant::now();
    let mut recorder = Recorder::sending(&[1]);
    recorder.ends_when_sent = true;
    let mut d = driver(recorder, &fake);
    assert_eq!(next(&mut d).await.as_deref(), Some("sent 1"));
    // Nothing else would ever wake it: the end must come at once (a wait
    // would end only with the timeout, which polls it once more).
    let end = tokio::time::timeout(Duration::from_millis(500), d.next_event()).await;
    assert_eq!(end, Ok(None), "the stream must end, not wait");
    let again = tokio::time::timeout(Duration::from_millis(100), d.next_event()).await;
    assert_eq!(again, Ok(None));
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "ended only when the timeout polled it: {:?}",
        started.elapsed()
    );
}
