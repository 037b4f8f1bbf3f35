package syncer

import (
	"fmt"
	"maps"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// KeyReport is what a key selection found that the user should hear of: selectors that matched no key of the
// source, and keys a glob would have copied over a name already taken.
type KeyReport struct {
	// Unmatched holds the indexes in spec.source.keys of selectors that matched no key.
	Unmatched []int
	// Collisions describe the keys left out because another selector had already taken their name.
	Collisions []string
}

// Empty reports whether the selection found nothing to report.
func (r KeyReport) Empty() bool { return len(r.Unmatched) == 0 && len(r.Collisions) == 0 }

// SelectKeys returns the content with only the keys selectors select, each under its new name; no selectors keep
// every key. Selectors apply in order and a key's name is taken by the first that produces it: the schema makes
// explicit names unique, so only a glob can meet a taken name, and its key is then left out and reported. The
// hash covers exactly the selected keys under their names, as the copies hold them. A Secret keeps its type unless
// the selection leaves out a key the type requires: then the copies are Opaque.
func SelectKeys(c Content, selectors []syncv1.KeySelector) (Content, KeyReport) {
	if len(selectors) == 0 {
		return c, KeyReport{}
	}
	out := Content{Kind: c.Kind, Type: c.Type, Immutable: c.Immutable, Data: map[string][]byte{}}
	var report KeyReport
	from := map[string]string{} // target name -> source key
	sourceKeys := slices.Sorted(maps.Keys(c.Data))
	for i, sel := range selectors {
		matched := false
		for _, key := range sourceKeys {
			if ok, _ := path.Match(sel.Key, key); !ok {
				continue
			}
			matched = true
			target := key
			if sel.As != "" {
				target = sel.As
			}
			if taken, ok := from[target]; ok {
				if taken != key {
					report.Collisions = append(report.Collisions, fmt.Sprintf(
						"spec.source.keys[%d] leaves out key %q: %q is already copied under that name", i, key, taken))
				}
				continue
			}
			from[target] = key
			out.Data[target] = c.Data[key]
			if c.BinaryKeys[key] {
				if out.BinaryKeys == nil {
					out.BinaryKeys = map[string]bool{}
				}
				out.BinaryKeys[target] = true
			}
			if text, ok := c.text[key]; ok {
				if out.text == nil {
					out.text = map[string]string{}
				}
				out.text[target] = text
			}
		}
		if !matched {
			report.Unmatched = append(report.Unmatched, i)
		}
	}
	if !hasKeys(out.Data, requiredKeys[out.Type]) {
		// A TLS Secret without tls.key is no valid TLS Secret, and the API server refuses it: the copy of a
		// CA's certificate alone is an Opaque Secret.
		out.Type = corev1.SecretTypeOpaque
	}
	out.hash = out.Hash()
	return out, report
}

// requiredKeys are the keys the API server requires of the built-in Secret types.
var requiredKeys = map[corev1.SecretType][]string{
	corev1.SecretTypeTLS:              {corev1.TLSCertKey, corev1.TLSPrivateKeyKey},
	corev1.SecretTypeDockerConfigJson: {corev1.DockerConfigJsonKey},
	corev1.SecretTypeDockercfg:        {corev1.DockerConfigKey},
	corev1.SecretTypeSSHAuth:          {corev1.SSHAuthPrivateKey},
}

func hasKeys(data map[string][]byte, keys []string) bool {
	for _, k := range keys {
		if _, ok := data[k]; !ok {
			return false
		}
	}
	return true
}
