//! Step 5: wait (by watching) for the VM to power on with an IPv4 address, then for the
//! service's load-balancer ingress IP (for ISO images first the network config and the web
//! console), all under one `watch_source_timeout`, as upstream.
use thiserror::Error;
use vmop_types::{VirtualMachine, VirtualMachineService};

use super::Ctx;
use crate::config::CommKind;
use crate::kube::status::{judge_service, judge_vm};
use crate::kube::wait::{wait_for, Deadline, Target, WaitError};

#[derive(Debug, Error)]
pub enum WaitSourceError {
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Console(#[from] super::iso_console::ConsoleError),
    #[error("internal error: not connected to the Supervisor")]
    NotConnected,
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), WaitSourceError> {
    let cfg = ctx.config;
    let cluster = ctx.cluster().ok_or(WaitSourceError::NotConnected)?.clone();
    let ns = &cluster.namespace;
    let name = cfg.source_name.as_str();
    let deadline = Deadline::after(cfg.watch_source_timeout);

    ctx.say(&format!(
        "Waiting for the source VM {ns}/{name} to be powered on and get an IPv4 address..."
    ))
    .await;
    if ctx
        .state
        .image
        .as_ref()
        .is_some_and(super::create_source::is_iso)
    {
        super::iso_console::run(ctx, &deadline).await?;
    }
    let vms = cluster.vmop::<VirtualMachine>();
    let ready = wait_for(
        Target {
            api: &vms,
            object: format!("VirtualMachine {ns}/{name}"),
            name,
            what: format!("VirtualMachine {ns}/{name} to be powered on with an IPv4 address"),
        },
        deadline.remaining(),
        &ctx.cancel,
        judge_vm,
    )
    .await
    .map_err(|e| deadline.whole(e))?;
    ctx.say(&format!("Obtained VM IP: {}", ready.ip)).await;
    ctx.state.vm_ip = Some(ready.ip.clone());

    let host_override = match cfg.comm.kind {
        CommKind::Ssh => cfg.comm.ssh.host.clone(),
        CommKind::WinRm => cfg.comm.winrm.host.clone(),
        CommKind::None => None,
    }
    .filter(|h| !h.is_empty());

    if cfg.comm.kind != CommKind::None {
        ctx.say(&format!(
            "Waiting for VirtualMachineService {ns}/{name} to get a load-balancer ingress IP..."
        ))
        .await;
        let services = cluster.vmop::<VirtualMachineService>();
        let ip = wait_for(
            Target {
                api: &services,
                object: format!("VirtualMachineService {ns}/{name}"),
                name,
                what: format!(
                    "VirtualMachineService {ns}/{name} to get a load-balancer ingress IP"
                ),
            },
            deadline.remaining(),
            &ctx.cancel,
            judge_service,
        )
        .await
        .map_err(|e| deadline.whole(e))?;
        ctx.say(&format!("VirtualMachineService ingress IP: {ip}"))
            .await;
        ctx.state.comm_host = Some(host_override.unwrap_or(ip));
    }
    ctx.say("Source VM is ready").await;
    Ok(())
}
