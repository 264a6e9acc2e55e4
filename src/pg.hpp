// The one place PostgreSQL's headers are included from C++.
//
// Standard and fmt headers come first: PostgreSQL's port.h redefines
// snprintf/vsnprintf and friends as macros, which breaks <cstdio>-using
// headers included after it.
//
// fmt is used header-only (FMT_HEADER_ONLY, so the library has no runtime
// dependency on libfmt) and only in pure C++ phases: building the message of
// a saas::Error before it is thrown.  Code that calls PostgreSQL builds text
// with StringInfo/psprintf, because a std::string or fmt buffer in a frame
// that ereport(ERROR) longjmps through would never be freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

// We build with -fvisibility=hidden so fmt's inline symbols stay private to
// this library; the PostgreSQL entry points must stay visible.  PostgreSQL
// 15's c.h leaves the export attribute empty on non-Windows platforms (16
// defines it itself), so predefine it.
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

// The install script needs PostgreSQL 15 (security_invoker views), and
// PostgreSQL 15 is the only major this library is built and tested against.
// The direct insert path is compiled for 15 only (audit_direct_insert.cpp);
// on a later major every audit row takes the SPI path.
#if PG_VERSION_NUM < 150000
#error "saas_schema needs PostgreSQL 15 or later"
#endif
