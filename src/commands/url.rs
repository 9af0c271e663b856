//! `dimtensor-up url`: this folder's lab URL for pasting into an editor's "existing Jupyter
//! server". It is the same across stop and start (`lab::address`), so it is printed even while
//! the lab is stopped, with a line saying so.

use serde_json::json;

use crate::base::error::{Error, Result};
use crate::base::reporter::Reporter;
use crate::engine::Engine;
use crate::lab::address::KeptAddress;
use crate::lab::Server;
use crate::spec::cli::{GlobalArgs, UrlArgs};

pub async fn run(global: &GlobalArgs, args: UrlArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let engine = Engine::connect(global.host.as_deref()).await?;
    let folder = crate::lab::target_folder(&engine, args.workdir.as_deref()).await?;
    let server = crate::lab::for_workdir(&engine, &folder).await?.filter(Server::running);
    let kept = crate::lab::address::kept(&engine, &folder);
    let remote = engine.host.ssh().is_some();
    let address = match (&server, kept) {
        // Here, a running lab's own address (one `compose --up` started is kept nowhere).
        (Some(s), _) if !remote => {
            KeptAddress { listen: s.listen, port: s.port, token: crate::lab::token(&engine, s).await? }
        }
        (_, Some(kept)) => kept,
        (Some(_), None) => {
            return Err(Error::usage(format!(
                "the lab for {} runs, but has no URL on this machine yet",
                folder.display()
            ))
            .hint("`dimtensor-up open` forwards it here and prints its URL"))
        }
        (None, None) => {
            return Err(Error::usage(format!("no lab has run for {} yet", folder.display()))
                .hint("start it with `dimtensor-up jupyter`; its URL then stays the same across restarts"))
        }
    };
    let running = server.is_some();
    if args.json {
        let value = json!({
            "url": address.url(), "port": address.port, "token": address.token, "running": running,
            "workdir": folder.display().to_string(),
        });
        println!("{value}");
    } else {
        println!("{}", address.url());
    }
    let host = global.host.as_deref().map(|h| format!(" --host {h}")).unwrap_or_default();
    if !running {
        reporter.note(format!(
            "the lab is not running: `dimtensor-up{host} jupyter` starts it again at this URL"
        ));
    } else if remote {
        reporter.note(format!(
            "it answers here while `dimtensor-up{host} jupyter` or `dimtensor-up{host} open` holds the ssh tunnel"
        ));
    }
    Ok(0)
}
