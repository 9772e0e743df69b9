package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/relais-edu/relais/internal/s3server"
	"github.com/relais-edu/relais/mediastore"
)

var (
	s3Once   sync.Once
	s3Server *s3server.Server
	s3Err    error
	s3Mu     sync.Mutex
	s3Next   int
)

// S3 returns the configuration of a real S3 server (versitygw, private to this test process, started
// on first use) and a new, empty bucket that no other test uses. scripts/test.sh installs versitygw;
// without it the test fails saying so.
func S3(t testing.TB) (cfg mediastore.S3Config, bucket string) {
	t.Helper()
	s3Once.Do(func() {
		dir, err := os.MkdirTemp("", "relais-test-s3-")
		if err != nil {
			s3Err = err
			return
		}
		s3Server, s3Err = s3server.Start(context.Background(), dir)
		if s3Err == nil {
			srv := s3Server
			started = append(started, func() { srv.Stop(context.Background()); os.RemoveAll(dir); os.Remove(dir + ".log") })
		}
	})
	if s3Err != nil {
		t.Fatalf("testenv: no S3 server (run the tests with scripts/test.sh, which installs versitygw): %v", s3Err)
	}
	s3Mu.Lock()
	s3Next++
	bucket = fmt.Sprintf("test-%d-%d", os.Getpid(), s3Next)
	s3Mu.Unlock()
	cfg = S3Config(s3Server)
	if err := MakeBucket(context.Background(), cfg, bucket); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return cfg, bucket
}

// S3Config is how Relais reaches srv.
func S3Config(srv *s3server.Server) mediastore.S3Config {
	return mediastore.S3Config{Endpoint: srv.Endpoint, Region: "us-east-1", AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, PathStyle: true}
}

// MakeBucket creates a bucket through the S3 API.
func MakeBucket(ctx context.Context, cfg mediastore.S3Config, bucket string) error {
	s, err := mediastore.NewS3(cfg, bucket, "")
	if err != nil {
		return err
	}
	if err := s.Client.MakeBucket(ctx, bucket, minioBucketOptions(cfg)); err != nil {
		return fmt.Errorf("make bucket %s: %w", bucket, err)
	}
	return nil
}

func minioBucketOptions(cfg mediastore.S3Config) minio.MakeBucketOptions {
	return minio.MakeBucketOptions{Region: cfg.Region}
}
