//! The probe engine's core: everything about probes that does no I/O and is
//! deterministic (timing, stamps, sequence bookkeeping, statistics), tested
//! without sockets. The drivers in `ping`, `sweep` and `trace` feed it what
//! the sockets deliver.

pub mod clock;
pub mod permutation;
pub mod probe;
pub(crate) mod random;
pub mod sequence;
pub mod stamp;
pub mod stats;
