//! The mosquitto.conf reader on arbitrary files: an error naming `file:line`, or TOML that the
//! loader accepts, never a panic.
//!
//! Input: the file's bytes, written as `mosquitto.conf` in a private directory (so that
//! `include_dir` lines read real directories, as the broker does).
#![no_main]

use courtier::cli::Cli;
use courtier::config::{mosquitto, ConfigError};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("courtier-fuzz-mosquitto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("mosquitto.conf")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = file();
    std::fs::write(path, data).expect("write the file");
    match mosquitto::read(path) {
        Ok(converted) => {
            // What the reader accepts, the loader accepts: the TOML is valid conf.d TOML.
            let cli = Cli {
                mosquitto_conf: Some(path.clone()),
                ..Cli::default()
            };
            if let Err(e) = cli.load_settings(Vec::new()) {
                panic!("converted but not loadable: {e}\n{}", converted.toml);
            }
        }
        Err(e) => {
            let message = e.to_string();
            // A line error names the file and line.
            if let ConfigError::Mosquitto { location, .. } = &e {
                assert!(location.contains(":"), "{message}");
            }
        }
    }
});
