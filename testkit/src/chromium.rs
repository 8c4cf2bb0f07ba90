//! A small client for Debian's `chromium`, driven headless over the DevTools protocol (CDP).
//!
//! [`Browser::launch`] starts a fresh Chromium with its own temporary profile and opens one
//! page ([`Browser::page`]). Commands for the page travel over the single browser WebSocket as
//! a flat session (`Target.attachToTarget {flatten: true}`); cookie commands are browser-level
//! (`Storage.*`). Every test gets its own browser, profile and port, so tests run in parallel.
//!
//! This is a test helper: failures panic with a message naming the CDP method, and every
//! wait is bounded.
//!
//! ```no_run
//! # async fn demo() {
//! let Some(browser) = testkit::chromium::Browser::launch(&[]).await else { return };
//! browser.page().navigate("data:text/plain,hello").await;
//! assert_eq!(browser.page().body_text().await, "hello");
//! # }
//! ```
//!
//! # Panics
//!
//! Methods panic when Chromium answers a command with an error, when the connection closes,
//! or when a wait exceeds its bound ([`COMMAND_TIMEOUT`], [`LOAD_TIMEOUT`],
//! [`LAUNCH_TIMEOUT`]).

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::{ChildGuard, require_program};

/// How long [`Browser::launch`] waits for Chromium to announce its DevTools port.
pub const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a single CDP command may take to be answered.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Page::navigate`] waits for the `load` event.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The flags every browser is started with, before the profile, port and caller's flags.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-port=0",
];

/// A headless Chromium with a temporary profile and one open page.
///
/// Dropping it closes the connection, kills the process (by pid) and removes the profile.
pub struct Browser {
    // Fields drop in order: connection, page, process, then the directory it used.
    conn: Connection,
    page: Page,
    // In a mutex only to make `Browser` `Sync` (the guard's stdout receiver is not).
    child: Mutex<ChildGuard>,
    dir: TempDir,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.lock().map(|c| c.id()).ok())
            .field("dir", &self.dir.0)
            .field("page", &self.page)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts `chromium` headless with a fresh profile plus `extra_args`, connects to it and
    /// opens a blank page.
    ///
    /// Returns `None` (after printing `SKIPPED: chromium not installed`) when `chromium` is
    /// not on `PATH`; see [`require_program`].
    ///
    /// # Panics
    ///
    /// When `chromium` is absent and `TOOLKIT_REQUIRE_SERVICES=1`, when it cannot be started,
    /// exits early or does not write its `DevToolsActivePort` within [`LAUNCH_TIMEOUT`] (the
    /// message includes Chromium's stderr), or when the page cannot be created.
    pub async fn launch(extra_args: &[&str]) -> Option<Self> {
        let program = require_program("chromium")?;
        let dir = TempDir::new();
        let profile = dir.0.join("profile");
        let stderr_path = dir.0.join("stderr.log");
        std::fs::create_dir(&profile).expect("create the Chromium profile directory");
        let stderr = File::create(&stderr_path).expect("create Chromium's stderr log");

        let mut command = Command::new(program);
        command
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra_args)
            .arg("about:blank");
        let mut child =
            ChildGuard::spawn_with_stderr(command, Stdio::from(stderr)).expect("start chromium");

        let ws_url = wait_for_devtools(&mut child, &profile, &stderr_path).await;
        let conn = match timeout(COMMAND_TIMEOUT, Connection::open(&ws_url)).await {
            Ok(conn) => conn,
            Err(_) => panic!(
                "connecting to {ws_url} timed out\nchromium stderr:\n{}",
                read_lossy(&stderr_path)
            ),
        };
        let page = Page::open(&conn).await;
        Some(Self {
            conn,
            page,
            child: Mutex::new(child),
            dir,
        })
    }

    /// The page opened by [`launch`](Self::launch).
    pub fn page(&self) -> &Page {
        &self.page
    }

    /// Opens another page (a new tab) in the same browser, sharing its cookies.
    ///
    /// # Panics
    ///
    /// As [`call`](Self::call).
    pub async fn new_page(&self) -> Page {
        Page::open(&self.conn).await
    }

    /// Sends a browser-level CDP command (no session) and returns its `result`.
    ///
    /// # Panics
    ///
    /// When Chromium answers with an error (the message names `method`), when the connection
    /// closes, or after [`COMMAND_TIMEOUT`].
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`call`](Self::call), but returns Chromium's error answer instead of panicking.
    ///
    /// # Errors
    ///
    /// When Chromium answers the command with an error.
    ///
    /// # Panics
    ///
    /// When the connection closes, or after [`COMMAND_TIMEOUT`].
    pub async fn try_call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.conn.call(None, method, params).await
    }

    /// Every cookie in the browser (`Storage.getCookies`), in the order Chromium lists them.
    ///
    /// # Panics
    ///
    /// As [`call`](Self::call), or when the reply does not parse.
    pub async fn cookies(&self) -> Vec<Cookie> {
        let result = self.call("Storage.getCookies", json!({})).await;
        let raw: Vec<RawCookie> = serde_json::from_value(result["cookies"].clone())
            .unwrap_or_else(|e| panic!("Storage.getCookies: unexpected reply {result}: {e}"));
        raw.into_iter().map(Cookie::from).collect()
    }

    /// Stores `cookie` (`Storage.setCookies`).
    ///
    /// A host-only cookie is set for `http://{domain}{path}` (`https` when secure), so Chromium
    /// derives the host-only domain itself. Otherwise the domain is passed with a leading `.`
    /// (added when missing): Chromium stores a CDP `domain` without the dot as host-only.
    /// An empty `path` means `/`.
    ///
    /// # Panics
    ///
    /// As [`call`](Self::call); Chromium rejects invalid cookies with an error.
    pub async fn set_cookie(&self, cookie: &Cookie) {
        let path = if cookie.path.is_empty() {
            "/"
        } else {
            &cookie.path
        };
        let mut param = json!({
            "name": cookie.name,
            "value": cookie.value,
            "path": path,
            "secure": cookie.secure,
            "httpOnly": cookie.http_only,
        });
        if cookie.host_only {
            let scheme = if cookie.secure { "https" } else { "http" };
            param["url"] = json!(format!("{scheme}://{}{path}", cookie.domain));
        } else {
            param["domain"] = json!(format!(".{}", cookie.domain.trim_start_matches('.')));
        }
        self.call("Storage.setCookies", json!({ "cookies": [param] }))
            .await;
    }

    /// Deletes every cookie (`Storage.clearCookies`).
    ///
    /// # Panics
    ///
    /// As [`call`](Self::call).
    pub async fn clear_cookies(&self) {
        self.call("Storage.clearCookies", json!({})).await;
    }

    /// The temporary directory holding the profile (`profile/`) and Chromium's stderr
    /// (`stderr.log`); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

/// One page (tab), driven through its own flat CDP session.
pub struct Page {
    conn: Connection,
    target_id: String,
    session_id: String,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("target_id", &self.target_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl Page {
    async fn open(conn: &Connection) -> Self {
        let created = conn
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let target_id = str_field(&created, "targetId", "Target.createTarget");
        let attached = conn
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let session_id = str_field(&attached, "sessionId", "Target.attachToTarget");
        let page = Self {
            conn: conn.clone(),
            target_id,
            session_id,
        };
        page.call("Page.enable", json!({})).await;
        page
    }

    /// The CDP target id of this page.
    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    /// Sends a CDP command in this page's session and returns its `result`.
    ///
    /// # Panics
    ///
    /// When Chromium answers with an error (the message names `method`), when the connection
    /// closes, or after [`COMMAND_TIMEOUT`].
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`call`](Self::call), but returns Chromium's error answer instead of panicking.
    ///
    /// # Errors
    ///
    /// When Chromium answers the command with an error.
    ///
    /// # Panics
    ///
    /// When the connection closes, or after [`COMMAND_TIMEOUT`].
    pub async fn try_call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.conn.call(Some(&self.session_id), method, params).await
    }

    /// Navigates to `url` and waits for the `load` event (`Page.loadEventFired`).
    ///
    /// Returns the `Page.navigate` result (`frameId`, `loaderId`). A navigation that only
    /// changes the fragment fires no `load` event and so times out.
    ///
    /// # Panics
    ///
    /// When the navigation fails (`errorText`, e.g. `net::ERR_CONNECTION_REFUSED`), as
    /// [`call`](Self::call), or when no `load` event arrives within [`LOAD_TIMEOUT`].
    pub async fn navigate(&self, url: &str) -> Value {
        // Subscribe before navigating so the event cannot slip past.
        let mut events = self.conn.inner.events.subscribe();
        let result = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = result.get("errorText").and_then(Value::as_str) {
            panic!("Page.navigate to {url} failed: {error}");
        }
        let deadline = Instant::now() + LOAD_TIMEOUT;
        loop {
            let event = match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => panic!("no Page.loadEventFired for {url} within {LOAD_TIMEOUT:?}"),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    panic!("CDP connection closed while loading {url}")
                }
                Ok(Ok(event)) => event,
            };
            if event.method == "Page.loadEventFired"
                && event.session_id.as_deref() == Some(self.session_id.as_str())
            {
                return result;
            }
        }
    }

    /// Evaluates the JavaScript `expr` in the page (`Runtime.evaluate`, awaiting promises)
    /// and returns its value as JSON (`null` for `undefined`).
    ///
    /// # Panics
    ///
    /// When the expression throws, or as [`call`](Self::call).
    pub async fn evaluate(&self, expr: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("exception");
            panic!("Runtime.evaluate({expr}) threw: {text}");
        }
        result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The page's visible text, `document.body.innerText`.
    ///
    /// # Panics
    ///
    /// As [`evaluate`](Self::evaluate), or when the page has no body.
    pub async fn body_text(&self) -> String {
        match self.evaluate("document.body.innerText").await {
            Value::String(text) => text,
            other => panic!("document.body.innerText is not a string: {other}"),
        }
    }
}

/// A cookie as Chromium stores it (from `Storage.getCookies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookie {
    /// The cookie name.
    pub name: String,
    /// The cookie value.
    pub value: String,
    /// The domain: `.base.localhost` for a Domain cookie, `shop1.base.localhost` for a
    /// host-only one.
    pub domain: String,
    /// The path.
    pub path: String,
    /// Whether it has the `Secure` attribute.
    pub secure: bool,
    /// Whether it has the `HttpOnly` attribute.
    pub http_only: bool,
    /// Whether it is host-only (set without a Domain attribute), derived from `domain` not
    /// starting with `.`.
    pub host_only: bool,
    /// Whether it is a session cookie (no `Expires`/`Max-Age`).
    pub session: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCookie {
    name: String,
    value: String,
    domain: String,
    path: String,
    #[serde(default)]
    secure: bool,
    #[serde(default)]
    http_only: bool,
    #[serde(default)]
    session: bool,
}

impl From<RawCookie> for Cookie {
    fn from(raw: RawCookie) -> Self {
        Self {
            host_only: !raw.domain.starts_with('.'),
            name: raw.name,
            value: raw.value,
            domain: raw.domain,
            path: raw.path,
            secure: raw.secure,
            http_only: raw.http_only,
            session: raw.session,
        }
    }
}

/// Chromium's error answer to a CDP command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CdpError {
    /// The command, e.g. `Page.navigate`.
    pub method: String,
    /// The JSON-RPC error code, e.g. `-32601` for an unknown method.
    pub code: i64,
    /// Chromium's message.
    pub message: String,
}

impl fmt::Display for CdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CDP {} failed: {} (code {})",
            self.method, self.message, self.code
        )
    }
}

impl std::error::Error for CdpError {}

/// A CDP event: its `method` and the session it came from.
#[derive(Clone, Debug)]
struct Event {
    method: String,
    session_id: Option<String>,
}

type Reply = Result<Value, Value>;

/// The browser WebSocket, shared by the browser and its pages.
#[derive(Clone)]
struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    events: broadcast::Sender<Event>,
    outgoing: mpsc::UnboundedSender<String>,
}

impl Connection {
    /// Connects to `url` and spawns the task that pumps the socket; it ends when the socket
    /// closes or every handle to the connection is gone.
    async fn open(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect to the DevTools WebSocket {url}: {e}"));
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<String>();
        let inner = Arc::new(Inner {
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            events: broadcast::channel(1024).0,
            outgoing,
        });
        // The task holds only a weak handle, so dropping the browser ends it.
        let weak = Arc::downgrade(&inner);
        let (mut sink, mut stream) = socket.split();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    text = to_send.recv() => {
                        let Some(text) = text else { break };
                        if sink.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    frame = stream.next() => {
                        let Some(Ok(frame)) = frame else { break };
                        let Some(inner) = weak.upgrade() else { break };
                        if let Message::Text(text) = frame {
                            inner.dispatch(text.as_str());
                        }
                    }
                }
            }
            // Refuse new commands first, then wake every waiting caller by dropping their
            // reply senders.
            drop(to_send);
            if let Some(inner) = weak.upgrade() {
                inner.pending.lock().expect("pending lock").clear();
            }
        });
        Self { inner }
    }

    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.inner
            .pending
            .lock()
            .expect("pending lock")
            .insert(id, tx);
        if self.inner.outgoing.send(message.to_string()).is_err() {
            panic!("CDP {method}: the connection is closed");
        }
        match timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => Err(CdpError {
                method: method.to_owned(),
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"]
                    .as_str()
                    .map_or_else(|| error.to_string(), str::to_owned),
            }),
            Ok(Err(_)) => panic!("CDP {method}: the connection closed before the reply"),
            Err(_) => {
                self.inner.pending.lock().expect("pending lock").remove(&id);
                panic!("CDP {method}: no reply within {COMMAND_TIMEOUT:?}")
            }
        }
    }
}

impl Inner {
    fn dispatch(&self, text: &str) {
        let Ok(mut message) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            let reply = match message.get_mut("error") {
                Some(error) => Err(error.take()),
                None => Ok(message.get_mut("result").map_or(Value::Null, Value::take)),
            };
            let waiter = self.pending.lock().expect("pending lock").remove(&id);
            if let Some(waiter) = waiter {
                let _ = waiter.send(reply);
            }
        } else if let Some(method) = message.get("method").and_then(Value::as_str) {
            let event = Event {
                method: method.to_owned(),
                session_id: message
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            // No subscriber is fine: nobody is waiting for events right now.
            let _ = self.events.send(event);
        }
    }
}

/// Polls `profile/DevToolsActivePort` until it names a port and a browser path; returns the
/// browser WebSocket URL.
async fn wait_for_devtools(child: &mut ChildGuard, profile: &Path, stderr: &Path) -> String {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(Ok(port)), Some(path)) = (
                lines.next().map(|l| l.trim().parse::<u16>()),
                lines.next().map(str::trim),
            ) && path.starts_with('/')
            {
                return format!("ws://127.0.0.1:{port}{path}");
            }
        }
        if !child.is_running() {
            panic!(
                "chromium exited before writing {}\nchromium stderr:\n{}",
                file.display(),
                read_lossy(stderr)
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "chromium did not write {} within {LAUNCH_TIMEOUT:?}\nchromium stderr:\n{}",
                file.display(),
                read_lossy(stderr)
            );
        }
        sleep(Duration::from_millis(50)).await;
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

fn str_field(value: &Value, field: &str, method: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("CDP {method}: no {field} in {value}"))
        .to_owned()
}

/// A uniquely named directory under [`std::env::temp_dir`], removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "testkit-chromium-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Chromium's helper processes may still be writing for a moment after the kill.
        for _ in 0..20 {
            match std::fs::remove_dir_all(&self.0) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return,
            }
        }
    }
}
