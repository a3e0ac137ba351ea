//! The crate's layering, checked on its source: commands build on shared
//! layers and never on each other; each layer imports only the layers
//! `lib.rs` lists before it; no two files of `tracer/src` or `xtask/src`
//! import each other, even through others; no file (of tracer/src,
//! tracer/tests, xtask/src, tracer-common or tracer-ebpf) is over 700
//! lines of code (its trailing unit tests aside); a module is `foo.rs` or
//! `foo/mod.rs`, never both. What two commands share belongs in a layer.
//!
//! The import graph comes from a line-based reading of the source, which
//! is enough for this codebase (rustfmt-formatted, no macros that build
//! paths): an edge is a `use` or a path (`crate::a::b`, `super::x`,
//! `self::x`, a child module's name, a module imported by `use`) from one
//! file to another. A parent's `mod` declarations and its `pub use` of its
//! own descendants do not count (a name it re-exports leads to the file
//! that defines it, so no circle hides behind one), nor does a trailing
//! `#[cfg(test)] mod tests` block (unit tests may use their neighbours, as
//! the line count leaves them aside too). Another inline module
//! (`mod x {`) is taken to run to the end of its file.

mod imports;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use imports::*;

/// Groups of files that import each other (strongly connected components
/// of more than one file), each as its files and the import lines.
fn cycles(tree: &Tree) -> Vec<String> {
    let edges = tree.edges();
    let n = tree.files.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges.keys() {
        next[a].push(b);
    }
    // Tarjan's algorithm; the graphs are small enough to recurse.
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on: Vec<bool>,
        count: usize,
        groups: Vec<Vec<usize>>,
    }
    fn visit(v: usize, next: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.count);
        s.low[v] = s.count;
        s.count += 1;
        s.stack.push(v);
        s.on[v] = true;
        for &w in &next[v] {
            match s.index[w] {
                None => {
                    visit(w, next, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on[w] = false;
                group.push(w);
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                s.groups.push(group);
            }
        }
    }
    let mut s = State {
        index: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on: vec![false; n],
        count: 0,
        groups: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(v, &next, &mut s);
        }
    }
    s.groups
        .into_iter()
        .map(|group| {
            let members: BTreeSet<usize> = group.into_iter().collect();
            let mut lines: Vec<String> = edges
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|(_, l)| format!("  {l}"))
                .collect();
            lines.sort();
            let names: Vec<String> = members.iter().map(|&f| tree.rel(f)).collect();
            format!("{}:\n{}", names.join(" <-> "), lines.join("\n"))
        })
        .collect()
}

/// The layers `lib.rs` lists (`//! - [`name`]`), bottom first.
fn stated_layers(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .filter_map(|l| l.split_once("`]").map(|(name, _)| name.to_string()))
        .collect()
}

/// The layer of a file: its top-level module (`lib`, `main` for the roots).
fn layer_of(rel: &Path) -> String {
    let first = rel.components().next().expect("a path");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Imports that reach a layer above the importer's, in the `order` stated
/// (bottom first; `main` sits above them all and `lib` declares them).
fn upward_imports(tree: &Tree, order: &[String]) -> Vec<String> {
    let rank = |rel: &Path| -> Option<usize> {
        match layer_of(rel).as_str() {
            "main" | "lib" => Some(order.len()),
            l => order.iter().position(|o| o == l),
        }
    };
    let mut out = Vec::new();
    for (rel, _) in &tree.files {
        if rank(rel).is_none() {
            out.push(format!(
                "{}: its layer is not listed in lib.rs",
                rel.display()
            ));
        }
    }
    for ((a, b), line) in tree.edges() {
        let (ra, rb) = (rank(&tree.files[a].0), rank(&tree.files[b].0));
        if let (Some(ra), Some(rb)) = (ra, rb) {
            if rb > ra {
                out.push(format!("{line}  (reaches {})", tree.rel(b)));
            }
        }
    }
    out
}

const MAX_CODE_LINES: usize = 700;

fn oversized(files: &[(PathBuf, String)], root: &str) -> Vec<String> {
    files
        .iter()
        .map(|(rel, text)| (rel, code_lines(text)))
        .filter(|(_, n)| *n > MAX_CODE_LINES)
        .map(|(rel, n)| format!("{root}/{}: {n} lines of code", rel.display()))
        .collect()
}

/// `foo.rs` beside a `foo/` folder, among relative file paths.
fn mixed_module_styles(files: &[PathBuf]) -> Vec<String> {
    let dirs: BTreeSet<PathBuf> = files
        .iter()
        .flat_map(|f| f.ancestors().skip(1).map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    dirs.iter()
        .filter(|d| files.contains(&d.with_extension("rs")))
        .map(|d| format!("{}.rs beside {}/", d.display(), d.display()))
        .collect()
}

// ---------------------------------------------------------------- checks --

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
    for layer in [
        "kernel", "live", "model", "log", "pipeline", "output", "ship", "dev",
    ] {
        let dir = src().join(layer);
        if !dir.exists() {
            continue;
        }
        for file in sources(&dir) {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for (n, l) in code(&text).filter(|(_, l)| l.contains("commands::")) {
                offences.push(format!("{}:{n}: {}", file.display(), l.trim()));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn layers_import_only_those_below_them() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let order = stated_layers(&lib);
    assert!(
        order.len() > 3,
        "lib.rs lists its layers as `//! - [`name`]`"
    );
    let offences = upward_imports(&Tree::load("tracer", &src()), &order);
    assert!(
        offences.is_empty(),
        "an import against the layer order lib.rs states ({}):\n{}",
        order.join(" < "),
        offences.join("\n")
    );
}

#[test]
fn no_import_cycle_among_tracer_files() {
    let found = cycles(&Tree::load("tracer", &src()));
    assert!(
        found.is_empty(),
        "files importing each other:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_import_cycle_among_xtask_files() {
    let found = cycles(&Tree::load("xtask", &xtask_src()));
    assert!(
        found.is_empty(),
        "files importing each other:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_file_over_700_lines_of_code() {
    let mut offences = oversized(&read_tree(&src()), "tracer/src");
    offences.extend(oversized(&read_tree(&xtask_src()), "xtask/src"));
    // The tests and the other crates hold to the same bound.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["tests", "../tracer-common/src", "../tracer-ebpf/src"] {
        let name = dir.trim_start_matches("../");
        let name = if name == "tests" {
            "tracer/tests"
        } else {
            name
        };
        offences.extend(oversized(&read_tree(&root.join(dir)), name));
    }
    assert!(
        offences.is_empty(),
        "split these by job (unit tests at the end do not count):\n{}",
        offences.join("\n")
    );
}

#[test]
fn one_module_file_style() {
    let mut offences = Vec::new();
    for (root, dir) in [("tracer/src", src()), ("xtask/src", xtask_src())] {
        let files: Vec<PathBuf> = read_tree(&dir).into_iter().map(|(p, _)| p).collect();
        offences.extend(
            mixed_module_styles(&files)
                .into_iter()
                .map(|o| format!("{root}/{o}")),
        );
    }
    assert!(
        offences.is_empty(),
        "use foo/mod.rs, never foo.rs beside foo/:\n{}",
        offences.join("\n")
    );
}

// ------------------------------------------------- the checks check out --

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

fn synthetic(files: &[(&str, &str)]) -> Tree {
    Tree::new(
        "demo",
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect(),
    )
}

/// The edges of a synthetic tree, as `from -> to` names.
fn edge_names(tree: &Tree) -> BTreeSet<String> {
    tree.edges()
        .keys()
        .map(|&(a, b)| format!("{} -> {}", tree.rel(a), tree.rel(b)))
        .collect()
}

#[test]
fn the_reader_sees_every_kind_of_import() {
    let tree = synthetic(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod m;\npub mod n;\n"),
        (
            "a/mod.rs",
            "pub mod x;\npub mod y;\npub use x::Thing;\nuse y::Other;\n",
        ),
        ("a/x.rs", "use super::super::b::{c::{self, D}, E};\n"),
        (
            "a/y.rs",
            "fn f() { self::z(); crate::say!(\"hi\"); }\nfn z() {}\n",
        ),
        ("b/mod.rs", "pub mod c;\npub struct E;\n"),
        ("b/c.rs", "use crate::{a::{x, y::Other as O}};\n"),
        (
            "m.rs",
            "#[macro_export]\nmacro_rules! say { () => {} }\nuse crate::b;\nfn g() { b::c::D; }\n\
             pub(crate) mod inner {\n    use super::super::a;\n    fn t() { a::y::z(); }\n}\n",
        ),
        (
            "n.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::a::x;\n}\n",
        ),
        (
            "main.rs",
            "use demo::a::x;\nfn main() { demo::b::c::f(); }\n",
        ),
    ]);
    let want: BTreeSet<String> = [
        "a/mod.rs -> a/y.rs",
        "a/x.rs -> b/c.rs",
        "a/x.rs -> b/mod.rs",
        "a/y.rs -> m.rs",
        "b/c.rs -> a/x.rs",
        "b/c.rs -> a/y.rs",
        "m.rs -> b/mod.rs",
        "m.rs -> b/c.rs",
        "m.rs -> a/mod.rs",
        "m.rs -> a/y.rs",
        "main.rs -> a/x.rs",
        "main.rs -> b/c.rs",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(edge_names(&tree), want);
}

#[test]
fn the_check_sees_a_cycle() {
    let tree = synthetic(&[
        ("lib.rs", "pub mod p;\npub mod q;\npub mod r;\n"),
        ("p.rs", "use crate::q::Q;\n"),
        ("q.rs", "pub struct Q;\nfn f() { crate::r::g(); }\n"),
        ("r.rs", "use super::p;\n"),
    ]);
    let found = cycles(&tree);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("p.rs <-> q.rs <-> r.rs"), "{found:?}");
    // A parent re-exporting its child and the child using the parent is no
    // cycle.
    let tree = synthetic(&[
        ("lib.rs", "pub mod p;\n"),
        ("p/mod.rs", "mod k;\npub use k::K;\npub struct P;\n"),
        ("p/k.rs", "use super::P;\npub struct K;\n"),
    ]);
    assert!(cycles(&tree).is_empty());
    // But a circle through a name a parent re-exports is seen: `b` uses
    // `a::X`, which is `a/x.rs`'s, and `a/x.rs` uses `b`.
    let tree = synthetic(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a/mod.rs", "mod x;\npub use x::X;\n"),
        ("a/x.rs", "use crate::b::B;\npub struct X;\n"),
        ("b.rs", "use crate::a::X;\npub struct B;\n"),
    ]);
    let found = cycles(&tree);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a/x.rs <-> b.rs"), "{found:?}");
}

#[test]
fn the_check_sees_an_upward_import() {
    let tree = synthetic(&[
        (
            "lib.rs",
            "//! - [`low`]\n//! - [`high`]\npub mod low;\npub mod high;\n",
        ),
        ("low.rs", "use crate::high::H;\n"),
        ("high.rs", "use crate::low::L;\n"),
        ("stray.rs", "\n"),
    ]);
    let order = stated_layers(&tree.files[0].1);
    assert_eq!(order, ["low", "high"]);
    let found = upward_imports(&tree, &order);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.iter().any(|o| o.starts_with("low.rs:1:")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|o| o.starts_with("stray.rs: its layer")),
        "{found:?}"
    );
}

#[test]
fn the_check_sees_a_long_file() {
    let body = "fn f() {}\n".repeat(MAX_CODE_LINES);
    let tests = "#[cfg(test)]\nmod tests {\n    fn t() {}\n}\n";
    assert_eq!(code_lines(&format!("{body}{tests}")), MAX_CODE_LINES);
    let shared = "#[cfg(test)]\npub(super) mod tests {\n    fn t() {}\n}\n";
    assert_eq!(code_lines(&format!("{body}{shared}")), MAX_CODE_LINES);
    let files = vec![
        (PathBuf::from("ok.rs"), format!("{body}{tests}")),
        (PathBuf::from("long.rs"), format!("{body}fn g() {{}}\n")),
        (
            PathBuf::from("mid.rs"),
            format!("{body}{tests}fn g() {{}}\n"),
        ),
    ];
    let found = oversized(&files, "src");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("src/long.rs: 701"), "{found:?}");
    assert!(found[1].starts_with("src/mid.rs: 705"), "{found:?}");
}

#[test]
fn the_check_sees_mixed_module_styles() {
    let files: Vec<PathBuf> = [
        "a.rs",
        "a/b.rs",
        "c/mod.rs",
        "c/d.rs",
        "e/f/mod.rs",
        "e/f.rs",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(
        mixed_module_styles(&files),
        ["a.rs beside a/", "e/f.rs beside e/f/"]
    );
}
