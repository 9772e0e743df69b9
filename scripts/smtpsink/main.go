// Command smtpsink runs an SMTP server that accepts every message and discards it (internal/smtpsink),
// for benchmarks whose server must not be the bound: scripts/bench-email.sh starts it.
//
//	go run ./scripts/smtpsink -addr 127.0.0.1:2526
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/relais-edu/relais/internal/smtpsink"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2526", "address to listen on (loopback)")
	flag.Parse()
	s, err := smtpsink.Listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
	fmt.Println("smtpsink listening on", s.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.Close()
	fmt.Printf("smtpsink: %d messages, %d bytes discarded\n", s.Messages(), s.Bytes())
}
