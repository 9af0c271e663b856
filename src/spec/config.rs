//! The settings file: TOML in the OS config folder (DIMTENSOR_UP_CONFIG overrides the path).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Kind, Result};
use crate::gpu::GpuRequest;
use crate::spec::catalog::{Arch, PullPolicy, Variant, DEFAULT_REGISTRY};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Registry repository the images are pulled from and tagged as.
    pub registry: Option<String>,
    /// Variant for `jupyter`/`compose` when no --variant is given (skips the wizard).
    pub variant: Option<Variant>,
    /// Default --gpus.
    #[serde(default, with = "as_text", skip_serializing_if = "Option::is_none")]
    pub gpus: Option<GpuRequest>,
    /// Default --platform (the engine's when unset).
    #[serde(default, with = "as_text", skip_serializing_if = "Option::is_none")]
    pub platform: Option<Arch>,
    /// Default host address to bind.
    pub listen: Option<IpAddr>,
    /// Default --pull.
    pub pull: Option<PullPolicy>,
    /// dimtensor version for builds.
    pub dimtensor_version: Option<String>,
    /// Base image for builds.
    pub python_image: Option<String>,
    /// Default --idle-timeout: a lab stops after this long without activity.
    #[serde(default, with = "as_text", skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<crate::base::units::Seconds>,
    /// Slurm clusters by login host (`[slurm."login.cluster"]`): `--host ssh://login.cluster`
    /// then runs labs as jobs with these settings (flags win).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub slurm: std::collections::BTreeMap<String, SlurmHost>,
}

/// A Slurm cluster's job settings, typed once (`config set slurm.HOST.KEY VALUE`, or the file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SlurmHost {
    pub partition: Option<String>,
    /// The job's time limit (`2h`, `90m`, `1d`).
    #[serde(default, with = "as_text", skip_serializing_if = "Option::is_none")]
    pub time: Option<crate::base::units::Seconds>,
    /// GPUs per job as the cluster counts them: `1`, or `a100:1` for a typed gres.
    pub gpus: Option<String>,
    pub gpu_flag: Option<GpuFlag>,
    pub account: Option<String>,
    /// More `sbatch` options, as written (`["--qos=short"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbatch_args: Vec<String>,
    /// Where Apptainer's SIF images are kept [default: under $SCRATCH, else ~/.cache].
    pub image_cache: Option<PathBuf>,
    /// The container runtime on the nodes: apptainer, singularity, podman or docker [default:
    /// the first of them a node has].
    pub runtime: Option<String>,
}

/// How a cluster counts GPUs in a request: `--gres=gpu:N` (every Slurm) or `--gpus=N` (where the
/// site configured it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuFlag {
    #[default]
    Gres,
    Gpus,
}

/// The keys of a `[slurm."HOST"]` table, for `config set slurm.HOST.KEY`.
pub const SLURM_KEYS: [&str; 7] =
    ["partition", "time", "gpus", "gpu-flag", "account", "image-cache", "runtime"];

pub const KEYS: [&str; 9] = [
    "registry", "variant", "gpus", "platform", "listen", "pull", "dimtensor-version", "python-image",
    "idle-timeout",
];

pub fn config_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("DIMTENSOR_UP_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    directories::ProjectDirs::from("org", "dimtensor", "dimtensor-up")
        .map(|d| d.config_dir().join("config.toml"))
        .ok_or_else(|| {
            Error::new(Kind::Config, "cannot find the settings folder")
                .hint("set DIMTENSOR_UP_CONFIG to a file path")
        })
}

impl Config {
    /// Loads the file; a missing file is the empty configuration.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(Error::new(
                    Kind::Config,
                    format!("cannot read the settings file {}", path.display()),
                )
                .cause(e))
            }
        };
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            let at = line.map(|l| format!(", line {l}")).unwrap_or_default();
            Error::new(Kind::Config, format!("malformed settings file {}{at}", path.display()))
                .cause(e.message())
                .hint(format!("fix or delete the file; valid keys: {}", KEYS.join(", ")))
        })?;
        Ok(config)
    }

    /// `config set KEY VALUE`: validated with the same rules as the flags.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let toml_value = toml::Value::String(value.to_string());
        let invalid = |e: String| Error::usage(format!("invalid value `{value}` for {key}")).cause(e);
        match key {
            "registry" => self.registry = Some(value.to_string()),
            "variant" => {
                self.variant = Some(
                    Variant::deserialize(toml_value)
                        .map_err(|e| invalid(e.to_string()).hint("one of auto, base, ml, full"))?,
                )
            }
            "gpus" => self.gpus = Some(GpuRequest::parse(value)?),
            "platform" => self.platform = Some(Arch::parse(value)?),
            "listen" => {
                self.listen = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("not an IP address".into()).hint("for example 127.0.0.1"))?,
                )
            }
            "pull" => {
                self.pull = Some(
                    PullPolicy::deserialize(toml_value)
                        .map_err(|e| invalid(e.to_string()).hint("one of always, missing, never"))?,
                )
            }
            "dimtensor-version" => self.dimtensor_version = Some(value.to_string()),
            "python-image" => self.python_image = Some(value.to_string()),
            "idle-timeout" => {
                self.idle_timeout = Some(crate::base::units::Seconds(crate::base::units::parse_duration(
                    value, "idle-timeout",
                )?))
            }
            _ if key.starts_with("slurm.") => return self.set_slurm(key, value),
            _ => {
                return Err(Error::usage(format!("unknown setting `{key}`"))
                    .hint(format!("settings: {}, slurm.HOST.KEY", KEYS.join(", "))))
            }
        }
        Ok(())
    }

    /// `config set slurm.HOST.KEY VALUE` (the host may hold dots: the key is the last part).
    fn set_slurm(&mut self, key: &str, value: &str) -> Result<()> {
        let unknown = || {
            Error::usage(format!("unknown setting `{key}`"))
                .hint(format!("slurm.HOST.KEY with KEY one of {}", SLURM_KEYS.join(", ")))
        };
        let (host, field) = key["slurm.".len()..].rsplit_once('.').ok_or_else(unknown)?;
        if host.is_empty() {
            return Err(unknown());
        }
        let entry = self.slurm.entry(host.to_string()).or_default();
        match field {
            "partition" => entry.partition = Some(value.to_string()),
            "time" => {
                entry.time =
                    Some(crate::base::units::Seconds(crate::base::units::parse_duration(value, "time")?))
            }
            "gpus" => entry.gpus = Some(value.to_string()),
            "gpu-flag" => {
                entry.gpu_flag =
                    Some(GpuFlag::deserialize(toml::Value::String(value.into())).map_err(|_| {
                        Error::usage(format!("invalid value `{value}` for {key}"))
                            .hint("gres (--gres=gpu:N) or gpus (--gpus=N)")
                    })?)
            }
            "account" => entry.account = Some(value.to_string()),
            "image-cache" => entry.image_cache = Some(PathBuf::from(value)),
            "runtime" => entry.runtime = Some(value.to_string()),
            _ => return Err(unknown()),
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::new(Kind::Config, format!("cannot write the settings file {}", path.display())).cause(e)
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let text = toml::to_string(self).map_err(|e| fail(&e))?;
        crate::base::state::write_atomic(path, &text, 0o644, Kind::Config)
    }

    pub fn registry(&self) -> &str {
        self.registry.as_deref().unwrap_or(DEFAULT_REGISTRY)
    }

    /// --platform over the setting, checked; None: the engine's own.
    pub fn platform(&self, flag: Option<&str>) -> Result<Option<Arch>> {
        match flag {
            Some(text) => Arch::parse(text).map(Some),
            None => Ok(self.platform),
        }
    }
}

/// The settings file and its path.
pub fn load() -> Result<(Config, PathBuf)> {
    let path = config_path()?;
    Ok((Config::load(&path)?, path))
}

/// Values the settings file keeps as the text a flag takes (`gpus = "device=0,1"`), held parsed.
mod as_text {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub trait Text: Sized {
        fn from_text(text: &str) -> crate::base::error::Result<Self>;
        fn text(&self) -> String;
    }

    impl Text for crate::gpu::GpuRequest {
        fn from_text(text: &str) -> crate::base::error::Result<Self> {
            Self::parse(text)
        }
        fn text(&self) -> String {
            self.text()
        }
    }

    impl Text for crate::base::units::Seconds {
        fn from_text(text: &str) -> crate::base::error::Result<Self> {
            crate::base::units::parse_duration(text, "idle-timeout").map(Self)
        }
        fn text(&self) -> String {
            crate::base::units::duration_text(self.0)
        }
    }

    impl Text for crate::spec::catalog::Arch {
        fn from_text(text: &str) -> crate::base::error::Result<Self> {
            Self::parse(text)
        }
        fn text(&self) -> String {
            self.platform().to_string()
        }
    }

    pub fn serialize<T: Text, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(&v.text()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Text, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| {
            T::from_text(&t).map_err(|e| match e.hint {
                Some(hint) => D::Error::custom(format!("{}; {hint}", e.message)),
                None => D::Error::custom(e.message),
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let text = "registry = \"registry.example/me/dimtensor\"\nvariant = \"ml\"\ngpus = \"all\"\nlisten = \"0.0.0.0\"\npull = \"never\"\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.registry(), "registry.example/me/dimtensor");
        assert_eq!(c.variant, Some(Variant::Ml));
        assert_eq!(c.pull, Some(PullPolicy::Never));
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let err = Config::parse("variant = \"ml\"\nport = = 3\n", Path::new("/x/config.toml")).unwrap_err();
        assert_eq!(err.kind, Kind::Config);
        assert!(err.message.contains("/x/config.toml, line 2"), "{}", err.message);
        let err = Config::parse("colour = \"red\"\n", Path::new("c.toml")).unwrap_err();
        assert!(err.message.contains("line 1") && err.causes[0].contains("colour"), "{err:?}");
        let err = Config::parse("variant = \"gpu\"\n", Path::new("c.toml")).unwrap_err();
        assert!(err.causes[0].contains("gpu"), "{err:?}");
        assert!(Config::parse("gpus = \"many\"\n", Path::new("c.toml")).is_err());
    }

    #[test]
    fn set_validates_like_the_flags() {
        let mut c = Config::default();
        c.set("variant", "base").unwrap();
        c.set("gpus", "device=0").unwrap();
        c.set("listen", "127.0.0.1").unwrap();
        c.set("idle-timeout", "2h").unwrap();
        assert!(c.set("idle-timeout", "soon").is_err());
        assert!(c.set("variant", "huge").is_err());
        assert!(c.set("gpus", "lots").is_err());
        assert!(c.set("listen", "localhost:80").is_err());
        assert!(c.set("colour", "red").unwrap_err().hint.unwrap().contains("variant"));
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text, Path::new("c")).unwrap(), c);
    }
}
