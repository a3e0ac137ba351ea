//! `cargo xtask dist --check` (and `cargo xtask test`): the artifacts
//! build, and are what they claim. The static binaries are static ELF
//! files of the right machine, this machine's runs with no environment and
//! says its version, commit and target; each .deb holds the expected
//! files with the right modes (its binary of its own architecture, a man
//! page per subcommand listed in `tracer --help`, three completions, the
//! unit, the options file as a conffile, the maintainer scripts) and
//! lintian finds no error or warning in it; each man page has the sections
//! a user learns from and a proper title, and the completions offer the
//! real values of the enumerated options; and the unit's command line,
//! with the default options, is one this tracer accepts.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, ensure, Context as _, Result};

use super::{
    artifacts::{packaging_dir, tracer_version, Artifacts},
    deb, elf, licenses,
};
use crate::cmd::{workspace_root, Arch};

/// Runs every check on `artifacts`; returns how many passed (any failure
/// is an error).
pub(crate) fn check(artifacts: &Artifacts) -> Result<u64> {
    let mut passed = 0;
    let mut pass = |name: String| {
        println!("xtask: dist check ok: {name}");
        passed += 1;
    };
    for (arch, exe) in &artifacts.binaries {
        elf::check(&fs::read(exe)?, *arch).with_context(|| exe.display().to_string())?;
        pass(format!("{} is a static {arch:?} ELF", exe.display()));
    }
    let host = Arch::host()?;
    let (_, host_exe) = artifacts
        .binaries
        .iter()
        .find(|(a, _)| *a == host)
        .context("no binary for this machine's architecture")?;
    check_version(host_exe, host)?;
    pass(format!("{} --version", host_exe.display()));
    let subcommands = subcommands(host_exe)?;
    for (arch, package) in &artifacts.debs {
        check_info(package, *arch)?;
        pass(format!("{} control, conffiles, scripts", package.display()));
        check_contents(package, &subcommands)?;
        pass(format!("{} contents", package.display()));
        let unpacked = check_binary_in(package, *arch)?;
        pass(format!(
            "{} holds a static {arch:?} binary",
            package.display()
        ));
        check_completions(&unpacked, &subcommands)?;
        pass(format!("{} completions", package.display()));
        check_man_pages(&unpacked, &subcommands)?;
        pass(format!("{} man pages", package.display()));
        let copyright = unpacked.join("usr/share/doc/tracer/copyright");
        let text = fs::read_to_string(&copyright)
            .with_context(|| format!("reading {}", copyright.display()))?;
        let crates = licenses::check(&text, *arch)
            .with_context(|| format!("{}'s copyright", package.display()))?;
        pass(format!(
            "{} copyright: {crates} linked crates and their licenses",
            package.display()
        ));
        lintian(package)?;
        pass(format!("{} lintian", package.display()));
    }
    // Last: it needs `record --dir` and the rotation flags (branch rotate).
    check_unit_command(host_exe)?;
    pass("tracer-record.service's command line parses".into());
    Ok(passed)
}

/// `--version` of a copy alone in an empty folder, with an empty
/// environment: "tracer VERSION (commit COMMIT, target TRIPLE)".
fn check_version(exe: &Path, arch: Arch) -> Result<()> {
    let alone = workspace_root().join("target/dist/check-alone");
    let _ = fs::remove_dir_all(&alone);
    fs::create_dir_all(&alone)?;
    let copy = alone.join("tracer");
    fs::copy(exe, &copy)?;
    let out = Command::new(&copy)
        .arg("--version")
        .env_clear()
        .current_dir(&alone)
        .output()
        .with_context(|| format!("running {} --version", copy.display()))?;
    ensure!(
        out.status.success(),
        "{} --version failed: {}",
        copy.display(),
        out.status
    );
    let got = String::from_utf8_lossy(&out.stdout);
    let commit = git_head().unwrap_or_else(|| "unknown".into());
    let want = format!(
        "tracer {} (commit {commit}, target {})\n",
        tracer_version()?,
        arch.triple()
    );
    ensure!(
        got == want,
        "tracer --version printed {got:?}, expected {want:?}"
    );
    Ok(())
}

fn git_head() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The unit's ExecStart, with the options file's defaults, is a command
/// line this tracer accepts: run with `--help` appended, clap checks every
/// flag and value before it (and exits 2 on an unknown one) but starts
/// nothing. Catches packaging that drifts from the CLI.
fn check_unit_command(exe: &Path) -> Result<()> {
    let packaging = packaging_dir();
    let unit = fs::read_to_string(packaging.join("tracer-record.service"))?;
    let defaults = fs::read_to_string(packaging.join("default"))?;
    let opts = defaults
        .lines()
        .find_map(|l| l.strip_prefix("TRACER_RECORD_OPTS="))
        .map(|v| v.trim_matches('"'))
        .context("tracer/packaging/default sets no TRACER_RECORD_OPTS")?;
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .context("tracer-record.service has no ExecStart")?;
    let mut words = exec.split_whitespace();
    ensure!(
        words.next() == Some("/usr/bin/tracer"),
        "ExecStart does not run /usr/bin/tracer: {exec}"
    );
    let args: Vec<&str> = words
        .flat_map(|w| match w {
            "$TRACER_RECORD_OPTS" => opts.split_whitespace().collect(),
            w => vec![w],
        })
        .chain(["--help"])
        .collect();
    let out = Command::new(exe)
        .args(&args)
        .output()
        .context("running tracer")?;
    ensure!(
        out.status.success(),
        "tracer-record.service runs `tracer {}`, which this tracer refuses:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The subcommands `tracer --help` lists (the hidden ones are not listed,
/// and get no man page).
fn subcommands(exe: &Path) -> Result<Vec<String>> {
    let help = output(Command::new(exe).arg("--help"))?;
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A name sits at two spaces; deeper lines continue a description.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    ensure!(
        !names.is_empty(),
        "`tracer --help` lists no subcommands:\n{help}"
    );
    Ok(names)
}

fn check_info(package: &Path, arch: Arch) -> Result<()> {
    let fields = output(Command::new("dpkg-deb").arg("--field").arg(package).args([
        "Package",
        "Version",
        "Architecture",
    ]))?;
    let want = format!(
        "Package: tracer\nVersion: {}\nArchitecture: {}\n",
        deb::deb_version()?,
        arch.deb_arch()
    );
    ensure!(
        fields == want,
        "{}: control says\n{fields}expected\n{want}",
        package.display()
    );
    let conffiles = output(
        Command::new("dpkg-deb")
            .arg("--info")
            .arg(package)
            .arg("conffiles"),
    )?;
    let listed: Vec<&str> = conffiles.lines().collect();
    ensure!(
        listed == deb::CONFFILES,
        "{}: conffiles are {listed:?}, expected {:?}",
        package.display(),
        deb::CONFFILES
    );
    for script in ["postinst", "prerm", "postrm"] {
        let text = output(
            Command::new("dpkg-deb")
                .arg("--info")
                .arg(package)
                .arg(script),
        )?;
        ensure!(
            text.contains("tracer-record.service"),
            "{}: {script} does not handle tracer-record.service",
            package.display()
        );
    }
    Ok(())
}

/// Every expected file, with its mode, owned by root.
fn check_contents(package: &Path, subcommands: &[String]) -> Result<()> {
    let listing = output(Command::new("dpkg-deb").arg("--contents").arg(package))?;
    let entries: Vec<(&str, &str, &str)> = listing
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            Some((*fields.first()?, *fields.get(1)?, *fields.last()?))
        })
        .collect();
    let mut want: Vec<(String, &str)> = vec![
        ("./usr/bin/tracer".into(), "-rwxr-xr-x"),
        (
            "./lib/systemd/system/tracer-record.service".into(),
            "-rw-r--r--",
        ),
        ("./etc/default/tracer-record".into(), "-rw-r--r--"),
        ("./usr/share/doc/tracer/copyright".into(), "-rw-r--r--"),
        (
            "./usr/share/doc/tracer/changelog.Debian.gz".into(),
            "-rw-r--r--",
        ),
        (format!("./{}/tracer.1.gz", deb::MAN_DIR), "-rw-r--r--"),
    ];
    for sub in subcommands {
        want.push((
            format!("./{}/tracer-{sub}.1.gz", deb::MAN_DIR),
            "-rw-r--r--",
        ));
    }
    for (_, path) in deb::COMPLETIONS {
        want.push((format!("./{path}"), "-rw-r--r--"));
    }
    for (path, mode) in &want {
        match entries.iter().find(|(_, _, p)| p == path) {
            Some((m, owner, _)) if m == mode && *owner == "root/root" => {}
            Some((m, owner, _)) => bail!(
                "{}: {path} is {m} {owner}, expected {mode} root/root",
                package.display()
            ),
            None => bail!("{}: no {path} in\n{listing}", package.display()),
        }
    }
    Ok(())
}

/// The packaged binary, unpacked, is a static ELF for the package's
/// architecture. Returns where the package was unpacked.
fn check_binary_in(package: &Path, arch: Arch) -> Result<PathBuf> {
    let dir = workspace_root().join(format!("target/dist/check-{}", arch.deb_arch()));
    let _ = fs::remove_dir_all(&dir);
    crate::cmd::run(Command::new("dpkg-deb").arg("-x").arg(package).arg(&dir))?;
    let exe = dir.join("usr/bin/tracer");
    elf::check(&fs::read(&exe)?, arch)
        .with_context(|| format!("{} in {}", exe.display(), package.display()))?;
    Ok(dir)
}

/// Hidden subcommands and options, with names no description uses.
const HIDDEN: &[&str] = &["bench-log", "bench-table", "refuse-program"];

/// Each shell's completions offer every subcommand in `--help`, and none
/// of the hidden hooks (clap_complete includes them unless pruned).
fn check_completions(unpacked: &Path, subcommands: &[String]) -> Result<()> {
    for (_, path) in deb::COMPLETIONS {
        let file = unpacked.join(path);
        let text =
            fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        for sub in subcommands {
            ensure!(
                text.contains(sub.as_str()),
                "{} never offers {sub}",
                file.display()
            );
        }
        for hidden in HIDDEN {
            ensure!(
                !text.contains(hidden),
                "{} offers hidden {hidden}",
                file.display()
            );
        }
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        let events = tracer_common::EventKind::ALL.map(|k| k.name());
        for value in KINDS.iter().chain(FORMATS).chain(&events) {
            ensure!(
                words.contains(value),
                "{} never offers the value {value} (of --kind, --format or --event)",
                file.display()
            );
        }
    }
    Ok(())
}

/// The values of `--kind` and `--format` the completions must offer
/// (`--event`'s come from tracer-common's list of event kinds).
const KINDS: &[&str] = &[
    "idle",
    "init",
    "kthreadd",
    "kthread",
    "kworker",
    "io_worker",
    "user_worker",
    "umh",
    "umh_child",
    "user",
];
const FORMATS: &[&str] = &["text", "json", "otlp", "perfetto", "prometheus"];

/// The sections every man page has.
pub(crate) const MAN_SECTIONS: &[&str] = &[
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "EXAMPLES",
    "EXIT STATUS",
    "FILES",
    "SEE ALSO",
];

/// tracer.1 and each tracer-SUB.1: `.TH` with the page's name, a date and
/// `tracer VERSION`; NAME naming the page; every section of
/// [`MAN_SECTIONS`].
fn check_man_pages(unpacked: &Path, subcommands: &[String]) -> Result<()> {
    let version = tracer_version()?;
    let names = std::iter::once("tracer".to_string())
        .chain(subcommands.iter().map(|s| format!("tracer-{s}")));
    for name in names {
        let path = unpacked.join(deb::MAN_DIR).join(format!("{name}.1.gz"));
        let page = output(Command::new("gzip").arg("-dc").arg(&path))?;
        check_man_page(&page, &name, &version).with_context(|| path.display().to_string())?;
    }
    Ok(())
}

/// One page's text (see [`check_man_pages`]).
pub(crate) fn check_man_page(page: &str, name: &str, version: &str) -> Result<()> {
    let th = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .context("no .TH line")?;
    let fields: Vec<&str> = th.split('"').collect();
    ensure!(
        fields.get(1) == Some(&name.to_uppercase().as_str()),
        "{th}: the title is not {}",
        name.to_uppercase()
    );
    let date = fields.get(3).copied().unwrap_or_default();
    let is_date = date.len() == 10
        && date.bytes().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    ensure!(
        is_date,
        "{th}: the date slot holds {date:?}, not YYYY-MM-DD"
    );
    let source = format!("tracer {version}");
    ensure!(
        fields.get(5) == Some(&source.as_str()),
        "{th}: the source is not {source}"
    );
    let title = format!(".SH NAME\n{} \\- ", name.replace('-', "\\-"));
    ensure!(
        page.contains(&title),
        "its NAME section does not name {name}"
    );
    for section in MAN_SECTIONS {
        ensure!(
            page.contains(&format!("\n.SH {section}\n")),
            "no {section} section"
        );
    }
    Ok(())
}

/// lintian, failing on errors and warnings (the few that cannot be fixed
/// are overridden, with reasons, in tracer/packaging/lintian-overrides).
fn lintian(package: &Path) -> Result<()> {
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning"])
        .arg(package)
        .output()
        .context("running lintian")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    ensure!(
        out.status.success(),
        "lintian found problems in {} ({}):\n{text}{}",
        package.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(th: &str, name: &str, sections: &[&str]) -> String {
        let mut p = format!(
            "{th}\n.SH NAME\n{} \\- what it does\n",
            name.replace('-', "\\-")
        );
        for s in sections {
            p.push_str(&format!(".SH {s}\ntext\n"));
        }
        p
    }

    #[test]
    fn a_man_page_needs_its_title_date_version_and_sections() {
        let th = r#".TH "TRACER-TRACE" 1 "2026-12-05" "tracer 0.1.0" "User Commands""#;
        let good = page(th, "tracer-trace", &MAN_SECTIONS[1..]);
        check_man_page(&good, "tracer-trace", "0.1.0").unwrap();
        // What clap_mangen wrote before: the version string in the date
        // slot, the bare subcommand name, no EXAMPLES.
        let old = page(
            ".TH trace 1  \"trace 0.1.0 (commit 0123456789ab, target x86_64-unknown-linux-musl)\"",
            "trace",
            &["SYNOPSIS", "DESCRIPTION", "OPTIONS"],
        );
        assert!(check_man_page(&old, "tracer-trace", "0.1.0").is_err());
        for missing in &MAN_SECTIONS[1..] {
            let sections: Vec<&str> = MAN_SECTIONS[1..]
                .iter()
                .copied()
                .filter(|s| s != missing)
                .collect();
            let e = check_man_page(
                &page(th, "tracer-trace", &sections),
                "tracer-trace",
                "0.1.0",
            )
            .unwrap_err();
            assert!(e.to_string().contains(missing), "{e}");
        }
        let undated = th.replace("2026-12-05", "0.1.0 (commit x)");
        assert!(check_man_page(
            &page(&undated, "tracer-trace", &MAN_SECTIONS[1..]),
            "tracer-trace",
            "0.1.0"
        )
        .is_err());
    }
}
