//! How a few config values are read beyond their plain types: a setting written as a
//! URL string or as an object ([`UrlOr`]), seconds that may be absent, and the random
//! start delay's range.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::util::duration;

/// A setting written as a URL string or as an object of `T`'s fields.
pub struct UrlOr<T>(pub T);

impl<'de, T: Deserialize<'de> + From<String>> Deserialize<'de> for UrlOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<fn() -> T>);
        impl<'de, T: Deserialize<'de> + From<String>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL string or an object with a \"url\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
                Ok(T::from(v.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, m: M) -> Result<T, M::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(m))
            }
        }
        d.deserialize_any(V(PhantomData)).map(UrlOr)
    }
}

pub(super) fn url_or_seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + From<String>,
{
    Ok(Vec::<UrlOr<T>>::deserialize(d)?
        .into_iter()
        .map(|u| u.0)
        .collect())
}

/// For an optional [`UrlOr`] setting (`Config::store`).
pub(super) fn url_or_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + From<String>,
{
    Ok(Option::<UrlOr<T>>::deserialize(d)?.map(|u| u.0))
}

pub(super) fn opt_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let Some(s) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    duration::secs_in(s, duration::CONFIG, &duration::show(s))
        .map(Some)
        .map_err(de::Error::custom)
}

/// The longest random start delay, `guard.max_delay_s`: a day.
const MAX_DELAY_S: f64 = 86400.0;

pub(super) fn delay_secs<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = f64::deserialize(d)?;
    if (0.0..=MAX_DELAY_S).contains(&s) {
        return Ok(s);
    }
    Err(de::Error::custom(format!(
        "{} is out of range: use from 0 to {MAX_DELAY_S} seconds (a day)",
        duration::show(s)
    )))
}
