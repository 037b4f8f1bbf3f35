// Package localport finds loopback ports for the processes the tests, the bench and the demo start.
package localport

import "net"

// Free returns a loopback TCP port nothing listens on right now.
func Free() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
