//! The crate's layering, checked on its source: commands build on shared
//! layers and never on each other; each layer imports only the layers
//! `lib.rs` lists before it; no two files of `tracer/src` or `xtask/src`
//! import each other, even through others; no file is over 700 lines of
//! code (its trailing unit tests aside); a module is `foo.rs` or
//! `foo/mod.rs`, never both. What two commands share belongs in a layer.
//!
//! The import graph comes from a line-based reading of the source, which
//! is enough for this codebase (rustfmt-formatted, no macros that build
//! paths): an edge is a `use` or a path (`crate::a::b`, `super::x`,
//! `self::x`, a child module's name, a module imported by `use`) from one
//! file to another. A parent's `mod` declarations and its `pub use` of its
//! own descendants do not count, nor does a trailing
//! `#[cfg(test)] mod tests` block (unit tests may use their neighbours, as
//! the line count leaves them aside too). Another inline module
//! (`mod x {`) is taken to run to the end of its file.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

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

fn xtask_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/src")
}

/// Every source file under `dir`: its path relative to `dir`, and its text.
fn read_tree(dir: &Path) -> Vec<(PathBuf, String)> {
    sources(dir)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable source");
            (p.strip_prefix(dir).expect("under dir").to_path_buf(), text)
        })
        .collect()
}

// ---------------------------------------------------------------- graph --

/// A module: the crate it belongs to (`lib`, `main`, `bin/x`) and its path.
type Module = (String, Vec<String>);

/// Where a file sits in the module tree. `lib.rs`, `main.rs` and
/// `bin/*.rs` are crate roots; every other file belongs to the library when
/// there is one, else to `main.rs`.
fn module_of(rel: &Path, has_lib: bool) -> Module {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let joined = parts.join("/");
    match joined.as_str() {
        "lib.rs" => return ("lib".into(), Vec::new()),
        "main.rs" => return ("main".into(), Vec::new()),
        _ if parts.len() == 2 && parts[0] == "bin" => return (joined, Vec::new()),
        _ => {}
    }
    let krate = if has_lib { "lib" } else { "main" };
    let mut path: Vec<String> = parts;
    let last = path.pop().expect("a file name");
    if last != "mod.rs" {
        path.push(last.trim_end_matches(".rs").to_string());
    }
    (krate.into(), path)
}

/// A source tree read for its imports.
struct Tree {
    files: Vec<(PathBuf, String)>,
    modules: BTreeMap<Module, usize>,
    of_file: Vec<Module>,
    /// `#[macro_export]` macros: they live at the library's root but belong
    /// to the file that defines them.
    macros: BTreeMap<String, usize>,
    /// The library's name, as the binaries spell it.
    lib_name: String,
}

impl Tree {
    fn new(lib_name: &str, files: Vec<(PathBuf, String)>) -> Tree {
        let has_lib = files.iter().any(|(p, _)| p == Path::new("lib.rs"));
        let mut modules = BTreeMap::new();
        let mut of_file = Vec::new();
        let mut macros = BTreeMap::new();
        for (i, (rel, text)) in files.iter().enumerate() {
            let m = module_of(rel, has_lib);
            modules.insert(m.clone(), i);
            for name in inline_modules(text).into_iter().map(|(_, n)| n) {
                let mut inner = m.clone();
                inner.1.push(name);
                modules.insert(inner, i);
            }
            of_file.push(m);
            let mut exported = false;
            for (_, l) in code(text) {
                let l = l.trim();
                if l.starts_with("#[macro_export]") {
                    exported = true;
                } else if let Some(rest) = l.strip_prefix("macro_rules!") {
                    if exported {
                        let name: String = rest
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        macros.insert(name, i);
                    }
                    exported = false;
                }
            }
        }
        Tree {
            files,
            modules,
            of_file,
            macros,
            lib_name: lib_name.to_string(),
        }
    }

    fn load(lib_name: &str, dir: &Path) -> Tree {
        Tree::new(lib_name, read_tree(dir))
    }

    fn rel(&self, file: usize) -> String {
        self.files[file].0.display().to_string()
    }

    /// The file a path names, read from `start` in file `from`, with the
    /// names `use` brought into scope as `aliases`; None for an outside
    /// crate or a name that is not a module.
    fn resolve(
        &self,
        from: &Module,
        aliases: &BTreeMap<String, Module>,
        path: &[String],
    ) -> Option<usize> {
        let first = path.first()?;
        let mut cur: Module = match first.as_str() {
            "crate" => (from.0.clone(), Vec::new()),
            "self" => from.clone(),
            "super" => {
                let mut m = from.clone();
                m.1.pop()?;
                m
            }
            n if n == self.lib_name && from.0 != "lib" => ("lib".into(), Vec::new()),
            n => {
                let mut child = from.clone();
                child.1.push(n.to_string());
                if self.modules.contains_key(&child) {
                    child
                } else {
                    aliases.get(n)?.clone()
                }
            }
        };
        let mut rest = path[1..].iter().peekable();
        while rest.peek().is_some_and(|s| *s == "super") {
            rest.next();
            cur.1.pop()?;
        }
        for seg in rest {
            let mut next = cur.clone();
            next.1.push(seg.clone());
            if self.modules.contains_key(&next) {
                cur = next;
            } else {
                if cur.1.is_empty() {
                    if let Some(&f) = self.macros.get(seg) {
                        return Some(f);
                    }
                }
                break;
            }
        }
        self.modules.get(&cur).copied()
    }

    /// The files each file imports, with the line that does.
    fn edges(&self) -> BTreeMap<(usize, usize), String> {
        let mut out = BTreeMap::new();
        for (i, (_, text)) in self.files.iter().enumerate() {
            let inline = inline_modules(text);
            let mut aliases: BTreeMap<String, Module> = BTreeMap::new();
            let mut stmt: Option<(usize, String)> = None;
            let end = code_lines(text);
            for (n, line) in code(text).take_while(|&(n, _)| n <= end) {
                let mut module = self.of_file[i].clone();
                if let Some((_, name)) = inline.iter().rev().find(|(start, _)| *start <= n) {
                    module.1.push(name.clone());
                }
                let mut note = |target: Option<usize>, reexport: bool, at: usize, what: &str| {
                    let Some(t) = target else { return };
                    if t == i {
                        return;
                    }
                    // A parent's re-export of its own descendant.
                    if reexport && self.of_file[t].1.starts_with(&self.of_file[i].1) {
                        return;
                    }
                    out.entry((i, t))
                        .or_insert_with(|| format!("{}:{at}: {}", self.rel(i), what.trim()));
                };
                let trimmed = line.trim();
                if stmt.is_none() {
                    if let Some(at) = use_start(trimmed) {
                        stmt = Some((n, trimmed[at..].to_string()));
                    }
                } else if let Some((_, s)) = &mut stmt {
                    s.push(' ');
                    s.push_str(trimmed);
                }
                if let Some((start, s)) = &stmt {
                    if s.contains(';') {
                        let reexport = s.starts_with("pub");
                        let body = s.split_once("use ").map(|(_, b)| b).unwrap_or("");
                        let body = body.split(';').next().unwrap_or("");
                        for (path, alias) in use_leaves(body) {
                            let target = self.resolve(&module, &aliases, &path);
                            note(target, reexport, *start, s);
                            if let Some(alias) = alias {
                                let mut known = None;
                                // The module the leaf names, if it is one.
                                if let Some(t) = target {
                                    let tm = &self.of_file[t];
                                    if path.last().is_some_and(|l| tm.1.last() == Some(l))
                                        || path.last().is_some_and(|l| l == "crate")
                                    {
                                        known = Some(tm.clone());
                                    }
                                }
                                if let Some(k) = known {
                                    aliases.insert(alias, k);
                                }
                            }
                        }
                        stmt = None;
                    }
                    continue;
                }
                for path in paths_in(line) {
                    note(self.resolve(&module, &aliases, &path), false, n, line);
                }
            }
        }
        out
    }
}

/// Where a line starts a `use` statement (`use`, `pub use`,
/// `pub(crate) use`): the offset of its first word.
fn use_start(trimmed: &str) -> Option<usize> {
    let rest = trimmed
        .strip_prefix("pub(crate) ")
        .or_else(|| trimmed.strip_prefix("pub(super) "))
        .or_else(|| trimmed.strip_prefix("pub "))
        .unwrap_or(trimmed);
    rest.starts_with("use ").then_some(0)
}

/// Inline modules (`mod tests {`): the line they open on, and their name.
fn inline_modules(text: &str) -> Vec<(usize, String)> {
    code(text)
        .filter_map(|(n, l)| {
            let name = without_visibility(l.trim())
                .strip_prefix("mod ")?
                .strip_suffix('{')?
                .trim();
            is_ident(name).then(|| (n, name.to_string()))
        })
        .collect()
}

/// An item's line without its `pub`, `pub(crate)`, `pub(super)`.
fn without_visibility(l: &str) -> &str {
    if let Some(rest) = l.strip_prefix("pub(") {
        return rest.split_once(") ").map_or(l, |(_, item)| item);
    }
    l.strip_prefix("pub ").unwrap_or(l)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The leaves of a use tree (`crate::{a::{b, c as d}, e::*}`): each full
/// path and the name it brings into scope (None for a glob).
fn use_leaves(tree: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = tree.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        match c {
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                tokens.push("::".to_string());
            }
            '{' | '}' | ',' | '*' => tokens.push(c.to_string()),
            _ => {}
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    let mut out = Vec::new();
    let mut i = 0;
    use_tree(&tokens, &mut i, Vec::new(), &mut out);
    out
}

fn use_tree(
    tokens: &[String],
    i: &mut usize,
    mut path: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    while let Some(t) = tokens.get(*i) {
        *i += 1;
        match t.as_str() {
            "{" => {
                while let Some(t) = tokens.get(*i) {
                    match t.as_str() {
                        "}" => {
                            *i += 1;
                            break;
                        }
                        "," => *i += 1,
                        _ => use_tree(tokens, i, path.clone(), out),
                    }
                }
                return;
            }
            "*" => {
                out.push((path, None));
                return;
            }
            "::" => {}
            word => {
                path.push(word.to_string());
                if tokens.get(*i).is_some_and(|t| t == "::") {
                    continue;
                }
                let mut alias = word.to_string();
                if tokens.get(*i).is_some_and(|t| t == "as") {
                    alias = tokens.get(*i + 1).cloned().unwrap_or_default();
                    *i += 2;
                }
                if word == "self" {
                    path.pop();
                    if alias == "self" {
                        alias = path.last().cloned().unwrap_or_default();
                    }
                }
                out.push((path, Some(alias)));
                return;
            }
        }
    }
}

/// The paths in a line of code (`a::b::c`), each from its first segment.
fn paths_in(line: &str) -> Vec<Vec<String>> {
    let bytes = line.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(is_word(bytes[i - 1]) || bytes[i - 1] == b':');
        if !(boundary && is_word(bytes[i])) {
            i += 1;
            continue;
        }
        let mut path = Vec::new();
        loop {
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            path.push(line[start..i].to_string());
            if line[i..].starts_with("::") && bytes.get(i + 2).is_some_and(|&b| is_word(b)) {
                i += 2;
            } else {
                break;
            }
        }
        if path.len() > 1 {
            out.push(path);
        }
    }
    out
}

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

/// A file's lines of code: all its lines but a trailing
/// `#[cfg(test)] mod tests { ... }` block.
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    for (i, l) in lines.iter().enumerate().rev() {
        if l.trim() == "#[cfg(test)]" {
            let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
            let opens = without_visibility(next).starts_with("mod ");
            if opens && next.ends_with('{') && last.is_some_and(|e| lines[e] == "}") {
                return i;
            }
            break;
        }
    }
    lines.len()
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
