//! The exporter as a process in a lab namespace: reload (POST and SIGHUP,
//! a bad config keeping the old one), names from the namespace's own
//! /etc/hosts (an unresolvable one counted, the others pinged), SIGTERM,
//! an unprivileged user, shards, smokeping_prober's names, bad input.

mod common;

use std::time::Duration;

use common::{EXPORTER, Process, TempDir, http, sample, start_exporter, wait_for};
use icmpkit_lab::{Lab, lab_or_skip};
use nix::sys::signal::Signal;

const PORT: u16 = 9374;

fn metrics(ns: &icmpkit_lab::Ns, port: u16) -> String {
    let (status, body) = http(ns, "GET", port, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200);
    body
}

/// Waits until `host`'s requests exceed zero; returns the page.
fn pinged(ns: &icmpkit_lab::Ns, port: u16, host: &str) -> Option<String> {
    wait_for(Duration::from_secs(10), || {
        let page = metrics(ns, port);
        (sample(&page, "icmpkit_requests_total", &[("host", host)])? > 0.0).then_some(page)
    })
}

/// A lab whose client resolves names only from its own /etc/hosts (its
/// resolv.conf points at its own loopback: no query leaves it).
fn pair_with_hosts(lab: &Lab) -> icmpkit_lab::Chain {
    let pair = lab.pair().expect("pair");
    lab.etc_file(
        pair.client(),
        "hosts",
        "127.0.0.1 localhost\n10.1.0.2 server.lab\nfd00:1::2 server.lab\n",
    )
    .unwrap();
    lab.etc_file(
        pair.client(),
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    pair
}

/// Writes a config of one target group: `hosts` (YAML list items) probed
/// every `interval`, labelled `site: lab`.
fn write_lab_targets(config: &std::path::Path, hosts: &str, interval: &str) {
    std::fs::write(
        config,
        format!("targets:\n- hosts: [{hosts}]\n  interval: {interval}\n  labels: {{site: lab}}\n"),
    )
    .unwrap()
}

#[test]
fn reload_by_post_and_sighup_and_a_bad_config_keeps_the_old() {
    let test = "reload_by_post_and_sighup_and_a_bad_config_keeps_the_old";
    let lab = lab_or_skip!(test);
    let pair = pair_with_hosts(&lab);
    let client = pair.client();
    let dir = TempDir::new(test);
    let config = dir.path("config.yml");
    let write = |hosts: &str| write_lab_targets(&config, hosts, "100ms");
    write("'10.1.0.2'");
    let config_arg = format!("--config.file={}", config.display());
    let mut exporter = start_exporter(client, PORT, &[&config_arg], &dir);
    let page = pinged(client, PORT, "10.1.0.2").expect("pinged");
    assert!(page.contains("site=\"lab\""), "{page}");

    // POST /-/reload with a new host list.
    write("'fd00:1::2'");
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    let page = pinged(client, PORT, "fd00:1::2").expect("new host pinged");
    assert!(!page.contains("host=\"10.1.0.2\""), "old host still there");

    // A bad config: refused, the old one keeps running, the metric says so.
    std::fs::write(&config, "targets:\n- hosts: [x]\n  network: ip5\n").unwrap();
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 500);
    assert!(body.contains("network"), "{body}");
    let before = sample(
        &metrics(client, PORT),
        "icmpkit_requests_total",
        &[("host", "fd00:1::2")],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let page = metrics(client, PORT);
    let after = sample(&page, "icmpkit_requests_total", &[("host", "fd00:1::2")]).unwrap();
    assert!(after > before, "the old configuration stopped");
    assert_eq!(
        sample(&page, "icmpkit_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert!(
        exporter.log().contains("reload refused"),
        "{}",
        exporter.log()
    );

    // SIGHUP with a good one.
    write("server.lab");
    exporter.signal(Signal::SIGHUP);
    let page = pinged(client, PORT, "server.lab").expect("SIGHUP reload");
    assert_eq!(
        sample(&page, "icmpkit_config_last_reload_successful", &[]),
        Some(1.0)
    );

    // SIGTERM: a clean exit, soon.
    exporter.signal(Signal::SIGTERM);
    let status = exporter
        .wait_exit(Duration::from_secs(5))
        .expect("exit after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", exporter.log());
}

/// A reload keeps the series and counters of the targets it keeps (same
/// host, address, labels and options): they never go backwards. An added
/// target starts at 0; a removed one's series disappear.
#[test]
fn a_reload_keeps_the_counters_of_unchanged_targets() {
    let test = "a_reload_keeps_the_counters_of_unchanged_targets";
    let lab = lab_or_skip!(test);
    let pair = pair_with_hosts(&lab);
    let client = pair.client();
    let dir = TempDir::new(test);
    let config = dir.path("config.yml");
    let write = |hosts: &str| write_lab_targets(&config, hosts, "50ms");
    write("'10.1.0.2', '127.0.0.2'");
    let config_arg = format!("--config.file={}", config.display());
    let _exporter = start_exporter(client, PORT, &[&config_arg], &dir);
    let count = |page: &str, name: &str, host: &str| sample(page, name, &[("host", host)]);
    // 40 requests (2 s) before the reload.
    let before = wait_for(Duration::from_secs(10), || {
        let page = metrics(client, PORT);
        (count(&page, "icmpkit_requests_total", "10.1.0.2")? >= 40.0).then_some(page)
    })
    .expect("pinged");
    let requests = count(&before, "icmpkit_requests_total", "10.1.0.2").unwrap();
    let responses = count(
        &before,
        "icmpkit_response_duration_seconds_count",
        "10.1.0.2",
    )
    .unwrap();

    // One target added, one removed.
    write("'10.1.0.2', 'fd00:1::2'");
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    let after = metrics(client, PORT);
    let kept = count(&after, "icmpkit_requests_total", "10.1.0.2").unwrap();
    assert!(
        kept >= requests,
        "the kept target's requests went from {requests} to {kept}"
    );
    let kept_responses = count(
        &after,
        "icmpkit_response_duration_seconds_count",
        "10.1.0.2",
    )
    .unwrap();
    assert!(
        kept_responses >= responses,
        "{responses} -> {kept_responses}"
    );
    assert!(
        count(&after, "icmpkit_requests_total", "fd00:1::2").unwrap() < 10.0,
        "the new target starts at 0"
    );
    assert!(
        !after.contains("host=\"127.0.0.2\""),
        "the removed target is still there"
    );
    // And they go on counting, every request answered.
    let later = wait_for(Duration::from_secs(10), || {
        let page = metrics(client, PORT);
        (count(&page, "icmpkit_requests_total", "fd00:1::2")? >= 20.0).then_some(page)
    })
    .expect("the new target pinged");
    let kept_later = count(&later, "icmpkit_requests_total", "10.1.0.2").unwrap();
    assert!(kept_later >= kept + 15.0, "{kept} -> {kept_later}");
    let answered = count(
        &later,
        "icmpkit_response_duration_seconds_count",
        "10.1.0.2",
    )
    .unwrap();
    assert!(
        answered >= kept_later - 1.0,
        "replies lost across the reload: {answered} of {kept_later}"
    );
}

#[test]
fn an_unresolvable_name_is_counted_and_the_others_are_pinged() {
    let test = "an_unresolvable_name_is_counted_and_the_others_are_pinged";
    let lab = lab_or_skip!(test);
    let pair = pair_with_hosts(&lab);
    let client = pair.client();
    let dir = TempDir::new(test);
    let _exporter = start_exporter(
        client,
        PORT,
        &["-i", "100ms", "missing.lab", "server.lab"],
        &dir,
    );
    let page = wait_for(Duration::from_secs(10), || {
        let page = metrics(client, PORT);
        (sample(
            &page,
            "icmpkit_response_duration_seconds_count",
            &[("host", "server.lab")],
        )? > 2.0)
            .then_some(page)
    })
    .expect("server.lab answered");
    assert_eq!(
        sample(
            &page,
            "icmpkit_dns_failures_total",
            &[("host", "missing.lab")]
        ),
        Some(1.0)
    );
    assert!(
        page.contains("host=\"server.lab\",ip=\"10.1.0.2\""),
        "{page}"
    );
    assert!(!page.contains("icmpkit_requests_total{host=\"missing.lab\""));
}

#[test]
fn unprivileged_user_runs_on_datagram_sockets() {
    let test = "unprivileged_user_runs_on_datagram_sockets";
    let lab = lab_or_skip!(test);
    let pair = lab.pair().expect("pair");
    let client = pair.client();
    client.allow_ping_sockets().unwrap();
    let dir = TempDir::new(test);
    let mut command = client.run_as(65534, 65534, EXPORTER);
    command.args([
        "--web.listen-address=127.0.0.1:9374",
        "--no-privileged",
        "-i",
        "100ms",
        "10.1.0.2",
    ]);
    let exporter = Process::spawn("icmpkit-exporter", command, dir.path("exporter.log"));
    let answered = wait_for(Duration::from_secs(10), || {
        let (_, page) = http(client, "GET", PORT, "/metrics").ok()?;
        (sample(
            &page,
            "icmpkit_response_duration_seconds_count",
            &[("host", "10.1.0.2")],
        )? > 2.0)
            .then_some(())
    });
    if answered.is_none() && exporter.log().contains("Permission denied") {
        icmpkit_lab::report_skip(
            test,
            &format!(
                "the binary is not reachable by uid 65534: {}",
                exporter.log()
            ),
        );
        return;
    }
    assert!(answered.is_some(), "{}", exporter.log());
}

#[test]
fn shards_split_the_hosts_and_carry_the_prober_label() {
    let test = "shards_split_the_hosts_and_carry_the_prober_label";
    let lab = lab_or_skip!(test);
    let pair = lab.pair().expect("pair");
    let client = pair.client();
    let dir = TempDir::new(test);
    let hosts: Vec<String> = (2..22).map(|i| format!("10.1.0.{i}")).collect();
    let mut seen = Vec::new();
    let mut exporters = Vec::new();
    for shard in 0..2u16 {
        let port = PORT + shard;
        let mut args = vec![
            format!("--shard={shard}/2"),
            format!("--prober=p{shard}"),
            "-i".into(),
            "1s".into(),
        ];
        args.extend(hosts.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        exporters.push(start_exporter(client, port, &args, &dir));
        let page = metrics(client, port);
        for line in page
            .lines()
            .filter(|l| l.starts_with("icmpkit_requests_total{"))
        {
            assert!(line.contains(&format!("prober=\"p{shard}\"")), "{line}");
            let host = line
                .split("host=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            seen.push(host.to_string());
        }
    }
    seen.sort();
    let mut expected = hosts.clone();
    expected.sort();
    assert_eq!(seen, expected, "every host exactly once across the shards");
}

#[test]
fn smokeping_names_switch_emits_smokeping_prober_metric_names() {
    let test = "smokeping_names_switch_emits_smokeping_prober_metric_names";
    let lab = lab_or_skip!(test);
    let pair = lab.pair().expect("pair");
    let client = pair.client();
    let dir = TempDir::new(test);
    let _exporter = start_exporter(
        client,
        PORT,
        &["--metrics.smokeping-names", "-i", "100ms", "10.1.0.2"],
        &dir,
    );
    let page = wait_for(Duration::from_secs(10), || {
        let page = metrics(client, PORT);
        (sample(
            &page,
            "smokeping_response_duration_seconds_count",
            &[("host", "10.1.0.2")],
        )? > 0.0)
            .then_some(page)
    })
    .expect("answered");
    for name in [
        "smokeping_requests_total",
        "smokeping_response_duration_seconds_bucket",
        "smokeping_response_ttl",
        "smokeping_response_duplicates_total",
        "smokeping_send_errors_total",
    ] {
        assert!(
            page.contains(&format!(
                "{name}{{host=\"10.1.0.2\",ip=\"10.1.0.2\",source=\"\",tos=\"0\""
            )),
            "{name}:\n{page}"
        );
    }
    assert!(!page.contains("icmpkit_"), "{page}");
    // Failed receives per socket family (none here, but the series exists
    // for alert rules to watch).
    assert!(
        page.contains("smokeping_receive_errors_total{family=\"ipv4\"} 0"),
        "{page}"
    );
    // smokeping_prober's default buckets.
    assert!(page.contains("le=\"5e-05\""), "{page}");
    assert!(page.contains("le=\"26.2144\""), "{page}");
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let test = "bad_input_fails_with_a_clear_message";
    let lab = lab_or_skip!(test);
    let pair = lab.pair().expect("pair");
    let dir = TempDir::new(test);
    let bad_config = dir.path("bad.yml");
    std::fs::write(
        &bad_config,
        "targets:\n- hosts: [10.1.0.2]\n  interval: soon\n",
    )
    .unwrap();
    let config_arg = format!("--config.file={}", bad_config.display());
    for (args, needle) in [
        (vec!["-s", "8", "10.1.0.2"], "payload_size"),
        (vec![config_arg.as_str()], "interval"),
        (
            vec!["--config.file=/nonexistent/icmpkit.yml"],
            "nonexistent",
        ),
        (vec!["-O", "0x1ff", "10.1.0.2"], "TOS"),
        (
            vec!["--web.listen-address=not an address", "10.1.0.2"],
            "listening",
        ),
    ] {
        let output = pair
            .client()
            .command(EXPORTER)
            .args(&args)
            .output()
            .unwrap();
        let text = icmpkit_lab::output_text(&output);
        assert!(!output.status.success(), "{args:?} succeeded: {text}");
        assert!(text.contains(needle), "{args:?}: {text}");
        assert!(!text.contains("panicked"), "{args:?}: {text}");
    }
}

#[test]
fn probe_answers_like_blackbox_for_live_silent_and_unreachable_targets() {
    let test = "probe_answers_like_blackbox_for_live_silent_and_unreachable_targets";
    let lab = lab_or_skip!(test);
    let chain = lab.chain(1).expect("chain");
    chain
        .reject(icmpkit_lab::Reject::Blackhole, "10.99.0.0/24")
        .unwrap();
    chain
        .reject(icmpkit_lab::Reject::Unreachable, "10.98.0.0/24")
        .unwrap();
    let client = chain.client();
    let dir = TempDir::new(test);
    let config = dir.path("config.yml");
    std::fs::write(
        &config,
        "modules:\n  icmp_5:\n    prober: icmp\n    timeout: 3s\n    icmp:\n      preferred_ip_protocol: ip4\n      packets: 5\n      interval: 100ms\n",
    )
    .unwrap();
    let _exporter = start_exporter(
        client,
        PORT,
        &[&format!("--config.file={}", config.display())],
        &dir,
    );
    let probe = |query: &str| http(client, "GET", PORT, &format!("/probe?{query}")).unwrap();

    // Live, built-in module, IPv4 and IPv6 (two hops: TTL 63).
    for target in ["10.2.0.2", "fd00:2::2"] {
        let (status, page) = probe(&format!("target={target}&module=icmp"));
        assert_eq!(status, 200);
        assert_eq!(
            sample(&page, "probe_success", &[]),
            Some(1.0),
            "{target}: {page}"
        );
        assert_eq!(
            sample(&page, "probe_icmp_reply_hop_limit", &[]),
            Some(63.0),
            "{page}"
        );
        let rtt =
            sample(&page, "probe_icmp_duration_seconds", &[("phase", "rtt")]).expect("rtt phase");
        assert!(rtt > 0.0 && rtt < 0.05, "{page}");
        assert!(sample(&page, "probe_duration_seconds", &[]).unwrap() > 0.0);
        let protocol = if target.contains(':') { 6.0 } else { 4.0 };
        assert_eq!(sample(&page, "probe_ip_protocol", &[]), Some(protocol));
    }
    // Several packets per probe: loss and RTT statistics.
    let (_, page) = probe("target=10.2.0.2&module=icmp_5");
    assert_eq!(
        sample(&page, "probe_icmp_packets_sent", &[]),
        Some(5.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "probe_icmp_packets_received", &[]),
        Some(5.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "probe_icmp_packet_loss_ratio", &[]),
        Some(0.0),
        "{page}"
    );
    assert!(
        sample(&page, "probe_icmp_rtt_seconds", &[("stat", "max")]).is_some(),
        "{page}"
    );
    // Silent: failure within the module's 3 s timeout.
    let started = std::time::Instant::now();
    let (status, page) = probe("target=10.99.0.7&module=icmp_5");
    assert_eq!(status, 200);
    assert_eq!(sample(&page, "probe_success", &[]), Some(0.0), "{page}");
    assert_eq!(
        sample(&page, "probe_icmp_packet_loss_ratio", &[]),
        Some(1.0),
        "{page}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Unreachable: failure, the error counted by type and code.
    let (_, page) = probe("target=10.98.0.7&module=icmp");
    assert_eq!(sample(&page, "probe_success", &[]), Some(0.0), "{page}");
    assert_eq!(
        sample(&page, "probe_icmp_errors", &[("type", "3"), ("code", "1")]),
        Some(1.0),
        "{page}"
    );
    // Bad requests, as blackbox_exporter answers them.
    assert_eq!(probe("module=icmp").0, 400);
    assert_eq!(probe("target=10.2.0.2&module=nope").0, 400);
}

#[test]
fn names_are_resolved_again_periodically() {
    let test = "names_are_resolved_again_periodically";
    let lab = lab_or_skip!(test);
    let pair = pair_with_hosts(&lab);
    let client = pair.client();
    let dir = TempDir::new(test);
    let _exporter = start_exporter(
        client,
        PORT,
        &[
            "--dns.refresh-interval=300ms",
            "-i",
            "100ms",
            "server.lab",
            "late.lab",
        ],
        &dir,
    );
    let page = pinged(client, PORT, "server.lab").expect("server.lab pinged");
    assert!(
        page.contains("host=\"server.lab\",ip=\"10.1.0.2\""),
        "{page}"
    );
    assert!(
        !page.contains("icmpkit_requests_total{host=\"late.lab\""),
        "{page}"
    );
    // server.lab moves, late.lab appears.
    lab.etc_file(
        client,
        "hosts",
        "127.0.0.1 localhost\n10.1.0.1 server.lab\n10.1.0.2 late.lab\n",
    )
    .unwrap();
    let page = wait_for(Duration::from_secs(10), || {
        let page = metrics(client, PORT);
        (page.contains("icmpkit_requests_total{host=\"server.lab\",ip=\"10.1.0.1\"")
            && page.contains("icmpkit_requests_total{host=\"late.lab\",ip=\"10.1.0.2\""))
        .then_some(page)
    })
    .expect("new addresses taken");
    assert!(sample(&page, "icmpkit_dns_failures_total", &[("host", "late.lab")]).unwrap() >= 1.0);
}

/// Trace targets: a 3-hop lab path traced in rounds; each hop's probes,
/// its responder (the router's address) and mtr's RTT columns on
/// /metrics, no path change on a path that does not change; a config
/// file's `traces:` group with its labels.
#[test]
fn trace_targets_export_each_hop() {
    let test = "trace_targets_export_each_hop";
    let lab = lab_or_skip!(test);
    let chain = lab.chain(2).expect("chain");
    let client = chain.client();
    let dir = TempDir::new(test);
    let server = chain.server_v4().to_string();
    let hops: Vec<String> = chain.hops_v4().iter().map(ToString::to_string).collect();
    let config = dir.path("config.yml");
    std::fs::write(
        &config,
        format!(
            "traces:\n- hosts: ['{}']\n  interval: 300ms\n  max_hops: 8\n  labels: {{site: lab}}\n",
            chain.server_v6()
        ),
    )
    .unwrap();
    let config_arg = format!("--config.file={}", config.display());
    let mut exporter = start_exporter(
        client,
        PORT,
        &["--trace", &server, "--trace.interval", "300ms", &config_arg],
        &dir,
    );
    let rounds =
        |page: &str, host: &str| sample(page, "icmpkit_trace_rounds_total", &[("host", host)]);
    let v6 = chain.server_v6().to_string();
    let page = wait_for(Duration::from_secs(15), || {
        let page = metrics(client, PORT);
        (rounds(&page, &server)? >= 3.0 && rounds(&page, &v6)? >= 3.0).then_some(page)
    })
    .expect("three rounds of each trace");
    assert_eq!(hops.len(), 3, "{hops:?}");
    for (i, address) in hops.iter().enumerate() {
        let hop = (i + 1).to_string();
        let sent = sample(
            &page,
            "icmpkit_trace_hop_requests_total",
            &[("host", &server), ("hop", &hop)],
        )
        .unwrap_or_else(|| panic!("hop {hop}: {page}"));
        let answered = sample(
            &page,
            "icmpkit_trace_hop_responses_total",
            &[("host", &server), ("hop", &hop), ("responder", address)],
        )
        .unwrap_or_else(|| panic!("hop {hop} responder {address}: {page}"));
        assert!(
            sent >= 3.0 && answered >= 3.0,
            "hop {hop}: {sent} {answered}"
        );
        let avg = sample(
            &page,
            "icmpkit_trace_hop_rtt_seconds",
            &[("host", &server), ("hop", &hop), ("stat", "avg")],
        )
        .expect("avg rtt");
        assert!(avg > 0.0 && avg < 0.5, "hop {hop}: avg {avg}");
    }
    // Nothing past the destination.
    assert!(
        sample(
            &page,
            "icmpkit_trace_hop_requests_total",
            &[("host", &server), ("hop", "4")]
        )
        .is_none(),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            "icmpkit_trace_path_changes_total",
            &[("host", &server)]
        ),
        Some(0.0),
        "{page}"
    );
    // The file's group, with its label.
    assert!(
        page.contains(&format!(
            "icmpkit_trace_rounds_total{{host=\"{v6}\",ip=\"{v6}\",site=\"lab\"}}"
        )),
        "{page}"
    );
    // A reload keeps both (unchanged) traces running with their books.
    let before = rounds(&metrics(client, PORT), &server).unwrap();
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    let after = rounds(&metrics(client, PORT), &server).unwrap();
    assert!(
        after >= before,
        "the trace's rounds went from {before} to {after} across a reload"
    );
    // A reload adding a trace with a label name of its own (empty on the
    // others, which is no label) keeps the others running: the new one is
    // refused (its sockets would need the privileges dropped), the others
    // were refused with it, being taken for new traces.
    std::fs::write(
        &config,
        format!(
            "traces:\n- hosts: ['{}']\n  interval: 300ms\n  max_hops: 8\n  labels: {{site: lab}}\n\
             - hosts: ['{}']\n  labels: {{rack: r1}}\n",
            chain.server_v6(),
            hops[0]
        ),
    )
    .unwrap();
    let page = metrics(client, PORT);
    let before = [rounds(&page, &server).unwrap(), rounds(&page, &v6).unwrap()];
    let (status, body) = http(client, "POST", PORT, "/-/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    let page = metrics(client, PORT);
    for (host, before) in [&server, &v6].into_iter().zip(before) {
        let after = rounds(&page, host);
        assert!(
            after.is_some_and(|after| after >= before),
            "{host}: the trace's rounds went from {before} to {after:?} across a reload \
             adding a label name\n{}",
            exporter.log()
        );
    }
    exporter.signal(Signal::SIGTERM);
    let status = exporter
        .wait_exit(Duration::from_secs(5))
        .expect("exit after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", exporter.log());
}
