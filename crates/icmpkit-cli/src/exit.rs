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

/// The reader of stdout or stderr went away (a broken pipe): 128 + SIGPIPE,
/// the status a shell shows for a classic tool killed by SIGPIPE. icmpkit
/// exits with it (quietly, at once) instead of dying by the signal.
pub const BROKEN_PIPE: i32 = 141;

/// Prints `icmpkit: <error>` to stderr and returns [`ERROR`]. The
/// library's errors are worded for this command line ([`worded`]).
pub fn fail<E: std::fmt::Display + std::any::Any>(error: &E) -> i32 {
    match (error as &dyn std::any::Any).downcast_ref::<icmpkit::Error>() {
        Some(error) => crate::output::errln!("icmpkit: {}", worded(error)),
        None => crate::output::errln!("icmpkit: {error}"),
    }
    ERROR
}

/// How the binary is named in the remedies it prints: whatever path the
/// shell finds it at.
const THIS_PROGRAM: &str = "\"$(command -v icmpkit)\"";

/// A library error in this command line's words: the permission remedies
/// name this binary, a refused broadcast names `-b`. The library's own
/// messages name neither.
pub fn worded(error: &icmpkit::Error) -> String {
    match error {
        icmpkit::Error::Permission(hint) => hint.worded(THIS_PROGRAM).to_string(),
        icmpkit::Error::Broadcast(address) => {
            format!("{address} is a broadcast address; pinging it must be asked for (-b)")
        }
        other => other.to_string(),
    }
}

/// A library error worded for a command whose flags set the library's
/// options: a refused option by its flag (`-W must be above 0`, from the
/// `(option, flag)` pairs), anything else as [`worded`].
pub fn worded_with_flags(error: &icmpkit::Error, flags: &[(&str, &str)]) -> String {
    let named = error.invalid_option().and_then(|invalid| {
        flags
            .iter()
            .find(|(option, _)| *option == invalid.option)
            .map(|(_, flag)| format!("invalid option: {flag} {}", invalid.reason))
    });
    named.unwrap_or_else(|| worded(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library names no binary and no flag; the command line words
    /// its remedies with this binary and `-b`.
    #[test]
    fn library_errors_are_worded_for_this_binary() {
        let hint = icmpkit::PermissionHint {
            ipv6: false,
            tried: icmpkit::socket::Privilege::Auto,
            ping_group_range: Some((1, 0)),
            gid: 1000,
        };
        let text = worded(&icmpkit::Error::Permission(hint));
        assert!(
            text.contains("sudo setcap cap_net_raw+ep \"$(command -v icmpkit)\""),
            "{text}"
        );
        assert!(text.contains("net.ipv4.ping_group_range"), "{text}");
        let broadcast = worded(&icmpkit::Error::Broadcast("192.0.2.255".parse().unwrap()));
        assert!(broadcast.ends_with("must be asked for (-b)"), "{broadcast}");
    }
}
