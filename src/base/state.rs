//! dimtensor-up's own files on this machine: the state folder, private folders inside it,
//! random names and secrets, and files written whole (beside the target, then renamed).
//! Floor 0: uses nothing of this crate but `error`.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Kind, Result};

/// `bytes` random bytes from the OS CSPRNG, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random number generator is available");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// dimtensor-up's state folder (tokens, ssh control sockets): DIMTENSOR_UP_STATE_DIR, else the
/// platform's local data folder.
pub fn state_dir() -> Result<PathBuf> {
    match std::env::var_os("DIMTENSOR_UP_STATE_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => directories::ProjectDirs::from("org", "dimtensor", "dimtensor-up")
            .map(|d| d.data_local_dir().to_path_buf())
            .ok_or_else(|| {
                Error::new(Kind::Config, "cannot find a home folder for dimtensor-up's state")
                    .hint("set DIMTENSOR_UP_STATE_DIR")
            }),
    }
}

/// A private folder (0700) under the state folder.
pub fn private_dir(name: &str) -> Result<PathBuf> {
    let dir = state_dir()?.join(name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::new(Kind::Config, format!("cannot create {}", dir.display())).cause(e))?;
    restrict(&dir, 0o700)?;
    Ok(dir)
}

/// Writes a file whole: a new file beside it (with `mode`, so a secret never sits in a file with
/// looser permissions, not even for a moment), then renamed over it, so a crash never leaves
/// half a file. `kind` is the error kind a failure has.
pub fn write_atomic(path: &Path, text: &str, mode: u32, kind: Kind) -> Result<()> {
    let fail = |e: std::io::Error| Error::new(kind, format!("cannot write {}", path.display())).cause(e);
    let tmp = path.with_extension(format!("tmp-{}", random_hex(4)));
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(fail)?;
        f.write_all(text.as_bytes()).map_err(fail)?;
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::write(&tmp, text).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// A file that holds a secret, written whole with `mode`.
pub fn write_secret_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    write_atomic(path, text, mode, Kind::Config)
}

#[cfg(unix)]
pub fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
        Error::new(Kind::Config, format!("cannot set permissions on {}", path.display())).cause(e)
    })
}

#[cfg(not(unix))]
pub fn restrict(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

/// A folder removed when the returned guard drops, and its canonical path (tests of paths).
#[cfg(test)]
pub fn test_folder() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    (dir, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_whole_with_their_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("f.txt");
        write_atomic(&path, "one", 0o600, Kind::Usage).unwrap();
        write_atomic(&path, "two", 0o600, Kind::Usage).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1, "no temporary file is left");
        let err = write_atomic(&dir.join("missing/f"), "x", 0o600, Kind::Usage).unwrap_err();
        assert_eq!(err.kind, Kind::Usage);
    }
}
