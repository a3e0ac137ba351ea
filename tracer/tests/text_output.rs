//! Text for people: dates in replays, the compact layout on a narrow
//! terminal, colour, signal codes by name, no POSTCOREDUMP in FLAGS, and
//! `tree` as JSON or in ASCII. From logs (no BPF, no root); the live
//! ones are in `live/text_output.rs`.

mod common;
mod two_days;

use serde_json::Value;
use two_days::*;

/// The full layout with its folded details joined back onto their
/// event's line (a fold drops one space).
fn unfold(text: &str) -> String {
    text.replace(&format!("\n{}", " ".repeat(114)), " ")
}

fn date_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("---")).collect()
}

#[test]
fn a_replay_says_the_date_of_each_day() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let log = log.to_str().unwrap();
    let (code, out, err) = tracer_utc(&["replay", log]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("TIME "), "{out}");
    assert_eq!(lines[1], "--- 2026-11-27 Friday (UTC) ---", "{out}");
    assert!(lines[2].starts_with("23:59:59.169282 "), "{out}");
    assert_eq!(
        date_lines(&out),
        [
            "--- 2026-11-27 Friday (UTC) ---",
            "--- 2026-11-28 Saturday (UTC) ---",
            "--- 2026-11-29 Sunday (UTC) ---"
        ],
        "{out}"
    );
    // Each date line comes right before the day's first event.
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap();
    assert_eq!(at("--- 2026-11-28") + 1, at("00:00:00.173466"), "{out}");
    assert_eq!(at("--- 2026-11-29") + 1, at("00:00:00.174847"), "{out}");
    // Long lives read in days and hours; a process of one thread dies
    // without a `group_dead`.
    assert!(out.contains("exited 0 after 1d00h\n"), "{out}");
    assert!(!out.contains("group_dead"), "{out}");

    // Local times and dates: in UTC+1 the log starts on the 28th.
    let (_, out, _) = tracer_in("CET-1", &[], &["replay", log]);
    assert_eq!(
        date_lines(&out),
        [
            "--- 2026-11-28 Saturday (UTC+01:00) ---",
            "--- 2026-11-29 Sunday (UTC+01:00) ---"
        ],
        "{out}"
    );
    assert!(out.contains("\n00:59:59.169282 "), "{out}");

    // JSON has no date lines: every line is an event.
    let (_, out, _) = tracer_utc(&["replay", log, "--format", "json"]);
    for l in out.lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
}

#[test]
fn text_names_signal_codes_and_leaves_out_postcoredump() {
    let (code, out, err) = tracer_utc(&["replay", fixture()]);
    assert_eq!(code, 0, "{err}");
    let out = unfold(&out);
    assert!(
        out.contains("SIGCHLD from 28139 (cat) [umh_child] uid=0 result=delivered code=CLD_EXITED errno=0 group"),
        "{out}"
    );
    assert!(
        out.contains("SIGCHLD handler=handler sa_flags=0x4000000 code=CLD_EXITED errno=0"),
        "{out}"
    );
    let exits: Vec<&str> = out.lines().filter(|l| l.contains(" exit ")).collect();
    assert_eq!(exits.len(), 5, "{out}");
    for l in &exits {
        assert!(l.contains(" EXITING"), "{l}");
        assert!(!l.contains("POSTCOREDUMP"), "{l}");
    }
    // RANDOMIZE is left out too; a cut FLAGS cell says how many it cut.
    assert!(
        out.contains(" EXITING|DUMPCORE|+1      killed by SIGSEGV (core dumped)"),
        "{out}"
    );
    assert!(!out.contains("RANDOMIZE"), "{out}");
    // JSON keeps the raw flags and code, and adds the code's name.
    let (_, out, _) = tracer_utc(&["replay", fixture(), "--format", "json"]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exits: Vec<&Value> = events.iter().filter(|e| e["event"] == "exit").collect();
    assert!(exits.iter().all(|e| e["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "POSTCOREDUMP")));
    let sig = events
        .iter()
        .find(|e| e["event"] == "signal_generate")
        .unwrap();
    assert_eq!(sig["code"], 1);
    assert_eq!(sig["code_name"], "CLD_EXITED");
}

/// Checks the compact layout: titles, every line within `width`, event
/// lines starting with a time to the millisecond, wrapped details indented
/// past it.
fn assert_compact(out: &str, width: usize) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "TIME         EVENT      PID COMM            KIND  DETAILS",
        "{out}"
    );
    for l in &lines[1..] {
        assert!(l.chars().count() <= width, "longer than {width}: {l:?}");
        let b = l.as_bytes();
        let timed = b.len() > 13
            && b[2] == b':'
            && b[5] == b':'
            && b[8] == b'.'
            && b[12] == b' '
            && b[..12].iter().filter(|c| c.is_ascii_digit()).count() == 9;
        assert!(
            timed || l.starts_with("---") || l.starts_with(&" ".repeat(13)),
            "an event, a date or a continuation: {l:?}"
        );
        assert!(
            !l.contains("FORKNOEXEC") && !l.contains("clone_flags"),
            "{l}"
        );
    }
}

#[test]
fn the_compact_layout_fits_a_narrow_terminal() {
    // Forced, into a pipe.
    let (code, out, err) = tracer_utc(&["replay", fixture(), "--narrow"]);
    assert_eq!(code, 0, "{err}");
    assert_compact(&out, 80);
    assert!(
        out.contains(
            "\n21:17:05.173 siggen   28138 helper.sh       umh   SIGCHLD from 28139 (cat)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(" result=delivered code=CLD_EXITED group\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "\n21:17:05.171 fork     28138 kworker/u8:3    umh   by 13770 (kworker/u8:3)\n"
        ),
        "{out}"
    );

    // On a terminal of 80 columns (COLUMNS), chosen by itself.
    let (code, term) = tracer_on_terminal(
        &[("COLUMNS", "80"), ("NO_COLOR", "1")],
        &["replay", fixture()],
    );
    assert_eq!(code, 0, "{term}");
    assert_compact(&term, 80);
    assert_eq!(term, out, "the same compact text");
    // The terminal's own width, without COLUMNS.
    let (_, term) = tracer_on_terminal_of(80, &[("NO_COLOR", "1")], &["replay", fixture()]);
    assert_eq!(term, out, "80 columns by TIOCGWINSZ");
    let (_, term) = tracer_on_terminal_of(200, &[("NO_COLOR", "1")], &["replay", fixture()]);
    assert!(term.starts_with("TIME            CPU EVENT"), "{term}");
    // COLUMNS says more than the terminal.
    let (_, term) = tracer_on_terminal_of(
        200,
        &[("COLUMNS", "80"), ("NO_COLOR", "1")],
        &["replay", fixture()],
    );
    assert_eq!(term, out, "COLUMNS first");
    // 120 columns: still narrower than the full layout, wrapped wider.
    let (_, term) = tracer_on_terminal(
        &[("COLUMNS", "120"), ("NO_COLOR", "1")],
        &["replay", fixture()],
    );
    assert_compact(&term, 120);
    // Wide enough, or --wide: the full layout.
    for (env, args) in [
        (vec![("COLUMNS", "200")], vec!["replay", fixture()]),
        (vec![("COLUMNS", "80")], vec!["replay", fixture(), "--wide"]),
    ] {
        let mut env = env;
        env.push(("NO_COLOR", "1"));
        let (_, term) = tracer_on_terminal(&env, &args);
        assert!(
            term.starts_with("TIME            CPU EVENT"),
            "{env:?} {args:?}:\n{term}"
        );
    }
    // Not a terminal: the full layout whatever COLUMNS says.
    let (_, out, _) = tracer_in("UTC", &[("COLUMNS", "80")], &["replay", fixture()]);
    assert!(out.starts_with("TIME            CPU EVENT"), "{out}");
}

#[test]
fn colour_only_on_terminals_and_never_in_the_way_of_the_text() {
    let (_, plain, _) = tracer_utc(&["replay", fixture()]);
    assert!(!plain.contains('\x1b'), "no colour into a pipe");
    let (_, coloured, _) = tracer_utc(&["replay", fixture(), "--color=always"]);
    assert_eq!(strip_sgr(&coloured), plain, "colour adds only SGR codes");
    // Kinds by family, failures red.
    assert!(
        coloured.contains("\x1b[35mumh        \x1b[0m"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\x1b[35mumh_child  \x1b[0m"),
        "{coloured}"
    );
    let segv = coloured
        .lines()
        .find(|l| l.contains("SIGSEGV"))
        .expect("the SIGSEGV exit");
    assert!(segv.contains("\x1b[31mexit           \x1b[0m"), "{segv:?}");
    assert!(
        segv.contains("\x1b[31mkilled by SIGSEGV (core dumped)"),
        "{segv:?}"
    );
    let ok_exit = coloured
        .lines()
        .find(|l| l.contains("exited 0 after 2.0s"))
        .unwrap();
    assert!(!ok_exit.contains("\x1b[31m"), "{ok_exit:?}");

    // Auto: a terminal whose TERM is not dumb, without NO_COLOR.
    let wide = ("COLUMNS", "200");
    let (_, term) = tracer_on_terminal(&[wide], &["replay", fixture()]);
    assert!(term.contains("\x1b[35m"), "{term}");
    for env in [vec![wide, ("NO_COLOR", "1")], vec![wide, ("TERM", "dumb")]] {
        let (_, term) = tracer_on_terminal(&env, &["replay", fixture()]);
        assert!(!term.contains('\x1b'), "{env:?}: {term}");
    }
    let (_, term) = tracer_on_terminal(
        &[wide, ("NO_COLOR", "1")],
        &["replay", fixture(), "--color", "always"],
    );
    assert!(
        term.contains("\x1b[35m"),
        "--color always wins over NO_COLOR"
    );
    let (_, term) = tracer_on_terminal(&[wide], &["replay", fixture(), "--color", "never"]);
    assert!(!term.contains('\x1b'), "{term}");
    // The compact layout colours too, and still strips to its plain form.
    let (_, narrow, _) = tracer_utc(&["replay", fixture(), "--narrow"]);
    let (_, coloured, _) = tracer_utc(&["replay", fixture(), "--narrow", "--color=always"]);
    assert_eq!(strip_sgr(&coloured), narrow);
}

#[test]
fn tree_as_json_and_in_ascii() {
    let (code, out, err) = tracer_utc(&["tree", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let root: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(root["pid"], 0);
    assert_eq!(root["kind"], "idle");
    let kids = root["children"].as_array().unwrap();
    let kthreadd = kids.iter().find(|k| k["pid"] == 2).expect("kthreadd");
    assert_eq!(kthreadd["comm"], "kthreadd");
    assert_eq!(kthreadd["kind"], "kthreadd");
    assert!(kthreadd["children"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kind"].as_str().unwrap().starts_with('k')));
    // This test process is somewhere under init.
    fn find(v: &Value, pid: u64) -> bool {
        v["pid"] == pid
            || v["children"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| find(c, pid))
    }
    assert!(find(&root, u64::from(std::process::id())));
    let (_, out, _) = tracer_utc(&["tree", "2", "--format", "json"]);
    let sub: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sub["pid"], 2);
    assert_eq!(sub["tgid"], 2);

    let clear = [("LC_ALL", ""), ("LC_CTYPE", "")];
    let with = |lang: &str| {
        let mut env = clear.to_vec();
        env.push(("LANG", lang));
        let (code, out, err) = tracer_in("UTC", &env, &["tree"]);
        assert_eq!(code, 0, "{err}");
        out
    };
    let utf8 = with("C.UTF-8");
    assert!(utf8.contains("├─ 1 ") || utf8.contains("└─ 1 "), "{utf8}");
    assert!(utf8.contains("─ 2 kthreadd [kthreadd]"), "{utf8}");
    for lang in ["C", "POSIX", "en_US.ISO-8859-1", ""] {
        let ascii = with(lang);
        assert!(ascii.is_ascii(), "LANG={lang}: {ascii}");
        assert!(
            ascii.contains("|-- 1 ") || ascii.contains("`-- 1 "),
            "{ascii}"
        );
        assert!(ascii.contains("-- 2 kthreadd [kthreadd]"), "{ascii}");
        assert!(
            ascii
                .lines()
                .any(|l| l.starts_with("|   ") || l.starts_with("    ")),
            "{ascii}"
        );
    }
    // LC_ALL wins over LANG.
    let (_, out, _) = tracer_in("UTC", &[("LC_ALL", "C"), ("LANG", "C.UTF-8")], &["tree"]);
    assert!(out.is_ascii(), "{out}");
}
