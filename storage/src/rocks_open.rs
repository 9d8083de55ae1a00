//! Opening the store at start-up: refused on a disk without room to open it, a damaged
//! write-ahead log found and reported (`rocks_wal.rs`), and a corrupt store set aside as
//! `<path>.corrupt-<unix time>` (or the open refused, as `OnCorruption` says).

use super::*;

/// Open (or create) the store at `path` and load it, handling corruption as `policy` says.
///
/// On a disk with less than [`REOPEN_FREE`] bytes free this is an error
/// (`StoreError::Unavailable`), not an attempt: opening writes files, and RocksDB failing to
/// write its own LOG aborts the process (see `rocks_store.rs`).
pub fn open_rocks(path: &Path, policy: OnCorruption) -> StoreResult<Opened> {
    let existing = path.ancestors().find(|p| p.exists()).unwrap_or(path);
    let free = free_space(existing)?;
    if free < REOPEN_FREE {
        return Err(StoreError::Unavailable(format!(
            "only {free} bytes free on its file system; opening it needs {REOPEN_FREE}"
        )));
    }
    match open_checking_wal(path, policy) {
        Ok((db, loaded, wal_damage)) => {
            if let Some(d) = &wal_damage {
                report_wal_damage(path, d, &loaded);
            }
            Ok(Opened {
                store: Arc::new(RocksStore::new(db)),
                loaded,
                moved_aside: None,
                wal_damage,
            })
        }
        Err(StoreError::Corrupt(why)) if policy == OnCorruption::MoveAside => {
            let aside = aside_path(path, "corrupt");
            std::fs::rename(path, &aside).map_err(|e| {
                StoreError::Backend(format!(
                    "store at {} is corrupt ({why}) and could not be moved aside: {e}",
                    path.display()
                ))
            })?;
            log::error!(
                "store at {} is corrupt ({why}); moved it to {} and starting with an empty store",
                path.display(),
                aside.display()
            );
            let (db, loaded) = RocksDb::open_and_load(path)?;
            Ok(Opened {
                store: Arc::new(RocksStore::new(db)),
                loaded,
                moved_aside: Some(aside),
                wal_damage: None,
            })
        }
        Err(e) => Err(e),
    }
}

fn report_wal_damage(path: &Path, d: &WalDamage, loaded: &Loaded) {
    let dropped = match d.dropped_bytes {
        Some(n) => format!("{n} bytes of it dropped"),
        None => "what follows the damage dropped".into(),
    };
    let queued: usize = loaded.sessions.iter().map(|s| s.messages.len()).sum();
    log::error!(
        "store at {}: its write-ahead log is damaged ({}); recovered up to the damage, {dropped}: \
         the store holds {} persistent sessions, {queued} queued messages and {} retained \
         messages; a copy of the damaged log is in {}",
        path.display(),
        d.error,
        loaded.sessions.len(),
        loaded.retained.len(),
        d.copy.display()
    );
}

/// `<path>.<what>-<unix time>` (with `-1`, `-2`, ... if taken), beside `path`.
pub(super) fn aside_path(path: &Path, what: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{what}-{stamp}"));
    let mut aside = path.with_file_name(&name);
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{}-{n}", name.to_string_lossy()));
        n += 1;
    }
    aside
}
