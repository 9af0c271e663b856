//! Names that outlive a run: the labels that let `ps`, `open` and `stop` find what dimtensor-up
//! started, container names per folder, the container's own layout, and the one stable hash
//! behind names and checksums. Floor 1.

use std::path::Path;

/// JupyterLab's port inside the container.
pub const CONTAINER_PORT: u16 = 8888;
pub const HOME: &str = "/home/dimtensor";
pub const WORK_MOUNT: &str = "/home/dimtensor/work";
pub const DATA_MOUNT: &str = "/home/dimtensor/data";
pub const TOKEN_MOUNT: &str = "/run/secrets/jupyter_token";
/// Where `pip install` in the lab puts packages (the image's PYTHONUSERBASE): a volume per folder.
pub const PACKAGES_MOUNT: &str = "/home/dimtensor/.packages";
/// The host's CA bundle, read-only, for pip and Python's TLS in the lab (behind a corporate proxy).
pub const CA_MOUNT: &str = "/run/dimtensor-up/ca-bundle.crt";

/// Labels that let `ps`, `open` and `stop` find what dimtensor-up started.
pub mod labels {
    pub const MANAGED: &str = "org.dimtensor-up.managed";
    pub const WORKDIR: &str = "org.dimtensor-up.workdir";
    pub const VARIANT: &str = "org.dimtensor-up.lab-variant";
    pub const PORT: &str = "org.dimtensor-up.port";
    pub const LISTEN: &str = "org.dimtensor-up.listen";
    pub const TOKEN_FILE: &str = "org.dimtensor-up.token-file";
    pub const GPUS: &str = "org.dimtensor-up.gpus";
    /// `--idle-timeout` in seconds, where one was given.
    pub const IDLE_TIMEOUT: &str = "org.dimtensor-up.idle-timeout";
    /// The project files (`name=hash …`) a lab's image was built from: a reuse notices a change.
    pub const PROJECT_FILES: &str = "org.dimtensor-up.project-files";
    /// On the labs a hub spawned: the hub's folder (`stop` of the hub removes them too).
    pub const HUB: &str = "org.dimtensor-up.hub";
    /// On a hub's lab: its user.
    pub const HUB_USER: &str = "org.dimtensor-up.hub-user";
    /// On a hub's lab with `--one-gpu-each`: the GPU it holds.
    pub const HUB_GPU: &str = "org.dimtensor-up.hub-gpu";
}

/// The container name for a folder: readable, and unique per folder (a second start in the
/// same folder finds the first by this name; the engine refuses a duplicate atomically).
pub fn container_name_for(workdir: &Path) -> String {
    format!("dimtensor-up-{}", folder_slug(workdir))
}

/// The volume that keeps the packages installed by hand in a folder's lab.
pub fn packages_volume_for(workdir: &Path) -> String {
    format!("dimtensor-up-packages-{}", folder_slug(workdir))
}

/// A folder's readable, unique short name: its last component, cleaned, and a hash of the path.
pub fn folder_slug(workdir: &Path) -> String {
    let base = workdir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut slug: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    slug = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    slug.truncate(24);
    let slug = if slug.is_empty() { "root".to_string() } else { slug.trim_end_matches('-').to_string() };
    format!("{slug}-{:08x}", fnv1a(workdir.to_string_lossy().as_bytes()) as u32)
}

/// FNV-1a: a hash that stays the same across Rust versions (names and checksums must survive
/// upgrades).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_stable_and_per_folder() {
        let a = container_name_for(Path::new("/home/ana/My Project"));
        assert!(a.starts_with("dimtensor-up-my-project-"), "{a}");
        assert_eq!(a, container_name_for(Path::new("/home/ana/My Project")));
        assert_ne!(a, container_name_for(Path::new("/home/bob/My Project")));
        assert!(container_name_for(Path::new("/")).starts_with("dimtensor-up-root-"));
        assert!(container_name_for(Path::new("/x/Ünïcødé"))
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
        // Pinned: names of running servers must survive an upgrade of dimtensor-up.
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
