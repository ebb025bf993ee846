//! JSON objects read as maps refuse a key given twice. `serde_json` keeps the last value of a
//! repeated key without a word, so an artifact with two `"2"` rings would load its second
//! (and the digest covers both). Objects read as structs refuse a repeated field through
//! serde itself; every map of the format goes through here.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};

/// A map whose keys must all differ (`deserialize_with`).
pub fn map<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + Serialize,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(PhantomData<(K, V)>);

    impl<'de, K, V> Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Ord + Serialize,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object with unique keys")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = access.next_entry::<K, V>()? {
                match out.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(value);
                    }
                    Entry::Occupied(slot) => {
                        let name = serde_json::to_string(slot.key())
                            .unwrap_or_else(|_| "a key".to_owned());
                        return Err(A::Error::custom(format!("duplicate key {name}")));
                    }
                }
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(Unique(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Maps {
        #[serde(deserialize_with = "map")]
        #[expect(dead_code, reason = "only parsed")]
        levels: BTreeMap<u8, u8>,
    }

    #[test]
    fn a_repeated_key_is_refused() {
        assert!(serde_json::from_str::<Maps>(r#"{"levels":{"1":1,"2":2}}"#).is_ok());
        let err = serde_json::from_str::<Maps>(r#"{"levels":{"2":1,"2":9}}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key 2"), "{err}");
        // Two spellings of one number are not two keys.
        assert!(serde_json::from_str::<Maps>(r#"{"levels":{"2":1,"02":9}}"#).is_err());
    }
}
