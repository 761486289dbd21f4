// staterps: State round trips against a live shim socket, through
// containerd's own Go task client (runtime/v2/task over github.com/containerd/ttrpc),
// so the client side is the one containerd itself uses, not ours.
//
// Usage: staterps -socket PATH -id TASK [-n N] [-warmup W] [-c CONNS]
// Prints one JSON object: calls, seconds, calls_per_s, p50_us, p99_us.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/ttrpc"
)

type result struct {
	Calls      int     `json:"calls"`
	Conns      int     `json:"conns"`
	Seconds    float64 `json:"seconds"`
	CallsPerS  float64 `json:"calls_per_s"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	ShimStatus string  `json:"status"`
}

func dial(path string) (task.TaskService, *ttrpc.Client, error) {
	conn, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c := ttrpc.NewClient(conn)
	return task.NewTaskClient(c), c, nil
}

// run issues n State calls on one connection and returns their latencies.
func run(ctx context.Context, svc task.TaskService, id string, n int) ([]time.Duration, string, error) {
	lat := make([]time.Duration, 0, n)
	status := ""
	for i := 0; i < n; i++ {
		t := time.Now()
		r, err := svc.State(ctx, &task.StateRequest{ID: id})
		if err != nil {
			return nil, "", err
		}
		lat = append(lat, time.Since(t))
		status = r.Status.String()
	}
	return lat, status, nil
}

func main() {
	sock := flag.String("socket", "", "shim ttrpc socket path")
	id := flag.String("id", "", "task id")
	ns := flag.String("namespace", "k8s.io", "containerd namespace")
	n := flag.Int("n", 20000, "State calls per connection")
	warm := flag.Int("warmup", 500, "warm-up calls (not measured)")
	conns := flag.Int("c", 1, "parallel connections")
	flag.Parse()
	if *sock == "" || *id == "" {
		fmt.Fprintln(os.Stderr, "usage: staterps -socket PATH -id TASK [-n N] [-c CONNS]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), *ns), 10*time.Minute)
	defer cancel()

	svcs := make([]task.TaskService, *conns)
	for i := range svcs {
		svc, c, err := dial(*sock)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
		defer c.Close()
		svcs[i] = svc
		if _, _, err := run(ctx, svc, *id, *warm); err != nil {
			fmt.Fprintln(os.Stderr, "warm-up State:", err)
			os.Exit(1)
		}
	}

	var wg sync.WaitGroup
	lats := make([][]time.Duration, *conns)
	errs := make([]error, *conns)
	var status string
	start := time.Now()
	for i := range svcs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var st string
			lats[i], st, errs[i] = run(ctx, svcs[i], *id, *n)
			if i == 0 {
				status = st
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for i, e := range errs {
		if e != nil {
			fmt.Fprintln(os.Stderr, "State:", e)
			os.Exit(1)
		}
		all = append(all, lats[i]...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	us := func(q float64) float64 {
		return float64(all[int(float64(len(all)-1)*q)].Nanoseconds()) / 1e3
	}
	out := result{Calls: len(all), Conns: *conns, Seconds: elapsed.Seconds(),
		CallsPerS: float64(len(all)) / elapsed.Seconds(),
		P50Micros: us(0.5), P99Micros: us(0.99), ShimStatus: status}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
