//! Wrapping the compact layout's details: at spaces between words, never
//! inside a shell-quoted word.

/// Splits `text` into lines of at most `first` characters, then `rest`,
/// at a space where there is one in the second half of the line (the space
/// is dropped), else mid-word; never inside a word that holds a quote
/// (`'...'`, `$'...'`, `'it'\''s'`), whose spaces are its own: such a word
/// longer than the line starts a line of its own and runs over (a terminal
/// folds it, whole); nor between a backslash and the character it
/// escapes. Escaped text has no control characters, so characters
/// stand for columns (bar wide CJK ones: close enough).
pub(super) fn wrap(text: &str, first: usize, rest: usize) -> Wrap<'_> {
    Wrap {
        left: Some(text),
        width: first.max(1),
        rest: rest.max(1),
        plain_to: 0,
        whole: false,
    }
}

/// As [`wrap`], but no word is ever cut: one longer than the line starts
/// a line of its own and runs over, as a quoted one does. The full layout
/// folds this way, so a path or an argument stays whole for copying.
pub(super) fn wrap_words(text: &str, first: usize, rest: usize) -> Wrap<'_> {
    Wrap {
        whole: true,
        ..wrap(text, first, rest)
    }
}

/// The lines of [`wrap`], found one at a time: the compact layout wraps
/// every event, so each line costs one scan of its own characters (and of
/// the word the cut falls in) and no allocation.
pub(super) struct Wrap<'a> {
    left: Option<&'a str>,
    width: usize,
    rest: usize,
    /// How many bytes from the start of `left` are known to lie in a word
    /// without quotes (one longer than several lines is scanned once).
    plain_to: usize,
    /// Every word is kept whole ([`wrap_words`]).
    whole: bool,
}

impl<'a> Iterator for Wrap<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let left = self.left?;
        let width = std::mem::replace(&mut self.width, self.rest);
        let Some((end, next)) = self.line_end(left, width) else {
            self.left = None;
            return Some(left);
        };
        self.left = Some(&left[next..]);
        self.plain_to = self.plain_to.saturating_sub(next);
        Some(&left[..end])
    }
}

/// Where a character of escaped text stands with respect to shell quoting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum In {
    Plain,
    /// After `$` outside quotes: a quote next opens `$'...'`.
    Dollar,
    /// After a backslash outside quotes: the next character is escaped.
    Joined,
    Single,
    AnsiC,
    AnsiCEscape,
}

impl In {
    /// The state after `c`.
    fn after(self, c: char) -> In {
        match self {
            In::Plain | In::Joined => match c {
                _ if self == In::Joined => In::Plain,
                '\\' => In::Joined,
                '\'' => In::Single,
                '$' => In::Dollar,
                _ => In::Plain,
            },
            In::Dollar if c == '\'' => In::AnsiC,
            In::Dollar => In::Plain.after(c),
            In::Single if c == '\'' => In::Plain,
            In::Single => In::Single,
            In::AnsiC if c == '\\' => In::AnsiCEscape,
            In::AnsiC if c == '\'' => In::Plain,
            In::AnsiC | In::AnsiCEscape => In::AnsiC,
        }
    }

    /// Whether a space here separates words.
    fn separates(self) -> bool {
        matches!(self, In::Plain | In::Dollar)
    }
}

/// The byte offset of the end of the word at `from` in `text` (the space
/// after it), scanning in `state`, with whether the rest of the word holds
/// a quote; `None` for the offset when the word runs to the end.
fn word_end(text: &str, from: usize, mut state: In) -> (Option<usize>, bool) {
    let mut quoted = false;
    for (i, c) in text[from..].char_indices() {
        if c == ' ' && state.separates() {
            return (Some(from + i), quoted);
        }
        quoted |= c == '\'';
        state = state.after(c);
    }
    (None, quoted)
}

impl Wrap<'_> {
    /// Where the line at the start of `text` ends and the next one starts
    /// (past a dropped space); `None` when the rest is the last line.
    fn line_end(&mut self, text: &str, width: usize) -> Option<(usize, usize)> {
        let mut state = In::Plain;
        // The last space between words after the line's first character,
        // and how many characters precede it.
        let mut space: Option<(usize, usize)> = None;
        // Whether the word so far holds a quote.
        let mut quoted = false;
        for (n, (i, c)) in text.char_indices().enumerate() {
            if n < width {
                if c == ' ' && state.separates() {
                    if i > 0 {
                        space = Some((i, n));
                    }
                    quoted = false;
                } else {
                    quoted |= c == '\'';
                }
                state = state.after(c);
                continue;
            }
            // `c` is the first character past the width: the cut.
            if c == ' ' && state.separates() {
                return Some((i, i + 1));
            }
            if let Some((s, _)) = space.filter(|&(_, before)| before >= width / 2) {
                return Some((s, s + 1));
            }
            // Mid-word, where the word holds no quote; else before the
            // word, else (it opens the line) after it.
            let end = if self.whole || quoted || (!state.separates() && state != In::Joined) {
                quoted = true;
                None
            } else if i < self.plain_to {
                Some(self.plain_to)
            } else {
                let (end, q) = word_end(text, i, state);
                quoted = q;
                if !q {
                    self.plain_to = end.unwrap_or(text.len());
                }
                end
            };
            if !quoted {
                // Not between a backslash and the character it escapes.
                return Some(if state != In::Joined {
                    (i, i)
                } else if i > 1 {
                    (i - 1, i - 1)
                } else {
                    let past = i + c.len_utf8();
                    (past, past)
                });
            }
            if let Some((s, _)) = space {
                return Some((s, s + 1));
            }
            let end = end.or_else(|| word_end(text, i, state).0)?;
            return Some((end, end + 1));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    fn wrap(text: &str, first: usize, rest: usize) -> Vec<&str> {
        super::wrap(text, first, rest).collect()
    }

    #[test]
    fn wraps_at_spaces_then_mid_word() {
        assert_eq!(wrap("short", 10, 20), ["short"]);
        assert_eq!(wrap("aaaa bbbb cccc", 9, 9), ["aaaa bbbb", "cccc"]);
        assert_eq!(wrap("aaaa bbbb cccc", 10, 4), ["aaaa bbbb", "cccc"]);
        assert_eq!(wrap("abcdefghij", 4, 3), ["abcd", "efg", "hij"]);
        // A space early in the line is not worth the ragged edge.
        assert_eq!(wrap("a bcdefghij", 6, 6), ["a bcde", "fghij"]);
        assert_eq!(wrap("ééééé", 2, 2), ["éé", "éé", "é"]);
        // Never between a backslash and the character it escapes.
        assert_eq!(wrap("abc\\nde", 4, 40), ["abc", "\\nde"]);
        assert_eq!(wrap("ab cdefghijk", 2, 3), ["ab", "cde", "fgh", "ijk"]);
    }

    #[test]
    fn whole_words_never_break() {
        let words = |t, f, r| super::wrap_words(t, f, r).collect::<Vec<_>>();
        assert_eq!(words("aaaa bbbb cccc", 9, 9), ["aaaa bbbb", "cccc"]);
        assert_eq!(words("abcdefghij", 4, 3), ["abcdefghij"]);
        assert_eq!(words("ab cdefghijk l", 4, 4), ["ab", "cdefghijk", "l"]);
        assert_eq!(words("ab 'c d e' f", 6, 20), ["ab", "'c d e' f"]);
    }

    #[test]
    fn never_wraps_inside_a_quoted_word() {
        assert_eq!(wrap("ab 'c d e' f", 6, 20), ["ab", "'c d e' f"]);
        // A quoted word longer than the line runs over.
        assert_eq!(wrap("'aaaa bbbb' cc", 4, 4), ["'aaaa bbbb'", "cc"]);
        assert_eq!(wrap("'aaaa bbbb'", 4, 4), ["'aaaa bbbb'"]);
        // `$'...'` with an escaped quote, and `'\''` between quotes.
        assert_eq!(wrap("x $'a b\\'c d' y", 5, 40), ["x", "$'a b\\'c d' y"]);
        assert_eq!(wrap("xy 'it'\\''s a b'", 8, 40), ["xy", "'it'\\''s a b'"]);
        assert_eq!(
            wrap("bash -c 'sleep 0.1'", 12, 40),
            ["bash -c", "'sleep 0.1'"]
        );
        // Outside quotes, the old rules.
        assert_eq!(wrap("aaaa bbbb cccc", 9, 9), ["aaaa bbbb", "cccc"]);
    }

    /// A word holding a quote is one word wherever the cut falls in it:
    /// not split at the `\` or the reopening quote of `'it'\''s'`, nor
    /// before or after a quoted part.
    #[test]
    fn never_wraps_inside_a_word_that_holds_a_quote() {
        let word = "'it'\\''s'";
        for width in 1..word.len() {
            assert_eq!(wrap(word, width, width), [word], "width {width}");
            let line = format!("{word} b");
            assert_eq!(wrap(&line, width, 40), [word, "b"], "width {width}");
            let line = format!("a {word} b");
            assert_eq!(
                wrap(&line, width + 2, width),
                ["a", word, "b"],
                "width {width}"
            );
        }
        assert_eq!(wrap("abcd'e f'", 6, 20), ["abcd'e f'"]);
        assert_eq!(wrap("'a b'cdefgh i", 6, 20), ["'a b'cdefgh", "i"]);
        assert_eq!(wrap("abcdef'g h' i", 4, 20), ["abcdef'g h'", "i"]);
        assert_eq!(wrap("x abcdef'g h' i", 4, 4), ["x", "abcdef'g h'", "i"]);
        // A long plain word after it still breaks mid-word.
        assert_eq!(
            wrap("'a b' cdefghijkl", 4, 4),
            ["'a b'", "cdef", "ghij", "kl"]
        );
    }

    /// Every wrap of many word sequences at many widths: the lines and
    /// the dropped spaces give back the text; no line ends inside a word
    /// holding a quote; a line runs over its width only as one such word.
    #[test]
    fn wraps_of_many_word_sequences_keep_their_words() {
        let words = [
            "a",
            "bash",
            "--foo=bar",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "a\\nb",
            "''",
            "'sleep 0.1'",
            "'it'\\''s'",
            "$'x\\n13:37 forged\\e[2J'",
            "$'a\\'b c'",
            "ab'c d'ef",
            "'a very long quoted word, longer than most lines'",
            "caf\u{e9}",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..400 {
            let mut picked = Vec::new();
            for _ in 0..1 + seed % 9 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                picked.push(words[(seed % words.len() as u64) as usize]);
            }
            let text = picked.join(" ");
            // Byte ranges inside which no line may end.
            let mut whole = Vec::new();
            let mut at = 0;
            for w in &picked {
                if w.contains('\'') {
                    whole.push(at + 1..at + w.len());
                }
                at += w.len() + 1;
            }
            for (first, rest) in [(2, 2), (3, 5), (8, 8), (12, 20), (20, 12), (40, 30)] {
                let lines = wrap(&text, first, rest);
                let mut at = 0;
                for (i, line) in lines.iter().enumerate() {
                    let width = if i == 0 { first } else { rest };
                    assert!(text[at..].starts_with(line), "{text:?} {lines:?}");
                    at += line.len();
                    assert!(
                        !whole.iter().any(|r| r.contains(&at)),
                        "{text:?} at {first}/{rest}: {lines:?}"
                    );
                    if line.chars().count() > width {
                        assert!(
                            picked.contains(line) && line.contains('\''),
                            "{text:?} at {first}/{rest}: {lines:?}"
                        );
                    }
                    if text[at..].starts_with(' ') {
                        at += 1;
                    }
                }
                assert_eq!(at, text.len(), "{text:?} {lines:?}");
            }
        }
    }
}
