//! `icmpkit-exporter`: continuous ICMP monitoring of many targets for
//! Prometheus. See the README's "icmpkit-exporter" section.

mod args;
mod config;
mod labels;
mod metrics;
mod probe;
mod server;
mod state;
mod traces;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use icmpkit::socket::SocketKind;

use args::Args;
use state::Exporter;

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ICMPKIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let result = runtime
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("icmpkit-exporter: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bind = args.bind_address();
    let exporter = Exporter::start(args).await?;
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        // `:port` on a host without IPv6: every IPv4 address instead.
        Err(_) if exporter.args.listen_address.starts_with(':') => {
            let v4 = format!("0.0.0.0{}", exporter.args.listen_address);
            tokio::net::TcpListener::bind(&v4).await
        }
        result => result,
    }
    .with_context(|| format!("listening on {bind}"))?;
    drop_privileges(&exporter)?;
    server::reload_on_sighup(exporter.clone())?;
    server::refresh_names_periodically(exporter.clone());
    tracing::info!(address = %listener.local_addr()?, targets = exporter.current().series.len(), "listening");
    axum::serve(listener, server::router(exporter.clone()))
        .with_graceful_shutdown(server::terminated())
        .await
        .context("serving HTTP")?;
    exporter.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Privileges go once the sockets are open: the monitor's sockets (both
/// families) stay open across reloads, so nothing later needs them. What
/// a reload adds that needs a new socket (another TOS or source, a new
/// trace on raw sockets) is refused then, with a log line; /probe opens
/// datagram sockets where allowed (see the README).
fn drop_privileges(exporter: &Exporter) -> anyhow::Result<()> {
    let raw = exporter.socket_kinds().contains(&SocketKind::Raw);
    icmpkit::socket::drop_privileges().context("dropping privileges")?;
    tracing::info!(
        raw_sockets = raw,
        "privileges dropped: the sockets stay open"
    );
    Ok(())
}
