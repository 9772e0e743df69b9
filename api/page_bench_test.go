package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// BenchmarkFamilyPage measures the family page under a 9 a.m. surge: requests per second and p99
// latency at 50 and 200 concurrent clients, full answers and conditional ones (304), through Relais'
// API server on SQLite and through a bare net/http handler serving the same bytes from memory (the
// baseline: scripts/bench-family.sh prints the ratios).
func BenchmarkFamilyPage(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1",
		Markdown: "# Les fractions\n\n- Une fraction partage un tout.\n- Le dénominateur dit en combien.\n", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		b.Fatal(err)
	}
	hs := []relais.Household{{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
		Phone: "+33612000001", Consent: true}}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		b.Fatal(err)
	}
	path := strings.TrimPrefix(f.signer.LessonURL(l.ID, hs[0].ID), "http://relais.test")
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		b.Fatalf("family page = %d, ETag %q", resp.StatusCode, etag)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(page)
	}))
	defer bare.Close()

	for _, clients := range []int{50, 200} {
		for _, cond := range []bool{false, true} {
			for _, srv := range []struct{ name, url string }{{"bare", bare.URL + path}, {"relais", f.srv.URL + path}} {
				name := fmt.Sprintf("clients=%d/conditional=%v/%s", clients, cond, srv.name)
				b.Run(name, func(b *testing.B) {
					ifNoneMatch := ""
					if cond {
						ifNoneMatch = etag
					}
					surge(b, srv.url, clients, ifNoneMatch)
				})
			}
		}
	}
}

// surge sends b.N GETs of url from clients goroutines at once, each on its own kept-alive connection,
// and reports requests per second and the 99th percentile latency.
func surge(b *testing.B, url string, clients int, ifNoneMatch string) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	want := http.StatusOK
	if ifNoneMatch != "" {
		want = http.StatusNotModified
	}
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest("GET", url, nil)
				if ifNoneMatch != "" {
					req.Header.Set("If-None-Match", ifNoneMatch)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(t0))
				if resp.StatusCode != want {
					b.Errorf("status %d, want %d", resp.StatusCode, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
