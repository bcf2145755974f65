//! Continuous monitoring of many targets at once (what a Prometheus
//! exporter scrapes): every target is pinged at its own interval for as
//! long as the [`Monitor`] runs, its sends spread evenly over the interval,
//! and per-target counters and an RTT histogram are kept in constant memory.
//!
//! One socket per family (and per TOS / source address, which are socket
//! options) carries every target, never one socket per host; each socket
//! runs on the crate's one probe driver. Replies are validated by the keyed
//! stamp every request carries (ICMPv4 checksums verified), timed with the
//! kernel's receive stamp, and told apart from duplicates; ICMP errors
//! quoting a request are counted by type and code for its target.
//!
//! ```no_run
//! # async fn run() -> icmpkit::Result<()> {
//! use std::time::Duration;
//! use icmpkit::monitor::{Monitor, MonitorOptions, MonitorTarget};
//!
//! let targets = vec![MonitorTarget::new("192.0.2.1".parse().unwrap(), Duration::from_secs(1))];
//! let monitor = Monitor::start(&targets, &MonitorOptions::default())?;
//! tokio::time::sleep(Duration::from_secs(10)).await;
//! let stats = monitor.stats();
//! println!("{} of {} answered", stats[0].responses, stats[0].requests);
//! monitor.stop().await;
//! # Ok(()) }
//! ```

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use icmpkit_wire::Family;

use crate::driver::{Driver, IcmpTransport, StopHandle};
use crate::engine::clock::Timestamp;
use crate::engine::stamp::{StampKey, TAGGED_STAMP_LEN};
use crate::resolve::family_of;
use crate::socket::{IcmpSocket, Privilege, SocketKind, SocketOptions};
use crate::{Error, InvalidReason, Result};

mod protocol;
mod schedule;

use protocol::MonitorProtocol;
pub use schedule::TargetStats;
use schedule::{Schedule, ScheduledTarget};

/// Largest packet read whole.
const RECV_LEN: usize = 65_536;

/// Largest echo data that fits an IPv4/IPv6 datagram.
const MAX_PAYLOAD: usize = 65_507;

/// Shortest interval a target may have.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// smokeping_prober's default RTT histogram buckets (seconds): 50 µs
/// doubling up to 26.2 s.
pub const DEFAULT_BUCKETS: [f64; 20] = [
    5e-05, 0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024,
    0.2048, 0.4096, 0.8192, 1.6384, 3.2768, 6.5536, 13.1072, 26.2144,
];

/// One address to monitor and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorTarget {
    /// Where the echo requests go.
    pub address: IpAddr,
    /// Time between two requests to it.
    pub interval: Duration,
    /// Bytes of echo data (at least 32: the tagged stamp).
    pub payload_size: usize,
    /// TOS / traffic class of its requests.
    pub tos: Option<u8>,
    /// Source address of its requests.
    pub source: Option<IpAddr>,
}

impl MonitorTarget {
    /// `address` every `interval`, 56 bytes of data, default TOS and source.
    pub fn new(address: IpAddr, interval: Duration) -> Self {
        MonitorTarget {
            address,
            interval,
            payload_size: 56,
            tos: None,
            source: None,
        }
    }

    fn validate(&self) -> Result<()> {
        if !(TAGGED_STAMP_LEN..=MAX_PAYLOAD).contains(&self.payload_size) {
            return Err(Error::invalid(
                "payload_size",
                InvalidReason::Between {
                    min: TAGGED_STAMP_LEN as u64,
                    max: MAX_PAYLOAD as u64,
                    got: Some(self.payload_size as u64),
                },
            ));
        }
        if self.interval < MIN_INTERVAL {
            return Err(Error::invalid(
                "interval_ms",
                InvalidReason::AtLeast {
                    min: MIN_INTERVAL.as_millis() as u64,
                },
            ));
        }
        // An interval near u64::MAX ns wrapped the next send time into the
        // past: the target was sent to without pause (a panic in a debug
        // build, which stopped its socket's pinging).
        crate::engine::clock::check_option_duration("interval_ms", self.interval)
    }

    /// What decides its socket: targets sharing it share one socket.
    fn socket_key(&self) -> SocketKey {
        (family_of(self.address), self.tos, self.source)
    }
}

/// How to monitor.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// Upper bounds of the RTT histogram buckets (`+Inf` is implied); taken
    /// sorted and without repeats.
    pub buckets: Vec<Duration>,
    /// Raw, datagram, or whichever is allowed.
    pub privilege: Privilege,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            buckets: DEFAULT_BUCKETS
                .iter()
                .map(|&s| Duration::from_secs_f64(s))
                .collect(),
            privilege: Privilege::Auto,
        }
    }
}

/// What decides a target's socket: family, TOS and source address.
type SocketKey = (Family, Option<u8>, Option<IpAddr>);

/// The targets sharing one socket, and the task driving it.
#[derive(Debug)]
struct SocketGroup {
    key: SocketKey,
    schedule: Arc<Mutex<Schedule>>,
    /// The caller's index of each of the schedule's targets.
    indices: Vec<usize>,
    kind: SocketKind,
    stop: StopHandle,
    /// Wakes the task to read the schedule's next deadline again (after
    /// [`Monitor::update`] changed it).
    wake: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// A running monitor: its sockets are driven by tasks of the tokio runtime
/// it was started on, until [`Monitor::stop`] (or drop, which stops them
/// too). Sockets, once open, stay open for the monitor's life: targets can
/// be replaced ([`Monitor::update`]) on them after the process gave up the
/// privilege to open raw sockets.
#[derive(Debug)]
pub struct Monitor {
    groups: Vec<SocketGroup>,
    targets: usize,
    opts: MonitorOptions,
}

impl Monitor {
    /// Opens the sockets and starts pinging. Must be called within a tokio
    /// runtime (with I/O and time enabled). Fails on an invalid target or
    /// option, or a socket that cannot be opened (the same errors as ping).
    pub fn start(targets: &[MonitorTarget], opts: &MonitorOptions) -> Result<Monitor> {
        let mut monitor = Monitor::idle(opts);
        monitor.update(targets, &[])?;
        Ok(monitor)
    }

    /// A monitor with no target and no socket yet: open sockets with
    /// [`Monitor::open_socket`], give targets with [`Monitor::update`].
    pub fn idle(opts: &MonitorOptions) -> Monitor {
        let mut opts = opts.clone();
        opts.buckets.sort_unstable();
        opts.buckets.dedup();
        Monitor {
            groups: Vec::new(),
            targets: 0,
            opts,
        }
    }

    /// Opens the socket of `family` with this TOS and source (unless open
    /// already) and returns its kind: targets with these options will use
    /// it. Call it for every socket wanted before dropping privileges.
    pub fn open_socket(
        &mut self,
        family: Family,
        tos: Option<u8>,
        source: Option<IpAddr>,
    ) -> Result<SocketKind> {
        let key = (family, tos, source);
        if let Some(group) = self.groups.iter().find(|g| g.key == key) {
            return Ok(group.kind);
        }
        let group = open_group(key, &self.opts)?;
        let kind = group.kind;
        self.groups.push(group);
        Ok(kind)
    }

    /// Opens (or finds) the socket `target` would be sent from: an error
    /// says why it cannot be monitored (e.g. a raw socket needed and the
    /// privilege to open one dropped).
    pub fn socket_for(&mut self, target: &MonitorTarget) -> Result<SocketKind> {
        target.validate()?;
        let (family, tos, source) = target.socket_key();
        self.open_socket(family, tos, source)
    }

    /// Replaces the targets (a reload): `targets[i]` continues the current
    /// target `continues[i]` (missing or `None`: a new target) if both are
    /// equal, keeping its counters, sequence numbers and send slots; a new
    /// target starts at zero, its first sends spread over its interval;
    /// current targets not continued stop. Sockets are opened as needed
    /// and never closed. On an invalid target or a socket that cannot be
    /// opened nothing changes.
    pub fn update(&mut self, targets: &[MonitorTarget], continues: &[Option<usize>]) -> Result<()> {
        for target in targets {
            self.socket_for(target)?;
        }
        // (group, slot) of each current target.
        let mut current: Vec<Option<(usize, u32)>> = vec![None; self.targets];
        for (g, group) in self.groups.iter().enumerate() {
            for (slot, &index) in group.indices.iter().enumerate() {
                current[index] = Some((g, slot as u32));
            }
        }
        let now = Timestamp::now();
        for (g, group) in self.groups.iter_mut().enumerate() {
            let count = targets
                .iter()
                .filter(|t| t.socket_key() == group.key)
                .count();
            let mut scheduled = Vec::with_capacity(count);
            let mut carried = Vec::with_capacity(count);
            let mut indices = Vec::with_capacity(count);
            for (i, target) in targets.iter().enumerate() {
                if target.socket_key() != group.key {
                    continue;
                }
                let continued = continues
                    .get(i)
                    .copied()
                    .flatten()
                    .filter(|&old| old < self.targets)
                    .and_then(|old| current[old])
                    .filter(|&(old_group, _)| old_group == g)
                    .map(|(_, slot)| slot as usize);
                scheduled.push(ScheduledTarget {
                    address: target.address,
                    interval_ns: crate::engine::clock::nanos(target.interval),
                    payload_size: target.payload_size,
                });
                carried.push(continued);
                indices.push(i);
            }
            // A continued target must be the same target (its stamp, its
            // interval): the caller's word is checked against the old one.
            let old_targets = group.schedule_targets();
            for (slot, c) in carried.iter_mut().enumerate() {
                if c.is_some_and(|old| old_targets.get(old) != Some(&scheduled[slot])) {
                    *c = None;
                }
            }
            group
                .schedule
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retarget(scheduled, &carried, StampKey::random(), now);
            group.indices = indices;
            group.wake.notify_one();
        }
        self.targets = targets.len();
        Ok(())
    }

    /// The targets, in the order given to the last [`Monitor::update`].
    pub fn targets(&self) -> Vec<MonitorTarget> {
        let mut out: Vec<Option<MonitorTarget>> = vec![None; self.targets];
        for group in &self.groups {
            let (_, tos, source) = group.key;
            for (slot, target) in group.schedule_targets().into_iter().enumerate() {
                out[group.indices[slot]] = Some(MonitorTarget {
                    address: target.address,
                    interval: Duration::from_nanos(target.interval_ns),
                    payload_size: target.payload_size,
                    tos,
                    source,
                });
            }
        }
        out.into_iter().flatten().collect()
    }

    /// Every target's counters, in the order the targets were given.
    pub fn stats(&self) -> Vec<TargetStats> {
        let mut out = vec![TargetStats::default(); self.targets];
        for group in &self.groups {
            let schedule = group.schedule.lock().unwrap_or_else(|p| p.into_inner());
            for (slot, &index) in group.indices.iter().enumerate() {
                if let Some(stats) = schedule.stats(slot) {
                    out[index] = stats;
                }
            }
        }
        out
    }

    /// Calls `visit(index, stats)` for every target (`index` in the order
    /// the targets were given; the visits come in another order), with no
    /// allocation per target: for copying many targets' counters into a
    /// table of one's own. Each socket's targets are read at one instant.
    pub fn visit_stats(&self, mut visit: impl FnMut(usize, &TargetStats)) {
        let mut scratch = TargetStats::default();
        for group in &self.groups {
            let schedule = group.schedule.lock().unwrap_or_else(|p| p.into_inner());
            for (slot, &index) in group.indices.iter().enumerate() {
                if schedule.stats_into(slot, &mut scratch) {
                    visit(index, &scratch);
                }
            }
        }
    }

    /// Failed receives (other than `WouldBlock`) on the sockets of each
    /// family in use: errors of a socket, which carries many targets, not
    /// of any one target.
    pub fn receive_errors(&self) -> Vec<(Family, u64)> {
        let mut totals: Vec<(Family, u64)> = Vec::new();
        for g in &self.groups {
            let count = g
                .schedule
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .receive_errors();
            let family = g.key.0;
            match totals.iter_mut().find(|(f, _)| *f == family) {
                Some(total) => total.1 += count,
                None => totals.push((family, count)),
            }
        }
        totals
    }

    /// The kinds of socket opened (one per family / TOS / source in use).
    pub fn socket_kinds(&self) -> Vec<SocketKind> {
        self.groups.iter().map(|g| g.kind).collect()
    }

    /// Stops every socket's task and waits for them to end.
    pub async fn stop(mut self) {
        for group in &self.groups {
            group.stop.stop();
        }
        for group in self.groups.drain(..) {
            // A task that panicked has nothing left to stop.
            let _ = group.task.await;
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for group in &self.groups {
            group.stop.stop();
        }
    }
}

impl SocketGroup {
    fn schedule_targets(&self) -> Vec<ScheduledTarget> {
        self.schedule
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .targets()
    }
}

/// Opens one socket and starts its task, with no target yet.
fn open_group((family, tos, source): SocketKey, opts: &MonitorOptions) -> Result<SocketGroup> {
    let socket_options = SocketOptions {
        tos,
        source,
        ..SocketOptions::default()
    };
    let socket = IcmpSocket::open(family, opts.privilege, &socket_options)?;
    let kind = socket.kind();
    let echo_id = match kind {
        SocketKind::Datagram => socket.echo_id().unwrap_or(0),
        SocketKind::Raw => crate::engine::random::random(),
    };
    let datagram = kind == SocketKind::Datagram;
    let schedule = Arc::new(Mutex::new(Schedule::new(
        Vec::new(),
        &opts.buckets,
        StampKey::random(),
        echo_id,
        Timestamp::now(),
    )));
    let protocol = MonitorProtocol::new(Arc::clone(&schedule), family, datagram);
    let mut driver = Driver::new(protocol, IcmpTransport::new(socket)?, RECV_LEN);
    let stop = driver.stop_handle();
    let wake = Arc::new(tokio::sync::Notify::new());
    let woken = Arc::clone(&wake);
    let task = tokio::spawn(async move {
        // The monitor has no events: this ends once stopped. A wake-up
        // drops the wait (next_event is cancel-safe) so the next one
        // reads the changed schedule's deadline.
        loop {
            tokio::select! {
                event = driver.next_event() => if event.is_none() { break },
                () = woken.notified() => {}
            }
        }
        let counters = driver.counters();
        tracing::debug!(?counters, "monitor socket stopped");
    });
    Ok(SocketGroup {
        key: (family, tos, source),
        schedule,
        indices: Vec::new(),
        kind,
        stop,
        wake,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_refused_beyond_the_longest_time_option() {
        let address = IpAddr::from([127, 0, 0, 1]);
        let limit = crate::engine::clock::MAX_OPTION_DURATION;
        assert!(MonitorTarget::new(address, limit).validate().is_ok());
        for too_long in [limit + Duration::from_secs(1), Duration::MAX] {
            let error = MonitorTarget::new(address, too_long)
                .validate()
                .unwrap_err();
            assert!(error.to_string().contains("interval"), "{error}");
        }
    }
}
