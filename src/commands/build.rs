//! `dimtensor-up build`: images from the embedded Dockerfile, through BuildKit.

use crate::base::error::Result;
use crate::base::reporter::Reporter;
use crate::image::{self, BuildOptions};
use crate::spec::catalog::Platforms;
use crate::spec::catalog::{ImageId, IMAGES};
use crate::spec::cli::{BuildArgs, GlobalArgs};

pub async fn run(global: &GlobalArgs, args: BuildArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let mut opts = BuildOptions::new(&config, args.dimtensor_version, args.python_image, args.ca_cert)?;
    opts.no_cache = args.no_cache;
    let requested = config.platform(args.platform.as_deref())?;
    let images: Vec<ImageId> = if args.all { IMAGES.iter().map(|s| s.id).collect() } else { args.images };
    if let Some(ca) = &opts.ca_cert {
        reporter.note(format!(
            "using the CA bundle {} for PyPI (build-time only, not stored in the image)",
            ca.display()
        ));
    }
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let platforms = Platforms::new(engine.platform().await?, requested);
    opts.platform = platforms.explicit().map(str::to_string);
    reporter.note(format!("building for {}", platforms.images.platform()));
    // One signal future for the whole run: no Ctrl-C falls between two builds.
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    for id in images {
        tokio::select! {
            r = image::build(&engine, id, config.registry(), &opts, &reporter) => r?,
            _ = &mut stop => return Err(crate::base::error::Error::interrupted()),
        }
    }
    Ok(0)
}
