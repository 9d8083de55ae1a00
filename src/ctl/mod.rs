//! `courtier ctl`: the admin API (/api/v1, README.md "Admin API") from the terminal. Tables
//! for people, `--json` for scripts; exit status 1 with the API's error on failure.

pub mod client;
mod http;
mod show;
pub mod trace;

use base64::Engine;
use http::{encode, Endpoint};
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;

/// Query and manage a running broker over its admin API
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct CtlArgs {
    /// The broker's HTTP listener
    #[arg(long, default_value = "http://127.0.0.1:9001", global = true)]
    pub url: String,
    /// A token of [admin] token_file (HTTP Bearer)
    #[arg(long, global = true, conflicts_with = "user")]
    pub token: Option<String>,
    /// An [admin] user (HTTP Basic); the password is asked for unless --password is given
    #[arg(long, global = true)]
    pub user: Option<String>,
    #[arg(long, global = true, requires = "user")]
    pub password: Option<String>,
    /// Print the API's JSON instead of a table
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum CtlCommand {
    /// List clients (sessions), sorted by client id
    Clients {
        /// Client ids starting with this
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        username: Option<String>,
        /// Only connected (true) or offline (false) clients
        #[arg(long)]
        connected: Option<bool>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One client with its subscriptions
    Client { id: String },
    /// Disconnect a client (MQTT 5.0: DISCONNECT 0x98 Administrative action)
    Kick {
        id: String,
        /// Delete its session too, stored state included
        #[arg(long)]
        session: bool,
    },
    /// Subscriptions, optionally of clients whose id starts with --client
    Subscriptions {
        #[arg(long)]
        client: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Retained messages matching a topic filter
    Retained {
        #[arg(default_value = "#")]
        filter: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The topic tree (retained messages and subscriptions)
    Topics {
        /// Only the tree under this topic
        #[arg(long)]
        root: Option<String>,
        #[arg(long, default_value_t = 8)]
        depth: usize,
    },
    /// Version, uptime, listeners and effective settings
    Broker,
    /// Reload what SIGHUP reloads
    Reload,
    /// Trace a client, topic filter, username or address live until Ctrl-C or the trace ends,
    /// then stop the trace
    Trace(trace::TraceArgs),
    /// List the runtime traces
    Traces,
}

/// Run a `ctl` command; the exit status says whether the API answered 2xx.
pub fn run(args: &CtlArgs) -> ExitCode {
    // Traces stream (trace.rs); every other command is one request and one answer.
    let api = || {
        client::Api::new(args).map_err(|e| {
            // A URL the client cannot use is a usage error: status 2.
            eprintln!("courtier ctl: {e}");
            ExitCode::from(2)
        })
    };
    let done = match &args.command {
        CtlCommand::Trace(t) => match api() {
            Ok(api) => trace::follow(&api, t),
            Err(code) => return code,
        },
        CtlCommand::Traces => match api() {
            Ok(api) => trace::list(&api),
            Err(code) => return code,
        },
        _ => call(args),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courtier ctl: {e}");
            ExitCode::from(1)
        }
    }
}

fn authorization(args: &CtlArgs) -> Result<Option<String>, String> {
    if let Some(t) = &args.token {
        return Ok(Some(format!("Bearer {t}")));
    }
    let Some(user) = &args.user else {
        return Ok(None);
    };
    let password = match &args.password {
        Some(p) => p.clone(),
        None => rpassword::prompt_password(format!("Password for {user}: "))
            .map_err(|e| format!("cannot read the password: {e}"))?,
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Ok(Some(format!("Basic {basic}")))
}

/// The request a command makes: method and path under /api/v1.
fn route(cmd: &CtlCommand) -> (&'static str, String) {
    let q = |k: &str, v: &str| format!("{k}={}", encode(v, false));
    match cmd {
        CtlCommand::Clients {
            prefix,
            username,
            connected,
            limit,
        } => {
            let mut params = vec![format!("limit={limit}")];
            params.extend(prefix.as_deref().map(|p| q("prefix", p)));
            params.extend(username.as_deref().map(|u| q("username", u)));
            params.extend(connected.map(|c| format!("connected={c}")));
            ("GET", format!("/clients?{}", params.join("&")))
        }
        CtlCommand::Client { id } => ("GET", format!("/clients/{}", encode(id, false))),
        CtlCommand::Kick { id, session } => (
            "DELETE",
            format!("/clients/{}?session={session}", encode(id, false)),
        ),
        CtlCommand::Subscriptions { client, limit } => {
            let mut params = vec![format!("limit={limit}")];
            params.extend(client.as_deref().map(|c| q("client", c)));
            ("GET", format!("/subscriptions?{}", params.join("&")))
        }
        CtlCommand::Retained { filter, limit } => (
            "GET",
            format!("/retained?{}&limit={limit}", q("filter", filter)),
        ),
        CtlCommand::Topics { root, depth } => {
            let mut params = vec![format!("depth={depth}")];
            params.extend(root.as_deref().map(|r| q("root", r)));
            ("GET", format!("/topics?{}", params.join("&")))
        }
        CtlCommand::Broker => ("GET", "/broker".into()),
        CtlCommand::Reload => ("POST", "/reload".into()),
        CtlCommand::Traces => ("GET", "/traces".into()),
        CtlCommand::Trace(_) => unreachable!("run() hands a trace to trace.rs"),
    }
}

fn call(args: &CtlArgs) -> Result<(), String> {
    let ep = Endpoint::parse(&args.url)?;
    let auth = authorization(args)?;
    let (method, path) = route(&args.command);
    let (status, body) = http::request(&ep, method, &format!("/api/v1{path}"), auth.as_deref())?;
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
    if !(200..300).contains(&status) {
        let msg = value["error"].as_str().unwrap_or(body.trim());
        let at = match (value["file"].as_str(), value["line"].as_u64()) {
            (Some(f), Some(l)) => format!(" ({f} line {l})"),
            (Some(f), None) => format!(" ({f})"),
            _ => String::new(),
        };
        return Err(format!("{status}: {msg}{at}"));
    }
    let out = match args.json {
        true => serde_json::to_string_pretty(&value).unwrap_or_default(),
        false => show::render(&args.command, &value),
    };
    // A closed pipe (`ctl clients | head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{}", out.trim_end());
    Ok(())
}
