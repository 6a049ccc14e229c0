// Command kwok runs sigs.k8s.io/kwok's controller (fake nodes and the pod
// lifecycle stages) for the loopback test cluster. It lives in a module of its
// own because kwok pins k8s.io libraries that do not build together with the
// ones k8s.io/kubernetes pins in the parent module.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"sigs.k8s.io/kwok/pkg/config"
	kwokcmd "sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

func main() {
	os.Exit(run())
}

// run sets up kwok's logging and --config handling (both read os.Args
// directly) the way its command expects, then runs the command.
func run() int {
	global := pflag.NewFlagSet("global", pflag.ContinueOnError)
	global.ParseErrorsWhitelist.UnknownFlags = true
	global.Usage = func() {}

	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, global)
	ctx, err := config.InitFlags(ctx, global)
	if err != nil {
		fmt.Fprintln(os.Stderr, global.FlagUsages())
		logger.Error("kwok: reading --config", err)
		return 1
	}

	cmd := kwokcmd.NewCommand(ctx)
	cmd.PersistentFlags().AddFlagSet(global)
	if err := cmd.ExecuteContext(ctx); err != nil {
		logger.Error("kwok exited", err)
		return 1
	}
	return 0
}
