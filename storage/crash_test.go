package storage

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

const crashChildEnv = "SLUICE_STORAGE_CRASH_CHILD_DIR"

var crashInfo = TableInfo{ID: 1, Name: "log", ColNames: []string{"id", "payload"}, Types: []*types.T{types.Int8, types.Text}, PK: []int{0}}

// crashStreamInfo is a stream each commit also appends to: its rows go to
// a history log, synced before the Pebble batch, so a kill can land
// between the two; after it both tables must hold the same commits.
var crashStreamInfo = TableInfo{ID: 2, Name: "events", ColNames: []string{"id", "payload"}, Types: []*types.T{types.Int8, types.Text}, AppendOnly: true}

const crashBatch = 50

// TestCrashKill runs a child process that commits batches (to a table and a
// stream) in a loop and prints each acknowledged commit, SIGKILLs it,
// reopens the store and checks that every acknowledged commit is present,
// no commit is torn, and the stream holds exactly the table's commits.
func TestCrashKill(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	for round := range 3 { // several kills on the same directory
		acked := runAndKill(t, dir, 20+round*10)
		db, err := Open(dir, WithLogger(quietLogger{t}))
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := db.OpenTable(crashInfo)
		if err != nil {
			t.Fatal(err)
		}
		stream, err := db.OpenTable(crashStreamInfo)
		if err != nil {
			t.Fatal(err)
		}
		n := tbl.Len()
		if sn := stream.Len(); sn != n {
			t.Fatalf("table has %d rows, stream %d: a commit is torn", n, sn)
		}
		t.Logf("round %d: acknowledged %d commits, found %d rows", round, acked, n)
		if n < acked*crashBatch {
			t.Fatalf("lost acknowledged commits: %d rows < %d acknowledged", n, acked*crashBatch)
		}
		if n%crashBatch != 0 {
			t.Fatalf("torn commit: %d rows", n)
		}
		for _, tb := range []*Table{tbl, stream} {
			seen := make([]bool, n)
			s := db.Begin().Scan(tb)
			for {
				c, _, ok := s.Next()
				if !ok {
					break
				}
				for i := 0; i < c.Len; i++ {
					id := c.Cols[0].Ints[i]
					if id < 0 || id >= int64(n) || seen[id] || c.Cols[1].Bytes[i] != fmt.Sprint("payload-", id) {
						t.Fatalf("%s: unexpected row %d %q", tb.info.Name, id, c.Cols[1].Bytes[i])
					}
					seen[id] = true
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill starts the child, waits for minAcks acknowledged commits, kills
// it with SIGKILL and returns the number of commits it acknowledged.
func runAndKill(t *testing.T, dir string, minAcks int) int {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	deadline := time.Now().Add(30 * time.Second)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			acked, _ = strconv.Atoi(n)
		}
		if acked >= minAcks || time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	for sc.Scan() { // lines already written before the kill are acknowledgements too
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	_ = cmd.Wait()
	if acked < minAcks {
		t.Fatalf("child acknowledged only %d commits", acked)
	}
	return acked
}

func crashChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	db, err := Open(dir)
	if err != nil {
		fail(err)
	}
	meta, err := db.Meta()
	if err != nil {
		fail(err)
	}
	var tbl, stream *Table
	if _, ok := meta["table/log"]; ok {
		if tbl, err = db.OpenTable(crashInfo); err != nil {
			fail(err)
		}
		if stream, err = db.OpenTable(crashStreamInfo); err != nil {
			fail(err)
		}
	}
	commits := tbl.lenOrZero() / crashBatch
	stop := time.Now().Add(time.Minute) // in case the parent dies without killing us
	for time.Now().Before(stop) {
		tx := db.Begin()
		if tbl == nil {
			if tbl, err = db.CreateTable(tx, crashInfo); err != nil {
				fail(err)
			}
			if stream, err = db.CreateTable(tx, crashStreamInfo); err != nil {
				fail(err)
			}
			tx.PutMeta("table/log", []byte("x"))
		}
		c := coldata.NewChunk(crashInfo.Types, crashBatch)
		for i := range crashBatch {
			id := int64(commits*crashBatch + i)
			c.AppendRow([]types.Datum{id, fmt.Sprint("payload-", id)})
		}
		if err := tx.Insert(tbl, c); err != nil {
			fail(err)
		}
		if err := tx.Insert(stream, c); err != nil {
			fail(err)
		}
		if err := tx.Commit(); err != nil {
			fail(err)
		}
		commits++
		// Unbuffered write: once the parent reads it, the commit was acknowledged.
		fmt.Fprintf(os.Stdout, "committed %d\n", commits)
	}
	os.Exit(3)
}

func (t *Table) lenOrZero() int {
	if t == nil {
		return 0
	}
	return t.Len()
}
