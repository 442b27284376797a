//! Every file a group keeps goes through [`Disk`], so the simulator can put a disk under the same
//! log code that loses what was not fsynced on a power cut, tears the last write, and fails on
//! command (DESIGN §3: disk behind a seam). [`OsDisk`] is the real one.
//!
//! The operations are the few the log and the snapshot need: whole-file reads, appends with an
//! explicit sync, truncation, and an atomic replace for small state files.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

/// A directory tree of files with explicit durability.
pub trait Disk: Send + Sync + Debug + 'static {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The whole contents of `path` (`NotFound` when it does not exist).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The whole contents of `path` as shared bytes that need not live in the process's own
    /// memory: a real disk maps the file (its pages stay in the page cache, reclaimable, until
    /// they are read). Only for files that are replaced atomically, never written in place.
    fn map(&self, path: &Path) -> io::Result<Bytes> {
        Ok(Bytes::from(self.read(path)?))
    }
    /// The names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for appending. With `create`, any file there is replaced by an empty one, and
    /// the new file's directory entry is durable before this returns.
    fn open_append(&self, path: &Path, create: bool) -> io::Result<Arc<dyn DiskFile>>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Replaces `path` so that a crash leaves either the old contents or the new, and the new are
    /// durable when this returns.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Opens `path` (created empty if it is missing) for [`HintFile::overwrite`].
    fn open_hint(&self, path: &Path) -> io::Result<Arc<dyn HintFile>>;
    /// `None` (a real disk): fsyncs run on a dedicated OS thread. `Some(latency)` (the
    /// simulator's): they run as a task on the async runtime, each taking this long, so a
    /// seeded, paused runtime schedules them deterministically.
    fn simulated_sync_latency(&self) -> Option<Duration> {
        None
    }
}

/// A file open for appending.
pub trait DiskFile: Send + Sync {
    /// Writes `bytes` at the end. On an error some prefix of them may have been written.
    fn append(&self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (durable after the next [`DiskFile::sync`]).
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// Reads `len` bytes at `offset` (written, not necessarily synced); an error if the file is
    /// shorter.
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
}

/// A small file rewritten in place and never synced, for hints that are checked when read (the
/// log's committed index). Rewriting in place, through one open handle, is what makes it cheap:
/// replacing the file each time (create, truncate, write, close) cost the cluster of one half its
/// write throughput, the file system flushing each truncated file's blocks on close.
pub trait HintFile: Send + Sync {
    /// Writes `bytes` over the start of the file without waiting for the disk: a crash may leave
    /// the old contents, the new or a torn mix. Bytes past `bytes.len()` left by a longer earlier
    /// write stay, so what is written must say where it ends (a record does).
    fn overwrite(&self, bytes: &[u8]) -> io::Result<()>;
}

/// A large file replaced atomically is synced every this many bytes.
const INCREMENTAL_SYNC_BYTES: usize = 4 << 20;

/// The machine's own file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsDisk;

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl Disk for OsDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn map(&self, path: &Path) -> io::Result<Bytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Bytes::new());
        }
        // SAFETY: the files mapped here are replaced by rename (`write_atomically`), never
        // written or truncated in place, so the mapped inode does not change under us.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Bytes::from_owner(map))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }

    fn open_append(&self, path: &Path, create: bool) -> io::Result<Arc<dyn DiskFile>> {
        let file = if create {
            let _ = std::fs::remove_file(path);
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(path)?;
            sync_dir(parent(path))?;
            file
        } else {
            OpenOptions::new().read(true).write(true).open(path)?
        };
        let len = file.metadata()?.len();
        Ok(Arc::new(OsFile {
            file,
            ends: std::sync::Mutex::new(Ends {
                written: len,
                allocated: len,
            }),
        }))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut file = File::create(&tmp)?;
        // Synced as it goes, as Redis's rdb-save-incremental-fsync does: one fsync of a
        // snapshot's hundreds of megabytes at the end would hold the log's own fsyncs (every
        // acknowledged write waits for one) behind it for as long as the device takes.
        for chunk in bytes.chunks(INCREMENTAL_SYNC_BYTES) {
            file.write_all(chunk)?;
            file.sync_data()?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(parent(path))
    }

    fn open_hint(&self, path: &Path) -> io::Result<Arc<dyn HintFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(OsHint(file)))
    }
}

struct OsHint(File);

impl HintFile for OsHint {
    fn overwrite(&self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.0.write_all_at(bytes, 0)
    }
}

/// An appended file grows this much at a time, with zeros written (not a hole, not `fallocate`'s
/// unwritten extents): an append into blocks already written changes neither the file's size nor
/// its block map, so its fdatasync writes the data and flushes, without the inode and block
/// bookkeeping a growing file adds to every sync (`bench/fsync.py` on this machine's ext4: 201–252
/// µs wall and 69–91 µs CPU per append + fdatasync into a growing file, 158–172 µs and 56–62 µs
/// into a written one). Readers see the zeros past the last record as the end of the records: a
/// record's length is never 0.
const PREALLOCATE_BYTES: u64 = 1 << 20;

/// How far an [`OsFile`] is written, and how far its zeros reach.
struct Ends {
    written: u64,
    allocated: u64,
}

struct OsFile {
    file: File,
    ends: std::sync::Mutex<Ends>,
}

impl DiskFile for OsFile {
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let mut ends = self.ends.lock().expect("file ends lock");
        let end = ends.written + bytes.len() as u64;
        if end > ends.allocated {
            let target = end.next_multiple_of(PREALLOCATE_BYTES);
            while ends.allocated < target {
                let n = (target - ends.allocated).min(ZEROS.len() as u64) as usize;
                self.file.write_all_at(&ZEROS[..n], ends.allocated)?;
                ends.allocated += n as u64;
            }
        }
        self.file.write_all_at(bytes, ends.written)?;
        ends.written = end;
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut ends = self.ends.lock().expect("file ends lock");
        self.file.set_len(len)?;
        *ends = Ends {
            written: len,
            allocated: len,
        };
        Ok(())
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut out = vec![0; len];
        self.file.read_exact_at(&mut out, offset)?;
        Ok(out)
    }
}
