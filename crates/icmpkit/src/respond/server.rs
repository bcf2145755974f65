//! The responder's socket loop: raw ICMP sockets that hear requests, the
//! [`Responder`] that decides, and a queue holding delayed answers.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use icmpkit_wire::Family;

use crate::craft::ms_since_midnight_ut;
use crate::socket::{AsyncIcmpSocket, IcmpSocket, Privilege, SocketOptions, TypeFilter};
use crate::{Error, InvalidReason, Result};

use super::decide::{Decision, Request, RespondConfig, Responder};
use super::interfaces::SystemInterfaces;

/// How to run a responder.
#[derive(Debug, Clone, PartialEq)]
pub struct RespondOptions {
    /// What to answer, delay and loss.
    pub config: RespondConfig,
    /// Answer ICMPv4.
    pub ipv4: bool,
    /// Answer ICMPv6.
    pub ipv6: bool,
    /// Only hear requests arriving on this interface.
    pub interface: Option<String>,
    /// Seed for loss and jitter (random when `None`).
    pub seed: Option<u64>,
}

impl Default for RespondOptions {
    fn default() -> Self {
        RespondOptions {
            config: RespondConfig::default(),
            ipv4: true,
            ipv6: true,
            interface: None,
            seed: None,
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (the event comes when the reply leaves).
    Answered {
        /// The reply sent.
        reply: Vec<u8>,
        /// How long it was held.
        delay: Duration,
    },
    /// Dropped on purpose (loss).
    Dropped,
    /// The reply could not be sent.
    SendFailed(String),
}

/// One request handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondEvent {
    /// When the request arrived (UNIX time); an answer leaves its delay
    /// later.
    pub time: Duration,
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// Who asked.
    pub from: IpAddr,
    /// The address asked (ours), when known.
    pub to: Option<IpAddr>,
    /// The request's TTL / hop limit as received.
    pub ttl: Option<u8>,
    /// The request (ICMP message).
    pub request: Vec<u8>,
    /// What was done.
    pub outcome: Outcome,
}

/// Most answers held back by a delay at once: beyond, a request's answer
/// is dropped (a flood with a long delay would otherwise grow the queue
/// without bound) and reported as [`Outcome::SendFailed`].
pub const MAX_HELD: usize = 65_536;

/// An answer held until `due`; the queue orders them by due time, then
/// arrival order (`n`).
#[derive(Debug)]
struct Held {
    due: Instant,
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
    fn key(&self) -> (Instant, u64) {
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

/// A running responder: pull [`RespondEvent`]s with
/// [`Server::next_event`].
#[derive(Debug)]
pub struct Server {
    sockets: Vec<AsyncIcmpSocket>,
    state: State,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// Everything but the sockets, so that a socket's readiness guard and the
/// state can be borrowed at once.
#[derive(Debug)]
struct State {
    responder: Responder,
    /// Held answers, earliest due first (then arrival order).
    queue: BinaryHeap<Reverse<Held>>,
    arrivals: u64,
    /// Answers dropped because [`MAX_HELD`] were already held.
    overflowed: u64,
    events: VecDeque<RespondEvent>,
    buf: Vec<u8>,
}

/// The request types a responder's raw sockets let through.
fn request_filter(family: Family) -> TypeFilter {
    let types: &[u8] = match family {
        Family::V4 => &[8, 13, 42],
        Family::V6 => &[128, 160],
    };
    types
        .iter()
        .fold(TypeFilter::block_all(), |f, &t| f.pass(t))
}

impl Server {
    /// Opens a raw ICMP socket per family (needs `CAP_NET_RAW`). Needs a
    /// tokio runtime.
    pub fn open(opts: &RespondOptions) -> Result<Server> {
        if !opts.ipv4 && !opts.ipv6 {
            return Err(Error::invalid("families", InvalidReason::NothingChosen));
        }
        let responder = match opts.seed {
            Some(seed) => Responder::with_seed(opts.config.clone(), seed)?,
            None => Responder::new(opts.config.clone())?,
        };
        let mut sockets = Vec::new();
        for (family, wanted) in [(Family::V4, opts.ipv4), (Family::V6, opts.ipv6)] {
            if !wanted {
                continue;
            }
            let socket_opts = SocketOptions {
                interface: opts.interface.clone(),
                type_filter: Some(request_filter(family)),
                ..SocketOptions::default()
            };
            let socket = IcmpSocket::open(family, Privilege::Privileged, &socket_opts)?;
            sockets.push(AsyncIcmpSocket::register(socket)?);
        }
        Ok(Server {
            sockets,
            state: State::new(responder),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        })
    }

    /// The families answered.
    pub fn families(&self) -> Vec<Family> {
        self.sockets.iter().map(AsyncIcmpSocket::family).collect()
    }

    /// Answers held back by a delay, not yet sent.
    pub fn held(&self) -> usize {
        self.state.queue.len()
    }

    /// Answers dropped because [`MAX_HELD`] answers were already held
    /// (each also handed out as an [`Outcome::SendFailed`] event).
    pub fn overflowed(&self) -> u64 {
        self.state.overflowed
    }

    /// The next request handled. Runs until dropped (a responder has no
    /// end of its own). Cancel-safe: requests already read stay queued.
    pub async fn next_event(&mut self) -> RespondEvent {
        loop {
            self.state.send_due(&self.sockets, Instant::now());
            if let Some(e) = self.state.events.pop_front() {
                return e;
            }
            let wake = self.state.queue.peek().map(|Reverse(held)| held.due);
            self.timer.as_mut().reset(tokio::time::Instant::from_std(
                wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600)),
            ));
            let readies = self
                .sockets
                .iter()
                .enumerate()
                .map(|(i, s)| Box::pin(async move { (i, s.ready().await) }));
            tokio::select! {
                (i, ready) = first_of(readies) => {
                    if let Ok(mut guard) = ready {
                        self.state.drain(guard.get_inner(), i);
                        guard.clear_ready();
                    }
                }
                _ = self.timer.as_mut() => {}
            }
        }
    }
}

impl State {
    fn new(responder: Responder) -> State {
        State {
            responder,
            queue: BinaryHeap::new(),
            arrivals: 0,
            overflowed: 0,
            events: VecDeque::new(),
            buf: vec![0; 65_536],
        }
    }

    /// Reads every request queued on `socket` (number `i`) and decides
    /// about each.
    fn drain(&mut self, socket: &IcmpSocket, i: usize) {
        let interfaces = SystemInterfaces;
        let family = socket.family();
        while let Ok(received) = socket.recv(&mut self.buf) {
            let icmp = self.buf.get(received.icmp.clone()).unwrap_or(&[]);
            let request = Request {
                family,
                from: received.source,
                to: received.destination,
                icmp,
            };
            let decision = self
                .responder
                .decide(&request, &interfaces, ms_since_midnight_ut());
            let event = RespondEvent {
                time: unix_now(),
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
                    self.hold(Instant::now(), i, ifindex, event, reply, delay);
                }
            }
        }
    }

    /// Queues an answer to go out `delay` after `now` on socket `socket`,
    /// unless [`MAX_HELD`] are already waiting: then it is dropped and
    /// reported.
    fn hold(
        &mut self,
        now: Instant,
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
            due: now + delay,
            n,
            socket,
            ifindex,
            event,
            reply,
            delay,
        }));
    }

    /// The earliest held answer if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Held> {
        if self.queue.peek()?.0.due > now {
            return None;
        }
        self.queue.pop().map(|Reverse(held)| held)
    }

    /// Sends every held answer whose time has come.
    fn send_due(&mut self, sockets: &[AsyncIcmpSocket], now: Instant) {
        while let Some(held) = self.pop_due(now) {
            let mut event = held.event;
            let socket = sockets[held.socket].get_ref();
            event.outcome = match socket.send_to_scoped(&held.reply, event.from, held.ifindex) {
                Ok(_) => Outcome::Answered {
                    reply: held.reply,
                    delay: held.delay,
                },
                Err(e) => Outcome::SendFailed(e.to_string()),
            };
            self.events.push_back(event);
        }
    }
}

/// Waits for the first of several futures to finish (a minimal
/// `select_all`, not worth a dependency for one call).
async fn first_of<F: std::future::Future + Unpin>(
    futures: impl IntoIterator<Item = F>,
) -> F::Output {
    let mut futures: Vec<F> = futures.into_iter().collect();
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if let std::task::Poll::Ready(out) = std::pin::Pin::new(f).poll(cx) {
                return std::task::Poll::Ready(out);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Whether the kernel answers echo requests itself for `family`
/// (`net.ipv4.icmp_echo_ignore_all` / `net.ipv6.icmp.echo_ignore_all` is
/// 0), in the current network namespace; `None` when unreadable.
pub fn kernel_answers_echo(family: Family) -> Option<bool> {
    let path = match family {
        Family::V4 => "/proc/sys/net/ipv4/icmp_echo_ignore_all",
        Family::V6 => "/proc/sys/net/ipv6/icmp/echo_ignore_all",
    };
    let value = std::fs::read_to_string(path).ok()?;
    Some(value.trim() == "0")
}

/// The sysctl that turns the kernel's echo answers off for `family`.
pub fn kernel_echo_sysctl(family: Family) -> &'static str {
    match family {
        Family::V4 => "net.ipv4.icmp_echo_ignore_all",
        Family::V6 => "net.ipv6.icmp.echo_ignore_all",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(Responder::with_seed(RespondConfig::default(), 1).unwrap())
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

    #[test]
    fn held_answers_are_capped_and_the_overflow_counted() {
        let mut s = state();
        let now = Instant::now();
        let delay = Duration::from_secs(60);
        for n in 0..=MAX_HELD {
            s.hold(now, 0, 7, event(n as u16), vec![129], delay);
        }
        assert_eq!(s.queue.len(), MAX_HELD);
        assert_eq!(s.overflowed, 1);
        let dropped: Vec<_> = s.events.drain(..).collect();
        assert_eq!(dropped.len(), 1);
        assert!(
            matches!(&dropped[0].outcome, Outcome::SendFailed(m) if m.contains("held")),
            "{:?}",
            dropped[0].outcome
        );
        // Nothing is due before its delay; then all of it, once each.
        assert!(s.pop_due(now + delay - Duration::from_millis(1)).is_none());
        let mut due = 0;
        while s.pop_due(now + delay).is_some() {
            due += 1;
        }
        assert_eq!(due, MAX_HELD);
    }

    #[test]
    fn due_answers_leave_by_time_then_arrival_with_their_interface() {
        let mut s = state();
        let now = Instant::now();
        let ms = Duration::from_millis;
        for (n, (delay, ifindex)) in [(ms(30), 1), (ms(10), 2), (ms(30), 3), (ms(0), 4)]
            .into_iter()
            .enumerate()
        {
            s.hold(now, 0, ifindex, event(n as u16), vec![129], delay);
        }
        assert_eq!(s.pop_due(now).map(|h| h.ifindex), Some(4));
        assert!(s.pop_due(now + ms(9)).is_none());
        let order: Vec<u32> = std::iter::from_fn(|| s.pop_due(now + ms(30)))
            .map(|h| h.ifindex)
            .collect();
        assert_eq!(order, [2, 1, 3]);
    }
}
