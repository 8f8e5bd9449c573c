package engine

import (
	"context"
	"errors"

	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// registerAdvisoryLockFuncs adds pg_advisory_lock and friends, each in the
// bigint form and the (int, int) form, over the engine's lock table.
func registerAdvisoryLockFuncs(r *expr.Registry, t *advisoryLocks) {
	forms := []struct {
		args []*types.T
		key  func(a []types.Datum) advisoryKey
	}{
		{[]*types.T{types.Int8}, func(a []types.Datum) advisoryKey { return bigintKey(a[0].(int64)) }},
		{[]*types.T{types.Int4, types.Int4}, func(a []types.Datum) advisoryKey { return pairKey(a[0].(int64), a[1].(int64)) }},
	}
	add := func(name string, ret *types.T, f func(ctx *expr.EvalCtx, s *session, k advisoryKey) (types.Datum, error)) {
		for _, form := range forms {
			key := form.key
			r.Add(&expr.Overload{Name: name, Args: form.args, Ret: ret, Volatile: true,
				Row: func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
					s, err := sessionOf(ctx)
					if err != nil {
						return nil, err
					}
					return f(ctx, s, key(a))
				}})
		}
	}
	for _, m := range []advisoryMode{exclusiveLock, sharedLock} {
		suffix := map[advisoryMode]string{exclusiveLock: "", sharedLock: "_shared"}[m]
		for _, sc := range []advisoryScope{sessionScope, xactScope} {
			infix := map[advisoryScope]string{sessionScope: "", xactScope: "_xact"}[sc]
			add("pg_advisory"+infix+"_lock"+suffix, types.Void, func(ctx *expr.EvalCtx, s *session, k advisoryKey) (types.Datum, error) {
				if err := s.advisoryLock(ctx.Ctx, k, m, sc); err != nil {
					return nil, err
				}
				return "", nil
			})
			add("pg_try_advisory"+infix+"_lock"+suffix, types.Bool, func(ctx *expr.EvalCtx, s *session, k advisoryKey) (types.Datum, error) {
				ok, _ := t.tryLock(s, k, m, sc)
				if ok && sc == xactScope {
					s.xactLocks++
				}
				return ok, nil
			})
		}
		add("pg_advisory_unlock"+suffix, types.Bool, func(_ *expr.EvalCtx, s *session, k advisoryKey) (types.Datum, error) {
			if t.unlock(s, k, m) {
				return true, nil
			}
			s.warn(sqlerr.Warning, "you don't own a lock of type "+m.lockTypeName())
			return false, nil
		})
	}
	r.Add(&expr.Overload{Name: "pg_advisory_unlock_all", Ret: types.Void, Volatile: true,
		Row: func(ctx *expr.EvalCtx, _ []types.Datum) (types.Datum, error) {
			s, err := sessionOf(ctx)
			if err != nil {
				return nil, err
			}
			t.releaseAll(s, sessionScope)
			return "", nil
		}})
}

// advisoryLock takes an advisory lock for s, waiting for it at most
// lock_timeout (when set) and until the statement is cancelled.
func (s *session) advisoryLock(ctx context.Context, k advisoryKey, m advisoryMode, sc advisoryScope) error {
	if d, ok := parseTimeout(valueOr(s.get("lock_timeout"))); ok && d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errLockTimeoutCause)
		defer cancel()
	}
	if err := s.e.locks.lock(ctx, s, k, m, sc); err != nil {
		if errors.Is(context.Cause(ctx), errLockTimeoutCause) {
			return errLockTimeout()
		}
		return err
	}
	if sc == xactScope {
		s.xactLocks++
	}
	return nil
}

// releaseXactLocks ends the transaction-level advisory locks of s (at the
// end of its transaction, or of an autocommit statement).
func (s *session) releaseXactLocks() {
	if s.xactLocks > 0 {
		s.e.locks.releaseAll(s, xactScope)
		s.xactLocks = 0
	}
}
