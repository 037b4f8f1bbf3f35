package operator

import (
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
)

// PodNameEnv and PodUIDEnv are the operator pod's name and UID, from the downward API: its leader identity.
const (
	PodNameEnv = "POD_NAME"
	PodUIDEnv  = "POD_UID"
)

// LeaderIdentity returns the identity the process holds the leader Lease under: the pod's name and UID when the
// Deployment passes them, else "" (controller-runtime's default then applies: the hostname and a random UUID).
//
// A random identity makes a container the kubelet restarts (OOM kill, panic, liveness kill) a stranger to the
// Lease its previous process held: it waits the whole lease out, like a follower. With the pod's identity it is
// the holder and renews at once. Two processes never share it: a pod runs one instance of a container at a time
// (the kubelet starts the next only once the last has exited), and a pod's UID is never reused, so a replacement
// pod (deletion, eviction, lost node) is a new identity that takes over when the lease is released or expires.
func LeaderIdentity(getenv func(string) string) string {
	name, uid := getenv(PodNameEnv), getenv(PodUIDEnv)
	if name == "" || uid == "" {
		return ""
	}
	return name + "_" + uid
}

// LeaderLock returns the Lease lock named LeaderElectionID in namespace, held under identity, as controller-runtime
// builds its own (a client whose requests time out within half the renew deadline, so one hung request does not
// cost the leadership; events on the Lease when leadership changes), but with an identity of our choosing.
func LeaderLock(cfg *rest.Config, namespace, identity string, renewDeadline time.Duration) (resourcelock.Interface, error) {
	if namespace == "" || identity == "" {
		return nil, errors.New("the leader lock needs a namespace and an identity")
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	cfg.Timeout = max(renewDeadline/2, time.Second)
	core, err := typedcorev1.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	coordination, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: core.Events(namespace)})
	return resourcelock.New(resourcelock.LeasesResourceLock, namespace, LeaderElectionID, core, coordination,
		resourcelock.ResourceLockConfig{
			Identity:      identity,
			EventRecorder: events.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: identity}),
		})
}
