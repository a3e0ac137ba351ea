//! The HTTP side of `--metrics`: hyper on a small tokio runtime of its own
//! thread, bounded so that a local client can neither grow the tracer nor
//! stop the endpoint:
//!
//! - a request line and headers of at most [`MAX_HEAD_BYTES`] (hyper's
//!   smallest read buffer) and 100 headers, else 431;
//! - at most [`MAX_CONNECTIONS`] connections at once, each a task on the one
//!   thread (never a thread per connection). Past the cap, the oldest
//!   connection whose socket was read dry before its request was whole is
//!   closed to make room, so idle or slow clients cannot lock a scraper
//!   out; when there is none (every slot is being answered), the newcomer
//!   gets a 503 and is closed;
//! - one request per connection, its head read within [`HEAD_TIMEOUT`] and
//!   the whole exchange over within [`CONNECTION_TIMEOUT`];
//! - accepts that fail for want of file descriptors or memory pause the
//!   loop, never end it; a server that fails anyway (or panics) is started
//!   again after a pause, with a warning.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    io,
    net::{SocketAddr, TcpListener},
    os::fd::AsRawFd as _,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        atomic::{
            AtomicBool,
            Ordering::{Relaxed, SeqCst},
        },
        Arc, Mutex, MutexGuard,
    },
    task::{Context, Poll},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    body::Incoming,
    header::{self, HeaderValue},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpStream,
    sync::{oneshot, Notify, OwnedSemaphorePermit, Semaphore},
};

/// The request line and headers together (hyper's smallest buffer).
pub const MAX_HEAD_BYTES: usize = 8 << 10;
/// Connections served at once: a scraper or two, with room to spare.
pub const MAX_CONNECTIONS: usize = 16;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Prometheus's own default scrape timeout.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long accepts pause when the process is out of descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Restarts of a failed server back off from the first to the last.
const RESTART_PAUSE: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(60)];

/// What `GET /metrics` answers: a body of `content_type`, or none when it
/// could not be made (answered 500).
pub struct Page {
    pub content_type: &'static str,
    pub render: Box<dyn Fn() -> Option<String> + Send + Sync>,
}

/// The listening socket, bound before any BPF is loaded.
pub struct Listener(TcpListener);

impl Listener {
    /// Listens at `addr` (port 0: any free port, said on stderr), so a port
    /// in use fails at once.
    pub fn bind(addr: SocketAddr) -> Result<Listener> {
        let listener = TcpListener::bind(addr)
            .with_context(|| format!("--metrics {addr}: cannot listen there"))?;
        let local = listener
            .local_addr()
            .with_context(|| format!("--metrics {addr}: the bound address"))?;
        deepen_backlog(&listener);
        crate::say!("tracer: Prometheus metrics at http://{local}/metrics");
        Ok(Listener(listener))
    }

    /// Serves `page` on a thread of its own until stopped.
    pub fn serve(self, page: Page) -> Serving {
        let stop = Arc::new(Stop::default());
        let thread = {
            let stop = stop.clone();
            thread::Builder::new()
                .name("tracer-metrics".into())
                .spawn(move || {
                    let page = Arc::new(page);
                    supervise(&stop, || run(&self.0, &page, &stop));
                })
        };
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                crate::say!("tracer: warning: metrics are not served: starting a thread: {e}");
                None
            }
        };
        Serving { stop, thread }
    }
}

/// std listens with a backlog of 128: past it, a burst of connections has
/// the kernel drop a scraper's SYN, retried only a second later. Raised to
/// the system's cap (`net.core.somaxconn`); if that fails, 128 it stays.
fn deepen_backlog(listener: &TcpListener) {
    // SAFETY: listen(2) again on the socket this listener owns only
    // changes its backlog.
    unsafe { libc::listen(listener.as_raw_fd(), 4096) };
}

/// The serving thread; dropped, it is stopped and joined, so the process
/// exits promptly (also when the session fails). Open connections are
/// closed.
pub struct Serving {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Serving {
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.request();
            let _ = t.join();
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asked from the session's thread, seen by the serving one (awaiting a
/// connection, or pausing between restarts).
#[derive(Default)]
struct Stop {
    asked: AtomicBool,
    wake: Notify,
}

impl Stop {
    fn request(&self) {
        self.asked.store(true, SeqCst);
        self.wake.notify_waiters();
    }

    fn asked(&self) -> bool {
        self.asked.load(SeqCst)
    }

    /// Sleeps `d` unless asked to stop first; whether it was.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while !self.asked() && Instant::now() < until {
            thread::sleep(Duration::from_millis(50));
        }
        self.asked()
    }
}

/// Runs the server (`life`) until stopped, starting it again whenever it
/// fails or panics.
fn supervise(stop: &Stop, mut life: impl FnMut() -> Result<()>) {
    let mut pause = RESTART_PAUSE[0];
    loop {
        let began = Instant::now();
        let ended = std::panic::catch_unwind(AssertUnwindSafe(&mut life));
        if stop.asked() {
            return;
        }
        let why = match ended {
            Ok(Ok(())) => "it stopped".to_string(),
            Ok(Err(e)) => format!("{e:#}"),
            Err(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into()),
        };
        // A server that ran a good while failed afresh: no long pause.
        if began.elapsed() > RESTART_PAUSE[1] {
            pause = RESTART_PAUSE[0];
        }
        crate::say!(
            "tracer: warning: the metrics endpoint failed ({why}); restarting it in {} s",
            pause.as_secs()
        );
        if stop.pause(pause) {
            return;
        }
        pause = (pause * 2).min(RESTART_PAUSE[1]);
    }
}

/// One life of the server: a runtime of its own over a copy of the
/// listening socket (dropped at the end, closing every connection).
fn run(listener: &TcpListener, page: &Arc<Page>, stop: &Stop) -> Result<()> {
    let listener = listener
        .try_clone()
        .context("copying the listening socket")?;
    listener
        .set_nonblocking(true)
        .context("making the listening socket non-blocking")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("starting its runtime")?;
    runtime.block_on(accept(listener, page.clone(), stop))
}

/// Accepts connections until asked to stop.
async fn accept(listener: TcpListener, page: Arc<Page>, stop: &Stop) -> Result<()> {
    let listener =
        tokio::net::TcpListener::from_std(listener).context("registering the listening socket")?;
    let stopped = stop.wake.notified();
    tokio::pin!(stopped);
    // Registered before the flag is read: a stop asked in between wakes it.
    stopped.as_mut().enable();
    if stop.asked() {
        return Ok(());
    }
    let slots = Arc::new(Slots::new());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(false)
        .title_case_headers(true);
    let mut warned: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut stopped => return Ok(()),
            a = listener.accept() => a,
        };
        match accepted {
            Ok((socket, _)) => admit(socket, &slots, &http, &page).await,
            Err(e) if short_of_resources(&e) => {
                // Said at most once a minute: a flood must not flood stderr.
                if warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    crate::say!(
                        "tracer: warning: metrics: cannot accept a connection ({e}); pausing \
                         accepts"
                    );
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut stopped => return Ok(()),
                    () = tokio::time::sleep(ACCEPT_PAUSE) => {}
                }
            }
            // The client gave up before we took it: its own business.
            Err(e) if gone_before_accepted(&e) => {}
            Err(e) => return Err(e).context("accepting connections"),
        }
    }
}

/// Out of descriptors or memory: accepting again at once would spin.
fn short_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Errors of one pending connection, not of the listener (accept(2)).
fn gone_before_accepted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::ECONNRESET
                | libc::EINTR
                | libc::EPROTO
                | libc::EPERM
                | libc::ETIMEDOUT
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::ENETDOWN
                | libc::ENONET
                | libc::EOPNOTSUPP
                | libc::EAGAIN
        )
    )
}

/// Takes a connection on if a slot is free or can be freed; else answers
/// 503 and closes it.
async fn admit(socket: TcpStream, slots: &Arc<Slots>, http: &http1::Builder, page: &Arc<Page>) {
    let mut permit = slots.free.clone().try_acquire_owned().ok();
    if permit.is_none() {
        let mut evicted = slots.evict_idle();
        if !evicted {
            // Connections accepted in this burst, not yet read: let them
            // run once, and see.
            tokio::task::yield_now().await;
            evicted = slots.evict_idle();
        }
        if evicted {
            // The evicted task gives its slot back as soon as it runs.
            permit =
                tokio::time::timeout(Duration::from_secs(1), slots.free.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok);
        }
    }
    let Some(permit) = permit else {
        // A fixed answer, written only if the socket takes it at once.
        let _ = socket.try_write(BUSY);
        return;
    };
    let (id, idle, evicted) = slots.waiting();
    let socket = Watched {
        io: TokioIo::new(socket),
        idle,
    };
    tokio::spawn(connection(
        socket,
        http.clone(),
        page.clone(),
        slots.clone(),
        id,
        evicted,
        permit,
    ));
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: \
                      close\r\nRetry-After: 1\r\n\r\n";

/// One connection, until answered, timed out or evicted; its slot is given
/// back when it ends.
async fn connection(
    socket: Watched,
    http: http1::Builder,
    page: Arc<Page>,
    slots: Arc<Slots>,
    id: u64,
    evicted: oneshot::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    let service = {
        let slots = slots.clone();
        service_fn(move |request: Request<Incoming>| {
            // Its request is in: no longer a candidate for eviction.
            slots.answered(id);
            let response = answer(&request, &page);
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let served = http.serve_connection(socket, service);
    let evicted = async {
        // A dropped sender (the request came in) never evicts.
        if evicted.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    // Errors (a client gone, a head too large: answered by hyper itself)
    // are the client's business.
    tokio::select! {
        _ = tokio::time::timeout(CONNECTION_TIMEOUT, served) => {}
        () = evicted => {}
    }
    slots.answered(id);
}

/// The connection slots, and the connections still waiting for their
/// request, oldest first.
struct Slots {
    free: Arc<Semaphore>,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    next: u64,
    /// Whether its socket was read dry, and what evicts it.
    by_age: BTreeMap<u64, (Arc<AtomicBool>, oneshot::Sender<()>)>,
}

impl Slots {
    fn new() -> Slots {
        Slots {
            free: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            waiting: Mutex::new(Waiting::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection waiting for its request: its number, what its
    /// socket marks when read dry, and what says it is evicted.
    fn waiting(&self) -> (u64, Arc<AtomicBool>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let idle = Arc::new(AtomicBool::new(false));
        let mut w = self.lock();
        let id = w.next;
        w.next += 1;
        w.by_age.insert(id, (idle.clone(), tx));
        (id, idle, rx)
    }

    /// The connection's request came in (or it ended).
    fn answered(&self, id: u64) {
        self.lock().by_age.remove(&id);
    }

    /// Evicts the oldest connection read dry before its request was whole
    /// (a client that sends its request at once never is); whether one was.
    fn evict_idle(&self) -> bool {
        let mut w = self.lock();
        let Some(id) = w
            .by_age
            .iter()
            .find_map(|(id, (idle, _))| idle.load(Relaxed).then_some(*id))
        else {
            return false;
        };
        if let Some((_, evict)) = w.by_age.remove(&id) {
            let _ = evict.send(());
        }
        true
    }
}

/// `GET`/`HEAD /metrics`; 404 elsewhere, 405 for other methods.
fn answer(request: &Request<Incoming>, page: &Page) -> Response<Full<Bytes>> {
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    match (get, request.uri().path()) {
        (true, "/metrics") => match (page.render)() {
            Some(body) => {
                let mut r = response(StatusCode::OK, body);
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(page.content_type),
                );
                r
            }
            None => response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding failed\n".into(),
            ),
        },
        (true, _) => response(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n".into(),
        ),
        (false, _) => {
            let mut r = response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n".into(),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
    }
}

fn response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

/// A connection's socket, marking it evictable when a read finds nothing
/// (hyper reads only while the request is not whole).
struct Watched {
    io: TokioIo<TcpStream>,
    idle: Arc<AtomicBool>,
}

impl hyper::rt::Read for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if read.is_pending() {
            self.idle.store(true, Relaxed);
        }
        read
    }
}

impl hyper::rt::Write for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Read as _, Write as _},
        net::TcpStream,
        sync::atomic::AtomicUsize,
    };

    use super::*;

    /// A server on a free loopback port serving `render`.
    fn start(render: impl Fn() -> Option<String> + Send + Sync + 'static) -> (SocketAddr, Serving) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = Listener(listener).serve(Page {
            content_type: "text/plain; version=0.0.4",
            render: Box::new(render),
        });
        (addr, serving)
    }

    /// Writes `head` (as much as the server takes), then reads the answer's
    /// status line.
    fn status_of(addr: SocketAddr, head: &[u8]) -> Option<String> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        for chunk in head.chunks(64 << 10) {
            if s.write_all(chunk).is_err() {
                break;
            }
        }
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let raw = String::from_utf8_lossy(&raw).into_owned();
        raw.lines().next().map(str::to_string)
    }

    fn get(addr: SocketAddr) -> Option<String> {
        status_of(
            addr,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    }

    #[test]
    fn oversized_heads_are_answered_431() {
        let (addr, _serving) = start(|| Some("up 1\n".into()));
        let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(4 << 20, b'a');
        assert_eq!(
            status_of(addr, &big).as_deref(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        let line = format!("GET /metrics?{} HTTP/1.1\r\n\r\n", "a".repeat(64 << 10));
        assert_eq!(
            status_of(addr, line.as_bytes()).as_deref(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        let many: String = (0..200).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET /metrics HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            status_of(addr, many.as_bytes()).as_deref(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        assert_eq!(get(addr).as_deref(), Some("HTTP/1.1 200 OK"));
    }

    #[test]
    fn idle_connections_past_the_cap_are_closed_and_scrapes_still_work() {
        let (addr, _serving) = start(|| Some("up 1\n".into()));
        let mut idle: Vec<TcpStream> = (0..200)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        // Half a request from some: slow clients are idle too.
        for s in idle.iter_mut().step_by(3) {
            s.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
        }
        for _ in 0..5 {
            assert_eq!(get(addr).as_deref(), Some("HTTP/1.1 200 OK"));
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            idle.retain_mut(|s| {
                s.set_nonblocking(true).unwrap();
                let mut b = [0u8; 64];
                matches!(s.read(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            });
            if idle.len() <= MAX_CONNECTIONS || Instant::now() > deadline {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        assert!(idle.len() <= MAX_CONNECTIONS, "{} still open", idle.len());
    }

    #[test]
    fn a_panicking_page_does_not_stop_the_endpoint() {
        let calls = AtomicUsize::new(0);
        let (addr, mut serving) = start(move || {
            if calls.fetch_add(1, SeqCst) == 0 {
                panic!("the first page panics");
            }
            Some("up 1\n".into())
        });
        assert_eq!(get(addr), None, "the panicking request gets no answer");
        assert_eq!(get(addr).as_deref(), Some("HTTP/1.1 200 OK"));
        let stopping = Instant::now();
        serving.stop();
        assert!(stopping.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_failed_or_panicking_server_is_started_again_until_stopped() {
        let stop = Arc::new(Stop::default());
        let lives = Arc::new(AtomicUsize::new(0));
        let began = Instant::now();
        let supervisor = {
            let (stop, lives) = (stop.clone(), lives.clone());
            thread::spawn(move || {
                supervise(&stop, || match lives.fetch_add(1, SeqCst) {
                    0 => anyhow::bail!("accepting connections: Invalid argument"),
                    1 => panic!("a bug"),
                    // Serves until stopped.
                    _ => {
                        while !stop.asked() {
                            thread::sleep(Duration::from_millis(10));
                        }
                        Ok(())
                    }
                })
            })
        };
        // Restarted after 1 s, then after 2 s.
        while lives.load(SeqCst) < 3 {
            assert!(began.elapsed() < Duration::from_secs(10), "not restarted");
            thread::sleep(Duration::from_millis(20));
        }
        assert!(began.elapsed() >= Duration::from_secs(3));
        stop.request();
        supervisor.join().unwrap();
        assert_eq!(lives.load(SeqCst), 3);

        // A stop asked while it pauses between lives ends it at once.
        let stop = Arc::new(Stop::default());
        let supervisor = {
            let stop = stop.clone();
            thread::spawn(move || supervise(&stop, || anyhow::bail!("broken")))
        };
        thread::sleep(Duration::from_millis(200));
        let stopping = Instant::now();
        stop.request();
        supervisor.join().unwrap();
        assert!(stopping.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn other_paths_and_methods() {
        let (addr, _serving) = start(|| Some("up 1\n".into()));
        assert_eq!(
            status_of(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").as_deref(),
            Some("HTTP/1.1 404 Not Found")
        );
        assert_eq!(
            status_of(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").as_deref(),
            Some("HTTP/1.1 405 Method Not Allowed")
        );
        let (failing, _serving) = start(|| None);
        assert_eq!(
            get(failing).as_deref(),
            Some("HTTP/1.1 500 Internal Server Error")
        );
    }
}
