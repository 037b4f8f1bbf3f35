// Command etcd builds the etcd server for envtest from the Go module proxy (etcd's own module has relative replaces,
// so `go install` refuses it).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
