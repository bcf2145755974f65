//! What the exporter runs: the monitor of the current configuration and
//! the labels of its series; built anew on each reload, the old one kept
//! if the new one fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use icmpkit::monitor::{Monitor, MonitorOptions, MonitorTarget};
use icmpkit::socket::{Family, SocketKind};
use std::net::IpAddr;

use crate::args::Args;
use crate::config::{self, ConfigFile, HostSpec};
use crate::labels::{LabelInterner, SeriesLabels};
use crate::probe::{Module, ProbeSockets};
use crate::traces::{RunningTrace, TraceSpec};

/// Label names and values of one series.
pub type Labels = Vec<(String, String)>;

/// One configuration, running.
#[derive(Debug, Default)]
pub struct Running {
    /// Labels of each monitor target, in its order.
    pub series: Vec<SeriesLabels>,
    /// /probe's modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Names (not literals) as resolved for this configuration, `None`
    /// where resolution failed: what the periodic refresh compares.
    pub names: Vec<(String, Option<Family>, Option<IpAddr>)>,
    /// The trace targets, running (each stopped when its last holder,
    /// this configuration or a scrape, drops it).
    pub traces: Vec<Arc<RunningTrace>>,
}

impl Running {
    /// For each of `targets` (with its labels), the index of the same
    /// target (equal labels and options) in this configuration, whose
    /// monitor targets are `current`, each used once: the series whose
    /// counters go on across a reload.
    fn continued_by(
        &self,
        current: &[MonitorTarget],
        series: &[SeriesLabels],
        targets: &[MonitorTarget],
    ) -> Vec<Option<usize>> {
        let mut by_labels: HashMap<&SeriesLabels, Vec<usize>> = HashMap::new();
        for (i, labels) in self.series.iter().enumerate().rev() {
            by_labels.entry(labels).or_default().push(i);
        }
        series
            .iter()
            .zip(targets)
            .map(|(labels, target)| {
                let candidates = by_labels.get_mut(labels)?;
                let at = candidates
                    .iter()
                    .rposition(|&old| current.get(old) == Some(target))?;
                Some(candidates.remove(at))
            })
            .collect()
    }

    /// The running trace of `spec` resolved to `address` with `labels`.
    fn trace(
        &self,
        spec: &TraceSpec,
        address: IpAddr,
        labels: &Labels,
    ) -> Option<Arc<RunningTrace>> {
        self.traces
            .iter()
            .find(|t| t.spec == *spec && t.address == address && same_series(&t.labels, labels))
            .cloned()
    }
}

/// True if two traces' labels name the same series as Prometheus tells
/// them apart: a label with an empty value is no label, so a reload that
/// brings a label name only other traces use (given here empty) keeps
/// the trace running with its books (it was restarted, its counters back
/// to zero).
fn same_series(a: &Labels, b: &Labels) -> bool {
    let valued = |labels: &'_ Labels| {
        labels
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect::<BTreeMap<String, String>>()
    };
    valued(a) == valued(b)
}

/// The exporter's state, shared by the HTTP handlers and signal tasks.
#[derive(Debug)]
pub struct Exporter {
    pub args: Args,
    /// The one monitor: its sockets are opened at start and kept for the
    /// process's life (a reload needs no privilege); its targets are
    /// replaced on each reload. Locked after `running` when both are.
    monitor: Mutex<Monitor>,
    running: RwLock<Arc<Running>>,
    /// /probe's raw sockets, when it needs raw ones (opened at start).
    pub probe_sockets: ProbeSockets,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Failed resolutions per host, over the process's life.
    dns_failures: Mutex<BTreeMap<String, u64>>,
    last_reload_ok: AtomicBool,
    /// Seconds since the epoch of the last successful (re)load.
    last_reload_success: AtomicU64,
}

impl Exporter {
    /// Opens the sockets (both families' default ones, and those the
    /// configuration needs), loads the configuration and starts pinging;
    /// fails on a bad configuration or a socket it needs that cannot be
    /// opened.
    pub async fn start(args: Args) -> anyhow::Result<Arc<Exporter>> {
        let opts = MonitorOptions {
            buckets: args.buckets.durations(),
            privilege: args.privilege(),
        };
        let mut monitor = Monitor::idle(&opts);
        for family in [Family::V4, Family::V6] {
            // Opened now, while privileged, for whatever a reload brings.
            if let Err(error) = monitor.open_socket(family, None, None) {
                tracing::warn!(
                    family = family_name(family),
                    %error,
                    "no ICMP socket for this family: its targets will be refused"
                );
            }
        }
        let probe_sockets = ProbeSockets::open(args.privilege(), args.probe_sockets);
        let exporter = Arc::new(Exporter {
            args,
            monitor: Mutex::new(monitor),
            probe_sockets,
            running: RwLock::new(Arc::new(Running::default())),
            reloading: tokio::sync::Mutex::new(()),
            dns_failures: Mutex::new(BTreeMap::new()),
            last_reload_ok: AtomicBool::new(false),
            last_reload_success: AtomicU64::new(0),
        });
        let (running, targets) = exporter.build(true).await?;
        exporter.install(running, &targets)?;
        Ok(exporter)
    }

    /// The running configuration.
    pub fn current(&self) -> Arc<Running> {
        Arc::clone(&self.running.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The running configuration and what `read` takes from the monitor
    /// (given the number of series), read together: a reload between the
    /// two would pair labels with other targets' counters.
    pub fn current_with<T>(&self, read: impl FnOnce(&Monitor, usize) -> T) -> (Arc<Running>, T) {
        let running = self.running.read().unwrap_or_else(|p| p.into_inner());
        let taken = read(&self.monitor(), running.series.len());
        (Arc::clone(&running), taken)
    }

    /// Failed receives per family, over the monitor's sockets.
    pub fn receive_errors(&self) -> Vec<(Family, u64)> {
        self.monitor().receive_errors()
    }

    fn monitor(&self) -> MutexGuard<'_, Monitor> {
        self.monitor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the configuration and re-resolves every name; a bad
    /// configuration is refused (logged, the old one keeps running).
    /// Unchanged targets keep their series and counters.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _one = self.reloading.lock().await;
        let built = self.build(false).await;
        match built.and_then(|(running, targets)| self.install(running, &targets)) {
            Ok(()) => {
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
        *self.running.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Running::default());
        let monitor = std::mem::replace(
            &mut *self.monitor(),
            Monitor::idle(&MonitorOptions::default()),
        );
        monitor.stop().await;
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

    /// The kinds of the monitor's sockets.
    pub fn socket_kinds(&self) -> Vec<SocketKind> {
        self.monitor().socket_kinds()
    }

    /// Makes `built` the running configuration: its series' `targets`
    /// replace the monitor's, those unchanged (same labels and options) continuing
    /// their counters. Fails, changing nothing, on an invalid target.
    fn install(&self, built: Running, targets: &[MonitorTarget]) -> anyhow::Result<()> {
        let mut running = self.running.write().unwrap_or_else(|p| p.into_inner());
        let mut monitor = self.monitor();
        let continues = running.continued_by(&monitor.targets(), &built.series, targets);
        monitor
            .update(targets, &continues)
            .context("starting the monitor")?;
        drop(monitor);
        // The old configuration's traces stop once no scrape holds them.
        *running = Arc::new(built);
        drop(running);
        self.last_reload_ok.store(true, Ordering::SeqCst);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.last_reload_success.store(now, Ordering::SeqCst);
        Ok(())
    }

    /// The configuration, resolved: at start (`starting`) a target whose
    /// socket cannot be opened fails it; on a reload that target is
    /// refused (logged) and the others go on.
    async fn build(&self, starting: bool) -> anyhow::Result<(Running, Vec<MonitorTarget>)> {
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
        let mut interner = self.label_interner(&user_label_names(&hosts));
        let mut targets = Vec::with_capacity(hosts.len());
        let mut series = Vec::with_capacity(hosts.len());
        let mut names = Vec::new();
        for spec in &hosts {
            // One unresolvable name never stops the others.
            let Some(target) = self.resolve(&spec.host, spec.family, &mut names).await else {
                continue;
            };
            let target = MonitorTarget {
                address: target.address,
                interval: spec.interval,
                payload_size: spec.size,
                tos: (spec.tos != 0).then_some(spec.tos),
                source: spec.source,
            };
            if let Err(error) = self.monitor().socket_for(&target) {
                if starting {
                    return Err(error).with_context(|| format!("pinging {}", spec.host));
                }
                tracing::error!(
                    host = %spec.host,
                    address = %target.address,
                    %error,
                    "target refused: no socket for it (sockets are opened at start, \
                     before privileges are dropped; restart to add it)"
                );
                continue;
            }
            series.push(self.labels(&mut interner, spec, &target.address.to_string()));
            targets.push(target);
        }
        let traces = self.start_traces(&file, &mut names, starting).await?;
        let running = Running {
            series,
            modules,
            names,
            traces,
        };
        Ok((running, targets))
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
    /// counted and skipped, as a ping target's is. A trace unchanged (same
    /// spec, address and labels) goes on running with its books; a new one
    /// that cannot start fails the start, and is refused (logged) on a
    /// reload, where its raw sockets may no longer be allowed.
    async fn start_traces(
        &self,
        file: &ConfigFile,
        names: &mut Vec<(String, Option<Family>, Option<IpAddr>)>,
        starting: bool,
    ) -> anyhow::Result<Vec<Arc<RunningTrace>>> {
        let current = self.current();
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
            if let Some(running) = current.trace(spec, target.address, &labels) {
                traces.push(running);
                continue;
            }
            match RunningTrace::start(spec, target, self.args.privilege(), labels) {
                Ok(trace) => traces.push(Arc::new(trace)),
                Err(error) if starting => {
                    return Err(error).with_context(|| format!("tracing {}", spec.host));
                }
                Err(error) => tracing::error!(
                    host = %spec.host,
                    %error,
                    "trace refused: its sockets cannot be opened (privileges are dropped \
                     after start; restart to add it)"
                ),
            }
        }
        Ok(traces)
    }

    /// smokeping_prober's label names (`host`, `ip`, `source`, `tos`), the
    /// config's (every series gets every name in use, empty where unset),
    /// then `prober`.
    fn label_interner(&self, user: &[String]) -> LabelInterner {
        let mut names = vec!["host", "ip", "source", "tos"];
        names.extend(user.iter().map(String::as_str));
        if self.args.prober.is_some() {
            names.push("prober");
        }
        LabelInterner::new(&names)
    }

    /// The labels of `spec`'s series, in the interner's order.
    fn labels(&self, interner: &mut LabelInterner, spec: &HostSpec, ip: &str) -> SeriesLabels {
        let source = spec.source.map(|s| s.to_string()).unwrap_or_default();
        let tos = spec.tos.to_string();
        let mut values = vec![spec.host.as_str(), ip, &source, &tos];
        let user = interner.names().len() - 4 - usize::from(self.args.prober.is_some());
        for name in &interner.names()[4..4 + user] {
            values.push(spec.labels.get(&**name).map_or("", String::as_str));
        }
        if let Some(prober) = &self.args.prober {
            values.push(prober);
        }
        interner.series(&values)
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

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}
