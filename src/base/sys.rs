//! The machine this process runs on: the caller's IDs, the current folder, programs on PATH,
//! and the POSIX shell's quoting. Floor 0: uses nothing of this crate but `error`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Kind, Result};

/// A numeric user and group, as containers and bind mounts see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserSpec {
    pub uid: u32,
    pub gid: u32,
}

impl UserSpec {
    pub fn parse(text: &str) -> Result<UserSpec> {
        let bad = || {
            Error::usage(format!("invalid --user `{text}`"))
                .hint("use numeric UID:GID, for example --user 1000:1000 (`id -u`:`id -g`)")
        };
        let (u, g) = text.split_once(':').ok_or_else(bad)?;
        Ok(UserSpec { uid: u.parse().map_err(|_| bad())?, gid: g.parse().map_err(|_| bad())? })
    }

    pub fn render(&self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }

    /// The invoking user's UID:GID.
    #[cfg(unix)]
    pub fn caller() -> Option<UserSpec> {
        Some(UserSpec { uid: rustix::process::getuid().as_raw(), gid: rustix::process::getgid().as_raw() })
    }

    #[cfg(not(unix))]
    pub fn caller() -> Option<UserSpec> {
        None
    }
}

/// The folder the command was started in.
pub fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| {
        Error::new(Kind::Usage, "cannot read the current folder")
            .cause(e)
            .hint("cd into an existing folder, or pass --workdir")
    })
}

/// The first of `names` found on PATH.
pub fn find_on_path(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate.display().to_string());
            }
        }
    }
    None
}

/// Quotes a word for a POSIX shell (the remote's commands, and commands shown in hints).
pub fn sh_quote(word: &str) -> String {
    if !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-~+=:,@".contains(c))
        && !word.starts_with('~')
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// `sh_quote` of a path.
pub fn sh_quote_path(path: &Path) -> String {
    sh_quote(&path.to_string_lossy())
}

/// Whether a process with this PID exists (signal 0 checks without sending anything).
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else { return false };
    rustix::process::test_kill_process(pid).is_ok()
}

/// Elsewhere it cannot be asked: taken as alive.
#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> bool {
    true
}

/// Bytes free for an ordinary user on the file system holding `path`.
#[cfg(unix)]
pub fn free_bytes(path: &str) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(not(unix))]
pub fn free_bytes(_path: &str) -> Option<u64> {
    None
}

/// The group owning a file (a socket's group decides who may use it); None for root's group.
#[cfg(unix)]
pub fn file_gid(path: &str) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.gid()).filter(|g| *g != 0)
}

#[cfg(not(unix))]
pub fn file_gid(_: &str) -> Option<u32> {
    None
}

/// The owner of a file.
#[cfg(unix)]
pub fn file_uid(path: &str) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
pub fn file_uid(_: &str) -> Option<u32> {
    None
}

/// Where the host paths of the settings are looked up: this machine, or the machine of the
/// engine (over ssh, bind mounts name the remote's folders).
pub trait Folders {
    fn check(&self, path: &Path) -> FolderCheck;
    /// The home folder `~/` stands for.
    fn home(&self) -> Option<PathBuf>;
    /// Where, for messages: "" here, " on box" over ssh.
    fn place(&self) -> String;
    /// A small text file's contents (a project's requirements); None when it is not there.
    fn read(&self, path: &Path) -> Option<String>;
    /// Whether paths are looked up at all (not before the engine's machine answers).
    fn checks(&self) -> bool {
        true
    }
    /// Whether these are this machine's folders (a local file can be mounted).
    fn here(&self) -> bool {
        false
    }
}

/// The largest file `Folders::read` reads: requirements files are small.
pub const READ_LIMIT: u64 = 1 << 20;

pub enum FolderCheck {
    Folder(PathBuf),
    NotAFolder(PathBuf),
    Missing,
}

/// This machine's folders.
pub struct LocalFolders;

impl Folders for LocalFolders {
    fn check(&self, path: &Path) -> FolderCheck {
        match std::fs::canonicalize(path) {
            Ok(p) if p.is_dir() => FolderCheck::Folder(p),
            Ok(p) => FolderCheck::NotAFolder(p),
            Err(_) => FolderCheck::Missing,
        }
    }
    fn home(&self) -> Option<PathBuf> {
        directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
    }
    fn place(&self) -> String {
        String::new()
    }
    fn here(&self) -> bool {
        true
    }
    fn read(&self, path: &Path) -> Option<String> {
        use std::io::Read;
        let file = std::fs::File::open(path).ok().filter(|f| f.metadata().is_ok_and(|m| m.is_file()))?;
        let mut text = String::new();
        file.take(READ_LIMIT).read_to_string(&mut text).ok()?;
        Some(text)
    }
}

/// Takes every path as a folder, unchanged: validating the flags before the engine's machine
/// can be asked.
pub struct UncheckedFolders;

impl Folders for UncheckedFolders {
    fn check(&self, path: &Path) -> FolderCheck {
        FolderCheck::Folder(path.to_path_buf())
    }
    fn home(&self) -> Option<PathBuf> {
        Some(PathBuf::from("/"))
    }
    fn place(&self) -> String {
        String::new()
    }
    /// Files are read once the engine's machine answers.
    fn read(&self, _: &Path) -> Option<String> {
        None
    }
    fn checks(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_the_shell_needs_it() {
        assert_eq!(sh_quote("/home/a b/it's"), "'/home/a b/it'\\''s'");
        assert_eq!(sh_quote("/srv/data"), "/srv/data");
        assert_eq!(sh_quote("~/x"), "'~/x'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn user_specs_parse_as_uid_gid() {
        assert_eq!(UserSpec::parse("1000:100").unwrap(), UserSpec { uid: 1000, gid: 100 });
        assert!(UserSpec::parse("me").is_err() && UserSpec::parse("1000").is_err());
        assert_eq!(UserSpec { uid: 1, gid: 2 }.render(), "1:2");
    }

    #[test]
    fn this_process_is_alive_and_its_ids_are_known() {
        assert!(process_alive(std::process::id()));
        assert!(UserSpec::caller().is_some());
        assert!(free_bytes("/").is_some());
    }
}
