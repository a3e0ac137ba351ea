//! Reading a source tree for its imports: which file names which, by a
//! line-based reading of rustfmt-formatted code (see `main.rs`).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// Every `.rs` file under `dir`, recursively.
pub(crate) fn sources(dir: &Path) -> Vec<PathBuf> {
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
pub(crate) fn code(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

/// Lines of a command module (`depth` 1 for `commands/x.rs`, 2 for
/// `commands/x/y.rs`) that reach another command.
pub(crate) fn cross_command_refs(text: &str, depth: usize) -> Vec<String> {
    // From commands/x.rs, `super::` is the commands folder; from
    // commands/x/y.rs, `super::` is x itself and `super::super::` the folder.
    let up_to_commands = "super::".repeat(depth);
    code(text)
        .filter(|(_, l)| l.contains("commands::") || l.contains(&up_to_commands))
        .map(|(n, l)| format!("{n}: {}", l.trim()))
        .collect()
}

pub(crate) fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

pub(crate) fn xtask_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/src")
}

/// Every source file under `dir`: its path relative to `dir`, and its text.
pub(crate) fn read_tree(dir: &Path) -> Vec<(PathBuf, String)> {
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
pub(crate) type Module = (String, Vec<String>);

/// Where a file sits in the module tree. `lib.rs`, `main.rs` and
/// `bin/*.rs` are crate roots; every other file belongs to the library when
/// there is one, else to `main.rs`.
pub(crate) fn module_of(rel: &Path, has_lib: bool) -> Module {
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
pub(crate) struct Tree {
    pub(crate) files: Vec<(PathBuf, String)>,
    pub(crate) modules: BTreeMap<Module, usize>,
    pub(crate) of_file: Vec<Module>,
    /// `#[macro_export]` macros: they live at the library's root but belong
    /// to the file that defines them.
    pub(crate) macros: BTreeMap<String, usize>,
    /// The library's name, as the binaries spell it.
    pub(crate) lib_name: String,
    /// Names a module re-exports (`pub use x::Y` in `a/mod.rs`): (the
    /// module, the name) to the file that defines it, so `use crate::a::Y`
    /// is an edge to `a/x.rs`, not to `a/mod.rs` (whose re-export of its
    /// own child is no edge: a circle would hide behind it).
    pub(crate) reexports: BTreeMap<(Module, String), usize>,
}

impl Tree {
    pub(crate) fn new(lib_name: &str, files: Vec<(PathBuf, String)>) -> Tree {
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
        let mut tree = Tree {
            files,
            modules,
            of_file,
            macros,
            lib_name: lib_name.to_string(),
            reexports: BTreeMap::new(),
        };
        // Again until nothing changes: a re-export of a re-export.
        loop {
            let found = tree.find_reexports();
            if found == tree.reexports {
                break;
            }
            tree.reexports = found;
        }
        tree
    }

    /// Every `pub use` leaf that names an item of another file, as
    /// [`Tree::reexports`] holds them.
    fn find_reexports(&self) -> BTreeMap<(Module, String), usize> {
        let mut out = BTreeMap::new();
        let none = BTreeMap::new();
        for (i, (_, text)) in self.files.iter().enumerate() {
            for (_, stmt) in use_statements(text) {
                if !stmt.starts_with("pub") {
                    continue;
                }
                let body = stmt.split_once("use ").map(|(_, b)| b).unwrap_or("");
                let body = body.split(';').next().unwrap_or("");
                for (path, alias) in use_leaves(body) {
                    let (Some(name), Some(target)) =
                        (alias, self.resolve(&self.of_file[i], &none, &path))
                    else {
                        continue;
                    };
                    if target != i {
                        out.insert((self.of_file[i].clone(), name), target);
                    }
                }
            }
        }
        out
    }

    pub(crate) fn load(lib_name: &str, dir: &Path) -> Tree {
        Tree::new(lib_name, read_tree(dir))
    }

    pub(crate) fn rel(&self, file: usize) -> String {
        self.files[file].0.display().to_string()
    }

    /// The file a path names, read from `start` in file `from`, with the
    /// names `use` brought into scope as `aliases`; None for an outside
    /// crate or a name that is not a module.
    pub(crate) fn resolve(
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
                if let Some(&f) = self.reexports.get(&(cur.clone(), seg.clone())) {
                    return Some(f);
                }
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
    pub(crate) fn edges(&self) -> BTreeMap<(usize, usize), String> {
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
pub(crate) fn use_start(trimmed: &str) -> Option<usize> {
    let rest = trimmed
        .strip_prefix("pub(crate) ")
        .or_else(|| trimmed.strip_prefix("pub(super) "))
        .or_else(|| trimmed.strip_prefix("pub "))
        .unwrap_or(trimmed);
    rest.starts_with("use ").then_some(0)
}

/// Inline modules (`mod tests {`): the line they open on, and their name.
pub(crate) fn inline_modules(text: &str) -> Vec<(usize, String)> {
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
pub(crate) fn without_visibility(l: &str) -> &str {
    if let Some(rest) = l.strip_prefix("pub(") {
        return rest.split_once(") ").map_or(l, |(_, item)| item);
    }
    l.strip_prefix("pub ").unwrap_or(l)
}

pub(crate) fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The leaves of a use tree (`crate::{a::{b, c as d}, e::*}`): each full
/// path and the name it brings into scope (None for a glob).
pub(crate) fn use_leaves(tree: &str) -> Vec<(Vec<String>, Option<String>)> {
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

pub(crate) fn use_tree(
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
pub(crate) fn paths_in(line: &str) -> Vec<Vec<String>> {
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

/// A file's lines of code: all its lines but a trailing
/// `#[cfg(test)] mod tests { ... }` block.
pub(crate) fn code_lines(text: &str) -> usize {
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

/// The `use` statements of a file's code (its trailing unit tests aside),
/// each whole (joined when rustfmt splits it over lines) with the line it
/// starts on.
pub(crate) fn use_statements(text: &str) -> Vec<(usize, String)> {
    let end = code_lines(text);
    let mut out = Vec::new();
    let mut stmt: Option<(usize, String)> = None;
    for (n, line) in code(text).take_while(|&(n, _)| n <= end) {
        let trimmed = line.trim();
        match &mut stmt {
            None => {
                if let Some(at) = use_start(trimmed) {
                    stmt = Some((n, trimmed[at..].to_string()));
                }
            }
            Some((_, s)) => {
                s.push(' ');
                s.push_str(trimmed);
            }
        }
        if stmt.as_ref().is_some_and(|(_, s)| s.contains(';')) {
            out.extend(stmt.take());
        }
    }
    out
}
