//! Encryption at rest, keyed content hashes, random tokens and password hashing.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

const NONCE_LEN: usize = 24;
const KEY_FILE: &str = "secret.key";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data failed authentication (wrong key or tampered data)")]
    Tampered,
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}

/// XChaCha20-Poly1305 with a random nonce per value. The associated data binds a
/// ciphertext to its owner (a conversation or visitor id), so a value copied to
/// another row does not decrypt.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
    hash_key: [u8; 32],
    index_key: [u8; 32],
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        // A separate sub-key for content hashes, so the two uses never share a key.
        let hash_key: [u8; 32] = Sha256::new()
            .chain_update(b"xiaoer attachment id v1")
            .chain_update(key)
            .finalize()
            .into();
        let index_key: [u8; 32] = Sha256::new()
            .chain_update(b"xiaoer blind index v1")
            .chain_update(key)
            .finalize()
            .into();
        Self {
            aead: XChaCha20Poly1305::new(key.into()),
            hash_key,
            index_key,
        }
    }

    /// The key from settings (hex), else the key file in the data dir, created with
    /// owner-only permissions on first run. The data dir (database, attachments,
    /// key) is made owner-only too, and a key file others could read is tightened.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, CryptoError> {
        let key_path = data_dir.join(KEY_FILE);
        owner_only(data_dir, 0o700).map_err(|source| CryptoError::KeyFile {
            path: data_dir.display().to_string(),
            source,
        })?;
        let hex_key = match configured {
            Some(k) => k.trim().to_owned(),
            None => read_or_create_key_file(&key_path)?,
        };
        if key_path.exists() {
            owner_only(&key_path, 0o600).map_err(|source| CryptoError::KeyFile {
                path: key_path.display().to_string(),
                source,
            })?;
        }
        let bytes = hex::decode(hex_key).map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self::from_key(&key))
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Tampered);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)
    }

    /// HMAC-SHA256 of content under the data key: a stable id that reveals nothing.
    pub fn content_id(&self, content: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key).expect("any key length works");
        mac.update(content);
        mac.finalize().into_bytes().into()
    }
}

impl Cipher {
    /// A keyed blind index of a sealed value, so a row can be found by it (a shop
    /// account id) without storing it in clear. `purpose` keeps the indexes of
    /// different fields apart; without the key the index cannot be guessed at.
    pub fn blind_index(&self, purpose: &str, value: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key).expect("any key length works");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals a text under associated data (see `seal`).
    pub fn seal_text(&self, text: &str, aad: &str) -> Vec<u8> {
        self.seal(text.as_bytes(), aad.as_bytes())
    }

    /// Opens what `seal_text` sealed.
    pub fn open_text(&self, sealed: &[u8], aad: &str) -> Result<String, CryptoError> {
        let plain = self.open(sealed, aad.as_bytes())?;
        String::from_utf8(plain).map_err(|_| CryptoError::Tampered)
    }
}

fn read_or_create_key_file(path: &Path) -> Result<String, CryptoError> {
    let io_err = |source| CryptoError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let hex_key = hex::encode(key);
    write_owner_only(path, hex_key.as_bytes()).map_err(io_err)?;
    Ok(hex_key)
}

/// Sets these permission bits (a no-op off Unix).
fn owner_only(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A bearer token for a visitor or a staff session. Only its SHA-256 is stored, so
/// a copy of the database does not let anyone act as a buyer or an agent.
pub struct Token {
    pub value: String,
    pub hash: Vec<u8>,
}

impl Token {
    pub fn generate(prefix: &str) -> Token {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let value = format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let hash = hash_token(&value);
        Token { value, hash }
    }
}

pub fn hash_token(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Argon2id with the crate's default (OWASP-recommended) parameters. Slow on
/// purpose: call it from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_associated_data() {
        let cipher = Cipher::from_key(&[7u8; 32]);
        let sealed = cipher.seal("手机 13800138000".as_bytes(), b"visitor-1");
        assert_eq!(
            cipher.open(&sealed, b"visitor-1").unwrap(),
            "手机 13800138000".as_bytes()
        );
        assert!(matches!(
            cipher.open(&sealed, b"visitor-2"),
            Err(CryptoError::Tampered)
        ));
    }

    #[test]
    fn a_blind_index_is_stable_keyed_and_kept_apart_by_purpose() {
        let a = Cipher::from_key(&[3u8; 32]);
        let b = Cipher::from_key(&[4u8; 32]);
        assert_eq!(
            a.blind_index("account", "u1"),
            a.blind_index("account", "u1")
        );
        assert_ne!(
            a.blind_index("account", "u1"),
            b.blind_index("account", "u1")
        );
        assert_ne!(
            a.blind_index("account", "u1"),
            a.blind_index("nickname", "u1")
        );
    }

    #[test]
    fn the_same_plaintext_seals_differently_each_time() {
        let cipher = Cipher::from_key(&[1u8; 32]);
        assert_ne!(cipher.seal(b"x", b""), cipher.seal(b"x", b""));
    }

    #[test]
    fn a_generated_key_file_is_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Cipher::load(None, dir.path()).unwrap();
        let b = Cipher::load(None, dir.path()).unwrap();
        let sealed = a.seal(b"secret", b"");
        assert_eq!(b.open(&sealed, b"").unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_malformed_configured_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Cipher::load(Some("abc"), dir.path()),
            Err(CryptoError::BadKey)
        ));
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
    }
}
