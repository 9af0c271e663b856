//! `dimtensor-up open`: the URL of a running server, in the browser again.

use crate::cli::{GlobalArgs, TargetArgs};
use crate::error::{Error, Kind, Result};
use crate::reporter::Reporter;

pub async fn run(global: &GlobalArgs, args: TargetArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let engine = super::connect(global).await?;
    let server = super::target_server(&engine, args.name.as_deref(), args.workdir.as_deref()).await?;
    if !server.running() {
        return Err(Error::new(
            Kind::Container,
            format!("{} is not running ({})", server.name, server.state),
        )
        .hint("start it with `dimtensor-up jupyter` in its folder"));
    }
    let token = crate::lab::token(&engine, &server).await?;
    let url = crate::lab::url(&server, &token);
    if !args.no_browser {
        crate::browser::open_url(&url, server.port, &reporter);
    }
    println!("{url}");
    Ok(0)
}
