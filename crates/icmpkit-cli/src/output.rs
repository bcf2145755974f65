//! The one way the CLI writes to stdout and stderr.
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has gone returns
//! EPIPE where a C tool (iputils ping, fping, traceroute) is killed, and
//! `print!`/`eprint!` panic on it. Every command writes through here
//! instead (`clippy::print_stdout`/`print_stderr` are denied in this crate,
//! and `std::io::stdout`/`stderr` are disallowed outside this module): a
//! broken pipe on either stream ends the process at once and quietly with
//! [`exit::BROKEN_PIPE`] (141, what a shell shows for a tool killed by
//! SIGPIPE). Other stdout errors go back to the caller; stderr errors are
//! dropped (there is nowhere left to report them).

#![allow(
    clippy::disallowed_methods,
    reason = "the one place that opens the streams"
)]

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};

use crate::exit;

/// A stream that ends the process on a broken pipe.
#[derive(Debug)]
pub struct Guarded<W>(W);

/// Standard output, guarded.
pub fn stdout() -> Guarded<io::Stdout> {
    Guarded(io::stdout())
}

/// Standard output locked (for several writes in a row), guarded.
pub fn stdout_locked() -> Guarded<io::StdoutLock<'static>> {
    Guarded(io::stdout().lock())
}

/// Standard error, guarded.
pub fn stderr() -> Guarded<io::Stderr> {
    Guarded(io::stderr())
}

/// Whether standard output is a terminal (live flushing, no colours...).
pub fn stdout_is_terminal() -> bool {
    io::IsTerminal::is_terminal(&io::stdout())
}

/// Whether standard error is a terminal (progress bars).
pub fn stderr_is_terminal() -> bool {
    io::IsTerminal::is_terminal(&io::stderr())
}

/// Ends the process: the reader of stdout or stderr has gone.
pub fn broken_pipe() -> ! {
    std::process::exit(exit::BROKEN_PIPE)
}

fn checked<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &result
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        broken_pipe();
    }
    result
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        checked(self.0.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        checked(self.0.write_all(buf))
    }

    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> io::Result<()> {
        checked(self.0.write_fmt(args))
    }

    fn flush(&mut self) -> io::Result<()> {
        checked(self.0.flush())
    }
}

/// Writes one line to stderr.
pub fn error_line(args: std::fmt::Arguments<'_>) {
    // One buffer, one write: the line is not torn by other threads.
    let text = format!("{args}\n");
    let _ = stderr().write_all(text.as_bytes());
}

/// `eprintln!` that ends the process quietly on a broken pipe.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::error_line(format_args!($($arg)*)) };
}

pub(crate) use errln;

/// How often a pipe on stdout is checked for a reader that has gone.
const READER_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// Ends the process when the reader of stdout goes away, even while the
/// command has nothing to print (a sweep of silent hosts, a ping waiting
/// for replies, lines held in a buffer): `icmpkit ping host | grep -m1 ..`
/// returns when grep does. Only pipes are watched: a file or a terminal
/// has no reader to lose. (A poll every 100 ms rather than a reactor
/// registration: registering a borrowed fd takes `unsafe` in tokio.)
pub async fn exit_when_stdout_closes() {
    let out = io::stdout();
    if !is_pipe(out.as_fd()) {
        return std::future::pending().await;
    }
    let mut ticks = tokio::time::interval(READER_CHECK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if reader_gone(out.as_fd()) {
            broken_pipe();
        }
    }
}

fn is_pipe(fd: BorrowedFd<'_>) -> bool {
    use nix::sys::stat::{SFlag, fstat};
    fstat(fd)
        .is_ok_and(|stat| SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO)
}

/// POLLERR on a pipe's write end: its last reader has closed it.
fn reader_gone(fd: BorrowedFd<'_>) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLERR))
}
