//! Floor 3: the plan, pure but for `generated`, which reads and writes the files. The settings
//! (flags + file, checked) become one `LaunchPlan`: what `jupyter` and `run` ask the engine for
//! (the Engine API body, Podman's body, here), and what the other front ends write down from it:
//! compose YAML (`compose`), the hub's files (`hub`), the Slurm job's script (`slurm`), under one
//! rule for files a user keeps (`generated`).

pub mod compose;
pub mod generated;
pub mod hub;
pub mod settings;
pub mod slurm;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::model::{GpuForm, UserMapping};
use crate::gpu::GpuAttach;
use crate::plan::settings::{BindMount, LabSettings};
use crate::spec::catalog::Variant;
use crate::spec::naming::{labels, CA_MOUNT, CONTAINER_PORT, PACKAGES_MOUNT, TOKEN_MOUNT, WORK_MOUNT};

/// The hardening every container dimtensor-up makes gets, written once for the Engine API body,
/// Podman's body and compose files: Jupyter needs no capability and never escalates. (The images'
/// own tini is PID 1 and reaps kernels' children: no engine-provided init, which Podman would
/// need catatonit for.)
pub mod hardening {
    pub const CAP_DROP: &str = "ALL";
    pub const NO_NEW_PRIVILEGES: bool = true;
    /// The Docker API's and compose's spelling of NO_NEW_PRIVILEGES.
    pub fn security_opt() -> Vec<&'static str> {
        if NO_NEW_PRIVILEGES {
            vec!["no-new-privileges:true"]
        } else {
            vec![]
        }
    }
}

/// The variable the image's server config reads for `--idle-timeout` (seconds).
pub const IDLE_TIMEOUT_VAR: &str = "DIMTENSOR_UP_IDLE_TIMEOUT";

fn owned<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// /dev/shm when `--shm-size` is not given: a quarter of the engine's memory, at least 256 MiB
/// (a small VM), at most 8 GiB. PyTorch's DataLoader workers pass batches through it; Docker's
/// 64 MB default makes them die ("bus error").
pub fn default_shm_size(engine_memory: Option<u64>) -> u64 {
    use crate::base::units::{GIB, MIB};
    engine_memory.map(|m| m / 4).unwrap_or(GIB).clamp(256 * MIB, 8 * GIB)
}

/// What a container is for: the JupyterLab server, or a command `run` attaches to.
#[derive(Debug, Clone, Copy)]
pub enum Role<'a> {
    /// The token reaches Jupyter as a read-only file: not an image layer, not an environment
    /// variable `docker inspect` shows.
    Lab {
        token_file: &'a Path,
    },
    Command {
        cmd: &'a [String],
        tty: bool,
    },
}

/// A settled launch: what `jupyter` and `run` ask the engine for and `compose` writes down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchPlan {
    pub name: String,
    pub image_ref: String,
    pub variant: Variant,
    pub listen: IpAddr,
    pub host_port: u16,
    pub mounts: Vec<BindMount>,
    pub user: UserMapping,
    pub gpu: GpuAttach,
    pub gpu_form: GpuForm,
    pub labels: BTreeMap<String, String>,
    /// A platform other than the engine's (`--platform`), for compose files; None: the engine's.
    pub platform: Option<&'static str>,
    /// The named volume at PACKAGES_MOUNT that keeps `pip install`s of this folder's lab.
    pub packages_volume: Option<String>,
    /// The host's CA bundle, mounted read-only at CA_MOUNT (lab and command alike).
    pub ca_bundle: Option<PathBuf>,
    /// The user's `-e KEY=VALUE`, set last (they win over the launcher's defaults).
    pub user_env: Vec<(String, String)>,
    /// /dev/shm in bytes (None: the engine's default, 64 MB on Docker).
    pub shm_size: Option<u64>,
    /// The memory limit in bytes (swap included: no swap beyond it).
    pub memory: Option<u64>,
    /// Seconds without activity after which the lab stops itself (the image's server config).
    pub idle_timeout: Option<u64>,
}

impl LaunchPlan {
    pub fn new(
        settings: &LabSettings,
        image_ref: String,
        host_port: u16,
        user: UserMapping,
        gpu: GpuAttach,
        gpu_form: GpuForm,
    ) -> LaunchPlan {
        let mut labels = BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::WORKDIR.to_string(), settings.workdir.display().to_string()),
            (labels::VARIANT.to_string(), settings.variant.name().to_string()),
            (labels::PORT.to_string(), host_port.to_string()),
            (labels::LISTEN.to_string(), settings.listen.to_string()),
            (labels::GPUS.to_string(), gpu.describe()),
        ]);
        if !settings.project.is_empty() {
            labels.insert(labels::PROJECT_FILES.to_string(), settings.project.files_label());
        }
        if let Some(seconds) = settings.idle_timeout {
            labels.insert(labels::IDLE_TIMEOUT.to_string(), seconds.to_string());
        }
        LaunchPlan {
            name: settings.container_name(),
            image_ref,
            variant: settings.variant,
            listen: settings.listen,
            host_port,
            mounts: settings.mounts.clone(),
            user,
            gpu,
            gpu_form,
            labels,
            platform: None,
            packages_volume: settings
                .user_packages
                .then(|| crate::spec::naming::packages_volume_for(&settings.workdir)),
            ca_bundle: settings.ca_bundle.clone(),
            user_env: settings.env.clone(),
            shm_size: settings.shm_size,
            memory: settings.memory,
            idle_timeout: settings.idle_timeout,
        }
    }

    /// The named volumes of the role: the lab's packages volume (a command runs without it).
    fn role_volumes(&self, role: Role) -> Vec<(&str, &'static str)> {
        match (role, &self.packages_volume) {
            (Role::Lab { .. }, Some(volume)) => vec![(volume.as_str(), PACKAGES_MOUNT)],
            _ => vec![],
        }
    }

    /// The bind mounts the role needs: the folders, the CA bundle, and the token file for the lab.
    fn role_mounts(&self, role: Role) -> Vec<BindMount> {
        let mut mounts = self.all_mounts();
        if let Role::Lab { token_file } = role {
            mounts.push(BindMount {
                source: token_file.to_path_buf(),
                target: TOKEN_MOUNT.into(),
                read_only: true,
            });
        }
        mounts
    }

    fn role_labels(&self, role: Role) -> BTreeMap<String, String> {
        match role {
            Role::Lab { token_file } => {
                let mut labels = self.labels.clone();
                labels.insert(labels::TOKEN_FILE.into(), token_file.display().to_string());
                labels
            }
            // A `run` container is not a server: `ps` and `stop` must not list it.
            Role::Command { .. } => BTreeMap::new(),
        }
    }

    fn role_env(&self, role: Role) -> Vec<(String, String)> {
        match role {
            Role::Lab { .. } => self.env(),
            Role::Command { .. } => owned(self.gpu.env().into_iter().chain(self.ca_env())),
        }
    }

    /// The Engine API body for `POST /containers/create`.
    pub fn create_body(&self, role: Role) -> bollard::models::ContainerCreateBody {
        use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
        let mounts = self
            .role_mounts(role)
            .into_iter()
            .map(|m| Mount {
                target: Some(m.target),
                source: Some(m.source.display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(m.read_only),
                ..Default::default()
            })
            // A new volume starts as a copy of the image's folder (mode 1777): any UID writes.
            .chain(self.role_volumes(role).into_iter().map(|(name, target)| Mount {
                target: Some(target.into()),
                source: Some(name.into()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }))
            .collect();
        let port_key = format!("{CONTAINER_PORT}/tcp");
        let (cmd, tty, lab) = match role {
            Role::Lab { .. } => (None, false, true),
            Role::Command { cmd, tty } => ((!cmd.is_empty()).then(|| cmd.to_vec()), tty, false),
        };
        let port_bindings = lab.then(|| {
            [(
                port_key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some(self.listen.to_string()),
                    host_port: Some(self.host_port.to_string()),
                }]),
            )]
            .into_iter()
            .collect()
        });
        ContainerCreateBody {
            image: Some(self.image_ref.clone()),
            user: self.user.user.map(|u| u.render()),
            cmd,
            env: Some(self.role_env(role).into_iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(self.role_labels(role).into_iter().collect()),
            exposed_ports: lab.then(|| vec![port_key]),
            working_dir: Some(WORK_MOUNT.into()),
            tty: (!lab).then_some(tty),
            open_stdin: (!lab).then_some(true),
            stdin_once: (!lab).then_some(true),
            attach_stdin: (!lab).then_some(true),
            attach_stdout: (!lab).then_some(true),
            attach_stderr: (!lab).then_some(true),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                port_bindings,
                device_requests: self.gpu.device_request(self.gpu_form).map(|d| vec![d]),
                userns_mode: self.user.keep_id.then(|| "keep-id".to_string()),
                cap_drop: Some(vec![hardening::CAP_DROP.into()]),
                security_opt: Some(hardening::security_opt().into_iter().map(String::from).collect()),
                shm_size: self.shm_size.map(|b| b as i64),
                memory: self.memory.map(|b| b as i64),
                memory_swap: self.memory.map(|b| b as i64),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Podman's body for `POST /libpod/containers/create` (its "specgen"): the same container,
    /// with GPUs as CDI devices, which Podman's Docker API would drop.
    pub fn libpod_body(&self, role: Role) -> serde_json::Value {
        use serde_json::json;
        let mounts: Vec<serde_json::Value> = self
            .role_mounts(role)
            .into_iter()
            .map(|m| {
                json!({
                    "destination": m.target, "source": m.source.display().to_string(), "type": "bind",
                    "options": ["rbind", if m.read_only { "ro" } else { "rw" }],
                })
            })
            .collect();
        let env: serde_json::Map<String, serde_json::Value> =
            self.role_env(role).into_iter().map(|(k, v)| (k, json!(v))).collect();
        let volumes: Vec<serde_json::Value> = self
            .role_volumes(role)
            .into_iter()
            .map(|(name, target)| json!({ "Name": name, "Dest": target, "Options": [] }))
            .collect();
        let mut body = json!({
            "image": self.image_ref,
            "labels": self.role_labels(role),
            "env": env,
            "work_dir": WORK_MOUNT,
            "mounts": mounts,
            "volumes": volumes,
            "cap_drop": [hardening::CAP_DROP],
            "no_new_privileges": hardening::NO_NEW_PRIVILEGES,
        });
        if let Some(user) = self.user.user {
            body["user"] = json!(user.render());
        }
        if self.user.keep_id {
            body["userns"] = json!({ "nsmode": "keep-id" });
        }
        if let Some(bytes) = self.shm_size {
            body["shm_size"] = json!(bytes);
        }
        if let Some(bytes) = self.memory {
            body["resource_limits"] = json!({ "memory": { "limit": bytes, "swap": bytes } });
        }
        let devices: Vec<serde_json::Value> =
            self.gpu.cdi_names().into_iter().map(|path| json!({ "path": path })).collect();
        if !devices.is_empty() {
            body["devices"] = json!(devices);
        }
        match role {
            Role::Lab { .. } => {
                body["name"] = json!(self.name);
                body["portmappings"] = json!([{
                    "host_ip": self.listen.to_string(), "host_port": self.host_port,
                    "container_port": CONTAINER_PORT, "protocol": "tcp",
                }]);
            }
            Role::Command { cmd, tty } => {
                if !cmd.is_empty() {
                    body["command"] = json!(cmd);
                }
                body["terminal"] = json!(tty);
                body["stdin"] = json!(true);
            }
        }
        body
    }

    /// The settings' bind mounts and the CA bundle's (what compose writes down too).
    pub fn all_mounts(&self) -> Vec<BindMount> {
        let mut mounts = self.mounts.clone();
        if let Some(ca) = &self.ca_bundle {
            mounts.push(BindMount { source: ca.clone(), target: CA_MOUNT.into(), read_only: true });
        }
        mounts
    }

    /// The lab container's environment: where the token is, no GPU when none was decided, and
    /// the host's CA bundle for pip and Python's TLS where it is mounted.
    /// JAX's preallocation is off where GPUs are attached (torch beside jax: JAX would take 75 %
    /// of GPU memory at its first use), the idle timeout for the image's server config, then the
    /// user's `-e`, which win.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = owned(
            [("JUPYTER_TOKEN_FILE", TOKEN_MOUNT)].into_iter().chain(self.gpu.env()).chain(self.ca_env()),
        );
        if self.gpu != GpuAttach::None {
            env.push(("XLA_PYTHON_CLIENT_PREALLOCATE".into(), "false".into()));
        }
        if let Some(seconds) = self.idle_timeout {
            env.push((IDLE_TIMEOUT_VAR.into(), seconds.to_string()));
        }
        for (key, value) in &self.user_env {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        env
    }

    fn ca_env(&self) -> Vec<(&'static str, &'static str)> {
        match self.ca_bundle {
            Some(_) => ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"].map(|v| (v, CA_MOUNT)).to_vec(),
            None => vec![],
        }
    }

    pub fn url(&self, token: &str) -> String {
        crate::spec::ports::lab_url(self.listen, self.host_port, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::sys::UserSpec;
    use crate::spec::cli::LabArgs;
    use crate::spec::config::Config;
    use std::path::PathBuf;

    fn plan_with(user: UserMapping, gpu: GpuAttach, form: GpuForm) -> (LaunchPlan, PathBuf) {
        let (_dir, base) = crate::base::state::test_folder();
        let mut s = LabSettings::resolve(
            &LabArgs { variant: Some(Variant::Base), ..Default::default() },
            &Config::default(),
            &base,
        )
        .unwrap();
        // Whatever this machine's PIP_CERT says.
        s.ca_bundle = None;
        (LaunchPlan::new(&s, "img:jupyter-base".into(), 8890, user, gpu, form), base)
    }

    #[test]
    fn shm_memory_idle_and_the_users_env_reach_both_bodies() {
        let (mut plan, _) = plan_with(CALLER, GpuAttach::All, GpuForm::DeviceRequest);
        plan.shm_size = Some(2 << 30);
        plan.memory = Some(8 << 30);
        plan.idle_timeout = Some(1800);
        plan.user_env =
            vec![("XLA_PYTHON_CLIENT_PREALLOCATE".into(), "true".into()), ("A".into(), "b".into())];
        let json = serde_json::to_value(plan.create_body(token())).unwrap();
        assert_eq!(
            (
                json["HostConfig"]["ShmSize"].as_i64(),
                json["HostConfig"]["Memory"].as_i64(),
                json["HostConfig"]["MemorySwap"].as_i64()
            ),
            (Some(2 << 30), Some(8 << 30), Some(8 << 30))
        );
        // The user's -e wins over the launcher's default, once.
        assert_eq!(
            json["Env"],
            serde_json::json!([
                "JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token",
                "DIMTENSOR_UP_IDLE_TIMEOUT=1800",
                "XLA_PYTHON_CLIENT_PREALLOCATE=true",
                "A=b"
            ])
        );
        let podman = plan.libpod_body(token());
        assert_eq!(podman["shm_size"], 2u64 << 30);
        assert_eq!(
            podman["resource_limits"],
            serde_json::json!({"memory": {"limit": 8u64 << 30, "swap": 8u64 << 30}})
        );
        assert_eq!(podman["env"]["DIMTENSOR_UP_IDLE_TIMEOUT"], "1800");
        // /dev/shm by default: a quarter of the engine's memory, 256 MiB to 8 GiB.
        assert_eq!(default_shm_size(Some(16 << 30)), 4 << 30);
        assert_eq!(default_shm_size(Some(512 << 20)), 256 << 20);
        assert_eq!(default_shm_size(Some(256 << 30)), 8 << 30);
        assert_eq!(default_shm_size(None), 1 << 30);
    }

    #[test]
    fn the_packages_volume_and_the_ca_bundle_reach_both_bodies() {
        let (mut plan, base) = plan_with(CALLER, GpuAttach::None, GpuForm::DeviceRequest);
        plan.ca_bundle = Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
        let volume = crate::spec::naming::packages_volume_for(&base);
        let json = serde_json::to_value(plan.create_body(token())).unwrap();
        let mounts = json["HostConfig"]["Mounts"].as_array().unwrap();
        assert!(mounts
            .contains(&serde_json::json!({"Target": PACKAGES_MOUNT, "Source": volume, "Type": "volume"})));
        assert!(mounts.contains(&serde_json::json!({"Target": CA_MOUNT, "Source": "/etc/ssl/certs/ca-certificates.crt", "Type": "bind", "ReadOnly": true})));
        assert!(json["Env"].as_array().unwrap().contains(&serde_json::json!(format!("PIP_CERT={CA_MOUNT}"))));
        let podman = plan.libpod_body(token());
        assert_eq!(
            podman["volumes"],
            serde_json::json!([{"Name": volume, "Dest": PACKAGES_MOUNT, "Options": []}])
        );
        assert_eq!(podman["env"]["SSL_CERT_FILE"], CA_MOUNT);
        // A command container (`run`) keeps no packages: the lab's volume is the lab's.
        let json = serde_json::to_value(plan.create_body(Role::Command { cmd: &[], tty: false })).unwrap();
        assert!(!json["HostConfig"]["Mounts"].to_string().contains(PACKAGES_MOUNT));
    }

    const CALLER: UserMapping = UserMapping { user: Some(UserSpec { uid: 1234, gid: 1234 }), keep_id: false };
    fn token() -> Role<'static> {
        Role::Lab { token_file: Path::new("/state/tokens/x") }
    }

    #[test]
    fn create_body_is_loopback_nonroot_and_token_free() {
        let (plan, _) = plan_with(CALLER, GpuAttach::All, GpuForm::DeviceRequest);
        let json = serde_json::to_value(plan.create_body(token())).unwrap();
        assert_eq!(json["User"], "1234:1234");
        assert_eq!(
            json["HostConfig"]["PortBindings"]["8888/tcp"][0],
            serde_json::json!({"HostIp": "127.0.0.1", "HostPort": "8890"})
        );
        assert_eq!(json["HostConfig"]["DeviceRequests"][0]["Count"], -1);
        assert_eq!(json["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
        assert_eq!(json["HostConfig"]["SecurityOpt"], serde_json::json!(["no-new-privileges:true"]));
        // The image's tini is PID 1; an engine init on top would make it warn and nest.
        assert!(json["HostConfig"]["Init"].is_null());
        assert!(json["HostConfig"]["UsernsMode"].is_null());
        // GPUs attached: JAX's preallocation off, so torch beside it gets memory.
        assert_eq!(
            json["Env"],
            serde_json::json!([
                "JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token",
                "XLA_PYTHON_CLIENT_PREALLOCATE=false"
            ])
        );
        assert!(json["Cmd"].is_null() && json["Tty"].is_null() && json["OpenStdin"].is_null());
        let (cpu_only, base) = plan_with(CALLER, GpuAttach::None, GpuForm::DeviceRequest);
        let json = serde_json::to_value(cpu_only.create_body(token())).unwrap();
        assert_eq!(
            json["Env"],
            serde_json::json!([
                "JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token",
                "NVIDIA_VISIBLE_DEVICES=void"
            ])
        );
        assert!(json["HostConfig"]["DeviceRequests"].is_null());
        assert_eq!(json["HostConfig"]["Mounts"][1]["Target"], TOKEN_MOUNT);
        assert_eq!(json["HostConfig"]["Mounts"][1]["ReadOnly"], true);
        assert_eq!(json["Labels"][labels::WORKDIR], base.display().to_string());
        assert_eq!(json["Labels"][labels::TOKEN_FILE], "/state/tokens/x");
        assert_eq!(plan.url("abc"), "http://127.0.0.1:8890/lab?token=abc");
        assert_eq!(
            crate::spec::ports::lab_url("0.0.0.0".parse().unwrap(), 9000, "t"),
            "http://127.0.0.1:9000/lab?token=t"
        );
    }

    #[test]
    fn a_command_gets_the_same_container_without_server_parts() {
        let (plan, base) = plan_with(CALLER, GpuAttach::None, GpuForm::DeviceRequest);
        let cmd = vec!["python".to_string(), "-V".to_string()];
        let json = serde_json::to_value(plan.create_body(Role::Command { cmd: &cmd, tty: true })).unwrap();
        assert_eq!(json["Cmd"], serde_json::json!(["python", "-V"]));
        assert_eq!(
            (json["Tty"].clone(), json["OpenStdin"].clone()),
            (serde_json::json!(true), serde_json::json!(true))
        );
        assert_eq!(json["User"], "1234:1234");
        assert_eq!(json["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
        assert_eq!(json["HostConfig"]["Mounts"].as_array().unwrap().len(), 1, "the folder, no token");
        assert_eq!(json["HostConfig"]["Mounts"][0]["Source"], base.display().to_string());
        assert!(json["HostConfig"]["PortBindings"].is_null() && json["ExposedPorts"].is_null());
        assert_eq!(json["Labels"], serde_json::json!({}), "not a server: ps must not list it");
        assert_eq!(json["Env"], serde_json::json!(["NVIDIA_VISIBLE_DEVICES=void"]));
    }

    #[test]
    fn podman_body_carries_keep_id_and_cdi_devices() {
        let keep_id = UserMapping { keep_id: true, ..CALLER };
        let (plan, base) = plan_with(keep_id, GpuAttach::Devices(vec!["0".into()]), GpuForm::Cdi);
        let json = plan.libpod_body(token());
        assert_eq!(json["name"], plan.name);
        assert_eq!(json["user"], "1234:1234");
        assert_eq!(json["userns"], serde_json::json!({"nsmode": "keep-id"}));
        assert_eq!(json["devices"], serde_json::json!([{"path": "nvidia.com/gpu=0"}]));
        assert_eq!(
            json["portmappings"],
            serde_json::json!([{"host_ip": "127.0.0.1", "host_port": 8890, "container_port": 8888, "protocol": "tcp"}])
        );
        assert_eq!(json["cap_drop"], serde_json::json!(["ALL"]));
        assert_eq!(
            (json["no_new_privileges"].clone(), json["init"].clone()),
            (serde_json::json!(true), serde_json::Value::Null)
        );
        assert_eq!(json["mounts"][0]["source"], base.display().to_string());
        assert_eq!(
            json["mounts"][1],
            serde_json::json!({"destination": TOKEN_MOUNT, "source": "/state/tokens/x", "type": "bind", "options": ["rbind", "ro"]})
        );
        assert_eq!(
            json["env"],
            serde_json::json!({"JUPYTER_TOKEN_FILE": TOKEN_MOUNT, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
        );
        assert_eq!(json["labels"][labels::GPUS], "device=0");
        // The same plan through Docker's API: keep-id as UsernsMode, GPUs in the CDI driver's form.
        let docker = serde_json::to_value(plan.create_body(token())).unwrap();
        assert_eq!(docker["HostConfig"]["UsernsMode"], "keep-id");
        assert_eq!(docker["HostConfig"]["DeviceRequests"][0]["Driver"], "cdi");
        let cmd = vec!["true".to_string()];
        let command = plan.libpod_body(Role::Command { cmd: &cmd, tty: false });
        assert!(command["name"].is_null() && command["portmappings"].is_null());
        assert_eq!(
            (command["command"].clone(), command["stdin"].clone()),
            (serde_json::json!(["true"]), serde_json::json!(true))
        );
    }
}
