//! Blocking ping, no async runtime needed:
//! `cargo run -p icmpkit --example ping -- 127.0.0.1`

use std::time::Duration;

use icmpkit::ping::{PingOptions, ping_blocking};

fn main() -> icmpkit::Result<()> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1".into());
    let opts = PingOptions::builder()
        .count(3)
        .interval(Duration::from_millis(200))
        .build()?;
    let report = ping_blocking(&target, &opts)?;
    println!(
        "{} ({}): {} sent, {} received, {:.0}% loss, avg {:?}",
        report.target,
        report.address,
        report.packets_sent,
        report.packets_received,
        report.packet_loss * 100.0,
        report.rtt.avg.unwrap_or_default(),
    );
    Ok(())
}
