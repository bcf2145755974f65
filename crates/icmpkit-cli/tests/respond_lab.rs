//! `icmpkit respond` in the lab, with the server's kernel echo turned off:
//! it answers `icmpkit ping` and iputils ping, delays as asked (the RTT
//! shows it), drops about the share asked, and answers extended echo.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use icmpkit_lab::output_text as text;
use icmpkit_lab::{Chain, Lab, Ns, lab_or_skip};

const ICMPKIT: &str = env!("CARGO_BIN_EXE_icmpkit");

/// A pair whose server's kernel does not answer echo requests.
fn quiet_pair(lab: &Lab) -> Chain {
    let p = lab.pair().expect("build the lab pair");
    p.server()
        .sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        .expect("sysctl");
    p.server()
        .sysctl("net.ipv6.icmp.echo_ignore_all", "1")
        .expect("sysctl");
    p
}

/// A responder running in the server's namespace; killed (by its own pid)
/// when dropped if it is still running.
struct Responder(Option<Child>);

impl Responder {
    fn start(ns: &Ns, args: &[&str]) -> Responder {
        let mut child = ns
            .command(ICMPKIT)
            .arg("respond")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start icmpkit respond");
        // It announces itself on stderr once its sockets are open.
        let mut err = child.stderr.take().expect("stderr");
        let mut seen = Vec::new();
        let started = Instant::now();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("answering")
            && started.elapsed() < Duration::from_secs(5)
        {
            match err.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => break,
            }
        }
        assert!(
            String::from_utf8_lossy(&seen).contains("answering"),
            "respond did not start: {}",
            String::from_utf8_lossy(&seen)
        );
        // Keep draining stderr so the child never blocks on it.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut err, &mut std::io::sink());
        });
        Responder(Some(child))
    }

    /// Waits for it to end by itself (`-c`), returning its stdout.
    fn finish(mut self) -> String {
        let child = self.0.take().expect("running");
        let out = child.wait_with_output().expect("wait for respond");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// (transmitted, received) and the rtt min from ping's statistics.
fn ping_stats(out: &str) -> (u64, u64, Option<f64>) {
    let line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no statistics in:\n{out}"));
    let num = |suffix: &str| {
        line.split(", ")
            .find_map(|p| p.trim().strip_suffix(suffix)?.trim().parse().ok())
            .unwrap_or(0)
    };
    let min = out
        .lines()
        .find_map(|l| l.split_once("min/avg/max/mdev = "))
        .and_then(|(_, v)| v.split('/').next()?.parse().ok());
    (num(" packets transmitted"), num(" received"), min)
}

#[test]
fn answers_icmpkit_ping_and_iputils_ping_with_kernel_echo_off() {
    let lab = lab_or_skip!("answers_icmpkit_ping_and_iputils_ping_with_kernel_echo_off");
    let p = quiet_pair(&lab);
    let v4 = p.server_v4().to_string();
    let v6 = p.server_v6().to_string();
    // Without the responder, nothing answers.
    let o = p
        .client()
        .command("ping")
        .args(["-c", "1", "-W", "1", &v4])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "kernel echo is off: {}", text(&o));

    let responder = Responder::start(p.server(), &["-c", "12"]);
    for target in [&v4, &v6] {
        let o = p
            .client()
            .command(ICMPKIT)
            .args(["ping", "-c", "3", "-i", "0.05", target])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(ping_stats(&text(&o)).1, 3, "{}", text(&o));
        let o = p
            .client()
            .command("ping")
            .args(["-c", "3", "-i", "0.05", target])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "iputils: {}", text(&o));
        assert_eq!(ping_stats(&text(&o)).1, 3, "iputils: {}", text(&o));
        assert!(
            !text(&o).contains("DUP!"),
            "only one reply each: {}",
            text(&o)
        );
    }
    let log = responder.finish();
    let answered: Vec<_> = log.lines().filter(|l| l.contains("=> answered")).collect();
    assert_eq!(answered.len(), 12, "{log}");
    assert!(
        answered
            .iter()
            .all(|l| l.contains("echo request") && l.contains("echo reply")),
        "{log}"
    );
    assert_eq!(log.matches(&format!("> {v6} ")).count(), 6, "{log}");
}

#[test]
fn delay_shows_in_the_rtt_of_icmpkit_ping() {
    let lab = lab_or_skip!("delay_shows_in_the_rtt_of_icmpkit_ping");
    let p = quiet_pair(&lab);
    let _responder = Responder::start(p.server(), &["--delay", "20ms", "-q"]);
    for target in [p.server_v4().to_string(), p.server_v6().to_string()] {
        let o = p
            .client()
            .command(ICMPKIT)
            .args(["ping", "-c", "5", "-i", "0.05", &target])
            .output()
            .unwrap();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        let (sent, received, min) = ping_stats(&out);
        assert_eq!((sent, received), (5, 5), "{out}");
        let min = min.expect("rtt line");
        assert!((20.0..200.0).contains(&min), "rtt min {min} ms: {out}");
    }
}

#[test]
fn loss_drops_about_its_share() {
    let lab = lab_or_skip!("loss_drops_about_its_share");
    let p = quiet_pair(&lab);
    let _responder = Responder::start(p.server(), &["--loss", "30%", "--seed", "7", "-q", "-4"]);
    let o = p
        .client()
        .command(ICMPKIT)
        .args([
            "ping",
            "-c",
            "300",
            "-i",
            "0.005",
            "-W",
            "1",
            "-q",
            &p.server_v4().to_string(),
        ])
        .output()
        .unwrap();
    let out = text(&o);
    let (sent, received, _) = ping_stats(&out);
    assert_eq!(sent, 300, "{out}");
    // 30% of 300 is 90 lost; a binomial spread of ±3 sigma is about ±24.
    let lost = sent - received;
    assert!((66..=114).contains(&lost), "{lost} of 300 lost: {out}");
}

#[test]
fn extended_echo_and_json_log() {
    let lab = lab_or_skip!("extended_echo_and_json_log");
    let p = quiet_pair(&lab);
    // The kernel would not answer probes anyway (probing is off); the
    // responder does.
    p.server()
        .sysctl("net.ipv4.icmp_echo_enable_probe", "0")
        .expect("sysctl");
    let responder = Responder::start(p.server(), &["--json", "-c", "2"]);
    let dev = p.links()[0].dev_b().to_string();
    for target in [p.server_v4().to_string(), p.server_v6().to_string()] {
        let o = p
            .client()
            .command(ICMPKIT)
            .args([
                "send",
                "-t",
                "extended-echo-request",
                "--interface",
                &dev,
                &target,
            ])
            .output()
            .unwrap();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert!(out.contains("extended echo reply"), "{out}");
        assert!(out.contains("active"), "{out}");
    }
    let log = responder.finish();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    // start, two answers, summary.
    assert_eq!(events.len(), 4, "{log}");
    assert_eq!(events[0]["event"], "start", "{log}");
    assert_eq!(events[3]["event"], "summary", "{log}");
    assert_eq!(events[3]["answered"], 2, "{log}");
    for e in &events[1..3] {
        assert_eq!(e["event"], "answered", "{e}");
        assert!(
            [42, 160].contains(&e["request"]["type"].as_u64().unwrap()),
            "{e}"
        );
        assert_eq!(e["reply"]["code_name"], "no-error", "{e}");
        assert_eq!(e["reply"]["active"], true, "{e}");
        assert_eq!(e["reply"]["ipv4"], true, "{e}");
    }
}

#[test]
fn bad_flags_are_refused() {
    let lab = lab_or_skip!("bad_flags_are_refused");
    let p = lab.pair().expect("pair");
    for (args, needle) in [
        (vec!["--loss", "150%"], "out of range"),
        (vec!["--delay", "soon"], "bad duration"),
        (vec!["--answer", "pong"], "unknown \"pong\""),
    ] {
        let o = p
            .server()
            .command(ICMPKIT)
            .arg("respond")
            .args(&args)
            .output()
            .unwrap();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains(needle), "{args:?}: {out}");
    }
}

/// `-w` ends the responder after that long, with status 0 and its
/// summary; `-c` after that many requests.
#[test]
fn deadline_and_count_end_it() {
    let lab = lab_or_skip!("deadline_and_count_end_it");
    let p = quiet_pair(&lab);
    let start = Instant::now();
    let o = p
        .server()
        .command(ICMPKIT)
        .args(["respond", "-w", "0.5"])
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let mut responder = Responder::start(p.server(), &["-c", "2", "-q"]);
    let server = p.server_v4().to_string();
    let _ = p
        .client()
        .exec(&["ping", "-q", "-c", "3", "-i", "0.2", "-W", "1", &server]);
    let child = responder.0.take().expect("running");
    let out = child.wait_with_output().expect("ends after two requests");
    assert!(out.status.success(), "{:?}", out.status);
}
