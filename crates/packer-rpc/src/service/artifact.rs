//! `Artifact`: served by the builder under the id `Builder.Run` returns; core queries it
//! repeatedly until it kills the plugin.
use std::sync::Arc;

use async_trait::async_trait;
use packer_wire::msgpack::Value;

use crate::api::{error_chain, Artifact};
use crate::netrpc::{CallError, CallResult, Client, RpcError, Service};
use crate::val;

/// Serves an [`Artifact`] as the `Artifact` service.
pub struct ArtifactServer {
    artifact: Arc<dyn Artifact>,
}

impl ArtifactServer {
    pub fn new(artifact: Arc<dyn Artifact>) -> Self {
        ArtifactServer { artifact }
    }
}

#[async_trait]
impl Service for ArtifactServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        Ok(match method {
            "BuilderId" => val::str(self.artifact.builder_id()),
            "Files" => val::str_list(&self.artifact.files()),
            "Id" => val::str(self.artifact.id()),
            "String" => val::str(self.artifact.string()),
            "State" => {
                let name = val::as_string(&args).ok_or_else(|| {
                    CallError::bad_args(
                        "Artifact.State",
                        format!("expected a string, got {}", val::kind(&args)),
                    )
                })?;
                self.artifact.state(&name)
            }
            // The error travels in the reply (a BasicError), not as an RPC error.
            "Destroy" => match self.artifact.destroy().await {
                Ok(()) => Value::Nil,
                Err(e) => val::map([("Message", val::str(error_chain(e.as_ref())))]),
            },
            _ => return Err(CallError::UnknownMethod),
        })
    }
}

/// Queries an artifact served by a plugin (used by the harness that plays core).
#[derive(Clone)]
pub struct ArtifactClient {
    client: Client,
}

fn want_string(method: &str, v: Value) -> Result<String, RpcError> {
    val::as_string(&v).ok_or_else(|| {
        RpcError::bad_reply(method, format!("expected a string, got {}", val::kind(&v)))
    })
}

impl ArtifactClient {
    pub fn new(client: Client) -> Self {
        ArtifactClient { client }
    }

    pub async fn builder_id(&self) -> Result<String, RpcError> {
        want_string(
            "Artifact.BuilderId",
            self.client.call("Artifact.BuilderId", &Value::Nil).await?,
        )
    }
    pub async fn id(&self) -> Result<String, RpcError> {
        want_string(
            "Artifact.Id",
            self.client.call("Artifact.Id", &Value::Nil).await?,
        )
    }
    pub async fn string(&self) -> Result<String, RpcError> {
        want_string(
            "Artifact.String",
            self.client.call("Artifact.String", &Value::Nil).await?,
        )
    }
    pub async fn files(&self) -> Result<Vec<String>, RpcError> {
        let v = self.client.call("Artifact.Files", &Value::Nil).await?;
        val::as_string_list(&v)
            .ok_or_else(|| RpcError::bad_reply("Artifact.Files", "expected a list of strings"))
    }
    pub async fn state(&self, name: &str) -> Result<Value, RpcError> {
        self.client.call("Artifact.State", &val::str(name)).await
    }
    /// `Ok(Some(msg))` when the artifact reported a destroy error.
    pub async fn destroy(&self) -> Result<Option<String>, RpcError> {
        let v = self.client.call("Artifact.Destroy", &Value::Nil).await?;
        Ok(match &v {
            Value::Nil => None,
            other => Some(val::field_string(other, "Message").unwrap_or_default()),
        })
    }
}
