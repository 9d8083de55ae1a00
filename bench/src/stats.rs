//! Measurements around a run: the generator's own CPU (getrusage), the broker's CPU and memory
//! (/proc/PID/stat and /proc/PID/status), percentiles, and the report (one JSON line on stdout,
//! a readable table on stderr).

use std::fmt::Write as _;
use std::time::Instant;

/// The generator's own user+system CPU time, in microseconds.
pub fn self_cpu_us() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A process's utime+stime in microseconds, from /proc/PID/stat.
pub fn proc_cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some((utime + stime) * 1_000_000 / hz)
}

/// A process's resident set size in bytes, from /proc/PID/status.
pub fn proc_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU of the generator and (optionally) the broker over an interval.
pub struct CpuMeter {
    wall: Instant,
    me: u64,
    broker: Option<(u32, u64)>,
}

pub struct CpuUse {
    pub wall_s: f64,
    pub self_us: u64,
    pub broker_us: Option<u64>,
}

impl CpuMeter {
    pub fn start(broker_pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            wall: Instant::now(),
            me: self_cpu_us(),
            broker: broker_pid.and_then(|p| proc_cpu_us(p).map(|c| (p, c))),
        }
    }

    pub fn stop(&self) -> CpuUse {
        CpuUse {
            wall_s: self.wall.elapsed().as_secs_f64(),
            self_us: self_cpu_us() - self.me,
            broker_us: self
                .broker
                .and_then(|(p, c)| proc_cpu_us(p).map(|now| now.saturating_sub(c))),
        }
    }
}

/// Percentile (0..=100) of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub enum Value {
    Str(String),
    Int(u64),
    Num(f64),
}

/// One run's results, in order. Printed as a JSON line and as a table.
#[derive(Default)]
pub struct Report {
    fields: Vec<(&'static str, Value)>,
}

impl Report {
    pub fn str(&mut self, k: &'static str, v: impl Into<String>) -> &mut Self {
        self.fields.push((k, Value::Str(v.into())));
        self
    }
    pub fn int(&mut self, k: &'static str, v: u64) -> &mut Self {
        self.fields.push((k, Value::Int(v)));
        self
    }
    pub fn num(&mut self, k: &'static str, v: f64) -> &mut Self {
        self.fields.push((k, Value::Num(v)));
        self
    }

    /// Generator CPU, and broker CPU per delivered message when the broker pid is known.
    pub fn cpu(&mut self, cpu: &CpuUse, delivered: u64) -> &mut Self {
        self.num("wall_s", cpu.wall_s);
        self.num(
            "gen_cpu_pct",
            cpu.self_us as f64 / 1e4 / cpu.wall_s.max(1e-9),
        );
        if let Some(b) = cpu.broker_us {
            self.num("broker_cpu_pct", b as f64 / 1e4 / cpu.wall_s.max(1e-9));
            if delivered > 0 {
                self.num("broker_cpu_us_per_msg", b as f64 / delivered as f64);
            }
        }
        if delivered > 0 {
            self.num("gen_cpu_us_per_msg", cpu.self_us as f64 / delivered as f64);
        }
        self
    }

    pub fn json(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{k}\":");
            match v {
                Value::Str(x) => {
                    let _ = write!(s, "\"{}\"", x.replace('\\', "\\\\").replace('"', "\\\""));
                }
                Value::Int(x) => {
                    let _ = write!(s, "{x}");
                }
                Value::Num(x) if x.is_finite() => {
                    let _ = write!(s, "{x:.3}");
                }
                Value::Num(_) => s.push_str("null"),
            }
        }
        s.push('}');
        s
    }

    pub fn table(&self) -> String {
        let w = self.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut s = String::new();
        for (k, v) in &self.fields {
            let v = match v {
                Value::Str(x) => x.clone(),
                Value::Int(x) => x.to_string(),
                Value::Num(x) => format!("{x:.3}"),
            };
            let _ = writeln!(s, "  {k:<w$}  {v}");
        }
        s
    }
}
