//! A shop's own HTTP API, as src/commerce.rs documents it, served by the test
//! on 127.0.0.1 port 0: five products, order baskets, one order, member levels
//! and two coupons it gives away once per buyer. Xiaoer reaches it with
//! `commerce_url` and its bearer token, as it would a real shop.

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use xiaoer::domain::catalogue::Product;
use xiaoer::domain::commerce::{Order, OrderLine, OrderNumber, OrderStatus};
use xiaoer::domain::coupon::Coupon;

/// What Xiaoer must present; anything else is 401.
pub const SHOP_TOKEN: &str = "shop-token-for-xiaoer-0123";
/// A gold member who ordered DRESS-001.
pub const GOLD_BUYER: &str = "shop_buyer_gold";
/// A buyer the shop knows, without a level.
pub const PLAIN_BUYER: &str = "shop_buyer_plain";
pub const LEVELS: [&str; 3] = ["regular", "gold", "diamond"];

pub struct ShopApi {
    pub url: String,
    coupons: Mutex<Vec<Coupon>>,
    /// (account, coupon id) of each claim, in order.
    claims: Mutex<Vec<(String, String)>>,
    /// While set, everything answers 503 (the shop is down behind its gateway).
    down: AtomicBool,
}

impl ShopApi {
    pub fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    pub fn claims(&self) -> Vec<(String, String)> {
        self.claims.lock().unwrap().clone()
    }
}

type Shop = Arc<ShopApi>;

fn product(sku: &str, title: &str, category: &str, price_cents: i64, stock: i64) -> Product {
    Product {
        sku: sku.into(),
        title: title.into(),
        category: category.into(),
        description: format!("{title}，本店正品"),
        price_cents,
        stock,
        image_url: format!("https://shop.test/img/{sku}.jpg"),
        link: format!("https://shop.test/item?sku={sku}"),
    }
}

/// The catalogue by sku.
pub fn catalogue() -> Vec<Product> {
    vec![
        product("BELT-001", "真皮腰带", "配饰", 5_900, 10),
        product("DRESS-001", "碎花连衣裙", "女装", 19_900, 5),
        product("DRESS-002", "真丝连衣裙", "女装", 39_900, 3),
        product("HAT-001", "编织草帽", "配饰", 3_900, 0),
        product("SCARF-001", "桑蚕丝丝巾", "配饰", 7_900, 8),
    ]
}

fn coupon(id: &str, title: &str, discount_cents: i64, min_spend_cents: i64, left: i64) -> Coupon {
    let month = 30 * 24 * 3_600_000;
    Coupon {
        id: id.into(),
        title: title.into(),
        discount_cents,
        min_spend_cents,
        valid_until: now_ms() + month,
        remaining: left,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Starts the shop; it serves until the test ends.
pub async fn start_shop() -> Shop {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop = Arc::new(ShopApi {
        url: format!("http://{}/shop-api", listener.local_addr().unwrap()),
        coupons: Mutex::new(vec![
            coupon("SHOP20", "全店满减券", 2_000, 19_900, 100),
            coupon("LAST1", "限量无门槛券", 3_000, 0, 1),
        ]),
        claims: Mutex::default(),
        down: AtomicBool::new(false),
    });
    let api = Router::new()
        .route("/products", get(products))
        .route("/products/{sku}", get(one_product))
        .route("/order-baskets", get(order_baskets))
        .route("/buyers/{account}/orders", get(orders))
        .route("/buyers/{account}/member-level", get(member_level))
        .route("/member-levels", get(|| async { Json(LEVELS) }))
        .route("/coupons", get(coupons))
        .route("/coupons/{id}", get(one_coupon))
        .route("/buyers/{account}/coupons", get(held))
        .route("/buyers/{account}/coupons/{id}/claim", post(claim))
        .layer(axum::middleware::from_fn_with_state(shop.clone(), gate))
        .with_state(shop.clone());
    let app = Router::new().nest("/shop-api", api);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    shop
}

/// 503 while down, 401 without the token.
async fn gate(State(shop): State<Shop>, request: Request, next: Next) -> Response {
    if shop.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let bearer = format!("Bearer {SHOP_TOKEN}");
    match request.headers().get(header::AUTHORIZATION) {
        Some(given) if given.as_bytes() == bearer.as_bytes() => next.run(request).await,
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// `?q=` searches (all when empty); otherwise the page by sku after `?after=`.
async fn products(Query(query): Query<HashMap<String, String>>) -> Json<Vec<Product>> {
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let all = catalogue().into_iter();
    let found: Vec<Product> = match (query.get("q"), query.get("after")) {
        (Some(q), _) => all
            .filter(|p| p.title.contains(q.as_str()) || p.category.contains(q.as_str()))
            .take(limit)
            .collect(),
        (None, after) => all
            .filter(|p| after.is_none_or(|after| p.sku > *after))
            .take(limit)
            .collect(),
    };
    Json(found)
}

async fn one_product(Path(sku): Path<String>) -> Response {
    match catalogue().into_iter().find(|p| p.sku == sku) {
        Some(product) => Json(product).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Three orders bought the dress with the belt, one with the scarf, one with
/// the (sold-out) hat.
async fn order_baskets() -> Json<Vec<Vec<&'static str>>> {
    let mut baskets = vec![vec!["BELT-001", "DRESS-001"]; 3];
    baskets.push(vec!["DRESS-001", "SCARF-001"]);
    baskets.push(vec!["DRESS-001", "HAT-001"]);
    Json(baskets)
}

async fn orders(Path(account): Path<String>) -> Json<Vec<Order>> {
    if account != GOLD_BUYER {
        return Json(Vec::new());
    }
    Json(vec![Order {
        order_no: OrderNumber::parse("SH20261201001").unwrap(),
        buyer_account: account,
        status: OrderStatus::Delivered,
        placed_at: now_ms() - 5 * 24 * 3_600_000,
        total_cents: 19_900,
        lines: vec![OrderLine {
            sku: "DRESS-001".into(),
            name: "碎花连衣裙".into(),
            quantity: 1,
            unit_price_cents: 19_900,
        }],
        delivered_at: Some(now_ms() - 2 * 24 * 3_600_000),
        returnable: true,
    }])
}

async fn member_level(Path(account): Path<String>) -> Response {
    match account.as_str() {
        GOLD_BUYER => Json(json!({ "level": "gold" })).into_response(),
        PLAIN_BUYER => Json(json!({ "level": null })).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn coupons(State(shop): State<Shop>) -> Json<Vec<Coupon>> {
    Json(shop.coupons.lock().unwrap().clone())
}

async fn one_coupon(State(shop): State<Shop>, Path(id): Path<String>) -> Response {
    let coupons = shop.coupons.lock().unwrap();
    match coupons.iter().find(|c| c.id == id) {
        Some(coupon) => Json(coupon.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn held(State(shop): State<Shop>, Path(account): Path<String>) -> Json<Vec<String>> {
    let claims = shop.claims.lock().unwrap();
    Json(
        claims
            .iter()
            .filter(|(a, _)| *a == account)
            .map(|(_, id)| id.clone())
            .collect(),
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    claimed_at: i64,
}

/// 201 claimed, 200 already claimed, 409 with no body when none are left
/// (Xiaoer reads that as sold out), 410 expired, 404 unknown.
async fn claim(
    State(shop): State<Shop>,
    Path((account, id)): Path<(String, String)>,
    Json(body): Json<ClaimBody>,
) -> Response {
    let mut coupons = shop.coupons.lock().unwrap();
    let mut claims = shop.claims.lock().unwrap();
    let Some(coupon) = coupons.iter_mut().find(|c| c.id == id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if claims.iter().any(|(a, c)| *a == account && *c == id) {
        return Json(json!({ "outcome": "already_claimed" })).into_response();
    }
    if body.claimed_at >= coupon.valid_until {
        return (StatusCode::GONE, Json(json!({ "outcome": "expired" }))).into_response();
    }
    if coupon.remaining == 0 {
        return StatusCode::CONFLICT.into_response();
    }
    coupon.remaining -= 1;
    claims.push((account, id));
    (StatusCode::CREATED, Json(json!({ "outcome": "claimed" }))).into_response()
}
