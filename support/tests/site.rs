//! support::site over real sockets: status codes, latency that overlaps across concurrent requests, counters,
//! links to a second site, and a drop that never hangs.
#![cfg(feature = "site")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use support::site::Site;

/// A bare HTTP/1.0 GET: (status, body). The server closes the connection after the answer.
fn get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(timeout))?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

const PATIENCE: Duration = Duration::from_secs(10);

#[test]
fn pages_answer_200_dead_links_404() {
    let site = Site::builder()
        .pages(8)
        .broken_links(3)
        .latency(Duration::from_millis(1))
        .start()
        .unwrap();
    for url in site.page_urls() {
        let path = url.strip_prefix(site.url()).unwrap();
        let (status, body) = get(site.addr(), path, PATIENCE).unwrap();
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<a href=\"#top\">"), "{path}");
    }
    for url in site.broken_urls() {
        let path = url.strip_prefix(site.url()).unwrap();
        assert_eq!(get(site.addr(), path, PATIENCE).unwrap().0, 404, "{path}");
    }
    assert_eq!(get(site.addr(), "/not/linked", PATIENCE).unwrap().0, 404);
    assert_eq!(site.requests(), 8 + 3 + 1);
    assert!(site.repeated_requests().is_empty());
    get(site.addr(), "/page/1?x=1", PATIENCE).unwrap();
    assert_eq!(
        site.requests_for("/page/1"),
        2,
        "the query is not part of the path"
    );
    assert_eq!(site.requests_for(&site.url_of("/page/1")), 2);
    assert_eq!(
        site.repeated_requests().into_iter().collect::<Vec<_>>(),
        [("/page/1".to_string(), 2)]
    );
    site.reset_counts();
    assert_eq!((site.requests(), site.request_counts().len()), (0, 0));
}

#[test]
fn every_link_on_every_page_is_what_the_site_says() {
    let other = Site::builder()
        .pages(3)
        .latency(Duration::ZERO)
        .start()
        .unwrap();
    let site = Site::builder()
        .pages(25)
        .links_per_page(3)
        .broken_links(4)
        .external_links(5)
        .external_base(other.url())
        .latency(Duration::ZERO)
        .start()
        .unwrap();
    let mut external = std::collections::BTreeSet::new();
    let mut internal = std::collections::BTreeSet::new();
    for page in site.page_urls() {
        let hrefs = site.links_on(&page).unwrap();
        let path = page.strip_prefix(site.url()).unwrap();
        let (_, body) = get(site.addr(), path, PATIENCE).unwrap();
        for href in hrefs {
            assert!(body.contains(&format!("href=\"{href}\"")));
            // Resolve the way a browser does (enough for the forms the site writes).
            let url = if href.starts_with("http") {
                href
            } else if href.starts_with('#') {
                page.clone()
            } else if href.starts_with('/') {
                site.url_of(&href)
            } else if path == "/" {
                site.url_of(&format!("/{href}"))
            } else {
                site.url_of(&format!("/page/{href}"))
            };
            if url.starts_with(site.url()) {
                internal.insert(url);
            } else {
                external.insert(url);
            }
        }
    }
    assert_eq!(external, site.external_urls());
    assert!(external.iter().all(|u| u.starts_with(other.url())));
    let expected: std::collections::BTreeSet<String> = site.depths().into_keys().collect();
    assert_eq!(internal, expected);
    assert_eq!(
        other.requests(),
        0,
        "nothing followed the links to the other site"
    );
}

#[test]
fn latency_overlaps_across_concurrent_requests() {
    let latency = Duration::from_millis(100);
    let site = Site::builder().pages(16).latency(latency).start().unwrap();
    let start = Instant::now();
    thread::scope(|s| {
        for i in 0..16 {
            let addr = site.addr();
            s.spawn(move || {
                let path = if i == 0 {
                    "/".to_string()
                } else {
                    format!("/page/{i}")
                };
                assert_eq!(get(addr, &path, PATIENCE).unwrap().0, 200);
            });
        }
    });
    let took = start.elapsed();
    assert!(took >= latency);
    // 16 sequential answers would take 1.6 s; overlapped, about 0.1 s. Leave room for a busy machine.
    assert!(took < latency * 8, "16 concurrent requests took {took:?}");
    assert_eq!(site.requests(), 16);
    assert!(
        site.max_concurrent() >= 2,
        "max concurrent {}",
        site.max_concurrent()
    );
    assert!(site.max_concurrent() <= 16);
}

#[test]
fn handlers_bound_the_concurrency() {
    let site = Site::builder()
        .pages(6)
        .handlers(2)
        .latency(Duration::from_millis(30))
        .start()
        .unwrap();
    thread::scope(|s| {
        for i in 0..6 {
            let addr = site.addr();
            s.spawn(move || get(addr, &format!("/page/{i}"), PATIENCE).unwrap());
        }
    });
    assert_eq!(site.requests(), 6);
    assert!(site.max_concurrent() <= 2);
}

#[test]
fn slow_pages_are_slow_and_drop_does_not_wait_for_them() {
    let site = Site::builder()
        .pages(5)
        .slow_pages(1, Duration::from_secs(30))
        .latency(Duration::from_millis(1))
        .start()
        .unwrap();
    let slow = site.slow_urls().into_iter().next().unwrap();
    assert_ne!(slow, site.start_url(), "the start page is never slow");
    let path = slow.strip_prefix(site.url()).unwrap().to_string();
    let err = get(site.addr(), &path, Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    // A client still waiting for the slow page while the site is dropped.
    let addr = site.addr();
    let waiting = thread::spawn(move || get(addr, &path, PATIENCE));
    let deadline = Instant::now() + PATIENCE;
    while site.requests_for(&slow) < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(site.requests_for(&slow), 2);
    let start = Instant::now();
    drop(site);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        start.elapsed()
    );
    let answer = waiting.join().unwrap();
    assert!(!matches!(answer, Ok((200, _))), "{answer:?}");
}

#[test]
fn sites_start_and_stop_quickly_and_free_their_port() {
    for _ in 0..20 {
        let start = Instant::now();
        let site = Site::builder().pages(3).start().unwrap();
        let addr = site.addr();
        get(addr, "/", PATIENCE).unwrap();
        drop(site);
        assert!(start.elapsed() < Duration::from_secs(5));
        let after = get(addr, "/", Duration::from_secs(1));
        assert!(
            !matches!(after, Ok((200, _))),
            "nobody answers after the drop: {after:?}"
        );
    }
}

#[test]
fn display_says_what_the_site_is() {
    let site = Site::builder()
        .pages(12)
        .links_per_page(3)
        .broken_links(2)
        .external_links(1)
        .slow_pages(1, Duration::from_millis(500))
        .start()
        .unwrap();
    let text = site.to_string();
    assert!(
        text.starts_with(&format!("demo site {}: 12 pages", site.url())),
        "{text}"
    );
    assert!(
        text.contains("dead links: 2")
            && text.contains("slow pages: 1 (500ms)")
            && text.contains("50ms per response")
    );
}
