package plan

import (
	"fmt"
	"hash/fnv"
	"math"
)

// Buckets is the number of hash buckets Application Optimized Routing
// spreads source+destination pairs over. A backend that can tell fewer
// pairs apart uses the first n: bucket b's WAN depends only on b and the
// members, so the first n of Buckets are the assignment of n buckets.
const Buckets = 256

// HashBuckets assigns each of the Buckets hash buckets to a member by
// weighted rendezvous hashing: a bucket goes to the member with the highest
// score -share/ln(h(bucket, member)). A member that leaves takes only its
// own buckets with it; every other bucket, and so every source+destination
// pair on another WAN, keeps its WAN.
func HashBuckets(members []Member) []string {
	out := make([]string, Buckets)
	for b := range out {
		best := math.Inf(-1)
		for _, m := range members {
			h := fnv.New64a()
			fmt.Fprintf(h, "%d/%s", b, m.WAN)
			// Uniform in (0,1), never 0 or 1.
			u := (float64(mix(h.Sum64())>>11) + 0.5) / (1 << 53)
			if s := -m.Share / math.Log(u); s > best {
				best, out[b] = s, m.WAN
			}
		}
	}
	return out
}

// mix is splitmix64's finalizer. FNV-1a alone leaves the top bits almost
// equal for names that differ in their last byte, which made every score
// pair correlated and let the heavier member win every bucket.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
