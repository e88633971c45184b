//! A local demo web site for the crawler lesson: a real HTTP server on `127.0.0.1` (a free port), serving a
//! generated site of linked pages, with a latency per response, some dead links (404), some slow pages and some
//! links to other hosts. It runs on background threads and stops when dropped, so a crawler and its tests run
//! offline and give the same site every time.
//!
//! | Python | here |
//! |---|---|
//! | `ThreadingHTTPServer(("127.0.0.1", 0), Handler)` | [`Site::builder`]`()….start()` (port 0: the OS picks a free port) |
//! | `threading.Thread(target=server.serve_forever).start()` | done by `start`: handler threads serve the requests |
//! | `server.server_address` | [`Site::url`], [`Site::start_url`], [`Site::addr`] |
//! | `server.shutdown(); server.server_close()` | drop the [`Site`] (or call [`Site::shutdown`]) |
//!
//! The server is [tiny_http]: a small, well-kept HTTP/1.1 server. A pool of handler threads (32 by default,
//! [`SiteBuilder::handlers`]) takes the parsed requests from it; each waits for the configured latency and
//! answers. The waits of concurrent requests overlap, as they do on a real server, so a crawler with 8 threads
//! really gets 8 pages per latency period — the effect the lesson measures.
//!
//! **The site.** Page 0 is the start page, at `/`; page `i` is at `/page/i`. Every page links to the start page
//! (`/`), to itself (`#top`), and to [`links_per_page`](SiteBuilder::links_per_page) other pages, written in the
//! three ways real sites do: root-relative (`/page/7`), relative (`7`, resolved against the page's own URL) and
//! absolute (`http://127.0.0.1:PORT/page/7`). A crawler must resolve them against the page's URL to see that they
//! name the same page. Every page can be reached from the start page. On top of that:
//! - [`broken_links(n)`](SiteBuilder::broken_links): `n` links to `/missing/k`, which answer 404;
//! - [`external_links(n)`](SiteBuilder::external_links): `n` links to another host, `http://other.invalid` by
//!   default (the `.invalid` domain never resolves), or a second `Site` ([`SiteBuilder::external_base`]) whose
//!   request counter proves that nobody followed them;
//! - [`slow_pages(n, delay)`](SiteBuilder::slow_pages): `n` pages (never the start page) that answer after `delay`
//!   instead of the latency, for per-request timeouts.
//!
//! Which page links where is generated from a [`seed`](SiteBuilder::seed): the same settings give the same site.
//! The site knows its own shape — [`Site::depth_of`], [`Site::pages_within`], [`Site::broken_urls`],
//! [`Site::external_urls`], [`Site::slow_urls`] — so tests can compare a crawl with the truth, and it counts the
//! requests it served, per path ([`Site::request_counts`], [`Site::repeated_requests`]) and at most at once
//! ([`Site::max_concurrent`]).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use support::site::Site;
//!
//! let site = Site::builder()
//!     .pages(10)
//!     .links_per_page(3)
//!     .broken_links(2)
//!     .latency(Duration::from_millis(5))
//!     .start()
//!     .unwrap();
//! assert!(site.start_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(site.page_urls().len(), 10);
//! assert_eq!(site.broken_urls().len(), 2);
//!
//! // Any HTTP client works; here a bare HTTP/1.0 request over a socket.
//! let mut conn = std::net::TcpStream::connect(site.addr()).unwrap();
//! conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
//! conn.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
//! let mut response = String::new();
//! conn.read_to_string(&mut response).unwrap();
//! assert_eq!(response.split(' ').nth(1), Some("200")); // "HTTP/1.0 200 OK"
//! assert!(response.contains("<title>Page 0</title>"));
//! assert_eq!(site.requests_for("/"), 1);
//! drop(site); // stops the server and joins its threads
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// Where links to other hosts point unless [`SiteBuilder::external_base`] says otherwise. The `.invalid` top-level
/// domain is reserved (RFC 2606): it never resolves, so a crawler that follows such a link gets an error, not
/// somebody else's site.
pub const DEFAULT_EXTERNAL_BASE: &str = "http://other.invalid";

/// Why a site could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteError {
    /// `pages(0)`: a site needs at least its start page.
    NoPages,
    /// `links_per_page(0)` with more than one page: the other pages could not be reached.
    NoLinks {
        /// The number of pages asked for.
        pages: usize,
    },
    /// More slow pages than pages other than the start page.
    TooManySlowPages {
        /// Slow pages asked for.
        slow: usize,
        /// Pages of the site (the start page is never slow).
        pages: usize,
    },
    /// `handlers(0)`: nobody would answer a request.
    NoHandlers,
    /// The base URL for links to other hosts is not an `http://` or `https://` URL.
    BadExternalBase(String),
    /// The server could not listen on 127.0.0.1.
    Bind(String),
    /// The operating system refused to start a handler thread.
    Spawn(String),
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteError::NoPages => write!(f, "a site needs at least 1 page (got pages(0))"),
            SiteError::NoLinks { pages } => write!(
                f,
                "links_per_page must be at least 1 when the site has more than one page \
                 (got 0 for {pages} pages: only the start page could be reached)"
            ),
            SiteError::TooManySlowPages { slow, pages } => write!(
                f,
                "{slow} slow pages asked for, but a site of {pages} pages has only {} pages besides the start page",
                pages - 1
            ),
            SiteError::NoHandlers => write!(f, "a site needs at least 1 handler thread (got handlers(0))"),
            SiteError::BadExternalBase(base) => write!(
                f,
                "external_base must be an http:// or https:// URL such as \"http://other.invalid\", got {base:?}"
            ),
            SiteError::Bind(e) => write!(f, "could not listen on 127.0.0.1: {e}"),
            SiteError::Spawn(e) => write!(f, "could not start a handler thread: {e}"),
        }
    }
}

impl std::error::Error for SiteError {}

/// Settings of a [`Site`]; made by [`Site::builder`], checked by [`SiteBuilder::start`].
#[derive(Debug, Clone)]
pub struct SiteBuilder {
    pages: usize,
    links_per_page: usize,
    latency: Duration,
    seed: u64,
    broken: usize,
    external: usize,
    external_base: String,
    slow: usize,
    slow_delay: Duration,
    handlers: usize,
}

impl Default for SiteBuilder {
    fn default() -> Self {
        SiteBuilder {
            pages: 20,
            links_per_page: 4,
            latency: Duration::from_millis(50),
            seed: 1,
            broken: 0,
            external: 0,
            external_base: DEFAULT_EXTERNAL_BASE.to_string(),
            slow: 0,
            slow_delay: Duration::from_secs(1),
            handlers: 32,
        }
    }
}

impl SiteBuilder {
    /// How many pages (default 20). Page 0 is the start page.
    pub fn pages(mut self, pages: usize) -> Self {
        self.pages = pages;
        self
    }

    /// How many links to other pages of the site each page has (default 4), besides its links to the start page
    /// and to itself. Some may point to the same page twice or back to a page already seen, as on a real site.
    pub fn links_per_page(mut self, links: usize) -> Self {
        self.links_per_page = links;
        self
    }

    /// How long the server waits before each answer (default 50 ms): the network and the server's work together.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The seed the links are generated from (default 1). The same settings and seed give the same site.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds `n` dead links, each to its own `/missing/k` path, which answers 404 (default 0).
    pub fn broken_links(mut self, n: usize) -> Self {
        self.broken = n;
        self
    }

    /// Adds `n` links to another host (default 0): `{external_base}/page/k`. A crawler limited to the site's host
    /// must not follow them.
    pub fn external_links(mut self, n: usize) -> Self {
        self.external = n;
        self
    }

    /// Where the links to another host point (default [`DEFAULT_EXTERNAL_BASE`]). Pass a second site's
    /// [`Site::url`] to check, with its request counter, that nobody followed them.
    pub fn external_base(mut self, base: impl Into<String>) -> Self {
        self.external_base = base.into();
        self
    }

    /// Makes `n` pages, never the start page, answer after `delay` instead of the latency (default none).
    pub fn slow_pages(mut self, n: usize, delay: Duration) -> Self {
        self.slow = n;
        self.slow_delay = delay;
        self
    }

    /// How many requests the server works on at once (default 32): one handler thread each. More concurrent
    /// requests wait in the server's queue, as on a real server with a worker limit.
    pub fn handlers(mut self, threads: usize) -> Self {
        self.handlers = threads;
        self
    }

    fn check(&self) -> Result<String, SiteError> {
        if self.pages == 0 {
            return Err(SiteError::NoPages);
        }
        if self.links_per_page == 0 && self.pages > 1 {
            return Err(SiteError::NoLinks { pages: self.pages });
        }
        if self.slow > self.pages - 1 {
            return Err(SiteError::TooManySlowPages {
                slow: self.slow,
                pages: self.pages,
            });
        }
        if self.handlers == 0 {
            return Err(SiteError::NoHandlers);
        }
        let base = self.external_base.trim_end_matches('/');
        let host = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"));
        match host {
            Some(host) if !host.is_empty() && !host.contains(['/', ' ', '"', '<', '>']) => {
                Ok(base.to_string())
            }
            _ => Err(SiteError::BadExternalBase(self.external_base.clone())),
        }
    }

    /// Checks the settings, generates the site, starts the server on 127.0.0.1 with a port the OS picks, and
    /// starts the handler threads.
    ///
    /// ```
    /// use support::site::{Site, SiteError};
    /// assert_eq!(Site::builder().pages(0).start().unwrap_err(), SiteError::NoPages);
    /// let err = Site::builder().external_base("other.invalid").start().unwrap_err();
    /// assert!(err.to_string().contains("http://"), "{err}");
    /// ```
    pub fn start(self) -> Result<Site, SiteError> {
        let external_base = self.check()?;
        let server =
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| SiteError::Bind(e.to_string()))?;
        let addr = server.server_addr().to_ip().ok_or_else(|| {
            SiteError::Bind("the server is not listening on an IP address".into())
        })?;
        let base = format!("http://{addr}");
        let model = Model::generate(&self, &base, &external_base);
        let shared = Arc::new(Shared {
            routes: model.routes(),
            latency: self.latency,
            counts: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            stopping: Mutex::new(false),
            wake: Condvar::new(),
        });
        let mut site = Site {
            base,
            addr,
            settings: self,
            model,
            shared,
            server: Arc::new(server),
            handlers: Vec::new(),
        };
        for i in 0..site.settings.handlers {
            let (server, shared) = (Arc::clone(&site.server), Arc::clone(&site.shared));
            let handler = std::thread::Builder::new()
                .name(format!("site-handler-{i}"))
                .spawn(move || serve(&server, &shared))
                // Dropping `site` here stops and joins the handlers started so far.
                .map_err(|e| SiteError::Spawn(e.to_string()))?;
            site.handlers.push(handler);
        }
        Ok(site)
    }
}

/// What a path answers.
#[derive(Debug, Clone)]
struct Route {
    status: u16,
    body: Arc<str>,
    /// `None`: the site's latency.
    delay: Option<Duration>,
}

/// State shared by the handler threads and the [`Site`] handle.
struct Shared {
    routes: HashMap<String, Route>,
    latency: Duration,
    counts: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    stopping: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    /// Waits `d`, or less if the site is stopping. Returns false when the site is stopping.
    fn pause(&self, d: Duration) -> bool {
        // parking_lot's `wait_while_for` takes a `Duration::MAX` as "no deadline" (`Instant::now() + d` would panic).
        let mut stopping = self.stopping.lock();
        self.wake
            .wait_while_for(&mut stopping, |stopping| !*stopping, d);
        !*stopping
    }

    fn is_stopping(&self) -> bool {
        *self.stopping.lock()
    }
}

/// Counts a request as in flight from creation to drop, and keeps the peak.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A handler thread: takes requests until the server is unblocked by [`Site`]'s drop.
fn serve(server: &tiny_http::Server, shared: &Shared) {
    // `recv` returns Err when `unblock` was called (shutdown) or the listening socket failed.
    while let Ok(request) = server.recv() {
        if shared.is_stopping() {
            let _ = request.respond(tiny_http::Response::empty(503));
            continue;
        }
        let _in_flight = InFlight::enter(shared);
        let target = request.url();
        let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
        *shared.counts.lock().entry(path.clone()).or_insert(0) += 1;
        shared.total.fetch_add(1, Ordering::SeqCst);
        let (status, body, delay) = match shared.routes.get(&path) {
            Some(route) => (
                route.status,
                Arc::clone(&route.body),
                route.delay.unwrap_or(shared.latency),
            ),
            None => (404, Arc::from(not_found_html(&path)), shared.latency),
        };
        if !shared.pause(delay) {
            let _ = request.respond(tiny_http::Response::empty(503));
            continue;
        }
        let content_type =
            tiny_http::Header::from_bytes("Content-Type", "text/html; charset=utf-8")
                .expect("a valid header");
        let response = tiny_http::Response::from_string(&*body)
            .with_status_code(status)
            .with_header(content_type);
        // The client may have given up (its timeout): nothing to do about a failed write.
        let _ = request.respond(response);
    }
}

/// A local demo web site served over HTTP on 127.0.0.1; see the [module docs](self).
///
/// Dropping it stops the server: handler threads waiting out a latency are woken at once, then joined.
pub struct Site {
    base: String,
    addr: SocketAddr,
    settings: SiteBuilder,
    model: Model,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    handlers: Vec<JoinHandle<()>>,
}

impl Site {
    /// Settings for a new site, to adjust and [`start`](SiteBuilder::start).
    pub fn builder() -> SiteBuilder {
        SiteBuilder::default()
    }

    /// The site's base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The start page's URL, `http://127.0.0.1:PORT/`.
    pub fn start_url(&self) -> String {
        format!("{}/", self.base)
    }

    /// The full URL of a path of this site: `url_of("/page/3")`.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The latency of each response (slow pages aside).
    pub fn latency(&self) -> Duration {
        self.settings.latency
    }

    /// The number of pages (status 200).
    pub fn page_count(&self) -> usize {
        self.model.pages.len()
    }

    /// The full URL of every page, page 0 (the start page) first.
    pub fn page_urls(&self) -> Vec<String> {
        (0..self.page_count())
            .map(|i| self.url_of(&page_path(i)))
            .collect()
    }

    /// How many links (link elements followed from the start page) it takes at least to reach this URL of the
    /// site: 0 for the start page. `None` for URLs no page links to, and for other hosts.
    ///
    /// ```
    /// let site = support::site::Site::builder().pages(5).links_per_page(1).start().unwrap();
    /// assert_eq!(site.depth_of(&site.start_url()), Some(0));
    /// // One link per page: the pages form a chain.
    /// assert_eq!(site.pages_within(2).len(), 3);
    /// assert_eq!(site.depth_of(&site.url_of("/nowhere")), None);
    /// ```
    pub fn depth_of(&self, url: &str) -> Option<usize> {
        let path = url.strip_prefix(&self.base)?;
        let path = if path.is_empty() { "/" } else { path };
        self.model.depths.get(path).copied()
    }

    /// Every URL of the site that some page links to (pages and dead links), with its [depth](Site::depth_of).
    pub fn depths(&self) -> BTreeMap<String, usize> {
        self.model
            .depths
            .iter()
            .map(|(path, &d)| (self.url_of(path), d))
            .collect()
    }

    /// The pages (status 200) at most `max_depth` links from the start page: what a crawl limited to that depth
    /// should fetch successfully.
    pub fn pages_within(&self, max_depth: usize) -> BTreeSet<String> {
        self.model
            .depths
            .iter()
            .filter(|(path, &d)| d <= max_depth && !path.starts_with("/missing/"))
            .map(|(path, _)| self.url_of(path))
            .collect()
    }

    /// The dead links: full URLs that answer 404.
    pub fn broken_urls(&self) -> BTreeSet<String> {
        (0..self.settings.broken)
            .map(|k| self.url_of(&broken_path(k)))
            .collect()
    }

    /// The links to another host.
    pub fn external_urls(&self) -> BTreeSet<String> {
        self.model.external.iter().cloned().collect()
    }

    /// The pages that answer after the slow delay instead of the latency.
    pub fn slow_urls(&self) -> BTreeSet<String> {
        self.model
            .slow
            .iter()
            .map(|&i| self.url_of(&page_path(i)))
            .collect()
    }

    /// The links (`href` values, as written) on the page at this URL, in page order; `None` if it is not a page.
    /// The first two are always the link to the start page (`/`) and to the page itself (`#top`).
    pub fn links_on(&self, url: &str) -> Option<Vec<String>> {
        let path = url.strip_prefix(&self.base)?;
        let path = if path.is_empty() { "/" } else { path };
        let i = self.model.pages.iter().position(|p| p.path == path)?;
        Some(self.model.pages[i].hrefs.clone())
    }

    /// How many requests the server has received since it started (or since [`reset_counts`](Site::reset_counts)).
    pub fn requests(&self) -> usize {
        self.shared.total.load(Ordering::SeqCst)
    }

    /// How many requests asked for this path (`"/page/3"`) or full URL of this site.
    pub fn requests_for(&self, path_or_url: &str) -> usize {
        let path = path_or_url.strip_prefix(&self.base).unwrap_or(path_or_url);
        let path = if path.is_empty() { "/" } else { path };
        self.shared.counts.lock().get(path).copied().unwrap_or(0)
    }

    /// Requests per path (query strings left out), sorted by path.
    pub fn request_counts(&self) -> BTreeMap<String, usize> {
        self.shared
            .counts
            .lock()
            .iter()
            .map(|(p, &n)| (p.clone(), n))
            .collect()
    }

    /// The paths requested more than once, with their counts: empty when every page was fetched once.
    pub fn repeated_requests(&self) -> BTreeMap<String, usize> {
        let mut counts = self.request_counts();
        counts.retain(|_, n| *n > 1);
        counts
    }

    /// The most requests the server was working on at the same moment: 1 for a sequential client, up to the
    /// number of threads for a client that overlaps its requests.
    pub fn max_concurrent(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Sets all counters back to zero, for a new measurement on the same site.
    pub fn reset_counts(&self) {
        self.shared.counts.lock().clear();
        self.shared.total.store(0, Ordering::SeqCst);
        self.shared.max_in_flight.store(
            self.shared.in_flight.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }

    /// Stops the server and joins its threads; the same as dropping the site, spelled out.
    pub fn shutdown(self) {}
}

impl Drop for Site {
    fn drop(&mut self) {
        *self.shared.stopping.lock() = true;
        self.shared.wake.notify_all();
        // Each `unblock` releases one thread waiting in `recv` (now or the next time it asks).
        for _ in 0..self.handlers.len() {
            self.server.unblock();
        }
        for handler in self.handlers.drain(..) {
            let _ = handler.join();
        }
        // The last `Arc<Server>` goes with `self`: tiny_http then closes its listening socket.
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("url", &self.base)
            .field("pages", &self.page_count())
            .field("latency", &self.settings.latency)
            .field("requests", &self.requests())
            .finish()
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        write!(
            f,
            "demo site {}: {} pages, {} links per page, dead links: {}, links to other hosts: {}, ",
            self.base, s.pages, s.links_per_page, s.broken, s.external
        )?;
        if s.slow > 0 {
            write!(f, "slow pages: {} ({:?}), ", s.slow, s.slow_delay)?;
        }
        write!(f, "{:?} per response", s.latency)
    }
}

fn page_path(i: usize) -> String {
    if i == 0 {
        "/".to_string()
    } else {
        format!("/page/{i}")
    }
}

fn broken_path(k: usize) -> String {
    format!("/missing/{k}")
}

/// SplitMix64: a small, good generator; enough to scatter links deterministically.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Page(usize),
    Broken(usize),
    External(usize),
}

#[derive(Debug, Clone)]
struct Page {
    path: String,
    html: String,
    hrefs: Vec<String>,
}

/// The generated site: pages with their HTML, and what a test needs to know about it.
#[derive(Debug, Clone)]
struct Model {
    pages: Vec<Page>,
    /// Path → fewest links from the start page, for every linked path of the site (pages and dead links).
    depths: BTreeMap<String, usize>,
    broken: usize,
    external: Vec<String>,
    slow: BTreeSet<usize>,
    slow_delay: Duration,
}

impl Model {
    fn generate(s: &SiteBuilder, base: &str, external_base: &str) -> Model {
        let n = s.pages;
        let k = s.links_per_page;
        let mut rng = Rng(s.seed ^ 0x5EED_0FC0_FFEE);
        // A tree through all pages makes every page reachable: tree position p holds page order[p]; its children
        // are positions arity·p + 1 ..= arity·p + arity. The remaining links of each page point anywhere.
        let mut order: Vec<usize> = (1..n).collect();
        rng.shuffle(&mut order);
        order.insert(0, 0);
        let arity = k.div_ceil(2).max(1);
        let mut links: Vec<Vec<Link>> = vec![Vec::new(); n];
        for p in 0..n {
            for c in (arity * p + 1)..=(arity * p + arity) {
                if c < n {
                    links[order[p]].push(Link::Page(order[c]));
                }
            }
        }
        for page_links in links.iter_mut() {
            while page_links.len() < k {
                page_links.push(Link::Page(rng.below(n)));
            }
        }
        for b in 0..s.broken {
            let page = rng.below(n);
            let at = rng.below(links[page].len() + 1);
            links[page].insert(at, Link::Broken(b));
        }
        for e in 0..s.external {
            let page = rng.below(n);
            let at = rng.below(links[page].len() + 1);
            links[page].insert(at, Link::External(e));
        }
        for page_links in links.iter_mut() {
            rng.shuffle(page_links);
        }
        let mut candidates: Vec<usize> = (1..n).collect();
        rng.shuffle(&mut candidates);
        let slow: BTreeSet<usize> = candidates.into_iter().take(s.slow).collect();

        let external: Vec<String> = (0..s.external)
            .map(|e| format!("{external_base}/page/{e}"))
            .collect();
        let mut pages = Vec::with_capacity(n);
        for (i, page_links) in links.iter().enumerate() {
            let path = page_path(i);
            let mut hrefs = vec!["/".to_string(), "#top".to_string()];
            let mut items = Vec::new();
            for &link in page_links {
                let (href, text) = match link {
                    Link::Page(j) => (href_to_page(&mut rng, base, i, j), format!("Page {j}")),
                    Link::Broken(b) => (broken_path(b), "a page that was removed".to_string()),
                    Link::External(e) => {
                        (external[e].clone(), format!("elsewhere ({})", external[e]))
                    }
                };
                items.push(format!("  <li><a href=\"{href}\">{text}</a></li>"));
                hrefs.push(href);
            }
            let html = format!(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Page {i}</title></head>\n\
                 <body id=\"top\">\n<nav><a href=\"/\">Home</a> · <a href=\"#top\">Top</a></nav>\n\
                 <h1>Page {i}</h1>\n<p>Page {i} of the demo site. It links to:</p>\n<ul>\n{}\n</ul>\n</body>\n</html>\n",
                items.join("\n")
            );
            pages.push(Page { path, html, hrefs });
        }

        // Breadth-first from the start page: the fewest links to each path.
        let mut depths = BTreeMap::new();
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([(0usize, 0usize)]);
        seen[0] = true;
        depths.insert(page_path(0), 0);
        while let Some((i, d)) = queue.pop_front() {
            for &link in &links[i] {
                match link {
                    Link::Page(j) if !seen[j] => {
                        seen[j] = true;
                        depths.insert(page_path(j), d + 1);
                        queue.push_back((j, d + 1));
                    }
                    Link::Broken(b) => {
                        depths.entry(broken_path(b)).or_insert(d + 1);
                    }
                    _ => {}
                }
            }
        }
        debug_assert!(seen.iter().all(|&s| s), "every page is reachable");
        Model {
            pages,
            depths,
            broken: s.broken,
            external,
            slow,
            slow_delay: s.slow_delay,
        }
    }

    fn routes(&self) -> HashMap<String, Route> {
        let mut routes: HashMap<String, Route> = self
            .pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let route = Route {
                    status: 200,
                    body: Arc::from(page.html.as_str()),
                    delay: self.slow.contains(&i).then_some(self.slow_delay),
                };
                (page.path.clone(), route)
            })
            .collect();
        for b in 0..self.broken {
            let path = broken_path(b);
            let route = Route {
                status: 404,
                body: Arc::from(not_found_html(&path)),
                delay: None,
            };
            routes.insert(path, route);
        }
        routes
    }
}

/// A link from page `from` to page `to`, written root-relative, relative or absolute.
fn href_to_page(rng: &mut Rng, base: &str, from: usize, to: usize) -> String {
    if to == 0 {
        return "/".to_string();
    }
    match rng.below(4) {
        0 => format!("{base}/page/{to}"),
        // Relative to `/page/{from}` the directory is `/page/`; relative to `/` it is `/`.
        1 if from == 0 => format!("page/{to}"),
        1 => format!("{to}"),
        _ => format!("/page/{to}"),
    }
}

fn not_found_html(path: &str) -> String {
    let path = path.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>404 Not Found</title></head>\n\
         <body><h1>404 Not Found</h1><p>Nothing at {path}. <a href=\"/\">Home</a></p></body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> SiteBuilder {
        Site::builder()
            .pages(30)
            .links_per_page(3)
            .broken_links(4)
            .external_links(3)
    }

    #[test]
    fn every_page_is_reachable_for_many_shapes() {
        for pages in 1..40 {
            for links in 1..6 {
                for seed in 0..3 {
                    let s = Site::builder()
                        .pages(pages)
                        .links_per_page(links)
                        .seed(seed)
                        .broken_links(2);
                    let m = Model::generate(&s, "http://h:1", DEFAULT_EXTERNAL_BASE);
                    let reached = m
                        .depths
                        .keys()
                        .filter(|p| !p.starts_with("/missing/"))
                        .count();
                    assert_eq!(reached, pages, "pages {pages}, links {links}, seed {seed}");
                    assert_eq!(m.depths.len(), pages + 2);
                }
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_site() {
        let a = Model::generate(&builder().seed(7), "http://h:1", DEFAULT_EXTERNAL_BASE);
        let b = Model::generate(&builder().seed(7), "http://h:1", DEFAULT_EXTERNAL_BASE);
        let c = Model::generate(&builder().seed(8), "http://h:1", DEFAULT_EXTERNAL_BASE);
        let html = |m: &Model| m.pages.iter().map(|p| p.html.clone()).collect::<Vec<_>>();
        assert_eq!(html(&a), html(&b));
        assert_ne!(html(&a), html(&c));
        assert_eq!(a.depths, b.depths);
    }

    #[test]
    fn pages_have_the_links_asked_for() {
        let m = Model::generate(&builder(), "http://h:1", DEFAULT_EXTERNAL_BASE);
        let total: usize = m.pages.iter().map(|p| p.hrefs.len() - 2).sum();
        assert_eq!(total, 30 * 3 + 4 + 3);
        let external = m
            .pages
            .iter()
            .flat_map(|p| &p.hrefs)
            .filter(|h| h.starts_with(DEFAULT_EXTERNAL_BASE))
            .count();
        assert_eq!(external, 3);
        for p in &m.pages {
            assert_eq!(&p.hrefs[..2], ["/", "#top"]);
            for h in &p.hrefs {
                assert!(
                    p.html.contains(&format!("href=\"{h}\"")),
                    "{h} in {}",
                    p.path
                );
            }
        }
    }

    #[test]
    fn one_link_per_page_is_a_chain() {
        let m = Model::generate(
            &Site::builder().pages(6).links_per_page(1),
            "http://h:1",
            DEFAULT_EXTERNAL_BASE,
        );
        let mut depths: Vec<usize> = m.depths.values().copied().collect();
        depths.sort();
        assert_eq!(depths, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let err = |b: SiteBuilder| b.start().unwrap_err();
        assert_eq!(err(Site::builder().pages(0)), SiteError::NoPages);
        assert_eq!(
            err(Site::builder().pages(3).links_per_page(0)),
            SiteError::NoLinks { pages: 3 }
        );
        let slow = err(Site::builder()
            .pages(3)
            .slow_pages(3, Duration::from_secs(1)));
        assert_eq!(slow, SiteError::TooManySlowPages { slow: 3, pages: 3 });
        assert!(
            slow.to_string()
                .contains("only 2 pages besides the start page"),
            "{slow}"
        );
        assert_eq!(err(Site::builder().handlers(0)), SiteError::NoHandlers);
        for base in ["", "ftp://x", "http://", "http://a b"] {
            assert!(matches!(
                err(Site::builder().external_base(base)),
                SiteError::BadExternalBase(_)
            ));
        }
        // One page needs no links.
        Site::builder().pages(1).links_per_page(0).start().unwrap();
    }

    #[test]
    fn relative_hrefs_resolve_to_the_target() {
        let mut rng = Rng(3);
        for _ in 0..50 {
            let h = href_to_page(&mut rng, "http://h:1", 0, 7);
            assert!(
                ["http://h:1/page/7", "page/7", "/page/7"].contains(&h.as_str()),
                "{h}"
            );
            let h = href_to_page(&mut rng, "http://h:1", 3, 7);
            assert!(
                ["http://h:1/page/7", "7", "/page/7"].contains(&h.as_str()),
                "{h}"
            );
        }
    }
}
