//! The shop's products as chat messages show them: a product card (image,
//! title, price, stock, link) that an agent or the bot sends, and that the
//! buyer can add to the cart from the chat.

use serde::{Deserialize, Serialize};

/// A product of the shop's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub title: String,
    pub category: String,
    /// What the product is and is for, in a sentence or two (the shop's
    /// words; empty when it has none). Recommendations compare it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// In the shop's smallest currency unit (分).
    pub price_cents: i64,
    pub stock: i64,
    /// A path on this server or an absolute URL.
    pub image_url: String,
    /// The product's page.
    pub link: String,
}

/// What a product card message carries: the product as it was when sent.
pub type ProductCard = Product;

/// A product code from a URL or a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sku must be 1 to 64 letters, digits, '-' or '_'")]
pub struct BadSku;

impl Sku {
    pub fn parse(raw: &str) -> Result<Sku, BadSku> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if ok {
            Ok(Sku(raw.to_owned()))
        } else {
            Err(BadSku)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The product a shop page shows, when its URL names one (`?sku=`).
    pub fn of_page(url: &str) -> Option<Sku> {
        let url = url::Url::parse(url).ok()?;
        let sku = url.query_pairs().find(|(k, _)| k == "sku")?.1.into_owned();
        Sku::parse(&sku).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_page_names_its_sku() {
        assert_eq!(
            Sku::of_page("https://shop.example/demo/?sku=TS-001&utm_source=x").map(|s| s.0),
            Some("TS-001".into())
        );
        assert_eq!(Sku::of_page("https://shop.example/demo/"), None);
        assert!(Sku::parse("../etc").is_err());
    }
}
