//! Command line. Options beat environment variables, which beat files, which beat defaults.

use std::path::PathBuf;

use clap::Parser;

use crate::config::{self, ConfigError, ConfigSources, Origin, Settings};

/// An MQTT broker on actix actors.
#[derive(Parser, Debug, Clone, PartialEq, Eq, Default)]
#[command(name = "courtier", version, about)]
pub struct Cli {
    /// TCP port to listen on (overrides listener.port)
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Address to listen on, e.g. 0.0.0.0 (overrides listener.bind)
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,

    /// Directory of the persistent store (overrides persistence.data_dir)
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory whose *.toml files are read in file-name order, after the built-in defaults
    #[arg(short = 'c', long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// A Mosquitto configuration file, read as Mosquitto reads it, after the built-in defaults
    /// and before the --config-dir files
    #[arg(long, value_name = "FILE")]
    pub mosquitto_conf: Option<PathBuf>,

    /// Load and check the configuration, print the effective settings as TOML, and exit
    #[arg(long)]
    pub check_config: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools run instead of the broker.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Passwd(crate::security::passwd::PasswdArgs),
    /// Print the conf.d TOML equivalent to a mosquitto.conf (notes on standard error)
    ConvertMosquittoConf {
        /// The mosquitto.conf to convert
        file: PathBuf,
    },
    /// Exit 0 if the broker configured by the same options answers an MQTT CONNECT on its
    /// first listener, 1 otherwise (for the container's HEALTHCHECK)
    Healthcheck {
        /// Give up after this many seconds
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// The admin API of a running broker, from the terminal
    Ctl(crate::ctl::CtlArgs),
}

impl Cli {
    /// Overwrites the settings given on the command line; does not check them (see
    /// [`Cli::load_settings`]).
    pub fn apply(&self, settings: &mut Settings) {
        if let Some(port) = self.port {
            settings.listener.port = port;
        }
        if let Some(bind) = &self.bind {
            settings.listener.bind = bind.clone();
        }
        if let Some(dir) = &self.data_dir {
            settings.persistence.data_dir = dir.clone();
        }
    }

    /// The loader's sources: `--config-dir` and the given environment.
    pub fn sources(&self, env: Vec<(String, String)>) -> ConfigSources {
        ConfigSources {
            config_dir: self.config_dir.clone(),
            env,
        }
    }

    /// Loads defaults, files and environment, applies the options, and checks the result; an
    /// invalid option value (e.g. `--bind ""`) is reported as coming from that option.
    pub fn load_settings(&self, env: Vec<(String, String)>) -> Result<Settings, ConfigError> {
        self.load_settings_noted(env).map(|(settings, _)| settings)
    }

    /// [`Cli::load_settings`], and the notes on the mosquitto.conf keys that were ignored or
    /// approximated (`file:line: key: ...`), for the log.
    pub fn load_settings_noted(
        &self,
        env: Vec<(String, String)>,
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        let converted = match &self.mosquitto_conf {
            Some(path) => Some(config::mosquitto::read(path)?),
            None => None,
        };
        let (mut settings, mut provenance) =
            config::load_tracked_with(&self.sources(env), converted.as_ref())?;
        self.apply(&mut settings);
        let options = [
            ("listener.port", "--port", self.port.is_some()),
            ("listener.bind", "--bind", self.bind.is_some()),
            (
                "persistence.data_dir",
                "--data-dir",
                self.data_dir.is_some(),
            ),
        ];
        for (key, option, given) in options {
            if given {
                provenance.insert(key.to_owned(), Origin::Cli(option.to_owned()));
            }
        }
        settings.validate_tracked(&provenance)?;
        Ok((settings, converted.map(|c| c.notes).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_all_options() {
        let cli = Cli::try_parse_from([
            "courtier",
            "-p",
            "1884",
            "--bind",
            "0.0.0.0",
            "--data-dir",
            "/var/lib/courtier",
            "-c",
            "/etc/courtier",
            "--check-config",
        ])
        .unwrap();
        assert_eq!(
            cli,
            Cli {
                port: Some(1884),
                bind: Some("0.0.0.0".into()),
                data_dir: Some("/var/lib/courtier".into()),
                config_dir: Some("/etc/courtier".into()),
                mosquitto_conf: None,
                check_config: true,
                command: None,
            }
        );
        assert!(Cli::try_parse_from(["courtier", "--port", "70000"]).is_err());
    }

    #[test]
    fn passwd_takes_mosquitto_passwd_flags() {
        let cli = Cli::try_parse_from(["courtier", "passwd", "-c", "-b", "f", "u", "p"]).unwrap();
        let Some(Command::Passwd(a)) = cli.command else {
            panic!("passwd subcommand")
        };
        assert!(a.create && a.batch && !a.delete && !a.upgrade);
        assert_eq!(a.file, PathBuf::from("f"));
        assert_eq!(
            (a.user.as_deref(), a.password.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!(a.iterations, 101);
        let cli = Cli::try_parse_from(["courtier", "passwd", "-cb", "f", "u", "p"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Passwd(a)) if a.create && a.batch));
        assert!(Cli::try_parse_from(["courtier", "passwd", "-c", "-D", "f", "u"]).is_err());
        assert!(Cli::try_parse_from(["courtier", "passwd", "-I", "0", "f", "u"]).is_err());
        let cli = Cli::try_parse_from(["courtier", "passwd", "-U", "f"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Passwd(a)) if a.upgrade && a.user.is_none()));
    }

    #[test]
    fn version_is_the_package_version() {
        assert_eq!(
            Cli::command().get_version(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn invalid_option_value_names_the_option() {
        let cli = Cli {
            bind: Some(String::new()),
            ..Cli::default()
        };
        let err = cli.load_settings(Vec::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "command-line option --bind: key \"listener.bind\": invalid value \"\": \
             expected a non-empty string"
        );
    }
}
