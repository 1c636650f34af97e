// Package tests holds ig's integration tests: they run the real ig binary
// (IG_BINARY) as root against the running kernel, cause the events they
// assert, and check the fields ig prints. Without IG_INTEGRATION they skip.
//
//	make ig && IG_INTEGRATION=1 IG_BINARY=$PWD/ig go test -count=1 ./tests/...
package tests
