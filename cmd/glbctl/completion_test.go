package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCompletionScripts generates the script of each shell and has the
// shell itself check its syntax (bash always; zsh and fish where they are
// installed), and checks that it names every command.
func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct {
		shell string
		check []string // the shell's syntax check of a file, the file last
	}{
		{"bash", []string{"bash", "-n"}},
		{"zsh", []string{"zsh", "-n"}},
		{"fish", []string{"fish", "--no-execute"}},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			r := ctl(t, nil, "completion", tc.shell)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			for _, c := range commands {
				if !strings.Contains(r.stdout, c.name) {
					t.Errorf("the %s script does not name %s", tc.shell, c.name)
				}
			}
			if _, err := exec.LookPath(tc.check[0]); err != nil {
				if tc.shell == "bash" {
					t.Fatal("bash is not installed")
				}
				t.Skipf("%s is not installed", tc.shell)
			}
			file := filepath.Join(t.TempDir(), "glbctl."+tc.shell)
			if err := os.WriteFile(file, []byte(r.stdout), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(tc.check[0], append(tc.check[1:], file)...).CombinedOutput(); err != nil {
				t.Errorf("%s syntax check: %v\n%s", tc.shell, err, out)
			}
		})
	}
}

// TestBashCompletes runs the bash script's function as bash runs it on
// Tab, with the words typed so far, and checks what it offers.
func TestBashCompletes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is not installed")
	}
	script := filepath.Join(t.TempDir(), "glbctl.bash")
	if err := os.WriteFile(script, []byte(ctl(t, nil, "completion", "bash").stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string // the command line, the word being completed last
		want  string   // COMPREPLY, space-separated
	}{
		{[]string{"glbctl", "ap"}, "apply"},
		{[]string{"glbctl", "--prefix", "/x/", "g"}, "get"},
		{[]string{"glbctl", "get", ""}, "regions names weights probers"},
		{[]string{"glbctl", "--timeout", "5s", "get", "w"}, "weights"},
		{[]string{"glbctl", "status", "-o", ""}, "table json yaml"},
		{[]string{"glbctl", "explain", "www", "192.0.2.1", "--type", "A"}, "A AAAA"},
		{[]string{"glbctl", "apply", "--d"}, "--dry-run"},
		{[]string{"glbctl", "apply", "--e"}, "--exit-code --etcd-endpoints"},
		{[]string{"glbctl", "weight", "eu-west", "--r"}, "--ramp"},
		{[]string{"glbctl", "completion", "f"}, "fish"},
		{[]string{"glbctl", "help", "sim"}, "simulate"},
		{[]string{"glbctl", "rbac", ""}, "apply"},
		{[]string{"glbctl", "rbac", "apply", "--pa"}, "--password-file"},
		{[]string{"glbctl", "--glbd", ""}, ""}, // a flag's value: nothing to offer
	} {
		t.Run(strings.Join(tc.words, " "), func(t *testing.T) {
			var quoted []string
			for _, w := range tc.words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
				strconv.Itoa(len(tc.words)-1) + "\n_glbctl\necho \"${COMPREPLY[*]}\"\n"
			out, err := exec.Command("bash", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("offers %q, want %q", got, tc.want)
			}
		})
	}
}
