//! The two clocks a probe is timed with.
//!
//! The kernel stamps received packets (SO_TIMESTAMPNS) with CLOCK_REALTIME,
//! the wall clock, which can step. So a probe records both clocks when it is
//! sent: the RTT is the kernel's receive stamp minus the send's realtime,
//! accepted only when it agrees with the monotonic RTT measured in user
//! space (never negative, never longer); otherwise the monotonic RTT is used.
//! A wall-clock step can thus never produce a wrong RTT.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Longest time an option may ask for (a wait, an interval, a delay):
/// 1,000,000 s, as the CLI's time flags allow. Far beyond any real use,
/// and far below where adding it to a clock could overflow.
pub const MAX_OPTION_DURATION: Duration = Duration::from_secs(1_000_000);

/// `d` in nanoseconds, saturating at `u64::MAX` (about 584 years) instead
/// of wrapping.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Checks a time option against [`MAX_OPTION_DURATION`]; the error (for
/// [`crate::Error::InvalidOption`]) names `option`.
pub fn check_option_duration(option: &'static str, d: Duration) -> crate::Result<()> {
    if d > MAX_OPTION_DURATION {
        return Err(crate::Error::invalid(
            option,
            crate::InvalidReason::TooLong {
                max: MAX_OPTION_DURATION,
                got: d,
            },
        ));
    }
    Ok(())
}

/// A moment read from both clocks, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    /// CLOCK_REALTIME, nanoseconds since the Unix epoch.
    pub realtime_ns: u64,
    /// CLOCK_MONOTONIC, nanoseconds since boot.
    pub monotonic_ns: u64,
}

impl Timestamp {
    /// Reads both clocks now (monotonic last, so that it is the later one).
    pub fn now() -> Timestamp {
        let realtime_ns = read(nix::time::ClockId::CLOCK_REALTIME);
        let monotonic_ns = read(nix::time::ClockId::CLOCK_MONOTONIC);
        Timestamp {
            realtime_ns,
            monotonic_ns,
        }
    }

    /// The moment a packet was read: `read_at` (taken right after the
    /// receive call) on the monotonic clock, and the kernel's receive stamp
    /// as the wall-clock time. The realtime clock is read only when there
    /// is no stamp: a flood pays one clock read per reply, not three.
    pub fn of_receive(read_at: Instant, kernel_realtime: Option<Duration>) -> Timestamp {
        Timestamp {
            realtime_ns: kernel_realtime
                .map(nanos)
                .unwrap_or_else(|| read(nix::time::ClockId::CLOCK_REALTIME)),
            monotonic_ns: monotonic_ns_of(read_at),
        }
    }

    /// This moment plus `d`.
    pub fn after(self, d: Duration) -> Timestamp {
        let ns = nanos(d);
        Timestamp {
            realtime_ns: self.realtime_ns.saturating_add(ns),
            monotonic_ns: self.monotonic_ns.saturating_add(ns),
        }
    }

    /// Monotonic time elapsed since `earlier` (zero if it is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.monotonic_ns.saturating_sub(earlier.monotonic_ns))
    }
}

/// A moment on the monotonic clock by which something is due: what the
/// protocols' `poll_timeout` returns (a typed time, not bare nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(u64);

impl Deadline {
    /// `d` after `at`.
    pub fn after(at: Timestamp, d: Duration) -> Deadline {
        Deadline(at.after(d).monotonic_ns)
    }

    /// The deadline at `monotonic_ns` (CLOCK_MONOTONIC nanoseconds).
    pub fn from_monotonic_ns(monotonic_ns: u64) -> Deadline {
        Deadline(monotonic_ns)
    }

    /// True once `now` is at or past it.
    pub fn is_reached(self, now: Timestamp) -> bool {
        now.monotonic_ns >= self.0
    }

    /// How long from `now` until it (zero if reached).
    pub fn saturating_since(self, now: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(now.monotonic_ns))
    }
}

/// `instant` in CLOCK_MONOTONIC nanoseconds. `Instant` is that clock on
/// Linux but does not show its value, so it is placed against a reading
/// of the clock taken between two `Instant`s (see [`tightest_anchor`]).
fn monotonic_ns_of(instant: Instant) -> u64 {
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    let &(anchor_ns, anchor) = ANCHOR.get_or_init(|| {
        tightest_anchor((0..ANCHOR_TRIES).map(|_| {
            let before = Instant::now();
            let ns = read(nix::time::ClockId::CLOCK_MONOTONIC);
            (before, ns, Instant::now())
        }))
    });
    match instant.checked_duration_since(anchor) {
        Some(after) => anchor_ns.saturating_add(nanos(after)),
        None => anchor_ns.saturating_sub(nanos(anchor.duration_since(instant))),
    }
}

/// Bracketed readings taken for the anchor.
const ANCHOR_TRIES: usize = 8;

/// Of readings `(before, clock_ns, after)`, the one whose two `Instant`s
/// are closest, as `(clock_ns, their midpoint)`: its error is at most half
/// their gap (tens of nanoseconds). The anchor serves every receive of the
/// process, so a thread preempted between two reads must not make it:
/// every RTT would come out short by the preemption, for good.
fn tightest_anchor(readings: impl Iterator<Item = (Instant, u64, Instant)>) -> (u64, Instant) {
    readings
        .map(|(before, ns, after)| {
            let gap = after.saturating_duration_since(before);
            (gap, ns, before + gap / 2)
        })
        .min_by_key(|&(gap, ..)| gap)
        .map(|(_, ns, at)| (ns, at))
        // Never empty (ANCHOR_TRIES readings): a reading now, all the same.
        .unwrap_or_else(|| (read(nix::time::ClockId::CLOCK_MONOTONIC), Instant::now()))
}

fn read(clock: nix::time::ClockId) -> u64 {
    // clock_gettime cannot fail for these two clocks on Linux.
    let ts = nix::time::clock_gettime(clock).unwrap_or(nix::sys::time::TimeSpec::new(0, 0));
    (ts.tv_sec() as u64) * 1_000_000_000 + ts.tv_nsec() as u64
}

/// The RTT of a probe sent at `sent` and received (by user space) at
/// `received`, with the kernel's receive stamp when there is one.
pub fn round_trip(
    sent: Timestamp,
    kernel_rx_realtime_ns: Option<u64>,
    received: Timestamp,
) -> Duration {
    round_trip_stamped(sent, None, kernel_rx_realtime_ns, received)
}

/// [`round_trip`] with the kernel's transmit stamp too, when the socket
/// reports one: the RTT is then kernel to kernel, free of the user-space
/// time between reading the clocks and the packet leaving. A transmit
/// stamp earlier than the send (a clock step) is ignored.
pub fn round_trip_stamped(
    sent: Timestamp,
    kernel_tx_realtime_ns: Option<u64>,
    kernel_rx_realtime_ns: Option<u64>,
    received: Timestamp,
) -> Duration {
    let monotonic = received.since(sent);
    let start = kernel_tx_realtime_ns
        .filter(|&t| t >= sent.realtime_ns)
        .unwrap_or(sent.realtime_ns);
    match kernel_rx_realtime_ns {
        Some(k) if k >= start => {
            let kernel = Duration::from_nanos(k - start);
            if kernel <= monotonic {
                kernel
            } else {
                monotonic
            }
        }
        _ => monotonic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp {
        realtime_ns: 1_000_000_000,
        monotonic_ns: 5_000,
    };

    #[test]
    fn kernel_stamp_is_preferred_when_consistent() {
        let rx = Timestamp {
            realtime_ns: 0,
            monotonic_ns: 5_000 + 90_000,
        };
        assert_eq!(
            round_trip(T0, Some(1_000_000_000 + 60_000), rx),
            Duration::from_micros(60)
        );
    }

    #[test]
    fn wall_clock_step_falls_back_to_monotonic() {
        let rx = Timestamp {
            realtime_ns: 0,
            monotonic_ns: 5_000 + 90_000,
        };
        // Clock stepped back: kernel stamp before the send.
        assert_eq!(
            round_trip(T0, Some(999_000_000), rx),
            Duration::from_micros(90)
        );
        // Clock stepped forward: kernel RTT longer than the monotonic one.
        assert_eq!(
            round_trip(T0, Some(2_000_000_000), rx),
            Duration::from_micros(90)
        );
        assert_eq!(round_trip(T0, None, rx), Duration::from_micros(90));
    }

    #[test]
    fn transmit_stamp_narrows_the_rtt() {
        let rx = Timestamp {
            realtime_ns: 0,
            monotonic_ns: 5_000 + 90_000,
        };
        let tx = Some(1_000_000_000 + 2_000);
        let rtt = round_trip_stamped(T0, tx, Some(1_000_000_000 + 60_000), rx);
        assert_eq!(rtt, Duration::from_micros(58));
        // A transmit stamp before the send is a clock step: ignored.
        let rtt = round_trip_stamped(T0, Some(999_999_000), Some(1_000_000_000 + 60_000), rx);
        assert_eq!(rtt, Duration::from_micros(60));
    }

    #[test]
    fn huge_durations_saturate_and_are_refused_as_options() {
        assert_eq!(nanos(Duration::from_micros(3)), 3_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
        // 600 years: `as u64` wrapped this to a few years.
        let centuries = Duration::from_secs(600 * 365 * 86_400);
        assert_eq!(T0.after(centuries).monotonic_ns, u64::MAX);
        assert_eq!(T0.after(Duration::MAX).realtime_ns, u64::MAX);
        assert!(check_option_duration("wait", MAX_OPTION_DURATION).is_ok());
        let err = check_option_duration("wait", Duration::MAX).unwrap_err();
        assert_eq!(err.invalid_option().unwrap().option, "wait", "{err}");
    }

    #[test]
    fn a_receive_is_placed_on_the_monotonic_clock() {
        let before = Timestamp::now();
        let read_at = Instant::now();
        let after = Timestamp::now();
        let stamp = Duration::from_secs(1_700_000_000);
        let t = Timestamp::of_receive(read_at, Some(stamp));
        assert_eq!(
            t.realtime_ns,
            nanos(stamp),
            "the kernel's stamp is the wall time"
        );
        // Within the anchor's error (the gap between two clock reads).
        let slack = 50_000;
        assert!(
            t.monotonic_ns + slack >= before.monotonic_ns,
            "{t:?} vs {before:?}"
        );
        assert!(
            t.monotonic_ns <= after.monotonic_ns + slack,
            "{t:?} vs {after:?}"
        );
        // An instant before the anchor converts too, and keeps the order.
        let earlier = Timestamp::of_receive(read_at - Duration::from_millis(5), None);
        assert_eq!(t.monotonic_ns - earlier.monotonic_ns, 5_000_000);
        assert!(
            earlier.realtime_ns > nanos(stamp),
            "no stamp: the realtime clock is read"
        );
    }

    /// A reading whose thread was preempted between its reads (5 ms
    /// here) is passed over for a tight one.
    #[test]
    fn the_anchor_is_the_tightest_reading() {
        let base = Instant::now();
        let ms = Duration::from_millis;
        let preempted = (base, 1_000, base + ms(5));
        let tight = (
            base + ms(6),
            6_000_100,
            base + ms(6) + Duration::from_nanos(200),
        );
        let (ns, at) = tightest_anchor([preempted, tight].into_iter());
        assert_eq!(ns, 6_000_100);
        assert_eq!(at, base + ms(6) + Duration::from_nanos(100));
        let (ns, _) = tightest_anchor([tight, preempted].into_iter());
        assert_eq!(ns, 6_000_100, "whatever the order");
    }

    #[test]
    fn now_is_monotonic() {
        let a = Timestamp::now();
        let b = Timestamp::now();
        assert!(b.monotonic_ns >= a.monotonic_ns);
        assert!(a.realtime_ns > 1_500_000_000_000_000_000);
    }
}
