//! Errors of the lab: [`Skip`] (the test cannot run here) and [`Error`] (a lab step failed).

use std::fmt;
use std::process::{Command, Output};

/// Why a lab test cannot run on this machine (not root, `ip` missing, no netem, ...).
///
/// Its `Display` is the human-readable reason; [`lab_or_skip!`](crate::lab_or_skip) and
/// [`require_or_skip!`](crate::require_or_skip) print it as `SKIPPED: <test>: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    reason: String,
}

impl Skip {
    /// A skip with the given reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason the test cannot run.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Skip {}

/// A lab step failed: a command exited non-zero, could not be started, or input was invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    action: String,
    detail: String,
}

impl Error {
    /// An error for `action` (what was attempted, e.g. the command line) with `detail`.
    pub fn new(action: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            detail: detail.into(),
        }
    }

    /// What was attempted (for commands: the command line).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Why it failed (for commands: exit status and stderr).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.action, self.detail)
    }
}

impl std::error::Error for Error {}

/// Result of a lab step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The command line of `command`, for error messages.
pub(crate) fn describe(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `command` to completion; its stdout on success, else an [`Error`] carrying stderr.
pub(crate) fn run(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .map_err(|err| Error::new(describe(command), format!("cannot start: {err}")))?;
    check(command, output)
}

fn check(command: &Command, output: Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Some tools (ping) report failures on stdout only; show whichever said something.
    let said = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    Err(Error::new(
        describe(command),
        format!("{}: {said}", output.status),
    ))
}
