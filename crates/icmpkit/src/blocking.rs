//! The blocking forms of the async APIs (`ping_blocking`,
//! `multiping_blocking`, `traceroute_blocking`, `send_and_receive_blocking`)
//! run their future here, on a runtime of their own.

use std::future::Future;

use crate::{Error, Result};

/// Runs `future` to completion on a new single-threaded runtime (the work
/// is I/O bound). Fails with [`Error::InvalidOption`] when called inside a
/// tokio runtime (blocking its thread would stall it, and tokio refuses to
/// nest runtimes: the caller has the async form to await), and with
/// [`Error::Io`] if the runtime cannot start.
pub(crate) fn run<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::BlockingInRuntime);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the runtime".into(),
            source,
        })?
        .block_on(future)
}
