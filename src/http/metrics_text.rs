//! The Prometheus text format 0.0.4, made from the OpenMetrics text `prometheus_client`
//! encodes, for scrapers that do not ask for OpenMetrics.

/// OpenMetrics text as the Prometheus text format 0.0.4: a counter's TYPE and HELP name its
/// `_total` samples, `info` becomes `gauge`, `unknown` becomes `untyped`, and the `# UNIT` and
/// `# EOF` lines go.
pub fn to_text_004(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|r| r.strip_suffix(" counter"))
        {
            counters.insert(name.to_owned());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# TYPE ", "# HELP "]
            .iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (*p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = match counters.contains(name) {
                    true => format!("{name}_total"),
                    false => name.to_owned(),
                };
                let tail = match (prefix, tail) {
                    ("# TYPE ", "info") => "gauge",
                    ("# TYPE ", "unknown") => "untyped",
                    (_, t) => t,
                };
                out.push_str(&format!("{prefix}{name} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod format_tests {
    use super::to_text_004;

    #[test]
    fn openmetrics_becomes_text_0_0_4() {
        let om = "# HELP a_bytes Bytes.\n# TYPE a_bytes counter\n# UNIT a_bytes bytes\n\
                  a_bytes_total 3\n# HELP b Build.\n# TYPE b info\nb_info{v=\"1\"} 1\n\
                  # TYPE g gauge\ng 2\n# EOF\n";
        assert_eq!(
            to_text_004(om),
            "# HELP a_bytes_total Bytes.\n# TYPE a_bytes_total counter\na_bytes_total 3\n\
             # HELP b Build.\n# TYPE b gauge\nb_info{v=\"1\"} 1\n# TYPE g gauge\ng 2\n"
        );
    }
}
