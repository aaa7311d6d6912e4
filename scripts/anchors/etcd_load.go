// etcd_load: the closed-loop load that scripts/bench.sh puts on etcd, shaped like paxos-bench.
//
// -clients workers share -conns gRPC connections (connection i dials endpoint i mod the list).
// Each worker has one request outstanding at a time: with -op put it writes a value of
// -val bytes to one of its own keys; with -op get it reads one key with etcd's default,
// linearizable, consistency (a range read that goes through the leader's read index).
// Latencies after -warmup are recorded for -duration. Prints, on stdout, exactly one line:
//
//	RESULT label=L clients=C conns=K val=V n=N done=D errors=E ops_s=X avg_ms=A p50_ms=P
//	       p90_ms=Q p99_ms=R p999_ms=S max_ms=M                              (one line)
//
// n counts the measured requests, done every request answered (warm-up included).
// Built against Debian's clientv3 (golang-etcd-server-dev) with GO111MODULE=off.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/grpclog"
)

type worker struct {
	lat    []float64 // ms, measured requests only
	done   int
	errors int
	last   string
}

func run(w *worker, cli *clientv3.Client, id int, op string, value string, measureFrom, end time.Time) {
	keys := 1000
	for i := 0; time.Now().Before(end); i++ {
		key := fmt.Sprintf("k%04d-%04d", id, i%keys)
		if op == "get" {
			key = "latest"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		var err error
		if op == "get" {
			_, err = cli.Get(ctx, key)
		} else {
			_, err = cli.Put(ctx, key, value)
		}
		cancel()
		w.done++
		if err != nil {
			w.errors++
			w.last = err.Error()
			continue
		}
		if !start.Before(measureFrom) {
			w.lat = append(w.lat, float64(time.Since(start).Nanoseconds())/1e6)
		}
	}
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "endpoints, comma-separated")
	clients := flag.Int("clients", 1, "closed-loop workers")
	conns := flag.Int("conns", 1, "gRPC connections the workers share")
	val := flag.Int("val", 100, "value bytes (put)")
	op := flag.String("op", "put", "put | get")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", 2*time.Second, "time before measuring")
	label := flag.String("label", "etcd", "label of the RESULT line")
	flag.Parse()
	if *op != "put" && *op != "get" {
		fmt.Fprintln(os.Stderr, "etcd_load: -op must be put or get")
		os.Exit(2)
	}
	if *conns < 1 || *conns > *clients {
		*conns = *clients
	}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(ioutil.Discard, ioutil.Discard, os.Stderr))

	eps := strings.Split(*endpoints, ",")
	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{eps[i%len(eps)]},
			DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd_load: connect:", err)
			os.Exit(1)
		}
		defer c.Close()
		cs[i] = c
	}
	value := strings.Repeat("v", *val)
	if *op == "get" { // something to read
		if _, err := cs[0].Put(context.Background(), "latest", value); err != nil {
			fmt.Fprintln(os.Stderr, "etcd_load: put:", err)
			os.Exit(1)
		}
	}
	measureFrom := time.Now().Add(*warmup)
	end := measureFrom.Add(*duration)
	ws := make([]worker, *clients)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			run(&ws[i], cs[i%len(cs)], i, *op, value, measureFrom, end)
		}(i)
	}
	wg.Wait()

	var all []float64
	done, errors, last := 0, 0, ""
	for i := range ws {
		all = append(all, ws[i].lat...)
		done += ws[i].done
		errors += ws[i].errors
		if ws[i].last != "" {
			last = ws[i].last
		}
	}
	if last != "" {
		fmt.Fprintln(os.Stderr, "etcd_load: last error:", last)
	}
	sort.Float64s(all)
	sum := 0.0
	for _, l := range all {
		sum += l
	}
	avg, max := 0.0, 0.0
	if len(all) > 0 {
		avg, max = sum/float64(len(all)), all[len(all)-1]
	}
	fmt.Printf("RESULT label=%s clients=%d conns=%d val=%d n=%d done=%d errors=%d ops_s=%.0f "+
		"avg_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
		*label, *clients, *conns, *val, len(all), done, errors,
		float64(len(all))/duration.Seconds(), avg, percentile(all, 0.5), percentile(all, 0.9),
		percentile(all, 0.99), percentile(all, 0.999), max)
	if len(all) == 0 {
		os.Exit(1)
	}
}
