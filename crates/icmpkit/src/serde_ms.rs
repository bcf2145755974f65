//! Durations in JSON as fractional milliseconds (what ping users read).
#![cfg(feature = "serde")]

use std::time::Duration;

use serde::Serializer;

fn ms(d: &Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// One duration.
pub fn one<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(ms(d))
}

/// An optional duration (null when absent).
pub fn option<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(ms(d)),
        None => s.serialize_none(),
    }
}

/// A list of durations.
pub fn list<S: Serializer>(ds: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ds.iter().map(ms))
}

/// A list of optional durations (null for each absent one).
pub fn option_list<S: Serializer>(ds: &[Option<Duration>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ds.iter().map(|d| d.as_ref().map(ms)))
}
