// Library entry: module magic and _PG_init.
#include "extension_gucs.hpp"
#include "pg.hpp"
#include "tenant_lifecycle.hpp"

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

extern "C" void _PG_init(void) {
    saas::define_extension_gucs();
    saas::register_personal_label_provider();
}
