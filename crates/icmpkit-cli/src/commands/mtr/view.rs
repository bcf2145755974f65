//! The live view drawn from an immutable [`ViewState`]: title (and tabs),
//! the hop table (or strip charts, or a chart of every hop over time), the
//! selected hop's details, a key line, the help. Columns that do not fit a
//! narrow terminal are left out, lowest priority first.

use std::time::Duration;

use icmpkit::trace::{HopStatistics, ProbeProtocol};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, LegendPosition, Paragraph, Row,
    Table, Tabs,
};

use super::state::{Columns, Display, TargetView, ViewState};
use crate::commands::trace::fields::{self, Field, Figures};

/// Width of the hop number column.
const HOP_WIDTH: u16 = 4;
/// The host column never gets narrower than this.
const HOST_MIN: u16 = 18;
/// Lines of the chart in chart mode (at most).
const CHART_HEIGHT: u16 = 12;

/// The keys, as `?` lists them.
pub const KEYS: [(&str, &str); 14] = [
    ("q, Ctrl-C", "quit"),
    ("p, space", "pause / resume probing"),
    ("r", "reset the statistics"),
    ("n", "names on / off"),
    ("d", "display: table, history, chart"),
    ("j", "latency / jitter columns"),
    ("e", "MPLS and other ICMP extensions on / off"),
    ("u", "UDP probes (again: ICMP)"),
    ("t", "TCP probes (again: ICMP)"),
    ("↑ ↓", "select a hop: its details"),
    ("Esc", "clear the selection"),
    ("+ -", "longer / shorter interval"),
    ("← →", "previous / next target"),
    ("?", "this help"),
];

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or_else(String::new, ms)
}

fn protocol_name(p: ProbeProtocol) -> &'static str {
    match p {
        ProbeProtocol::Icmp => "ICMP",
        ProbeProtocol::Udp => "UDP",
        ProbeProtocol::Tcp => "TCP",
    }
}

/// A column of the table: one of mtr's fields (the report's, see
/// `trace::fields`), or the reply TTL (raw sockets).
enum Column {
    Field(Field),
    Ttl,
}

impl Column {
    fn title(&self) -> &'static str {
        match self {
            Column::Field(f) => f.title,
            Column::Ttl => "TTL",
        }
    }

    fn width(&self) -> u16 {
        match self {
            Column::Field(f) => f.width as u16,
            Column::Ttl => 4,
        }
    }

    fn text(&self, hop: &HopStatistics) -> String {
        match self {
            Column::Field(f) => f.cell_text(&Figures::of_statistics(hop)),
            // The first responder's.
            Column::Ttl => hop
                .responders
                .first()
                .and_then(|r| r.reply_ttl)
                .map_or_else(String::new, |t| t.to_string()),
        }
    }
}

/// The columns `j` and `-o` chose (mtr's blank field is the column gap
/// here), then the reply TTL.
fn columns(state: &ViewState) -> Vec<Column> {
    let jitter;
    let chosen = match state.columns {
        Columns::Latency => &state.fields,
        Columns::Jitter => {
            jitter = fields::parse_order(fields::JITTER_ORDER).unwrap_or_default();
            &jitter
        }
    };
    chosen
        .iter()
        .filter(|f| f.letter != ' ')
        .map(|f| Column::Field(*f))
        .chain([Column::Ttl])
        .collect()
}

/// The columns that fit `width`, in order of priority.
fn fitting(mut columns: Vec<Column>, width: u16) -> Vec<Column> {
    let mut used = HOP_WIDTH + 1 + HOST_MIN;
    columns.retain(|c| {
        used += c.width() + 1;
        used <= width
    });
    columns
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &ViewState) {
    let area = frame.area();
    let Some(target) = state.current() else {
        return;
    };
    let tabs = u16::from(state.targets.len() > 1);
    let details = state
        .selected
        .and_then(|i| target.stats.hops().get(i))
        .map(|hop| detail_lines(hop, state.names));
    let details_height = details
        .as_ref()
        .map_or(0, |d| (d.len() as u16 + 2).min(area.height / 3));
    let [title, tab_line, main, detail_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(tabs),
        Constraint::Min(1),
        Constraint::Length(details_height),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(state, target)), title);
    if tabs > 0 {
        let names: Vec<String> = state.targets.iter().map(|t| t.name.clone()).collect();
        let widget = Tabs::new(names)
            .select(state.tab)
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        frame.render_widget(widget, tab_line);
    }
    match state.display {
        Display::Table => draw_table(frame, main, state, target),
        Display::History => draw_history(frame, main, state, target),
        Display::Chart => {
            let chart_height = CHART_HEIGHT.min(main.height / 2);
            let [chart, table] =
                Layout::vertical([Constraint::Length(chart_height), Constraint::Min(1)])
                    .areas(main);
            draw_chart(frame, chart, target);
            draw_table(frame, table, state, target);
        }
    }
    if let Some(lines) = details {
        let block = Block::default().borders(Borders::TOP).title("details");
        frame.render_widget(Paragraph::new(lines).block(block), detail_area);
    }
    frame.render_widget(Paragraph::new(footer_line(target)), footer);
    if state.help {
        draw_help(frame, area);
    }
}

fn title_line(state: &ViewState, target: &TargetView) -> Line<'static> {
    let mut text = format!(
        "icmpkit mtr  {} ({})  {} {}  every {}s  rounds {}",
        target.name,
        target.address,
        protocol_name(target.protocol),
        target.sockets,
        state.interval.as_secs_f64(),
        target.stats.rounds(),
    );
    if target.finished {
        text.push_str("  [done]");
    }
    let mut spans = vec![Span::raw(text)];
    if state.paused {
        spans.push(Span::styled(
            "  [paused]",
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn footer_line(target: &TargetView) -> Line<'static> {
    match &target.message {
        Some(message) => Line::styled(message.clone(), Style::default().fg(Color::Red)),
        None => Line::raw("q quit  p pause  r reset  n names  d display  j jitter  ? help"),
    }
}

/// The responder's label: its name when shown and known, else its address.
fn label(r: &icmpkit::trace::ResponderStatistics, names: bool) -> String {
    match (&r.name, names) {
        (Some(name), true) => name.clone(),
        _ => r.address.to_string(),
    }
}

/// The host cell of a hop's first line: `???` when silent, the share when
/// several responders answered.
fn host_cell(hop: &HopStatistics, names: bool) -> String {
    let Some(first) = hop.responders.first() else {
        return "???".to_string();
    };
    let mut text = label(first, names);
    if hop.responders.len() > 1 {
        text.push_str(&format!(" ({:.0}%)", hop.share(first) * 100.0));
    }
    text
}

fn draw_table(frame: &mut Frame, area: Rect, state: &ViewState, target: &TargetView) {
    let columns = fitting(columns(state), area.width);
    let mut widths = vec![Constraint::Length(HOP_WIDTH), Constraint::Min(HOST_MIN)];
    widths.extend(columns.iter().map(|c| Constraint::Length(c.width())));
    let mut header = vec![Cell::from("Hop"), Cell::from("Host")];
    header.extend(
        columns
            .iter()
            .map(|c| Cell::from(right(c.title(), c.width()))),
    );
    let mut rows = Vec::new();
    for (index, hop) in target.stats.hops().iter().enumerate() {
        let mut cells = vec![
            Cell::from(format!("{:>3}.", hop.distance)),
            Cell::from(host_cell(hop, state.names)),
        ];
        cells.extend(
            columns
                .iter()
                .map(|c| Cell::from(right(&c.text(hop), c.width()))),
        );
        let mut row = Row::new(cells);
        if state.selected == Some(index) {
            row = row.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        rows.push(row);
        rows.extend(extra_rows(hop, state));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .column_spacing(1);
    frame.render_widget(table, area);
}

/// The lines under a hop: its other responders (ECMP), and with `e` its
/// responders' RFC 4884 objects.
fn extra_rows(hop: &HopStatistics, state: &ViewState) -> Vec<Row<'static>> {
    let mut rows = Vec::new();
    for r in hop.responders.iter().skip(1) {
        let text = format!("{} ({:.0}%)", label(r, state.names), hop.share(r) * 100.0);
        rows.push(Row::new(vec![Cell::from(""), Cell::from(text)]));
    }
    if state.extensions {
        for r in &hop.responders {
            for e in &r.extensions {
                rows.push(Row::new(vec![Cell::from(""), Cell::from(format!("  {e}"))]));
            }
        }
    }
    rows
}

fn right(text: &str, width: u16) -> String {
    format!("{text:>w$}", w = usize::from(width))
}

/// The bars of a strip chart, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A hop's latest probes in `width` cells: a bar per answer scaled between
/// the strip's best and worst, `?` per loss.
pub fn strip(hop: &HopStatistics, width: usize) -> String {
    let skip = hop.history.len().saturating_sub(width);
    let shown: Vec<Option<Duration>> = hop.history.iter().skip(skip).copied().collect();
    let answered = shown.iter().flatten();
    let (Some(low), Some(high)) = (answered.clone().min(), answered.max()) else {
        return "?".repeat(shown.len());
    };
    let span = (*high - *low).as_secs_f64();
    shown
        .iter()
        .map(|rtt| match rtt {
            None => '?',
            Some(_) if span == 0.0 => BARS[0],
            Some(rtt) => {
                let level = (rtt.saturating_sub(*low).as_secs_f64() / span * 7.0).round();
                BARS[(level as usize).min(7)]
            }
        })
        .collect()
}

fn draw_history(frame: &mut Frame, area: Rect, state: &ViewState, target: &TargetView) {
    let host_width = HOST_MIN + 6;
    let strip_width = area.width.saturating_sub(HOP_WIDTH + host_width + 2);
    let widths = [
        Constraint::Length(HOP_WIDTH),
        Constraint::Length(host_width),
        Constraint::Min(strip_width),
    ];
    let rows = target.stats.hops().iter().enumerate().map(|(index, hop)| {
        let row = Row::new(vec![
            Cell::from(format!("{:>3}.", hop.distance)),
            Cell::from(host_cell(hop, state.names)),
            Cell::from(strip(hop, usize::from(strip_width))),
        ]);
        if state.selected == Some(index) {
            row.style(Style::default().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let header = Row::new(vec!["Hop", "Host", "Latest probes (? lost)"])
        .style(Style::default().add_modifier(Modifier::BOLD));
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

/// Colours of the hops' lines in the chart, in turn.
const PALETTE: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Green,
    Color::Magenta,
    Color::Blue,
    Color::Red,
];

fn draw_chart(frame: &mut Frame, area: Rect, target: &TargetView) {
    let hops = target.stats.hops();
    let longest = hops.iter().map(|h| h.history.len()).max().unwrap_or(0);
    // Every hop's newest probe at the right edge.
    let series: Vec<Vec<(f64, f64)>> = hops
        .iter()
        .map(|hop| {
            let offset = longest - hop.history.len();
            hop.history
                .iter()
                .enumerate()
                .filter_map(|(i, rtt)| rtt.map(|r| ((offset + i) as f64, r.as_secs_f64() * 1000.0)))
                .collect()
        })
        .collect();
    let top = series
        .iter()
        .flatten()
        .map(|(_, y)| *y)
        .fold(0.0_f64, f64::max)
        .max(0.1);
    let datasets = hops
        .iter()
        .zip(&series)
        .enumerate()
        .map(|(i, (hop, points))| {
            Dataset::default()
                .name(format!("{}", hop.distance))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(PALETTE[i % PALETTE.len()]))
                .data(points)
        })
        .collect();
    let chart = Chart::new(datasets)
        // The newest probes are on the right: the legend goes left.
        .legend_position(Some(LegendPosition::TopLeft))
        .hidden_legend_constraints((Constraint::Ratio(1, 3), Constraint::Ratio(1, 1)))
        .x_axis(Axis::default().bounds([0.0, longest.max(2) as f64 - 1.0]))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{top:.1} ms")]),
        );
    frame.render_widget(chart, area);
}

/// The selected hop's details: every responder, its share, reply TTL,
/// flows, annotations and extensions, and the last send error.
pub fn detail_lines(hop: &HopStatistics, names: bool) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(format!(
        "hop {}: {} sent, {} received, {:.1}% loss, {} responder(s)",
        hop.distance,
        hop.sent,
        hop.received,
        hop.loss() * 100.0,
        hop.responders.len()
    ))];
    for r in &hop.responders {
        let mut text = format!(
            "  {} ({})  {} answers ({:.0}%)  last {} ms",
            label(r, names),
            r.address,
            r.received,
            hop.share(r) * 100.0,
            opt_ms(r.last_rtt),
        );
        if let Some(ttl) = r.reply_ttl {
            text.push_str(&format!("  ttl {ttl}"));
        }
        let flows: Vec<String> = r.flows.iter().map(ToString::to_string).collect();
        text.push_str(&format!("  flows {}", flows.join(",")));
        for a in &r.annotations {
            text.push_str(&format!("  {a}"));
        }
        lines.push(Line::raw(text));
        for e in &r.extensions {
            lines.push(Line::raw(format!("    {e}")));
        }
    }
    if let Some(error) = &hop.last_error {
        lines.push(Line::raw(format!("  last send error: {error}")));
    }
    lines
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let width = 56.min(area.width);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| Line::raw(format!(" {key:<10} {what}")))
        .collect();
    frame.render_widget(Clear, popup);
    let block = Block::default().borders(Borders::ALL).title("keys");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
