package assign

// item is a labelled column j in the search heap, or, when j < 0, the columns off row -j-1's
// candidate list, keyed by the least they can cost.
type item struct {
	d float64
	j int32
}

// minHeap is a binary min-heap of items by d. A column may be in it more than once; the
// search skips the stale copies.
type minHeap []item

func (h *minHeap) push(it item) {
	a := append(*h, it)
	k := len(a) - 1
	for k > 0 {
		p := (k - 1) / 2
		if a[p].d <= it.d {
			break
		}
		a[k] = a[p]
		k = p
	}
	a[k] = it
	*h = a
}

func (h *minHeap) pop() item {
	a := *h
	top := a[0]
	n := len(a) - 1
	last := a[n]
	a = a[:n]
	k := 0
	for {
		c := 2*k + 1
		if c >= n {
			break
		}
		if c+1 < n && a[c+1].d < a[c].d {
			c++
		}
		if last.d <= a[c].d {
			break
		}
		a[k] = a[c]
		k = c
	}
	if n > 0 {
		a[k] = last
	}
	*h = a
	return top
}
