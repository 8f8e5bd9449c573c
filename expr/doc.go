// Package expr owns typed scalar expressions and the function library. A bound
// expression (Expr) evaluates a whole chunk at a time and returns one vector;
// functions either provide a vector kernel over typed slices or, for the long
// tail, a row function that the generic kernel calls per row. Expressions are
// immutable after binding and safe to evaluate from several goroutines, each with
// its own EvalCtx. The function registry is built once at start-up and only read.
package expr
