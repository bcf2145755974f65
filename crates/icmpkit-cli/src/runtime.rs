//! The async runtime every command runs on.

use crate::output::errln;
use std::future::Future;

/// Runs a command's `future` on a single-threaded runtime (the work is I/O
/// bound, and dropping privileges wants no extra threads) and returns its
/// exit code; if the runtime cannot start, says so and returns `on_failure`.
///
/// Every async command runs here, so every one ends when its stdout's
/// reader goes away ([`crate::output::exit_when_stdout_closes`]).
pub fn block_on(future: impl Future<Output = i32>, on_failure: i32) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async {
            // A command waiting on the network notices a closed stdout too.
            tokio::spawn(crate::output::exit_when_stdout_closes());
            future.await
        }),
        Err(e) => {
            errln!("icmpkit: cannot start the async runtime: {e}");
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
