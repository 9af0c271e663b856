//! `dimtensor-up prune`: removes the images this tool made that no container uses and that no
//! current name needs: older project images first, then the tags that pinned their lab images,
//! then lab images left without a current tag. `--dry-run` lists them. An image it did not make
//! (no label of ours, or named by someone else) is never touched; volumes are never touched.

use std::collections::{HashMap, HashSet};

use crate::base::error::Result;
use crate::base::reporter::{human_bytes, Reporter};
use crate::engine::Engine;
use crate::image::project::{labels as project, BASE_REPOSITORY};
use crate::spec::catalog::{DIMTENSOR_VERSION, IMAGES};
use crate::spec::cli::{GlobalArgs, PruneArgs};

/// What prune needs to know of one local image.
#[derive(Debug, Clone, PartialEq)]
struct ImageFacts {
    id: String,
    tags: Vec<String>,
    labels: HashMap<String, String>,
    created: i64,
    size: u64,
}

/// One thing to remove: a tag (the image goes with its last one) or an untagged image by ID.
#[derive(Debug, Clone, PartialEq)]
struct Removal {
    what: String,
    size: u64,
    why: &'static str,
}

/// The label our Dockerfile puts on every lab image.
const VARIANT_LABEL: &str = "org.dimtensor-up.variant";

/// Pure: what to remove, in order. `in_use`: image IDs of containers, running or not.
fn choose(images: &[ImageFacts], in_use: &HashSet<String>, registry: &str) -> Vec<Removal> {
    let mut out = Vec::new();
    let newest_per_folder: HashMap<&str, &ImageFacts> =
        images.iter().filter(|i| i.labels.contains_key(project::KEY)).fold(HashMap::new(), |mut m, i| {
            let folder = i.labels.get(project::FOLDER).map(String::as_str).unwrap_or("");
            let slot = m.entry(folder).or_insert(i);
            if i.created > slot.created {
                *slot = i;
            }
            m
        });
    let mut kept_labs: HashSet<&str> = HashSet::new();
    for image in images.iter().filter(|i| i.labels.contains_key(project::KEY)) {
        let folder = image.labels.get(project::FOLDER).map(String::as_str).unwrap_or("");
        let newest = newest_per_folder.get(folder).is_some_and(|n| n.id == image.id);
        if in_use.contains(&image.id) || newest {
            kept_labs.extend(image.labels.get(project::LAB_IMAGE).map(String::as_str));
            continue;
        }
        out.extend(removals(image, "an older project image of its folder"));
    }
    let pin_prefix = format!("{BASE_REPOSITORY}:");
    // Where the pins of each image were put: removing the last tag removes an image.
    let mut pins_of: HashMap<&str, usize> = HashMap::new();
    for image in images.iter().filter(|i| !kept_labs.contains(i.id.as_str())) {
        for tag in image.tags.iter().filter(|t| t.starts_with(&pin_prefix)) {
            out.push(Removal {
                what: tag.clone(),
                size: 0,
                why: "a pin of a lab image no kept project image uses",
            });
            pins_of.insert(image.id.as_str(), out.len() - 1);
        }
    }
    let current: HashSet<String> = IMAGES
        .iter()
        .flat_map(|s| [s.id.reference(registry), s.id.versioned_reference(registry, DIMTENSOR_VERSION)])
        .collect();
    let ours = format!("{registry}:");
    for image in
        images.iter().filter(|i| i.labels.contains_key(VARIANT_LABEL) && !i.labels.contains_key(project::KEY))
    {
        let named: Vec<&String> = image.tags.iter().filter(|t| !t.starts_with(&pin_prefix)).collect();
        // Named by anyone else (another registry, a retag): not ours to remove.
        if in_use.contains(&image.id) || named.iter().any(|t| !t.starts_with(&ours) || current.contains(*t)) {
            continue;
        }
        // Still the base of a kept project image.
        if kept_labs.contains(image.id.as_str()) {
            continue;
        }
        let why = match named.is_empty() {
            true => "a lab image replaced by a newer build or pull",
            false => "a lab image of another dimtensor version",
        };
        match (named.is_empty(), pins_of.get(image.id.as_str())) {
            // Its last pin goes above, and the image with it.
            (true, Some(&at)) => out[at].size = image.size,
            (true, None) => out.push(Removal { what: image.id.clone(), size: image.size, why }),
            (false, _) => out.extend(named.iter().enumerate().map(|(n, t)| Removal {
                what: t.to_string(),
                size: if n + 1 == named.len() { image.size } else { 0 },
                why,
            })),
        }
    }
    out
}

/// Every tag of `image` (its size on the last), or its ID when it has none.
fn removals(image: &ImageFacts, why: &'static str) -> Vec<Removal> {
    if image.tags.is_empty() {
        return vec![Removal { what: image.id.clone(), size: image.size, why }];
    }
    let last = image.tags.len() - 1;
    image
        .tags
        .iter()
        .enumerate()
        .map(|(n, t)| Removal { what: t.clone(), size: if n == last { image.size } else { 0 }, why })
        .collect()
}

pub async fn run(global: &GlobalArgs, args: PruneArgs) -> Result<u8> {
    use bollard::query_parameters::{
        ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    };
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let engine = Engine::connect(global.host.as_deref()).await?;
    let images = engine
        .docker
        .list_images(Some(ListImagesOptionsBuilder::default().all(false).build()))
        .await
        .map_err(|e| engine.fail("listing images", e))?;
    let facts: Vec<ImageFacts> = images
        .into_iter()
        .map(|i| ImageFacts {
            id: i.id,
            tags: i
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .map(|t| t.trim_start_matches("localhost/").to_string())
                .collect(),
            labels: i.labels,
            created: i.created,
            size: i.size.max(0) as u64,
        })
        .collect();
    let containers = engine
        .docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).build()))
        .await
        .map_err(|e| engine.fail("listing containers", e))?;
    let in_use: HashSet<String> = containers.into_iter().filter_map(|c| c.image_id).collect();
    let plan = choose(&facts, &in_use, config.registry());
    if plan.is_empty() {
        reporter.always("nothing to prune: every image dimtensor-up made is in use or current");
        return Ok(0);
    }
    let total: u64 = plan.iter().map(|r| r.size).sum();
    let mut removed = 0;
    for removal in &plan {
        let size = if removal.size > 0 { format!(" ({})", human_bytes(removal.size)) } else { String::new() };
        if args.dry_run {
            println!("would remove {}{size}: {}", removal.what, removal.why);
            continue;
        }
        let options = RemoveImageOptionsBuilder::default().force(false).build();
        match engine.docker.remove_image(&removal.what, Some(options), None).await {
            Ok(_) => {
                removed += 1;
                println!("removed {}{size}: {}", removal.what, removal.why);
            }
            // Something started using it since the list: it stays.
            Err(e) => reporter.warn(format!(
                "kept {}: {}",
                removal.what,
                crate::base::error::first_line(&crate::base::error::engine_message(&e))
            )),
        }
    }
    let verb = if args.dry_run { "would free" } else { "freed" };
    reporter.always(format!(
        "{verb} up to {} in {} step(s) (images that share layers free less); volumes and the engine's build cache are left alone (`docker builder prune` clears the cache)",
        human_bytes(total),
        if args.dry_run { plan.len() } else { removed }
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], labels: &[(&str, &str)], created: i64) -> ImageFacts {
        ImageFacts {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            created,
            size: 100,
        }
    }

    const REG: &str = "ghcr.io/marcoloco23/dimtensor";

    #[test]
    fn older_project_images_go_first_then_pins_then_replaced_labs() {
        let lab_now = image(
            "sha256:lab2",
            &["ghcr.io/marcoloco23/dimtensor:jupyter-base", "dimtensor-up-project/base:lab2"],
            &[(VARIANT_LABEL, "jupyter")],
            5,
        );
        let lab_old =
            image("sha256:lab1", &["dimtensor-up-project/base:lab1"], &[(VARIANT_LABEL, "jupyter")], 1);
        let proj = |id: &str, lab: &str, created| {
            image(
                id,
                &[&format!("dimtensor-up-project/a-1:{id}")],
                &[(project::KEY, id), (project::FOLDER, "/a"), (project::LAB_IMAGE, lab)],
                created,
            )
        };
        let foreign = image("sha256:x", &["python:3.11-slim-bookworm"], &[], 0);
        let other_registry =
            image("sha256:y", &["dimtensor-up-test/arm64:base"], &[(VARIANT_LABEL, "base")], 0);
        let images = [
            lab_now,
            lab_old,
            proj("p1", "sha256:lab1", 2),
            proj("p2", "sha256:lab2", 6),
            foreign,
            other_registry,
        ];
        let plan = choose(&images, &HashSet::new(), REG);
        let what: Vec<&str> = plan.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(what, ["dimtensor-up-project/a-1:p1", "dimtensor-up-project/base:lab1"]);
        assert_eq!(plan[1].size, 100, "the old lab goes with its last tag");
        // In use: the older project image and its lab stay.
        let plan = choose(&images, &HashSet::from(["p1".to_string()]), REG);
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn old_version_tags_of_ours_go_and_current_ones_stay() {
        let old =
            image("sha256:o", &["ghcr.io/marcoloco23/dimtensor:base-5.1.0"], &[(VARIANT_LABEL, "base")], 0);
        let current = image(
            "sha256:c",
            &[
                "ghcr.io/marcoloco23/dimtensor:base",
                &format!("ghcr.io/marcoloco23/dimtensor:base-{DIMTENSOR_VERSION}"),
            ],
            &[(VARIANT_LABEL, "base")],
            1,
        );
        let plan = choose(&[old, current], &HashSet::new(), REG);
        assert_eq!(
            plan,
            [Removal {
                what: "ghcr.io/marcoloco23/dimtensor:base-5.1.0".into(),
                size: 100,
                why: "a lab image of another dimtensor version"
            }]
        );
    }
}
