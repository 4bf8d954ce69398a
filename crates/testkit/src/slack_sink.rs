//! A real HTTP server on 127.0.0.1 that stands in for a Slack incoming webhook.
//!
//! It records every POST and answers what the test tells it to: `200 ok` by default, or a
//! scripted sequence of replies (429 with `Retry-After`, 500, 404 `no_service`, ...), as Slack
//! does. HTTP/1.1, one request per connection (`Connection: close`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::HarnessError;

/// What the sink answers to one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `200 ok`, as Slack answers a delivered message.
    Ok,
    /// `429` with `Retry-After: <secs>`.
    RateLimited { retry_after_secs: u64 },
    /// `500 internal_error`.
    ServerError,
    /// `404 no_service` (the webhook or its channel was deleted).
    NotFound,
    /// Anything else.
    Status { code: u16, body: String },
}

impl Reply {
    fn status(&self) -> u16 {
        match self {
            Reply::Ok => 200,
            Reply::RateLimited { .. } => 429,
            Reply::ServerError => 500,
            Reply::NotFound => 404,
            Reply::Status { code, .. } => *code,
        }
    }

    fn to_http(&self) -> String {
        let (reason, body, extra) = match self {
            Reply::Ok => ("OK", "ok".to_owned(), String::new()),
            Reply::RateLimited { retry_after_secs } => (
                "Too Many Requests",
                "rate_limited".to_owned(),
                format!("Retry-After: {retry_after_secs}\r\n"),
            ),
            Reply::ServerError => (
                "Internal Server Error",
                "internal_error".to_owned(),
                String::new(),
            ),
            Reply::NotFound => ("Not Found", "no_service".to_owned(), String::new()),
            Reply::Status { body, .. } => ("Status", body.clone(), String::new()),
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            self.status(),
            body.len()
        )
    }
}

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub body: String,
    /// The status the sink answered.
    pub answered: u16,
    pub at: Instant,
}

impl Received {
    /// The body as JSON (Slack payloads are JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Reply>,
    fallback: Option<Reply>,
    received: Vec<Received>,
}

/// The running sink. Stops when dropped.
#[derive(Debug)]
pub struct SlackSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for SlackSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SlackSink {
    /// Starts on 127.0.0.1 and a free port, inside the current tokio runtime.
    pub async fn start() -> Result<SlackSink, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| HarnessError::Setup(format!("Slack sink cannot bind: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::Setup(format!("Slack sink address: {e}")))?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(SlackSink { addr, state, task })
    }

    /// The webhook URL (shaped like Slack's).
    pub fn url(&self) -> String {
        format!("http://{}/services/T0PHOENIX/B0OPS/sandbox", self.addr)
    }

    /// Answers the next POSTs with these replies, in order, then with the fallback.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state).script.extend(replies);
    }

    /// Answers every POST not covered by `reply_next` with this reply (default `Ok`).
    pub fn always(&self, reply: Reply) {
        lock(&self.state).fallback = Some(reply);
    }

    /// Every request received so far, whatever the answer.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// The requests answered `200`: the messages Slack would show.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered == 200)
            .collect()
    }

    /// Waits until at least `count` requests were received, up to `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= until {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Forgets what was received (the scripted replies stay).
    pub fn clear(&self) {
        lock(&self.state).received.clear();
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(pos) = find(&buffer, b"\r\n\r\n") {
            break pos + 4;
        }
        if buffer.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut content_type = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                content_length = value.trim().parse().unwrap_or(0);
            } else if name == "content-type" {
                content_type = Some(value.trim().to_owned());
            }
        }
    }
    while buffer.len() < header_end + content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body_end = buffer.len().min(header_end + content_length);
    let body = String::from_utf8_lossy(&buffer[header_end..body_end]).to_string();
    let reply = {
        let mut state = lock(&state);
        let reply = state
            .script
            .pop_front()
            .or_else(|| state.fallback.clone())
            .unwrap_or(Reply::Ok);
        state.received.push(Received {
            method,
            path,
            content_type,
            body,
            answered: reply.status(),
            at: Instant::now(),
        });
        reply
    };
    stream.write_all(reply.to_http().as_bytes()).await?;
    stream.shutdown().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
