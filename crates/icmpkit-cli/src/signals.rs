//! The one signal policy of every long-running command.
//!
//! SIGINT (Ctrl-C) and SIGTERM (`timeout`, `kill`, systemd) both mean
//! "stop and report": the command stops probing, then prints what it has
//! (statistics, the hops heard of, the final JSON object) and exits as
//! its ending says. SIGQUIT (Ctrl-\) asks for interim statistics where
//! the classic tool has them (iputils ping, fping with `-c/-C`); other
//! commands leave it at its default. A signal that arrives before the
//! handlers are installed (`Signals::install`, first thing in a command)
//! still kills the process the default way.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks of the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGINT or SIGTERM: stop and report.
    Stop,
    /// SIGQUIT: print the statistics so far, go on.
    Interim,
}

/// The installed handlers.
#[derive(Debug)]
pub struct Signals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    quit: Option<Signal>,
}

impl Signals {
    /// Installs the handlers (SIGQUIT's only if the command has `interim`
    /// statistics). Must run inside the runtime.
    pub fn install(interim: bool) -> Signals {
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            quit: interim.then(|| signal(SignalKind::quit()).ok()).flatten(),
        }
    }

    /// The next request.
    pub async fn next(&mut self) -> Request {
        tokio::select! {
            Some(()) = recv(&mut self.interrupt) => Request::Stop,
            Some(()) = recv(&mut self.terminate) => Request::Stop,
            Some(()) = recv(&mut self.quit) => Request::Interim,
            // Every stream ended (they do not): nothing will come.
            else => std::future::pending().await,
        }
    }

    /// The next stop request (interim requests in between are ignored).
    pub async fn stop(&mut self) {
        while self.next().await != Request::Stop {}
    }
}

/// The next delivery of `signal`; never, if it could not be installed.
async fn recv(signal: &mut Option<Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
