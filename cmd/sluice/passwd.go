package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sluice-db/sluice/pgwire"
)

// maxPasswordLen bounds what sluice passwd reads from stdin.
const maxPasswordLen = 1024

// passwd prints the SCRAM-SHA-256 verifier of a password read from stdin,
// as a line for --users-file when a user name is given.
func passwd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = io.WriteString(stderr, `Usage: sluice passwd [--iterations N] [USER] < password

Reads a password from stdin (one line; a final newline is dropped) and prints
its SCRAM-SHA-256 verifier, or USER:verifier, a line for --users-file. The
password itself is neither printed nor stored. For example:

  read -rs PW && printf '%s' "$PW" | sluice passwd alice >> users

`)
		fs.PrintDefaults()
	}
	iterations := fs.Int("iterations", pgwire.DefaultSCRAMIterations, "PBKDF2 iterations (PostgreSQL's scram_iterations)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(stderr, "sluice passwd: reading the password from the terminal (it is shown as typed; pipe it in to avoid that)")
		}
	}
	password, err := readPassword(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "sluice passwd: %v\n", err)
		return 1
	}
	v, err := pgwire.NewSCRAMVerifier(password, *iterations)
	if err != nil {
		fmt.Fprintf(stderr, "sluice passwd: %v\n", err)
		return 2
	}
	if user := fs.Arg(0); user != "" {
		fmt.Fprintf(stdout, "%s:%s\n", user, v.Encode())
	} else {
		fmt.Fprintln(stdout, v.Encode())
	}
	return 0
}

// readPassword reads one line: a final \n or \r\n is dropped; an empty
// password, a second line or more than maxPasswordLen bytes is an error.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPasswordLen+3))
	if err != nil {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	switch {
	case len(b) == 0:
		return "", errors.New("empty password on stdin")
	case len(b) > maxPasswordLen:
		return "", fmt.Errorf("the password is longer than %d bytes", maxPasswordLen)
	case bytes.ContainsAny(b, "\r\n"):
		return "", errors.New("the password on stdin spans lines")
	}
	return string(b), nil
}
