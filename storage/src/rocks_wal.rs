//! A damaged write-ahead log, found when the store is opened at start-up.
//!
//! RocksDB's default recovery (point in time) replays the WAL up to its first damaged record
//! and drops the rest without an error: after a power cut, or a log cut short or overwritten,
//! the store opens with part of its queued and retained messages gone and only RocksDB's own
//! LOG says so ("dropping N bytes"). So the store is first opened with absolute consistency,
//! which fails on any damaged or incomplete record. Where that open fails as corrupt and a
//! point-in-time open succeeds, the damage is in the WAL: its files are first copied beside
//! the store (`<store>.wal-corrupt-<unix time>`, named like a store set aside), then the store
//! is recovered to the last consistent point before the damage, and the loss is reported
//! ([`WalDamage`], logged at ERROR by the caller's `open_rocks`). With
//! `OnCorruption::Fail` nothing is recovered: the open is an error and the files stay as they
//! are.
//!
//! The point-in-time open runs with RocksDB's LOG at `Warn` to read how many bytes it dropped,
//! and is then closed and opened again at `Fatal` (see `options` in rocks.rs: a running store
//! must not log on a full disk).

use super::*;

/// What a damaged WAL cost, found at open.
#[derive(Debug, Clone)]
pub struct WalDamage {
    /// Where the damaged WAL files were copied.
    pub copy: PathBuf,
    /// Bytes dropped from the WAL, as RocksDB's LOG reports them (`None` if it said nothing).
    pub dropped_bytes: Option<u64>,
    /// RocksDB's report of the damage.
    pub error: String,
}

/// The WAL files of the store at `path` (RocksDB names them `<number>.log`).
fn wal_files(path: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// The bytes RocksDB's LOG (of the last open) says it dropped from the WAL.
fn dropped_bytes(path: &Path) -> Option<u64> {
    let log = std::fs::read_to_string(path.join("LOG")).ok()?;
    let mut total = None;
    for rest in log.split("dropping ").skip(1) {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let (Ok(n), true) = (
            digits.parse::<u64>(),
            rest[digits.len()..].starts_with(" bytes"),
        ) {
            *total.get_or_insert(0) += n;
        }
    }
    total
}

/// Open and load the store at `path` for start-up, finding a damaged WAL (see the module's
/// header).
pub(super) fn open_checking_wal(
    path: &Path,
    policy: OnCorruption,
) -> StoreResult<(RocksDb, Loaded, Option<WalDamage>)> {
    let why = match RocksDb::open_and_load_with(
        path,
        DBRecoveryMode::AbsoluteConsistency,
        LogLevel::Fatal,
    ) {
        Ok((db, loaded)) => return Ok((db, loaded, None)),
        Err(StoreError::Corrupt(why)) if !wal_files(path).is_empty() => why,
        Err(e) => return Err(e),
    };
    if policy == OnCorruption::Fail {
        return Err(StoreError::Corrupt(format!(
            "{why} (opened with absolute consistency: the write-ahead log may be damaged)"
        )));
    }
    let copy = aside_path(path, "wal-corrupt");
    std::fs::create_dir_all(&copy)?;
    for wal in wal_files(path) {
        std::fs::copy(&wal, copy.join(wal.file_name().unwrap_or_default()))?;
    }
    let recovered = RocksDb::open_and_load_with(path, DBRecoveryMode::PointInTime, LogLevel::Warn);
    let (db, _) = match recovered {
        Ok(opened) => opened,
        Err(e) => {
            // Not (only) the WAL: the store itself is damaged, and is set aside whole.
            let _ = std::fs::remove_dir_all(&copy);
            return Err(e);
        }
    };
    let dropped = dropped_bytes(path);
    drop(db);
    let (db, loaded) = RocksDb::open_and_load(path)?;
    Ok((
        db,
        loaded,
        Some(WalDamage {
            copy,
            dropped_bytes: dropped,
            error: why,
        }),
    ))
}
