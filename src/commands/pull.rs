//! `dimtensor-up pull`: images from the registry.

use crate::base::error::{Error, Result};
use crate::base::reporter::Reporter;
use crate::spec::catalog::Platforms;
use crate::spec::cli::{GlobalArgs, PullArgs};

pub async fn run(global: &GlobalArgs, args: PullArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let requested = config.platform(args.platform.as_deref())?;
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let arch = Platforms::new(engine.platform().await?, requested).images;
    // One signal future for the whole run: no Ctrl-C falls between two pulls.
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    for id in args.images {
        let reference = id.reference(config.registry());
        tokio::select! {
            r = crate::image::pull(&engine, &reference, arch, &reporter) => r?,
            _ = &mut stop => return Err(Error::interrupted()),
        }
    }
    Ok(0)
}
