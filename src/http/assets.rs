//! The buyer widget and the staff console: static files compiled into the binary
//! (no build step, nothing to deploy beside it).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

#[rustfmt::skip]
const ASSETS: &[Asset] = &[
    asset!("/widget.js", "widget.js", JS),
    asset!("/widget/", "widget/index.html", HTML),
    asset!("/widget/chat.js", "widget/chat.js", JS),
    asset!("/widget/session.js", "widget/session.js", JS),
    asset!("/widget/i18n.js", "widget/i18n.js", JS),
    asset!("/widget/style.css", "widget/style.css", CSS),
    asset!("/console/", "console/index.html", HTML),
    asset!("/console/main.js", "console/main.js", JS),
    asset!("/console/api.js", "console/api.js", JS),
    asset!("/console/i18n.js", "console/i18n.js", JS),
    asset!("/console/inbox.js", "console/inbox.js", JS),
    asset!("/console/chat.js", "console/chat.js", JS),
    asset!("/console/side.js", "console/side.js", JS),
    asset!("/console/board.js", "console/board.js", JS),
    asset!("/console/kb.js", "console/kb.js", JS),
    asset!("/console/integrations.js", "console/integrations.js", JS),
    asset!("/console/admin.js", "console/admin.js", JS),
    asset!("/console/settings.js", "console/settings.js", JS),
    asset!("/console/style.css", "console/style.css", CSS),
    asset!("/demo/", "demo/index.html", HTML),
    asset!("/demo/shop.js", "demo/shop.js", JS),
];

/// The console may not be framed; the widget page must be (it lives in an iframe
/// on shop pages). Scripts come only from this server.
fn respond(asset: &'static Asset) -> Response {
    let framing = if asset.path.starts_with("/console/") {
        "frame-ancestors 'none'"
    } else {
        "frame-ancestors *"
    };
    let csp = format!(
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
         connect-src 'self' ws: wss:; {framing}"
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response();
    if asset.content_type == HTML
        && let Ok(value) = HeaderValue::from_str(&csp)
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Routes for every embedded file, plus redirects from the bare folder names.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/widget", get(|| async { Redirect::to("/widget/") }))
        .route("/demo", get(|| async { Redirect::to("/demo/") }));
    for asset in ASSETS {
        router = router.route(asset.path, get(move || async move { respond(asset) }));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_type_and_content() {
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{}", asset.path);
            assert!(
                [HTML, JS, CSS].contains(&asset.content_type),
                "{}",
                asset.path
            );
        }
    }
}
