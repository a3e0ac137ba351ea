//! The README stays short, and the links between it and docs/ hold: every
//! relative Markdown link in README.md and docs/*.md names a file that
//! exists and, where it has a `#anchor`, a heading of that file (GitHub's
//! anchor rules). A plain scan, not a Markdown parser: the docs use only
//! inline links, and fenced code and `code spans` are skipped.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
};

/// The issue's bound on the README (issue 26).
const README_MAX_LINES: usize = 250;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// A heading's anchor as GitHub makes it: lowercase, punctuation dropped
/// (letters, digits, spaces, `-` and `_` kept), spaces turned into `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of a file's headings; a repeated heading gets `-1`, `-2`...
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let Some(title) = line[hashes..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base = anchor(title);
        let mut name = base.clone();
        let mut n = 0;
        while seen.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        seen.insert(name);
    }
    seen
}

/// The line with its `code spans` removed.
fn without_code(line: &str) -> String {
    line.split('`').step_by(2).collect()
}

/// The targets of the inline links `[text](target)` on a line.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut out = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// Every broken relative link, as `file:line: target: why`.
fn broken_links(root: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    for file in doc_files(root) {
        let text = fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        for (n, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = match target.split_once('#') {
                    Some((p, f)) => (p, Some(f)),
                    None => (target.as_str(), None),
                };
                let linked = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().unwrap().join(path)
                };
                if !linked.exists() {
                    broken.push(format!("{name}:{n}: {target}: no such file"));
                    continue;
                }
                let Some(fragment) = fragment else { continue };
                if linked.extension().is_some_and(|x| x == "md") {
                    let headings = anchors(&fs::read_to_string(&linked).unwrap());
                    if !headings.contains(fragment) {
                        broken.push(format!("{name}:{n}: {target}: no such heading"));
                    }
                }
            }
        }
    }
    broken
}

#[test]
fn readme_is_short() {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, at most {README_MAX_LINES}: move the rest into docs/"
    );
}

#[test]
fn relative_links_point_to_files_and_headings() {
    let broken = broken_links(&repo_root());
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(
        anchor("Recording for weeks (`record --dir`)"),
        "recording-for-weeks-record---dir"
    );
    assert_eq!(
        anchor("2026-12-05: issue 24's changes, against main before them"),
        "2026-12-05-issue-24s-changes-against-main-before-them"
    );
    let text = "# A\n```\n# not a heading\n```\n## A\n";
    let got = anchors(text);
    assert_eq!(got, HashSet::from(["a".to_string(), "a-1".to_string()]));
}

#[test]
fn links_in_code_are_not_links() {
    assert_eq!(
        link_targets("see [a](a.md#x) and `[b](b.md)`, [c](../c.md)"),
        ["a.md#x", "../c.md"]
    );
}
