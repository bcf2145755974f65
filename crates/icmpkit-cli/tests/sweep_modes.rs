//! fping's modes in `icmpkit sweep`: `-c 1` is one probe with statistics,
//! `-q` is quiet as fping's, `-i` keeps its interval to the sub-millisecond.

use std::process::Output;

use icmpkit_lab::{Chain, Lab, Reject, lab_or_skip};

mod common;

/// client — r1 — server; r1 blackholes 10.99.0.0/24 (silent targets).
fn lab_chain(lab: &Lab) -> Chain {
    let c = lab.chain(1).expect("chain");
    c.reject(Reject::Blackhole, "10.99.0.0/24")
        .expect("blackhole");
    c
}

const SILENT: &str = "10.99.0.7";

fn sweep(c: &Chain, args: &[&str]) -> Output {
    common::icmpkit(c.client(), "sweep", args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn count_one_is_one_probe_with_statistics() {
    let lab = lab_or_skip!("count_one_is_one_probe_with_statistics");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    let o = sweep(&c, &[&server, SILENT, "-c", "1", "-t", "200"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    // fping -c 1: a per-probe line, then xmt/rcv lines; no "is alive",
    // and no retries (3 of them before: 5 probes). Names are padded to
    // the longest (fping's %-*s).
    let server = format!("{server:<width$}", width = SILENT.len());
    assert!(
        out.starts_with(&format!("{server} : [0], 64 bytes, ")),
        "{out}"
    );
    assert!(
        !out.contains("is alive") && !out.contains("is unreachable"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "{server} : xmt/rcv/%loss = 1/1/0%, min/avg/max = "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{SILENT} : xmt/rcv/%loss = 1/0/100%")),
        "{err}"
    );
    assert!(err.contains("; 2 probes, 1 replies"), "{err}");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn quiet_is_fpings_quiet() {
    let lab = lab_or_skip!("quiet_is_fpings_quiet");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    // Without -c: nothing at all; the exit status says it.
    let o = sweep(&c, &["-q", &server, SILENT, "-r", "0", "-t", "200"]);
    assert_eq!(
        (text(&o.stdout), text(&o.stderr)),
        (String::new(), String::new())
    );
    assert_eq!(o.status.code(), Some(1));
    let o = sweep(&c, &["-q", &server, "-r", "0"]);
    assert_eq!(text(&o.stdout), "");
    assert_eq!(o.status.code(), Some(0));
    // With -c: only the final statistics.
    let o = sweep(
        &c,
        &["-q", &server, SILENT, "-c", "2", "-p", "50", "-t", "200"],
    );
    assert_eq!(text(&o.stdout), "", "no per-probe lines");
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines.iter().all(|l| l.contains(" : xmt/rcv/%loss = 2/")),
        "{err}"
    );
}

/// The summary's `send_time_s` (first send to last) of a JSON sweep, in ms.
fn send_time_ms(o: &Output) -> f64 {
    let out = text(&o.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("a summary")).expect("JSON");
    summary["send_time_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{out}"))
        * 1000.0
}

#[test]
fn interval_is_kept_below_the_millisecond() {
    let lab = lab_or_skip!("interval_is_kept_below_the_millisecond");
    let c = lab_chain(&lab);
    let targets = ["10.99.0.1", "10.99.0.2", "10.99.0.3", "10.99.0.4"];
    // Four probes, three gaps. Rounded to packets per second, -i 700 sent
    // 1000 ms apart and -i 300 333 ms apart.
    for (interval, gap) in [("700", 700.0), ("300", 300.0), ("20.5", 20.5)] {
        let o = sweep(
            &c,
            &[
                &targets[..],
                &["-i", interval, "-r", "0", "-t", "50", "--json"],
            ]
            .concat(),
        );
        let took = send_time_ms(&o);
        let want = 3.0 * gap;
        assert!(
            took >= want - 0.5 && took < want + 60.0,
            "-i {interval}: sends spread over {took} ms, not {want}"
        );
    }
    // Below the timer's millisecond: 254 probes 0.25 ms apart, not one a
    // millisecond.
    let o = sweep(
        &c,
        &[
            "10.99.0.0/24",
            "-i",
            "0.25",
            "-r",
            "0",
            "-t",
            "50",
            "--json",
        ],
    );
    let took = send_time_ms(&o);
    assert!(
        (63.0..110.0).contains(&took),
        "-i 0.25: 254 sends spread over {took} ms, not 63.25"
    );
}

/// One probe has no send rate: the summary leaves the clause out rather
/// than say "sent at 0 pkt/s"; two probes have one.
#[test]
fn one_probe_summary_shows_no_send_rate() {
    let lab = lab_or_skip!("one_probe_summary_shows_no_send_rate");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    let o = sweep(&c, &[&server, "-r", "0", "-t", "200"]);
    let err = text(&o.stderr);
    assert!(err.contains("1 targets: 1 alive"), "{err}");
    assert!(!err.contains("pkt/s"), "a rate from one probe: {err}");
    let o = sweep(&c, &[&server, SILENT, "-r", "0", "-t", "200"]);
    let err = text(&o.stderr);
    assert!(err.contains("2 targets: 1 alive"), "{err}");
    assert!(
        err.contains(" pkt/s; seed "),
        "two probes have a rate: {err}"
    );
}
