use crate::helpers::spawn_app;
use serde_json::Value;
use xiaoer::http::routes::ROUTES;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = spawn_app().await;
    app.start_conversation().await;
    let admin = app.staff("root", xiaoer::domain::staff::Role::Admin).await;
    let text = app
        .staff_get(&admin, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("xiaoer_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/conversations\""), "{text}");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_security() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for spec in ROUTES {
        let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", spec.method, spec.path);
        assert!(op["security"].is_array());
    }
    let claim = &doc["paths"]["/api/v1/staff/conversations/{id}/claim"]["post"];
    assert_eq!(claim["x-required-permission"], "claim_chat");
    assert_eq!(claim["parameters"][0]["name"], "id");
    let send = &doc["paths"]["/api/v1/conversations/{id}/messages"]["post"];
    assert_eq!(
        send["requestBody"]["content"]["application/json"]["example"]["body"]["type"],
        "text"
    );
}

#[tokio::test]
async fn every_route_the_router_serves_is_in_the_route_table() {
    // An unlisted route would be refused with a 500 by the authorisation layer;
    // calling each listed route and never seeing "not in the route table" proves
    // the table and the router agree in one direction, the OpenAPI test the other.
    let app = spawn_app().await;
    for spec in ROUTES {
        let path = spec
            .path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{attachment_id}", &"0".repeat(64))
            .replace("{visitor_id}", "v");
        let method = reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap();
        let res = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 500, "{} {}", spec.method, spec.path);
        assert_ne!(
            res.status(),
            405,
            "{} {} is not routed",
            spec.method,
            spec.path
        );
    }
}
