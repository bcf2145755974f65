//! Ping: echo requests to one target (or several at once), replies matched
//! and timed, iputils' statistics.

mod driver;
mod report;
pub mod session;

pub use driver::{PingOptions, Pinger, ping, ping_blocking};
pub use report::{PingEvent, PingReport};
pub use session::Timing;
