//! The one probe driver: the I/O loop every command runs on.
//!
//! A command's *protocol* is a pure state machine (no I/O, no clock reads,
//! no randomness: it is given the time and its key) in quinn-proto's shape:
//! the driver asks it what to send ([`Protocol::poll_transmit`]), tells it
//! what became of each send ([`Protocol::on_sent`]), feeds it what arrives
//! ([`Protocol::handle_incoming`], [`Protocol::handle_queued_error`]),
//! wakes it at its deadlines ([`Protocol::poll_timeout`],
//! [`Protocol::handle_timeout`]) and hands out its events
//! ([`Protocol::poll_event`]). A [`Transport`] is the socket set the
//! command needs; the driver waits on its readiness and drains it with one
//! policy:
//!
//! - read until `WouldBlock`; any other receive error is counted, logged
//!   with `tracing` and given to the protocol (never a silent stop);
//! - readiness is cleared only after a read saw `WouldBlock`, and the
//!   socket is read once more after clearing, so no readiness edge is ever
//!   lost (a packet that arrived between the last read and the clear is
//!   taken by that second read; one arriving later raises a new edge);
//! - a send that finds the buffer full (`EAGAIN`) is not a failed probe:
//!   the protocol keeps the probe ([`Protocol::on_blocked`]) and the driver
//!   waits for room, as iputils blocks in `sendmsg`;
//! - every state change happens between two polls, so dropping the future
//!   of [`Driver::next_event`] (a `select!` branch losing) loses nothing.
//!
//! The driver is poll-based ([`Driver::poll_event`]): the event sources'
//! `futures_core::Stream` implementations and their async `next_event`
//! are the same code.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::engine::clock::{Deadline, Timestamp};
#[cfg(doc)]
use crate::socket::Received;
use crate::socket::{QueuedError, Readiness};

mod transport;
pub(crate) use transport::{IcmpTransport, Transport, has_send_room};

#[cfg(test)]
mod tests;

/// A boxed, sendable future: what a transport's readiness waits are.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One message the protocol wants sent: the driver owns the buffer and
/// lends it to [`Protocol::poll_transmit`] to fill, so nothing is allocated
/// per probe.
#[derive(Debug, Default)]
pub(crate) struct Transmit {
    /// Where it goes.
    pub destination: Option<IpAddr>,
    /// IPv6 zone (interface index) of a link-local destination.
    pub scope_id: u32,
    /// The ICMP message (header + data).
    pub message: Vec<u8>,
    /// The protocol's own tag for the probe (ping: the sequence number).
    pub token: u64,
    /// Which socket of the transport's set sends it (0: the first; a
    /// one-socket transport ignores it).
    pub via: usize,
    /// TTL / hop limit for this message alone (`None`: the socket's).
    pub ttl: Option<u8>,
}

/// What became of a send.
#[derive(Debug)]
pub(crate) enum SendOutcome {
    /// Handed to the kernel. No time comes with it: each protocol stamps
    /// its probes with the `now` it built them at (reading the clocks
    /// again around every send cost a flood 2 of its 7 clock reads).
    Sent,
    /// Refused by the kernel (other than a full buffer).
    Failed {
        /// The error `sendmsg` returned.
        error: io::Error,
        /// The local error the kernel queued for it, if any (the path MTU
        /// of an `EMSGSIZE`).
        local: Option<QueuedError>,
    },
}

/// A command's pure state machine, as the driver sees it.
pub(crate) trait Protocol {
    /// What the command reports as it goes.
    type Event;

    /// What the transport tells about a received packet (ICMP sockets:
    /// [`Received`]).
    type Meta;

    /// When the protocol next needs [`Protocol::handle_timeout`] (its next
    /// send, timeout or end), or `None` if only a packet can move it.
    fn poll_timeout(&self) -> Option<Deadline>;

    /// Acts on every deadline that passed by `now` (timeouts, the end).
    fn handle_timeout(&mut self, now: Timestamp);

    /// Fills `out` with the next message if one is due at `now` (true), or
    /// says there is none (false). Giving out a message changes nothing
    /// until [`Protocol::on_sent`] or [`Protocol::on_blocked`] answers it.
    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool;

    /// The message `sent` (the last one given out) was sent or refused.
    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome);

    /// The send buffer was full: the message was not sent; give the same
    /// probe out again when asked (stamped anew). Of a batch
    /// ([`Protocol::max_batch`]), each message not sent is answered so,
    /// the last first: a protocol that pushes each back to the front of
    /// its queue keeps their order.
    fn on_blocked(&mut self, _blocked: &Transmit) {}

    /// Most messages the driver gathers (one [`Protocol::poll_transmit`]
    /// each, all with the same `now`) before one
    /// [`Transport::send_batch`]; each is then answered in order. 1: every
    /// message is sent on its own before the next is asked for.
    fn max_batch(&self) -> usize {
        1
    }

    /// A packet arrived: `buf[meta.icmp]` is its ICMP message.
    fn handle_incoming(&mut self, buf: &[u8], meta: &Self::Meta, now: Timestamp);

    /// An error-queue entry arrived (ICMP error on a datagram socket,
    /// transmit stamp, local error); `quote` is the start of our message.
    fn handle_queued_error(&mut self, error: &QueuedError, quote: &[u8], now: Timestamp);

    /// A receive failed with something other than `WouldBlock` (already
    /// counted and logged by the driver).
    fn handle_receive_error(&mut self, _error: &io::Error) {}

    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// True once nothing more will happen (every event was taken).
    fn is_done(&self) -> bool;

    /// Stop at the next step (Ctrl-C, or a [`StopHandle`]).
    fn stop(&mut self);

    /// Right after a send, keep reading while this holds (a flood stops
    /// once nothing is in flight rather than pay a read that finds the
    /// socket empty); reading always stops at `WouldBlock`.
    fn awaiting_replies(&self) -> bool {
        true
    }

    /// Whether the protocol takes packets now. A protocol whose events
    /// are the packets themselves (listen) says no while it holds enough
    /// of them not yet taken: the drain then stops and hands those out
    /// first, and the rest waits in the kernel's buffer (whose drops are
    /// counted there) instead of piling up in memory. Saying no is only
    /// for a protocol with events pending, so the loop never spins.
    fn accepts_packets(&self) -> bool {
        true
    }

    /// Read the error queue right after each send (transmit stamps are
    /// usually queued before `sendmsg` returns).
    fn read_errors_after_send(&self) -> bool {
        true
    }

    /// The protocol takes error-queue entries (ICMP errors on datagram
    /// sockets, transmit stamps, local errors). A pure listener sends
    /// nothing, so none come: the read after each clearing of readiness
    /// then skips the error queue (a system call per wake saved). The
    /// queue is still read whenever readiness says it has something.
    fn uses_error_queue(&self) -> bool {
        true
    }

    /// Before acting on a deadline that passed, read what is queued: an
    /// answer that arrived in time while nobody polled (a slow consumer)
    /// then counts before its probe expires.
    fn read_before_deadlines(&self) -> bool {
        false
    }
}

/// Stops a running probe from another task or thread.
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    inner: Arc<StopState>,
}

#[derive(Debug, Default)]
struct StopState {
    stopped: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl StopHandle {
    /// Asks the probe to stop: it finishes at its next step, its report
    /// stays available, and its event stream ends.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let waker = self.inner.waker.lock().map(|mut w| w.take());
        if let Ok(Some(waker)) = waker {
            waker.wake();
        }
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    fn register(&self, waker: &Waker) {
        if let Ok(mut slot) = self.inner.waker.lock() {
            match slot.as_ref() {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
    }
}

/// What the driver counted about its transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportCounters {
    /// Receive calls that failed with something other than `WouldBlock`.
    pub receive_errors: u64,
    /// Sends that found the buffer full and waited for room.
    pub blocked_sends: u64,
}

/// Turns taken in one poll before yielding to the runtime (interval 0 or a
/// flood never waits on its own).
const TURNS_PER_POLL: u32 = 128;

/// Consecutive receive errors taken in one drain before yielding.
const ERRORS_PER_DRAIN: u32 = 64;

/// Packets read in one drain before the turn ends (the rest on the next
/// turn, after tokio's budget says whether to yield): a flood of arrivals
/// never pins the task, so timers and signals still run.
const PACKETS_PER_DRAIN: usize = 256;

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// Saw `WouldBlock` (or an empty error queue) after reading this many.
    Empty(usize),
    /// Stopped before that (error storm): more may be queued.
    Stopped,
}

/// The I/O loop of one protocol on one transport.
pub(crate) struct Driver<P: Protocol, T: Transport<Meta = P::Meta>> {
    protocol: P,
    transport: T,
    /// The messages of one send, `gathered` of them filled.
    transmits: Vec<Transmit>,
    gathered: usize,
    recv_buf: Vec<u8>,
    timer: Pin<Box<tokio::time::Sleep>>,
    timer_deadline: Option<Deadline>,
    read_wait: Option<BoxFuture<io::Result<Readiness>>>,
    write_wait: Option<BoxFuture<io::Result<()>>>,
    /// A drain stopped early after readiness was cleared: drain before
    /// waiting again (no edge would come for what is queued).
    drain_owed: bool,
    /// Readiness waits fail for good (the reactor is gone): run on timers.
    read_failed: bool,
    stop: StopHandle,
    /// The waker last given to `stop` (re-registered only when it changes).
    stop_waker: Option<Waker>,
    counters: TransportCounters,
    /// An event taken from the protocol to see whether one was pending.
    stashed: Option<P::Event>,
}

impl<P: Protocol, T: Transport<Meta = P::Meta>> std::fmt::Debug for Driver<P, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("counters", &self.counters)
            .field("stopped", &self.stop.is_stopped())
            .finish_non_exhaustive()
    }
}

impl<P: Protocol, T: Transport<Meta = P::Meta>> Driver<P, T> {
    /// A driver running `protocol` on `transport`; `recv_len` is the
    /// largest packet it reads whole.
    pub fn new(protocol: P, transport: T, recv_len: usize) -> Self {
        Driver {
            protocol,
            transport,
            transmits: Vec::new(),
            gathered: 0,
            recv_buf: vec![0; recv_len],
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_deadline: None,
            read_wait: None,
            write_wait: None,
            drain_owed: false,
            read_failed: false,
            stop: StopHandle::default(),
            stop_waker: None,
            counters: TransportCounters::default(),
            stashed: None,
        }
    }

    /// The protocol, for its getters.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The protocol, to change it between events.
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// The transport, for its getters.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, to change it between events.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// A handle that stops this driver's protocol from elsewhere.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// What the driver counted.
    pub fn counters(&self) -> TransportCounters {
        self.counters
    }

    /// The next event, `None` when the protocol is done. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<P::Event> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Polls for the next event (the `Stream` form of
    /// [`Driver::next_event`]).
    pub fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<P::Event>> {
        for _ in 0..TURNS_PER_POLL {
            if self.stop.is_stopped() {
                self.protocol.stop();
            }
            if let Some(event) = self.stashed.take().or_else(|| self.protocol.poll_event()) {
                return Poll::Ready(Some(event));
            }
            if self.protocol.is_done() {
                return Poll::Ready(None);
            }
            // Each turn spends a unit of tokio's task budget, so a flood
            // (whose every call is ready at once) still lets the runtime
            // run its timers, signals and other tasks now and then.
            let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
            if !self.turn(cx) {
                self.register_stop(cx);
                return Poll::Pending;
            }
            coop.made_progress();
        }
        // Interval 0 or a flood never waits by itself: let the runtime run
        // its timers, signals and other tasks, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Leaves the task's waker with the stop handle before a wait: only a
    /// task that waits needs waking (one handed an event polls again), so
    /// a stream handing out packets one by one takes no lock for each.
    /// (Measured: under tokio the waker kept here failed `will_wake`
    /// against the task's on every poll, so the lock was taken per event.)
    fn register_stop(&mut self, cx: &mut Context<'_>) {
        if !self
            .stop_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.stop.register(cx.waker());
            self.stop_waker = Some(cx.waker().clone());
        }
        // A stop between the turn's check and the registration found no
        // waker to wake: go round once more instead of waiting.
        if self.stop.is_stopped() {
            cx.waker().wake_by_ref();
        }
    }

    /// One step: deadlines, then a send, or else a wait. False when the
    /// wait is pending (the context's waker will be called).
    fn turn(&mut self, cx: &mut Context<'_>) -> bool {
        let now = Timestamp::now();
        if self.protocol.read_before_deadlines()
            && self
                .protocol
                .poll_timeout()
                .is_some_and(|d| d.is_reached(now))
        {
            self.drain(true);
        }
        self.protocol.handle_timeout(now);
        if self.drain_owed {
            self.drain(true);
            return true;
        }
        // An event the deadlines or a drain just produced is handed out
        // before anything else (even while the send buffer is full).
        if self.stashed.is_none() {
            self.stashed = self.protocol.poll_event();
        }
        if self.stashed.is_some() || self.protocol.is_done() {
            return true;
        }
        if self.write_wait.is_some() && !self.poll_writable(cx) {
            // Only readiness, room to send or a deadline still ahead can
            // move us while blocked: the probe held back keeps its passed
            // send deadline, which must not make every turn go round again.
            let ahead = self.protocol.poll_timeout().filter(|d| !d.is_reached(now));
            return self.wait(cx, now, ahead);
        }
        if self.gather(now) {
            self.send(cx);
            return true;
        }
        // Asking for a message can end the protocol (ping's last answer
        // was in): go round to end the stream instead of waiting.
        if self.protocol.is_done() {
            return true;
        }
        let deadline = self.protocol.poll_timeout();
        self.wait(cx, now, deadline)
    }

    /// Asks the protocol for up to [`Protocol::max_batch`] messages due at
    /// `now`; true if it gave at least one.
    fn gather(&mut self, now: Timestamp) -> bool {
        let max = self.protocol.max_batch().max(1);
        self.gathered = 0;
        while self.gathered < max {
            if self.transmits.len() == self.gathered {
                self.transmits.push(Transmit::default());
            }
            if !self
                .protocol
                .poll_transmit(now, &mut self.transmits[self.gathered])
            {
                break;
            }
            self.gathered += 1;
        }
        self.gathered > 0
    }

    /// Sends the messages the protocol gave out, in as few calls as the
    /// transport allows, and reads what they brought.
    fn send(&mut self, cx: &mut Context<'_>) {
        let mut offset = 0;
        let mut any_sent = false;
        while offset < self.gathered {
            let batch = &self.transmits[offset..self.gathered];
            match self.transport.send_batch(batch) {
                Ok(sent) => {
                    for transmit in batch.iter().take(sent) {
                        self.protocol.on_sent(transmit, SendOutcome::Sent);
                    }
                    // A transport that sent nothing without an error would
                    // loop forever: take it as a full buffer.
                    if sent == 0 {
                        self.blocked(offset, cx);
                        break;
                    }
                    offset += sent;
                    any_sent = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.blocked(offset, cx);
                    break;
                }
                Err(error) => {
                    let local = self.take_local_error();
                    self.protocol.on_sent(
                        &self.transmits[offset],
                        SendOutcome::Failed { error, local },
                    );
                    offset += 1;
                }
            }
        }
        self.gathered = 0;
        if any_sent {
            if self.transport.drops_pending_wait_on_send() {
                self.read_wait = None;
            }
            self.after_send();
        }
    }

    /// The send buffer is full: the messages from `from` on go back to the
    /// protocol (the last first) and the driver waits for room.
    fn blocked(&mut self, from: usize, cx: &mut Context<'_>) {
        self.counters.blocked_sends += 1;
        for transmit in self.transmits[from..self.gathered].iter().rev() {
            self.protocol.on_blocked(transmit);
        }
        self.write_wait = Some(self.transport.wait_writable());
        // Register the waker now: the next turn may not poll it.
        self.poll_writable(cx);
    }

    /// True once the send buffer has room again (the wait is over).
    fn poll_writable(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(wait) = self.write_wait.as_mut() else {
            return true;
        };
        match wait.as_mut().poll(cx) {
            Poll::Pending => false,
            Poll::Ready(result) => {
                if let Err(e) = result {
                    self.receive_error(&e);
                }
                self.write_wait = None;
                true
            }
        }
    }

    /// On fast paths (loopback, veth) the answer is queued before `sendmsg`
    /// returns: take it now rather than by a trip through the reactor. This
    /// also empties the socket between sends when nothing ever waits.
    fn after_send(&mut self) {
        if self.protocol.read_errors_after_send() {
            self.drain_errors();
        }
        let mut errors = 0;
        let mut read = 0;
        while read < PACKETS_PER_DRAIN
            && self.protocol.awaiting_replies()
            && self.protocol.accepts_packets()
        {
            match self.transport.recv(&mut self.recv_buf) {
                Ok(meta) => {
                    read += 1;
                    self.incoming(&meta);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.receive_error(&e);
                    errors += 1;
                    if errors >= ERRORS_PER_DRAIN {
                        break;
                    }
                }
            }
        }
    }

    /// Waits for readiness or the protocol's next deadline. True if either
    /// came (go round again), false if pending.
    fn wait(&mut self, cx: &mut Context<'_>, now: Timestamp, deadline: Option<Deadline>) -> bool {
        if deadline.is_some_and(|d| d.is_reached(now)) {
            return true;
        }
        if self.read_failed && deadline.is_none() && self.write_wait.is_none() {
            // Nothing can arrive any more (the reactor is gone) and no
            // deadline is ahead: end rather than wait forever.
            self.protocol.stop();
            return true;
        }
        if !self.read_failed {
            let transport = &self.transport;
            let wait = self.read_wait.get_or_insert_with(|| transport.wait_ready());
            if let Poll::Ready(result) = wait.as_mut().poll(cx) {
                self.read_wait = None;
                match result {
                    Ok(ready) => self.drain(ready.error),
                    Err(e) => {
                        // The reactor is gone (runtime shutting down):
                        // deadlines still end the protocol.
                        self.receive_error(&e);
                        self.read_failed = true;
                    }
                }
                return true;
            }
        }
        self.arm_timer(deadline, now);
        if self.timer_deadline.is_some() && self.timer.as_mut().poll(cx).is_ready() {
            self.timer_deadline = None;
            return true;
        }
        false
    }

    fn arm_timer(&mut self, deadline: Option<Deadline>, now: Timestamp) {
        if deadline == self.timer_deadline {
            return;
        }
        self.timer_deadline = deadline;
        if let Some(d) = deadline {
            let wait = d.saturating_since(now);
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::now() + wait);
        }
    }

    /// Reads everything queued (error-queue entries first when
    /// `errors_waiting`), clears readiness once both sides are empty and
    /// reads once more, so an edge raised in between is not lost.
    fn drain(&mut self, errors_waiting: bool) {
        // A drain owed from before (readiness already cleared) stays owed
        // until one ends on WouldBlock.
        let owed = std::mem::take(&mut self.drain_owed);
        let mut errors = errors_waiting;
        let mut cleared = false;
        loop {
            let queue = if errors {
                self.drain_errors()
            } else {
                Drained::Empty(0)
            };
            let packets = self.drain_packets();
            if queue == Drained::Stopped || packets == Drained::Stopped {
                // More is queued: readiness (if still set) or the owed
                // drain brings us back before any wait.
                self.drain_owed = owed || cleared;
                return;
            }
            if cleared {
                return;
            }
            self.transport.clear_ready();
            cleared = true;
            // After the clear, look at both queues again.
            errors = errors_waiting || self.protocol.uses_error_queue();
        }
    }

    fn drain_packets(&mut self) -> Drained {
        let mut read = 0;
        let mut errors = 0;
        loop {
            if !self.protocol.accepts_packets() {
                // Its events first; readiness (not cleared) or the owed
                // drain brings the rest.
                return Drained::Stopped;
            }
            if read >= PACKETS_PER_DRAIN {
                return Drained::Stopped;
            }
            match self.transport.recv(&mut self.recv_buf) {
                Ok(meta) => {
                    read += 1;
                    self.incoming(&meta);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Empty(read),
                Err(e) => {
                    self.receive_error(&e);
                    errors += 1;
                    if errors >= ERRORS_PER_DRAIN {
                        return Drained::Stopped;
                    }
                }
            }
        }
    }

    fn drain_errors(&mut self) -> Drained {
        let mut read = 0;
        let mut errors = 0;
        loop {
            match self.transport.recv_error(&mut self.recv_buf) {
                Ok(Some(entry)) => {
                    read += 1;
                    let quote = &self.recv_buf[..entry.len.min(self.recv_buf.len())];
                    self.protocol
                        .handle_queued_error(&entry, quote, Timestamp::now());
                }
                Ok(None) => return Drained::Empty(read),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Empty(read),
                Err(e) => {
                    self.receive_error(&e);
                    errors += 1;
                    if errors >= ERRORS_PER_DRAIN {
                        return Drained::Stopped;
                    }
                }
            }
        }
    }

    /// After a refused send: the local error the kernel queued for it (the
    /// first one), the other entries going to the protocol as usual.
    fn take_local_error(&mut self) -> Option<QueuedError> {
        loop {
            match self.transport.recv_error(&mut self.recv_buf) {
                Ok(Some(entry)) if entry.origin == crate::socket::ErrorOrigin::Local => {
                    return Some(entry);
                }
                Ok(Some(entry)) => {
                    let quote = &self.recv_buf[..entry.len.min(self.recv_buf.len())];
                    self.protocol
                        .handle_queued_error(&entry, quote, Timestamp::now());
                }
                Ok(None) => return None,
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        self.receive_error(&e);
                    }
                    return None;
                }
            }
        }
    }

    fn incoming(&mut self, meta: &P::Meta) {
        let now = self
            .transport
            .received_at(meta)
            .unwrap_or_else(Timestamp::now);
        self.protocol.handle_incoming(&self.recv_buf, meta, now);
    }

    /// The one place receive errors are counted and logged.
    fn receive_error(&mut self, error: &io::Error) {
        self.counters.receive_errors += 1;
        tracing::debug!(%error, "receive failed");
        self.protocol.handle_receive_error(error);
    }
}
