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

/// How the buyer is known: the shop account the shop vouched for (none for an
/// anonymous visitor) and a display name, which is not secret but short and clean.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuyerIdentity {
    pub account: Option<VerifiedAccount>,
    pub nickname: Option<String>,
}

impl BuyerIdentity {
    pub fn new(
        account: Option<VerifiedAccount>,
        nickname: Option<String>,
    ) -> Result<Self, VisitorInputError> {
        Ok(Self {
            account,
            nickname: bounded_opt("nickname", nickname, 64)?,
        })
    }
}

/// The longest a shop may vouch for a buyer with one signature: a leaked
/// signature is worthless after this.
pub const MAX_IDENTITY_LIFETIME_SECS: i64 = 24 * 3600;

/// What the shop's page or app sends to vouch for a buyer: the account id, until
/// when (Unix seconds) the shop vouches, and, in hex, the
/// HMAC-SHA256 with the shop's identity secret of `"{account_id}.{expires_at}"`.
/// The expiry is digits only, so the text after the last dot is always the expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedIdentity {
    pub account_id: String,
    pub expires_at: i64,
    pub signature: String,
}

/// A shop account the shop has vouched for. Only [`SignedIdentity::verify`] makes
/// one, so holding it is proof that the signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccount(String);

impl VerifiedAccount {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "identity.account_id must be 1 to 128 characters, without control characters or surrounding spaces"
    )]
    BadAccount,
    #[error("identity.signature must be 64 hex characters")]
    MalformedSignature,
    #[error("the identity signature does not match: sign with the shop's identity secret")]
    BadSignature,
    #[error("the signed identity has expired: sign it again")]
    Expired,
    #[error("the signed identity may be valid for 24 hours at most")]
    TooLongLived,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn identity_mac(secret: &[u8], account_id: &str, expires_at: i64) -> HmacSha256 {
    use hmac::Mac;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{account_id}.{expires_at}").as_bytes());
    mac
}

impl SignedIdentity {
    /// What the shop does (and the demo store, for its own demo buyers).
    pub fn sign(account_id: &str, expires_at: i64, secret: &[u8]) -> Self {
        use hmac::Mac;
        let tag = identity_mac(secret, account_id, expires_at).finalize();
        Self {
            account_id: account_id.to_owned(),
            expires_at,
            signature: hex::encode(tag.into_bytes()),
        }
    }

    /// Checks the signature (in constant time) and the expiry at `now_secs`.
    pub fn verify(&self, secret: &[u8], now_secs: i64) -> Result<VerifiedAccount, IdentityError> {
        use hmac::Mac;
        let account = &self.account_id;
        if account.is_empty()
            || account.chars().count() > 128
            || account.chars().any(char::is_control)
            || account.trim() != account
        {
            return Err(IdentityError::BadAccount);
        }
        let tag = match hex::decode(&self.signature) {
            Ok(tag) if tag.len() == 32 => tag,
            _ => return Err(IdentityError::MalformedSignature),
        };
        identity_mac(secret, account, self.expires_at)
            .verify_slice(&tag)
            .map_err(|_| IdentityError::BadSignature)?;
        if self.expires_at <= now_secs {
            return Err(IdentityError::Expired);
        }
        if self.expires_at - now_secs > MAX_IDENTITY_LIFETIME_SECS {
            return Err(IdentityError::TooLongLived);
        }
        Ok(VerifiedAccount(account.clone()))
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

    const SECRET: &[u8] = b"a shop secret of at least 32 bytes!";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_signed_identity_verifies_with_the_same_secret_before_it_expires() {
        let signed = SignedIdentity::sign("tb_123", NOW + 600, SECRET);
        let account = signed.verify(SECRET, NOW).unwrap();
        assert_eq!(account.as_str(), "tb_123");
    }

    #[test]
    fn the_signature_matches_the_documented_recipe() {
        // printf '%s' 'tb_123.1800000600' | openssl dgst -sha256 -hmac 'a shop secret of at least 32 bytes!'
        let signed = SignedIdentity::sign("tb_123", NOW + 600, SECRET);
        assert_eq!(
            signed.signature,
            "a176135875de0f7e1c23e819495222027a5ac62fda975f169bdcc639c5e0931c"
        );
    }

    #[test]
    fn another_account_another_expiry_or_another_secret_does_not_verify() {
        let signed = SignedIdentity::sign("tb_123", NOW + 600, SECRET);
        let other_account = SignedIdentity {
            account_id: "tb_999".into(),
            ..signed.clone()
        };
        let later = SignedIdentity {
            expires_at: NOW + 700,
            ..signed.clone()
        };
        for forged in [&other_account, &later] {
            assert_eq!(forged.verify(SECRET, NOW), Err(IdentityError::BadSignature));
        }
        assert_eq!(
            signed.verify(b"another secret", NOW),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn an_expired_or_too_long_lived_identity_is_refused() {
        let expired = SignedIdentity::sign("tb_123", NOW, SECRET);
        assert_eq!(expired.verify(SECRET, NOW), Err(IdentityError::Expired));
        let forever = SignedIdentity::sign("tb_123", NOW + MAX_IDENTITY_LIFETIME_SECS + 1, SECRET);
        assert_eq!(
            forever.verify(SECRET, NOW),
            Err(IdentityError::TooLongLived)
        );
    }

    #[test]
    fn malformed_identities_are_refused_before_any_check() {
        let mut signed = SignedIdentity::sign("tb_123", NOW + 600, SECRET);
        signed.signature.truncate(10);
        assert_eq!(
            signed.verify(SECRET, NOW),
            Err(IdentityError::MalformedSignature)
        );
        let padded = SignedIdentity::sign(" tb_123", NOW + 600, SECRET);
        assert_eq!(padded.verify(SECRET, NOW), Err(IdentityError::BadAccount));
    }

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
