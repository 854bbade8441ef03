//! Value types for JSON session files that accept the type drift real exporters produce:
//! text that arrives as a number or bool, numbers as strings, `null` for absent, headers as
//! objects or `[name, value]` pairs. The HAR, Charles and direct HAR readers deserialize
//! their entries into these.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

// ---------------------------------------------------------------------------------------
// Lenient scalar types
// ---------------------------------------------------------------------------------------

/// Text that may arrive as a string (borrowed when it has no escapes), a number, a bool, or
/// `null`/absent (`None`). An object or an array (a browser's `_error` object, a form
/// parameter whose value is JSON) is kept as its compact JSON text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LenientStr<'a>(pub Option<Cow<'a, str>>);

impl<'a> LenientStr<'a> {
    /// The text, or `""` when absent.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
    /// The text when present and not empty.
    pub fn non_empty(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

struct LenientStrVisitor;

impl<'de> Visitor<'de> for LenientStrVisitor {
    type Value = LenientStr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, bool or null")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(LenientStr(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LenientStr(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LenientStr(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientStrVisitor)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(LenientStr(Some(Cow::Owned(v.to_string()))))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientStrVisitor)
    }
}

/// A number that may arrive as a JSON number, a numeric string (`"56973"`), or `null` /
/// absent / non-numeric text (`None`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LenientNum(pub Option<f64>);

impl LenientNum {
    /// The value when present and not negative (HAR uses -1 for "not applicable").
    pub fn known(self) -> Option<f64> {
        self.0.filter(|v| *v >= 0.0 && v.is_finite())
    }
    /// The value as a non-negative integer, when known.
    pub fn known_u64(self) -> Option<u64> {
        self.known().map(|v| v as u64)
    }
}

struct LenientNumVisitor;

impl<'de> Visitor<'de> for LenientNumVisitor {
    type Value = LenientNum;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, numeric string or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientNum, E> {
        Ok(LenientNum(Some(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientNum, E> {
        Ok(LenientNum(Some(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientNum, E> {
        Ok(LenientNum(Some(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientNum, E> {
        Ok(LenientNum(v.trim().parse::<f64>().ok().filter(|f| f.is_finite())))
    }
    fn visit_bool<E: de::Error>(self, _v: bool) -> Result<LenientNum, E> {
        Ok(LenientNum(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<LenientNum, E> {
        Ok(LenientNum(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<LenientNum, E> {
        Ok(LenientNum(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<LenientNum, D::Error> {
        d.deserialize_any(LenientNumVisitor)
    }
}

impl<'de> Deserialize<'de> for LenientNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientNumVisitor)
    }
}

/// A flag that may arrive as `true`, `"true"`, `"True"`, `1`, or `null`/absent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LenientBool(pub Option<bool>);

struct LenientBoolVisitor;

impl<'de> Visitor<'de> for LenientBoolVisitor {
    type Value = LenientBool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bool")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<LenientBool, E> {
        Ok(LenientBool(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientBool, E> {
        Ok(LenientBool(Some(v != 0)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientBool, E> {
        Ok(LenientBool(Some(v != 0)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientBool, E> {
        Ok(LenientBool(Some(v != 0.0)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientBool, E> {
        Ok(LenientBool(match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<LenientBool, E> {
        Ok(LenientBool(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<LenientBool, E> {
        Ok(LenientBool(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<LenientBool, D::Error> {
        d.deserialize_any(LenientBoolVisitor)
    }
}

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientBoolVisitor)
    }
}

/// One header (or query/form parameter): `{"name": …, "value": …}` or `["name", "value"]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pair<'a> {
    /// Name as given.
    pub name: LenientStr<'a>,
    /// Value as given.
    pub value: LenientStr<'a>,
}

struct PairVisitor;

impl<'de> Visitor<'de> for PairVisitor {
    type Value = Pair<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a {name, value} object or a [name, value] array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = Pair::default();
        while let Some(k) = map.next_key::<LenientStr<'de>>()? {
            match k.as_str() {
                "name" => p.name = map.next_value()?,
                "value" => p.value = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(p)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name = seq.next_element::<LenientStr<'de>>()?.unwrap_or_default();
        let value = seq.next_element::<LenientStr<'de>>()?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Pair { name, value })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pair<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PairVisitor)
    }
}

/// A list of [`Pair`]s where `null` counts as empty.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs<'a>(pub Vec<Pair<'a>>);

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Pairs<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of headers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(256));
        while let Some(p) = seq.next_element::<Pair<'de>>()? {
            v.push(p);
        }
        Ok(Pairs(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A few tools write headers as one object {"name": "value", …}.
        let mut v = Vec::new();
        while let Some(k) = map.next_key::<LenientStr<'de>>()? {
            let value = map.next_value::<LenientStr<'de>>()?;
            v.push(Pair { name: k, value });
        }
        Ok(Pairs(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Pairs(Vec::new()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Pairs(Vec::new()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(PairsVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PairsVisitor)
    }
}

impl Pairs<'_> {
    /// Into model headers (names and values as given; absent ones become empty).
    pub fn to_headers(&self) -> crate::model::Headers {
        let mut h = crate::model::Headers(Vec::with_capacity(self.0.len()));
        for p in &self.0 {
            h.push(p.name.as_str(), p.value.as_str());
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_values_accept_type_drift() {
        #[derive(Deserialize)]
        struct T<'a> {
            #[serde(borrow)]
            s: LenientStr<'a>,
            n: LenientNum,
            m: LenientNum,
            b: LenientBool,
            #[serde(borrow)]
            h: Pairs<'a>,
        }
        let t: T<'_> = serde_json::from_str(
            r#"{"s": 12, "n": "56973", "m": null, "b": "True", "h": [["a","1"], {"name":"b","value":"2"}]}"#,
        )
        .unwrap();
        assert_eq!(t.s.as_str(), "12");
        assert_eq!(t.n.0, Some(56973.0));
        assert_eq!(t.m.0, None);
        assert_eq!(t.b.0, Some(true));
        assert_eq!(t.h.to_headers().get("b"), Some("2"));
        assert_eq!(t.h.0[0].name.as_str(), "a");
    }
}
