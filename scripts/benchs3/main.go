// Command benchs3 times the transcode step of a lesson (pipeline.Render: the source read from the
// media store, the media child's render, the renditions put into the store) with the media on the
// local disk and in S3-compatible object storage (a versitygw on loopback), alternately, and prints the
// wall times and their ratio S3/local. scripts/bench-s3.sh builds relais and makes the source.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/minio/minio-go/v7"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/s3server"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/pipeline"
)

func main() {
	exe := flag.String("relais", "bin/relais", "the relais binary (the media child)")
	src := flag.String("source", "", "the lesson's recording")
	rounds := flag.Int("rounds", 2, "renders on each store, alternately")
	preset := flag.String("preset", "veryfast", "x264 preset")
	flag.Parse()
	if err := run(*exe, *src, *rounds, *preset); err != nil {
		fmt.Fprintln(os.Stderr, "benchs3:", err)
		os.Exit(1)
	}
}

func run(exe, src string, rounds int, preset string) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "relais-bench-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	srv, err := s3server.Start(ctx, filepath.Join(work, "s3"))
	if err != nil {
		return err
	}
	defer srv.Stop(ctx)
	cfg := mediastore.S3Config{Endpoint: srv.Endpoint, Region: "us-east-1", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true}
	s3, err := mediastore.NewS3(cfg, "media", "relais")
	if err != nil {
		return err
	}
	if err := s3.Client.MakeBucket(ctx, "media", minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		return err
	}
	stores := []struct {
		name  string
		media relais.MediaStore
	}{{"local", mediastore.NewDir(filepath.Join(work, "media"))}, {"s3", s3}}
	runner := &ingest.Runner{Exe: exe, Options: ingest.Options{X264Preset: preset}}
	staging := pipeline.Staging{Dir: filepath.Join(work, "staging")}
	times := map[string][]time.Duration{}
	var bytes int64
	for i := 1; i <= rounds; i++ {
		for _, st := range stores {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			loc, err := st.media.Put(ctx, fmt.Sprintf("lessons/%d/source.mp4", i), f, -1)
			f.Close()
			if err != nil {
				return err
			}
			l := relais.Lesson{ID: int64(i), Title: "Bench", Language: "fr", MediaPath: loc}
			t0 := time.Now()
			rs, err := pipeline.Render(ctx, runner, st.media, staging, l, nil)
			d := time.Since(t0)
			if err != nil {
				return fmt.Errorf("render on %s: %w", st.name, err)
			}
			bytes = 0
			for _, r := range rs {
				bytes += r.Bytes
			}
			times[st.name] = append(times[st.name], d)
			fmt.Printf("round %d: %-5s %6.1f s (%d renditions, %.1f MB written to the store)\n", i, st.name, d.Seconds(), len(rs), float64(bytes)/1e6)
		}
	}
	local, onS3 := median(times["local"]), median(times["s3"])
	fmt.Printf("\nmedian transcode wall time: local disk %.1f s, S3 %.1f s; ratio S3/local %.3fx (goal <= 1.1x)\n",
		local.Seconds(), onS3.Seconds(), onS3.Seconds()/local.Seconds())
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
