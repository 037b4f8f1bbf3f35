package ociimage

import (
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// ServeRegistry serves go-containerregistry's registry, in memory and over plain HTTP, on addr ("127.0.0.1:0" for
// a free loopback port): where tests, `make catalog` and `make registry` push images and opm, containerd and users
// pull them. It returns the address it listens on and a function that stops it.
func ServeRegistry(addr string) (string, func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), func() { _ = srv.Close() }, nil
}
