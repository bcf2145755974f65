//! What the exporter runs: the monitor of the current configuration and
//! the labels of its series; built anew on each reload, the old one kept
//! if the new one fails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use icmpkit::monitor::{Monitor, MonitorOptions, MonitorTarget, TargetStats};
use icmpkit::socket::{Family, SocketKind};
use std::net::IpAddr;

use crate::args::Args;
use crate::config::{self, ConfigFile, HostSpec};
use crate::probe::Module;
use crate::traces::RunningTrace;

/// Label names and values of one series.
pub type Labels = Vec<(String, String)>;

/// One configuration, running.
#[derive(Debug, Default)]
pub struct Running {
    monitor: Option<Monitor>,
    /// Labels of each monitor target, in its order.
    pub series: Vec<Labels>,
    /// /probe's modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Names (not literals) as resolved for this configuration, `None`
    /// where resolution failed: what the periodic refresh compares.
    pub names: Vec<(String, Option<Family>, Option<IpAddr>)>,
    /// The trace targets, running (stopped when this is dropped).
    pub traces: Vec<RunningTrace>,
}

impl Running {
    /// Every series' labels with its counters.
    pub fn stats(&self) -> Vec<TargetStats> {
        self.monitor
            .as_ref()
            .map(Monitor::stats)
            .unwrap_or_default()
    }

    /// Failed receives per family, over this configuration's sockets.
    pub fn receive_errors(&self) -> Vec<(Family, u64)> {
        self.monitor
            .as_ref()
            .map(Monitor::receive_errors)
            .unwrap_or_default()
    }

    fn socket_kinds(&self) -> Vec<SocketKind> {
        self.monitor
            .as_ref()
            .map(Monitor::socket_kinds)
            .unwrap_or_default()
    }

    async fn stop(self) {
        if let Some(monitor) = self.monitor {
            monitor.stop().await;
        }
    }
}

/// The exporter's state, shared by the HTTP handlers and signal tasks.
#[derive(Debug)]
pub struct Exporter {
    pub args: Args,
    running: RwLock<Arc<Running>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Failed resolutions per host, over the process's life.
    dns_failures: Mutex<BTreeMap<String, u64>>,
    last_reload_ok: AtomicBool,
    /// Seconds since the epoch of the last successful (re)load.
    last_reload_success: AtomicU64,
    /// Bytes of the last /metrics page: the next one is allocated that
    /// big at once (10,000 targets make ~29 MB; growing a string to that
    /// by doubling cost a sixth of the scrape in copies and page faults).
    pub last_page_len: AtomicUsize,
}

impl Exporter {
    /// Loads the configuration and starts pinging; fails on a bad
    /// configuration or a socket that cannot be opened.
    pub async fn start(args: Args) -> anyhow::Result<Arc<Exporter>> {
        let exporter = Arc::new(Exporter {
            args,
            running: RwLock::new(Arc::new(Running::default())),
            reloading: tokio::sync::Mutex::new(()),
            dns_failures: Mutex::new(BTreeMap::new()),
            last_reload_ok: AtomicBool::new(false),
            last_reload_success: AtomicU64::new(0),
            last_page_len: AtomicUsize::new(0),
        });
        let running = exporter.build().await?;
        exporter.install(running).await;
        Ok(exporter)
    }

    /// The running configuration.
    pub fn current(&self) -> Arc<Running> {
        Arc::clone(&self.running.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Re-reads the configuration and re-resolves every name; a bad
    /// configuration is refused (logged, the old one keeps running).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _one = self.reloading.lock().await;
        match self.build().await {
            Ok(running) => {
                self.install(running).await;
                tracing::info!(
                    targets = self.current().series.len(),
                    "configuration reloaded"
                );
                Ok(())
            }
            Err(error) => {
                self.last_reload_ok.store(false, Ordering::SeqCst);
                tracing::error!(
                    error = format!("{error:#}"),
                    "reload refused, the previous configuration keeps running"
                );
                Err(error)
            }
        }
    }

    /// Stops pinging (SIGTERM).
    pub async fn shutdown(&self) {
        let old = std::mem::replace(
            &mut *self.running.write().unwrap_or_else(|p| p.into_inner()),
            Arc::new(Running::default()),
        );
        stop_when_unused(old).await;
    }

    pub fn last_reload_ok(&self) -> bool {
        self.last_reload_ok.load(Ordering::SeqCst)
    }

    pub fn last_reload_success_seconds(&self) -> u64 {
        self.last_reload_success.load(Ordering::SeqCst)
    }

    /// Resolves the running configuration's names again; reloads if an
    /// address changed or a failed name resolves now. True if it reloaded.
    pub async fn refresh_names(&self) -> bool {
        let running = self.current();
        let mut changed = None;
        for (host, family, before) in &running.names {
            let now = icmpkit::resolve::resolve(host, *family)
                .await
                .ok()
                .map(|t| t.address);
            if now.is_none() {
                self.count_dns_failure(host);
            }
            if now.is_some() && now != *before {
                changed = Some(host.clone());
                break;
            }
        }
        drop(running);
        let Some(host) = changed else {
            return false;
        };
        tracing::info!(%host, "address changed: reloading");
        self.reload().await.is_ok()
    }

    fn count_dns_failure(&self, host: &str) {
        *self
            .dns_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(host.to_string())
            .or_default() += 1;
    }

    pub fn dns_failures(&self) -> BTreeMap<String, u64> {
        self.dns_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The socket kinds of the running configuration.
    pub fn socket_kinds(&self) -> Vec<SocketKind> {
        self.current().socket_kinds()
    }

    async fn install(&self, running: Running) {
        let old = std::mem::replace(
            &mut *self.running.write().unwrap_or_else(|p| p.into_inner()),
            Arc::new(running),
        );
        self.last_reload_ok.store(true, Ordering::SeqCst);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.last_reload_success.store(now, Ordering::SeqCst);
        stop_when_unused(old).await;
    }

    async fn build(&self) -> anyhow::Result<Running> {
        let file = match &self.args.config_file {
            Some(path) => config::load(path)?,
            None => ConfigFile::default(),
        };
        let hosts =
            config::hosts(&self.args, &file).with_context(|| match &self.args.config_file {
                Some(path) => format!("config file {}", path.display()),
                None => "command line".into(),
            })?;
        let modules = crate::probe::modules(&file.modules)?;
        let label_names = user_label_names(&hosts);
        let mut targets = Vec::with_capacity(hosts.len());
        let mut series = Vec::with_capacity(hosts.len());
        let mut names = Vec::new();
        for spec in &hosts {
            // One unresolvable name never stops the others.
            let Some(target) = self.resolve(&spec.host, spec.family, &mut names).await else {
                continue;
            };
            targets.push(MonitorTarget {
                address: target.address,
                interval: spec.interval,
                payload_size: spec.size,
                tos: (spec.tos != 0).then_some(spec.tos),
                source: spec.source,
            });
            series.push(self.labels(spec, &target.address.to_string(), &label_names));
        }
        let traces = self.start_traces(&file, &mut names).await?;
        let opts = MonitorOptions {
            buckets: self.args.buckets.durations(),
            privilege: self.args.privilege(),
        };
        let monitor = if targets.is_empty() {
            None
        } else {
            Some(Monitor::start(&targets, &opts).context("starting the monitor")?)
        };
        Ok(Running {
            monitor,
            series,
            modules,
            names,
            traces,
        })
    }

    /// Resolves `host`; a name (not a literal) is recorded in `names` for
    /// the periodic refresh, resolved or not; a failure is counted and
    /// logged, and the host left out until it resolves.
    async fn resolve(
        &self,
        host: &str,
        family: Option<Family>,
        names: &mut Vec<(String, Option<Family>, Option<IpAddr>)>,
    ) -> Option<icmpkit::resolve::Target> {
        let resolved = icmpkit::resolve::resolve(host, family).await;
        if icmpkit::resolve::parse_literal(host).is_none() {
            let address = resolved.as_ref().ok().map(|t| t.address);
            names.push((host.to_string(), family, address));
        }
        match resolved {
            Ok(target) => Some(target),
            Err(error) => {
                tracing::warn!(%host, %error, "cannot resolve, left out until it does");
                self.count_dns_failure(host);
                None
            }
        }
    }

    /// Resolves and starts the trace targets; an unresolvable name is
    /// counted and skipped, as a ping target's is.
    async fn start_traces(
        &self,
        file: &ConfigFile,
        names: &mut Vec<(String, Option<Family>, Option<IpAddr>)>,
    ) -> anyhow::Result<Vec<RunningTrace>> {
        let specs = config::traces(&self.args, file)?;
        let user: Vec<String> = {
            let mut all: Vec<String> = specs
                .iter()
                .flat_map(|s| s.labels.keys().cloned())
                .collect();
            all.sort();
            all.dedup();
            all
        };
        let mut traces = Vec::with_capacity(specs.len());
        for spec in &specs {
            let Some(target) = self.resolve(&spec.host, spec.family, names).await else {
                continue;
            };
            let mut labels: Labels = vec![
                ("host".into(), spec.host.clone()),
                ("ip".into(), target.address.to_string()),
            ];
            for name in &user {
                labels.push((
                    name.clone(),
                    spec.labels.get(name).cloned().unwrap_or_default(),
                ));
            }
            if let Some(prober) = &self.args.prober {
                labels.push(("prober".into(), prober.clone()));
            }
            let trace = RunningTrace::start(spec, target, self.args.privilege(), labels)
                .with_context(|| format!("tracing {}", spec.host))?;
            traces.push(trace);
        }
        Ok(traces)
    }

    /// smokeping_prober's labels (`host`, `ip`, `source`, `tos`), the
    /// config's (every series gets every name in use, empty where unset),
    /// then `prober`.
    fn labels(&self, spec: &HostSpec, ip: &str, user: &[String]) -> Labels {
        let mut labels: Labels = vec![
            ("host".into(), spec.host.clone()),
            ("ip".into(), ip.into()),
            (
                "source".into(),
                spec.source.map(|s| s.to_string()).unwrap_or_default(),
            ),
            ("tos".into(), spec.tos.to_string()),
        ];
        for name in user {
            let value = spec.labels.get(name).cloned().unwrap_or_default();
            labels.push((name.clone(), value));
        }
        if let Some(prober) = &self.args.prober {
            labels.push(("prober".into(), prober.clone()));
        }
        labels
    }
}

fn user_label_names(hosts: &[HostSpec]) -> Vec<String> {
    let mut names: Vec<String> = hosts
        .iter()
        .flat_map(|h| h.labels.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Stops a replaced configuration's monitor once no scrape holds it.
async fn stop_when_unused(old: Arc<Running>) {
    let mut old = old;
    loop {
        match Arc::try_unwrap(old) {
            Ok(running) => return running.stop().await,
            Err(still_shared) => {
                old = still_shared;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
