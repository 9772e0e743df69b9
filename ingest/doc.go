// Package ingest checks uploaded lessons and renders their broadcast, radio and low-bandwidth files with
// FFmpeg (through go-astiav).
//
// All FFmpeg work runs in a child process: a Runner re-executes a binary (Runner.Exe, the running
// executable by default) with RELAIS_MEDIA_CHILD=1, writes one JSON request on its stdin and reads
// "progress STEP PERCENT" lines and one "result {json}" line from its stdout. A crash in FFmpeg (or in
// go-astiav's cgo layer) then kills only the child; the parent reports a plain error and the queue
// retries. A hang is ended by the context deadline, scaled to the media duration.
//
// Every binary that uses a Runner must hand control to the child before doing anything else:
//
//	func main() {
//		if ingest.IsChild() {
//			os.Exit(ingest.ChildMain())
//		}
//		...
//	}
//
// Test binaries are no exception: a test package that calls Probe or Render needs
//
//	func TestMain(m *testing.M) {
//		if ingest.IsChild() {
//			os.Exit(ingest.ChildMain())
//		}
//		os.Exit(m.Run())
//	}
//
// and a Runner with Exe: os.Args[0] (the test binary).
//
// Probe refuses an upload with a *relais.Error of code relais.EINVALID whose message a teacher
// understands; any other error is an infrastructure failure worth retrying. Render measures the
// loudness of the source (EBU R 128, done by Probe), normalises it with loudnorm's second pass to
// -23 LUFS, decodes the source once and feeds the TV (MPEG-TS, H.264 + MP2/AAC), radio (MP2, optional
// WAV) and low-bandwidth (mono Opus) encoders from that one decode, then measures every output again and
// fails if one is outside tolerance.
package ingest
