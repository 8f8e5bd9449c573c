package expr

import (
	"fmt"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Identities hands out the values of identity columns (GENERATED … AS
// IDENTITY, serial). Values are never handed out twice, whether or not the
// transaction that took them commits, as with a Postgres sequence.
type Identities interface {
	// Next reserves n values of the identity column col of table and
	// returns the first; the others follow it.
	Next(table uint32, col int, n int) (int64, error)
}

// NextIdentity is the default of an identity column: a new value per row.
type NextIdentity struct {
	Table uint32
	Col   int
	Name  string // the column's, for messages
	Typ   *types.T
}

func (e *NextIdentity) Type() *types.T { return e.Typ }

func (e *NextIdentity) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	if ctx.Identities == nil {
		return nil, sqlerr.Bug("identity column %q evaluated without an identity source", e.Name)
	}
	first, err := ctx.Identities.Next(e.Table, e.Col, ch.Len)
	if err != nil {
		return nil, err
	}
	if last := first + int64(ch.Len) - 1; ch.Len > 0 && last > identityMax(e.Typ) {
		return nil, sqlerr.New(sqlerr.SequenceGeneratorLimitExceeded, "nextval: reached maximum value of sequence for column \"%s\" (%d)", e.Name, identityMax(e.Typ))
	}
	v := coldata.NewVec(e.Typ, ch.Len)
	for i := range ch.Len {
		v.AppendInt(first + int64(i))
	}
	return v, nil
}

func (e *NextIdentity) String() string { return fmt.Sprintf("nextval(identity of %s)", e.Name) }

// identityMax is the largest value of an identity column of type t.
func identityMax(t *types.T) int64 {
	switch t.Oid {
	case types.OidInt2:
		return 1<<15 - 1
	case types.OidInt4:
		return 1<<31 - 1
	}
	return 1<<63 - 1
}
