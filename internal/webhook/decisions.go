package webhook

import (
	"encoding/json"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
)

// allowedTTL is how long an allowed SubjectAccessReview is reused for the same user and permission. The API
// server's webhook authorizer caches allowed decisions for 5 minutes by default; 10 seconds keeps a revoked
// right effective almost at once while a burst of ConfigMapSyncs from one user (a GitOps sync, a Helm install)
// asks the API server once per permission instead of once per object.
const allowedTTL = 10 * time.Second

// maxDecisions bounds the cache; when full, expired entries go, and if none has expired, all of them.
const maxDecisions = 4096

// Decisions remembers allowed SubjectAccessReviews for allowedTTL. Denials are never cached: a user who was just
// granted a right can use it at once. The zero value is ready to use.
type Decisions struct {
	mu      sync.Mutex
	allowed map[string]time.Time
	now     func() time.Time
}

// decisionKey identifies a review by everything the API server decides it on: the user (name, UID, groups,
// extra) and the permission.
func decisionKey(spec authorizationv1.SubjectAccessReviewSpec) string {
	raw, _ := json.Marshal(spec) // A struct of strings, slices and maps of strings always marshals; maps sorted.
	return string(raw)
}

// allowedNow reports whether the review was allowed less than allowedTTL ago.
func (d *Decisions) allowedNow(spec authorizationv1.SubjectAccessReviewSpec) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.allowed[decisionKey(spec)]
	return ok && d.clock().Sub(at) < allowedTTL
}

// rememberAllowed records that the review was allowed now.
func (d *Decisions) rememberAllowed(spec authorizationv1.SubjectAccessReviewSpec) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	if d.allowed == nil {
		d.allowed = map[string]time.Time{}
	}
	if len(d.allowed) >= maxDecisions {
		for k, at := range d.allowed {
			if now.Sub(at) >= allowedTTL {
				delete(d.allowed, k)
			}
		}
		if len(d.allowed) >= maxDecisions {
			clear(d.allowed)
		}
	}
	d.allowed[decisionKey(spec)] = now
}

func (d *Decisions) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}
