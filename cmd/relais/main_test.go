package main

import (
	"os"
	"testing"

	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/testenv"
)

// TestMain lets the test binary serve as the worker's media child, as the relais binary does.
func TestMain(m *testing.M) {
	if ingest.IsChild() {
		os.Exit(ingest.ChildMain())
	}
	os.Exit(testenv.Main(m))
}
