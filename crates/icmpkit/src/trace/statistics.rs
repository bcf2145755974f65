//! What a live trace accumulates per hop ([`TraceStatistics`]): mtr's
//! columns (Snt, Recv, Loss%, Last, Avg, Best, Wrst, StDev), its jitter
//! columns, every responder with its share, their RFC 4884 objects and
//! reply TTLs, and a short RTT history. Constant memory per hop however
//! long the trace runs; `Clone` is the snapshot (a few kilobytes per hop).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use crate::engine::stats::{RttStats, RttSummary, loss};

use super::live::LiveEvent;
use super::report::{Annotation, Extension, Hop, ProbeResult, ReplyKind, Responder};

/// Probes kept in each hop's history (enough for a strip chart as wide as
/// a wide terminal).
pub const HISTORY_LEN: usize = 200;

/// One address that answered at a hop, over the whole live trace.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResponderStatistics {
    /// Its address.
    pub address: IpAddr,
    /// Its reverse name, once looked up and found.
    pub name: Option<String>,
    /// The flows whose probes it answered.
    pub flows: Vec<u16>,
    /// Answers received from it.
    pub received: u64,
    /// TTL of its last answer as it arrived (raw sockets).
    pub reply_ttl: Option<u8>,
    /// RTT of its last answer.
    pub last_rtt: Option<Duration>,
    /// Distinct annotations of its answers (`!H`...).
    pub annotations: Vec<Annotation>,
    /// Distinct RFC 4884 objects of its answers (MPLS labels...).
    pub extensions: Vec<Extension>,
}

/// One hop of a live trace: its counters and RTT figures since the start
/// (or the last [`TraceStatistics::reset`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HopStatistics {
    /// The TTL that reaches it.
    pub distance: u8,
    /// Probes settled (answered, timed out or refused): mtr's Snt.
    pub sent: u64,
    /// Answers: mtr's Recv.
    pub received: u64,
    /// Everyone who answered, in order of first answer.
    pub responders: Vec<ResponderStatistics>,
    /// The latest probes, oldest first: `Some(rtt)` answered, `None`
    /// lost ([`HISTORY_LEN`] at most).
    pub history: VecDeque<Option<Duration>>,
    /// The destination answered at this hop.
    pub reached: bool,
    /// The last reason a probe could not be sent, if any.
    pub last_error: Option<String>,
    rtt: RttStats,
    run: RttRun,
}

/// mtr's figures over a hop's answers in the order they came: the jitter
/// (|an RTT − the RTT before it|: mtr's `Jttr`), its worst (`Jmax`), RFC
/// 3550's interarrival jitter (`Jint`) and the geometric mean of the RTTs
/// (`Gmean`). Constant memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RttRun {
    last: Option<Duration>,
    last_jitter: Option<Duration>,
    max_jitter: Option<Duration>,
    /// RFC 3550's estimate, in nanoseconds.
    interarrival_ns: f64,
    /// The sum of ln(RTT in ns), for the geometric mean.
    log_sum: f64,
    count: u64,
}

impl RttRun {
    /// The figures of `rtts`, in order.
    pub fn of(rtts: &[Duration]) -> RttRun {
        let mut run = RttRun::default();
        for rtt in rtts {
            run.record(*rtt);
        }
        run
    }

    /// Takes the next answer's RTT into account.
    pub fn record(&mut self, rtt: Duration) {
        if let Some(previous) = self.last {
            let gap = previous.abs_diff(rtt);
            self.last_jitter = Some(gap);
            self.max_jitter = Some(self.max_jitter.map_or(gap, |m| m.max(gap)));
            // RFC 3550 A.8: J += (|D| - J) / 16 (mtr keeps 16 J and
            // prints that; this is J itself).
            self.interarrival_ns += (gap.as_nanos() as f64 - self.interarrival_ns) / 16.0;
        }
        // A zero RTT (a clock that did not move) counts as 1 ns: ln(0)
        // would make the mean 0 for good.
        self.log_sum += (rtt.as_nanos().max(1) as f64).ln();
        self.count += 1;
        self.last = Some(rtt);
    }

    /// |Last − the RTT before it| (mtr's `Jttr`); `None` before two
    /// answers.
    pub fn last_jitter(&self) -> Option<Duration> {
        self.last_jitter
    }

    /// The largest such difference (mtr's `Jmax`).
    pub fn max_jitter(&self) -> Option<Duration> {
        self.max_jitter
    }

    /// RFC 3550's interarrival jitter over the RTTs (mtr's `Jint`);
    /// `None` before two answers.
    pub fn interarrival_jitter(&self) -> Option<Duration> {
        self.last_jitter
            .map(|_| Duration::from_nanos(self.interarrival_ns.round() as u64))
    }

    /// The geometric mean of the RTTs (mtr's `Gmean`); `None` without
    /// answers.
    pub fn geometric_mean(&self) -> Option<Duration> {
        (self.count > 0)
            .then(|| Duration::from_nanos((self.log_sum / self.count as f64).exp().round() as u64))
    }
}

impl HopStatistics {
    fn new(distance: u8) -> HopStatistics {
        HopStatistics {
            distance,
            sent: 0,
            received: 0,
            responders: Vec::new(),
            history: VecDeque::new(),
            reached: false,
            last_error: None,
            rtt: RttStats::default(),
            run: RttRun::default(),
        }
    }

    /// Lost fraction, 0.0 to 1.0.
    pub fn loss(&self) -> f64 {
        loss(self.sent, self.received)
    }

    /// min (Best), avg, max (Wrst), standard deviation (StDev) and jitter
    /// (mtr's Javg), exact, as every other report has them.
    pub fn rtt(&self) -> RttSummary {
        self.rtt.summary()
    }

    /// The RTT of the last answer (mtr's Last).
    pub fn last_rtt(&self) -> Option<Duration> {
        self.rtt.last()
    }

    /// Jitter, worst jitter, interarrival jitter and geometric mean of
    /// the answers so far (mtr's Jttr, Jmax, Jint, Gmean).
    pub fn run(&self) -> &RttRun {
        &self.run
    }

    /// A responder's share of the hop's answers, 0.0 to 1.0.
    pub fn share(&self, responder: &ResponderStatistics) -> f64 {
        if self.received == 0 {
            return 0.0;
        }
        responder.received as f64 / self.received as f64
    }

    /// The hop as a trace reports it (what `trace --report` prints from):
    /// the history's RTTs stand for the hop's RTT list, there are no
    /// per-probe results.
    pub fn to_hop(&self) -> Hop {
        Hop {
            distance: self.distance,
            address: self.responders.first().map(|r| r.address),
            responders: self.responders.iter().map(responder_of).collect(),
            packets_sent: usize::try_from(self.sent).unwrap_or(usize::MAX),
            packets_received: usize::try_from(self.received).unwrap_or(usize::MAX),
            packet_loss: self.loss(),
            rtts: self.history.iter().flatten().copied().collect(),
            rtt: self.rtt(),
            last_rtt: self.last_rtt(),
            reached: self.reached,
            pmtu: None,
            probes: Vec::new(),
        }
    }

    fn record(&mut self, probe: &ProbeResult) {
        self.sent += 1;
        if let Some(error) = &probe.send_error {
            self.last_error = Some(error.clone());
        }
        let rtt = probe.reply.as_ref().map(|r| r.rtt);
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(rtt);
        let Some(reply) = &probe.reply else { return };
        self.received += 1;
        self.run.record(reply.rtt);
        self.rtt.record(reply.rtt);
        self.reached |= reply.kind == ReplyKind::Reached;
        let index = match self.responders.iter().position(|r| r.address == reply.from) {
            Some(i) => i,
            None => {
                self.responders.push(ResponderStatistics {
                    address: reply.from,
                    name: None,
                    flows: Vec::new(),
                    received: 0,
                    reply_ttl: None,
                    last_rtt: None,
                    annotations: Vec::new(),
                    extensions: Vec::new(),
                });
                self.responders.len() - 1
            }
        };
        let r = &mut self.responders[index];
        r.received += 1;
        r.last_rtt = Some(reply.rtt);
        r.reply_ttl = reply.reply_ttl.or(r.reply_ttl);
        if !r.flows.contains(&probe.flow) {
            r.flows.push(probe.flow);
        }
        if let Some(a) = reply.annotation
            && !r.annotations.contains(&a)
        {
            r.annotations.push(a);
        }
        for e in &reply.extensions {
            if !r.extensions.contains(e) {
                r.extensions.push(e.clone());
            }
        }
    }
}

fn responder_of(r: &ResponderStatistics) -> Responder {
    Responder {
        address: r.address,
        name: r.name.clone(),
        flows: r.flows.clone(),
        received: usize::try_from(r.received).unwrap_or(usize::MAX),
        reply_ttl: r.reply_ttl,
        annotations: r.annotations.clone(),
        extensions: r.extensions.clone(),
        rtts: Vec::new(),
    }
}

/// The per-hop statistics of a live trace, fed its events
/// ([`TraceStatistics::update`]); clone it for a snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceStatistics {
    /// Every TTL heard of, by distance.
    hops: Vec<HopStatistics>,
    rounds: u64,
    /// Names learnt, kept across resets (a responder seen again after a
    /// reset is named at once).
    names: Vec<(IpAddr, String)>,
}

impl TraceStatistics {
    /// Empty statistics.
    pub fn new() -> TraceStatistics {
        TraceStatistics::default()
    }

    /// Takes one event of a live trace into account.
    pub fn update(&mut self, event: &LiveEvent) {
        match event {
            LiveEvent::Probe { probe, .. } => self.record(probe),
            LiveEvent::Round(_) => self.rounds += 1,
            LiveEvent::Name { address, name } => self.name(*address, name),
        }
    }

    /// Takes one probe's result into account.
    pub fn record(&mut self, probe: &ProbeResult) {
        let index = match self.hops.binary_search_by_key(&probe.ttl, |h| h.distance) {
            Ok(i) => i,
            Err(i) => {
                self.hops.insert(i, HopStatistics::new(probe.ttl));
                i
            }
        };
        let hop = &mut self.hops[index];
        let known = hop.responders.len();
        hop.record(probe);
        if hop.responders.len() > known
            && let Some(r) = hop.responders.last_mut()
        {
            r.name = self
                .names
                .iter()
                .find(|(a, _)| *a == r.address)
                .map(|(_, n)| n.clone());
        }
    }

    /// Names every responder at `address`.
    pub fn name(&mut self, address: IpAddr, name: &str) {
        if !self.names.iter().any(|(a, _)| *a == address) {
            self.names.push((address, name.to_string()));
        }
        let responders = self.hops.iter_mut().flat_map(|h| &mut h.responders);
        for r in responders.filter(|r| r.address == address) {
            r.name = Some(name.to_string());
        }
    }

    /// Forgets every counter and RTT (mtr's `r`); names stay known.
    pub fn reset(&mut self) {
        self.hops.clear();
        self.rounds = 0;
    }

    /// Rounds complete since the start or the last reset.
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// The hops in order, up to the destination once it answered (probes
    /// beyond it, sent before it was known, are left out).
    pub fn hops(&self) -> &[HopStatistics] {
        let end = self
            .hops
            .iter()
            .position(|h| h.reached)
            .map_or(self.hops.len(), |i| i + 1);
        &self.hops[..end]
    }

    /// The hops as a trace reports them (`trace --report`'s input).
    pub fn to_hops(&self) -> Vec<Hop> {
        self.hops().iter().map(HopStatistics::to_hop).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::ProbeReply;

    fn probe(ttl: u8, flow: u16, reply: Option<(&str, u64, ReplyKind)>) -> ProbeResult {
        ProbeResult {
            seq: 0,
            ttl,
            flow,
            attempt: 0,
            size: None,
            reply: reply.map(|(from, ms, kind)| ProbeReply {
                from: from.parse().unwrap(),
                rtt: Duration::from_millis(ms),
                kind,
                annotation: None,
                reply_ttl: Some(63),
                extensions: Vec::new(),
            }),
            send_error: None,
        }
    }

    #[test]
    fn counters_rtts_jitter_and_shares_accumulate() {
        let mut stats = TraceStatistics::new();
        let te = ReplyKind::TimeExceeded;
        stats.record(&probe(1, 0, Some(("192.0.2.1", 2, te))));
        stats.record(&probe(1, 1, Some(("192.0.2.9", 6, te))));
        stats.record(&probe(1, 0, None));
        stats.record(&probe(1, 0, Some(("192.0.2.1", 3, te))));
        let hop = &stats.hops()[0];
        assert_eq!((hop.sent, hop.received), (4, 3));
        assert!((hop.loss() - 0.25).abs() < 1e-9);
        assert_eq!(hop.rtt().min, Some(Duration::from_millis(2)));
        assert_eq!(hop.rtt().max, Some(Duration::from_millis(6)));
        assert_eq!(hop.last_rtt(), Some(Duration::from_millis(3)));
        assert_eq!(hop.run().last_jitter(), Some(Duration::from_millis(3)));
        assert_eq!(hop.run().max_jitter(), Some(Duration::from_millis(4)));
        assert_eq!(hop.responders.len(), 2);
        assert!((hop.share(&hop.responders[0]) - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(hop.history.len(), 4);
        assert_eq!(hop.history[2], None);
        let as_hop = hop.to_hop();
        assert_eq!(as_hop.packets_sent, 4);
        assert_eq!(as_hop.rtt, hop.rtt());
        assert_eq!(as_hop.responders[1].flows, vec![1]);
    }

    #[test]
    fn hops_end_at_the_destination_and_reset_keeps_names() {
        let mut stats = TraceStatistics::new();
        stats.record(&probe(3, 0, None));
        stats.record(&probe(2, 0, Some(("192.0.2.7", 1, ReplyKind::Reached))));
        stats.record(&probe(
            1,
            0,
            Some(("192.0.2.1", 1, ReplyKind::TimeExceeded)),
        ));
        let distances: Vec<u8> = stats.hops().iter().map(|h| h.distance).collect();
        assert_eq!(distances, [1, 2], "hop 3 is beyond the destination");
        stats.name("192.0.2.1".parse().unwrap(), "r1.example");
        assert_eq!(
            stats.hops()[0].responders[0].name.as_deref(),
            Some("r1.example")
        );
        stats.update(&LiveEvent::Round(0));
        assert_eq!(stats.rounds(), 1);
        stats.reset();
        assert!(stats.hops().is_empty() && stats.rounds() == 0);
        stats.record(&probe(
            1,
            0,
            Some(("192.0.2.1", 1, ReplyKind::TimeExceeded)),
        ));
        assert_eq!(
            stats.hops()[0].responders[0].name.as_deref(),
            Some("r1.example")
        );
    }

    /// mtr's `-o` figures G and I: the geometric mean, and RFC 3550's
    /// interarrival jitter J += (|D| - J) / 16 from the second answer on.
    #[test]
    fn geometric_mean_and_interarrival_jitter() {
        let ms = Duration::from_millis;
        assert_eq!(RttRun::default().geometric_mean(), None);
        let run = RttRun::of(&[ms(1), ms(4), ms(16)]);
        // (1 * 4 * 16)^(1/3) = 4
        let gmean = run.geometric_mean().unwrap();
        assert!(
            gmean.abs_diff(ms(4)) < Duration::from_nanos(10),
            "{gmean:?}"
        );
        // D: 3 ms then 12 ms. J = 3/16 = 0.1875; J += (12 - 0.1875)/16.
        let want = 0.1875 + (12.0 - 0.1875) / 16.0;
        let got = run.interarrival_jitter().unwrap().as_secs_f64() * 1e3;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert_eq!(run.last_jitter(), Some(ms(12)));
        assert_eq!(run.max_jitter(), Some(ms(12)));
        assert_eq!(RttRun::of(&[ms(5)]).interarrival_jitter(), None);
    }

    #[test]
    fn history_is_bounded() {
        let mut stats = TraceStatistics::new();
        for _ in 0..HISTORY_LEN + 10 {
            stats.record(&probe(1, 0, None));
        }
        assert_eq!(stats.hops()[0].history.len(), HISTORY_LEN);
        assert_eq!(stats.hops()[0].sent, HISTORY_LEN as u64 + 10);
    }
}
