package expr

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// arg is a typed constant given in Postgres text form ("NULL" for NULL).
type arg struct {
	t *types.T
	s string
}

func a(t *types.T, s string) arg { return arg{t, s} }

// evalBuiltin resolves name for the argument types and evaluates it over a
// chunk of three identical rows, returning the text of the first row (or
// "NULL") and checking that all rows agree.
func evalBuiltin(t *testing.T, r *Registry, name string, args ...arg) (string, error) {
	t.Helper()
	cfg := types.DefaultConfig()
	typs := make([]*types.T, len(args))
	exprs := make([]Expr, len(args))
	for i, x := range args {
		typs[i] = x.t
		var d types.Datum
		if x.s != "NULL" {
			var err error
			d, err = types.ParseText(x.t, x.s, cfg)
			if err != nil {
				t.Fatalf("%s: parse %q as %s: %v", name, x.s, x.t, err)
			}
		}
		exprs[i] = &Const{Typ: x.t, Val: d}
	}
	fn, params, ret, err := r.Resolve(name, typs)
	if err != nil {
		return "", err
	}
	for i, p := range params {
		if !p.Identical(typs[i]) {
			exprs[i] = &Cast{Arg: exprs[i], To: p}
		}
	}
	call := &Call{Fn: fn, Args: exprs, Typ: ret}
	ctx := &EvalCtx{Cfg: cfg, TxnTime: time.Date(2024, 2, 29, 13, 45, 30, 0, time.UTC),
		Settings: func(n string) (string, bool) { return map[string]string{"timezone": "UTC"}[n], n == "timezone" }}
	ctx.StmtTime = ctx.TxnTime
	ch := &coldata.Chunk{Len: 3}
	v, err := call.Eval(ctx, ch)
	if err != nil {
		return "", err
	}
	out := make([]string, 3)
	for i := range out {
		d := v.Get(i)
		if d == nil {
			out[i] = "NULL"
		} else {
			out[i] = string(types.AppendText(nil, ret, d, cfg))
		}
	}
	if out[0] != out[1] || out[1] != out[2] {
		t.Errorf("%s: rows disagree: %q", name, out)
	}
	return out[0], nil
}

type builtinCase struct {
	name string
	args []arg
	want string // expected text, or "ERROR <sqlstate>: <message>"
}

func runBuiltinCases(t *testing.T, cases []builtinCase) {
	r := NewRegistry()
	for _, c := range cases {
		got, err := evalBuiltin(t, r, c.name, c.args...)
		if err != nil {
			got = "ERROR " + sqlerr.Code(err) + ": " + err.Error()
		}
		if got != c.want {
			var sb strings.Builder
			for i, x := range c.args {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(x.s + "::" + x.t.String())
			}
			t.Errorf("%s(%s) = %q, want %q", c.name, sb.String(), got, c.want)
		}
	}
}

var (
	tx  = types.Text
	i4  = types.Int4
	i8  = types.Int8
	f8  = types.Float8
	num = types.Numeric
	tsT = types.Timestamp
	tzT = types.TimestampTZ
	dT  = types.Date
	tmT = types.Time
	ivT = types.Interval
	jb  = types.JSONB
	bt  = types.Bytea
)
