//! The buyer: identity, the personal data that must be encrypted at rest, and the
//! browsing context the widget or the shop reports.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitorInputError {
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    #[error("phone must be 5 to 20 digits, optionally with +, spaces or dashes")]
    BadPhone,
    #[error("too many {field} (at most {max})")]
    TooMany { field: &'static str, max: usize },
    #[error("cart quantity must be between 1 and 9999")]
    BadQuantity,
    #[error("{field} contains control characters")]
    ControlCharacters { field: &'static str },
    #[error("{field} must be an absolute http or https URL")]
    BadUrl { field: &'static str },
}

fn bounded(field: &'static str, raw: &str, max: usize) -> Result<String, VisitorInputError> {
    if raw.chars().count() > max {
        return Err(VisitorInputError::TooLong { field, max });
    }
    if raw.chars().any(char::is_control) {
        return Err(VisitorInputError::ControlCharacters { field });
    }
    Ok(raw.trim().to_owned())
}

fn bounded_opt(
    field: &'static str,
    raw: Option<String>,
    max: usize,
) -> Result<Option<String>, VisitorInputError> {
    raw.map(|r| bounded(field, &r, max))
        .transpose()
        .map(|o| o.filter(|s| !s.is_empty()))
}

/// A page address the buyer's side reports and staff may open as a link: only
/// absolute http(s) URLs with a host, so `javascript:` or `data:` never reach
/// the console. The text is kept as sent (trimmed).
pub fn page_url(field: &'static str, raw: &str) -> Result<String, VisitorInputError> {
    let text = bounded(field, raw, 2048)?;
    let parsed = url::Url::parse(&text).map_err(|_| VisitorInputError::BadUrl { field })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(VisitorInputError::BadUrl { field });
    }
    Ok(text)
}

fn page_url_opt(
    field: &'static str,
    raw: Option<String>,
) -> Result<Option<String>, VisitorInputError> {
    raw.filter(|r| !r.trim().is_empty())
        .map(|r| page_url(field, &r))
        .transpose()
}

/// How the buyer is known to the shop. Not secret, but short and clean.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerIdentity {
    pub shop_account_id: Option<String>,
    pub nickname: Option<String>,
}

impl BuyerIdentity {
    pub fn parse(
        shop_account_id: Option<String>,
        nickname: Option<String>,
    ) -> Result<Self, VisitorInputError> {
        Ok(Self {
            shop_account_id: bounded_opt("shop_account_id", shop_account_id, 128)?,
            nickname: bounded_opt("nickname", nickname, 64)?,
        })
    }
}

/// Personal data: encrypted before it reaches storage, never logged.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerPii {
    pub real_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

impl std::fmt::Debug for BuyerPii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuyerPii(..)")
    }
}

impl BuyerPii {
    pub fn parse(
        real_name: Option<String>,
        phone: Option<String>,
        address: Option<String>,
    ) -> Result<Self, VisitorInputError> {
        let phone = bounded_opt("phone", phone, 20)?;
        if let Some(p) = &phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let allowed = p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
            if !allowed || !(5..=20).contains(&digits) {
                return Err(VisitorInputError::BadPhone);
            }
        }
        Ok(Self {
            real_name: bounded_opt("real_name", real_name, 64)?,
            phone,
            address: bounded_opt("address", address, 256)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartItem {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    /// Price in the shop's smallest currency unit (分).
    pub unit_price_cents: i64,
}

/// What the buyer is looking at and has in the cart, as the widget or the shop reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VisitorContext {
    pub current_page: Option<String>,
    #[serde(default)]
    pub pages_viewed: Vec<PageView>,
    #[serde(default)]
    pub cart: Vec<CartItem>,
}

pub const MAX_PAGES_VIEWED: usize = 200;
pub const MAX_CART_ITEMS: usize = 200;

impl VisitorContext {
    pub fn parse(raw: VisitorContext) -> Result<Self, VisitorInputError> {
        if raw.pages_viewed.len() > MAX_PAGES_VIEWED {
            return Err(VisitorInputError::TooMany {
                field: "pages_viewed",
                max: MAX_PAGES_VIEWED,
            });
        }
        if raw.cart.len() > MAX_CART_ITEMS {
            return Err(VisitorInputError::TooMany {
                field: "cart",
                max: MAX_CART_ITEMS,
            });
        }
        let pages_viewed = raw
            .pages_viewed
            .into_iter()
            .map(|p| {
                Ok(PageView {
                    url: page_url("pages_viewed.url", &p.url)?,
                    title: bounded_opt("pages_viewed.title", p.title, 256)?,
                    at: p.at,
                })
            })
            .collect::<Result<Vec<_>, VisitorInputError>>()?;
        let cart = raw
            .cart
            .into_iter()
            .map(|c| {
                if !(1..=9999).contains(&c.quantity) || c.unit_price_cents < 0 {
                    return Err(VisitorInputError::BadQuantity);
                }
                Ok(CartItem {
                    sku: bounded("cart.sku", &c.sku, 128)?,
                    name: bounded("cart.name", &c.name, 256)?,
                    ..c
                })
            })
            .collect::<Result<Vec<_>, VisitorInputError>>()?;
        Ok(Self {
            current_page: page_url_opt("current_page", raw.current_page)?,
            pages_viewed,
            cart,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_debug_output_hides_the_data() {
        let pii =
            BuyerPii::parse(Some("张三".into()), Some("+86 138-0013-8000".into()), None).unwrap();
        assert_eq!(format!("{pii:?}"), "BuyerPii(..)");
    }

    #[test]
    fn phone_numbers_must_look_like_phone_numbers() {
        assert!(BuyerPii::parse(None, Some("13800138000".into()), None).is_ok());
        assert_eq!(
            BuyerPii::parse(None, Some("call me".into()), None),
            Err(VisitorInputError::BadPhone)
        );
    }

    #[test]
    fn only_http_and_https_page_urls_are_accepted() {
        assert!(page_url("u", "https://shop.example/item/42?from=ad").is_ok());
        assert!(page_url("u", " http://shop.example ").is_ok());
        for bad in [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "//evil.example/x",
            "/relative/path",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                page_url("u", bad),
                Err(VisitorInputError::BadUrl { field: "u" }),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_cart_with_zero_quantity_is_rejected() {
        let raw = VisitorContext {
            cart: vec![CartItem {
                sku: "A1".into(),
                name: "T恤".into(),
                quantity: 0,
                unit_price_cents: 9900,
            }],
            ..Default::default()
        };
        assert_eq!(
            VisitorContext::parse(raw),
            Err(VisitorInputError::BadQuantity)
        );
    }
}
