package licensecheck

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestCheck judges the fixture modules of testdata/ (see its README.md)
// and glb's own LICENSE.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string
		ok   bool
	}{
		{"../..", []string{Apache2}, true}, // glb's own LICENSE
		{"testdata/mit", []string{MIT}, true},
		{"testdata/bsd3", []string{BSD3}, true},
		{"testdata/bsd2", []string{BSD2}, true},
		{"testdata/isc", []string{ISC}, true},
		{"testdata/mpl2", []string{MPL2}, true},
		{"testdata/mit-and-apache", []string{Apache2, MIT}, true},
		{"testdata/gpl3", []string{GPL}, false},
		{"testdata/lgpl21", []string{LGPL}, false},
		{"testdata/agpl3", []string{AGPL}, false},
		{"testdata/unknown", []string{Unknown}, false},
		{"testdata/none", []string{NoneSeen}, false},
		{"testdata/mit-plus-gpl", []string{GPL, MIT}, false},
	} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			res, err := Check([]Module{{Path: "example.com/" + filepath.Base(tc.dir), Version: "v1.0.0", Dir: tc.dir}})
			if err != nil {
				t.Fatal(err)
			}
			if got := res[0]; !slices.Equal(got.Licenses, tc.want) || got.OK != tc.ok {
				t.Errorf("Check(%s) = %v ok=%v, want %v ok=%v", tc.dir, got.Licenses, got.OK, tc.want, tc.ok)
			}
		})
	}
}

func TestCheckMissingDir(t *testing.T) {
	if _, err := Check([]Module{{Path: "example.com/gone", Dir: "testdata/does-not-exist"}}); err == nil {
		t.Error("Check of a missing directory: no error")
	}
}

// TestClassifyWording checks that line breaks, case and punctuation do not
// change the verdict, and that a license named only in passing is not
// taken for the file's license.
func TestClassifyWording(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"mit rewrapped", "PERMISSION IS HEREBY GRANTED,\nfree of charge,\tto any person\nobtaining a copy", []string{MIT}},
		{"isc without slash", "Permission to use, copy, modify, and distribute this software for any purpose with or without fee is hereby granted", []string{ISC}},
		{"apache needs its version", "Licensed under the Apache License.", nil},
		{"nothing", "Public domain, do what you want.", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("Classify = %v, want %v", got, tc.want)
			}
		})
	}
}
