//! Opening the URL: $BROWSER when set (the user's explicit choice, even without a display, as
//! cargo does), else the system opener where a browser can show up at all. The browser is never
//! given the token on its command line (see `HandOffForm`).

use crate::base::reporter::Reporter;

#[derive(Debug, PartialEq, Eq)]
pub enum BrowserAction {
    /// Run $BROWSER's commands with the URL, the first that starts.
    Command(String),
    /// The system opener (xdg-open, open, start).
    System,
    /// No browser can show here: print an ssh -L hint instead.
    Headless(&'static str),
}

/// Pure: what to do, from the environment.
pub fn choose(env: &dyn Fn(&str) -> Option<String>, linux: bool) -> BrowserAction {
    if let Some(cmd) = env("BROWSER").filter(|b| !b.trim().is_empty()) {
        return BrowserAction::Command(cmd);
    }
    if env("SSH_CONNECTION").is_some() || env("SSH_TTY").is_some() {
        return BrowserAction::Headless("this is an SSH session");
    }
    if linux && env("DISPLAY").is_none() && env("WAYLAND_DISPLAY").is_none() {
        return BrowserAction::Headless("there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)");
    }
    BrowserAction::System
}

/// How long the browser has to fetch the hand-off page before it is gone.
const HAND_OFF_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// What the browser is handed instead of the tokenized URL, which would show on its command
/// line (`ps` shows that to every user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOffForm {
    /// Linux: a one-shot address on 127.0.0.1 that redirects to the URL once, only for a
    /// connection of this user, for a short while. Snap-confined browsers (Ubuntu's Firefox and
    /// Chromium) reach it, where they cannot read a page under a hidden folder of the home.
    LocalRedirect,
    /// Elsewhere: a 0600 page that redirects to the URL (as Jupyter's own launcher does).
    Page,
}

impl HandOffForm {
    pub fn for_this_machine() -> HandOffForm {
        match cfg!(target_os = "linux") {
            true => HandOffForm::LocalRedirect,
            false => HandOffForm::Page,
        }
    }
}

/// A browser hand-off in progress; a command that exits right after awaits `settled`.
#[must_use = "await settled() before the process exits, or the browser may find nothing"]
pub struct HandOff(Option<tokio::task::JoinHandle<()>>);

impl HandOff {
    /// Until the browser fetched the page, or the page expired.
    pub async fn settled(self) {
        if let Some(task) = self.0 {
            let _ = task.await;
        }
    }
}

/// Opens the URL or explains why not; a failure is a warning, never an error. Nothing waits
/// for the browser here: the hand-off runs on its own until fetched or expired.
pub fn open_url(url: &str, port: u16, reporter: &Reporter) -> HandOff {
    let action = choose(&|k| std::env::var(k).ok(), cfg!(target_os = "linux"));
    if let BrowserAction::Headless(why) = action {
        reporter.note(format!("not opening a browser: {why}. From your own machine: ssh -L {port}:127.0.0.1:{port} THIS-HOST, then open the URL."));
        return HandOff(None);
    }
    let prepared = match HandOffForm::for_this_machine() {
        HandOffForm::LocalRedirect => one_shot_redirect(url).map(|(address, task)| (address, Some(task))),
        HandOffForm::Page => redirect_page(url, port).map(|page| (page.display().to_string(), None)),
    };
    let (target, task) = match prepared {
        Ok(p) => p,
        Err(e) => {
            reporter.warn(format!(
                "cannot prepare the page for the browser ({}); open the URL yourself",
                e.message
            ));
            return HandOff(None);
        }
    };
    let launched = match action {
        BrowserAction::Command(value) => {
            let mut failures = Vec::new();
            let started = browser_commands(&value, &target).into_iter().any(|argv| {
                let spawned = std::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .spawn();
                spawned.map_err(|e| failures.push(format!("{}: {e}", argv[0]))).is_ok()
            });
            match started {
                true => Ok(()),
                false if failures.is_empty() => Err("$BROWSER is empty".to_string()),
                false => Err(format!("cannot run $BROWSER ({})", failures.join("; "))),
            }
        }
        BrowserAction::System => {
            open::that_detached(&target).map_err(|e| format!("cannot open a browser ({e})"))
        }
        BrowserAction::Headless(_) => unreachable!("handled above"),
    };
    match launched {
        Ok(()) => HandOff(task),
        Err(why) => {
            reporter.warn(format!("{why}; open the URL yourself"));
            if let Some(task) = task {
                task.abort();
            }
            HandOff(None)
        }
    }
}

/// Pure: $BROWSER as the convention has it: a `:`-separated list of commands, tried in order;
/// `%s` in a command stands for the URL (`%%` for a `%`), else the URL is its last argument.
pub fn browser_commands(value: &str, url: &str) -> Vec<Vec<String>> {
    value
        .split(':')
        .filter_map(|command| {
            let mut substituted = false;
            let mut argv: Vec<String> = command
                .split_whitespace()
                .map(|word| {
                    let mut out = String::new();
                    let mut chars = word.chars().peekable();
                    while let Some(c) = chars.next() {
                        match (c, chars.peek()) {
                            ('%', Some('s')) => {
                                chars.next();
                                out.push_str(url);
                                substituted = true;
                            }
                            ('%', Some('%')) => {
                                chars.next();
                                out.push('%');
                            }
                            _ => out.push(c),
                        }
                    }
                    out
                })
                .collect();
            if argv.is_empty() {
                return None;
            }
            if !substituted {
                argv.push(url.to_string());
            }
            Some(argv)
        })
        .collect()
}

fn redirect_page(url: &str, port: u16) -> crate::base::error::Result<std::path::PathBuf> {
    let path = crate::lab::token::token_dir()?.join(format!("open-{port}.html"));
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>JupyterLab</title></head>\n<body><p><a href=\"{url}\">Open JupyterLab</a></p></body></html>\n"
    );
    crate::base::state::write_secret_file(&path, &html, 0o600)?;
    Ok(path)
}

/// Listens on 127.0.0.1 at a random port and path (128 random bits); returns the address for
/// the browser and the task that answers it.
fn one_shot_redirect(url: &str) -> crate::base::error::Result<(String, tokio::task::JoinHandle<()>)> {
    let fail = |e: std::io::Error| {
        crate::base::error::Error::new(crate::base::error::Kind::Config, "cannot listen on 127.0.0.1")
            .cause(e)
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(fail)?;
    let port = listener.local_addr().map_err(fail)?.port();
    let path = format!("/open/{}", crate::base::state::random_hex(16));
    let owner = crate::base::sys::UserSpec::caller().map(|u| u.uid);
    let target = url.to_string();
    let address = format!("http://127.0.0.1:{port}{path}");
    let task = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + HAND_OFF_TTL;
        while let Ok(Ok((stream, peer))) = tokio::time::timeout_at(deadline, listener.accept()).await {
            if answer(stream, peer.port(), port, &path, &target, owner).await {
                return;
            }
        }
    });
    Ok((address, task))
}

/// Answers one connection; true once the redirect went out (the hand-off is then over).
async fn answer(
    mut stream: tokio::net::TcpStream,
    peer_port: u16,
    our_port: u16,
    path: &str,
    target: &str,
    owner: Option<u32>,
) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(5), read_head).await.is_err() {
        return false;
    }
    let requested = String::from_utf8_lossy(&head).split_whitespace().nth(1).map(str::to_string);
    let peer = std::fs::read_to_string("/proc/net/tcp").ok().and_then(|t| peer_uid(&t, peer_port, our_port));
    let (response, done) = respond(requested.as_deref(), peer, path, target, owner);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    done
}

/// Pure: the response to a request for `requested` from a connection of `peer` (its UID).
/// Only this user's connection to the right path gets the URL, and only once.
fn respond(
    requested: Option<&str>,
    peer: Option<u32>,
    path: &str,
    target: &str,
    owner: Option<u32>,
) -> (String, bool) {
    let plain = |status: &str| {
        (format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"), false)
    };
    if requested != Some(path) {
        return plain("404 Not Found");
    }
    if owner.is_none() || peer != owner {
        return plain("403 Forbidden");
    }
    (
        format!("HTTP/1.1 303 See Other\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\r\n"),
        true,
    )
}

/// Pure: the UID owning the client end of a loopback connection from `peer_port` to
/// `our_port`, from /proc/net/tcp.
fn peer_uid(proc_net_tcp: &str, peer_port: u16, our_port: u16) -> Option<u32> {
    crate::spec::ports::parse_proc_net_tcp(proc_net_tcp)
        .into_iter()
        .find(|e| e.local_port == peer_port && e.remote_port == our_port)
        .map(|e| e.uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn browser_variable_wins_even_headless_or_over_ssh() {
        assert_eq!(
            choose(&env(&[("BROWSER", "firefox"), ("SSH_TTY", "/dev/pts/1")]), true),
            BrowserAction::Command("firefox".into())
        );
    }

    #[test]
    fn browser_lists_take_percent_s_and_fall_back_to_the_next() {
        let url = "http://127.0.0.1:9/open/x";
        assert_eq!(browser_commands("firefox", url), vec![vec!["firefox".to_string(), url.into()]]);
        assert_eq!(
            browser_commands("chromium --new-window %s:lynx", url),
            vec![
                vec!["chromium".to_string(), "--new-window".into(), url.into()],
                vec!["lynx".to_string(), url.into()]
            ]
        );
        assert_eq!(
            browser_commands("echo 100%% --url=%s", url),
            vec![vec!["echo".to_string(), "100%".into(), format!("--url={url}")]]
        );
        assert!(browser_commands(" : ", url).is_empty());
    }

    #[test]
    fn no_display_or_ssh_means_no_attempt() {
        assert!(matches!(choose(&env(&[]), true), BrowserAction::Headless(_)));
        assert!(matches!(
            choose(&env(&[("DISPLAY", ":0"), ("SSH_CONNECTION", "1 2 3 4")]), true),
            BrowserAction::Headless(_)
        ));
        assert_eq!(choose(&env(&[("WAYLAND_DISPLAY", "wayland-0")]), true), BrowserAction::System);
        assert_eq!(choose(&env(&[]), false), BrowserAction::System);
    }

    const PROC_NET_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A3F1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  4321        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A3F1 0100007F:D431 01 00000000:00000000 00:00000000 00000000  4321        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:A3F1 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn the_peer_is_the_client_end_of_the_connection() {
        // We listen on 0xA3F1; the browser connected from 0xD431 as UID 1000.
        assert_eq!(peer_uid(PROC_NET_TCP, 0xD431, 0xA3F1), Some(1000));
        assert_eq!(peer_uid(PROC_NET_TCP, 0xD432, 0xA3F1), None);
        assert_eq!(peer_uid("", 1, 2), None);
    }

    #[test]
    fn only_the_owner_gets_the_url_and_only_at_the_path() {
        let url = "http://127.0.0.1:8888/lab?token=abc";
        let (ok, done) = respond(Some("/open/n"), Some(1000), "/open/n", url, Some(1000));
        assert!(
            ok.starts_with("HTTP/1.1 303")
                && ok.contains("\r\nLocation: http://127.0.0.1:8888/lab?token=abc\r\n")
        );
        assert!(
            ok.contains("Cache-Control: no-store") && ok.contains("Referrer-Policy: no-referrer") && done
        );
        for (requested, peer, owner) in [
            (Some("/open/n"), Some(4321), Some(1000)),
            (Some("/open/n"), None, Some(1000)),
            (Some("/open/n"), None, None),
            (Some("/favicon.ico"), Some(1000), Some(1000)),
            (None, Some(1000), Some(1000)),
        ] {
            let (r, done) = respond(requested, peer, "/open/n", url, owner);
            assert!(!r.contains("token") && !done, "{requested:?} {peer:?}: {r}");
        }
    }
}
