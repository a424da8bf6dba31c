// Package licensecheck tells which license a Go module is under, from the
// license files at the root of its directory in the module cache, and
// whether glb may ship it in its Apache-2.0 binaries. It recognises the
// licenses by phrases of their text, not by file name or by a registry's
// metadata: what counts is the text the module actually carries.
package licensecheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// License identifiers, as SPDX spells them.
const (
	Apache2  = "Apache-2.0"
	MIT      = "MIT"
	BSD2     = "BSD-2-Clause"
	BSD3     = "BSD-3-Clause"
	ISC      = "ISC"
	MPL2     = "MPL-2.0"
	GPL      = "GPL"
	LGPL     = "LGPL"
	AGPL     = "AGPL"
	Unknown  = "unknown"
	NoneSeen = "none" // no license file at all
)

// Allowed are the licenses whose code may be linked into binaries
// distributed under Apache-2.0. MPL-2.0 is there because its copyleft is per
// file: glb links MPL-covered files unchanged and its own files stay
// Apache-2.0; whoever ships the binaries must point at the MPL files' source
// (the public module, named by make licenses). The GPL family is not: it
// would cover the whole binary.
var Allowed = []string{Apache2, MIT, BSD2, BSD3, ISC, MPL2}

// rule recognises one license by phrases that must all appear in the text,
// both normalised (lower case, punctuation and spaces collapsed).
type rule struct {
	id  string
	all []string
}

// permissive are the rules for the licenses that may be combined; BSD-3
// before BSD-2, whose clauses it contains.
var permissive = []rule{
	{MPL2, []string{"Mozilla Public License Version 2.0"}},
	{Apache2, []string{"Apache License", "Version 2.0"}},
	{MIT, []string{"Permission is hereby granted, free of charge, to any person obtaining a copy"}},
	{ISC, []string{"Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted"}},
	{ISC, []string{"Permission to use, copy, modify, and distribute this software for any purpose with or without fee is hereby granted"}},
	{BSD3, []string{"Redistribution and use in source and binary forms", "may be used to endorse or promote products derived from this software"}},
	{BSD2, []string{"Redistribution and use in source and binary forms", "Redistributions in binary form must reproduce"}},
}

// copyleft are the GNU licenses. Their texts name each other (the GPL's
// section 13 names the AGPL, the LGPL says it adds to the GPL), so the one
// named first, the title, is the license.
var copyleft = []rule{
	{GPL, []string{"GNU General Public License"}},
	{LGPL, []string{"GNU Lesser General Public License"}},
	{LGPL, []string{"GNU Library General Public License"}},
	{AGPL, []string{"GNU Affero General Public License"}},
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// normalise lower-cases text and turns every run of punctuation and space
// into one space, so that line breaks, quotes and "and/or" spelled with
// or without spaces do not matter.
func normalise(text string) string {
	return " " + strings.TrimSpace(nonWord.ReplaceAllString(strings.ToLower(text), " ")) + " "
}

// position is where the first phrase of r starts in t, or -1 when one of
// its phrases is missing.
func (r rule) position(t string) int {
	at := -1
	for _, p := range r.all {
		i := strings.Index(t, normalise(p))
		if i < 0 {
			return -1
		}
		if at < 0 || i < at {
			at = i
		}
	}
	return at
}

// Classify returns the licenses a license text contains, sorted: more than
// one for a file that grants several (yaml.v3's MIT and Apache-2.0), none
// when no rule matches.
func Classify(text string) []string {
	t := normalise(text)
	var found []string
	first, firstAt := "", -1
	for _, r := range copyleft {
		if at := r.position(t); at >= 0 && (firstAt < 0 || at < firstAt) {
			first, firstAt = r.id, at
		}
	}
	// The MPL names the GNU licenses as "Secondary Licenses" it may be
	// combined with: below its title, they are not the module's license.
	if mpl := permissive[0].position(t); first != "" && !(mpl >= 0 && mpl < firstAt) {
		found = append(found, first)
	}
	for _, r := range permissive {
		if r.position(t) < 0 || slices.Contains(found, r.id) || (r.id == BSD2 && slices.Contains(found, BSD3)) {
			continue
		}
		found = append(found, r.id)
	}
	slices.Sort(found)
	return found
}

// Module is one module linked into a binary.
type Module struct {
	Path    string // module path, or "std" for Go's standard library
	Version string // "" for the main module
	Dir     string // its directory, where the license files are
}

// Result is the verdict on one module.
type Result struct {
	Module
	Licenses []string // what its license files grant; [none] or [unknown] when nothing was recognised
	OK       bool     // every license found is Allowed
}

// licenseFile matches the names license files go by at a module's root.
var licenseFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicense)([.-].*)?$`)

// Check reads the license files of each module and judges them. A module
// is OK when at least one license was recognised and all are Allowed; an
// error is returned only when a directory cannot be read.
func Check(mods []Module) ([]Result, error) {
	var results []Result
	for _, m := range mods {
		r := Result{Module: m}
		entries, err := os.ReadDir(m.Dir)
		if err != nil {
			return nil, fmt.Errorf("read module %s: %w", m.Path, err)
		}
		files := 0
		for _, e := range entries {
			if e.IsDir() || !licenseFile.MatchString(e.Name()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(m.Dir, e.Name()))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return nil, fmt.Errorf("read license of %s: %w", m.Path, err)
			}
			files++
			ids := Classify(string(b))
			if len(ids) == 0 {
				ids = []string{Unknown}
			}
			for _, id := range ids {
				if !slices.Contains(r.Licenses, id) {
					r.Licenses = append(r.Licenses, id)
				}
			}
		}
		if files == 0 {
			r.Licenses = []string{NoneSeen}
		}
		slices.Sort(r.Licenses)
		r.OK = true
		for _, id := range r.Licenses {
			r.OK = r.OK && slices.Contains(Allowed, id)
		}
		results = append(results, r)
	}
	return results, nil
}
