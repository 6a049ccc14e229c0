package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

// runEtcd runs the etcd server. etcdmain.Main wants the program name first
// and exits the process itself on failure.
func runEtcd(_ []string) int {
	etcdmain.Main(os.Args)
	return 0
}
