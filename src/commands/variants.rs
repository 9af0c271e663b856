//! `dimtensor-up variants`: the image table for the engine's platform, with what is present.
//! One typed row per image, serialised for `--json` and formatted as text.

use serde::Serialize;

use crate::base::error::Result;
use crate::image::Presence;
use crate::spec::catalog::{Arch, ImageSpec, Platforms, IMAGES};
use crate::spec::cli::{GlobalArgs, JsonArgs};

#[derive(Debug, Serialize)]
struct Row {
    name: &'static str,
    image: String,
    target: &'static str,
    jupyter_on: Option<&'static str>,
    platform: &'static str,
    cuda: bool,
    summary: &'static str,
    #[serde(rename = "for")]
    for_whom: &'static str,
    approx_size: &'static str,
    /// A local image for this platform is here (one tag holds one architecture).
    present: bool,
    local_size_bytes: Option<i64>,
    local_architecture: Option<String>,
    /// The registry digest it was pulled by; None when built here or absent.
    digest: Option<String>,
}

impl Row {
    fn new(spec: &ImageSpec, image: String, arch: Arch) -> Row {
        Row {
            name: spec.tag,
            image,
            target: spec.target,
            jupyter_on: spec.jupyter_on,
            platform: arch.platform(),
            cuda: spec.has_cuda(arch),
            summary: spec.summary,
            for_whom: spec.for_whom,
            approx_size: spec.size_on(arch),
            present: false,
            local_size_bytes: None,
            local_architecture: None,
            digest: None,
        }
    }

    /// The row as the table shows it.
    fn text(&self) -> String {
        let local = match (self.local_size_bytes, self.present, &self.local_architecture) {
            (Some(b), true, _) => format!("{:.1} GB", b as f64 / 1e9),
            (Some(_), _, Some(other)) => format!("- ({other} here)"),
            _ => "-".into(),
        };
        format!(
            "{:<13} {:<8} {:<5} {:<14} {:<19} {} ({})",
            self.name,
            self.approx_size,
            if self.cuda { "yes" } else { "no" },
            local,
            crate::engine::registry::shown_digest(self.digest.as_deref()),
            self.summary,
            self.for_whom
        )
    }
}

pub async fn run(global: &GlobalArgs, args: JsonArgs) -> Result<u8> {
    let (config, _) = crate::spec::config::load()?;
    let requested = config.platform(None)?;
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let arch = Platforms::new(engine.platform().await?, requested).images;
    let mut rows = Vec::new();
    for spec in &IMAGES {
        let reference = spec.id.reference(config.registry());
        let mut row = Row::new(spec, reference.clone(), arch);
        if let Ok(img) = engine.docker.inspect_image(&reference).await {
            let repo_digests = img.repo_digests.unwrap_or_default();
            let repository = crate::engine::registry::repository_of(&reference);
            row.digest =
                crate::engine::registry::pulled_digest(&repo_digests, repository).map(str::to_string);
            row.present = Presence::of(img.architecture.as_deref(), arch) == Presence::Present;
            row.local_size_bytes = img.size;
            row.local_architecture = img.architecture;
        }
        rows.push(row);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"));
        return Ok(0);
    }
    println!("images for {} (sizes measured on that platform)", arch.platform());
    println!("{:<13} {:<8} {:<5} {:<14} {:<19} SUMMARY", "NAME", "SIZE", "CUDA", "LOCAL", "DIGEST");
    for row in &rows {
        println!("{}", row.text());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_say_what_is_here_for_this_platform() {
        let spec = crate::spec::catalog::ImageId::JupyterBase.spec();
        let mut row = Row::new(spec, "r:jupyter-base".into(), Arch::Amd64);
        assert!(row.text().starts_with("jupyter-base  0.7 GB   no    -              -"), "{}", row.text());
        row.local_size_bytes = Some(720_000_000);
        row.local_architecture = Some("arm64".into());
        assert!(row.text().contains(" - (arm64 here) "), "{}", row.text());
        row.present = true;
        row.digest = Some("sha256:0123456789abcdef0123".into());
        assert!(row.text().contains(" 0.7 GB         sha256:0123456789ab"), "{}", row.text());
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(
            (json["name"].as_str(), json["for"].as_str()),
            (Some("jupyter-base"), Some(spec.for_whom))
        );
        assert_eq!(json["present"], true);
    }
}
