// Package metawrite creates and updates ConfigMaps and Secrets and reads back only their metadata.
//
// The API server answers a create or an update with the whole object. For a copy of a 1 MiB CA bundle that is a
// MiB encoded by the API server, sent back and decoded by the operator for every namespace written, only for the
// operator to keep its resourceVersion and UID. Asked for a PartialObjectMetadata (the Accept header's
// "as=PartialObjectMetadata", which every write handler of the API server honours), the answer is a few hundred
// bytes. The request itself goes as protobuf, as client-go's typed clients send it.
package metawrite

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// acceptMetadata asks for the object's metadata only, protobuf first.
const acceptMetadata = runtime.ContentTypeProtobuf + ";as=PartialObjectMetadata;g=meta.k8s.io;v=v1," +
	runtime.ContentTypeJSON + ";as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// Writer creates and updates ConfigMaps and Secrets, keeping from the API server's answer only the metadata.
type Writer struct {
	rest rest.Interface
}

// New returns a Writer for the cluster cfg points at, over httpClient's connections (the manager's).
func New(base *rest.Config, httpClient *http.Client) (*Writer, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(base)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = acceptMetadata
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	c, err := rest.RESTClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the metadata-answer client: %w", err)
	}
	return &Writer{rest: c}, nil
}

// Create creates obj (a ConfigMap or a Secret) and sets its metadata to the API server's (uid, resourceVersion,
// creationTimestamp...). Its data is left as sent.
func (w *Writer) Create(ctx context.Context, obj client.Object) error {
	return w.do(ctx, w.rest.Post().Namespace(obj.GetNamespace()).Body(obj), obj)
}

// Update replaces obj (a ConfigMap or a Secret) under the optimistic lock of its resourceVersion and sets its
// metadata to the API server's. Its data is left as sent.
func (w *Writer) Update(ctx context.Context, obj client.Object) error {
	return w.do(ctx, w.rest.Put().Namespace(obj.GetNamespace()).Name(obj.GetName()).Body(obj), obj)
}

// Patch applies a strategic merge patch to obj (a ConfigMap or a Secret, or a syncer.View of one: only its kind,
// namespace and name are read) and sets its metadata to the API server's answer.
func (w *Writer) Patch(ctx context.Context, obj client.Object, patch []byte) error {
	req := w.rest.Patch(types.StrategicMergePatchType).Namespace(obj.GetNamespace()).Name(obj.GetName()).Body(patch)
	return w.do(ctx, req, obj)
}

func (w *Writer) do(ctx context.Context, req *rest.Request, obj client.Object) error {
	switch obj.GetObjectKind().GroupVersionKind().Kind {
	case "ConfigMap":
		req = req.Resource("configmaps")
	case "Secret":
		req = req.Resource("secrets")
	default:
		switch obj.(type) {
		case *corev1.ConfigMap:
			req = req.Resource("configmaps")
		case *corev1.Secret:
			req = req.Resource("secrets")
		default:
			return fmt.Errorf("metawrite: %T is neither a ConfigMap nor a Secret", obj)
		}
	}
	// client-go logs request bodies at verbosity 8, as text when they are (a strategic merge patch is JSON): with
	// the caller's logger, a Secret copy's values would reach the operator's log at -v=8.
	ctx = logr.NewContext(ctx, logr.Discard())
	answer := &metav1.PartialObjectMetadata{}
	if err := req.Do(ctx).Into(answer); err != nil {
		return err
	}
	setMetadata(obj, answer.ObjectMeta)
	return nil
}

// setMetadata sets obj's identity and version to the API server's answer: all of its metadata for a ConfigMap or a
// Secret; for a view, its UID and resourceVersion.
func setMetadata(obj client.Object, answer metav1.ObjectMeta) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		o.ObjectMeta = answer
	case *corev1.Secret:
		o.ObjectMeta = answer
	default:
		obj.SetUID(answer.UID)
		obj.SetResourceVersion(answer.ResourceVersion)
	}
}
