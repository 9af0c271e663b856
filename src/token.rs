//! Jupyter tokens: random from the OS, handed to the container as a file, never through the image.

use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};

/// 24 bytes = 192 bits from the OS CSPRNG (at least 128 are required).
const TOKEN_BYTES: usize = 24;

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random number generator is available");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn new_token() -> String {
    random_hex(TOKEN_BYTES)
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

/// Where the token files live: a private folder (0700) in the user's state directory.
pub fn token_dir() -> Result<PathBuf> {
    private_dir("tokens")
}

/// Writes the token for a container. The file is world-readable inside a 0700 folder: no other
/// host user can reach it, while the container's user (any UID) can read the bind-mounted file.
pub fn write_token_file(container: &str, token: &str) -> Result<PathBuf> {
    let path = token_dir()?.join(container);
    write_secret_file(&path, token, 0o644)?;
    Ok(path)
}

/// Writes a file that holds a secret: a new file with `mode` beside it, then renamed over it, so
/// the secret never sits in a file with looser permissions, not even for a moment.
pub fn write_secret_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let fail =
        |e: std::io::Error| Error::new(Kind::Config, format!("cannot write {}", path.display())).cause(e);
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

/// A token file that is deleted when dropped (an error, Ctrl-C) unless the server it belongs to
/// is handed over with `keep`. Over ssh it lives on the remote, beside the engine that mounts it.
pub struct TokenFile {
    path: Option<PathBuf>,
    remote: Option<crate::engine::ssh::SshTarget>,
}

impl TokenFile {
    pub fn write(container: &str, token: &str) -> Result<TokenFile> {
        write_token_file(container, token).map(|p| TokenFile { path: Some(p), remote: None })
    }
    /// Writes it where `engine` runs: here, or in the remote user's private state folder.
    pub async fn write_for(
        engine: &crate::engine::Engine,
        container: &str,
        token: &str,
    ) -> Result<TokenFile> {
        use crate::engine::ssh::sh_quote;
        let (Some(target), Some(user)) = (engine.host.ssh(), engine.host.remote_user().await?) else {
            return Self::write(container, token);
        };
        let dir = user.home.join(".local/share/dimtensor-up/tokens");
        let path = dir.join(container);
        let (d, f) = (sh_quote(&dir.to_string_lossy()), sh_quote(&path.to_string_lossy()));
        // The token travels on stdin, never on a command line; 0644 inside a 0700 folder, as here.
        let script = format!("umask 077 && mkdir -p {d} && chmod 700 {d} && cat > {f}.tmp && chmod 644 {f}.tmp && mv -f {f}.tmp {f}");
        target.run(&script, Some(token.as_bytes())).await?;
        Ok(TokenFile { path: Some(path), remote: Some(target.clone()) })
    }
    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("a TokenFile holds its path until kept")
    }
    pub fn keep(mut self) {
        self.path.take();
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else { return };
        match &self.remote {
            Some(target) => remove_remote(target, &path),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Removes a token file on the remote (best effort: the server is gone either way).
pub fn remove_remote(target: &crate::engine::ssh::SshTarget, path: &Path) {
    let _ =
        target.run_blocking(&format!("rm -f -- {}", crate::engine::ssh::sh_quote(&path.to_string_lossy())));
}

pub fn read_token_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let a = new_token();
        assert_eq!(a.len(), TOKEN_BYTES * 2);
        const { assert!(TOKEN_BYTES * 8 >= 128) };
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_token());
    }
}
