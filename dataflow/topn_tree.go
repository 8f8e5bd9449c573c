package dataflow

import (
	"slices"

	"github.com/sluice-db/sluice/types"
)

// orderItem is one distinct row of a top-N input: key is its order key (see
// topNOp.orderKey), count its multiplicity.
type orderItem struct {
	key   string
	row   []types.Datum
	count int64
	// touched marks the item as listed in topNOp.touched this epoch.
	touched bool
}

// maxNodeItems bounds a B-tree node; nodes are split on the way down when
// full, so a node holds between maxNodeItems/2 and maxNodeItems items.
const maxNodeItems = 63

// orderTree is a B-tree of orderItems sorted by key in which every node
// knows the sum of the counts below it, so the item holding the row at a
// given rank is found in O(log n). Items whose count drops to zero stay in
// the tree (they take no rank) until the owner rebuilds it: that spares the
// B-tree deletion and lets a row that comes back reuse its item.
type orderTree struct {
	root  *orderNode
	items int // items in the tree, zero-count ones included
	zeros int // items whose count is zero
}

type orderNode struct {
	items    []orderEntry
	children []*orderNode // nil in a leaf; else len(items)+1
	size     int64        // sum of the counts of all items in the subtree
}

// orderEntry keeps the first bytes of an item's key in the node, so that a
// search mostly compares within the node instead of chasing an item and its
// key per comparison.
type orderEntry struct {
	prefix uint64
	item   *orderItem
}

// keyPrefix is the first 8 bytes of key, big-endian, zero-padded: prefixes
// of different keys compare like the keys or are equal.
func keyPrefix(key []byte) uint64 {
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(key) {
			p |= uint64(key[i])
		}
	}
	return p
}

// add adds delta to the count of the item with key and returns it, inserting
// a new item (with a nil row, for the caller to fill) if there is none.
func (t *orderTree) add(key []byte, delta int64) *orderItem {
	if t.root == nil {
		t.root = &orderNode{}
	}
	if len(t.root.items) == maxNodeItems {
		old := t.root
		t.root = &orderNode{children: []*orderNode{old}, size: old.size}
		t.root.splitChild(0)
	}
	prefix := keyPrefix(key)
	n := t.root
	for {
		n.size += delta
		i, found := n.search(prefix, key)
		if found {
			return t.addTo(n.items[i].item, delta)
		}
		if n.children == nil {
			it := &orderItem{key: string(key), count: delta}
			n.items = slices.Insert(n.items, i, orderEntry{prefix, it})
			t.items++
			return it
		}
		if len(n.children[i].items) == maxNodeItems {
			n.splitChild(i)
			switch c := n.items[i].compare(prefix, key); {
			case c == 0:
				return t.addTo(n.items[i].item, delta)
			case c < 0:
				i++
			}
		}
		n = n.children[i]
	}
}

func (t *orderTree) addTo(it *orderItem, delta int64) *orderItem {
	if it.count == 0 {
		t.zeros--
	}
	it.count += delta
	if it.count == 0 {
		t.zeros++
	}
	return it
}

// search returns the index of the first item of n not below key and whether
// it equals key.
func (n *orderNode) search(prefix uint64, key []byte) (int, bool) {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := n.items[m].compare(prefix, key); {
		case c == 0:
			return m, true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return lo, false
}

// compare compares e's key with key (whose prefix is prefix).
func (e orderEntry) compare(prefix uint64, key []byte) int {
	switch {
	case e.prefix < prefix:
		return -1
	case e.prefix > prefix:
		return 1
	case e.item.key < string(key): // string(key) here does not copy
		return -1
	case e.item.key > string(key):
		return 1
	}
	return 0
}

// splitChild splits the full child i of n in two around its middle item,
// which moves up into n.
func (n *orderNode) splitChild(i int) {
	child := n.children[i]
	mid := len(child.items) / 2
	up := child.items[mid]
	right := &orderNode{items: slices.Clone(child.items[mid+1:])}
	clear(child.items[mid:])
	child.items = child.items[:mid]
	if child.children != nil {
		right.children = slices.Clone(child.children[mid+1:])
		clear(child.children[mid+1:])
		child.children = child.children[:mid+1]
	}
	right.size = right.sum()
	child.size -= right.size + up.item.count
	n.items = slices.Insert(n.items, i, up)
	n.children = slices.Insert(n.children, i+1, right)
}

func (n *orderNode) sum() int64 {
	var s int64
	for _, e := range n.items {
		s += e.item.count
	}
	for _, c := range n.children {
		s += c.size
	}
	return s
}

// total is the sum of all counts.
func (t *orderTree) total() int64 {
	if t.root == nil {
		return 0
	}
	return t.root.size
}

// orderIter walks items in key order. Each frame is a node and the index of
// its next item to return; the child before that item is already done.
type orderIter struct {
	stack []orderFrame
}

type orderFrame struct {
	n *orderNode
	i int
}

// seek returns an iterator whose first item holds the row at rank r (0-based,
// counting multiplicities) and how many copies of that item come before r.
// The iterator is empty when r is past the end.
func (t *orderTree) seek(r int64) (orderIter, int64) {
	var it orderIter
	n := t.root
descend:
	for n != nil {
		for i, e := range n.items {
			if n.children != nil {
				s := n.children[i].size
				if r < s {
					it.stack = append(it.stack, orderFrame{n, i})
					n = n.children[i]
					continue descend
				}
				r -= s
			}
			if r < e.item.count {
				it.stack = append(it.stack, orderFrame{n, i})
				return it, r
			}
			r -= e.item.count
		}
		if n.children == nil {
			break
		}
		last := len(n.items)
		it.stack = append(it.stack, orderFrame{n, last})
		n = n.children[last]
	}
	return it, 0
}

// next returns the next item (zero-count ones included) or nil at the end.
func (it *orderIter) next() *orderItem {
	for len(it.stack) > 0 {
		top := &it.stack[len(it.stack)-1]
		if top.i == len(top.n.items) {
			it.stack = it.stack[:len(it.stack)-1]
			continue
		}
		item := top.n.items[top.i].item
		top.i++
		if top.n.children != nil {
			it.pushLeftmost(top.n.children[top.i])
		}
		return item
	}
	return nil
}

// pushLeftmost stacks the path from n down to its first item.
func (it *orderIter) pushLeftmost(n *orderNode) {
	for {
		it.stack = append(it.stack, orderFrame{n, 0})
		if n.children == nil {
			return
		}
		n = n.children[0]
	}
}
