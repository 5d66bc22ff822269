//! API throughput: 1,000 VirtualMachines created over HTTPS, then sustained GET, LIST and
//! watch-event throughput, and the process RSS (server and client share the process).
//!
//!     cargo bench -p supervisor-sim --bench api
//!
//! Environment: `SIM_BENCH_VMS` (default 1000), `SIM_BENCH_SECS` per phase (default 3).

use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use supervisor_sim::{RunOptions, Sim};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` from `concurrency` tasks for `secs`, prints the rate and returns the successes.
async fn sustained<F, Fut>(label: &str, secs: u64, concurrency: usize, f: F) -> u64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let f = Arc::new(f);
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (f, count, errors) = (f.clone(), count.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w as u64;
            while Instant::now() < end {
                if f(i).await {
                    count.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += concurrency as u64;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let n = count.load(Ordering::Relaxed);
    println!(
        "{label:<34} {:>10.0} req/s  ({n} in {secs}s, {concurrency} clients, {} errors)",
        n as f64 / secs as f64,
        errors.load(Ordering::Relaxed)
    );
    n
}

/// [`sustained`] GETs of `url(i)`, counting 2xx answers.
async fn sustained_get(
    label: &str,
    secs: u64,
    concurrency: usize,
    client: &reqwest::Client,
    token: &str,
    url: impl Fn(u64) -> String + Send + Sync + 'static,
) {
    let (client, token) = (client.clone(), token.to_string());
    sustained(label, secs, concurrency, move |i| {
        succeeded(client.get(url(i)).bearer_auth(&token))
    })
    .await;
}

/// Sends `request`; whether it got a 2xx answer.
async fn succeeded(request: reqwest::RequestBuilder) -> bool {
    request
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}

#[tokio::main]
async fn main() {
    let vms = env_num("SIM_BENCH_VMS", 1000);
    let secs = env_num("SIM_BENCH_SECS", 3);
    let rss0 = rss_mib();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim = Sim::start(
        RunOptions {
            controllers: false,
            ..Default::default()
        },
        listener,
    )
    .await
    .expect("start");
    let ca = reqwest::Certificate::from_pem(sim.tls.as_ref().expect("tls").ca_pem.as_bytes())
        .expect("ca");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .expect("client");
    let base = format!(
        "{}/apis/vmoperator.vmware.com/v1alpha3/namespaces/demo/virtualmachines",
        sim.url
    );
    let token = sim.auth.admin_token().to_string();
    println!("supervisor-sim API bench: {vms} VMs, {secs}s per phase, RSS at start {rss0:.1} MiB");

    let t0 = Instant::now();
    let created = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let (client, base, token, created) =
            (client.clone(), base.clone(), token.clone(), created.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < vms {
                let body = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine",
                    "metadata": {"name": format!("vm-{i:05}"), "labels": {"bench": "yes", "shard": (i % 10).to_string()}},
                    "spec": {"imageName": "ubuntu-24.04", "className": "best-effort-small", "storageClass": "wcpglobal-storage-profile",
                        "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": format!("vm-{i:05}"), "key": "user-data"}}}}});
                let ok = client.post(&base).bearer_auth(&token).header("content-type", "application/json").body(body.to_string()).send().await.map(|r| r.status().as_u16() == 201).unwrap_or(false);
                if ok {
                    created.fetch_add(1, Ordering::Relaxed);
                }
                i += 8;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let dt = t0.elapsed();
    println!(
        "{:<34} {:>10.0} req/s  ({} created in {:.2}s)",
        "create",
        created.load(Ordering::Relaxed) as f64 / dt.as_secs_f64(),
        created.load(Ordering::Relaxed),
        dt.as_secs_f64()
    );
    println!("RSS after create: {:.1} MiB", rss_mib());

    {
        let base = base.clone();
        sustained_get("get (one VM)", secs, 8, &client, &token, move |i| {
            format!("{base}/vm-{:05}", i % vms)
        })
        .await;
    }
    {
        let base = base.clone();
        sustained_get(
            "list (label shard=N, ~100 VMs)",
            secs,
            4,
            &client,
            &token,
            move |i| format!("{base}?labelSelector=shard%3D{}", i % 10),
        )
        .await;
    }
    {
        let base = base.clone();
        let label = format!("list (all {vms} VMs)");
        sustained_get(&label, secs, 2, &client, &token, move |_| base.clone()).await;
    }
    // watch: 4 watchers see every status patch, which 4 clients send over HTTPS as a controller
    // would; count the events delivered and the watchers the server closed for falling behind.
    let rv = sim.store.current_rv();
    let delivered = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let mut watchers = Vec::new();
    for _ in 0..4 {
        let (client, url, token, delivered, dropped) = (
            client.clone(),
            format!("{base}?watch=true&resourceVersion={rv}"),
            token.clone(),
            delivered.clone(),
            dropped.clone(),
        );
        watchers.push(tokio::spawn(async move {
            let Ok(mut resp) = client.get(url).bearer_auth(token).send().await else {
                return;
            };
            let mut line = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                for b in chunk.iter() {
                    if *b != b'\n' {
                        line.push(*b);
                        continue;
                    }
                    if line.starts_with(br#"{"type":"ERROR""#) {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    } else {
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    line.clear();
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let patches = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        sustained("status patch (4 watchers open)", secs, 4, move |i| {
            let body = json!({"status": {"powerState": "PoweredOn",
                "network": {"primaryIP4": format!("10.0.{}.{}", i / 250 % 250, i % 250)}}});
            let request = client
                .patch(format!("{base}/vm-{:05}/status", i % vms))
                .bearer_auth(&token)
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string());
            succeeded(request)
        })
        .await
    };
    let target = patches * 4;
    let wait_end = Instant::now() + Duration::from_secs(10);
    while delivered.load(Ordering::Relaxed) < target
        && dropped.load(Ordering::Relaxed) == 0
        && Instant::now() < wait_end
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>10.0} events/s  ({} of {target} delivered to 4 watchers in {dt:.2}s, {} watchers closed for falling behind)",
        "watch fan-out",
        delivered.load(Ordering::Relaxed) as f64 / dt,
        delivered.load(Ordering::Relaxed),
        dropped.load(Ordering::Relaxed),
    );
    println!(
        "RSS at end: {:.1} MiB (server and client in one process)",
        rss_mib()
    );
    for w in watchers {
        w.abort();
    }
    sim.stop().await;
}
