//! Kernel text addresses to names, from /proc/kallsyms, and names to
//! addresses. Addresses are this boot's (KASLR), and readable only with
//! CAP_SYSLOG where `kptr_restrict` is set: a hidden table lists zeros.

use std::{cell::RefCell, collections::HashMap, path::PathBuf};

use anyhow::{bail, Context as _, Result};

/// Why a name has no usable address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The table lists it at 0: addresses are hidden from this process.
    Hidden,
    /// Not in the table.
    Absent,
}

/// Reads /proc/kallsyms (or a copy, for tests) on demand, caching what it
/// found: the lookups are rare (a helper requested by a kernel thread), so
/// the ~10 MB table is never kept.
pub struct Kallsyms {
    path: PathBuf,
    names: RefCell<HashMap<u64, Option<String>>>,
}

impl Kallsyms {
    pub fn new(path: impl Into<PathBuf>) -> Kallsyms {
        Kallsyms {
            path: path.into(),
            names: RefCell::default(),
        }
    }

    /// The running kernel's table.
    pub fn running() -> Kallsyms {
        Kallsyms::new("/proc/kallsyms")
    }

    /// The address of text symbol `name`.
    pub fn address_of(&self, name: &str) -> Result<Result<u64, Unresolved>> {
        let table = self.read()?;
        let found = text_symbols(&table).find(|&(_, sym)| sym == name);
        Ok(match found.map(|(addr, _)| addr) {
            Some(0) => Err(Unresolved::Hidden),
            Some(addr) => Ok(addr),
            None => Err(Unresolved::Absent),
        })
    }

    /// `function+0x12` for a kernel text address, if the table has it.
    pub fn name_of(&self, addr: u64) -> Option<String> {
        if let Some(found) = self.names.borrow().get(&addr) {
            return found.clone();
        }
        let found = self.read().ok().and_then(|t| nearest(&t, addr));
        self.names.borrow_mut().insert(addr, found.clone());
        found
    }

    fn read(&self) -> Result<String> {
        let table = std::fs::read_to_string(&self.path)
            .with_context(|| format!("reading {}", self.path.display()))?;
        if table.is_empty() {
            bail!("{} is empty", self.path.display());
        }
        Ok(table)
    }
}

/// The table's text (function) symbols: (address, name). Lines that do not
/// parse are skipped.
fn text_symbols(table: &str) -> impl Iterator<Item = (u64, &str)> {
    table.lines().filter_map(|line| {
        let mut f = line.split_ascii_whitespace();
        let (addr, kind, sym) = (f.next()?, f.next()?, f.next()?);
        if !matches!(kind, "t" | "T") {
            return None;
        }
        Some((u64::from_str_radix(addr, 16).ok()?, sym))
    })
}

/// The text symbol at or just below `addr`, with the offset past it.
fn nearest(table: &str, addr: u64) -> Option<String> {
    let (at, sym) = text_symbols(table)
        .filter(|&(a, _)| a != 0 && a <= addr)
        .max_by_key(|&(a, _)| a)?;
    Some(match addr - at {
        0 => sym.to_string(),
        off => format!("{sym}+{off:#x}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Kallsyms {
        let path = std::env::temp_dir().join(format!(
            "tracer-kallsyms-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).unwrap();
        Kallsyms::new(path)
    }

    #[test]
    fn finds_names_and_addresses() {
        let k = table(
            "ffffffff81000000 T _text\n\
             ffffffff8137b360 T call_usermodehelper_exec\n\
             ffffffff8137b5e0 t call_usermodehelper_exec_work\n\
             ffffffff8137b700 d some_data\n\
             ffffffff81400000 t cgroup1_release_agent\t[kernel]\n",
        );
        assert_eq!(
            k.address_of("call_usermodehelper_exec_work").unwrap(),
            Ok(0xffffffff8137b5e0)
        );
        assert_eq!(k.address_of("nope").unwrap(), Err(Unresolved::Absent));
        assert_eq!(
            k.name_of(0xffffffff8137b5e0).as_deref(),
            Some("call_usermodehelper_exec_work")
        );
        // Data symbols are not functions: the text symbol below wins.
        assert_eq!(
            k.name_of(0xffffffff8137b710).as_deref(),
            Some("call_usermodehelper_exec_work+0x130")
        );
        assert_eq!(k.name_of(0x1000), None);
    }

    #[test]
    fn a_hidden_table_says_so() {
        let k = table("0000000000000000 t call_usermodehelper_exec_work\n");
        assert_eq!(
            k.address_of("call_usermodehelper_exec_work").unwrap(),
            Err(Unresolved::Hidden)
        );
        assert!(Kallsyms::new("/nonexistent/kallsyms")
            .address_of("x")
            .is_err());
    }
}
