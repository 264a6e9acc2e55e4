#!/usr/bin/env bash
# The Citus scale-out test (test/citus/run.sh).  It runs when Citus is
# installed in the PostgreSQL under test and reports itself skipped otherwise
# (CI has no Citus); without Citus it still checks that saas.distribute()
# refuses to run.
exec bash "$(dirname "$0")/../citus/run.sh" "$@"
