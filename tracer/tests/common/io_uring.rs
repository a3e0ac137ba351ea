//! io_uring set-ups for the live tests: an SQPOLL ring (a kernel-side
//! poller thread) and an async read that an io-wq worker serves.

/// io_uring_setup(2) with IORING_SETUP_SQPOLL; returns the ring fd.
pub(crate) fn sqpoll_ring() -> i32 {
    // struct io_uring_params is 120 bytes: flags at word 2, sq_thread_idle at word 4.
    let mut params = [0u32; 30];
    params[2] = 1 << 1; // IORING_SETUP_SQPOLL
    params[4] = 1000;
    // SAFETY: io_uring_setup reads and writes the 120-byte params block we own.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 8, params.as_mut_ptr()) };
    assert!(
        fd >= 0,
        "io_uring_setup(SQPOLL) failed: {} (is kernel.io_uring_disabled set?)",
        std::io::Error::last_os_error()
    );
    fd as i32
}

/// An io_uring with one `IOSQE_ASYNC` read of an empty pipe in flight: the
/// kernel hands it to an io-wq worker thread (`iou-wrk-<tid>`).
pub(crate) struct AsyncRead {
    ring: i32,
    pipe: [i32; 2],
    maps: [(*mut libc::c_void, usize); 2],
    _buf: Box<[u8; 64]>,
}

impl AsyncRead {
    pub(crate) fn start() -> AsyncRead {
        use std::sync::atomic::{AtomicU32, Ordering};
        let mut p = [0u32; 30];
        // SAFETY: io_uring_setup fills the 120-byte params block we own.
        let ring = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, p.as_mut_ptr()) } as i32;
        assert!(
            ring >= 0,
            "io_uring_setup: {}",
            std::io::Error::last_os_error()
        );
        // sq_off: head at word 10, tail 11, ring_mask 12, array 16.
        let (entries, tail_off, mask_off, array_off) = (p[0], p[11], p[12], p[16]);
        let sq_len = array_off as usize + entries as usize * 4;
        let sqes_len = entries as usize * 64;
        let map = |len: usize, off: i64| {
            // SAFETY: a fresh shared mapping of the ring fd; checked below.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_POPULATE,
                    ring,
                    off,
                )
            };
            assert_ne!(
                ptr,
                libc::MAP_FAILED,
                "mmap io_uring: {}",
                std::io::Error::last_os_error()
            );
            ptr
        };
        let sq = map(sq_len, 0);
        let sqes = map(sqes_len, 0x1000_0000);
        let mut pipe = [0i32; 2];
        // SAFETY: pipe() writes two fds into the array we own.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let mut buf = Box::new([0u8; 64]);
        // SAFETY: the mappings are at least sq_len / sqes_len bytes long and
        // the offsets come from the kernel's io_uring_params.
        unsafe {
            let sqe = sqes.cast::<u8>();
            std::ptr::write_bytes(sqe, 0, 64);
            *sqe = 22; // IORING_OP_READ
            *sqe.add(1) = 1 << 4; // IOSQE_ASYNC: straight to an io-wq worker
            *sqe.add(4).cast::<i32>() = pipe[0];
            *sqe.add(8).cast::<u64>() = u64::MAX; // current position
            *sqe.add(16).cast::<u64>() = buf.as_mut_ptr() as u64;
            *sqe.add(24).cast::<u32>() = 64;
            let base = sq.cast::<u8>();
            let mask = *base.add(mask_off as usize).cast::<u32>();
            let tail = &*base.add(tail_off as usize).cast::<AtomicU32>();
            let t = tail.load(Ordering::Acquire);
            *base
                .add(array_off as usize + ((t & mask) as usize) * 4)
                .cast::<u32>() = 0;
            tail.store(t + 1, Ordering::Release);
            let n = libc::syscall(libc::SYS_io_uring_enter, ring, 1, 0, 0, 0usize, 0);
            assert_eq!(n, 1, "io_uring_enter: {}", std::io::Error::last_os_error());
        }
        AsyncRead {
            ring,
            pipe,
            maps: [(sq, sq_len), (sqes, sqes_len)],
            _buf: buf,
        }
    }
}

impl Drop for AsyncRead {
    fn drop(&mut self) {
        // SAFETY: closing fds and unmapping regions this struct owns; the
        // pending read completes (EOF) when the write end closes.
        unsafe {
            libc::close(self.pipe[1]);
            libc::close(self.ring);
            for (ptr, len) in self.maps {
                libc::munmap(ptr, len);
            }
            libc::close(self.pipe[0]);
        }
    }
}
