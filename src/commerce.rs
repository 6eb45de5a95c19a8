//! The Commerce port over HTTP, for a real shop. The shop serves, as JSON in the
//! shapes of domain::commerce:
//!   GET {base}/orders/{order_no}?buyer={account}           -> Order, 404 if not the buyer's
//!   GET {base}/orders/{order_no}/shipment?buyer={account}  -> Shipment, 404 if none
//!   GET {base}/buyers/{account}/orders?limit={n}           -> [Order], newest first
//! An optional bearer token authenticates Xiaoer to the shop.

use crate::domain::commerce::{Order, OrderNumber, Shipment};
use crate::ports::{Commerce, CommerceError};
use std::time::Duration;

pub struct HttpCommerce {
    base: reqwest::Url,
    client: reqwest::Client,
    token: Option<String>,
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

    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, CommerceError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| CommerceError::Unavailable("commerce_url cannot be a base".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        mut url: reqwest::Url,
        query: &[(&str, String)],
    ) -> Result<Option<T>, CommerceError> {
        url.query_pairs_mut().extend_pairs(query);
        let mut request = self.client.get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CommerceError::Unavailable(e.to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(CommerceError::Unavailable(format!(
                "shop answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|e| CommerceError::BadResponse(e.to_string()))
    }
}

#[async_trait::async_trait]
impl Commerce for HttpCommerce {
    async fn order(
        &self,
        buyer_account: &str,
        order_no: &OrderNumber,
    ) -> Result<Option<Order>, CommerceError> {
        let url = self.url(&["orders", order_no.as_str()])?;
        let order: Option<Order> = self
            .get(url, &[("buyer", buyer_account.to_owned())])
            .await?;
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
        let url = self.url(&["orders", order_no.as_str(), "shipment"])?;
        self.get(url, &[("buyer", buyer_account.to_owned())]).await
    }

    async fn recent_orders(
        &self,
        buyer_account: &str,
        limit: i64,
    ) -> Result<Vec<Order>, CommerceError> {
        let url = self.url(&["buyers", buyer_account, "orders"])?;
        let orders: Option<Vec<Order>> = self.get(url, &[("limit", limit.to_string())]).await?;
        Ok(orders
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.buyer_account == buyer_account)
            .collect())
    }
}
