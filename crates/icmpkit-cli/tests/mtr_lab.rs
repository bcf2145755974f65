//! `icmpkit mtr` and `icmpkit ping --graph` end to end: the real binary in
//! a real terminal (tmux, driven with `send-keys`, read with
//! `capture-pane`), tracing a 3-hop lab path. The hops appear with the
//! right addresses, counts grow, `p` freezes them, `r` resets them, `q`
//! exits 0 with the terminal restored (alternate screen left, cooked
//! mode), `u` switches to UDP and back to the raw ICMP sockets, a
//! resize redraws it to fit; the same as nobody (unprivileged
//! sockets); SIGTERM; and the report mode prints `icmpkit trace
//! --report`'s layout.

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use icmpkit_lab::{Chain, Ns, lab_or_skip, output_text as text};

mod common;
use common::{ICMPKIT, chain_with_ping_sockets as chain};

/// A tmux session of its own server (its own socket: no user's tmux is
/// touched), killed when dropped.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Runs `command` (a shell line) in a 120×40 terminal. After it, the
    /// shell prints its exit code and whether the terminal is in
    /// canonical mode again, then waits to be read.
    fn start(test: &str, command: &str) -> Tmux {
        let socket = format!("icmpkit-{}-{test}", std::process::id());
        let session = "live".to_string();
        let pid_file = Tmux::pid_file(&socket);
        // `ip netns exec` and `setpriv` exec: the shell's pid is icmpkit's.
        let line = format!(
            "sh -c 'echo $$ > {pid_file}; exec {command}'; echo EXIT=$?; \
             echo MODE=$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'); sleep 60"
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "120", "-y", "40", "-s", &session, &line])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket, session }
    }

    fn pid_file(socket: &str) -> String {
        std::env::temp_dir()
            .join(format!("{socket}.pid"))
            .display()
            .to_string()
    }

    /// The pid of the command (icmpkit itself).
    fn pid(&self) -> String {
        let text = std::fs::read_to_string(Tmux::pid_file(&self.socket)).expect("the pid file");
        text.trim().to_string()
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", &self.session, keys]);
    }

    /// `#{alternate_on}`: 1 while the alternate screen is shown.
    fn alternate_screen(&self) -> bool {
        self.tmux(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{alternate_on}",
        ])
        .trim()
            == "1"
    }

    /// Waits (up to `limit`) for the screen to satisfy `ok`; the last
    /// screen either way.
    fn wait_for(&self, limit: Duration, ok: impl Fn(&str) -> bool) -> (bool, String) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return (true, screen);
            }
            if start.elapsed() > limit {
                return (false, screen);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        let _ = std::fs::remove_file(Tmux::pid_file(&self.socket));
    }
}

/// The table rows on a screen: (hop, address, Snt).
fn rows(screen: &str) -> Vec<(u8, IpAddr, u64)> {
    screen
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let hop = words.next()?.strip_suffix('.')?.parse().ok()?;
            let address = words.next()?.parse().ok()?;
            // Loss% then Snt.
            let _loss = words.next()?;
            let sent = words.next()?.parse().ok()?;
            Some((hop, address, sent))
        })
        .collect()
}

fn path(c: &Chain) -> Vec<IpAddr> {
    c.hops_v4().into_iter().map(IpAddr::from).collect()
}

fn addresses(rows: &[(u8, IpAddr, u64)]) -> Vec<IpAddr> {
    rows.iter().map(|r| r.1).collect()
}

/// `ip netns exec NS [setpriv as nobody] icmpkit args...`, as a shell line.
fn in_namespace(ns: &Ns, nobody: bool, args: &str) -> String {
    let user = if nobody {
        "setpriv --reuid=65534 --regid=65534 --clear-groups -- "
    } else {
        ""
    };
    format!("ip netns exec {} {user}{ICMPKIT} {args}", ns.name())
}

fn skip_without_tmux(test: &str) -> bool {
    if let Err(skip) = icmpkit_lab::require_tool("tmux") {
        icmpkit_lab::report_skip(test, &skip);
        return true;
    }
    false
}

/// The hops' Snt counts once all are on screen.
fn all_hops(tmux: &Tmux, expected: &[IpAddr]) -> Vec<(u8, IpAddr, u64)> {
    let (ok, screen) = tmux.wait_for(Duration::from_secs(15), |s| addresses(&rows(s)) == expected);
    assert!(ok, "the hops {expected:?} never showed:\n{screen}");
    rows(&screen)
}

/// The total of the Snt column.
fn sent(screen: &str) -> u64 {
    rows(screen).iter().map(|r| r.2).sum()
}

#[test]
fn live_view_shows_the_hops_pauses_resets_and_quits_cleanly() {
    let test = "live_view_shows_the_hops_pauses_resets_and_quits_cleanly";
    let lab = lab_or_skip!(test);
    if skip_without_tmux(test) {
        return;
    }
    let c = chain(&lab, 2);
    let expected = path(&c);
    assert_eq!(expected.len(), 3, "a 3-hop path");
    let line = in_namespace(
        c.client(),
        false,
        &format!("mtr -n -i 0.2 {}", c.server_v4()),
    );
    let tmux = Tmux::start("live", &line);
    let first = all_hops(&tmux, &expected);
    assert!(
        tmux.alternate_screen(),
        "the view is on the alternate screen"
    );
    // Counts grow.
    let before = first.iter().map(|r| r.2).sum::<u64>();
    let (grew, screen) = tmux.wait_for(Duration::from_secs(10), |s| sent(s) >= before + 6);
    assert!(grew, "the counts do not grow:\n{screen}");
    // p freezes them.
    tmux.keys("p");
    let (paused, _) = tmux.wait_for(Duration::from_secs(3), |s| s.contains("[paused]"));
    assert!(paused, "no [paused] mark:\n{}", tmux.screen());
    std::thread::sleep(Duration::from_millis(500));
    let frozen = sent(&tmux.screen());
    std::thread::sleep(Duration::from_millis(1500));
    let still = tmux.screen();
    assert_eq!(
        sent(&still),
        frozen,
        "probing went on while paused:\n{still}"
    );
    // r resets them (still paused: nothing comes in).
    tmux.keys("r");
    let (reset, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        rows(s).is_empty() && s.contains("rounds 0")
    });
    assert!(reset, "r did not reset:\n{screen}");
    // Resumed, they count again from zero.
    tmux.keys("p");
    let again = all_hops(&tmux, &expected);
    assert!(
        again.iter().all(|r| r.2 < frozen),
        "counts restarted: {again:?} vs {frozen} before"
    );
    // u: UDP probes, on sockets opened after the privilege drop (so
    // unprivileged ones); u again: back to the first, raw, ICMP sockets.
    tmux.keys("u");
    let (udp, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        s.contains("UDP unprivileged") && addresses(&rows(s)) == expected
    });
    assert!(udp, "no switch to UDP:\n{screen}");
    tmux.keys("u");
    let (icmp, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        s.contains("ICMP raw") && addresses(&rows(s)) == expected
    });
    assert!(icmp, "no switch back to raw ICMP:\n{screen}");
    // A narrower terminal: redrawn to fit, the hops still there.
    tmux.tmux(&["resize-window", "-t", &tmux.session, "-x", "60", "-y", "20"]);
    let (fits, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.lines().next().is_some_and(|l| l.chars().count() == 60)
            && addresses(&rows(s)) == expected
            && !s.contains("StDev")
    });
    assert!(fits, "not redrawn for 60 columns:\n{screen}");
    tmux.keys("q");
    let (quit, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("MODE="));
    assert!(quit, "q did not end the view:\n{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("MODE=icanon"),
        "raw mode left on:\n{screen}"
    );
    assert!(!tmux.alternate_screen(), "alternate screen not left");
}

#[test]
fn live_view_as_nobody_with_unprivileged_sockets() {
    let test = "live_view_as_nobody_with_unprivileged_sockets";
    let lab = lab_or_skip!(test);
    if skip_without_tmux(test) {
        return;
    }
    let c = chain(&lab, 2);
    let expected = path(&c);
    for (proto, flag) in [("ICMP", ""), ("UDP", "-u ")] {
        let args = format!("mtr -n {flag}{}", c.server_v4());
        let line = in_namespace(c.client(), true, &args);
        let tmux = Tmux::start(&format!("nobody-{proto}"), &line);
        all_hops(&tmux, &expected);
        let title = tmux.screen();
        assert!(
            title.contains(&format!("{proto} unprivileged")),
            "{proto}: {title}"
        );
        tmux.keys("q");
        let (quit, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("MODE="));
        assert!(quit && screen.contains("EXIT=0"), "{proto}: {screen}");
        assert!(screen.contains("MODE=icanon"), "{proto}: {screen}");
        assert!(!tmux.alternate_screen());
    }
}

#[test]
fn sigterm_restores_the_terminal_and_report_on_exit_prints_the_report() {
    let test = "sigterm_restores_the_terminal_and_report_on_exit_prints_the_report";
    let lab = lab_or_skip!(test);
    if skip_without_tmux(test) {
        return;
    }
    let c = chain(&lab, 2);
    let expected = path(&c);
    let args = format!("mtr -n -i 0.2 --report-on-exit {}", c.server_v4());
    let tmux = Tmux::start("sigterm", &in_namespace(c.client(), false, &args));
    all_hops(&tmux, &expected);
    Command::new("kill")
        .args(["-TERM", &tmux.pid()])
        .status()
        .expect("kill");
    let (ended, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("MODE="));
    assert!(ended && screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("MODE=icanon"), "{screen}");
    assert!(!tmux.alternate_screen());
    assert!(screen.contains("HOST: "), "no report:\n{screen}");
    for address in &expected {
        assert!(screen.contains(&format!(".|-- {address}")), "{screen}");
    }
}

/// Two targets, two tabs: → shows the second one's hops, ← the first's.
#[test]
fn one_tab_per_target() {
    let test = "one_tab_per_target";
    let lab = lab_or_skip!(test);
    if skip_without_tmux(test) {
        return;
    }
    let c = chain(&lab, 2);
    let v4 = path(&c);
    let v6: Vec<IpAddr> = c.hops_v6().into_iter().map(IpAddr::from).collect();
    let args = format!("mtr -n -i 0.2 {} {}", c.server_v4(), c.server_v6());
    let tmux = Tmux::start("tabs", &in_namespace(c.client(), false, &args));
    all_hops(&tmux, &v4);
    tmux.keys("Right");
    let screen = all_hops(&tmux, &v6);
    assert!(screen.iter().all(|r| r.1.is_ipv6()), "{screen:?}");
    tmux.keys("Left");
    all_hops(&tmux, &v4);
    tmux.keys("q");
    let (quit, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("MODE="));
    assert!(quit && screen.contains("EXIT=0"), "{screen}");
}

/// mtr's report (asked for, or on a pipe) is `icmpkit trace --report`'s.
#[test]
fn report_mode_is_trace_reports_layout() {
    let lab = lab_or_skip!("report_mode_is_trace_reports_layout");
    let c = chain(&lab, 2);
    let server = c.server_v4().to_string();
    let run = |args: &[&str]| {
        let o = c.client().command(ICMPKIT).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let trace = run(&[
        "trace",
        "--report",
        "-n",
        "-c",
        "3",
        "--interval",
        "0.1",
        &server,
    ]);
    let mtr = run(&["mtr", "-r", "-n", "-c", "3", "-i", "0.1", &server]);
    let piped = run(&["mtr", "-n", "-c", "3", "-i", "0.1", &server]);
    // Figures differ from run to run: the layout must not. Each line up
    // to the figures, and every line's length (the `Start:` time aside).
    let layout = |report: &str| -> Vec<(String, usize)> {
        report
            .lines()
            .skip(1)
            .map(|l| (l.chars().take(40).collect(), l.len()))
            .collect()
    };
    assert_eq!(layout(&mtr), layout(&trace), "mtr:\n{mtr}\ntrace:\n{trace}");
    assert_eq!(layout(&piped), layout(&trace), "piped:\n{piped}");
    assert_eq!(trace.lines().count(), 5, "{trace}");
    for line in mtr.lines().skip(2) {
        let sent: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(sent[3], "3", "3 rounds: {line}");
    }
    // mtr 0.95 itself (T9 of the new-user trial): `Start:` with the same
    // shape, `HOST:` with the local host name byte for byte, the hops
    // with the same columns (figures aside: digits masked).
    if let Err(e) = icmpkit_lab::require_tool("mtr") {
        icmpkit_lab::report_skip("report_mode_is_trace_reports_layout (mtr part)", &e);
        return;
    }
    let o = c
        .client()
        .command("mtr")
        .args(["-r", "-n", "-c", "3", "-i", "0.1", &server])
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&o.stdout).into_owned();
    let masked = |report: &str| -> Vec<String> {
        report
            .lines()
            .map(|l| {
                l.chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect()
            })
            .collect()
    };
    let (ours, theirs_masked) = (masked(&mtr), masked(&theirs));
    assert_eq!(
        ours.len(),
        theirs_masked.len(),
        "mtr:\n{theirs}\nours:\n{mtr}"
    );
    assert_eq!(ours[0], theirs_masked[0], "Start:\n{theirs}\nours:\n{mtr}");
    let host = |r: &str| r.lines().nth(1).map(str::to_string);
    assert_eq!(host(&mtr), host(&theirs), "HOST:\n{theirs}\nours:\n{mtr}");
    // Addresses and figures' places: masked lines alike up to the
    // figures, the same length.
    for (ours, theirs) in ours.iter().zip(&theirs_masked).skip(2) {
        assert_eq!(ours.len(), theirs.len(), "{ours:?}\n{theirs:?}");
        assert_eq!(ours[..33], theirs[..33]);
    }
}

#[test]
fn ping_graph_draws_and_prints_the_statistics() {
    let test = "ping_graph_draws_and_prints_the_statistics";
    let lab = lab_or_skip!(test);
    if skip_without_tmux(test) {
        return;
    }
    let c = chain(&lab, 2);
    let args = format!("ping --graph -i 0.2 {} {}", c.server_v4(), c.server_v6());
    let tmux = Tmux::start("graph", &in_namespace(c.client(), false, &args));
    let (drawn, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        s.contains("ms│") && s.matches("received, 0% packet loss").count() == 2
    });
    assert!(drawn, "no graph with both targets' statistics:\n{screen}");
    assert!(tmux.alternate_screen());
    tmux.keys("q");
    let (quit, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("MODE="));
    assert!(quit && screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("MODE=icanon"), "{screen}");
    assert_eq!(
        screen.matches(" ping statistics ---").count(),
        2,
        "{screen}"
    );
    assert!(screen.contains("rtt min/avg/max/mdev"), "{screen}");
}
