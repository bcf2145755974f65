//! `icmpkit._native`: the Python binding of icmpkit. It converts Python
//! arguments, runs the library call with the GIL released, and converts the
//! result; the icmplib-compatible API is the pure-Python package around it
//! (`python/icmpkit`). Calls into the library live in `engine.rs` only.

mod background;
mod engine;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use icmpkit::socket::{Family, Privilege};
use pyo3::IntoPyObjectExt;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

use engine::{Common, Error, HopStats, HostStats, TracePlan};

create_exception!(
    _native,
    NativeError,
    PyException,
    "An icmpkit library error: args are (kind, message, subject); the Python \
     front turns it into the icmplib exception of that kind."
);

/// How often a blocking call looks at Python's signal handlers (Ctrl-C) and
/// at its cancel handle: a KeyboardInterrupt lands within this much.
const POLL: Duration = Duration::from_millis(20);

/// A flag an asyncio task sets when it is cancelled: the call running in a
/// worker thread sees it within [`POLL`] and drops the library's future,
/// which stops sending at once.
#[pyclass(module = "icmpkit._native", frozen)]
#[derive(Default)]
struct CancelHandle {
    cancelled: Arc<AtomicBool>,
}

#[pymethods]
impl CancelHandle {
    #[new]
    fn new() -> Self {
        CancelHandle::default()
    }

    /// Asks the call using this handle to stop.
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// How a blocking call ended, other than with the library's answer.
enum Stop {
    Signal(PyErr),
    Cancelled,
    Runtime(std::io::Error),
}

/// Runs the future `make` builds on a runtime of its own with the GIL
/// released, checking every [`POLL`] for Python signals (a pending Ctrl-C
/// raises KeyboardInterrupt here) and for the cancel handle. Stopping drops
/// the future: no probe leaves afterwards.
fn run_released<T, F, Fut>(py: Python<'_>, cancel: Option<&CancelHandle>, make: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T, Error>>,
{
    let cancelled = cancel.map(|c| c.cancelled.clone());
    let outcome: Result<Result<T, Error>, Stop> = py.detach(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Stop::Runtime)?;
        runtime.block_on(async move {
            let work = make();
            tokio::pin!(work);
            let mut poll = tokio::time::interval(POLL);
            loop {
                tokio::select! {
                    result = &mut work => return Ok(result),
                    _ = poll.tick() => {
                        if cancelled.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
                            return Err(Stop::Cancelled);
                        }
                        Python::attach(|py| py.check_signals()).map_err(Stop::Signal)?;
                    }
                }
            }
        })
    });
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(to_py_error(error)),
        Err(Stop::Signal(error)) => Err(error),
        Err(Stop::Cancelled) => Err(cancelled_error()),
        Err(Stop::Runtime(error)) => Err(NativeError::new_err((
            "socket",
            format!("cannot start the I/O runtime: {error}"),
            None::<String>,
        ))),
    }
}

/// Waits for `work`, polling the cancel flag every [`POLL`].
async fn cancellable<T>(
    cancelled: Option<Arc<AtomicBool>>,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<Result<T, Error>, Stop> {
    tokio::pin!(work);
    let mut poll = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            result = &mut work => return Ok(result),
            _ = poll.tick() => {
                if cancelled.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
                    return Err(Stop::Cancelled);
                }
            }
        }
    }
}

fn cancelled_error() -> PyErr {
    NativeError::new_err(("cancelled", "the call was cancelled", None::<String>))
}

/// Runs the call: blocking with the GIL released when `callback` is None;
/// else queued on the background runtime, returning None at once, and
/// `callback(ok, value)` is called (from the runtime thread) with the
/// result or the exception. A panic in the call is delivered as pyo3's
/// PanicException, so an awaiting task never hangs.
fn dispatch<T, F, Fut>(
    py: Python<'_>,
    cancel: Option<&CancelHandle>,
    callback: Option<Py<PyAny>>,
    make: F,
) -> PyResult<Option<T>>
where
    T: Send + 'static + for<'py> IntoPyObject<'py>,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + 'static,
{
    let Some(callback) = callback else {
        return run_released(py, cancel, make).map(Some);
    };
    let cancelled = cancel.map(|c| c.cancelled.clone());
    let job: background::Job = Box::new(move || {
        Box::pin(async move {
            let outcome = tokio::task::spawn_local(cancellable(cancelled, make())).await;
            background::with_python(|py| {
                let delivered: PyResult<Py<PyAny>> = match outcome {
                    Ok(Ok(Ok(value))) => value.into_py_any(py),
                    Ok(Ok(Err(error))) => Err(to_py_error(error)),
                    Ok(Err(_)) => Err(cancelled_error()),
                    Err(join) => Err(pyo3::panic::PanicException::new_err(format!(
                        "the call panicked: {join}"
                    ))),
                };
                let (ok, value) = match delivered {
                    Ok(value) => (true, value),
                    Err(error) => (false, error.into_value(py).into_any()),
                };
                // A closed event loop refuses the result: nobody waits.
                let _ = callback.call1(py, (ok, value));
            });
        })
    });
    background::spawn(job)
        .map_err(|message| NativeError::new_err(("socket", message, None::<String>)))?;
    Ok(None)
}

/// The library's error as `NativeError(kind, message, subject)`; invalid
/// options are a plain ValueError.
fn to_py_error(error: Error) -> PyErr {
    let message = error.to_string();
    let (kind, subject) = match &error {
        Error::Permission(_) => ("permission", None),
        Error::NameLookup { name, .. } => ("name", Some(name.clone())),
        Error::Address { input, .. } => ("address", Some(input.clone())),
        Error::Broadcast(address) => ("broadcast", Some(address.to_string())),
        Error::SocketUnavailable { source, .. } | Error::Io { source, .. }
            if source.raw_os_error() == Some(libc_eaddrnotavail()) =>
        {
            ("address", None)
        }
        Error::SocketUnavailable { .. } | Error::Io { .. } => ("socket", None),
        Error::InvalidOption(_) => return PyValueError::new_err(message),
        _ => ("socket", None),
    };
    NativeError::new_err((kind, message, subject))
}

/// EADDRNOTAVAIL: a source address that is not the host's.
fn libc_eaddrnotavail() -> i32 {
    std::io::Error::from(std::io::ErrorKind::AddrNotAvailable)
        .raw_os_error()
        .unwrap_or(99)
}

fn parse_privilege(privileged: Option<bool>) -> Privilege {
    match privileged {
        Some(true) => Privilege::Privileged,
        Some(false) => Privilege::Unprivileged,
        None => Privilege::Auto,
    }
}

fn parse_family(family: Option<u8>) -> PyResult<Option<Family>> {
    match family {
        None => Ok(None),
        Some(4) => Ok(Some(Family::V4)),
        Some(6) => Ok(Some(Family::V6)),
        Some(other) => Err(PyValueError::new_err(format!(
            "family must be 4, 6 or None, not {other}"
        ))),
    }
}

fn parse_seconds(name: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be a finite number of seconds >= 0, not {seconds}"
        ))
    })
}

fn parse_source(source: Option<&str>) -> PyResult<Option<IpAddr>> {
    source
        .map(|s| {
            s.parse().map_err(|_| {
                NativeError::new_err((
                    "address",
                    format!("source {s:?} is not an IP address"),
                    Some(s.to_string()),
                ))
            })
        })
        .transpose()
}

fn parse_byte(name: &str, value: Option<i64>) -> PyResult<Option<u8>> {
    value
        .map(|v| {
            u8::try_from(v)
                .map_err(|_| PyValueError::new_err(format!("{name} must be 0 to 255, not {v}")))
        })
        .transpose()
}

/// Arguments shared by ping, multiping and traceroute, validated.
#[allow(clippy::too_many_arguments)]
fn common(
    count: i64,
    interval: f64,
    timeout: f64,
    id: Option<i64>,
    source: Option<&str>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload: Option<Vec<u8>>,
    payload_size: i64,
    ttl: Option<i64>,
    traffic_class: Option<i64>,
) -> PyResult<Common> {
    let count = u64::try_from(count)
        .map_err(|_| PyValueError::new_err(format!("count must be >= 0, not {count}")))?;
    let payload_size = usize::try_from(payload_size).map_err(|_| {
        PyValueError::new_err(format!("payload_size must be >= 0, not {payload_size}"))
    })?;
    Ok(Common {
        count,
        interval: parse_seconds("interval", interval)?,
        timeout: parse_seconds("timeout", timeout)?,
        // icmplib keeps the low 16 bits of the identifier.
        id: id.map(|i| (i & 0xffff) as u16),
        source: parse_source(source)?,
        family: parse_family(family)?,
        privilege: parse_privilege(privileged),
        payload,
        payload_size,
        ttl: parse_byte("ttl", ttl)?,
        traffic_class: parse_byte("traffic_class", traffic_class)?,
    })
}

type HostTuple = (String, u64, Vec<f64>);
/// (distance, address, packets_sent, rtts_ms)
type HopTuple = (u8, String, u64, Vec<f64>);

fn host_tuple(h: HostStats) -> HostTuple {
    (h.address, h.packets_sent, h.rtts_ms)
}

/// ping(address, count, interval, timeout, id, source, family, privileged,
/// payload, payload_size, ttl, traffic_class, cancel) -> (address,
/// packets_sent, rtts_ms)
#[pyfunction]
#[pyo3(signature = (address, count, interval, timeout, id, source, family, privileged,
    payload, payload_size, ttl, traffic_class, cancel=None, callback=None))]
#[allow(clippy::too_many_arguments)]
fn ping(
    py: Python<'_>,
    address: String,
    count: i64,
    interval: f64,
    timeout: f64,
    id: Option<i64>,
    source: Option<String>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload: Option<Vec<u8>>,
    payload_size: i64,
    ttl: Option<i64>,
    traffic_class: Option<i64>,
    cancel: Option<PyRef<'_, CancelHandle>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Option<HostTuple>> {
    let common = common(
        count,
        interval,
        timeout,
        id,
        source.as_deref(),
        family,
        privileged,
        payload,
        payload_size,
        ttl,
        traffic_class,
    )?;
    dispatch(py, cancel.as_deref(), callback, move || async move {
        engine::ping(&address, &common).await.map(host_tuple)
    })
}

/// multiping(addresses, ...) -> [(address, packets_sent, rtts_ms)] in input
/// order.
#[pyfunction]
#[pyo3(signature = (addresses, count, interval, timeout, id, source, family, privileged,
    payload, payload_size, ttl, traffic_class, cancel=None, callback=None))]
#[allow(clippy::too_many_arguments)]
fn multiping(
    py: Python<'_>,
    addresses: Vec<String>,
    count: i64,
    interval: f64,
    timeout: f64,
    id: Option<i64>,
    source: Option<String>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload: Option<Vec<u8>>,
    payload_size: i64,
    ttl: Option<i64>,
    traffic_class: Option<i64>,
    cancel: Option<PyRef<'_, CancelHandle>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Option<Vec<HostTuple>>> {
    let common = common(
        count,
        interval,
        timeout,
        id,
        source.as_deref(),
        family,
        privileged,
        payload,
        payload_size,
        ttl,
        traffic_class,
    )?;
    dispatch(py, cancel.as_deref(), callback, move || async move {
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let hosts = engine::multiping(&addresses, &common).await?;
        Ok(hosts.into_iter().map(host_tuple).collect())
    })
}

/// traceroute(address, ..., first_hop, max_hops, fast, cancel) ->
/// [(distance, address, packets_sent, rtts_ms)]
#[pyfunction]
#[pyo3(signature = (address, count, interval, timeout, first_hop, max_hops, fast, id, source,
    family, privileged, payload, payload_size, traffic_class, cancel=None, callback=None))]
#[allow(clippy::too_many_arguments)]
fn traceroute(
    py: Python<'_>,
    address: String,
    count: i64,
    interval: f64,
    timeout: f64,
    first_hop: i64,
    max_hops: i64,
    fast: bool,
    id: Option<i64>,
    source: Option<String>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload: Option<Vec<u8>>,
    payload_size: i64,
    traffic_class: Option<i64>,
    cancel: Option<PyRef<'_, CancelHandle>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Option<Vec<HopTuple>>> {
    let common = common(
        count,
        interval,
        timeout,
        id,
        source.as_deref(),
        family,
        privileged,
        payload,
        payload_size,
        None,
        traffic_class,
    )?;
    let plan = trace_plan(first_hop, max_hops, fast)?;
    dispatch(py, cancel.as_deref(), callback, move || async move {
        if plan.first_hop > plan.max_hops || common.count == 0 {
            // icmplib's loop runs no round then: no hop, no socket.
            return Ok(Vec::new());
        }
        let hops = engine::trace(&address, &common, plan).await?;
        Ok(hops
            .into_iter()
            .map(|HopStats { distance, host }| {
                (distance, host.address, host.packets_sent, host.rtts_ms)
            })
            .collect())
    })
}

/// trace_detailed(address, ..., traffic_class, protocol, flows, port) ->
/// JSON array of every hop, as the library's `Hop` serializes (icmplib's names).
#[pyfunction]
#[pyo3(signature = (address, count, interval, timeout, first_hop, max_hops, fast, id, source,
    family, privileged, payload, payload_size, traffic_class, protocol, flows, port,
    cancel=None, callback=None))]
#[allow(clippy::too_many_arguments)]
fn trace_detailed(
    py: Python<'_>,
    address: String,
    count: i64,
    interval: f64,
    timeout: f64,
    first_hop: i64,
    max_hops: i64,
    fast: bool,
    id: Option<i64>,
    source: Option<String>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload: Option<Vec<u8>>,
    payload_size: i64,
    traffic_class: Option<i64>,
    protocol: String,
    flows: u16,
    port: Option<u16>,
    cancel: Option<PyRef<'_, CancelHandle>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Option<String>> {
    let common = common(
        count,
        interval,
        timeout,
        id,
        source.as_deref(),
        family,
        privileged,
        payload,
        payload_size,
        None,
        traffic_class,
    )?;
    let plan = trace_plan(first_hop, max_hops, fast)?;
    if flows == 0 {
        return Err(PyValueError::new_err("flows must be at least 1"));
    }
    let extras = engine::TraceExtras {
        protocol,
        flows,
        port,
    };
    dispatch(py, cancel.as_deref(), callback, move || async move {
        if plan.first_hop > plan.max_hops || common.count == 0 {
            return Ok("[]".to_owned());
        }
        engine::trace_detailed(&address, &common, plan, &extras).await
    })
}

fn trace_plan(first_hop: i64, max_hops: i64, fast: bool) -> PyResult<TracePlan> {
    let hop_limit = |name: &str, v: i64| {
        u8::try_from(v)
            .ok()
            .filter(|&v| v >= 1)
            .ok_or_else(|| PyValueError::new_err(format!("{name} must be 1 to 255, not {v}")))
    };
    Ok(TracePlan {
        first_hop: hop_limit("first_hop", first_hop)?,
        max_hops: hop_limit("max_hops", max_hops)?,
        fast,
    })
}

/// resolve_one(name, family) -> the address a ping of `name` would use.
#[pyfunction]
#[pyo3(signature = (name, family=None, cancel=None, callback=None))]
fn resolve_one(
    py: Python<'_>,
    name: String,
    family: Option<u8>,
    cancel: Option<PyRef<'_, CancelHandle>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Option<String>> {
    let family = parse_family(family)?;
    dispatch(py, cancel.as_deref(), callback, move || async move {
        engine::resolve_one(&name, family)
            .await
            .map(|a| a.to_string())
    })
}

/// An ICMP socket for the socket-level API (`icmpkit.sockets`). Receives
/// wait with the GIL released, a little at a time, so Ctrl-C lands.
#[pyclass(module = "icmpkit._native", unsendable)]
struct NativeSocket {
    socket: Option<engine::Socket>,
}

/// (source, type, code, id, sequence, bytes, ttl, time); id and sequence
/// are None for a message about nothing we sent.
type MessageTuple = (
    String,
    u8,
    u8,
    Option<u16>,
    Option<u16>,
    usize,
    Option<u8>,
    f64,
);

impl NativeSocket {
    fn open_socket(&mut self) -> PyResult<&mut engine::Socket> {
        self.socket
            .as_mut()
            .ok_or_else(|| NativeError::new_err(("closed", "the socket is closed", None::<String>)))
    }
}

fn os_error(error: std::io::Error) -> PyErr {
    let kind = if error.kind() == std::io::ErrorKind::PermissionDenied {
        "broadcast"
    } else {
        "socket"
    };
    NativeError::new_err((kind, error.to_string(), None::<String>))
}

#[pymethods]
impl NativeSocket {
    #[new]
    #[pyo3(signature = (family, privileged, source=None))]
    fn new(family: u8, privileged: Option<bool>, source: Option<String>) -> PyResult<Self> {
        let family = parse_family(Some(family))?.unwrap_or(Family::V4);
        let source = parse_source(source.as_deref())?;
        let socket = engine::Socket::open(family, parse_privilege(privileged), source)
            .map_err(to_py_error)?;
        Ok(NativeSocket {
            socket: Some(socket),
        })
    }

    /// send_echo(destination, id, sequence, payload, ttl, traffic_class) ->
    /// (send time in seconds since the epoch, echo id sent)
    fn send_echo(
        &mut self,
        destination: &str,
        id: i64,
        sequence: i64,
        payload: &[u8],
        ttl: i64,
        traffic_class: i64,
    ) -> PyResult<(f64, u16)> {
        let ttl = parse_byte("ttl", Some(ttl))?.unwrap_or(64);
        let traffic_class = parse_byte("traffic_class", Some(traffic_class))?.unwrap_or(0);
        let socket = self.open_socket()?;
        let address = engine::destination(destination, socket.family()).map_err(to_py_error)?;
        socket
            .send_echo(
                address,
                (id & 0xffff) as u16,
                (sequence & 0xffff) as u16,
                payload,
                ttl,
                traffic_class,
            )
            .map_err(os_error)
    }

    /// receive(timeout) -> the next message, or None once `timeout` seconds
    /// passed (0: only what is already there).
    fn receive(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Option<MessageTuple>> {
        let timeout = parse_seconds("timeout", timeout)?;
        let socket = self.open_socket()?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let wait = left.min(POLL);
            let received = py.detach(|| socket.receive(wait)).map_err(os_error)?;
            if let Some(m) = received {
                let (id, sequence) = m.echo.unzip();
                return Ok(Some((
                    m.source.to_string(),
                    m.icmp_type,
                    m.code,
                    id,
                    sequence,
                    m.bytes,
                    m.ttl,
                    m.time,
                )));
            }
            py.check_signals()?;
            if left.is_zero() {
                return Ok(None);
            }
        }
    }

    /// The file descriptor (for an event loop's add_reader, socket options).
    fn fileno(&mut self) -> PyResult<i32> {
        Ok(self.open_socket()?.raw_fd())
    }

    #[getter]
    fn is_raw(&mut self) -> PyResult<bool> {
        Ok(self.open_socket()?.is_raw())
    }

    fn close(&mut self) {
        self.socket = None;
    }
}

fn parse_ip<T: std::str::FromStr>(name: &str, value: Option<&str>) -> PyResult<Option<T>> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| PyValueError::new_err(format!("{name} {v:?} is not a valid address")))
        })
        .transpose()
}

/// The message fields `build` and `send` share, typed.
fn craft_fields(
    family: Option<u8>,
    msg_type: String,
    code: String,
    fields: &Bound<'_, pyo3::types::PyDict>,
) -> PyResult<engine::CraftFields> {
    let mut out = engine::CraftFields {
        family: parse_family(family)?,
        msg_type,
        code,
        ..engine::CraftFields::default()
    };
    for (key, value) in fields.iter() {
        let key: String = key.extract()?;
        let text = || -> PyResult<String> { value.str().map(|s| s.to_string()) };
        match key.as_str() {
            "id" => out.id = Some(value.extract()?),
            "sequence" => out.sequence = Some(value.extract()?),
            "gateway" => out.gateway = parse_ip("gateway", Some(&text()?))?,
            "mtu" => out.mtu = Some(value.extract()?),
            "pointer" => out.pointer = Some(value.extract()?),
            "mask" => out.mask = parse_ip("mask", Some(&text()?))?,
            "target" => out.target = parse_ip("target", Some(&text()?))?,
            "destination" => out.destination = parse_ip("destination", Some(&text()?))?,
            "originate" => out.originate = Some(value.extract()?),
            "receive" => out.receive = Some(value.extract()?),
            "transmit" => out.transmit = Some(value.extract()?),
            "local" => out.local = Some(value.extract()?),
            "interface" => out.interface = Some(text()?),
            "rest_of_header" => out.rest_of_header = Some(value.extract()?),
            "data" => out.data = Some(value.extract()?),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown ICMP field {other:?} (id, sequence, gateway, mtu, pointer, mask, \
                     target, destination, originate, receive, transmit, local, interface, \
                     rest_of_header, data)"
                )));
            }
        }
    }
    Ok(out)
}

/// build(family, msg_type, code, fields, src, dst) -> the ICMP message's
/// bytes with its checksum (type and code by name or number).
#[pyfunction]
#[pyo3(signature = (family, msg_type, code, fields, src=None, dst=None))]
fn build<'py>(
    py: Python<'py>,
    family: Option<u8>,
    msg_type: String,
    code: String,
    fields: &Bound<'py, pyo3::types::PyDict>,
    src: Option<String>,
    dst: Option<String>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let fields = craft_fields(family, msg_type, code, fields)?;
    let src = parse_ip::<IpAddr>("src", src.as_deref())?;
    let dst = parse_ip::<IpAddr>("dst", dst.as_deref())?;
    let bytes = engine::build_message(&fields, src, dst).map_err(to_py_error)?;
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}

type SendResult = (Vec<engine::AnswerTuple>, u64, u64);

/// send(family, msg_type, code, fields, dst, count, interval, timeout, ttl,
/// tos, source, any_source) -> ([answer], sent, answered)
#[pyfunction]
#[pyo3(signature = (family, msg_type, code, fields, dst, count, interval, timeout, ttl, tos,
    source, any_source, cancel=None, callback=None))]
#[allow(clippy::too_many_arguments)]
fn send(
    py: Python<'_>,
    family: Option<u8>,
    msg_type: String,
    code: String,
    fields: &Bound<'_, pyo3::types::PyDict>,
    dst: String,
    count: i64,
    interval: f64,
    timeout: f64,
    ttl: Option<i64>,
    tos: Option<i64>,
    source: Option<String>,
    any_source: bool,
    cancel: Option<PyRef<'_, CancelHandle>>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Option<SendResult>> {
    let fields = craft_fields(family, msg_type, code, fields)?;
    let plan = engine::SendPlan {
        count: u64::try_from(count)
            .map_err(|_| PyValueError::new_err(format!("count must be >= 1, not {count}")))?,
        interval: parse_seconds("interval", interval)?,
        timeout: parse_seconds("timeout", timeout)?,
        ttl: parse_byte("ttl", ttl)?,
        tos: parse_byte("tos", tos)?,
        source: parse_source(source.as_deref())?,
        any_source,
    };
    dispatch(py, cancel.as_deref(), callback, move || async move {
        engine::send(&fields, &dst, &plan).await
    })
}

/// A raw socket hearing every ICMP message of one family (`listen`).
#[pyclass(module = "icmpkit._native", unsendable)]
struct NativeListener {
    listener: engine::Listener,
}

#[pymethods]
impl NativeListener {
    #[new]
    #[pyo3(signature = (family, interface=None))]
    fn new(family: u8, interface: Option<String>) -> PyResult<Self> {
        let family = parse_family(Some(family))?.unwrap_or(Family::V4);
        let listener = engine::Listener::open(family, interface).map_err(to_py_error)?;
        Ok(NativeListener { listener })
    }

    /// recv(timeout) -> the messages that arrived within `timeout` seconds
    /// (at most POLL_MS per wait with the GIL released, so Ctrl-C lands).
    fn recv(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Vec<engine::HeardTuple>> {
        let timeout = parse_seconds("timeout", timeout)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let listener = &mut self.listener;
            let heard = py
                .detach(|| listener.recv(left.min(POLL)))
                .map_err(os_error)?;
            if !heard.is_empty() || left.is_zero() {
                return Ok(heard);
            }
            py.check_signals()?;
        }
    }

    fn fileno(&self) -> i32 {
        self.listener.raw_fd()
    }
}

/// A running sweep or ping: events as JSON objects, one `next` at a time.
#[pyclass(module = "icmpkit._native", frozen)]
struct NativeStream {
    stream: std::sync::Mutex<engine::EventStream>,
}

#[pymethods]
impl NativeStream {
    /// next(timeout) -> the next event's JSON, None if none came within
    /// `timeout` seconds; StopIteration once the run is over. Waits with
    /// the GIL released, Ctrl-C honoured every POLL_MS.
    fn next(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<String>> {
        let timeout = parse_seconds("timeout", timeout)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let next = py.detach(|| {
                let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
                stream.next(left.min(POLL))
            });
            match next {
                engine::Next::Event(Ok(event)) => return Ok(Some(event)),
                engine::Next::Event(Err(error)) => return Err(to_py_error(error)),
                engine::Next::Ended => {
                    return Err(pyo3::exceptions::PyStopIteration::new_err(()));
                }
                engine::Next::Waiting if left.is_zero() => return Ok(None),
                engine::Next::Waiting => py.check_signals()?,
            }
        }
    }

    /// next_batch(timeout) -> the next events' JSON (waiting like `next`
    /// for the first, then every one already queued, up to 4096); an empty
    /// list if none came; StopIteration once the run is over.
    fn next_batch(&self, py: Python<'_>, timeout: f64) -> PyResult<Vec<String>> {
        {
            let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(error) = stream.take_error() {
                return Err(to_py_error(error));
            }
        }
        let Some(first) = self.next(py, timeout)? else {
            return Ok(Vec::new());
        };
        let mut batch = vec![first];
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.drain(4096, &mut batch);
        Ok(batch)
    }

    /// Ends the run (no probe leaves afterwards); the remaining events
    /// and the summary still come.
    fn stop(&self) {
        self.stream.lock().unwrap_or_else(|p| p.into_inner()).stop();
    }
}

fn stream(stream: Result<engine::EventStream, Error>) -> PyResult<NativeStream> {
    Ok(NativeStream {
        stream: std::sync::Mutex::new(stream.map_err(to_py_error)?),
    })
}

/// sweep(targets, count, retries, timeout, period, rate, seed, shard,
/// exclude, id, source, family, privileged, payload_size) -> NativeStream
#[pyfunction]
#[pyo3(signature = (targets, count, retries, timeout, period, rate, seed, shard, exclude, id,
    source, family, privileged, payload_size))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    targets: Vec<String>,
    count: u32,
    retries: u32,
    timeout: f64,
    period: f64,
    rate: u64,
    seed: Option<u64>,
    shard: Option<(u64, u64)>,
    exclude: Vec<String>,
    id: Option<i64>,
    source: Option<String>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload_size: i64,
) -> PyResult<NativeStream> {
    let common = common(
        1,
        0.0,
        timeout,
        id,
        source.as_deref(),
        family,
        privileged,
        None,
        payload_size,
        None,
        None,
    )?;
    let plan = engine::SweepPlan {
        count,
        retries,
        timeout: common.timeout,
        period: parse_seconds("period", period)?,
        rate,
        seed,
        shard,
        exclude,
    };
    let opts = plan.options(&common).map_err(to_py_error)?;
    stream(engine::EventStream::sweep(targets, opts))
}

/// ping_stream(address, count, interval, timeout, id, source, family,
/// privileged, payload, payload_size, ttl, traffic_class) -> NativeStream
/// (count 0: until stopped)
#[pyfunction]
#[pyo3(signature = (address, count, interval, timeout, id, source, family, privileged,
    payload, payload_size, ttl, traffic_class))]
#[allow(clippy::too_many_arguments)]
fn ping_stream(
    address: String,
    count: i64,
    interval: f64,
    timeout: f64,
    id: Option<i64>,
    source: Option<String>,
    family: Option<u8>,
    privileged: Option<bool>,
    payload: Option<Vec<u8>>,
    payload_size: i64,
    ttl: Option<i64>,
    traffic_class: Option<i64>,
) -> PyResult<NativeStream> {
    let common = common(
        count,
        interval,
        timeout,
        id,
        source.as_deref(),
        family,
        privileged,
        payload,
        payload_size,
        ttl,
        traffic_class,
    )?;
    stream(engine::EventStream::ping(address, common))
}

/// decode(data, family) -> the JSON object `icmpkit decode --json` prints
/// for this packet (an IP packet, or a bare ICMP message of `family`).
#[pyfunction]
#[pyo3(signature = (data, family=None))]
fn decode(data: &[u8], family: Option<u8>) -> PyResult<String> {
    engine::decode_json(data, parse_family(family)?).map_err(PyValueError::new_err)
}

/// Called at interpreter exit (atexit): no async call's result enters the
/// interpreter from then on.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    py.detach(background::shutdown);
}

/// Always true: keeps the panic below from reading as dead code.
fn py_test_hook_enabled() -> bool {
    std::hint::black_box(true)
}

/// Test hook: a Rust panic inside a released-GIL call, to prove it reaches
/// Python as pyo3's PanicException instead of killing the interpreter.
#[pyfunction]
fn _panic_in_call(py: Python<'_>) -> PyResult<()> {
    run_released(py, None, || async {
        if py_test_hook_enabled() {
            panic!("deliberate panic for the test suite");
        }
        Ok(())
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_class::<CancelHandle>()?;
    m.add_class::<NativeSocket>()?;
    m.add_class::<NativeListener>()?;
    m.add_class::<NativeStream>()?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(ping_stream, m)?)?;
    m.add_function(wrap_pyfunction!(build, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(send, m)?)?;
    m.add_function(wrap_pyfunction!(ping, m)?)?;
    m.add_function(wrap_pyfunction!(multiping, m)?)?;
    m.add_function(wrap_pyfunction!(traceroute, m)?)?;
    m.add_function(wrap_pyfunction!(trace_detailed, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_one, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_call, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    m.add("POLL_MS", POLL.as_millis() as u64)?;
    Ok(())
}
