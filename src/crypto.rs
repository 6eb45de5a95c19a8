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
///
/// A keyring: new values are sealed with the newest key; a value opens with any
/// key of the ring (newest first), so after a rotation old values stay readable
/// while the server re-seals them in the background (`storage::rekey`). The
/// keyed hashes (attachment ids, blind indexes) stay derived from the first key
/// ever used, the root: rotating them would mean recomputing every index from
/// the plaintext, and they reveal nothing without the root.
#[derive(Clone)]
pub struct Cipher {
    /// Oldest first; the last seals.
    keys: Vec<XChaCha20Poly1305>,
    /// A short public fingerprint per key (its place in the ring is not stable
    /// across a retirement; the fingerprint is).
    fingerprints: Vec<String>,
    hash_key: [u8; 32],
    index_key: [u8; 32],
}

/// One line of the key file: a key that seals and opens, or the root kept only
/// to derive the keyed hashes (after `retire`).
#[derive(Debug, Clone, PartialEq)]
struct KeyLine {
    key: [u8; 32],
    index_only: bool,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self::from_ring(key, &[*key])
    }

    /// A ring of `keys` (oldest first, the last seals) whose keyed hashes are
    /// derived from `root`.
    pub fn from_ring(root: &[u8; 32], keys: &[[u8; 32]]) -> Self {
        assert!(!keys.is_empty(), "a keyring holds at least one key");
        // A separate sub-key for content hashes, so the two uses never share a key.
        let hash_key: [u8; 32] = Sha256::new()
            .chain_update(b"xiaoer attachment id v1")
            .chain_update(root)
            .finalize()
            .into();
        let index_key: [u8; 32] = Sha256::new()
            .chain_update(b"xiaoer blind index v1")
            .chain_update(root)
            .finalize()
            .into();
        Self {
            keys: keys
                .iter()
                .map(|k| XChaCha20Poly1305::new(k.into()))
                .collect(),
            fingerprints: keys.iter().map(fingerprint).collect(),
            hash_key,
            index_key,
        }
    }

    /// The ring from settings (hex keys separated by commas, oldest first), else
    /// from the key file in the data dir, created with owner-only permissions on
    /// first run. The data dir (database, attachments, key) is made owner-only
    /// too, and a key file others could read is tightened.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, CryptoError> {
        let key_path = data_dir.join(KEY_FILE);
        owner_only(data_dir, 0o700).map_err(|source| CryptoError::KeyFile {
            path: data_dir.display().to_string(),
            source,
        })?;
        let text = match configured {
            Some(k) => k.replace(',', "\n"),
            None => read_or_create_key_file(&key_path)?,
        };
        if key_path.exists() {
            owner_only(&key_path, 0o600).map_err(|source| CryptoError::KeyFile {
                path: key_path.display().to_string(),
                source,
            })?;
        }
        let lines = parse_key_lines(&text)?;
        let keys: Vec<[u8; 32]> = lines
            .iter()
            .filter(|l| !l.index_only)
            .map(|l| l.key)
            .collect();
        if keys.is_empty() {
            return Err(CryptoError::BadKey);
        }
        Ok(Self::from_ring(&lines[0].key, &keys))
    }

    /// How many keys open values (more than one while a rotation is under way).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The fingerprints of the ring's keys, oldest first.
    pub fn fingerprints(&self) -> &[String] {
        &self.fingerprints
    }

    /// The fingerprint of the key that seals new values.
    pub fn current_fingerprint(&self) -> &str {
        self.fingerprints.last().expect("a key")
    }

    /// The fingerprint of the key a value was sealed with, if any key of the ring
    /// opens it.
    pub fn sealed_with(&self, sealed: &[u8], aad: &[u8]) -> Option<&str> {
        (0..self.keys.len())
            .rev()
            .find(|&i| open_with(&self.keys[i], sealed, aad).is_ok())
            .map(|i| self.fingerprints[i].as_str())
    }

    /// A value sealed with an older key of the ring, sealed again with the
    /// current one; `None` when it already is (or `Tampered` when no key opens it).
    pub fn reseal(&self, sealed: &[u8], aad: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
        let current = self.keys.last().expect("a key");
        if open_with(current, sealed, aad).is_ok() {
            return Ok(None);
        }
        let plain = self.open(sealed, aad)?;
        Ok(Some(self.seal(&plain, aad)))
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .keys
            .last()
            .expect("a key")
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

    /// Opens a value with the ring's newest key that can.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.keys
            .iter()
            .rev()
            .find_map(|key| open_with(key, sealed, aad).ok())
            .ok_or(CryptoError::Tampered)
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

fn open_with(key: &XChaCha20Poly1305, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::Tampered);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    key.decrypt(
        XNonce::from_slice(nonce),
        Payload {
            msg: ciphertext,
            aad,
        },
    )
    .map_err(|_| CryptoError::Tampered)
}

/// The first 8 hex digits of SHA-256("xiaoer key fingerprint" || key): names a
/// key in logs and the console without revealing it.
fn fingerprint(key: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(b"xiaoer key fingerprint")
        .chain_update(key)
        .finalize();
    hex::encode(&digest[..4])
}

/// The key file: one key per line in hex, oldest first; the first is the root of
/// the keyed hashes; `index:` marks a root that no longer opens values; blank
/// lines and `#` comments are skipped.
fn parse_key_lines(text: &str) -> Result<Vec<KeyLine>, CryptoError> {
    let mut lines = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (index_only, hex_key) = match line.strip_prefix("index:") {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let bytes = hex::decode(hex_key).map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        lines.push(KeyLine { key, index_only });
    }
    if lines.is_empty() {
        return Err(CryptoError::BadKey);
    }
    Ok(lines)
}

fn write_key_lines(path: &Path, lines: &[KeyLine]) -> Result<(), CryptoError> {
    let mut text = String::from(
        "# xiaoer data keys, oldest first; the last seals new values. Never edit by hand:\n\
         # use `xiaoer keys rotate` and `xiaoer keys retire`.\n",
    );
    for l in lines {
        if l.index_only {
            text.push_str("index:");
        }
        text.push_str(&hex::encode(l.key));
        text.push('\n');
    }
    let io_err = |source| CryptoError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("key.new");
    let _ = std::fs::remove_file(&tmp);
    write_owner_only(&tmp, text.as_bytes()).map_err(io_err)?;
    std::fs::rename(&tmp, path).map_err(io_err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err)?;
    }
    Ok(())
}

/// Adds a new random key to the data dir's key file; it seals everything from the
/// next start on. Returns the new key's fingerprint.
pub fn rotate_key_file(data_dir: &Path) -> Result<String, CryptoError> {
    let path = data_dir.join(KEY_FILE);
    let mut lines = parse_key_lines(&read_or_create_key_file(&path)?)?;
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    lines.push(KeyLine {
        key,
        index_only: false,
    });
    write_key_lines(&path, &lines)?;
    Ok(fingerprint(&key))
}

/// Drops every key but the current one from the data dir's key file (the root
/// stays, marked `index:`, for the keyed hashes). Only safe once nothing is
/// sealed with the older keys: `xiaoer keys retire` checks that first. Returns
/// how many keys stopped opening values.
pub fn retire_old_keys(data_dir: &Path) -> Result<usize, CryptoError> {
    let path = data_dir.join(KEY_FILE);
    let lines = parse_key_lines(&read_or_create_key_file(&path)?)?;
    let openers = lines.iter().filter(|l| !l.index_only).count();
    let current = lines
        .iter()
        .rev()
        .find(|l| !l.index_only)
        .cloned()
        .ok_or(CryptoError::BadKey)?;
    let root = &lines[0];
    let mut kept = Vec::new();
    if root.key != current.key {
        kept.push(KeyLine {
            key: root.key,
            index_only: true,
        });
    }
    kept.push(current);
    write_key_lines(&path, &kept)?;
    Ok(openers - 1)
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

    fn assert_owner_only(path: &Path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        #[cfg(not(unix))]
        let _ = path;
    }

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
        assert_owner_only(&dir.path().join(KEY_FILE));
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
    fn after_a_rotation_old_values_open_new_ones_use_the_new_key_and_hashes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let before = Cipher::load(None, dir.path()).unwrap();
        let old = before.seal(b"13800138000", b"v1");
        let fp = rotate_key_file(dir.path()).unwrap();
        let ring = Cipher::load(None, dir.path()).unwrap();
        assert_eq!(ring.key_count(), 2);
        assert_eq!(ring.current_fingerprint(), fp);
        assert_eq!(ring.open(&old, b"v1").unwrap(), b"13800138000");
        assert_eq!(
            ring.sealed_with(&old, b"v1"),
            Some(before.current_fingerprint())
        );
        let new = ring.seal(b"x", b"v1");
        assert!(
            before.open(&new, b"v1").is_err(),
            "new values use the new key"
        );
        // Keyed hashes are unchanged by a rotation.
        assert_eq!(
            before.blind_index("account", "u1"),
            ring.blind_index("account", "u1")
        );
        assert_eq!(before.content_id(b"photo"), ring.content_id(b"photo"));
        // Re-sealing moves a value to the current key once.
        let moved = ring.reseal(&old, b"v1").unwrap().unwrap();
        assert_eq!(ring.sealed_with(&moved, b"v1"), Some(fp.as_str()));
        assert!(ring.reseal(&moved, b"v1").unwrap().is_none());
        assert!(
            ring.reseal(&moved, b"v2").is_err(),
            "bound to its owner still"
        );

        // Retired: the old key no longer opens anything; the hashes still match.
        assert_eq!(retire_old_keys(dir.path()).unwrap(), 1);
        let after = Cipher::load(None, dir.path()).unwrap();
        assert_eq!(after.key_count(), 1);
        assert!(after.open(&old, b"v1").is_err());
        assert_eq!(after.open(&moved, b"v1").unwrap(), b"13800138000");
        assert_eq!(
            before.blind_index("account", "u1"),
            after.blind_index("account", "u1")
        );
        assert_owner_only(&dir.path().join(KEY_FILE));
    }

    #[test]
    fn a_configured_ring_is_comma_separated_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (hex::encode([5u8; 32]), hex::encode([6u8; 32]));
        let old = Cipher::from_key(&[5u8; 32]).seal(b"x", b"");
        let ring = Cipher::load(Some(&format!("{a},{b}")), dir.path()).unwrap();
        assert_eq!(ring.open(&old, b"").unwrap(), b"x");
        let new = ring.seal(b"y", b"");
        assert_eq!(Cipher::from_key(&[6u8; 32]).open(&new, b"").unwrap(), b"y");
        assert!(Cipher::load(Some(&format!("{a},zz")), dir.path()).is_err());
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
    }
}
