package redisserver

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSentinelPromotesTheReplica: a write through the sentinels, the master killed, the same key read
// through the sentinels from the promoted replica.
func TestSentinelPromotesTheReplica(t *testing.T) {
	ctx := context.Background()
	s, err := StartSentinel(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	var sentinels []string
	for _, sen := range s.Sentinels {
		sentinels = append(sentinels, sen.Addr)
	}
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: sentinels})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Wait(ctx, 1, time.Second).Err(); err != nil { // on the replica before the kill
		t.Fatal(err)
	}
	s.Master.Kill()
	killed := time.Now()
	if err := s.WaitMaster(ctx, s.Replica.Addr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("sentinels named the replica master %s after the kill", time.Since(killed).Round(time.Millisecond))
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "kept" {
		t.Errorf("after the failover: k = %q, %v; want kept", got, err)
	}
}

// TestClusterServesEverySlot: keys hashed to every node are written and read through a cluster client.
func TestClusterServesEverySlot(t *testing.T) {
	ctx := context.Background()
	c, err := StartCluster(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := rdb.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	used := 0
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		if n, err := m.DBSize(ctx).Result(); err == nil && n > 0 {
			used++
		}
		return nil
	})
	if err != nil || used != 3 {
		t.Errorf("keys on %d masters (%v), want 3", used, err)
	}
}
