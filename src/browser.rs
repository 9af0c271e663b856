//! Opening the URL: $BROWSER when set (the user's explicit choice, even without a display, as
//! cargo does), else the system opener where a browser can show up at all.

use crate::reporter::Reporter;

#[derive(Debug, PartialEq, Eq)]
pub enum BrowserAction {
    /// Run $BROWSER with the URL.
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

/// Opens the URL or explains why not; a failure is a warning, never an error. The browser gets
/// a 0600 page that redirects to the URL (as Jupyter's own launcher does), so the token never
/// shows on a command line, which `ps` shows to every user. Nothing waits for the browser.
pub fn open_url(url: &str, port: u16, reporter: &Reporter) {
    let action = choose(&|k| std::env::var(k).ok(), cfg!(target_os = "linux"));
    if let BrowserAction::Headless(why) = action {
        reporter.note(format!("not opening a browser: {why}. From your own machine: ssh -L {port}:127.0.0.1:{port} THIS-HOST, then open the URL."));
        return;
    }
    let page = match redirect_page(url, port) {
        Ok(p) => p,
        Err(e) => {
            return reporter.warn(format!(
                "cannot write the page for the browser ({}); open the URL yourself",
                e.message
            ))
        }
    };
    let target = page.display().to_string();
    match action {
        BrowserAction::Command(cmd) => {
            // $BROWSER may be "prog --flag" or a colon-separated list (the first entry is used).
            let first = cmd.split(':').next().unwrap_or(&cmd).to_string();
            let mut words = first.split_whitespace();
            let Some(program) = words.next() else { return };
            let spawned = std::process::Command::new(program)
                .args(words)
                .arg(&target)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .spawn();
            if let Err(e) = spawned {
                reporter.warn(format!("cannot run $BROWSER ({program}): {e}; open the URL yourself"));
            }
        }
        BrowserAction::System => {
            if let Err(e) = open::that_detached(&target) {
                reporter.warn(format!("cannot open a browser ({e}); open the URL yourself"));
            }
        }
        BrowserAction::Headless(_) => unreachable!("handled above"),
    }
}

fn redirect_page(url: &str, port: u16) -> crate::error::Result<std::path::PathBuf> {
    let path = crate::token::token_dir()?.join(format!("open-{port}.html"));
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>JupyterLab</title></head>\n<body><p><a href=\"{url}\">Open JupyterLab</a></p></body></html>\n"
    );
    crate::token::write_secret_file(&path, &html, 0o600)?;
    Ok(path)
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
    fn no_display_or_ssh_means_no_attempt() {
        assert!(matches!(choose(&env(&[]), true), BrowserAction::Headless(_)));
        assert!(matches!(
            choose(&env(&[("DISPLAY", ":0"), ("SSH_CONNECTION", "1 2 3 4")]), true),
            BrowserAction::Headless(_)
        ));
        assert_eq!(choose(&env(&[("WAYLAND_DISPLAY", "wayland-0")]), true), BrowserAction::System);
        assert_eq!(choose(&env(&[]), false), BrowserAction::System);
    }
}
