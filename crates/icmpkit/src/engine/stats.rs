//! Round-trip statistics, computed exactly as iputils ping does (integer
//! microseconds, its mdev formula) so that our summary line matches theirs,
//! plus icmplib's jitter.

use std::time::Duration;

/// Accumulated RTT figures of one target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RttStats {
    /// Every RTT, in arrival order (duplicates included, as iputils sums them).
    samples: Vec<Duration>,
    sum_us: i64,
    sum_sq_us: f64,
    min_us: Option<i64>,
    max_us: i64,
    /// iputils' EWMA of the RTT, scaled by 8 (its `rtt` field).
    ewma_x8_us: i64,
}

impl RttStats {
    /// Adds one RTT sample.
    pub fn record(&mut self, rtt: Duration) {
        let us = i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX);
        self.samples.push(rtt);
        self.sum_us = self.sum_us.saturating_add(us);
        self.sum_sq_us += (us as f64) * (us as f64);
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.max_us = self.max_us.max(us);
        self.ewma_x8_us = if self.ewma_x8_us == 0 {
            us * 8
        } else {
            self.ewma_x8_us + us - self.ewma_x8_us / 8
        };
    }

    /// Number of samples.
    pub fn count(&self) -> usize {
        self.samples.len()
    }

    /// The samples in arrival order.
    pub fn samples(&self) -> &[Duration] {
        &self.samples
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
        (!self.samples.is_empty()).then(|| us(self.sum_us / self.samples.len() as i64))
    }

    /// iputils' mdev: the standard deviation, with its integer arithmetic
    /// (`(tsum2 - tsum²/n) / n`, then an integer square root).
    pub fn mdev(&self) -> Option<Duration> {
        let n = self.samples.len() as i64;
        if n == 0 {
            return None;
        }
        let var = if self.sum_us < i64::from(i32::MAX) {
            let tsum2 = self.sum_sq_us as i64;
            (tsum2 - (self.sum_us * self.sum_us) / n) / n
        } else {
            let avg = self.sum_us / n;
            (self.sum_sq_us / n as f64) as i64 - avg * avg
        };
        Some(us(integer_sqrt(var.max(0))))
    }

    /// icmplib's jitter: the mean absolute difference between consecutive
    /// RTTs (`None` with fewer than two samples).
    pub fn jitter(&self) -> Option<Duration> {
        if self.samples.len() < 2 {
            return None;
        }
        let total: Duration = self.samples.windows(2).map(|w| w[0].abs_diff(w[1])).sum();
        Some(total / (self.samples.len() as u32 - 1))
    }

    /// iputils' exponentially weighted moving average (shown with -f / -A).
    pub fn ewma(&self) -> Option<Duration> {
        (!self.samples.is_empty()).then(|| us(self.ewma_x8_us / 8))
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

#[cfg(test)]
mod tests {
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

    #[test]
    fn reply_time_precision_follows_iputils() {
        assert_eq!(format_reply_time(Duration::from_micros(45)), "0.045");
        assert_eq!(format_reply_time(Duration::from_micros(1234)), "1.23");
        assert_eq!(format_reply_time(Duration::from_micros(12_345)), "12.3");
        assert_eq!(format_reply_time(Duration::from_micros(123_456)), "123");
    }
}
