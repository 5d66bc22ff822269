//! Command line of the `supervisor-sim` binary.
//!
//! ```text
//! supervisor-sim serve [--listen ADDR] [--kubeconfig PATH] [--seed FILE] [--no-default-seed]
//!                      [--state DIR] [--crds DIR] [--vmop-versions v1alpha3,v1alpha5]
//!                      [--faults FILE] [--insecure-http] [--token T] [--demo-token T]
//!                      [--no-controllers]
//! supervisor-sim controllers --kubeconfig FILE [--context NAME] [--state DIR] [--crds DIR]
//!                      [--no-crds] [--seed FILE] [--no-default-seed] [--faults FILE]
//!                      [--no-webhooks]
//! ```

use crate::server::RunOptions;
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "usage: supervisor-sim serve [--listen ADDR (default 127.0.0.1:6443)] [--kubeconfig PATH (default ./supervisor-sim.kubeconfig)]
                            [--seed FILE] [--no-default-seed] [--state DIR] [--crds DIR]
                            [--vmop-versions v1alpha3,v1alpha5] [--faults FILE] [--insecure-http]
                            [--token TOKEN] [--demo-token TOKEN] [--no-controllers]

The kubeconfig has two contexts: `supervisor-sim` (admin, current) and `supervisor-sim-demo-user`
(a token limited to namespace `demo`). kubectl 1.20 and 1.27-1.33 `apply` without `--validate=false`.

       supervisor-sim controllers --kubeconfig FILE [--context NAME] [--state DIR] [--crds DIR]
                            [--no-crds] [--seed FILE] [--no-default-seed] [--faults FILE]
                            [--no-webhooks]

Runs the same controllers on any Kubernetes API server: applies the VM Operator and
image-registry CRDs (--no-crds: they are there already), creates the seed objects that are
missing, serves VM Operator's admission webhooks to the cluster (--no-webhooks: not), and
reconciles through the cluster's watches until SIGTERM or Ctrl-C.";

/// What the command line asks for.
pub enum Command {
    /// `serve`: the one-binary simulator.
    Serve(Cli),
    /// `controllers`: the controllers on an existing cluster.
    Controllers(crate::remote::ControllersOptions),
}

/// Parses the command line (without the program name).
pub fn parse_command(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        Some("controllers") => parse_controllers(&args[1..]).map(Command::Controllers),
        _ => parse(args).map(Command::Serve),
    }
}

fn read_faults(path: &str) -> Result<crate::faults::FaultConfig, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading --faults {path}: {e}"))?;
    crate::faults::parse(&text).map_err(|e| format!("parsing --faults {path}: {e}"))
}

/// Calls `on` with each flag's name and a way to take its value (`--flag=V` or `--flag V`).
fn each_flag(
    args: &[String],
    mut on: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<(), String>,
) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        on(&name, &mut value)?;
    }
    Ok(())
}

/// Parses `controllers` flags.
fn parse_controllers(args: &[String]) -> Result<crate::remote::ControllersOptions, String> {
    let mut opts = crate::remote::ControllersOptions::new(PathBuf::new());
    each_flag(args, |name, value| {
        match name {
            "--kubeconfig" => opts.kubeconfig = PathBuf::from(value()?),
            "--context" => opts.context = Some(value()?),
            "--state" => opts.state_dir = Some(PathBuf::from(value()?)),
            "--crds" => opts.crds_dir = Some(PathBuf::from(value()?)),
            "--no-crds" => opts.install_crds = false,
            "--seed" => opts.seed_file = Some(PathBuf::from(value()?)),
            "--no-default-seed" => opts.default_seed = false,
            "--faults" => opts.faults = read_faults(&value()?)?,
            "--no-webhooks" => opts.webhooks = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown flag {other:?} of controllers\n{USAGE}")),
        }
        Ok(())
    })?;
    if opts.kubeconfig.as_os_str().is_empty() {
        return Err(format!("controllers needs --kubeconfig FILE\n{USAGE}"));
    }
    Ok(opts)
}

/// Parsed command line.
#[derive(Clone)]
pub struct Cli {
    /// Listen address.
    pub listen: String,
    /// Options for [`crate::run`].
    pub opts: RunOptions,
}

/// Parses `serve` arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Cli, String> {
    match args.first().map(String::as_str) {
        Some("serve") => {}
        Some("-h") | Some("--help") | Some("help") => return Err(USAGE.to_string()),
        Some(other) => return Err(format!("unknown command {other:?}\n{USAGE}")),
        None => return Err(USAGE.to_string()),
    }
    let mut cli = Cli {
        listen: "127.0.0.1:6443".to_string(),
        opts: RunOptions {
            kubeconfig: Some(PathBuf::from("supervisor-sim.kubeconfig")),
            ..Default::default()
        },
    };
    each_flag(&args[1..], |name, value| {
        match name {
            "--listen" => cli.listen = value()?,
            "--kubeconfig" => cli.opts.kubeconfig = Some(PathBuf::from(value()?)),
            "--seed" => cli.opts.seed_file = Some(PathBuf::from(value()?)),
            "--no-default-seed" => cli.opts.default_seed = false,
            "--state" => cli.opts.state_dir = Some(PathBuf::from(value()?)),
            "--crds" => cli.opts.crds_dir = Some(PathBuf::from(value()?)),
            "--vmop-versions" => {
                cli.opts.vmop_versions = value()?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if cli.opts.vmop_versions.is_empty() {
                    return Err("--vmop-versions needs at least one version".into());
                }
            }
            "--faults" => cli.opts.faults = read_faults(&value()?)?,
            "--insecure-http" => cli.opts.insecure_http = true,
            "--token" => cli.opts.admin_token = Some(value()?),
            "--demo-token" => cli.opts.demo_token = Some(value()?),
            "--no-controllers" => cli.opts.controllers = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown flag {other:?}\n{USAGE}")),
        }
        Ok(())
    })?;
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_flags() {
        let c = parse(&args("serve --listen 127.0.0.1:0 --kubeconfig /tmp/k --state=/tmp/s --vmop-versions v1alpha3 --insecure-http")).unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        assert_eq!(
            c.opts.kubeconfig.as_deref(),
            Some(std::path::Path::new("/tmp/k"))
        );
        assert_eq!(
            c.opts.state_dir.as_deref(),
            Some(std::path::Path::new("/tmp/s"))
        );
        assert_eq!(c.opts.vmop_versions, ["v1alpha3"]);
        assert!(c.opts.insecure_http);
        assert!(parse(&args("serve --bogus")).is_err());
        assert!(parse(&args("serve --listen")).is_err());
        assert!(parse(&args("frobnicate")).is_err());
    }

    #[test]
    fn parses_the_controllers_command() {
        let Ok(Command::Controllers(o)) = parse_command(&args(
            "controllers --kubeconfig /tmp/k --context=c --no-crds --state /tmp/s",
        )) else {
            panic!("not the controllers command");
        };
        assert_eq!(o.kubeconfig, std::path::Path::new("/tmp/k"));
        assert_eq!(o.context.as_deref(), Some("c"));
        assert!(!o.install_crds);
        assert!(o.default_seed);
        assert_eq!(o.state_dir.as_deref(), Some(std::path::Path::new("/tmp/s")));
        let missing = parse_command(&args("controllers"))
            .err()
            .unwrap_or_default();
        assert!(
            missing.starts_with("controllers needs --kubeconfig FILE"),
            "{missing}"
        );
        assert!(parse_command(&args("controllers --kubeconfig k --listen x")).is_err());
        assert!(matches!(
            parse_command(&args("serve")),
            Ok(Command::Serve(_))
        ));
    }
}
