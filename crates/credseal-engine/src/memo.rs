//! [`Memo`]: a value derived from stored bytes (parsed, verified, decrypted), kept while
//! those bytes stay the same.

use std::sync::Mutex;

use crate::error::{EngineError, Result};

/// One derived value and the key of the stored bytes it came from (the bytes themselves, or
/// their digest). Every use still reads the store and passes the key, so a change takes
/// effect at once; only the derivation is skipped while the key is unchanged.
pub(crate) struct Memo<K, V>(Mutex<Option<(K, V)>>);

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<K, V> std::fmt::Debug for Memo<K, V> {
    /// Never prints the value (a decrypted set, a key).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl<K: PartialEq, V: Clone> Memo<K, V> {
    /// The value for `key`: the kept one if it was derived for this key, else `make()`'s,
    /// kept in its place (a failure keeps nothing).
    pub(crate) fn get_or_try(&self, key: K, make: impl FnOnce() -> Result<V>) -> Result<V> {
        let mut slot = self.0.lock().map_err(|_| EngineError::poisoned("memo"))?;
        if let Some((k, v)) = &*slot
            && *k == key
        {
            return Ok(v.clone());
        }
        let v = make()?;
        *slot = Some((key, v.clone()));
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_once_per_key_and_keeps_nothing_on_failure() {
        let m: Memo<u8, u32> = Memo::default();
        let calls = std::cell::Cell::new(0);
        let get = |k: u8, fail: bool| {
            m.get_or_try(k, || {
                calls.set(calls.get() + 1);
                if fail {
                    Err(EngineError::Internal("no".into()))
                } else {
                    Ok(u32::from(k) * 10)
                }
            })
        };
        assert_eq!(get(1, false).unwrap(), 10);
        assert_eq!(get(1, true).unwrap(), 10, "kept: not derived again");
        assert!(get(2, true).is_err());
        assert_eq!(get(1, false).unwrap(), 10, "the failure kept nothing: 1 is still kept");
        assert_eq!(get(2, false).unwrap(), 20);
        assert_eq!(calls.get(), 3);
    }
}
