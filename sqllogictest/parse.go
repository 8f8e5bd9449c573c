package sqllogictest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Kind is the kind of a record in an .slt file.
type Kind int

const (
	// KindStatement is `statement ok` or `statement error [pattern]`.
	KindStatement Kind = iota
	// KindQuery is `query <types> [sort] [label] [options]` or `query error [pattern]`.
	KindQuery
	// KindHalt is `halt`: the rest of the file is not run.
	KindHalt
	// KindConnection is `connection <name>`: the records after it run on
	// the session of that name, opened on first use. The file starts on the
	// session named DefaultConnection.
	KindConnection
)

// DefaultConnection names the session a file starts on.
const DefaultConnection = "default"

// SortMode says how a query's rows are ordered before comparison.
type SortMode int

const (
	// NoSort compares rows in the order the server returned them.
	NoSort SortMode = iota
	// RowSort sorts the formatted rows (and the expected lines).
	RowSort
	// ValueSort puts every value on its own line and sorts the lines.
	ValueSort
)

// ErrorSpec is what an expected error must look like.
type ErrorSpec struct {
	// Code is a SQLSTATE to match exactly; empty means any.
	Code string
	// Pattern is matched (unanchored) against the error message; nil means any.
	Pattern *regexp.Regexp
}

// Record is one unit of an .slt file.
type Record struct {
	Kind Kind
	// File and Line locate the record header (1-based) for error reports.
	File string
	Line int
	// SQL is the statement or query text.
	SQL string
	// Connection is the session name of a `connection` record.
	Connection string
	// ExpectError is set for `statement error` and `query error`.
	ExpectError *ErrorSpec
	// Types is the query's type string (one letter per column).
	Types string
	Sort  SortMode
	Label string
	// ColNames makes the first expected line the column names.
	ColNames bool
	// Eventually retries the query until it matches or the runner's timeout passes.
	Eventually bool
	// Expected holds the lines after `----`.
	Expected []string
	// HasSeparator is true when the record had a `----` line.
	HasSeparator bool
	// SkipIf and OnlyIf hold the engines named by skipif/onlyif lines.
	SkipIf []string
	OnlyIf []string

	// Line ranges (0-based, into the owning file's lines) used by --rewrite:
	// sqlEnd is the index after the last SQL line; resStart..resEnd are the
	// expected lines (resStart is after `----`).
	sqlEnd, resStart, resEnd int
}

// File is a parsed .slt file.
type File struct {
	Path string
	// SluiceOnly is set by a first line `# sluice-only`.
	SluiceOnly bool
	Records    []*Record
	lines      []string
}

// Pos is the record's position as file:line.
func (r *Record) Pos() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// RunsOn reports whether the record applies to the named engine.
func (r *Record) RunsOn(engine string) bool {
	for _, e := range r.SkipIf {
		if e == engine {
			return false
		}
	}
	if len(r.OnlyIf) == 0 {
		return true
	}
	for _, e := range r.OnlyIf {
		if e == engine {
			return true
		}
	}
	return false
}

// ParseFile reads and parses path, inlining `include` files.
func ParseFile(path string) (*File, error) {
	return parseFile(path, map[string]bool{})
}

func parseFile(path string, seen map[string]bool) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if seen[abs] {
		return nil, fmt.Errorf("%s: include cycle", path)
	}
	seen[abs] = true
	defer delete(seen, abs)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	// Expand includes: Parse leaves them as pseudo-records with Label set.
	var out []*Record
	for _, r := range f.Records {
		if r.Kind != kindInclude {
			out = append(out, r)
			continue
		}
		inc := r.SQL
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		sub, err := parseFile(inc, seen)
		if err != nil {
			return nil, fmt.Errorf("%s: include: %w", r.Pos(), err)
		}
		out = append(out, sub.Records...)
	}
	f.Records = out
	return f, nil
}

// kindInclude is a parse-time placeholder for `include <file>`; ParseFile
// replaces it with the included records.
const kindInclude Kind = -1

// Parse parses the contents of an .slt file. Include records are kept as
// placeholders; use ParseFile to expand them.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		f.lines = append(f.lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(f.lines) > 0 && strings.TrimSpace(f.lines[0]) == "# sluice-only" {
		f.SluiceOnly = true
	}
	lines := f.lines
	errf := func(i int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, i+1, fmt.Sprintf(format, args...))
	}
	var skipIf, onlyIf []string
	for i := 0; i < len(lines); {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			i++
			continue
		}
		fields := strings.Fields(line)
		r := &Record{File: path, Line: i + 1}
		switch fields[0] {
		case "skipif", "onlyif":
			if len(fields) != 2 {
				return nil, errf(i, "%s needs one engine name", fields[0])
			}
			if fields[0] == "skipif" {
				skipIf = append(skipIf, fields[1])
			} else {
				onlyIf = append(onlyIf, fields[1])
			}
			i++
			continue
		case "halt":
			r.Kind = KindHalt
			i++
		case "connection":
			if len(fields) != 2 {
				return nil, errf(i, "connection needs one session name")
			}
			r.Kind = KindConnection
			r.Connection = fields[1]
			i++
		case "include":
			if len(fields) != 2 {
				return nil, errf(i, "include needs one file name")
			}
			r.Kind = kindInclude
			r.SQL = fields[1]
			i++
		case "statement":
			r.Kind = KindStatement
			if len(fields) < 2 {
				return nil, errf(i, "statement needs ok or error")
			}
			switch fields[1] {
			case "ok":
				if len(fields) > 2 {
					return nil, errf(i, "unexpected text after statement ok")
				}
			case "error":
				spec, err := parseErrorSpec(restAfter(line, 2))
				if err != nil {
					return nil, errf(i, "%v", err)
				}
				r.ExpectError = spec
			default:
				return nil, errf(i, "statement needs ok or error, got %q", fields[1])
			}
			i++
			i = readSQL(lines, i, r, false)
			if r.SQL == "" {
				return nil, errf(r.Line-1, "statement without SQL")
			}
		case "query":
			r.Kind = KindQuery
			if len(fields) < 2 {
				return nil, errf(i, "query needs a type string or error")
			}
			if fields[1] == "error" {
				spec, err := parseErrorSpec(restAfter(line, 2))
				if err != nil {
					return nil, errf(i, "%v", err)
				}
				r.ExpectError = spec
			} else {
				r.Types = fields[1]
				for _, opt := range fields[2:] {
					switch opt {
					case "nosort":
						r.Sort = NoSort
					case "rowsort":
						r.Sort = RowSort
					case "valuesort":
						r.Sort = ValueSort
					case "colnames":
						r.ColNames = true
					case "eventually":
						r.Eventually = true
					default:
						if r.Label != "" {
							return nil, errf(i, "unknown query option %q", opt)
						}
						r.Label = opt
					}
				}
			}
			i++
			i = readSQL(lines, i, r, r.ExpectError == nil)
			if r.SQL == "" {
				return nil, errf(r.Line-1, "query without SQL")
			}
			if r.HasSeparator {
				if r.ExpectError != nil {
					return nil, errf(r.Line-1, "query error must not have ----")
				}
				r.resStart = i
				for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
					r.Expected = append(r.Expected, lines[i])
					i++
				}
				r.resEnd = i
			}
		default:
			return nil, errf(i, "unknown record %q", fields[0])
		}
		r.SkipIf, r.OnlyIf = skipIf, onlyIf
		skipIf, onlyIf = nil, nil
		f.Records = append(f.Records, r)
	}
	if len(skipIf)+len(onlyIf) > 0 {
		return nil, fmt.Errorf("%s: skipif/onlyif at end of file", path)
	}
	return f, nil
}

// readSQL collects SQL lines from lines[i] up to a blank line (or `----` when
// sep is allowed) and returns the index after them (after `----` if seen).
func readSQL(lines []string, i int, r *Record, sep bool) int {
	var sql []string
	for i < len(lines) {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			break
		}
		if t == "----" {
			if sep || r.Kind == KindQuery {
				r.HasSeparator = true
				r.sqlEnd = i
				r.SQL = strings.Join(sql, "\n")
				return i + 1
			}
		}
		sql = append(sql, lines[i])
		i++
	}
	r.sqlEnd = i
	r.SQL = strings.Join(sql, "\n")
	return i
}

// restAfter returns line with its first n whitespace-separated fields removed.
func restAfter(line string, n int) string {
	s := strings.TrimSpace(line)
	for k := 0; k < n; k++ {
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			return ""
		}
		s = strings.TrimLeft(s[j:], " \t")
	}
	return s
}

var sqlstateRE = regexp.MustCompile(`^[0-9A-Z]{5}$`)

// parseErrorSpec parses what follows `statement error` / `query error`:
// either nothing, `SQLSTATE XXXXX [regex]`, or a regex.
func parseErrorSpec(s string) (*ErrorSpec, error) {
	spec := &ErrorSpec{}
	if rest, ok := strings.CutPrefix(s, "SQLSTATE "); ok {
		rest = strings.TrimSpace(rest)
		code, pat, _ := strings.Cut(rest, " ")
		if !sqlstateRE.MatchString(code) {
			return nil, fmt.Errorf("bad SQLSTATE %q", code)
		}
		spec.Code = code
		s = strings.TrimSpace(pat)
	}
	if s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("bad error pattern: %v", err)
		}
		spec.Pattern = re
	}
	return spec, nil
}
