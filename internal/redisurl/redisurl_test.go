package redisurl

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestParse(t *testing.T) {
	tlsFor := func(name string) *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name} }
	tests := []struct {
		url  string
		want asynq.RedisConnOpt
	}{
		{"redis://127.0.0.1:6379", asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}},
		{"redis://relais:s%40cret@redis.internal:6380/3", asynq.RedisClientOpt{Addr: "redis.internal:6380", Username: "relais", Password: "s@cret", DB: 3}},
		{"redis://:pw@r:6379/", asynq.RedisClientOpt{Addr: "r:6379", Password: "pw"}},
		{"rediss://u:p@redis.example.org:6379/1", asynq.RedisClientOpt{Addr: "redis.example.org:6379", Username: "u", Password: "p", DB: 1,
			TLSConfig: tlsFor("redis.example.org")}},
		{"redis-sentinel://u:p@s1:26379,s2:26379,s3:26379/2?master=mymaster&sentinel_password=sp&sentinel_username=su",
			asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379", "s3:26379"},
				Username: "u", Password: "p", DB: 2, SentinelUsername: "su", SentinelPassword: "sp"}},
		{"rediss-sentinel://s1:26379?master=m", asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"s1:26379"},
			TLSConfig: tlsFor("s1")}},
		{"redis-cluster://u:p@n1:7000,n2:7001,n3:7002", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001", "n3:7002"},
			Username: "u", Password: "p"}},
		{"rediss-cluster://n1:7000/0", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}, TLSConfig: tlsFor("n1")}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := Parse(tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(tls.Config{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseKeepsTheGivenTLSConfig(t *testing.T) {
	given := &tls.Config{InsecureSkipVerify: true}
	got, err := Parse("rediss://u:p@10.0.0.5:6379", given)
	if err != nil {
		t.Fatal(err)
	}
	tc := got.(asynq.RedisClientOpt).TLSConfig
	if tc == given || !tc.InsecureSkipVerify || tc.ServerName != "10.0.0.5" {
		t.Errorf("TLS config = %+v, want a copy of the given one with the server name", tc)
	}
	if given.ServerName != "" {
		t.Error("the given TLS config was changed")
	}
	plain, _ := Parse("redis://10.0.0.5:6379", given)
	if plain.(asynq.RedisClientOpt).TLSConfig != nil {
		t.Error("redis:// uses TLS")
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ url, want string }{
		{"redis-sentinel://s1:26379,s2:26379/0", "needs the master's name: add ?master=NAME"},
		{"redis-cluster://n1:7000/2", "a Redis Cluster has only database 0, not 2"},
		{"redis://a:1,b:2", "names one server; for several, use redis-sentinel:// or redis-cluster://"},
		{"redis://r:6379/x", `path "/x" must be a database number`},
		{"redis://r", `"r" is not host:port`},
		{"redis-cluster://n1:7000,n2", `not a URL: invalid port ":7000,n2" after host`},
		{"redis-cluster://n1:7000,n2:", `"n2:" is not host:port`},
		{"http://r:6379", `scheme "http" is not one of`},
		{"redis-sentinal://s:1?master=m", `scheme "redis-sentinal" is not one of`},
		{"redis:///0", "no host"},
		{"redis://r:6379?master=m", `unknown parameter "master": redis:// takes none`},
		{"redis-sentinel://s:1?master=m&sentinel_pass=x", `unknown parameter "sentinel_pass" (known: master, sentinel_username, sentinel_password)`},
		{"redis://u:p%zz@r:1", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Parse(tt.url, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	got := Redact("redis-sentinel://u:secret1@s1:1,s2:2/0?master=m&sentinel_password=secret2")
	if strings.Contains(got, "secret") || !strings.Contains(got, "u:xxxxx@s1:1,s2:2") {
		t.Errorf("Redact = %q", got)
	}
	if _, err := Parse("redis://u:s3cr%zz@r:1", nil); err == nil || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("a parse error shows the password: %v", err)
	}
}

func TestClientMatchesTheForm(t *testing.T) {
	for url, want := range map[string]string{
		"redis://127.0.0.1:1":                   "*redis.Client",
		"redis-sentinel://127.0.0.1:1?master=m": "*redis.Client", // go-redis' failover client is a *redis.Client too
		"redis-cluster://127.0.0.1:1":           "*redis.ClusterClient",
	} {
		opt, err := Parse(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := Client(opt)
		if got := typeName(c); got != want {
			t.Errorf("%s: client %s, want %s", url, got, want)
		}
		c.Close()
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	case *redis.Client:
		return "*redis.Client"
	}
	return "other"
}
