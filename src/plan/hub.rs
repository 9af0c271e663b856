//! `dimtensor-up hub` as pure values: the profiles a hub offers (one per lab and GPU request,
//! from the variant table and the GPU rules), and the files that describe it: a compose project
//! with JupyterHub + DockerSpawner for one machine, or Zero to JupyterHub values for Kubernetes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::model::{GpuForm, UserMapping};
use crate::gpu::GpuAttach;
use crate::plan::hardening;
use crate::spec::catalog::Variant;
use crate::spec::naming::labels;

/// The account that exists from the start; its password is generated into ADMIN_PASSWORD_FILE.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";
pub const COMPOSE_FILE: &str = "compose.yaml";
pub const CONFIG_FILE: &str = "jupyterhub_config.py";
pub const K8S_VALUES_FILE: &str = "config.yaml";
/// JupyterHub's port inside its container (the proxy's public port).
pub const HUB_PORT: u16 = 8000;
pub const FIRST_PORT: u16 = 8000;
/// Where each user's persistent folder is mounted in their lab.
pub const HOME_MOUNT: &str = "/home/dimtensor/work";

/// One choice on the spawn page: a lab image and the GPUs its container gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub slug: String,
    pub display: String,
    pub lab: Variant,
    pub image: String,
    pub gpus: GpuAttach,
    /// `--one-gpu-each`: the machine's GPUs, of which each user's lab gets one (the next free
    /// one, kept while the user's lab runs again); empty: `gpus` for every lab.
    pub gpu_pool: Vec<String>,
}

/// The profiles for `labs` (CPU each), plus one per lab and GPU request in `gpu_requests`
/// (already decided against the machine by the GPU rules: only those that can start are here).
pub fn profiles(
    labs: &[Variant],
    gpu_requests: &[(Variant, GpuAttach)],
    image_of: &dyn Fn(Variant) -> String,
) -> Vec<Profile> {
    let mut list = Vec::new();
    for &lab in labs {
        list.push(Profile {
            slug: lab.name().to_string(),
            display: format!("{} (CPU)", lab.name()),
            lab,
            image: image_of(lab),
            gpus: GpuAttach::None,
            gpu_pool: vec![],
        });
        for (_, attach) in gpu_requests.iter().filter(|(l, a)| *l == lab && *a != GpuAttach::None) {
            let (slug, what) = match attach {
                GpuAttach::All => (format!("{}-gpu", lab.name()), "all GPUs".to_string()),
                GpuAttach::Count(n) => (format!("{}-gpu{n}x", lab.name()), format!("{n} GPUs")),
                GpuAttach::Devices(ids) => {
                    (format!("{}-gpu-{}", lab.name(), ids.join("-")), format!("GPU {}", ids.join(", ")))
                }
                GpuAttach::None => unreachable!("filtered"),
            };
            list.push(Profile {
                slug,
                display: format!("{} with {what}", lab.name()),
                lab,
                image: image_of(lab),
                gpus: attach.clone(),
                gpu_pool: vec![],
            });
        }
    }
    list
}

/// Everything that decides a hub on one machine.
#[derive(Debug, Clone)]
pub struct HubPlan {
    /// The compose project, its network, container and volume prefix: one per folder.
    pub project: String,
    pub dir: PathBuf,
    pub hub_image: String,
    pub listen: IpAddr,
    pub port: u16,
    pub profiles: Vec<Profile>,
    /// The engine's API socket on its host, mounted for DockerSpawner.
    pub engine_socket: String,
    /// Who the hub runs as (the caller, as the labs of `jupyter` do) and the socket's group.
    pub user: UserMapping,
    pub socket_group: Option<u32>,
    pub gpu_form: GpuForm,
    /// Each lab's /dev/shm in bytes (`plan::default_shm_size` of the engine's memory).
    pub shm_size: u64,
}

/// The project name for a hub folder: readable and unique per folder.
pub fn project_for(dir: &Path) -> String {
    // The lab name's slug and hash; the default folder's name is not said twice.
    let lab_name = crate::spec::naming::container_name_for(dir);
    let rest = lab_name.trim_start_matches("dimtensor-up-");
    format!("dimtensor-hub-{}", rest.trim_start_matches("dimtensor-hub-"))
}

#[derive(Serialize)]
struct ComposeFile {
    name: String,
    services: BTreeMap<&'static str, HubService>,
    networks: BTreeMap<&'static str, NamedNetwork>,
    volumes: BTreeMap<&'static str, BTreeMap<(), ()>>,
    secrets: BTreeMap<&'static str, FileSecret>,
}

#[derive(Serialize)]
struct HubService {
    image: String,
    container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_add: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userns_mode: Option<&'static str>,
    ports: Vec<String>,
    volumes: Vec<BTreeMap<&'static str, serde_norway::Value>>,
    secrets: Vec<&'static str>,
    networks: Vec<&'static str>,
    #[serde(flatten)]
    hardening: crate::plan::compose::ServiceHardening,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct NamedNetwork {
    name: String,
}

#[derive(Serialize)]
struct FileSecret {
    file: String,
}

impl HubPlan {
    /// Labels that let `ps`, `logs` and `stop` find the hub by its folder, as they find labs.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::WORKDIR.to_string(), self.dir.display().to_string()),
            (labels::VARIANT.to_string(), "hub".to_string()),
            (labels::PORT.to_string(), self.port.to_string()),
            (labels::LISTEN.to_string(), self.listen.to_string()),
            (labels::GPUS.to_string(), "-".to_string()),
        ])
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}/hub/", crate::spec::ports::connect_host(self.listen), self.port)
    }

    /// compose.yaml: the hub, its state volume, the engine socket, the config and the admin's
    /// password as a secret file (never an environment variable `docker inspect` shows).
    pub fn compose_yaml(&self, header: &str) -> String {
        let bind = |source: &str, target: &str, read_only: bool| {
            let mut m = BTreeMap::from([
                ("type", serde_norway::Value::from("bind")),
                ("source", serde_norway::Value::from(crate::plan::compose::escape_dollars(source))),
                ("target", serde_norway::Value::from(target)),
                (
                    "bind",
                    serde_norway::to_value(BTreeMap::from([("create_host_path", false)])).expect("yaml"),
                ),
            ]);
            if read_only {
                m.insert("read_only", serde_norway::Value::from(true));
            }
            m
        };
        let host = match self.listen {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        let service = HubService {
            image: self.hub_image.clone(),
            container_name: self.project.clone(),
            user: self.user.user.map(|u| u.render()),
            group_add: self.socket_group.map(|g| g.to_string()).into_iter().collect(),
            userns_mode: self.user.keep_id.then_some("keep-id"),
            ports: vec![format!("{host}:{}:{HUB_PORT}", self.port)],
            volumes: vec![
                bind(&self.engine_socket, "/var/run/docker.sock", false),
                bind(&format!("./{CONFIG_FILE}"), "/etc/jupyterhub/jupyterhub_config.py", true),
                BTreeMap::from([
                    ("type", serde_norway::Value::from("volume")),
                    ("source", serde_norway::Value::from("hub-data")),
                    ("target", serde_norway::Value::from("/srv/jupyterhub")),
                ]),
            ],
            secrets: vec!["admin_password"],
            networks: vec!["hub"],
            hardening: crate::plan::compose::ServiceHardening::new(),
            labels: self
                .labels()
                .into_iter()
                .map(|(k, v)| (k, crate::plan::compose::escape_dollars(&v)))
                .collect(),
        };
        let file = ComposeFile {
            name: self.project.clone(),
            services: BTreeMap::from([("hub", service)]),
            networks: BTreeMap::from([("hub", NamedNetwork { name: self.project.clone() })]),
            volumes: BTreeMap::from([("hub-data", BTreeMap::new())]),
            secrets: BTreeMap::from([(
                "admin_password",
                FileSecret { file: format!("./{ADMIN_PASSWORD_FILE}") },
            )]),
        };
        let yaml = serde_norway::to_string(&file).expect("the hub compose model serialises");
        crate::plan::generated::with_checksum(&format!("{}{yaml}", comment_block(header)))
    }

    /// jupyterhub_config.py: NativeAuthenticator with the admin bootstrapped, DockerSpawner with
    /// a profile form, per-user volumes and the labs' hardening.
    pub fn jupyterhub_config(&self) -> String {
        let profiles: Vec<serde_json::Value> = self
            .profiles
            .iter()
            .map(|p| {
                // GPU labs as `jupyter` starts them: JAX does not take 75 % of GPU memory up front.
                let environment = match p.gpus {
                    GpuAttach::None => serde_json::json!({}),
                    _ => serde_json::json!({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}),
                };
                // One GPU each: the request for each GPU of the pool, in the engine's form.
                let pool: serde_json::Map<String, serde_json::Value> = p
                    .gpu_pool
                    .iter()
                    .map(|id| {
                        let request = GpuAttach::Devices(vec![id.clone()]).device_request(self.gpu_form);
                        (id.clone(), serde_json::json!(request))
                    })
                    .collect();
                serde_json::json!({
                    "slug": p.slug, "display": p.display, "image": p.image,
                    "device_request": p.gpus.device_request(self.gpu_form),
                    "gpu_pool": pool,
                    "environment": environment, "shm_size": self.shm_size,
                })
            })
            .collect();
        let profiles_json = serde_json::to_string_pretty(&profiles).expect("json");
        let labels_json =
            serde_json::to_string(&BTreeMap::from([(labels::HUB, self.dir.display().to_string())]))
                .expect("json");
        let text = HUB_CONFIG_TEMPLATE
            .replace("@VERSION@", env!("CARGO_PKG_VERSION"))
            .replace("@PROFILES@", &profiles_json)
            .replace("@ADMIN@", ADMIN)
            .replace("@NETWORK@", &self.project)
            .replace("@PREFIX@", &self.project)
            .replace("@HOME_MOUNT@", HOME_MOUNT)
            .replace("@LABELS@", &labels_json)
            .replace("@USER_LABEL@", labels::HUB_USER)
            .replace("@GPU_LABEL@", labels::HUB_GPU)
            .replace("@CAP_DROP@", hardening::CAP_DROP)
            .replace("@SECURITY_OPT@", &serde_json::to_string(&hardening::security_opt()).expect("json"));
        crate::plan::generated::with_checksum(&text)
    }
}

/// jupyterhub_config.py with `@NAME@` placeholders, each inside a string literal so the template
/// itself is Python that tools can read (tests/run.sh compiles it).
const HUB_CONFIG_TEMPLATE: &str = include_str!("hub_config.py");

/// A `# ` comment block (empty lines as `#`).
fn comment_block(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { "#\n".to_string() } else { format!("# {l}\n") }).collect()
}

/// Zero to JupyterHub values (`helm upgrade --install … --values config.yaml`): the same profiles
/// as pinned images, GPUs as `nvidia.com/gpu` limits, NativeAuthenticator with an admin, the
/// labs' security defaults, the proxy as a ClusterIP service (expose it through an ingress with TLS).
pub fn z2jh_values(profiles: &[Profile], gpus_per_profile: u32, header: &str) -> String {
    let list: Vec<serde_json::Value> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (name, tag) = p.image.rsplit_once(':').expect("a pinned image reference");
            let mut override_ = serde_json::json!({"image": format!("{name}:{tag}")});
            if p.gpus != GpuAttach::None {
                override_["extra_resource_limits"] =
                    serde_json::json!({"nvidia.com/gpu": gpus_per_profile.to_string()});
                override_["environment"] = serde_json::json!({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"});
            } else {
                override_["environment"] = serde_json::json!({"NVIDIA_VISIBLE_DEVICES": "void"});
            }
            let mut entry = serde_json::json!({
                "display_name": p.display, "slug": p.slug, "kubespawner_override": override_,
            });
            if i == 0 {
                entry["default"] = serde_json::json!(true);
            }
            entry
        })
        .collect();
    let first = profiles.first().map(|p| p.image.clone()).unwrap_or_default();
    let (first_name, first_tag) = first.rsplit_once(':').unwrap_or((&first, "latest"));
    let values = serde_json::json!({
        "hub": {
            "config": {
                "JupyterHub": {"authenticator_class": "nativeauthenticator.NativeAuthenticator"},
                "Authenticator": {"admin_users": [ADMIN], "allow_all": true},
                "NativeAuthenticator": {"open_signup": false, "minimum_password_length": 8},
            },
        },
        "proxy": {"service": {"type": "ClusterIP"}},
        "singleuser": {
            "image": {"name": first_name, "tag": first_tag},
            "cmd": "jupyterhub-singleuser",
            "defaultUrl": "/lab",
            "uid": 1000,
            "fsGid": 1000,
            "allowPrivilegeEscalation": false,
            // /dev/shm for DataLoader workers: the nodes' memory is not known here, so the cap of
            // `plan::default_shm_size` (a memory-backed emptyDir counts against the pod's limit).
            "storage": {
                "type": "dynamic", "capacity": "10Gi", "homeMountPath": HOME_MOUNT,
                "extraVolumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}],
                "extraVolumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
            },
            "profileList": list,
        },
        "cull": {"enabled": true, "timeout": 3600},
    });
    let yaml = serde_norway::to_string(&values).expect("values serialise");
    crate::plan::generated::with_checksum(&format!("{}{yaml}", comment_block(header)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::sys::UserSpec;

    fn image(v: Variant) -> String {
        format!("r:{}-5.2.0", v.lab_image().tag())
    }

    fn plan(profiles: Vec<Profile>) -> HubPlan {
        HubPlan {
            project: "dimtensor-hub-team-0a1b2c3d".into(),
            dir: PathBuf::from("/srv/team"),
            hub_image: "r:hub".into(),
            listen: "127.0.0.1".parse().unwrap(),
            port: 8000,
            profiles,
            engine_socket: "/var/run/docker.sock".into(),
            user: UserMapping { user: Some(UserSpec { uid: 1001, gid: 1002 }), keep_id: false },
            socket_group: Some(998),
            gpu_form: GpuForm::DeviceRequest,
            shm_size: 2 << 30,
        }
    }

    /// A snapshot's text without what changes with each release: the version, the checksum.
    fn without_version(text: &str) -> String {
        text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
            .lines()
            .filter(|l| !l.starts_with(crate::plan::generated::CHECKSUM_PREFIX))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn a_profile_per_lab_and_gpu_request() {
        let list = profiles(
            &[Variant::Base, Variant::Ml],
            &[(Variant::Ml, GpuAttach::All), (Variant::Ml, GpuAttach::Devices(vec!["1".into()]))],
            &image,
        );
        let slugs: Vec<&str> = list.iter().map(|p| p.slug.as_str()).collect();
        assert_eq!(slugs, ["base", "ml", "ml-gpu", "ml-gpu-1"]);
        assert_eq!(list[0].gpus, GpuAttach::None);
        assert_eq!(list[3].display, "ml with GPU 1");
        assert_eq!(list[2].image, "r:jupyter-ml-5.2.0");
    }

    #[test]
    fn the_compose_project_is_loopback_non_root_and_secret_free() {
        let p = plan(profiles(&[Variant::Base], &[], &image));
        let yaml = p.compose_yaml("header");
        assert!(yaml.contains("- 127.0.0.1:8000:8000"), "{yaml}");
        assert!(yaml.contains("user: 1001:1002") && yaml.contains("- '998'"), "{yaml}");
        assert!(
            yaml.contains("target: /var/run/docker.sock") && yaml.contains("file: ./admin-password"),
            "{yaml}"
        );
        assert!(yaml.contains("- ALL") && yaml.contains("no-new-privileges:true"), "{yaml}");
        assert!(!yaml.to_lowercase().contains("password="), "no password in the environment: {yaml}");
        assert!(yaml.contains("org.dimtensor-up.lab-variant: hub"), "{yaml}");
        assert!(crate::plan::generated::is_unedited(&yaml));
        insta::assert_snapshot!("hub_compose_yaml", without_version(&yaml));
    }

    #[test]
    fn the_config_carries_profiles_gpus_and_hardening() {
        let p = plan(profiles(&[Variant::Base], &[(Variant::Base, GpuAttach::All)], &image));
        let config = p.jupyterhub_config();
        assert!(config.contains("\"slug\": \"base-gpu\""), "{config}");
        assert!(config.contains("\"Count\": -1") && config.contains("\"gpu\""), "{config}");
        assert!(config.contains("c.DockerSpawner.network_name = \"dimtensor-hub-team-0a1b2c3d\""));
        assert!(config.contains("\"dimtensor-hub-team-0a1b2c3d-home-{username}\": \"/home/dimtensor/work\""));
        assert!(
            config.contains("\"cap_drop\": [\"ALL\"], \"security_opt\": json.loads(r\"\"\"[\"no-new-privileges:true\"]\"\"\"),"),
            "{config}"
        );
        assert!(crate::plan::generated::is_unedited(&config));
        insta::assert_snapshot!("jupyterhub_config_py", without_version(&config));
    }

    #[test]
    fn one_gpu_each_sends_a_request_per_gpu_and_the_config_is_python() {
        let mut list = profiles(&[Variant::Base], &[(Variant::Base, GpuAttach::All)], &image);
        list[1].gpu_pool = vec!["0".into(), "1".into()];
        let config = plan(list).jupyterhub_config();
        let profiles_json =
            config.split("PROFILES = json.loads(r\"\"\"").nth(1).unwrap().split("\"\"\")").next().unwrap();
        let parsed: serde_json::Value = serde_json::from_str(profiles_json).unwrap();
        assert_eq!(parsed[1]["gpu_pool"]["1"]["DeviceIDs"], serde_json::json!(["1"]));
        assert_eq!(parsed[0]["gpu_pool"], serde_json::json!({}));
        assert!(config.contains("USER_LABEL = \"org.dimtensor-up.hub-user\""), "{config}");
        // The file is Python that compiles (the hub runs it).
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jupyterhub_config.py");
        std::fs::write(&file, &config).unwrap();
        let compiled = std::process::Command::new("python3").args(["-m", "py_compile"]).arg(&file).status();
        assert!(compiled.map(|s| s.success()).unwrap_or(true), "py_compile");
    }

    #[test]
    fn project_names_are_per_folder_and_readable() {
        assert!(project_for(Path::new("/home/ada/dimtensor-hub")).starts_with("dimtensor-hub-"));
        assert!(!project_for(Path::new("/home/ada/dimtensor-hub")).contains("hub-dimtensor-hub"));
        assert!(project_for(Path::new("/srv/team")).starts_with("dimtensor-hub-team-"));
        assert_ne!(project_for(Path::new("/a/team")), project_for(Path::new("/b/team")));
    }

    #[test]
    fn z2jh_values_pin_images_and_limit_gpus() {
        let list = profiles(&[Variant::Base, Variant::Ml], &[(Variant::Ml, GpuAttach::All)], &image);
        let yaml = z2jh_values(&list, 1, "h");
        insta::assert_snapshot!("z2jh_values_yaml", without_version(&yaml));
        assert!(yaml.contains("nvidia.com/gpu: '1'"), "{yaml}");
        let values: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        let storage = &values["singleuser"]["storage"];
        assert_eq!(
            storage["extraVolumes"][0]["emptyDir"],
            serde_json::json!({"medium": "Memory", "sizeLimit": "8Gi"})
        );
        assert_eq!(storage["extraVolumeMounts"][0]["mountPath"], "/dev/shm");
        let gpu = &values["singleuser"]["profileList"][2]["kubespawner_override"];
        assert_eq!(gpu["environment"]["XLA_PYTHON_CLIENT_PREALLOCATE"], "false");
        assert!(yaml.contains("image: r:jupyter-ml-5.2.0"), "{yaml}");
        assert!(
            yaml.contains("type: ClusterIP") && yaml.contains("allowPrivilegeEscalation: false"),
            "{yaml}"
        );
    }
}
