//! The README's unprivileged install, for tests: a copy of a binary with
//! `cap_net_raw+ep` that `nobody` can run, and the capability sets each
//! thread of a process holds (`/proc/<pid>/task/*/status`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Skip, output_text, require_tool};

/// The uid and gid of `nobody`.
pub const NOBODY: u32 = 65_534;

/// A copy of a binary with `cap_net_raw+ep`, in a directory of its own
/// (removed on drop) that `nobody` can enter.
#[derive(Debug)]
pub struct CapableCopy {
    dir: PathBuf,
    binary: PathBuf,
}

impl CapableCopy {
    /// Copies `binary` under a directory named after `test` and gives the
    /// copy `cap_net_raw+ep`; a skip where `setcap` is missing or refused.
    pub fn new(binary: &Path, test: &str) -> Result<CapableCopy, Skip> {
        require_tool("setcap")?;
        let name = binary
            .file_name()
            .map_or("binary".into(), |n| n.to_string_lossy());
        let dir = std::env::temp_dir().join(format!("{name}-caps-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the copy's directory");
        let copy = CapableCopy {
            binary: dir.join(name.as_ref()),
            dir,
        };
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&copy.dir, open.clone()).expect("chmod the directory");
        std::fs::copy(binary, &copy.binary).expect("copy the binary");
        std::fs::set_permissions(&copy.binary, open).expect("chmod the copy");
        let setcap = Command::new("setcap")
            .arg("cap_net_raw+ep")
            .arg(&copy.binary)
            .output()
            .expect("run setcap");
        if !setcap.status.success() {
            return Err(Skip::new(format!(
                "setcap refused on {} (no xattr support?): {}",
                copy.dir.display(),
                output_text(&setcap)
            )));
        }
        Ok(copy)
    }

    /// The copy's path.
    pub fn binary(&self) -> &Path {
        &self.binary
    }
}

impl Drop for CapableCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (tid, CapEff, CapPrm) of every thread of `pid`.
pub fn thread_capabilities(pid: u32) -> Vec<(String, u64, u64)> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(&tasks)
        .expect("list the process's threads")
        .flatten()
    {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue; // ended meanwhile
        };
        let field = |name: &str| {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {status}"));
            u64::from_str_radix(line.trim(), 16).expect("a hex capability mask")
        };
        threads.push((
            entry.file_name().to_string_lossy().into_owned(),
            field("CapEff:"),
            field("CapPrm:"),
        ));
    }
    threads
}
