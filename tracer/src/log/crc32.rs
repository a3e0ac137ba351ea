//! CRC-32 (IEEE 802.3, as zlib and gzip use) of a frame, computed with
//! crc32fast (SIMD where the CPU has it: the recorder checksums every event).

/// CRC-32 of the concatenation of `parts`.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for part in parts {
        h.update(part);
    }
    h.finalize()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        assert_eq!(super::crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(super::crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
        assert_eq!(super::crc32(&[]), 0);
    }
}
