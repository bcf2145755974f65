//! The progress bar on stderr: only on a terminal, never on a pipe.

use std::time::{Duration, Instant};

use icmpkit::sweep::Sweeper;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar's figures are recomputed.
const REFRESH: Duration = Duration::from_millis(100);

/// Sent, replies, hit rate, packets/s and ETA while the sweep runs.
pub struct Progress {
    bar: Option<ProgressBar>,
    last: Instant,
}

impl Progress {
    /// A bar over `targets` if stderr is a terminal and not `quiet`.
    pub fn new(targets: u64, quiet: bool) -> Progress {
        let bar = (!quiet && crate::output::stderr_is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(targets), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{bar:30} {pos}/{len} hosts  {msg}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            last: Instant::now() - REFRESH,
        }
    }

    /// Refreshes the figures (at most every [`REFRESH`]).
    pub fn update(&mut self, sweeper: &Sweeper) {
        let Some(bar) = &self.bar else { return };
        if self.last.elapsed() < REFRESH {
            return;
        }
        self.last = Instant::now();
        let s = sweeper.summary();
        let secs = s.elapsed.as_secs_f64().max(1e-3);
        let hit = if s.finished == 0 {
            0.0
        } else {
            100.0 * s.alive as f64 / s.finished as f64
        };
        bar.set_position(s.finished);
        bar.set_message(format!(
            "sent {}  replies {}  hit {hit:.1}%  {:.0} pkt/s",
            s.probes_sent,
            s.replies,
            s.probes_sent as f64 / secs
        ));
    }

    /// Runs `f` (which prints) without tearing the bar.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
