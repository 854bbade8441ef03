//! Client identity: which client sent an exchange, by a configurable key (`--client-key`).
//! `auto` picks the strongest evidence present (API key header, bearer token, session
//! cookie, then IP + User-Agent). Secrets never leave this module in clear: tokens, keys and
//! cookies are shown as a short stable hash (`key:3f9a12c0`). Used by `analysis` (KPIs per
//! client), `filter` (`~client`) and the TUI.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

use super::Exchange;

/// Header names treated as API keys by `auto`.
pub const API_KEY_HEADERS: &[&str] = &["x-api-key", "api-key", "apikey", "x-apikey", "x-api-token", "x-auth-token"];

/// Cookie names treated as session cookies by `auto`.
pub const SESSION_COOKIES: &[&str] =
    &["session", "sessionid", "session_id", "sid", "jsessionid", "phpsessid", "connect.sid", "_session"];

/// How a client is identified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientKey {
    /// Strongest present: API key header, bearer token, session cookie, then IP + UA.
    #[default]
    Auto,
    /// Client IP address.
    Ip,
    /// Client IP address and User-Agent.
    IpUa,
    /// Value of a request header (hashed).
    Header(String),
    /// The bearer token (hashed).
    Bearer,
    /// A claim of a JWT bearer token, decoded without verification (shown in clear: claims
    /// such as `sub` are identifiers, not secrets).
    Jwt(String),
    /// A cookie value (hashed).
    Cookie(String),
    /// A query parameter value (hashed).
    Query(String),
}

/// Error parsing a `--client-key` value.
#[derive(Debug, thiserror::Error)]
#[error("unknown client key `{0}`: use auto, ip, ip+ua, header:NAME, bearer, jwt:CLAIM, cookie:NAME or query:NAME")]
pub struct ClientKeyError(pub String);

impl FromStr for ClientKey {
    type Err = ClientKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let arg = |p: &str| s.get(p.len()..).filter(|a| !a.is_empty()).map(str::to_string);
        Ok(match lower.as_str() {
            "auto" => Self::Auto,
            "ip" => Self::Ip,
            "ip+ua" | "ipua" | "ip-ua" => Self::IpUa,
            "bearer" => Self::Bearer,
            l if l.starts_with("header:") => Self::Header(arg("header:").ok_or_else(|| ClientKeyError(s.into()))?),
            l if l.starts_with("jwt:") => Self::Jwt(arg("jwt:").ok_or_else(|| ClientKeyError(s.into()))?),
            l if l.starts_with("cookie:") => Self::Cookie(arg("cookie:").ok_or_else(|| ClientKeyError(s.into()))?),
            l if l.starts_with("query:") => Self::Query(arg("query:").ok_or_else(|| ClientKeyError(s.into()))?),
            _ => return Err(ClientKeyError(s.into())),
        })
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Ip => f.write_str("ip"),
            Self::IpUa => f.write_str("ip+ua"),
            Self::Header(h) => write!(f, "header:{h}"),
            Self::Bearer => f.write_str("bearer"),
            Self::Jwt(c) => write!(f, "jwt:{c}"),
            Self::Cookie(c) => write!(f, "cookie:{c}"),
            Self::Query(q) => write!(f, "query:{q}"),
        }
    }
}

/// The identity of one client: a display label that never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub String);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when the client id `id` is the one `wanted` names (what `~client` asks): the id
/// itself (ASCII case-insensitive); a prefix of its hash part (`0bbe6a6f` or `0bbe` for
/// `key:0bbe6a6f`); a prefix ending at a word (`198.18.0.7` for `198.18.0.7 curl/8`); or, when
/// `wanted` names the kind (`key:0bb`), any prefix.
#[must_use]
pub fn id_matches(id: &str, wanted: &str) -> bool {
    if wanted.is_empty() {
        return false;
    }
    let prefix = |s: &str| s.get(..wanted.len()).is_some_and(|h| h.eq_ignore_ascii_case(wanted));
    if id.eq_ignore_ascii_case(wanted) || (wanted.contains(':') && prefix(id)) {
        return true;
    }
    if !wanted.contains(':') && !wanted.contains(' ') {
        if let Some((_, hash)) = id.split(' ').next().and_then(|w| w.rsplit_once(':')) {
            if hash.get(..wanted.len()).is_some_and(|h| h.eq_ignore_ascii_case(wanted)) {
                return true;
            }
        }
    }
    prefix(id) && id.as_bytes().get(wanted.len()) == Some(&b' ')
}

/// Short stable hash (FNV-1a 64, 8 hex digits) used to show secrets without revealing them.
#[must_use]
pub fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", (h >> 32) ^ (h & 0xffff_ffff))
}

fn bearer_token(ex: &Exchange) -> Option<&str> {
    let v = ex.request.headers.get("authorization")?.trim();
    let (scheme, tok) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim()).filter(|t| !t.is_empty())
}

/// Value of cookie `name` in the request's Cookie headers.
#[must_use]
pub fn cookie<'a>(ex: &'a Exchange, name: &str) -> Option<&'a str> {
    ex.request.headers.get_all("cookie").flat_map(|c| c.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Raw (not decoded) value of query parameter `name`.
#[must_use]
pub fn query_param<'a>(ex: &'a Exchange, name: &str) -> Option<&'a str> {
    ex.request.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

/// Decode the payload of a JWT (no signature check) and return claim `claim` as text.
#[must_use]
pub fn jwt_claim(token: &str, claim: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match v.get(claim)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn ip_label(ex: &Exchange) -> String {
    ex.client.map_or_else(|| "unknown".to_string(), |a| a.ip.to_string())
}

/// Who sent `ex`, by `key`. Returns `None` when the key's evidence is absent (e.g. no bearer
/// token with `--client-key bearer`); `auto` always returns an identity.
#[must_use]
pub fn identify(ex: &Exchange, key: &ClientKey) -> Option<ClientId> {
    let h = &ex.request.headers;
    let id = match key {
        ClientKey::Auto => {
            if let Some(v) = API_KEY_HEADERS.iter().find_map(|n| h.get(n)) {
                format!("key:{}", short_hash(v))
            } else if let Some(t) = bearer_token(ex) {
                format!("bearer:{}", short_hash(t))
            } else if let Some(c) = SESSION_COOKIES.iter().find_map(|n| cookie(ex, n)) {
                format!("session:{}", short_hash(c))
            } else {
                let ua = h.get("user-agent").unwrap_or("-");
                format!("{} {}", ip_label(ex), ua)
            }
        }
        ClientKey::Ip => ip_label(ex),
        ClientKey::IpUa => format!("{} {}", ip_label(ex), h.get("user-agent").unwrap_or("-")),
        ClientKey::Header(n) => format!("{}:{}", n.to_ascii_lowercase(), short_hash(h.get(n)?)),
        ClientKey::Bearer => format!("bearer:{}", short_hash(bearer_token(ex)?)),
        ClientKey::Jwt(c) => format!("{c}:{}", jwt_claim(bearer_token(ex)?, c)?),
        ClientKey::Cookie(n) => format!("{n}:{}", short_hash(cookie(ex, n)?)),
        ClientKey::Query(n) => format!("{n}:{}", short_hash(query_param(ex, n)?)),
    };
    Some(ClientId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;

    fn ex(headers: &[(&str, &str)]) -> Exchange {
        let b = Exchange::builder("", "/x?api_key=SECRET&a=1").client("198.18.0.7:5555".parse().unwrap());
        headers.iter().fold(b, |b, (n, v)| b.header(n, *v)).build()
    }

    #[test]
    fn auto_prefers_api_key_and_never_shows_it() {
        let e = ex(&[("X-Api-Key", "sk_live_abc"), ("Authorization", "Bearer tok")]);
        let id = identify(&e, &ClientKey::Auto).unwrap();
        assert!(id.0.starts_with("key:"));
        assert!(!id.0.contains("sk_live_abc"));
        assert_eq!(id, identify(&e, &ClientKey::Auto).unwrap(), "stable");
    }

    #[test]
    fn auto_falls_back_to_ip_and_user_agent() {
        let e = ex(&[("User-Agent", "curl/8")]);
        assert_eq!(identify(&e, &ClientKey::Auto).unwrap().0, "198.18.0.7 curl/8");
    }

    #[test]
    fn jwt_claim_is_decoded_without_verifying() {
        // {"sub":"user-42"}
        let tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.sig";
        let e = ex(&[("Authorization", &format!("Bearer {tok}"))]);
        assert_eq!(identify(&e, &"jwt:sub".parse().unwrap()).unwrap().0, "sub:user-42");
    }

    #[test]
    fn query_and_cookie_keys_hash_values() {
        let e = ex(&[("Cookie", "a=1; sessionid=zzz")]);
        let q = identify(&e, &"query:api_key".parse().unwrap()).unwrap();
        assert!(!q.0.contains("SECRET"));
        assert!(identify(&e, &ClientKey::Auto).unwrap().0.starts_with("session:"));
        assert!(identify(&e, &ClientKey::Bearer).is_none());
    }

    #[test]
    fn bad_key_is_an_error() {
        assert!("header:".parse::<ClientKey>().is_err());
        assert!("nope".parse::<ClientKey>().is_err());
    }
}
