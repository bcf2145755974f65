//! Every command's `--json` output, record by record, against its JSON
//! Schema in `docs/schema/` (draft 2020-12): on loopback for what needs no
//! path (ping, sweep, trace, send, decode), in lab namespaces for what does
//! (ICMP errors from a router, a trace through it, respond, listen). The
//! schemas allow no key they do not name, so a renamed key fails here; and
//! every kind of record a run should give must have been seen.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use icmpkit_lab::{Chain, Reject, lab_or_skip, output_text as text};
use jsonschema::{Registry, Validator};
use serde_json::Value;

use common::{ICMPKIT, Running};

const COMMANDS: [&str; 7] = [
    "ping", "sweep", "trace", "send", "respond", "listen", "decode",
];

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema")
}

fn load(name: &str) -> Value {
    let path = schema_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The validators of every command, `common.json` given to each (nothing
/// is fetched), formats (addresses) checked.
struct Schemas {
    validators: Vec<(&'static str, Validator)>,
}

impl Schemas {
    fn load() -> Schemas {
        let common = load("common");
        let id = common["$id"]
            .as_str()
            .expect("common.json has an $id")
            .to_string();
        let registry = Registry::new()
            .add(id, common)
            .expect("common.json is a resource")
            .prepare()
            .expect("registry");
        let validators = COMMANDS
            .iter()
            .map(|&command| {
                let schema = load(command);
                let validator = jsonschema::options()
                    .with_registry(&registry)
                    .offline()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("{command}.json: {e}"));
                (command, validator)
            })
            .collect();
        Schemas { validators }
    }

    fn validator(&self, command: &str) -> &Validator {
        &self
            .validators
            .iter()
            .find(|(c, _)| *c == command)
            .unwrap_or_else(|| panic!("no schema for {command}"))
            .1
    }

    /// The records of `command`'s stdout, each valid, the first a start
    /// record naming `command` and the version; their event names are added
    /// to `seen` (as `command/event`).
    fn check(&self, command: &str, o: &Output, seen: &mut BTreeSet<String>) -> Vec<Value> {
        let out = String::from_utf8_lossy(&o.stdout);
        let records: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{command}: {e}: {l}")))
            .collect();
        let first = records
            .first()
            .unwrap_or_else(|| panic!("{command}: no output: {}", text(o)));
        assert_eq!(first["event"], "start", "{command}: {out}");
        assert_eq!(first["command"], command, "{out}");
        assert_eq!(first["schema_version"], 1, "{out}");
        let validator = self.validator(command);
        for record in &records {
            let errors: Vec<String> = validator
                .iter_errors(record)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{command}: {record}\n{errors:#?}");
            let event = record["event"].as_str().expect("an event");
            seen.insert(format!("{command}/{event}"));
        }
        records
    }
}

/// `icmpkit <args>` in the host namespace (loopback targets only).
fn host(args: &[&str]) -> Output {
    std::process::Command::new(ICMPKIT)
        .args(args)
        .output()
        .expect("run icmpkit")
}

fn expect_seen(seen: &BTreeSet<String>, wanted: &[&str]) {
    let missing: Vec<&&str> = wanted.iter().filter(|w| !seen.contains(**w)).collect();
    assert!(
        missing.is_empty(),
        "never seen: {missing:?} (seen {seen:?})"
    );
}

/// The schemas themselves: valid draft 2020-12, one per command, and
/// strict: a record with an old name (`avg_rtt`), a seed as a number or
/// a kebab-case event is refused.
#[test]
fn schemas_are_strict() {
    let schemas = Schemas::load();
    let ping = schemas.validator("ping");
    let mut summary = serde_json::json!({
        "event": "summary", "target": "127.0.0.1", "address": "127.0.0.1", "sent": 1,
        "received": 1, "loss_percent": 0.0, "duplicates": 0, "corrupted": 0,
        "icmp_errors": 0, "local_errors": 0, "send_errors": 0, "reply_ttl": 64,
        "min_ms": 0.1, "avg_ms": 0.1, "max_ms": 0.1, "mdev_ms": 0.0, "jitter_ms": null,
        "rtts_ms": [0.1], "elapsed_s": 0.0, "alive": true,
    });
    assert!(ping.is_valid(&summary), "{summary}");
    summary["avg_rtt"] = 0.1.into();
    assert!(!ping.is_valid(&summary), "an unknown key passes");
    let sweep = schemas.validator("sweep");
    let start = |seed: Value| {
        serde_json::json!({"event": "start", "schema_version": 1,
        "command": "sweep", "targets": "1", "seed": seed})
    };
    assert!(sweep.is_valid(&start("15585875297585830013".into())));
    assert!(!sweep.is_valid(&start(15_585_875_297_585_830_013u64.into())));
    let send = schemas.validator("send");
    let refused = |event: &str| serde_json::json!({"event": event, "index": 0, "message": "x"});
    assert!(send.is_valid(&refused("send_error")));
    assert!(!send.is_valid(&refused("send-error")));
}

/// Loopback: ping (both families), sweep, trace, send (a reply, and a
/// timeout for a type nobody answers), decode (a good, a malformed, an
/// error quoting a datagram).
#[test]
fn loopback_output_matches_the_schemas() {
    let schemas = Schemas::load();
    let mut seen = BTreeSet::new();
    let o = host(&["ping", "-c", "2", "-i", "0.1", "--json", "127.0.0.1", "::1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    schemas.check("ping", &o, &mut seen);
    let o = host(&[
        "sweep",
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "-c",
        "2",
        "-p",
        "50",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    schemas.check("sweep", &o, &mut seen);
    let o = host(&["trace", "-q", "2", "--json", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    schemas.check("trace", &o, &mut seen);
    let o = host(&["send", "--json", "-c", "2", "-i", "0.05", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    schemas.check("send", &o, &mut seen);
    // An address mask request: Linux does not answer it.
    let o = host(&[
        "send",
        "--json",
        "-t",
        "address-mask-request",
        "-W",
        "0.2",
        "127.0.0.1",
    ]);
    schemas.check("send", &o, &mut seen);
    let echo = "45000024000040004001b6d5c0000201c00002020800d5b6123400010102030405060708";
    let cut = "0d00f2ff00010002";
    // Port unreachable quoting a UDP datagram.
    let error = "45000038000040004001b6c1c0000202c00002010303de1900000000\
                 4500001c000040004011b6cdc0000201c00002029c40829a00080000";
    let o = host(&["decode", "--json", "-q", echo, cut, error]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let records = schemas.check("decode", &o, &mut seen);
    assert_eq!(records.len(), 5, "start, three packets, summary");
    expect_seen(
        &seen,
        &[
            "ping/start",
            "ping/sent",
            "ping/reply",
            "ping/summary",
            "sweep/start",
            "sweep/host",
            "sweep/summary",
            "trace/start",
            "trace/hop",
            "trace/summary",
            "send/start",
            "send/sent",
            "send/reply",
            "send/timeout",
            "send/summary",
            "decode/start",
            "decode/packet",
            "decode/summary",
        ],
    );
}

fn lab_chain(lab: &icmpkit_lab::Lab) -> Chain {
    let c = lab.chain(1).expect("chain");
    c.reject(Reject::Unreachable, "10.9.0.252/30").unwrap();
    c
}

/// Lab namespaces: ICMP errors (ping, sweep, send), a trace through a
/// router, respond answering and listen hearing pings.
#[test]
fn lab_output_matches_the_schemas() {
    let lab = lab_or_skip!("lab_output_matches_the_schemas");
    let schemas = Schemas::load();
    let mut seen = BTreeSet::new();
    let c = lab_chain(&lab);
    let client = c.client();
    let run = |command: &str, args: &[&str]| common::icmpkit(client, command, args);
    let rejected = "10.9.0.253";
    let server = c.server_v4().to_string();

    schemas.check(
        "ping",
        &run("ping", &["-c", "1", "--json", rejected]),
        &mut seen,
    );
    let o = run(
        "sweep",
        &[rejected, &server, "-r", "0", "-t", "300", "--json"],
    );
    schemas.check("sweep", &o, &mut seen);
    let o = run("send", &["--json", "-W", "0.5", rejected]);
    schemas.check("send", &o, &mut seen);
    let o = run("trace", &["-n", "-q", "1", "--json", &server]);
    let hops = schemas.check("trace", &o, &mut seen);
    assert_eq!(hops.len(), 4, "start, two hops, summary: {}", text(&o));

    // respond and listen in the server's namespace while the client pings.
    let p = lab.pair().expect("pair");
    let target = p.server_v4().to_string();
    for (command, args) in [
        ("respond", &["--json", "-c", "2", "-w", "10"][..]),
        // Every request dropped (the kernel still answers the pings).
        (
            "respond",
            &["--json", "-c", "2", "-w", "10", "--loss", "100%"],
        ),
        (
            "listen",
            &[
                "--json",
                "-c",
                "2",
                "--duration",
                "10",
                "--type",
                "echo-request",
            ],
        ),
    ] {
        let running = Running::start(p.server(), command, args);
        // Its sockets open before the first ping leaves.
        std::thread::sleep(Duration::from_millis(500));
        let o = common::icmpkit(p.client(), "ping", &["-c", "2", "-i", "0.1", &target]);
        assert!(o.status.success(), "{}", text(&o));
        let (status, stdout, stderr) = running.finish();
        assert!(status.success(), "{command}: {stdout}{stderr}");
        let output = Output {
            status,
            stdout: stdout.into_bytes(),
            stderr: stderr.into_bytes(),
        };
        schemas.check(command, &output, &mut seen);
    }
    expect_seen(
        &seen,
        &[
            "ping/error",
            "sweep/host",
            "send/error",
            "trace/hop",
            "respond/start",
            "respond/answered",
            "respond/dropped",
            "respond/summary",
            "listen/start",
            "listen/packet",
            "listen/summary",
        ],
    );
}
