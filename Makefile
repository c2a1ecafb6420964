.PHONY: run test test-pg lint bench

run:
	go run ./cmd/keyward serve

test:
	go test ./...

# What CI runs (.ci/run): every package with -race, PostgreSQL and Redis
# (they must answer). internal/httpapi, the longest package, starts first
# (go test starts packages in the order named, two at a time); checkptr,
# which -race turns on, is off for modernc.org only (SQLite's C translated
# to Go: a third of a SQLite-heavy test's CPU), on for the rest.
test-pg:
	KEYWARD_TEST_POSTGRES_URL="$${KEYWARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}" \
	KEYWARD_TEST_REDIS_URL="$${KEYWARD_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
	go test -race -gcflags='modernc.org/...=-d=checkptr=0' -count=1 -timeout 25m ./internal/httpapi ./...

STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

# lint fails on an unformatted file, a vet finding or a staticcheck finding.
lint:
	@unformatted="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

bench:
	go test -run '^$$' -bench . ./...
