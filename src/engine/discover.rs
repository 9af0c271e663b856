//! Where to look for an engine when neither --host, DOCKER_HOST nor a docker context names one:
//! the rootful Docker socket, rootless Docker, rootless Podman, rootful Podman, Docker Desktop,
//! then the laptop VMs (OrbStack, Colima, Rancher Desktop, Lima, podman machine), in that order.

use std::path::PathBuf;

use super::endpoint::{Address, Endpoint, Source};
use super::model::{Product, Vm};
use crate::base::error::io_kind;

/// One place an engine may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub endpoint: Endpoint,
    /// What usually listens there, for `doctor` and the error that lists what was tried.
    pub label: Label,
}

/// What usually listens at a candidate address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    RootfulDocker,
    RootlessDocker,
    RootlessPodman,
    RootfulPodman,
    /// A laptop VM; the engine's own answer may name it more exactly (`model::Vm::detect`).
    Vm(Vm),
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Label::RootfulDocker => "rootful Docker",
            Label::RootlessDocker => "rootless Docker",
            Label::RootlessPodman => "rootless Podman",
            Label::RootfulPodman => "rootful Podman",
            Label::Vm(vm) => vm.name(),
        })
    }
}

/// The machine dimtensor-up runs on, as far as where engines listen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOs {
    Linux,
    MacOs,
    Windows,
}

impl ClientOs {
    pub fn this() -> ClientOs {
        if cfg!(windows) {
            ClientOs::Windows
        } else if cfg!(target_os = "macos") {
            ClientOs::MacOs
        } else {
            ClientOs::Linux
        }
    }
}

/// Where a machine's engines may listen, as far as they depend on the user: read once from the
/// environment and the home folder (`Places::here`), then turned into candidates purely.
#[derive(Debug, Clone, Default)]
pub struct Places {
    pub home: Option<PathBuf>,
    /// $XDG_RUNTIME_DIR, else /run/user/UID on Linux.
    pub runtime_dir: Option<PathBuf>,
    /// $TMPDIR (podman machine 5 on macOS puts its API socket there).
    pub tmp_dir: Option<PathBuf>,
    /// $COLIMA_HOME (default ~/.colima) and its profiles, `default` first.
    pub colima: Option<(PathBuf, Vec<String>)>,
    /// $LIMA_HOME (default ~/.lima) and its instances.
    pub lima: Option<(PathBuf, Vec<String>)>,
}

impl Places {
    pub fn here(env: &dyn Fn(&str) -> Option<String>, uid: Option<u32>) -> Places {
        let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
        let folder = |var: &str, default: &str| {
            env(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(default)))
        };
        let with_entries = |dir: Option<PathBuf>| {
            let dir = dir?;
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('_') && !n.starts_with('.'))
                .collect();
            names.sort_by_key(|n| (n != "default", n.clone()));
            Some((dir, names))
        };
        Places {
            runtime_dir: runtime_dir(env, uid),
            tmp_dir: env("TMPDIR").filter(|t| !t.is_empty()).map(PathBuf::from),
            colima: with_entries(folder("COLIMA_HOME", ".colima")),
            lima: with_entries(folder("LIMA_HOME", ".lima")),
            home,
        }
    }
}

/// The candidates in order. Docker Desktop listens in the home folder (its `desktop-linux`
/// context): ~/.docker/run/docker.sock on macOS (/var/run/docker.sock only when its "Allow the
/// default Docker socket" setting is on), ~/.docker/desktop/docker.sock on Linux, and the
/// dockerDesktopLinuxEngine pipe on Windows (docker_engine is the default context's). The laptop
/// VMs follow, each where it puts its socket: OrbStack ~/.orbstack/run/docker.sock, Colima
/// <COLIMA_HOME>/<profile>/docker.sock, Rancher Desktop ~/.rd/docker.sock, Lima
/// <LIMA_HOME>/<instance>/sock/docker.sock, podman machine
/// ~/.local/share/containers/podman/machine/podman.sock (4.x) and
/// $TMPDIR/podman/podman-machine-default-api.sock (5.x, macOS).
pub fn candidates(os: ClientOs, places: &Places) -> Vec<Candidate> {
    let (home, runtime_dir) = (&places.home, &places.runtime_dir);
    let at = |address: String, label| Candidate {
        endpoint: Endpoint {
            address: Address::parse(&address).expect("candidate addresses are well formed"),
            source: Source::Default,
            tls_dir: None,
        },
        label,
    };
    let in_home = |rest: &str| home.as_ref().map(|h| format!("unix://{}/{rest}", h.display()));
    match os {
        ClientOs::Windows => {
            return vec![
                at("npipe:////./pipe/docker_engine".into(), Label::Vm(Vm::DockerDesktop)),
                at("npipe:////./pipe/dockerDesktopLinuxEngine".into(), Label::Vm(Vm::DockerDesktop)),
            ]
        }
        ClientOs::MacOs => {
            let mut list = vec![at("unix:///var/run/docker.sock".into(), Label::Vm(Vm::DockerDesktop))];
            list.extend(in_home(".docker/run/docker.sock").map(|a| at(a, Label::Vm(Vm::DockerDesktop))));
            list.extend(vm_candidates(os, places).into_iter().map(|(a, vm)| at(a, Label::Vm(vm))));
            return list;
        }
        ClientOs::Linux => {}
    }
    let mut list = vec![at("unix:///var/run/docker.sock".into(), Label::RootfulDocker)];
    if let Some(dir) = runtime_dir {
        let dir = dir.display().to_string();
        list.push(at(format!("unix://{dir}/docker.sock"), Label::RootlessDocker));
        list.push(at(format!("unix://{dir}/podman/podman.sock"), Label::RootlessPodman));
    }
    list.push(at("unix:///run/podman/podman.sock".into(), Label::RootfulPodman));
    list.extend(in_home(".docker/desktop/docker.sock").map(|a| at(a, Label::Vm(Vm::DockerDesktop))));
    list.extend(vm_candidates(os, places).into_iter().map(|(a, vm)| at(a, Label::Vm(vm))));
    list
}

/// The laptop VMs' sockets (OrbStack and podman machine on macOS only; Colima, Rancher Desktop
/// and Lima run on Linux too). Colima and Lima only where their folders hold a profile or
/// instance: nothing is listed (and tried) for a tool that was never set up.
fn vm_candidates(os: ClientOs, places: &Places) -> Vec<(String, Vm)> {
    let sock = |path: PathBuf| format!("unix://{}", path.display());
    let mut list = Vec::new();
    let home = places.home.as_ref();
    let mac = os == ClientOs::MacOs;
    if let Some(h) = home.filter(|_| mac) {
        list.push((sock(h.join(".orbstack/run/docker.sock")), Vm::OrbStack));
    }
    if let Some((dir, profiles)) = &places.colima {
        list.extend(profiles.iter().map(|p| (sock(dir.join(p).join("docker.sock")), Vm::Colima)));
    }
    if let Some(h) = home {
        list.push((sock(h.join(".rd/docker.sock")), Vm::RancherDesktop));
    }
    if let Some((dir, instances)) = &places.lima {
        list.extend(instances.iter().map(|i| (sock(dir.join(i).join("sock/docker.sock")), Vm::Lima)));
    }
    if mac {
        if let Some(h) = home {
            let machine = h.join(".local/share/containers/podman/machine/podman.sock");
            list.push((sock(machine), Vm::PodmanMachine));
        }
        if let Some(t) = &places.tmp_dir {
            list.push((sock(t.join("podman/podman-machine-default-api.sock")), Vm::PodmanMachine));
        }
    }
    list
}

/// $XDG_RUNTIME_DIR, or where systemd puts it for this user.
pub fn runtime_dir(env: &dyn Fn(&str) -> Option<String>, uid: Option<u32>) -> Option<PathBuf> {
    env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()).map(PathBuf::from).or_else(|| {
        uid.filter(|_| cfg!(target_os = "linux")).map(|u| PathBuf::from(format!("/run/user/{u}")))
    })
}

/// What one candidate said when it did not answer, for `doctor` and the final error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tried {
    pub address: String,
    pub label: String,
    /// None: this one answered.
    pub problem: Option<String>,
}

/// Why a socket did not answer, as discovery weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectProblem {
    Missing,
    PermissionDenied,
    Refused,
    Other,
}

impl ConnectProblem {
    pub fn of(err: &bollard::errors::Error) -> ConnectProblem {
        use std::io::ErrorKind as K;
        match (err, io_kind(err)) {
            (bollard::errors::Error::SocketNotFoundError(_), _) | (_, Some(K::NotFound)) => {
                ConnectProblem::Missing
            }
            (_, Some(K::PermissionDenied)) => ConnectProblem::PermissionDenied,
            (_, Some(K::ConnectionRefused)) => ConnectProblem::Refused,
            _ => ConnectProblem::Other,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            ConnectProblem::Missing => "no socket",
            ConnectProblem::PermissionDenied => "permission denied",
            ConnectProblem::Refused => "nothing listens",
            ConnectProblem::Other => "no answer",
        }
    }
}

/// The hint when no candidate answered: the most specific thing the user can do.
pub fn nothing_answered_hint(tried: &[(Candidate, ConnectProblem)], podman_installed: bool) -> String {
    use ConnectProblem as P;
    if tried.iter().any(|(c, p)| c.label == Label::RootfulDocker && *p == P::PermissionDenied) {
        let group = "add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again)";
        return match podman_installed {
            true => {
                format!("{group}, or start your own Podman: `systemctl --user enable --now podman.socket`")
            }
            false => format!("{group}, or use rootless Docker or Podman"),
        };
    }
    if podman_installed {
        return super::model::EngineModel::product_hint(Product::Podman).into();
    }
    "start Docker (`sudo systemctl start docker`, or Docker Desktop), or point --host / DOCKER_HOST at a running engine".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootful_docker_then_rootless_docker_then_podman() {
        let places = Places { runtime_dir: Some(PathBuf::from("/run/user/1000")), ..Places::default() };
        let list = candidates(ClientOs::Linux, &places);
        let addresses: Vec<String> = list.iter().map(|c| c.endpoint.address.to_string()).collect();
        assert_eq!(
            addresses,
            [
                "unix:///var/run/docker.sock",
                "unix:///run/user/1000/docker.sock",
                "unix:///run/user/1000/podman/podman.sock",
                "unix:///run/podman/podman.sock"
            ]
        );
        assert_eq!(list[2].label, Label::RootlessPodman);
        assert!(list.iter().all(|c| c.endpoint.source == Source::Default));
        assert_eq!(candidates(ClientOs::Linux, &Places::default()).len(), 2);
    }

    #[test]
    fn docker_desktop_is_found_where_it_listens_on_each_os() {
        let places = Places {
            home: Some(PathBuf::from("/Users/ada")),
            runtime_dir: Some(PathBuf::from("/run/user/1000")),
            ..Places::default()
        };
        let addresses = |os| -> Vec<String> {
            candidates(os, &places).into_iter().map(|c| c.endpoint.address.to_string()).collect()
        };
        assert_eq!(
            addresses(ClientOs::MacOs)[..2],
            ["unix:///var/run/docker.sock", "unix:///Users/ada/.docker/run/docker.sock"]
        );
        assert_eq!(
            addresses(ClientOs::Windows),
            ["npipe:////./pipe/docker_engine", "npipe:////./pipe/dockerDesktopLinuxEngine"]
        );
        // On Linux, Desktop comes after the engines that run on the machine itself.
        assert_eq!(addresses(ClientOs::Linux)[4], "unix:///Users/ada/.docker/desktop/docker.sock");
        assert!(candidates(ClientOs::MacOs, &Places::default())
            .iter()
            .all(|c| c.label == Label::Vm(Vm::DockerDesktop)));
    }

    #[test]
    fn the_laptop_vms_follow_docker_desktop_where_each_puts_its_socket() {
        let places = Places {
            home: Some(PathBuf::from("/Users/ada")),
            tmp_dir: Some(PathBuf::from("/var/folders/x/T")),
            colima: Some((PathBuf::from("/Users/ada/.colima"), vec!["default".into(), "gpu".into()])),
            lima: Some((PathBuf::from("/Users/ada/.lima"), vec!["docker".into()])),
            ..Places::default()
        };
        let listed = |os| -> Vec<String> {
            candidates(os, &places)
                .into_iter()
                .filter(|c| !matches!(c.label, Label::Vm(Vm::DockerDesktop)))
                .map(|c| format!("{} {}", c.label, c.endpoint.address))
                .collect()
        };
        assert_eq!(
            listed(ClientOs::MacOs),
            [
                "OrbStack unix:///Users/ada/.orbstack/run/docker.sock",
                "Colima unix:///Users/ada/.colima/default/docker.sock",
                "Colima unix:///Users/ada/.colima/gpu/docker.sock",
                "Rancher Desktop unix:///Users/ada/.rd/docker.sock",
                "Lima unix:///Users/ada/.lima/docker/sock/docker.sock",
                "podman machine unix:///Users/ada/.local/share/containers/podman/machine/podman.sock",
                "podman machine unix:///var/folders/x/T/podman/podman-machine-default-api.sock",
            ]
        );
        // On Linux: Colima, Rancher Desktop and Lima too, after the engines of the machine itself.
        let linux = listed(ClientOs::Linux);
        assert_eq!(
            linux[linux.len() - 4..],
            [
                "Colima unix:///Users/ada/.colima/default/docker.sock",
                "Colima unix:///Users/ada/.colima/gpu/docker.sock",
                "Rancher Desktop unix:///Users/ada/.rd/docker.sock",
                "Lima unix:///Users/ada/.lima/docker/sock/docker.sock",
            ]
        );
    }

    #[test]
    fn runtime_dir_from_the_environment_or_systemds_place() {
        let env = |k: &str| (k == "XDG_RUNTIME_DIR").then(|| "/tmp/xdg".to_string());
        assert_eq!(runtime_dir(&env, Some(5)), Some(PathBuf::from("/tmp/xdg")));
        assert_eq!(runtime_dir(&|_| None, Some(5)), Some(PathBuf::from("/run/user/5")));
        assert_eq!(runtime_dir(&|_| None, None), None);
    }

    #[test]
    fn the_hint_names_what_would_help() {
        let list = candidates(
            ClientOs::Linux,
            &Places { runtime_dir: Some(PathBuf::from("/r")), ..Places::default() },
        );
        let denied = vec![
            (list[0].clone(), ConnectProblem::PermissionDenied),
            (list[1].clone(), ConnectProblem::Missing),
        ];
        assert!(nothing_answered_hint(&denied, false).contains("docker group"));
        assert!(nothing_answered_hint(&denied, true).contains("systemctl --user enable --now podman.socket"));
        let missing =
            vec![(list[0].clone(), ConnectProblem::Missing), (list[2].clone(), ConnectProblem::Missing)];
        assert!(nothing_answered_hint(&missing, true).contains("systemctl --user enable --now podman.socket"));
        assert!(nothing_answered_hint(&missing, false).contains("start Docker"));
    }
}
