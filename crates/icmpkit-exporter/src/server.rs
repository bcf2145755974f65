//! The HTTP side: /metrics, /-/healthy, POST /-/reload, and the signals
//! (SIGHUP reloads, SIGTERM and SIGINT stop).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::metrics;
use crate::state::Exporter;

/// The router.
pub fn router(exporter: Arc<Exporter>) -> Router {
    let telemetry = exporter.args.telemetry_path.clone();
    Router::new()
        .route("/", get(landing))
        .route(&telemetry, get(serve_metrics))
        .route("/-/healthy", get(|| async { "Healthy" }))
        .route("/-/reload", post(reload))
        .route("/probe", get(probe))
        .with_state(exporter)
}

async fn landing(State(exporter): State<Arc<Exporter>>) -> Html<String> {
    let path = &exporter.args.telemetry_path;
    Html(format!(
        "<html><head><title>icmpkit exporter</title></head><body><h1>icmpkit exporter</h1>\
         <p><a href=\"{path}\">Metrics</a></p></body></html>"
    ))
}

/// The page, streamed: one snapshot of the counters, encoded piece by
/// piece off the runtime's workers as the client reads it.
async fn serve_metrics(State(exporter): State<Arc<Exporter>>) -> Response {
    let snapshot = Arc::new(metrics::Snapshot::take(&exporter));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        Body::from_stream(metrics::stream(snapshot)),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ProbeQuery {
    target: Option<String>,
    module: Option<String>,
}

/// blackbox_exporter's /probe: 400 for a missing target or an unknown
/// module, else the probe's page (probe_success 0 when it failed).
async fn probe(
    State(exporter): State<Arc<Exporter>>,
    headers: HeaderMap,
    Query(query): Query<ProbeQuery>,
) -> Response {
    let Some(target) = query.target.filter(|t| !t.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "Target parameter is missing\n").into_response();
    };
    let name = query.module.unwrap_or_else(|| "icmp".into());
    let Some(module) = exporter.current().modules.get(&name).cloned() else {
        return (
            StatusCode::BAD_REQUEST,
            format!("Unknown module {name:?}\n"),
        )
            .into_response();
    };
    let page = crate::probe::run(
        &target,
        &module,
        scrape_timeout(&headers),
        &exporter.probe_sockets,
        exporter.args.privilege(),
    )
    .await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        page,
    )
        .into_response()
}

/// The scrape's timeout Prometheus sends, if it is a number of seconds
/// a `Duration` holds (`Duration::from_secs_f64` panicked on `1e30`).
fn scrape_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("X-Prometheus-Scrape-Timeout-Seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

async fn reload(State(exporter): State<Arc<Exporter>>) -> Response {
    match exporter.reload().await {
        Ok(()) => (StatusCode::OK, "reloaded\n").into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {error:#}\n"),
        )
            .into_response(),
    }
}

/// Reloads on each SIGHUP, for as long as the process runs.
pub fn reload_on_sighup(exporter: Arc<Exporter>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            // A refused reload is logged by reload() itself.
            let _ = exporter.reload().await;
        }
    });
    Ok(())
}

/// Resolves the names again every `--dns.refresh-interval`.
pub fn refresh_names_periodically(exporter: Arc<Exporter>) {
    tokio::spawn(async move {
        let period = exporter.args.dns_refresh;
        loop {
            tokio::time::sleep(period).await;
            exporter.refresh_names().await;
        }
    });
}

/// Resolves on SIGTERM or SIGINT.
pub async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_timeout_header_is_used_when_it_is_a_duration_and_ignored_otherwise() {
        let timeout = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                "X-Prometheus-Scrape-Timeout-Seconds",
                value.parse().unwrap(),
            );
            scrape_timeout(&headers)
        };
        assert_eq!(timeout("9.5"), Some(Duration::from_millis(9500)));
        for ignored in ["1e30", "inf", "NaN", "-1", "0", "soon"] {
            assert_eq!(timeout(ignored), None, "{ignored}");
        }
        assert_eq!(scrape_timeout(&HeaderMap::new()), None);
    }
}
