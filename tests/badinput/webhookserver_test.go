package badinput

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// Paths the operator's webhook server serves (config/webhook/manifests.yaml and the conversion webhook).
const (
	convertPath  = "/convert"
	validatePath = "/validate-sync-configmapsync-io-v1-configmapsync"
	mutatePath   = "/mutate-sync-configmapsync-io-v1-configmapsync"
)

// post sends body to the operator's webhook server as the API server would (HTTPS, trusting the serving CA) and
// returns the HTTP status and response body.
func post(t *testing.T, path string, body []byte) (int, []byte) {
	t.Helper()
	wh := env.WebhookInstallOptions
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(wh.LocalServingCAData))
	httpClient := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	url := "https://" + net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort)) + path
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	require.NoError(t, err, "the webhook server must answer")
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// errHTTP is the answer of a webhook server that refused a request at the HTTP level.
var errHTTP = errors.New("HTTP error")

// sendConversion posts a ConversionReview body and returns nil only when the webhook converted it successfully;
// otherwise an error saying how it refused: "HTTP 400" or the ConversionReview's Failure message.
func sendConversion(body string) func(*testing.T, *scene) error {
	return func(t *testing.T, _ *scene) error {
		code, out := post(t, convertPath, []byte(body))
		if code != http.StatusOK {
			return fmt.Errorf("%w: HTTP %d", errHTTP, code)
		}
		review := &apiextensionsv1.ConversionReview{}
		require.NoError(t, json.Unmarshal(out, review), "a 200 answer must be a ConversionReview")
		require.NotNil(t, review.Response, "a 200 answer must carry a response")
		if review.Response.Result.Status != "Success" {
			return fmt.Errorf("conversion %s: %s", review.Response.Result.Status, review.Response.Result.Message)
		}
		return nil
	}
}

// sendAdmission posts an AdmissionReview body to path and returns nil only when the webhook allowed it;
// otherwise an error saying how it refused: "HTTP <code>" or "denied <code>: <message>".
func sendAdmission(path, body string) func(*testing.T, *scene) error {
	return func(t *testing.T, _ *scene) error {
		code, out := post(t, path, []byte(body))
		if code != http.StatusOK {
			return fmt.Errorf("%w: HTTP %d", errHTTP, code)
		}
		review := &admissionv1.AdmissionReview{}
		require.NoError(t, json.Unmarshal(out, review), "a 200 answer must be an AdmissionReview")
		require.NotNil(t, review.Response, "a 200 answer must carry a response")
		if review.Response.Allowed {
			return nil
		}
		var code32 int32
		msg := ""
		if r := review.Response.Result; r != nil {
			code32, msg = r.Code, r.Message
		}
		return fmt.Errorf("denied %d: %s", code32, msg)
	}
}

// conversionReview returns a ConversionReview body asking to convert objects to desired.
func conversionReview(desired string, objects ...string) string {
	return fmt.Sprintf(`{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"u-1","desiredAPIVersion":%q,"objects":[%s]}}`,
		desired, join(objects))
}

// admissionReview returns an AdmissionReview body for a create of object (raw JSON).
func admissionReview(object string) string {
	return fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",`+
		`"kind":{"group":"sync.configmapsync.io","version":"v1","kind":"ConfigMapSync"},`+
		`"resource":{"group":"sync.configmapsync.io","version":"v1","resource":"configmapsyncs"},`+
		`"operation":"CREATE","userInfo":{"username":"mallory"},"namespace":"team-a","name":"x","object":%s}}`, object)
}

func join(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p)
	}
	return b.String()
}

// validV1beta1Object is a v1beta1 ConfigMapSync the conversion webhook converts without complaint.
const validV1beta1Object = `{"apiVersion":"sync.configmapsync.io/v1beta1","kind":"ConfigMapSync","metadata":{"name":"x","namespace":"team-a"},` +
	`"spec":{"sourceNamespace":"team-a","destinationNamespace":"team-b","configMapName":"settings"}}`

// webhookServerStillServes checks, after a malformed request, that the webhook server still converts a valid
// request: the bad one crashed nothing.
func webhookServerStillServes(t *testing.T, _ *scene) {
	t.Helper()
	require.NoError(t, sendConversion(conversionReview("sync.configmapsync.io/v1", validV1beta1Object))(t, nil))
}
