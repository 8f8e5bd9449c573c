package pgwire

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// resultWriter is the ResultWriter for one Execute.
type resultWriter struct {
	c       *conn
	formats []int16 // per column; nil or short means text
	copyIn  *copyInReader
	copyOut bool
}

// newResultWriter returns the connection's writer, reset for a statement:
// one statement runs at a time, and a point lookup's writer was one of its
// allocations.
func (c *conn) newResultWriter(formats []int16) *resultWriter {
	c.rw = resultWriter{c: c, formats: formats}
	return &c.rw
}

// finish completes the statement's output: a COPY TO that succeeded gets its
// CopyDone. It returns err.
func (w *resultWriter) finish(err error) error {
	if w.copyOut && err == nil {
		w.c.send(&pgproto3.CopyDone{})
		return w.c.werr
	}
	return err
}

const flushRowsAt = 64 << 10

// WriteChunk implements ResultWriter: one DataRow per row, encoded straight
// into the connection's scratch buffer.
func (w *resultWriter) WriteChunk(ch *coldata.Chunk) error {
	if w.copyIn != nil || w.copyOut {
		return sqlerr.Bug("WriteChunk during COPY")
	}
	c := w.c
	cfg := c.sess.FormatConfig()
	if cfg == nil {
		cfg = types.DefaultConfig()
	}
	buf := c.out[:0]
	var err error
	for i := 0; i < ch.Len; i++ {
		start := len(buf)
		buf = append(buf, 'D', 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(ch.Cols)))
		for j, v := range ch.Cols {
			if v.IsNull(i) {
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			lp := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			if j < len(w.formats) && w.formats[j] == 1 {
				buf, err = appendBinary(buf, v, i)
				if err != nil {
					c.out = buf[:0]
					return err
				}
			} else {
				buf = appendText(buf, v, i, cfg)
			}
			binary.BigEndian.PutUint32(buf[lp:], uint32(len(buf)-lp-4))
		}
		binary.BigEndian.PutUint32(buf[start+1:], uint32(len(buf)-start-1))
		if len(buf) >= flushRowsAt {
			if err := c.write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	err = c.write(buf)
	if cap(buf) <= 1<<20 {
		c.out = buf[:0]
	} else {
		c.out = nil
	}
	return err
}

// appendText appends row i of v in text format. Values held as integers
// (timestamps and dates too) or strings, the common case, are encoded
// without boxing: a boxed value was an allocation per row and column.
func appendText(buf []byte, v *coldata.Vec, i int, cfg *types.Config) []byte {
	switch v.Typ.Phys() {
	case types.PhysInt:
		return types.AppendTextInt(buf, v.Typ, v.Ints[i], cfg)
	case types.PhysBytes:
		return types.AppendTextString(buf, v.Typ, v.Bytes[i])
	}
	return types.AppendText(buf, v.Typ, v.Get(i), cfg)
}

// appendBinary appends row i of v in binary format.
func appendBinary(buf []byte, v *coldata.Vec, i int) ([]byte, error) {
	switch v.Typ.Phys() {
	case types.PhysInt:
		return types.AppendBinaryInt(buf, v.Typ, v.Ints[i]), nil
	case types.PhysBytes:
		switch v.Typ.Oid {
		case types.OidText, types.OidVarchar, types.OidName:
			return append(buf, v.Bytes[i]...), nil
		}
	}
	return types.AppendBinary(buf, v.Typ, v.Get(i))
}

func copyFormats(format CopyFormat, columns int) (byte, []uint16) {
	var f byte
	if format == CopyBinary {
		f = 1
	}
	codes := make([]uint16, max(columns, 0))
	for i := range codes {
		codes[i] = uint16(f)
	}
	return f, codes
}

// CopyIn implements ResultWriter.
func (w *resultWriter) CopyIn(format CopyFormat, columns int) (io.Reader, error) {
	if w.copyIn != nil || w.copyOut {
		return nil, sqlerr.Bug("second COPY in one statement")
	}
	f, codes := copyFormats(format, columns)
	w.c.send(&pgproto3.CopyInResponse{OverallFormat: f, ColumnFormatCodes: codes})
	if err := w.c.flush(); err != nil {
		return nil, err
	}
	w.copyIn = &copyInReader{c: w.c}
	return w.copyIn, nil
}

// copyInReader yields the payload of CopyData messages until CopyDone (io.EOF)
// or CopyFail (57014).
type copyInReader struct {
	c       *conn
	pending []byte
	err     error
}

func (r *copyInReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		msg, err := r.c.be.Receive()
		if err != nil {
			r.err = err
			r.c.dead = err // the stream is broken: end the connection after this statement
			return 0, err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			r.pending = m.Data // valid until the next Receive, which only we call
		case *pgproto3.CopyDone:
			r.err = io.EOF
		case *pgproto3.CopyFail:
			r.err = sqlerr.New(sqlerr.QueryCanceled, "COPY from stdin failed: %s", m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored during COPY FROM STDIN, per protocol.
		default:
			r.err = protocolViolation("unexpected message type %s during COPY from stdin", msgName(msg))
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func msgName(m pgproto3.FrontendMessage) string {
	s := fmt.Sprintf("%T", m)
	if i := len("*pgproto3."); len(s) > i {
		return s[i:]
	}
	return s
}

// CopyOut implements ResultWriter.
func (w *resultWriter) CopyOut(format CopyFormat, columns int) (io.Writer, error) {
	if w.copyIn != nil || w.copyOut {
		return nil, sqlerr.Bug("second COPY in one statement")
	}
	f, codes := copyFormats(format, columns)
	w.c.send(&pgproto3.CopyOutResponse{OverallFormat: f, ColumnFormatCodes: codes})
	w.copyOut = true
	return copyOutWriter{w.c}, w.c.werr
}

type copyOutWriter struct{ c *conn }

// Write sends p as one CopyData message.
func (cw copyOutWriter) Write(p []byte) (int, error) {
	var hdr [5]byte
	hdr[0] = 'd'
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)+4))
	if err := cw.c.write(hdr[:]); err != nil {
		return 0, err
	}
	if err := cw.c.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ParameterStatus implements ResultWriter.
func (w *resultWriter) ParameterStatus(name, value string) error {
	w.c.send(&pgproto3.ParameterStatus{Name: name, Value: value})
	return w.c.werr
}

// Notice implements ResultWriter.
func (w *resultWriter) Notice(severity, code, message string) error {
	w.c.send(&pgproto3.NoticeResponse{Severity: severity, SeverityUnlocalized: severity, Code: code, Message: message})
	return w.c.werr
}

// Flush implements ResultWriter.
func (w *resultWriter) Flush() error { return w.c.flush() }
