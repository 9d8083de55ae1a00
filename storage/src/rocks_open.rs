//! Opening the store at start-up: a damaged write-ahead log found and reported
//! (`rocks_wal.rs`), a corrupt store set aside as `<path>.corrupt-<unix time>` (or the open
//! refused, as `OnCorruption` says), and a start on a full disk.
//!
//! On a disk with less than [`REOPEN_FREE`] bytes free the store is not opened for writing
//! (opening writes files, and RocksDB failing to write its own LOG aborts the process, see
//! `rocks_store.rs`): it is loaded read-only, which writes nothing, and held stopped, as after a
//! failed write: writes are refused until the disk has room, then it is reopened for writing.
//! A store that does not exist yet is created then; until then the broker starts empty. What
//! needs a write before the broker can serve from the store is refused with
//! `StoreError::Unavailable`: a store of an older schema (migrating it writes) and a damaged
//! write-ahead log (its copy needs room).

use super::*;

/// Open (or create) the store at `path` and load it, handling corruption as `policy` says; on
/// a full disk, load it read-only (see the module's header).
pub fn open_rocks(path: &Path, policy: OnCorruption) -> StoreResult<Opened> {
    let free = free_space(path)?;
    if free < REOPEN_FREE {
        return open_read_only(path, free);
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
                read_only_free: None,
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
                read_only_free: None,
                wal_damage: None,
            })
        }
        Err(e) => Err(e),
    }
}

/// The start on a disk with only `free` bytes free: the store loaded read-only, or none yet.
fn open_read_only(path: &Path, free: u64) -> StoreResult<Opened> {
    let full = |why: String| {
        StoreError::Unavailable(format!(
            "only {free} bytes free on its file system, {REOPEN_FREE} needed to open it for \
             writing, and {why}"
        ))
    };
    let found = path.join("CURRENT").exists();
    if !found && path.is_dir() && std::fs::read_dir(path)?.next().is_some() {
        return Err(full(format!(
            "{} has no CURRENT file (a damaged store)",
            path.display()
        )));
    }
    let (db, loaded) = match found {
        true => match RocksDb::open_read_only(path) {
            Ok((db, loaded)) => (Some(db), loaded),
            Err(StoreError::Unavailable(why)) => return Err(full(why)),
            Err(StoreError::Corrupt(why)) => {
                return Err(full(format!(
                    "it cannot be read ({why}); setting it aside or recovering it needs room"
                )))
            }
            Err(e) => return Err(e),
        },
        false => (None, Loaded::default()),
    };
    let queued: usize = loaded.sessions.iter().map(|s| s.messages.len()).sum();
    log::error!(
        "store at {}: only {free} bytes free on its file system ({REOPEN_FREE} needed to write); \
         {}; until there is room, what needs the store is not acknowledged (QoS 1/2 messages \
         for persistent sessions, retained messages, subscriptions of persistent sessions) and \
         clean sessions go on; the store is opened for writing by itself once there is room",
        path.display(),
        match &db {
            Some(_) => format!(
                "serving it read-only: {} persistent sessions, {queued} queued messages, {} \
                 retained messages",
                loaded.sessions.len(),
                loaded.retained.len()
            ),
            None =>
                "there is no store yet: starting empty, it is created once there is room".into(),
        }
    );
    Ok(Opened {
        store: Arc::new(RocksStore::stopped(path, db)),
        loaded,
        moved_aside: None,
        read_only_free: Some(free),
        wal_damage: None,
    })
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
