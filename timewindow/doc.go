// Package timewindow owns event-time window assignment: the arithmetic
// behind the window table functions TUMBLE, HOP, CUMULATE and SESSION,
// which decides the windows [start, end) a timestamp falls in. Windows are
// aligned to the Unix epoch plus an offset by floor division, so times
// before 1970 align as later ones do, and a time equal to a window's end
// belongs to the next window.
//
// It works a column at a time (a timestamp vector in, row indexes and
// bounds out) and is shared by the batch executor and the dataflow. A Spec
// is immutable once validated and safe to use from several goroutines; an
// Assignment belongs to one.
package timewindow
