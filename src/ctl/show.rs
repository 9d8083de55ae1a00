//! `courtier ctl` output for people: aligned tables and a tree.

use super::CtlCommand;
use serde_json::Value;

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn items(v: &Value) -> &[Value] {
    v["items"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// "shown N of TOTAL" under a list cut by --limit.
fn more(v: &Value) -> String {
    let (shown, total) = (items(v).len(), v["total"].as_u64().unwrap_or(0));
    match total as usize > shown {
        true => format!("({shown} of {total} shown; raise --limit for more)\n"),
        false => String::new(),
    }
}

fn client_rows(list: &[Value]) -> Vec<Vec<String>> {
    list.iter()
        .map(|c| {
            let state = match c["connected"].as_bool() {
                Some(true) => "connected",
                _ => "offline",
            };
            [
                "id",
                "username",
                "protocol",
                "",
                "address",
                "subscriptions",
                "in_flight",
                "queued",
                "dropped",
            ]
            .iter()
            .map(|k| match *k {
                "" => state.to_owned(),
                k => cell(&c[k]),
            })
            .collect()
        })
        .collect()
}

const CLIENT_HEADER: [&str; 9] = [
    "ID", "USER", "PROTO", "STATE", "ADDRESS", "SUBS", "INFLIGHT", "QUEUED", "DROPPED",
];

fn tree(nodes: &Value, indent: usize, out: &mut String) {
    for n in nodes.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let mut notes = Vec::new();
        if n["retained"] == true {
            notes.push("retained".to_owned());
        }
        match n["retained_messages"].as_u64() {
            Some(r) if r > 0 => notes.push(format!("{r} retained below")),
            _ => {}
        }
        match n["subscriptions"].as_u64() {
            Some(s) if s > 0 => notes.push(format!("{s} subscriptions")),
            _ => {}
        }
        if n["truncated"] == true {
            notes.push("...".into());
        }
        let notes = match notes.is_empty() {
            true => String::new(),
            false => format!("  ({})", notes.join(", ")),
        };
        out.push_str(&format!(
            "{}{}{notes}\n",
            "  ".repeat(indent),
            cell(&n["name"])
        ));
        tree(&n["children"], indent + 1, out);
    }
}

pub fn render(cmd: &CtlCommand, v: &Value) -> String {
    match cmd {
        CtlCommand::Clients { .. } => table(&CLIENT_HEADER, client_rows(items(v))) + &more(v),
        CtlCommand::Client { .. } => {
            let mut out = table(&CLIENT_HEADER, client_rows(std::slice::from_ref(v)));
            out.push_str(&format!(
                "persistent: {}  transport: {}  connected since (unix): {}\n",
                cell(&v["persistent"]),
                cell(&v["transport"]),
                cell(&v["connected_since"])
            ));
            let subs = v["filters"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            out + &subscriptions(subs)
        }
        CtlCommand::Kick { .. } => format!(
            "disconnected {}{}{}",
            cell(&v["id"]),
            match v["was_connected"] == true {
                true => "",
                false => " (was not connected)",
            },
            match v["session_deleted"] == true {
                true => "; session deleted",
                false => "",
            }
        ),
        CtlCommand::Subscriptions { .. } => subscriptions(items(v)) + &more(v),
        CtlCommand::Retained { .. } => {
            let rows = items(v)
                .iter()
                .map(|m| {
                    vec![
                        cell(&m["topic"]),
                        cell(&m["qos"]),
                        cell(&m["payload_bytes"]),
                        match &m["payload"] {
                            Value::String(s) => s.chars().take(60).collect(),
                            _ => "(binary)".into(),
                        },
                    ]
                })
                .collect();
            table(&["TOPIC", "QOS", "BYTES", "PAYLOAD"], rows) + &more(v)
        }
        CtlCommand::Topics { .. } => {
            let mut out = String::new();
            tree(&v["children"], 0, &mut out);
            out
        }
        CtlCommand::Broker | CtlCommand::Reload | CtlCommand::Trace(_) | CtlCommand::Traces => {
            serde_json::to_string_pretty(v).unwrap_or_default()
        }
    }
}

fn subscriptions(list: &[Value]) -> String {
    let rows = list
        .iter()
        .map(|s| {
            [
                "client_id",
                "filter",
                "qos",
                "no_local",
                "retain_as_published",
                "retain_handling",
            ]
            .iter()
            .map(|k| cell(&s[k]))
            .collect()
        })
        .collect();
    table(&["CLIENT", "FILTER", "QOS", "NO_LOCAL", "RAP", "RH"], rows)
}
