//! `icmpkit man`: the man pages, made from the clap definitions (so they
//! never drift from `--help`): `icmpkit.1`, and `icmpkit-<command>.1` for
//! each command, as git names its pages.

use std::io::Write;
use std::path::Path;

/// Writes every page into `dir` (created if missing) and prints each path.
pub fn write_pages(mut cli: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Built once, so that every subcommand has what the top inherits
    // (version, propagated settings).
    cli.build();
    let mut pages = vec![("icmpkit.1".to_string(), cli.clone())];
    // clap's own `help` command gets no page.
    let commands = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help");
    for sub in commands {
        let name = format!("icmpkit-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("{name}.1"), page));
    }
    let mut out = crate::output::stdout();
    for (file, command) in pages {
        let mut text = Vec::new();
        clap_mangen::Man::new(command).render(&mut text)?;
        let path = dir.join(file);
        std::fs::write(&path, text)?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
}
