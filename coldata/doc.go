// Package coldata owns the columnar chunk, the unit that flows between batch
// operators (and later dataflow operators): one typed vector per column, a
// length, and optionally a diff column (+1 insert, -1 delete) for change chunks.
// Vectors keep values in plain Go slices of their physical type so kernels loop
// over []int64 or []float64 without boxing. A Vec is owned by one goroutine at a
// time; operators hand chunks downstream and do not touch them afterwards.
package coldata
