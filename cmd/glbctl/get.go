package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/glb-dns/glb/store/schema"
	"github.com/glb-dns/glb/store/schema/yamlconf"
)

// getResources are what glbctl get lists, in the order help names them.
var getResources = []string{"regions", "names", "weights", "probers"}

var getCmd = &command{
	name:     "get",
	synopsis: "regions|names|weights|probers [<name>...] [-o table|json|yaml]",
	summary:  "list regions, names, weights or probers, as a table, JSON or YAML",
	help: `Lists one kind of object from etcd, as glbd assembles it (keys glbd
rejects are left out; glbctl status lists them):

  regions   each region's location, addresses, check and weight
  names     each GSLB name: its zone, policy, regions, TTL and answers
  weights   each region's weight (100 when its weight key is absent)
  probers   the registered probers: location, version, uptime

With names after the kind, only those are listed (a region id; a name as
label.zone or its label alone), and a name that does not exist is an
error. -o json and -o yaml write a list of objects whose fields are those
of the etcd documents ("id", "weight" or "zone" and "label" added).

  glbctl get regions
  glbctl get names www -o yaml
  glbctl get weights -o json`,
	run: runGet,
}

func runGet(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	output := outputFlag(fs)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: want what to get: %s", errUsage, strings.Join(getResources, ", "))
	}
	kind := pos[0]
	if !slices.Contains(getResources, kind) {
		return fmt.Errorf("%w: cannot get %q: want one of %s%s", errUsage, kind, strings.Join(getResources, ", "),
			closest(kind, getResources))
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	rows, err := getRows(st, kind, pos[1:], a)
	if err != nil {
		return err
	}
	if *output != outTable {
		return a.writeDoc(*output, rows)
	}
	rows.table(a.stdout)
	return nil
}

// getList is the rows of one kind, written as a table or as a document.
type getList interface{ table(w io.Writer) }

func getRows(st *schema.State, kind string, only []string, a *app) (getList, error) {
	switch kind {
	case "regions":
		rows := regionDocs{}
		for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
			r := st.Regions[id]
			rows = append(rows, regionDoc{ID: id, Weight: r.Weight, Region: r.Region})
		}
		return pick(rows, only, "region", func(r regionDoc) []string { return []string{r.ID} })
	case "weights":
		rows := weightDocs{}
		for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
			rows = append(rows, weightDoc{ID: id, Weight: st.Regions[id].Weight})
		}
		return pick(rows, only, "region", func(r weightDoc) []string { return []string{r.ID} })
	case "names":
		rows := nameDocs{}
		for _, zn := range slices.Sorted(maps.Keys(st.Zones)) {
			z := st.Zones[zn]
			for _, label := range slices.Sorted(maps.Keys(z.Names)) {
				rows = append(rows, nameDoc{FQDN: strings.TrimSuffix(schema.Owner(zn, label), "."), Zone: zn, Label: label, Name: z.Names[label]})
			}
		}
		return pick(rows, only, "name", func(r nameDoc) []string { return []string{r.FQDN, r.Label} })
	}
	rows := proberDocs(proberRows(st, a.now()))
	return pick(rows, only, "prober", func(r proberRow) []string { return []string{r.Prober} })
}

// pick keeps the rows that names list (all when none are given), in the
// order of the names; a name no row has is an error.
func pick[S ~[]E, E any](rows S, names []string, what string, keys func(E) []string) (S, error) {
	if len(names) == 0 {
		return rows, nil
	}
	var out S
	for _, n := range names {
		i := slices.IndexFunc(rows, func(r E) bool {
			return slices.ContainsFunc(keys(r), func(k string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), k) })
		})
		if i < 0 {
			var all []string
			for _, r := range rows {
				all = append(all, keys(r)[0])
			}
			return nil, fmt.Errorf("%s %q not found%s", what, n, closest(n, all))
		}
		out = append(out, rows[i])
	}
	return out, nil
}

// closest is the "did you mean" of a mistyped word.
func closest(s string, valid []string) string { return yamlconf.DidYouMean(s, valid) }

// regionDoc is a region as get writes it: its document with its id and
// weight.
type regionDoc struct {
	ID     string `json:"id"`
	Weight int    `json:"weight"`
	*schema.Region
}

type regionDocs []regionDoc

func (rows regionDocs) table(w io.Writer) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tWEIGHT\tLOCATION\tCOUNTRY\tCONTINENT\tADDRESSES\tCHECK")
	for _, r := range rows {
		addrs := make([]string, len(r.Addrs))
		for i, a := range r.Addrs {
			addrs[i] = a.String()
		}
		fmt.Fprintf(t, "%s\t%s\t%.2f,%.2f\t%s\t%s\t%s\t%s\n", r.ID, drainedText(r.Weight), r.Lat, r.Lon,
			dash(r.Country), dash(r.Continent), strings.Join(addrs, ","), checkText(r.Check))
	}
	t.Flush()
}

type weightDoc struct {
	ID     string `json:"id"`
	Weight int    `json:"weight"`
}

type weightDocs []weightDoc

func (rows weightDocs) table(w io.Writer) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tWEIGHT")
	for _, r := range rows {
		fmt.Fprintf(t, "%s\t%s\n", r.ID, drainedText(r.Weight))
	}
	t.Flush()
}

// nameDoc is a GSLB name as get writes it: its document with where it is.
type nameDoc struct {
	FQDN  string `json:"name"`
	Zone  string `json:"zone"`
	Label string `json:"label"`
	*schema.Name
}

type nameDocs []nameDoc

func (rows nameDocs) table(w io.Writer) {
	t := newTable(w)
	fmt.Fprintln(t, "NAME\tPOLICY\tREGIONS\tTTL\tANSWERS")
	for _, r := range rows {
		ttl := "zone's"
		if r.TTL > 0 {
			ttl = fmt.Sprint(r.TTL)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%d\n", r.FQDN, r.PolicyOrDefault(), strings.Join(r.Regions, ","), ttl, r.AnswersOrDefault())
	}
	t.Flush()
}

type proberDocs []proberRow

func (rows proberDocs) table(w io.Writer) { printProbers(w, rows) }
