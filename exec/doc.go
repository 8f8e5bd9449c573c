// Package exec owns the batch executor: physical plan nodes (built by the
// planner) and the operators that run them over columnar chunks — scans,
// filters, projections, hash aggregation, hash and nested-loop joins, sorts,
// windows, window table functions (TUMBLE, HOP, CUMULATE, SESSION), set
// operations and DML. Operators pull chunks from their inputs
// (Next returns nil at the end). A running plan belongs to one goroutine; plans
// themselves are immutable and may be run many times (subqueries, CTEs).
// Table access goes through the TableAccess seam, so exec never imports storage.
package exec
