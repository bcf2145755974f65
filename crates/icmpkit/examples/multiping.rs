//! Many targets at once (icmplib's `multiping`): a range, a prefix, names.
//! `cargo run -p icmpkit --example multiping -- 127.0.0.1-127.0.0.4`

use std::time::Duration;

use icmpkit::sweep::{SweepOptions, multiping_blocking};

fn main() -> icmpkit::Result<()> {
    let mut targets: Vec<String> = std::env::args().skip(1).collect();
    if targets.is_empty() {
        targets.push("127.0.0.1-127.0.0.4".into());
    }
    let opts = SweepOptions::builder()
        .retries(1)
        .timeout(Duration::from_millis(300))
        .build()?;
    for result in multiping_blocking(&targets, &opts)? {
        match result {
            Ok(report) if report.is_alive => {
                println!(
                    "{} alive, rtt {:?}",
                    report.address,
                    report.rtt.min.unwrap_or_default()
                )
            }
            Ok(report) => println!("{} unreachable", report.address),
            Err(unresolved) => println!("{}: {}", unresolved.target, unresolved.error),
        }
    }
    Ok(())
}
