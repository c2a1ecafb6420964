package main

import (
	"os"
	"regexp"
	"testing"
)

// TestDockerfile holds the Dockerfile to what TestContainerEntrypoint
// exercises on the binary (there is no Docker daemon in CI): the build
// stage runs deploy/build.sh, and the image runs "keyward serve" as a
// non-root user with KEYWARD_ADDR on every address, KEYWARD_DATA_DIR=/data
// and "keyward healthcheck" as its HEALTHCHECK.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ what, re string }{
		{"the build stage runs deploy/build.sh", `(?m)^RUN .*deploy/build\.sh /out/keyward`},
		{"a static final stage", `(?m)^FROM gcr\.io/distroless/static-debian12:nonroot$`},
		{"a non-root user", `(?m)^USER 65532:65532$`},
		{"/data owned by that user", `(?m)^COPY --from=build --chown=65532:65532 /out/data /data$`},
		{"KEYWARD_ADDR on every address", `(?m)^ENV KEYWARD_ADDR=0\.0\.0\.0:8080 \\$`},
		{"KEYWARD_DATA_DIR=/data", `(?m)^\s+KEYWARD_DATA_DIR=/data$`},
		{"the data volume", `(?m)^VOLUME /data$`},
		{"the port", `(?m)^EXPOSE 8080$`},
		{"the binary checks its health", `(?m)^\s+CMD \["/usr/local/bin/keyward", "healthcheck"\]$`},
		{"the entrypoint", `(?m)^ENTRYPOINT \["/usr/local/bin/keyward"\]\nCMD \["serve"\]$`},
	}
	for _, tt := range tests {
		if !regexp.MustCompile(tt.re).Match(b) {
			t.Errorf("%s: got no line matching %s in the Dockerfile", tt.what, tt.re)
		}
	}
}
