//! The live view's state, pure: what each target's trace accumulated, what
//! the user chose (tab, pause, names, display mode, columns, selection,
//! interval), and what a key asks of the probing ([`Action`], which the
//! wiring carries out). No I/O and no clock: unit-tested as transitions.

use std::net::IpAddr;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use icmpkit::trace::{LiveEvent, ProbeProtocol, TraceStatistics};

use crate::commands::trace::fields::{self, Field};

/// The table's fields when `-o` names none: mtr's, and the answers.
pub const VIEW_ORDER: &str = "LSNABWVR";

/// Intervals `+`/`-` step through, in seconds.
const INTERVALS: [f64; 9] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// mtr's display modes (`d` cycles them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// The statistics table.
    Table,
    /// Each hop's latest probes as a strip chart.
    History,
    /// A chart of every hop's RTT over time above the table.
    Chart,
}

/// Which figures the table shows (`j` switches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// `-o`'s fields (Loss%, Snt, Last, Avg, Best, Wrst, StDev, Rcv).
    Latency,
    /// Loss%, Snt, Last and mtr's jitter columns: Jttr, Javg, Jmax.
    Jitter,
}

/// What a key asks of the probing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Nothing beyond a redraw.
    Redraw,
    /// Leave.
    Quit,
    /// Stop (true) or go on (false) probing.
    Pause(bool),
    /// Look up reverse names (true) or not.
    Names(bool),
    /// Probe the current target with this protocol.
    Protocol(ProbeProtocol),
    /// Rounds this far apart, for every target.
    Interval(Duration),
    /// The key means nothing here.
    Ignored,
}

/// One target's trace, as the view shows it.
#[derive(Debug, Clone)]
pub struct TargetView {
    /// As given on the command line.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
    /// The probes in use.
    pub protocol: ProbeProtocol,
    /// Raw or unprivileged sockets ("raw", "unprivileged").
    pub sockets: &'static str,
    /// What was accumulated.
    pub stats: TraceStatistics,
    /// The last refusal (a protocol switch that could not open sockets).
    pub message: Option<String>,
    /// Its rounds are all done.
    pub finished: bool,
}

impl TargetView {
    /// A target with nothing heard yet.
    pub fn new(name: &str, address: IpAddr, protocol: ProbeProtocol, raw: bool) -> TargetView {
        TargetView {
            name: name.to_string(),
            address,
            protocol,
            sockets: if raw { "raw" } else { "unprivileged" },
            stats: TraceStatistics::new(),
            message: None,
            finished: false,
        }
    }
}

/// Everything the view draws from.
#[derive(Debug, Clone)]
pub struct ViewState {
    /// One per tab.
    pub targets: Vec<TargetView>,
    /// The tab shown.
    pub tab: usize,
    /// Probing paused (`p`/space): the wiring polls no trace meanwhile.
    pub paused: bool,
    /// Names shown (and looked up) rather than addresses (`n`).
    pub names: bool,
    /// Display mode (`d`).
    pub display: Display,
    /// Latency or jitter columns (`j`).
    pub columns: Columns,
    /// The latency columns, by mtr's `-o` letters.
    pub fields: Vec<Field>,
    /// RFC 4884 objects (MPLS labels...) under their hop (`e`).
    pub extensions: bool,
    /// The selected hop (an index into the shown hops), with its details.
    pub selected: Option<usize>,
    /// Time between rounds.
    pub interval: Duration,
    /// The shortest interval allowed (1 s without privilege, as mtr).
    pub min_interval: Duration,
    /// The key help is open (`?`).
    pub help: bool,
}

impl ViewState {
    /// The view of `targets` before anything was heard.
    pub fn new(targets: Vec<TargetView>, names: bool, interval: Duration) -> ViewState {
        ViewState {
            targets,
            tab: 0,
            paused: false,
            names,
            display: Display::Table,
            columns: Columns::Latency,
            fields: fields::parse_order(VIEW_ORDER).unwrap_or_default(),
            extensions: false,
            selected: None,
            interval,
            min_interval: Duration::from_secs_f64(INTERVALS[0]),
            help: false,
        }
    }

    /// The target shown.
    pub fn current(&self) -> Option<&TargetView> {
        self.targets.get(self.tab)
    }

    /// Takes an event of target `index`'s trace.
    pub fn on_event(&mut self, index: usize, event: &LiveEvent) {
        if let Some(target) = self.targets.get_mut(index) {
            target.stats.update(event);
        }
    }

    /// What `key` changes, and what it asks of the probing.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.help && !matches!(key.code, KeyCode::Char('q')) && !ctrl {
            // Any key closes the help.
            self.help = false;
            return Action::Redraw;
        }
        match key.code {
            KeyCode::Char('c') if ctrl => Action::Quit,
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('p') | KeyCode::Char(' ') => {
                self.paused = !self.paused;
                Action::Pause(self.paused)
            }
            KeyCode::Char('r') => {
                for t in &mut self.targets {
                    t.stats.reset();
                }
                self.selected = None;
                Action::Redraw
            }
            KeyCode::Char('n') => {
                self.names = !self.names;
                Action::Names(self.names)
            }
            KeyCode::Char('d') => {
                self.display = match self.display {
                    Display::Table => Display::History,
                    Display::History => Display::Chart,
                    Display::Chart => Display::Table,
                };
                Action::Redraw
            }
            KeyCode::Char('j') => {
                self.columns = match self.columns {
                    Columns::Latency => Columns::Jitter,
                    Columns::Jitter => Columns::Latency,
                };
                Action::Redraw
            }
            KeyCode::Char('e') => {
                self.extensions = !self.extensions;
                Action::Redraw
            }
            KeyCode::Char('u') => self.toggle_protocol(ProbeProtocol::Udp),
            KeyCode::Char('t') => self.toggle_protocol(ProbeProtocol::Tcp),
            KeyCode::Char('+') => self.step_interval(1),
            KeyCode::Char('-') => self.step_interval(-1),
            KeyCode::Char('?') | KeyCode::Char('h') => {
                self.help = true;
                Action::Redraw
            }
            KeyCode::Down => self.move_selection(1),
            KeyCode::Up => self.move_selection(-1),
            KeyCode::Esc => {
                self.selected = None;
                Action::Redraw
            }
            KeyCode::Right | KeyCode::Tab => self.switch_tab(1),
            KeyCode::Left | KeyCode::BackTab => self.switch_tab(-1),
            _ => Action::Ignored,
        }
    }

    /// `u`/`t`: to that protocol, or back to ICMP from it.
    fn toggle_protocol(&self, protocol: ProbeProtocol) -> Action {
        let Some(current) = self.current() else {
            return Action::Ignored;
        };
        Action::Protocol(if current.protocol == protocol {
            ProbeProtocol::Icmp
        } else {
            protocol
        })
    }

    /// The wiring switched target `index` to `protocol`: its figures
    /// start over (the path may differ).
    pub fn protocol_switched(&mut self, index: usize, protocol: ProbeProtocol, raw: bool) {
        if let Some(t) = self.targets.get_mut(index) {
            t.protocol = protocol;
            t.sockets = if raw { "raw" } else { "unprivileged" };
            t.stats.reset();
            t.message = None;
        }
    }

    /// The wiring could not carry out a key's request for target `index`.
    pub fn refused(&mut self, index: usize, message: String) {
        if let Some(t) = self.targets.get_mut(index) {
            t.message = Some(message);
        }
    }

    fn step_interval(&mut self, direction: i32) -> Action {
        let now = self.interval.as_secs_f64();
        let next = if direction > 0 {
            INTERVALS.iter().copied().find(|&i| i > now + 1e-9)
        } else {
            INTERVALS.iter().rev().copied().find(|&i| i < now - 1e-9)
        };
        match next.map(Duration::from_secs_f64) {
            Some(interval) if interval >= self.min_interval => {
                self.interval = interval;
                Action::Interval(interval)
            }
            _ => Action::Ignored,
        }
    }

    fn move_selection(&mut self, step: isize) -> Action {
        let count = self.current().map_or(0, |t| t.stats.hops().len());
        if count == 0 {
            self.selected = None;
            return Action::Redraw;
        }
        self.selected = Some(match self.selected {
            None if step > 0 => 0,
            None => count - 1,
            Some(i) => i.saturating_add_signed(step).min(count - 1),
        });
        Action::Redraw
    }

    fn switch_tab(&mut self, step: isize) -> Action {
        let count = self.targets.len();
        if count < 2 {
            return Action::Ignored;
        }
        self.tab = (self.tab as isize + step).rem_euclid(count as isize) as usize;
        self.selected = None;
        Action::Redraw
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use icmpkit::trace::{ProbeReply, ProbeResult, ReplyKind};

    pub fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    pub fn answered(ttl: u8, from: &str, ms: f64, kind: ReplyKind) -> LiveEvent {
        LiveEvent::Probe {
            round: 0,
            probe: ProbeResult {
                seq: 0,
                ttl,
                flow: 0,
                attempt: 0,
                size: None,
                reply: Some(ProbeReply {
                    from: from.parse().unwrap(),
                    rtt: Duration::from_secs_f64(ms / 1000.0),
                    kind,
                    annotation: None,
                    reply_ttl: Some(64 - ttl),
                    extensions: Vec::new(),
                }),
                send_error: None,
            },
        }
    }

    fn two_hops() -> ViewState {
        let target = TargetView::new(
            "192.0.2.9",
            "192.0.2.9".parse().unwrap(),
            ProbeProtocol::Icmp,
            true,
        );
        let mut state = ViewState::new(vec![target], true, Duration::from_secs(1));
        state.on_event(0, &answered(1, "192.0.2.1", 1.0, ReplyKind::TimeExceeded));
        state.on_event(0, &answered(2, "192.0.2.9", 2.0, ReplyKind::Reached));
        state
    }

    #[test]
    fn pause_asks_the_wiring_to_stop_probing_and_resume() {
        let mut state = two_hops();
        assert_eq!(state.on_key(key(KeyCode::Char('p'))), Action::Pause(true));
        assert!(state.paused);
        assert_eq!(state.on_key(key(KeyCode::Char(' '))), Action::Pause(false));
        assert!(!state.paused);
    }

    #[test]
    fn reset_zeroes_the_counters() {
        let mut state = two_hops();
        assert_eq!(state.targets[0].stats.hops()[0].sent, 1);
        state.selected = Some(1);
        assert_eq!(state.on_key(key(KeyCode::Char('r'))), Action::Redraw);
        assert!(state.targets[0].stats.hops().is_empty());
        assert_eq!(state.selected, None);
        state.on_event(0, &answered(1, "192.0.2.1", 1.0, ReplyKind::TimeExceeded));
        assert_eq!(state.targets[0].stats.hops()[0].sent, 1, "counts from 0");
    }

    #[test]
    fn names_toggle() {
        let mut state = two_hops();
        assert_eq!(state.on_key(key(KeyCode::Char('n'))), Action::Names(false));
        assert_eq!(state.on_key(key(KeyCode::Char('n'))), Action::Names(true));
    }

    #[test]
    fn selection_moves_within_the_hops() {
        let mut state = two_hops();
        state.on_key(key(KeyCode::Down));
        assert_eq!(state.selected, Some(0));
        state.on_key(key(KeyCode::Down));
        state.on_key(key(KeyCode::Down));
        assert_eq!(state.selected, Some(1), "stops at the last hop");
        state.on_key(key(KeyCode::Up));
        state.on_key(key(KeyCode::Up));
        assert_eq!(state.selected, Some(0));
        state.on_key(key(KeyCode::Esc));
        assert_eq!(state.selected, None);
    }

    #[test]
    fn interval_steps_and_respects_the_floor() {
        let mut state = two_hops();
        let step = |state: &mut ViewState, c| state.on_key(key(KeyCode::Char(c)));
        assert_eq!(
            step(&mut state, '+'),
            Action::Interval(Duration::from_secs(2))
        );
        assert_eq!(
            step(&mut state, '-'),
            Action::Interval(Duration::from_secs(1))
        );
        state.min_interval = Duration::from_secs(1);
        assert_eq!(step(&mut state, '-'), Action::Ignored);
        assert_eq!(state.interval, Duration::from_secs(1));
    }

    #[test]
    fn display_columns_extensions_protocol_tabs_help() {
        let mut state = two_hops();
        state.on_key(key(KeyCode::Char('d')));
        assert_eq!(state.display, Display::History);
        state.on_key(key(KeyCode::Char('d')));
        state.on_key(key(KeyCode::Char('d')));
        assert_eq!(state.display, Display::Table);
        state.on_key(key(KeyCode::Char('j')));
        assert_eq!(state.columns, Columns::Jitter);
        // Off until -e or `e` (mtr's -e): on.
        assert!(!state.extensions);
        state.on_key(key(KeyCode::Char('e')));
        assert!(state.extensions);
        assert_eq!(
            state.on_key(key(KeyCode::Char('u'))),
            Action::Protocol(ProbeProtocol::Udp)
        );
        state.protocol_switched(0, ProbeProtocol::Udp, false);
        assert!(state.targets[0].stats.hops().is_empty());
        assert_eq!(
            state.on_key(key(KeyCode::Char('u'))),
            Action::Protocol(ProbeProtocol::Icmp)
        );
        assert_eq!(
            state.on_key(key(KeyCode::Right)),
            Action::Ignored,
            "one tab"
        );
        state.on_key(key(KeyCode::Char('?')));
        assert!(state.help);
        assert_eq!(state.on_key(key(KeyCode::Char('p'))), Action::Redraw);
        assert!(!state.help && !state.paused, "a key closes the help only");
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(state.on_key(ctrl_c), Action::Quit);
    }
}
