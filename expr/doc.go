// Package expr owns typed scalar expressions and the function library. A bound
// expression (Expr) evaluates a whole chunk at a time and returns one vector;
// functions either provide a vector kernel over typed slices or, for the long
// tail, a row function that the generic kernel calls per row; an operator may
// add a kernel for a constant and an integer column widened to its parameter
// type (numeric *: 0.908 * price), which takes the integers as they are. Expressions are
// immutable after binding and safe to evaluate from several goroutines, each with
// its own EvalCtx. The function registry is built once at start-up and only read.
package expr
