package redisstore_test

import (
	"os"
	"testing"

	"github.com/keyward/keyward/internal/redisstore"
)

// TestMain quiets the Redis library as keyward serve does: the tests that
// cut Redis off would otherwise print its every failed dial.
func TestMain(m *testing.M) {
	redisstore.SilenceLibraryLogs()
	os.Exit(m.Run())
}
