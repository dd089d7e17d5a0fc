//! A small deterministic random source (splitmix64) for generated test
//! inputs: the same seed gives the same inputs on every machine.

pub struct SplitMix(u64);

impl SplitMix {
    /// Starts from `state` as it is.
    pub fn new(state: u64) -> SplitMix {
        SplitMix(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// [`SplitMix::pick`], cloned.
    pub fn choose<T: Clone>(&mut self, items: &[T]) -> T {
        self.pick(items).clone()
    }
}
