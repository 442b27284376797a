//! Serialising in a forked child, as Redis's BGSAVE does: the child gets a copy-on-write image
//! of the whole process, so the state only has to be held still for the `fork` itself (page
//! tables are copied, not pages), and the parent goes on applying writes while the child writes
//! its frozen copy into a pipe.
//!
//! Hand-written on `libc` rather than a crate: no maintained crate wraps "fork, run a closure,
//! pipe its bytes back", and the child must do nothing but that (no locks, no runtime, no
//! destructors: only the calling thread exists in it, so it serialises, writes, and `_exit`s).
//! jemalloc takes its locks around `fork` (its atfork handlers), so the child may allocate.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::FromRawFd;

use replication::Collect;

/// Runs `serialise` in a forked child and returns a function that collects its bytes (blocking:
/// run it off the runtime) and reaps the child. `serialise` runs only in the child; whatever it
/// borrows (a lock guard held by the caller) is the child's copy.
pub fn serialise_in_child<F>(serialise: F) -> io::Result<Collect>
where
    F: FnOnce(&mut Vec<u8>),
{
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    // SAFETY: the child only runs `child_main`, which ends in `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: both descriptors are ours.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        return Err(e);
    }
    if pid == 0 {
        child_main(read_fd, write_fd, serialise);
    }
    // SAFETY: the write end belongs to the child now; the read end is ours alone, and the File
    // takes it over (closing it when dropped).
    unsafe { libc::close(write_fd) };
    let mut pipe = unsafe { File::from_raw_fd(read_fd) };
    Ok(Box::new(move |mut out: Vec<u8>| {
        let read = pipe.read_to_end(&mut out);
        drop(pipe);
        let mut status = 0;
        // SAFETY: reaps our own child; retried if a signal interrupts it.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        read?;
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(io::Error::other(format!(
                "the snapshot child failed (wait status {status})"
            )));
        }
        Ok(out)
    }))
}

/// The child: serialise, write everything to the pipe, exit without running anything else.
fn child_main<F: FnOnce(&mut Vec<u8>)>(read_fd: i32, write_fd: i32, serialise: F) -> ! {
    // SAFETY: closes the child's copy of the read end. (If the parent dies, the write below
    // fails with EPIPE, SIGPIPE being ignored as in every Rust program, and the child exits.)
    unsafe { libc::close(read_fd) };
    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut out = Vec::new();
        serialise(&mut out);
        let mut rest = &out[..];
        while !rest.is_empty() {
            // SAFETY: writes from a live buffer to our descriptor.
            let n = unsafe { libc::write(write_fd, rest.as_ptr().cast(), rest.len()) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return false;
            }
            rest = &rest[n as usize..];
        }
        true
    }));
    let code = if matches!(written, Ok(true)) { 0 } else { 1 };
    // SAFETY: ends the child at once.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::serialise_in_child;

    #[test]
    fn the_child_serialises_a_frozen_copy() {
        let mut state = vec![1u8, 2, 3];
        let collect = serialise_in_child(|out| out.extend_from_slice(&state)).unwrap();
        // The parent changes its state at once; the child's copy is the one from the fork.
        state.push(4);
        let bytes = collect(b"header:".to_vec()).unwrap();
        assert_eq!(bytes, b"header:\x01\x02\x03");
        assert_eq!(state, [1, 2, 3, 4]);
    }

    #[test]
    fn a_child_that_panics_is_an_error() {
        let collect = serialise_in_child(|_| panic!("serialising failed")).unwrap();
        let err = collect(Vec::new()).unwrap_err();
        assert!(err.to_string().contains("child failed"), "{err}");
    }

    #[test]
    fn large_outputs_come_through_the_pipe_whole() {
        let collect =
            serialise_in_child(|out| out.extend((0..(8 << 20)).map(|i| (i % 251) as u8))).unwrap();
        let bytes = collect(Vec::new()).unwrap();
        assert_eq!(bytes.len(), 8 << 20);
        assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    }
}
