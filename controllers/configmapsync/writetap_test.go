package configmapsync

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// writeTap returns the fake client's interceptors that call tap before every write of an object: create, update,
// patch, delete, deleteAllOf, and the subresources' "<subresource>-patch" and "<subresource>-update". An error from
// tap is the write's answer and the write does not reach the client. Every write verb is tapped, so a test that
// says "writes nothing" fails on a write of any kind. (The integration harness taps the real client the same way,
// in the tests module, which this module's tests cannot import.)
func writeTap(tap func(verb string, obj client.Object) error) interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return unlessTapped(tap("create", obj), func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return unlessTapped(tap("update", obj), func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			return unlessTapped(tap("patch", obj), func() error { return c.Patch(ctx, obj, p, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return unlessTapped(tap("delete", obj), func() error { return c.Delete(ctx, obj, opts...) })
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			return unlessTapped(tap("deleteAllOf", obj), func() error { return c.DeleteAllOf(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			return unlessTapped(tap(sub+"-patch", obj), func() error { return c.SubResource(sub).Patch(ctx, obj, p, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return unlessTapped(tap(sub+"-update", obj), func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
	}
}

// unlessTapped returns the tap's error, or else does the write.
func unlessTapped(tapped error, write func() error) error {
	if tapped != nil {
		return tapped
	}
	return write()
}
