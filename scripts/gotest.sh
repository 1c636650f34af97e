#!/bin/bash
# gotest.sh: `go test -v ARGS...`, then a summary that makes skips visible.
#
# usage: scripts/gotest.sh [go test flags and packages]
#
# Every test's result line (--- PASS, --- FAIL, --- SKIP, subtests too) is counted. Skipped
# tests are listed with their reason. With IG_INTEGRATION set (make test, CI), a skip is a
# failure: every test is meant to run as root on this machine kind, so one that skips there
# proves nothing while it looks like a pass. The last line is "gotest: N passed, N failed,
# N skipped"; the exit status is go test's, or 1 when a test skipped under IG_INTEGRATION.
set -uo pipefail
export PATH=/usr/local/go/bin:$PATH

log=$(mktemp /tmp/ig-gotest.XXXXXX)
trap 'rm -f "$log"' EXIT
go test -v "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

count() { grep -cE "^[[:space:]]*--- $1: " "$log"; }
passed=$(count PASS) failed=$(count FAIL) skipped=$(count SKIP)

if [ "$skipped" -gt 0 ]; then
	echo
	echo "gotest: skipped tests, with the reason each gave:"
	# the SKIP line, then the log lines since the test last ran (=== RUN/CONT): its reason
	awk '/^[[:space:]]*=== / { buf = ""; next }
	     /^[[:space:]]*--- SKIP: / { print; printf "%s", buf; buf = ""; next }
	     /^[[:space:]]*--- / { buf = ""; next }
	     { buf = buf $0 "\n" }' "$log"
	if [ -n "${IG_INTEGRATION:-}" ]; then
		echo "gotest: FAIL: $skipped test(s) skipped with IG_INTEGRATION set; each must run here"
		[ "$status" != 0 ] || status=1
	fi
fi
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
	# a build failure or a panic leaves no --- FAIL line
	grep -E '^(FAIL|panic:|#)' "$log" | head -20
fi
echo "gotest: $passed passed, $failed failed, $skipped skipped"
exit "$status"
