package storage

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// harness runs the storage command language (see testdata/*). It plays the
// engine's part: it keeps a tiny catalog in meta records ("table/<name>") and
// reopens every table from them after reopen and crash.
type harness struct {
	fs     *vfs.MemFS
	db     *DB
	tables map[string]*Table
	txns   map[string]*Txn
	saved  map[string]*Savepoint
	// resident is the WithResidentSegments of every open (see
	// resident-segments).
	resident int
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		defer func(n, r int) { segRows, runRows = n, r }(segRows, runRows) // segment-rows, run-rows lower them
		h := &harness{fs: vfs.NewCrashableMem(), saved: map[string]*Savepoint{}, resident: defaultResidentSegments}
		h.open(t)
		defer func() { h.db.Close() }()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := h.run(t, d)
			if err != nil {
				return fmtErr(err)
			}
			return out
		})
	})
}

func fmtErr(err error) string {
	e, ok := sqlerr.As(err)
	if !ok {
		return fmt.Sprintf("error: %v\n", err)
	}
	s := fmt.Sprintf("error (%s): %s\n", e.Code, e.Message)
	if e.Detail != "" {
		s += "DETAIL: " + e.Detail + "\n"
	}
	return s
}

func (h *harness) open(t *testing.T) {
	db, err := Open("db", WithFS(h.fs), WithLogger(quietLogger{t}), WithResidentSegments(h.resident))
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	h.tables = map[string]*Table{}
	h.txns = map[string]*Txn{}
}

// load reopens every table recorded in the catalog.
func (h *harness) load() error {
	meta, err := h.db.Meta()
	if err != nil {
		return err
	}
	for k, v := range meta {
		name, ok := strings.CutPrefix(k, "table/")
		if !ok {
			continue
		}
		info, err := parseInfo(name, string(v))
		if err != nil {
			return err
		}
		tbl, err := h.db.OpenTable(info)
		if err != nil {
			return err
		}
		h.tables[name] = tbl
	}
	return nil
}

// encodeInfo / parseInfo: "<id>|<pk ordinals>|<name> <type>,...[|append-only]".
func encodeInfo(info TableInfo) string {
	var pk, cols []string
	for _, c := range info.PK {
		pk = append(pk, strconv.Itoa(c))
	}
	for i, n := range info.ColNames {
		cols = append(cols, n+" "+info.Types[i].TypName())
	}
	s := fmt.Sprintf("%d|%s|%s", info.ID, strings.Join(pk, ","), strings.Join(cols, ","))
	if info.AppendOnly {
		s += "|append-only"
	}
	return s
}

func parseInfo(name, s string) (TableInfo, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 && (len(parts) != 4 || parts[3] != "append-only") {
		return TableInfo{}, fmt.Errorf("bad catalog record %q", s)
	}
	id, err := strconv.ParseUint(parts[0], 10, 32)
	if err != nil {
		return TableInfo{}, err
	}
	info := TableInfo{ID: uint32(id), Name: name, AppendOnly: len(parts) == 4}
	for _, c := range strings.Split(parts[2], ",") {
		n, typ, _ := strings.Cut(c, " ")
		info.ColNames = append(info.ColNames, n)
		info.Types = append(info.Types, types.ByName(typ))
	}
	if parts[1] != "" {
		for _, p := range strings.Split(parts[1], ",") {
			c, _ := strconv.Atoi(p)
			info.PK = append(info.PK, c)
		}
	}
	return info, nil
}

// txn returns the named txn (created on first use) or, without txn=, a fresh
// implicit one that run commits after the command.
func (h *harness) txn(t *testing.T, d *datadriven.TestData) (*Txn, bool) {
	var name string
	if !d.MaybeScanArgs(t, "txn", &name) {
		return h.db.Begin(), true
	}
	tx, ok := h.txns[name]
	if !ok {
		tx = h.db.Begin()
		h.txns[name] = tx
	}
	return tx, false
}

func (h *harness) table(t *testing.T, d *datadriven.TestData) *Table {
	var name string
	d.ScanArgs(t, "table", &name)
	tbl, ok := h.tables[name]
	if !ok {
		d.Fatalf(t, "no table %q", name)
	}
	return tbl
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "create-table":
		tx, implicit := h.txn(t, d)
		var name string
		var id int
		d.ScanArgs(t, "name", &name)
		d.ScanArgs(t, "id", &id)
		info := TableInfo{ID: uint32(id), Name: name, AppendOnly: d.HasArg("append-only")}
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			n, typ, _ := strings.Cut(strings.TrimSpace(line), " ")
			ct := types.ByName(typ)
			if ct == nil {
				d.Fatalf(t, "unknown type %q", typ)
			}
			info.ColNames = append(info.ColNames, n)
			info.Types = append(info.Types, ct)
		}
		var pk []string
		d.MaybeScanArgs(t, "pk", &pk)
		for _, p := range pk {
			i := -1
			for c, n := range info.ColNames {
				if n == p {
					i = c
				}
			}
			if i < 0 {
				d.Fatalf(t, "no column %q", p)
			}
			info.PK = append(info.PK, i)
		}
		tbl, err := h.db.CreateTable(tx, info)
		if err != nil {
			return "", err
		}
		tx.PutMeta("table/"+name, []byte(encodeInfo(info)))
		h.tables[name] = tbl
		return h.finish(tx, implicit, "ok\n")

	case "drop-table":
		tx, implicit := h.txn(t, d)
		tbl := h.table(t, d)
		if err := h.db.DropTable(tx, tbl.info.ID); err != nil {
			return "", err
		}
		tx.DeleteMeta("table/" + tbl.info.Name)
		return h.finish(tx, implicit, "ok\n")

	case "insert":
		tx, implicit := h.txn(t, d)
		tbl := h.table(t, d)
		chunk := coldata.NewChunk(tbl.info.Types, 0)
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			chunk.AppendRow(parseRow(t, d, tbl, line))
		}
		if err := tx.Insert(tbl, chunk); err != nil {
			if implicit {
				tx.Rollback()
			}
			return "", err
		}
		return h.finish(tx, implicit, fmt.Sprintf("inserted %d\n", chunk.Len))

	case "insert-series":
		tx, implicit := h.txn(t, d)
		tbl := h.table(t, d)
		var from, to int
		d.ScanArgs(t, "from", &from)
		d.ScanArgs(t, "to", &to)
		chunk := coldata.NewChunk(tbl.info.Types, 0)
		for i := from; i <= to; i++ {
			row := make([]types.Datum, len(tbl.info.Types))
			for c, ct := range tbl.info.Types {
				switch ct.Phys() {
				case types.PhysInt:
					row[c] = int64(i)
				case types.PhysBytes:
					row[c] = fmt.Sprintf("v%d", i)
				}
			}
			chunk.AppendRow(row)
		}
		if err := tx.Insert(tbl, chunk); err != nil {
			if implicit {
				tx.Rollback()
			}
			return "", err
		}
		return h.finish(tx, implicit, fmt.Sprintf("inserted %d\n", chunk.Len))

	case "delete":
		tx, implicit := h.txn(t, d)
		tbl := h.table(t, d)
		var pos []int
		if d.HasArg("pos") {
			d.ScanArgs(t, "pos", &pos)
		} else {
			// mod=N: delete rows whose first column is a multiple of N.
			var mod int
			d.ScanArgs(t, "mod", &mod)
			s := tx.Scan(tbl)
			for {
				c, ps, ok := s.Next()
				if !ok {
					break
				}
				for i := 0; i < c.Len; i++ {
					if c.Cols[0].Ints[i]%int64(mod) == 0 {
						pos = append(pos, ps[i])
					}
				}
			}
		}
		if err := tx.Delete(tbl, pos); err != nil {
			if implicit {
				tx.Rollback()
			}
			return "", err
		}
		return h.finish(tx, implicit, fmt.Sprintf("deleted %d\n", len(pos)))

	case "update":
		tx, implicit := h.txn(t, d)
		tbl := h.table(t, d)
		chunk := coldata.NewChunk(tbl.info.Types, 0)
		var pos []int
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			p, vals, ok := strings.Cut(line, ":")
			if !ok {
				d.Fatalf(t, "want <pos>: <values>")
			}
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			pos = append(pos, n)
			chunk.AppendRow(parseRow(t, d, tbl, vals))
		}
		if err := tx.Update(tbl, pos, chunk); err != nil {
			if implicit {
				tx.Rollback()
			}
			return "", err
		}
		return h.finish(tx, implicit, fmt.Sprintf("updated %d\n", len(pos)))

	case "scan":
		tx, _ := h.txn(t, d)
		tbl := h.table(t, d)
		var b strings.Builder
		s := tx.Scan(tbl)
		total := 0
		for {
			c, ps, ok := s.Next()
			if !ok {
				break
			}
			total += c.Len
			if d.HasArg("chunks") {
				fmt.Fprintf(&b, "chunk rows=%d positions=%s\n", c.Len, describePositions(ps))
				continue
			}
			for i := 0; i < c.Len; i++ {
				fmt.Fprintf(&b, "%d: %s\n", ps[i], fmtRow(c.Row(i)))
			}
		}
		if err := s.Err(); err != nil {
			b.WriteString(fmtErr(err))
		}
		fmt.Fprintf(&b, "(%d rows, len=%d)\n", total, tbl.Len())
		return b.String(), nil

	case "lookup":
		tx, _ := h.txn(t, d)
		tbl := h.table(t, d)
		var key []string
		d.ScanArgs(t, "key", &key)
		kd := make([]types.Datum, len(key))
		for i, k := range key {
			kd[i] = parseDatum(t, d, tbl.info.Types[tbl.info.PK[i]], k)
		}
		row, pos, ok := tx.Lookup(tbl, kd)
		if !ok {
			return "not found\n", nil
		}
		return fmt.Sprintf("%d: %s\n", pos, fmtRow(row)), nil

	case "get":
		tbl := h.table(t, d)
		var pos int
		d.ScanArgs(t, "pos", &pos)
		return fmtRow(tbl.Get(pos)) + "\n", nil

	case "len":
		return fmt.Sprintf("%d\n", h.table(t, d).Len()), nil

	case "segment-rows":
		// Set the rows of a full segment (for the rest of the file), so a
		// few rows cross segment boundaries.
		d.ScanArgs(t, "n", &segRows)
		return "ok\n", nil

	case "resident-segments":
		// Set how many sealed segments of an append-only table stay in
		// memory (for the rest of the file, reopens included).
		d.ScanArgs(t, "n", &h.resident)
		h.db.residentSegs = h.resident
		return "ok\n", nil

	case "run-rows":
		// Set the most rows of a run value (for the rest of the file).
		d.ScanArgs(t, "n", &runRows)
		return "ok\n", nil

	case "layout":
		return h.table(t, d).layout(), nil

	case "pebble":
		return h.pebbleRows(t, h.table(t, d))

	case "savepoint", "rollback-to":
		var txn, name string
		d.ScanArgs(t, "txn", &txn)
		d.ScanArgs(t, "name", &name)
		tx, ok := h.txns[txn]
		if !ok {
			d.Fatalf(t, "no txn %q", txn)
		}
		if d.Cmd == "savepoint" {
			h.saved[txn+"/"+name] = tx.Savepoint()
		} else {
			tx.RollbackTo(h.saved[txn+"/"+name])
		}
		return "ok\n", nil

	case "commit", "rollback":
		var name string
		d.ScanArgs(t, "txn", &name)
		tx, ok := h.txns[name]
		if !ok {
			d.Fatalf(t, "no txn %q", name)
		}
		delete(h.txns, name)
		if d.Cmd == "rollback" {
			tx.Rollback()
			return "ok\n", nil
		}
		if err := tx.Commit(); err != nil {
			return "", err
		}
		return "ok\n", nil

	case "put-meta", "delete-meta":
		tx, implicit := h.txn(t, d)
		var key, val string
		d.ScanArgs(t, "key", &key)
		if d.Cmd == "put-meta" {
			d.ScanArgs(t, "val", &val)
			tx.PutMeta(key, []byte(val))
		} else {
			tx.DeleteMeta(key)
		}
		return h.finish(tx, implicit, "ok\n")

	case "meta":
		meta, err := h.db.Meta()
		if err != nil {
			return "", err
		}
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, meta[k])
		}
		return b.String(), nil

	case "reopen", "crash":
		if d.Cmd == "crash" {
			// Keep only what was synced, as after a power cut; in-memory
			// state and open transactions are lost.
			crashed := h.fs.CrashClone(vfs.CrashCloneCfg{})
			h.db.Close()
			h.fs = crashed
		} else if err := h.db.Close(); err != nil {
			return "", err
		}
		h.open(t)
		if err := h.load(); err != nil {
			return "", err
		}
		return "ok\n", nil

	case "commit-and-crash":
		// Commit txn, crashing between the sync of its history-log
		// appends and the commit of its Pebble batch; then reopen.
		var name string
		d.ScanArgs(t, "txn", &name)
		tx := h.txns[name]
		delete(h.txns, name)
		var crashed *vfs.MemFS
		h.db.afterHistorySync = func() { crashed = h.fs.CrashClone(vfs.CrashCloneCfg{}) }
		if err := tx.Commit(); err != nil {
			return "", err
		}
		h.db.Close()
		h.fs = crashed
		h.open(t)
		if err := h.load(); err != nil {
			return "", err
		}
		return "ok\n", nil

	case "write-history":
		// Write bytes into table id's history log at an offset (default:
		// its end), synced (sync) or not.
		var id int
		d.ScanArgs(t, "id", &id)
		names, err := h.fs.List(h.db.histDir)
		if err != nil {
			return "", err
		}
		var path string
		for _, n := range names {
			if strings.HasPrefix(n, fmt.Sprintf("%d-", id)) {
				path = h.fs.PathJoin(h.db.histDir, n)
			}
		}
		f, err := h.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return "", err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		off := st.Size()
		d.MaybeScanArgs(t, "off", &off)
		var v []byte
		if d.HasArg("val") {
			var hexval string
			d.ScanArgs(t, "val", &hexval)
			v = parseHex(hexval)
		}
		if _, err := f.WriteAt(v, off); err != nil {
			return "", err
		}
		if d.HasArg("sync") {
			if err := f.Sync(); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("wrote %d bytes at %d of %d\n", len(v), off, st.Size()), nil

	case "make-append-only":
		// Record the table as append-only in the catalog, as if its rows
		// had been written before streams kept them in history logs; the
		// next reopen opens it so.
		tbl := h.table(t, d)
		info := tbl.info
		info.AppendOnly, info.PK = true, nil
		tx := h.db.Begin()
		tx.PutMeta("table/"+info.Name, []byte(encodeInfo(info)))
		return h.finish(tx, true, "ok\n")

	case "history-files":
		names, err := h.fs.List(h.db.histDir)
		if err != nil {
			return "", err
		}
		if len(names) == 0 {
			return "(none)\n", nil
		}
		sort.Strings(names)
		return strings.Join(names, "\n") + "\n", nil

	case "corrupt":
		// Overwrite the value of one row on disk, then reopen.
		var id, rowID int
		var hexval string
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "rowid", &rowID)
		d.ScanArgs(t, "val", &hexval)
		v := parseHex(hexval)
		if err := h.db.pe.Set(rowKey(nil, uint32(id), uint64(rowID)), v, pebble.Sync); err != nil {
			return "", err
		}
		return "ok\n", nil
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return "", nil
}

func parseHex(s string) []byte {
	var v []byte
	for i := 0; i+1 < len(s); i += 2 {
		x, _ := strconv.ParseUint(s[i:i+2], 16, 8)
		v = append(v, byte(x))
	}
	return v
}

// layout describes the table's segments and runs.
func (t *Table) layout() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var b strings.Builder
	for i, s := range t.segs {
		fmt.Fprintf(&b, "segment %d: positions %d..%d, rowIDs %s", i, s.start, s.end()-1, describeIDs(s))
		if s.frozen {
			b.WriteString(", adopted")
		}
		if s.evicted {
			b.WriteString(", evicted")
		}
		if t.info.AppendOnly {
			fmt.Fprintf(&b, ", log frame at %d (position %d)", s.hist.off, s.hist.pos)
		}
		b.WriteString("\n")
	}
	if t.hist != nil {
		fmt.Fprintf(&b, "log %s: %d bytes, %d rows committed\n", t.db.fs.PathBase(t.hist.path), t.hist.committed.bytes, t.hist.committed.rows)
	}
	for _, r := range t.runs {
		fmt.Fprintf(&b, "run: positions %d..%d, rowIDs %d..%d\n", r.pos, r.pos+r.n-1, r.id, r.id+uint64(r.n)-1)
	}
	fmt.Fprintf(&b, "positions=%d live=%d next rowID=%d\n", t.n, t.live, t.nextRowID)
	return b.String()
}

func describeIDs(s *segment) string {
	if s.ids == nil {
		return fmt.Sprintf("%d..%d", s.firstID, s.firstID+uint64(s.rows.Len)-1)
	}
	ids := make([]string, len(s.ids))
	for i, id := range s.ids {
		ids[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(ids, ",")
}

// pebbleRows lists the table's Pebble records: a plain row, or a run of n.
func (h *harness) pebbleRows(t *testing.T, tbl *Table) (string, error) {
	lo, hi := tableSpan(tbl.info.ID)
	it, err := h.db.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return "", err
	}
	defer it.Close()
	var b strings.Builder
	for ok := it.First(); ok; ok = it.Next() {
		id := binary.BigEndian.Uint64(it.Key()[5:])
		v, err := it.ValueAndErr()
		if err != nil {
			return "", err
		}
		c := coldata.NewChunk(tbl.info.Types, 0)
		n, err := decodeInto(v, c.Cols)
		if err != nil {
			return "", err
		}
		c.Len = n
		if v[0] == rowFormatRun {
			fmt.Fprintf(&b, "%d: run of %d: %s ... %s\n", id, n, fmtRow(c.Row(0)), fmtRow(c.Row(n-1)))
		} else {
			fmt.Fprintf(&b, "%d: %s\n", id, fmtRow(c.Row(0)))
		}
	}
	return b.String(), it.Error()
}

func (h *harness) finish(tx *Txn, implicit bool, out string) (string, error) {
	if !implicit {
		return out, nil
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	return out, nil
}

func describePositions(ps []int) string {
	contiguous := true
	for i := 1; i < len(ps); i++ {
		if ps[i] != ps[i-1]+1 {
			contiguous = false
		}
	}
	if contiguous {
		return fmt.Sprintf("%d..%d", ps[0], ps[len(ps)-1])
	}
	return fmt.Sprintf("%d,%d,...,%d", ps[0], ps[1], ps[len(ps)-1])
}

// parseRow reads comma-separated literals: NULL, 'text', numbers, true/false.
func parseRow(t *testing.T, d *datadriven.TestData, tbl *Table, line string) []types.Datum {
	var toks []string
	s := strings.TrimSpace(line)
	for s != "" {
		var tok string
		if s[0] == '\'' {
			end := 1
			for end < len(s) && !(s[end] == '\'' && (end+1 == len(s) || s[end+1] != '\'')) {
				if s[end] == '\'' {
					end++
				}
				end++
			}
			tok, s = s[:end+1], s[min(end+1, len(s)):]
		} else {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				i = len(s)
			}
			tok, s = strings.TrimSpace(s[:i]), s[i:]
		}
		toks = append(toks, tok)
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), ","))
	}
	if len(toks) != len(tbl.info.Types) {
		d.Fatalf(t, "row %q has %d values, table has %d columns", line, len(toks), len(tbl.info.Types))
	}
	row := make([]types.Datum, len(toks))
	for i, tok := range toks {
		row[i] = parseDatum(t, d, tbl.info.Types[i], tok)
	}
	return row
}

func parseDatum(t *testing.T, d *datadriven.TestData, typ *types.T, tok string) types.Datum {
	if strings.EqualFold(tok, "null") {
		return nil
	}
	var err error
	var out types.Datum
	switch typ.Phys() {
	case types.PhysBool:
		out, err = strconv.ParseBool(tok)
	case types.PhysInt:
		out, err = strconv.ParseInt(tok, 10, 64)
	case types.PhysFloat:
		out, err = strconv.ParseFloat(tok, 64)
	case types.PhysDecimal:
		out, _, err = apd.NewFromString(tok)
	case types.PhysBytes:
		if len(tok) < 2 || tok[0] != '\'' {
			d.Fatalf(t, "want a quoted string, got %s", tok)
		}
		out = strings.ReplaceAll(tok[1:len(tok)-1], "''", "'")
	default:
		d.Fatalf(t, "cannot parse %s", typ)
	}
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return out
}

func fmtRow(row []types.Datum) string {
	parts := make([]string, len(row))
	for i, v := range row {
		switch x := v.(type) {
		case nil:
			parts[i] = "NULL"
		case string:
			parts[i] = "'" + x + "'"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, ", ")
}

type quietLogger struct{ t testing.TB }

func (l quietLogger) Infof(string, ...any) {}
func (l quietLogger) Errorf(format string, args ...any) {
	l.t.Logf(format, args...)
}
func (l quietLogger) Fatalf(format string, args ...any) {
	l.t.Fatalf(format, args...)
}

// createTable creates table info in a transaction of its own.
func createTable(t testing.TB, db *DB, info TableInfo) *Table {
	t.Helper()
	tx := db.Begin()
	tbl, err := db.CreateTable(tx, info)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return tbl
}
