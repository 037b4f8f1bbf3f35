package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// APIServerClientUser is the user the API server authenticates as when it calls the kubelet (logs, exec,
// port-forward); it needs the system:kubelet-api-admin ClusterRole.
const APIServerClientUser = "kube-apiserver-kubelet-client"

// ClientCerts are the files of a client certificate the API server presents: a CA (for the kubelet, its
// Config.ClientCAFile), and a certificate and key signed by it (for the kubelet, the API server's
// --kubelet-client-certificate and --kubelet-client-key for APIServerClientUser).
type ClientCerts struct {
	CAFile, CertFile, KeyFile string
}

// NewClientCerts writes a new CA and a client certificate for user into dir, in files named after user.
func NewClientCerts(dir, user string) (ClientCerts, error) {
	out := ClientCerts{CAFile: filepath.Join(dir, user+"-ca.crt"),
		CertFile: filepath.Join(dir, user+".crt"), KeyFile: filepath.Join(dir, user+".key")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return out, err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: user + "-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return out, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return out, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return out, err
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: user},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return out, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return out, err
	}
	for file, block := range map[string]*pem.Block{
		out.CAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		out.CertFile: {Type: "CERTIFICATE", Bytes: der},
		out.KeyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			return out, err
		}
	}
	return out, nil
}
