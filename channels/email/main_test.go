package email

import (
	"os"
	"testing"

	"github.com/relais-edu/relais/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
