//! The one HTTPS stack of every function: hyper 1 + hyper-util's client + hyper-rustls on *ring*,
//! **HTTP/1.1 only**. The AWS SDK gets it as its HTTP client ([`sdk_http_client`]), and the
//! alarm-notifier's Slack webhook uses the same connector ([`https_connector`]).
//!
//! Why not the SDK's own `aws-smithy-http-client`: it always links hyper's HTTP/2 (h2), which
//! none of the AWS APIs these functions call needs, and h2 is one of the largest parts of a
//! function's binary (README › Performance). Everything else is what that client does: native
//! TLS roots, a connection pool, the connect timeout the SDK asks for; the SDK's own retry and
//! timeout layers sit above this and classify its errors.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;

/// How long an idle pooled connection is kept. A Lambda container is frozen between
/// invocations; a connection the other end closed meanwhile fails on reuse, and the SDK retries
/// it as a connection error, so this only bounds how often that happens.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// HTTPS (and plain HTTP, for a local endpoint) over HTTP/1.1, with the system's TLS roots.
/// `connect_timeout` bounds the TCP connect.
pub fn https_connector(
    connect_timeout: Option<Duration>,
) -> Result<HttpsConnector<TcpConnector>, String> {
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(https)
}

/// The SDK's HTTP client (see the module's documentation).
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(Http1Client::default())
}

/// The SDK asks for a connector for every operation it sends: one connector (one connection
/// pool, the TLS roots loaded once) is kept per connect timeout, as the SDK's own client does.
#[derive(Debug, Default)]
struct Http1Client {
    connectors: std::sync::Mutex<Vec<(Option<Duration>, SharedHttpConnector)>>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeout = settings.connect_timeout();
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeout) {
            return connector.clone();
        }
        let client = https_connector(timeout).map(|https| {
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(POOL_IDLE)
                .build::<_, SdkBody>(https)
        });
        let connector = SharedHttpConnector::new(Http1Connector { client });
        connectors.push((timeout, connector.clone()));
        connector
    }
}

#[derive(Debug)]
struct Http1Connector {
    /// `Err`: the TLS roots could not be loaded (every call then fails with that reason).
    client: Result<Client<HttpsConnector<TcpConnector>, SdkBody>, String>,
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match &self.client {
            Ok(client) => client.clone(),
            Err(reason) => {
                let reason = reason.clone();
                return HttpConnectorFuture::ready(Err(ConnectorError::other(reason.into(), None)));
            }
        };
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(Box::new(e)))?;
            // a connection that could not be made or broke off: an I/O failure the SDK retries
            let response = client
                .request(request)
                .await
                .map_err(|e| ConnectorError::io(Box::new(e)))?;
            let response = response.map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(Box::new(e), None))
        })
    }
}
