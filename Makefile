# PGXS build of the saas_schema extension (C++17).
EXTENSION   = saas_schema
MODULE_big  = saas_schema
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

# The SQL scripts are generated from sql/ (see sql/README.md): the install
# script from the capability files in sql/schema/, each update script from
# its delta in sql/updates/ plus the function definitions it needs.
SQL_GENERATOR = scripts/generate_sql.pl
SQL_SOURCES   = $(sort $(wildcard sql/schema/*.sql)) $(wildcard sql/functions/*/*.sql) $(SQL_GENERATOR) $(EXTENSION).control
SQL_UPDATES   = $(patsubst sql/updates/%,sql/$(EXTENSION)--%,$(wildcard sql/updates/*--*.sql))
DATA_built    = sql/$(EXTENSION)--$(EXTVERSION).sql $(SQL_UPDATES)
# Secondary control files: the versions a non-superuser may not install.
DATA          = $(wildcard sql/control/$(EXTENSION)--*.control)
SOURCES     = $(wildcard src/*.cpp)
OBJS        = $(SOURCES:.cpp=.o)
SAAS_HEADERS = $(wildcard src/*.hpp)

REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --load-extension=citext
# Cluster-level TAP tests (test/t/*.pl): see "TAP tests" at the end.  Naming
# files with PROVE_TESTS=t/... runs just those, without pg_regress.
TAP_TESTS    = 1
ifdef PROVE_TESTS
REGRESS      =
endif

PG_CONFIG ?= pg_config

# fmt is used header-only: the installed library then has no runtime
# dependency on libfmt, so a server needs nothing beyond PostgreSQL itself.
PG_CPPFLAGS = -Isrc -DFMT_HEADER_ONLY
PG_CXXFLAGS = -std=c++17 -fvisibility=hidden -fno-omit-frame-pointer -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
ifeq ($(CI),true)
PG_CXXFLAGS += -Werror
endif
ifneq ($(SAAS_WERROR),)
PG_CXXFLAGS += -Werror
endif
SHLIB_LINK  = -lstdc++

# No LLVM bitcode for JIT inlining: it would need clang at build time and
# our C++ code is never a JIT inlining candidate.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Recompile when a shared header changes.
$(OBJS): $(SAAS_HEADERS)

%.o: %.cpp
	$(CXX) $(CXXFLAGS) $(PG_CXXFLAGS) $(CPPFLAGS) -fPIC -c -o $@ $<

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	perl $(SQL_GENERATOR) install $(EXTVERSION) > $@.tmp && mv $@.tmp $@

sql/$(EXTENSION)--%.sql: sql/updates/%.sql $(SQL_SOURCES)
	perl $(SQL_GENERATOR) update $(subst --, ,$*) > $@.tmp && mv $@.tmp $@

# Release archive for PGXN: saas_schema-<version>.zip of the committed tree.
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(EXTENSION)-$(EXTVERSION).zip HEAD
	@echo "wrote $(EXTENSION)-$(EXTVERSION).zip"
.PHONY: dist

# ---- TAP tests ---------------------------------------------------------------
# `make installcheck` runs pg_regress (REGRESS, against the server at
# PGHOST/PGPORT) and then the TAP tests test/t/NNN_name.pl, which start their
# own clusters with PostgreSQL::Test::Cluster from the pg_config given (its
# bindir leads PATH, so they load what `make install` installed there).
# PGXS's rule would run t/*.pl from here; this one runs prove from test/, so
#   make installcheck PROVE_TESTS=t/010_crash.pl
# runs that one file.  TAP_TESTDIR: where tmp_check/ (the tests' clusters;
# logs in tmp_check/log) goes.  PROVE_FLAGS=-v shows every assertion.
# SAAS_TEST_MODE=long: longer load, 100,000 sqlsmith queries.
TAP_TESTDIR ?= $(CURDIR)
define prove_installcheck
rm -rf '$(TAP_TESTDIR)'/tmp_check && \
$(MKDIR_P) '$(TAP_TESTDIR)'/tmp_check && \
cd '$(CURDIR)'/test && \
   TESTDIR='$(TAP_TESTDIR)' PATH="$(bindir):$$PATH" PGPORT='6$(DEF_PGPORT)' \
   PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
   $(PROVE) $(PG_PROVE_FLAGS) -I '$(CURDIR)'/test/perl $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),t/*.pl)
endef
