//! The crate's layering, checked on its source: commands build on shared
//! layers and never on each other, and no shared layer reaches up into a
//! command. What two commands share belongs in a layer.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Code lines only: comments say what they like.
fn code(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

/// Lines of a command module (`depth` 1 for `commands/x.rs`, 2 for
/// `commands/x/y.rs`) that reach another command.
fn cross_command_refs(text: &str, depth: usize) -> Vec<String> {
    // From commands/x.rs, `super::` is the commands folder; from
    // commands/x/y.rs, `super::` is x itself and `super::super::` the folder.
    let up_to_commands = "super::".repeat(depth);
    code(text)
        .filter(|(_, l)| l.contains("commands::") || l.contains(&up_to_commands))
        .map(|(n, l)| format!("{n}: {}", l.trim()))
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn commands_never_import_each_other() {
    let commands = src().join("commands");
    let mut offences = Vec::new();
    for file in sources(&commands) {
        let rel = file.strip_prefix(&commands).expect("under commands/");
        if rel == Path::new("mod.rs") {
            continue;
        }
        let depth = rel.components().count();
        // A command's own mod.rs sits a level down but is the command itself.
        let depth = if rel.ends_with("mod.rs") {
            depth - 1
        } else {
            depth
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for line in cross_command_refs(&text, depth) {
            offences.push(format!("commands/{}:{line}", rel.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "a command imports another command; move what they share into a layer:\n{}",
        offences.join("\n")
    );
}

#[test]
fn shared_layers_never_import_commands() {
    let mut offences = Vec::new();
    for layer in ["kernel", "model", "log", "pipeline", "output", "ship"] {
        for file in sources(&src().join(layer)) {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for (n, l) in code(&text).filter(|(_, l)| l.contains("commands::")) {
                offences.push(format!("{}:{n}: {}", file.display(), l.trim()));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

/// The check itself catches what it is for.
#[test]
fn the_check_sees_cross_imports() {
    assert_eq!(
        cross_command_refs("use crate::commands::ps::parent_of;", 1).len(),
        1
    );
    assert_eq!(cross_command_refs("use super::replay::open;", 1).len(), 1);
    assert_eq!(cross_command_refs("use super::super::ps;", 2).len(), 1);
    assert!(cross_command_refs("use super::collect::Report;", 2).is_empty());
    assert!(cross_command_refs("// see commands::ps", 1).is_empty());
    assert!(cross_command_refs("use crate::model::snapshot;", 1).is_empty());
}
