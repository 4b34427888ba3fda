//! What a view last drew from, so that it redraws only when that changes. It keeps the
//! value alive: a key made of a dropped value's address could be taken by a newer value
//! allocated at the same place, and the view would go stale.

use std::sync::Arc;

#[derive(Debug)]
pub struct Seen<T>(Option<Arc<T>>);

impl<T> Default for Seen<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Seen<T> {
    /// Whether `now` is another value than the one seen last; remembers `now`.
    pub fn changed(&mut self, now: Option<&Arc<T>>) -> bool {
        let same = match (&self.0, now) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.0 = now.cloned();
        }
        !same
    }

    /// Whether any value was seen yet.
    pub fn any(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_value_is_seen_as_new_even_when_the_old_one_was_dropped_elsewhere() {
        let mut seen = Seen::default();
        let first = Arc::new([1u8; 64]);
        assert!(seen.changed(Some(&first)));
        assert!(!seen.changed(Some(&first)));
        drop(first);
        // The allocator hands out freed blocks of the same size first: without `Seen`
        // keeping the old value, this one would often sit at its address.
        for k in 0..100u8 {
            let next = Arc::new([k; 64]);
            assert!(
                seen.changed(Some(&next)),
                "round {k}: a new value looked seen"
            );
        }
        assert!(seen.changed(None));
        assert!(!seen.changed(None));
    }
}
