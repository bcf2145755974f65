//! Sweep: echo probes to many targets at once (fping -g, zmap's ICMP echo
//! scan, icmplib's `multiping`), one socket per family, batched sends and
//! receives, replies validated and timed from the packet alone.
//!
//! - [`TargetSpec`] / [`TargetSet`]: what to probe (CIDRs, ranges, hosts,
//!   exclusions) as one index space; [`Permutation`] orders it (seeded,
//!   [`Shard`]able, no list in memory).
//! - [`multiping`]: one report per address; [`Sweeper`] streams
//!   [`SweepEvent`]s for large sweeps, on the one driver (`crate::driver`) as a
//!   protocol over a socket set of its own.
//!
//! ```no_run
//! # async fn demo() -> icmpkit::Result<()> {
//! use icmpkit::sweep::{SweepOptions, multiping};
//! // Documentation addresses: run this only inside a lab that routes them.
//! let reports = multiping(&["192.0.2.0/29", "198.51.100.7"], &SweepOptions::default()).await?;
//! for r in reports.iter().flatten() {
//!     println!("{} alive={}", r.address, r.is_alive);
//! }
//! # Ok(()) }
//! ```
//!
//! Streaming, for large sweeps: each target's [`HostResult`] as it
//! finishes.
//!
//! ```no_run
//! # async fn demo() -> icmpkit::Result<()> {
//! use icmpkit::sweep::{SweepEvent, SweepOptions, Sweeper, TargetSpec};
//!
//! let specs: Vec<TargetSpec> = vec!["127.0.0.0/29".parse()?];
//! let opts = SweepOptions::builder().rate(1000).build()?;
//! let (mut sweeper, unresolved) = Sweeper::start(&specs, &opts).await?;
//! assert!(unresolved.is_empty());
//! while let Some(event) = sweeper.next_event().await {
//!     if let SweepEvent::Host(host) = event {
//!         println!("{} alive={}", host.report.address, host.report.is_alive);
//!     }
//! }
//! println!("{:?}", sweeper.summary());
//! # Ok(()) }
//! ```

mod driver;
mod egress;
mod frames;
mod options;
mod protocol;
mod rate;
mod report;
mod sender;
mod session;
mod targets;
mod transport;

pub use crate::engine::permutation::{Permutation, Shard};
pub use driver::{Sweeper, multiping, multiping_blocking};
pub use options::{
    MAX_AUTO_SENDERS, MAX_SENDERS, PACKET_MIN_TARGETS, PARALLEL_MIN_RATE, PARALLEL_MIN_TARGETS,
    SenderKind, SweepOptions, SweepOptionsBuilder,
};
pub use report::{HostResult, SweepEvent, SweepSummary};
pub use session::Schedule;
pub use targets::{
    NameError, TargetSet, TargetSetBuilder, TargetSpec, parse_lines, resolve_targets,
};
