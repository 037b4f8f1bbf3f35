// Command pause is the sandbox ("pause") container of the local node the end-to-end suite runs (tests/node): it
// holds a pod's namespaces and does nothing else until it is told to stop, like Kubernetes' own pause (which is C
// and comes as an image from a registry this machine cannot reach). As PID 1 of a pod that shares its process
// namespace, it also reaps the orphans that end up as its children.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
