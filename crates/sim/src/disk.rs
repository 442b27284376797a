//! A simulated disk: files in memory that keep what was fsynced apart from what was only written,
//! so a power cut loses exactly what a real one may.
//!
//! - A power cut keeps every file's synced bytes and a random prefix of its unsynced tail, and
//!   may flip a bit in the part kept (a torn sector). A file rewritten in place without a sync (the
//!   log's `committed` hint) comes back old or new. Directory operations (create, remove, rename) are
//!   durable at once, as the log syncs its directory after each.
//! - After a power cut, every handle opened before it fails: the crashed node's tasks can no
//!   longer write, even while they are being shut down.
//! - Failing mode returns ENOSPC from every write, after writing a random prefix of an append.
//! - fsync takes a fixed simulated latency, on the runtime ([`Disk::simulated_sync_latency`]).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use replication::{Disk, DiskFile, HintFile};

#[derive(Default)]
struct FileData {
    data: Vec<u8>,
    /// `data[..synced]` is on the platter.
    synced: usize,
    /// Contents before an unsynced replace, if the replace is not durable yet.
    before_replace: Option<Vec<u8>>,
}

struct State {
    files: BTreeMap<PathBuf, FileData>,
    /// Bumped by a power cut: handles from an older generation fail.
    generation: u64,
    failing: bool,
    rng: Pcg64,
}

/// One node's disk. [`SimDisk::handle`] gives the node a view that dies at the next power cut.
#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
    generation: u64,
    latency: Duration,
}

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimDisk(generation {})", self.generation)
    }
}

fn power_lost() -> io::Error {
    io::Error::other("simulated power cut: this handle is gone")
}

fn no_space() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "No space left on device (simulated)",
    )
}

impl SimDisk {
    pub fn new(seed: u64, latency: Duration) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(State {
                files: BTreeMap::new(),
                generation: 0,
                failing: false,
                rng: Pcg64::seed_from_u64(seed),
            })),
            generation: 0,
            latency,
        }
    }

    /// A view of the disk for a node starting now.
    pub fn handle(&self) -> SimDisk {
        let generation = self.lock().generation;
        SimDisk {
            state: self.state.clone(),
            generation,
            latency: self.latency,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("disk lock")
    }

    /// Locks the disk for an operation by this handle: fails once the power was cut under it.
    fn live(&self) -> io::Result<std::sync::MutexGuard<'_, State>> {
        let state = self.lock();
        if state.generation != self.generation {
            return Err(power_lost());
        }
        Ok(state)
    }

    /// Locks the disk for a write: fails after a power cut, and with ENOSPC while failing.
    fn writable(&self) -> io::Result<std::sync::MutexGuard<'_, State>> {
        let state = self.live()?;
        if state.failing {
            return Err(no_space());
        }
        Ok(state)
    }

    /// Cuts the power: unsynced bytes are lost (some of them may survive, one may be torn), and
    /// every handle open so far dies.
    pub fn power_cut(&self) {
        let mut state = self.lock();
        state.generation += 1;
        let State { files, rng, .. } = &mut *state;
        for file in files.values_mut() {
            if let Some(before) = file.before_replace.take() {
                if rng.next_u32() % 2 == 0 {
                    file.data = before;
                }
                file.synced = file.data.len();
                continue;
            }
            let unsynced = file.data.len() - file.synced;
            if unsynced > 0 {
                let kept = (rng.next_u64() % (unsynced as u64 + 1)) as usize;
                file.data.truncate(file.synced + kept);
                if kept > 0 && rng.next_u32() % 4 == 0 {
                    let at = file.synced + (rng.next_u64() % kept as u64) as usize;
                    file.data[at] ^= 1 << (rng.next_u32() % 8);
                }
            }
            file.synced = file.data.len();
        }
    }

    /// While set, every write fails with ENOSPC.
    pub fn set_failing(&self, failing: bool) {
        self.lock().failing = failing;
    }
}

impl Disk for SimDisk {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        self.live().map(|_| ())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.live()?;
        match state.files.get(path) {
            Some(file) => Ok(file.data.clone()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.live()?;
        Ok(state
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(String::from))
            .collect())
    }

    fn open_append(&self, path: &Path, create: bool) -> io::Result<Arc<dyn DiskFile>> {
        if create {
            let mut state = self.writable()?;
            state.files.insert(path.to_path_buf(), FileData::default());
        } else if !self.live()?.files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such file"));
        }
        Ok(Arc::new(SimFile {
            disk: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.live()?;
        match state.files.remove(path) {
            Some(_) => Ok(()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
        }
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.writable()?;
        state.files.insert(
            path.to_path_buf(),
            FileData {
                data: bytes.to_vec(),
                synced: bytes.len(),
                before_replace: None,
            },
        );
        Ok(())
    }

    fn open_hint(&self, path: &Path) -> io::Result<Arc<dyn HintFile>> {
        self.writable()?
            .files
            .entry(path.to_path_buf())
            .or_default();
        Ok(Arc::new(SimFile {
            disk: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn simulated_sync_latency(&self) -> Option<Duration> {
        Some(self.latency)
    }
}

struct SimFile {
    disk: SimDisk,
    path: PathBuf,
}

impl SimFile {
    fn with<T>(
        &self,
        state: &mut State,
        f: impl FnOnce(&mut FileData, &mut Pcg64) -> T,
    ) -> io::Result<T> {
        let State { files, rng, .. } = state;
        match files.get_mut(&self.path) {
            Some(file) => Ok(f(file, rng)),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "file removed")),
        }
    }
}

impl HintFile for SimFile {
    fn overwrite(&self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.disk.writable()?;
        self.with(&mut state, |file, _| {
            if file.before_replace.is_none() {
                let mut before = file.data.clone();
                before.truncate(file.synced);
                file.before_replace = Some(before);
            }
            let kept = file.data.len().max(bytes.len());
            let mut data = bytes.to_vec();
            data.extend_from_slice(file.data.get(bytes.len()..kept).unwrap_or_default());
            file.data = data;
            file.synced = 0;
        })
    }
}

impl DiskFile for SimFile {
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.disk.live()?;
        let failing = state.failing;
        self.with(&mut state, |file, rng| {
            if failing {
                // A full disk takes part of the write, then refuses the rest.
                let part = (rng.next_u64() % (bytes.len() as u64 + 1)) as usize;
                file.data.extend_from_slice(&bytes[..part]);
                Err(no_space())
            } else {
                file.data.extend_from_slice(bytes);
                Ok(())
            }
        })?
    }

    fn sync(&self) -> io::Result<()> {
        let mut state = self.disk.writable()?;
        self.with(&mut state, |file, _| {
            file.synced = file.data.len();
            file.before_replace = None;
        })
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut state = self.disk.live()?;
        self.with(&mut state, |file, _| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            match file.data.get(start..start.saturating_add(len)) {
                Some(bytes) => Ok(bytes.to_vec()),
                None => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the file",
                )),
            }
        })?
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut state = self.disk.writable()?;
        self.with(&mut state, |file, _| {
            let len = (len as usize).min(file.data.len());
            file.data.truncate(len);
            file.synced = file.synced.min(len);
        })
    }
}
