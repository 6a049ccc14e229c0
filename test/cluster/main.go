// Command cluster-bin is a multi-call binary holding the control-plane
// components of the loopback test cluster: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler. (kwok is built from its own
// module in ./kwok: its pinned k8s.io libraries do not compile together with
// those of k8s.io/kubernetes.) The first argument names the component; the
// rest are that component's own flags:
//
//	cluster-bin kube-apiserver --etcd-servers=http://127.0.0.1:2379 ...
//
// One binary means one link step and one copy of the shared dependencies
// (client-go, apimachinery, grpc, ...), which keeps the cold build short.
// Each component is the upstream command from its Go module; nothing of them
// is reimplemented here.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// component runs one control-plane component with the given arguments
// (without the component name) and returns the process exit code.
type component func(args []string) int

var components = map[string]component{
	"etcd":                    runEtcd,
	"kube-apiserver":          runAPIServer,
	"kube-controller-manager": runControllerManager,
	"kube-scheduler":          runScheduler,
	// Not a component: a helper for cluster.sh.
	"free-ports": runFreePorts,
}

func usage() {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: %s COMPONENT [flags...]\ncomponents:\n", filepath.Base(os.Args[0]))
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %s\n", name)
	}
}

func main() {
	// Called through a symlink named like a component, behave as that
	// component; otherwise the first argument names it.
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if _, ok := components[name]; !ok {
		if len(args) == 0 {
			usage()
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	run, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown component %q\n", name)
		usage()
		os.Exit(2)
	}
	// Components that read os.Args directly see themselves as the program.
	os.Args = append([]string{name}, args...)
	os.Exit(run(args))
}
