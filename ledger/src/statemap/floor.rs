//! How far back the state map must stay provable: the floor below which a
//! state store may drop superseded node versions and roots
//! ([`crate::store::StateStore::prune_map`]).
//!
//! ```text
//!  floor = min(size of the latest checkpoint served,   MapFloor::serve
//!              size of every proof still being built)  MapFloor::pin → MapPin (dropped when done)
//!  the writer, after each apply: MapFloor::advance() → prune_map(floor)
//! ```
//! The floor only rises. A proof pinned at a size already below it is
//! refused ([`MapFloor::pin`] gives `None`): the map at that size may be
//! gone, and the caller proves at a newer checkpoint instead.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The sizes the state map is still proven at, shared by the checkpoint
/// publisher, the proof builders and the state store's writer.
#[derive(Debug, Default)]
pub struct MapFloor {
    sizes: Mutex<Sizes>,
}

#[derive(Debug, Default)]
struct Sizes {
    /// The size of the latest checkpoint served.
    served: u64,
    /// Sizes of proofs being built, with how many at each.
    pinned: BTreeMap<u64, usize>,
    /// The floor handed to the writer last: nothing below it may be pinned.
    floor: u64,
}

impl MapFloor {
    /// A floor at 0: nothing may be pruned until a checkpoint is served.
    pub fn new() -> MapFloor {
        MapFloor::default()
    }

    fn sizes(&self) -> MutexGuard<'_, Sizes> {
        self.sizes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A checkpoint of `size` is now the one served: the map at smaller
    /// sizes is no longer needed once no proof pins them.
    pub fn serve(&self, size: u64) {
        let mut sizes = self.sizes();
        sizes.served = sizes.served.max(size);
    }

    /// Keeps the map at `size` until the pin is dropped; `None` if `size` is
    /// below the floor already (the map there may be pruned).
    pub fn pin(self: &Arc<Self>, size: u64) -> Option<MapPin> {
        let mut sizes = self.sizes();
        if size < sizes.floor {
            return None;
        }
        *sizes.pinned.entry(size).or_default() += 1;
        Some(MapPin {
            floor: Arc::clone(self),
            size,
        })
    }

    /// Raises the floor as far as the served checkpoint and the pinned
    /// proofs allow, and returns it: the writer may prune below it.
    pub fn advance(&self) -> u64 {
        let mut sizes = self.sizes();
        let oldest_pin = sizes.pinned.keys().next().copied();
        let allowed = oldest_pin.map_or(sizes.served, |pin| pin.min(sizes.served));
        sizes.floor = sizes.floor.max(allowed);
        sizes.floor
    }

    /// The floor as last advanced.
    pub fn floor(&self) -> u64 {
        self.sizes().floor
    }
}

/// A proof being built at one size; the map at that size is kept until it
/// is dropped.
#[derive(Debug)]
pub struct MapPin {
    floor: Arc<MapFloor>,
    size: u64,
}

impl MapPin {
    /// The size pinned.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for MapPin {
    fn drop(&mut self) {
        let mut sizes = self.floor.sizes();
        if let Some(count) = sizes.pinned.get_mut(&self.size) {
            *count -= 1;
            if *count == 0 {
                sizes.pinned.remove(&self.size);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_follows_the_served_checkpoint_and_waits_for_pins() {
        let floor = Arc::new(MapFloor::new());
        assert_eq!(floor.advance(), 0);
        floor.serve(10);
        let pin = floor.pin(10).unwrap();
        floor.serve(20);
        assert_eq!(floor.advance(), 10, "a proof at 10 is being built");
        drop(pin);
        assert_eq!(floor.advance(), 20);
        assert!(floor.pin(15).is_none(), "below the floor");
        assert_eq!(floor.pin(20).unwrap().size(), 20);
        floor.serve(5);
        assert_eq!(floor.advance(), 20, "the floor never goes down");
    }
}
