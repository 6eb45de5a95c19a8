//! Two-step sign-in codes (TOTP, RFC 6238) for staff who turn them on: the
//! secret an authenticator app shares with the server, HMAC-SHA1 over 30-second
//! steps, six digits, one step of clock difference accepted either way (the
//! `totp-rs` crate). A code is taken once: `check` says which step it matched
//! and the caller accepts only steps after the last one it accepted.

use totp_rs::{Builder, Totp};

/// 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_BYTES: usize = 20;
/// The name authenticator apps show above the code.
const ISSUER: &str = "Xiaoer";

/// A fresh secret from the operating system's generator.
pub fn new_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], account: &str) -> Totp {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build_noncompliant()
}

/// The code for `unix_secs` (what the app shows then).
pub fn code_at(secret: &[u8], unix_secs: i64) -> String {
    totp(secret, "")
        .generate(unix_secs.max(0) as u64)
        .to_string()
}

/// The step `code` is valid for around `unix_secs`, if any.
pub fn check(secret: &[u8], code: &str, unix_secs: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "")
        .check(&code, unix_secs.max(0) as u64)
        .map(|step| step as i64)
}

/// The `otpauth://totp/...` link an authenticator app scans or opens.
pub fn otpauth_url(secret: &[u8], account: &str) -> String {
    totp(secret, account)
        .to_url()
        .unwrap_or_else(|_| format!("otpauth://totp/{ISSUER}?secret={}", base32(secret)))
}

/// The secret as people type it into an app (RFC 4648 base32, no padding).
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

/// A secret as an app shows it, back to its bytes (for tests and tools).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::try_from_base32(text.trim())
        .ok()
        .map(|s| s.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, secret "12345678901234567890": the last six
    /// of its eight-digit codes.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(secret, time), code, "at {time}");
        }
    }

    #[test]
    fn a_code_is_valid_one_step_either_side_and_says_its_step() {
        let secret = new_secret();
        assert_eq!(secret.len(), SECRET_BYTES);
        let now = 1_764_600_000; // a step boundary: 58,820,000 × 30
        let code = code_at(&secret, now);
        assert_eq!(check(&secret, &code, now), Some(now / 30));
        assert_eq!(check(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(check(&secret, &code, now - 1), Some(now / 30));
        assert_eq!(check(&secret, &code, now + 60), None);
        assert_eq!(check(&secret, "12345", now), None);
        assert_eq!(check(&secret, "abcdef", now), None);
        assert_eq!(
            check(&secret, &format!("{} {}", &code[..3], &code[3..]), now),
            Some(now / 30)
        );
    }

    #[test]
    fn the_app_link_carries_the_issuer_account_and_secret() {
        let secret = b"12345678901234567890";
        let url = otpauth_url(secret, "admin-zhao");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains("admin-zhao"), "{url}");
        assert!(url.contains("issuer=Xiaoer"), "{url}");
        assert!(url.contains(&format!("secret={}", base32(secret))), "{url}");
        assert_eq!(base32(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(from_base32(&base32(secret)).unwrap(), secret);
    }
}
