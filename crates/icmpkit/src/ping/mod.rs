//! Ping: echo requests to one target (or several at once), replies matched
//! and timed, iputils' statistics.

mod report;
pub mod session;

pub use report::{PingEvent, PingReport};
pub use session::Timing;
