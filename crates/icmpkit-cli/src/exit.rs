//! Exit codes shared by the commands.

/// Success (ping: every target answered).
pub const OK: i32 = 0;
/// No reply (ping) / some hosts unreachable (sweep).
pub const NO_REPLY: i32 = 1;
/// An error: bad arguments, permissions, names (ping's convention).
pub const ERROR: i32 = 2;

/// sweep: bad arguments (fping's 3).
pub const BAD_ARGS: i32 = 3;
/// sweep: a system failure, such as no permission for sockets (fping's 4).
pub const SYSTEM: i32 = 4;

/// Gives up every privilege in every thread once a command's sockets are
/// open (see `icmpkit::socket::drop_privileges`); the error, for the
/// command to print with its exit code.
pub fn drop_privileges() -> Result<(), String> {
    icmpkit::socket::drop_privileges().map_err(|e| format!("dropping privileges: {e}"))
}

/// Prints `icmpkit: <error>` to stderr and returns [`ERROR`].
pub fn fail(error: &dyn std::fmt::Display) -> i32 {
    crate::output::errln!("icmpkit: {error}");
    ERROR
}

/// The reader of stdout or stderr went away (a broken pipe): 128 + SIGPIPE,
/// the status a shell shows for a classic tool killed by SIGPIPE. icmpkit
/// exits with it (quietly, at once) instead of dying by the signal.
pub const BROKEN_PIPE: i32 = 141;
