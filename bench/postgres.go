package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// errNoPostgres means the machine has no PostgreSQL server binaries; the run
// goes on with Sluice alone.
var errNoPostgres = errors.New("no PostgreSQL server binaries")

// pgCluster is a throw-away PostgreSQL run by scripts/pg-test-cluster.sh.
type pgCluster struct {
	script string
	dir    string // SLUICE_PG_DIR: our own, so stop never removes a cluster someone else uses
	URL    string
}

// startPostgres starts a cluster in a directory of its own. NB: the script's
// default directory is shared with `make slt-pg`/CI, and `stop` deletes it;
// a private SLUICE_PG_DIR keeps the two from stopping each other's cluster.
func startPostgres(ctx context.Context, repo string) (*pgCluster, error) {
	script := filepath.Join(repo, "scripts", "pg-test-cluster.sh")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%s not found (run from the repository root or pass --repo): %w", script, err)
	}
	// Not under os.TempDir's private subdirectories: as root the script runs
	// postgres as another user, who must be able to reach the directory.
	c := &pgCluster{script: script, dir: filepath.Join(os.TempDir(), fmt.Sprintf("sluice-bench-pg-%d", os.Getpid()))}
	out, err := c.run(ctx, "start")
	if err != nil {
		return nil, err
	}
	lines := strings.Fields(out)
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s start printed no URL", script)
	}
	c.URL = lines[len(lines)-1]
	return c, nil
}

func (c *pgCluster) run(ctx context.Context, verb string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", c.script, verb)
	cmd.Env = append(os.Environ(), "SLUICE_PG_DIR="+c.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "no PostgreSQL server binaries") {
			return "", fmt.Errorf("%w (install postgresql; the script installs nothing)", errNoPostgres)
		}
		return "", fmt.Errorf("%s %s: %v: %s", c.script, verb, err, msg)
	}
	return stdout.String(), nil
}

// stop stops the cluster and deletes its files. It uses a fresh context so
// it still runs after an interrupt cancelled the benchmark's.
func (c *pgCluster) stop() error {
	if c == nil {
		return nil
	}
	_, err := c.run(context.Background(), "stop")
	return err
}
