//! `icmpkit sweep` beside fping 5.x on the same lab, line for line once the
//! times are masked: `-c` lines with `(avg, loss)` and `[n], timed out`,
//! padded names, `-s`, `-e`, `-D`, `-x`/`-X`, `-l` with `-Q`.

use std::process::Output;
use std::time::{Duration, Instant};

use icmpkit_lab::{Chain, Lab, Reject, lab_or_skip};
use nix::sys::signal::Signal;

mod common;

use common::Running;

/// client — r1 — server; r1 blackholes 10.99.0.0/24 (silent targets).
fn lab_chain(lab: &Lab) -> Chain {
    let c = lab.chain(1).expect("chain");
    c.reject(Reject::Blackhole, "10.99.0.0/24")
        .expect("blackhole");
    c
}

/// Longer than the server's address (10.2.0.2): names get padded.
const SILENT: &str = "10.99.0.17";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `text` with every time masked: a decimal number (one dot, digits on
/// both sides) becomes `T`, `[HH:MM:SS]` becomes `[CLOCK]`. Addresses
/// (three dots) and counts stay.
fn masked(text: &str) -> String {
    clock_masked(&common::mask_times(text))
}

fn clock_masked(text: &str) -> String {
    text.lines()
        .map(|l| {
            let b = l.as_bytes();
            if b.len() == 10 && b[0] == b'[' && b[3] == b':' && b[6] == b':' && b[9] == b']' {
                "[CLOCK]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of `text`, sorted (lines from several targets interleave in
/// the order their answers come).
fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// icmpkit's stderr without its own one-line summary (fping has none).
fn without_summary(err: &str) -> String {
    err.lines()
        .filter(|l| !l.contains(" targets: "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fping(c: &Chain, args: &[&str]) -> Option<Output> {
    if icmpkit_lab::require_tool("fping").is_err() {
        icmpkit_lab::report_skip("fping comparison", &"fping not on PATH");
        return None;
    }
    Some(
        c.client()
            .command("fping")
            .args(args)
            .output()
            .expect("run fping"),
    )
}

/// Runs icmpkit sweep and fping with the same flags, at the same time.
fn both(c: &Chain, args: &[&str]) -> (Output, Option<Output>) {
    std::thread::scope(|s| {
        let theirs = s.spawn(|| fping(c, args));
        let ours = common::icmpkit(c.client(), "sweep", args);
        (ours, theirs.join().expect("fping thread"))
    })
}

#[test]
fn count_lines_carry_avg_loss_and_timeouts_as_fping() {
    let lab = lab_or_skip!("count_lines_carry_avg_loss_and_timeouts_as_fping");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    let args = [server.as_str(), SILENT, "-c", "3", "-p", "300", "-t", "200"];
    let (ours, theirs) = both(&c, &args);
    let (out, err) = (text(&ours.stdout), text(&ours.stderr));
    // Padded to the longest name, running average and loss, timed out.
    let pad = " ".repeat(SILENT.len() - server.len());
    assert!(
        out.contains(&format!("{server}{pad} : [2], 64 bytes, ")),
        "{out}"
    );
    assert!(out.contains(" avg, 0% loss)"), "{out}");
    assert!(
        out.contains(&format!("{SILENT} : [0], timed out (NaN avg, 100% loss)")),
        "{out}"
    );
    assert_eq!(out.lines().count(), 6, "{out}");
    assert!(
        err.starts_with(&format!(
            "\n{server}{pad} : xmt/rcv/%loss = 3/3/0%, min/avg/max = "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("\n{SILENT} : xmt/rcv/%loss = 3/0/100%\n")),
        "{err}"
    );
    if let Some(theirs) = theirs {
        assert_eq!(
            sorted_lines(&masked(&out)),
            sorted_lines(&masked(&text(&theirs.stdout))),
            "stdout against fping"
        );
        assert_eq!(
            masked(&without_summary(&err)),
            masked(text(&theirs.stderr).trim_end_matches('\n')),
            "stderr against fping"
        );
    }
}

#[test]
fn statistics_block_is_fpings() {
    let lab = lab_or_skip!("statistics_block_is_fpings");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    let args = ["-s", server.as_str(), SILENT, "-r", "1", "-t", "150"];
    let (ours, theirs) = both(&c, &args);
    let err = text(&ours.stderr);
    // 3 probes (one retry), 1 reply: 2 timeouts.
    assert!(
        err.starts_with("\n       2 targets\n       1 alive\n"),
        "{err}"
    );
    assert!(
        err.contains("       2 timeouts (waiting for response)\n       3 ICMP Echos sent\n"),
        "{err}"
    );
    assert!(err.ends_with(" sec (elapsed real time)\n\n"), "{err}");
    assert!(!err.contains(" targets: "), "no one-line summary: {err}");
    if let Some(theirs) = theirs {
        assert_eq!(masked(&err), masked(&text(&theirs.stderr)), "against fping");
        assert_eq!(
            sorted_lines(&text(&ours.stdout)),
            sorted_lines(&text(&theirs.stdout))
        );
    }
}

#[test]
fn elapsed_and_timestamps_as_fping() {
    let lab = lab_or_skip!("elapsed_and_timestamps_as_fping");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    let (ours, theirs) = both(&c, &["-e", &server]);
    let out = text(&ours.stdout);
    assert!(
        out.starts_with(&format!("{server} is alive (")) && out.ends_with(" ms)\n"),
        "{out}"
    );
    if let Some(theirs) = theirs {
        assert_eq!(masked(&out), masked(&text(&theirs.stdout)));
    }
    let (ours, theirs) = both(&c, &["-D", "-c", "2", "-p", "100", &server]);
    let out = text(&ours.stdout);
    for line in out.lines() {
        let (stamp, rest) = line.split_once("] ").expect("a stamp");
        let secs: f64 = stamp[1..].parse().expect("UNIX seconds");
        assert_eq!(stamp.split('.').nth(1).map(str::len), Some(5), "{line}");
        assert!(secs > 1.7e9, "{line}");
        assert!(rest.starts_with(&format!("{server} : [")), "{line}");
    }
    assert_eq!(out.lines().count(), 2, "{out}");
    if let Some(theirs) = theirs {
        assert_eq!(masked(&out), masked(&text(&theirs.stdout)));
    }
}

#[test]
fn reachable_counts_as_fping() {
    let lab = lab_or_skip!("reachable_counts_as_fping");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    for (n, code) in [("1", 0), ("2", 1)] {
        let args = ["-x", n, server.as_str(), SILENT, "-r", "0", "-t", "100"];
        let (ours, theirs) = both(&c, &args);
        let out = text(&ours.stdout);
        let verdict = if code == 0 { "Enough" } else { "Not enough" };
        assert_eq!(
            out,
            format!("{verdict} hosts reachable (required: {n}, reachable: 1)\n")
        );
        assert_eq!(ours.status.code(), Some(code));
        if let Some(theirs) = theirs {
            assert_eq!(out, text(&theirs.stdout));
            assert_eq!(theirs.status.code(), Some(code));
        }
    }
    // -X: stops once enough answered, not after the silent target's 5 s.
    let started = Instant::now();
    let o = common::icmpkit(
        c.client(),
        "sweep",
        &["-X", "1", &server, SILENT, "-r", "0", "-t", "5000"],
    );
    assert!(started.elapsed() < Duration::from_secs(3), "-X waited");
    assert_eq!(
        text(&o.stdout),
        "Enough hosts reachable (required: 1, reachable: 1)\n"
    );
    assert_eq!(o.status.code(), Some(0));
}

/// `-Q` blocks of stderr: a `[HH:MM:SS]` line, then one line per target.
fn report_blocks(err: &str) -> Vec<Vec<String>> {
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for line in masked(&without_summary(err)).lines() {
        if line == "[CLOCK]" {
            blocks.push(Vec::new());
        } else if let Some(b) = blocks.last_mut() {
            b.push(line.to_string());
        }
    }
    blocks
}

#[test]
fn loop_with_periodic_statistics_as_fping() {
    let lab = lab_or_skip!("loop_with_periodic_statistics_as_fping");
    let c = lab_chain(&lab);
    let server = c.server_v4().to_string();
    let args = ["-l", "-Q", "1", "-p", "250", "-t", "200", &server, SILENT];
    let have_fping = icmpkit_lab::require_tool("fping").is_ok();
    let ours = Running::start(c.client(), "sweep", &args);
    let theirs = have_fping.then(|| {
        let mut fping = c.client().command("fping");
        fping.args(args);
        Running::spawn(fping)
    });
    std::thread::sleep(Duration::from_millis(2600));
    ours.signal(Signal::SIGINT);
    if let Some(t) = &theirs {
        t.signal(Signal::SIGINT);
    }
    let (_, out, err) = ours.finish();
    assert_eq!(out, "", "-Q is quiet");
    let blocks = report_blocks(&err);
    // Two reports (at 1 s and 2 s), then the statistics at SIGINT (in
    // the last block: fping prints no blank line before them with -Q).
    assert_eq!(blocks.len(), 2, "{err}");
    let pad = " ".repeat(SILENT.len() - server.len());
    let first = &blocks[0];
    assert_eq!(first.len(), 2, "{err}");
    assert!(
        first[0].starts_with(&format!("{server}{pad} : xmt/rcv/%loss = ")),
        "{err}"
    );
    assert!(first[0].ends_with("/0%, min/avg/max = T/T/T"), "{err}");
    assert!(first[1].starts_with(&format!("{SILENT} : xmt/rcv/%loss = ")));
    assert!(first[1].ends_with("/0/100%"), "{err}");
    assert_eq!(blocks[1].len(), 4, "{err}");
    let last = &blocks[1][3];
    let sent: u64 = last
        .split(" = ")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!((8..=12).contains(&sent), "10 probes in 2.6 s: {err}");
    if let Some(theirs) = theirs {
        let (_, _, their_err) = theirs.finish();
        let theirs = report_blocks(&their_err);
        assert_eq!(theirs.len(), blocks.len(), "{their_err}");
        // Same shape: counts may differ by one at the edges of a second.
        let shape = |l: &str| l.split(" = ").next().map(str::to_string);
        for (a, b) in blocks.iter().zip(&theirs) {
            let a: Vec<_> = a.iter().map(|l| shape(l)).collect();
            let b: Vec<_> = b.iter().map(|l| shape(l)).collect();
            assert_eq!(a, b, "{err}\n---\n{their_err}");
        }
    }
}
