//! A local HTTP endpoint in front of the emulator, for the processes that reach it through
//! `AWS_ENDPOINT_URL` instead of the test kit's wrapped SDK configuration: the benchmark's cold
//! starts (real function binaries), `phoenix-ops invoke` against a sandbox, `cargo lambda` runs.
//! It applies the same test-only CloudWatch translation as the wrapper (the current SDK speaks
//! RPC-v2 CBOR, moto serves JSON 1.0: [`crate::cloudwatch_cbor`]) and records every call
//! ([`CallLog`]); everything else passes through unchanged. Bound to `127.0.0.1:0`, one task per
//! connection, stopped when dropped.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::HarnessError;
use crate::calls::{Call, CallLog, identify, is_read_only};
use crate::cloudwatch_cbor;
use crate::emulator::{ACCOUNT_HEADER, DEFAULT_ACCOUNT};

/// The proxy: its URL for `AWS_ENDPOINT_URL`, and the calls it forwarded.
#[derive(Debug)]
pub struct EmulatorProxy {
    url: String,
    calls: CallLog,
    task: JoinHandle<()>,
}

impl Drop for EmulatorProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EmulatorProxy {
    /// Starts a proxy to the emulator at `emulator_url` (`http://127.0.0.1:PORT`).
    pub async fn start(emulator_url: &str) -> Result<EmulatorProxy, HarnessError> {
        let upstream = emulator_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| HarnessError::Setup(format!("emulator proxy: cannot bind: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| HarnessError::Setup(format!("emulator proxy: {e}")))?;
        let calls = CallLog::default();
        let recorder = calls.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let calls = recorder.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let upstream = upstream.clone();
                        let calls = calls.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                handle(&upstream, &calls, request).await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(EmulatorProxy {
            url: format!("http://{address}"),
            calls,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`: what to set as `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every call forwarded so far.
    pub fn calls(&self) -> &CallLog {
        &self.calls
    }
}

type Answer = hyper::Response<Full<Bytes>>;

fn answer(status: u16, headers: &HeaderMap, body: Vec<u8>) -> Answer {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

fn text(status: u16, message: &str) -> Answer {
    answer(status, &HeaderMap::new(), message.as_bytes().to_vec())
}

async fn handle(upstream: &str, calls: &CallLog, request: hyper::Request<Incoming>) -> Answer {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(e) => return text(400, &format!("emulator proxy: reading the request: {e}")),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), ToString::to_string);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (service, operation) =
        identify(parts.method.as_str(), &path_and_query, &header, Some(&body));
    calls.record(Call {
        account: header(ACCOUNT_HEADER).unwrap_or_else(|| DEFAULT_ACCOUNT.to_owned()),
        mutating: !is_read_only(&service, &operation),
        service,
        operation,
    });

    let mut headers = parts.headers.clone();
    let cbor =
        cloudwatch_cbor::cbor_operation(parts.uri.path(), header("smithy-protocol").as_deref());
    let (path, body) = match &cbor {
        Some(operation) => {
            let json = match cloudwatch_cbor::request_to_json(
                &body,
                header("content-encoding").as_deref() == Some("gzip"),
            ) {
                Ok(json) => json,
                Err(e) => {
                    let translated =
                        cloudwatch_cbor::answer_to_cbor(operation, 400, None, e.as_bytes());
                    return cbor_answer(translated, None);
                }
            };
            for name in ["smithy-protocol", "content-encoding", "x-amzn-query-mode"] {
                headers.remove(name);
            }
            let target = format!("{}{operation}", cloudwatch_cbor::TARGET_PREFIX);
            let mut set = |name: &'static str, value: &str| {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            };
            set("content-type", "application/x-amz-json-1.0");
            set("accept", "application/json");
            set("x-amz-target", &target);
            ("/".to_owned(), json)
        }
        None => (path_and_query, body),
    };
    headers.remove("content-length");
    headers.remove("transfer-encoding");

    let forwarded = forward(upstream, parts.method, &path, headers, body).await;
    let (status, headers, body) = match forwarded {
        Ok(answer) => answer,
        Err(e) => {
            return text(
                502,
                &format!("emulator proxy: the emulator at {upstream}: {e}"),
            );
        }
    };
    match cbor {
        Some(operation) => {
            let query_error = headers
                .get("x-amzn-query-error")
                .and_then(|v| v.to_str().ok());
            let translated =
                cloudwatch_cbor::answer_to_cbor(&operation, status, query_error, &body);
            cbor_answer(translated, headers.get("x-amzn-requestid"))
        }
        None => answer(status, &headers, body),
    }
}

fn cbor_answer(
    translated: cloudwatch_cbor::CborAnswer,
    request_id: Option<&HeaderValue>,
) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    headers.insert("content-type", HeaderValue::from_static("application/cbor"));
    if let Some(value) = translated
        .query_error
        .as_deref()
        .and_then(|q| HeaderValue::from_str(q).ok())
    {
        headers.insert("x-amzn-query-error", value);
    }
    if let Some(id) = request_id {
        headers.insert("x-amzn-requestid", id.clone());
    }
    answer(translated.status, &headers, translated.body)
}

/// Sends one request to the emulator over a fresh HTTP/1 connection.
pub(crate) async fn forward(
    upstream: &str,
    method: hyper::Method,
    path: &str,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<(u16, HeaderMap, Vec<u8>), String> {
    let stream = tokio::net::TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let mut request = hyper::Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = method;
    *request.uri_mut() = path.parse().map_err(|e| format!("{path}: {e}"))?;
    *request.headers_mut() = headers;
    if !request.headers().contains_key("host")
        && let Ok(host) = HeaderValue::from_str(upstream)
    {
        request.headers_mut().insert("host", host);
    }
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    driver.abort();
    Ok((status, headers, body))
}
