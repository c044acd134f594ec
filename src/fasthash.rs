//! Hash maps for keys taken from the logs (entity keys, program names, message shapes): foldhash
//! instead of the standard SipHash. The per-event maps (sessions, entity cells, state names, the
//! miner's tree) hashed short strings with SipHash for about 4% of `score`'s time; foldhash is
//! several times faster on them and, unlike FxHash, is seeded at random per process, so a log
//! crafted to collide its keys does not know the seed. Nothing iterates these maps in an order
//! that reaches an output (the `iter_over_hash_type` lint marks each iteration).

/// A `HashMap` with foldhash's seeded hasher.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with foldhash's seeded hasher.
pub type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
