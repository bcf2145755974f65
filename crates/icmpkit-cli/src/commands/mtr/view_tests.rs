//! The live view drawn on ratatui's `TestBackend` from fixed statistics,
//! compared with the snapshots under `snapshots/` (insta).

use std::time::Duration;

use crossterm::event::KeyCode;
use icmpkit::trace::{Extension, LiveEvent, ProbeProtocol, ProbeReply, ProbeResult, ReplyKind};
use icmpkit::wire::extension::MplsEntry;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::state::tests::key;
use super::state::{TargetView, ViewState};
use super::view;

fn probe(ttl: u8, flow: u16, reply: Option<(&str, f64, ReplyKind)>) -> LiveEvent {
    LiveEvent::Probe {
        round: 0,
        probe: ProbeResult {
            seq: 0,
            ttl,
            flow,
            attempt: 0,
            size: None,
            reply: reply.map(|(from, ms, kind)| ProbeReply {
                from: from.parse().unwrap(),
                rtt: Duration::from_secs_f64(ms / 1000.0),
                kind,
                annotation: None,
                reply_ttl: Some(65 - ttl),
                extensions: Vec::new(),
            }),
            send_error: None,
        },
    }
}

/// Hop 1 plain, hop 2 split over two routers (ECMP, 2 flows), hop 3 an
/// MPLS router, hops 4 and 5 silent, hop 6 lossy, hop 7 the destination;
/// ten rounds.
fn path() -> ViewState {
    let target = TargetView::new(
        "dest.example",
        "192.0.2.9".parse().unwrap(),
        ProbeProtocol::Icmp,
        true,
    );
    let mut state = ViewState::new(vec![target], true, Duration::from_secs(1));
    // As with -e: the MPLS hop's labels under it.
    state.extensions = true;
    let te = ReplyKind::TimeExceeded;
    for round in 0..10u32 {
        let wobble = f64::from(round % 3) * 0.4;
        state.on_event(0, &probe(1, 0, Some(("192.0.2.1", 0.8 + wobble, te))));
        for flow in 0..2 {
            let router = if flow == 0 || round % 3 == 0 {
                "198.51.100.1"
            } else {
                "198.51.100.2"
            };
            state.on_event(0, &probe(2, flow, Some((router, 3.0 + wobble, te))));
        }
        let mut mpls = probe(3, 0, Some(("198.51.100.5", 9.5 + wobble, te)));
        if let LiveEvent::Probe { probe, .. } = &mut mpls
            && let Some(reply) = probe.reply.as_mut()
        {
            reply.extensions = vec![Extension::Mpls {
                labels: vec![MplsEntry {
                    label: 16001,
                    tc: 0,
                    s: true,
                    ttl: 1,
                }],
            }];
        }
        state.on_event(0, &mpls);
        state.on_event(0, &probe(4, 0, None));
        state.on_event(0, &probe(5, 0, None));
        let lossy = (round % 4 != 1).then_some(("203.0.113.6", 12.0 + wobble * 2.0, te));
        state.on_event(0, &probe(6, 0, lossy));
        let reached = ReplyKind::Reached;
        state.on_event(0, &probe(7, 0, Some(("192.0.2.9", 14.0 + wobble, reached))));
        state.on_event(0, &LiveEvent::Round(u64::from(round)));
    }
    state.on_event(
        0,
        &LiveEvent::Name {
            address: "192.0.2.1".parse().unwrap(),
            name: "gw.example".into(),
        },
    );
    state
}

fn render(state: &ViewState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, state)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[test]
fn wide_table_with_ecmp_mpls_silent_and_lossy_hops() {
    insta::assert_snapshot!(render(&path(), 160, 20));
}

#[test]
fn narrow_table_keeps_the_first_columns() {
    let text = render(&path(), 60, 20);
    assert!(text.lines().all(|l| l.chars().count() <= 60));
    insta::assert_snapshot!(text);
}

#[test]
fn jitter_columns_numeric_and_a_selected_hop() {
    let mut state = path();
    state.on_key(key(KeyCode::Char('j')));
    state.on_key(key(KeyCode::Char('n')));
    state.on_key(key(KeyCode::Down));
    state.on_key(key(KeyCode::Down));
    insta::assert_snapshot!(render(&state, 120, 24));
}

#[test]
fn history_strips_and_paused() {
    let mut state = path();
    state.on_key(key(KeyCode::Char('d')));
    state.on_key(key(KeyCode::Char('p')));
    state.on_key(key(KeyCode::Char('e')));
    insta::assert_snapshot!(render(&state, 100, 14));
}

#[test]
fn chart_of_every_hop() {
    let mut state = path();
    state.on_key(key(KeyCode::Char('d')));
    state.on_key(key(KeyCode::Char('d')));
    insta::assert_snapshot!(render(&state, 100, 30));
}

#[test]
fn tabs_and_help() {
    let mut state = path();
    let mut second = TargetView::new(
        "192.0.2.77",
        "192.0.2.77".parse().unwrap(),
        ProbeProtocol::Udp,
        false,
    );
    second.message = Some("cannot open the TCP sockets".into());
    state.targets.push(second);
    state.on_key(key(KeyCode::Right));
    state.on_key(key(KeyCode::Char('?')));
    insta::assert_snapshot!(render(&state, 80, 22));
}

/// Every mode, with the help and a selection, on terminals down to one
/// cell: drawn without a panic.
#[test]
fn tiny_terminals_do_not_panic() {
    let mut state = path();
    state.on_key(key(KeyCode::Down));
    for display in 0..3 {
        for help in [false, true] {
            state.help = help;
            for (width, height) in [(1, 1), (10, 3), (30, 5), (59, 8)] {
                let text = render(&state, width, height);
                assert_eq!(
                    text.lines().count(),
                    usize::from(height),
                    "{display} {help}"
                );
            }
        }
        state.help = false;
        state.on_key(key(KeyCode::Char('d')));
    }
}

/// mtr's `-o` in the live table: the fields in the order given (the
/// report's list), mtr's blank left out, the reply TTL after them; the
/// MPLS labels only with -e (`e`).
#[test]
fn order_chooses_the_live_columns() {
    let mut state = path();
    state.fields = crate::commands::trace::fields::parse_order("DR AGJMXI").unwrap();
    let text = render(&state, 160, 20);
    let header = text.lines().nth(1).unwrap();
    let titles: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        titles,
        [
            "Hop", "Host", "Drop", "Rcv", "Avg", "Gmean", "Jttr", "Javg", "Jmax", "Jint", "TTL"
        ],
        "{text}"
    );
    // Hop 6 lost 3 of 10.
    let lossy = text.lines().find(|l| l.contains("203.0.113.6")).unwrap();
    assert_eq!(lossy.split_whitespace().nth(2), Some("3"), "{text}");
    assert!(text.contains("<MPLS:"), "{text}");
    state.extensions = false;
    assert!(!render(&state, 160, 20).contains("<MPLS:"));
}
