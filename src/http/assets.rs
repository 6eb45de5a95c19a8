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
const MANIFEST: &str = "application/manifest+json";
const SVG: &str = "image/svg+xml";

#[rustfmt::skip]
const ASSETS: &[Asset] = &[
    asset!("/widget.js", "widget.js", JS),
    asset!("/widget/", "widget/index.html", HTML),
    asset!("/widget/chat.js", "widget/chat.js", JS),
    asset!("/widget/session.js", "widget/session.js", JS),
    asset!("/widget/i18n.js", "widget/i18n.js", JS),
    asset!("/widget/tickets.js", "widget/tickets.js", JS),
    asset!("/widget/csat.js", "widget/csat.js", JS),
    asset!("/widget/style.css", "widget/style.css", CSS),
    asset!("/widget/launcher.css", "widget/launcher.css", CSS),
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
    asset!("/console/tickets.js", "console/tickets.js", JS),
    asset!("/console/notifications.js", "console/notifications.js", JS),
    asset!("/console/bell.js", "console/bell.js", JS),
    asset!("/console/ticket_routing.js", "console/ticket_routing.js", JS),
    asset!("/console/ticket_automations.js", "console/ticket_automations.js", JS),
    asset!("/console/history.js", "console/history.js", JS),
    asset!("/console/admin.js", "console/admin.js", JS),
    asset!("/console/settings.js", "console/settings.js", JS),
    asset!("/console/audit.js", "console/audit.js", JS),
    asset!("/console/blocks.js", "console/blocks.js", JS),
    asset!("/console/analytics.js", "console/analytics.js", JS),
    asset!("/console/quality.js", "console/quality.js", JS),
    asset!("/console/uPlot.iife.min.js", "node_modules/uplot/dist/uPlot.iife.min.js", JS),
    asset!("/console/uPlot.min.css", "node_modules/uplot/dist/uPlot.min.css", CSS),
    asset!("/console/privacy.js", "console/privacy.js", JS),
    asset!("/widget/challenge.js", "widget/challenge.js", JS),
    asset!("/widget/altcha.js", "node_modules/altcha/dist/external/altcha.js", JS),
    asset!("/widget/altcha-zh-cn.js", "node_modules/altcha/dist/i18n/zh-cn.js", JS),
    asset!("/widget/altcha-pbkdf2.js", "node_modules/altcha/dist/workers/pbkdf2.js", JS),
    asset!("/widget/altcha.css", "node_modules/altcha/dist/external/altcha.css", CSS),
    asset!("/console/style.css", "console/style.css", CSS),
    asset!("/console/sw.js", "console/sw.js", JS),
    asset!("/console/manifest.webmanifest", "console/manifest.webmanifest", MANIFEST),
    asset!("/console/icon.svg", "console/icon.svg", SVG),
    asset!("/demo/", "demo/index.html", HTML),
    asset!("/demo/shop.js", "demo/shop.js", JS),
    asset!("/demo/style.css", "demo/style.css", CSS),
    // Who is on the shop now (issue 18).
    asset!("/widget/presence.html", "widget/presence.html", HTML),
    asset!("/widget/presence.js", "widget/presence.js", JS),
    asset!("/demo/product.svg", "demo/product.svg", SVG),
    asset!("/console/visitors.js", "console/visitors.js", JS),
    asset!("/console/cards.js", "console/cards.js", JS),
    asset!("/console/portrait.js", "console/portrait.js", JS),
];

/// Scripts, styles and connections only from this server, nothing inline, no
/// plugins; `frame_ancestors` says who may frame the page.
fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors {frame_ancestors}"
    )
}

/// Who may frame each page: nobody the console (clickjacking), the widget only
/// the shop origins an admin listed (`--widget-frame-origins`) and this server.
#[derive(Clone)]
struct Framing {
    widget_csp: HeaderValue,
    console_csp: HeaderValue,
}

impl Framing {
    fn new(widget_origins: &[String]) -> Self {
        let widget = std::iter::once("'self'")
            .chain(widget_origins.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let value = |policy: String| {
            HeaderValue::from_str(&policy).expect("origins were parsed as URLs at start-up")
        };
        Framing {
            widget_csp: value(content_security_policy(&widget)),
            console_csp: value(content_security_policy("'none'")),
        }
    }
}

fn respond(asset: &'static Asset, framing: &Framing) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
        .into_response();
    if asset.content_type == HTML {
        let headers = response.headers_mut();
        if asset.path.starts_with("/widget/") {
            headers.insert(header::CONTENT_SECURITY_POLICY, framing.widget_csp.clone());
        } else {
            headers.insert(header::CONTENT_SECURITY_POLICY, framing.console_csp.clone());
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    }
    response
}

/// Routes for every embedded file, plus redirects from the bare folder names.
/// `widget_origins`: the shop origins that may frame the chat widget.
pub fn router<S: Clone + Send + Sync + 'static>(widget_origins: &[String]) -> Router<S> {
    let framing = Framing::new(widget_origins);
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/widget", get(|| async { Redirect::to("/widget/") }))
        .route("/demo", get(|| async { Redirect::to("/demo/") }));
    for asset in ASSETS {
        let framing = framing.clone();
        router = router.route(
            asset.path,
            get(move || async move { respond(asset, &framing) }),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service worker caches the shell for offline use: every console
    /// script and style must be in its list, or an offline start breaks.
    #[test]
    fn the_service_worker_caches_every_console_file() {
        let sw = std::str::from_utf8(
            ASSETS
                .iter()
                .find(|a| a.path == "/console/sw.js")
                .unwrap()
                .body,
        )
        .unwrap();
        for asset in ASSETS.iter().filter(|a| a.path.starts_with("/console/")) {
            if asset.path == "/console/sw.js" {
                continue;
            }
            assert!(
                sw.contains(&format!("\"{}\"", asset.path)),
                "sw.js does not cache {}",
                asset.path
            );
        }
        let manifest: serde_json::Value = serde_json::from_slice(
            ASSETS
                .iter()
                .find(|a| a.content_type == MANIFEST)
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(manifest["start_url"], "/console/");
        assert_eq!(manifest["display"], "standalone");
    }

    /// A block left open swallows every rule after it into itself: an
    /// unclosed phone-width `@media` once kept the analytics and quality pages
    /// unstyled on desktop. Comments and strings aside, every brace closes.
    #[test]
    fn every_style_sheet_closes_its_blocks() {
        for asset in ASSETS.iter().filter(|a| a.content_type == CSS) {
            let css = std::str::from_utf8(asset.body).unwrap();
            let (mut depth, mut rest) = (0i32, css);
            while let Some(c) = rest.chars().next() {
                if let Some(after) = rest.strip_prefix("/*") {
                    rest = after.split_once("*/").map_or("", |(_, r)| r);
                    continue;
                }
                if c == '"' || c == '\'' {
                    rest = rest[1..].split_once(c).map_or("", |(_, r)| r);
                    continue;
                }
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                assert!(depth >= 0, "{}: a '}}' closes nothing", asset.path);
                rest = &rest[c.len_utf8()..];
            }
            assert_eq!(depth, 0, "{}: {depth} block(s) left open", asset.path);
        }
    }

    /// The console never shows a raw metric or event code: every metric a
    /// report can hold and every event type a webhook can name has its words,
    /// in Chinese and in English.
    #[test]
    fn every_metric_and_event_type_has_console_words_in_both_languages() {
        let script = |path: &str| {
            let asset = ASSETS.iter().find(|a| a.path == path).expect(path);
            std::str::from_utf8(asset.body).unwrap()
        };
        let analytics = script("/console/analytics.js");
        for def in crate::domain::analytics::METRICS {
            let key = format!(" m_{}:", def.key);
            assert_eq!(analytics.matches(&key).count(), 2, "{key} in zh and en");
        }
        let console: String = ASSETS
            .iter()
            .filter(|a| a.path.starts_with("/console/") && a.content_type == JS)
            .map(|a| std::str::from_utf8(a.body).unwrap())
            .collect();
        for kind in crate::domain::events::EVENT_TYPES {
            let key = format!(" ev_{}:", kind.replace('.', "_"));
            assert!(console.matches(&key).count() >= 2, "{key} in zh and en");
        }
    }

    /// The keys of each object literal passed to `addStrings(zh, en)` in a
    /// script: strings, template literals and comments skipped, keys taken at
    /// the object's top level.
    fn string_tables(script: &str) -> Vec<Vec<Vec<String>>> {
        let mut tables = Vec::new();
        for (at, _) in script.match_indices("addStrings(") {
            let rest = &script[at + "addStrings(".len()..];
            if !rest.trim_start().starts_with('{') {
                continue; // the definition, not a call
            }
            let chars: Vec<char> = rest.chars().collect();
            let (mut objects, mut keys, mut depth, mut ident) =
                (Vec::new(), Vec::new(), 0usize, String::new());
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                if matches!(c, '"' | '\'' | '`') {
                    i += 1;
                    while i < chars.len() && chars[i] != c {
                        i += if chars[i] == '\\' { 2 } else { 1 };
                    }
                    i += 1;
                    ident.clear();
                    continue;
                }
                if c == '/' && chars.get(i + 1) == Some(&'/') {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            objects.push(std::mem::take(&mut keys));
                        }
                    }
                    ')' if depth == 0 => break,
                    ':' if depth == 1 && !ident.is_empty() => keys.push(ident.clone()),
                    _ => {}
                }
                if c.is_ascii_alphanumeric() || c == '_' {
                    if !ident.is_empty() || !c.is_ascii_digit() {
                        ident.push(c);
                    }
                } else if !c.is_whitespace() {
                    ident.clear();
                }
                i += 1;
            }
            tables.push(objects);
        }
        tables
    }

    /// Every word the console shows in Chinese it shows in English too, and
    /// the other way round: a key missing on one side shows as a raw code.
    #[test]
    fn every_console_string_table_has_the_same_keys_in_both_languages() {
        let mut checked = 0;
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let script = std::str::from_utf8(asset.body).unwrap();
            for tables in string_tables(script) {
                assert_eq!(tables.len(), 2, "{}: addStrings(zh, en)", asset.path);
                let zh: std::collections::BTreeSet<&String> = tables[0].iter().collect();
                let en: std::collections::BTreeSet<&String> = tables[1].iter().collect();
                let only_zh: Vec<_> = zh.difference(&en).collect();
                let only_en: Vec<_> = en.difference(&zh).collect();
                assert!(
                    only_zh.is_empty() && only_en.is_empty(),
                    "{}: only in Chinese {only_zh:?}, only in English {only_en:?}",
                    asset.path
                );
                checked += zh.len();
            }
        }
        assert!(checked > 500, "{checked} keys checked");
        // The scanner itself finds a missing key.
        let broken = "addStrings(\n  { a: \"甲\", b_c: (n) => `${n} 个`, d: \"x: y\" },\n  { a: \"A\", d: \"D\" },\n);";
        let tables = string_tables(broken);
        assert_eq!(tables, [[vec!["a", "b_c", "d"], vec!["a", "d"]]]);
    }

    #[test]
    fn every_asset_has_a_known_type_and_content() {
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{}", asset.path);
            assert!(
                [HTML, JS, CSS, MANIFEST, SVG].contains(&asset.content_type),
                "{}",
                asset.path
            );
        }
    }
}
