package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// defaultScenarios run unless --scenarios says otherwise; allScenarios are
// every scenario keyward-bench knows.
var (
	defaultScenarios = []string{"healthz", "key", "verify", "token", "introspect", "signed", "cold", "cold-key"}
	allScenarios     = []string{"healthz", "key", "limited", "verify", "token", "introspect", "signed", "cold", "cold-key", "list", "memory"}
)

// target is the lowest ratio a scenario's req/s must reach to another row
// of the same run (issue 13's targets).
type target struct {
	ref string
	min float64
}

func targetOf(name, store string) (target, bool) {
	switch name {
	case "healthz":
		return target{"floor", 0.90}, true
	case "key", "verify":
		return target{"healthz", 0.90}, true
	case "token":
		return target{"signing", 0.85}, true
	case "cold", "cold-key":
		if store == "postgres" {
			return target{"floor", 0.20}, true
		}
		return target{"floor", 0.35}, true
	}
	return target{}, false
}

// coldMisses is the fewest key cache misses per request at which a cold
// scenario counts as cold.
const coldMisses = 0.9

// row is one line of the results: a reference or a scenario.
type row struct {
	name string
	result
	ofFloor    float64 // req/s over the floor's; 0: unknown
	target     string  // "" when the scenario has no target
	ofRef      float64 // req/s over the target's reference; 0: unknown
	met        string  // yes, no, "warm" (a cold scenario the cache served), or -
	misses     float64 // key cache misses per request (from /metrics)
	lookups    float64 // key cache lookups per request
	cacheKnown bool
	memory     *memoryResult // the memory scenario's measurement
}

// listMaxP99 is issue 13's target for every list scenario.
const listMaxP99 = 50 * time.Millisecond

type report struct {
	cfg     config
	args    []string
	machine machine
	start   time.Time
	rows    []row
	notes   []string
}

// judge computes every row's ratios and whether it meets its target.
func (r *report) judge() {
	rps := map[string]float64{}
	for _, x := range r.rows {
		rps[x.name] = x.rps
	}
	cold := false
	for i := range r.rows {
		x := &r.rows[i]
		x.met = "-"
		if f := rps["floor"]; f > 0 {
			x.ofFloor = x.rps / f
		}
		switch {
		case strings.HasPrefix(x.name, "list-"):
			x.target, x.met = "p99<"+listMaxP99.String(), "no"
			if x.p99 < listMaxP99 && x.errors == 0 && x.n > 0 {
				x.met = "yes"
			}
			continue
		case x.memory != nil:
			x.ofFloor = 0 // its req/s counts keys, not requests
			x.target, x.met = fmt.Sprintf("≤%dB/key", memoryMaxSize), "no"
			if x.memory.perKey() <= memoryMaxSize && x.errors == 0 {
				x.met = "yes"
			}
			continue
		}
		t, ok := targetOf(x.name, r.cfg.store)
		if !ok {
			continue
		}
		x.target = fmt.Sprintf("≥%.2f×%s", t.min, t.ref)
		ref := rps[t.ref]
		if ref <= 0 {
			continue
		}
		x.ofRef = x.rps / ref
		x.met = "no"
		if x.ofRef >= t.min && x.errors == 0 {
			x.met = "yes"
		}
		if x.name == "cold" || x.name == "cold-key" {
			cold = true
			switch {
			case !x.cacheKnown:
				r.notes = append(r.notes, fmt.Sprintf("%s: the server publishes no key cache counters at /metrics, so whether its requests missed the cache is unknown", x.name))
			case x.misses < coldMisses:
				x.met = "warm"
				r.notes = append(r.notes, fmt.Sprintf("%s: only %.2f key cache misses per request (from /metrics), so it was not cold and is not judged", x.name, x.misses))
			default:
				r.notes = append(r.notes, fmt.Sprintf("%s: %.2f key cache misses per request (from /metrics)", x.name, x.misses))
			}
		}
	}
	if cold {
		r.notes = append(r.notes, fmt.Sprintf("cold scenarios: %d distinct keys round-robin; for every request to miss the key cache, run the server with a small --cache-ttl (e.g. 1ns; then the verifier's own key misses too, 2 misses per cold verify) or a small --cache-size, or use more --cold-keys than the run sends requests", r.cfg.coldKeys))
	}
	if m := r.machine; m.load1 > float64(m.cpus) {
		r.notes = append(r.notes, fmt.Sprintf("load average %.2f on %d CPUs when the measurements began: the machine was shared, the ratios are noisier than usual", m.load1, m.cpus))
	}
}

func (x row) cells() (ofFloor, ofRef, target, misses string) {
	ofFloor, ofRef, target, misses = "-", "-", "-", "-"
	if x.ofFloor > 0 {
		ofFloor = fmt.Sprintf("%.2f", x.ofFloor)
	}
	if x.ofRef > 0 {
		ofRef = fmt.Sprintf("%.2f", x.ofRef)
	}
	if x.target != "" {
		target = x.target
	}
	if x.cacheKnown {
		misses = fmt.Sprintf("%.2f", x.misses)
	}
	return
}

// text writes the results as an aligned table, then the notes.
func (r *report) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\trequests\terrors\treq/s\tp50\tp99\tof-floor\tof-ref\ttarget\tmet\tmisses/req\n")
	for _, x := range r.rows {
		ofFloor, ofRef, target, misses := x.cells()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%v\t%v\t%s\t%s\t%s\t%s\t%s\n", x.name, x.n, x.errors, x.rps,
			x.p50.Round(time.Microsecond), x.p99.Round(time.Microsecond), ofFloor, ofRef, target, x.met, misses)
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// markdown returns the results as a markdown table with the machine and the
// command line.
func (r *report) markdown() string {
	var b strings.Builder
	m := r.machine
	where := "each in a child process of keyward-bench"
	if r.cfg.references == "inprocess" {
		where = "in keyward-bench's process"
	}
	rounds := ""
	if r.cfg.rounds > 1 {
		rounds = fmt.Sprintf("; each row the median of %d rounds run in turn", r.cfg.rounds)
	}
	fmt.Fprintf(&b, "Run at %s, closed loop, %d connections, %s per scenario, loopback; the floor and the signing reference served %s, loaded by the same client in the same run%s.\n\n",
		r.start.Format("2006-01-02 15:04 UTC"), r.cfg.concurrency, r.cfg.duration, where, rounds)
	fmt.Fprintf(&b, "Machine: %d CPUs (nproc), %s, %s, %s, load average %s when the measurements began\n\n", m.cpus, m.model, m.goVersion, m.os, m.load)
	fmt.Fprintf(&b, "Command: `%s`\n\n", commandLine(r.args))
	b.WriteString("| scenario | req/s | p50 | p99 | of floor | of its reference | target | met | key cache misses/req |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |\n")
	for _, x := range r.rows {
		ofFloor, ofRef, target, misses := x.cells()
		name := x.name
		if x.errors > 0 {
			name += fmt.Sprintf(" (%d errors)", x.errors)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %v | %v | %s | %s | %s | %s | %s |\n", name, x.rps,
			x.p50.Round(time.Microsecond), x.p99.Round(time.Microsecond), ofFloor, ofRef, target, x.met, misses)
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// commandLine is the command as run, the password left out.
func commandLine(args []string) string {
	out := []string{"keyward-bench"}
	hide := false
	for _, a := range args {
		switch {
		case hide:
			a, hide = "…", false
		case a == "--password" || a == "-password":
			hide = true
		case strings.HasPrefix(a, "--password=") || strings.HasPrefix(a, "-password="):
			a = a[:strings.Index(a, "=")+1] + "…"
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?;&|<>()#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// machine describes where the run happened.
type machine struct {
	cpus                 int
	model, goVersion, os string
	load                 string
	load1                float64
}

func readMachine() machine {
	m := machine{cpus: runtime.NumCPU(), model: "unknown CPU", goVersion: runtime.Version(), os: runtime.GOOS + "/" + runtime.GOARCH, load: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.os += " (kernel " + strings.TrimSpace(string(b)) + ")"
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.load = strings.Join(f[:3], " ")
			m.load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return m
}
