// Library entry: module magic, _PG_init, and the boundary's error reporter.
#include "boundary.hpp"

extern "C" {
#include "utils/guc.h"
}

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

extern "C" void _PG_init(void) {
#if PG_VERSION_NUM >= 150000
    // Reserve our GUC prefix: a typo such as "SET saas.tset_seed" then fails
    // loudly instead of silently creating a placeholder.
    MarkGUCPrefixReserved("saas");
#endif
}

namespace saas {

void raise_report(const char *function_name, const ErrorReport &report) {
    ereport(ERROR, (errcode(report.sqlstate), errmsg("%s", report.message),
                    report.detail[0] ? errdetail("%s", report.detail) : 0,
                    report.hint[0] ? errhint("%s", report.hint) : 0,
                    errcontext("saas_schema function %s", function_name)));
    pg_unreachable();
}

} // namespace saas
