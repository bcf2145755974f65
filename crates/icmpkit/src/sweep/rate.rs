//! The send-rate limit: a token bucket in packets per second, on the
//! monotonic clock, with no I/O (the caller passes the time).

/// Packets per second, refilled continuously, with a small burst so that
/// batched sends (one `sendmmsg` of many probes) stay within the rate on
/// average without waking up for every packet.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Packets per second; 0 = unlimited.
    rate: u64,
    /// Most tokens held at once.
    burst: u64,
    /// Tokens, in units of 1/rate-second ("nanotokens": tokens × 10⁹).
    nanotokens: u128,
    last_ns: Option<u64>,
}

impl TokenBucket {
    /// `rate` packets per second (0: no limit), bursts of at most `burst`.
    pub fn new(rate: u64, burst: u64) -> TokenBucket {
        TokenBucket {
            rate,
            burst: burst.max(1),
            nanotokens: 0,
            last_ns: None,
        }
    }

    /// The configured rate (0: unlimited).
    pub fn rate(&self) -> u64 {
        self.rate
    }

    fn refill(&mut self, now_ns: u64) {
        let cap = u128::from(self.burst) * 1_000_000_000;
        match self.last_ns {
            // Start full enough for one packet, not a whole burst, so that
            // the first second holds at most `rate` packets (+1).
            None => self.nanotokens = 1_000_000_000,
            Some(last) => {
                let elapsed = u128::from(now_ns.saturating_sub(last));
                self.nanotokens = (self.nanotokens + elapsed * u128::from(self.rate)).min(cap);
            }
        }
        self.last_ns = Some(now_ns.max(self.last_ns.unwrap_or(0)));
    }

    /// Takes up to `want` tokens at `now_ns`; returns how many it got.
    pub fn take(&mut self, now_ns: u64, want: u64) -> u64 {
        if self.rate == 0 {
            return want;
        }
        self.refill(now_ns);
        let got = (self.nanotokens / 1_000_000_000).min(u128::from(want)) as u64;
        self.nanotokens -= u128::from(got) * 1_000_000_000;
        got
    }

    /// When (monotonic ns) the next token will be there, `now_ns` if it is.
    pub fn next_token_ns(&mut self, now_ns: u64) -> u64 {
        if self.rate == 0 {
            return now_ns;
        }
        self.refill(now_ns);
        let missing = 1_000_000_000u128.saturating_sub(self.nanotokens);
        let wait = missing.div_ceil(u128::from(self.rate));
        now_ns.saturating_add(wait as u64)
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
