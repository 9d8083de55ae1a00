//! Raw-bytes scripts as data (`tests/fixtures/scripts/*.txt`). One command a line:
//!
//! ```text
//! # comment (say where the case comes from: spec statement id, issue, bug report)
//! !courtier-specific        # marker: only run when the broker under test is Courtier
//! send 10 0c 00 04 ...      # write these bytes (hex, spaces ignored)
//! recv 20 02 00 00          # the next packet must be exactly these bytes
//! closed [ms]               # the broker closes the connection without sending anything (default 5000 ms)
//! silence <ms>              # nothing arrives and the connection stays open for <ms>
//! sleep <ms>                # wait
//! ```

use super::packets::unhex;
use super::raw::RawClient;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Send(Vec<u8>),
    Recv(Vec<u8>),
    Closed(Duration),
    Silence(Duration),
    Sleep(Duration),
}

#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub courtier_specific: bool,
    pub steps: Vec<(usize, Step)>,
}

fn ms(arg: &str, line: usize) -> Result<Duration, String> {
    arg.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("line {line}: bad milliseconds {arg:?}"))
}

pub fn parse(name: &str, text: &str) -> Result<Script, String> {
    let mut s = Script {
        name: name.to_string(),
        courtier_specific: false,
        steps: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let (cmd, arg) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let step = match cmd {
            "!courtier-specific" => {
                s.courtier_specific = true;
                continue;
            }
            "send" => Step::Send(unhex(arg)),
            "recv" => Step::Recv(unhex(arg)),
            "closed" if arg.trim().is_empty() => Step::Closed(Duration::from_millis(5000)),
            "closed" => Step::Closed(ms(arg, n)?),
            "silence" => Step::Silence(ms(arg, n)?),
            "sleep" => Step::Sleep(ms(arg, n)?),
            other => return Err(format!("{name}:{n}: unknown command {other:?}")),
        };
        s.steps.push((n, step));
    }
    if s.steps.is_empty() {
        return Err(format!("{name}: no steps"));
    }
    Ok(s)
}

pub fn load_dir(dir: &Path) -> Vec<Script> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            parse(&name, &std::fs::read_to_string(p).unwrap()).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Run a script on a fresh connection; `Err` names the failing line.
pub fn run(script: &Script, addr: SocketAddr) -> Result<(), String> {
    let name = script.name.clone();
    let steps = script.steps.clone();
    // Run in a thread so a panicking expectation becomes an error message with the line number.
    let mut current = 0usize;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut c = RawClient::connect(addr);
        for (line, step) in &steps {
            current = *line;
            match step {
                Step::Send(b) => {
                    // A broker may close while we still write (that is what some scripts test).
                    c.send_lossy(b);
                }
                Step::Recv(b) => c.expect(b),
                Step::Closed(t) => c.expect_closed(*t),
                Step::Silence(t) => c.expect_silence(*t),
                Step::Sleep(t) => std::thread::sleep(*t),
            }
        }
    }));
    result.map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{name}:{current}: {msg}")
    })
}
