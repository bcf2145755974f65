//! Streaming async ping: each reply, timeout and error as it happens.
//! `cargo run -p icmpkit --example ping_stream -- 127.0.0.1`

use std::time::Duration;

use icmpkit::ping::{PingEvent, PingOptions, Pinger};

#[tokio::main(flavor = "current_thread")]
async fn main() -> icmpkit::Result<()> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1".into());
    let opts = PingOptions::builder()
        .count(3)
        .interval(Duration::from_millis(200))
        .build()?;
    let mut pinger = Pinger::start(&target, &opts).await?;
    // `pinger.stop_handle()` stops it from another task; `Pinger` is also a
    // `futures_core::Stream` of the same events.
    while let Some(event) = pinger.next_event().await {
        match event {
            PingEvent::Reply {
                from,
                sequence,
                rtt,
                ..
            } => println!("reply from {from}: seq={sequence} rtt={rtt:?}"),
            PingEvent::Sent { sequence } => println!("sent: seq={sequence}"),
            PingEvent::Timeout { sequence } => println!("timeout: seq={sequence}"),
            other => println!("{other:?}"),
        }
    }
    let report = pinger.report();
    println!(
        "{} sent, {} received",
        report.packets_sent, report.packets_received
    );
    Ok(())
}
