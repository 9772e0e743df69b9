package testenv

import (
	"net"
	"testing"
)

// ClosedAddr returns a loopback host:port where nothing listens, for tests of a server that is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
