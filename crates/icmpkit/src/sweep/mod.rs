//! Sweep: echo probes to many targets at once (fping -g, zmap's ICMP echo
//! scan, icmplib's `multiping`), one socket per family, batched sends and
//! receives, replies validated and timed from the packet alone.
//!
//! - [`targets`]: what to probe (CIDRs, ranges, hosts, exclusions) as one
//!   index space; [`crate::engine::permutation`] orders it (seeded,
//!   shardable, no list in memory).
//! - [`rate`]: the token bucket.
//! - [`session`]: the pure state machine; [`Sweeper`] drives it on sockets.
//!
//! ```no_run
//! # async fn demo() -> icmpkit::Result<()> {
//! use icmpkit::sweep::{SweepOptions, multiping};
//! // Documentation addresses: run this only inside a lab that routes them.
//! let reports = multiping(&["192.0.2.0/29", "198.51.100.7"], &SweepOptions::default()).await?;
//! for r in &reports {
//!     println!("{} alive={}", r.address, r.is_alive);
//! }
//! # Ok(()) }
//! ```

mod driver;
mod options;
pub mod rate;
mod report;
mod sender;
pub mod session;
pub mod targets;

pub use crate::engine::permutation::{Permutation, Shard};
pub use driver::{Sweeper, multiping, multiping_blocking};
pub use options::{
    MAX_AUTO_SENDERS, MAX_SENDERS, PARALLEL_MIN_RATE, PARALLEL_MIN_TARGETS, SweepOptions,
    SweepOptionsBuilder,
};
pub use report::{HostResult, SweepEvent, SweepSummary};
pub use session::Schedule;
pub use targets::{NameError, TargetSet, TargetSpec};
