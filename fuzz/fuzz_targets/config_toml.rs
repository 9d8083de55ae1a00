//! The TOML config loader on arbitrary files: errors, never panics.
//!
//! Input: the file's bytes (written as `fuzz.toml` in a private directory), optionally followed
//! by 0x00 and `KEY=VALUE` lines that are passed as environment overrides (`COURTIER__KEY`).
#![no_main]

use courtier::config::{load, ConfigSources};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            std::env::temp_dir().join(format!("courtier-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&base).expect("temp dir");
        base
    })
}

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let dir = dir();
    std::fs::write(dir.join("fuzz.toml"), file).expect("write the config file");
    let env = env
        .map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (format!("COURTIER__{k}"), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let sources = ConfigSources {
        config_dir: Some(dir.clone()),
        env,
    };
    if let Err(e) = load(&sources) {
        // Rendering the error must not panic either.
        let _ = e.to_string();
    }
});
