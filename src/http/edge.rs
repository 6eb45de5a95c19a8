//! What the edge decides besides the route table: which origins may send
//! cookie-authenticated writes (CSRF), the session cookie's attributes, and the
//! metrics scraper's token.

use super::error::ApiError;
use super::extract::{SECURE_SESSION_COOKIE, SESSION_COOKIE};
use crate::config::{Secret, Settings};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use url::Url;

#[derive(Debug, Clone)]
pub struct Edge {
    /// `--public-url`'s origin: accepted besides the request's own Host.
    public_origin: Option<String>,
    cookie_secure: bool,
    metrics_token: Option<Secret<String>>,
    /// Shop origins whose pages may frame the chat widget.
    widget_frame_origins: Vec<String>,
}

impl Edge {
    pub fn new(settings: &Settings) -> Self {
        Edge {
            public_origin: settings.public_origin.clone(),
            cookie_secure: settings.cookie_secure,
            metrics_token: settings.metrics_token.clone(),
            widget_frame_origins: settings.widget_frame_origins.clone(),
        }
    }

    pub fn widget_frame_origins(&self) -> &[String] {
        &self.widget_frame_origins
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.cookie_secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The session cookie: never readable by scripts, never sent on cross-site
    /// requests, and only over TLS (with the `__Host-` prefix) when the server is
    /// reached over https.
    pub fn session_cookie(&self, token: &str, max_age_secs: i64) -> String {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            self.cookie_name(),
            max_age_secs.max(0)
        )
    }

    /// Whether a bearer token is the configured metrics token. Both sides are
    /// hashed first so the comparison time says nothing about the secret.
    pub fn is_metrics_token(&self, presented: &str) -> bool {
        self.metrics_token.as_ref().is_some_and(|expected| {
            Sha256::digest(expected.expose().as_bytes()) == Sha256::digest(presented.as_bytes())
        })
    }

    /// CSRF defence for requests authenticated by the session cookie: a write or
    /// a WebSocket upgrade must come from a page of this server. Browsers send
    /// `Origin` on every such request (Referer is the fallback for old ones);
    /// a request with neither, or with another origin, is refused.
    pub fn check_origin(&self, request: &Request) -> Result<(), ApiError> {
        if !changes_state(request) {
            return Ok(());
        }
        let headers = request.headers();
        let claimed = request_origin(headers).ok_or(ApiError::CrossOrigin)?;
        let origin = claimed.origin();
        if self.public_origin.as_deref() == Some(origin.ascii_serialization().as_str()) {
            return Ok(());
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(ApiError::CrossOrigin)?;
        // The request's own address, seen with the scheme the page claims (TLS may
        // end at a proxy), so default ports compare equal.
        let own = Url::parse(&format!("{}://{host}", claimed.scheme()))
            .map_err(|_| ApiError::CrossOrigin)?;
        if own.origin() == origin && own.path() == "/" {
            Ok(())
        } else {
            Err(ApiError::CrossOrigin)
        }
    }
}

/// On every response: no content-type sniffing, and no page address sent to
/// other sites (same-origin requests keep theirs, for the CSRF fallback).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Unsafe methods, and WebSocket upgrades (a socket reads and sends messages).
fn changes_state(request: &Request) -> bool {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    !safe || upgrade
}

/// The page a request says it comes from: `Origin`, else `Referer`.
/// `Origin: null` (sandboxed frames, file: pages) is no origin.
fn request_origin(headers: &HeaderMap) -> Option<Url> {
    let raw = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))?
        .to_str()
        .ok()?;
    Url::parse(raw).ok().filter(|url| url.origin().is_tuple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn edge(public: Option<&str>) -> Edge {
        Edge {
            public_origin: public.map(str::to_owned),
            cookie_secure: false,
            metrics_token: Some(Secret::new("scrape-me".into())),
            widget_frame_origins: Vec::new(),
        }
    }

    fn post(host: &str, origin: Option<(&str, &str)>) -> Request {
        let mut builder = Request::post("/api/v1/kb/import").header("host", host);
        if let Some((name, value)) = origin {
            builder = builder.header(name, value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn a_write_from_the_servers_own_page_passes() {
        let e = edge(None);
        assert!(
            e.check_origin(&post(
                "127.0.0.1:8080",
                Some(("origin", "http://127.0.0.1:8080"))
            ))
            .is_ok()
        );
        assert!(
            e.check_origin(&post(
                "kefu.example",
                Some(("origin", "https://kefu.example"))
            ))
            .is_ok()
        );
        assert!(
            e.check_origin(&post(
                "kefu.example:443",
                Some(("origin", "https://kefu.example"))
            ))
            .is_ok()
        );
        let referer = ("referer", "http://127.0.0.1:8080/console/#/kb");
        assert!(
            e.check_origin(&post("127.0.0.1:8080", Some(referer)))
                .is_ok()
        );
    }

    #[test]
    fn a_write_from_another_origin_or_from_nowhere_is_refused() {
        let e = edge(None);
        let host = "127.0.0.1:8080";
        for origin in [
            Some(("origin", "https://evil.example")),
            Some(("origin", "http://127.0.0.1:8081")),
            Some(("origin", "null")),
            Some(("referer", "https://evil.example/page")),
            None,
        ] {
            assert!(e.check_origin(&post(host, origin)).is_err(), "{origin:?}");
        }
    }

    #[test]
    fn the_public_url_is_accepted_behind_a_proxy_that_rewrites_host() {
        let e = edge(Some("https://kefu.example"));
        let origin = Some(("origin", "https://kefu.example"));
        assert!(e.check_origin(&post("10.0.0.5:8080", origin)).is_ok());
    }

    #[test]
    fn reads_need_no_origin() {
        let get = Request::get("/api/v1/staff/me")
            .body(Body::empty())
            .unwrap();
        assert!(edge(None).check_origin(&get).is_ok());
    }

    #[test]
    fn only_the_configured_metrics_token_is_accepted() {
        assert!(edge(None).is_metrics_token("scrape-me"));
        assert!(!edge(None).is_metrics_token("scrape-m"));
        let none = Edge {
            metrics_token: None,
            ..edge(None)
        };
        assert!(!none.is_metrics_token(""));
    }
}
