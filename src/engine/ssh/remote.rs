//! What the tool asks of the remote machine: who the user is there, their home, and the folders a
//! lab's paths name (checked there, created for the default work folder).

use std::path::{Path, PathBuf};

use super::target::SshTarget;
use crate::base::error::{Error, Kind, Result};
use crate::base::sys::sh_quote;

/// The remote user: numeric IDs and home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

pub const WHO_AM_I: &str = "id -u; id -g; printf '%s\\n' \"$HOME\"";

/// The remote user out of WHO_AM_I's output (the first three lines), or why not.
pub fn remote_user_in(target: &SshTarget, text: &str) -> Result<RemoteUser> {
    parse_who_am_i(text).ok_or_else(|| {
        Error::new(Kind::Engine, format!("cannot read the user of {}", target.display()))
            .cause(text.trim().to_string())
            .hint("the remote login shell must be a POSIX shell")
    })
}

pub fn parse_who_am_i(text: &str) -> Option<RemoteUser> {
    let mut lines = text.lines().map(str::trim);
    let uid = lines.next()?.parse().ok()?;
    let gid = lines.next()?.parse().ok()?;
    let home = lines.next().filter(|h| h.starts_with('/'))?;
    Some(RemoteUser { uid, gid, home: PathBuf::from(home) })
}

/// The remote's folders, for the settings' paths (bind mounts name them).
pub struct RemoteFolders<'a> {
    pub target: &'a SshTarget,
    pub home: PathBuf,
    /// Folders already known to exist there, as they resolve (no need to ask again).
    pub known: Vec<PathBuf>,
}

impl crate::base::sys::Folders for RemoteFolders<'_> {
    fn check(&self, path: &Path) -> crate::base::sys::FolderCheck {
        use crate::base::sys::FolderCheck;
        if self.known.iter().any(|k| k == path) {
            return FolderCheck::Folder(path.to_path_buf());
        }
        let q = sh_quote(&path.to_string_lossy());
        let probe = format!(
            "if [ -d {q} ]; then cd -- {q} && pwd -P; elif [ -e {q} ]; then echo NOT-A-FOLDER; else echo MISSING; fi"
        );
        // A short call over the master connection, from settings code that is not async.
        match tokio::task::block_in_place(|| self.target.run_blocking(&probe)) {
            Ok(out) => match out.trim() {
                "MISSING" | "" => FolderCheck::Missing,
                "NOT-A-FOLDER" => FolderCheck::NotAFolder(path.to_path_buf()),
                real => FolderCheck::Folder(PathBuf::from(real)),
            },
            Err(_) => FolderCheck::Missing,
        }
    }
    fn home(&self) -> Option<PathBuf> {
        Some(self.home.clone())
    }
    fn place(&self) -> String {
        format!(" on {}", self.target.display())
    }
    fn read(&self, path: &Path) -> Option<String> {
        let q = sh_quote(&path.to_string_lossy());
        // A marker first: an empty file and a missing one differ.
        let probe = format!(
            "if [ -f {q} ]; then printf F; head -c {} -- {q}; else printf M; fi",
            crate::base::sys::READ_LIMIT
        );
        let out = tokio::task::block_in_place(|| self.target.run_blocking(&probe)).ok()?;
        out.strip_prefix('F').map(str::to_string)
    }
}

/// The folder on the remote that stands for a local one: persistent, named after it.
pub fn default_remote_folder(home: &Path, local: &Path) -> PathBuf {
    home.join(DEFAULT_FOLDERS).join(default_folder_name(local))
}

/// Where on the remote, below the home folder, the folders that stand for local ones live.
const DEFAULT_FOLDERS: &str = "dimtensor-up";

fn default_folder_name(local: &Path) -> String {
    crate::spec::naming::container_name_for(local).trim_start_matches("dimtensor-up-").to_string()
}

/// One remote command: who the remote user is (WHO_AM_I), and the folder that stands for
/// `local` as it resolves (a fourth line; none when it does not exist), created first if `create`.
pub fn who_am_i_and_folder_for(local: &Path, create: bool) -> String {
    let folder = format!("\"$HOME\"/{DEFAULT_FOLDERS}/{}", sh_quote(&default_folder_name(local)));
    let mkdir = if create { format!("mkdir -p -- {folder} && ") } else { String::new() };
    format!("{WHO_AM_I}; {mkdir}cd -- {folder} 2>/dev/null && pwd -P; true")
}
