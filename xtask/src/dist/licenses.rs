//! The .deb's copyright file: tracer's own paragraphs
//! (tracer/packaging/copyright, a template) with a paragraph for every
//! crate compiled into the static binary, and into the eBPF object it
//! embeds, each with its license as its Cargo.toml declares it.
//!
//! The crates come from `cargo metadata` for the release target: from
//! tracer and tracer-ebpf, the normal dependencies only (a build or dev
//! dependency is not linked), and not through proc-macros (they run in
//! the compiler). Licenses are written in the copyright format's syntax,
//! and every license name used gets its text: MIT, Apache-2.0 and GPL-2
//! in the template, the others from tracer/packaging/licenses/NAME.
//! `cargo xtask dist --check` reads the file back from each .deb and fails
//! when a linked crate or a license text is missing.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
};

use anyhow::{bail, ensure, Context as _, Result};
use cargo_metadata::{DependencyKind, MetadataCommand, Package, PackageId};

use super::artifacts::packaging_dir;
use crate::cmd::{workspace_root, Arch};

/// A crate linked into the binary.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Crate {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) authors: Vec<String>,
    /// Its license expression in the copyright format's syntax.
    pub(crate) license: String,
}

impl Crate {
    /// Its paragraph's `Files:` value: the crate as `cargo vendor
    /// --versioned-dirs` lays it out (its sources are not in tracer's).
    pub(crate) fn files(&self) -> String {
        format!("vendor/{}-{}/*", self.name, self.version)
    }
}

/// The license names whose texts the template holds.
const IN_TEMPLATE: [&str; 3] = ["MIT", "Apache-2.0", "GPL-2"];

/// The workspace packages whose code ends up in /usr/bin/tracer.
const ROOTS: [&str; 2] = ["tracer", "tracer-ebpf"];

/// Every crate from the crate registry linked into `arch`'s binary, by name.
pub(crate) fn linked_crates(arch: Arch) -> Result<Vec<Crate>> {
    let meta = MetadataCommand::new()
        .current_dir(workspace_root())
        .other_options(vec!["--filter-platform".into(), arch.triple().into()])
        .exec()
        .context("running cargo metadata")?;
    let resolve = meta
        .resolve
        .as_ref()
        .context("cargo metadata gave no resolve")?;
    let packages: BTreeMap<&PackageId, &Package> =
        meta.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: BTreeMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut stack: Vec<&PackageId> = meta
        .workspace_packages()
        .into_iter()
        .filter(|p| ROOTS.contains(&p.name.as_str()))
        .map(|p| &p.id)
        .collect();
    ensure!(stack.len() == ROOTS.len(), "cargo metadata lacks {ROOTS:?}");
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = nodes
            .get(id)
            .with_context(|| format!("{id} not in the resolve"))?;
        for dep in &node.deps {
            let normal = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind == DependencyKind::Normal);
            let package = packages
                .get(&dep.pkg)
                .with_context(|| format!("{} unknown", dep.pkg))?;
            let proc_macro = package.targets.iter().any(|t| t.is_proc_macro());
            if normal && !proc_macro {
                stack.push(&dep.pkg);
            }
        }
    }
    let members: BTreeSet<&PackageId> = meta.workspace_members.iter().collect();
    let mut crates = Vec::new();
    for id in seen.into_iter().filter(|id| !members.contains(id)) {
        let package = packages[id];
        let spdx = package
            .license
            .as_deref()
            .with_context(|| format!("{} {} declares no license", package.name, package.version))?;
        crates.push(Crate {
            name: package.name.to_string(),
            version: package.version.to_string(),
            authors: package.authors.clone(),
            license: dep5_license(spdx)
                .with_context(|| format!("{} {}'s license", package.name, package.version))?,
        });
    }
    crates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(crates)
}

/// An SPDX expression (`MIT OR Apache-2.0`, the old `MIT/Apache-2.0`) in
/// the copyright format's syntax (`MIT or Apache-2.0`). Parentheses have no
/// equivalent there: refused, for a person to write that crate's paragraph.
pub(crate) fn dep5_license(spdx: &str) -> Result<String> {
    ensure!(
        !spdx.contains(['(', ')']),
        "`{spdx}` has parentheses, which the copyright format cannot say"
    );
    let mut out = Vec::new();
    let mut words = spdx.split_whitespace().flat_map(|w| {
        // The old form joins alternatives with '/'.
        let parts: Vec<&str> = w.split('/').collect();
        let n = parts.len();
        parts.into_iter().enumerate().flat_map(move |(i, p)| {
            let or = (i + 1 < n).then_some("OR");
            std::iter::once(p).chain(or)
        })
    });
    while let Some(word) = words.next() {
        match word {
            "OR" => out.push("or".to_owned()),
            "AND" => out.push("and".to_owned()),
            "WITH" => {
                let exception = words.next().context("WITH names no exception")?;
                out.push(format!("with {exception} exception"));
            }
            name if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c)) =>
            {
                out.push(name.to_owned())
            }
            other => bail!("`{other}` is not a license name"),
        }
    }
    ensure!(!out.is_empty(), "an empty license");
    Ok(out.join(" "))
}

/// The license names in a copyright-format expression.
fn license_names(dep5: &str) -> impl Iterator<Item = &str> {
    let mut after_with = false;
    dep5.split_whitespace().filter(move |w| {
        let keep = !after_with && !matches!(*w, "or" | "and" | "with" | "exception");
        after_with = *w == "with";
        keep
    })
}

/// The copyright file for `arch`'s package.
pub(crate) fn copyright(arch: Arch) -> Result<String> {
    let crates = linked_crates(arch)?;
    let path = packaging_dir().join("copyright");
    let template =
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        template.contains("@CRATES@\n") && template.contains("@LICENSES@\n"),
        "{} lacks the @CRATES@ or @LICENSES@ line",
        path.display()
    );
    let mut paragraphs = String::new();
    let mut names = BTreeSet::new();
    for c in &crates {
        let authors = if c.authors.is_empty() {
            vec![format!("the {} authors", c.name)]
        } else {
            c.authors.clone()
        };
        paragraphs.push_str(&format!(
            "Files: {}\nCopyright: {}\nLicense: {}\nComment: {} {}, from the crate registry\n\n",
            c.files(),
            authors.join("\n "),
            c.license,
            c.name,
            c.version
        ));
        names.extend(license_names(&c.license).filter(|n| !IN_TEMPLATE.contains(n)));
    }
    let mut texts = String::new();
    for name in names {
        let file = packaging_dir().join("licenses").join(name);
        let text = fs::read_to_string(&file).with_context(|| {
            format!(
                "a linked crate is under {name}, whose text {} should hold",
                file.display()
            )
        })?;
        texts.push_str(&format!("\nLicense: {name}\n{}", indent(&text)));
    }
    Ok(template
        .replace("@CRATES@\n", &paragraphs)
        .replace("@LICENSES@\n", &texts))
}

/// A license text as a field's continuation lines: a space before each
/// line, " ." for an empty one.
fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                " .\n".to_owned()
            } else {
                format!(" {}\n", l.trim_end())
            }
        })
        .collect()
}

/// Checks a package's copyright file: a paragraph for every crate linked
/// into `arch`'s binary, with its license, and a text for every license
/// name used. Returns how many crates it lists.
pub(crate) fn check(text: &str, arch: Arch) -> Result<usize> {
    let paragraphs: Vec<BTreeMap<&str, String>> = text.split("\n\n").map(fields).collect();
    let crates = linked_crates(arch)?;
    for c in &crates {
        let files = c.files();
        let found = paragraphs
            .iter()
            .find(|p| p.get("Files") == Some(&files))
            .with_context(|| format!("the copyright file lacks {} {}", c.name, c.version))?;
        ensure!(
            found.get("License") == Some(&c.license),
            "the copyright file gives {} {} the license {:?}, its Cargo.toml {:?}",
            c.name,
            c.version,
            found.get("License"),
            c.license
        );
    }
    let standalone: BTreeSet<&str> = paragraphs
        .iter()
        .filter(|p| !p.contains_key("Files") && !p.contains_key("Format"))
        .filter_map(|p| p.get("License").map(String::as_str))
        .collect();
    for p in paragraphs.iter().filter(|p| p.contains_key("Files")) {
        let license = p
            .get("License")
            .context("a Files paragraph without License")?;
        for name in license_names(license) {
            ensure!(
                standalone.contains(name),
                "the copyright file has no text for {name}"
            );
        }
    }
    Ok(crates.len())
}

/// A paragraph's fields, each with the first line of its value.
fn fields(paragraph: &str) -> BTreeMap<&str, String> {
    paragraph
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_in_the_copyright_format() {
        let cases = [
            ("MIT OR Apache-2.0", "MIT or Apache-2.0"),
            ("MIT/Apache-2.0", "MIT or Apache-2.0"),
            (
                "Apache-2.0 WITH LLVM-exception",
                "Apache-2.0 with LLVM-exception exception",
            ),
            ("MIT AND Zlib", "MIT and Zlib"),
            ("Unlicense OR MIT", "Unlicense or MIT"),
        ];
        for (spdx, dep5) in cases {
            assert_eq!(dep5_license(spdx).unwrap(), dep5, "{spdx}");
        }
        assert!(dep5_license("(MIT OR Apache-2.0) AND Unicode-3.0").is_err());
        assert!(dep5_license("").is_err());
    }

    #[test]
    fn license_names_leave_out_operators_and_exceptions() {
        let names: Vec<&str> =
            license_names("Apache-2.0 with LLVM-exception exception or MIT and Zlib").collect();
        assert_eq!(names, ["Apache-2.0", "MIT", "Zlib"]);
    }

    /// The generated file passes the check; without a crate's paragraph,
    /// with another license, or without a license's text, it fails.
    #[test]
    fn copyright_lists_every_linked_crate() {
        let arch = Arch::host().unwrap();
        let text = copyright(arch).unwrap();
        let crates = linked_crates(arch).unwrap();
        assert_eq!(check(&text, arch).unwrap(), crates.len());
        assert!(crates.iter().any(|c| c.name == "aya"), "aya is linked");
        assert!(
            crates.iter().any(|c| c.name == "aya-ebpf"),
            "the object's crates"
        );
        assert!(
            !crates.iter().any(|c| c.name == "prost-build"),
            "a build dependency"
        );
        assert!(
            !crates.iter().any(|c| c.name == "tempfile"),
            "a dev dependency"
        );
        assert!(
            !crates.iter().any(|c| c.name == "clap_derive"),
            "a proc-macro"
        );

        let first = &crates[0];
        let para = format!("Files: {}\n", first.files());
        let without = text.replace(&para, "Files: vendor/elsewhere/*\n");
        assert!(check(&without, arch).is_err());
        let other = crates.iter().find(|c| c.license != "MIT").unwrap();
        let tail = format!("\nComment: {} {},", other.name, other.version);
        let relicensed = text.replace(
            &format!("License: {}{tail}", other.license),
            &format!("License: MIT{tail}"),
        );
        assert_ne!(relicensed, text);
        assert!(check(&relicensed, arch).is_err());
        let zlib = crates
            .iter()
            .find(|c| c.license == "Zlib")
            .expect("a Zlib crate");
        let no_text = text.replace("\nLicense: Zlib\n", "\nLicense: Zlib-gone\n");
        assert_ne!(no_text, text);
        assert!(
            check(&no_text, arch).is_err(),
            "{} needs the Zlib text",
            zlib.name
        );
    }
}
