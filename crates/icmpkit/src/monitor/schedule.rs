//! The monitor's pure core: when each target is due, what a reply or an
//! ICMP error does to its counters. No I/O and no clock reads: the caller
//! passes the time in, so the unit tests below drive it with made-up times.
//!
//! Memory is constant per target: a schedule slot, a 64-bit window of
//! answered sequence numbers (duplicates), the counters and one count per
//! histogram bucket. Replies are matched by the tagged stamp they carry
//! (the target's index, covered by the keyed cookie), so no table of
//! probes in flight is kept.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::time::Duration;

use crate::engine::clock::{Deadline, Timestamp, nanos, round_trip};
use crate::engine::stamp::{ProbeId, StampKey, TAGGED_STAMP_LEN, peek_tag};

/// Replies to the last this-many requests of a target are told apart from
/// duplicates; older ones are counted as late and otherwise ignored.
pub(crate) const DUPLICATE_WINDOW: u16 = 64;

/// What the schedule knows about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScheduledTarget {
    pub address: IpAddr,
    pub interval_ns: u64,
    pub payload_size: usize,
}

/// Per-target counters, as exported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetStats {
    /// Echo requests handed to the kernel.
    pub requests: u64,
    /// Genuine first replies (stamp verified, not duplicates).
    pub responses: u64,
    /// Replies to a request already answered.
    pub duplicates: u64,
    /// Replies older than the duplicate window (not counted as responses).
    pub late: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// TTL / hop limit of the last reply, when the socket reports it.
    pub last_ttl: Option<u8>,
    /// Sum of the RTTs of the responses.
    pub rtt_sum: Duration,
    /// Responses per histogram bucket (not cumulative); the last entry is
    /// the `+Inf` bucket.
    pub bucket_counts: Vec<u64>,
    /// ICMP errors quoting this target's requests: (type, code, count).
    pub icmp_errors: Vec<(u8, u8, u64)>,
}

/// A target's counters as kept (64 bytes; [`TargetStats`] is what is
/// handed out): ICMP errors, rare, are boxed so a target without any pays
/// one pointer.
#[derive(Debug, Default)]
struct Books {
    requests: u64,
    responses: u64,
    duplicates: u64,
    late: u64,
    send_errors: u64,
    rtt_sum_ns: u64,
    last_ttl: Option<u8>,
    #[allow(
        clippy::box_collection,
        reason = "one pointer for the many targets that never get an ICMP error, not a Vec's three words"
    )]
    icmp_errors: Option<Box<Vec<(u8, u8, u64)>>>,
}

impl Books {
    fn count_icmp_error(&mut self, icmp_type: u8, code: u8) {
        let errors = self.icmp_errors.get_or_insert_with(Box::default);
        match errors
            .iter_mut()
            .find(|(t, c, _)| *t == icmp_type && *c == code)
        {
            Some(entry) => entry.2 += 1,
            None => errors.push((icmp_type, code, 1)),
        }
    }

    /// Writes them as handed out, with its histogram row, into `out`
    /// (reusing its vectors).
    fn write_to(&self, bucket_counts: &[u64], out: &mut TargetStats) {
        out.requests = self.requests;
        out.responses = self.responses;
        out.duplicates = self.duplicates;
        out.late = self.late;
        out.send_errors = self.send_errors;
        out.last_ttl = self.last_ttl;
        out.rtt_sum = Duration::from_nanos(self.rtt_sum_ns);
        out.bucket_counts.clear();
        out.bucket_counts.extend_from_slice(bucket_counts);
        out.icmp_errors.clear();
        out.icmp_errors
            .extend_from_slice(self.icmp_errors.as_deref().map_or(&[], Vec::as_slice));
    }
}

#[derive(Debug)]
struct TargetState {
    target: ScheduledTarget,
    // Its histogram is a row of `Schedule::buckets` (no allocation per
    // target).
    /// Sequence number of the next request.
    next_sequence: u16,
    /// Bit k set: request `next_sequence - 1 - k` was answered.
    answered: u64,
    stats: Books,
}

/// What a received echo reply turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyOutcome {
    /// A first reply, with its RTT.
    Response(Duration),
    /// A reply to an already answered request.
    Duplicate,
    /// A genuine reply older than the duplicate window.
    Late,
    /// Not ours (foreign id, bad cookie, no stamp, unknown target).
    Foreign,
}

/// The schedule and books of one socket's targets.
#[derive(Debug)]
pub(crate) struct Schedule {
    targets: Vec<TargetState>,
    /// (due, target index), earliest first.
    queue: BinaryHeap<Reverse<(u64, u32)>>,
    /// Histogram upper bounds, ascending.
    bucket_bounds_ns: Vec<u64>,
    /// Every target's responses per bucket, a row of `bucket_bounds_ns.len()
    /// + 1` counts (the last is `+Inf`) per target, in target order.
    buckets: Vec<u64>,
    key: StampKey,
    /// The key and targets before the last [`Schedule::retarget`]: replies
    /// to requests sent before it carry the old key and the old index,
    /// which maps to the target's new index (`None`: it was removed).
    previous: Option<(StampKey, Vec<Option<u32>>)>,
    /// Retargets so far: a send given out before one names its target by
    /// the index it had then.
    generation: u64,
    echo_id: u16,
    stopped: bool,
    /// Receive calls on this socket that failed (not `WouldBlock`): not a
    /// target's, so counted per socket.
    receive_errors: u64,
}

impl Schedule {
    /// Targets' first sends are spread evenly over their interval from
    /// `start`: target i of n starts at `start + i * interval / n`, so n
    /// targets at one interval never send in a burst.
    pub fn new(
        targets: Vec<ScheduledTarget>,
        bucket_bounds: &[Duration],
        key: StampKey,
        echo_id: u16,
        start: Timestamp,
    ) -> Schedule {
        let n = targets.len().max(1) as u64;
        let mut queue = BinaryHeap::with_capacity(targets.len());
        let states: Vec<TargetState> = targets
            .into_iter()
            .enumerate()
            .map(|(i, target)| {
                let offset = (u128::from(target.interval_ns) * i as u128 / u128::from(n)) as u64;
                queue.push(Reverse((start.monotonic_ns + offset, i as u32)));
                TargetState {
                    target,
                    next_sequence: 0,
                    answered: 0,
                    stats: Books::default(),
                }
            })
            .collect();
        Schedule {
            buckets: vec![0; states.len() * (bucket_bounds.len() + 1)],
            targets: states,
            queue,
            bucket_bounds_ns: bucket_bounds.iter().map(|&b| nanos(b)).collect(),
            key,
            previous: None,
            generation: 0,
            echo_id,
            stopped: false,
            receive_errors: 0,
        }
    }

    /// Replaces the targets (a reload): `targets[i]` continues old target
    /// `continues[i]` when given (its counters, sequence numbers, duplicate
    /// window and place in the schedule), else starts at zero, first sends
    /// spread evenly over its interval from `now`; old targets not
    /// continued are gone. Requests sent before keep matching their target
    /// under its new index: they carry the old key, replaced by `key`.
    pub fn retarget(
        &mut self,
        targets: Vec<ScheduledTarget>,
        continues: &[Option<usize>],
        key: StampKey,
        now: Timestamp,
    ) {
        let mut due_of: Vec<Option<u64>> = vec![None; self.targets.len()];
        for Reverse((due, index)) in self.queue.drain() {
            due_of[index as usize] = Some(due);
        }
        let mut old: Vec<Option<TargetState>> = std::mem::take(&mut self.targets)
            .into_iter()
            .map(Some)
            .collect();
        // Each old target is continued once at most.
        let mut taken = vec![false; old.len()];
        let sources: Vec<Option<usize>> = (0..targets.len())
            .map(|i| {
                let old_index = continues.get(i).copied().flatten()?;
                let free = taken.get_mut(old_index).filter(|t| !**t)?;
                *free = true;
                Some(old_index)
            })
            .collect();
        let fresh = sources.iter().filter(|s| s.is_none()).count().max(1) as u64;
        let mut fresh_seen = 0u64;
        let mut old_to_new: Vec<Option<u32>> = vec![None; old.len()];
        let row = self.row_len();
        let old_buckets = std::mem::take(&mut self.buckets);
        self.buckets = vec![0; targets.len() * row];
        self.targets = Vec::with_capacity(targets.len());
        self.queue = BinaryHeap::with_capacity(targets.len());
        for (new_index, (target, source)) in targets.into_iter().zip(sources).enumerate() {
            let carried = source.and_then(|i| Some((i, old[i].take()?)));
            let (state, due) = match carried {
                Some((old_index, mut state)) => {
                    old_to_new[old_index] = Some(new_index as u32);
                    self.buckets[new_index * row..(new_index + 1) * row]
                        .copy_from_slice(&old_buckets[old_index * row..(old_index + 1) * row]);
                    state.target = target;
                    (state, due_of[old_index].unwrap_or(now.monotonic_ns))
                }
                None => {
                    let offset = (u128::from(target.interval_ns) * u128::from(fresh_seen)
                        / u128::from(fresh)) as u64;
                    fresh_seen += 1;
                    let state = TargetState {
                        target,
                        next_sequence: 0,
                        answered: 0,
                        stats: Books::default(),
                    };
                    (state, now.monotonic_ns + offset)
                }
            };
            self.queue.push(Reverse((due, new_index as u32)));
            self.targets.push(state);
        }
        let old_key = std::mem::replace(&mut self.key, key);
        self.previous = Some((old_key, old_to_new));
        self.generation += 1;
    }

    /// Counts a failed receive on the socket.
    pub fn receive_error(&mut self) {
        self.receive_errors += 1;
    }

    /// Failed receives on the socket so far.
    pub fn receive_errors(&self) -> u64 {
        self.receive_errors
    }

    /// The echo id replies must carry.
    pub fn echo_id(&self) -> u16 {
        self.echo_id
    }

    /// Target `index`'s counters and histogram.
    pub fn stats(&self, index: usize) -> Option<TargetStats> {
        let mut out = TargetStats::default();
        self.stats_into(index, &mut out).then_some(out)
    }

    /// Writes target `index`'s counters and histogram into `out` (reusing
    /// its vectors); false if there is no such target.
    pub fn stats_into(&self, index: usize, out: &mut TargetStats) -> bool {
        let row = self.row_len();
        let (Some(buckets), Some(state)) = (
            self.buckets.get(index * row..(index + 1) * row),
            self.targets.get(index),
        ) else {
            return false;
        };
        state.stats.write_to(buckets, out);
        true
    }

    /// Counts per target in `buckets`: the bounds and `+Inf`.
    fn row_len(&self) -> usize {
        self.bucket_bounds_ns.len() + 1
    }

    /// The targets, in their order.
    pub fn targets(&self) -> Vec<ScheduledTarget> {
        self.targets.iter().map(|t| t.target.clone()).collect()
    }

    pub fn address(&self, index: usize) -> Option<IpAddr> {
        self.targets.get(index).map(|t| t.target.address)
    }

    /// When the next send is due, `None` once stopped or with no targets.
    pub fn next_due(&self) -> Option<Deadline> {
        if self.stopped {
            return None;
        }
        self.queue
            .peek()
            .map(|Reverse((due, _))| Deadline::from_monotonic_ns(*due))
    }

    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// The target due at `now`, if any, with the sequence number its
    /// request takes. Nothing changes until [`Schedule::sent`].
    pub fn due(&self, now: Timestamp) -> Option<(u32, u16)> {
        if self.stopped {
            return None;
        }
        let Reverse((due, index)) = *self.queue.peek()?;
        (due <= now.monotonic_ns).then(|| (index, self.targets[index as usize].next_sequence))
    }

    /// Writes the request payload of `index`'s next probe (the tagged
    /// stamp, then zeros) into `payload`.
    pub fn fill_payload(&self, index: u32, sequence: u16, now: Timestamp, payload: &mut Vec<u8>) {
        let state = &self.targets[index as usize];
        payload.clear();
        payload.resize(state.target.payload_size, 0);
        let probe = ProbeId {
            destination: state.target.address,
            id: self.echo_id,
            sequence,
        };
        self.key
            .write_tagged(&probe, now, u64::from(index), payload);
    }

    /// Retargets so far (see [`Schedule::sent_in`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The request of the due target `index` was sent (`ok`) or refused;
    /// either way it moves to its next slot. A slot missed by more than an
    /// interval (the process was stalled) is not caught up in a burst.
    #[cfg(test)]
    pub fn sent(&mut self, index: u32, ok: bool, now: Timestamp) {
        self.sent_in(self.generation, index, ok, now);
    }

    /// [`Schedule::sent`] for a request given out (by [`Schedule::due`])
    /// when the schedule was at `generation`: a retarget may have come
    /// between, and the target's index changed (or it was removed).
    pub fn sent_in(&mut self, generation: u64, index: u32, ok: bool, now: Timestamp) {
        let index = if generation == self.generation {
            index
        } else if generation + 1 == self.generation {
            let moved = self
                .previous
                .as_ref()
                .and_then(|(_, old_to_new)| old_to_new.get(index as usize).copied().flatten());
            let Some(index) = moved else {
                return; // removed meanwhile
            };
            index
        } else {
            return;
        };
        let Some(due) = self.take_queued(index) else {
            return;
        };
        let state = &mut self.targets[index as usize];
        state.next_sequence = state.next_sequence.wrapping_add(1);
        state.answered <<= 1;
        if ok {
            state.stats.requests += 1;
        } else {
            state.stats.send_errors += 1;
        }
        self.queue.push(Reverse((
            next_slot(due, state.target.interval_ns, now),
            index,
        )));
    }

    /// Removes `index`'s entry from the queue and returns its due time: the
    /// top one, except when a retarget came between `due` and `sent` (then
    /// looked for: once a reload at most).
    fn take_queued(&mut self, index: u32) -> Option<u64> {
        let Reverse((due, top)) = *self.queue.peek()?;
        if top == index {
            self.queue.pop();
            return Some(due);
        }
        let due = self
            .queue
            .iter()
            .find(|Reverse((_, i))| *i == index)
            .map(|Reverse((due, _))| *due)?;
        self.queue.retain(|Reverse((_, i))| *i != index);
        Some(due)
    }

    /// An echo reply with `id`, `sequence` and echo `data` came from
    /// `from`; `ttl` and the kernel's receive time as the socket told.
    pub fn reply(
        &mut self,
        id: u16,
        sequence: u16,
        data: &[u8],
        ttl: Option<u8>,
        kernel_rx_ns: Option<u64>,
        now: Timestamp,
    ) -> ReplyOutcome {
        if id != self.echo_id || data.len() < TAGGED_STAMP_LEN {
            return ReplyOutcome::Foreign;
        }
        let Some((index, sent)) = self.verified_target(id, sequence, data) else {
            return ReplyOutcome::Foreign;
        };
        let state = &mut self.targets[index];
        // How many requests ago this one was sent (0: the last).
        let age = state.next_sequence.wrapping_sub(1).wrapping_sub(sequence);
        if age >= DUPLICATE_WINDOW {
            state.stats.late += 1;
            return ReplyOutcome::Late;
        }
        let bit = 1u64 << age;
        if state.answered & bit != 0 {
            state.stats.duplicates += 1;
            return ReplyOutcome::Duplicate;
        }
        state.answered |= bit;
        let rtt = round_trip(sent, kernel_rx_ns, now);
        let stats = &mut state.stats;
        stats.responses += 1;
        stats.rtt_sum_ns = stats.rtt_sum_ns.saturating_add(nanos(rtt));
        if ttl.is_some() {
            stats.last_ttl = ttl;
        }
        let rtt_ns = nanos(rtt);
        let bucket = self
            .bucket_bounds_ns
            .partition_point(|&bound| bound < rtt_ns);
        let row = self.row_len();
        self.buckets[index * row + bucket] += 1;
        ReplyOutcome::Response(rtt)
    }

    /// An ICMP error quoting one of our requests: `quoted_data` is the
    /// quoted echo data (as much as the router quoted), `destination` the
    /// quoted destination. Returns the target it was counted for.
    pub fn icmp_error(
        &mut self,
        icmp_type: u8,
        code: u8,
        id: u16,
        sequence: u16,
        destination: Option<IpAddr>,
        quoted_data: &[u8],
    ) -> Option<usize> {
        if id != self.echo_id {
            return None;
        }
        let index = self
            .tagged_target(id, sequence, quoted_data)
            .or_else(|| self.target_by_address(destination?))?;
        self.targets[index].stats.count_icmp_error(icmp_type, code);
        Some(index)
    }

    /// The target a quote's verified tag names.
    fn tagged_target(&self, id: u16, sequence: u16, data: &[u8]) -> Option<usize> {
        self.verified_target(id, sequence, data)
            .map(|(index, _)| index)
    }

    /// The target (current index) whose request `data` echoes, and when
    /// it was sent, if the stamp's cookie checks out: under the current
    /// key, or under the one before the last retarget (its tag is then the
    /// target's old index).
    fn verified_target(&self, id: u16, sequence: u16, data: &[u8]) -> Option<(usize, Timestamp)> {
        let tag = usize::try_from(peek_tag(data)?).ok()?;
        let check = |key: &StampKey, index: usize| {
            let probe = ProbeId {
                destination: self.targets.get(index)?.target.address,
                id,
                sequence,
            };
            key.check_tagged(&probe, data).map(|sent| (index, sent))
        };
        check(&self.key, tag).or_else(|| {
            let (key, old_to_new) = self.previous.as_ref()?;
            let index = (*old_to_new.get(tag)?)? as usize;
            check(key, index)
        })
    }

    /// A router that quotes too little to carry the tag: the first target
    /// with that address (a rare path: errors are rate-limited).
    fn target_by_address(&self, address: IpAddr) -> Option<usize> {
        self.targets
            .iter()
            .position(|t| t.target.address == address)
    }
}

/// The first slot after `now` of a target due at `due`: one interval on,
/// or (after a stall) the next slot of its original phase, so the sends of
/// many targets stay spread evenly.
fn next_slot(due: u64, interval_ns: u64, now: Timestamp) -> u64 {
    // Saturating: a wrapped sum would lie in the past, a send at once.
    let next = due.saturating_add(interval_ns);
    if next > now.monotonic_ns {
        return next;
    }
    let missed = (now.monotonic_ns - next) / interval_ns + 1;
    next.saturating_add(missed.saturating_mul(interval_ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SECOND: u64 = 1_000_000_000;

    fn at(ns: u64) -> Timestamp {
        Timestamp {
            realtime_ns: 1_700_000_000 * SECOND + ns,
            monotonic_ns: 1_000 * SECOND + ns,
        }
    }

    fn targets(n: usize, interval_ns: u64) -> Vec<ScheduledTarget> {
        (0..n)
            .map(|i| ScheduledTarget {
                address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8 + 1)),
                interval_ns,
                payload_size: 56,
            })
            .collect()
    }

    fn schedule(n: usize, interval_ns: u64) -> Schedule {
        let buckets = [Duration::from_micros(100), Duration::from_millis(1)];
        Schedule::new(
            targets(n, interval_ns),
            &buckets,
            StampKey::from_parts(1, 2),
            7,
            at(0),
        )
    }

    /// Sends everything due at `now`, returning (index, sequence) in order.
    fn send_due(s: &mut Schedule, now: Timestamp) -> Vec<(u32, u16)> {
        let mut sent = Vec::new();
        while let Some((index, seq)) = s.due(now) {
            s.sent(index, true, now);
            sent.push((index, seq));
        }
        sent
    }

    #[test]
    fn the_next_slot_of_a_huge_interval_is_never_in_the_past() {
        let now = at(5 * SECOND);
        for interval in [u64::MAX, u64::MAX / 2 + 1] {
            assert!(next_slot(4 * SECOND, interval, now) > now.monotonic_ns);
        }
    }

    #[test]
    fn first_sends_are_spread_evenly_over_the_interval() {
        let s = schedule(4, SECOND);
        let mut dues: Vec<u64> = s
            .queue
            .iter()
            .map(|Reverse((due, _))| due - at(0).monotonic_ns)
            .collect();
        dues.sort_unstable();
        assert_eq!(dues, vec![0, SECOND / 4, SECOND / 2, 3 * SECOND / 4]);
    }

    #[test]
    fn each_target_sends_once_per_interval_in_steady_state() {
        let mut s = schedule(10, SECOND);
        let mut per_target = [0u32; 10];
        // 10 seconds in 1 ms steps.
        for ms in 0..10_000 {
            for (index, _) in send_due(&mut s, at(ms * 1_000_000)) {
                per_target[index as usize] += 1;
            }
        }
        assert!(per_target.iter().all(|&n| n == 10), "{per_target:?}");
        assert_eq!(s.stats(3).map(|st| st.requests), Some(10));
    }

    #[test]
    fn a_stalled_schedule_does_not_burst_to_catch_up() {
        let mut s = schedule(1, SECOND);
        assert_eq!(send_due(&mut s, at(0)).len(), 1);
        // Ten and a half intervals later: one send, then the next slot of
        // the original phase.
        assert_eq!(send_due(&mut s, at(10 * SECOND + SECOND / 2)).len(), 1);
        assert!(s.due(at(10 * SECOND + SECOND * 9 / 10)).is_none());
        assert_eq!(send_due(&mut s, at(11 * SECOND)).len(), 1);
    }

    #[test]
    fn nothing_changes_until_the_send_is_answered() {
        let s = schedule(2, SECOND);
        assert_eq!(s.due(at(0)), Some((0, 0)));
        assert_eq!(s.due(at(0)), Some((0, 0)), "due() must not advance");
    }

    fn reply_to(
        s: &mut Schedule,
        index: u32,
        seq: u16,
        sent: Timestamp,
        now: Timestamp,
    ) -> ReplyOutcome {
        let mut payload = Vec::new();
        s.fill_payload(index, seq, sent, &mut payload);
        s.reply(7, seq, &payload, Some(61), None, now)
    }

    #[test]
    fn replies_are_timed_counted_and_bucketed() {
        let mut s = schedule(2, SECOND);
        send_due(&mut s, at(0));
        let rtt = reply_to(&mut s, 0, 0, at(0), at(500_000));
        assert_eq!(rtt, ReplyOutcome::Response(Duration::from_micros(500)));
        let st = s.stats(0).unwrap();
        assert_eq!(st.responses, 1);
        assert_eq!(st.last_ttl, Some(61));
        assert_eq!(st.rtt_sum, Duration::from_micros(500));
        // 500 µs: above 100 µs, within 1 ms.
        assert_eq!(st.bucket_counts, vec![0, 1, 0]);
        assert_eq!(s.stats(1).unwrap().responses, 0);
    }

    #[test]
    fn a_second_reply_is_a_duplicate() {
        let mut s = schedule(1, SECOND);
        send_due(&mut s, at(0));
        assert!(matches!(
            reply_to(&mut s, 0, 0, at(0), at(1000)),
            ReplyOutcome::Response(_)
        ));
        assert_eq!(
            reply_to(&mut s, 0, 0, at(0), at(2000)),
            ReplyOutcome::Duplicate
        );
        let st = s.stats(0).unwrap();
        assert_eq!((st.responses, st.duplicates), (1, 1));
    }

    #[test]
    fn a_reply_after_later_requests_still_counts_once() {
        let mut s = schedule(1, SECOND);
        for k in 0..5 {
            send_due(&mut s, at(k * SECOND));
        }
        // Request 1 answered four requests later: still a first reply.
        assert!(matches!(
            reply_to(&mut s, 0, 1, at(SECOND), at(4 * SECOND + 1)),
            ReplyOutcome::Response(_)
        ));
        assert_eq!(
            reply_to(&mut s, 0, 1, at(SECOND), at(4 * SECOND + 2)),
            ReplyOutcome::Duplicate
        );
    }

    #[test]
    fn replies_older_than_the_window_are_late() {
        let mut s = schedule(1, SECOND);
        for k in 0..u64::from(DUPLICATE_WINDOW) + 1 {
            send_due(&mut s, at(k * SECOND));
        }
        assert_eq!(
            reply_to(&mut s, 0, 0, at(0), at(70 * SECOND)),
            ReplyOutcome::Late
        );
        assert_eq!(s.stats(0).unwrap().responses, 0);
    }

    #[test]
    fn forged_or_foreign_replies_are_ignored() {
        let mut s = schedule(2, SECOND);
        send_due(&mut s, at(0));
        let mut payload = Vec::new();
        s.fill_payload(0, 0, at(0), &mut payload);
        // Another echo id.
        assert_eq!(
            s.reply(8, 0, &payload, None, None, at(1)),
            ReplyOutcome::Foreign
        );
        // A sequence the cookie does not cover.
        assert_eq!(
            s.reply(7, 1, &payload, None, None, at(1)),
            ReplyOutcome::Foreign
        );
        // A tag changed to the other target.
        payload[24..32].copy_from_slice(&1u64.to_be_bytes());
        assert_eq!(
            s.reply(7, 0, &payload, None, None, at(1)),
            ReplyOutcome::Foreign
        );
        // Too short for a stamp.
        assert_eq!(
            s.reply(7, 0, &[0; 8], None, None, at(1)),
            ReplyOutcome::Foreign
        );
        assert_eq!(s.stats(0).unwrap().responses, 0);
    }

    #[test]
    fn icmp_errors_count_by_type_and_code_for_the_quoted_target() {
        let mut s = schedule(3, SECOND);
        send_due(&mut s, at(SECOND));
        let mut payload = Vec::new();
        s.fill_payload(2, 0, at(0), &mut payload);
        assert_eq!(s.icmp_error(3, 1, 7, 0, None, &payload), Some(2));
        assert_eq!(s.icmp_error(3, 1, 7, 0, None, &payload), Some(2));
        // A short quote: matched by the quoted destination.
        let dest = s.address(1);
        assert_eq!(s.icmp_error(11, 0, 7, 0, dest, &[]), Some(1));
        // Someone else's request.
        assert_eq!(s.icmp_error(3, 1, 9, 0, dest, &payload), None);
        assert_eq!(s.stats(2).unwrap().icmp_errors, vec![(3, 1, 2)]);
        assert_eq!(s.stats(1).unwrap().icmp_errors, vec![(11, 0, 1)]);
    }

    #[test]
    fn a_retarget_keeps_the_continued_targets_books_and_slots() {
        let mut s = schedule(3, SECOND);
        // Each target sends 3 requests (sequences 0, 1, 2).
        for k in 0..3 {
            send_due(&mut s, at(k * SECOND + 2 * SECOND / 3));
        }
        // Target 1's request 2 is in flight across the reload.
        let mut in_flight = Vec::new();
        s.fill_payload(1, 2, at(2 * SECOND + SECOND / 3), &mut in_flight);
        assert!(matches!(
            reply_to(
                &mut s,
                2,
                2,
                at(2 * SECOND + 2 * SECOND / 3),
                at(2 * SECOND + SECOND)
            ),
            ReplyOutcome::Response(_)
        ));
        let dues_before: Vec<u64> = {
            let mut d: Vec<(u32, u64)> =
                s.queue.iter().map(|Reverse((due, i))| (*i, *due)).collect();
            d.sort_unstable();
            d.into_iter().map(|(_, due)| due).collect()
        };
        // New order: old target 2, a new target, old target 1; old target 0 removed.
        let mut next = targets(3, SECOND);
        let added = ScheduledTarget {
            address: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            interval_ns: SECOND,
            payload_size: 56,
        };
        let now = at(2 * SECOND + 5 * SECOND / 6);
        s.retarget(
            vec![next.remove(2), added, next.remove(1)],
            &[Some(2), None, Some(1)],
            StampKey::from_parts(3, 4),
            now,
        );
        assert_eq!(s.stats(0).unwrap().requests, 3, "old target 2's counters");
        assert_eq!(s.stats(0).unwrap().responses, 1);
        assert_eq!(
            s.stats(0).unwrap().bucket_counts,
            vec![0, 0, 1],
            "its histogram"
        );
        assert_eq!(
            s.stats(1).unwrap().requests,
            0,
            "the new target starts at 0"
        );
        assert_eq!(s.stats(2).unwrap().requests, 3, "old target 1's counters");
        assert!(s.stats(3).is_none(), "old target 0 is gone");
        // The continued targets keep their slots; the new one starts now.
        let due = |s: &Schedule, index: u32| {
            s.queue
                .iter()
                .find(|Reverse((_, i))| *i == index)
                .map(|Reverse((due, _))| *due)
        };
        assert_eq!(due(&s, 0), Some(dues_before[2]));
        assert_eq!(due(&s, 2), Some(dues_before[1]));
        assert_eq!(due(&s, 1), Some(now.monotonic_ns));
        // The request sent before the reload (old key, old index 1) is
        // answered to old target 1, now index 2; sequence numbers go on.
        assert!(matches!(
            s.reply(7, 2, &in_flight, None, None, at(3 * SECOND)),
            ReplyOutcome::Response(_)
        ));
        assert_eq!(s.stats(2).unwrap().responses, 1);
        assert_eq!(s.stats(0).unwrap().responses, 1);
        let sent = send_due(&mut s, at(4 * SECOND));
        assert!(sent.contains(&(2, 3)), "{sent:?}");
        assert!(sent.contains(&(1, 0)), "{sent:?}");
        // Replies to requests sent after it use the new key and index.
        assert!(matches!(
            reply_to(&mut s, 2, 3, at(4 * SECOND), at(4 * SECOND + 1000)),
            ReplyOutcome::Response(_)
        ));
        assert_eq!(s.stats(2).unwrap().responses, 2);
    }

    /// A request given out before a retarget and sent after it counts for
    /// its target under the target's new index, moves that target's slot
    /// and no other's.
    #[test]
    fn a_send_that_straddles_a_retarget_counts_for_its_target() {
        let mut s = schedule(3, SECOND);
        send_due(&mut s, at(2 * SECOND / 3));
        let given = at(SECOND + SECOND / 10);
        let (index, sequence) = s.due(given).expect("target 0 due");
        assert_eq!((index, sequence), (0, 1));
        let generation = s.generation();
        let now = at(SECOND + SECOND / 5);
        let mut next = targets(3, SECOND);
        let added = ScheduledTarget {
            address: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            interval_ns: SECOND,
            payload_size: 56,
        };
        s.retarget(
            vec![next.remove(2), added, next.remove(0)],
            &[Some(2), None, Some(0)],
            StampKey::from_parts(3, 4),
            now,
        );
        s.sent_in(generation, index, true, given);
        assert_eq!(s.stats(2).unwrap().requests, 2, "old target 0, now 2");
        assert_eq!(s.stats(0).unwrap().requests, 1);
        assert_eq!(s.stats(1).unwrap().requests, 0);
        let sent = send_due(&mut s, now);
        assert_eq!(
            sent,
            vec![(1, 0)],
            "only the new target is due: not target 2 again"
        );
        let sent = send_due(&mut s, at(2 * SECOND + SECOND / 10));
        assert!(sent.contains(&(2, 2)), "{sent:?}");
        // A send of a target removed meanwhile counts nowhere.
        let (index, _) = s.due(at(3 * SECOND)).unwrap();
        let generation = s.generation();
        s.retarget(Vec::new(), &[], StampKey::from_parts(5, 6), at(3 * SECOND));
        s.sent_in(generation, index, true, at(3 * SECOND));
        assert!(s.stats(0).is_none());
    }

    #[test]
    fn new_targets_of_a_retarget_are_spread_over_their_interval() {
        let mut s = schedule(1, SECOND);
        let now = at(SECOND / 3);
        s.retarget(
            targets(4, SECOND),
            &[Some(0)],
            StampKey::from_parts(3, 4),
            now,
        );
        let mut fresh: Vec<u64> = s
            .queue
            .iter()
            .filter(|Reverse((_, i))| *i > 0)
            .map(|Reverse((due, _))| due - now.monotonic_ns)
            .collect();
        fresh.sort_unstable();
        assert_eq!(fresh, vec![0, SECOND / 3, 2 * SECOND / 3]);
    }

    #[test]
    fn a_stopped_schedule_sends_nothing() {
        let mut s = schedule(1, SECOND);
        s.stop();
        assert!(s.due(at(0)).is_none());
        assert!(s.next_due().is_none());
    }
}
