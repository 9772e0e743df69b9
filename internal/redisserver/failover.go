package redisserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Redis master, one replica and three sentinels watching them, on 127.0.0.1. The
// sentinels mark a master down after one second without answer and promote the replica.
type Sentinel struct {
	MasterName string
	Master     *Server // as started: after a failover, Replica is the master
	Replica    *Server
	Sentinels  []*Server
}

// StartSentinel starts the master, its replica (in sync when this returns) and three sentinels that
// know the replica and each other, so that a failover can start as soon as the master is down. Each
// keeps its files in a directory under dir.
func StartSentinel(ctx context.Context, dir string) (s *Sentinel, err error) {
	s = &Sentinel{MasterName: "relais"}
	defer func() {
		if err != nil {
			s.Stop(context.Background())
		}
	}()
	if s.Master, err = start(ctx, filepath.Join(dir, "master"), nil, nil, "--appendonly", "no"); err != nil {
		return s, err
	}
	host, port := splitAddr(s.Master.Addr)
	// Diskless sync with no delay: the replica is in sync within milliseconds, not after the default 5 s.
	if s.Replica, err = start(ctx, filepath.Join(dir, "replica"), nil, nil, "--appendonly", "no", "--replicaof", host, port,
		"--repl-diskless-sync-delay", "0"); err != nil {
		return s, err
	}
	if err := waitFor(ctx, 15*time.Second, "the replica to sync", func(ctx context.Context) error {
		return infoHas(ctx, s.Replica.Addr, "replication", "master_link_status:up")
	}); err != nil {
		return s, err
	}
	conf := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 2\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 3000\n"+
		"sentinel parallel-syncs %[1]s 1\n", s.MasterName, host, port)
	for i := range 3 {
		sen, err := start(ctx, filepath.Join(dir, "sentinel"+strconv.Itoa(i)), []byte(conf), nil, "--sentinel")
		if err != nil {
			return s, err
		}
		s.Sentinels = append(s.Sentinels, sen)
	}
	// Sentinels learn the replica from the master's INFO and each other from hellos every 2 s.
	err = waitFor(ctx, 20*time.Second, "the sentinels to know the replica and each other", func(ctx context.Context) error {
		for _, sen := range s.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
			replicas, err1 := sc.Replicas(ctx, s.MasterName).Result()
			others, err2 := sc.Sentinels(ctx, s.MasterName).Result()
			sc.Close()
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			if len(replicas) != 1 || len(others) != len(s.Sentinels)-1 {
				return fmt.Errorf("sentinel %s knows %d replicas and %d other sentinels", sen.Addr, len(replicas), len(others))
			}
		}
		return nil
	})
	return s, err
}

// URL is the RELAIS_REDIS_URL of the master through the sentinels, database 0.
func (s *Sentinel) URL() string {
	var addrs []string
	for _, sen := range s.Sentinels {
		addrs = append(addrs, sen.Addr)
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "/0?master=" + s.MasterName
}

// MasterAddr is the master's address as a majority of the sentinels name it. Right after a failover
// the sentinels that did not lead it still name the old master for a moment (they learn the new one
// from the leader's hellos), so one sentinel's answer is not yet the cluster's.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var errs []error
	votes := map[string]int{}
	for _, sen := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
		hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		sc.Close()
		if err == nil && len(hp) == 2 {
			addr := hp[0] + ":" + hp[1]
			if votes[addr]++; votes[addr] > len(s.Sentinels)/2 {
				return addr, nil
			}
			continue
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no majority of the sentinels names one master (%v): %w", votes, errors.Join(errs...))
}

// WaitMaster waits up to timeout for a majority of the sentinels to name addr the master.
func (s *Sentinel) WaitMaster(ctx context.Context, addr string, timeout time.Duration) error {
	return waitFor(ctx, timeout, "the sentinels to name "+addr+" the master", func(ctx context.Context) error {
		got, err := s.MasterAddr(ctx)
		if err == nil && got != addr {
			return fmt.Errorf("the sentinels name %s", got)
		}
		return err
	})
}

// Stop stops the sentinels, then the servers; a killed server is skipped.
func (s *Sentinel) Stop(ctx context.Context) error {
	var errs []error
	for _, srv := range append(append([]*Server{}, s.Sentinels...), s.Replica, s.Master) {
		if srv != nil {
			errs = append(errs, srv.Stop(ctx))
		}
	}
	return errors.Join(errs...)
}

// Cluster is a Redis Cluster of masters without replicas on 127.0.0.1, every hash slot served.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts masters cluster nodes (at least 3), gives them the hash slots with
// redis-cli --cluster create, and waits until every node says the cluster is ok.
func StartCluster(ctx context.Context, dir string, masters int) (c *Cluster, err error) {
	c = &Cluster{}
	defer func() {
		if err != nil {
			c.Stop(context.Background())
		}
	}()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return c, errors.New("redis-cli is not installed (apt-get install redis-tools)")
	}
	args := []string{"--cluster", "create"}
	for i := range masters {
		n, err := start(ctx, filepath.Join(dir, "node"+strconv.Itoa(i)), nil, nil, "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, n)
		args = append(args, n.Addr)
	}
	out, err := exec.CommandContext(ctx, cli, append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	err = waitFor(ctx, 20*time.Second, "the cluster to be ok", func(ctx context.Context) error {
		for _, n := range c.Nodes {
			want := "cluster_known_nodes:" + strconv.Itoa(masters)
			if err := infoHas(ctx, n.Addr, "cluster", "cluster_state:ok", want); err != nil {
				return err
			}
		}
		return nil
	})
	return c, err
}

// URL is the RELAIS_REDIS_URL of the cluster.
func (c *Cluster) URL() string {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// Stop stops every node.
func (c *Cluster) Stop(ctx context.Context) error {
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, n.Stop(ctx))
	}
	return errors.Join(errs...)
}

// infoHas checks that the INFO section of the server at addr (or CLUSTER INFO, for "cluster") holds
// every line of want.
func infoHas(ctx context.Context, addr, section string, want ...string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	var info string
	var err error
	if section == "cluster" {
		info, err = rdb.ClusterInfo(ctx).Result()
	} else {
		info, err = rdb.Info(ctx, section).Result()
	}
	if err != nil {
		return err
	}
	for _, w := range want {
		if !strings.Contains(info, w+"\r\n") {
			return fmt.Errorf("%s: no %q", addr, w)
		}
	}
	return nil
}

// waitFor calls ok every 100 ms until it returns nil, or fails with its last error after timeout.
func waitFor(ctx context.Context, timeout time.Duration, what string, ok func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ok(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("waited %s for %s: %w", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func splitAddr(addr string) (host, port string) {
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}
