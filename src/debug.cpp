// A function that throws on purpose, to prove the C/C++ boundary.
//
// It is not part of the extension's SQL API: the install script does not
// create it.  The regression test binds it by hand (superuser only).
#include "boundary.hpp"

SAAS_FUNCTION(saas_debug_throw) {
    if (PG_ARGISNULL(0)) throw saas::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "kind must not be NULL");
    char *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (strcmp(kind, "saas") == 0)
        throw saas::Error(ERRCODE_INVALID_PARAMETER_VALUE, "a saas::Error thrown on purpose",
                          "detail survives the boundary", "hint survives too");
    if (strcmp(kind, "std") == 0)
        throw std::runtime_error("a std::runtime_error thrown on purpose");
    if (strcmp(kind, "bad_alloc") == 0) throw std::bad_alloc();
    if (strcmp(kind, "int") == 0) throw 42;
    if (strcmp(kind, "pg") == 0)
        ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO),
                        errmsg("a PostgreSQL ERROR raised on purpose")));
    if (strcmp(kind, "none") == 0) PG_RETURN_TEXT_P(cstring_to_text("no exception"));
    throw saas::Error(ERRCODE_INVALID_PARAMETER_VALUE, fmt::format("unknown kind \"{}\"", kind), "",
                      "Use one of: saas, std, bad_alloc, int, pg, none.");
}
