.PHONY: run test test-pg lint bench

run:
	go run ./cmd/keyward serve

test:
	go test ./...

test-pg:
	KEYWARD_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test -race ./...

lint:
	gofmt -l . && go vet ./...

bench:
	go test -run '^$$' -bench . ./...
