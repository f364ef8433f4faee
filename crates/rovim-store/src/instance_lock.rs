//! SQLite serves one instance: `rovim serve` holds an exclusive lock on a file beside the
//! database for as long as it runs, so a second one on the same file refuses to start instead of
//! becoming a second writer (two engines would run the same tasks twice). The kernel drops the
//! lock when the process ends, however it ends, so a crash leaves nothing stale.
//!
//! The lock is on `<database>.lock`, not on the database file: SQLite's own POSIX locks are per
//! process and dropped when *any* descriptor of the file is closed, so rovim never opens the
//! database file itself.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

use crate::connection::{Backend, redact_url, sqlite_path};
use crate::error::StoreError;

/// Held while the instance runs; dropping it (or the process ending) releases the database.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Takes the lock of the SQLite database at `url`; `None` for PostgreSQL, where several
    /// instances share the work. Fails, naming the holder, when another process holds it.
    pub fn acquire(url: &str) -> Result<Option<InstanceLock>, StoreError> {
        if Backend::of_url(url) != Backend::Sqlite || sqlite_path(url) == ":memory:" {
            return Ok(None);
        }
        let path = format!("{}.lock", sqlite_path(url));
        let fail = |reason: String| StoreError::Open {
            url: redact_url(url),
            reason,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                fail(format!(
                    "cannot open the lock file {path}: {e} ({})",
                    crate::store::SQLITE_ACCESS
                ))
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another process".to_owned()
                } else {
                    format!("another rovim ({holder})")
                };
                return Err(fail(format!(
                    "it is in use by {holder}: a SQLite database serves one instance; stop \
                     the other, or use PostgreSQL to run several instances"
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock {path}: {e}")));
            }
        }
        // Who holds it, for the message of the next one that tries.
        let me = format!(
            "pid {}, since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .map_err(|e| fail(format!("cannot write the lock file {path}: {e}")))?;
        Ok(Some(InstanceLock { _file: file }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_lock_is_free_again_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rovim.db").to_string_lossy().into_owned();
        let first = InstanceLock::acquire(&db)
            .unwrap()
            .expect("SQLite is locked");
        let err = InstanceLock::acquire(&db).unwrap_err().to_string();
        assert!(err.contains("in use by another rovim (pid "), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("PostgreSQL"), "{err}");
        drop(first);
        assert!(InstanceLock::acquire(&db).unwrap().is_some());
    }

    #[test]
    fn postgres_and_in_memory_databases_take_no_lock() {
        assert!(
            InstanceLock::acquire("postgres://u@h/db")
                .unwrap()
                .is_none()
        );
        assert!(InstanceLock::acquire(":memory:").unwrap().is_none());
    }
}
