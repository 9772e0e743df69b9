package mediastore_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/mediastore/mediastoretest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestDir(t *testing.T) {
	mediastoretest.Run(t, func(t *testing.T) relais.MediaStore { return mediastore.NewDir(t.TempDir()) })
}

func TestS3(t *testing.T) {
	mediastoretest.Run(t, func(t *testing.T) relais.MediaStore {
		cfg, bucket := testenv.S3(t)
		s, err := mediastore.Open("s3://"+bucket+"/relais/media", cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestS3Check: a missing bucket and refused credentials are told in words an operator acts on.
func TestS3Check(t *testing.T) {
	cfg, bucket := testenv.S3(t)
	wrong := cfg
	wrong.SecretKey = "not-the-secret"
	tests := []struct {
		name   string
		cfg    mediastore.S3Config
		bucket string
		want   []string
	}{
		{"good", cfg, bucket, nil},
		{"missing bucket", cfg, "no-such-bucket", []string{`"no-such-bucket" does not exist`, "RELAIS_MEDIA_URL"}},
		{"wrong secret", wrong, bucket, []string{"refused the credentials", "RELAIS_S3_SECRET_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mediastore.NewS3(tt.cfg, tt.bucket, "p")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(context.Background())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check passed")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v\nwant it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.cfg.SecretKey) {
				t.Error("the error shows the secret key")
			}
		})
	}
}

func TestOpenURL(t *testing.T) {
	for _, tt := range []struct {
		url, want string
		bad       bool
	}{
		{url: "/srv/media", want: "/srv/media"},
		{url: "file:///srv/media", want: "/srv/media"},
		{url: "s3://bucket/pre/fix", want: "s3://bucket/pre/fix/"},
		{url: "s3:///nobucket", bad: true},
		{url: "gs://bucket", bad: true},
	} {
		s, err := mediastore.Open(tt.url, mediastore.S3Config{Endpoint: "127.0.0.1:9", PathStyle: true})
		if tt.bad {
			if err == nil {
				t.Errorf("Open(%q) accepted", tt.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.url, err)
			continue
		}
		if !strings.HasPrefix(s.String(), tt.want) {
			t.Errorf("Open(%q) = %s, want %s", tt.url, s, tt.want)
		}
	}
}

// TestS3MediaURL: a presigned address fetches the object, with the content type and file name asked.
func TestS3MediaURL(t *testing.T) {
	cfg, bucket := testenv.S3(t)
	s, err := mediastore.NewS3(cfg, bucket, "p")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loc, err := s.Put(ctx, "postal/batch-3.csv", strings.NewReader("n,name\n1,A\n"), -1)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.MediaURL(ctx, loc, 5*time.Minute, "text/csv; charset=utf-8", "postal-batch-3.csv")
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(b) != "n,name\n1,A\n" {
		t.Fatalf("GET presigned: %s %q", res.Status, b)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "postal-batch-3.csv") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if strings.Contains(u, cfg.SecretKey) {
		t.Error("the address holds the secret key")
	}
}
