//! The first screen a user sees: `trace` into a pipe (the full layout) on
//! a scripted scenario says what sets tasks apart and nothing else, in
//! lines that fit 160 columns with DETAILS in one column.

use crate::common::{self, exit_has_group_dead, run_bounded, stderr_of};

/// An argument longer than any line: the only thing allowed to run over.
fn long_arg() -> String {
    format!("--{}", "x".repeat(200))
}

/// A shell that runs `ls`, renames itself to its own name (a rename that
/// says nothing), runs `zstd` with two worker threads, a subshell that
/// exits 3, and `true` with a very long argument.
fn scenario() -> String {
    format!(
        "exec >/dev/null 2>&1; ls /; printf sh > /proc/$$/comm; \
         echo x | zstd -T2 -q -c; (exit 3); /bin/true {}; exit 0",
        long_arg()
    )
}

/// `tracer trace EXTRA -- sh -c SCENARIO`: (stdout, stderr).
fn trace(extra: &[&str]) -> (String, String) {
    let script = scenario();
    let mut args = vec!["trace"];
    args.extend_from_slice(extra);
    args.extend(["--", "sh", "-c", &script]);
    let out = run_bounded(&args);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// An event line: `HH:MM:SS.uuuuuu ...`.
fn is_event(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 16 && b[2] == b':' && b[5] == b':' && b[8] == b'.' && b[15] == b' '
}

/// Each event on one line: folded details joined back (a fold drops one
/// space).
fn unfold(text: &str) -> Vec<String> {
    let mut events: Vec<String> = Vec::new();
    for l in text.lines() {
        match events.last_mut() {
            Some(last) if l.starts_with(' ') => {
                last.push(' ');
                last.push_str(l.trim_start());
            }
            _ => events.push(l.to_string()),
        }
    }
    events.retain(|l| is_event(l));
    events
}

/// Event lines' columns: TIME CPU EVENT PID TGID PPID COMM KIND FLAGS,
/// then DETAILS.
fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn the_full_layout_says_only_what_sets_tasks_apart() {
    let _serial = common::serial();
    let (out, err) = trace(&[]);
    let lines: Vec<&str> = out.lines().collect();
    let details_at = lines[0].find("DETAILS").expect("column titles");
    let events: Vec<&str> = lines.iter().copied().filter(|l| is_event(l)).collect();
    assert!(events.len() >= 10, "{out}");
    for l in &lines[1..] {
        // Every task is root in tracer's cgroup: nothing to say.
        assert!(!l.contains("user=") && !l.contains("cgroup="), "{l}\n{out}");
        assert!(!l.contains("RANDOMIZE"), "{l}");
        // DETAILS in one column, on event and folded lines alike.
        let (head, details) = l.split_at(details_at);
        assert!(head.ends_with(' ') && !details.starts_with(' '), "{l:?}");
        if is_event(l) {
            assert_eq!(columns(head).len(), 9, "{l:?}");
        } else {
            assert!(head.trim().is_empty() || l.starts_with("---"), "{l:?}");
        }
        // Within 160 columns, but for an argument longer than that (the
        // long one, or the script, quoted and maybe cut where the kernel
        // stopped reading it), alone on its line.
        if l.chars().count() > 160 {
            let word = details.trim_end_matches(']');
            let script = format!("'{}'", scenario());
            assert!(
                word == long_arg()
                    || (word.ends_with('\'') && script.starts_with(word.trim_end_matches('\''))),
                "over 160 columns: {l:?}"
            );
        }
    }
    assert!(
        out.contains(&format!("\n{}", " ".repeat(details_at))),
        "{out}"
    );

    // The rename to its own name is left out, and counted.
    assert!(
        !events
            .iter()
            .any(|l| columns(l)[2] == "rename" && l.ends_with(" sh -> sh")),
        "{out}"
    );
    assert!(
        err.contains("tracer: not shown: 1 rename to the same name"),
        "{err}"
    );
    assert!(
        !err.contains("tracer: lost"),
        "no loss, so no loss line: {err}"
    );

    // `group_dead` only on zstd's exit, the one process with threads.
    let exits: Vec<&str> = events
        .iter()
        .copied()
        .filter(|l| columns(l)[2] == "exit")
        .collect();
    let zstd_exit = exits
        .iter()
        .find(|l| columns(l)[6] == "zstd" && columns(l)[3] == columns(l)[4])
        .unwrap_or_else(|| panic!("zstd's exit:\n{out}"));
    let thread_exits = exits
        .iter()
        .filter(|l| columns(l)[3] != columns(l)[4])
        .count();
    assert!(thread_exits >= 1, "zstd's threads exit:\n{out}");
    if exit_has_group_dead() {
        assert!(zstd_exit.ends_with(" group_dead"), "{zstd_exit}");
    } else {
        common::skip("sched_process_exit has no group_dead before 6.16");
    }
    for l in exits.iter().filter(|l| columns(l)[6] != "zstd") {
        assert!(!l.contains("group_dead"), "one thread, no group_dead: {l}");
    }
    assert!(
        exits.iter().any(|l| l.contains("exited 3")),
        "the subshell:\n{out}"
    );
}

/// `--no-threads` leaves out zstd's threads; `--context` says user and
/// cgroup on every line (they exist: the default view left them out).
#[test]
fn no_threads_shows_processes_and_context_says_everything() {
    let _serial = common::serial();
    let (out, _) = trace(&["--no-threads", "--context"]);
    let events = unfold(&out);
    assert!(
        events.iter().any(|l| columns(l)[6] == "zstd"),
        "zstd itself stays:\n{out}"
    );
    assert!(events.len() >= 10, "{out}");
    for l in &events {
        let c = columns(l);
        if ["fork", "exit", "rename", "signal_deliver"].contains(&c[2]) {
            assert_eq!(c[3], c[4], "a thread's own event: {l}\n{out}");
        }
        assert!(l.contains(" user=root"), "--context: {l}");
    }
    // Without --no-threads, the same run shows them.
    let (out, _) = trace(&[]);
    assert!(
        out.lines()
            .filter(|l| is_event(l))
            .any(|l| columns(l)[2] == "fork" && columns(l)[3] != columns(l)[4]),
        "zstd's threads:\n{out}"
    );
}
