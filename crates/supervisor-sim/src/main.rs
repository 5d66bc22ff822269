//! `supervisor-sim serve …` (parse flags, bind, print the listening line) or `supervisor-sim
//! controllers …` (the controllers on an existing cluster); either runs until SIGTERM or Ctrl-C.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "supervisor_sim=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match supervisor_sim::cli::parse_command(&args) {
        Ok(supervisor_sim::cli::Command::Serve(c)) => c,
        Ok(supervisor_sim::cli::Command::Controllers(opts)) => return controllers(opts).await,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&cli.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("supervisor-sim: cannot listen on {}: {e}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    let sim = match supervisor_sim::Sim::start(cli.opts.clone(), listener).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("supervisor-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let kubeconfig = cli
        .opts
        .kubeconfig
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "-".into());
    println!(
        "supervisor-sim listening on {} (kubeconfig: {kubeconfig})",
        sim.url
    );
    wait_for_signal().await;
    eprintln!("supervisor-sim: shutting down");
    sim.stop().await;
    ExitCode::SUCCESS
}

async fn controllers(opts: supervisor_sim::remote::ControllersOptions) -> ExitCode {
    let kubeconfig = opts.kubeconfig.display().to_string();
    let sim = match supervisor_sim::remote::RemoteSim::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("supervisor-sim controllers: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "supervisor-sim controllers running on {} (kubeconfig: {kubeconfig})",
        sim.url
    );
    wait_for_signal().await;
    eprintln!("supervisor-sim controllers: shutting down");
    sim.stop().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
