//! The controllers' store as a mirror of a remote API server.
//!
//! The controllers keep working on a local [`Store`], exactly as under `serve`; this module
//! keeps that store and the remote server in step:
//! - **inbound**: one kube-rs watcher per kind (it relists after a 410 and backs off while the
//!   server is down) brings every remote object into the store with [`Store::mirror_put`];
//! - **outbound**: a watch on the local store notices what the controllers wrote, and the
//!   difference to the last copy both sides agreed on (`synced`) goes to the remote server as
//!   merge patches (main resource and `/status` apart), creates and deletes.
//!
//! A remote change that arrives while a local change is still on its way is merged under it
//! (the local difference is applied on top of the new remote copy), so neither side's writes
//! are lost. One task does all of this in order, so the two directions never race.

use super::diff::{comparable, deleting, merge_diff, split_status, without_deletion};
use crate::api::patch::merge_patch;
use crate::catalog::{Gr, ResourceInfo};
use crate::controllers::Key;
use crate::store::Store;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a refused write to the remote server waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// While the server is away: pause between tries of one write, and how many in a row (about
/// a minute) before the write goes to the back of the queue.
const TRANSIENT_PAUSE: Duration = Duration::from_millis(250);
const TRANSIENT_ATTEMPTS: usize = 240;

/// One mirrored kind.
struct Kind {
    info: ResourceInfo,
    ar: ApiResource,
}

enum Msg {
    /// What the remote watcher saw.
    Remote(usize, Box<Event<DynamicObject>>),
    /// The local copy of `key` may have changed (at local resourceVersion `u64`; 0 for a retry).
    Local(usize, Key, u64),
    /// The local watch lost events: compare every object of the kind.
    Resync(usize),
}

/// Per object: the copy both sides agreed on last, and the remote resourceVersion it had.
struct Entry {
    synced: Value,
    remote_rv: Option<u64>,
}

/// The running mirror.
pub(crate) struct Mirror {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Mirror {
    /// Starts mirroring `kinds` of the store; returns once every kind was listed once (or
    /// `initial_timeout` passed, naming the kinds that were not).
    pub(crate) async fn start(
        client: Client,
        store: Store,
        kinds: Vec<ResourceInfo>,
        initial_timeout: Duration,
    ) -> Result<Mirror, String> {
        let kinds: Vec<Kind> = kinds.into_iter().map(Kind::new).collect();
        let stop = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, mut ready_rx) = watch::channel(HashSet::<usize>::new());
        let mut tasks = JoinSet::new();
        for (i, k) in kinds.iter().enumerate() {
            tasks.spawn(remote_watch(
                client.clone(),
                i,
                k.ar.clone(),
                tx.clone(),
                stop.clone(),
            ));
            tasks.spawn(local_watch(
                store.clone(),
                i,
                k.info.gr.clone(),
                tx.clone(),
                stop.clone(),
            ));
        }
        let n = kinds.len();
        let names: Vec<String> = kinds
            .iter()
            .map(|k| format!("{}.{}", k.ar.plural, k.ar.api_version))
            .collect();
        let sync = Sync {
            client,
            store,
            kinds,
            entries: HashMap::new(),
            listing: HashMap::new(),
            ready: ready_tx,
            retry: tx,
            stop: stop.clone(),
        };
        tasks.spawn(sync.run(rx));
        let waited = tokio::time::timeout(initial_timeout, ready_rx.wait_for(|r| r.len() == n))
            .await
            .is_ok();
        if !waited {
            let done = ready_rx.borrow().clone();
            stop.cancel();
            let missing: Vec<&str> = (0..n)
                .filter(|i| !done.contains(i))
                .map(|i| names[i].as_str())
                .collect();
            return Err(format!(
                "the API server did not list {} within {initial_timeout:?} (are the CRDs installed? without --no-crds they are applied)",
                missing.join(", ")
            ));
        }
        Ok(Mirror { stop, tasks })
    }

    /// Stops mirroring (local changes not yet written are dropped).
    pub(crate) async fn stop(mut self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

impl Kind {
    fn new(info: ResourceInfo) -> Kind {
        let ar = super::api_resource(&info);
        Kind { info, ar }
    }
}

async fn remote_watch(
    client: Client,
    i: usize,
    ar: ApiResource,
    tx: mpsc::UnboundedSender<Msg>,
    stop: CancellationToken,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    loop {
        let ev = tokio::select! {
            _ = stop.cancelled() => return,
            ev = events.next() => ev,
        };
        match ev {
            Some(Ok(ev)) => {
                if tx.send(Msg::Remote(i, Box::new(ev))).is_err() {
                    return;
                }
            }
            // The backoff restarts the watch; say why it stopped.
            Some(Err(e)) => {
                tracing::info!(kind = %ar.kind, error = %e, "remote watch interrupted; retrying")
            }
            None => return,
        }
    }
}

async fn local_watch(
    store: Store,
    i: usize,
    gr: Gr,
    tx: mpsc::UnboundedSender<Msg>,
    stop: CancellationToken,
) {
    loop {
        let mut w = match store.watch(&gr, None, Some(store.current_rv())) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(resource = %gr, error = %e, "local watch failed");
                return;
            }
        };
        loop {
            let ev = tokio::select! {
                _ = stop.cancelled() => return,
                ev = w.next() => ev,
            };
            match ev {
                Some(Ok(ev)) => {
                    let _ = tx.send(Msg::Local(i, crate::controllers::key_of(&ev.object), ev.rv));
                }
                Some(Err(_)) => {
                    let _ = tx.send(Msg::Resync(i));
                    break;
                }
                None => return,
            }
        }
    }
}

struct Sync {
    client: Client,
    store: Store,
    kinds: Vec<Kind>,
    entries: HashMap<(usize, Key), Entry>,
    /// Keys seen since the last `Init` of a kind (a relist in progress).
    listing: HashMap<usize, HashSet<Key>>,
    ready: watch::Sender<HashSet<usize>>,
    retry: mpsc::UnboundedSender<Msg>,
    stop: CancellationToken,
}

fn remote_rv(obj: &Value) -> Option<u64> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

impl Sync {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        loop {
            let first = tokio::select! {
                _ = self.stop.cancelled() => return,
                m = rx.recv() => match m { Some(m) => m, None => return },
            };
            for msg in Self::in_write_order(first, &mut rx) {
                match msg {
                    Msg::Remote(i, ev) => self.on_remote(i, *ev),
                    Msg::Local(i, key, _) => self.push_or_retry(i, key).await,
                    Msg::Resync(i) => {
                        for key in self.keys_of(i) {
                            self.push_or_retry(i, key).await;
                        }
                    }
                }
            }
        }
    }

    /// `first` and whatever else is waiting, local changes in the order the store made them
    /// (each kind's watch is its own task, so their messages may interleave differently).
    fn in_write_order(first: Msg, rx: &mut mpsc::UnboundedReceiver<Msg>) -> Vec<Msg> {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        batch.sort_by_key(|m| match m {
            Msg::Local(_, _, rv) => *rv,
            _ => 0,
        });
        batch
    }

    fn on_remote(&mut self, i: usize, ev: Event<DynamicObject>) {
        match ev {
            Event::Apply(o) => self.absorb(i, self.to_value(i, o)),
            Event::Delete(o) => {
                let v = self.to_value(i, o);
                self.forget(i, crate::controllers::key_of(&v));
            }
            Event::Init => {
                self.listing.insert(i, HashSet::new());
            }
            Event::InitApply(o) => {
                let v = self.to_value(i, o);
                self.listing
                    .entry(i)
                    .or_default()
                    .insert(crate::controllers::key_of(&v));
                self.absorb(i, v);
            }
            Event::InitDone => self.end_listing(i),
        }
    }

    /// After a relist: what the server no longer has is gone.
    fn end_listing(&mut self, i: usize) {
        let seen = self.listing.remove(&i).unwrap_or_default();
        let gone: Vec<Key> = self
            .entries
            .keys()
            .filter(|(k, key)| *k == i && !seen.contains(key))
            .map(|(_, key)| key.clone())
            .collect();
        for key in gone {
            self.forget(i, key);
        }
        self.ready.send_modify(|r| {
            r.insert(i);
        });
    }

    fn to_value(&self, i: usize, o: DynamicObject) -> Value {
        let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
        v["apiVersion"] = json!(self.kinds[i].ar.api_version);
        v["kind"] = json!(self.kinds[i].ar.kind);
        v
    }

    fn keys_of(&self, i: usize) -> Vec<Key> {
        let gr = &self.kinds[i].info.gr;
        let mut keys: HashSet<Key> = self
            .entries
            .keys()
            .filter(|(k, _)| *k == i)
            .map(|(_, key)| key.clone())
            .collect();
        if let Ok((items, _)) = self.store.list_arc(gr, None, &Default::default()) {
            keys.extend(items.iter().map(|o| crate::controllers::key_of(o.as_ref())));
        }
        keys.into_iter().collect()
    }

    fn local(&self, i: usize, key: &Key) -> Option<Value> {
        self.store
            .get(&self.kinds[i].info.gr, key.0.as_deref(), &key.1)
            .ok()
    }

    /// Takes a remote copy in: the local copy becomes the remote one, with any local change
    /// that was not yet written laid on top (and then written).
    fn absorb(&mut self, i: usize, remote: Value) {
        let key = crate::controllers::key_of(&remote);
        let rv = remote_rv(&remote);
        let entry_key = (i, key.clone());
        if let (Some(e), Some(rv)) = (self.entries.get(&entry_key), rv) {
            if e.remote_rv.is_some_and(|seen| seen >= rv) {
                return;
            }
        }
        let local = self.local(i, &key);
        let pending = match (&local, self.entries.get(&entry_key)) {
            (Some(l), Some(e)) => merge_diff(&e.synced, &comparable(l)),
            (None, Some(_)) => {
                // Deleted here, not yet there: the push deletes it remotely.
                if let Some(e) = self.entries.get_mut(&entry_key) {
                    e.remote_rv = rv;
                    e.synced = comparable(&remote);
                }
                let _ = self.retry.send(Msg::Local(i, key, 0));
                return;
            }
            _ => None,
        };
        let mut next = remote.clone();
        if let Some(d) = &pending {
            merge_patch(&mut next, d);
        }
        if let Err(e) = self.store.mirror_put(&self.kinds[i].info.gr, next) {
            tracing::warn!(kind = %self.kinds[i].info.kind, name = %key.1, error = %e, "mirroring failed");
            return;
        }
        self.entries.insert(
            entry_key,
            Entry {
                synced: comparable(&remote),
                remote_rv: rv,
            },
        );
        if pending.is_some() {
            let _ = self.retry.send(Msg::Local(i, key, 0));
        }
    }

    fn forget(&mut self, i: usize, key: Key) {
        self.entries.remove(&(i, key.clone()));
        let _ = self
            .store
            .mirror_remove(&self.kinds[i].info.gr, key.0.as_deref(), &key.1);
    }

    /// Pushes `key`. While the server is unreachable (or answers 5xx/429) the same push is
    /// tried again in place, holding the others back, so the cluster sees the controllers'
    /// writes in the order they made them (an image before the publish request that names
    /// it); a refusal is logged and tried again later without holding anything.
    async fn push_or_retry(&mut self, i: usize, key: Key) {
        for _ in 0..TRANSIENT_ATTEMPTS {
            let err = match self.push(i, &key).await {
                Ok(()) => return,
                Err(e) => e,
            };
            let transient = match &err {
                kube::Error::Api(s) => s.code >= 500 || s.code == 429,
                _ => true,
            };
            tracing::warn!(kind = %self.kinds[i].info.kind, name = %key.1, error = %err, "writing to the API server failed; retrying");
            if !transient {
                break;
            }
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(TRANSIENT_PAUSE) => {}
            }
        }
        let tx = self.retry.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(RETRY_AFTER) => { let _ = tx.send(Msg::Local(i, key, 0)); }
            }
        });
    }

    /// Writes what changed locally since the last agreed copy to the remote server.
    async fn push(&mut self, i: usize, key: &Key) -> Result<(), kube::Error> {
        let local = self.local(i, key).map(|l| comparable(&l));
        let synced = self
            .entries
            .get(&(i, key.clone()))
            .map(|e| e.synced.clone());
        let written = match (local, synced) {
            (None, None) => return Ok(()),
            (Some(l), None) => self.create(i, key, &l).await?.map(|r| (r, l)),
            (None, Some(s)) => {
                self.remove(i, key, &s).await?;
                self.entries.remove(&(i, key.clone()));
                None
            }
            (Some(l), Some(s)) if l == s => None,
            (Some(l), Some(s)) => match self.update(i, key, &s, &l).await? {
                Some(r) => Some((r, l)),
                None => {
                    // Only a DELETE went out (or the object is gone there).
                    if let Some(e) = self.entries.get_mut(&(i, key.clone())) {
                        e.synced = l;
                    }
                    None
                }
            },
        };
        if let Some((remote, pushed)) = written {
            let key = (i, key.clone());
            let rv = remote_rv(&remote);
            let prev = self.entries.insert(
                key.clone(),
                Entry {
                    synced: pushed,
                    remote_rv: None,
                },
            );
            let seen = prev.and_then(|p| p.remote_rv);
            self.absorb(i, remote);
            if let Some(e) = self.entries.get_mut(&key) {
                e.remote_rv = e.remote_rv.max(rv).max(seen);
            }
        }
        Ok(())
    }

    fn api(&self, i: usize, ns: Option<&str>) -> Api<DynamicObject> {
        let k = &self.kinds[i];
        match ns {
            Some(ns) if k.info.namespaced => Api::namespaced_with(self.client.clone(), ns, &k.ar),
            _ => Api::all_with(self.client.clone(), &k.ar),
        }
    }

    /// Creates the object there; None when it exists there already (its copy comes by the
    /// watch and wins).
    async fn create(
        &self,
        i: usize,
        key: &Key,
        local: &Value,
    ) -> Result<Option<Value>, kube::Error> {
        let api = self.api(i, key.0.as_deref());
        let body = without_deletion(local);
        let obj: DynamicObject =
            serde_json::from_value(body.clone()).map_err(kube::Error::SerdeError)?;
        let mut created = match api.create(&PostParams::default(), &obj).await {
            Ok(o) => serde_json::to_value(o).map_err(kube::Error::SerdeError)?,
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(None),
            Err(e) => return Err(e),
        };
        if self.kinds[i].info.has_status {
            if let Some(status) = body.get("status").filter(|s| !s.is_null()) {
                let patched = api
                    .patch_status(
                        &key.1,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": status})),
                    )
                    .await?;
                created = serde_json::to_value(patched).map_err(kube::Error::SerdeError)?;
            }
        }
        Ok(Some(created))
    }

    async fn remove(&self, i: usize, key: &Key, synced: &Value) -> Result<(), kube::Error> {
        let api = self.api(i, key.0.as_deref());
        let finalizers = synced
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let res = if deleting(synced) && finalizers {
            // The controllers finished the deletion here by removing the finalizers.
            let patch = json!({"metadata": {"finalizers": null}});
            api.patch(&key.1, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map(|_| ())
        } else {
            api.delete(&key.1, &DeleteParams::default())
                .await
                .map(|_| ())
        };
        match res {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            other => other,
        }
    }

    /// Patches the main resource and the status with what changed; a deletion started here is
    /// a DELETE there. Returns the remote copy after the last write (None: nothing written).
    async fn update(
        &self,
        i: usize,
        key: &Key,
        synced: &Value,
        local: &Value,
    ) -> Result<Option<Value>, kube::Error> {
        let api = self.api(i, key.0.as_deref());
        let has_status = self.kinds[i].info.has_status;
        let (s_main, s_status) = split_status(&without_deletion(synced));
        let (l_main, l_status) = split_status(&without_deletion(local));
        let mut last = None;
        let main_diff = if has_status {
            merge_diff(&s_main, &l_main)
        } else {
            merge_diff(&without_deletion(synced), &without_deletion(local))
        };
        let result = async {
            if let Some(d) = main_diff {
                last = Some(
                    api.patch(&key.1, &PatchParams::default(), &Patch::Merge(d))
                        .await?,
                );
            }
            if has_status {
                if let Some(d) = merge_diff(&s_status, &l_status) {
                    let patch = json!({"status": d});
                    last = Some(
                        api.patch_status(&key.1, &PatchParams::default(), &Patch::Merge(patch))
                            .await?,
                    );
                }
            }
            if deleting(local) && !deleting(synced) {
                api.delete(&key.1, &DeleteParams::default()).await?;
            }
            Ok::<_, kube::Error>(())
        }
        .await;
        match result {
            // Gone there: its deletion comes by the watch.
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e),
            Ok(()) => last
                .map(|o| serde_json::to_value(o).map_err(kube::Error::SerdeError))
                .transpose(),
        }
    }
}
