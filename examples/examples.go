// Package examples holds the example files that ship inside the vindex
// binary: the example covenant that `vindex serve --dev` runs with.
package examples

import _ "embed"

// CovenantGroningen is examples/covenant-groningen.yaml: a covenant modelled
// on the Zorg voor Jeugd arrangement in Groningen, with fictional demo
// institutions.
//
//go:embed covenant-groningen.yaml
var CovenantGroningen []byte
