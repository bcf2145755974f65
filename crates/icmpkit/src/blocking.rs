//! The blocking forms of the async APIs (`ping_blocking`,
//! `multiping_blocking`, `traceroute_blocking`, `send_and_receive_blocking`)
//! run their future here, on a runtime of their own.

use std::future::Future;

use crate::{Error, Result};

/// Runs `future` to completion on a new single-threaded runtime (the work
/// is I/O bound); fails with [`Error::Io`] if the runtime cannot start.
pub(crate) fn run<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the runtime".into(),
            source,
        })?
        .block_on(future)
}
