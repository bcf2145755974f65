//! Trace targets: a continuous trace per target (the library's
//! [`LiveTrace`], rounds at the target's interval), its per-hop statistics
//! accumulated for /metrics, and path changes counted (what mtr exporters
//! export). The bookkeeping ([`TraceBooks`], [`PathTracker`]) is pure and
//! unit-tested; [`RunningTrace`] is the task that feeds it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use icmpkit::resolve::Target;
use icmpkit::socket::{Family, Privilege};
use icmpkit::trace::{LiveEvent, LiveTrace, ProbeProtocol, TraceOptions, TraceStatistics};

use crate::state::Labels;

/// One trace target and how, before resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpec {
    pub host: String,
    pub family: Option<Family>,
    /// Time between round starts.
    pub interval: Duration,
    pub protocol: ProbeProtocol,
    pub port: Option<u16>,
    pub max_hops: u8,
    pub labels: BTreeMap<String, String>,
}

/// Each round's responder per TTL, to tell when the path changed: a
/// round whose responder at some TTL differs from the previous complete
/// round's at that TTL (both answered) is a change. Silent hops and lost
/// probes are not changes.
#[derive(Debug, Default)]
pub struct PathTracker {
    /// Rounds in progress: responder per TTL (the first answer).
    rounds: BTreeMap<u64, BTreeMap<u8, IpAddr>>,
    /// The last complete round's path.
    last: Option<BTreeMap<u8, IpAddr>>,
    changes: u64,
}

impl PathTracker {
    /// A probe of `round` to `ttl` was answered by `from`.
    pub fn answered(&mut self, round: u64, ttl: u8, from: IpAddr) {
        self.rounds
            .entry(round)
            .or_default()
            .entry(ttl)
            .or_insert(from);
    }

    /// Round `round` is complete; true if its path differs from the last.
    pub fn round_done(&mut self, round: u64) -> bool {
        let path = self.rounds.remove(&round).unwrap_or_default();
        // Rounds end in order: anything older is over too.
        self.rounds.retain(|&r, _| r > round);
        let changed = self.last.as_ref().is_some_and(|last| {
            path.iter()
                .any(|(ttl, from)| last.get(ttl).is_some_and(|before| before != from))
        });
        if !path.is_empty() {
            self.last = Some(path);
        }
        self.changes += u64::from(changed);
        changed
    }

    /// Path changes so far.
    pub fn changes(&self) -> u64 {
        self.changes
    }
}

/// What /metrics reads of one trace: its statistics, rounds and path
/// changes since it started.
#[derive(Debug, Default)]
pub struct TraceBooks {
    pub statistics: TraceStatistics,
    pub rounds: u64,
    pub paths: PathTracker,
}

impl TraceBooks {
    /// Takes one event of the trace.
    pub fn update(&mut self, event: &LiveEvent) {
        self.statistics.update(event);
        match event {
            LiveEvent::Probe { round, probe } => {
                if let Some(reply) = &probe.reply {
                    self.paths.answered(*round, probe.ttl, reply.from);
                }
            }
            LiveEvent::Round(round) => {
                self.rounds += 1;
                self.paths.round_done(*round);
            }
            _ => {}
        }
    }
}

/// A trace running on the exporter's runtime; stopped when dropped.
#[derive(Debug)]
pub struct RunningTrace {
    /// What it traces: with the address and labels, what tells a reload
    /// that it is unchanged.
    pub spec: TraceSpec,
    pub address: IpAddr,
    /// Its series' labels (`host`, `ip`, the user's, `prober`).
    pub labels: Labels,
    books: Arc<Mutex<TraceBooks>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningTrace {
    /// Opens the trace's sockets and starts its rounds.
    pub fn start(
        spec: &TraceSpec,
        target: Target,
        privilege: Privilege,
        labels: Labels,
    ) -> icmpkit::Result<RunningTrace> {
        let mut options = TraceOptions::default();
        options.protocol = spec.protocol;
        options.port = spec.port;
        options.privilege = privilege;
        options.resolve_names = false;
        options.plan.max_ttl = spec.max_hops;
        options.plan.round_interval = spec.interval;
        let address = target.address;
        let mut trace = LiveTrace::with_target(target, &options, None)?;
        let books = Arc::new(Mutex::new(TraceBooks::default()));
        let fed = Arc::clone(&books);
        let task = tokio::spawn(async move {
            while let Some(event) = trace.next_event().await {
                lock(&fed).update(&event);
            }
        });
        Ok(RunningTrace {
            spec: spec.clone(),
            address,
            labels,
            books,
            task,
        })
    }

    /// Its books, for a scrape.
    pub fn books(&self) -> MutexGuard<'_, TraceBooks> {
        lock(&self.books)
    }
}

impl Drop for RunningTrace {
    fn drop(&mut self) {
        // Dropping the LiveTrace inside the task closes its sockets.
        self.task.abort();
    }
}

fn lock(books: &Mutex<TraceBooks>) -> MutexGuard<'_, TraceBooks> {
    books.lock().unwrap_or_else(|p| p.into_inner())
}

/// `icmp`, `udp` or `tcp`.
pub fn parse_protocol(text: &str) -> Result<ProbeProtocol, String> {
    match text {
        "icmp" => Ok(ProbeProtocol::Icmp),
        "udp" => Ok(ProbeProtocol::Udp),
        "tcp" => Ok(ProbeProtocol::Tcp),
        other => Err(format!("protocol {other:?}: expected icmp, udp or tcp")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_new_responder_at_a_hop_is_a_path_change() {
        let mut p = PathTracker::default();
        p.answered(0, 1, ip("192.0.2.1"));
        p.answered(0, 2, ip("192.0.2.2"));
        assert!(
            !p.round_done(0),
            "the first round has nothing to differ from"
        );
        p.answered(1, 1, ip("192.0.2.1"));
        p.answered(1, 2, ip("192.0.2.2"));
        assert!(!p.round_done(1));
        // Hop 2 now answers from elsewhere (a reroute, or ECMP).
        p.answered(2, 1, ip("192.0.2.1"));
        p.answered(2, 2, ip("198.51.100.2"));
        assert!(p.round_done(2));
        assert_eq!(p.changes(), 1);
    }

    #[test]
    fn silence_and_loss_are_not_path_changes() {
        let mut p = PathTracker::default();
        p.answered(0, 1, ip("192.0.2.1"));
        p.answered(0, 2, ip("192.0.2.2"));
        p.round_done(0);
        // Hop 2 lost this round, hop 1 the same: no change.
        p.answered(1, 1, ip("192.0.2.1"));
        assert!(!p.round_done(1));
        // A round where nothing answered keeps the last path.
        assert!(!p.round_done(2));
        p.answered(3, 2, ip("192.0.2.2"));
        assert!(!p.round_done(3));
        assert_eq!(p.changes(), 0);
    }

    #[test]
    fn only_the_first_answer_of_a_ttl_counts_per_round() {
        let mut p = PathTracker::default();
        p.answered(0, 1, ip("192.0.2.1"));
        p.answered(0, 1, ip("192.0.2.9"));
        p.round_done(0);
        p.answered(1, 1, ip("192.0.2.1"));
        assert!(!p.round_done(1));
    }

    #[test]
    fn protocols_by_name() {
        assert_eq!(parse_protocol("udp"), Ok(ProbeProtocol::Udp));
        assert!(parse_protocol("sctp").unwrap_err().contains("sctp"));
    }
}
