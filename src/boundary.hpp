// The C/C++ boundary: every SQL-callable function runs through guarded_call.
//
// Two rules make mixing C++ with PostgreSQL safe:
//  1. No C++ exception may unwind into PostgreSQL frames.  guarded_call
//     catches everything and re-raises it as ereport(ERROR) *after* the catch
//     block has finished, so the exception object is destroyed before the
//     longjmp happens.
//  2. ereport(ERROR) longjmps.  A frame that a PostgreSQL call can longjmp
//     through must not hold C++ objects with non-trivial destructors (they
//     would never run).  guarded_call keeps only trivially destructible state
//     (fixed char buffers), so it is itself safe to longjmp through.
#pragma once

#include "pg.hpp"

namespace saas {

// Thrown from pure C++ phases (no PostgreSQL calls on the stack above the
// throw point) to report a user-facing error with a SQLSTATE.
class Error : public std::runtime_error {
  public:
    Error(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : std::runtime_error(std::move(message)), sqlstate_(sqlstate), detail_(std::move(detail)),
          hint_(std::move(hint)) {}

    int sqlstate() const noexcept { return sqlstate_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }

  private:
    int sqlstate_;
    std::string detail_;
    std::string hint_;
};

// Plain-old-data copy of an exception, so the report outlives the catch block
// without owning heap memory (nothing to leak when ereport longjmps).
struct ErrorReport {
    int sqlstate = 0;
    char message[1024] = {};
    char detail[1024] = {};
    char hint[512] = {};

    void fill(int code, const char *msg, const char *det = "", const char *hnt = "") noexcept {
        sqlstate = code;
        copy(message, sizeof message, msg);
        copy(detail, sizeof detail, det);
        copy(hint, sizeof hint, hnt);
    }

  private:
    static void copy(char *dst, size_t size, const char *src) noexcept {
        if (src == nullptr) src = "";
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
};

[[noreturn]] void raise_report(const char *function_name, const ErrorReport &report);

// Runs body(); any C++ exception becomes a PostgreSQL ERROR with a SQLSTATE.
template <typename Body> inline Datum guarded_call(const char *function_name, Body &&body) {
    ErrorReport report;
    try {
        return body();
    } catch (const Error &e) {
        report.fill(e.sqlstate(), e.what(), e.detail().c_str(), e.hint().c_str());
    } catch (const std::bad_alloc &) {
        report.fill(ERRCODE_OUT_OF_MEMORY, "out of memory in C++ code");
    } catch (const std::exception &e) {
        report.fill(ERRCODE_INTERNAL_ERROR, "unexpected C++ exception", e.what(),
                    "This is a bug in saas_schema; please report it.");
    } catch (...) {
        report.fill(ERRCODE_INTERNAL_ERROR, "unexpected C++ exception of unknown type", "",
                    "This is a bug in saas_schema; please report it.");
    }
    // The exception object is gone here; longjmp'ing out is now safe.
    raise_report(function_name, report);
}

} // namespace saas

// Defines an SQL-callable function NAME whose body is guarded.  Usage:
//   SAAS_FUNCTION(saas_foo) { ... return PointerGetDatum(x); }
#define SAAS_FUNCTION(name)                                                                        \
    extern "C" {                                                                                   \
    PG_FUNCTION_INFO_V1(name);                                                                     \
    }                                                                                              \
    static Datum name##_body(PG_FUNCTION_ARGS);                                                    \
    extern "C" PGDLLEXPORT Datum name(PG_FUNCTION_ARGS) {                                          \
        return saas::guarded_call(#name, [fcinfo]() { return name##_body(fcinfo); });              \
    }                                                                                              \
    static Datum name##_body(PG_FUNCTION_ARGS)
