//! Ping: echo requests to one target (or several at once), replies matched
//! and timed, iputils' statistics.

mod driver;
mod options;
mod protocol;
mod report;
mod requests;
mod session;

pub use driver::{Pinger, ping, ping_blocking};
pub use options::{PingOptions, PingOptionsBuilder};
pub use report::{ERROR_HISTORY, PingEvent, PingReport, RTT_HISTORY};
pub use session::Timing;
