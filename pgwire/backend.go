package pgwire

import (
	"context"
	"io"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Backend is what the server needs of the SQL engine. The engine implements it;
// pgwire never imports the planner or the engine.
type Backend interface {
	// Open starts a session for an authenticated connection. params are the
	// startup parameters the client sent (user, database, application_name, options…).
	Open(ctx context.Context, params map[string]string) (Session, error)
}

// Session is one client connection's SQL state. A session is used by one
// goroutine at a time (the connection's), so implementations need no locking
// for their own state.
type Session interface {
	// Parameters returns the ParameterStatus values to report after startup.
	Parameters() map[string]string
	// Parse splits a simple-query string into statements, parsing each. An
	// empty or comment-only string yields no statements.
	Parse(ctx context.Context, sql string) ([]Statement, error)
	// Prepare parses one statement for the extended protocol; paramTypes are the
	// OIDs the client declared (0 = infer). An empty string yields an empty
	// statement (Statement.Empty reports true).
	Prepare(ctx context.Context, sql string, paramTypes []uint32) (Statement, error)
	// TxStatus is the ReadyForQuery status: 'I' idle, 'T' in a transaction
	// block, 'E' in a failed transaction block.
	TxStatus() byte
	// FormatConfig returns the settings (TimeZone, extra_float_digits…) used to
	// print result values in text format. pgwire reads it for each result chunk
	// and does not modify it.
	FormatConfig() *types.Config
	// Abort is called when an extended-protocol message fails before Sync so a
	// transaction block becomes failed, as Postgres does.
	Abort(err error)
	// CursorColumns describes the rows of the SQL cursor (DECLARE) name:
	// Describe of a portal finds SQL cursors too, as in Postgres (psycopg 3
	// describes its named cursors so). ok is false when there is none.
	CursorColumns(name string) (cols []Column, ok bool)
	// Close releases the session (rolls back an open transaction).
	Close()
}

// Notifier is implemented by a Session that receives LISTEN/NOTIFY
// notifications: pgwire sends them as NotificationResponse messages while
// the connection is idle (ReadyForQuery sent, no message being handled),
// and otherwise before the next ReadyForQuery, as Postgres does.
type Notifier interface {
	// SetNotificationWake gives the function the session calls when
	// notifications come to wait (from any goroutine; it does not block).
	// pgwire calls it once, before the session runs a statement.
	SetNotificationWake(wake func())
	// TakeNotifications returns the waiting notifications and forgets
	// them.
	TakeNotifications() []Notification
}

// Notification is one NotificationResponse: a NOTIFY on Channel by the
// session with backend PID.
type Notification struct {
	PID     uint32
	Channel string
	Payload string
}

// Statement is a parsed (and, for the extended protocol, prepared) statement.
type Statement interface {
	// Empty reports an empty query (EmptyQueryResponse instead of a tag).
	Empty() bool
	// ParamTypes are the OIDs of $1..$n, inferred where the client gave 0.
	ParamTypes() []uint32
	// Columns describes the result rows; nil when the statement returns none.
	Columns() []Column
	// Bind supplies parameter values (nil entry = NULL) in the given formats
	// (0 text, 1 binary; one entry applies to all; none means text).
	Bind(ctx context.Context, params [][]byte, formats []int16) (Portal, error)
}

// Portal is a bound statement ready to run or resume.
type Portal interface {
	// Columns describes the result rows; nil when the portal returns none.
	Columns() []Column
	// Execute runs the portal, or resumes it after a suspension, writing at
	// most maxRows rows (0 = no limit) to w. It returns the command tag when the
	// statement completed, or suspended = true when maxRows were written and
	// more remain.
	Execute(ctx context.Context, maxRows int, w ResultWriter) (tag string, suspended bool, err error)
	// Close releases the portal's resources.
	Close()
}

// Column describes one result column (a RowDescription field).
type Column struct {
	Name     string
	TableOID uint32
	AttrNum  int16
	TypeOID  uint32
	TypeSize int16
	TypeMod  int32
}

// CopyFormat is the format of a COPY data stream.
type CopyFormat int

const (
	CopyText CopyFormat = iota
	CopyCSV
	CopyBinary
)

// ResultWriter receives what a statement sends back beyond its command tag.
type ResultWriter interface {
	// WriteChunk sends the chunk's rows as DataRow messages, encoding column i
	// with the result format the client asked for.
	WriteChunk(ch *coldata.Chunk) error
	// CopyIn starts COPY FROM STDIN (CopyInResponse) and returns the data the
	// client sends; the reader returns io.EOF at CopyDone and an error at CopyFail.
	CopyIn(format CopyFormat, columns int) (io.Reader, error)
	// CopyOut starts COPY TO STDOUT (CopyOutResponse); each Write is one CopyData.
	CopyOut(format CopyFormat, columns int) (io.Writer, error)
	// ParameterStatus reports a changed session parameter (after SET).
	ParameterStatus(name, value string) error
	// Notice sends a NoticeResponse (severity NOTICE or WARNING).
	Notice(severity, code, message string) error
	// Flush sends what is buffered to the client now rather than at the end
	// of the statement (a statement that streams, like SUBSCRIBE, flushes
	// after each batch it wants the client to see).
	Flush() error
}
