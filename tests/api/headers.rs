//! Response headers as a browser enforces them: CSP without inline code on every
//! page, the console never framed, the widget framed only by listed shops,
//! nosniff and Referrer-Policy on everything. Tests named after OWASP ASVS 5.0.

use crate::helpers::{spawn_with, test_settings};
use xiaoer::startup::Adapters;

/// ASVS 5.0 3.4.3 (CSP), 3.4.4 (nosniff), 3.4.5 (Referrer-Policy), 3.4.6
/// (frame-ancestors): the console may be framed by nobody, the widget by this
/// server and the shop origins an admin listed, and no page allows inline
/// scripts or styles.
#[tokio::test]
async fn asvs_3_4_3_to_3_4_6_console_is_never_framed_and_the_widget_only_by_listed_shops() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.widget_frame_origins = vec!["https://shop.example".into()];
    let app = spawn_with(dir, settings, Adapters::default()).await;
    let get = |path: &'static str| app.client.get(app.url(path)).send();

    let console = get("/console/").await.unwrap();
    let csp = console.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(console.headers()["x-frame-options"], "DENY");

    let widget = get("/widget/").await.unwrap();
    let widget_csp = widget.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        widget_csp.ends_with("frame-ancestors 'self' https://shop.example"),
        "{widget_csp}"
    );
    assert!(widget.headers().get("x-frame-options").is_none());

    for policy in [&csp, &widget_csp] {
        assert!(
            !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
            "{policy}"
        );
        assert!(policy.contains("script-src 'self'") && policy.contains("style-src 'self'"));
        assert!(policy.contains("object-src 'none'") && policy.contains("base-uri 'none'"));
    }
    for path in [
        "/console/",
        "/widget/",
        "/widget.js",
        "/healthz",
        "/api/v1/staff/me",
        "/no/such/page",
    ] {
        let res = get(path).await.unwrap();
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(res.headers()["referrer-policy"], "same-origin", "{path}");
    }
}

/// A widget origin that is not an origin (a path, another scheme) is refused at start.
#[test]
fn widget_frame_origins_must_be_http_origins() {
    use xiaoer::config::{Settings, SettingsLayer};
    for bad in [
        "https://shop.example/page",
        "javascript:alert(1)",
        "shop.example",
    ] {
        let layer = SettingsLayer {
            widget_frame_origins: Some(vec![bad.into()]),
            ..Default::default()
        };
        assert!(Settings::from_layer(layer).is_err(), "{bad}");
    }
}
