package chaos

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFrontRoundRobin: requests go to the API processes in turn, each answer names its process, and a
// process that refuses connections is skipped with the request's body sent whole to the next one.
func TestFrontRoundRobin(t *testing.T) {
	var got []string
	backend := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = append(got, name+":"+r.Method+":"+string(b))
			w.Header().Set("Upload-Offset", "7")
			w.WriteHeader(http.StatusNoContent)
		}))
	}
	a, b, dead := backend("a"), backend("b"), backend("dead")
	defer a.Close()
	defer b.Close()
	dead.Close() // refuses connections from now on
	f, err := StartFront([]string{a.URL, b.URL, dead.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var served []string
	for i := range 4 {
		req, _ := http.NewRequest(http.MethodPatch, f.URL()+"/api/v1/uploads/x", strings.NewReader(strings.Repeat("z", i+1)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != "7" {
			t.Errorf("request %d: %s, Upload-Offset %q", i, resp.Status, resp.Header.Get("Upload-Offset"))
		}
		served = append(served, resp.Header.Get(BackendHeader))
	}
	// The third request's turn is the dead process: it goes on to a, the fourth's turn is a again.
	if diff := cmp.Diff([]string{"0", "1", "0", "0"}, served); diff != "" {
		t.Errorf("backends (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a:PATCH:z", "b:PATCH:zz", "a:PATCH:zzz", "a:PATCH:zzzz"}, got); diff != "" {
		t.Errorf("requests at the backends (-want +got):\n%s", diff)
	}
	if n := len(f.Served()); n != 4 {
		t.Errorf("%d requests recorded, want 4", n)
	}
}
