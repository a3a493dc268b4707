package rules_test

import (
	"testing"

	"github.com/vindex-nl/vindex/rules"
)

// TestAgeBands: parents under 12, both from 12 to 15, the youth from 16,
// at the edges.
func TestAgeBands(t *testing.T) {
	for _, tc := range []struct {
		age  int
		want rules.AgeBand
		name string
	}{
		{-1, rules.BandParents, "parents"},
		{0, rules.BandParents, "parents"},
		{11, rules.BandParents, "parents"},
		{12, rules.BandParentsAndYouth, "both"},
		{15, rules.BandParentsAndYouth, "both"},
		{16, rules.BandYouth, "youth"},
		{22, rules.BandYouth, "youth"},
		{40, rules.BandYouth, "youth"},
	} {
		if got := rules.AgeBandOf(tc.age); got != tc.want || got.String() != tc.name {
			t.Errorf("age %d: %v (%s), want %v (%s)", tc.age, got, got, tc.want, tc.name)
		}
	}
	if s := rules.AgeBand(0).String(); s != "age-band(0)" {
		t.Errorf("the zero band reads %q", s)
	}
}
