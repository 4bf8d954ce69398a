//! A minimal local Lambda Runtime API (the 2018-06-01 interface a Lambda runtime polls), so a
//! function's real binary can be run exactly as Lambda runs it: the binary's `lambda_runtime`
//! asks `GET /2018-06-01/runtime/invocation/next` for an event, answers with
//! `POST …/invocation/{request id}/response` or `…/error`, and reports a failed start with
//! `POST …/runtime/init/error`.
//!
//! A test queues an event under a request id of its choice ([`RuntimeApi::invoke`]) and gets the
//! function's answer back; every answer and the runtime's first poll are time-stamped, so the
//! benchmark (`crates/bench`) times cold starts and invocations from the outside with the same
//! API. HTTP/1.1 with keep-alive, one request at a time per connection, which is all the runtime
//! client needs.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// The function's answer to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub request_id: String,
    /// `true` for `/response`, `false` for `/error`.
    pub ok: bool,
    pub body: String,
    /// When the answer arrived.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    init_error: Option<String>,
    first_poll: Option<Instant>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running API. Dropping it stops accepting connections.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let queued = Arc::new(Notify::new());
        let (s, q) = (Arc::clone(&state), Arc::clone(&queued));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // small writes on a kept-alive connection would otherwise meet the client's
                // delayed ACK (40 ms an answer), which Lambda's own endpoint does not show
                let _ = stream.set_nodelay(true);
                let (s, q) = (Arc::clone(&s), Arc::clone(&q));
                tokio::spawn(async move {
                    let _ = serve(stream, s, q).await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            state,
            queued,
            task,
        })
    }

    /// `host:port`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the runtime first asked for an event (it is initialised).
    pub fn first_poll(&self) -> Option<Instant> {
        lock(&self.state).first_poll
    }

    /// What the runtime reported when it could not start, if it did.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.state).init_error.clone()
    }

    /// Queues `event` under `request_id` and waits for the answer (up to `timeout`).
    pub async fn invoke(
        &self,
        request_id: &str,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> Option<Answer> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = lock(&self.state);
            state.waiting.insert(request_id.to_owned(), tx);
            state
                .queue
                .push_back((request_id.to_owned(), event.to_string()));
        }
        self.queued.notify_one();
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }
}

async fn serve(
    stream: TcpStream,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let Some((method, path, body)) = read_request(&mut stream).await? else {
            return Ok(());
        };
        let now = Instant::now();
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            lock(&state).first_poll.get_or_insert(now);
            let (id, event) = loop {
                if let Some(item) = lock(&state).queue.pop_front() {
                    break item;
                }
                queued.notified().await;
            };
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:local\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                 Content-Length: {}\r\n\r\n",
                event.len()
            );
            stream.get_mut().write_all(head.as_bytes()).await?;
            stream.get_mut().write_all(event.as_bytes()).await?;
            continue;
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            [_, "runtime", "invocation", id, verdict] => {
                if let Some(tx) = lock(&state).waiting.remove(*id) {
                    let _ = tx.send(Answer {
                        request_id: (*id).to_owned(),
                        ok: *verdict == "response",
                        body,
                        at: now,
                    });
                }
            }
            [_, "runtime", "init", "error"] => lock(&state).init_error = Some(body),
            _ => {}
        }
        stream
            .get_mut()
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
            .await?;
    }
}

/// One HTTP/1.1 request (keep-alive aware): method, path, body.
async fn read_request(
    stream: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<(String, String, String)>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut first = line.trim_end().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header).await? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(Some((
        method,
        path,
        String::from_utf8_lossy(&body).to_string(),
    )))
}
