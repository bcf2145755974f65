//! Ping as the driver runs it: the [`Session`]'s books plus what turns
//! packets into its inputs (framing requests, sorting what arrives,
//! matching transmit stamps to requests). No I/O: the driver reads the
//! clock and the sockets and passes them in.

use std::collections::VecDeque;
use std::io;

use icmpkit_wire::Family;

use crate::IcmpError;
use crate::driver::{Protocol, SendOutcome, Transmit};
use crate::engine::clock::{Deadline, Timestamp, nanos};
use crate::engine::probe::{self, Incoming};
use crate::engine::sequence::Sequence;
use crate::socket::{ErrorOrigin, QueuedError, Received};

use super::report::PingEvent;
use super::session::{EchoReply, Next, Session};

/// What the socket is, as far as matching goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketTraits {
    pub family: Family,
    /// Datagram sockets deliver only our own echo id, and ICMP errors only
    /// on the error queue.
    pub datagram: bool,
    /// The IPv6 zone of a link-local target.
    pub scope_id: u32,
    /// Transmit stamps are on: read them after each send.
    pub tx_stamped: bool,
    /// Flood: read replies right after each send, stop once none is due.
    pub flood: bool,
}

/// A ping, as a [`Protocol`].
#[derive(Debug)]
pub(crate) struct PingProtocol {
    session: Session,
    socket: SocketTraits,
    /// The echo data, filled with the pattern once; each send stamps it.
    payload: Vec<u8>,
    events: VecDeque<PingEvent>,
    tx_stamps: TxStamps,
    /// The time the last message given out was stamped with.
    stamped_at: Timestamp,
    wake: Option<Deadline>,
    done: bool,
}

impl PingProtocol {
    pub fn new(session: Session, socket: SocketTraits, payload: Vec<u8>) -> Self {
        PingProtocol {
            session,
            socket,
            payload,
            events: VecDeque::new(),
            tx_stamps: TxStamps::default(),
            stamped_at: Timestamp::default(),
            wake: None,
            done: false,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    fn on_packet(&mut self, buf: &[u8], received: &Received, now: Timestamp) {
        let family = self.socket.family;
        let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
        match probe::classify(family, icmp) {
            Incoming::EchoReply {
                id,
                sequence,
                data,
                checksum_ok,
            } => {
                let reply = EchoReply {
                    from: received.source,
                    // Datagram sockets only ever deliver our own id.
                    id: if self.socket.datagram {
                        self.session.id()
                    } else {
                        id
                    },
                    sequence,
                    data,
                    bytes: icmp.len(),
                    ttl: received.ttl,
                    kernel_rx_ns: received.kernel_time.map(nanos),
                    checksum_ok,
                };
                self.events.extend(self.session.on_reply(&reply, now));
            }
            Incoming::Error {
                icmp_type,
                code,
                info,
                quoted,
                ..
            } => {
                let err = IcmpError::classify(family, received.source, icmp_type, code, info);
                self.events.extend(self.session.on_error(
                    quoted.id,
                    quoted.sequence,
                    quoted.destination,
                    err,
                ));
            }
            Incoming::Corrupted => {
                tracing::debug!(from = %received.source, "ICMP message with a bad checksum dropped");
            }
            Incoming::Other => {}
        }
    }

    /// A transmit stamp, or an ICMP error quoting our request (datagram
    /// sockets only: a raw socket also receives each ICMP error as a
    /// packet, handled with the full quote, so it is counted once there).
    /// Local errors are taken where a send fails.
    fn on_queued(&mut self, q: &QueuedError, quote: &[u8]) {
        if q.origin == ErrorOrigin::Timestamping {
            if let (Some(seq), Some(t)) = (self.tx_stamps.sequence_of(q.key), q.tx_time) {
                self.session.on_tx_timestamp(seq, nanos(t));
            }
            return;
        }
        if !self.socket.datagram || q.origin == ErrorOrigin::Local {
            return;
        }
        let family = self.socket.family;
        let Some(quoted) = probe::parse_own_request(family, quote) else {
            return;
        };
        let from = q.offender.unwrap_or(self.session.address());
        let err = IcmpError::classify(family, from, q.icmp_type, q.icmp_code, q.info);
        let id = self.session.id();
        self.events.extend(
            self.session
                .on_error(id, quoted.sequence, q.destination, err),
        );
    }
}

impl Protocol for PingProtocol {
    type Event = PingEvent;
    type Meta = Received;

    fn poll_timeout(&self) -> Option<Deadline> {
        self.wake
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.events.extend(self.session.expire(now));
    }

    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool {
        match self.session.next(now) {
            Next::Done => {
                self.done = true;
                self.wake = None;
                false
            }
            Next::WaitUntil(ns) => {
                self.wake = Some(Deadline::from_monotonic_ns(ns));
                false
            }
            Next::Send(seq) => {
                // The send time is read as late as possible: only stamping,
                // framing and the system call stand between it and the wire.
                self.stamped_at = now;
                self.session.stamp(seq, now, &mut self.payload);
                probe::echo_request(
                    self.socket.family,
                    self.session.id(),
                    seq.0,
                    &self.payload,
                    &mut out.message,
                );
                out.destination = Some(self.session.address());
                out.scope_id = self.socket.scope_id;
                out.token = u64::from(seq.0);
                true
            }
        }
    }

    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome) {
        let seq = Sequence(sent.token as u16);
        let at = self.stamped_at;
        let event = match outcome {
            SendOutcome::Sent => {
                if self.socket.tx_stamped {
                    self.tx_stamps.sent(seq);
                }
                self.session.on_sent(seq, at)
            }
            SendOutcome::Failed { local: Some(q), .. } => {
                if q.errno == libc::EMSGSIZE {
                    self.session
                        .on_local_error(seq, at, "message too long".into(), Some(q.info))
                } else {
                    let message = io::Error::from_raw_os_error(q.errno).to_string();
                    self.session.on_local_error(seq, at, message, None)
                }
            }
            SendOutcome::Failed { local: None, error } => {
                self.session.on_send_error(seq, at, error.to_string())
            }
        };
        self.events.push_back(event);
    }

    fn handle_incoming(&mut self, buf: &[u8], meta: &Received, now: Timestamp) {
        self.on_packet(buf, meta, now);
    }

    fn handle_queued_error(&mut self, error: &QueuedError, quote: &[u8], _now: Timestamp) {
        // An error settles a request; its arrival time is nothing ping reports.
        self.on_queued(error, quote);
    }

    fn poll_event(&mut self) -> Option<PingEvent> {
        self.events.pop_front()
    }

    fn is_done(&self) -> bool {
        self.done && self.events.is_empty()
    }

    fn stop(&mut self) {
        self.session.stop();
    }

    fn awaiting_replies(&self) -> bool {
        // The flood's hot path: stop once nothing is in flight (as iputils
        // does) rather than pay a read that finds the socket empty.
        !self.socket.flood || self.session.in_flight() > 0
    }

    fn read_errors_after_send(&self) -> bool {
        // A flood skips transmit stamps (an error-queue read per packet);
        // its ICMP errors come with readiness.
        !self.socket.flood
    }
}

/// Transmit stamps arrive numbered by successful sends (OPT_ID keys
/// counting from 0); this remembers which request each number was.
#[derive(Debug, Default)]
struct TxStamps {
    next_key: u32,
    /// (key, sequence) of recent sends, oldest first.
    recent: VecDeque<(u32, u16)>,
}

impl TxStamps {
    /// Stamps still unread after this many newer sends are given up.
    const WINDOW: usize = 1024;

    fn sent(&mut self, seq: Sequence) {
        self.recent.push_back((self.next_key, seq.0));
        self.next_key = self.next_key.wrapping_add(1);
        if self.recent.len() > Self::WINDOW {
            self.recent.pop_front();
        }
    }

    fn sequence_of(&self, key: u32) -> Option<Sequence> {
        self.recent
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, seq)| Sequence(seq))
    }
}
