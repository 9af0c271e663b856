//! `dimtensor-up pull`: images from the registry.

use crate::cli::{GlobalArgs, PullArgs};
use crate::error::{Error, Result};
use crate::reporter::Reporter;

pub async fn run(global: &GlobalArgs, args: PullArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = super::load_config()?;
    let engine = super::connect(global).await?;
    for id in args.images {
        let reference = id.reference(config.registry());
        tokio::select! {
            r = crate::image::pull(&engine, &reference, &reporter) => r?,
            _ = crate::error::stop_signal() => return Err(Error::interrupted()),
        }
    }
    Ok(0)
}
