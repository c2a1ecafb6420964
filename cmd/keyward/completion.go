package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

const completionUsage = `Usage: keyward completion bash|zsh|fish

Prints a shell completion script for keyward's commands, subcommands and
flags. Load it with:

  bash   source <(keyward completion bash)     (or save it under
         /etc/bash_completion.d/keyward)
  zsh    source <(keyward completion zsh)
  fish   keyward completion fish > ~/.config/fish/completions/keyward.fish
`

// topCommands are keyward's commands, in the order help lists them; the
// completion scripts and "keyward help <command>" read them.
var topCommands = []topCommand{
	{name: "serve", about: "run the server"},
	{name: "migrate", about: "apply pending database migrations and exit"},
	{name: "admin", about: "set a user's password", subs: map[string]string{"reset-password": "set a user's password"}},
	{name: "backup", about: "copy a running server's SQLite database"},
	{name: "restore", about: "put a backup back on a stopped server"},
	{name: "apikeys", about: "manage API keys on a running server", group: &apikeysGroup},
	{name: "users", about: "manage users", group: &usersGroup},
	{name: "permissions", about: "manage the permission catalog", group: &permissionsGroup},
	{name: "tenants", about: "manage tenants", group: &tenantsGroup},
	{name: "token", about: "get an OAuth2 access token"},
	{name: "curl", about: "send one signed request"},
	{name: "healthcheck", about: "check a server's /healthz"},
	{name: "version", about: "print the version"},
	{name: "completion", about: "print a shell completion script", args: []string{"bash", "zsh", "fish"}},
	{name: "help", about: "show a command's help"},
}

type topCommand struct {
	name, about string
	group       *group            // a command with subcommands from a table
	subs        map[string]string // other fixed subcommands: name → about
	args        []string          // fixed positional words
}

func commandByName(name string) (topCommand, bool) {
	for _, c := range topCommands {
		if c.name == name {
			return c, true
		}
	}
	return topCommand{}, false
}

// flagCollector, given to a command as its stdout with the arguments
// "--help", receives the command's flag set instead of running it (see
// parseFlags).
type flagCollector struct {
	io.Writer
	fs *flag.FlagSet
}

// flagNames returns the flags of "keyward <path...>", sorted, with their
// usage's first line.
func flagNames(path ...string) []flagInfo {
	var fs *flag.FlagSet
	if c, ok := commandByName(path[0]); ok && c.group != nil {
		if len(path) < 2 {
			return nil
		}
		cmd, ok := c.group.commands[path[1]]
		if !ok {
			return nil
		}
		fs = flag.NewFlagSet("", flag.ContinueOnError)
		var conn connFlags
		conn.register(fs)
		fs.Bool("json", false, "print the server's JSON answer instead of text")
		cmd.flags(fs)
	} else {
		fc := &flagCollector{Writer: io.Discard}
		args := append(append([]string{}, path...), "--help")
		run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), fc, io.Discard)
		fs = fc.fs
	}
	if fs == nil {
		return nil
	}
	var out []flagInfo
	fs.VisitAll(func(f *flag.Flag) {
		_, help := flag.UnquoteUsage(f)
		help, _, _ = strings.Cut(help, "\n")
		out = append(out, flagInfo{name: f.Name, help: help})
	})
	return out
}

type flagInfo struct{ name, help string }

// completionNode is one command path's completions: the words that may
// follow it and its flags.
type completionNode struct {
	path  []string
	words []wordInfo // subcommands or fixed arguments
	flags []flagInfo
}

type wordInfo struct{ word, about string }

// completionTree walks topCommands: every command and subcommand with its
// words and flags.
func completionTree() []completionNode {
	var nodes []completionNode
	root := completionNode{}
	for _, c := range topCommands {
		root.words = append(root.words, wordInfo{c.name, c.about})
	}
	nodes = append(nodes, root)
	for _, c := range topCommands {
		n := completionNode{path: []string{c.name}}
		switch {
		case c.group != nil:
			for _, name := range sortedKeys(c.group.commands) {
				cmd := c.group.commands[name]
				about, _, _ := strings.Cut(cmd.about, "\n")
				n.words = append(n.words, wordInfo{name, strings.TrimSuffix(about, ".")})
				nodes = append(nodes, completionNode{path: []string{c.name, name}, flags: flagNames(c.name, name)})
			}
		case c.subs != nil:
			for _, name := range sortedKeys(c.subs) {
				n.words = append(n.words, wordInfo{name, c.subs[name]})
				nodes = append(nodes, completionNode{path: []string{c.name, name}, flags: flagNames(c.name, name)})
			}
		case c.name == "help":
			for _, t := range topCommands {
				if t.name != "help" {
					n.words = append(n.words, wordInfo{t.name, t.about})
				}
			}
		case c.args != nil:
			for _, a := range c.args {
				n.words = append(n.words, wordInfo{a, ""})
			}
		case c.name != "version":
			n.flags = flagNames(c.name)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runCompletion implements "keyward completion bash|zsh|fish".
func runCompletion(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(stdout, completionUsage)
		return exitOK
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, completionUsage)
		return exitUsage
	}
	switch args[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion(completionTree()))
	case "zsh":
		fmt.Fprint(stdout, "#compdef keyward\n# keyward completion for zsh: the bash completion through bashcompinit.\nautoload -U +X bashcompinit && bashcompinit\n")
		fmt.Fprint(stdout, bashCompletion(completionTree()))
	case "fish":
		fmt.Fprint(stdout, fishCompletion(completionTree()))
	default:
		fmt.Fprintf(stderr, "keyward completion: unknown shell %q\n\n%s", args[0], completionUsage)
		return exitUsage
	}
	return exitOK
}

// bashCompletion renders the tree as one bash function: the command path is
// the non-flag words before the cursor; what completes is that path's words,
// or its flags once the word starts with "-".
func bashCompletion(nodes []completionNode) string {
	var b strings.Builder
	b.WriteString(`# keyward completion for bash: source <(keyward completion bash)
_keyward() {
  local cur="${COMP_WORDS[COMP_CWORD]}" path="" i w words="" flags=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case "${path:+$path }$w" in
`)
	// Only words that are known subcommands extend the path; a key id or a
	// flag's value does not.
	for _, n := range nodes {
		for _, w := range n.words {
			if len(n.path) < 2 && hasChildren(nodes, append(append([]string{}, n.path...), w.word)) {
				fmt.Fprintf(&b, "      %q) path=\"${path:+$path }$w\" ;;\n", strings.Join(append(append([]string{}, n.path...), w.word), " "))
			}
		}
	}
	b.WriteString(`    esac
  done
  case "$path" in
`)
	for _, n := range nodes {
		var ws, fs []string
		for _, w := range n.words {
			ws = append(ws, w.word)
		}
		for _, f := range n.flags {
			fs = append(fs, "--"+f.name)
		}
		fmt.Fprintf(&b, "    %q) words=%q flags=%q ;;\n", strings.Join(n.path, " "), strings.Join(ws, " "), strings.Join(fs, " "))
	}
	b.WriteString(`  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}
complete -o default -F _keyward keyward
`)
	return b.String()
}

// hasChildren reports whether path has words or flags of its own.
func hasChildren(nodes []completionNode, path []string) bool {
	for _, n := range nodes {
		if strings.Join(n.path, " ") == strings.Join(path, " ") {
			return true
		}
	}
	return false
}

// fishCompletion renders the tree as fish "complete" lines.
func fishCompletion(nodes []completionNode) string {
	var b strings.Builder
	b.WriteString("# keyward completion for fish: keyward completion fish > ~/.config/fish/completions/keyward.fish\ncomplete -c keyward -f\n")
	for _, n := range nodes {
		var cond string
		switch len(n.path) {
		case 0:
			cond = "__fish_use_subcommand"
		case 1:
			var subs []string
			for _, w := range n.words {
				subs = append(subs, w.word)
			}
			cond = "__fish_seen_subcommand_from " + n.path[0]
			if len(subs) > 0 && n.path[0] != "help" && n.path[0] != "completion" {
				cond += "; and not __fish_seen_subcommand_from " + strings.Join(subs, " ")
			}
		default:
			cond = "__fish_seen_subcommand_from " + n.path[0] + "; and __fish_seen_subcommand_from " + n.path[1]
		}
		for _, w := range n.words {
			fmt.Fprintf(&b, "complete -c keyward -n %s -a %s -d %s\n", fishQuote(cond), fishQuote(w.word), fishQuote(w.about))
		}
		for _, f := range n.flags {
			fmt.Fprintf(&b, "complete -c keyward -n %s -l %s -d %s\n", fishQuote(cond), f.name, fishQuote(f.help))
		}
	}
	return b.String()
}

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
