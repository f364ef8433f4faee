//! Secrets at rest: VIM and SDN passwords are sealed with AES-256-GCM before they are stored,
//! when the operator gives a key. A sealed value reads
//! `rovim-sealed:v1:<key id>:<base64 of nonce and ciphertext>`; the key id (the first 8 hex
//! digits of the key's SHA-256) says which key sealed it without revealing it, so a wrong key
//! is named at start instead of failing as a wrong password on every VIM. The row that owns a
//! secret is bound in as associated data: a sealed password copied to another account does not
//! open there.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rovim_core::{SdnControllerId, VimAccountId};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const PREFIX: &str = "rovim-sealed:v1:";
const NONCE_LEN: usize = 12;

/// Why a key or a sealed value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a secret key is 64 hexadecimal digits (32 bytes; `openssl rand -hex 32`), not {0}")]
    BadKey(String),
    #[error("sealed with key {sealed_with}, and no key was given")]
    NoKey { sealed_with: String },
    #[error("sealed with key {sealed_with}, not with the key given ({given})")]
    OtherKey { sealed_with: String, given: String },
    #[error("the sealed value is damaged or belongs to another row")]
    Damaged,
}

/// The row a secret belongs to (bound into its sealing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOwner {
    VimAccount(VimAccountId),
    SdnController(SdnControllerId),
}

impl SecretOwner {
    fn aad(self) -> String {
        match self {
            SecretOwner::VimAccount(id) => format!("vim_accounts/{id}"),
            SecretOwner::SdnController(id) => format!("sdn_controllers/{id}"),
        }
    }
}

/// A 256-bit key. Its `Debug` shows the key id only, and its bytes are wiped when dropped.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    /// A key from its 64 hex digits (surrounding whitespace ignored, as in a key file).
    pub fn from_hex(text: &str) -> Result<SecretKey, SealError> {
        let text = text.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, &mut *bytes).map_err(|_| {
            SealError::BadKey(if text.len() == 64 {
                "something with other characters".into()
            } else {
                format!("{} characters", text.chars().count())
            })
        })?;
        let digest = Sha256::digest(*bytes);
        let id = hex::encode(&digest[..4]);
        Ok(SecretKey { bytes, id })
    }

    /// The key's public name: the first 8 hex digits of its SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&*self.bytes))
    }

    /// `plain` sealed for `owner` (a fresh random nonce each time).
    pub fn seal(&self, owner: SecretOwner, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = owner.aad();
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short text cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.id, BASE64.encode(blob))
    }
}

/// Whether a stored value is sealed (else it was stored in clear).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The id of the key that sealed `stored`, if it is sealed.
pub fn sealed_with(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)?
        .split_once(':')
        .map(|(id, _)| id)
}

/// Opens a sealed value of `owner` with `key`.
pub fn open(
    key: Option<&SecretKey>,
    owner: SecretOwner,
    stored: &str,
) -> Result<String, SealError> {
    let (id, body) = stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .ok_or(SealError::Damaged)?;
    let key = key.ok_or_else(|| SealError::NoKey {
        sealed_with: id.to_owned(),
    })?;
    if id != key.id {
        return Err(SealError::OtherKey {
            sealed_with: id.to_owned(),
            given: key.id.clone(),
        });
    }
    let blob = BASE64.decode(body).map_err(|_| SealError::Damaged)?;
    if blob.len() <= NONCE_LEN {
        return Err(SealError::Damaged);
    }
    let (nonce, sealed) = blob.split_at(NONCE_LEN);
    let aad = owner.aad();
    let plain = key
        .cipher()
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SealError::Damaged)?;
    String::from_utf8(plain).map_err(|_| SealError::Damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_hex(&hex::encode([byte; 32])).unwrap()
    }

    fn owner() -> SecretOwner {
        SecretOwner::VimAccount(VimAccountId::generate())
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_row() {
        let (k, other) = (key(1), key(2));
        let me = owner();
        let sealed = k.seal(me, "hunter2");
        assert!(
            is_sealed(&sealed) && !sealed.contains("hunter2"),
            "{sealed}"
        );
        assert_eq!(sealed_with(&sealed), Some(k.id()));
        assert_ne!(k.seal(me, "hunter2"), sealed, "a fresh nonce each time");
        assert_eq!(open(Some(&k), me, &sealed).unwrap(), "hunter2");
        assert!(matches!(
            open(None, me, &sealed),
            Err(SealError::NoKey { .. })
        ));
        assert!(matches!(
            open(Some(&other), me, &sealed),
            Err(SealError::OtherKey { .. })
        ));
        assert_eq!(
            open(Some(&k), owner(), &sealed),
            Err(SealError::Damaged),
            "another row"
        );
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            open(Some(&k), me, &String::from_utf8(flipped).unwrap()),
            Err(SealError::Damaged)
        );
    }

    #[test]
    fn keys_are_64_hex_digits_and_never_shown() {
        assert!(SecretKey::from_hex("abcd").is_err());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_err());
        let k = SecretKey::from_hex(&format!("  {}\n", "0f".repeat(32))).unwrap();
        assert_eq!(k.id().len(), 8);
        assert!(!format!("{k:?}").contains("0f0f"));
    }

    proptest! {
        #[test]
        fn sealing_round_trips(plain in ".{0,200}") {
            let (k, me) = (key(7), owner());
            prop_assert_eq!(open(Some(&k), me, &k.seal(me, &plain)).unwrap(), plain);
        }
    }
}
