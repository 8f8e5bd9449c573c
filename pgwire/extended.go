package pgwire

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/sqlerr"
)

// prepared is a statement made by Parse.
type prepared struct {
	name string
	st   Statement
}

// portal is a statement bound by Bind.
type portal struct {
	p       Portal
	stmt    *prepared
	formats []int16 // result format per column
	empty   bool
	done    bool   // ran to completion
	tag     string // the completion tag, once done
}

func (c *conn) parse(ctx context.Context, m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return sqlerr.New(sqlerr.DuplicatePreparedStatement, "prepared statement %q already exists", m.Name)
		}
	} else {
		delete(c.stmts, "") // replaced even if the new Parse fails, as in Postgres
	}
	st, err := c.sess.Prepare(ctx, m.Query, m.ParameterOIDs)
	if err != nil {
		return err
	}
	if st == nil {
		return sqlerr.Bug("Session.Prepare returned no statement")
	}
	c.stmts[m.Name] = &prepared{name: m.Name, st: st}
	c.send(&pgproto3.ParseComplete{})
	return nil
}

func (c *conn) bind(ctx context.Context, m *pgproto3.Bind) error {
	ps := c.stmts[m.PreparedStatement]
	if ps == nil {
		return sqlerr.New(sqlerr.InvalidSQLStatementName, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return sqlerr.New(sqlerr.DuplicateCursor, "cursor %q already exists", m.DestinationPortal)
		}
	} else {
		c.closePortal("")
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return protocolViolation("bind message has %d parameter formats but %d parameters", n, len(m.Parameters))
	}
	if want := len(ps.st.ParamTypes()); len(m.Parameters) != want {
		return protocolViolation("bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), ps.name, want)
	}
	for _, f := range m.ParameterFormatCodes {
		if f != 0 && f != 1 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "unsupported format code: %d", f)
		}
	}
	// NB: pgproto3 reuses its read buffer; the engine may keep the values.
	params := copyParams(m.Parameters)
	formats := append([]int16(nil), m.ParameterFormatCodes...)
	p, err := ps.st.Bind(ctx, params, formats)
	if err != nil {
		return err
	}
	if p == nil {
		return sqlerr.Bug("Statement.Bind returned no portal")
	}
	rf, err := resultFormats(m.ResultFormatCodes, len(p.Columns()))
	if err != nil {
		p.Close()
		return err
	}
	c.portals[m.DestinationPortal] = &portal{p: p, stmt: ps, formats: rf, empty: ps.st.Empty()}
	c.send(&pgproto3.BindComplete{})
	return nil
}

func copyParams(in [][]byte) [][]byte {
	if len(in) == 0 {
		return nil
	}
	n := 0
	for _, p := range in {
		n += len(p)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(in))
	for i, p := range in {
		if p == nil {
			continue // NULL
		}
		buf = append(buf, p...)
		out[i] = buf[len(buf)-len(p) : len(buf) : len(buf)]
	}
	return out
}

// resultFormats expands the Bind result format codes to one per column.
func resultFormats(codes []int16, ncols int) ([]int16, error) {
	for _, f := range codes {
		if f != 0 && f != 1 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "unsupported format code: %d", f)
		}
	}
	out := make([]int16, ncols)
	switch len(codes) {
	case 0:
	case 1:
		for i := range out {
			out[i] = codes[0]
		}
	case ncols:
		copy(out, codes)
	default:
		return nil, protocolViolation("bind message has %d result formats but query has %d columns", len(codes), ncols)
	}
	return out, nil
}

func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps := c.stmts[m.Name]
		if ps == nil {
			return sqlerr.New(sqlerr.InvalidSQLStatementName, "prepared statement %q does not exist", m.Name)
		}
		c.send(&pgproto3.ParameterDescription{ParameterOIDs: ps.st.ParamTypes()})
		// A statement's result formats are not known yet: the field says text.
		if cols := ps.st.Columns(); cols != nil {
			c.rowDescription(cols, nil)
		} else {
			c.send(&pgproto3.NoData{})
		}
	case 'P':
		pt := c.portals[m.Name]
		if pt == nil {
			cols, ok := c.sess.CursorColumns(m.Name)
			if !ok {
				return sqlerr.New(sqlerr.InvalidCursorName, "portal %q does not exist", m.Name)
			}
			if cols == nil {
				c.send(&pgproto3.NoData{})
			} else {
				c.rowDescription(cols, nil)
			}
			return nil
		}
		if cols := pt.p.Columns(); cols != nil {
			c.rowDescription(cols, pt.formats)
		} else {
			c.send(&pgproto3.NoData{})
		}
	default:
		return protocolViolation("invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

func (c *conn) execute(ctx context.Context, m *pgproto3.Execute) (err error) {
	pt := c.portals[m.Portal]
	if pt == nil {
		return sqlerr.New(sqlerr.InvalidCursorName, "portal %q does not exist", m.Portal)
	}
	if pt.empty {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if pt.done {
		// Postgres answers a finished portal with its tag and no rows.
		c.commandComplete(zeroRowsTag(pt.tag))
		return nil
	}
	panicked := true
	defer func() {
		// A failed (or panicked) portal cannot run again.
		if err != nil || panicked {
			delete(c.portals, m.Portal)
			if !panicked {
				pt.p.Close()
			}
		}
	}()
	w := c.newResultWriter(pt.formats)
	tag, suspended, err := pt.p.Execute(ctx, int(m.MaxRows), w)
	panicked = false
	if err = w.finish(err); err != nil {
		return err
	}
	if suspended {
		c.send(&pgproto3.PortalSuspended{})
		return c.flush()
	}
	pt.done, pt.tag = true, tag
	c.commandComplete(tag)
	return nil
}

// zeroRowsTag turns "SELECT 5" into "SELECT 0" (and "INSERT 0 5" into "INSERT 0 0").
func zeroRowsTag(tag string) string {
	i := strings.LastIndexByte(tag, ' ')
	if i < 0 {
		return tag
	}
	for _, r := range tag[i+1:] {
		if r < '0' || r > '9' {
			return tag
		}
	}
	return tag[:i+1] + "0"
}

func (c *conn) closeMsg(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		if ps := c.stmts[m.Name]; ps != nil {
			delete(c.stmts, m.Name)
			for name, pt := range c.portals {
				if pt.stmt == ps {
					c.closePortal(name)
				}
			}
		}
	case 'P':
		c.closePortal(m.Name)
	default:
		return protocolViolation("invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.send(&pgproto3.CloseComplete{})
	return nil
}

func (c *conn) closePortal(name string) {
	pt := c.portals[name]
	if pt == nil {
		return
	}
	delete(c.portals, name)
	defer func() {
		if r := recover(); r != nil {
			_ = c.recovered("Portal.Close", r)
		}
	}()
	pt.p.Close()
}
