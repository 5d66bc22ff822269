//! Step 2: connect to the Supervisor and pick the API versions to speak.
use super::Ctx;
use crate::kube::{Cluster, ConnectError};

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), ConnectError> {
    let cfg = ctx.config;
    ctx.say("Connecting to Supervisor...").await;
    let cluster = Cluster::connect(
        &cfg.kubeconfig_paths,
        cfg.kubeconfig_context.as_deref(),
        cfg.supervisor_namespace.as_deref(),
    )
    .await?;
    ctx.say(&format!(
        "Connected to Supervisor {} (context {}); using namespace {} and {}",
        cluster.server,
        cluster.context,
        cluster.namespace,
        cluster.kinds.vmop.api_version()
    ))
    .await;
    ctx.state.cluster = Some(cluster);
    Ok(())
}
