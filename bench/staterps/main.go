// staterps: State round trips against a live shim, through containerd's own
// Go task client code (runtime/v2/task over github.com/containerd/ttrpc), so
// the client side is the one containerd itself uses, not ours.
//
// It finds the shim as containerd does: from the task's bundle. containerd
// 2.x writes <bundle>/bootstrap.json from the shim's `start` reply and reads
// it back on restore; a bundle without it (containerd 1.x) has the shim's
// `address` file (core/runtime/v2/shim_manager.go restoreBootstrapParams,
// shim.go parseStartResponse in 2.1.9). A version-3 shim (2.x's own runc-v2,
// podshim in grouped mode) is spoken to as containerd.task.v3.Task: 2.x's
// ttrpc v3 client (core/runtime/v2/bridge.go NewTaskClient) sends the same
// messages as v2 under that service name, and these are 1.6's sources, which
// have no v3 package, so the v3 State is ttrpc's Client.Call with the
// service name and v2's message types, as the generated client does for v2.
//
// Usage: staterps (-bundle DIR | -socket PATH [-version 2|3]) -id TASK
//
//	[-namespace NS] [-n N] [-warmup W] [-c CONNS]
//
// Prints one JSON object: calls, conns, seconds, calls_per_s, p50_us,
// p99_us, status, service, version, address.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/ttrpc"
)

const (
	serviceV2 = "containerd.task.v2.Task"
	serviceV3 = "containerd.task.v3.Task"
)

type result struct {
	Calls      int     `json:"calls"`
	Conns      int     `json:"conns"`
	Seconds    float64 `json:"seconds"`
	CallsPerS  float64 `json:"calls_per_s"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	ShimStatus string  `json:"status"`
	Service    string  `json:"service"`
	Version    int     `json:"version"`
	Address    string  `json:"address"`
}

// endpoint is where and how to reach a task's shim.
type endpoint struct {
	Version  int    `json:"version"`
	Address  string `json:"address"`
	Protocol string `json:"protocol"`
}

// bundleEndpoint reads the endpoint of a task from its bundle as containerd
// does: bootstrap.json when present (a body that is not JSON, or has a
// version below 2, is a plain address of a version-2 shim), else the
// `address` file.
func bundleEndpoint(bundle string) (endpoint, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "bootstrap.json"))
	if errors.Is(err, os.ErrNotExist) {
		data, err = os.ReadFile(filepath.Join(bundle, "address"))
		if err != nil {
			return endpoint{}, err
		}
		return endpoint{Version: 2, Address: strings.TrimSpace(string(data)), Protocol: "ttrpc"}, nil
	}
	if err != nil {
		return endpoint{}, err
	}
	var ep endpoint
	if json.Unmarshal(data, &ep) != nil || ep.Version < 2 {
		ep = endpoint{Version: 2, Address: strings.TrimSpace(string(data)), Protocol: "ttrpc"}
	}
	if ep.Version > 3 {
		return endpoint{}, fmt.Errorf("%s: unsupported shim version %d", bundle, ep.Version)
	}
	if ep.Protocol != "" && strings.ToLower(ep.Protocol) != "ttrpc" {
		return endpoint{}, fmt.Errorf("%s: protocol %q, this client speaks ttrpc", bundle, ep.Protocol)
	}
	return ep, nil
}

// socketOf turns a shim address (unix://PATH, or a bare path) into a path.
func socketOf(address string) (string, error) {
	if strings.HasPrefix(address, "unix://") {
		return strings.TrimPrefix(address, "unix://"), nil
	}
	if strings.Contains(address, "://") {
		return "", fmt.Errorf("address %q: only unix sockets are supported", address)
	}
	return address, nil
}

// stater is the one Task method the bench calls.
type stater interface {
	State(ctx context.Context, req *task.StateRequest) (*task.StateResponse, error)
}

// v3Client calls State on containerd.task.v3.Task with v2's message types
// (the v3 protos are v2's under another package name).
type v3Client struct {
	c *ttrpc.Client
}

func (v v3Client) State(ctx context.Context, req *task.StateRequest) (*task.StateResponse, error) {
	var resp task.StateResponse
	if err := v.c.Call(ctx, serviceV3, "State", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func dial(path string, version int) (stater, *ttrpc.Client, error) {
	conn, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c := ttrpc.NewClient(conn)
	if version >= 3 {
		return v3Client{c}, c, nil
	}
	return task.NewTaskClient(c), c, nil
}

// run issues n State calls on one connection and returns their latencies.
func run(ctx context.Context, svc stater, id string, n int) ([]time.Duration, string, error) {
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
	bundle := flag.String("bundle", "", "the task's bundle directory (endpoint as containerd reads it)")
	sock := flag.String("socket", "", "shim ttrpc socket path (instead of -bundle)")
	version := flag.Int("version", 2, "with -socket: the shim's bootstrap version (3: containerd.task.v3.Task)")
	id := flag.String("id", "", "task id")
	ns := flag.String("namespace", "k8s.io", "containerd namespace")
	n := flag.Int("n", 20000, "State calls per connection")
	warm := flag.Int("warmup", 500, "warm-up calls (not measured)")
	conns := flag.Int("c", 1, "parallel connections")
	flag.Parse()
	if (*sock == "") == (*bundle == "") || *id == "" || *version < 2 || *version > 3 {
		fmt.Fprintln(os.Stderr, "usage: staterps (-bundle DIR | -socket PATH [-version 2|3]) -id TASK [-n N] [-c CONNS]")
		os.Exit(2)
	}
	ep := endpoint{Version: *version, Address: "unix://" + *sock, Protocol: "ttrpc"}
	if *bundle != "" {
		var err error
		if ep, err = bundleEndpoint(*bundle); err != nil {
			fmt.Fprintln(os.Stderr, "endpoint:", err)
			os.Exit(1)
		}
	}
	path, err := socketOf(ep.Address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "endpoint:", err)
		os.Exit(1)
	}
	service := serviceV2
	if ep.Version >= 3 {
		service = serviceV3
	}
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), *ns), 10*time.Minute)
	defer cancel()

	svcs := make([]stater, *conns)
	for i := range svcs {
		svc, c, err := dial(path, ep.Version)
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
		P50Micros: us(0.5), P99Micros: us(0.99), ShimStatus: status,
		Service: service, Version: ep.Version, Address: ep.Address}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
