// Package resumable keeps tus uploads where several API processes share them: tusd's S3 store in the
// media bucket, and a lock in Redis (RedisLocker), so consecutive PATCH requests of one upload may
// reach different processes and no load balancer needs sticky sessions.
package resumable

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/relais-edu/relais/mediastore"
)

// KeyPrefix is where uploads are kept below the media prefix: uploads/tus/ID and ID.info.
const KeyPrefix = "uploads/tus/"

// S3 is tusd's S3 store on the media bucket, under prefix + KeyPrefix.
type S3 struct {
	s3store.S3Store
	mediaPrefix string
}

// NewS3 returns the store of uploads for the media bucket and prefix (as in RELAIS_MEDIA_URL).
// tempDir holds each PATCH's bytes until they make a part of the multipart upload.
func NewS3(cfg mediastore.S3Config, bucket, prefix, tempDir string) (*S3, error) {
	endpoint := cfg.Endpoint
	switch {
	case endpoint == "":
	case strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://"):
	default:
		endpoint = "https://" + endpoint
	}
	if endpoint != "" {
		if _, err := url.Parse(endpoint); err != nil {
			return nil, fmt.Errorf("S3 endpoint %q: %w", cfg.Endpoint, err)
		}
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := s3.Options{
		Region:       region,
		UsePathStyle: cfg.PathStyle,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: cfg.AccessKey, SecretAccessKey: cfg.SecretKey, Source: "RELAIS_S3_ACCESS_KEY"}, nil
		}),
		// Checksums only where S3 requires them: on-premises servers differ in the newer ones.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	st := s3store.New(bucket, s3.New(opts))
	st.ObjectPrefix = prefix + KeyPrefix
	st.TemporaryDirectory = tempDir
	st.PreferredPartSize = 8 << 20 // smaller parts: less to send again after a cut
	return &S3{S3Store: st, mediaPrefix: prefix}, nil
}

// Location is where a finished upload is in the media store (mediastore.S3): its object key below
// the media prefix.
func (s *S3) Location(storage map[string]string) string {
	return strings.TrimPrefix(storage["Key"], s.mediaPrefix)
}
