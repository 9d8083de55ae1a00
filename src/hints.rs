//! What to do about a start-up failure: the sentence appended to an I/O error so that a NAS
//! user can act on the one line the broker prints before it exits (issue #17 item 4).

use std::io;
use std::path::Path;

/// For a socket that cannot be bound to `addr`.
pub fn listen(e: &io::Error, addr: &str) -> String {
    let port_below_1024 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| p > 0 && p < 1024);
    match e.kind() {
        io::ErrorKind::AddrInUse => "another program (another broker?) uses this port: stop it, \
             or give Courtier another port"
            .into(),
        io::ErrorKind::PermissionDenied if port_below_1024 => format!(
            "ports below 1024 need root or CAP_NET_BIND_SERVICE and the broker runs as {}: \
             use a port of 1024 or more",
            whoami()
        ),
        io::ErrorKind::AddrNotAvailable => "this machine has no such address: use 0.0.0.0 \
             (every interface) or one of its addresses"
            .into(),
        _ => "check the address and port".into(),
    }
}

/// For a file or folder the broker cannot read or write.
pub fn path(e: &io::Error, path: &Path) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied if path.is_file() => {
            let (at, owner) = owner_of_nearest(path);
            format!(
                "the broker runs as {} and {} belongs to {owner}: make it readable by the \
                 broker (`chmod a+r {}` or `chown {} {}`)",
                whoami(),
                at.display(),
                at.display(),
                uid(),
                at.display()
            )
        }
        io::ErrorKind::PermissionDenied => {
            let (at, owner) = owner_of_nearest(path);
            format!(
                "the broker runs as {} and {} belongs to {owner}: give it to the broker \
                 (`chown -R {} {}`; the container's entrypoint does this for /mosquitto/data and \
                 /mosquitto/log when started as root), or use another folder",
                whoami(),
                at.display(),
                uid(),
                at.display()
            )
        }
        io::ErrorKind::NotFound => {
            let cwd = std::env::current_dir().unwrap_or_default();
            format!(
                "check the path (a relative path starts from the working directory {})",
                cwd.display()
            )
        }
        _ => "check the folder and the disk".into(),
    }
}

/// For a store that cannot be opened.
pub fn store(e: &courtier_storage::StoreError, path: &Path) -> String {
    use courtier_storage::StoreError;
    match e {
        StoreError::Corrupt(_) => format!(
            "restore a backup of {0}, or move {0} away (or set [persistence] on_corruption = \
             \"move_aside\") to start with an empty store",
            path.display()
        ),
        StoreError::NewerSchema { .. } => "run the newer Courtier that wrote it, or restore a \
             backup made before the upgrade"
            .into(),
        StoreError::Io(io) => self::path(io, path),
        StoreError::Unavailable(_) => "free some space on that disk, then start again".into(),
        _ => "check the folder and the disk (free space, permissions)".into(),
    }
}

/// The path itself or its nearest existing parent, and its owner and mode.
fn owner_of_nearest(path: &Path) -> (&Path, String) {
    use std::os::unix::fs::MetadataExt;
    let mut at = path;
    loop {
        if let Ok(meta) = std::fs::metadata(at) {
            let owner = format!("uid {} (mode {:o})", meta.uid(), meta.mode() & 0o7777);
            return (at, owner);
        }
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => return (path, "another user".into()),
        }
    }
}

/// The broker's user id: the owner of /proc/self (Linux), without a libc call.
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

fn whoami() -> String {
    format!("uid {}", uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_says_what_to_do() {
        let in_use = io::Error::from(io::ErrorKind::AddrInUse);
        assert!(listen(&in_use, "0.0.0.0:1883").contains("another program"));
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let hint = path(&denied, Path::new("/proc/1/no/such/dir"));
        assert!(
            hint.contains("/proc/1") && hint.contains("chown -R"),
            "{hint}"
        );
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert!(path(&missing, Path::new("x")).contains("working directory"));
    }
}
