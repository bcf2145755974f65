//! Round-trip statistics, in one place for ping, sweep and trace: exact
//! figures in nanoseconds for the library's reports ([`RttSummary`]),
//! iputils' integer-microsecond ones for output that must read as
//! iputils' does ([`IputilsRtt`]), icmplib's jitter, and the loss ratio.
//! Constant memory: running sums, never the samples (an endless ping keeps
//! one of these for hours); callers that want RTTs listed keep them
//! themselves, as many as they can afford.

use std::collections::VecDeque;
use std::time::Duration;

/// Accumulated RTT figures of one target, in constant memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RttStats {
    count: u64,
    /// The sum of the RTTs in nanoseconds, exactly.
    sum_ns: u128,
    /// The sum of their squares, in ns², exactly (saturating past 2¹²⁸,
    /// some 10¹⁹ RTTs of a second).
    sum_sq_ns: u128,
    min_ns: Option<u64>,
    max_ns: u64,
    last: Option<Duration>,
    /// Sum of |RTTᵢ − RTTᵢ₋₁| in nanoseconds, for the jitter.
    jitter_sum_ns: u128,
    /// iputils' own sums, over RTTs truncated to microseconds.
    iputils: IputilsSums,
}

/// What iputils ping sums (`tsum`, `tsum2`, `tmin`, `tmax`, its EWMA).
#[derive(Debug, Clone, Default, PartialEq)]
struct IputilsSums {
    /// `tsum`: the RTTs in whole microseconds.
    sum_us: i64,
    /// `tsum2`, the sum of their squares, exactly (iputils adds in a
    /// double, exact up to 2⁵³ µs²; this never rounds).
    sum_sq_us: i128,
    min_us: i64,
    max_us: i64,
    /// iputils' EWMA of the RTT, scaled by 8 (its `rtt` field).
    ewma_x8_us: i64,
}

impl IputilsSums {
    fn record(&mut self, rtt: Duration, first: bool) {
        let us = i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX);
        self.sum_us = self.sum_us.saturating_add(us);
        self.sum_sq_us = self
            .sum_sq_us
            .saturating_add(i128::from(us) * i128::from(us));
        self.min_us = if first { us } else { self.min_us.min(us) };
        self.max_us = self.max_us.max(us);
        self.ewma_x8_us = if self.ewma_x8_us == 0 {
            us.saturating_mul(8)
        } else {
            self.ewma_x8_us.saturating_add(us) - self.ewma_x8_us / 8
        };
    }
}

/// The RTT figures every report carries (ping, each sweep target, each
/// trace hop), exact to the nanosecond. `None` without replies (and
/// `jitter` with fewer than two).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RttSummary {
    /// Smallest RTT.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "min_rtt", serialize_with = "crate::serde_ms::option")
    )]
    pub min: Option<Duration>,
    /// Mean RTT.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "avg_rtt", serialize_with = "crate::serde_ms::option")
    )]
    pub avg: Option<Duration>,
    /// Largest RTT.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "max_rtt", serialize_with = "crate::serde_ms::option")
    )]
    pub max: Option<Duration>,
    /// Standard deviation (iputils calls it mdev; traceroute's and mtr's
    /// stddev).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::option"))]
    pub mdev: Option<Duration>,
    /// Mean absolute difference between consecutive RTTs (icmplib's
    /// jitter).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::option"))]
    pub jitter: Option<Duration>,
}

impl RttSummary {
    /// The figures of `rtts`, in the order they came (jitter depends on
    /// it): e.g. one responder's share of an ECMP hop.
    pub fn of(rtts: &[Duration]) -> RttSummary {
        let mut stats = RttStats::default();
        for &rtt in rtts {
            stats.record(rtt);
        }
        stats.summary()
    }
}

/// iputils ping's figures, from RTTs truncated to whole microseconds, with
/// its integer arithmetic: what its `rtt min/avg/max/mdev` line prints
/// (`%ld.%03ld` ms of these). The library's own figures are
/// [`RttSummary`]'s, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IputilsRtt {
    /// `tmin`.
    pub min: Duration,
    /// `tsum / n`.
    pub avg: Duration,
    /// `tmax`.
    pub max: Duration,
    /// Its mdev: `(tsum2 - tsum²/n) / n` (or `tsum2/n - avg²` once `tsum`
    /// reaches `INT_MAX`), then its integer square root.
    pub mdev: Duration,
}

/// The share of `sent` probes that got no reply, 0 to 1 (0 with nothing
/// sent; duplicates never make it negative).
pub fn loss(sent: u64, received: u64) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    (sent - received.min(sent)) as f64 / sent as f64
}

impl RttStats {
    /// Adds one RTT sample.
    pub fn record(&mut self, rtt: Duration) {
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        let first = self.count == 0;
        self.count += 1;
        self.sum_ns = self.sum_ns.saturating_add(u128::from(ns));
        self.sum_sq_ns = self
            .sum_sq_ns
            .saturating_add(u128::from(ns) * u128::from(ns));
        self.min_ns = Some(self.min_ns.map_or(ns, |m| m.min(ns)));
        self.max_ns = self.max_ns.max(ns);
        self.iputils.record(rtt, first);
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
        self.min_ns.map(Duration::from_nanos)
    }

    /// Largest RTT.
    pub fn max(&self) -> Option<Duration> {
        self.min_ns.map(|_| Duration::from_nanos(self.max_ns))
    }

    /// Mean RTT, to the nanosecond (truncated below it).
    pub fn avg(&self) -> Option<Duration> {
        let n = u128::from(self.count).max(1);
        (self.count > 0).then(|| nanos(self.sum_ns / n))
    }

    /// Standard deviation of the RTTs (the population's, as iputils' mdev
    /// and mtr's stddev), to the nanosecond: √(n·Σx² − (Σx)²) / n, the
    /// root taken exactly in integers.
    pub fn mdev(&self) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let n = u128::from(self.count);
        let spread = n
            .checked_mul(self.sum_sq_ns)
            .zip(self.sum_ns.checked_mul(self.sum_ns))
            .map(|(a, b)| a.saturating_sub(b).isqrt() / n);
        // Past u128 (sums of squares beyond 10³⁸ ns²): floating point.
        let spread = spread.unwrap_or_else(|| {
            let mean = self.sum_ns as f64 / n as f64;
            let var = (self.sum_sq_ns as f64 / n as f64 - mean * mean).max(0.0);
            var.sqrt() as u128
        });
        Some(nanos(spread))
    }

    /// icmplib's jitter: the mean absolute difference between consecutive
    /// RTTs, truncated to whole nanoseconds (`None` with fewer than two
    /// samples).
    pub fn jitter(&self) -> Option<Duration> {
        let gaps = self.count.checked_sub(1).filter(|&g| g > 0)?;
        Some(nanos(self.jitter_sum_ns / u128::from(gaps)))
    }

    /// The exact figures, as reports carry them.
    pub fn summary(&self) -> RttSummary {
        RttSummary {
            min: self.min(),
            avg: self.avg(),
            max: self.max(),
            mdev: self.mdev(),
            jitter: self.jitter(),
        }
    }

    /// iputils' figures (`None` without samples): for output that must
    /// read exactly as iputils ping's.
    pub fn iputils(&self) -> Option<IputilsRtt> {
        let n = i64::try_from(self.count).ok().filter(|&n| n > 0)?;
        let sums = &self.iputils;
        let wide_n = i128::from(n);
        let sum = i128::from(sums.sum_us);
        let var = if sums.sum_us < i64::from(i32::MAX) {
            (sums.sum_sq_us - sum * sum / wide_n) / wide_n
        } else {
            let avg = sum / wide_n;
            sums.sum_sq_us / wide_n - avg * avg
        };
        let var = i64::try_from(var.max(0)).unwrap_or(i64::MAX);
        Some(IputilsRtt {
            min: us(sums.min_us),
            avg: us(sums.sum_us / n),
            max: us(sums.max_us),
            mdev: us(integer_sqrt(var)),
        })
    }

    /// iputils' exponentially weighted moving average (shown with -f / -A).
    pub fn ewma(&self) -> Option<Duration> {
        (self.count > 0).then(|| us(self.iputils.ewma_x8_us / 8))
    }
}

/// `ns` as a duration, saturating at `u64::MAX` ns.
fn nanos(ns: u128) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
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

    #[cfg(test)]
    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    #[cfg(test)]
    /// True if nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    #[cfg(test)]
    /// The most values it keeps.
    pub fn limit(&self) -> usize {
        self.limit
    }

    #[cfg(test)]
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
        let s = stats(&[355, 52, 49]).iputils().unwrap();
        let us = Duration::from_micros;
        assert_eq!(
            (s.min, s.avg, s.max, s.mdev),
            (us(49), us(152), us(355), us(143))
        );
    }

    /// The trial's report: an average of 16 µs where the mean of its own
    /// RTTs is 17.48 µs. The library's figures are exact now; iputils'
    /// (what the CLI prints) still truncate as iputils does.
    #[test]
    fn the_library_s_figures_are_exact_to_the_nanosecond() {
        let mut s = RttStats::default();
        for ns in [16_900, 16_900, 18_640] {
            s.record(Duration::from_nanos(ns));
        }
        assert_eq!(s.avg(), Some(Duration::from_nanos(17_480)));
        assert_eq!(s.min(), Some(Duration::from_nanos(16_900)));
        assert_eq!(s.max(), Some(Duration::from_nanos(18_640)));
        // Population standard deviation of 16.9, 16.9, 18.64 µs: 820.24 ns.
        assert_eq!(s.mdev(), Some(Duration::from_nanos(820)));
        let iputils = s.iputils().unwrap();
        assert_eq!(iputils.avg, Duration::from_micros(16));
        assert_eq!(iputils.min, Duration::from_micros(16));
        assert_eq!(iputils.max, Duration::from_micros(18));
        let summary = s.summary();
        assert_eq!((summary.avg, summary.mdev), (s.avg(), s.mdev()));
    }

    #[test]
    fn loss_is_the_unanswered_share() {
        assert_eq!(loss(0, 0), 0.0);
        assert_eq!(loss(4, 3), 0.25);
        assert_eq!(loss(4, 0), 1.0);
        // Duplicates can make received exceed sent: never negative.
        assert_eq!(loss(2, 5), 0.0);
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
        assert_eq!(s.iputils(), None);
        assert_eq!(s.summary(), RttSummary::default());
    }

    fn assert_matches_naive(samples: &[Duration]) {
        let mut s = RttStats::default();
        for &d in samples {
            s.record(d);
        }
        let want = naive(samples);
        let iputils = s.iputils().unwrap();
        assert_eq!(s.count(), samples.len() as u64);
        assert_eq!(iputils.min, want.min, "min");
        assert_eq!(iputils.avg, want.avg, "avg");
        assert_eq!(iputils.max, want.max, "max");
        assert_eq!(iputils.mdev, want.mdev, "mdev");
        assert_eq!(s.jitter(), want.jitter, "jitter");
        assert_eq!(s.ewma(), Some(want.ewma), "ewma");
        assert_eq!(s.last(), samples.last().copied(), "last");
        // The exact figures, against floating point over every sample.
        let ns: Vec<f64> = samples.iter().map(|d| d.as_nanos() as f64).collect();
        let n = ns.len() as f64;
        let mean = ns.iter().sum::<f64>() / n;
        let sd = (ns.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
        let close = |got: Option<Duration>, want: f64, what| {
            let got = got.unwrap().as_nanos() as f64;
            // Truncation to whole ns, plus f64's own rounding.
            assert!(
                (got - want).abs() <= 1.0 + want * 1e-12,
                "{what}: {got} vs {want}"
            );
        };
        close(s.avg(), mean, "exact avg");
        close(s.mdev(), sd, "exact mdev");
        assert_eq!(s.min(), samples.iter().min().copied(), "exact min");
        assert_eq!(s.max(), samples.iter().max().copied(), "exact max");
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
}
