//! Keys from a JSON Web Key Set (feature `jwt`, with the HTTP client of `lambda` or `local`):
//! fetched from the set's URL (or from an OpenID Connect issuer's discovery document), cached,
//! fetched again when the cache's lifetime is over, and at once (at most once per interval) when
//! a token names a key the cache does not have. Only public-key algorithms: a JWKS never makes
//! an HMAC secret.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Where the keys come from.
#[derive(Clone, Debug)]
pub(super) enum Source {
    /// A JWKS URL.
    Jwks(String),
    /// An OpenID Connect issuer: its `/.well-known/openid-configuration` names the JWKS.
    Issuer(String),
}

/// The largest JWKS or discovery document read.
const MAX_DOCUMENT: usize = 1024 * 1024;
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest time between two fetches for an unknown `kid`, and between two attempts at a
/// provider that failed (shorter when the cache's lifetime is).
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// A key of the set: its decoding key and the algorithms it may sign with.
struct Key {
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    /// Keys without a `kid` (a token without one may use any of them).
    anonymous: Vec<Key>,
    fetched_at: Option<Instant>,
    /// When a fetch last ran (successful or not): a provider that fails is not asked again
    /// for every token.
    tried_at: Option<Instant>,
    /// When an unknown `kid` last fetched the set: the rate limit of those fetches.
    refetched_at: Option<Instant>,
    /// The JWKS URL, once discovery found it.
    jwks_uri: Option<String>,
}

/// A remote key set.
pub(super) struct RemoteKeys {
    source: Source,
    pub(super) ttl: Duration,
    cache: tokio::sync::Mutex<Cache>,
}

impl RemoteKeys {
    pub(super) fn new(source: Source) -> Self {
        RemoteKeys {
            source,
            ttl: Duration::from_secs(600),
            cache: tokio::sync::Mutex::default(),
        }
    }

    /// Fetches from `source` from now on.
    pub(super) fn set_source(&mut self, source: Source) {
        self.source = source;
    }

    /// The key that verifies a token with this `kid` and `alg`: from the cache, or fetched.
    /// `Err` says why not (for the log).
    pub(super) async fn key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, String> {
        let mut cache = self.cache.lock().await;
        let interval = REFETCH_INTERVAL.min(self.ttl);
        let stale = cache.fetched_at.is_none_or(|at| at.elapsed() >= self.ttl);
        if stale && cache.tried_at.is_none_or(|at| at.elapsed() >= interval) {
            self.refresh(&mut cache).await;
        }
        if let Some(key) = find(&cache, kid, alg)? {
            return Ok(key);
        }
        // A key the cache does not have: the set may have rotated. Fetched again, at most once
        // per interval, so a flood of bad tokens cannot make the function hammer the provider.
        if !stale && cache.refetched_at.is_none_or(|at| at.elapsed() >= interval) {
            cache.refetched_at = Some(Instant::now());
            self.refresh(&mut cache).await;
            if let Some(key) = find(&cache, kid, alg)? {
                return Ok(key);
            }
        }
        Err(match kid {
            Some(kid) => format!("no key `{kid}` in the JWKS"),
            None => "the token names no key (`kid`) and no key of the JWKS verifies it".into(),
        })
    }

    /// Fetches the set; on failure the keys cached so far stay (logged).
    async fn refresh(&self, cache: &mut Cache) {
        cache.tried_at = Some(Instant::now());
        match self.fetch(cache.jwks_uri.clone()).await {
            Ok((set, jwks_uri)) => {
                let (keys, anonymous) = decode_set(&set);
                tracing::debug!(keys = keys.len() + anonymous.len(), "JWKS fetched");
                cache.keys = keys;
                cache.anonymous = anonymous;
                cache.fetched_at = Some(Instant::now());
                cache.jwks_uri = Some(jwks_uri);
            }
            Err(err) => {
                tracing::warn!(source = ?self.source, error = %err, "could not fetch the JWKS: the keys cached so far stay in use");
            }
        }
    }

    async fn fetch(&self, known_uri: Option<String>) -> Result<(JwkSet, String), crate::Error> {
        let uri = match (&self.source, known_uri) {
            (Source::Jwks(url), _) => url.clone(),
            (Source::Issuer(_), Some(uri)) => uri,
            (Source::Issuer(issuer), None) => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let document: serde_json::Value = get_json(&discovery).await?;
                document["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| format!("{discovery} names no jwks_uri"))?
                    .to_owned()
            }
        };
        let set: JwkSet = get_json(&uri).await?;
        Ok((set, uri))
    }
}

/// The key for `kid` (or, without one, the only key that signs with `alg`), if it may sign with
/// `alg`.
fn find(cache: &Cache, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, String> {
    let key = match kid {
        Some(kid) => cache.keys.get(kid),
        None => {
            let mut fitting = cache
                .keys
                .values()
                .chain(&cache.anonymous)
                .filter(|k| k.algorithms.contains(&alg));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) => Some(key),
                _ => None,
            }
        }
    };
    match key {
        None => Ok(None),
        Some(key) if key.algorithms.contains(&alg) => Ok(Some(key.key.clone())),
        Some(_) => Err(format!("the key does not sign with {alg:?}")),
    }
}

/// `token` checked against the keys of `document` (a JWKS) as a fetched set's keys check one:
/// the key by `kid` (or the only one fitting), an algorithm it signs with, `exp` required. For
/// the fuzz target of key sets.
pub(crate) fn verify_with_set(document: &[u8], token: &str) -> Result<serde_json::Value, String> {
    let set: JwkSet = serde_json::from_slice(document).map_err(|err| err.to_string())?;
    let (keys, anonymous) = decode_set(&set);
    let cache = Cache {
        keys,
        anonymous,
        ..Cache::default()
    };
    let header = jsonwebtoken::decode_header(token).map_err(|err| err.to_string())?;
    let key = find(&cache, header.kid.as_deref(), header.alg)?
        .ok_or_else(|| "no key of the set verifies it".to_owned())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|err| err.to_string())
}

/// The usable keys of a set, by `kid`, and those without one. Keys of no public-key algorithm
/// (HMAC secrets, unknown types), or unfit to decode, are left out.
fn decode_set(set: &JwkSet) -> (HashMap<String, Key>, Vec<Key>) {
    let mut keys = HashMap::new();
    let mut anonymous = Vec::new();
    for jwk in &set.keys {
        let Some(algorithms) = algorithms_of(jwk) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            tracing::warn!(kid = ?jwk.common.key_id, "a JWKS key that does not decode: left out");
            continue;
        };
        let key = Key { key, algorithms };
        match &jwk.common.key_id {
            Some(kid) => {
                keys.insert(kid.clone(), key);
            }
            None => anonymous.push(key),
        }
    }
    (keys, anonymous)
}

/// The algorithms a key signs with: its `alg` when given (if a public-key one), else those of
/// its type and curve.
fn algorithms_of(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    use Algorithm::*;
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => vec![ES256],
            EllipticCurve::P384 => vec![ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(params) => match params.curve {
            EllipticCurve::Ed25519 => vec![EdDSA],
            _ => return None,
        },
        // HMAC secrets have no place in a published key set.
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(declared) => {
            let declared = Algorithm::try_from(declared).ok()?;
            by_type.contains(&declared).then(|| vec![declared])
        }
    }
}

/// GETs `url` and reads its JSON body (at most 1 MiB, within 5 s).
async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, crate::Error> {
    use hyper_util::client::legacy::Client;
    let client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(crate::outbound::LazyTls::new());
    let uri: http::Uri = url.parse().map_err(|err| format!("{url}: {err}"))?;
    let request = http::Request::get(uri)
        .header("accept", "application/json")
        .body(Empty::new())?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("{url}: no answer within {FETCH_TIMEOUT:?}"))??;
    if !response.status().is_success() {
        return Err(format!("{url}: status {}", response.status()).into());
    }
    let body = tokio::time::timeout(
        FETCH_TIMEOUT,
        Limited::new(response.into_body(), MAX_DOCUMENT).collect(),
    )
    .await
    .map_err(|_| format!("{url}: the body did not come within {FETCH_TIMEOUT:?}"))?
    .map_err(|err| format!("{url}: {err}"))?
    .to_bytes();
    Ok(serde_json::from_slice(&body)
        .map_err(|err| format!("{url}: not the JSON expected: {err}"))?)
}

#[cfg(test)]
mod tests {
    /// An Ed25519 key (made with PyJWT) and a token it signed, valid until 2100.
    const SET: &str = r#"{"keys": [{"x": "mKVvfpixdhBh-Ulf4kNYERjWjarRgcKssgaF6lHTWvU", "kty": "OKP", "crv": "Ed25519", "kid": "o1"}]}"#;
    const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Im8xIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1IiwiZXhwIjo0MTAyNDQ0ODAwfQ.tWQ3lJqS1WuwV7uSHmU-wq60FGvCGbHFp91PBdaKApZA4km4LEZACA6i3oM4vAi2v4cCZNKyM20kQM2C8uPsBw";

    #[test]
    fn a_set_verifies_what_its_keys_signed_and_nothing_else() {
        let claims = super::verify_with_set(SET.as_bytes(), TOKEN).unwrap();
        assert_eq!(claims["sub"], "u");
        let other_kid = SET.replace("\"o1\"", "\"o2\"");
        assert!(super::verify_with_set(other_kid.as_bytes(), TOKEN).is_err());
        let other_key = SET.replace("mKVv", "mKVw");
        assert!(super::verify_with_set(other_key.as_bytes(), TOKEN).is_err());
        let tampered = TOKEN.replace("eyJzdWIiOiJ1Ii", "eyJzdWIiOiJ2Ii");
        assert!(super::verify_with_set(SET.as_bytes(), &tampered).is_err());
    }
}
