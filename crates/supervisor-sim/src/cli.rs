//! Command line of the `supervisor-sim` binary.
//!
//! ```text
//! supervisor-sim serve [--listen ADDR] [--kubeconfig PATH] [--seed FILE] [--no-default-seed]
//!                      [--state DIR] [--crds DIR] [--vmop-versions v1alpha3,v1alpha5]
//!                      [--faults FILE] [--insecure-http] [--token T] [--demo-token T]
//!                      [--no-controllers]
//! ```

use crate::server::RunOptions;
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "usage: supervisor-sim serve [--listen ADDR (default 127.0.0.1:6443)] [--kubeconfig PATH (default ./supervisor-sim.kubeconfig)]
                            [--seed FILE] [--no-default-seed] [--state DIR] [--crds DIR]
                            [--vmop-versions v1alpha3,v1alpha5] [--faults FILE] [--insecure-http]
                            [--token TOKEN] [--demo-token TOKEN] [--no-controllers]

The kubeconfig has two contexts: `supervisor-sim` (admin, current) and `supervisor-sim-demo-user`
(a token limited to namespace `demo`). kubectl 1.20 and 1.27-1.33 `apply` without `--validate=false`.";

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
    let mut it = args.iter();
    match it.next().map(String::as_str) {
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
        match name.as_str() {
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
            "--faults" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("reading --faults {path}: {e}"))?;
                cli.opts.faults = crate::faults::parse(&text)
                    .map_err(|e| format!("parsing --faults {path}: {e}"))?;
            }
            "--insecure-http" => cli.opts.insecure_http = true,
            "--token" => cli.opts.admin_token = Some(value()?),
            "--demo-token" => cli.opts.demo_token = Some(value()?),
            "--no-controllers" => cli.opts.controllers = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown flag {other:?}\n{USAGE}")),
        }
    }
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
}
