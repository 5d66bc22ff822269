//! A plugin's Builder served in-process over [`MemBroker`] pipes, for fast protocol tests
//! without a process, a socket or yamux.
use std::sync::Arc;

use packer_rpc::api::Builder;
use packer_rpc::netrpc::{Client, Server};
use packer_rpc::service::{
    BoxStream, BuilderClient, BuilderServer, MemBroker, SpecEncoding, StreamBroker,
};

/// Per-stream in-flight buffer, the same as yamux's window.
pub const PIPE: usize = 256 << 10;

/// Serves `builder` as the plugin would and returns core's client for it.
pub async fn serve_builder(
    builder: Arc<dyn Builder>,
    encoding: SpecEncoding,
) -> Result<BuilderClient, String> {
    let (core, main) = serve_builder_raw(builder, encoding).await?;
    Ok(BuilderClient::new(Client::new(main), core))
}

/// Like [`serve_builder`] but hands back core's broker and the raw main stream.
pub async fn serve_builder_raw(
    builder: Arc<dyn Builder>,
    encoding: SpecEncoding,
) -> Result<(Arc<MemBroker>, BoxStream), String> {
    let (core, plugin) = MemBroker::pair(PIPE);
    let plugin_broker: Arc<dyn StreamBroker> = plugin;
    let server = Server::new();
    server.register(
        "Builder",
        Arc::new(BuilderServer::new(builder, plugin_broker.clone(), encoding)),
    );
    tokio::spawn(async move {
        if let Ok(s) = plugin_broker.accept(0).await {
            let _ = server.serve(s).await;
        }
    });
    let main = core.dial(0).await.map_err(|e| e.to_string())?;
    Ok((core, main))
}

/// Like [`serve_builder`], but over a real unix socket pair with yamux and the MuxBroker
/// underneath (plugin = yamux server, core = yamux client), exactly as in a plugin process.
pub async fn serve_builder_over_yamux(
    builder: Arc<dyn Builder>,
    encoding: SpecEncoding,
) -> Result<BuilderClient, String> {
    use packer_rpc::broker::Broker;
    use packer_rpc::mux::Session;
    let (core_io, plugin_io) =
        tokio::net::UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let plugin: Arc<dyn StreamBroker> = Broker::new(Session::server(plugin_io));
    let core_broker = Broker::new(Session::client(core_io));
    let server = Server::new();
    server.register(
        "Builder",
        Arc::new(BuilderServer::new(builder, plugin.clone(), encoding)),
    );
    tokio::spawn(async move {
        if let Ok(s) = plugin.accept(0).await {
            let _ = server.serve(s).await;
        }
    });
    let main = core_broker.dial(0).await.map_err(|e| e.to_string())?;
    Ok(BuilderClient::new(Client::new(main), core_broker))
}
