package mediastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	relais "github.com/relais-edu/relais"
)

// S3Config says how to reach S3-compatible object storage.
type S3Config struct {
	Endpoint  string // host:port, or a URL whose scheme says http or https; empty: AWS S3
	Region    string
	AccessKey string
	SecretKey string
	PathStyle bool // bucket in the path (MinIO, versitygw, most on-premises servers), not in the host name
}

// S3 keeps media as objects of a bucket, under a prefix: a location is the key below the prefix.
type S3 struct {
	Client *minio.Client
	Bucket string
	Prefix string // "" or ending with "/"
	where  string
}

var (
	_ relais.MediaStore  = (*S3)(nil)
	_ relais.MediaLinker = (*S3)(nil)
)

// partSize is the size of the parts of a multipart upload whose length is unknown (minio-go would
// otherwise buffer parts of hundreds of megabytes).
const partSize = 16 << 20

// NewS3 returns the store of bucket/prefix on the server cfg names. It does not connect: Check does.
func NewS3(cfg S3Config, bucket, prefix string) (*S3, error) {
	endpoint, secure := cfg.Endpoint, true
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	if u, err := url.Parse(endpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %q: %w", cfg.Endpoint, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{Client: c, Bucket: bucket, Prefix: prefix, where: fmt.Sprintf("s3://%s/%s (at %s)", bucket, prefix, endpoint)}, nil
}

func (s *S3) String() string { return s.where }

func (s *S3) key(key string) (string, error) {
	k, err := cleanKey(key)
	if err != nil {
		return "", err
	}
	return s.Prefix + k, nil
}

// Put uploads r; the object appears whole when the upload (multipart for a large one) completes.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	k, err := s.key(key)
	if err != nil {
		return "", err
	}
	opts := minio.PutObjectOptions{ContentType: contentType(key), PartSize: partSize}
	if _, err := s.Client.PutObject(ctx, s.Bucket, k, r, size, opts); err != nil {
		return "", fmt.Errorf("put %s: %w", k, s.explain(err))
	}
	return path.Clean(key), nil
}

// PutFile uploads the file at src and removes it.
func (s *S3) PutFile(ctx context.Context, key, src string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	loc, err := s.Put(ctx, key, f, st.Size())
	if err != nil {
		return "", err
	}
	f.Close()
	return loc, os.Remove(src)
}

// Move copies the object on the server, then removes the original.
func (s *S3) Move(ctx context.Context, loc, key string) (string, error) {
	src, err := s.key(loc)
	if err != nil {
		return "", err
	}
	dst, err := s.key(key)
	if err != nil {
		return "", err
	}
	if src == dst {
		return path.Clean(key), nil
	}
	_, err = s.Client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.Bucket, Object: dst,
		ReplaceMetadata: true, ContentType: contentType(key)}, minio.CopySrcOptions{Bucket: s.Bucket, Object: src})
	if err != nil {
		return "", fmt.Errorf("copy %s to %s: %w", src, dst, s.explain(err))
	}
	return path.Clean(key), s.Remove(ctx, loc)
}

// Open reads the object's size and date; reads and seeks then fetch byte ranges.
func (s *S3) Open(ctx context.Context, loc string) (relais.MediaObject, error) {
	k, err := s.key(loc)
	if err != nil {
		return nil, err
	}
	o, err := s.Client.GetObject(ctx, s.Bucket, k, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", k, s.explain(err))
	}
	st, err := o.Stat()
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("open %s: %w", k, s.explain(err))
	}
	return &s3Object{Object: o, st: st}, nil
}

type s3Object struct {
	*minio.Object
	st minio.ObjectInfo
}

func (o *s3Object) Size() int64        { return o.st.Size }
func (o *s3Object) ModTime() time.Time { return o.st.LastModified }

// Remove deletes the object.
func (s *S3) Remove(ctx context.Context, loc string) error {
	k, err := s.key(loc)
	if err != nil {
		return err
	}
	if err := s.Client.RemoveObject(ctx, s.Bucket, k, minio.RemoveObjectOptions{}); err != nil {
		if err = s.explain(err); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", k, err)
		}
	}
	return nil
}

// LocalPath is false: objects are staged to be read by the media child.
func (s *S3) LocalPath(string) (string, bool) { return "", false }

// Check asks whether the bucket exists, with the credentials given.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.Client.BucketExists(ctx, s.Bucket)
	if err != nil {
		return fmt.Errorf("media bucket %s: %w", s.where, s.explain(err))
	}
	if !ok {
		return fmt.Errorf("media bucket %q does not exist at %s: create it (e.g. `mc mb`, `aws s3 mb`) or correct RELAIS_MEDIA_URL", s.Bucket, s.Client.EndpointURL().Host)
	}
	return nil
}

// MediaURL presigns a GET of the object, answered with contentType and as a download named filename
// when one is given.
func (s *S3) MediaURL(ctx context.Context, loc string, ttl time.Duration, ct, filename string) (string, error) {
	k, err := s.key(loc)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	if ct != "" {
		q.Set("response-content-type", ct)
	}
	if filename != "" {
		q.Set("response-content-disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	}
	u, err := s.Client.PresignedGetObject(ctx, s.Bucket, k, ttl, q)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", k, err)
	}
	return u.String(), nil
}

// explain turns the server's answers operators meet into errors that say what to do; a missing object
// matches fs.ErrNotExist.
func (s *S3) explain(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchKey || resp.Code == "NotFound" && resp.StatusCode == http.StatusNotFound && resp.BucketName != "" && resp.Key != "":
		return fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	case resp.Code == minio.NoSuchBucket:
		return fmt.Errorf("bucket %q does not exist: create it or correct RELAIS_MEDIA_URL (%v)", s.Bucket, err)
	case resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.Code == "AccessDenied" ||
		resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the S3 server refused the credentials (%s): check RELAIS_S3_ACCESS_KEY and RELAIS_S3_SECRET_KEY, and that they may use bucket %q: %w",
			cmpOr(resp.Code, http.StatusText(resp.StatusCode)), s.Bucket, err)
	}
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var contentTypes = map[string]string{".ts": "video/mp2t", ".mp2": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg",
	".wav": "audio/wav", ".m4a": "audio/mp4", ".mp4": "video/mp4", ".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8",
	".xml": "application/xml", ".json": "application/json", ".m3u": "audio/x-mpegurl"}

// contentType is the type a key's extension says, or application/octet-stream.
func contentType(key string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(key))]; ok {
		return ct
	}
	return "application/octet-stream"
}
