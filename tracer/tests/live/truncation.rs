//! Live tests: an exec whose path or arguments do not fit its record says
//! so, with what the kernel had, live and replayed; a log of the previous
//! record format still replays.

use std::{fs, process::Command};

use serde_json::Value;

use crate::common::*;

fn exec_of<'a>(events: &'a [Value], filename: &str) -> &'a Value {
    events
        .iter()
        .find(|v| {
            is(v, "exec")
                && v["filename"]
                    .as_str()
                    .is_some_and(|f| f.starts_with(filename))
        })
        .unwrap_or_else(|| panic!("no exec of {filename}"))
}

#[test]
fn cut_arguments_and_paths_are_marked_with_what_the_kernel_had() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // A 416-byte path: deeper than an exec record holds.
    let mut deep = dir.path().to_path_buf();
    while deep.as_os_str().len() < 400 {
        deep.push("d".repeat(40));
    }
    fs::create_dir_all(&deep).unwrap();
    let long_path = deep.join("true");
    fs::copy("/bin/true", &long_path).unwrap();
    let tracer = Tracer::start(&["--event", "exec"]);
    // 1000 arguments of 100 bytes.
    let many: Vec<String> = (0..1000).map(|i| format!("{i:0>100}")).collect();
    assert!(Command::new("/bin/true")
        .args(&many)
        .status()
        .unwrap()
        .success());
    // One 100 KB argument, then one more.
    let big = "b".repeat(100 << 10);
    assert!(Command::new("/bin/echo")
        .args([big.as_str(), "after"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success());
    assert!(Command::new(&long_path).status().unwrap().success());
    // A short one: nothing cut.
    assert!(Command::new("/bin/true")
        .arg("short")
        .status()
        .unwrap()
        .success());
    let (events, _) = tracer.stop();

    let many_exec = events
        .iter()
        .find(|v| is(v, "exec") && v["argc"] == 1001)
        .expect("the exec with 1000 arguments");
    assert_eq!(many_exec["argv_truncated"], true, "{many_exec}");
    assert_eq!(u64_of(many_exec, "args_bytes"), 10 + 1000 * 101);
    assert!(many_exec["argv"].as_array().unwrap().len() < 1001);

    let echo = exec_of(&events, "/bin/echo");
    assert_eq!(echo["argv_truncated"], true, "{echo}");
    assert_eq!(echo["argc"], 3, "{echo}");
    assert_eq!(u64_of(echo, "args_bytes"), 10 + (100 << 10) + 1 + 6);

    let deep_exec = events
        .iter()
        .find(|v| is(v, "exec") && v["filename_truncated"] == true)
        .expect("the exec of the deep path, marked");
    let shown = str_of(deep_exec, "filename");
    assert!(long_path.to_str().unwrap().starts_with(shown), "{shown}");
    assert!(shown.len() < long_path.as_os_str().len());

    let short = events
        .iter()
        .find(|v| is(v, "exec") && v["argv"] == serde_json::json!(["/bin/true", "short"]))
        .expect("the short exec");
    assert_eq!(short["argv_truncated"], false);
    assert_eq!(short["filename_truncated"], false);
    assert_eq!(short["argc"], 2);
}

#[test]
fn cuts_show_in_text_output() {
    let _serial = serial();
    use std::io::{BufRead as _, BufReader};
    let mut child = Command::new(tracer_exe())
        .args(["trace", "--event", "exec"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Start the exec only once tracing is attached (slow under emulation).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("attached") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "tracer ended before attaching"
        );
    }
    let many: Vec<String> = (0..300).map(|i| format!("{i:0>20}")).collect();
    assert!(Command::new("/bin/true")
        .args(&many)
        .status()
        .unwrap()
        .success());
    kill(child.id(), libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let text = unfold(&String::from_utf8_lossy(&out.stdout));
    let line = text
        .lines()
        .find(|l| l.contains("argc=301"))
        .unwrap_or_else(|| panic!("no cut exec line:\n{text}"));
    assert!(
        line.contains(" argv_truncated argc=301 args_bytes=6310"),
        "{line}"
    );
}
