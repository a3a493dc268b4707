// Package archtest holds the architecture test: the layering of DESIGN.md
// (invariant 10) and the "never" arrows of the design picture, checked
// against the import graph `go list -deps` reports. It has no code of its
// own; run it with go test.
package archtest
