// The boundary's error reporter (see boundary.hpp).
#include "boundary.hpp"

namespace saas {

void raise_report(const char *function_name, const ErrorReport &report) {
    ereport(ERROR, (errcode(report.sqlstate), errmsg("%s", report.message),
                    report.detail[0] ? errdetail("%s", report.detail) : 0,
                    report.hint[0] ? errhint("%s", report.hint) : 0,
                    errcontext("saas_schema function %s", function_name)));
    pg_unreachable();
}

} // namespace saas
