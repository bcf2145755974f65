//! The exporter gives up every privilege once its sockets are open, and
//! still reloads and probes: the README's install (`setcap cap_net_raw+ep`)
//! is the path tested, a copy of the binary with that file capability run
//! as `nobody` in a namespace where datagram ICMP sockets are not allowed
//! (raw sockets needed), whose threads must all show empty capability sets
//! in `/proc/<pid>/task/*/status`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{EXPORTER, Process, TempDir, http, sample, wait_for};
use icmpkit_lab::{CapableCopy, NOBODY, lab_or_skip, require_or_skip, thread_capabilities};

const PORT: u16 = 9375;

fn assert_nothing_held(exporter: &Process, when: &str) {
    let threads = thread_capabilities(exporter.child.id());
    let holding: Vec<_> = threads
        .iter()
        .filter(|(_, e, p)| *e != 0 || *p != 0)
        .collect();
    assert!(
        holding.is_empty(),
        "{when}: threads still holding capabilities (tid, CapEff, CapPrm): {holding:x?} of {} \
         threads\n{}",
        threads.len(),
        exporter.log()
    );
}

/// Started on raw sockets (nobody, a file capability, no datagram sockets
/// allowed): every thread holds nothing once it serves; a reload that
/// adds an IPv6 target pings it on the IPv6 socket opened at start, and
/// /probe pings on the raw sockets it opened then.
#[test]
fn privileges_are_dropped_and_reloads_and_probes_still_work() {
    let test = "privileges_are_dropped_and_reloads_and_probes_still_work";
    let lab = lab_or_skip!(test);
    let copy = require_or_skip!(test, CapableCopy::new(Path::new(EXPORTER), test));
    let pair = lab.pair().expect("pair");
    let client = pair.client();
    let dir = TempDir::new(test);
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path("config.yml");
    let write = |hosts: &str| {
        std::fs::write(
            &config,
            format!("targets:\n- hosts: [{hosts}]\n  interval: 100ms\n"),
        )
        .unwrap()
    };
    write("'10.1.0.2'");
    let mut command = client.run_as(NOBODY, NOBODY, copy.binary());
    command.args([
        format!("--web.listen-address=127.0.0.1:{PORT}"),
        format!("--config.file={}", config.display()),
    ]);
    let exporter = Process::spawn("icmpkit-exporter", command, dir.path("exporter.log"));
    let answered = |host: &str, at_least: f64| {
        wait_for(Duration::from_secs(10), || {
            let (_, page) = http(client, "GET", PORT, "/metrics").ok()?;
            (sample(
                &page,
                "icmpkit_response_duration_seconds_count",
                &[("host", host)],
            )? >= at_least)
                .then_some(())
        })
    };
    assert!(answered("10.1.0.2", 3.0).is_some(), "{}", exporter.log());
    assert!(
        exporter.log().contains("privileges dropped"),
        "{}",
        exporter.log()
    );
    assert!(
        exporter.log().contains("raw_sockets=true"),
        "not on raw sockets: {}",
        exporter.log()
    );
    assert_nothing_held(&exporter, "after start");

    // The IPv6 target comes with a reload, long after the drop.
    write("'10.1.0.2', 'fd00:1::2'");
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 200, "{body}\n{}", exporter.log());
    assert!(
        answered("fd00:1::2", 3.0).is_some(),
        "the IPv6 target added by the reload is not answered:\n{}",
        exporter.log()
    );

    // /probe, on a raw socket opened at start.
    let (status, page) = http(client, "GET", PORT, "/probe?target=10.1.0.2&module=icmp").unwrap();
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        sample(&page, "probe_success", &[]),
        Some(1.0),
        "{page}\n{}",
        exporter.log()
    );
    assert_nothing_held(&exporter, "after the reload and a probe");

    // A target needing a socket not opened at start (another TOS) is
    // refused with a log line; the reload goes through for the others.
    std::fs::write(
        &config,
        "targets:\n- hosts: ['10.1.0.2', 'fd00:1::2']\n  interval: 100ms\n\
         - hosts: ['10.1.0.1']\n  interval: 100ms\n  tos: 0x10\n",
    )
    .unwrap();
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 200, "{body}\n{}", exporter.log());
    assert!(
        exporter.log().contains("target refused") && exporter.log().contains("10.1.0.1"),
        "{}",
        exporter.log()
    );
    let (_, page) = http(client, "GET", PORT, "/metrics").unwrap();
    assert!(!page.contains("host=\"10.1.0.1\""), "{page}");
    let before = sample(&page, "icmpkit_requests_total", &[("host", "fd00:1::2")]).unwrap();
    assert!(
        answered("fd00:1::2", before + 3.0).is_some(),
        "the kept targets stopped:\n{}",
        exporter.log()
    );
}
