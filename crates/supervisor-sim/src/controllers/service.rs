//! VirtualMachineService controller: a LoadBalancer service gets an ingress IP in
//! 127.77.0.0/16 and a TCP listener on `ingressIP:port` per port, forwarding each connection to
//! the selected VM (label selector over VM labels, resolved per connection, so VMs that appear
//! later are picked up) at its `targetPort` (the guest SSH endpoint for the SSH port).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{api_err, conditions, CtlError, GuestRegistry, Key, ReconcilerDyn};
use crate::catalog::Gr;
use crate::error::ApiError;
use crate::selector::LabelSelector;
use crate::store::{ListOptions, Store, Subresource};
use vmop_types::api as k;
use vmop_types::service::{LoadBalancerIngress, LoadBalancerStatus};

/// Condition the simulator sets on a VirtualMachineService about its listeners.
pub const CONDITION_LB_READY: &str = "LoadBalancerReady";

struct Lb {
    ip: Ipv4Addr,
    /// (port, targetPort) → listener task.
    listeners: HashMap<(u16, u16), (CancellationToken, JoinHandle<()>)>,
}

#[derive(Clone)]
pub struct ServiceController {
    store: Store,
    guests: GuestRegistry,
    lbs: Arc<AsyncMutex<HashMap<(String, String), Lb>>>,
}

impl ServiceController {
    pub(crate) fn new(store: Store, guests: GuestRegistry) -> Self {
        ServiceController {
            store,
            guests,
            lbs: Arc::default(),
        }
    }

    /// Ingress addresses in use according to the store (other services' status).
    fn ips_in_store(&self) -> Vec<Ipv4Addr> {
        self.store
            .list_arc(
                &Gr::from(&k::VIRTUAL_MACHINE_SERVICE),
                None,
                &Default::default(),
            )
            .map(|(items, _)| {
                items
                    .iter()
                    .filter_map(|o| {
                        o.pointer("/status/loadBalancer/ingress/0/ip")
                            .and_then(Value::as_str)
                    })
                    .filter_map(|s| s.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn forwarder(
        &self,
        ns: &str,
        selector: &serde_json::Map<String, Value>,
        target: u16,
    ) -> Forwarder {
        Forwarder {
            store: self.store.clone(),
            guests: self.guests.clone(),
            ns: ns.to_string(),
            selector: selector.clone(),
            target,
        }
    }

    async fn stop(&self, ns: &str, name: &str) {
        let lb = self
            .lbs
            .lock()
            .await
            .remove(&(ns.to_string(), name.to_string()));
        if let Some(lb) = lb {
            for (_, (stop, task)) in lb.listeners {
                stop.cancel();
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            }
        }
    }

    /// One pass over a service: a short sequence of phases.
    async fn reconcile(&self, key: Key) -> Result<Option<Duration>, CtlError> {
        let (Some(ns), name) = key else {
            return Ok(None);
        };
        let Some(svc) = self.fetch_active(&ns, &name).await? else {
            return Ok(None);
        };
        let spec = Spec::of(&svc);
        let mut failures = Vec::new();
        let Some(ip) = self
            .ensure_listeners(&ns, &name, &svc, &spec, &mut failures)
            .await?
        else {
            return Ok(None);
        };
        self.report_status(&ns, &name, ip, &failures)
    }

    /// Phase: reads the service; a gone, deleting or non-LoadBalancer one stops its listeners
    /// and yields `None`.
    async fn fetch_active(&self, ns: &str, name: &str) -> Result<Option<Value>, CtlError> {
        let gr = Gr::from(&k::VIRTUAL_MACHINE_SERVICE);
        let svc = match self.store.get(&gr, Some(ns), name) {
            Ok(s) => s,
            Err(e) if e.code == 404 => {
                self.stop(ns, name).await;
                return Ok(None);
            }
            Err(e) => {
                return Err(api_err(
                    "getting VirtualMachineService",
                    format!("{ns}/{name}"),
                )(e))
            }
        };
        if svc
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
            || svc.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer")
        {
            self.stop(ns, name).await;
            return Ok(None);
        }
        Ok(Some(svc))
    }

    /// Phase: the service's load balancer (allocated on first sight) listening on exactly the
    /// spec's ports; returns its address. Ports that cannot bind are added to `failures`.
    async fn ensure_listeners(
        &self,
        ns: &str,
        name: &str,
        svc: &Value,
        spec: &Spec,
        failures: &mut Vec<String>,
    ) -> Result<Option<Ipv4Addr>, CtlError> {
        let mut lbs = self.lbs.lock().await;
        let lb_key = (ns.to_string(), name.to_string());
        if !lbs.contains_key(&lb_key) {
            let (lb, errors) = self.allocate_lb(ns, name, svc, spec, &lbs).await?;
            failures.extend(errors);
            lbs.insert(lb_key.clone(), lb);
        }
        let Some(lb) = lbs.get_mut(&lb_key) else {
            return Ok(None);
        };
        self.sync_listeners(ns, name, lb, spec, failures).await;
        Ok(Some(lb.ip))
    }

    /// Picks the ingress address (the persisted one, else the first free one in 127.77.0.0/16)
    /// and starts a listener per port; returns the load balancer and the bind errors.
    async fn allocate_lb(
        &self,
        ns: &str,
        name: &str,
        svc: &Value,
        spec: &Spec,
        lbs: &HashMap<(String, String), Lb>,
    ) -> Result<(Lb, Vec<String>), CtlError> {
        let persisted = svc
            .pointer("/status/loadBalancer/ingress/0/ip")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
            .filter(|ip| ip.octets()[0] == 127 && ip.octets()[1] == 77);
        let used = self.ips_in_store();
        // Another simulator (process or instance) may hold an address: binding is the
        // only reliable test, so try candidates until every port binds.
        let candidates: Vec<Ipv4Addr> = match persisted {
            Some(ip) => vec![ip],
            None => (1u32..65000)
                .map(|n| Ipv4Addr::new(127, 77, (n / 254) as u8, (n % 254 + 1) as u8))
                .collect(),
        };
        for ip in candidates {
            if persisted.is_none() && (used.contains(&ip) || lbs.values().any(|l| l.ip == ip)) {
                continue;
            }
            let Some((bound, errors)) = bind_all(ip, &spec.ports, persisted.is_none()).await else {
                continue;
            };
            let mut listeners = HashMap::new();
            for (port, target, l) in bound {
                let stop = CancellationToken::new();
                let task = tokio::spawn(
                    self.forwarder(ns, &spec.selector, target)
                        .serve(l, stop.clone()),
                );
                listeners.insert((port, target), (stop, task));
                tracing::info!(service = %format!("{ns}/{name}"), addr = %SocketAddr::new(ip.into(), port), target, "load balancer listening");
            }
            return Ok((Lb { ip, listeners }, errors));
        }
        Err(CtlError::Api {
            op: "allocating a load-balancer address for VirtualMachineService",
            object: format!("{ns}/{name}"),
            source: Box::new(crate::error::ApiError::internal(
                "127.77.0.0/16 is exhausted",
            )),
        })
    }

    /// Stops the listeners of ports removed from the spec and starts those missing.
    async fn sync_listeners(
        &self,
        ns: &str,
        name: &str,
        lb: &mut Lb,
        spec: &Spec,
        failures: &mut Vec<String>,
    ) {
        let ports = &spec.ports;
        // Ports removed from the spec stop listening.
        let stale: Vec<(u16, u16)> = lb
            .listeners
            .keys()
            .filter(|p| !ports.contains(p))
            .copied()
            .collect();
        for p in stale {
            if let Some((stop, _)) = lb.listeners.remove(&p) {
                stop.cancel();
            }
        }
        for (port, target) in ports {
            if lb.listeners.contains_key(&(*port, *target)) {
                continue;
            }
            let addr = SocketAddr::new(lb.ip.into(), *port);
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    let stop = CancellationToken::new();
                    let task = tokio::spawn(
                        self.forwarder(ns, &spec.selector, *target)
                            .serve(listener, stop.clone()),
                    );
                    lb.listeners.insert((*port, *target), (stop, task));
                    tracing::info!(service = %format!("{ns}/{name}"), %addr, target, "load balancer listening");
                }
                Err(e) => failures.push(format!("cannot listen on {addr}: {e}")),
            }
        }
    }

    /// Phase: the ingress address and LoadBalancerReady; requeues while a port cannot bind.
    fn report_status(
        &self,
        ns: &str,
        name: &str,
        ip: Ipv4Addr,
        failures: &[String],
    ) -> Result<Option<Duration>, CtlError> {
        for f in failures {
            tracing::error!(service = %format!("{ns}/{name}"), error = %f, "load balancer cannot bind its port (ports below 1024 need root)");
        }
        let ip_s = ip.to_string();
        let failed = !failures.is_empty();
        let message = failures.join("; ");
        let gr = Gr::from(&k::VIRTUAL_MACHINE_SERVICE);
        self.store
            .modify(&gr, Some(ns), name, Subresource::Status, |o| {
                let lb = LoadBalancerStatus {
                    ingress: vec![LoadBalancerIngress {
                        ip: ip_s.clone(),
                        ..LoadBalancerIngress::default()
                    }],
                    ..LoadBalancerStatus::default()
                };
                o["status"]["loadBalancer"] = serde_json::to_value(lb)
                    .map_err(|e| ApiError::internal(format!("encoding the status: {e}")))?;
                if failed {
                    conditions::set(o, CONDITION_LB_READY, false, "BindFailed", &message);
                } else {
                    conditions::set(o, CONDITION_LB_READY, true, "", "");
                }
                Ok(())
            })
            .map_err(api_err(
                "updating status of VirtualMachineService",
                format!("{ns}/{name}"),
            ))?;
        // Retry binding later (e.g. a port held by another process).
        Ok(failed.then_some(Duration::from_secs(5)))
    }
}

/// What a service's spec asks of its load balancer.
struct Spec {
    selector: serde_json::Map<String, Value>,
    /// (port, targetPort) of each TCP port.
    ports: Vec<(u16, u16)>,
}

impl Spec {
    fn of(svc: &Value) -> Spec {
        let selector: serde_json::Map<String, Value> = svc
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let ports: Vec<(u16, u16)> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == "TCP")
            .filter_map(|p| {
                let port = p.get("port").and_then(Value::as_u64)? as u16;
                let target = p
                    .get("targetPort")
                    .and_then(Value::as_u64)
                    .map(|t| t as u16)
                    .filter(|t| *t != 0)
                    .unwrap_or(port);
                Some((port, target))
            })
            .collect();
        Spec { selector, ports }
    }
}

/// Binds every port on `ip`; `None` when one is in use and `skip_in_use` (try another address).
/// Other bind errors are returned beside the listeners that bound.
async fn bind_all(
    ip: Ipv4Addr,
    ports: &[(u16, u16)],
    skip_in_use: bool,
) -> Option<(Vec<(u16, u16, TcpListener)>, Vec<String>)> {
    let mut bound = Vec::new();
    let mut errors = Vec::new();
    for (port, target) in ports {
        let addr = SocketAddr::new(ip.into(), *port);
        match TcpListener::bind(addr).await {
            Ok(l) => bound.push((*port, *target, l)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && skip_in_use => return None,
            Err(e) => errors.push(format!("cannot listen on {addr}: {e}")),
        }
    }
    Some((bound, errors))
}

/// Forwards connections of one LB port to the selected VM.
struct Forwarder {
    store: Store,
    guests: GuestRegistry,
    ns: String,
    selector: serde_json::Map<String, Value>,
    target: u16,
}

impl Forwarder {
    /// The backend address for a new connection: the first selected VM (by name) that runs.
    fn backend(&self) -> Option<SocketAddr> {
        if self.selector.is_empty() {
            return None;
        }
        let opts = ListOptions {
            labels: Some(LabelSelector::from_map(&self.selector)),
            fields: None,
        };
        let (mut vms, _) = self
            .store
            .list_arc(&Gr::from(&k::VIRTUAL_MACHINE), Some(&self.ns), &opts)
            .ok()?;
        vms.sort_by(|a, b| {
            a.pointer("/metadata/name")
                .and_then(Value::as_str)
                .cmp(&b.pointer("/metadata/name").and_then(Value::as_str))
        });
        let guests = self.guests.lock().unwrap_or_else(|p| p.into_inner());
        vms.iter().find_map(|vm| {
            let name = vm.pointer("/metadata/name").and_then(Value::as_str)?;
            let g = guests.get(&(self.ns.clone(), name.to_string()))?;
            // The guest's only service is SSH on port 22 (maybe moved to an ephemeral port).
            Some(if self.target == 22 {
                g.ssh
            } else {
                SocketAddr::new(g.ip.into(), self.target)
            })
        })
    }

    async fn serve(self, listener: TcpListener, stop: CancellationToken) {
        let this = Arc::new(self);
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                acc = listener.accept() => match acc {
                    Ok((mut client, peer)) => {
                        let this = this.clone();
                        conns.spawn(async move {
                            let Some(backend) = this.backend() else {
                                tracing::info!(%peer, "load balancer has no running backend VM; closing connection");
                                return;
                            };
                            match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(backend)).await {
                                Ok(Ok(mut server)) => {
                                    let _ = client.set_nodelay(true);
                                    let _ = server.set_nodelay(true);
                                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                                }
                                Ok(Err(e)) => tracing::info!(%backend, error = %e, "load balancer backend refused"),
                                Err(_) => tracing::info!(%backend, "load balancer backend connect timed out"),
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "load balancer accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
    }
}

impl ReconcilerDyn for ServiceController {
    fn reconcile_dyn(&self, key: Key) -> BoxFuture<'static, Result<Option<Duration>, CtlError>> {
        let this = self.clone();
        Box::pin(async move { this.reconcile(key).await })
    }
    fn shutdown_dyn(&self) -> BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move {
            let keys: Vec<(String, String)> = this.lbs.lock().await.keys().cloned().collect();
            for (ns, name) in keys {
                this.stop(&ns, &name).await;
            }
        })
    }
}
