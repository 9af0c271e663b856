//! Jupyter tokens: random from the OS, handed to the container as a file, never through the image.
//! The file lives where the engine runs: here, or on the remote beside an ssh engine.

use std::path::{Path, PathBuf};

use crate::base::error::Result;
use crate::base::state::{private_dir, random_hex, write_secret_file};
use crate::base::sys::sh_quote_path;

/// 24 bytes = 192 bits from the OS CSPRNG (at least 128 are required).
const TOKEN_BYTES: usize = 24;

pub fn new_token() -> String {
    random_hex(TOKEN_BYTES)
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
        let (Some(target), Some(user)) = (engine.host.ssh(), engine.host.remote_user().await?) else {
            return Self::write(container, token);
        };
        Self::write_remote(target, &user.home, container, token).await
    }
    /// Writes it in the private state folder of the remote user whose home is `home`.
    pub async fn write_remote(
        target: &crate::engine::ssh::SshTarget,
        home: &Path,
        container: &str,
        token: &str,
    ) -> Result<TokenFile> {
        let dir = remote_token_dir(home);
        let path = dir.join(container);
        let (d, f) = (sh_quote_path(&dir), sh_quote_path(&path));
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
        if let Some(path) = self.path.take() {
            remove(&path, self.remote.as_ref());
        }
    }
}

/// Removes a token file, here or on the remote (best effort: the server is gone either way).
pub fn remove(path: &Path, remote: Option<&crate::engine::ssh::SshTarget>) {
    match remote {
        Some(target) => {
            let _ = target.run_blocking(&format!("rm -f -- {}", sh_quote_path(path)));
        }
        None => {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where token files live on a remote whose user's home is `home` (the state folder there).
pub fn remote_token_dir(home: &Path) -> PathBuf {
    home.join(".local/share/dimtensor-up/tokens")
}

pub fn read_token_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
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
