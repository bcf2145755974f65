//! The state of pinging one target, with no I/O: the driver asks it what to
//! do next, tells it what was sent and what came back, and it keeps the
//! books exactly as iputils ping does (when to stop, duplicates, linger).
//!
//! In constant memory, however long it runs: running sums for the
//! statistics, counts of errors, one bit per sequence number for
//! duplicates (iputils' `rcvd_tbl`), the requests still waiting for an
//! answer (at most one sequence space of them), and only the latest
//! [`RTT_HISTORY`] RTTs and [`ERROR_HISTORY`] errors listed.

use std::net::IpAddr;
use std::time::Duration;

use crate::engine::clock::{Timestamp, check_option_duration, round_trip_stamped};
use crate::engine::sequence::{AnsweredSet, Sequence};
use crate::engine::stamp::{ProbeId, STAMP_LEN, StampKey};
use crate::engine::stats::{Recent, RttStats, loss};
use crate::{Error, IcmpError, InvalidReason, Result};

use super::report::{ERROR_HISTORY, PingEvent, PingReport, RTT_HISTORY};
use super::requests::{Fate, Requests};

/// In flood mode a probe goes out at least this often even when the last
/// one is unanswered (iputils: "100 times per second").
const FLOOD_TICK: Duration = Duration::from_millis(10);

/// Requests a default ping sends.
const DEFAULT_COUNT: u64 = 4;

/// A default ping's per-probe timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// When and how many probes to send.
///
/// The default finishes, as a library call should (icmplib's and
/// surge-ping's one-shot defaults): 4 requests, one a second, each given
/// 2 s. iputils' own (count unlimited, 10 s timeout) are what the CLI sets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Timing {
    /// Stop after this many requests (`-c`, default 4); `None` pings until
    /// stopped. With a `deadline` and `count_answers`, the number of
    /// answers to wait for instead.
    pub count: Option<u64>,
    /// Time between requests (`-i`).
    pub interval: Duration,
    /// Per-probe timeout, and how long to wait for stragglers when nothing
    /// was answered (`-W`, default 2 s).
    pub timeout: Duration,
    /// Stop after this long whatever happens (`-w`).
    pub deadline: Option<Duration>,
    /// With a `deadline`, `count` is of answers, as iputils' `-c` with
    /// `-w`: requests go on until that many came or the deadline passed
    /// (`ping -c 1 -w 5` to a silent host sends five). Off by default:
    /// `count` requests, then the deadline bounds the wait.
    pub count_answers: bool,
    /// Requests sent at once at the start (`-l`).
    pub preload: u32,
    /// Send as fast as replies come back, at least 100 per second (`-f`).
    pub flood: bool,
    /// Adapt the interval to the RTT (`-A`).
    pub adaptive: bool,
    /// Floor for the adaptive interval (iputils: 200 ms unprivileged).
    pub min_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            count: Some(DEFAULT_COUNT),
            interval: Duration::from_secs(1),
            timeout: DEFAULT_TIMEOUT,
            deadline: None,
            count_answers: false,
            preload: 1,
            flood: false,
            adaptive: false,
            min_interval: Duration::ZERO,
        }
    }
}

impl Timing {
    /// Rejects timings no ping can run; the error names the option.
    pub fn validate(&self) -> Result<()> {
        if self.timeout.is_zero() {
            // Every probe would time out as it leaves.
            return Err(Error::invalid("timeout", InvalidReason::Zero));
        }
        if self.count == Some(0) {
            // Nothing would ever be sent, so the ping could never end.
            return Err(Error::invalid("count", InvalidReason::AtLeast { min: 1 }));
        }
        let times = [
            ("interval", Some(self.interval)),
            ("timeout", Some(self.timeout)),
            ("deadline", self.deadline),
            ("min_interval", Some(self.min_interval)),
        ];
        for (option, value) in times {
            if let Some(d) = value {
                check_option_duration(option, d)?;
            }
        }
        Ok(())
    }
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send the request with this sequence number now.
    Send(Sequence),
    /// Nothing to do before this monotonic time (ns); wake up earlier if a
    /// packet arrives.
    WaitUntil(u64),
    /// Finished.
    Done,
}

pub use crate::engine::probe::EchoReply;

/// Pinging one target.
#[derive(Debug)]
pub struct Session {
    target: String,
    address: IpAddr,
    id: u16,
    key: StampKey,
    timing: Timing,
    /// Also accept replies from other addresses (broadcast/multicast).
    any_source: bool,
    started: Option<Timestamp>,
    last_send: Option<Timestamp>,
    next_send_ns: u64,
    next_seq: Sequence,
    transmitted: u64,
    received: u64,
    duplicates: u64,
    corrupted: u64,
    send_errors: u64,
    local_errors: u64,
    icmp_errors: u64,
    /// The latest ICMP errors, with the sequence they answered.
    recent_errors: Recent<(u16, IcmpError)>,
    /// The requests still waiting, in send order.
    requests: Requests,
    /// Requests given up unanswered when their sequence number came round
    /// again; reported as timeouts by the next [`Session::expire`].
    given_up: Vec<Sequence>,
    /// Sequence numbers echoed back (duplicate detection).
    answered: AnsweredSet,
    /// Sequence numbers an ICMP error answered.
    errored: AnsweredSet,
    stats: RttStats,
    /// The latest RTTs, for the report's list.
    rtts: Recent<Duration>,
    reply_ttl: Option<u8>,
    ended_at: Option<Timestamp>,
    stopping: bool,
}

impl Session {
    /// A session pinging `address` (named `target` in reports) with echo
    /// identifier `id`, stamping payloads with `key`.
    pub fn new(target: String, address: IpAddr, id: u16, key: StampKey, timing: Timing) -> Session {
        Session {
            target,
            address,
            id,
            key,
            timing,
            any_source: false,
            started: None,
            last_send: None,
            next_send_ns: 0,
            next_seq: Sequence(1),
            transmitted: 0,
            received: 0,
            duplicates: 0,
            corrupted: 0,
            send_errors: 0,
            local_errors: 0,
            icmp_errors: 0,
            recent_errors: Recent::new(ERROR_HISTORY),
            requests: Requests::default(),
            given_up: Vec::new(),
            answered: AnsweredSet::default(),
            errored: AnsweredSet::default(),
            stats: RttStats::default(),
            rtts: Recent::new(RTT_HISTORY),
            reply_ttl: None,
            ended_at: None,
            stopping: false,
        }
    }

    /// Accept replies from any source (broadcast and multicast pings).
    pub fn accept_any_source(&mut self, yes: bool) {
        self.any_source = yes;
    }

    /// The address pinged.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The echo identifier in use (datagram sockets: the kernel's).
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Stops at the next step (Ctrl-C).
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Every error iputils counts: ICMP errors and local ones (its
    /// `+N errors`).
    pub fn error_count(&self) -> u64 {
        self.icmp_errors + self.local_errors
    }

    /// Requests neither answered nor errored yet.
    pub fn in_flight(&self) -> u64 {
        self.transmitted
            .saturating_sub(self.received + self.error_count())
    }

    /// Decides what to do at `now`.
    pub fn next(&mut self, now: Timestamp) -> Next {
        if self.finished(now) {
            self.ended_at.get_or_insert(now);
            return Next::Done;
        }
        // Counting answers (iputils' `-c` with `-w`), requests go on until
        // `finished` sees that many or the deadline.
        let counting_answers = self.timing.count_answers && self.timing.deadline.is_some();
        let more_to_send =
            counting_answers || self.timing.count.is_none_or(|c| self.transmitted < c);
        let mut wake = u64::MAX;
        if more_to_send {
            let flood_ready =
                self.timing.flood && self.in_flight() < u64::from(self.timing.preload.max(1));
            let next_send_ns = self.next_send_ns();
            if self.started.is_none() || now.monotonic_ns >= next_send_ns || flood_ready {
                return Next::Send(self.next_seq);
            }
            wake = next_send_ns;
        } else if let Some(end) = self.linger_end() {
            if now.monotonic_ns >= end {
                self.ended_at.get_or_insert(now);
                return Next::Done;
            }
            wake = end;
        }
        if let (Some(dl), Some(start)) = (self.timing.deadline, self.started) {
            wake = wake.min(start.after(dl).monotonic_ns);
        }
        if let Some(t) = self.requests.next_deadline(self.timing.timeout) {
            wake = wake.min(t);
        }
        if !self.given_up.is_empty() {
            // Timeouts are owed: have the driver call `expire` now.
            wake = now.monotonic_ns;
        }
        Next::WaitUntil(wake)
    }

    fn finished(&self, now: Timestamp) -> bool {
        if self.stopping {
            return true;
        }
        let answered = self.received + self.error_count();
        if self.timing.count.is_some_and(|c| c > 0 && answered >= c) {
            return true;
        }
        if self.timing.deadline.is_some() && self.error_count() > 0 {
            return true;
        }
        match (self.timing.deadline, self.started) {
            (Some(dl), Some(start)) => now.since(start) >= dl,
            _ => false,
        }
    }

    /// When all is sent and there is no deadline, iputils waits twice the
    /// longest RTT (at least one interval) if anything was answered, else
    /// the timeout.
    fn linger_end(&self) -> Option<u64> {
        if self.timing.deadline.is_some() {
            return None;
        }
        let last = self.last_send?;
        let wait = match self.stats.max() {
            Some(max) if self.received > 0 => (2 * max).max(self.timing.interval),
            _ => self.timing.timeout,
        };
        Some(last.after(wait).monotonic_ns)
    }

    /// Fills the echo payload with the fill `pattern` (iputils' default when
    /// empty: each byte its own offset). Done once; [`Session::stamp`] then
    /// writes each request's stamp over the start.
    pub fn fill_pattern(pattern: &[u8], data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = if pattern.is_empty() {
                i as u8
            } else {
                pattern[i % pattern.len()]
            };
        }
    }

    /// Writes the stamp of request `seq` sent at `at` into the payload (when
    /// it is long enough to hold one).
    pub fn stamp(&self, seq: Sequence, at: Timestamp, data: &mut [u8]) {
        let probe = ProbeId {
            destination: self.address,
            id: self.id,
            sequence: seq.0,
        };
        self.key.write(&probe, at, data);
    }

    #[cfg(test)]
    /// [`Session::fill_pattern`] then [`Session::stamp`].
    pub fn fill_payload(&self, seq: Sequence, at: Timestamp, pattern: &[u8], data: &mut [u8]) {
        Self::fill_pattern(pattern, data);
        self.stamp(seq, at, data);
    }

    /// Records that request `seq` left at `at`.
    pub fn on_sent(&mut self, seq: Sequence, at: Timestamp) -> PingEvent {
        self.count_transmitted(seq, at);
        self.requests.sent(seq, at, &mut self.given_up);
        PingEvent::Sent { sequence: seq.0 }
    }

    /// The books of every request handed to the kernel, sent or refused.
    fn count_transmitted(&mut self, seq: Sequence, at: Timestamp) {
        self.started.get_or_insert(at);
        self.last_send = Some(at);
        self.transmitted += 1;
        self.next_seq = seq.next();
        // The sequence space may have wrapped onto an old probe.
        self.answered.clear(seq);
        self.errored.clear(seq);
        self.next_send_ns = at.after(self.gap()).monotonic_ns;
    }

    /// True if `seq` is one of the latest 65,536 sequence numbers handed
    /// out (iputils takes any reply with its identifier as its own; so do
    /// we when the payload is too short for a stamp to prove it).
    fn issued(&self, seq: Sequence) -> bool {
        let back = self.next_seq.0.wrapping_sub(seq.0);
        back != 0 && u64::from(back) <= self.transmitted
    }

    /// When the next request is due. An adaptive interval is measured
    /// from the last send with the interval as it is now: a reply that
    /// came since shrinks it at once, as iputils' `update_interval` does
    /// on each reply (fixing it at send time waited the full `-i` for the
    /// second request).
    fn next_send_ns(&self) -> u64 {
        match self.last_send {
            Some(last) if self.timing.adaptive && !self.timing.flood => {
                last.after(self.gap()).monotonic_ns
            }
            _ => self.next_send_ns,
        }
    }

    fn gap(&self) -> Duration {
        if self.transmitted < u64::from(self.timing.preload) {
            Duration::ZERO
        } else if self.timing.flood {
            FLOOD_TICK.min(self.timing.interval.max(FLOOD_TICK))
        } else if self.timing.adaptive {
            let ewma = self.stats.ewma().unwrap_or(self.timing.interval);
            // iputils rounds the adaptive interval to whole milliseconds.
            let ms = (ewma.as_micros() + 500) / 1000;
            Duration::from_millis(ms as u64).max(self.timing.min_interval)
        } else {
            self.timing.interval
        }
    }

    /// Records the kernel's transmit stamp of request `seq`.
    pub fn on_tx_timestamp(&mut self, seq: Sequence, kernel_tx_ns: u64) {
        self.requests.set_kernel_tx(seq, kernel_tx_ns);
    }

    /// Records that the kernel refused request `seq`.
    pub fn on_send_error(&mut self, seq: Sequence, at: Timestamp, message: String) -> PingEvent {
        self.send_errors += 1;
        self.count_transmitted(seq, at);
        PingEvent::SendError {
            sequence: seq.0,
            message,
        }
    }

    /// Records that request `seq` was refused with a local error (iputils
    /// counts it as transmitted and as an error).
    pub fn on_local_error(
        &mut self,
        seq: Sequence,
        at: Timestamp,
        message: String,
        mtu: Option<u32>,
    ) -> PingEvent {
        self.local_errors += 1;
        self.count_transmitted(seq, at);
        PingEvent::LocalError {
            sequence: seq.0,
            message,
            mtu,
        }
    }

    /// Takes an echo reply received at `now`; `None` if it is not ours
    /// (another process's, forged, or for a request never sent).
    ///
    /// A reply whose request is no longer held (answered, errored or timed
    /// out, then forgotten) still counts, as with iputils: its stamp times
    /// it and proves it ours, and one bit per sequence number tells a
    /// duplicate. Without a stamp (payload too short) it counts untimed.
    pub fn on_reply(&mut self, reply: &EchoReply<'_>, now: Timestamp) -> Option<PingEvent> {
        if reply.id != self.id || (!self.any_source && reply.from != self.address) {
            return None;
        }
        let seq = Sequence(reply.sequence);
        let probe = ProbeId {
            destination: self.address,
            id: self.id,
            sequence: reply.sequence,
        };
        let stamped = if reply.data.len() >= STAMP_LEN {
            // The cookie proves the reply answers one of our requests.
            Some(self.key.check(&probe, reply.data)?)
        } else {
            None
        };
        let request = self.requests.get(seq).copied();
        if request.is_none() && stamped.is_none() && !self.issued(seq) {
            return None;
        }
        let kernel_tx_ns = request.and_then(|r| r.kernel_tx_ns).map(|t| t.get());
        let rtt = stamped
            .or(request.map(|r| r.sent))
            .map(|sent| round_trip_stamped(sent, kernel_tx_ns, reply.kernel_rx_ns, now));
        if !reply.checksum_ok {
            return Some(self.on_corrupted_reply(reply, rtt));
        }
        let duplicate = self.answered.mark(seq);
        // Forgotten and not answered before: it timed out (or drew an error).
        let late = request.is_none() && !duplicate;
        if duplicate {
            self.duplicates += 1;
        } else {
            self.received += 1;
        }
        if let Some(rtt) = rtt {
            self.stats.record(rtt);
            self.rtts.push(rtt);
        }
        self.requests.settle(seq, Fate::Replied);
        self.reply_ttl = reply.ttl.or(self.reply_ttl);
        Some(PingEvent::Reply {
            from: reply.from,
            sequence: reply.sequence,
            bytes: reply.bytes,
            ttl: reply.ttl,
            rtt,
            duplicate,
            late,
            bad_checksum: false,
        })
    }

    /// A reply to one of our requests whose ICMPv4 checksum does not verify:
    /// shown (iputils' `(BAD CHECKSUM!)`) and counted apart, but the request
    /// stays unanswered and the RTT out of the statistics, as iputils does.
    fn on_corrupted_reply(&mut self, reply: &EchoReply<'_>, rtt: Option<Duration>) -> PingEvent {
        self.corrupted += 1;
        PingEvent::Reply {
            from: reply.from,
            sequence: reply.sequence,
            bytes: reply.bytes,
            ttl: reply.ttl,
            rtt,
            duplicate: false,
            late: false,
            bad_checksum: true,
        }
    }

    /// Takes an ICMP error quoting our request `sequence` (with echo id
    /// `id`, sent to `quoted_destination`); `None` if it quotes someone else's.
    pub fn on_error(
        &mut self,
        id: u16,
        sequence: u16,
        quoted_destination: Option<IpAddr>,
        error: IcmpError,
    ) -> Option<PingEvent> {
        if id != self.id || quoted_destination.is_some_and(|d| d != self.address) {
            return None;
        }
        let seq = Sequence(sequence);
        if self.requests.get(seq).is_none() && !self.issued(seq) {
            return None;
        }
        self.requests.settle(seq, Fate::Errored);
        self.errored.mark(seq);
        self.icmp_errors += 1;
        self.recent_errors.push((sequence, error));
        Some(PingEvent::Error { sequence, error })
    }

    /// Probes whose timeout passed by `now`, once each, and those given up
    /// unanswered when their sequence number came round again.
    pub fn expire(&mut self, now: Timestamp) -> Vec<PingEvent> {
        let mut timed_out = std::mem::take(&mut self.given_up);
        self.requests
            .expire(now.monotonic_ns, self.timing.timeout, &mut timed_out);
        timed_out
            .into_iter()
            .map(|seq| PingEvent::Timeout { sequence: seq.0 })
            .collect()
    }

    /// True if request `seq` has been answered, by a reply or an error
    /// (for `-O`).
    pub fn is_answered(&self, seq: Sequence) -> bool {
        self.answered.contains(seq) || self.errored.contains(seq)
    }

    /// The figures so far (final once `next` returned `Done`).
    pub fn report(&self, now: Timestamp) -> PingReport {
        // Finished: iputils' `time` ends at the last send (its clock is
        // read only when a request leaves), not at a late reply or at the
        // end of the wait for replies that never came.
        let end = match self.ended_at {
            Some(ended) => self.last_send.unwrap_or(ended),
            None => now,
        };
        let elapsed = self.started.map_or(Duration::ZERO, |s| end.since(s));
        PingReport {
            target: self.target.clone(),
            address: self.address,
            packets_sent: self.transmitted,
            packets_received: self.received,
            packet_loss: loss(self.transmitted, self.received),
            rtts: self.rtts.to_vec(),
            rtt: self.stats.summary(),
            iputils_rtt: self.stats.iputils(),
            duplicates: self.duplicates,
            corrupted: self.corrupted,
            errors: self.recent_errors.to_vec(),
            icmp_errors: self.icmp_errors,
            local_errors: self.local_errors,
            send_errors: self.send_errors,
            reply_ttl: self.reply_ttl,
            elapsed,
            is_alive: self.received > 0,
        }
    }

    /// The live statistics (for SIGQUIT's interim line).
    pub fn stats(&self) -> &RttStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// iputils' timing (count unlimited, 10 s timeout), which these tests
    /// were written against, rather than the library's finishing default.
    fn iputils_timing() -> Timing {
        Timing {
            count: None,
            timeout: Duration::from_secs(10),
            ..Timing::default()
        }
    }
    use icmpkit_wire::Family;
    use std::collections::VecDeque;

    #[test]
    fn timings_beyond_a_million_seconds_are_refused_by_name() {
        use crate::engine::clock::MAX_OPTION_DURATION;
        assert!(Timing::default().validate().is_ok());
        let at_bound = Timing {
            interval: MAX_OPTION_DURATION,
            timeout: MAX_OPTION_DURATION,
            deadline: Some(MAX_OPTION_DURATION),
            min_interval: MAX_OPTION_DURATION,
            ..iputils_timing()
        };
        assert!(at_bound.validate().is_ok());
        let refused = |t: Timing| match t.validate() {
            Err(Error::InvalidOption(m)) => m.option,
            other => panic!("not refused: {other:?}"),
        };
        let huge = Duration::MAX;
        let m = refused(Timing {
            interval: huge,
            ..iputils_timing()
        });
        assert_eq!(m, "interval");
        let m = refused(Timing {
            timeout: huge,
            ..iputils_timing()
        });
        assert_eq!(m, "timeout");
        let m = refused(Timing {
            deadline: Some(MAX_OPTION_DURATION + Duration::from_nanos(1)),
            ..iputils_timing()
        });
        assert_eq!(m, "deadline");
        let m = refused(Timing {
            min_interval: huge,
            ..iputils_timing()
        });
        assert_eq!(m, "min_interval");
    }

    const MS: u64 = 1_000_000;
    const TARGET: &str = "192.0.2.7";

    fn at(ms: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 1_700_000_000_000 * MS + ms * MS,
            monotonic_ns: 10_000 * MS + ms * MS,
        }
    }

    fn session(timing: Timing) -> Session {
        let addr: IpAddr = TARGET.parse().unwrap();
        Session::new(
            TARGET.into(),
            addr,
            0x4242,
            StampKey::from_parts(7, 8),
            timing,
        )
    }

    /// Sends the next probe at `t`, returning its payload.
    fn send(s: &mut Session, t: u64) -> (Sequence, Vec<u8>) {
        let Next::Send(seq) = s.next(at(t)) else {
            panic!("expected a send at {t} ms")
        };
        let mut data = vec![0u8; 56];
        s.fill_payload(seq, at(t), &[], &mut data);
        s.on_sent(seq, at(t));
        (seq, data)
    }

    fn reply<'a>(s: &Session, seq: Sequence, data: &'a [u8]) -> EchoReply<'a> {
        EchoReply {
            from: s.address(),
            id: s.id(),
            sequence: seq.0,
            data,
            bytes: data.len() + 8,
            ttl: Some(64),
            kernel_rx_ns: None,
            checksum_ok: true,
        }
    }

    #[test]
    fn a_reply_with_a_bad_checksum_is_shown_but_not_counted() {
        let mut s = session(Timing {
            count: Some(1),
            timeout: Duration::from_secs(1),
            ..iputils_timing()
        });
        let (seq, data) = send(&mut s, 0);
        let damaged = EchoReply {
            checksum_ok: false,
            ..reply(&s, seq, &data)
        };
        let ev = s.on_reply(&damaged, at(5)).unwrap();
        assert!(matches!(
            ev,
            PingEvent::Reply { bad_checksum: true, duplicate: false, rtt: Some(r), .. }
                if r == Duration::from_millis(5)
        ));
        // Still waiting for a genuine answer: it times out.
        assert!(!s.is_answered(seq));
        assert_eq!(
            s.expire(at(1000)),
            vec![PingEvent::Timeout { sequence: seq.0 }]
        );
        let r = s.report(at(1000));
        assert_eq!((r.packets_received, r.corrupted, r.duplicates), (0, 1, 0));
        assert_eq!((r.rtt.min, r.rtts.len()), (None, 0));
        assert!(!r.is_alive);
        // A genuine reply afterwards is neither a duplicate nor refused.
        let ev = s.on_reply(&reply(&s, seq, &data), at(1500)).unwrap();
        assert!(matches!(
            ev,
            PingEvent::Reply {
                bad_checksum: false,
                duplicate: false,
                ..
            }
        ));
        assert_eq!(s.report(at(1500)).packets_received, 1);
    }

    #[test]
    fn three_answered_probes_then_done() {
        let mut s = session(Timing {
            count: Some(3),
            ..iputils_timing()
        });
        for i in 0..3 {
            let (seq, data) = send(&mut s, i * 1000);
            let ev = s
                .on_reply(&reply(&s, seq, &data), at(i * 1000 + 5))
                .unwrap();
            assert!(
                matches!(ev, PingEvent::Reply { rtt: Some(r), duplicate: false, .. } if r == Duration::from_millis(5))
            );
            if i < 2 {
                assert_eq!(
                    s.next(at(i * 1000 + 6)),
                    Next::WaitUntil(at((i + 1) * 1000).monotonic_ns)
                );
            }
        }
        assert_eq!(s.next(at(2006)), Next::Done);
        let r = s.report(at(2006));
        assert_eq!(
            (r.packets_sent, r.packets_received, r.packet_loss),
            (3, 3, 0.0)
        );
        assert_eq!(r.rtt.min, Some(Duration::from_millis(5)));
        assert!(r.is_alive);
    }

    #[test]
    fn unanswered_probes_time_out_and_linger_ends() {
        let timing = Timing {
            count: Some(2),
            timeout: Duration::from_secs(2),
            ..iputils_timing()
        };
        let mut s = session(timing);
        send(&mut s, 0);
        assert_eq!(s.next(at(500)), Next::WaitUntil(at(1000).monotonic_ns));
        send(&mut s, 1000);
        assert_eq!(s.expire(at(1999)), vec![]);
        assert_eq!(s.expire(at(2000)), vec![PingEvent::Timeout { sequence: 1 }]);
        // Nothing answered: wait the timeout after the last send.
        assert_eq!(s.next(at(2500)), Next::WaitUntil(at(3000).monotonic_ns));
        assert_eq!(s.next(at(3000)), Next::Done);
        let r = s.report(at(3000));
        assert_eq!(
            (r.packets_sent, r.packets_received, r.packet_loss),
            (2, 0, 1.0)
        );
        assert!(!r.is_alive);
    }

    #[test]
    fn late_reply_counts_and_says_late() {
        let mut s = session(Timing {
            count: Some(1),
            timeout: Duration::from_secs(1),
            ..iputils_timing()
        });
        let (seq, data) = send(&mut s, 0);
        assert_eq!(s.expire(at(1000)).len(), 1);
        let ev = s.on_reply(&reply(&s, seq, &data), at(1500)).unwrap();
        assert!(matches!(ev, PingEvent::Reply { late: true, .. }));
        assert_eq!(s.report(at(1500)).packets_received, 1);
    }

    #[test]
    fn duplicates_are_counted_apart() {
        let mut s = session(Timing {
            count: Some(1),
            ..iputils_timing()
        });
        let (seq, data) = send(&mut s, 0);
        s.on_reply(&reply(&s, seq, &data), at(3)).unwrap();
        let ev = s.on_reply(&reply(&s, seq, &data), at(4)).unwrap();
        assert!(matches!(
            ev,
            PingEvent::Reply {
                duplicate: true,
                ..
            }
        ));
        let r = s.report(at(5));
        assert_eq!((r.packets_received, r.duplicates), (1, 1));
    }

    #[test]
    fn foreign_and_forged_replies_are_ignored() {
        let mut s = session(iputils_timing());
        let (seq, data) = send(&mut s, 0);
        let mut r = reply(&s, seq, &data);
        r.id = 0x1111;
        assert!(s.on_reply(&r, at(1)).is_none(), "another process's id");
        let mut r = reply(&s, seq, &data);
        r.from = "192.0.2.99".parse().unwrap();
        assert!(s.on_reply(&r, at(1)).is_none(), "another source");
        let mut forged = data.clone();
        forged[20] ^= 0xff;
        assert!(
            s.on_reply(&reply(&s, seq, &forged), at(1)).is_none(),
            "bad cookie"
        );
        assert!(
            s.on_reply(&reply(&s, Sequence(99), &data), at(1)).is_none(),
            "never sent"
        );
        assert_eq!(s.report(at(2)).packets_received, 0);
    }

    #[test]
    fn short_payload_matches_by_sequence() {
        let mut s = session(Timing {
            count: Some(1),
            ..iputils_timing()
        });
        let Next::Send(seq) = s.next(at(0)) else {
            panic!()
        };
        s.on_sent(seq, at(0));
        let data = [0u8; 8];
        let ev = s.on_reply(&reply(&s, seq, &data), at(2)).unwrap();
        assert!(
            matches!(ev, PingEvent::Reply { rtt: Some(r), .. } if r == Duration::from_millis(2))
        );
    }

    #[test]
    fn errors_count_and_end_a_deadline_run() {
        let timing = Timing {
            deadline: Some(Duration::from_secs(5)),
            ..iputils_timing()
        };
        let mut s = session(timing);
        let (seq, _) = send(&mut s, 0);
        let err = IcmpError::classify(Family::V4, "198.51.100.1".parse().unwrap(), 3, 1, 0);
        assert!(
            s.on_error(0x9999, seq.0, None, err).is_none(),
            "someone else's probe"
        );
        assert!(
            s.on_error(s.id(), seq.0, Some("192.0.2.8".parse().unwrap()), err)
                .is_none()
        );
        assert!(s.on_error(s.id(), seq.0, Some(s.address()), err).is_some());
        assert_eq!(
            s.next(at(10)),
            Next::Done,
            "iputils stops a -w run on the first error"
        );
        assert_eq!(s.report(at(10)).errors.len(), 1);
    }

    #[test]
    fn local_errors_count_as_errors_and_end_the_count() {
        let mut s = session(Timing {
            count: Some(2),
            ..iputils_timing()
        });
        let Next::Send(seq) = s.next(at(0)) else {
            panic!()
        };
        s.on_local_error(seq, at(0), "message too long".into(), Some(1280));
        let Next::Send(seq) = s.next(at(1000)) else {
            panic!()
        };
        s.on_local_error(seq, at(1000), "message too long".into(), Some(1280));
        assert_eq!(s.next(at(1001)), Next::Done, "2 of 2 answered by errors");
        let r = s.report(at(1001));
        assert_eq!((r.packets_sent, r.local_errors, r.packet_loss), (2, 2, 1.0));
    }

    #[test]
    fn deadline_stops_sending() {
        let timing = Timing {
            deadline: Some(Duration::from_millis(2500)),
            ..iputils_timing()
        };
        let mut s = session(timing);
        send(&mut s, 0);
        send(&mut s, 1000);
        send(&mut s, 2000);
        assert_eq!(s.next(at(2100)), Next::WaitUntil(at(2500).monotonic_ns));
        assert_eq!(s.next(at(2500)), Next::Done);
    }

    #[test]
    fn flood_sends_as_soon_as_answered() {
        let mut s = session(Timing {
            flood: true,
            interval: Duration::ZERO,
            ..iputils_timing()
        });
        let (seq, data) = send(&mut s, 0);
        // Unanswered: wait for the 10 ms tick.
        assert_eq!(s.next(at(1)), Next::WaitUntil(at(10).monotonic_ns));
        s.on_reply(&reply(&s, seq, &data), at(1)).unwrap();
        assert!(matches!(s.next(at(1)), Next::Send(Sequence(2))));
    }

    fn at_us(us: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 1_700_000_000_000 * MS + us * 1000,
            monotonic_ns: 10_000 * MS + us * 1000,
        }
    }

    /// What the memory-holding parts of a session hold, and have room for.
    fn assert_bounded(s: &Session, probe: u64) {
        // At one probe per millisecond and a 100 ms timeout, about 100
        // requests can wait at once (plus the settled ones behind them).
        assert!(
            s.requests.len() <= 128 && s.requests.capacity() <= 256,
            "probe {probe}: {} requests held, room for {}",
            s.requests.len(),
            s.requests.capacity()
        );
        assert!(
            s.rtts.len() <= RTT_HISTORY && s.rtts.capacity() <= RTT_HISTORY,
            "probe {probe}: {} RTTs held, room for {}",
            s.rtts.len(),
            s.rtts.capacity()
        );
        assert!(
            s.recent_errors.capacity() <= ERROR_HISTORY,
            "probe {probe}: room for {} errors",
            s.recent_errors.capacity()
        );
        assert!(s.given_up.is_empty(), "probe {probe}: nothing is given up");
    }

    /// A million probes, one per millisecond (the sequence numbers wrap
    /// 15 times), each answered in one of the ways a real network answers:
    /// the session's memory stays bounded and every figure is the one
    /// computed from all samples.
    #[test]
    fn a_million_probes_in_bounded_memory_with_exact_figures() {
        use crate::engine::stats::reference::naive;

        const PROBES: u64 = 1_000_000;
        const LATE_US: u64 = 150_000;
        const STALE_DUPLICATE_US: u64 = 200_000;
        let mut s = session(Timing {
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(100),
            ..iputils_timing()
        });
        let err = IcmpError::classify(Family::V4, "198.51.100.1".parse().unwrap(), 3, 1, 0);
        // Every RTT the session must have recorded, in arrival order.
        let mut rtts: Vec<Duration> = Vec::new();
        let (mut received, mut duplicates, mut errors, mut timeouts) = (0u64, 0u64, 0u64, 0u64);
        let mut last_error_seq = None;
        // Replies held back: (due µs, seq, payload, sent µs, duplicate?).
        let mut late: VecDeque<(u64, Sequence, Vec<u8>, u64, bool)> = VecDeque::new();
        let mut stale: VecDeque<(u64, Sequence, Vec<u8>, u64, bool)> = VecDeque::new();
        let mut timed_out_seqs = Vec::new();
        let deliver = |s: &mut Session,
                       queue: &mut VecDeque<(u64, Sequence, Vec<u8>, u64, bool)>,
                       now: u64,
                       rtts: &mut Vec<Duration>| {
            let mut counts = (0u64, 0u64);
            while queue.front().is_some_and(|q| q.0 <= now) {
                let (due, seq, data, sent, dup) = queue.pop_front().unwrap();
                let ev = s.on_reply(&reply(s, seq, &data), at_us(due)).unwrap();
                let rtt = Duration::from_micros(due - sent);
                assert_eq!(
                    ev,
                    PingEvent::Reply {
                        from: s.address(),
                        sequence: seq.0,
                        bytes: 64,
                        ttl: Some(64),
                        rtt: Some(rtt),
                        duplicate: dup,
                        late: !dup,
                        bad_checksum: false,
                    }
                );
                rtts.push(rtt);
                if dup {
                    counts.1 += 1;
                } else {
                    counts.0 += 1;
                }
            }
            counts
        };
        for i in 0..PROBES {
            let t = i * 1000;
            for queue in [&mut late, &mut stale] {
                let (r, d) = deliver(&mut s, queue, t, &mut rtts);
                received += r;
                duplicates += d;
            }
            for ev in s.expire(at_us(t)) {
                let PingEvent::Timeout { sequence } = ev else {
                    panic!("{ev:?}")
                };
                timeouts += 1;
                timed_out_seqs.push(sequence);
            }
            let Next::Send(seq) = s.next(at_us(t)) else {
                panic!("probe {i}: no send due")
            };
            assert_eq!(seq, Sequence((i + 1) as u16), "numbers wrap");
            let mut data = vec![0u8; 56];
            s.fill_payload(seq, at_us(t), &[], &mut data);
            s.on_sent(seq, at_us(t));
            let rtt_us = 1 + (i * 7919) % 900;
            let now = t + rtt_us;
            match i % 10 {
                0..=4 => {
                    let ev = s.on_reply(&reply(&s, seq, &data), at_us(now)).unwrap();
                    let rtt = Duration::from_micros(rtt_us);
                    assert!(
                        matches!(ev, PingEvent::Reply { rtt: Some(r), duplicate: false, late: false, .. } if r == rtt),
                        "{ev:?}"
                    );
                    rtts.push(rtt);
                    received += 1;
                }
                5 => {
                    s.on_reply(&reply(&s, seq, &data), at_us(now)).unwrap();
                    let ev = s.on_reply(&reply(&s, seq, &data), at_us(now + 5)).unwrap();
                    assert!(
                        matches!(
                            ev,
                            PingEvent::Reply {
                                duplicate: true,
                                ..
                            }
                        ),
                        "{ev:?}"
                    );
                    rtts.extend([rtt_us, rtt_us + 5].map(Duration::from_micros));
                    received += 1;
                    duplicates += 1;
                    if i % 20 == 5 {
                        // Once more, long after the request was forgotten.
                        stale.push_back((t + STALE_DUPLICATE_US, seq, data, t, true));
                    }
                }
                6 => {
                    // Too short for a stamp: timed from the request held.
                    let ev = s.on_reply(&reply(&s, seq, &data[..8]), at_us(now)).unwrap();
                    let rtt = Duration::from_micros(rtt_us);
                    assert!(
                        matches!(ev, PingEvent::Reply { rtt: Some(r), duplicate: false, .. } if r == rtt),
                        "{ev:?}"
                    );
                    rtts.push(rtt);
                    received += 1;
                }
                7 => {} // lost: times out
                8 => late.push_back((t + LATE_US, seq, data, t, false)),
                _ => {
                    let ev = s.on_error(s.id(), seq.0, Some(s.address()), err);
                    assert_eq!(
                        ev,
                        Some(PingEvent::Error {
                            sequence: seq.0,
                            error: err
                        })
                    );
                    errors += 1;
                    last_error_seq = Some(seq.0);
                }
            }
            if i % 4096 == 0 {
                assert_bounded(&s, i);
            }
        }
        // Sending stops (Ctrl-C); the held-back replies come and the last
        // probes time out, as the driver would see it, a millisecond a step.
        let end = PROBES * 1000 + STALE_DUPLICATE_US;
        for t in (PROBES * 1000..=end).step_by(1000) {
            for queue in [&mut late, &mut stale] {
                let (r, d) = deliver(&mut s, queue, t, &mut rtts);
                received += r;
                duplicates += d;
            }
            timeouts += s.expire(at_us(t)).len() as u64;
        }
        assert!(late.is_empty() && stale.is_empty());
        assert_bounded(&s, PROBES);
        assert_eq!(s.requests.len(), 0, "nothing left waiting");

        // Lost and late ones time out; answered and errored ones never do.
        assert_eq!(timeouts, PROBES / 10 * 2);
        assert!(
            timed_out_seqs
                .iter()
                .take(20)
                .all(|&q| matches!(q % 10, 8 | 9))
        );
        let r = s.report(at_us(end));
        assert_eq!(r.packets_sent, PROBES);
        assert_eq!(
            (r.packets_received, received),
            (PROBES / 10 * 8, PROBES / 10 * 8)
        );
        assert_eq!(
            (r.duplicates, duplicates),
            (PROBES / 20 * 3, PROBES / 20 * 3)
        );
        assert_eq!((r.icmp_errors, errors), (PROBES / 10, PROBES / 10));
        assert_eq!(s.error_count(), errors);
        assert_eq!(r.errors.len(), ERROR_HISTORY);
        assert_eq!(r.errors.last().map(|e| e.0), last_error_seq);
        let want = naive(&rtts);
        assert_eq!(s.stats().count(), rtts.len() as u64);
        let iputils = r.iputils_rtt.unwrap();
        assert_eq!(iputils.min, want.min);
        assert_eq!(iputils.avg, want.avg);
        assert_eq!(iputils.max, want.max);
        assert_eq!(iputils.mdev, want.mdev);
        assert_eq!(r.rtt, s.stats().summary());
        assert_eq!(r.rtt.jitter, want.jitter);
        assert_eq!(s.stats().ewma(), Some(want.ewma));
        assert_eq!(r.rtts, rtts[rtts.len() - RTT_HISTORY..], "the latest RTTs");
        assert_eq!(r.rtt.max, Some(Duration::from_micros(STALE_DUPLICATE_US)));
    }

    #[test]
    fn outstanding_marks_replies_and_errors_until_the_number_is_reused() {
        let mut s = session(iputils_timing());
        let (one, data) = send(&mut s, 0);
        let (two, _) = send(&mut s, 1000);
        assert!(!s.is_answered(one) && !s.is_answered(two));
        s.on_reply(&reply(&s, one, &data), at(1001)).unwrap();
        let err = IcmpError::classify(Family::V4, "198.51.100.1".parse().unwrap(), 3, 1, 0);
        s.on_error(s.id(), two.0, None, err).unwrap();
        assert!(s.is_answered(one) && s.is_answered(two));
        assert_eq!(s.requests.len(), 0, "both settled: forgotten");
        // Still ours after being forgotten: a duplicate, timed by its stamp.
        let ev = s.on_reply(&reply(&s, one, &data), at(1500)).unwrap();
        assert!(
            matches!(ev, PingEvent::Reply { duplicate: true, late: false, rtt: Some(r), .. } if r == Duration::from_millis(1500)),
            "{ev:?}"
        );
    }

    #[test]
    fn short_replies_to_forgotten_requests_count_untimed() {
        let mut s = session(Timing {
            timeout: Duration::from_secs(1),
            ..iputils_timing()
        });
        let (seq, _) = send(&mut s, 0);
        assert_eq!(s.expire(at(1000)).len(), 1);
        let ev = s.on_reply(&reply(&s, seq, &[0u8; 8]), at(1200)).unwrap();
        assert!(
            matches!(
                ev,
                PingEvent::Reply {
                    rtt: None,
                    late: true,
                    duplicate: false,
                    ..
                }
            ),
            "{ev:?}"
        );
        assert!(
            s.on_reply(&reply(&s, Sequence(7), &[0u8; 8]), at(1200))
                .is_none(),
            "7 was never sent"
        );
        let r = s.report(at(1300));
        assert_eq!((r.packets_received, r.rtt.min), (1, None));
    }

    #[test]
    fn a_request_waiting_a_whole_sequence_space_is_given_up() {
        let mut s = session(Timing {
            timeout: Duration::from_secs(1_000),
            interval: Duration::ZERO,
            ..iputils_timing()
        });
        for i in 0..65_536 + 3 {
            send(&mut s, i / 1000);
        }
        assert_eq!(s.requests.len(), 65_536);
        // 1, 2 and 3 came round again while unanswered.
        assert!(matches!(s.next(at(66)), Next::Send(_)));
        let given_up: Vec<_> = s.expire(at(66));
        assert_eq!(
            given_up,
            [1, 2, 3].map(|sequence| PingEvent::Timeout { sequence })
        );
    }

    #[test]
    fn elapsed_ends_at_the_last_send_as_iputils_time() {
        // Two unanswered requests 200 ms apart, then the 1 s wait.
        let mut s = session(Timing {
            count: Some(2),
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
            ..iputils_timing()
        });
        send(&mut s, 0);
        send(&mut s, 200);
        assert_eq!(s.next(at(1200)), Next::Done);
        assert_eq!(s.report(at(1200)).elapsed, Duration::from_millis(200));
        // Nor at a reply after the last send: `ping -c 1` answered after
        // 700 ms says `time 0ms` in iputils.
        let mut s = session(Timing {
            count: Some(2),
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
            ..iputils_timing()
        });
        let first = send(&mut s, 0);
        let second = send(&mut s, 200);
        s.on_reply(&reply(&s, first.0, &first.1), at(700)).unwrap();
        s.on_reply(&reply(&s, second.0, &second.1), at(900))
            .unwrap();
        assert_eq!(s.next(at(900)), Next::Done);
        assert_eq!(s.report(at(900)).elapsed, Duration::from_millis(200));
    }

    #[test]
    fn with_a_deadline_the_count_is_of_answers_as_iputils() {
        // `ping -c 1 -w 3` to a silent host: iputils sends three requests.
        let answers_by = |deadline| Timing {
            count: Some(1),
            deadline,
            count_answers: true,
            ..iputils_timing()
        };
        let mut s = session(answers_by(Some(Duration::from_secs(3))));
        send(&mut s, 0);
        assert!(matches!(s.next(at(1000)), Next::Send(Sequence(2))));
        send(&mut s, 1000);
        let (seq, data) = send(&mut s, 2000);
        assert_eq!(s.next(at(2500)), Next::WaitUntil(at(3000).monotonic_ns));
        // An answer to the third ends it: one answer was asked for.
        s.on_reply(&reply(&s, seq, &data), at(2500)).unwrap();
        assert_eq!(s.next(at(2500)), Next::Done);
        let r = s.report(at(2500));
        assert_eq!((r.packets_sent, r.packets_received), (3, 1));
        // Without a deadline, or without `count_answers` (the library's
        // default, which the exporter relies on), the count is of requests.
        let requests_by = Timing {
            count_answers: false,
            ..answers_by(Some(Duration::from_secs(3)))
        };
        for timing in [answers_by(None), requests_by] {
            let mut s = session(timing);
            send(&mut s, 0);
            assert!(matches!(s.next(at(1000)), Next::WaitUntil(_)));
        }
    }

    #[test]
    fn adaptive_interval_shrinks_as_soon_as_a_reply_comes() {
        let mut s = session(Timing {
            adaptive: true,
            count: Some(3),
            ..iputils_timing()
        });
        let (seq, data) = send(&mut s, 0);
        // No reply yet: the interval given (1 s).
        assert_eq!(s.next(at(1)), Next::WaitUntil(at(1000).monotonic_ns));
        // A 4 ms reply: the next request is due 4 ms after the first, now.
        s.on_reply(&reply(&s, seq, &data), at(4)).unwrap();
        assert_eq!(s.next(at(4)), Next::Send(Sequence(2)));
        // Below the floor (200 ms unprivileged), the floor.
        let mut s = session(Timing {
            adaptive: true,
            count: Some(3),
            min_interval: Duration::from_millis(200),
            ..iputils_timing()
        });
        let (seq, data) = send(&mut s, 0);
        s.on_reply(&reply(&s, seq, &data), at(4)).unwrap();
        assert_eq!(s.next(at(4)), Next::WaitUntil(at(200).monotonic_ns));
    }

    #[test]
    fn preload_sends_a_burst() {
        let mut s = session(Timing {
            preload: 3,
            count: Some(5),
            ..iputils_timing()
        });
        send(&mut s, 0);
        send(&mut s, 0);
        send(&mut s, 0);
        assert_eq!(s.next(at(0)), Next::WaitUntil(at(1000).monotonic_ns));
    }
}
