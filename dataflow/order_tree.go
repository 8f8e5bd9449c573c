package dataflow

import (
	"slices"
)

// orderItem is one item of an orderTree: its key, its count (the number of
// ranks it takes) and what the tree's owner keeps with it.
type orderItem[V any] struct {
	key   string
	count int64
	val   V
}

// maxNodeItems bounds a B-tree node; nodes are split on the way down when
// full, so a node holds between maxNodeItems/2 and maxNodeItems items.
const maxNodeItems = 63

// orderTree is a B-tree of orderItems sorted by key in which every node
// knows the sum of the counts below it, so the item holding the row at a
// given rank is found in O(log n). Items whose count drops to zero stay in
// the tree (they take no rank) until the owner rebuilds it: that spares the
// B-tree deletion and lets a row that comes back reuse its item. Top-N
// operators rank their rows with it; arrangements keep their keys in order
// with it.
//
// freeze makes the tree persistent: the nodes it has then are never written
// again, and an add copies the nodes on its path that are frozen (once per
// freeze) instead. An arrangement freezes its tree as it publishes it, so
// that its readers walk the published root while the writer adds keys,
// without a lock. A tree never frozen is written in place.
type orderTree[V any] struct {
	root  *orderNode[V]
	items int // items in the tree, zero-count ones included
	zeros int // items whose count is zero
	// gen is the generation of the nodes the tree may write: nodes of an
	// earlier one are frozen.
	gen uint64
}

type orderNode[V any] struct {
	items    []orderEntry[V]
	children []*orderNode[V] // nil in a leaf; else len(items)+1
	size     int64           // sum of the counts of all items in the subtree
	gen      uint64          // the tree's gen when the node was made
}

// orderEntry keeps the first bytes of an item's key in the node, so that a
// search mostly compares within the node instead of chasing an item and its
// key per comparison.
type orderEntry[V any] struct {
	prefix keyPrefixes
	item   *orderItem[V]
}

// buildOrderTree returns a tree of items, which must be sorted by key with
// no key twice, in O(len(items)): arrangements rebuild their trees at each
// compaction, where adding the items one by one would take O(n log n). Its
// nodes are about half full, leaving room for adds.
func buildOrderTree[V any](items []*orderItem[V]) orderTree[V] {
	return buildOrderTreeOf(len(items), func(k int) orderEntry[V] { return orderEntry[V]{prefixesOf(items[k].key), items[k]} })
}

// buildOrderTreeOf is buildOrderTree of n items that at gives in key
// order, each with its key's prefixes: a bulk load hands them out of its
// sort's order and prefixes, instead of an array of n pointers made for
// the build alone (64 MiB of fresh memory at 8 M keys) and prefixes taken
// again.
func buildOrderTreeOf[V any](n int, at func(k int) orderEntry[V]) orderTree[V] {
	t := orderTree[V]{items: n}
	height, capacity := 0, halfNodeItems // the least height holding items
	for capacity < n {
		height, capacity = height+1, halfNodeItems+(halfNodeItems+1)*capacity
	}
	if n == 0 {
		return t
	}
	b := &orderBuilder[V]{at: at, entries: makeHuge[orderEntry[V]](n), nodesLeft: orderNodes(n, height, capacity)}
	if height == 0 || n < parallelTreeItems {
		t.root = b.build(0, n, height, capacity)
		t.zeros = b.zeros
		return t
	}
	// The root's children are built at once, each by a builder of its
	// own holding the entries and nodes the child takes (build hands
	// them out depth first): on one goroutine the build was an eighth of
	// a restart's time to serving at 8 M keys, with the other CPU idle.
	childCap, children, size := orderSplit(n, capacity)
	b.nodesLeft = 1 // the root: the children's builders make the rest
	root := b.node(children-1, false)
	subs := make([]*orderBuilder[V], children)
	froms := make([]int, children)
	for c, from := 0, 0; c < children; c++ {
		m := size(c)
		sub := &orderBuilder[V]{at: at, nodesLeft: orderNodes(m, height-1, childCap)}
		sub.entries, b.entries = b.entries[:m:m], b.entries[m:]
		subs[c], froms[c] = sub, from
		from += m + 1
	}
	forEach(children, func(c int) {
		root.children[c] = subs[c].build(froms[c], size(c), height-1, childCap)
	})
	for c, sub := range subs {
		root.size += root.children[c].size
		t.zeros += sub.zeros
		if c < children-1 {
			root.items[c] = b.entry(froms[c] + size(c))
			root.size += root.items[c].item.count
		}
	}
	t.root = root
	t.zeros += b.zeros
	return t
}

// parallelTreeItems is the least items whose tree buildOrderTreeOf builds
// on every CPU.
const parallelTreeItems = 1 << 16

const halfNodeItems = maxNodeItems / 2

// orderBuilder hands out buildOrderTree's nodes and their entries from a
// few blocks: every item is the entry of one node, so one block holds them
// all, and the nodes come a block at a time. Made one by one, with entries
// appended, they were most of building a restored view's tree (4M keys:
// 125K nodes, each entry slice grown five times). A node's entries are
// capped at their length, so an add to a node that is not frozen moves
// them out of the block instead of over its neighbour's.
type orderBuilder[V any] struct {
	// at is the k-th item in key order.
	at      func(k int) orderEntry[V]
	entries []orderEntry[V] // not handed out yet
	nodes   []orderNode[V]  // not handed out yet
	// nodesLeft is how many nodes the build still makes: a block is never
	// larger (a top-N or session tree of a few items takes one node, not
	// a block of them, for each of its many groups).
	nodesLeft int
	// zeros counts the items of count zero built so far.
	zeros int
}

// orderSplit is how build splits n items of a subtree of the given
// capacity (height above 0): as few children as hold them, of equal sizes
// (size(c) items in child c), each of capacity childCap, with one item
// between two children.
func orderSplit(n, capacity int) (childCap, children int, size func(c int) int) {
	childCap = (capacity - halfNodeItems) / (halfNodeItems + 1)
	children = (n + childCap + 1) / (childCap + 1) // ceil((n+1) / (childCap+1))
	below := n - (children - 1)                    // items in the children
	return childCap, children, func(c int) int {
		if c < below%children {
			return below/children + 1
		}
		return below / children
	}
}

// orderNodes returns how many nodes build makes of n items at the given
// height and capacity.
func orderNodes(n, height, capacity int) int {
	if height == 0 {
		return 1
	}
	childCap, children, size := orderSplit(n, capacity)
	total := 1
	for c := range children {
		total += orderNodes(size(c), height-1, childCap)
	}
	return total
}

// orderNodeBlock is how many nodes orderBuilder allocates at a time.
const orderNodeBlock = 256

// node returns a new node of k entries (to be set) and, unless a leaf, k+1
// children.
func (b *orderBuilder[V]) node(k int, leaf bool) *orderNode[V] {
	if len(b.nodes) == 0 {
		b.nodes = make([]orderNode[V], max(1, min(orderNodeBlock, b.nodesLeft)))
	}
	b.nodesLeft--
	n := &b.nodes[0]
	b.nodes = b.nodes[1:]
	n.items, b.entries = b.entries[:k:k], b.entries[k:]
	if !leaf {
		n.children = make([]*orderNode[V], k+1)
	}
	return n
}

// build builds a subtree of the given height holding the n items in key
// order from the from-th on, at most capacity of them: in a leaf all,
// else split as orderSplit says.
func (b *orderBuilder[V]) build(from, n, height, capacity int) *orderNode[V] {
	if height == 0 {
		node := b.node(n, true)
		for i := range n {
			node.items[i] = b.entry(from + i)
			node.size += node.items[i].item.count
		}
		return node
	}
	childCap, children, size := orderSplit(n, capacity)
	node := b.node(children-1, false)
	for c := range children {
		m := size(c)
		child := b.build(from, m, height-1, childCap)
		node.children[c] = child
		node.size += child.size
		from += m
		if c < children-1 {
			node.items[c] = b.entry(from)
			node.size += node.items[c].item.count
			from++
		}
	}
	return node
}

// entry returns the k-th item's entry, counting it among the zeros if
// its count is.
func (b *orderBuilder[V]) entry(k int) orderEntry[V] {
	e := b.at(k)
	if e.item.count == 0 {
		b.zeros++
	}
	return e
}

// keyPrefixes are a key's first 16 bytes (keyPrefix from 0 and from 8):
// an integer key's encoding is 9 bytes, of which the first 8 are alike for
// all keys below 2^56, so that 8 bytes left every comparison of a search to
// the keys themselves, each behind a pointer.
type keyPrefixes struct{ hi, lo uint64 }

func prefixesOf[K ~string | ~[]byte](key K) keyPrefixes {
	return keyPrefixes{keyPrefix(key, 0), keyPrefix(key, 8)}
}

// keyPrefix is the 8 bytes of key from from on, big-endian, zero-padded
// (0 past its end): prefixes of different keys compare like the keys or
// are equal.
func keyPrefix[K ~string | ~[]byte](key K, from int) uint64 {
	var p uint64
	for i := from; i < from+8; i++ {
		p <<= 8
		if i < len(key) {
			p |= uint64(key[i])
		}
	}
	return p
}

// freeze makes every node of the tree read-only: later adds copy the nodes
// they change.
func (t *orderTree[V]) freeze() { t.gen++ }

// own returns n if the tree may write it, else a writable copy of it.
func (t *orderTree[V]) own(n *orderNode[V]) *orderNode[V] {
	if n.gen == t.gen {
		return n
	}
	// Room for the one entry (and child) an add may insert, so that the
	// copy is not grown right after being made.
	c := &orderNode[V]{items: make([]orderEntry[V], len(n.items), len(n.items)+1), size: n.size, gen: t.gen}
	copy(c.items, n.items)
	if n.children != nil {
		c.children = make([]*orderNode[V], len(n.children), len(n.children)+1)
		copy(c.children, n.children)
	}
	return c
}

// add adds delta to the count of the item with key and returns it, inserting
// a new item (with a zero val, for the caller to fill) if there is none.
func (t *orderTree[V]) add(key []byte, delta int64) *orderItem[V] {
	return t.addItem(key, delta, nil)
}

// addItem is add, except that a new item is made, the item made for key
// with count delta, instead of allocated here: Arrangement makes its items
// before taking its write lock, so that no allocation (which may have to
// help the garbage collector for milliseconds) holds up its readers.
func (t *orderTree[V]) addItem(key []byte, delta int64, made *orderItem[V]) *orderItem[V] {
	if t.root == nil {
		t.root = &orderNode[V]{gen: t.gen}
	}
	t.root = t.own(t.root)
	if len(t.root.items) == maxNodeItems {
		old := t.root
		t.root = &orderNode[V]{children: []*orderNode[V]{old}, size: old.size, gen: t.gen}
		t.root.splitChild(0)
	}
	prefix := prefixesOf(key)
	n := t.root
	for {
		n.size += delta
		i, found := n.search(prefix, key)
		if found {
			return t.addTo(n.items[i].item, delta)
		}
		if n.children == nil {
			it := made
			if it == nil {
				it = &orderItem[V]{key: string(key), count: delta}
			}
			n.items = slices.Insert(n.items, i, orderEntry[V]{prefix, it})
			t.items++
			return it
		}
		n.children[i] = t.own(n.children[i])
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

func (t *orderTree[V]) addTo(it *orderItem[V], delta int64) *orderItem[V] {
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
func (n *orderNode[V]) search(prefix keyPrefixes, key []byte) (int, bool) {
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
func (e orderEntry[V]) compare(prefix keyPrefixes, key []byte) int {
	switch {
	case e.prefix.hi < prefix.hi:
		return -1
	case e.prefix.hi > prefix.hi:
		return 1
	case e.prefix.lo < prefix.lo:
		return -1
	case e.prefix.lo > prefix.lo:
		return 1
	case e.item.key < string(key): // string(key) here does not copy
		return -1
	case e.item.key > string(key):
		return 1
	}
	return 0
}

// splitChild splits the full child i of n in two around its middle item,
// which moves up into n; n and the child must be writable.
func (n *orderNode[V]) splitChild(i int) {
	child := n.children[i]
	mid := len(child.items) / 2
	up := child.items[mid]
	right := &orderNode[V]{items: slices.Clone(child.items[mid+1:]), gen: n.gen}
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

func (n *orderNode[V]) sum() int64 {
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
func (t *orderTree[V]) total() int64 {
	if t.root == nil {
		return 0
	}
	return t.root.size
}

// orderIter walks items in key order. Each frame is a node and the index of
// its next item to return; the child before that item is already done.
type orderIter[V any] struct {
	stack []orderFrame[V]
}

type orderFrame[V any] struct {
	n *orderNode[V]
	i int
}

// seek returns an iterator whose first item holds the row at rank r (0-based,
// counting multiplicities) and how many copies of that item come before r.
// The iterator is empty when r is past the end.
func (t *orderTree[V]) seek(r int64) (orderIter[V], int64) {
	var it orderIter[V]
	n := t.root
descend:
	for n != nil {
		for i, e := range n.items {
			if n.children != nil {
				s := n.children[i].size
				if r < s {
					it.stack = append(it.stack, orderFrame[V]{n, i})
					n = n.children[i]
					continue descend
				}
				r -= s
			}
			if r < e.item.count {
				it.stack = append(it.stack, orderFrame[V]{n, i})
				return it, r
			}
			r -= e.item.count
		}
		if n.children == nil {
			break
		}
		last := len(n.items)
		it.stack = append(it.stack, orderFrame[V]{n, last})
		n = n.children[last]
	}
	return it, 0
}

// find returns the item with key, or nil.
func (t *orderTree[V]) find(key []byte) *orderItem[V] {
	prefix := prefixesOf(key)
	for n := t.root; n != nil; {
		i, found := n.search(prefix, key)
		if found {
			return n.items[i].item
		}
		if n.children == nil {
			return nil
		}
		n = n.children[i]
	}
	return nil
}

// seekKey returns an iterator whose first item is the first whose key is not
// below key.
func (t *orderTree[V]) seekKey(key []byte) orderIter[V] {
	var it orderIter[V]
	prefix := prefixesOf(key)
	for n := t.root; n != nil; {
		i, found := n.search(prefix, key)
		it.stack = append(it.stack, orderFrame[V]{n, i})
		if found || n.children == nil {
			break
		}
		n = n.children[i]
	}
	return it
}

// next returns the next item (zero-count ones included) or nil at the end.
func (it *orderIter[V]) next() *orderItem[V] {
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
func (it *orderIter[V]) pushLeftmost(n *orderNode[V]) {
	for {
		it.stack = append(it.stack, orderFrame[V]{n, 0})
		if n.children == nil {
			return
		}
		n = n.children[0]
	}
}
