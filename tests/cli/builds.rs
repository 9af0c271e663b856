//! Image builds from the embedded Dockerfile: a CA bundle stays out of every layer (also on the
//! rootless engines), and a failing build names its step. Needs the Docker engine and the
//! python:3.11-slim-bookworm base (tests/run.sh); the other engines for the rootless builds.

use std::process::Command;

use crate::support::*;

#[test]
fn a_ca_bundle_handed_to_the_build_stays_out_of_every_layer() {
    let _engine = engine_test!();
    ca_bundle_stays_out_of_the_layers(&Sandbox::new("cabundle"));
}

/// Rootless Docker builds with BuildKit, Podman with Buildah (the engine model's classic
/// builder): the same Dockerfile, the same guarantee for the CA bundle, and the image works.
#[test]
fn rootless_engines_build_the_embedded_dockerfile() {
    let _engine = engine_test!();
    for engine in other_engines().iter().filter(|e| e.name.starts_with("rootless")) {
        ca_bundle_stays_out_of_the_layers(&Sandbox::on_engine(
            &format!("build-{}", engine.name.replace(' ', "-")),
            engine,
        ));
    }
}

fn ca_bundle_stays_out_of_the_layers(sb: &Sandbox) {
    let marker = format!("dimtensor-up-ca-marker-{}", std::process::id());
    let system = ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let bundle = sb.root.join("corporate-bundle.pem");
    std::fs::write(&bundle, format!("{}\n# {marker}\n", std::fs::read_to_string(system).unwrap())).unwrap();
    std::fs::write(sb.root.join("config.toml"), "registry = \"dtu-ca-test/dimtensor\"\n").unwrap();
    let out = sb.run(&["build", "base", "--ca-cert", bundle.to_str().unwrap()]).ok();
    out.says("using the CA bundle");
    let mut save = Command::new("docker");
    if let Some(host) = &sb.host {
        save.args(["-H", host]);
    }
    let saved = save.args(["save", "dtu-ca-test/dimtensor:base"]).output().unwrap();
    assert!(saved.status.success() && saved.stdout.len() > 1_000_000);
    let contains = |needle: &[u8]| saved.stdout.windows(needle.len()).any(|w| w == needle);
    // The search does read the layers (both engines save them uncompressed): the pinned set
    // the Dockerfile copies in is found.
    assert!(contains(b"dimtensor==5.2.0 \\\n    --hash=sha256:"), "the layers are not searchable");
    assert!(!contains(marker.as_bytes()), "the CA bundle is in a layer");
    assert!(!sb.docker(&["history", "--no-trunc", "dtu-ca-test/dimtensor:base"]).contains(&marker));
    let probe = [
        "run",
        "--rm",
        "dtu-ca-test/dimtensor:base",
        "python",
        "-c",
        "import dimtensor, numpy; print(numpy.__version__)",
    ];
    assert_eq!(sb.docker(&probe), "1.26.4", "the built image works");
    sb.docker(&["rmi", "dtu-ca-test/dimtensor:base", "dtu-ca-test/dimtensor:base-5.2.0"]);
}

#[test]
fn a_failing_build_names_the_step_and_shows_its_log() {
    let _engine = engine_test!();
    let sb = Sandbox::new("badbuild");
    std::fs::write(sb.root.join("config.toml"), "registry = \"dtu-fail-test/dimtensor\"\n").unwrap();
    let out = sb.run(&["build", "base", "--dimtensor-version", "0.0.0.dev0"]);
    out.user_error(4);
    out.says("building dtu-fail-test/dimtensor:base failed");
    out.says("step: [base 6/7]");
    // The hash-locked build refuses a version the lock does not have (docker/pip-install.sh).
    out.says("dimtensor 0.0.0.dev0 is not the version locked");
    assert!(docker(&["images", "-q", "dtu-fail-test/dimtensor"]).is_empty());
}
