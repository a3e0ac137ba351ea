//! Task data (comm, file names, argv) is bytes, and need not be UTF-8. It
//! is held as `String`s that keep every byte, the way Python's
//! `surrogateescape` does, but with private-use characters:
//!
//! - an invalid byte `b` becomes U+10FF00 + `b` (the last 256 code points of
//!   Supplementary Private Use Area-B);
//! - a real character in that range is held as its own four UTF-8 bytes,
//!   each mapped the same way, so no text is ambiguous.
//!
//! So [`bytes`]`(`[`decode`]`(b)) == b` for every `b`, filters and tables
//! work on ordinary strings, text output escapes mapped bytes as `\xNN`,
//! and JSON writes the lossy text plus the exact bytes in base64.

use std::borrow::Cow;

/// The first mapped code point.
const BASE: u32 = 0x10_ff00;

fn mapped(b: u8) -> char {
    char::from_u32(BASE + u32::from(b)).expect("U+10FF00..=U+10FFFF are characters")
}

/// The byte a character stands for, if it is a mapped byte.
pub fn byte_of(c: char) -> Option<u8> {
    (c as u32).checked_sub(BASE).map(|b| b as u8)
}

/// `bytes` as a string that keeps every byte (see the module docs).
pub fn decode(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !has_mapped(s) {
            return s.to_owned();
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if byte_of(c).is_some() {
                let mut buf = [0u8; 4];
                out.extend(c.encode_utf8(&mut buf).bytes().map(mapped));
            } else {
                out.push(c);
            }
        }
        out.extend(chunk.invalid().iter().copied().map(mapped));
    }
    out
}

/// Whether `s` holds a mapped byte. On the UTF-8 bytes: U+10FF00..U+10FFFF
/// is F4 8F BC..BF xx, and F4 8F BC..BF starts nothing else.
pub fn has_mapped(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3)
        .any(|w| w[0] == 0xf4 && w[1] == 0x8f && (0xbc..=0xbf).contains(&w[2]))
}

/// The exact bytes `s` was decoded from.
pub fn bytes(s: &str) -> Cow<'_, [u8]> {
    if !has_mapped(s) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match byte_of(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Cow::Owned(out)
}

/// `s` as lossy UTF-8: what `String::from_utf8_lossy` makes of its bytes
/// (each invalid sequence one U+FFFD), for JSON's text fields.
pub fn lossy(s: &str) -> Cow<'_, str> {
    match bytes(s) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_string_round_trips() {
        let cases: [&[u8]; 7] = [
            b"plain",
            b"",
            b"a\xff\xfeb",
            "caf\u{e9}".as_bytes(),
            "\u{10ff41}".as_bytes(),
            b"\xf4\x8f\xbc",
            b"\xc2\x85\x80\xe2\x82",
        ];
        for case in cases {
            let s = decode(case);
            assert_eq!(&*bytes(&s), case, "{s:?}");
        }
        // Exhaustively over short strings of interesting bytes.
        let alphabet = [0x00, 0x41, 0x80, 0xbc, 0xc2, 0xe2, 0xf4, 0x8f, 0xff];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let case = [a, b, c];
                    assert_eq!(&*bytes(&decode(&case)), &case);
                }
            }
        }
    }

    #[test]
    fn valid_text_is_unchanged_and_lossy_is_what_it_was() {
        assert_eq!(decode(b"kworker/u8:3"), "kworker/u8:3");
        assert!(!has_mapped("caf\u{e9}"));
        let s = decode(b"a\xff\xfeb");
        assert!(has_mapped(&s));
        assert_eq!(lossy(&s), String::from_utf8_lossy(b"a\xff\xfeb"));
        // A real private-use character is kept, as its bytes.
        let pua = decode("\u{10ff41}".as_bytes());
        assert_eq!(pua.chars().count(), 4);
        assert_eq!(lossy(&pua), "\u{10ff41}");
    }
}
