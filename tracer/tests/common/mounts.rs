//! File systems the live tests mount, unmounted even when a test fails.

use std::process::Command;

/// An ext4 image mounted on a loop device (kthreadd forks `jbd2/loopN-8`
/// for it, which exits at unmount); unmounted on drop, even when the test
/// fails.
pub(crate) struct LoopMount {
    dir: tempfile::TempDir,
    mountpoint: std::path::PathBuf,
}

impl LoopMount {
    pub(crate) fn new() -> LoopMount {
        let dir = tempfile::tempdir().expect("tempdir");
        let (image, mountpoint) = ext4_image(dir.path());
        let m = LoopMount { dir, mountpoint };
        let ok = Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&m.mountpoint)
            .status()
            .expect("mount");
        assert!(ok.success(), "mount -o loop failed");
        m
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.mountpoint
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        // `mount -o loop` set autoclear: the loop device goes with the mount.
        let _ = Command::new("umount").arg(&self.mountpoint).status();
        let _ = &self.dir;
    }
}

/// A fresh 16 MiB ext4 image in `dir` and an empty mount point beside it.
pub(crate) fn ext4_image(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let image = dir.join("ext4.img");
    let mountpoint = dir.join("mnt");
    std::fs::create_dir(&mountpoint).unwrap();
    std::fs::File::create(&image)
        .and_then(|f| f.set_len(16 << 20))
        .expect("image file");
    let ok = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&image)
        .status()
        .expect("mkfs.ext4 (e2fsprogs) is needed for this test");
    assert!(ok.success(), "mkfs.ext4 failed");
    (image, mountpoint)
}
