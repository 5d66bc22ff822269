//! Creating an object of a fixed name so that the request may be retried: a retry after a
//! lost answer meets 409 AlreadyExists, and reading the object tells whether it is ours (it
//! carries this build's id label) or someone else's.
use std::fmt::Debug;

use ::kube::api::{Api, PostParams};
use ::kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use super::retry::{read, retry, Backoff, RetryError, REQUEST_DEADLINE};

/// Creates `obj` (which has a fixed name and the label `label` = `build_id`), retrying
/// connection errors, 5xx and 429 for up to [`REQUEST_DEADLINE`]. A 409 for an object that
/// carries our label is success; one for anybody else's object is returned as the 409.
pub async fn create_owned<K>(
    api: &Api<K>,
    obj: &K,
    label: &str,
    build_id: &str,
) -> Result<(), ::kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let what = format!("creating {name}");
    let pp = PostParams::default();
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let created = retry(&what, deadline, None, Backoff::requests(), || {
        api.create(&pp, obj)
    })
    .await;
    let conflict = match created {
        Ok(_) => return Ok(()),
        // Only a retried create can meet its own object; a first-try 409 is someone else's.
        Err(RetryError::Api { source, attempts }) if source.code() == Some(409) && attempts > 1 => {
            source.0
        }
        Err(e) => return Err(e.into_kube()),
    };
    let existing = read(&format!("reading {name}"), || api.get_opt(&name)).await?;
    let ours = existing
        .as_ref()
        .and_then(|o| o.labels().get(label))
        .is_some_and(|id| id == build_id);
    if ours {
        tracing::debug!("{what}: 409 on a retry, and the object is this build's");
        Ok(())
    } else {
        Err(conflict)
    }
}
