//! Process statistics for $SYS and /metrics, read from the kernel and the allocator so that no
//! counting allocator slows the hot path.

/// Resident set size in bytes (`VmRSS` of /proc/self/status); `None` off Linux.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kib(&status, "VmRSS:").map(|kib| kib * 1024)
}

static HEAP_PROBE: std::sync::OnceLock<fn() -> Option<u64>> = std::sync::OnceLock::new();

/// The binary's global allocator reports its heap through this (the `courtier` binary uses
/// mimalloc, which glibc's statistics know nothing about).
pub fn set_heap_probe(probe: fn() -> Option<u64>) {
    let _ = HEAP_PROBE.set(probe);
}

/// Bytes of heap in use (Mosquitto's `$SYS/broker/heap/current`): the allocator's own figure
/// when one was set with [`set_heap_probe`]; otherwise glibc's `mallinfo2`, summed over all
/// arenas (allocated chunks plus mmapped blocks); elsewhere the resident set size, the closest
/// figure available.
pub fn heap_bytes() -> Option<u64> {
    if let Some(probe) = HEAP_PROBE.get() {
        return probe();
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no arguments and returns a plain struct; it only locks the
        // allocator's arenas while it sums them.
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        rss_bytes()
    }
}

/// Seconds since this process started: its start time (field 22 of /proc/self/stat, in clock
/// ticks since boot) against /proc/uptime. `None` off Linux.
pub fn uptime_secs() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let start_ticks = stat_field(&stat, 22)?;
    (ticks > 0).then(|| (boot_uptime - start_ticks as f64 / ticks as f64).max(0.0) as u64)
}

/// CPU time (user + system) this process used, seconds (fields 14 and 15 of
/// /proc/self/stat). `None` off Linux.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let used = stat_field(&stat, 14)? + stat_field(&stat, 15)?;
    (ticks > 0).then(|| used as f64 / ticks as f64)
}

/// Open file descriptors of this process (entries of /proc/self/fd). `None` off Linux.
pub fn open_fds() -> Option<u64> {
    // The directory handle read_dir holds is one of the entries: not counted.
    Some(
        std::fs::read_dir("/proc/self/fd")
            .ok()?
            .count()
            .saturating_sub(1) as u64,
    )
}

/// When this process started, unix seconds: boot time (`btime` of /proc/stat) plus its start
/// in ticks after boot (field 22 of /proc/self/stat). `None` off Linux.
pub fn start_time_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let start = stat_field(&stat, 22)?;
    (ticks > 0).then(|| boot as f64 + start as f64 / ticks as f64)
}

/// Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat. The command name (field 2) may hold
/// spaces and parentheses, so counting starts after its closing parenthesis.
fn stat_field(stat: &str, n: usize) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n - 3)?.parse().ok()
}

/// The value in KiB of a `Name:   1234 kB` line.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Keep transparent huge pages out of this process (Linux). mimalloc asks for huge pages on its
/// arenas (`madvise(MADV_HUGEPAGE)`), so the kernel backs the heap with 2 MiB pages that are
/// resident as a whole however little of them is used: an idle broker held ~26 MB instead of
/// ~19 MB, and memory per connection grew in 2 MiB steps. Measured without them: throughput
/// the same within noise in fan-in, fan-out and pairs (docs/PERFORMANCE.md), memory per idle
/// connection ~200-300 bytes lower. Returns whether the setting took (false off Linux).
pub fn disable_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Raise this process's soft limit on open files to its hard limit and return the new soft
/// limit (`None` off Unix or if the limits cannot be read). Every connection is a descriptor,
/// and shells and service managers often start programs with a soft limit of 1,024 while
/// allowing far more: without this a broker runs out of descriptors (EMFILE on accept) long
/// before it runs out of memory, as Go programs, nginx and others avoid the same way.
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: getrlimit/setrlimit on a local struct.
        unsafe {
            let mut l: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
                return None;
            }
            if l.rlim_cur < l.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: l.rlim_max,
                    rlim_max: l.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    l = want;
                }
            }
            Some(l.rlim_cur as u64)
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn transparent_huge_pages_end_up_disabled_for_the_process() {
        assert!(disable_transparent_huge_pages());
        // SAFETY: a plain query of a process flag.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }

    #[test]
    fn parses_a_status_line() {
        let status = "Name:\tcourtier\nVmHWM:\t  9000 kB\nVmRSS:\t    8124 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(8124));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn stat_fields_count_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 \
                    987654 12345 678";
        assert_eq!(stat_field(stat, 22), Some(987654));
        assert_eq!(stat_field(stat, 3), None); // "S" is not a number
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_set_and_a_heap() {
        assert!(rss_bytes().unwrap() > 0);
        assert!(uptime_secs().unwrap() < 24 * 3600);
        assert!(open_fds().unwrap() >= 3);
        assert!(cpu_seconds().unwrap() >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = start_time_secs().unwrap();
        assert!(
            start <= now + 1.0 && start > now - 24.0 * 3600.0,
            "{start} vs {now}"
        );
        // Other tests free memory meanwhile, so only a lower bound that holds regardless.
        let big = vec![1u8; 8 << 20];
        assert!(heap_bytes().unwrap() >= (8 << 20));
        drop(big);
    }
}
