package access

import (
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
)

// AllowedTTL is how long the admission webhook reuses an allowed SubjectAccessReview for the same user and
// permission. The API server's webhook authorizer caches allowed decisions for 5 minutes by default; 10 seconds
// keeps a revoked right effective almost at once while a burst of ConfigMapSyncs from one user (a GitOps sync, a
// Helm install) asks the API server once per permission instead of once per object.
const AllowedTTL = 10 * time.Second

// DefaultMaxDecisions bounds a cache whose Max is not set.
const DefaultMaxDecisions = 4096

// Decisions remembers SubjectAccessReview decisions for a short while. The zero value is the admission webhook's
// cache: allowed decisions only, for AllowedTTL, so that a user who was just granted a right can use it at once.
// The controller's re-check sets Denials and a longer TTL (NewRechecker).
type Decisions struct {
	// TTL is how long a decision is reused; 0 means AllowedTTL.
	TTL time.Duration
	// Denials, when set, reuses denials too: a resync of thousands of ConfigMapSyncs whose requester lost a right
	// must not ask the API server thousands of times the same question.
	Denials bool
	// Max bounds the number of decisions kept; 0 means DefaultMaxDecisions. When full, expired decisions go, and
	// if none has expired, all of them.
	Max int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	m  map[decisionKey]decision
}

// decisionKey identifies a review by a digest of everything the API server decides it on: the user (name, UID,
// groups, extra) and the permission. A digest keeps an entry at a few dozen bytes whatever the user's groups.
type decisionKey [sha256.Size]byte

type decision struct {
	allowed bool
	at      time.Time
}

func keyOf(spec authorizationv1.SubjectAccessReviewSpec) decisionKey {
	raw, _ := json.Marshal(spec) // A struct of strings, slices and maps of strings always marshals; maps sorted.
	return sha256.Sum256(raw)
}

// lookup returns the decision remembered for the review, if one is still fresh.
func (d *Decisions) lookup(spec authorizationv1.SubjectAccessReviewSpec) (allowed, ok bool) {
	if d == nil {
		return false, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	got, ok := d.m[keyOf(spec)]
	if !ok || d.clock().Sub(got.at) >= d.ttl() {
		return false, false
	}
	return got.allowed, true
}

// remember records the API server's decision on the review, now; a denial only when Denials is set.
func (d *Decisions) remember(spec authorizationv1.SubjectAccessReviewSpec, allowed bool) {
	if d == nil || (!allowed && !d.Denials) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	if d.m == nil {
		d.m = map[decisionKey]decision{}
	}
	if limit := d.max(); len(d.m) >= limit {
		for k, v := range d.m {
			if now.Sub(v.at) >= d.ttl() {
				delete(d.m, k)
			}
		}
		if len(d.m) >= limit {
			clear(d.m)
		}
	}
	d.m[keyOf(spec)] = decision{allowed: allowed, at: now}
}

// Len returns how many decisions are kept, fresh or not.
func (d *Decisions) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

func (d *Decisions) ttl() time.Duration {
	if d.TTL > 0 {
		return d.TTL
	}
	return AllowedTTL
}

func (d *Decisions) max() int {
	if d.Max > 0 {
		return d.Max
	}
	return DefaultMaxDecisions
}

func (d *Decisions) clock() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
