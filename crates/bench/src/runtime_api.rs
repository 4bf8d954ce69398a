//! A minimal Lambda Runtime API (the 2018-06-01 interface a Lambda runtime polls), so a function
//! binary can be started exactly as Lambda starts it and timed from the outside.
//!
//! `GET /2018-06-01/runtime/invocation/next` waits for an event queued with [`RuntimeApi::invoke`];
//! `POST .../invocation/{id}/response|error` completes it; `POST .../init/error` records an init
//! failure. Every arrival is time-stamped.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// The function's answer to one event.
#[derive(Debug, Clone)]
pub struct Answer {
    pub ok: bool,
    pub body: String,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    first_poll: Option<Instant>,
    init_error: Option<String>,
    next_id: u64,
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

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let queued = Arc::new(Notify::new());
        let (s, q) = (Arc::clone(&state), Arc::clone(&queued));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Small writes on a kept-alive connection would otherwise meet the client's
                // delayed ACK (40 ms per answer), as Lambda's own endpoint does not.
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

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the runtime first asked for an event (it is initialised).
    pub fn first_poll(&self) -> Option<Instant> {
        lock(&self.state).first_poll
    }

    pub fn init_error(&self) -> Option<String> {
        lock(&self.state).init_error.clone()
    }

    /// Queues an event and waits for the answer (up to `timeout`).
    pub async fn invoke(&self, event: &serde_json::Value, timeout: Duration) -> Option<Answer> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = lock(&self.state);
            state.next_id += 1;
            let id = format!("bench-{:08}", state.next_id);
            state.waiting.insert(id.clone(), tx);
            state.queue.push_back((id, event.to_string()));
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
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:bench\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n",
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
