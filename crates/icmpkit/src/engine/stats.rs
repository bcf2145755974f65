//! Round-trip statistics, computed exactly as iputils ping does (integer
//! microseconds, its mdev formula) so that our summary line matches theirs,
//! plus icmplib's jitter. Constant memory: running sums, never the samples
//! (an endless ping keeps one of these for hours); callers that want RTTs
//! listed keep them themselves, as many as they can afford.

use std::collections::VecDeque;
use std::time::Duration;

/// Accumulated RTT figures of one target, in constant memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RttStats {
    count: u64,
    /// iputils' `tsum`: the sum of the RTTs in whole microseconds.
    sum_us: i64,
    /// iputils' `tsum2`, the sum of their squares, exactly (iputils adds
    /// in a double, exact up to 2⁵³ µs²; this never rounds).
    sum_sq_us: i128,
    min_us: Option<i64>,
    max_us: i64,
    /// iputils' EWMA of the RTT, scaled by 8 (its `rtt` field).
    ewma_x8_us: i64,
    last: Option<Duration>,
    /// Sum of |RTTᵢ − RTTᵢ₋₁| in nanoseconds, for the jitter.
    jitter_sum_ns: u128,
}

impl RttStats {
    /// Adds one RTT sample.
    pub fn record(&mut self, rtt: Duration) {
        let us = i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.sum_sq_us = self
            .sum_sq_us
            .saturating_add(i128::from(us) * i128::from(us));
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.max_us = self.max_us.max(us);
        self.ewma_x8_us = if self.ewma_x8_us == 0 {
            us.saturating_mul(8)
        } else {
            self.ewma_x8_us.saturating_add(us) - self.ewma_x8_us / 8
        };
        if let Some(last) = self.last {
            self.jitter_sum_ns += last.abs_diff(rtt).as_nanos();
        }
        self.last = Some(rtt);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The latest sample (mtr's `Last`).
    pub fn last(&self) -> Option<Duration> {
        self.last
    }

    /// Smallest RTT.
    pub fn min(&self) -> Option<Duration> {
        self.min_us.map(us)
    }

    /// Largest RTT.
    pub fn max(&self) -> Option<Duration> {
        self.min_us.map(|_| us(self.max_us))
    }

    /// Mean RTT, truncated to whole microseconds as iputils does.
    pub fn avg(&self) -> Option<Duration> {
        let n = i64::try_from(self.count).ok().filter(|&n| n > 0)?;
        Some(us(self.sum_us / n))
    }

    /// iputils' mdev: the standard deviation, with its integer arithmetic
    /// (`(tsum2 - tsum²/n) / n`, or `tsum2/n - avg²` once `tsum` reaches
    /// `INT_MAX`, then an integer square root).
    pub fn mdev(&self) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let n = i128::from(self.count);
        let sum = i128::from(self.sum_us);
        let var = if self.sum_us < i64::from(i32::MAX) {
            (self.sum_sq_us - sum * sum / n) / n
        } else {
            let avg = sum / n;
            self.sum_sq_us / n - avg * avg
        };
        let var = i64::try_from(var.max(0)).unwrap_or(i64::MAX);
        Some(us(integer_sqrt(var)))
    }

    /// icmplib's jitter: the mean absolute difference between consecutive
    /// RTTs, truncated to whole nanoseconds (`None` with fewer than two
    /// samples).
    pub fn jitter(&self) -> Option<Duration> {
        let gaps = self.count.checked_sub(1).filter(|&g| g > 0)?;
        let mean = self.jitter_sum_ns / u128::from(gaps);
        Some(Duration::from_nanos(
            u64::try_from(mean).unwrap_or(u64::MAX),
        ))
    }

    /// iputils' exponentially weighted moving average (shown with -f / -A).
    pub fn ewma(&self) -> Option<Duration> {
        (self.count > 0).then(|| us(self.ewma_x8_us / 8))
    }
}

/// The last `limit` values pushed, oldest first: what a report lists of an
/// unbounded series (RTTs, errors) without holding all of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recent<T> {
    values: VecDeque<T>,
    limit: usize,
}

impl<T> Recent<T> {
    /// Keeps at most `limit` values (at least one).
    pub fn new(limit: usize) -> Recent<T> {
        Recent {
            values: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Adds `value`, forgetting the oldest one if full.
    pub fn push(&mut self, value: T) {
        // Make room first: the deque never grows past `limit`.
        if self.values.len() == self.limit {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    /// The values kept, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T> + '_ {
        self.values.iter()
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The most values it keeps.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Values it has room for without reallocating (never beyond what
    /// `limit` values need, give or take the allocator's rounding).
    pub fn capacity(&self) -> usize {
        self.values.capacity()
    }
}

impl<T: Clone> Recent<T> {
    /// The values kept, oldest first, as a vector.
    pub fn to_vec(&self) -> Vec<T> {
        self.values.iter().cloned().collect()
    }
}

fn us(v: i64) -> Duration {
    Duration::from_micros(v.max(0) as u64)
}

/// Newton's integer square root, as iputils' `llsqrt`.
fn integer_sqrt(a: i64) -> i64 {
    if a <= 0 {
        return 0;
    }
    let mut x = a;
    let mut prev = i64::MAX;
    while x < prev {
        prev = x;
        x = (x + a / x) / 2;
    }
    x
}

/// Formats microseconds as iputils' `%ld.%03ld` milliseconds.
pub fn format_ms3(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// Formats an RTT as iputils does on a reply line (`time=` value): more
/// digits for short times, fewer for long.
pub fn format_reply_time(d: Duration) -> String {
    let t = d.as_micros();
    if t >= 100_000 - 50 {
        format!("{}", (t + 500) / 1000)
    } else if t >= 10_000 - 5 {
        format!("{}.{:01}", (t + 50) / 1000, ((t + 50) % 1000) / 100)
    } else if t >= 1000 {
        format!("{}.{:02}", (t + 5) / 1000, ((t + 5) % 1000) / 10)
    } else {
        format!("{}.{:03}", t / 1000, t % 1000)
    }
}

/// The reference the streaming figures are tested against.
#[cfg(test)]
pub(crate) mod reference {
    use std::time::Duration;

    /// The figures recomputed from every sample, with iputils' formulas
    /// (gather_statistics and finish) over sums taken at the end, exactly
    /// (the reference the streaming figures must equal).
    pub(crate) struct Naive {
        pub min: Duration,
        pub avg: Duration,
        pub max: Duration,
        pub mdev: Duration,
        pub jitter: Option<Duration>,
        pub ewma: Duration,
    }

    pub(crate) fn naive(samples: &[Duration]) -> Naive {
        let us_of = |d: &Duration| d.as_micros() as i128;
        let n = samples.len() as i128;
        let tsum: i128 = samples.iter().map(us_of).sum();
        let tsum2: i128 = samples.iter().map(|d| us_of(d) * us_of(d)).sum();
        let avg = tsum / n;
        let var = if tsum < i128::from(i32::MAX) {
            (tsum2 - tsum * tsum / n) / n
        } else {
            tsum2 / n - avg * avg
        }
        .max(0);
        // iputils' own llsqrt (Newton's method, which can end one above
        // the floor: llsqrt(288) is 17).
        let root = i128::from(super::integer_sqrt(var as i64));
        let micros = |v: i128| Duration::from_micros(v as u64);
        let jitter = (samples.len() >= 2).then(|| {
            let gaps: u128 = samples
                .windows(2)
                .map(|w| w[0].abs_diff(w[1]).as_nanos())
                .sum();
            Duration::from_nanos((gaps / (samples.len() as u128 - 1)) as u64)
        });
        let mut ewma_x8 = 0i128;
        for s in samples {
            let v = us_of(s);
            ewma_x8 = if ewma_x8 == 0 {
                v * 8
            } else {
                ewma_x8 + v - ewma_x8 / 8
            };
        }
        Naive {
            min: micros(samples.iter().map(us_of).min().unwrap()),
            avg: micros(avg),
            max: micros(samples.iter().map(us_of).max().unwrap()),
            mdev: micros(root),
            jitter,
            ewma: micros(ewma_x8 / 8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::naive;
    use super::*;

    fn stats(us_values: &[u64]) -> RttStats {
        let mut s = RttStats::default();
        for &v in us_values {
            s.record(Duration::from_micros(v));
        }
        s
    }

    #[test]
    fn matches_iputils_summary_of_a_real_run() {
        // iputils printed "rtt min/avg/max/mdev = 0.049/0.152/0.355/0.143 ms"
        // for replies of 355, 52 and 49 µs.
        let s = stats(&[355, 52, 49]);
        assert_eq!(format_ms3(s.min().unwrap()), "0.049");
        assert_eq!(format_ms3(s.avg().unwrap()), "0.152");
        assert_eq!(format_ms3(s.max().unwrap()), "0.355");
        assert_eq!(format_ms3(s.mdev().unwrap()), "0.143");
    }

    #[test]
    fn square_root_is_iputils_llsqrt() {
        // Newton's iteration stops when it no longer decreases, which is
        // sometimes one above the floor: iputils prints that, so do we.
        assert_eq!(integer_sqrt(288), 17);
        assert_eq!(integer_sqrt(289), 17);
        assert_eq!(integer_sqrt(99), 10);
        assert_eq!(integer_sqrt(98), 9);
        assert_eq!(integer_sqrt(0), 0);
    }

    #[test]
    fn jitter_is_mean_consecutive_difference() {
        let s = stats(&[1000, 3000, 2000]);
        assert_eq!(s.jitter(), Some(Duration::from_micros(1500)));
        assert_eq!(stats(&[1000]).jitter(), None);
    }

    #[test]
    fn empty_has_no_figures() {
        let s = RttStats::default();
        assert_eq!(
            (s.min(), s.avg(), s.max(), s.mdev()),
            (None, None, None, None)
        );
    }

    fn assert_matches_naive(samples: &[Duration]) {
        let mut s = RttStats::default();
        for &d in samples {
            s.record(d);
        }
        let want = naive(samples);
        assert_eq!(s.count(), samples.len() as u64);
        assert_eq!(s.min(), Some(want.min), "min");
        assert_eq!(s.avg(), Some(want.avg), "avg");
        assert_eq!(s.max(), Some(want.max), "max");
        assert_eq!(s.mdev(), Some(want.mdev), "mdev");
        assert_eq!(s.jitter(), want.jitter, "jitter");
        assert_eq!(s.ewma(), Some(want.ewma), "ewma");
        assert_eq!(s.last(), samples.last().copied(), "last");
    }

    proptest::proptest! {
        /// Sub-millisecond to seconds-long RTTs at nanosecond precision:
        /// both of iputils' mdev branches (`tsum` below and past INT_MAX µs).
        #[test]
        fn streaming_figures_equal_the_naive_ones(
            ns in proptest::collection::vec(0u64..5_000_000_000, 1..400)
        ) {
            let samples: Vec<Duration> = ns.into_iter().map(Duration::from_nanos).collect();
            assert_matches_naive(&samples);
        }

        /// Small, close RTTs: where the clumsy computation order matters.
        #[test]
        fn streaming_figures_equal_the_naive_ones_for_loopback_rtts(
            us in proptest::collection::vec(1u64..60, 1..2000)
        ) {
            let samples: Vec<Duration> = us.into_iter().map(Duration::from_micros).collect();
            assert_matches_naive(&samples);
        }
    }

    /// A million 100 ms RTTs: iputils' double `tsum2` would no longer be
    /// exact (past 2⁵³ µs²); ours still is.
    #[test]
    fn a_million_samples_stay_exact() {
        let samples: Vec<Duration> = (0..1_000_000u64)
            .map(|i| Duration::from_micros(100_000 + (i * 7919) % 997))
            .collect();
        assert_matches_naive(&samples);
    }

    #[test]
    fn recent_keeps_the_last_values_within_its_limit() {
        let mut r = Recent::new(4);
        assert!(r.is_empty());
        for i in 0..1000 {
            r.push(i);
            assert!(
                r.len() <= 4 && r.capacity() <= 8,
                "{} {}",
                r.len(),
                r.capacity()
            );
        }
        assert_eq!(r.to_vec(), vec![996, 997, 998, 999]);
        assert_eq!(r.limit(), 4);
        assert_eq!(Recent::<u8>::new(0).limit(), 1, "a limit of 0 keeps one");
    }

    #[test]
    fn reply_time_precision_follows_iputils() {
        assert_eq!(format_reply_time(Duration::from_micros(45)), "0.045");
        assert_eq!(format_reply_time(Duration::from_micros(1234)), "1.23");
        assert_eq!(format_reply_time(Duration::from_micros(12_345)), "12.3");
        assert_eq!(format_reply_time(Duration::from_micros(123_456)), "123");
    }
}
