package format

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
)

// A CSV record is one line (a trailing newline is dropped) whose fields
// fill the columns by position, read with each column type's text input,
// as COPY … WITH (FORMAT csv) reads them: a field may be quoted, a quote
// inside quotes is doubled, an unquoted field equal to csv_null (default:
// empty) is NULL while a quoted empty field is the empty string.

type csvPlan struct {
	delim, quote byte
	header       bool
	null         string
	names        []string
	ncols        int
}

func compileCSV(cfg Config) (*csvPlan, error) {
	p := &csvPlan{delim: ',', quote: '"', ncols: len(cfg.Columns)}
	var err error
	if v, ok := cfg.Options[OptCSVDelimiter]; ok {
		if p.delim, err = csvChar(OptCSVDelimiter, v); err != nil {
			return nil, err
		}
	}
	if v, ok := cfg.Options[OptCSVQuote]; ok {
		if p.quote, err = csvChar(OptCSVQuote, v); err != nil {
			return nil, err
		}
	}
	if p.delim == p.quote {
		return nil, errOption("%s and %s must differ", OptCSVDelimiter, OptCSVQuote)
	}
	if v, ok := cfg.Options[OptCSVHeader]; ok {
		if p.header, err = boolOption(OptCSVHeader, v); err != nil {
			return nil, err
		}
	}
	p.null = cfg.Options[OptCSVNull]
	if strings.ContainsAny(p.null, "\r\n") || strings.IndexByte(p.null, p.delim) >= 0 || strings.IndexByte(p.null, p.quote) >= 0 {
		return nil, errOption("%s cannot contain a newline, the delimiter or the quote", OptCSVNull)
	}
	for _, c := range cfg.Columns {
		if len(c.Path) > 0 {
			return nil, errOption("column \"%s\": CSV columns are read by position and take no PATH", c.Name)
		}
		p.names = append(p.names, c.Name)
	}
	return p, nil
}

// csvChar reads a one-character option; 'tab' or '\t' is a tab.
func csvChar(opt, v string) (byte, error) {
	switch v {
	case `\t`, "tab":
		return '\t', nil
	}
	if len(v) != 1 || v[0] == '\r' || v[0] == '\n' || v[0] >= utf8.RuneSelf {
		return 0, errOption("%s must be a single one-byte character, not \"%s\"", opt, v)
	}
	return v[0], nil
}

func boolOption(opt, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return false, errOption("%s requires a Boolean value, not \"%s\"", opt, v)
}

type csvDecoder struct {
	p     *csvPlan
	c     committer
	slots []slot
	unq   []byte
}

func newCSVDecoder(p *csvPlan, c committer) *csvDecoder {
	return &csvDecoder{p: p, c: c, slots: make([]slot, p.ncols)}
}

// Decode decodes one line.
func (d *csvDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	if err := checkCols(d.p.ncols, cols); err != nil {
		return err
	}
	n := len(rec)
	if n > 0 && rec[n-1] == '\n' {
		n--
		if n > 0 && rec[n-1] == '\r' {
			n--
		}
	}
	line := rec[:n]
	delim, quote := d.p.delim, d.p.quote
	field := 0
	i := 0
	for {
		sl := slot{kind: sText, utf: true}
		if i < len(line) && line[i] == quote {
			// Quoted: up to the closing quote; a doubled quote is one quote.
			j := i + 1
			doubled := false
			for {
				k := indexByte(line, j, quote)
				if k < 0 {
					return errRecord(sqlerr.BadCopyFileFormat, "unterminated CSV quoted field in column %d: %s", field+1, quote1(line[i:]))
				}
				if k+1 < len(line) && line[k+1] == quote {
					doubled = true
					j = k + 2
					continue
				}
				sl.a, sl.b = i+1, k
				i = k + 1
				break
			}
			if i < len(line) && line[i] != delim {
				return errRecord(sqlerr.BadCopyFileFormat, "extra data after the closing quote of CSV field %d: %s", field+1, quote1(line[i:]))
			}
			if doubled {
				d.unq = d.unq[:0]
				for k := sl.a; k < sl.b; k++ {
					d.unq = append(d.unq, line[k])
					if line[k] == quote {
						k++
					}
				}
				sl = slot{kind: sStr, str: string(d.unq)}
			}
		} else {
			k := indexByte(line, i, delim)
			if k < 0 {
				k = len(line)
			}
			sl.a, sl.b = i, k
			if string(line[i:k]) == d.p.null {
				sl.kind = sNull
			}
			i = k
		}
		if field < len(d.slots) {
			d.slots[field] = sl
		}
		field++
		if i >= len(line) {
			break
		}
		i++ // the delimiter
	}
	if field != d.p.ncols {
		return errRecord(sqlerr.BadCopyFileFormat, "the CSV record has %d fields, the stream has %d columns: %s", field, d.p.ncols, quote1(line))
	}
	if d.p.header && d.isHeader(line) {
		return ErrSkip
	}
	return d.c.commit(line, d.slots, cols)
}

// isHeader reports whether the fields are the column names.
func (d *csvDecoder) isHeader(line []byte) bool {
	for i, sl := range d.slots {
		var s string
		switch sl.kind {
		case sText:
			s = string(line[sl.a:sl.b])
		case sStr:
			s = sl.str
		default:
			return false
		}
		if !strings.EqualFold(strings.TrimSpace(s), d.p.names[i]) {
			return false
		}
	}
	return true
}

func indexByte(b []byte, from int, c byte) int {
	if k := bytes.IndexByte(b[from:], c); k >= 0 {
		return from + k
	}
	return -1
}

func quote1(b []byte) string { return "\"" + quote(b) + "\"" }
