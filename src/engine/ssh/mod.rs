//! Engines on another machine over the user's own `ssh`: ~/.ssh/config, ProxyJump, the agent,
//! known_hosts and prompts behave as in their terminal. The engine is reached the way the docker
//! CLI reaches it, through `docker system dial-stdio` on the remote; one ssh master connection
//! (ControlMaster, in a private folder) carries the requests, remote commands and probes, and
//! the JupyterLab port is forwarded by an ssh process of its own, so that losing it is visible.
//!
//! Why not bollard's `ssh` feature: it starts a new master per connection, cannot take prompts
//! and says little when ssh fails; here every failure becomes an error with a hint.

pub mod errors;
pub mod remote;
pub mod target;
pub mod transport;

pub use errors::{ssh_missing, ssh_program};
pub use remote::{
    default_remote_folder, remote_user_in, who_am_i_and_folder_for, RemoteFolders, RemoteUser, WHO_AM_I,
};
pub use target::SshTarget;
pub use transport::{docker_client, SshHttp};

#[cfg(test)]
mod tests {
    use super::{errors::*, remote::*, target::*};
    use crate::base::error::{Kind, Result};

    use std::path::{Path, PathBuf};

    fn parse(a: &str) -> Result<SshTarget> {
        SshTarget::parse(a, "--host")
    }

    #[test]
    fn parses_ssh_addresses() {
        let t = parse("ssh://ana@gpu-box:2222").unwrap();
        assert_eq!((t.user.as_deref(), t.host.as_str(), t.port), (Some("ana"), "gpu-box", Some(2222)));
        let t = parse("ssh://box").unwrap();
        assert_eq!((t.user, t.host.as_str(), t.port), (None, "box", None));
        assert_eq!(parse("ssh://[::1]:22").unwrap().host, "::1");
        assert_eq!(parse("ssh://me@box/").unwrap().display(), "me@box");
        assert!(parse("ssh://me:secret@box").unwrap_err().message.contains("password"));
        for bad in ["ssh://", "ssh://box/var/run", "ssh://box:port", "ssh://-oProxyCommand=x", "ssh://@box"] {
            assert_eq!(parse(bad).unwrap_err().kind, Kind::Usage, "{bad}");
        }
    }

    #[test]
    fn command_lines_use_the_master_and_never_prompt_without_a_terminal() {
        let mut t = parse("ssh://ana@box:2222").unwrap();
        t.control_dir = PathBuf::from("/run/u/ssh");
        let args = t.command_args("docker system dial-stdio");
        let line = args.join(" ");
        assert!(line.contains("ControlMaster=auto") && line.contains("ControlPath=/run/u/ssh/%C"), "{line}");
        assert!(
            line.contains("BatchMode=yes") && line.contains("-p 2222") && line.contains("-l ana"),
            "{line}"
        );
        assert!(line.ends_with("-- box docker system dial-stdio"), "{line}");
        t.batch = false;
        assert!(!t.command_args("true").join(" ").contains("BatchMode"));
        let forward =
            t.control_args("forward", &["-L".into(), "127.0.0.1:8890:127.0.0.1:8888".into()]).join(" ");
        assert!(
            forward.starts_with("-o ControlPath=/run/u/ssh/%C -O forward -L 127.0.0.1:8890:127.0.0.1:8888"),
            "{forward}"
        );
        assert!(forward.ends_with("-- box"), "{forward}");
        assert_eq!(parse_master_pid("Master running (pid=4242)\r\n"), Some(4242));
        assert_eq!(parse_master_pid("Control socket connect(/x): No such file"), None);
    }

    #[test]
    fn ssh_failures_become_errors_with_hints() {
        let t = parse("ssh://ana@box").unwrap();
        let cases = [
            (Some(255), "Host key verification failed.\n", "host key"),
            (Some(255), "ana@box: Permission denied (publickey).\n", "refused the SSH login"),
            (Some(255), "ssh: connect to host box port 22: Connection refused\n", "cannot reach"),
            (Some(255), "ssh: Could not resolve hostname box: Name or service not known\n", "cannot reach"),
            (Some(127), "bash: line 1: docker: command not found\n", "no docker command"),
            (Some(1), "failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: permission denied\n", "refused your user"),
        ];
        for (code, stderr, says) in cases {
            let err = ssh_error(&t.display(), code, stderr);
            assert!(err.message.contains(says), "{stderr} -> {}", err.message);
            assert!(err.hint.is_some() && err.causes[0] == stderr.trim(), "{err:?}");
        }
    }

    #[test]
    fn remote_facts_are_parsed() {
        assert_eq!(
            parse_who_am_i("1001\n1002\n/home/ana\n"),
            Some(RemoteUser { uid: 1001, gid: 1002, home: PathBuf::from("/home/ana") })
        );
        assert_eq!(parse_who_am_i("garbage"), None);
        let script = who_am_i_and_folder_for(Path::new("/Users/ana/My Project"), true);
        assert!(
            script.contains("mkdir -p -- \"$HOME\"/dimtensor-up/my-project-")
                && script.ends_with("&& pwd -P; true"),
            "{script}"
        );
        assert!(!who_am_i_and_folder_for(Path::new("/x"), false).contains("mkdir"));
        let folder = default_remote_folder(Path::new("/home/ana"), Path::new("/Users/ana/My Project"));
        assert!(
            folder.to_string_lossy().starts_with("/home/ana/dimtensor-up/my-project-"),
            "{}",
            folder.display()
        );
    }
}
