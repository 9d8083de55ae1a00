//! `courtier ctl`: the admin API from the terminal. Each command is one or a few HTTP requests
//! to a running broker's `[http]` listener (default http://127.0.0.1:9001).

pub mod client;
pub mod trace;

use clap::{Args, Subcommand};

/// Where the broker's API is, and who asks.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct CtlArgs {
    /// The broker's HTTP listener
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9001")]
    pub url: String,
    /// Send `Authorization: Bearer TOKEN`
    #[arg(long, value_name = "TOKEN", conflicts_with = "user")]
    pub token: Option<String>,
    /// Send `Authorization: Basic` with this user (and --password)
    #[arg(long, value_name = "USER", requires = "password")]
    pub user: Option<String>,
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum CtlCommand {
    /// Trace a client, topic filter, username or address live until Ctrl-C or the trace ends,
    /// then stop the trace
    Trace(trace::TraceArgs),
    /// List the runtime traces
    Traces,
}

/// Run a `ctl` command; exit status 0 on success, 1 with a message on error.
pub fn run(args: &CtlArgs) -> std::process::ExitCode {
    let api = match client::Api::new(args) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("courtier ctl: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let done = match &args.command {
        CtlCommand::Trace(t) => trace::follow(&api, t),
        CtlCommand::Traces => trace::list(&api),
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courtier ctl: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
