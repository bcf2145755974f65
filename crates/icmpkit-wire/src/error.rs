//! The one error type of the packet model.

use core::fmt;

/// Why bytes could not be read as (or written into) a packet.
///
/// Parsing never panics: every malformed input ends in one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the structure it must hold (a header, a
    /// length field's promise, an option).
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A field holds a value that makes the rest unreadable (a bad IP
    /// version, an option of length zero, a length field smaller than its
    /// header...).
    Malformed(&'static str),
    /// The output buffer is too small for what is being emitted.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            Error::Malformed(why) => write!(f, "malformed: {why}"),
            Error::BufferTooSmall { need, have } => {
                write!(f, "output buffer too small: need {need} bytes, have {have}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Result with the wire [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
