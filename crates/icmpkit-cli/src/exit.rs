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

/// How the binary is named in the remedies it prints: the path of the
/// executable running (`setcap` must be given the real file, wherever it
/// was installed or built), quoted for a shell when it needs it; the
/// shell's lookup if the system cannot say.
pub fn this_program() -> String {
    match std::env::current_exe() {
        Ok(path) => shell_quoted(&path.display().to_string()),
        Err(_) => "\"$(command -v icmpkit)\"".to_string(),
    }
}

/// `text` as one shell word.
fn shell_quoted(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A library error in this command line's words: the permission remedies
/// name this binary, a refused broadcast names `-b`. The library's own
/// messages name neither.
pub fn worded(error: &icmpkit::Error) -> String {
    match error {
        icmpkit::Error::Permission(hint) => hint.worded(&this_program()).to_string(),
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

    #[test]
    fn paths_are_quoted_for_the_shell_when_needed() {
        assert_eq!(
            shell_quoted("/usr/local/bin/icmpkit"),
            "/usr/local/bin/icmpkit"
        );
        assert_eq!(shell_quoted("/home/a b/icmpkit"), "'/home/a b/icmpkit'");
        assert_eq!(shell_quoted("/tmp/it's"), "'/tmp/it'\\''s'");
    }

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
        // The real file, not whatever `command -v` finds first on PATH.
        let exe = std::env::current_exe().unwrap().display().to_string();
        assert!(
            text.contains(&format!(
                "sudo setcap cap_net_raw+ep {}",
                shell_quoted(&exe)
            )),
            "{text}"
        );
        assert!(!text.contains("command -v"), "{text}");
        assert!(text.contains("net.ipv4.ping_group_range"), "{text}");
        // Root refused (no CAP_NET_RAW in a container) is not told to be root.
        if nix::unistd::geteuid().is_root() {
            assert!(!text.contains("run it as root"), "{text}");
            assert!(text.contains("lacks although it runs as root"), "{text}");
        } else {
            assert!(text.contains("or run it as root"), "{text}");
        }
        let broadcast = worded(&icmpkit::Error::Broadcast("192.0.2.255".parse().unwrap()));
        assert!(broadcast.ends_with("must be asked for (-b)"), "{broadcast}");
    }
}
