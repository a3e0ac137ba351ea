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

// ---- Command examples, help texts, man pages and completions (issue 26).

use std::process::Command;

use clap::Parser as _;
use tracer::cli::{manual, values::event_names, Cli};

fn tracer(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracer"))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("COLUMNS")
        .output()
        .expect("running tracer");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A shell command line's words, as sh would split them, up to the first
/// unquoted `|`, `;`, `&`, `<`, `>` or comment: quotes and backslashes
/// understood, no expansion (the docs' examples need none).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        q => w.push(q),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '#' if word.is_none() => break,
            '|' | ';' | '&' | '<' | '>' => break,
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// `tracer ...` as the docs write it (after a `$ ` prompt, `sudo`, or
/// `VAR=value`): the words from `tracer` on, or `None` for another
/// command.
fn tracer_command(line: &str) -> Option<Vec<String>> {
    let line = line.trim_start();
    let line = line.strip_prefix("$ ").unwrap_or(line);
    let words = shell_words(line);
    let mut rest = words.as_slice();
    while let Some((first, tail)) = rest.split_first() {
        if first == "sudo" || (first.contains('=') && !first.starts_with('-')) {
            rest = tail;
        } else {
            break;
        }
    }
    (rest.first()? == "tracer").then(|| rest.to_vec())
}

/// The marker before a fenced block whose `tracer` lines are not meant
/// to run as written: `<!-- illustrative: REASON -->`.
const ILLUSTRATIVE: &str = "<!-- illustrative: ";

/// Every `tracer` command line in the fenced blocks of README.md and
/// docs/*.md that is not marked illustrative: (file:line, words).
fn documented_commands(root: &Path) -> (Vec<(String, Vec<String>)>, usize) {
    let mut found = Vec::new();
    let mut illustrative = 0;
    for file in doc_files(root) {
        let text = fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        let (mut fenced, mut skip, mut last_prose) = (false, false, "");
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                skip = fenced && last_prose.starts_with(ILLUSTRATIVE);
                if skip {
                    let reason = last_prose[ILLUSTRATIVE.len()..].trim_end_matches("-->");
                    assert!(
                        reason.trim().len() > 10,
                        "{name}:{i}: an illustrative block says why"
                    );
                    illustrative += 1;
                }
                continue;
            }
            if !fenced {
                if !line.trim().is_empty() {
                    last_prose = line.trim();
                }
                continue;
            }
            if skip {
                continue;
            }
            if let Some(words) = tracer_command(line) {
                found.push((format!("{name}:{}", i + 1), words));
            }
        }
    }
    (found, illustrative)
}

#[test]
fn shell_words_split_as_sh_does() {
    assert_eq!(
        shell_words(r#"tracer replay d --since '2026-11-27 21:00' -x "a b" c\ d | jq"#),
        [
            "tracer",
            "replay",
            "d",
            "--since",
            "2026-11-27 21:00",
            "-x",
            "a b",
            "c d"
        ]
    );
    assert_eq!(
        shell_words("tracer --version    # tracer 0.1.0"),
        ["tracer", "--version"]
    );
    assert_eq!(
        tracer_command("$ sudo TZ=UTC tracer trace > out"),
        Some(vec!["tracer".to_string(), "trace".to_string()])
    );
    assert_eq!(tracer_command("cargo xtask run -- trace"), None);
}

/// Every command example in the docs parses as tracer's command line
/// does (a stale flag or value fails here), unless its block is marked
/// illustrative with a reason.
#[test]
fn every_documented_command_parses() {
    let (commands, illustrative) = documented_commands(&repo_root());
    assert!(commands.len() >= 20, "found only {commands:?}");
    // A few synopses with placeholders; most examples run as written.
    assert!(illustrative <= 8, "{illustrative} illustrative blocks");
    let mut bad = Vec::new();
    for (at, words) in &commands {
        if let Err(e) = Cli::try_parse_from(words) {
            // `--help` and `--version` "fail" with their own output.
            if !matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) {
                bad.push(format!("{at}: {}\n{e}", words.join(" ")));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "commands the docs show that tracer refuses:\n{}",
        bad.join("\n")
    );
}

/// The man pages' examples are the docs' own: each appears in a fenced
/// block of README.md or docs/, and parses.
#[test]
fn man_page_examples_are_in_the_docs_and_parse() {
    let root = repo_root();
    let fenced: String = doc_files(&root)
        .iter()
        .map(|f| fs::read_to_string(f).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for page in manual::PAGES {
        assert!(
            !page.examples.is_empty(),
            "tracer-{} has no example",
            page.sub
        );
        for (example, _) in page.examples {
            assert!(
                fenced
                    .lines()
                    .any(|l| l.trim_start().trim_start_matches("$ ").starts_with(example)),
                "tracer-{}'s example is in no doc: {example}",
                page.sub
            );
            let words = tracer_command(example).expect("a tracer command");
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{example}: {e}");
            }
        }
    }
}

/// `tracer --help`'s subcommands.
fn subcommands() -> Vec<String> {
    let (_, help, _) = tracer(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A name sits at two spaces; deeper lines continue a description.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_texts_name_every_event_and_no_readme_section() {
    let subs = subcommands();
    assert!(subs.len() >= 7, "{subs:?}");
    for sub in std::iter::once("").chain(subs.iter().map(String::as_str)) {
        let args: Vec<&str> = [sub, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let (code, help, err) = tracer(&args);
        assert_eq!(code, 0, "{err}");
        assert!(
            !help.contains("README"),
            "tracer {sub} --help names the README:\n{help}"
        );
        if sub == "report" || sub == "tree" {
            for wrong in ["one aligned line per event", "JSON Lines"] {
                assert!(
                    !help.contains(wrong),
                    "tracer {sub} --help says {wrong:?}:\n{help}"
                );
            }
        }
    }
    let (_, help, _) = tracer(&["trace", "--help"]);
    let events = help
        .split("--event <EVENT,...>")
        .nth(1)
        .and_then(|h| h.split("[possible values: ").nth(1))
        .and_then(|h| h.split(']').next())
        .unwrap_or_else(|| panic!("--event lists no values:\n{help}"));
    for name in event_names() {
        assert!(
            events.contains(name),
            "--event's help omits {name}: {events}"
        );
    }
    for name in ["helper_request", "exec_failed"] {
        assert!(events.contains(name), "{events}");
    }
    assert!(
        help.contains(manual::LEGEND.lines().next().unwrap()),
        "{help}"
    );
}

/// Every short name the compact layout prints for a recorded log is in
/// the legend `trace --help` shows.
#[test]
fn the_legend_names_every_short_name_the_compact_layout_prints() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = HashSet::new();
    for fixture in fs::read_dir(&fixtures).unwrap() {
        let path = fixture.unwrap().path();
        let (code, out, err) = tracer(&["replay", "--narrow", path.to_str().unwrap()]);
        assert!(code == 0 || code == 4, "{}: {err}", path.display());
        let Some(header) = out.lines().find(|l| l.starts_with("TIME ")) else {
            continue;
        };
        let kind_at = header.find("KIND").unwrap();
        for line in out
            .lines()
            .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        {
            let event = line.split_whitespace().nth(1).unwrap_or("");
            let kind = line
                .get(kind_at..)
                .and_then(|k| k.split_whitespace().next())
                .unwrap_or("");
            seen.insert(event.to_string());
            seen.insert(kind.to_string());
        }
    }
    assert!(
        seen.contains("umhch") && seen.contains("siggen"),
        "{seen:?}"
    );
    let full: Vec<&str> = [
        "fork", "exec", "exit", "rename", "idle", "init", "user", "umh",
    ]
    .to_vec();
    for name in seen {
        assert!(
            full.contains(&name.as_str())
                || manual::LEGEND
                    .lines()
                    .any(|l| l.split_whitespace().any(|w| w == name)),
            "`{name}` is printed but not in the legend"
        );
    }
}

/// The sections every man page has (the dist check checks the package's
/// the same way).
const MAN_SECTIONS: [&str; 8] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "EXAMPLES",
    "EXIT STATUS",
    "FILES",
    "SEE ALSO",
];

#[test]
fn man_pages_teach_with_examples_and_a_proper_title() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = tracer(&["generate", "man", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let version = env!("CARGO_PKG_VERSION");
    for sub in std::iter::once(String::new()).chain(subcommands()) {
        let name = if sub.is_empty() {
            "tracer".to_string()
        } else {
            format!("tracer-{sub}")
        };
        let page = fs::read_to_string(dir.path().join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        let th = page.lines().next().unwrap();
        let fields: Vec<&str> = th.split('"').collect();
        // .TH "TITLE" 1 "DATE" "SOURCE" "MANUAL"
        assert_eq!(fields.get(1), Some(&name.to_uppercase().as_str()), "{th}");
        let date = fields.get(3).copied().unwrap_or("");
        assert!(
            date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
            "{name}: the date slot holds {date:?}: {th}"
        );
        assert_eq!(
            fields.get(5),
            Some(&format!("tracer {version}").as_str()),
            "{th}"
        );
        let escaped = name.replace('-', "\\-");
        assert!(
            page.contains(&format!(".SH NAME\n{escaped} \\- ")),
            "{name}'s NAME section names it so"
        );
        for section in MAN_SECTIONS {
            assert!(
                page.contains(&format!(".SH {section}\n")),
                "{name}.1 has no {section}"
            );
        }
        if sub == "trace" || sub == "replay" {
            assert!(page.contains(".SH SHORT NAMES"), "{name}.1 has no legend");
            assert!(page.contains(".SH OUTPUT"), "{name}.1 has no OUTPUT");
        }
    }
}

#[test]
fn completions_offer_every_kind_event_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = tracer(&["generate", "completions", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut values: Vec<&str> = tracer::model::classify::Kind::ALL
        .map(|k| k.name())
        .to_vec();
    values.extend(event_names());
    values.extend([
        "text",
        "json",
        "perfetto",
        "prometheus",
        "otlp",
        "auto",
        "always",
        "never",
    ]);
    for file in ["tracer.bash", "_tracer", "tracer.fish"] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        let words: HashSet<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        for value in &values {
            assert!(words.contains(value), "{file} never offers {value}");
        }
    }
}
