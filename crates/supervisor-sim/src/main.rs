//! `supervisor-sim serve …`: parse flags, bind, print the listening line, run until SIGTERM or
//! Ctrl-C.

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
    let cli = match supervisor_sim::cli::parse(&args) {
        Ok(c) => c,
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
