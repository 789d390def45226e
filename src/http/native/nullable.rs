//! PATCH bodies tell "absent" (leave alone) from `null` (clear): `Option<Option<T>>` fields
//! deserialized with [`nullable`].

use serde::{Deserialize, Deserializer};

/// Use with `#[serde(default, deserialize_with = "nullable")]`: a present key becomes `Some`,
/// whether its value is `null` (`Some(None)`) or not.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
