//! A real Prometheus scrapes the exporter, both in the client namespace of
//! client — r1 — r2 — server (the server answers, r2 blackholes one prefix
//! and answers another with host unreachable); the test asks Prometheus's
//! HTTP API what it stored, and `promtool check metrics` reads /metrics.

mod common;

use std::time::Duration;

use common::{Process, TempDir, http, start_exporter, wait_for};
use icmpkit_lab::{Reject, lab_or_skip, require_or_skip, require_tool};

const EXPORTER_PORT: u16 = 9374;
const PROMETHEUS_PORT: u16 = 9090;
const LIVE_V4: &str = "10.3.0.2";
const LIVE_V6: &str = "fd00:3::2";
const DEAD: &str = "10.99.0.7";
const UNREACHABLE: &str = "10.98.0.7";

/// Prometheus's answer to an instant query: (labels, value) of each series.
fn query(ns: &icmpkit_lab::Ns, promql: &str) -> Vec<(serde_json::Value, f64)> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = http(
        ns,
        "GET",
        PROMETHEUS_PORT,
        &format!("/api/v1/query?query={encoded}"),
    )
    .expect("query Prometheus");
    assert_eq!(status, 200, "{promql}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|r| {
            let value = r["value"][1].as_str().unwrap().parse().unwrap();
            (r["metric"].clone(), value)
        })
        .collect()
}

fn single(ns: &icmpkit_lab::Ns, promql: &str) -> f64 {
    let result = query(ns, promql);
    assert_eq!(result.len(), 1, "{promql}: {result:?}");
    result[0].1
}

#[test]
fn prometheus_scrapes_rates_loss_errors_ttl_and_ipv6() {
    let test = "prometheus_scrapes_rates_loss_errors_ttl_and_ipv6";
    require_or_skip!(test, require_tool("prometheus"));
    require_or_skip!(test, require_tool("promtool"));
    let lab = lab_or_skip!(test);
    let chain = lab.chain(2).expect("chain");
    chain.reject(Reject::Blackhole, "10.99.0.0/24").unwrap();
    chain.reject(Reject::Unreachable, "10.98.0.0/24").unwrap();
    let client = chain.client();
    let dir = TempDir::new(test);

    // 5 requests a second per target.
    let exporter = start_exporter(
        client,
        EXPORTER_PORT,
        &["-i", "200ms", LIVE_V4, LIVE_V6, DEAD, UNREACHABLE],
        &dir,
    );
    std::fs::write(
        dir.path("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: icmpkit\n  static_configs:\n  - targets: ['127.0.0.1:{EXPORTER_PORT}']\n"
        ),
    )
    .unwrap();
    let mut command = client.command("prometheus");
    command.args([
        format!("--config.file={}", dir.path("prometheus.yml").display()),
        format!("--storage.tsdb.path={}", dir.path("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"),
    ]);
    let prometheus = Process::spawn("prometheus", command, dir.path("prometheus.log"));

    // Up, then 8 s of samples.
    let up = wait_for(Duration::from_secs(30), || {
        http(client, "GET", PROMETHEUS_PORT, "/api/v1/query?query=up")
            .ok()
            .filter(|(_, body)| body.contains("\"1\""))
    });
    assert!(
        up.is_some(),
        "Prometheus never scraped the exporter:\n{}",
        prometheus.log()
    );
    std::thread::sleep(Duration::from_secs(8));

    // A live target's requests and responses grow at the configured rate.
    for host in [LIVE_V4, LIVE_V6] {
        let requests = single(
            client,
            &format!("rate(icmpkit_requests_total{{host=\"{host}\"}}[5s])"),
        );
        assert!(
            (4.0..=6.0).contains(&requests),
            "{host}: {requests} requests/s"
        );
        let responses = single(
            client,
            &format!("rate(icmpkit_response_duration_seconds_count{{host=\"{host}\"}}[5s])"),
        );
        assert!(
            (4.0..=6.0).contains(&responses),
            "{host}: {responses} responses/s"
        );
        // Three hops away: TTL / hop limit 64 less two routers.
        assert_eq!(
            single(client, &format!("icmpkit_response_ttl{{host=\"{host}\"}}")),
            62.0,
            "{host}"
        );
        let loss = single(
            client,
            &format!(
                "1 - increase(icmpkit_response_duration_seconds_count{{host=\"{host}\"}}[5s]) / increase(icmpkit_requests_total{{host=\"{host}\"}}[5s])"
            ),
        );
        assert!(loss.abs() < 0.15, "{host}: loss {loss}");
    }
    // The blackholed target: 100% loss.
    let dead_requests = single(
        client,
        &format!("icmpkit_requests_total{{host=\"{DEAD}\"}}"),
    );
    assert!(dead_requests >= 20.0, "{dead_requests}");
    assert_eq!(
        single(
            client,
            &format!("icmpkit_response_duration_seconds_count{{host=\"{DEAD}\"}}")
        ),
        0.0
    );
    // The unreachable one: host unreachable (type 3, code 1) counted.
    let unreachable = single(
        client,
        &format!("icmpkit_icmp_errors_total{{host=\"{UNREACHABLE}\",type=\"3\",code=\"1\"}}"),
    );
    assert!(unreachable >= 5.0, "{unreachable}");
    assert_eq!(
        single(
            client,
            &format!("icmpkit_response_duration_seconds_count{{host=\"{UNREACHABLE}\"}}")
        ),
        0.0
    );

    // promtool accepts the exposition.
    let (_, metrics) = http(client, "GET", EXPORTER_PORT, "/metrics").unwrap();
    std::fs::write(dir.path("metrics.txt"), &metrics).unwrap();
    let check = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "promtool check metrics < {}",
            dir.path("metrics.txt").display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool: {}",
        icmpkit_lab::output_text(&check)
    );
    drop(prometheus);
    drop(exporter);
}
