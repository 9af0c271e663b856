//! The floors of src/, as main.rs declares them: every `crate::`/`super::` path outside test
//! modules goes to a module on the same floor or below, the modules form no cycle, and no
//! command uses another command. Needs nothing but the source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floor of each module, from main.rs: `// floor N (also a::b)` opens a floor; `mod x;` lines
/// under it belong to it.
fn floors(main_rs: &str) -> BTreeMap<String, u32> {
    let mut floors = BTreeMap::new();
    let mut current = None;
    for line in main_rs.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("// floor ") {
            let (n, also) = rest.split_once(' ').unwrap_or((rest, ""));
            let n: u32 = n.parse().expect("a floor number");
            current = Some(n);
            if let Some(list) = also.strip_prefix("(also ").and_then(|l| l.strip_suffix(')')) {
                for module in list.split(',') {
                    floors.insert(module.trim().to_string(), n);
                }
            }
        } else if let (Some(name), Some(n)) =
            (line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')), current)
        {
            floors.insert(name.to_string(), n);
        }
    }
    floors
}

/// The module a file is: `lab/start.rs` is part of `lab`, except where a submodule has its own
/// floor (`engine::model`) or is a command (`commands::jupyter`).
fn unit_of(path: &Path, floors: &BTreeMap<String, u32>) -> String {
    let parts: Vec<String> =
        path.with_extension("").iter().map(|p| p.to_string_lossy().to_string()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| *p != "mod").collect();
    match parts.as_slice() {
        ["main"] => "main".into(),
        ["commands", command, ..] => format!("commands::{command}"),
        [top, sub, ..] if floors.contains_key(&format!("{top}::{sub}")) => format!("{top}::{sub}"),
        [top, ..] => top.to_string(),
        [] => unreachable!(),
    }
}

/// The unit a path names, from the file it is written in.
fn target_of(path: &[&str], floors: &BTreeMap<String, u32>) -> Option<String> {
    match path {
        ["commands", command, ..] => Some(format!("commands::{command}")),
        [top, sub, ..] if floors.contains_key(&format!("{top}::{sub}")) => Some(format!("{top}::{sub}")),
        [top, ..] if floors.contains_key(*top) => Some(top.to_string()),
        _ => None,
    }
}

fn floor_of(unit: &str, floors: &BTreeMap<String, u32>) -> u32 {
    if unit == "main" || unit.starts_with("commands::") {
        return floors["commands"];
    }
    floors[unit]
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::a::b` and `super::a` paths in code (comments and test modules left out), as the
/// module paths they name from the file's own module path.
fn uses(text: &str, own_path: &[String]) -> Vec<Vec<String>> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or("")
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let words: Vec<&str> = code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).collect();
    for word in words {
        let segments: Vec<&str> = word.split("::").filter(|s| !s.is_empty()).collect();
        match segments.first() {
            Some(&"crate") => found.push(segments[1..].iter().map(|s| s.to_string()).collect()),
            Some(&"super") => {
                let mut base = own_path[..own_path.len().saturating_sub(1)].to_vec();
                let mut rest = &segments[1..];
                while rest.first() == Some(&"super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().map(|s| s.to_string()));
                found.push(base);
            }
            _ => {}
        }
    }
    found
}

#[test]
fn every_import_goes_down_the_floors_and_no_command_uses_another() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let floors = floors(&std::fs::read_to_string(root.join("main.rs")).unwrap());
    assert!(
        floors.len() > 20 && floors.contains_key("engine::model"),
        "main.rs declares the floors: {floors:?}"
    );
    let mut files = Vec::new();
    source_files(&root, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let unit = unit_of(relative, &floors);
        let own_path: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().to_string())
            .filter(|p| p != "mod" && p != "main")
            .collect();
        let text = std::fs::read_to_string(file).unwrap();
        for path in uses(&text, &own_path) {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let Some(target) = target_of(&path, &floors) else { continue };
            if target == unit || (unit.starts_with("commands::") && target == "commands") {
                continue;
            }
            let (from, to) = (floor_of(&unit, &floors), floor_of(&target, &floors));
            if to > from {
                wrong.push(format!("{} (floor {from}) uses {target} (floor {to}): up", relative.display()));
            }
            if unit.starts_with("commands::") && target.starts_with("commands::") {
                wrong.push(format!("{} uses {target}: commands never use one another", relative.display()));
            }
            edges.entry(unit.clone()).or_default().insert(target);
        }
    }
    assert!(wrong.is_empty(), "imports against the floors:\n{}", wrong.join("\n"));
    // No cycles, also among modules of one floor.
    fn visit(
        unit: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|u| u == unit) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(unit.to_string());
            return Some(cycle);
        }
        if done.contains(unit) {
            return None;
        }
        stack.push(unit.to_string());
        for next in edges.get(unit).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(unit.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for unit in edges.keys() {
        if let Some(cycle) = visit(unit, &edges, &mut Vec::new(), &mut done) {
            panic!("an import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_checker_sees_a_wrong_import() {
    // The rules above must be able to fail: an upward path and a sideways command are found.
    let floors = floors(
        "// floor 0\nmod error;\n// floor 2 (also engine::model)\nmod gpu;\n// floor 7\nmod commands;\n",
    );
    assert_eq!(floors["engine::model"], 2);
    let paths = uses(
        "use crate::commands::jupyter::run;\nfn f() { super::open::x(); }\n// crate::gpu in a comment\n",
        &["commands".into(), "stop".into()],
    );
    let targets: Vec<Option<String>> =
        paths.iter().map(|p| target_of(&p.iter().map(String::as_str).collect::<Vec<_>>(), &floors)).collect();
    assert_eq!(targets, vec![Some("commands::jupyter".into()), Some("commands::open".into())]);
    assert!(floor_of("gpu", &floors) < floor_of("commands::stop", &floors));
}
