//! What every command shares around its work: the async runtime it runs on
//! and the parsing of time flags.

use std::future::Future;
use std::time::Duration;

/// Runs a command's `future` on a single-threaded runtime (the work is I/O
/// bound, and dropping privileges wants no extra threads) and returns its
/// exit code; if the runtime cannot start, says so and returns `on_failure`.
pub fn block_on(future: impl Future<Output = i32>, on_failure: i32) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(future),
        Err(e) => {
            eprintln!("icmpkit: cannot start the async runtime: {e}");
            on_failure
        }
    }
}

/// A time flag given in (fractional) seconds, as ping and traceroute take
/// them; `flag` names it in the error (`-i`, `--interval`...).
pub fn seconds(flag: &str, v: f64) -> Result<Duration, String> {
    if !v.is_finite() || !(0.0..=1e6).contains(&v) {
        return Err(format!("bad value for {flag}: {v} (seconds, 0 to 1000000)"));
    }
    Ok(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accepts_fractions_and_refuses_nonsense() {
        assert_eq!(seconds("-i", 0.2), Ok(Duration::from_millis(200)));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert!(seconds("-i", bad).unwrap_err().contains("-i"), "{bad}");
        }
    }

    #[test]
    fn block_on_returns_the_code() {
        assert_eq!(block_on(async { 7 }, 2), 7);
    }
}
