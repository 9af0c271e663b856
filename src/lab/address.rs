//! A folder's lab keeps its address: the port and token of its last start are kept (mode 600 in
//! the private state folder), and the next start takes them again, so an editor's "existing
//! Jupyter server" (VS Code, PyCharm) keeps working across `stop` and `start`. `--new-token`
//! makes a new one. Over ssh the port kept is this machine's end of the tunnel.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::error::Result;
use crate::engine::Engine;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAddress {
    pub listen: IpAddr,
    pub port: u16,
    pub token: String,
}

impl KeptAddress {
    pub fn url(&self) -> String {
        crate::spec::ports::lab_url(self.listen, self.port, &self.token)
    }
}

/// One file per engine and folder: the same folder on two engines (or on a remote) has two labs.
fn file_name(engine_address: &str, workdir: &Path) -> String {
    let key = crate::spec::naming::fnv1a(format!("{engine_address}\n{}", workdir.display()).as_bytes());
    format!("{key:016x}.json")
}

fn file_for(engine_address: &str, workdir: &Path) -> Result<PathBuf> {
    Ok(crate::base::state::private_dir("addresses")?.join(file_name(engine_address, workdir)))
}

/// The address this folder's lab had last; none when it never ran or the file is unreadable
/// (a new token is then no loss: no editor can hold a URL that was never printed).
pub fn kept(engine: &Engine, workdir: &Path) -> Option<KeptAddress> {
    kept_at(&engine.endpoint.address.to_string(), workdir)
}

pub fn keep(engine: &Engine, workdir: &Path, address: &KeptAddress) -> Result<()> {
    keep_at(&engine.endpoint.address.to_string(), workdir, address)
}

/// `kept` by the address of where the lab runs (a Slurm cluster's login node has no engine).
pub fn kept_at(engine_address: &str, workdir: &Path) -> Option<KeptAddress> {
    let path = file_for(engine_address, workdir).ok()?;
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

pub fn keep_at(engine_address: &str, workdir: &Path, address: &KeptAddress) -> Result<()> {
    let path = file_for(engine_address, workdir)?;
    let text = serde_json::to_string(address).expect("an address serialises");
    crate::base::state::write_secret_file(&path, &text, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_and_folder_has_its_own_file() {
        let a = file_name("unix:///var/run/docker.sock", Path::new("/home/ada/p"));
        assert_ne!(a, file_name("ssh://box", Path::new("/home/ada/p")));
        assert_ne!(a, file_name("unix:///var/run/docker.sock", Path::new("/home/ada/q")));
        assert_eq!(a, file_name("unix:///var/run/docker.sock", Path::new("/home/ada/p")));
    }

    #[test]
    fn the_url_is_the_labs() {
        let kept = KeptAddress { listen: "0.0.0.0".parse().unwrap(), port: 8890, token: "ab12".into() };
        assert_eq!(kept.url(), "http://127.0.0.1:8890/lab?token=ab12");
        let back: KeptAddress = serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
        assert_eq!(back, kept);
    }
}
