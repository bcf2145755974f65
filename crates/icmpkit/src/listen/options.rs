//! How to listen: [`ListenOptions`].

use crate::socket::{MAX_BATCH, TypeFilter};
use crate::{Error, InvalidReason};

use super::MAX_PACKET;

/// How to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
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
