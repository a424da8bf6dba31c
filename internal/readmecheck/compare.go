package readmecheck

import (
	"slices"
	"strings"
)

// Same reports whether a command's output matches what README shows.
// Runs of blanks count as one (README aligns with spaces, dig with tabs)
// and empty lines are ignored. The answers of dig are compared in any
// order: glbd rotates the addresses of an answer, and README says so where
// it shows one.
func Same(command, got string, want []string) bool {
	g, w := normalize(strings.Split(got, "\n")), normalize(want)
	if usesDig(command) {
		slices.Sort(g)
		slices.Sort(w)
	}
	return slices.Equal(g, w)
}

func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}

// usesDig reports whether the command runs dig or README's d().
func usesDig(command string) bool {
	toks, err := tokenize(command)
	if err != nil {
		return false
	}
	return slices.Contains(toks, "dig") || slices.Contains(toks, "d")
}
