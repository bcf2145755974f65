//! The runtime the async (asyncio) forms run on: one thread, started on
//! first use, running every call's future on a current-thread tokio
//! runtime. A call costs a channel send and a task, not a thread and a
//! runtime of its own, so thousands of `async_ping`s can be in flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pyo3::Python;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// A call to run: builds its future on the runtime thread (the library's
/// futures need not be `Send`).
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The queue of the running runtime, with the process it runs in: a child
/// made by fork(2) has the queue but not the thread, and starts its own.
static JOBS: Mutex<Option<(u32, UnboundedSender<Job>)>> = Mutex::new(None);

/// Queues `job` on the background runtime, starting it if needed.
pub fn spawn(job: Job) -> Result<(), String> {
    let mut jobs = JOBS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let process = std::process::id();
    let sender = match jobs.as_ref() {
        Some((pid, sender)) if *pid == process && !sender.is_closed() => sender.clone(),
        _ => {
            let sender = start()?;
            *jobs = Some((process, sender.clone()));
            sender
        }
    };
    sender
        .send(job)
        .map_err(|_| "the icmpkit background runtime has stopped".to_string())
}

fn start() -> Result<UnboundedSender<Job>, String> {
    let (jobs, mut queue) = unbounded_channel::<Job>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    std::thread::Builder::new()
        .name("icmpkit-async".into())
        .spawn(move || {
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                while let Some(job) = queue.recv().await {
                    tokio::task::spawn_local(job());
                }
            });
        })
        .map_err(|e| format!("cannot start the icmpkit-async thread: {e}"))?;
    Ok(jobs)
}

/// Set by [`shutdown`] (an atexit handler): from then on no job enters the
/// interpreter, which is about to be finalized.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Jobs inside (or entering) the interpreter right now.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with the GIL from the runtime thread, unless the interpreter
/// is shutting down (then `None`: a thread taking the GIL during
/// finalization aborts the process).
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    // Counted before the flag is read, so `shutdown` either sees us or we
    // see its flag.
    IN_PYTHON.fetch_add(1, Ordering::SeqCst);
    let result = if SHUTTING_DOWN.load(Ordering::SeqCst) {
        None
    } else {
        Some(Python::attach(f))
    };
    IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Stops jobs from entering the interpreter and waits (the caller has
/// released the GIL) for those inside to leave.
pub fn shutdown() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    while IN_PYTHON.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
}
