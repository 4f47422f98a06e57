package plugin

import (
	"os"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

func TestMain(m *testing.M) {
	// The SDK logs at debug level by default; a test binary has no build info,
	// so every HTTP client would log that at debug and bury the test output.
	log.DefaultLogger = log.NewWithLevel(log.Info)
	os.Exit(m.Run())
}
