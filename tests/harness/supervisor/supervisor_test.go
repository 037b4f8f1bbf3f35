package supervisor

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary plays the operator: with SUPERVISED=run it runs until SIGTERM (and exits 0), with
// SUPERVISED=crash it exits 3 at once.
func TestMain(m *testing.M) {
	switch os.Getenv("SUPERVISED") {
	case "run":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		<-stop
		os.Exit(0)
	case "crash":
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func child(role string) Config {
	return Config{Binary: os.Args[0], Env: append(os.Environ(), "SUPERVISED="+role), GracePeriod: 5 * time.Second}
}

func TestAProcessThatExitsOnItsOwnIsRestartedAndCounted(t *testing.T) {
	cfg := child("crash")
	cfg.ExitReason = func() string { return "its log says why" }
	p, err := Start(cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(p.UnplannedExits()) >= 2 }, 10*time.Second, 50*time.Millisecond)
	p.Stop()
	exits := p.UnplannedExits()
	assert.Contains(t, exits[0], "exit status 3: its log says why")
	assert.GreaterOrEqual(t, p.Starts(), 2, "restarted after each exit")
	select {
	case <-p.Exited():
	default:
		t.Fatal("Stop returned before the supervisor ended")
	}
}

func TestKillAndRestartAreNotCountedAndStopEndsIt(t *testing.T) {
	p, err := Start(child("run"))
	require.NoError(t, err)
	first := p.PID()

	gone, err := p.Kill(syscall.SIGKILL)
	require.NoError(t, err)
	<-gone
	require.Eventually(t, p.Running, 10*time.Second, 50*time.Millisecond, "restarted a second after the kill")
	assert.NotEqual(t, first, p.PID())

	require.NoError(t, p.Restart())
	assert.True(t, p.Running())
	assert.Equal(t, 3, p.Starts())
	assert.Empty(t, p.UnplannedExits(), "neither the kill nor the restart was an exit of its own")

	p.Stop()
	assert.False(t, p.Running())
	_, err = p.Kill(syscall.SIGKILL)
	assert.Error(t, err, "nothing to kill once stopped")
}

func TestNoRestartLeavesACrashedProcessDown(t *testing.T) {
	cfg := child("crash")
	cfg.NoRestart = true
	p, err := Start(cfg)
	require.NoError(t, err)
	select {
	case <-p.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("the supervisor kept going")
	}
	assert.Equal(t, 1, p.Starts())
	require.Len(t, p.UnplannedExits(), 1)
	assert.True(t, strings.Contains(p.UnplannedExits()[0], "exit status 3"))
}
