//! Little-endian field encoding for frame payloads, with checked reads:
//! a short or malformed payload is an error, never a panic.

use bytes::{Buf, BufMut};

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.put_u32_le(s.len() as u32);
    out.put_slice(s.as_bytes());
}

pub fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.put_u8(1);
            put_str(out, s);
        }
        None => out.put_u8(0),
    }
}

/// A payload being read; every getter checks what remains.
pub struct Dec<'a> {
    buf: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short(pub &'static str);

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn need(&self, n: usize, what: &'static str) -> Result<(), Short> {
        if self.buf.remaining() < n {
            Err(Short(what))
        } else {
            Ok(())
        }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        self.need(1, what)?;
        Ok(self.buf.get_u8())
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, Short> {
        self.need(2, what)?;
        Ok(self.buf.get_u16_le())
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Short> {
        self.need(4, what)?;
        Ok(self.buf.get_u32_le())
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Short> {
        self.need(8, what)?;
        Ok(self.buf.get_u64_le())
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, Short> {
        self.need(8, what)?;
        Ok(self.buf.get_i64_le())
    }

    pub fn str(&mut self, what: &'static str) -> Result<String, Short> {
        let len = self.u32(what)? as usize;
        self.need(len, what)?;
        let s = String::from_utf8_lossy(&self.buf[..len]).into_owned();
        self.buf.advance(len);
        Ok(s)
    }

    pub fn opt_str(&mut self, what: &'static str) -> Result<Option<String>, Short> {
        match self.u8(what)? {
            0 => Ok(None),
            _ => self.str(what).map(Some),
        }
    }
}
