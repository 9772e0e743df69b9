package chaos

import (
	"os"
	"testing"

	"github.com/relais-edu/relais/internal/testenv"
)

// TestMain stops the servers testenv started (PostgreSQL, the S3 server) when the tests end.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
