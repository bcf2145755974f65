//! The state of one trace, with no I/O: which probe (TTL, flow, attempt)
//! goes out next and when, which are in flight and when they expire, what
//! answered them, and when a hop is complete. The driver asks it what to do
//! ([`Session::next`]) and tells it what happened.
//!
//! Probes go out attempt by attempt: first one probe per TTL and flow (all
//! TTLs in parallel, up to the in-flight window), then the second round,
//! and so on, so a whole trace takes about one wait time. A probe's number
//! (`seq`) is its index in that order.
//!
//! With path-MTU discovery ([`Plan::path_mtu`]) each probe also has a size.
//! A "fragmentation needed" / "packet too big" answer (or a local
//! `EMSGSIZE`) that names a smaller MTU lowers the size of the probes to
//! that TTL and beyond, and the probe goes out again, smaller: each hop is
//! answered by the largest probe that reached it, its path MTU.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crate::engine::clock::{Timestamp, check_option_duration, nanos};
use crate::{Error, InvalidReason, Result};

use super::report::{Annotation, Hop, ProbeReply, ProbeResult, ReplyKind, TraceEvent};

/// RFC 1191's MTU plateaus, for reports that name no MTU (RFC 792
/// routers send 0).
const PLATEAUS: [u32; 10] = [
    32_000, 17_914, 8_166, 4_352, 2_002, 1_492, 1_006, 508, 296, 68,
];

/// The size to try after a probe of `size` bytes drew an MTU report of
/// `mtu`, or `None` if the report does not make it smaller (a bogus or
/// stale report: the probe's answer stands).
fn lowered(size: u32, mtu: u32) -> Option<u32> {
    let next = if mtu == 0 {
        PLATEAUS.into_iter().find(|&p| p < size)?
    } else {
        mtu
    };
    (Plan::MIN_MTU..size).contains(&next).then_some(next)
}

/// How many probes, to which hops, how fast.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// First TTL probed (`-f`, default 1).
    pub first_ttl: u8,
    /// Last TTL probed (`-m`, default 30).
    pub max_ttl: u8,
    /// Probes per hop and flow (`-q`, default 3).
    pub queries: u16,
    /// Flows probed (`--flows`, default 1): each keeps its own constant
    /// flow identifier, so ECMP routers may send each another way.
    pub flows: u16,
    /// Probes in flight at once (`-N`, default 32: with `-m 8 -q 3` the
    /// whole trace is in flight together and takes one wait time).
    pub in_flight: usize,
    /// Minimal time between two sends (`-z`, default 0).
    pub send_interval: Duration,
    /// Minimal time between the starts of two rounds (mtr's interval in
    /// report mode; default 0).
    pub round_interval: Duration,
    /// How long to wait for each probe's answer (`-w`, default 5 s).
    pub wait: Duration,
    /// Once a hop (per flow) answered, send it no more probes (`--fast`).
    pub fast: bool,
    /// Path-MTU discovery (`--mtu`): `Some(start)` sends probes of `start`
    /// bytes (the whole IP packet) with DF set and lowers them on every
    /// MTU report; 65535 lets the interface MTU set the start. `None`:
    /// probes of the fixed data size.
    pub path_mtu: Option<u32>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            first_ttl: 1,
            max_ttl: 30,
            queries: 3,
            flows: 1,
            in_flight: 32,
            send_interval: Duration::ZERO,
            round_interval: Duration::ZERO,
            wait: Duration::from_secs(5),
            fast: false,
            path_mtu: None,
        }
    }
}

impl Plan {
    /// Most probes one trace may send: one sequence-number space.
    pub const MAX_PROBES: usize = 65_536;
    /// Smallest MTU an IPv4 link may have (RFC 791); smaller reports are
    /// not believed.
    pub const MIN_MTU: u32 = 68;
    /// Largest IP packet.
    pub const MAX_MTU: u32 = 65_535;

    /// Checks the numbers; the error names the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |option, reason| Err(Error::invalid(option, reason));
        if self.first_ttl == 0 {
            return bad("first_ttl", InvalidReason::AtLeast { min: 1 });
        }
        if self.max_ttl < self.first_ttl {
            let min = u64::from(self.first_ttl);
            let got = Some(u64::from(self.max_ttl));
            return bad("max_ttl", InvalidReason::Between { min, max: 255, got });
        }
        if self.wait.is_zero() {
            return bad("wait", InvalidReason::Zero);
        }
        check_option_duration("wait", self.wait)?;
        check_option_duration("send_interval", self.send_interval)?;
        check_option_duration("round_interval", self.round_interval)?;
        let counts = [
            ("queries", usize::from(self.queries)),
            ("flows", usize::from(self.flows)),
            ("in_flight", self.in_flight),
        ];
        if let Some((option, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return bad(option, InvalidReason::AtLeast { min: 1 });
        }
        if let Some(start) = self.path_mtu
            && !(Self::MIN_MTU..=Self::MAX_MTU).contains(&start)
        {
            let (min, max) = (u64::from(Self::MIN_MTU), u64::from(Self::MAX_MTU));
            let got = Some(u64::from(start));
            return bad("path_mtu", InvalidReason::Between { min, max, got });
        }
        if self.total() > Self::MAX_PROBES {
            let limit = "hops × probes per hop × flows exceed the 65536 a trace can number";
            return bad("probes", InvalidReason::TooMany { limit });
        }
        Ok(())
    }

    fn hops(&self) -> usize {
        usize::from(self.max_ttl - self.first_ttl) + 1
    }

    fn total(&self) -> usize {
        self.hops() * usize::from(self.queries) * usize::from(self.flows)
    }
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send probe `seq` (see [`Session::probe`]) now.
    Send(u16),
    /// Nothing to do before this monotonic time (ns), unless something
    /// arrives.
    WaitUntil(u64),
    /// The trace is over.
    Done,
}

/// Which hop, flow and attempt a probe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Its number.
    pub seq: u16,
    /// TTL to send it with.
    pub ttl: u8,
    /// Its flow.
    pub flow: u16,
    /// Its attempt.
    pub attempt: u16,
    /// Path-MTU discovery: the whole IP packet's size in bytes.
    pub size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Unsent,
    InFlight {
        sent: Timestamp,
        size: Option<u32>,
    },
    Done(ProbeResult),
    /// Not needed any more (beyond the destination, or `--fast`).
    Skipped,
}

/// A trace in progress.
#[derive(Debug)]
pub struct Session {
    plan: Plan,
    states: Vec<State>,
    /// Next probe to consider sending.
    cursor: usize,
    /// Probes in flight, in send order (so also in deadline order).
    in_flight: VecDeque<u16>,
    last_send_ns: Option<u64>,
    round_start_ns: Option<u64>,
    /// The destination (or an unreachable) answered at this TTL.
    final_ttl: Option<u8>,
    /// Next hop to hand out as a [`TraceEvent::Hop`].
    next_hop: u8,
    hops: Vec<Hop>,
    stopped: bool,
    /// Path-MTU discovery: the largest probe each TTL (from the first)
    /// may take, as reported so far.
    size_limits: Vec<u32>,
    /// Probes to send again, smaller, before the next new one.
    resend: VecDeque<u16>,
    /// Probes sent again before their larger send was refused: that
    /// refusal may still come and is no news.
    superseded: HashSet<u16>,
}

impl Session {
    /// A session for a valid plan (see [`Plan::validate`]).
    pub fn new(plan: Plan) -> Result<Session> {
        plan.validate()?;
        Ok(Session {
            states: vec![State::Unsent; plan.total()],
            cursor: 0,
            in_flight: VecDeque::new(),
            last_send_ns: None,
            round_start_ns: None,
            final_ttl: None,
            next_hop: plan.first_ttl,
            hops: Vec::new(),
            stopped: false,
            size_limits: plan
                .path_mtu
                .map_or_else(Vec::new, |start| vec![start; plan.hops()]),
            resend: VecDeque::new(),
            superseded: HashSet::new(),
            plan,
        })
    }

    /// Changes the time between the starts of two rounds from the next
    /// round on (the live trace's `+`/`-`).
    pub fn set_round_interval(&mut self, interval: Duration) {
        self.plan.round_interval = interval;
    }

    /// Which hop, flow and attempt probe `seq` is.
    pub fn probe(&self, seq: u16) -> ProbeSpec {
        let flows = usize::from(self.plan.flows);
        let per_round = self.plan.hops() * flows;
        let i = usize::from(seq);
        let ttl = self.plan.first_ttl + ((i % per_round) / flows) as u8;
        ProbeSpec {
            seq,
            attempt: (i / per_round) as u16,
            ttl,
            flow: (i % flows) as u16,
            size: self.size_for(ttl),
        }
    }

    /// Path-MTU discovery: the size of the next probe to `ttl`.
    fn size_for(&self, ttl: u8) -> Option<u32> {
        let index = usize::from(ttl.checked_sub(self.plan.first_ttl)?);
        self.size_limits.get(index).copied()
    }

    /// Path-MTU discovery: the path MTU to the last hop known (the
    /// destination once it answered), as tracepath's `Resume: pmtu`.
    pub fn path_mtu(&self) -> Option<u32> {
        self.size_for(self.last_ttl())
    }

    #[cfg(test)]
    /// The TTL where the destination (or an unreachable) answered.
    pub fn final_ttl(&self) -> Option<u8> {
        self.final_ttl
    }

    /// Ends the trace: nothing more is sent. At the next
    /// [`Session::expire`] the probes whose wait was not over are dropped,
    /// not counted as unanswered (traceroute interrupted never prints them
    /// as `*`), and the hops are handed out up to the last one with a
    /// settled probe (answered, timed out or refused); TTLs past it never
    /// come out.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// The send time of an in-flight probe.
    pub fn sent_at(&self, seq: u16) -> Option<Timestamp> {
        match self.states.get(usize::from(seq)) {
            Some(State::InFlight { sent, .. }) => Some(*sent),
            _ => None,
        }
    }

    fn skippable(&self, index: usize) -> bool {
        let spec = self.probe(index as u16);
        if self.final_ttl.is_some_and(|f| spec.ttl > f) {
            return true;
        }
        // --fast: an earlier attempt of this hop and flow was answered.
        self.plan.fast
            && spec.attempt > 0
            && (0..spec.attempt).any(|a| {
                let earlier = index - usize::from(spec.attempt - a) * self.per_round();
                matches!(&self.states[earlier], State::Done(r) if r.reply.is_some())
            })
    }

    fn per_round(&self) -> usize {
        self.plan.hops() * usize::from(self.plan.flows)
    }

    /// What to do at `now`.
    pub fn next(&mut self, now: Timestamp) -> Next {
        if self.stopped {
            return if self.in_flight.is_empty() {
                Next::Done
            } else {
                Next::WaitUntil(now.monotonic_ns)
            };
        }
        while self.cursor < self.states.len() && self.skippable(self.cursor) {
            self.states[self.cursor] = State::Skipped;
            self.cursor += 1;
        }
        while let Some(&seq) = self.resend.front()
            && self.skippable(usize::from(seq))
        {
            self.states[usize::from(seq)] = State::Skipped;
            self.resend.pop_front();
        }
        let deadline = self.in_flight.front().and_then(|&seq| self.deadline(seq));
        if let Some(&seq) = self.resend.front()
            && self.in_flight.len() < self.plan.in_flight
        {
            let at = self.after_last_send();
            if at <= now.monotonic_ns {
                return Next::Send(seq);
            }
            return Next::WaitUntil(deadline.map_or(at, |d| d.min(at)));
        }
        if self.cursor < self.states.len() && self.in_flight.len() < self.plan.in_flight {
            let at = self.send_time(self.cursor);
            if at <= now.monotonic_ns {
                return Next::Send(self.cursor as u16);
            }
            return Next::WaitUntil(deadline.map_or(at, |d| d.min(at)));
        }
        match deadline {
            Some(d) => Next::WaitUntil(d),
            None if self.cursor >= self.states.len() && self.resend.is_empty() => Next::Done,
            // Window full of probes already settled: cannot happen, but
            // never spin.
            None => Next::WaitUntil(now.monotonic_ns.saturating_add(1_000_000)),
        }
    }

    /// Earliest monotonic time the send interval lets the next probe out.
    fn after_last_send(&self) -> u64 {
        self.last_send_ns
            .map_or(0, |t| t.saturating_add(nanos(self.plan.send_interval)))
    }

    /// Earliest monotonic time probe `index` may go out.
    fn send_time(&self, index: usize) -> u64 {
        let mut at = self.after_last_send();
        let new_round = index % self.per_round() == 0 || self.round_start_ns.is_none();
        if new_round && let Some(start) = self.round_start_ns {
            at = at.max(start.saturating_add(nanos(self.plan.round_interval)));
        }
        at
    }

    fn deadline(&self, seq: u16) -> Option<u64> {
        self.sent_at(seq)
            .map(|s| s.after(self.plan.wait).monotonic_ns)
    }

    /// Probe `seq` went out at `at` (with the size [`Session::probe`]
    /// gave it).
    pub fn on_sent(&mut self, seq: u16, at: Timestamp) {
        self.advance_past(seq, at);
        let size = self.probe(seq).size;
        self.states[usize::from(seq)] = State::InFlight { sent: at, size };
        self.in_flight.push_back(seq);
    }

    /// Path-MTU discovery: probe `seq` was too big for the local interface
    /// (`EMSGSIZE`, with the MTU the kernel reported, if any). Every probe
    /// is made to fit and this one goes out again; without a smaller size
    /// to try, it fails like [`Session::on_send_error`].
    pub fn on_send_too_big(
        &mut self,
        seq: u16,
        at: Timestamp,
        mtu: Option<u32>,
        error: String,
    ) -> Vec<TraceEvent> {
        let spec = self.probe(seq);
        match spec.size.and_then(|size| lowered(size, mtu.unwrap_or(0))) {
            Some(smaller) => {
                self.advance_past(seq, at);
                self.limit_sizes(self.plan.first_ttl, smaller);
                self.resend.push_back(seq);
                Vec::new()
            }
            None => self.on_send_error(seq, at, error),
        }
    }

    /// Probe `seq` could not be sent.
    pub fn on_send_error(&mut self, seq: u16, at: Timestamp, error: String) -> Vec<TraceEvent> {
        self.advance_past(seq, at);
        let spec = self.probe(seq);
        self.finish(spec, None, Some(error))
    }

    fn advance_past(&mut self, seq: u16, at: Timestamp) {
        let index = usize::from(seq);
        if self.resend.front() == Some(&seq) {
            // Sent again, smaller: no new round, the cursor stays.
            self.resend.pop_front();
            self.last_send_ns = Some(at.monotonic_ns);
            return;
        }
        if index % self.per_round() == 0 || self.round_start_ns.is_none() {
            self.round_start_ns = Some(at.monotonic_ns);
        }
        self.last_send_ns = Some(at.monotonic_ns);
        self.cursor = self.cursor.max(index + 1);
    }

    /// An answer to probe `seq` arrived. Late answers (after the wait
    /// time), duplicates and answers to probes never sent are ignored.
    ///
    /// With path-MTU discovery, an MTU report smaller than the probe lowers
    /// the size for its TTL and beyond, and the probe is sent again.
    pub fn on_reply(&mut self, seq: u16, reply: ProbeReply) -> Vec<TraceEvent> {
        let Some(State::InFlight { size, .. }) = self.states.get(usize::from(seq)) else {
            return Vec::new();
        };
        let size = *size;
        if let (Some(size), Some(Annotation::FragmentationNeeded(mtu))) = (size, reply.annotation) {
            let ttl = self.probe(seq).ttl;
            if let Some(smaller) = lowered(size, mtu) {
                self.limit_sizes(ttl, smaller);
                self.send_again_smaller(ttl, smaller);
                return Vec::new();
            }
            if mtu >= size && self.superseded.contains(&seq) {
                // The refusal of the earlier, larger send: wait on.
                return Vec::new();
            }
        }
        self.in_flight.retain(|&s| s != seq);
        let mut spec = self.probe(seq);
        spec.size = size;
        if reply.kind != ReplyKind::TimeExceeded {
            self.final_ttl = Some(self.final_ttl.map_or(spec.ttl, |f| f.min(spec.ttl)));
            self.cancel_beyond(spec.ttl);
        }
        self.finish(spec, Some(reply), None)
    }

    /// The probe an error about probe `seq` is credited to. An error other
    /// than time exceeded quotes the TTL the probe still had when the
    /// error's sender got it: a probe sent with TTL t that arrived with q
    /// left came from distance t - q + 1. Where rate limits dropped the
    /// errors of the nearer probes (Linux: burst 5, then 1 a second, for
    /// unreachable routes), the one error that came back answers a probe
    /// sent farther: it is credited to that nearer hop's probe of the same
    /// flow still in flight, and the trace ends at the true distance either
    /// way, instead of a router shown hops beyond where it is. Only errors
    /// that end a trace move it: a time exceeded's quote has 0 or 1 left
    /// whatever the distance, and a router's "fragmentation needed" (path
    /// MTU) is an answer on the way, not the end.
    pub fn credited_probe(
        &mut self,
        seq: u16,
        kind: ReplyKind,
        annotation: Option<Annotation>,
        quoted_ttl: Option<u8>,
    ) -> u16 {
        let ends_the_trace = kind != ReplyKind::TimeExceeded
            && !matches!(annotation, Some(Annotation::FragmentationNeeded(_)));
        let Some(left) = quoted_ttl.filter(|_| ends_the_trace) else {
            return seq;
        };
        let spec = self.probe(seq);
        let Some(distance) = spec.ttl.checked_sub(left).map(|d| d + 1) else {
            return seq;
        };
        if distance >= spec.ttl || distance < self.plan.first_ttl {
            return seq;
        }
        let nearer = self.in_flight.iter().copied().find(|&s| {
            let p = self.probe(s);
            p.ttl == distance && p.flow == spec.flow
        });
        self.final_ttl = Some(self.final_ttl.map_or(distance, |f| f.min(distance)));
        match nearer {
            Some(nearer) => nearer,
            None => {
                // Its hop is settled already: the answer has no probe to
                // go to, but the trace still ends where the router is.
                self.cancel_beyond(distance);
                seq
            }
        }
    }

    /// Every probe in flight to `ttl` or beyond that is larger than `mtu`
    /// will be refused too (ICMP rate limits may even drop the refusal):
    /// send it again now, smaller, rather than wait for its fate.
    fn send_again_smaller(&mut self, ttl: u8, mtu: u32) {
        let doomed: Vec<u16> = self
            .in_flight
            .iter()
            .copied()
            .filter(|&s| {
                self.probe(s).ttl >= ttl
                    && matches!(
                        self.states[usize::from(s)],
                        State::InFlight { size: Some(size), .. } if size > mtu
                    )
            })
            .collect();
        self.in_flight.retain(|s| !doomed.contains(s));
        for seq in doomed {
            self.states[usize::from(seq)] = State::Unsent;
            self.superseded.insert(seq);
            self.resend.push_back(seq);
        }
    }

    /// No probe to `ttl` or beyond may be larger than `mtu` any more.
    fn limit_sizes(&mut self, ttl: u8, mtu: u32) {
        let from = usize::from(ttl.saturating_sub(self.plan.first_ttl));
        for limit in self.size_limits.iter_mut().skip(from) {
            *limit = (*limit).min(mtu);
        }
    }

    /// Probes beyond the destination are no longer waited for.
    fn cancel_beyond(&mut self, ttl: u8) {
        let beyond: Vec<u16> = self
            .in_flight
            .iter()
            .copied()
            .filter(|&s| self.probe(s).ttl > ttl)
            .collect();
        for seq in beyond {
            self.states[usize::from(seq)] = State::Skipped;
        }
        let plan = &self.plan;
        let flows = usize::from(plan.flows);
        let per_round = plan.hops() * flows;
        self.in_flight
            .retain(|&s| plan.first_ttl + ((usize::from(s) % per_round) / flows) as u8 <= ttl);
    }

    /// Times out every in-flight probe whose wait is over (all of them
    /// after [`Session::stop`]).
    pub fn expire(&mut self, now: Timestamp) -> Vec<TraceEvent> {
        let mut events = Vec::new();
        while let Some(&seq) = self.in_flight.front() {
            let due = self.deadline(seq).is_none_or(|d| d <= now.monotonic_ns);
            if !due && !self.stopped {
                break;
            }
            self.in_flight.pop_front();
            if !due {
                // Stopped while its answer could still come: unfinished,
                // not lost.
                self.states[usize::from(seq)] = State::Skipped;
                continue;
            }
            let mut spec = self.probe(seq);
            if let Some(State::InFlight { size, .. }) = self.states.get(usize::from(seq)) {
                spec.size = *size;
            }
            events.extend(self.finish(spec, None, None));
        }
        if self.stopped {
            self.resend.clear();
            for state in &mut self.states[self.cursor..] {
                *state = State::Skipped;
            }
            self.cursor = self.states.len();
            events.extend(self.complete_hops());
        }
        events
    }

    fn finish(
        &mut self,
        spec: ProbeSpec,
        reply: Option<ProbeReply>,
        send_error: Option<String>,
    ) -> Vec<TraceEvent> {
        let result = ProbeResult {
            seq: spec.seq,
            ttl: spec.ttl,
            flow: spec.flow,
            attempt: spec.attempt,
            size: spec.size,
            reply,
            send_error,
        };
        self.states[usize::from(spec.seq)] = State::Done(result.clone());
        let mut events = vec![TraceEvent::Probe(result)];
        events.extend(self.complete_hops());
        events
    }

    fn last_ttl(&self) -> u8 {
        self.final_ttl.unwrap_or(self.plan.max_ttl)
    }

    fn hop_indices(&self, ttl: u8) -> impl Iterator<Item = usize> + '_ {
        let flows = usize::from(self.plan.flows);
        let offset = usize::from(ttl - self.plan.first_ttl) * flows;
        (0..usize::from(self.plan.queries)).flat_map(move |attempt| {
            (0..flows).map(move |flow| attempt * self.per_round() + offset + flow)
        })
    }

    /// The last TTL a hop is handed out for: the destination's (or the
    /// last probed); once stopped, the last with a settled probe.
    fn last_hop(&self) -> Option<u8> {
        if !self.stopped {
            return Some(self.last_ttl());
        }
        let settled = self
            .states
            .iter()
            .enumerate()
            .filter(|(_, state)| matches!(state, State::Done(_)))
            .map(|(i, _)| self.probe(i as u16).ttl);
        settled.max().map(|ttl| ttl.min(self.last_ttl()))
    }

    /// Hands out, in order, the hops whose probes are all settled.
    fn complete_hops(&mut self) -> Vec<TraceEvent> {
        let mut events = Vec::new();
        let Some(last) = self.last_hop() else {
            return events;
        };
        while self.next_hop <= last {
            let ttl = self.next_hop;
            let settled = self.hop_indices(ttl).all(|i| match &self.states[i] {
                State::Done(_) | State::Skipped => true,
                State::InFlight { .. } => false,
                State::Unsent => self.stopped || self.skippable(i),
            });
            if !settled {
                break;
            }
            let probes = self
                .hop_indices(ttl)
                .filter_map(|i| match &self.states[i] {
                    State::Done(r) => Some(r.clone()),
                    _ => None,
                })
                .collect();
            let hop = Hop::from_probes(ttl, probes);
            self.hops.push(hop.clone());
            events.push(TraceEvent::Hop(hop));
            if ttl == u8::MAX {
                break;
            }
            self.next_hop = ttl + 1;
        }
        events
    }

    /// The hops handed out so far, in order.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// A hop already handed out, its responders now named: replaces the
    /// stored hop at the same distance (none: nothing changes).
    pub fn name_hop(&mut self, named: Hop) {
        if let Some(stored) = self.hops.iter_mut().find(|h| h.distance == named.distance) {
            *stored = named;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn at(ms: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 1_000_000_000_000 + ms * 1_000_000,
            monotonic_ns: ms * 1_000_000,
        }
    }

    fn reply(from: &str, kind: ReplyKind) -> ProbeReply {
        ProbeReply {
            from: from.parse::<IpAddr>().unwrap(),
            rtt: Duration::from_millis(1),
            kind,
            annotation: None,
            reply_ttl: None,
            extensions: vec![],
        }
    }

    fn plan(max_ttl: u8, queries: u16) -> Plan {
        Plan {
            max_ttl,
            queries,
            wait: Duration::from_millis(100),
            ..Plan::default()
        }
    }

    /// Sends everything the session allows at `now`.
    fn send_all(s: &mut Session, now: Timestamp) -> Vec<u16> {
        let mut sent = Vec::new();
        while let Next::Send(seq) = s.next(now) {
            s.on_sent(seq, now);
            sent.push(seq);
        }
        sent
    }

    fn hops(events: &[TraceEvent]) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                TraceEvent::Hop(h) => Some(h.distance),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn numbering_is_attempt_major() {
        let s = Session::new(Plan {
            first_ttl: 2,
            max_ttl: 4,
            queries: 2,
            flows: 2,
            ..Plan::default()
        })
        .unwrap();
        let spec = |seq| {
            let p = s.probe(seq);
            (p.attempt, p.ttl, p.flow)
        };
        assert_eq!(spec(0), (0, 2, 0));
        assert_eq!(spec(1), (0, 2, 1));
        assert_eq!(spec(2), (0, 3, 0));
        assert_eq!(spec(5), (0, 4, 1));
        assert_eq!(spec(6), (1, 2, 0));
        assert_eq!(spec(11), (1, 4, 1));
    }

    #[test]
    fn all_ttls_in_parallel_then_stop_at_destination() {
        let mut s = Session::new(plan(5, 2)).unwrap();
        let sent = send_all(&mut s, at(0));
        assert_eq!(sent.len(), 10, "whole trace in flight at once");
        let mut events = Vec::new();
        events.extend(s.on_reply(0, reply("192.0.2.1", ReplyKind::TimeExceeded)));
        events.extend(s.on_reply(1, reply("192.0.2.2", ReplyKind::TimeExceeded)));
        events.extend(s.on_reply(2, reply("198.51.100.1", ReplyKind::Reached)));
        events.extend(s.on_reply(5, reply("192.0.2.1", ReplyKind::TimeExceeded)));
        assert_eq!(hops(&events), vec![1], "hop 2 still waits for attempt 1");
        events.extend(s.on_reply(7, reply("198.51.100.1", ReplyKind::Reached)));
        // Hop 2 misses attempt 1 (seq 6) until it times out.
        assert_eq!(s.next(at(10)), Next::WaitUntil(100_000_000));
        let late = s.expire(at(100));
        let late_hops = hops(&late);
        assert_eq!(late_hops, vec![2, 3]);
        assert_eq!(s.next(at(100)), Next::Done);
        let h = s.hops();
        assert_eq!(h.len(), 3, "nothing beyond the destination");
        assert!(h[2].reached);
        assert_eq!(h[1].packets_received, 1);
        assert_eq!(h[1].packets_sent, 2);
        // Late answers are ignored.
        assert!(
            s.on_reply(6, reply("192.0.2.2", ReplyKind::TimeExceeded))
                .is_empty()
        );
    }

    #[test]
    fn window_and_send_interval_pace_the_probes() {
        let mut s = Session::new(Plan {
            in_flight: 2,
            send_interval: Duration::from_millis(10),
            ..plan(4, 1)
        })
        .unwrap();
        assert_eq!(s.next(at(0)), Next::Send(0));
        s.on_sent(0, at(0));
        assert_eq!(s.next(at(5)), Next::WaitUntil(10_000_000));
        assert_eq!(s.next(at(10)), Next::Send(1));
        s.on_sent(1, at(10));
        // Window full: wait for the first deadline.
        assert_eq!(s.next(at(20)), Next::WaitUntil(100_000_000));
        s.on_reply(0, reply("192.0.2.1", ReplyKind::TimeExceeded));
        assert_eq!(s.next(at(20)), Next::Send(2));
    }

    #[test]
    fn fast_skips_answered_hops() {
        let mut s = Session::new(Plan {
            fast: true,
            in_flight: 2,
            ..plan(3, 3)
        })
        .unwrap();
        assert_eq!(send_all(&mut s, at(0)), vec![0, 1]);
        let events = s.on_reply(0, reply("192.0.2.1", ReplyKind::TimeExceeded));
        assert_eq!(hops(&events), vec![1], "one answer completes a hop");
        assert_eq!(send_all(&mut s, at(0)), vec![2]);
        let events = s.on_reply(1, reply("192.0.2.2", ReplyKind::TimeExceeded));
        assert_eq!(hops(&events), vec![2]);
        // Round 2: only hop 3 (unanswered so far) is probed again.
        let sent = send_all(&mut s, at(1));
        assert_eq!(sent, vec![5]);
        assert!(hops(&s.on_reply(2, reply("198.51.100.9", ReplyKind::Reached))).is_empty());
        let events = s.on_reply(5, reply("198.51.100.9", ReplyKind::Reached));
        assert_eq!(hops(&events), vec![3]);
        assert_eq!(s.next(at(2)), Next::Done);
        assert_eq!(s.hops()[0].packets_sent, 1);
    }

    #[test]
    fn round_interval_spaces_rounds() {
        let mut s = Session::new(Plan {
            round_interval: Duration::from_millis(50),
            ..plan(2, 2)
        })
        .unwrap();
        assert_eq!(send_all(&mut s, at(0)), vec![0, 1]);
        assert_eq!(s.next(at(1)), Next::WaitUntil(50_000_000));
        assert_eq!(s.next(at(50)), Next::Send(2));
    }

    #[test]
    fn stop_ends_the_trace_without_waiting() {
        let mut s = Session::new(plan(3, 1)).unwrap();
        send_all(&mut s, at(0));
        s.stop();
        let events = s.expire(at(1));
        // Nothing settled: no hop, and no probe reported lost.
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(s.next(at(1)), Next::Done);
    }

    /// T7 of the new-user trial: stopped while probes still wait for
    /// their answer, those are not reported as lost (they were `*`), and
    /// TTLs past the last settled probe are not handed out (one `*` line
    /// each). Probes whose wait was over are lost as usual.
    #[test]
    fn stop_drops_unfinished_probes_and_hops_past_the_last_answer() {
        // 6 TTLs, 2 probes each; hop 1 answers both, hop 3 one; hop 2's
        // first probe timed out, its second is still waiting.
        let mut s = Session::new(Plan {
            in_flight: 6,
            ..plan(6, 2)
        })
        .unwrap();
        let first = send_all(&mut s, at(0));
        assert_eq!(first, vec![0, 1, 2, 3, 4, 5]);
        s.on_reply(0, reply("192.0.2.1", ReplyKind::TimeExceeded));
        s.on_reply(2, reply("192.0.2.3", ReplyKind::TimeExceeded));
        // Hop 2's first probe times out at 100 ms; the rest go on.
        let mut events = s.expire(at(100));
        events.extend(s.expire(at(100)));
        let second = send_all(&mut s, at(100));
        assert_eq!(second, vec![6, 7, 8, 9, 10, 11]);
        events.extend(s.on_reply(6, reply("192.0.2.1", ReplyKind::TimeExceeded)));
        s.stop();
        events.extend(s.expire(at(150)));
        let lost: Vec<u16> = events
            .iter()
            .filter_map(|e| match e {
                TraceEvent::Probe(p) if p.reply.is_none() => Some(p.seq),
                _ => None,
            })
            .collect();
        // Hops 4-6's first probes timed out at 100 ms too; nothing after.
        assert_eq!(lost, vec![1, 3, 4, 5], "{events:?}");
        let hops = s.hops();
        let distances: Vec<u8> = hops.iter().map(|h| h.distance).collect();
        assert_eq!(distances, vec![1, 2, 3, 4, 5, 6]);
        // Hop 2: one timeout, its unfinished probe left out.
        assert_eq!(hops[1].probes.len(), 1);
        assert_eq!(hops[1].packets_sent, 1);
        // Hop 3: one answer, its second probe left out.
        assert_eq!(hops[2].probes.len(), 1);
        assert_eq!(hops[2].packets_received, 1);
    }

    #[test]
    fn stop_hands_out_hops_only_up_to_the_last_settled_probe() {
        let mut s = Session::new(Plan {
            in_flight: 8,
            ..plan(8, 1)
        })
        .unwrap();
        send_all(&mut s, at(0));
        s.on_reply(0, reply("192.0.2.1", ReplyKind::TimeExceeded));
        s.on_reply(2, reply("192.0.2.3", ReplyKind::TimeExceeded));
        s.stop();
        s.expire(at(10));
        let distances: Vec<u8> = s.hops().iter().map(|h| h.distance).collect();
        // Hop 2 was probed (its probe unfinished): it shows, empty; 4-8
        // do not.
        assert_eq!(distances, vec![1, 2, 3]);
        assert!(s.hops()[1].probes.is_empty());
    }

    fn too_big(from: &str, mtu: u32) -> ProbeReply {
        ProbeReply {
            annotation: Some(Annotation::FragmentationNeeded(mtu)),
            ..reply(from, ReplyKind::Unreachable)
        }
    }

    fn pmtu_plan(max_ttl: u8, start: u32) -> Plan {
        Plan {
            path_mtu: Some(start),
            ..plan(max_ttl, 1)
        }
    }

    #[test]
    fn mtu_reports_lower_the_probes_from_their_ttl_on() {
        let mut s = Session::new(pmtu_plan(4, 65_535)).unwrap();
        assert_eq!(s.probe(0).size, Some(65_535));
        // The first send is too big for the interface (local EMSGSIZE).
        assert_eq!(s.next(at(0)), Next::Send(0));
        assert!(
            s.on_send_too_big(0, at(0), Some(1500), "too long".into())
                .is_empty()
        );
        assert_eq!(s.probe(3).size, Some(1500), "every TTL fits the interface");
        // The refused probe goes out again before the next new one.
        assert_eq!(send_all(&mut s, at(0)), vec![0, 1, 2, 3]);
        let mut events = s.on_reply(0, reply("192.0.2.1", ReplyKind::TimeExceeded));
        assert_eq!(hops(&events), vec![1]);
        // Hop 1's router cannot forward 1500 bytes: TTL 2 and beyond shrink,
        // and the probes in flight there go out again at once.
        assert!(s.on_reply(1, too_big("192.0.2.1", 1400)).is_empty());
        assert_eq!(s.probe(0).size, Some(1500), "hop 1 keeps its size");
        assert_eq!(s.probe(1).size, Some(1400));
        assert_eq!(send_all(&mut s, at(1)), vec![1, 2, 3]);
        // The refusals of their larger sends come late: no news.
        assert!(s.on_reply(2, too_big("192.0.2.1", 1400)).is_empty());
        assert!(s.on_reply(3, too_big("192.0.2.1", 1400)).is_empty());
        assert_eq!(s.probe(3).size, Some(1400));
        events.extend(s.on_reply(1, reply("192.0.2.2", ReplyKind::TimeExceeded)));
        assert!(s.on_reply(2, too_big("192.0.2.2", 1280)).is_empty());
        assert_eq!(send_all(&mut s, at(2)), vec![2, 3]);
        events.extend(s.on_reply(2, reply("192.0.2.3", ReplyKind::TimeExceeded)));
        events.extend(s.on_reply(3, reply("198.51.100.1", ReplyKind::Reached)));
        assert_eq!(hops(&events), vec![1, 2, 3, 4]);
        let pmtus: Vec<_> = s.hops().iter().map(|h| h.pmtu).collect();
        assert_eq!(pmtus, vec![Some(1500), Some(1400), Some(1280), Some(1280)]);
        assert_eq!(s.path_mtu(), Some(1280));
        assert_eq!(s.hops()[1].packets_sent, 1, "a re-sent probe counts once");
        assert_eq!(s.next(at(3)), Next::Done);
    }

    #[test]
    fn unusable_mtu_reports_stand_as_answers() {
        let mut s = Session::new(pmtu_plan(3, 1500)).unwrap();
        send_all(&mut s, at(0));
        // Not smaller than the probe: the probe's answer, the trace ends.
        let events = s.on_reply(0, too_big("192.0.2.1", 1500));
        assert_eq!(hops(&events), vec![1]);
        assert_eq!(s.hops()[0].pmtu, None);
        assert_eq!(s.final_ttl(), Some(1));
        // A local EMSGSIZE below the minimum MTU is a send error.
        let mut s = Session::new(pmtu_plan(1, 68)).unwrap();
        assert_eq!(s.next(at(0)), Next::Send(0));
        let events = s.on_send_too_big(0, at(0), Some(60), "too long".into());
        assert_eq!(hops(&events), vec![1]);
        assert_eq!(
            s.hops()[0].probes[0].send_error.as_deref(),
            Some("too long")
        );
    }

    #[test]
    fn reports_without_mtu_step_down_the_plateaus() {
        assert_eq!(lowered(1500, 0), Some(1492));
        assert_eq!(lowered(1492, 0), Some(1006));
        assert_eq!(lowered(68, 0), None);
        assert_eq!(lowered(1500, 1400), Some(1400));
        assert_eq!(lowered(1400, 1400), None);
        assert_eq!(lowered(1500, 40), None);
        // Without discovery a "fragmentation needed" is just an answer.
        let mut s = Session::new(plan(2, 1)).unwrap();
        send_all(&mut s, at(0));
        assert_eq!(hops(&s.on_reply(0, too_big("192.0.2.1", 1400))), vec![1]);
        assert!(
            Session::new(Plan {
                path_mtu: Some(40),
                ..Plan::default()
            })
            .is_err()
        );
    }

    #[test]
    fn bad_plans_are_refused() {
        assert!(
            Session::new(Plan {
                first_ttl: 0,
                ..Plan::default()
            })
            .is_err()
        );
        assert!(
            Session::new(Plan {
                first_ttl: 5,
                max_ttl: 4,
                ..Plan::default()
            })
            .is_err()
        );
        assert!(
            Session::new(Plan {
                queries: 0,
                ..Plan::default()
            })
            .is_err()
        );
        assert!(
            Session::new(Plan {
                wait: Duration::ZERO,
                ..Plan::default()
            })
            .unwrap_err()
            .to_string()
            .contains("wait must be above 0")
        );
        let huge = Plan {
            max_ttl: 255,
            queries: 255,
            flows: 2,
            ..Plan::default()
        };
        let e = Session::new(huge).unwrap_err();
        assert_eq!(e.invalid_option().unwrap().option, "probes", "{e}");
    }

    #[test]
    fn times_beyond_a_million_seconds_are_refused_by_name() {
        use crate::engine::clock::MAX_OPTION_DURATION;
        let too_long = MAX_OPTION_DURATION + Duration::from_nanos(1);
        let refused = |plan: Plan| Session::new(plan).unwrap_err().to_string();
        for value in [too_long, Duration::MAX] {
            let wait = refused(Plan {
                wait: value,
                ..Plan::default()
            });
            assert!(wait.contains("wait must be at most"), "{wait}");
            let send = refused(Plan {
                send_interval: value,
                ..Plan::default()
            });
            assert!(send.contains("send_interval must be at most"), "{send}");
            let round = refused(Plan {
                round_interval: value,
                ..Plan::default()
            });
            assert!(round.contains("round_interval must be at most"), "{round}");
        }
        // At the bound the schedule still adds up (no overflow, no wrap).
        let mut s = Session::new(Plan {
            wait: MAX_OPTION_DURATION,
            send_interval: MAX_OPTION_DURATION,
            round_interval: MAX_OPTION_DURATION,
            ..plan(2, 1)
        })
        .unwrap();
        assert_eq!(s.next(at(0)), Next::Send(0));
        s.on_sent(0, at(0));
        let bound_ns = nanos(MAX_OPTION_DURATION) + at(0).monotonic_ns;
        assert_eq!(s.next(at(1)), Next::WaitUntil(bound_ns));
    }

    /// New-user trial T4: a router whose unreachable errors are rate
    /// limited answers only a farther probe; the TTL left in the quote puts
    /// it back at its distance, on that hop's probe still in flight.
    #[test]
    fn a_rate_limited_unreachable_is_credited_at_its_true_distance() {
        let mut s = Session::new(plan(8, 1)).unwrap();
        let sent = send_all(&mut s, at(0));
        assert_eq!(sent.len(), 8);
        let ttl5 = *sent.iter().find(|&&q| s.probe(q).ttl == 5).unwrap();
        // Sent with TTL 5, it reached the router with 4 left: distance 2.
        let credited = s.credited_probe(
            ttl5,
            ReplyKind::Unreachable,
            Some(Annotation::Prohibited),
            Some(4),
        );
        assert_eq!(s.probe(credited).ttl, 2);
        let mut events = Vec::new();
        let mut prohibited = reply("192.0.2.2", ReplyKind::Unreachable);
        prohibited.annotation = Some(Annotation::Prohibited);
        events.extend(s.on_reply(credited, prohibited));
        events.extend(s.on_reply(sent[0], reply("192.0.2.1", ReplyKind::TimeExceeded)));
        events.extend(s.expire(at(1000)));
        assert_eq!(s.final_ttl(), Some(2));
        assert_eq!(hops(&events), vec![1, 2]);
        let hop2 = events
            .iter()
            .find_map(|e| match e {
                TraceEvent::Hop(h) if h.distance == 2 => Some(h),
                _ => None,
            })
            .unwrap();
        assert_eq!(hop2.address, Some("192.0.2.2".parse().unwrap()));
        // Time exceeded quotes say nothing of distance (0 or 1 left).
        let mut t = Session::new(plan(8, 1)).unwrap();
        let sent = send_all(&mut t, at(0));
        let ttl5 = sent[4];
        assert_eq!(
            t.credited_probe(ttl5, ReplyKind::TimeExceeded, None, Some(1)),
            ttl5
        );
        // A path MTU report on the way does not end the trace.
        let too_big = Some(Annotation::FragmentationNeeded(1400));
        assert_eq!(
            t.credited_probe(ttl5, ReplyKind::Unreachable, too_big, Some(3)),
            ttl5
        );
        assert_eq!(t.final_ttl(), None);
        // No quote (datagram sockets): unchanged.
        assert_eq!(
            t.credited_probe(ttl5, ReplyKind::Unreachable, None, None),
            ttl5
        );
    }
}
