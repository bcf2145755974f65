//! A trace that goes on until stopped (mtr's): rounds of one probe per
//! TTL and flow, each round starting an interval after the last, every
//! probe's result handed out as it settles. Runs of rounds go on the one
//! [`Tracer`] and its sockets (a new session per run, since a session
//! numbers its probes in 16 bits), so raw sockets keep working after the
//! caller dropped its privileges. [`TraceStatistics`] accumulates the
//! events into mtr's per-hop figures.
//!
//! ```no_run
//! # async fn run() -> icmpkit::Result<()> {
//! use icmpkit::trace::{LiveTrace, TraceOptions, TraceStatistics};
//!
//! let mut live = LiveTrace::start("127.0.0.1", &TraceOptions::default(), Some(10)).await?;
//! let mut stats = TraceStatistics::new();
//! while let Some(event) = live.next_event().await {
//!     stats.update(&event);
//! }
//! for hop in stats.hops() {
//!     println!("{} {:.0}% {:?}", hop.distance, hop.loss() * 100.0, hop.rtt().avg);
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::Result;
use crate::resolve::{Target, ToTarget, resolve};
use crate::socket::SocketKind;

use super::dns::{NamingHop, ReverseNames};
use super::driver::Tracer;
use super::options::TraceOptions;
use super::probe::ProbeProtocol;
use super::report::{Hop, ProbeResult, ReplyKind, TraceEvent};
use super::session::Plan;

#[cfg(doc)]
use super::statistics::TraceStatistics;

/// Most rounds one run (one session) holds: its books stay small (a few
/// megabytes at 30 hops) and a new run starts on the same sockets.
const ROUNDS_PER_RUN: u64 = 600;

/// What a live trace hands out, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// A probe settled: answered, timed out or refused. `round` counts
    /// from 0 since the trace started.
    Probe {
        /// The round it belongs to.
        round: u64,
        /// What became of it.
        probe: ProbeResult,
    },
    /// Every probe of this round settled (up to the destination, once
    /// known); rounds end in order.
    Round(u64),
    /// A responder's reverse name, looked up once it first answered.
    Name {
        /// The responder.
        address: IpAddr,
        /// Its name.
        name: String,
    },
}

/// Which probes of the rounds in progress settled, to tell when a round
/// is complete.
#[derive(Debug, Default)]
struct RoundBooks {
    first_ttl: u8,
    max_ttl: u8,
    flows: u16,
    /// The destination's TTL in the current run: probes beyond it are not
    /// sent (nor waited for).
    final_ttl: Option<u8>,
    /// Rounds not complete yet: the (TTL, flow) pairs settled.
    settled: BTreeMap<u64, HashSet<(u8, u16)>>,
    /// The oldest round not handed out as complete.
    next: u64,
}

impl RoundBooks {
    fn new(plan: &Plan) -> RoundBooks {
        RoundBooks {
            first_ttl: plan.first_ttl,
            max_ttl: plan.max_ttl,
            flows: plan.flows,
            ..RoundBooks::default()
        }
    }

    /// Probe of `round` settled; returns the rounds now complete.
    fn settle(&mut self, round: u64, probe: &ProbeResult) -> Vec<u64> {
        if round < self.next {
            return Vec::new();
        }
        if probe
            .reply
            .as_ref()
            .is_some_and(|r| r.kind != ReplyKind::TimeExceeded)
        {
            self.final_ttl = Some(self.final_ttl.map_or(probe.ttl, |f| f.min(probe.ttl)));
        }
        self.settled
            .entry(round)
            .or_default()
            .insert((probe.ttl, probe.flow));
        let mut complete = Vec::new();
        while let Some(pairs) = self.settled.get(&self.next) {
            let last = self.final_ttl.unwrap_or(self.max_ttl);
            let needed = usize::from(last.saturating_sub(self.first_ttl)) + 1;
            let done = pairs.iter().filter(|(ttl, _)| *ttl <= last).count();
            if done < needed * usize::from(self.flows) {
                break;
            }
            self.settled.remove(&self.next);
            complete.push(self.next);
            self.next += 1;
        }
        complete
    }

    /// The run ended (or was cut short): every round begun is over, and
    /// the next run's rounds start at `next_round`.
    fn end_run(&mut self, next_round: u64) -> Vec<u64> {
        let over: Vec<u64> = std::mem::take(&mut self.settled).into_keys().collect();
        self.next = self.next.max(next_round);
        self.final_ttl = None;
        over
    }
}

/// A trace that goes on until stopped, or for a number of rounds: a
/// `futures_core::Stream` of [`LiveEvent`]s (also [`LiveTrace::next_event`]).
/// Not polling it pauses the probing (nothing is sent meanwhile).
#[derive(Debug)]
pub struct LiveTrace {
    target: Target,
    options: TraceOptions,
    tracer: Tracer,
    /// Tracers of the other protocols used before, with their sockets.
    parked: Vec<(ProbeProtocol, Tracer)>,
    /// Rounds to run in all (`None`: until stopped).
    rounds: Option<u64>,
    /// The first round of the current run.
    run_start: u64,
    /// Rounds of the current run.
    run_rounds: u64,
    /// Rounds of the current run that a settled probe belongs to.
    run_seen: u64,
    books: RoundBooks,
    /// Most rounds per run ([`ROUNDS_PER_RUN`]; fewer in tests).
    rounds_per_run: u64,
    names: Option<ReverseNames>,
    naming: Vec<NamingHop>,
    asked: HashSet<IpAddr>,
    events: VecDeque<LiveEvent>,
    stopped: bool,
    finished: bool,
}

impl LiveTrace {
    /// Resolves `target` and opens the sockets (needs a tokio runtime).
    /// `opts.plan.round_interval` is the time between round starts (mtr's
    /// `-i`; zero makes it 1 s), `opts.plan.queries` is ignored: `rounds`
    /// rounds are run, or rounds until stopped if `None`.
    pub async fn start(
        target: impl ToTarget,
        opts: &TraceOptions,
        rounds: Option<u64>,
    ) -> Result<LiveTrace> {
        let target = resolve(&target.target_text(), opts.family).await?;
        LiveTrace::with_target(target, opts, rounds)
    }

    /// Opens the sockets for an already resolved target.
    pub fn with_target(
        target: Target,
        opts: &TraceOptions,
        rounds: Option<u64>,
    ) -> Result<LiveTrace> {
        let mut options = opts.clone();
        if options.plan.round_interval.is_zero() {
            options.plan.round_interval = Duration::from_secs(1);
        }
        options.plan.fast = false;
        options.plan.path_mtu = None;
        // Rounds overlap while silent hops wait out their wait time.
        let per_round = usize::from(options.plan.max_ttl - options.plan.first_ttl + 1)
            * usize::from(options.plan.flows);
        options.plan.in_flight = options.plan.in_flight.max(per_round * 8);
        let resolve_names = options.resolve_names;
        options.resolve_names = false;
        let run_rounds = run_length(&options.plan, rounds, ROUNDS_PER_RUN);
        options.plan.queries = run_rounds as u16;
        let tracer = Tracer::with_target(target.clone(), &options)?;
        Ok(LiveTrace {
            books: RoundBooks::new(&options.plan),
            rounds_per_run: ROUNDS_PER_RUN,
            names: resolve_names.then(|| ReverseNames::new(options.dns_timeout)),
            target,
            options,
            tracer,
            parked: Vec::new(),
            rounds,
            run_start: 0,
            run_rounds,
            run_seen: 0,
            naming: Vec::new(),
            asked: HashSet::new(),
            events: VecDeque::new(),
            stopped: false,
            finished: false,
        })
    }

    /// The resolved target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The probe protocol in use.
    pub fn protocol(&self) -> ProbeProtocol {
        self.options.protocol
    }

    /// Raw, or datagram (unprivileged) sockets (see [`Tracer::socket_kind`]).
    pub fn socket_kind(&self) -> SocketKind {
        self.tracer.socket_kind()
    }

    /// The time between two round starts.
    pub fn interval(&self) -> Duration {
        self.options.plan.round_interval
    }

    /// Changes the time between round starts, from the next round on.
    pub fn set_interval(&mut self, interval: Duration) -> Result<()> {
        let mut plan = self.options.plan.clone();
        plan.round_interval = interval;
        plan.validate()?;
        self.options.plan = plan;
        self.tracer.set_round_interval(interval);
        Ok(())
    }

    /// Looks up responders' reverse names (from now on), or stops.
    pub fn set_names(&mut self, on: bool) {
        if !on {
            self.names = None;
            self.naming.clear();
            self.asked.clear();
        } else if self.names.is_none() {
            self.names = Some(ReverseNames::new(self.options.dns_timeout));
        }
    }

    /// Probes with `protocol` from the next round on (mtr's `u`/`t`): the
    /// tracer of a protocol used before is taken up again with its
    /// sockets, another opens new ones (unprivileged ones if privileges
    /// are gone). On error nothing changes; once every round asked for has
    /// begun, nothing changes either (see [`LiveTrace::protocol`]).
    pub fn set_protocol(&mut self, protocol: ProbeProtocol) -> Result<()> {
        // Rounds of which nothing settled yet are numbered anew.
        let next_start = self.run_start + self.run_seen;
        let all_begun = self.rounds.is_some_and(|r| next_start >= r);
        if protocol == self.options.protocol || self.finished || all_begun {
            return Ok(());
        }
        let left = self.rounds.map(|r| r - next_start);
        let run_rounds = run_length(&self.options.plan, left, self.rounds_per_run);
        let mut plan = self.options.plan.clone();
        plan.queries = run_rounds as u16;
        let parked = self.parked.iter().position(|(p, _)| *p == protocol);
        let mut next = match parked {
            Some(i) => self.parked.swap_remove(i).1,
            None => {
                let mut options = self.options.clone();
                options.protocol = protocol;
                Tracer::with_target(self.target.clone(), &options)?
            }
        };
        if let Err(e) = next.renew(plan) {
            if parked.is_some() {
                self.parked.push((protocol, next));
            }
            return Err(e);
        }
        self.end_run(self.run_seen);
        self.run_rounds = run_rounds;
        let previous = std::mem::replace(&mut self.tracer, next);
        self.parked.push((self.options.protocol, previous));
        self.options.protocol = protocol;
        Ok(())
    }

    /// Ends the trace: nothing more is sent, probes in flight count as
    /// lost, then the stream ends.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.tracer.stop();
    }

    /// The next event, or `None` when the trace is over. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<LiveEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<LiveEvent>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(Some(event));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            self.poll_names(cx);
            if !self.events.is_empty() {
                continue;
            }
            match std::task::ready!(futures_core::Stream::poll_next(
                Pin::new(&mut self.tracer),
                cx
            )) {
                Some(TraceEvent::Probe(probe)) => self.on_probe(probe),
                Some(TraceEvent::Hop(_)) => {}
                None => self.next_run(),
            }
        }
    }

    fn on_probe(&mut self, probe: ProbeResult) {
        let round = self.run_start + u64::from(probe.attempt);
        self.run_seen = self.run_seen.max(u64::from(probe.attempt) + 1);
        if let Some(reply) = &probe.reply
            && let Some(names) = &self.names
            && self.asked.insert(reply.from)
        {
            let hop = Hop::from_probes(probe.ttl, vec![probe.clone()]);
            self.naming.push(names.start(hop));
        }
        let complete = self.books.settle(round, &probe);
        self.events.push_back(LiveEvent::Probe { round, probe });
        self.events
            .extend(complete.into_iter().map(LiveEvent::Round));
    }

    /// Names found since the last poll, as events.
    fn poll_names(&mut self, cx: &mut Context<'_>) {
        let Some(names) = self.names.as_mut() else {
            return;
        };
        let mut i = 0;
        while i < self.naming.len() {
            if self.naming[i].poll_wait(names, cx).is_pending() {
                i += 1;
                continue;
            }
            let hop = self.naming.swap_remove(i).finish(names);
            for r in hop.responders {
                if let Some(name) = r.name {
                    self.events.push_back(LiveEvent::Name {
                        address: r.address,
                        name,
                    });
                }
            }
        }
    }

    /// Closes the current run after `begun` of its rounds: they are over
    /// (complete or not), the next run's rounds come after them.
    fn end_run(&mut self, begun: u64) {
        let over = self.books.end_run(self.run_start + begun);
        self.events.extend(over.into_iter().map(LiveEvent::Round));
        self.run_start += begun;
        self.run_seen = 0;
    }

    fn next_run_length(&self) -> u64 {
        let left = self.rounds.map(|r| r.saturating_sub(self.run_start));
        run_length(&self.options.plan, left, self.rounds_per_run)
    }

    /// The run's stream ended: start the next one, or finish.
    fn next_run(&mut self) {
        self.end_run(self.run_rounds);
        let done = self.rounds.is_some_and(|r| self.run_start >= r);
        if self.stopped || done {
            self.finished = true;
            return;
        }
        self.run_rounds = self.next_run_length();
        let mut plan = self.options.plan.clone();
        plan.queries = self.run_rounds as u16;
        if self.tracer.renew(plan).is_err() {
            self.finished = true;
        }
    }
}

/// Rounds in the next run: what is left, at most `most` and what one
/// session can number.
fn run_length(plan: &Plan, left: Option<u64>, most: u64) -> u64 {
    let per_round = (u64::from(plan.max_ttl - plan.first_ttl) + 1) * u64::from(plan.flows);
    let fits = (Plan::MAX_PROBES as u64 / per_round).clamp(1, most);
    left.map_or(fits, |l| l.clamp(1, fits))
}

impl futures_core::Stream for LiveTrace {
    type Item = LiveEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LiveEvent>> {
        self.get_mut().poll_event(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{ProbeReply, TraceOptions};

    fn settled(ttl: u8, reached: bool) -> ProbeResult {
        ProbeResult {
            seq: 0,
            ttl,
            flow: 0,
            attempt: 0,
            size: None,
            reply: Some(ProbeReply {
                from: "192.0.2.1".parse().unwrap(),
                rtt: Duration::from_millis(1),
                kind: if reached {
                    ReplyKind::Reached
                } else {
                    ReplyKind::TimeExceeded
                },
                annotation: None,
                reply_ttl: None,
                extensions: Vec::new(),
            }),
            send_error: None,
        }
    }

    #[test]
    fn a_round_completes_once_every_hop_up_to_the_destination_settled() {
        let plan = Plan {
            max_ttl: 30,
            ..Plan::default()
        };
        let mut books = RoundBooks::new(&plan);
        assert!(books.settle(0, &settled(1, false)).is_empty());
        // Round 1 is done before round 0: held back until round 0 is.
        assert!(books.settle(1, &settled(1, false)).is_empty());
        assert!(books.settle(1, &settled(2, true)).is_empty());
        assert_eq!(books.settle(0, &settled(2, true)), vec![0, 1]);
        assert!(books.settle(2, &settled(1, false)).is_empty());
        // The run ends with round 2 incomplete: it is over too.
        assert_eq!(books.end_run(3), vec![2]);
        assert!(
            books.settle(2, &settled(2, true)).is_empty(),
            "already over"
        );
    }

    #[test]
    fn runs_fit_a_session() {
        let plan = Plan::default();
        assert_eq!(run_length(&plan, None, ROUNDS_PER_RUN), ROUNDS_PER_RUN);
        assert_eq!(run_length(&plan, Some(10), ROUNDS_PER_RUN), 10);
        let wide = Plan {
            max_ttl: 255,
            flows: 200,
            ..Plan::default()
        };
        assert_eq!(run_length(&wide, None, ROUNDS_PER_RUN), 1);
    }

    /// Runs of 2 rounds on a 3-hop lab path: every round completes in
    /// order with the path's three hops, across runs (new sessions on the
    /// same sockets) and across a switch to UDP and back to the ICMP
    /// tracer parked with its sockets.
    #[test]
    fn rounds_go_on_across_runs_and_protocol_switches() {
        let lab = icmpkit_lab::lab_or_skip!("rounds_go_on_across_runs_and_protocol_switches");
        let chain = lab.chain(2).expect("lab chain");
        let path: Vec<IpAddr> = chain.hops_v4().into_iter().map(IpAddr::from).collect();
        let _inside = chain.client().enter().expect("enter the client namespace");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = chain.server_v4().to_string();
        let rounds = runtime.block_on(async {
            let mut opts = TraceOptions::default();
            opts.plan.max_ttl = 6;
            opts.plan.wait = Duration::from_secs(1);
            opts.plan.round_interval = Duration::from_millis(20);
            let target = crate::resolve::resolve(&server, None).await.unwrap();
            let mut live = LiveTrace::with_target(target, &opts, Some(9)).unwrap();
            live.rounds_per_run = 2;
            live.run_rounds = 2;
            live.tracer
                .renew(Plan {
                    queries: 2,
                    ..live.options.plan.clone()
                })
                .unwrap();
            let mut rounds: Vec<(u64, ProbeProtocol, Vec<IpAddr>)> = Vec::new();
            let mut answered = Vec::new();
            let limit = tokio::time::sleep(Duration::from_secs(20));
            tokio::pin!(limit);
            loop {
                let event = tokio::select! {
                    e = live.next_event() => e,
                    () = &mut limit => panic!("the rounds never ended: {rounds:?}"),
                };
                match event {
                    Some(LiveEvent::Probe { probe, .. }) => {
                        if let Some(reply) = &probe.reply {
                            answered.push((probe.ttl, reply.from));
                        }
                    }
                    Some(LiveEvent::Round(round)) => {
                        answered.sort();
                        let hops = answered.drain(..).map(|(_, from)| from).collect();
                        rounds.push((round, live.protocol(), hops));
                        match round {
                            2 => live.set_protocol(ProbeProtocol::Udp).unwrap(),
                            4 => live.set_protocol(ProbeProtocol::Icmp).unwrap(),
                            _ => {}
                        }
                    }
                    Some(LiveEvent::Name { .. }) => {}
                    None => break,
                }
            }
            rounds
        });
        let numbers: Vec<u64> = rounds.iter().map(|r| r.0).collect();
        assert_eq!(numbers, (0..9).collect::<Vec<_>>(), "{rounds:?}");
        for (round, protocol, hops) in &rounds {
            assert_eq!(hops, &path, "round {round} ({protocol:?})");
        }
        assert_eq!(rounds[3].1, ProbeProtocol::Udp, "{rounds:?}");
        assert_eq!(rounds[8].1, ProbeProtocol::Icmp, "{rounds:?}");
    }
}
