//! A minimal writer for the `newc` cpio format, the one the kernel unpacks
//! as an initramfs. Written here rather than staging a tree for cpio(1): the
//! archive mirrors host paths (`/usr/bin/...`), and building it in memory
//! order needs no root-owned scratch tree and no file copies.

use std::io::{self, Write};

const TRAILER: &str = "TRAILER!!!";

/// Streams entries to `out`; call [`Archive::finish`] at the end.
pub(crate) struct Archive<W: Write> {
    out: W,
    ino: u32,
    written: u64,
}

impl<W: Write> Archive<W> {
    pub(crate) fn new(out: W) -> Self {
        // Inode numbers must only be unique within one archive; start high so
        // that two concatenated archives do not look like hard links.
        Archive {
            out,
            ino: 1000,
            written: 0,
        }
    }

    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.entry(path, 0o040000 | (mode & 0o7777), 2, (0, 0), &[])
    }

    pub(crate) fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, 0o100000 | (mode & 0o7777), 1, (0, 0), data)
    }

    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, 0o120777, 1, (0, 0), target.as_bytes())
    }

    pub(crate) fn char_dev(
        &mut self,
        path: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        self.entry(path, 0o020000 | (mode & 0o7777), 1, (major, minor), &[])
    }

    /// Writes the trailer and returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.entry(TRAILER, 0, 1, (0, 0), &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        path: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        // Names are stored without the leading '/', as cpio(1) would.
        let name = path.trim_start_matches('/');
        let name = if name.is_empty() { "." } else { name };
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            u32::try_from(data.len()).map_err(|_| io::Error::other("file over 4 GiB"))?,
            0, // dev major
            0, // dev minor
            rdev.0,
            rdev.1,
            u32::try_from(name.len() + 1).expect("short name"),
            0, // check
        ];
        let mut header = String::from("070701");
        for f in fields {
            header.push_str(&format!("{f:08x}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// newc aligns headers and file data to 4 bytes.
    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - self.written % 4) % 4;
        self.put(&[0; 3][..n as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_newc() {
        let mut a = Archive::new(Vec::new());
        a.file("/init", 0o755, b"hi").unwrap();
        let bytes = a.finish().unwrap();
        assert!(bytes.starts_with(b"070701"));
        // Header (110) + "init\0" (5) padded to 116, data 2 padded to 4.
        assert_eq!(&bytes[110..115], b"init\0");
        assert_eq!(&bytes[116..118], b"hi");
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }
}
