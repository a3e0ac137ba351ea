//! Errno names for the errors an exec can fail with (execve(2)'s list);
//! others show as their number.

/// `ENOENT` for 2, `errno 1234` for a number not in execve(2)'s list.
pub fn name(errno: i32) -> String {
    let known = [
        (libc::E2BIG, "E2BIG"),
        (libc::EACCES, "EACCES"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::EFAULT, "EFAULT"),
        (libc::EINVAL, "EINVAL"),
        (libc::EIO, "EIO"),
        (libc::EISDIR, "EISDIR"),
        (libc::ELIBBAD, "ELIBBAD"),
        (libc::ELOOP, "ELOOP"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENFILE, "ENFILE"),
        (libc::ENOENT, "ENOENT"),
        (libc::ENOEXEC, "ENOEXEC"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EPERM, "EPERM"),
        (libc::ETXTBSY, "ETXTBSY"),
        (libc::EINTR, "EINTR"),
    ];
    match known.iter().find(|(n, _)| *n == errno) {
        Some((_, name)) => (*name).to_string(),
        None => format!("errno {errno}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_exec_errors() {
        assert_eq!(super::name(2), "ENOENT");
        assert_eq!(super::name(13), "EACCES");
        assert_eq!(super::name(8), "ENOEXEC");
        assert_eq!(super::name(4000), "errno 4000");
    }
}
