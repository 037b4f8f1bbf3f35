// Package supervisor runs the operator as a child process the way a kubelet runs its container: it restarts it a
// second after an exit nobody asked for (the operator exits when it loses leader election), counts those exits,
// kills or restarts it on request without counting that, and stops it with SIGTERM, then SIGKILL after a grace
// period. The chaos suite, the bench and the demo run the operator through it, with a command line built from
// operator.Flags.
package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Config says what to run and how.
type Config struct {
	// Binary is the operator binary; Args and Env its command line and environment.
	Binary string
	Args   []string
	Env    []string
	// Output receives the process's stdout and stderr.
	Output io.Writer
	// NoRestart leaves a process that exited on its own down (the demo's); by default it is started again a
	// second later, as the kubelet would.
	NoRestart bool
	// BeforeStart runs before every start of a process (a new process has a new leader-election identity).
	BeforeStart func()
	// ExitReason, when set, explains an exit nobody asked for (from the process's log, say).
	ExitReason func() string
	// GracePeriod is how long Stop and Restart wait after SIGTERM before SIGKILL; 15 s when zero.
	GracePeriod time.Duration
}

// Process is the operator running under supervision.
type Process struct {
	cfg Config

	mu  sync.Mutex
	cmd *exec.Cmd
	// gone is closed once cmd has exited.
	gone chan struct{}
	// killed is the process signalled on purpose (Kill): restarted like any exit, but not counted.
	killed   *exec.Cmd
	stopping bool
	starts   int
	// unplanned says why each exit nobody asked for happened.
	unplanned []string
	// planned, while Restart runs, is closed once the new process runs.
	planned chan struct{}
	// exited is closed when the supervisor has given up or been stopped.
	exited chan struct{}
}

// errStopping is spawn's answer once the process is being stopped.
var errStopping = errors.New("the process is being stopped")

// Start starts the process and its supervisor.
func Start(cfg Config) (*Process, error) {
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = 15 * time.Second
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	p := &Process{cfg: cfg, exited: make(chan struct{})}
	cmd, err := p.spawn()
	if err != nil {
		return nil, err
	}
	go p.supervise(cmd)
	return p, nil
}

// spawn starts one process, unless the process is being stopped: checked under the lock Stop takes, so that Stop
// always signals the last process started.
func (p *Process) spawn() (*exec.Cmd, error) {
	if p.cfg.BeforeStart != nil {
		p.cfg.BeforeStart()
	}
	cmd := exec.Command(p.cfg.Binary, p.cfg.Args...)
	cmd.Env = p.cfg.Env
	cmd.Stdout, cmd.Stderr = p.cfg.Output, p.cfg.Output
	// If the supervising process dies without cleaning up (SIGKILL), the kernel stops the operator too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return nil, errStopping
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.cfg.Binary, err)
	}
	p.cmd, p.gone = cmd, make(chan struct{})
	p.starts++
	return cmd, nil
}

// supervise waits for the process to exit and, unless it is being stopped, starts it again: at once when Restart
// asked for it, after a second otherwise. Only exits nobody asked for count as unplanned.
func (p *Process) supervise(cmd *exec.Cmd) {
	defer close(p.exited)
	for {
		err := cmd.Wait()
		p.mu.Lock()
		close(p.gone)
		stopping, planned, killed := p.stopping, p.planned, p.killed == cmd
		p.planned, p.killed = nil, nil
		if !stopping && planned == nil && !killed {
			reason := fmt.Sprintf("%s %v", time.Now().Format("15:04:05"), err)
			if p.cfg.ExitReason != nil {
				reason += ": " + p.cfg.ExitReason()
			}
			p.unplanned = append(p.unplanned, reason)
		}
		p.mu.Unlock()
		if stopping || (planned == nil && !killed && p.cfg.NoRestart) {
			return
		}
		if planned == nil {
			time.Sleep(time.Second)
		}
		var err2 error
		if cmd, err2 = p.spawn(); err2 != nil {
			return // Stopped during the second, or the binary cannot start again: Exited says so.
		}
		if planned != nil {
			close(planned)
		}
	}
}

// Kill sends sig to the running process on purpose (to test failover); the supervisor restarts it a second after
// it exits without counting that exit. The channel returned is closed once the process has exited.
func (p *Process) Kill(sig syscall.Signal) (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping || p.planned != nil || p.killed != nil {
		return nil, errors.New("the process is already stopping, restarting or being killed")
	}
	select {
	case <-p.gone:
		return nil, errors.New("the process is not running (being restarted)")
	default:
	}
	p.killed = p.cmd
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.killed = nil
		return nil, fmt.Errorf("signalling the process: %w", err)
	}
	return p.gone, nil
}

// Restart stops the process (SIGTERM, SIGKILL after the grace period) and starts it again at once, as a rollout
// would; that exit does not count as unplanned. It returns when the new process runs.
func (p *Process) Restart() error {
	respawned := make(chan struct{})
	p.mu.Lock()
	if p.stopping || p.planned != nil {
		p.mu.Unlock()
		return errors.New("the process is already stopping or restarting")
	}
	p.planned = respawned
	proc := p.cmd.Process
	p.mu.Unlock()
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-respawned:
	case <-p.exited:
	case <-time.After(p.cfg.GracePeriod):
		_ = proc.Kill()
	}
	select {
	case <-respawned:
		return nil
	case <-p.exited:
		return errors.New("the process exited and could not be started again")
	}
}

// Stop stops supervising and the process: SIGTERM, as the kubelet sends, and SIGKILL after the grace period. It
// returns once the process has exited.
func (p *Process) Stop() {
	p.mu.Lock()
	p.stopping = true
	proc := p.cmd.Process
	p.mu.Unlock()
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(p.cfg.GracePeriod):
		_ = proc.Kill()
		<-p.exited
	}
}

// Exited is closed once the supervisor stopped for good: Stop, or a process that could not be started again.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Running reports whether a process runs now (not between an exit and its restart).
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gone:
		return false
	default:
		return true
	}
}

// PID is the id of the current process.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Starts counts the processes started, restarts included.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// UnplannedExits says why each exit nobody asked for happened, oldest first.
func (p *Process) UnplannedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.unplanned)
}

// AppendOnly opens path for appending, creating it: a log that survives the restarts of its process.
func AppendOnly(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}
