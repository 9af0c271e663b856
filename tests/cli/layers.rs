//! The floors of src/, as lib.rs declares them, checked file by file: every path a file names
//! (`crate::`, `super::`, `self::`, a child module, grouped `use a::{b, c::d}` trees) outside
//! test modules goes to a module on the same floor or below, no two files form a cycle, and no
//! command uses another command. Needs nothing but the source; the tests at the bottom prove
//! that each rule can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path: `["lab", "start"]` for src/lab/start.rs, `[]` for lib.rs.
type ModPath = Vec<String>;

/// The floor of each unit, from lib.rs: `// floor N (also a::b)` opens a floor; `mod x;` lines
/// under it belong to it.
fn floors(lib_rs: &str) -> BTreeMap<String, u32> {
    let mut floors = BTreeMap::new();
    let mut current = None;
    for line in lib_rs.lines().map(str::trim) {
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

/// The module path of a file under src/.
fn module_of(relative: &str) -> ModPath {
    let mut parts: Vec<String> = relative.trim_end_matches(".rs").split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The unit a module belongs to for the floor rules: a submodule with its own floor
/// (`engine::model`), one command (`commands::jupyter`), else its top folder; lib.rs is the root.
fn unit_of(module: &[String], floors: &BTreeMap<String, u32>) -> String {
    match module {
        [] => "lib".into(),
        [top, sub, ..] if top == "commands" => format!("commands::{sub}"),
        [top, sub, ..] if floors.contains_key(&format!("{top}::{sub}")) => format!("{top}::{sub}"),
        [top, ..] => top.clone(),
    }
}

fn floor_of(unit: &str, floors: &BTreeMap<String, u32>) -> u32 {
    if unit == "lib" {
        return u32::MAX;
    }
    let top = unit.split("::").next().unwrap();
    floors
        .get(unit)
        .or_else(|| floors.get(top))
        .copied()
        .unwrap_or_else(|| panic!("{unit} is on no floor: lib.rs must declare it under a `// floor N` line"))
}

/// The code of a file without comments, string and char literals, and `#[cfg(test)]` modules.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !prev_is_ident(&chars, i) {
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let closing: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while j < chars.len() && !chars[j..].iter().collect::<String>().starts_with(&closing) {
                j += 1;
            }
            i = j + closing.len();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_test_modules(&out)
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn without_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        if !after.starts_with("mod ") {
            rest = &rest[at + 1..];
            out.push('#');
            continue;
        }
        let open = after.find('{').expect("a test module's body");
        let mut depth = 0;
        let mut end = after.len();
        for (k, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Splits `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand_tree(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else { return vec![tree] };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').expect("a closing brace")];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(expand_tree)
        .map(|p| if p == "self" { prefix.trim_end_matches("::").to_string() } else { format!("{prefix}{p}") })
        .collect()
}

/// Every path the code names that may lead to another module of the crate: the expanded trees
/// of `use` items, and `a::b` paths elsewhere.
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code.to_string();
    // `use` items first (also `pub use`, `pub(crate) use`), then removed from the code.
    while let Some(at) = find_word(&rest, "use") {
        let end = at + rest[at..].find(';').expect("a use item ends with ;");
        paths.extend(expand_tree(rest[at + 3..end].trim()));
        rest.replace_range(at..=end, " ");
    }
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    for word in rest.split(|c: char| !is_path_char(c)) {
        if word.contains("::") && !word.starts_with("::") {
            paths.push(word.to_string());
        }
    }
    paths
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(k) = text[from..].find(word) {
        let at = from + k;
        let before = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let after = bytes.get(at + word.len()).is_some_and(|b| b.is_ascii_whitespace() || *b == b'{');
        if before && after {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// The module a path names, from the file it is written in: the longest module of `known`
/// that the path starts with, after `crate::`, `super::`, `self::` or a child module's name.
fn resolve(path: &str, own: &[String], known: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).map(str::to_string).peekable();
    let mut base: ModPath = match segments.peek().map(String::as_str) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("super") => {
            let mut base = own.to_vec();
            while segments.peek().map(String::as_str) == Some("super") {
                segments.next();
                base.pop();
            }
            base
        }
        Some("self") => {
            segments.next();
            own.to_vec()
        }
        Some(first) => {
            let mut child = own.to_vec();
            child.push(first.to_string());
            if !known.contains(&child) {
                return None;
            }
            own.to_vec()
        }
        None => return None,
    };
    let mut found = known.contains(&base).then(|| base.clone());
    for segment in segments {
        base.push(segment);
        if !known.contains(&base) {
            break;
        }
        found = Some(base.clone());
    }
    found
}

/// What is wrong with a tree of source files (path under src/ → text): imports up the floors,
/// commands using commands, and cycles between files.
fn problems(lib_rs: &str, files: &BTreeMap<String, String>) -> Vec<String> {
    let floors = floors(lib_rs);
    let known: BTreeSet<ModPath> = files.keys().map(|f| module_of(f)).collect();
    let mut wrong = Vec::new();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (file, text) in files {
        let own = module_of(file);
        let unit = unit_of(&own, &floors);
        for path in named_paths(&code_only(text)) {
            let Some(target) = resolve(&path, &own, &known) else { continue };
            if target == own || target.is_empty() {
                continue;
            }
            let target_unit = unit_of(&target, &floors);
            if target_unit != unit && !(unit.starts_with("commands::") && target_unit == "commands") {
                let (from, to) = (floor_of(&unit, &floors), floor_of(&target_unit, &floors));
                if to > from {
                    wrong.push(format!("{file} (floor {from}) uses {target_unit} (floor {to}): up"));
                }
                if unit.starts_with("commands::") && target_unit.starts_with("commands::") {
                    wrong.push(format!("{file} uses {target_unit}: commands never use one another"));
                }
            }
            edges.entry(own.clone()).or_default().insert(target);
        }
    }
    wrong.sort();
    wrong.dedup();
    if let Some(cycle) = first_cycle(&edges) {
        let names: Vec<String> =
            cycle.iter().map(|m| if m.is_empty() { "lib".into() } else { m.join("::") }).collect();
        wrong.push(format!("a cycle between files: {}", names.join(" → ")));
    }
    wrong
}

fn first_cycle(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Option<Vec<ModPath>> {
    fn visit(
        node: &ModPath,
        edges: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
    ) -> Option<Vec<ModPath>> {
        if let Some(at) = stack.iter().position(|m| m == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if !done.insert(node.clone()) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn source_tree(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_tree(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.insert(relative, std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_import_goes_down_the_floors_with_no_cycle_and_no_command_uses_another() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    source_tree(&root, &root, &mut files);
    // main.rs is the binary: it names only the library.
    let main_rs = files.remove("main.rs").unwrap();
    assert!(!main_rs.contains("mod "), "main.rs stays thin: {main_rs}");
    let lib_rs = files["lib.rs"].clone();
    let floors = floors(&lib_rs);
    assert!(
        floors.len() >= 9 && floors.contains_key("engine::model"),
        "lib.rs declares the floors: {floors:?}"
    );
    // Every top folder and file of src/ is on a floor.
    for file in files.keys() {
        let top = module_of(file);
        if let Some(top) = top.first() {
            floor_of(top, &floors);
        }
    }
    let wrong = problems(&lib_rs, &files);
    assert!(wrong.is_empty(), "against the floors:\n{}", wrong.join("\n"));
}

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
}

const LIB: &str = "// floor 0\nmod base;\n// floor 1 (also engine::model)\nmod lab;\n// floor 2\nmod engine;\n// floor 6\nmod commands;\n";

#[test]
fn the_checker_sees_an_upward_import_in_a_grouped_use() {
    let files = tree(&[
        ("lib.rs", LIB),
        ("base/mod.rs", "pub mod error;"),
        ("base/error.rs", "use crate::{base::error::X, lab::{start::Y, token}};"),
        ("lab/mod.rs", ""),
        ("lab/start.rs", ""),
        ("lab/token.rs", ""),
    ]);
    let wrong = problems(LIB, &files);
    assert_eq!(wrong, vec!["base/error.rs (floor 0) uses lab (floor 1): up"]);
}

#[test]
fn the_checker_sees_a_command_using_another_through_super() {
    let files = tree(&[
        ("lib.rs", LIB),
        ("commands/mod.rs", ""),
        (
            "commands/stop.rs",
            "fn f() { super::open::x(); }\n// crate::engine in a comment\nconst S: &str = \"crate::engine\";",
        ),
        ("commands/open.rs", ""),
    ]);
    assert_eq!(
        problems(LIB, &files),
        vec!["commands/stop.rs uses commands::open: commands never use one another"]
    );
}

#[test]
fn the_checker_sees_a_cycle_between_two_files_of_one_folder() {
    let files = tree(&[
        ("lib.rs", LIB),
        ("lab/mod.rs", "pub mod serve;\npub mod start;"),
        ("lab/serve.rs", "use super::start::Started;"),
        ("lab/start.rs", "fn f() { super::super::lab::serve::open_tunnel(); }"),
    ]);
    assert_eq!(problems(LIB, &files), vec!["a cycle between files: lab::serve → lab::start → lab::serve"]);
}

#[test]
fn the_checker_sees_a_child_module_named_bare_and_ignores_test_modules() {
    let files = tree(&[
        ("lib.rs", LIB),
        (
            "engine/mod.rs",
            "pub mod model;\nfn f() { model::x(); }\n#[cfg(test)]\nmod tests { use crate::commands::x; }",
        ),
        ("engine/model.rs", "use crate::engine::Engine;"),
        ("commands/mod.rs", ""),
    ]);
    // engine::model (floor 1) may not use engine (floor 2), and the two files form a cycle; the
    // test module's use of commands is not counted.
    assert_eq!(
        problems(LIB, &files),
        vec![
            "engine/model.rs (floor 1) uses engine (floor 2): up".to_string(),
            "a cycle between files: engine → engine::model → engine".to_string(),
        ]
    );
}
