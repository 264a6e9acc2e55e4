// Backend-lifetime caches that catalog invalidation marks stale.
//
// Catalog-derived state is cached for the life of the backend.  PostgreSQL
// reports catalog changes through invalidation callbacks, which run inside
// invalidation processing: whenever a lock is taken or invalidation messages
// are read, so also while the cache is in use.  A callback therefore only
// marks the cache (or part of it) stale -- it flips flags; it never
// allocates, reads a catalog or raises an ERROR -- and the cache's owner
// rebuilds at a point where nothing uses the stale state any more.
#pragma once

#include "pg.hpp"

namespace saas {

struct InvalidatedCache {
    // Marks what was built from relation relid stale.  InvalidOid means
    // everything: a relcache reset, or a change in one of the syscaches.
    void (*mark_stale)(InvalidatedCache *cache, Oid relid);
    // Syscaches (SysCacheIdentifier values) any change in which marks the
    // whole cache stale; none when nsyscaches is 0.
    const int *syscaches;
    int nsyscaches;
    bool registered; // set once the callbacks are registered
};

void register_invalidation_callbacks(InvalidatedCache *cache);

// Registers the cache's callbacks on the first call; later calls only test
// a flag.  PostgreSQL has a fixed number of callback slots and no way to
// unregister, so this is once per backend (never per use), before the cache
// is first filled.
inline void watch_invalidation(InvalidatedCache *cache) {
    if (!cache->registered) register_invalidation_callbacks(cache);
}

} // namespace saas
