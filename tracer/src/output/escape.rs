//! Making task data safe for a terminal: comms, argv and file names are set
//! by unprivileged users, and tracer prints them to root.
//!
//! Text output (`trace`, `replay`, `ps`, `tree`, `report`) never writes a
//! control character that came from task data, so one event is always
//! exactly one line and no escape sequence reaches the terminal.
//! [`escape`] writes every control character (Unicode category Cc: NUL and
//! 0x01–0x1f, 0x7f, and the C1 controls U+0080–U+009F) as a C-style escape,
//! and a backslash as `\\`, so the escaped form is unambiguous:
//!
//! | character | written as |
//! |---|---|
//! | newline, tab, carriage return, ESC (0x1b) | `\n`, `\t`, `\r`, `\e` |
//! | backslash | `\\` |
//! | other C0 controls and DEL (0x7f) | `\xNN` (two lower-case hex digits): `\x07`, `\x7f` |
//! | C1 controls U+0080–U+009F | their two UTF-8 bytes: U+0085 is `\xc2\x85` |
//!
//! | bidirectional overrides, isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), zero-width and invisible characters (U+200B–U+200D, U+2060–U+2064, U+FEFF), line and paragraph separators (U+2028, U+2029) | their UTF-8 bytes: U+202E is `\xe2\x80\xae` |
//! | a byte that is not UTF-8 (see `model::text`) | `\xNN`: `\xff` |
//!
//! Everything else is left as it is. The invisible characters are escaped
//! because they change how the text around them reads without showing
//! themselves: U+202E prints the rest of a line right to left, so a name
//! could show one word and hold another.
//! The C1 form is the one bash reads back in `$'...'`, so [`quote_arg`] can
//! use the same escapes.
//!
//! [`quote_arg`] shows one argument as a POSIX shell word: unquoted when it
//! holds only characters no shell treats specially, `''` when empty,
//! `'...'` otherwise (a single quote inside written `'\''`), and, when it
//! holds a control character, bash's ANSI-C quoting `$'...'` with the
//! escapes above (and `\'` for a single quote), as `printf %q` does.
//!
//! [`quote_name`] shows a task name or file name inside a sentence the
//! same way, and also quotes one holding `=`: text lines are sentences
//! whose punctuation is parentheses, brackets, braces, `=`, quotes and
//! spaces (`from 25761 (bash) uid=0`), so a name holding any of them is
//! one quoted word and cannot add words to the sentence (a process named
//! `k) uid=0 (init` reads `from 25761 ('k) uid=0 (init') uid=65534`).
//! An argument keeps `=` unquoted (`--foo=bar`, as `printf %q` writes it):
//! argv is always inside its own brackets, which a bracket in an argument
//! cannot close unquoted.
//!
//! All of them return the input borrowed when it needs no change: `trace`
//! text prints per event, and almost no comm or argument needs escaping.

use std::borrow::Cow;

use crate::model::text;

/// Whether `s` holds a character [`escape`] changes. On the bytes: every
/// escaped character beyond ASCII starts with one of five lead bytes (C1
/// controls 0xc2, U+061C 0xd8, U+200B..U+2069 0xe2, U+FEFF 0xef, bytes not
/// UTF-8 0xf4), and only those characters are decoded.
fn needs_escape(s: &str) -> bool {
    s.bytes().enumerate().any(|(i, b)| match b {
        0..=0x1f | 0x7f | b'\\' => true,
        // A lead byte is a character boundary.
        0xc2 | 0xd8 | 0xe2 | 0xef | 0xf4 => s[i..].chars().next().is_some_and(escaped),
        _ => false,
    })
}

/// Whether `c` is written escaped: a control character, an invisible one,
/// or a byte that is not UTF-8.
fn escaped(c: char) -> bool {
    c.is_control() || invisible(c) || text::byte_of(c).is_some()
}

/// Characters that change how the text around them reads without showing
/// themselves: bidirectional overrides, isolates and marks, zero-width
/// characters, and line and paragraph separators.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// Appends the escaped form of one control character, backslash or byte
/// that is not UTF-8.
fn push_escape(out: &mut String, c: char) {
    use std::fmt::Write as _;
    if let Some(b) = text::byte_of(c) {
        let _ = write!(out, "\\x{b:02x}");
        return;
    }
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        '\0'..='\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ => {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

/// `s` with every control character and backslash escaped (see the module
/// documentation); borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !needs_escape(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' || escaped(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape`] for an owned string: the same string back when it needs no
/// change.
pub fn escape_owned(s: String) -> String {
    match escape(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(e) => e,
    }
}

/// Which bytes never need quoting in a shell word: ASCII letters, digits
/// and `-_./:,+@%`, and `=` where `eq`. A table, as every comm and
/// argument printed is checked against it.
const fn plain_ascii(eq: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = matches!(
            b as u8,
            b'a'..=b'z'
                | b'A'..=b'Z'
                | b'0'..=b'9'
                | b'-'
                | b'_'
                | b'.'
                | b'/'
                | b':'
                | b','
                | b'+'
                | b'@'
                | b'%'
        ) || (eq && b == b'=' as usize);
        b += 1;
    }
    table
}

/// Plain bytes of an argument.
const PLAIN_ARG: [bool; 256] = plain_ascii(true);
/// Plain bytes of a name: `=` is a sentence's punctuation.
const PLAIN_NAME: [bool; 256] = plain_ascii(false);

/// Characters that never need quoting in a shell word: the `ascii` ones,
/// and non-ASCII letters (as `printf %q` keeps them in a UTF-8 locale);
/// non-ASCII white space is quoted, so it cannot pass for a separator.
fn plain(c: char, ascii: &[bool; 256]) -> bool {
    if c.is_ascii() {
        ascii[c as usize]
    } else {
        !escaped(c) && !c.is_whitespace()
    }
}

/// One argument as an unambiguous shell word (see the module
/// documentation): `sleep`, `''`, `'sleep 0.1'`, `'it'\''s'`, `$'a\nb'`.
pub fn quote_arg(s: &str) -> Cow<'_, str> {
    quote(s, &PLAIN_ARG)
}

/// A task name or file name inside a sentence, as one unambiguous shell
/// word (see the module documentation): `bash`, `kworker/u8:2`,
/// `'k) uid=0 (init'`, `'/tmp/u/x [sudo -i]'`, `'a=b'`, `$'a\nb'`.
pub fn quote_name(s: &str) -> Cow<'_, str> {
    quote(s, &PLAIN_NAME)
}

/// `s` as a shell word, unquoted when every character is [`plain`].
fn quote<'a>(s: &'a str, ascii: &[bool; 256]) -> Cow<'a, str> {
    if s.is_empty() {
        return Cow::Borrowed("''");
    }
    // Almost every comm and argument is plain ASCII: one table look-up a
    // byte, and characters decoded only for the rest.
    if s.bytes().all(|b| ascii[usize::from(b)]) || s.chars().all(|c| plain(c, ascii)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    if s.chars().any(escaped) {
        out.push_str("$'");
        for c in s.chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '\\' => push_escape(&mut out, c),
                c if escaped(c) => push_escape(&mut out, c),
                c => out.push(c),
            }
        }
    } else {
        out.push('\'');
        for c in s.chars() {
            if c == '\'' {
                out.push_str("'\\''");
            } else {
                out.push(c);
            }
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// Appends `argv` as shell words separated by spaces: `bash -c 'sleep 0.1'`.
pub fn push_argv(out: &mut String, argv: &[String]) {
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&quote_arg(arg));
    }
}

/// `argv` as shell words separated by spaces.
pub fn argv(argv: &[String]) -> String {
    let mut out = String::with_capacity(argv.iter().map(|a| a.len() + 1).sum());
    push_argv(&mut out, argv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c0_name(b: u8) -> String {
        match b {
            b'\n' => "\\n".into(),
            b'\t' => "\\t".into(),
            b'\r' => "\\r".into(),
            0x1b => "\\e".into(),
            _ => format!("\\x{b:02x}"),
        }
    }

    /// No character of `s` is a control character.
    fn clean(s: &str) -> bool {
        !s.chars().any(char::is_control)
    }

    #[test]
    fn plain_strings_are_borrowed() {
        for s in [
            "",
            "bash",
            "kworker/u8:3",
            "jbd2/loop0-8",
            "a b 'c' \"d\"",
            "caf\u{e9}",
            "\u{fffd}\u{fffd}x",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn every_c0_control_and_del_is_escaped() {
        for b in (0x00u8..=0x1f).chain([0x7f]) {
            let s = format!("a{}b", b as char);
            let e = escape(&s);
            assert_eq!(e, format!("a{}b", c0_name(b)), "byte {b:#x}");
            assert!(clean(&e), "byte {b:#x}: {e:?}");
        }
        assert_eq!(escape("\n"), "\\n");
        assert_eq!(escape("\x1b]0;pwn\x07\x1b[2J"), "\\e]0;pwn\\x07\\e[2J");
        assert_eq!(escape("\x01\x7f"), "\\x01\\x7f");
    }

    #[test]
    fn every_c1_control_is_escaped_as_its_utf8_bytes() {
        for cp in 0x80u32..=0x9f {
            let c = char::from_u32(cp).unwrap();
            let s = format!("x{c}y");
            let e = escape(&s);
            assert_eq!(e, format!("x\\xc2\\x{cp:02x}y"), "U+{cp:04X}");
            assert!(clean(&e));
        }
        // The characters right after the C1 block, also encoded 0xc2 0x..,
        // are printable and stay.
        assert!(matches!(escape("\u{a0}\u{a9}\u{bf}"), Cow::Borrowed(_)));
    }

    /// Every bidirectional control and invisible character, as listed in
    /// the module documentation.
    const INVISIBLE: &[(u32, u32)] = &[
        (0x061c, 0x061c),
        (0x200b, 0x200f),
        (0x2028, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x2069),
        (0xfeff, 0xfeff),
    ];

    #[test]
    fn bidi_and_invisible_characters_are_escaped_as_their_utf8_bytes() {
        for &(from, to) in INVISIBLE {
            for cp in from..=to {
                let c = char::from_u32(cp).unwrap();
                let bytes: String = c
                    .to_string()
                    .bytes()
                    .map(|b| format!("\\x{b:02x}"))
                    .collect();
                assert_eq!(
                    escape(&format!("a{c}b")),
                    format!("a{bytes}b"),
                    "U+{cp:04X}"
                );
                assert_eq!(
                    quote_arg(&c.to_string()),
                    format!("$'{bytes}'"),
                    "U+{cp:04X}"
                );
                assert_eq!(
                    quote_name(&format!("a{c}")),
                    format!("$'a{bytes}'"),
                    "U+{cp:04X}"
                );
            }
        }
        // A name that shows `exe.txt` but is `txt.exe`.
        assert_eq!(quote_name("\u{202e}txt.exe"), "$'\\xe2\\x80\\xaetxt.exe'");
        // Their neighbours, and other characters of the same lead bytes,
        // are text.
        for s in [
            "\u{2010}\u{2027}\u{2030}\u{206a}",
            "\u{060c}\u{ff01}\u{fefe}",
            "\u{a0}",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s:?}");
        }
    }

    /// The byte scan finds exactly the characters escaped one by one.
    #[test]
    fn the_fast_path_agrees_with_the_characters() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10_ffffu32).filter_map(char::from_u32) {
            let s = c.encode_utf8(&mut buf);
            assert_eq!(
                needs_escape(s),
                c == '\\' || escaped(c),
                "U+{:04X}",
                c as u32
            );
            let plain_arg = s.bytes().all(|b| PLAIN_ARG[usize::from(b)]);
            if c.is_ascii() {
                assert_eq!(plain_arg, plain(c, &PLAIN_ARG), "{c:?}");
            } else {
                assert!(!plain_arg);
            }
        }
    }

    #[test]
    fn backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(escape("a\\b"), "a\\\\b");
        // A literal `\n` (two characters) differs from an escaped newline.
        assert_eq!(escape("\\n"), "\\\\n");
        assert_ne!(escape("\\n"), escape("\n"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_escaped_exactly() {
        let s = text::decode(b"a\xff\xfe\x1bb");
        assert_eq!(escape(&s), "a\\xff\\xfe\\eb");
        assert_eq!(quote_arg(&s), "$'a\\xff\\xfe\\eb'");
        // A real U+FFFD is text, shown as it is.
        assert_eq!(escape("a\u{fffd}"), "a\u{fffd}");
    }

    #[test]
    fn escape_owned_keeps_or_replaces() {
        assert_eq!(escape_owned("ok".into()), "ok");
        assert_eq!(escape_owned("a\nb".into()), "a\\nb");
    }

    #[test]
    fn plain_arguments_stay_unquoted() {
        for s in [
            "sleep",
            "0.1",
            "/usr/bin/sleep",
            "--foo=bar",
            "a,b:c@d+e%f",
            "caf\u{e9}",
            "\u{fffd}",
        ] {
            assert!(matches!(quote_arg(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn special_arguments_are_single_quoted() {
        assert_eq!(quote_arg(""), "''");
        assert_eq!(quote_arg("sleep 0.1"), "'sleep 0.1'");
        assert_eq!(quote_arg("it's"), "'it'\\''s'");
        assert_eq!(quote_arg("'"), "''\\'''");
        assert_eq!(quote_arg("a\"b"), "'a\"b'");
        assert_eq!(quote_arg("a\\b"), "'a\\b'");
        assert_eq!(quote_arg("$HOME"), "'$HOME'");
        assert_eq!(quote_arg("a;b|c&d"), "'a;b|c&d'");
        assert_eq!(quote_arg("*?[]"), "'*?[]'");
        assert_eq!(quote_arg("~"), "'~'");
        assert_eq!(quote_arg("#x"), "'#x'");
        assert_eq!(quote_arg("`id`"), "'`id`'");
        assert_eq!(quote_arg("a\u{a0}b"), "'a\u{a0}b'");
        assert_eq!(quote_arg("\u{fffd} x"), "'\u{fffd} x'");
    }

    #[test]
    fn arguments_with_controls_use_ansi_c_quoting() {
        for b in (0x00u8..=0x1f).chain([0x7f]) {
            let s = format!("a{}b", b as char);
            let q = quote_arg(&s);
            assert_eq!(q, format!("$'a{}b'", c0_name(b)), "byte {b:#x}");
            assert!(clean(&q));
        }
        for cp in 0x80u32..=0x9f {
            let c = char::from_u32(cp).unwrap();
            let s = c.to_string();
            let q = quote_arg(&s);
            assert_eq!(q, format!("$'\\xc2\\x{cp:02x}'"), "U+{cp:04X}");
        }
        assert_eq!(
            quote_arg("x\n13:37:00 forged\x1b[2J"),
            "$'x\\n13:37:00 forged\\e[2J'"
        );
        assert_eq!(quote_arg("it's\n"), "$'it\\'s\\n'");
        assert_eq!(quote_arg("a\\b\t"), "$'a\\\\b\\t'");
        assert_eq!(quote_arg("\u{fffd}\r"), "$'\u{fffd}\\r'");
    }

    #[test]
    fn names_are_quoted_where_they_could_read_as_punctuation() {
        for s in [
            "bash",
            "kworker/u8:2-events_unbound",
            "jbd2/loop0-8",
            "/usr/bin/sleep",
            "caf\u{e9}",
        ] {
            assert!(matches!(quote_name(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
        assert_eq!(quote_name("k) uid=0 (init"), "'k) uid=0 (init'");
        assert_eq!(quote_name("/tmp/u/x [sudo -i]"), "'/tmp/u/x [sudo -i]'");
        assert_eq!(quote_name("uid=0"), "'uid=0'");
        assert_eq!(quote_name("(sd-pam)"), "'(sd-pam)'");
        assert_eq!(quote_name("a{b}"), "'a{b}'");
        assert_eq!(quote_name("a'b\"b"), "'a'\\''b\"b'");
        assert_eq!(quote_name(""), "''");
        assert_eq!(quote_name("x\n(y)"), "$'x\\n(y)'");
        // Arguments keep `=` as printf %q does: they sit in brackets.
        assert_eq!(quote_arg("uid=0"), "uid=0");
    }

    #[test]
    fn argv_is_a_line_of_shell_words() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            argv(&v(&["bash", "-c", "sleep 0.1"])),
            "bash -c 'sleep 0.1'"
        );
        assert_eq!(argv(&v(&["echo", "", "x"])), "echo '' x");
        assert_eq!(argv(&v(&[])), "");
        assert_eq!(
            argv(&v(&[
                "/bin/sh",
                "-c",
                "exit 0",
                "x\n13:37:00 forged\x1b[2J"
            ])),
            "/bin/sh -c 'exit 0' $'x\\n13:37:00 forged\\e[2J'"
        );
        let line = argv(&v(&["\x1b]0;t\x07", "\u{85}", "\\"]));
        assert!(clean(&line), "{line:?}");
        assert!(!line.contains('\n'));
    }
}
