package mediastore

import (
	"fmt"
	"net/url"
	"strings"

	relais "github.com/relais-edu/relais"
)

// Open returns the store a media URL names: s3://bucket/prefix for object storage reached with cfg,
// or a directory (a path, or file:///path).
func Open(mediaURL string, cfg S3Config) (relais.MediaStore, error) {
	if rest, ok := strings.CutPrefix(mediaURL, "file://"); ok {
		return NewDir(rest), nil
	}
	if !strings.Contains(mediaURL, "://") {
		return NewDir(mediaURL), nil
	}
	u, err := url.Parse(mediaURL)
	if err != nil {
		return nil, fmt.Errorf("media URL %q: %w", mediaURL, err)
	}
	if u.Scheme != "s3" {
		return nil, fmt.Errorf("media URL %q: use s3://bucket/prefix, or a directory", mediaURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("media URL %q names no bucket: use s3://bucket/prefix", mediaURL)
	}
	return NewS3(cfg, u.Host, u.Path)
}
