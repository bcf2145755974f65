//! The runtime the async (asyncio) forms run on: one thread, started on
//! first use, running every call's future on a current-thread tokio
//! runtime. A call costs a channel send and a task, not a thread and a
//! runtime of its own, so thousands of `async_ping`s can be in flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// A call to run: builds its future on the runtime thread (the library's
/// futures need not be `Send`).
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

static JOBS: OnceLock<Result<UnboundedSender<Job>, String>> = OnceLock::new();

/// Queues `job` on the background runtime, starting it if needed.
pub fn spawn(job: Job) -> Result<(), String> {
    let jobs = JOBS.get_or_init(start).as_ref().map_err(Clone::clone)?;
    jobs.send(job)
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
