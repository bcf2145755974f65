//! `icmpkit ping --graph` (gping's idea): a live RTT chart of every target,
//! lost requests marked along the top, iputils' statistics beneath. The
//! state is pure ([`GraphState`], fed the pingers' events); [`draw`] renders
//! it; [`run`] is the wiring on the same pingers as the line output.

use std::collections::VecDeque;
use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use icmpkit::ping::{PingEvent, PingReport, Pinger};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use tokio_stream::{StreamExt, StreamMap};

use super::human;
use crate::exit;
use crate::signals::{Request, Signals};
use crate::terminal::{LiveTerminal, REDRAW_EVERY};

/// Requests kept per target (the chart's width at most).
const SAMPLES: usize = 300;

/// Colours of the targets' lines, in turn.
const PALETTE: [Color; 5] = [
    Color::Cyan,
    Color::Yellow,
    Color::Green,
    Color::Magenta,
    Color::Blue,
];

/// One target's line.
#[derive(Debug, Clone)]
pub struct GraphTarget {
    /// As given.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
    /// The latest requests, oldest first: RTT, or `None` when lost.
    pub samples: VecDeque<Option<Duration>>,
    /// The pinger's report as last drawn (iputils' statistics).
    pub report: Option<PingReport>,
}

/// What the graph draws from.
#[derive(Debug, Clone, Default)]
pub struct GraphState {
    /// One per target.
    pub targets: Vec<GraphTarget>,
}

impl GraphState {
    /// Takes an event of target `index`'s pinger: a reply is a point, a
    /// timeout or an error a loss mark; duplicates add nothing.
    pub fn on_event(&mut self, index: usize, event: &PingEvent) {
        let Some(target) = self.targets.get_mut(index) else {
            return;
        };
        let sample = match event {
            // A late reply's request was marked lost at its timeout.
            PingEvent::Reply {
                rtt: Some(rtt),
                duplicate: false,
                late: false,
                bad_checksum: false,
                ..
            } => Some(*rtt),
            PingEvent::Timeout { .. } | PingEvent::Error { .. } => None,
            _ => return,
        };
        if target.samples.len() == SAMPLES {
            target.samples.pop_front();
        }
        target.samples.push_back(sample);
    }
}

/// Chart points: (x, y).
type Points = Vec<(f64, f64)>;

/// The points of a target's line and its loss marks (at `top`), the
/// newest at the right edge (x = `SAMPLES` - 1).
fn series(target: &GraphTarget, top: f64) -> (Points, Points) {
    let offset = SAMPLES - target.samples.len();
    let mut points = Vec::new();
    let mut lost = Vec::new();
    for (i, sample) in target.samples.iter().enumerate() {
        let x = (offset + i) as f64;
        match sample {
            Some(rtt) => points.push((x, rtt.as_secs_f64() * 1000.0)),
            None => lost.push((x, top)),
        }
    }
    (points, lost)
}

/// The statistics lines of a target, as iputils prints them at the end.
fn statistics_lines(target: &GraphTarget) -> Vec<Line<'static>> {
    let Some(report) = &target.report else {
        return vec![Line::raw(format!(
            "--- {} ping statistics ---",
            target.name
        ))];
    };
    human::statistics(report, report.icmp_errors + report.local_errors, 0, None)
        .trim_start_matches('\n')
        .lines()
        .map(|l| Line::raw(l.to_string()))
        .collect()
}

/// Draws the chart and the statistics.
pub fn draw(frame: &mut Frame, state: &GraphState) {
    let statistics: Vec<Line> = state.targets.iter().flat_map(statistics_lines).collect();
    let area = frame.area();
    let stats_height = (statistics.len() as u16).min(area.height / 2);
    let [title, chart_area, stats_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(stats_height),
        Constraint::Length(1),
    ])
    .areas(area);
    let names: Vec<String> = state
        .targets
        .iter()
        .map(|t| format!("{} ({})", t.name, t.address))
        .collect();
    frame.render_widget(
        Paragraph::new(format!("icmpkit ping --graph  {}", names.join("  "))),
        title,
    );
    let top = state
        .targets
        .iter()
        .flat_map(|t| t.samples.iter().flatten())
        .max()
        .map_or(1.0, |d| d.as_secs_f64() * 1000.0 * 1.1)
        .max(0.1);
    let all: Vec<_> = state.targets.iter().map(|t| series(t, top)).collect();
    let mut datasets = Vec::new();
    for (i, (target, (points, lost))) in state.targets.iter().zip(&all).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        datasets.push(
            Dataset::default()
                .name(target.name.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(colour))
                .data(points),
        );
        datasets.push(
            Dataset::default()
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(Color::Red))
                .data(lost),
        );
    }
    let chart = Chart::new(datasets)
        // The newest points are on the right: the legend goes left.
        .legend_position(Some(LegendPosition::TopLeft))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
        .x_axis(Axis::default().bounds([0.0, (SAMPLES - 1) as f64]))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{top:.1} ms")]),
        );
    frame.render_widget(chart, chart_area);
    frame.render_widget(Paragraph::new(statistics), stats_area);
    frame.render_widget(
        Paragraph::new("q quit  (• along the top: a lost request)"),
        footer,
    );
}

/// The graph of `pingers` until every one ends, `q`/Ctrl-C or a signal
/// stops them; then iputils' statistics of each, printed. The exit code as
/// ping's: 1 when a target never answered.
pub async fn run(pingers: Vec<Pinger>, mut signals: Signals) -> i32 {
    let mut state = GraphState::default();
    let mut pinging = StreamMap::new();
    for (index, pinger) in pingers.into_iter().enumerate() {
        state.targets.push(GraphTarget {
            name: pinger.target().name.clone(),
            address: pinger.target().address,
            samples: VecDeque::new(),
            report: Some(pinger.report()),
        });
        pinging.insert(index, pinger);
    }
    let outcome = match LiveTerminal::enter() {
        Ok(mut terminal) => graph_loop(&mut terminal, &mut state, &mut pinging, &mut signals).await,
        Err(e) => Err(format!("cannot use the terminal: {e}")),
    };
    // Stopped pingers still hold their figures.
    refresh_reports(&mut state, &pinging);
    if let Err(e) = outcome {
        return exit::fail(&e);
    }
    let mut out = crate::output::stdout_locked();
    let mut code = exit::OK;
    for target in &state.targets {
        let Some(report) = &target.report else {
            continue;
        };
        let errors = report.icmp_errors + report.local_errors;
        let _ = writeln!(out, "{}", human::statistics(report, errors, 0, None));
        if report.packets_received == 0 {
            code = exit::NO_REPLY;
        }
    }
    let _ = out.flush();
    code
}

fn refresh_reports(state: &mut GraphState, pinging: &StreamMap<usize, Pinger>) {
    for (index, pinger) in pinging.iter() {
        if let Some(target) = state.targets.get_mut(*index) {
            target.report = Some(pinger.report());
        }
    }
}

async fn graph_loop(
    terminal: &mut LiveTerminal,
    state: &mut GraphState,
    pinging: &mut StreamMap<usize, Pinger>,
    signals: &mut Signals,
) -> Result<(), String> {
    let mut keys = EventStream::new();
    let mut redraws = tokio::time::interval(REDRAW_EVERY);
    redraws.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changed = true;
    loop {
        tokio::select! {
            request = signals.next() => if request == Request::Stop {
                return Ok(());
            },
            key = keys.next() => match key {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL);
                    if key.code == KeyCode::Char('q') || ctrl_c {
                        return Ok(());
                    }
                }
                Some(Ok(Event::Resize(..))) => changed = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("reading the terminal: {e}")),
                None => return Ok(()),
            },
            Some((index, event)) = pinging.next(), if !pinging.is_empty() => {
                // The report of a pinger about to end, kept.
                refresh_reports(state, pinging);
                state.on_event(index, &event);
                changed = true;
            }
            _ = redraws.tick(), if changed => {
                refresh_reports(state, pinging);
                terminal
                    .draw(|frame| draw(frame, state))
                    .map_err(|e| format!("drawing: {e}"))?;
                changed = false;
                if pinging.is_empty() {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn reply(sequence: u16, ms: f64) -> PingEvent {
        PingEvent::Reply {
            from: "192.0.2.1".parse().unwrap(),
            sequence,
            bytes: 64,
            ttl: Some(64),
            rtt: Some(Duration::from_secs_f64(ms / 1000.0)),
            duplicate: false,
            late: false,
            bad_checksum: false,
        }
    }

    fn state() -> GraphState {
        let mut state = GraphState {
            targets: vec![GraphTarget {
                name: "192.0.2.1".into(),
                address: "192.0.2.1".parse().unwrap(),
                samples: VecDeque::new(),
                report: None,
            }],
        };
        for seq in 0..40u16 {
            let event = if seq % 9 == 4 {
                PingEvent::Timeout { sequence: seq }
            } else {
                reply(seq, 5.0 + f64::from(seq % 7))
            };
            state.on_event(0, &event);
        }
        state
    }

    #[test]
    fn replies_are_points_and_timeouts_loss_marks() {
        let state = state();
        let target = &state.targets[0];
        assert_eq!(target.samples.len(), 40);
        assert_eq!(target.samples.iter().filter(|s| s.is_none()).count(), 4);
        let (points, lost) = series(target, 20.0);
        assert_eq!((points.len(), lost.len()), (36, 4));
        assert_eq!(points.last().map(|p| p.0), Some((SAMPLES - 1) as f64));
        assert!(lost.iter().all(|p| p.1 == 20.0));
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let state = state();
        for (width, height) in [(1, 1), (10, 3), (30, 5)] {
            let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
            terminal.draw(|frame| draw(frame, &state)).unwrap();
        }
    }

    #[test]
    fn the_graph() {
        let state = state();
        let mut terminal = Terminal::new(TestBackend::new(80, 20)).unwrap();
        terminal.draw(|frame| draw(frame, &state)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        insta::assert_snapshot!(text);
    }
}
