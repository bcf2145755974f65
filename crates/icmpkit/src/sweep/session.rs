//! The state of a sweep, with no I/O: which probe to send next (permuted
//! order, shard, rate, cap on probes in flight, retries with backoff, waves
//! for `count > 1`), and what replies and errors mean.
//!
//! No per-target table: a probe's payload carries a tagged stamp (send
//! time, target index, keyed cookie over destination/id/sequence/time/index),
//! so a reply is validated and timed from the packet alone. What is kept:
//! the probes in flight (bounded by the cap), one bit per (target, probe)
//! for "finished" and one per (target, probe, attempt) for duplicates, and,
//! with `count > 1`, statistics for the targets that answered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::engine::clock::{Timestamp, check_option_duration, nanos, round_trip};
use crate::engine::permutation::{Permutation, Shard};
use crate::engine::probe::{echo_data, parse_own_request};
use crate::engine::stamp::{ProbeId, StampKey, TAGGED_STAMP_LEN, peek_tag};
use crate::engine::stats::{RttStats, RttSummary, loss};
use crate::ping::PingReport;
use crate::resolve::family_of;
use crate::socket::MAX_BATCH;
use crate::{Error, IcmpError, InvalidReason, Result};

use super::rate::TokenBucket;
use super::report::{HostResult, SweepEvent, SweepSummary};
use super::targets::TargetSet;

/// Echo data a sweep probe needs: the tagged stamp.
pub const MIN_PAYLOAD: usize = TAGGED_STAMP_LEN;

/// Host results emitted per call once the last wave of a `count > 1` sweep
/// is over (keeps the loop responsive on huge sweeps).
const FINALIZE_CHUNK: u64 = 1024;

/// Credit an interval-limited sweep may keep for a late wake-up (tokio's
/// timers tick in milliseconds): sub-millisecond intervals hold on average.
const INTERVAL_SLACK: Duration = Duration::from_millis(2);

/// When and how much to probe.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Schedule {
    /// Probes per target (`-c`/`-C`); above 1 they go in waves.
    pub count: u32,
    /// Extra attempts for an unanswered probe when `count == 1` (`-r`).
    pub retries: u32,
    /// Timeout of the first attempt (`-t`).
    pub timeout: Duration,
    /// Each retry waits this much longer than the one before (`-B`).
    pub backoff: f64,
    /// Least time between the starts of two waves (`-p`).
    pub period: Duration,
    /// Packets per second, 0 for no limit.
    pub rate: u64,
    /// Least time between two packets overall (fping's `-i`), exact to the
    /// nanosecond; when set it replaces `rate` (zero: no limit).
    pub interval: Option<Duration>,
    /// Most probes waiting for an answer at once.
    pub max_in_flight: u64,
    /// Most probes handed out per batch (and token
    /// burst), 1 to [`MAX_BATCH`]: one `sendmmsg` moves no more.
    pub batch: usize,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            count: 1,
            retries: 3,
            timeout: Duration::from_millis(500),
            backoff: 1.5,
            period: Duration::from_secs(1),
            rate: 10_000,
            interval: None,
            max_in_flight: 1 << 17,
            batch: 64,
        }
    }
}

impl Schedule {
    fn attempts(&self) -> u32 {
        // Saturating: u32::MAX retries must fail validation, not wrap to 0.
        if self.count == 1 {
            self.retries.saturating_add(1)
        } else {
            1
        }
    }

    /// Rejects schedules no sweep can run.
    pub fn validate(&self) -> Result<()> {
        let bad = |option, reason| Err(Error::invalid(option, reason));
        if self.count == 0 {
            return bad("count", InvalidReason::AtLeast { min: 1 });
        }
        if u64::from(self.count) * u64::from(self.attempts()) > 65_536 {
            let limit = "count x (retries + 1) must fit the 16-bit echo sequence (65536)";
            return bad("count", InvalidReason::TooMany { limit });
        }
        if !(self.backoff.is_finite() && (1.0..=100.0).contains(&self.backoff)) {
            return bad(
                "backoff",
                InvalidReason::BetweenReal {
                    min: 1.0,
                    max: 100.0,
                    got: self.backoff,
                },
            );
        }
        if self.timeout.is_zero() {
            return bad("timeout", InvalidReason::Zero);
        }
        check_option_duration("timeout", self.timeout)?;
        check_option_duration("period", self.period)?;
        if let Some(interval) = self.interval {
            check_option_duration("interval", interval)?;
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight", InvalidReason::AtLeast { min: 1 });
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            let (max, got) = (MAX_BATCH as u64, Some(self.batch as u64));
            return bad("batch", InvalidReason::Between { min: 1, max, got });
        }
        Ok(())
    }
}

/// One probe to send: target `index` with echo sequence `sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Target index.
    pub index: u64,
    /// Echo sequence: `probe × (retries + 1) + attempt`.
    pub sequence: u16,
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send the probes put in the batch.
    Send,
    /// Nothing to send before this monotonic time (ns); wake earlier for
    /// packets.
    WaitUntil(u64),
    /// Finished (after the events are taken).
    Done,
}

pub use crate::engine::probe::EchoReply;

/// One bit per key: dense (a bit vector, zero pages untouched until used)
/// up to 2³² keys, a hash set of the keys set beyond.
#[derive(Debug)]
enum Bits {
    Dense(Vec<u64>),
    Sparse(HashSet<u64>),
}

impl Bits {
    fn new(keys: u64) -> Bits {
        if keys <= 1 << 32 {
            Bits::Dense(vec![0; keys.div_ceil(64) as usize])
        } else {
            Bits::Sparse(HashSet::new())
        }
    }

    /// Sets `key`; returns whether it was set already.
    fn set(&mut self, key: u64) -> bool {
        match self {
            Bits::Dense(words) => {
                let (w, b) = ((key / 64) as usize, key % 64);
                let was = words[w] & (1 << b) != 0;
                words[w] |= 1 << b;
                was
            }
            Bits::Sparse(set) => !set.insert(key),
        }
    }

    fn get(&self, key: u64) -> bool {
        match self {
            Bits::Dense(words) => words[(key / 64) as usize] & (1 << (key % 64)) != 0,
            Bits::Sparse(set) => set.contains(&key),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    index: u64,
    sequence: u16,
    deadline_ns: u64,
}

/// Statistics of a target that answered, while `count > 1` waves go on.
#[derive(Debug, Default)]
struct HostStats {
    stats: RttStats,
    /// Its RTTs in arrival order (at most `count`: one per probe).
    rtts: Vec<Duration>,
    probe_rtts: Vec<Option<Duration>>,
    errors: Vec<(u16, IcmpError)>,
    duplicates: u64,
    send_errors: u64,
    send_error: Option<String>,
    ttl: Option<u8>,
}

/// Events waiting to be taken past which no new probe is sent (about a
/// megabyte of events: a sweep's memory stays flat however slow its reader).
const MAX_UNTAKEN_EVENTS: u64 = 4096;

/// A sweep in progress.
#[derive(Debug)]
pub struct Session {
    targets: Arc<TargetSet>,
    order: Permutation,
    shard: Shard,
    shard_len: u64,
    key: StampKey,
    ids: [u16; 2],
    schedule: Schedule,
    timeouts_ns: Vec<u64>,
    bucket: TokenBucket,
    wave: u32,
    wave_start_ns: Option<u64>,
    next_k: u64,
    finalize_k: Option<u64>,
    resend: VecDeque<Probe>,
    retries: VecDeque<Probe>,
    pending: Vec<VecDeque<Pending>>,
    in_flight: u64,
    finished: Bits,
    seen: Bits,
    hosts: HashMap<u64, HostStats>,
    events: VecDeque<SweepEvent>,
    summary: SweepSummary,
    started: Option<Timestamp>,
    last_send: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    /// Set by [`Session::cut_short`]: the wave it was in and how far that
    /// wave had got (targets before `next_k` had its probe).
    cut: Option<(u32, u64)>,
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl Session {
    /// A sweep of `targets` (this `shard` of them) in the order `seed`
    /// picks, stamping probes with `key`.
    pub fn new(
        targets: TargetSet,
        schedule: Schedule,
        seed: u64,
        shard: Shard,
        key: StampKey,
    ) -> Result<Session> {
        schedule.validate()?;
        let keys = u64::from(schedule.count) * u64::from(schedule.attempts());
        if targets.len().checked_mul(keys).is_none() {
            return Err(Error::invalid(
                "targets",
                InvalidReason::TooMany {
                    limit: "for this count and retries",
                },
            ));
        }
        let attempts = schedule.attempts();
        let timeouts_ns = (0..attempts)
            .map(|a| {
                let t = schedule.timeout.as_secs_f64() * schedule.backoff.powi(a as i32);
                nanos(Duration::from_secs_f64(t.min(1e9)))
            })
            .collect();
        let total = targets.len();
        let count = u64::from(schedule.count);
        let order = Permutation::new(total, seed);
        let shard_len = shard.len_of(total);
        let batch = schedule.batch as u64;
        Ok(Session {
            order,
            shard,
            shard_len,
            key,
            ids: [0; 2],
            timeouts_ns,
            // Burst: a batch, or 10 ms of tokens at high rates, so that a
            // late wake-up (timer granularity, a busy CPU) loses no tokens.
            bucket: match schedule.interval {
                // fping -i: one packet per interval, no bursts; the slack
                // makes up for the timer's millisecond granularity.
                Some(interval) => TokenBucket::with_interval(interval, INTERVAL_SLACK),
                None => TokenBucket::new(schedule.rate, batch.max(schedule.rate / 100)),
            },
            wave: 0,
            wave_start_ns: None,
            next_k: 0,
            finalize_k: None,
            resend: VecDeque::new(),
            retries: VecDeque::new(),
            pending: vec![VecDeque::new(); attempts as usize],
            in_flight: 0,
            finished: Bits::new(total.saturating_mul(count)),
            seen: Bits::new(total.saturating_mul(count * u64::from(attempts))),
            hosts: HashMap::new(),
            events: VecDeque::new(),
            summary: SweepSummary {
                targets: shard_len,
                ..SweepSummary::default()
            },
            started: None,
            last_send: None,
            ended_at: None,
            cut: None,
            targets: Arc::new(targets),
            schedule,
        })
    }

    /// The targets.
    pub fn targets(&self) -> &TargetSet {
        &self.targets
    }

    /// The targets, to keep beside the session (a driver that shares the
    /// session between threads).
    pub fn shared_targets(&self) -> Arc<TargetSet> {
        Arc::clone(&self.targets)
    }

    /// Sets the echo identifier probes of `family` carry (datagram sockets:
    /// the kernel's).
    pub fn set_id(&mut self, family: Family, id: u16) {
        self.ids[slot(family)] = id;
    }

    /// The echo identifier of `family`.
    pub fn id(&self, family: Family) -> u16 {
        self.ids[slot(family)]
    }

    /// The totals so far.
    pub fn summary(&self, now: Timestamp) -> SweepSummary {
        let mut s = self.summary.clone();
        let end = self.ended_at.unwrap_or(now);
        s.elapsed = self.started.map_or(Duration::ZERO, |t| end.since(t));
        if let (Some(first), Some(last)) = (self.started, self.last_send) {
            s.send_time = last.since(first);
        }
        s
    }

    /// Probes waiting for an answer (or queued for a retry).
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SweepEvent> {
        self.events.pop_front()
    }

    /// True if events are waiting to be taken.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    fn attempts(&self) -> u64 {
        self.timeouts_ns.len() as u64
    }

    fn split(&self, sequence: u16) -> (u32, u32) {
        let a = self.attempts() as u32;
        (u32::from(sequence) / a, u32::from(sequence) % a)
    }

    fn finished_key(&self, index: u64, probe: u32) -> u64 {
        index * u64::from(self.schedule.count) + u64::from(probe)
    }

    fn wave_exhausted(&self) -> bool {
        self.next_k >= self.shard_len
            && self.resend.is_empty()
            && self.retries.is_empty()
            && self.in_flight == 0
    }

    fn finalize_done(&self) -> bool {
        self.finalize_k.is_some_and(|k| k >= self.shard_len)
            || (self.schedule.count == 1 && self.finalize_k.is_some())
    }

    /// Fills `batch` with the probes to send at `now` (their payloads are
    /// stamped with `now`); afterwards report each as sent
    /// ([`Session::on_sent`]), refused ([`Session::on_send_error`]) or not
    /// sent after all ([`Session::requeue`]).
    pub fn next_batch(&mut self, now: Timestamp, batch: &mut Vec<Probe>) -> Next {
        batch.clear();
        let now_ns = now.monotonic_ns;
        if self.wave_exhausted()
            && let Some(next) = self.end_wave(now_ns)
        {
            if next == Next::Done {
                self.ended_at.get_or_insert(now);
            }
            return next;
        }
        // Nothing new goes out while many events wait to be taken: with a
        // consumer slower than the senders (a /8 into a blackhole, each
        // probe a timeout and a host event) they would pile up without
        // bound. The consumer taking them makes room again.
        let untaken = self.events.len() as u64;
        let room = if untaken >= MAX_UNTAKEN_EVENTS {
            0
        } else {
            self.schedule.max_in_flight.saturating_sub(self.in_flight)
        };
        let fresh = if self.wave_start_ns.is_some_and(|s| s > now_ns) {
            0
        } else {
            (self.shard_len - self.next_k).min(room)
        };
        let queued = (self.resend.len() + self.retries.len()) as u64;
        let want = (queued + fresh).min(self.schedule.batch as u64);
        let mut budget = if want == 0 {
            0
        } else {
            self.bucket.take(now_ns, want)
        };
        while budget > 0 {
            let Some(probe) = self.next_probe(now_ns) else {
                break;
            };
            batch.push(probe);
            budget -= 1;
        }
        if !batch.is_empty() {
            return Next::Send;
        }
        let mut wake = self.earliest_deadline().unwrap_or(u64::MAX);
        if room == 0 && untaken > 0 {
            // Held back by untaken events, not by a deadline: look again
            // soon (no deadline may be left to wake for).
            wake = wake.min(now_ns.saturating_add(1_000_000));
        }
        if want > 0 {
            wake = wake.min(self.bucket.next_token_ns(now_ns));
        }
        if let Some(start) = self.wave_start_ns.filter(|&s| s > now_ns) {
            wake = wake.min(start);
        }
        Next::WaitUntil(wake)
    }

    /// The wave is over: start the next one, finish the sweep, or wait.
    fn end_wave(&mut self, now_ns: u64) -> Option<Next> {
        if self.wave + 1 < self.schedule.count {
            self.wave += 1;
            self.next_k = 0;
            let period = nanos(self.schedule.period);
            let start = self.wave_start_ns.unwrap_or(now_ns).saturating_add(period);
            self.wave_start_ns = Some(start.max(now_ns));
            return None;
        }
        if self.finalize_k.is_none() {
            self.finalize_k = Some(0);
        }
        if self.finalize_done() {
            return Some(Next::Done);
        }
        self.finalize_some();
        Some(Next::WaitUntil(now_ns))
    }

    /// Emits the results of `count > 1` sweeps, a chunk at a time.
    fn finalize_some(&mut self) {
        let Some(k) = self.finalize_k else { return };
        let end = (k + FINALIZE_CHUNK).min(self.shard_len);
        for k in k..end {
            let index = self.order.at(self.shard.position(k));
            let stats = self.hosts.remove(&index).unwrap_or_default();
            let result = self.result_from_stats(index, stats, self.probes_sent_to(k));
            self.emit_host(result);
        }
        self.finalize_k = Some(end);
    }

    fn next_probe(&mut self, now_ns: u64) -> Option<Probe> {
        while let Some(p) = self.resend.pop_front().or_else(|| self.retries.pop_front()) {
            let (probe, _) = self.split(p.sequence);
            // Answered (late, by an earlier attempt) or failed meanwhile:
            // its in-flight unit was given back then.
            if !self.finished.get(self.finished_key(p.index, probe)) {
                return Some(p);
            }
        }
        if self.next_k >= self.shard_len
            || self.in_flight >= self.schedule.max_in_flight
            || self.wave_start_ns.is_some_and(|s| s > now_ns)
        {
            return None;
        }
        if self.wave_start_ns.is_none() {
            self.wave_start_ns = Some(now_ns);
        }
        let index = self.order.at(self.shard.position(self.next_k));
        self.next_k += 1;
        self.in_flight += 1;
        let sequence = (self.wave as u64 * self.attempts()) as u16;
        Some(Probe { index, sequence })
    }

    fn earliest_deadline(&self) -> Option<u64> {
        self.pending
            .iter()
            .filter_map(|q| q.front().map(|p| p.deadline_ns))
            .min()
    }

    /// Writes the payload of `probe` sent at `at` into `data` (at least
    /// [`MIN_PAYLOAD`] bytes): the tagged stamp, then each byte its offset.
    pub fn fill_payload(&self, probe: &Probe, at: Timestamp, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        if let Some(destination) = self.targets.address(probe.index) {
            let id = ProbeId {
                destination,
                id: self.id(family_of(destination)),
                sequence: probe.sequence,
            };
            self.key.write_tagged(&id, at, probe.index, data);
        }
    }

    /// Records that `probes` left at `at` (the time in their stamps).
    pub fn on_sent(&mut self, probes: &[Probe], at: Timestamp) {
        if self.cut.is_some() {
            // A sender thread's batch that left after the cut: not awaited.
            self.summary.probes_sent += probes.len() as u64;
            return;
        }
        self.started.get_or_insert(at);
        self.last_send = Some(at);
        for p in probes {
            let (_, attempt) = self.split(p.sequence);
            let deadline_ns = at.monotonic_ns + self.timeouts_ns[attempt as usize];
            self.pending[attempt as usize].push_back(Pending {
                index: p.index,
                sequence: p.sequence,
                deadline_ns,
            });
        }
        self.summary.probes_sent += probes.len() as u64;
    }

    /// Puts `probes` back to be sent first next time (the socket's buffer
    /// was full).
    pub fn requeue(&mut self, probes: &[Probe]) {
        for p in probes.iter().rev() {
            self.resend.push_front(*p);
        }
    }

    /// Records that the kernel refused `probe` at `at`.
    pub fn on_send_error(&mut self, probe: &Probe, at: Timestamp, message: &str) {
        if self.cut.is_some() {
            self.summary.send_errors += 1;
            return;
        }
        self.started.get_or_insert(at);
        self.summary.send_errors += 1;
        let (n, attempt) = self.split(probe.sequence);
        if self.finished.set(self.finished_key(probe.index, n)) {
            return;
        }
        self.in_flight -= 1;
        tracing::debug!(index = probe.index, message, "send refused");
        self.events.push_back(SweepEvent::SendError {
            index: probe.index,
            address: self
                .targets
                .address(probe.index)
                .unwrap_or(IpAddr::from([0u8; 4])),
            probe: n,
            message: message.to_string(),
        });
        if self.schedule.count == 1 {
            let mut r = self.result_skeleton(probe.index, u64::from(attempt) + 1);
            r.report.send_errors = 1;
            r.send_error = Some(message.to_string());
            self.emit_host(r);
        } else {
            let h = self.hosts.entry(probe.index).or_default();
            h.send_errors += 1;
            h.send_error.get_or_insert_with(|| message.to_string());
        }
    }

    /// Stops the sweep at `now` (Ctrl-C): nothing more is sent or awaited.
    /// With `count > 1` every target still gets its result, counting the
    /// probes sent to it so far (one still awaited counts as lost), as
    /// fping prints its statistics on SIGINT; with `count == 1`, the
    /// targets still awaited get theirs (unanswered), those never probed
    /// none.
    pub fn cut_short(&mut self, now: Timestamp) {
        if self.cut.is_some() || self.finalize_k.is_some() {
            return;
        }
        self.cut = Some((self.wave, self.next_k));
        self.ended_at.get_or_insert(now);
        if self.schedule.count == 1 {
            self.give_up_in_flight();
        }
        self.resend.clear();
        self.retries.clear();
        self.pending.iter_mut().for_each(VecDeque::clear);
        self.in_flight = 0;
        self.next_k = self.shard_len;
        self.wave = self.schedule.count - 1;
        self.wave_start_ns = None;
        if self.schedule.count == 1 {
            self.finalize_k = Some(self.shard_len);
        }
    }

    /// Emits an unanswered result for each target still in flight, with
    /// the attempts that left (a queued retry has not).
    fn give_up_in_flight(&mut self) {
        let mut attempts: HashMap<u64, u64> = HashMap::new();
        let sent = self
            .pending
            .iter()
            .flatten()
            .map(|p| (p.index, p.sequence, 1));
        let queued = self.retries.iter().chain(&self.resend);
        let queued = queued.map(|p| (p.index, p.sequence, 0));
        for (index, sequence, left) in sent.chain(queued).collect::<Vec<_>>() {
            let (_, attempt) = self.split(sequence);
            let n = attempts.entry(index).or_default();
            *n = (*n).max(u64::from(attempt) + left);
        }
        let mut indices: Vec<u64> = attempts.keys().copied().collect();
        indices.sort_unstable();
        for index in indices {
            if self.finished.set(self.finished_key(index, 0)) {
                continue;
            }
            let result = self.result_skeleton(index, attempts[&index]);
            self.emit_host(result);
        }
    }

    /// Probes sent to the target at shard position `k` (all of them unless
    /// the sweep was cut short).
    fn probes_sent_to(&self, k: u64) -> u64 {
        match self.cut {
            Some((wave, next_k)) => u64::from(wave) + u64::from(k < next_k),
            None => u64::from(self.schedule.count),
        }
    }

    /// Counts a receive that failed (other than "nothing now"): the
    /// driver logged it and read on.
    pub fn on_receive_error(&mut self) {
        self.summary.receive_errors += 1;
    }

    /// False once no probe will be handed out again: every target of the
    /// last wave sent, nothing to resend, and no probe in flight that a
    /// timeout could retry. What is left is waiting for answers, so the
    /// sending sockets can be closed (a packet socket's close waits for an
    /// RCU grace period, better spent in the timeout wait than at exit).
    pub fn may_send_more(&self) -> bool {
        if self.cut.is_some() {
            return false;
        }
        let last_wave = self.wave + 1 >= self.schedule.count;
        let retriable = self.schedule.count == 1
            && self.pending[..self.pending.len().saturating_sub(1)]
                .iter()
                .any(|q| !q.is_empty());
        !last_wave
            || self.next_k < self.shard_len
            || !self.resend.is_empty()
            || !self.retries.is_empty()
            || retriable
    }

    /// The earliest timeout of a probe in flight (monotonic ns), if any:
    /// when [`Session::expire`] next has work.
    pub fn next_timeout_ns(&self) -> Option<u64> {
        self.earliest_deadline()
    }

    /// Counts an ICMPv4 message whose checksum does not verify (a damaged
    /// reply or error): never an answer.
    pub fn on_corrupted(&mut self) {
        self.summary.corrupted += 1;
    }

    /// Takes an echo reply of `family` received at `now`; rejects (and
    /// counts) those whose cookie does not check out, and counts those
    /// whose checksum does not verify as corrupted.
    pub fn on_reply(&mut self, family: Family, reply: &EchoReply<'_>, now: Timestamp) {
        if self.cut.is_some() {
            return; // the results are being given out
        }
        if reply.id != self.id(family) {
            return; // another program's echo traffic (raw sockets see all)
        }
        if !reply.checksum_ok {
            // Damaged on its way: neither an answer nor a forgery.
            self.on_corrupted();
            return;
        }
        let Some((index, address, sent)) = self.validate(family, reply.sequence, reply.data) else {
            self.summary.rejected += 1;
            return;
        };
        let (probe, attempt) = self.split(reply.sequence);
        let rtt = round_trip(sent, reply.kernel_rx_ns, now);
        let late = now.monotonic_ns >= sent.monotonic_ns + self.timeouts_ns[attempt as usize];
        let seen_key =
            index * u64::from(self.schedule.count) * self.attempts() + u64::from(reply.sequence);
        let duplicate = self.seen.set(seen_key);
        self.summary.replies += 1;
        self.summary.late += u64::from(late);
        self.summary.duplicates += u64::from(duplicate);
        self.events.push_back(SweepEvent::Reply {
            index,
            address,
            from: reply.from,
            probe,
            attempt,
            rtt,
            ttl: reply.ttl,
            bytes: reply.bytes,
            late,
            duplicate,
        });
        if late || duplicate {
            if duplicate && let Some(h) = self.hosts.get_mut(&index) {
                h.duplicates += 1;
            }
            return;
        }
        if self.finished.set(self.finished_key(index, probe)) {
            return;
        }
        self.in_flight -= 1;
        if self.schedule.count == 1 {
            let mut r = self.result_skeleton(index, u64::from(attempt) + 1);
            let report = &mut r.report;
            report.packets_received = 1;
            report.packet_loss = loss(report.packets_sent, 1);
            report.rtts = vec![rtt];
            let mut one = RttStats::default();
            one.record(rtt);
            report.rtt = one.summary();
            report.iputils_rtt = one.iputils();
            report.reply_ttl = reply.ttl;
            report.elapsed = rtt;
            report.is_alive = true;
            r.probe_rtts = vec![Some(rtt)];
            self.emit_host(r);
        } else {
            // Grown as probes are answered, not sized to `count` at once:
            // a long loop (`count` 65536) would cost 1 MB per target.
            let h = self.hosts.entry(index).or_default();
            if h.probe_rtts.len() <= probe as usize {
                h.probe_rtts.resize(probe as usize + 1, None);
            }
            h.probe_rtts[probe as usize] = Some(rtt);
            h.stats.record(rtt);
            h.rtts.push(rtt);
            h.ttl = reply.ttl.or(h.ttl);
        }
    }

    /// Checks a probe's tagged stamp: the target index, its address and
    /// the send time, if genuine.
    fn validate(
        &self,
        family: Family,
        sequence: u16,
        data: &[u8],
    ) -> Option<(u64, IpAddr, Timestamp)> {
        let index = peek_tag(data)?;
        let address = self.targets.address(index)?;
        if family_of(address) != family
            || u64::from(sequence) >= u64::from(self.schedule.count) * self.attempts()
        {
            return None;
        }
        let id = ProbeId {
            destination: address,
            id: self.id(family),
            sequence,
        };
        let sent = self.key.check_tagged(&id, data)?;
        Some((index, address, sent))
    }

    /// Takes an ICMP error about one of our requests: `quoted_icmp` is the
    /// request as quoted (from its type byte), `quoted_destination` where
    /// it went when the quote says.
    pub fn on_error(
        &mut self,
        family: Family,
        quoted_icmp: &[u8],
        quoted_destination: Option<IpAddr>,
        error: IcmpError,
    ) {
        if self.cut.is_some() {
            return; // the results are being given out
        }
        let Some(request) = parse_own_request(family, quoted_icmp) else {
            return;
        };
        if request.id != self.id(family) {
            return; // about someone else's echo request
        }
        let data = echo_data(quoted_icmp);
        let index = match self.validate(family, request.sequence, data) {
            Some((index, address, _)) => {
                if quoted_destination.is_some_and(|d| d != address) {
                    None
                } else {
                    Some(index)
                }
            }
            // Routers that quote only 8 bytes of our message: fall back to
            // the quoted destination (our id, a sequence we use).
            None if data.len() < TAGGED_STAMP_LEN => quoted_destination
                .filter(|_| {
                    u64::from(request.sequence) < u64::from(self.schedule.count) * self.attempts()
                })
                .and_then(|d| self.targets.index_of(d)),
            None => None,
        };
        let Some(index) = index else {
            self.summary.rejected += 1;
            return;
        };
        let address = self.targets.address(index).unwrap_or(error.from);
        let (probe, _) = self.split(request.sequence);
        self.events.push_back(SweepEvent::Error {
            index,
            address,
            probe,
            error,
        });
        if self.finished.set(self.finished_key(index, probe)) {
            return;
        }
        self.in_flight -= 1;
        if self.schedule.count == 1 {
            let (_, attempt) = self.split(request.sequence);
            let mut r = self.result_skeleton(index, u64::from(attempt) + 1);
            r.report.errors = vec![(request.sequence, error)];
            r.report.icmp_errors = 1;
            self.emit_host(r);
        } else {
            self.hosts
                .entry(index)
                .or_default()
                .errors
                .push((request.sequence, error));
        }
    }

    /// Handles the probes whose timeout passed by `now`: retries them, or
    /// gives their targets up; and emits finished `count > 1` results.
    pub fn expire(&mut self, now: Timestamp) {
        for attempt in 0..self.pending.len() {
            while let Some(p) = self.pending[attempt].front().copied() {
                if p.deadline_ns > now.monotonic_ns {
                    break;
                }
                // A whole window expiring at once (a fast sweep into a
                // blackhole) would queue two events per probe: the rest
                // expire once the reader has taken these.
                if self.events.len() as u64 >= MAX_UNTAKEN_EVENTS {
                    return;
                }
                self.pending[attempt].pop_front();
                self.time_out(p, attempt as u32);
            }
        }
        if self.finalize_k.is_some() && self.schedule.count > 1 {
            self.finalize_some();
        }
    }

    fn time_out(&mut self, p: Pending, attempt: u32) {
        let (probe, _) = self.split(p.sequence);
        let key = self.finished_key(p.index, probe);
        if self.finished.get(key) {
            return;
        }
        if self.schedule.count == 1 && u64::from(attempt) + 1 < self.attempts() {
            // The retry keeps the probe's in-flight unit.
            self.retries.push_back(Probe {
                index: p.index,
                sequence: p.sequence + 1,
            });
            return;
        }
        self.finished.set(key);
        self.in_flight -= 1;
        // fping's "[n], timed out" line: the probe's last attempt expired.
        self.events.push_back(SweepEvent::Timeout {
            index: p.index,
            address: self
                .targets
                .address(p.index)
                .unwrap_or(IpAddr::from([0u8; 4])),
            probe,
        });
        if self.schedule.count == 1 {
            let r = self.result_skeleton(p.index, self.attempts());
            self.emit_host(r);
        }
    }

    /// A result for `index` with nothing received yet.
    fn result_skeleton(&self, index: u64, sent: u64) -> HostResult {
        let address = self
            .targets
            .address(index)
            .unwrap_or(IpAddr::from([0u8; 4]));
        HostResult {
            index,
            report: PingReport {
                target: self.targets.name(index).unwrap_or_default(),
                address,
                packets_sent: sent,
                packets_received: 0,
                packet_loss: 1.0,
                rtts: Vec::new(),
                rtt: RttSummary::default(),
                iputils_rtt: None,
                duplicates: 0,
                corrupted: 0,
                errors: Vec::new(),
                icmp_errors: 0,
                local_errors: 0,
                send_errors: 0,
                reply_ttl: None,
                elapsed: Duration::ZERO,
                is_alive: false,
            },
            // One slot per probe sent (retries share theirs).
            probe_rtts: vec![None; sent.min(u64::from(self.schedule.count)) as usize],
            send_error: None,
        }
    }

    fn result_from_stats(&self, index: u64, h: HostStats, sent: u64) -> HostResult {
        let mut r = self.result_skeleton(index, sent);
        let received = h.stats.count();
        let report = &mut r.report;
        report.packets_received = received;
        report.packet_loss = loss(sent, received);
        report.rtts = h.rtts;
        report.rtt = h.stats.summary();
        report.iputils_rtt = h.stats.iputils();
        report.duplicates = h.duplicates;
        report.icmp_errors = h.errors.len() as u64;
        report.errors = h.errors;
        report.send_errors = h.send_errors;
        r.send_error = h.send_error;
        report.reply_ttl = h.ttl;
        report.elapsed = report.rtts.iter().sum();
        report.is_alive = received > 0;
        if !h.probe_rtts.is_empty() {
            r.probe_rtts = h.probe_rtts;
        }
        // One slot per probe sent (cut short: none for those never sent).
        r.probe_rtts.resize(sent as usize, None);
        r
    }

    fn emit_host(&mut self, r: HostResult) {
        self.summary.finished += 1;
        self.summary.alive += u64::from(r.report.is_alive);
        self.summary.errors += u64::from(!r.report.is_alive && !r.report.errors.is_empty());
        self.events.push_back(SweepEvent::Host(Box::new(r)));
    }
}

#[cfg(test)]
mod tests;
