package readmecheck

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

const sample = "# x\n\n## Try it\n\n" +
	"| `+subnet=` | client is in | answer (region) | ECS scope |\n|---|---|---|---|\n" +
	"| `81.2.69.0/24` | London, GB | `198.51.100.10`, `198.51.100.11` (eu-west) | 24 |\n" +
	"| `203.0.113.0/24` | nowhere | a weighted choice | 8 (see below) |\n\n" +
	"```console\n" +
	"$ dig @127.0.0.1 -p 5353 www.gslb.example.test +short   # London\n198.51.100.10\n198.51.100.11\n" +
	"$ etcdctl put /glb/zones/z/names/fo '{\"regions\": [\"eu-west\"],\n    \"policy\": \"failover\"}'   # two lines\nOK\n\n" +
	"$ curl -X POST 127.0.0.1:18003/fail   # eu-west's backend\n" +
	"fo.gslb.example.test.\t5\tIN\tA\t192.0.2.10             # the standby\n" +
	"```\n\n```sh\n$ not a console block\n```\n\n## Elsewhere\n\n```console\n$ dig skipped\n```\n"

func TestParse(t *testing.T) {
	ex, rows, err := Parse(sample, []string{"Try it"})
	if err != nil {
		t.Fatal(err)
	}
	wantEx := []Example{
		{Line: 11, Section: "Try it", Command: "dig @127.0.0.1 -p 5353 www.gslb.example.test +short", Want: []string{"198.51.100.10", "198.51.100.11"}},
		{Line: 14, Section: "Try it", Command: "etcdctl put /glb/zones/z/names/fo '{\"regions\": [\"eu-west\"],\n    \"policy\": \"failover\"}'", Want: []string{"OK"}},
		{Line: 18, Section: "Try it", Command: "curl -X POST 127.0.0.1:18003/fail", Want: []string{"fo.gslb.example.test.\t5\tIN\tA\t192.0.2.10"}},
	}
	if !reflect.DeepEqual(ex, wantEx) {
		t.Errorf("examples\n%#v\nwant\n%#v", ex, wantEx)
	}
	wantRows := []Row{
		{Line: 7, Subnet: "81.2.69.0/24", Addrs: []string{"198.51.100.10", "198.51.100.11"}, Scope: 24},
		{Line: 8, Subnet: "203.0.113.0/24", Scope: 8},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("rows %+v, want %+v", rows, wantRows)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, readme string }{
		{"output before a command", "## Try it\n```console\n198.51.100.10\n```\n"},
		{"block not closed", "## Try it\n```console\n$ dig x\n"},
		{"scope not a number", "## Try it\n| `81.2.69.0/24` | a | b | wide |\n"},
	} {
		if _, _, err := Parse(tc.readme, []string{"Try it"}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`sleep 3; dig @h -p 1 www +short`, []string{"sleep", "3", ";", "dig", "@h", "-p", "1", "www", "+short"}},
		{`etcdctl put /k '{"a": "b c"}'`, []string{"etcdctl", "put", "/k", `{"a": "b c"}`}},
		{"etcdctl put /k '{\"a\":\n  1}'", []string{"etcdctl", "put", "/k", "{\"a\":\n  1}"}},
		{`for i in 1 2; do d x +subnet=1.2.3.0/24; done`, []string{"for", "i", "in", "1", "2", ";", "do", "d", "x", "+subnet=1.2.3.0/24", ";", "done"}},
		{`dig x | grep CLIENT-SUBNET`, []string{"dig", "x", "|", "grep", "CLIENT-SUBNET"}},
	} {
		got, err := tokenize(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tokenize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := tokenize(`echo 'open`); err == nil {
		t.Error("an open quote is no error")
	}
}

// TestRunWithoutServers runs the commands that need no server, and checks
// that anything the interpreter does not know is refused, not skipped.
func TestRunWithoutServers(t *testing.T) {
	var slept []time.Duration
	e := &Env{Sleep: func(d time.Duration) { slept = append(slept, d) }}
	for _, tc := range []struct {
		cmd     string
		wantErr error
	}{
		{"export ETCDCTL_ENDPOINTS=127.0.0.1:2379", nil},
		{"sleep 3; sleep 0.5", nil},
		{"for i in 1 2; do sleep 1; done", nil},
		{"rm -rf /", errUnsupported},
		{"sleep 1 | wc -l", errUnsupported},
		{"for i in 1 2 do sleep 1 done", errUnsupported},
		{"etcdctl get /glb/", errUnsupported},
		{"dig www +trace", errUnsupported},
	} {
		_, err := e.Run(context.Background(), tc.cmd)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%q: err %v, want %v", tc.cmd, err, tc.wantErr)
		}
	}
	want := []time.Duration{3 * time.Second, 500 * time.Millisecond, time.Second, time.Second, time.Second}
	if !reflect.DeepEqual(slept, want) {
		t.Errorf("slept %v, want %v", slept, want)
	}
}

func TestSame(t *testing.T) {
	for _, tc := range []struct {
		cmd, got string
		want     []string
		same     bool
	}{
		{"dig x +short", "198.51.100.11\n198.51.100.10\n", []string{"198.51.100.10", "198.51.100.11"}, true},
		{"dig x +short", "198.51.100.20\n", []string{"198.51.100.10", "198.51.100.11"}, false},
		{"dig x +noall +answer", "fo.x.\t5\tIN\tA\t192.0.2.10\n", []string{"fo.x.   5  IN  A  192.0.2.10"}, true},
		{"etcdctl put k v", "OK\n", nil, false},
		{"etcdctl put k v", "OK\n", []string{"OK"}, true},
		{"curl -X POST h/fail", "b\na\n", []string{"a", "b"}, false}, // only dig output is unordered
	} {
		if got := Same(tc.cmd, tc.got, tc.want); got != tc.same {
			t.Errorf("Same(%q, %q, %q) = %v", tc.cmd, tc.got, tc.want, got)
		}
	}
}

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want bool
	}{
		{"dig x +short", true},
		{"sleep 3; dig x +short | sort", true},
		{"for i in 1 2 3; do d canary.x +subnet=81.2.61.0/24; done", true},
		{"etcdctl put k v", false},
		{"curl -X POST h/fail; sleep 3", false},
		{"for i in 1 2; do etcdctl put k v; done", false},
		{"dig x; etcdctl del k", false},
	} {
		if got := ReadOnly(tc.cmd); got != tc.want {
			t.Errorf("ReadOnly(%q) = %v, want %v", tc.cmd, got, tc.want)
		}
	}
}
