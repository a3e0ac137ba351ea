//! The Debian mirror the kernel matrix and the Debian root download from:
//! TRACER_DEBIAN_MIRROR if set, else the one this machine's apt uses.
//!
//! apt's sources are read as apt reads them: /etc/apt/sources.list, then
//! /etc/apt/sources.list.d/*.list (one-line format) and *.sources (deb822)
//! in name order. The mirror is the first `deb` source of the distribution
//! itself (a suite named for its release, from /etc/os-release; never a
//! `-security` one), trimmed to the archive root the callers expect (the
//! URI without its last `/debian`).

use anyhow::{bail, Context as _, Result};

/// Overrides the derived mirror: the archive root, e.g. `http://host` for
/// `http://host/debian` (a local proxy, say).
const ENV: &str = "TRACER_DEBIAN_MIRROR";

const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_PARTS: &str = "/etc/apt/sources.list.d";

/// One `deb` source.
#[derive(Debug, PartialEq, Eq)]
struct Source {
    uri: String,
    suites: Vec<String>,
}

/// The Debian mirror's archive root, without a trailing `/`.
pub(crate) fn debian_mirror() -> Result<String> {
    if let Ok(mirror) = std::env::var(ENV) {
        if !mirror.trim().is_empty() {
            return Ok(mirror.trim().trim_end_matches('/').to_string());
        }
    }
    let sources = apt_sources()?;
    let codename = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| os_release_codename(&text));
    let Some(uri) = pick(&sources, codename.as_deref()) else {
        bail!(
            "no Debian mirror: this machine's apt sources ({SOURCES_LIST}, \
             {SOURCES_PARTS}/) have no `deb` source of the distribution{}; \
             set {ENV} to the mirror's archive root (the URL without /debian)",
            codename
                .as_deref()
                .map(|c| format!(" (suite {c})"))
                .unwrap_or_default()
        );
    };
    archive_root(uri)
}

/// The Debian security archive (`.../debian-security`, without a trailing
/// `/`): the first `deb` source of a `-security` suite in this machine's
/// apt sources, which many mirrors leave to a host of its own; else the
/// one beside the Debian mirror. TRACER_DEBIAN_MIRROR overrides both.
pub(crate) fn security_archive() -> Result<String> {
    let overridden = std::env::var(ENV).is_ok_and(|m| !m.trim().is_empty());
    if !overridden {
        if let Some(uri) = pick_security(&apt_sources()?) {
            return Ok(uri.trim_end_matches('/').to_string());
        }
    }
    Ok(format!("{}/debian-security", debian_mirror()?))
}

/// Every `deb` source apt reads, in its order.
fn apt_sources() -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    for (name, text) in source_files()? {
        if name.ends_with(".sources") {
            sources.extend(parse_deb822(&text));
        } else {
            sources.extend(parse_one_line(&text));
        }
    }
    Ok(sources)
}

/// The first source of a `-security` suite on a `/debian-security` URI.
fn pick_security(sources: &[Source]) -> Option<&str> {
    sources
        .iter()
        .find(|s| {
            s.uri.trim_end_matches('/').ends_with("/debian-security")
                && s.suites.iter().any(|suite| suite.ends_with("-security"))
        })
        .map(|s| s.uri.as_str())
}

/// The files apt reads, in its order: (name, content).
fn source_files() -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    if let Ok(text) = std::fs::read_to_string(SOURCES_LIST) {
        files.push((SOURCES_LIST.to_string(), text));
    }
    let mut parts: Vec<_> = match std::fs::read_dir(SOURCES_PARTS) {
        Ok(dir) => dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|ext| ext == "list" || ext == "sources")
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    parts.sort();
    for path in parts {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        files.push((path.display().to_string(), text));
    }
    Ok(files)
}

/// `deb [options] URI SUITE [COMPONENT...]` lines (`deb-src` and
/// comments left out).
fn parse_one_line(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        // Options: `[ key=value ... ]`, possibly spread over several words.
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']'));
            rest.drain(..=end.unwrap_or(rest.len() - 1));
        }
        if let [uri, suite, ..] = rest[..] {
            out.push(Source {
                uri: uri.to_string(),
                suites: vec![suite.to_string()],
            });
        }
    }
    out
}

/// deb822 stanzas with `Types: deb`, `URIs:`, `Suites:` (not `Enabled: no`).
fn parse_deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    for stanza in lines.split(|l| l.trim().is_empty()) {
        // Fields, continuation lines (starting with a blank) joined on.
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((key, value)) = line.split_once(':') {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let enabled = field("enabled");
        if !field("types").contains(&"deb") || enabled == ["no"] {
            continue;
        }
        let suites: Vec<String> = field("suites").iter().map(|s| s.to_string()).collect();
        for uri in field("uris") {
            out.push(Source {
                uri: uri.to_string(),
                suites: suites.clone(),
            });
        }
    }
    out
}

/// `VERSION_CODENAME` of /etc/os-release.
fn os_release_codename(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The first source of the distribution itself: one of its suites is the
/// release's codename (or, without one, any suite but a `-security` one
/// on a `/debian` URI).
fn pick<'a>(sources: &'a [Source], codename: Option<&str>) -> Option<&'a str> {
    sources
        .iter()
        .find(|s| {
            s.suites.iter().any(|suite| match codename {
                Some(codename) => suite == codename,
                None => {
                    !suite.ends_with("-security")
                        && s.uri.trim_end_matches('/').ends_with("/debian")
                }
            })
        })
        .map(|s| s.uri.as_str())
}

/// `http://host/debian/` -> `http://host`: the root that holds `debian/`
/// and `debian-security/`.
fn archive_root(uri: &str) -> Result<String> {
    match uri.trim_end_matches('/').strip_suffix("/debian") {
        Some(root) if !root.ends_with(':') && !root.ends_with('/') => Ok(root.to_string()),
        _ => bail!(
            "the apt source {uri} does not end in /debian, so its archive root is unknown; \
             set {ENV} to it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_LINE: &str = "\
# deb cdrom:[Debian GNU/Linux 12]/ bookworm main
deb-src http://src.example.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://vendor.example.com/apt stable main
deb http://security.example.org/debian-security bookworm-security main
deb [ trusted=yes ] http://mirror.example.org/debian/ bookworm main contrib # local
deb http://mirror.example.org/debian bookworm-updates main
";

    const DEB822: &str = "\
Types: deb
# http://snapshot.example.org/archive/debian/20250520T000000Z
URIs: http://disabled.example.org/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src deb
URIs: http://one.example.org/debian
  http://two.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://one.example.org/debian-security
Suites: bookworm-security
Components: main
";

    #[test]
    fn one_line_sources_parse_as_apt_reads_them() {
        let sources = parse_one_line(ONE_LINE);
        let uris: Vec<&str> = sources.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "https://vendor.example.com/apt",
                "http://security.example.org/debian-security",
                "http://mirror.example.org/debian/",
                "http://mirror.example.org/debian",
            ]
        );
        assert_eq!(sources[2].suites, ["bookworm"]);
        let uri = pick(&sources, Some("bookworm")).unwrap();
        assert_eq!(archive_root(uri).unwrap(), "http://mirror.example.org");
        // Without a codename: the first non-security /debian source.
        assert_eq!(
            pick(&sources, None),
            Some("http://mirror.example.org/debian/")
        );
    }

    #[test]
    fn deb822_sources_parse_as_apt_reads_them() {
        let sources = parse_deb822(DEB822);
        assert_eq!(
            sources,
            [
                Source {
                    uri: "http://one.example.org/debian".into(),
                    suites: vec!["bookworm".into(), "bookworm-updates".into()],
                },
                Source {
                    uri: "http://two.example.org/debian".into(),
                    suites: vec!["bookworm".into(), "bookworm-updates".into()],
                },
                Source {
                    uri: "http://one.example.org/debian-security".into(),
                    suites: vec!["bookworm-security".into()],
                },
            ]
        );
        let uri = pick(&sources, Some("bookworm")).unwrap();
        assert_eq!(archive_root(uri).unwrap(), "http://one.example.org");
    }

    #[test]
    fn no_source_of_the_release_or_no_archive_root_is_none_or_an_error() {
        let sources = parse_deb822(DEB822);
        assert_eq!(pick(&sources, Some("trixie")), None);
        assert_eq!(
            pick(
                &parse_one_line("deb http://x/debian-security bookworm-security main"),
                None
            ),
            None
        );
        let err = archive_root("http://proxy.example:3142/mirror").unwrap_err();
        assert!(err.to_string().contains(ENV), "{err}");
        assert!(archive_root("http:///debian").is_err());
    }

    #[test]
    fn the_security_archive_is_its_own_source_where_there_is_one() {
        let sources = parse_one_line(ONE_LINE);
        assert_eq!(
            pick_security(&sources),
            Some("http://security.example.org/debian-security")
        );
        // Without one, none (the caller takes the Debian mirror's).
        let sources = parse_one_line("deb http://mirror.example.org/debian bookworm main\n");
        assert_eq!(pick_security(&sources), None);
        // A -security suite on another archive is not Debian's.
        let sources = parse_one_line("deb https://vendor.example.com/apt x-security main\n");
        assert_eq!(pick_security(&sources), None);
    }

    #[test]
    fn the_codename_comes_from_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(os_release_codename(text).as_deref(), Some("bookworm"));
        assert_eq!(os_release_codename("ID=debian\n"), None);
    }
}
