// Package redisurl reads RELAIS_REDIS_URL: one URL naming a single Redis, a Sentinel-watched master
// or a Redis Cluster, with TLS and ACL credentials. It yields asynq's connection options, and the
// go-redis client for Relais' own keys (SMS rate limits, task statistics) is made from the same options,
// so that the queue and everything else always reach the same servers.
package redisurl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Forms are the URL forms Parse accepts, for error messages and help.
const Forms = "redis://[user:password@]host:port[/db], rediss://... (TLS), " +
	"redis-sentinel://[user:password@]host1:port1,host2:port2,.../[db]?master=NAME[&sentinel_password=...], " +
	"rediss-sentinel://... (TLS), redis-cluster://[user:password@]host1:port1,host2:port2,... or rediss-cluster://... (TLS)"

// Parse reads a Redis URL:
//
//	redis://[user:password@]host:port[/db]            one server (rediss:// over TLS)
//	redis-sentinel://[user:password@]h1:p1,h2:p2/[db]?master=NAME[&sentinel_username=U][&sentinel_password=P]
//	redis-cluster://[user:password@]h1:p1,h2:p2,...   a cluster's seed nodes (database 0 only)
//
// The user and password are those of the Redis servers (ACL); a Sentinel's own credentials go in the
// query. The rediss forms use TLS: with tlsConf (its ServerName filled from the first host when empty),
// else the system's roots.
func Parse(raw string, tlsConf *tls.Config) (asynq.RedisConnOpt, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text quotes the URL, password included
			err = ue.Err
		}
		return nil, fmt.Errorf("not a URL: %v (forms: %s)", err, Forms)
	}
	secure := strings.HasPrefix(u.Scheme, "rediss")
	kind := strings.TrimPrefix(strings.TrimPrefix(u.Scheme, "rediss"), "redis")
	if !strings.HasPrefix(u.Scheme, "redis") || (kind != "" && kind != "-sentinel" && kind != "-cluster") {
		return nil, fmt.Errorf("scheme %q is not one of redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster, rediss-cluster", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("no host: write %s://host:port", u.Scheme)
	}
	addrs := strings.Split(u.Host, ",")
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return nil, fmt.Errorf("%q is not host:port", a)
		}
	}
	if kind == "" && len(addrs) > 1 {
		return nil, fmt.Errorf("%s:// names one server; for several, use redis-sentinel:// or redis-cluster://", u.Scheme)
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		if db, err = strconv.Atoi(p); err != nil || db < 0 {
			return nil, fmt.Errorf("path %q must be a database number such as /0", u.Path)
		}
	}
	q := u.Query()
	allowed := map[string][]string{"": nil, "-cluster": nil, "-sentinel": {"master", "sentinel_username", "sentinel_password"}}[kind]
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, fmt.Errorf("unknown parameter %q: %s:// takes none", k, u.Scheme)
			}
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(allowed, ", "))
		}
	}
	var tc *tls.Config
	if secure {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsConf != nil {
			tc = tlsConf.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addrs[0])
		}
	}
	switch kind {
	case "-sentinel":
		master := q.Get("master")
		if master == "" {
			return nil, errors.New("a Sentinel URL needs the master's name: add ?master=NAME (the name in the sentinels' 'sentinel monitor NAME ...')")
		}
		return asynq.RedisFailoverClientOpt{MasterName: master, SentinelAddrs: addrs, Username: user, Password: pass, DB: db,
			SentinelUsername: q.Get("sentinel_username"), SentinelPassword: q.Get("sentinel_password"), TLSConfig: tc}, nil
	case "-cluster":
		if db != 0 {
			return nil, fmt.Errorf("a Redis Cluster has only database 0, not %d", db)
		}
		return asynq.RedisClusterClientOpt{Addrs: addrs, Username: user, Password: pass, TLSConfig: tc}, nil
	}
	return asynq.RedisClientOpt{Addr: addrs[0], Username: user, Password: pass, DB: db, TLSConfig: tc}, nil
}

// Redact returns raw with its passwords (the Redis one and a Sentinel's) replaced by xxxxx, for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	if q.Has("sentinel_password") {
		q.Set("sentinel_password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Client returns a go-redis client on asynq's options: a plain, Sentinel-backed or cluster client.
func Client(opt asynq.RedisConnOpt) redis.UniversalClient {
	return opt.MakeRedisClient().(redis.UniversalClient)
}

// Ping checks that Redis answers: for a cluster, every master (a master down leaves its slots, and the
// queues hashed to them, unserved); for Sentinel, the master the sentinels name now.
func Ping(ctx context.Context, rdb redis.UniversalClient) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			if err := m.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("cluster node %s: %w", m.Options().Addr, err)
			}
			return nil
		}); err != nil {
			return err
		}
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("cluster_state is not ok: some hash slots have no master")
		}
		return nil
	}
	return rdb.Ping(ctx).Err()
}

// Describe names the servers of opt for logs and errors, without credentials.
func Describe(opt asynq.RedisConnOpt) string {
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		return o.Addr
	case asynq.RedisFailoverClientOpt:
		return fmt.Sprintf("master %q of sentinels %s", o.MasterName, strings.Join(o.SentinelAddrs, ","))
	case asynq.RedisClusterClientOpt:
		return "cluster " + strings.Join(o.Addrs, ",")
	}
	return fmt.Sprintf("%T", opt)
}
