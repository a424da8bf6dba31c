package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"
)

var completionCmd = &command{
	name:     "completion",
	synopsis: "bash|zsh|fish",
	summary:  "print a shell completion script",
	help: `Prints a script that completes glbctl's commands, their flags, the
kinds of glbctl get, the formats of -o and file names after -f, for one
shell. Load it in the current shell, or install it for every new one:

  source <(glbctl completion bash)      # ~/.bashrc, or /etc/bash_completion.d/glbctl
  source <(glbctl completion zsh)       # ~/.zshrc (uses bashcompinit)
  glbctl completion fish | source       # or > ~/.config/fish/completions/glbctl.fish

Region and name arguments are not completed: that would ask etcd.`,
	run: runCompletion,
}

// completionShells are the shells completion writes scripts for.
var completionShells = []string{"bash", "zsh", "fish"}

func runCompletion(ctx context.Context, a *app, c *command, args []string) error {
	pos, err := a.parse(c, a.commandFlags(c), args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "a shell: bash, zsh or fish"); err != nil {
		return err
	}
	spec := completionSpec(ctx, a)
	switch pos[0] {
	case "bash":
		return writeScript(a.stdout, bashScript, spec, "")
	case "zsh":
		return writeScript(a.stdout, bashScript, spec, zshHeader)
	case "fish":
		return writeScript(a.stdout, fishScript, spec, "")
	}
	return fmt.Errorf("%w: no completion for shell %q: want bash, zsh or fish%s", errUsage, pos[0], closest(pos[0], completionShells))
}

// flagSpec is one flag as completion needs it.
type flagSpec struct {
	Name  string
	Usage string
	Value bool   // takes a value
	Words string // the values it takes, space-separated, when known
	File  bool   // the value is a file
}

// Dash is the flag as completion offers it: -f and -o, --dry-run.
func (f flagSpec) Dash() string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// cmdSpec is one command as completion needs it.
type cmdSpec struct {
	Name    string
	Summary string
	Flags   []flagSpec
	Args    string // words that complete its arguments, space-separated
}

type spec struct {
	Commands []cmdSpec
	Globals  []flagSpec
}

// ValueFlags lists the flags that take a value, as a case pattern.
func (s spec) ValueFlags() string {
	var out []string
	for _, f := range s.allFlags() {
		if f.Value && !slices.Contains(out, "-"+f.Name) {
			out = append(out, "-"+f.Name, "--"+f.Name)
		}
	}
	return strings.Join(out, "|")
}

// WordFlags lists, once each, the flags whose values are known words.
func (s spec) WordFlags() []flagSpec {
	return s.uniqueFlags(func(f flagSpec) bool { return f.Words != "" })
}

// FileFlags lists, once each, the flags whose values are files.
func (s spec) FileFlags() []flagSpec { return s.uniqueFlags(func(f flagSpec) bool { return f.File }) }

func (s spec) uniqueFlags(keep func(flagSpec) bool) []flagSpec {
	var out []flagSpec
	for _, f := range s.allFlags() {
		if keep(f) && !slices.ContainsFunc(out, func(o flagSpec) bool { return o.Name == f.Name }) {
			out = append(out, f)
		}
	}
	return out
}

func (s spec) allFlags() []flagSpec {
	out := slices.Clone(s.Globals)
	for _, c := range s.Commands {
		out = append(out, c.Flags...)
	}
	return out
}

// Names lists the commands, space-separated.
func (s spec) Names() string {
	var out []string
	for _, c := range s.Commands {
		out = append(out, c.Name)
	}
	return strings.Join(out, " ")
}

// completionSpec learns every command's flags by running it with flagsOf
// set, so the scripts cannot drift from the flags the commands parse.
func completionSpec(ctx context.Context, a *app) spec {
	var s spec
	for _, c := range commands {
		cs := cmdSpec{Name: c.name, Summary: c.summary}
		probe := &app{env: a.env, stdin: a.stdin, stdout: io.Discard, stderr: io.Discard, g: a.g, now: a.now, sleep: a.sleep, http: a.http}
		probe.flagsOf = func(fs *flag.FlagSet) {
			fs.VisitAll(func(f *flag.Flag) {
				fl := flagSpec{Name: f.Name, Usage: f.Usage, Value: !isBoolFlag(f)}
				switch f.Name {
				case "o":
					fl.Words = strings.Join([]string{outTable, outJSON, outYAML}, " ")
				case "type":
					fl.Words = "A AAAA"
				case "f", "clients", "password-file":
					fl.File = true
				}
				if isGlobal(f.Name) {
					if c == commands[0] {
						s.Globals = append(s.Globals, fl)
					}
					return
				}
				cs.Flags = append(cs.Flags, fl)
			})
		}
		_ = c.run(ctx, probe, c, nil)
		switch c.name {
		case "get":
			cs.Args = strings.Join(getResources, " ")
		case "completion":
			cs.Args = strings.Join(completionShells, " ")
		case "rbac":
			cs.Args = "apply"
		case "help":
			cs.Args = "COMMANDS"
		}
		s.Commands = append(s.Commands, cs)
	}
	for i := range s.Commands {
		if s.Commands[i].Args == "COMMANDS" {
			s.Commands[i].Args = s.Names()
		}
	}
	return s
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func writeScript(w io.Writer, t *template.Template, s spec, header string) error {
	if _, err := io.WriteString(w, header); err != nil {
		return fmt.Errorf("write completion: %w", err)
	}
	if err := t.Execute(w, s); err != nil {
		return fmt.Errorf("write completion: %w", err)
	}
	return nil
}

// zshHeader lets zsh run the bash script, as many Go tools do.
const zshHeader = `#compdef glbctl
# zsh completion for glbctl: source <(glbctl completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
`

var bashScript = template.Must(template.New("bash").Parse(`# bash completion for glbctl: source <(glbctl completion bash)
_glbctl() {
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	# The command is the first word that is neither a flag nor a flag's value.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		{{.ValueFlags}}) i=$((i + 1)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
{{- range .WordFlags}}
	-{{.Name}} | --{{.Name}}) COMPREPLY=($(compgen -W "{{.Words}}" -- "$cur")); return ;;{{end}}
{{- range .FileFlags}}
	-{{.Name}} | --{{.Name}}) COMPREPLY=($(compgen -f -- "$cur")); return ;;{{end}}
	{{.ValueFlags}}) return ;;
	esac
	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "{{range .Globals}}{{.Dash}} {{end}}" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "{{.Names}}" -- "$cur"))
		fi ;;
{{- range .Commands}}
	{{.Name}})
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "{{range .Flags}}{{.Dash}} {{end}}{{range $.Globals}}{{.Dash}} {{end}}" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "{{.Args}}" -- "$cur"))
		fi ;;
{{- end}}
	esac
}
complete -F _glbctl glbctl
`))

var fishScript = template.Must(template.New("fish").Funcs(template.FuncMap{
	"q": func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	},
}).Parse(`# fish completion for glbctl: glbctl completion fish | source
complete -c glbctl -f
{{- range .Commands}}
complete -c glbctl -n __fish_use_subcommand -a {{.Name}} -d {{q .Summary}}
{{- $cmd := .Name}}
{{- if .Args}}
complete -c glbctl -n '__fish_seen_subcommand_from {{$cmd}}' -a {{q .Args}}
{{- end}}
{{- range .Flags}}
complete -c glbctl -n '__fish_seen_subcommand_from {{$cmd}}' {{if eq (len .Name) 1}}-s{{else}}-l{{end}} {{.Name}}{{if .Value}} -r{{end}}{{if .File}} -F{{end}}{{if .Words}} -a {{q .Words}}{{end}} -d {{q .Usage}}
{{- end}}
{{- end}}
{{- range .Globals}}
complete -c glbctl -l {{.Name}} -r -d {{q .Usage}}
{{- end}}
`))
