package localfleet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one child: etcd, a kube-apiserver or a controller.
type Process struct {
	Name    string
	Path    string
	Args    []string
	LogPath string
	Journal string     // file the pid is appended to, if set
	Env     []string   // added to this process's environment
	Files   []*os.File // passed on as file descriptors 3, 4, ...
	// Runs is the executable the process ends up running when Path execs
	// another one (default Path); the journal records it.
	Runs string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // Wait's result, valid after done
}

// The thread that starts children never exits: Pdeathsig fires when the
// thread that forked a child exits, not only when the process does.
var (
	starterOnce sync.Once
	starts      chan startRequest
)

type startRequest struct {
	cmd    *exec.Cmd
	result chan error
}

func startOnLockedThread(cmd *exec.Cmd) error {
	starterOnce.Do(func() {
		starts = make(chan startRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range starts {
				r.result <- r.cmd.Start()
			}
		}()
	})
	r := startRequest{cmd: cmd, result: make(chan error, 1)}
	starts <- r
	return <-r.result
}

// Start runs the process with output appended to its log. Detached processes
// get their own session and outlive this one; others are killed with SIGKILL
// when this process dies.
func (p *Process) Start(detached bool) error {
	if err := os.MkdirAll(filepath.Dir(p.LogPath), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s %s\n", time.Now().Format(time.RFC3339), strings.Join(append([]string{p.Path}, p.Args...), " "))
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.ExtraFiles = p.Files
	if detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	}
	if err := startOnLockedThread(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd = cmd
	if p.Journal != "" {
		exe := p.Path
		if p.Runs != "" {
			exe = p.Runs
		}
		if err := appendJournal(p.Journal, cmd.Process.Pid, exe, p.Name); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("record %s: %w", p.Name, err)
		}
	}
	p.done = make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return nil
}

// Pid is the process id, or 0 before start.
func (p *Process) Pid() int {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, then SIGKILL after grace, and waits until it is reaped.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
		}
	}
	if !ProcessGone(p.Pid()) {
		return fmt.Errorf("%s (pid %d) still present after stop", p.Name, p.Pid())
	}
	return nil
}

// LogTail returns the last lines of the process's log.
func (p *Process) LogTail(lines int) string {
	return TailFile(p.LogPath, lines)
}

// TailFile returns the last lines of a file, or "" when it cannot be read.
func TailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// ProcessGone reports whether pid no longer runs: it does not exist, or it
// has exited and waits only to be reaped (a zombie).
func ProcessGone(pid int) bool {
	if pid <= 0 {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	state := data[i+2]
	return state == 'Z' || state == 'X'
}

// ProcessRuns reports whether pid runs the executable exe (so a recorded pid
// that the system has since reused for something else is never signalled).
func ProcessRuns(pid int, exe string) bool {
	if ProcessGone(pid) {
		return false
	}
	got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	got = strings.TrimSuffix(got, " (deleted)")
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		want = exe
	}
	// A process chrooted into a root that binds this machine's directories
	// (StartEnvoyGateway) shows its executable under that root.
	return got == want || filepath.Base(got) == filepath.Base(want) && (sameFile(got, want) || strings.HasSuffix(got, want))
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// Terminate stops a process this one did not start (the demo's detached
// processes): SIGTERM, then SIGKILL after grace, then waits until it is gone.
// A pid that no longer runs exe is left alone.
func Terminate(pid int, exe string, grace time.Duration) error {
	if !ProcessRuns(pid, exe) {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	_ = p.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for !ProcessGone(pid) {
		if time.Now().After(deadline) {
			_ = p.Signal(syscall.SIGKILL)
			killDeadline := time.Now().Add(10 * time.Second)
			for !ProcessGone(pid) {
				if time.Now().After(killDeadline) {
					return fmt.Errorf("pid %d (%s) survived SIGKILL", pid, filepath.Base(exe))
				}
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portInUse tells from a log whether the process failed to bind its port.
func portInUse(log string) bool {
	return strings.Contains(log, "address already in use") || strings.Contains(log, "bind: address")
}

var errExited = errors.New("exited")

func itoa(i int) string { return strconv.Itoa(i) }

// StartProcess starts exe with args, its output appended to logPath, and
// returns its pid: detached in its own session, or else killed when this
// process dies (and reaped by it).
// With journalDir set, the process is also recorded in that directory's journal.
func StartProcess(exe string, args []string, logPath string, detached bool, journalDir string) (int, error) {
	p := &Process{Name: filepath.Base(exe), Path: exe, Args: args, LogPath: logPath}
	if journalDir != "" {
		p.Journal = filepath.Join(journalDir, JournalFile)
	}
	if err := p.Start(detached); err != nil {
		return 0, err
	}
	return p.Pid(), nil
}

// JournalFile is the file in a fleet's directory that records every process
// the fleet starts, one "pid<TAB>exe<TAB>name" line each, as soon as it
// starts: whoever finds a directory left by an interrupted start can stop
// what it recorded (StopJournaled).
const JournalFile = "processes"

func appendJournal(path string, pid int, exe, name string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d\t%s\t%s\n", pid, exe, name)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// StopJournaled stops every process recorded in dir's journal that still
// runs its recorded executable with dir in its command line, and waits until
// each is gone. It returns what it stopped.
func StopJournaled(dir string, grace time.Duration) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var stopped []string
	var errs []error
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i := len(lines) - 1; i >= 0; i-- { // newest first: API servers before etcd
		fields := strings.SplitN(lines[i], "\t", 3)
		if len(fields) != 3 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || !ProcessRuns(pid, fields[1]) || !cmdlineMentions(pid, dir) {
			continue
		}
		if err := Terminate(pid, fields[1], grace); err != nil {
			errs = append(errs, err)
			continue
		}
		stopped = append(stopped, fmt.Sprintf("%s (pid %d)", fields[2], pid))
	}
	return stopped, errors.Join(errs...)
}

func cmdlineMentions(pid int, s string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(data, []byte(s))
}
