package plan

import (
	"slices"
	"testing"
)

func mem(name string, share float64) Member { return Member{WAN: name, Share: share} }

// TestHashBucketsConsistent: a WAN that leaves takes only its own buckets;
// shares follow the weights.
func TestHashBucketsConsistent(t *testing.T) {
	three := []Member{mem("a", 1.0/3), mem("b", 1.0/3), mem("c", 1.0/3)}
	two := []Member{mem("a", 0.5), mem("c", 0.5)}
	before, after := HashBuckets(three), HashBuckets(two)
	counts := map[string]int{}
	for i := range before {
		counts[before[i]]++
		if before[i] != "b" && after[i] != before[i] {
			t.Errorf("bucket %d moved from %s to %s although %s stayed", i, before[i], after[i], before[i])
		}
	}
	for _, m := range three {
		if counts[m.WAN] < Buckets/6 {
			t.Errorf("%s got %d of %d buckets", m.WAN, counts[m.WAN], Buckets)
		}
	}
	// The iptables backend reads 64 buckets: its share must follow too.
	for _, n := range []int{64, Buckets} {
		weighted := HashBuckets([]Member{mem("a", 0.75), mem("b", 0.25)})[:n]
		if a := len(weighted) - len(slices.DeleteFunc(slices.Clone(weighted), func(s string) bool { return s == "a" })); a < n/2 || a == n {
			t.Errorf("weight 3:1 gave a %d of %d buckets", a, n)
		}
	}
}

// TestComputeAssignsBuckets: with Application Optimized Routing the plan,
// not the renderer, says which WAN each bucket goes to.
func TestComputeAssignsBuckets(t *testing.T) {
	c := cfg("w1", "w2", "w3")
	c.Globals.AppOptimized = true
	p := Compute(Input{Config: c, States: st("w1", "w2", "w3"), Now: monday})
	if !slices.Equal(p.Default.Buckets, HashBuckets(p.Default.Members)) {
		t.Fatalf("default buckets %v", p.Default.Buckets)
	}
	down := Compute(Input{Config: c, States: st("w1", "w3"), Prev: p, Now: monday})
	for b, w := range p.Default.Buckets {
		if w != "w2" && down.Default.Buckets[b] != w {
			t.Errorf("bucket %d moved from %s to %s when w2 went down", b, w, down.Default.Buckets[b])
		}
	}
	one := Compute(Input{Config: c, States: st("w1"), Prev: p, Now: monday})
	if one.Default.Buckets != nil {
		t.Error("a single member needs no buckets")
	}
	c.Globals.AppOptimized = false
	if Compute(Input{Config: c, States: st("w1", "w2", "w3"), Now: monday}).Default.Buckets != nil {
		t.Error("buckets without Application Optimized Routing")
	}
}
