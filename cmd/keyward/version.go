package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Release builds set these with -ldflags, e.g.
//
//	-X main.version=v1.2.0 -X main.revision=3f2a9c1 -X main.buildTime=2026-11-27T18:00:00Z
//
// (deploy/build.sh does). Empty, they come from the binary's build
// information: the module version for "go install …@v1.2.0", the VCS
// revision and time for a build inside a Git checkout.
var version, revision, buildTime string

// buildInfo describes this binary.
type buildInfo struct {
	Version   string // module version, "dev" when unknown
	Revision  string // VCS revision, with "-dirty" for a modified tree; "unknown" when unknown
	Time      string // VCS commit time (RFC 3339), empty when unknown
	GoVersion string
}

// currentBuild is this binary's buildInfo.
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveBuild(bi, version, revision, buildTime)
}

// resolveBuild combines the binary's build information bi (nil when the
// binary has none) with the -ldflags values, which win when set.
func resolveBuild(bi *debug.BuildInfo, ldVersion, ldRevision, ldTime string) buildInfo {
	b := buildInfo{Version: "dev", Revision: "unknown", GoVersion: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && b.Revision != "unknown" {
			b.Revision += "-dirty"
		}
	}
	if ldVersion != "" {
		b.Version = ldVersion
	}
	if ldRevision != "" {
		b.Revision = ldRevision
	}
	if ldTime != "" {
		b.Time = ldTime
	}
	return b
}

// String is the line "keyward version" prints.
func (b buildInfo) String() string {
	s := fmt.Sprintf("keyward %s (revision %s", b.Version, b.Revision)
	if b.Time != "" {
		s += ", " + b.Time
	}
	return s + ", " + b.GoVersion + ")"
}

// collector is the keyward_build_info gauge: always 1, labelled with the
// version, revision and Go version.
func (b buildInfo) collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyward_build_info",
		Help: "Always 1; the labels name the running keyward's version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion,
		},
	}, func() float64 { return 1 })
}
