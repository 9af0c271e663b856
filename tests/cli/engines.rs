//! Other engines: rootless Docker, rootless and rootful Podman (tests/support/engines.sh, as
//! root; DTU_SKIP_OTHER_ENGINES says why not): files, users, loopback and reuse on each, compose,
//! Podman's GPUs through CDI, discovery past a socket the user may not use, and twenty starts at
//! once from two users. Needs the Docker engine.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

#[test]
fn every_engine_keeps_files_the_users_serves_on_loopback_and_reuses() {
    let _engine = engine_test!();
    for engine in other_engines() {
        let sb = Sandbox::on_engine(&format!("eng-{}", engine.name.replace(' ', "-")), &engine);
        let mine = sb.work.join("mine.txt");
        std::fs::write(&mine, "mine\n").unwrap();
        std::fs::set_permissions(&mine, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        if sb.as_test_user {
            std::os::unix::fs::chown(&mine, Some(sb.uid()), Some(sb.uid())).unwrap();
        }
        let out = sb.start_base_lab(&[]).ok();
        let url = out.last_line().to_string();
        let what = format!("{}: {}", engine.name, out.stderr);

        let check = jupyter_client_check(&url);
        assert_eq!(
            (check["status_with_token"].as_u64(), check["status_without_token"].as_u64()),
            (Some(200), Some(403)),
            "{what} {check}"
        );
        assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{what} {check}");
        let written = sb.work.join("from-jupyter.txt");
        assert_eq!(owner(&written), sb.uid(), "{what}: a file JupyterLab writes is the user's");
        // The user's own file (mode 600) is readable and writable from the kernel.
        let (output, error) = run_in_kernel(
            &url,
            "p = '/home/dimtensor/work/mine.txt'\nprint(open(p).read().strip())\nopen(p, 'a').write('and the kernel\\n')\nopen('/home/dimtensor/work/from-kernel.txt', 'w').write('x')",
        );
        assert_eq!((output.trim(), error), ("mine", None), "{what}");
        assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine\nand the kernel\n", "{what}");
        assert_eq!((owner(&mine), owner(&sb.work.join("from-kernel.txt"))), (sb.uid(), sb.uid()), "{what}");

        let name = sb.container_name();
        let ports = sb.docker(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &name]);
        assert!(ports.contains("\"HostIp\":\"127.0.0.1\"") && !ports.contains("0.0.0.0"), "{what}: {ports}");
        assert!(!sb.docker(&["inspect", &name]).contains(token_of(&url)), "{what}: inspect shows no token");

        let again = sb.start_base_lab(&[]).ok();
        assert_eq!(again.last_line(), url, "{what}: reuse");
        again.says("already runs");
        sb.run(&["stop"]).ok();
        assert!(sb.leftovers().is_empty(), "{what}: stop removes the container");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "written by the contents API\n");

        // kill -9 of a foreground launcher, then a new start reuses the server it left.
        let (mut child, url) = spawn_foreground(&sb, &[]);
        signal(&child, "KILL");
        wait_exit(&mut child, Duration::from_secs(10));
        assert_eq!(sb.start_base_lab(&[]).ok().last_line(), url, "{what}: reuse after kill -9");
        sb.run(&["stop"]).ok();
        assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "{what}");
    }
}

#[test]
fn compose_up_works_on_every_engine() {
    let _engine = engine_test!();
    for engine in other_engines() {
        let sb = Sandbox::on_engine(&format!("engc-{}", engine.name.replace(' ', "-")), &engine);
        let out = sb.compose_up().ok();
        let url = out.last_line().to_string();
        let what = format!("{}: {}", engine.name, out.stderr);
        let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
        assert_eq!(yaml.contains("userns_mode: keep-id"), engine.name == "rootless Podman", "{what}\n{yaml}");
        assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200), "{what}");
        let (_, error) = run_in_kernel(&url, "open('/home/dimtensor/work/compose.txt', 'w').write('x')");
        assert_eq!(error, None, "{what}");
        assert_eq!(owner(&sb.work.join("compose.txt")), sb.uid(), "{what}");
        let compose = std::env::var("DTU_COMPOSE").unwrap_or_else(|_| "docker-compose".into());
        let down = Command::new(compose)
            .args(["-f", "compose.yaml", "down"])
            .current_dir(&sb.work)
            .env("DOCKER_HOST", &engine.host)
            .output()
            .unwrap();
        assert!(down.status.success(), "{what}: {}", String::from_utf8_lossy(&down.stderr));
        assert!(sb.leftovers().is_empty(), "{what}");
        assert!(sb.work.join("compose.txt").exists(), "{what}: down keeps files");
    }
}

#[test]
fn podman_gets_gpus_through_cdi_and_never_silently_without() {
    let _engine = engine_test!();
    let Some(podman) = other_engines().into_iter().find(|e| e.name == "rootless Podman") else { return };
    let sb = Sandbox::on_engine("podmangpu", &podman);
    let run = |gpus: &str| {
        Out::from(
            sb.cmd(&[
                "run",
                "jupyter-base",
                "--gpus",
                gpus,
                "--pull",
                "never",
                "--",
                "sh",
                "-c",
                "echo ${DTU_CDI_DEVICE:-none} ${NVIDIA_VISIBLE_DEVICES:-unset}",
            ])
            .env("PATH", StubSmi::ONE.path())
            .output()
            .unwrap(),
        )
    };
    // The stand-in CDI spec marks the devices it was asked for (tests/support/engines.sh).
    assert_eq!(run("all").ok().stdout.trim(), "all unset", "Podman got nvidia.com/gpu=all");
    assert_eq!(run("device=0").ok().stdout.trim(), "0 unset");
    assert_eq!(run("none").ok().stdout.trim(), "none void");
    let doctor =
        Out::from(sb.cmd(&["doctor", "--json"]).env("PATH", StubSmi::ONE.path()).output().unwrap()).ok();
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    assert_eq!(
        (report["engine"]["product"].as_str(), report["engine"]["rootless"].as_bool()),
        (Some("podman"), Some(true))
    );
    assert_eq!(report["gpu"]["engine"]["form"], "cdi");
    assert_eq!(report["gpu"]["usable"], true, "{}", doctor.stdout);
    // A GPU index the host does not have is an error before Podman is asked.
    run("device=3").user_error(7);
    assert!(sb.leftovers().is_empty());
}

#[test]
fn discovery_passes_over_a_socket_the_user_may_not_use() {
    let _engine = engine_test!();
    let engines = other_engines();
    if engines.is_empty() || !is_root() {
        return;
    }
    let mut sb = Sandbox::new("discover");
    sb.without_docker_group = true;
    sb.runtime_dir = Some(PathBuf::from(&engines[0].runtime_dir));
    let report = |sb: &Sandbox| -> serde_json::Value {
        serde_json::from_str(&sb.run(&["doctor", "--json"]).ok().stdout).unwrap()
    };
    let r = report(&sb);
    assert_eq!(r["engine"]["address"], engines[0].host, "rootless Docker: {r}");
    assert_eq!(r["engine"]["chosen_by"], "default");
    assert_eq!(r["engine"]["tried"][0]["address"], "unix:///var/run/docker.sock");
    assert_eq!(r["engine"]["tried"][0]["problem"], "permission denied");
    assert_eq!(
        (r["engine"]["product"].as_str(), r["engine"]["rootless"].as_bool()),
        (Some("docker"), Some(true))
    );
    let text = sb.run(&["doctor"]).ok().stdout;
    assert!(
        text.contains("tried       unix:///var/run/docker.sock (rootful Docker): permission denied"),
        "{text}"
    );

    // Only Podman's socket in the runtime folder: Podman is found, and said to be rootless.
    let only_podman = sb.root.join("xdg");
    std::fs::create_dir_all(only_podman.join("podman")).unwrap();
    std::os::unix::fs::symlink(
        engines[1].host.trim_start_matches("unix://"),
        only_podman.join("podman/podman.sock"),
    )
    .unwrap();
    Command::new("chown").args(["-R", &format!("{TEST_UID}:{TEST_UID}")]).arg(&only_podman).status().unwrap();
    sb.runtime_dir = Some(only_podman);
    let r = report(&sb);
    assert_eq!(
        (r["engine"]["product"].as_str(), r["engine"]["rootless"].as_bool()),
        (Some("podman"), Some(true)),
        "{r}"
    );

    // Nothing usable: one error naming each socket, and the hint that fits (the docker group).
    sb.runtime_dir = Some(sb.root.join("empty"));
    let out = sb.run(&["ps"]);
    out.user_error(3);
    out.says("no container engine answers");
    out.says("unix:///var/run/docker.sock (rootful Docker): permission denied");
    out.says("docker group");
}

#[test]
fn twenty_simultaneous_starts_from_two_users_all_get_their_own_port() {
    let _engine = engine_test!();
    let other_uid = TEST_UID + 7;
    let boxes: Vec<Sandbox> = (0..20)
        .map(|i| {
            Sandbox::for_user(&format!("many{i}"), "work", if i % 2 == 0 { TEST_UID } else { other_uid })
        })
        .collect();
    for (i, sb) in boxes.iter().enumerate() {
        std::fs::write(sb.work.join(format!("marker-{i}.txt")), "x").unwrap();
    }
    let args = ["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
    // Twenty folders, and two extra starts racing in the first one.
    let children: Vec<Child> = boxes
        .iter()
        .map(|sb| sb.cmd(&args))
        .chain([boxes[0].cmd(&args), boxes[0].cmd(&args)])
        .map(|mut c| c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let outs: Vec<Out> = children.into_iter().map(|c| Out::from(c.wait_with_output().unwrap())).collect();
    let failed: Vec<&str> = outs.iter().filter(|o| o.code != 0).map(|o| o.stderr.as_str()).collect();
    assert!(failed.is_empty(), "every start succeeds: {failed:?}");
    let urls: Vec<&str> = outs.iter().map(Out::last_line).collect();
    assert_eq!((urls[20], urls[21]), (urls[0], urls[0]), "one server for the first folder");
    let mut ports: Vec<u16> = urls[..20].iter().map(|u| port_of(u)).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 20, "twenty distinct ports: {urls:?}");
    for (i, url) in urls[..20].iter().enumerate() {
        let path = format!("/api/contents/work/marker-{i}.txt");
        assert_eq!(
            http_status(port_of(url), &path, Some(token_of(url))),
            Some(200),
            "server {i} serves its own folder"
        );
    }
    for sb in &boxes {
        assert_eq!(sb.servers_here().len(), 1, "{}", sb.work.display());
    }
}

/// The engine's socket served at `path` for `uid` alone (as a laptop VM's socket in its home
/// folder is): a relay to the real engine, so discovery finds it where the VM puts it.
fn relay_engine_socket(path: &std::path::Path, uid: u32) {
    use std::os::unix::net::{UnixListener, UnixStream};
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(path).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else { continue };
            let pipe = |mut from: UnixStream, mut to: UnixStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                })
            };
            pipe(client.try_clone().unwrap(), engine.try_clone().unwrap());
            pipe(engine, client);
        }
    });
}

#[test]
fn laptop_vms_are_found_in_the_home_folder_named_and_keep_files_the_users() {
    let _engine = engine_test!();
    if !is_root() {
        eprintln!("skipped: the laptop-VM discovery test serves sockets for a test user (run as root)");
        return;
    }
    // The VMs that run on Linux too; OrbStack's and podman machine's places (macOS only) are
    // unit-tested in engine::discover.
    for (vm, kebab, socket) in [
        ("Colima", "colima", ".colima/default/docker.sock"),
        ("Rancher Desktop", "rancher-desktop", ".rd/docker.sock"),
        ("Lima", "lima", ".lima/docker/sock/docker.sock"),
    ] {
        let mut sb = Sandbox::new(&format!("vm-{kebab}"));
        // Without the docker group the rootful socket is refused, and an empty runtime folder
        // hides the rootless engines (engines.sh runs them for this user): discovery goes on to
        // the VM's socket.
        sb.without_docker_group = true;
        let runtime_dir = sb.root.join("xdg-empty");
        std::fs::create_dir_all(&runtime_dir).unwrap();
        sb.runtime_dir = Some(runtime_dir);
        let path = sb.root.join(socket);
        relay_engine_socket(&path, sb.uid());
        Command::new("chown").args(["-R", &format!("{0}:{0}", sb.uid())]).arg(&sb.root).status().unwrap();
        let doctor = sb.run(&["doctor", "--json"]).ok();
        let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
        assert_eq!(report["engine"]["address"], format!("unix://{}", path.display()), "{vm}: {report}");
        assert_eq!(report["engine"]["vm"], kebab, "{report}");
        let tried = report["engine"]["tried"].as_array().unwrap();
        assert_eq!(tried.last().unwrap()["label"], vm, "{report}");
        assert!(sb.run(&["doctor"]).ok().stdout.contains(&format!("  vm          {vm}: ")), "{vm}");

        let url = sb.start_base_lab(&[]).ok().last_line().to_string();
        let saved = jupyter_client(&url, "save", &["work/from-the-vm.ipynb"]);
        assert_eq!(saved["work/from-the-vm.ipynb"]["status"], 201, "{vm}: {saved}");
        assert_eq!(owner(&sb.work.join("from-the-vm.ipynb")), sb.uid(), "{vm}: the file is the user's");
        sb.run(&["stop"]).ok();
        assert!(sb.leftovers().is_empty(), "{vm}");
        let _ = std::fs::remove_file(&path);
    }
}
