package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to target and, once, cuts the connection that carries the
// cutAfter-th byte sent to the server, as a dropped mobile connection would. With an outage set, the
// line then stays down that long: every open connection is closed and new ones are hung up on, so a
// browser cannot hide the cut by silently sending the request again on another connection.
type cutProxy struct {
	ln       net.Listener
	target   string
	cutAfter int64

	mu        sync.Mutex
	sent      int64 // bytes forwarded to the server
	cut       bool
	outage    time.Duration
	downUntil time.Time
	conns     []net.Conn
}

func newCutProxy(t *testing.T, target string, cutAfter int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, cutAfter: cutAfter}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := time.Now().Before(p.downUntil)
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			go p.pipe(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	go func() {
		io.Copy(client, server)
		client.Close()
	}()
	defer server.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			keep, cut := n, false
			if !p.cut && p.sent+int64(n) >= p.cutAfter {
				keep, cut = int(p.cutAfter-p.sent), true
				p.cut = true
				if p.outage > 0 {
					p.downUntil = time.Now().Add(p.outage)
					for _, c := range p.conns {
						c.Close()
					}
				}
			}
			p.sent += int64(keep)
			p.mu.Unlock()
			if _, werr := server.Write(buf[:keep]); werr != nil || cut {
				client.Close()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// arm makes the proxy cut the connection once more, n bytes from now, and then stay down for outage.
func (p *cutProxy) arm(n int64, outage time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutAfter, p.cut, p.outage = p.sent+n, false, outage
}

func (p *cutProxy) stats() (sent int64, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.cut
}

// TestLessonUploadResumes cuts the connection in the middle of `relais lesson upload` and checks that
// the command resumed from the server's offset, not from zero, and that the lesson was made from the
// exact bytes of the file and processed.
func TestLessonUploadResumes(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where the command remembers unfinished uploads
	r := newRig(t, nil)
	dir := t.TempDir()
	md := filepath.Join(dir, "lesson.md")
	os.WriteFile(md, []byte(e2eMarkdown), 0o600)
	videoPath := makeVideo(t, 2)
	video, err := os.ReadFile(videoPath)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(video))
	u, _ := url.Parse(r.app.URL())
	proxy := newCutProxy(t, u.Host, size/2)

	env := map[string]string{"RELAIS_SERVER": proxy.URL(), "RELAIS_TOKEN": r.teacher}
	chunk := strconv.FormatInt(max(size/5, 1024), 10) // several PATCHes; the cut falls inside one
	out, errOut, err := runCLI(env, "lesson", "upload", videoPath, "--text", md, "--title", "Fractions",
		"--subject", "maths", "--grade", "5", "--language", "fr", "--chunk-size", chunk, "--resume-attempts", "3")
	text := out + errOut
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, text)
	}
	sent, cut := proxy.stats()
	t.Logf("%d-byte file, %d bytes through the proxy:\n%s", size, sent, text)
	if !cut {
		t.Fatalf("the proxy never cut the connection (%d bytes sent)\n%s", sent, text)
	}
	if n := strings.Count(text, "Connection lost: "); n != 1 {
		t.Errorf("%d connection losses reported, want 1:\n%s", n, text)
	}
	m := regexp.MustCompile(`Resuming at byte (\d+) of (\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no resume reported:\n%s", text)
	}
	at, _ := strconv.ParseInt(m[1], 10, 64)
	if at <= 0 || at > size/2 || m[2] != strconv.FormatInt(size, 10) {
		t.Errorf("resumed at byte %s of %s; want after 0 and at most the %d bytes before the cut, of %d", m[1], m[2], size/2, size)
	}
	// Everything that crossed the proxy, headers and the status polls included: far less than the file
	// sent twice, as a restart from zero would need.
	if sent >= 2*size {
		t.Errorf("%d bytes crossed the proxy for a %d-byte file: the upload restarted", sent, size)
	}
	for _, want := range []string{"Uploading 100 %", "uploaded.", "is ready: 3 renditions, 4 digests, worksheet true."} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	id := regexp.MustCompile(`Lesson (\d+) "Fractions" uploaded.`).FindStringSubmatch(text)
	if id == nil {
		t.Fatalf("no lesson id in:\n%s", text)
	}
	lid, _ := strconv.ParseInt(id[1], 10, 64)
	l, err := r.app.store.Lesson(context.Background(), lid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(l.MediaPath)
	if err != nil || !bytes.Equal(got, video) {
		t.Errorf("the lesson's media is %d bytes (%v), not the %d of the file", len(got), err, size)
	}
	left, _ := filepath.Glob(filepath.Join(r.app.cfg.MediaDir, "uploads", "tus", "*"))
	if len(left) != 0 {
		t.Errorf("the used upload left %v", left)
	}
}

// TestLessonUploadResumesAcrossRuns: the first run gives up when the line drops, the second run of
// the same command finds the upload it started and sends only the rest.
func TestLessonUploadResumesAcrossRuns(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	r := newRig(t, nil)
	dir := t.TempDir()
	md := filepath.Join(dir, "lesson.md")
	os.WriteFile(md, []byte(e2eMarkdown), 0o600)
	videoPath := makeVideo(t, 2)
	fi, err := os.Stat(videoPath)
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	u, _ := url.Parse(r.app.URL())
	proxy := newCutProxy(t, u.Host, size/2)
	env := map[string]string{"RELAIS_SERVER": proxy.URL(), "RELAIS_TOKEN": r.teacher}
	upload := func() (string, error) {
		out, errOut, err := runCLI(env, "lesson", "upload", videoPath, "--text", md, "--title", "Fractions",
			"--subject", "maths", "--grade", "5", "--language", "fr", "--chunk-size", strconv.FormatInt(max(size/5, 1024), 10),
			"--resume-attempts", "0", "--no-wait")
		return out + errOut, err
	}
	text, err := upload()
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("first run: err %v, want it to give up at the cut:\n%s", err, text)
	}
	if memos, _ := filepath.Glob(filepath.Join(cache, "relais", "uploads", "*")); len(memos) != 1 {
		t.Fatalf("remembered uploads after the cut: %v, want 1", memos)
	}
	before, _ := proxy.stats()
	text, err = upload()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, text)
	}
	m := regexp.MustCompile(`Resuming the earlier upload of this file at byte (\d+) of (\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the second run did not resume the earlier upload:\n%s", text)
	}
	if at, _ := strconv.ParseInt(m[1], 10, 64); at <= 0 || at > size/2 {
		t.Errorf("resumed at byte %d, want after 0 and at most %d", at, size/2)
	}
	if after, _ := proxy.stats(); after-before > size*3/4 {
		t.Errorf("the second run sent %d bytes of a %d-byte file half uploaded", after-before, size)
	}
	if !strings.Contains(text, `"Fractions" uploaded.`) {
		t.Errorf("no lesson made:\n%s", text)
	}
	if memos, _ := filepath.Glob(filepath.Join(cache, "relais", "uploads", "*")); len(memos) != 0 {
		t.Errorf("the used upload is still remembered: %v", memos)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"8MiB": 8 << 20, "512KiB": 512 << 10, "1048576": 1 << 20, "2 GiB": 2 << 30, "100B": 100, "8MB": 8e6} {
		if got, err := parseSize(in); got != want || err != nil {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "lots"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) took it", in)
		}
	}
}
