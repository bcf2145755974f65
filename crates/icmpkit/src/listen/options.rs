//! How to listen: [`ListenOptions`].

use crate::builder::options_builder;
use crate::socket::{MAX_BATCH, TypeFilter};
use crate::{Error, InvalidReason};

use super::MAX_PACKET;

/// How to listen; [`ListenOptions::builder`] sets what differs from the
/// defaults (every type, 64 messages per call, whole packets):
///
/// ```
/// use icmpkit::listen::ListenOptions;
/// use icmpkit::socket::TypeFilter;
///
/// let opts = ListenOptions::builder()
///     .type_filter(TypeFilter::block_all().pass(0).pass(8))
///     .batch(16)
///     .build()?;
/// assert_eq!(opts.batch, 16);
/// assert!(ListenOptions::builder().batch(0).build().is_err());
/// # Ok::<(), icmpkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenOptions {
    /// Only packets arriving on this interface (`SO_BINDTODEVICE`).
    pub interface: Option<String>,
    /// Which types the kernel passes (default: all).
    pub type_filter: TypeFilter,
    /// Receive buffer in bytes; set with `SO_RCVBUFFORCE` when privileged
    /// (above `net.core.rmem_max`), else capped by it.
    pub recv_buffer: usize,
    /// Messages taken per system call, 1 to [`MAX_BATCH`] (each has its
    /// own `snap_len` buffer).
    pub batch: usize,
    /// Bytes kept of each message (longer ones are cut and flagged).
    pub snap_len: usize,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            interface: None,
            type_filter: TypeFilter::pass_all(),
            recv_buffer: 8 << 20,
            batch: 64,
            snap_len: MAX_PACKET,
        }
    }
}

impl ListenOptions {
    /// Rejects a batch of 0 or beyond what one `recvmmsg` takes.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(Error::invalid(
                "batch",
                InvalidReason::Between {
                    min: 1,
                    max: MAX_BATCH as u64,
                    got: Some(self.batch as u64),
                },
            ));
        }
        Ok(())
    }
}

options_builder! {
    /// Builds [`ListenOptions`]: `ListenOptions::builder().batch(16).build()?`.
    ListenOptionsBuilder builds ListenOptions {
        /// Only packets arriving on this interface.
        interface(name: impl Into<String>) interface = Some(name.into());
        /// Which types the kernel passes (default: all).
        type_filter(filter: TypeFilter) type_filter = filter;
        /// Receive buffer in bytes (default 8 MiB).
        recv_buffer(bytes: usize) recv_buffer = bytes;
        /// Messages taken per system call, 1 to [`MAX_BATCH`] (default 64).
        batch(messages: usize) batch = messages;
        /// Bytes kept of each message (default: whole packets).
        snap_len(bytes: usize) snap_len = bytes;
    }
}
