//! The Commerce port over HTTP, for a real shop. The shop serves, as JSON in the
//! shapes of domain::commerce, domain::catalogue and domain::coupon:
//!   GET  {base}/orders/{order_no}?buyer={account}           -> Order, 404 if not the buyer's
//!   GET  {base}/orders/{order_no}/shipment?buyer={account}  -> Shipment, 404 if none
//!   GET  {base}/buyers/{account}/orders?limit={n}           -> [Order], newest first
//!   GET  {base}/products/{sku}                              -> Product, 404 if none
//!   GET  {base}/products?q={text}&limit={n}                 -> [Product] whose title, category or
//!                                                              sku contains the text (all when empty)
//!   GET  {base}/products?after={sku}&limit={n}              -> [Product] by sku (byte order) after
//!                                                              that sku; the first page without `after`
//!   GET  {base}/order-baskets?limit={n}                     -> [[sku]], one list per order, newest first
//!   GET  {base}/buyers/{account}/member-level               -> {"level": "gold"} or {"level": null}
//!   GET  {base}/member-levels                               -> ["regular", "gold", ...], lowest first
//!   GET  {base}/coupons                                     -> [Coupon], newest first
//!   GET  {base}/coupons/{id}                                -> Coupon, 404 if none
//!   GET  {base}/buyers/{account}/coupons                    -> ["SHOP20", ...]: the ids the buyer holds
//!   POST {base}/buyers/{account}/coupons/{id}/claim  {"claimed_at": unix_ms}
//!        -> {"outcome": "claimed" | "already_claimed" | "sold_out" | "expired" | "unknown"}
//! A 404 on a list, a member level or a coupon reads as none, as the port's
//! defaults have it: a shop that serves only its orders leaves the rest out.
//! A claim's outcome is read from its body whether the shop answers 2xx, 409
//! Conflict or 410 Gone; without one, 2xx with an empty body is `claimed`, 409
//! `sold_out`, 410 `expired`, and 404 `unknown`. An order of another buyer is
//! dropped here too, and a list longer than asked is cut.
//! An optional bearer token authenticates Xiaoer to the shop. Each call has 5 s.
//! Errors name the endpoint by its template, never by its URL, which would
//! carry the buyer's account.

use crate::domain::catalogue::{Product, Sku};
use crate::domain::commerce::{Order, OrderNumber, Shipment};
use crate::domain::coupon::{Claim, Coupon, CouponId};
use crate::ports::{Commerce, CommerceError};
use reqwest::StatusCode;
use std::time::Duration;

const ORDER: &str = "GET orders/{order_no}";
const SHIPMENT: &str = "GET orders/{order_no}/shipment";
const RECENT_ORDERS: &str = "GET buyers/{account}/orders";
const PRODUCT: &str = "GET products/{sku}";
const PRODUCTS: &str = "GET products";
const ORDER_BASKETS: &str = "GET order-baskets";
const MEMBER_LEVEL: &str = "GET buyers/{account}/member-level";
const MEMBER_LEVELS: &str = "GET member-levels";
const COUPONS: &str = "GET coupons";
const COUPON: &str = "GET coupons/{id}";
const HELD_COUPONS: &str = "GET buyers/{account}/coupons";
const CLAIM: &str = "POST buyers/{account}/coupons/{id}/claim";

pub struct HttpCommerce {
    base: reqwest::Url,
    client: reqwest::Client,
    token: Option<String>,
}

#[derive(serde::Deserialize)]
struct MemberLevel {
    level: Option<String>,
}

#[derive(serde::Serialize)]
struct ClaimRequest {
    claimed_at: i64,
}

#[derive(serde::Deserialize)]
struct ClaimAnswer {
    outcome: Claim,
}

impl HttpCommerce {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CommerceError> {
        let mut base = reqwest::Url::parse(base)
            .map_err(|e| CommerceError::Unavailable(format!("commerce_url: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let client = crate::net::client_builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CommerceError::Unavailable(e.to_string()))?;
        Ok(Self {
            base,
            client,
            token,
        })
    }

    /// The base with these path segments (each percent-encoded: an account
    /// with a '/' stays one segment) and query pairs.
    fn url(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<reqwest::Url, CommerceError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| CommerceError::Unavailable("commerce_url cannot be a base".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends the request with the token; the status and the whole body.
    #[tracing::instrument(skip_all, fields(endpoint = what))]
    async fn send(
        &self,
        what: &'static str,
        mut request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), CommerceError> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let unavailable = |e| CommerceError::Unavailable(format!("{what}: {}", causes(e)));
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unavailable)?;
        Ok((status, body.to_vec()))
    }

    /// The JSON at `url`; none on 404.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        url: reqwest::Url,
    ) -> Result<Option<T>, CommerceError> {
        let (status, body) = self.send(what, self.client.get(url)).await?;
        read(what, status, &body)
    }

    /// Posts `body` as JSON to `url`; the shop's status and answer, for the caller to read.
    async fn post(
        &self,
        what: &'static str,
        url: reqwest::Url,
        body: &impl serde::Serialize,
    ) -> Result<(StatusCode, Vec<u8>), CommerceError> {
        self.send(what, self.client.post(url).json(body)).await
    }
}

/// The error and its causes in one line, without the URL.
fn causes(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut line = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// A GET's answer: the value, none on 404, an error on any other failure or
/// on a body that is not the JSON expected.
fn read<T: serde::de::DeserializeOwned>(
    what: &'static str,
    status: StatusCode,
    body: &[u8],
) -> Result<Option<T>, CommerceError> {
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(CommerceError::Unavailable(format!(
            "{what}: shop answered {status}"
        )));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| CommerceError::BadResponse(format!("{what}: {e}")))
}

/// A claim's outcome from the shop's answer (see the module's comment).
fn claim_of(status: StatusCode, body: &[u8]) -> Result<Claim, CommerceError> {
    if status == StatusCode::NOT_FOUND {
        return Ok(Claim::Unknown);
    }
    let refused = matches!(status, StatusCode::CONFLICT | StatusCode::GONE);
    if !status.is_success() && !refused {
        return Err(CommerceError::Unavailable(format!(
            "{CLAIM}: shop answered {status}"
        )));
    }
    let answer = serde_json::from_slice::<ClaimAnswer>(body);
    match (answer, status) {
        (Ok(answer), _) => Ok(answer.outcome),
        (Err(_), StatusCode::CONFLICT) => Ok(Claim::SoldOut),
        (Err(_), StatusCode::GONE) => Ok(Claim::Expired),
        (Err(_), _) if body.trim_ascii().is_empty() => Ok(Claim::Claimed),
        (Err(e), _) => Err(CommerceError::BadResponse(format!("{CLAIM}: {e}"))),
    }
}

#[async_trait::async_trait]
impl Commerce for HttpCommerce {
    async fn order(
        &self,
        buyer_account: &str,
        order_no: &OrderNumber,
    ) -> Result<Option<Order>, CommerceError> {
        let url = self.url(&["orders", order_no.as_str()], &[("buyer", buyer_account)])?;
        let order: Option<Order> = self.get(ORDER, url).await?;
        // The shop may not filter by buyer: we do.
        Ok(order.filter(|o| o.buyer_account == buyer_account))
    }

    async fn shipment(
        &self,
        buyer_account: &str,
        order_no: &OrderNumber,
    ) -> Result<Option<Shipment>, CommerceError> {
        if self.order(buyer_account, order_no).await?.is_none() {
            return Ok(None);
        }
        let url = self.url(
            &["orders", order_no.as_str(), "shipment"],
            &[("buyer", buyer_account)],
        )?;
        self.get(SHIPMENT, url).await
    }

    async fn recent_orders(
        &self,
        buyer_account: &str,
        limit: i64,
    ) -> Result<Vec<Order>, CommerceError> {
        let limit = limit.to_string();
        let url = self.url(&["buyers", buyer_account, "orders"], &[("limit", &limit)])?;
        let orders: Option<Vec<Order>> = self.get(RECENT_ORDERS, url).await?;
        Ok(orders
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.buyer_account == buyer_account)
            .collect())
    }

    async fn product(&self, sku: &Sku) -> Result<Option<Product>, CommerceError> {
        let url = self.url(&["products", sku.as_str()], &[])?;
        self.get(PRODUCT, url).await
    }

    async fn search_products(
        &self,
        query: &str,
        limit: i64,
    ) -> Result<Vec<Product>, CommerceError> {
        let count = limit.to_string();
        let url = self.url(&["products"], &[("q", query.trim()), ("limit", &count)])?;
        let found: Option<Vec<Product>> = self.get(PRODUCTS, url).await?;
        Ok(at_most(found.unwrap_or_default(), limit))
    }

    async fn catalogue_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Product>, CommerceError> {
        let count = limit.to_string();
        let mut query = vec![("limit", count.as_str())];
        if let Some(after) = after {
            query.insert(0, ("after", after));
        }
        let url = self.url(&["products"], &query)?;
        let page: Option<Vec<Product>> = self.get(PRODUCTS, url).await?;
        // A shop that does not page would give the same products again: the
        // reader stops at a page with nothing after `after`.
        let page = page
            .unwrap_or_default()
            .into_iter()
            .filter(|p| after.is_none_or(|after| p.sku.as_str() > after));
        Ok(at_most(page.collect(), limit))
    }

    async fn order_baskets(&self, limit: i64) -> Result<Vec<Vec<String>>, CommerceError> {
        let count = limit.to_string();
        let url = self.url(&["order-baskets"], &[("limit", &count)])?;
        let baskets: Option<Vec<Vec<String>>> = self.get(ORDER_BASKETS, url).await?;
        Ok(at_most(baskets.unwrap_or_default(), limit))
    }

    async fn member_level(&self, buyer_account: &str) -> Result<Option<String>, CommerceError> {
        let url = self.url(&["buyers", buyer_account, "member-level"], &[])?;
        let level: Option<MemberLevel> = self.get(MEMBER_LEVEL, url).await?;
        Ok(level.and_then(|l| l.level).filter(|l| !l.trim().is_empty()))
    }

    async fn member_levels(&self) -> Result<Vec<String>, CommerceError> {
        let url = self.url(&["member-levels"], &[])?;
        let levels: Option<Vec<String>> = self.get(MEMBER_LEVELS, url).await?;
        Ok(levels.unwrap_or_default())
    }

    async fn coupons(&self) -> Result<Vec<Coupon>, CommerceError> {
        let url = self.url(&["coupons"], &[])?;
        let coupons: Option<Vec<Coupon>> = self.get(COUPONS, url).await?;
        Ok(coupons.unwrap_or_default())
    }

    async fn coupon(&self, id: &CouponId) -> Result<Option<Coupon>, CommerceError> {
        let url = self.url(&["coupons", id.as_str()], &[])?;
        self.get(COUPON, url).await
    }

    async fn claimed_coupons(&self, buyer_account: &str) -> Result<Vec<CouponId>, CommerceError> {
        let url = self.url(&["buyers", buyer_account, "coupons"], &[])?;
        let held: Option<Vec<String>> = self.get(HELD_COUPONS, url).await?;
        // An id that is not one of ours cannot be on a card: skipped.
        Ok(held
            .unwrap_or_default()
            .iter()
            .filter_map(|id| CouponId::parse(id).ok())
            .collect())
    }

    async fn claim_coupon(
        &self,
        buyer_account: &str,
        id: &CouponId,
        now_ms: i64,
    ) -> Result<Claim, CommerceError> {
        let url = self.url(
            &["buyers", buyer_account, "coupons", id.as_str(), "claim"],
            &[],
        )?;
        let request = ClaimRequest { claimed_at: now_ms };
        let (status, body) = self.post(CLAIM, url, &request).await?;
        claim_of(status, &body)
    }
}

/// The first `limit` of a list (a shop may answer more than asked).
fn at_most<T>(mut list: Vec<T>, limit: i64) -> Vec<T> {
    list.truncate(usize::try_from(limit).unwrap_or(0));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(base: &str) -> HttpCommerce {
        HttpCommerce::new(base, None).unwrap()
    }

    #[test]
    fn urls_keep_the_bases_path_and_encode_each_segment_and_query() {
        for base in ["http://shop.test/api", "http://shop.test/api/"] {
            let url = shop(base)
                .url(&["buyers", "li/wei 1", "coupons", "SHOP20", "claim"], &[])
                .unwrap();
            assert_eq!(
                url.as_str(),
                "http://shop.test/api/buyers/li%2Fwei%201/coupons/SHOP20/claim"
            );
        }
        let url = shop("http://shop.test")
            .url(&["products"], &[("q", "连衣裙 & 裤"), ("limit", "20")])
            .unwrap();
        assert_eq!(url.path(), "/products");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("q".to_owned(), "连衣裙 & 裤".to_owned()),
                ("limit".to_owned(), "20".to_owned())
            ]
        );
        assert_eq!(
            shop("http://shop.test/")
                .url(&["coupons"], &[])
                .unwrap()
                .query(),
            None
        );
    }

    #[test]
    fn a_get_reads_json_none_on_404_and_says_what_went_wrong_otherwise() {
        let ok: Option<Vec<String>> = read(MEMBER_LEVELS, StatusCode::OK, br#"["gold"]"#).unwrap();
        assert_eq!(ok, Some(vec!["gold".to_owned()]));
        let none: Option<Vec<String>> = read(MEMBER_LEVELS, StatusCode::NOT_FOUND, b"").unwrap();
        assert_eq!(none, None);
        let down = read::<Vec<String>>(MEMBER_LEVELS, StatusCode::BAD_GATEWAY, b"<html>");
        assert!(
            matches!(&down, Err(CommerceError::Unavailable(m)) if m == "GET member-levels: shop answered 502 Bad Gateway"),
            "{down:?}"
        );
        let garbled = read::<Vec<Coupon>>(COUPONS, StatusCode::OK, b"<html>oops</html>");
        assert!(
            matches!(&garbled, Err(CommerceError::BadResponse(m)) if m.starts_with("GET coupons: ")),
            "{garbled:?}"
        );
    }

    #[test]
    fn a_claim_reads_the_outcome_else_the_status() {
        let cases: [(StatusCode, &[u8], Claim); 9] = [
            (StatusCode::OK, br#"{"outcome":"claimed"}"#, Claim::Claimed),
            (
                StatusCode::OK,
                br#"{"outcome":"already_claimed"}"#,
                Claim::AlreadyClaimed,
            ),
            (
                StatusCode::CONFLICT,
                br#"{"outcome":"already_claimed"}"#,
                Claim::AlreadyClaimed,
            ),
            (
                StatusCode::CONFLICT,
                br#"{"outcome":"sold_out"}"#,
                Claim::SoldOut,
            ),
            (
                StatusCode::GONE,
                br#"{"outcome":"expired"}"#,
                Claim::Expired,
            ),
            (StatusCode::CREATED, b"", Claim::Claimed),
            (StatusCode::CONFLICT, b"Conflict", Claim::SoldOut),
            (StatusCode::GONE, b"", Claim::Expired),
            (StatusCode::NOT_FOUND, b"{}", Claim::Unknown),
        ];
        for (status, body, want) in cases {
            assert_eq!(claim_of(status, body).unwrap(), want, "{status}");
        }
        assert!(matches!(
            claim_of(StatusCode::OK, b"{\"outcome\":\"maybe\"}"),
            Err(CommerceError::BadResponse(_))
        ));
        assert!(matches!(
            claim_of(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"outcome":"claimed"}"#
            ),
            Err(CommerceError::Unavailable(_))
        ));
    }

    #[test]
    fn a_longer_list_than_asked_is_cut() {
        assert_eq!(at_most(vec![1, 2, 3], 2), [1, 2]);
        assert_eq!(at_most(vec![1, 2, 3], -1), Vec::<i32>::new());
    }

    #[tokio::test]
    async fn an_unreachable_shop_is_unavailable_and_its_error_names_no_account() {
        // A port nothing listens on: bound, then let go.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let shop = shop(&format!("http://{addr}/api"));
        let err = shop.member_level("buyer-secret-7").await.unwrap_err();
        let CommerceError::Unavailable(message) = err else {
            panic!("{err:?}");
        };
        assert!(
            message.starts_with("GET buyers/{account}/member-level: "),
            "{message}"
        );
        assert!(!message.contains("buyer-secret-7"), "{message}");
    }
}
