//! The send-rate limit: a token bucket, on the monotonic clock, with no
//! I/O (the caller passes the time). The rate is exact: whole packets per
//! second (`--rate`) or one packet per interval to the nanosecond (fping's
//! `-i 0.7` ms, `-i 700` ms), not rounded to packets per second.

/// Tokens refilled continuously at `per` tokens every `period_ns`, with a
/// small burst so that batched sends (one `sendmmsg` of many probes) stay
/// within the rate on average without waking up for every packet.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens per `period_ns`; 0 = unlimited.
    per: u64,
    period_ns: u64,
    /// Most units held at once (a burst of tokens).
    cap: u128,
    /// Tokens, in units of 1/`period_ns` of a token-period: a token is
    /// `period_ns` units and a nanosecond adds `per` units, so no rounding
    /// creeps in.
    units: u128,
    last_ns: Option<u64>,
}

const SECOND_NS: u64 = 1_000_000_000;

impl TokenBucket {
    /// `rate` packets per second (0: no limit), bursts of at most `burst`.
    pub fn new(rate: u64, burst: u64) -> TokenBucket {
        TokenBucket {
            per: rate,
            period_ns: SECOND_NS,
            cap: u128::from(burst.max(1)) * u128::from(SECOND_NS),
            units: 0,
            last_ns: None,
        }
    }

    /// One packet every `interval` (zero: no limit), no bursts: at most
    /// one token plus `slack` of credit is held, so that a wake-up late by
    /// up to `slack` (timer granularity) is made up by the next sends and
    /// the interval holds on average, even below a millisecond.
    pub fn with_interval(interval: std::time::Duration, slack: std::time::Duration) -> TokenBucket {
        let period_ns = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        let slack_ns = u64::try_from(slack.as_nanos()).unwrap_or(u64::MAX);
        TokenBucket {
            per: u64::from(period_ns > 0),
            period_ns: period_ns.max(1),
            cap: u128::from(period_ns.max(1)) + u128::from(slack_ns),
            units: 0,
            last_ns: None,
        }
    }

    #[cfg(test)]
    /// The configured rate in packets per second, rounded (0: unlimited).
    pub fn rate(&self) -> u64 {
        (u128::from(self.per) * u128::from(SECOND_NS) / u128::from(self.period_ns)) as u64
    }

    fn token(&self) -> u128 {
        u128::from(self.period_ns)
    }

    fn refill(&mut self, now_ns: u64) {
        let cap = self.cap;
        match self.last_ns {
            // Start full enough for one packet, not a whole burst, so that
            // the first second holds at most `rate` packets (+1).
            None => self.units = self.token(),
            Some(last) => {
                let elapsed = u128::from(now_ns.saturating_sub(last));
                self.units = (self.units + elapsed * u128::from(self.per)).min(cap);
            }
        }
        self.last_ns = Some(now_ns.max(self.last_ns.unwrap_or(0)));
    }

    /// Takes up to `want` tokens at `now_ns`; returns how many it got.
    pub fn take(&mut self, now_ns: u64, want: u64) -> u64 {
        if self.per == 0 {
            return want;
        }
        self.refill(now_ns);
        let got = (self.units / self.token()).min(u128::from(want)) as u64;
        self.units -= u128::from(got) * self.token();
        got
    }

    /// When (monotonic ns) the next token will be there, `now_ns` if it is.
    pub fn next_token_ns(&mut self, now_ns: u64) -> u64 {
        if self.per == 0 {
            return now_ns;
        }
        self.refill(now_ns);
        let missing = self.token().saturating_sub(self.units);
        let wait = missing.div_ceil(u128::from(self.per));
        now_ns.saturating_add(u64::try_from(wait).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn unlimited_grants_everything() {
        let mut b = TokenBucket::new(0, 1);
        assert_eq!(b.take(0, 1_000_000), 1_000_000);
        assert_eq!(b.next_token_ns(5), 5);
    }

    #[test]
    fn holds_the_rate_over_time() {
        let mut b = TokenBucket::new(10_000, 64);
        let mut sent = 0;
        let mut now = 0;
        // Poll every 100 µs for one second, asking for a full batch each time.
        while now <= SECOND {
            sent += b.take(now, 64);
            now += 100_000;
        }
        assert!((10_000..=10_001).contains(&sent), "{sent}");
    }

    #[test]
    fn intervals_are_kept_to_the_nanosecond() {
        const MS: u64 = 1_000_000;
        const SLACK: std::time::Duration = std::time::Duration::from_millis(2);
        // fping -i 700: 0, 700, 1400 ms (rounded to 1 pps it was 1000 ms).
        let mut b = TokenBucket::with_interval(std::time::Duration::from_millis(700), SLACK);
        assert_eq!(b.take(0, 5), 1);
        assert_eq!(b.next_token_ns(0), 700 * MS);
        assert_eq!(b.take(700 * MS - 1, 1), 0);
        assert_eq!(b.take(700 * MS, 5), 1);
        assert_eq!(b.next_token_ns(700 * MS), 1400 * MS);
        // -i 0.25: 4000 per second, not 1000/0.25 rounded elsewhere.
        let mut b = TokenBucket::with_interval(std::time::Duration::from_micros(250), SLACK);
        let mut sent = 0;
        let mut now = 0;
        while now < SECOND {
            sent += b.take(now, 64);
            now += 10_000;
        }
        assert_eq!(sent, 4000);
        assert_eq!(b.rate(), 4000);
        // -i 300: 333 ms between packets was the rounding; 300 it is.
        let mut b = TokenBucket::with_interval(std::time::Duration::from_millis(300), SLACK);
        b.take(0, 1);
        assert_eq!(b.next_token_ns(0), 300 * MS);
        // Woken only every millisecond (a coarse timer), -i 0.25 still
        // sends 4 a millisecond: the lateness is made up, not lost.
        let mut b = TokenBucket::with_interval(std::time::Duration::from_micros(250), SLACK);
        let mut sent = 0;
        let mut now = 0;
        while now < 100 * MS {
            sent += b.take(now, 64);
            now += MS + MS / 3;
        }
        assert!((399..=401).contains(&sent), "{sent}");
        // ...but an idle spell buys no burst: one token and the slack.
        let mut b = TokenBucket::with_interval(std::time::Duration::from_millis(700), SLACK);
        assert_eq!(b.take(0, 5), 1);
        assert_eq!(b.take(10_000 * MS, 5), 1);
        assert_eq!(b.next_token_ns(10_000 * MS), 10_698 * MS);
        // Zero: no limit.
        let mut b = TokenBucket::with_interval(std::time::Duration::ZERO, SLACK);
        assert_eq!(b.take(0, 1000), 1000);
    }

    #[test]
    fn burst_caps_savings_and_next_token_is_exact() {
        let mut b = TokenBucket::new(1000, 8);
        assert_eq!(b.take(0, 100), 1);
        // Idle for a second: at most a burst is saved.
        assert_eq!(b.take(SECOND, 100), 8);
        assert_eq!(b.take(SECOND, 1), 0);
        assert_eq!(b.next_token_ns(SECOND), SECOND + 1_000_000);
        assert_eq!(b.take(SECOND + 999_999, 1), 0);
        assert_eq!(b.take(SECOND + 1_000_000, 1), 1);
    }
}
