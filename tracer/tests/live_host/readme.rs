//! The README's 30-second example is real output: its command is run, and
//! what tracer prints must match the README's block line by line, times,
//! pids and lifetimes aside. When the output changes on purpose (a new
//! start-up line, say), `TRACER_REFRESH_README=1` rewrites the block (and
//! its "Captured on" line) from the run instead of comparing.

use std::{fs, path::Path, process::Command};

use crate::common::*;

/// The example, as the README shows it after `$ sudo tracer `.
const SHOWN: &str = "trace --narrow -- sh -c 'ls / > /dev/null; sleep 0.1; kill -TERM 2; exit 3'";
const ARGS: [&str; 6] = [
    "trace",
    "--narrow",
    "--",
    "sh",
    "-c",
    "ls / > /dev/null; sleep 0.1; kill -TERM 2; exit 3",
];

/// A line with every number made `N` and every length of time (`1ms`,
/// `1.4s`) made `D`, runs of spaces made one: what stays the same from
/// run to run.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                chars.next();
            }
            let mut unit = String::new();
            while let Some(&u) = chars.peek().filter(|u| u.is_ascii_lowercase()) {
                unit.push(u);
                chars.next();
            }
            match unit.as_str() {
                "ns" | "us" | "ms" | "s" | "m" | "h" | "d" => out.push('D'),
                _ => {
                    out.push('N');
                    out.push_str(&unit);
                }
            }
        } else if c == ' ' {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out.trim_end().to_string()
}

#[test]
fn the_readme_example_is_what_tracer_prints() {
    let _serial = serial();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = fs::read_to_string(&path).unwrap();
    let command = format!("$ sudo tracer {SHOWN}");
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == command)
        .unwrap_or_else(|| panic!("README.md no longer shows `{command}`"));
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("$ echo $?"))
            .expect("the example ends with `$ echo $?`");
    let shown = &lines[start + 1..end];
    let (code, out, err) = run_tracer(&ARGS);
    assert_eq!(
        code, 3,
        "the example exits with its command's status: {err}"
    );
    // As a terminal shows them: the start-up line, the events, the summary.
    let mut err_lines = err.lines();
    let mut real: Vec<&str> = err_lines.next().into_iter().collect();
    real.extend(out.lines());
    real.extend(err_lines);
    if std::env::var_os("TRACER_REFRESH_README").is_some() {
        let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let today = Command::new("date").args(["-u", "+%F"]).output().unwrap();
        let today = String::from_utf8_lossy(&today.stdout).trim().to_string();
        let mut new: Vec<String> = lines[..=start].iter().map(|l| l.to_string()).collect();
        new.extend(real.iter().map(|l| l.to_string()));
        new.extend(lines[end..].iter().map(|l| l.to_string()));
        let mut text = new.join("\n") + "\n";
        if let Some(at) = text.find("Captured on ") {
            let line_end = at
                + text[at..]
                    .find(" build):")
                    .expect("Captured on ... build):");
            let build = if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            };
            text.replace_range(
                at..line_end,
                &format!("Captured on {today} (Linux {}, {build}", release.trim()),
            );
        }
        fs::write(&path, text).unwrap();
        eprintln!("README.md's example refreshed from this run");
        return;
    }
    let want: Vec<String> = shown.iter().map(|l| shape(l)).collect();
    let got: Vec<String> = real.iter().map(|l| shape(l)).collect();
    assert_eq!(
        want,
        got,
        "README.md's example is not what tracer prints now (rerun with \
         TRACER_REFRESH_README=1 to refresh it):\n{}",
        real.join("\n")
    );
}

#[test]
fn shapes_keep_words_and_drop_numbers() {
    assert_eq!(
        shape("21:17:51.338 exit     26374 sh              user  exited 3 after 367ms"),
        "N:N:N exit N sh user exited N after D"
    );
    assert_eq!(shape("exited 3 after 1.4s"), shape("exited 3 after 12ms"));
    assert_ne!(shape("exited 3 after 1s"), shape("exited 0 signal"));
}
