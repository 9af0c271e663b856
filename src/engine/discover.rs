//! Where to look for an engine when neither --host, DOCKER_HOST nor a docker context names one:
//! the rootful Docker socket, rootless Docker, rootless Podman, rootful Podman, in that order.

use std::path::PathBuf;

use super::model::Product;
use super::{Address, Endpoint, Source};

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
    DockerDesktop,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Label::RootfulDocker => "rootful Docker",
            Label::RootlessDocker => "rootless Docker",
            Label::RootlessPodman => "rootless Podman",
            Label::RootfulPodman => "rootful Podman",
            Label::DockerDesktop => "Docker Desktop",
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

/// The candidates in order. `home` is the user's home folder; `runtime_dir` is $XDG_RUNTIME_DIR
/// (else /run/user/UID on Linux). Docker Desktop listens in the home folder (its
/// `desktop-linux` context): ~/.docker/run/docker.sock on macOS (/var/run/docker.sock only when
/// its "Allow the default Docker socket" setting is on), ~/.docker/desktop/docker.sock on Linux,
/// and the dockerDesktopLinuxEngine pipe on Windows (docker_engine is the default context's).
pub fn candidates(os: ClientOs, home: Option<PathBuf>, runtime_dir: Option<PathBuf>) -> Vec<Candidate> {
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
                at("npipe:////./pipe/docker_engine".into(), Label::DockerDesktop),
                at("npipe:////./pipe/dockerDesktopLinuxEngine".into(), Label::DockerDesktop),
            ]
        }
        ClientOs::MacOs => {
            let mut list = vec![at("unix:///var/run/docker.sock".into(), Label::DockerDesktop)];
            list.extend(in_home(".docker/run/docker.sock").map(|a| at(a, Label::DockerDesktop)));
            // Colima, Rancher Desktop and Podman's machine name their sockets in the context too.
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
    list.extend(in_home(".docker/desktop/docker.sock").map(|a| at(a, Label::DockerDesktop)));
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

/// The hint when no candidate answered: the most specific thing the user can do.
pub fn nothing_answered_hint(tried: &[(Candidate, super::ConnectProblem)], podman_installed: bool) -> String {
    use super::ConnectProblem as P;
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
    use crate::engine::ConnectProblem;

    #[test]
    fn rootful_docker_then_rootless_docker_then_podman() {
        let list = candidates(ClientOs::Linux, None, Some(PathBuf::from("/run/user/1000")));
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
        assert_eq!(candidates(ClientOs::Linux, None, None).len(), 2);
    }

    #[test]
    fn docker_desktop_is_found_where_it_listens_on_each_os() {
        let home = Some(PathBuf::from("/Users/ada"));
        let addresses = |os| -> Vec<String> {
            candidates(os, home.clone(), Some(PathBuf::from("/run/user/1000")))
                .into_iter()
                .map(|c| c.endpoint.address.to_string())
                .collect()
        };
        assert_eq!(
            addresses(ClientOs::MacOs),
            ["unix:///var/run/docker.sock", "unix:///Users/ada/.docker/run/docker.sock"]
        );
        assert_eq!(
            addresses(ClientOs::Windows),
            ["npipe:////./pipe/docker_engine", "npipe:////./pipe/dockerDesktopLinuxEngine"]
        );
        // On Linux, Desktop comes after the engines that run on the machine itself.
        assert_eq!(
            addresses(ClientOs::Linux).last().unwrap(),
            "unix:///Users/ada/.docker/desktop/docker.sock"
        );
        assert!(candidates(ClientOs::MacOs, None, None).iter().all(|c| c.label == Label::DockerDesktop));
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
        let list = candidates(ClientOs::Linux, None, Some(PathBuf::from("/r")));
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
