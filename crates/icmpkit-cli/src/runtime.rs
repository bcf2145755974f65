//! The async runtime every command runs on.

use std::future::Future;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_returns_the_code() {
        assert_eq!(block_on(async { 7 }, 2), 7);
    }
}
