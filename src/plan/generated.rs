//! The one rule for the files the tool writes for the user to keep (compose.yaml; the hub's
//! compose.yaml, jupyterhub_config.py and Zero to JupyterHub values): a checksum on the last line
//! tells a file as written from an edited one. A re-run replaces a file as written; an edited
//! one, or one dimtensor-up did not write, only with --force, after keeping it as NAME.bak.
//! Every file is checked before the first is written.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;

pub const CHECKSUM_PREFIX: &str = "# dimtensor-up checksum: ";

/// The text with a last line that lets a re-run tell an untouched file from an edited one.
pub fn with_checksum(text: &str) -> String {
    format!("{text}{CHECKSUM_PREFIX}{:016x}\n", crate::spec::naming::fnv1a(text.as_bytes()))
}

/// Whether a file is as dimtensor-up wrote it (its checksum line matches what is above it).
pub fn is_unedited(text: &str) -> bool {
    let Some(body_end) = text.trim_end_matches('\n').rfind('\n').map(|i| i + 1) else { return false };
    let (body, last) = text.split_at(body_end);
    last.trim_end() == format!("{CHECKSUM_PREFIX}{:016x}", crate::spec::naming::fnv1a(body.as_bytes()))
}

/// What writing a generated file does to what is there, decided before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// No file there, or one as dimtensor-up wrote it.
    Freely,
    /// A file the user edited or wrote, replaced with --force: kept as NAME.bak first.
    KeepingBackup,
}

/// Whether `path` may be written, by the rule above. `keep` says what a user who keeps their
/// edits does instead (the hint's first words).
pub fn check(path: &Path, force: bool, keep: &str) -> Result<Replace> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Replace::Freely),
        Err(e) => return Err(Error::new(Kind::Usage, format!("cannot read {}", path.display())).cause(e)),
        Ok(text) => text,
    };
    if is_unedited(&text) {
        return Ok(Replace::Freely);
    }
    if force {
        return Ok(Replace::KeepingBackup);
    }
    let what = match text.contains(CHECKSUM_PREFIX) {
        true => "was edited since dimtensor-up wrote it",
        false => "was not written by dimtensor-up",
    };
    let backup = backup_of(path);
    let backup = backup.file_name().unwrap_or_default().to_string_lossy();
    Err(Error::usage(format!("{} {what}", path.display()))
        .hint(format!("{keep}, or pass --force to replace it (yours is kept as {backup})")))
}

/// Writes a checked file whole (mode 644), keeping the one there first where `replace` says so,
/// and saying so.
pub fn write(path: &Path, text: &str, replace: Replace, reporter: &Reporter) -> Result<()> {
    if replace == Replace::KeepingBackup {
        let backup = backup_of(path);
        std::fs::copy(path, &backup).map_err(|e| {
            Error::new(Kind::Usage, format!("cannot keep {} as {}", path.display(), backup.display()))
                .cause(e)
        })?;
        reporter.note(format!("kept your {} as {}", path.display(), backup.display()));
    }
    crate::base::state::write_atomic(path, text, 0o644, Kind::Usage)
}

/// NAME.bak beside NAME (compose.yaml → compose.yaml.bak).
fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_tells_an_edit() {
        let text = with_checksum("a = 1\n");
        assert!(is_unedited(&text));
        assert!(!is_unedited(&text.replace("a = 1", "a = 2")));
        assert!(!is_unedited("a = 1\n"));
        assert!(!is_unedited(""));
    }

    #[test]
    fn an_edited_or_foreign_file_is_replaced_only_with_force_and_kept_as_bak() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compose.yaml");
        assert_eq!(check(&path, false, "keep it").unwrap(), Replace::Freely, "absent");
        std::fs::write(&path, with_checksum("services: {}\n")).unwrap();
        assert_eq!(check(&path, false, "keep it").unwrap(), Replace::Freely, "as written");
        std::fs::write(&path, with_checksum("services: {}\n").replace("{}", "{x: 1}")).unwrap();
        let err = check(&path, false, "keep it").unwrap_err();
        assert!(
            err.message.ends_with("compose.yaml was edited since dimtensor-up wrote it"),
            "{}",
            err.message
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("keep it, or pass --force to replace it (yours is kept as compose.yaml.bak)")
        );
        std::fs::write(&path, "services: {}\n# mine\n").unwrap();
        let err = check(&path, false, "keep it").unwrap_err();
        assert!(err.message.ends_with("was not written by dimtensor-up"), "{}", err.message);
        let replace = check(&path, true, "keep it").unwrap();
        assert_eq!(replace, Replace::KeepingBackup);
        write(&path, "new\n", replace, &Reporter::new(true, false)).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("compose.yaml.bak")).unwrap(),
            "services: {}\n# mine\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }
}
