.PHONY: run test test-pg lint bench

run:
	go run ./cmd/keyward serve

test:
	go test ./...

test-pg:
	KEYWARD_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test -race -timeout 25m ./...

STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

# lint fails on an unformatted file, a vet finding or a staticcheck finding.
lint:
	@unformatted="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

bench:
	go test -run '^$$' -bench . ./...
