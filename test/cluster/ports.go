package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
)

// runFreePorts prints N distinct TCP ports that are free on 127.0.0.1, one a
// line. Ports are drawn from 20000-31999, below the usual ephemeral range
// (32768-60999), so that outgoing connections made while the cluster starts
// are unlikely to take a port before its component binds it.
func runFreePorts(args []string) int {
	n := 1
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 || v > 100 {
			fmt.Fprintf(os.Stderr, "free-ports: want a count from 1 to 100, got %q\n", args[0])
			return 2
		}
		n = v
	}
	seen := map[int]bool{}
	for tries := 0; len(seen) < n; tries++ {
		if tries > 10000 {
			fmt.Fprintln(os.Stderr, "free-ports: no free port found on 127.0.0.1")
			return 1
		}
		port := 20000 + rand.IntN(12000)
		if seen[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		_ = l.Close()
		seen[port] = true
		fmt.Println(port)
	}
	return 0
}
