// Package charttest renders the Helm chart with the helm CLI and decodes
// every object strictly (an unknown field fails) into its k8s.io/api type.
// It is a module of its own so that k8s.io/api stays out of keyward's.
//
//	HELM=/path/to/helm go test ./...    (in deploy/helm/charttest)
package charttest

import (
	"bytes"
	"encoding/json"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		t.Skip("no helm: set HELM to a helm binary")
	}
	return h
}

var chartDir = filepath.Join("..", "keyward")

// render runs helm template with --set values and returns stdout, or the
// error and stderr.
func render(t *testing.T, set ...string) (string, error) {
	t.Helper()
	args := []string{"template", "kw", chartDir, "--namespace", "keys"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(helmBin(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return errb.String(), err
	}
	return out.String(), nil
}

// objects are the rendered objects, decoded strictly.
type objects struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	secret     *corev1.Secret
	pvc        *corev1.PersistentVolumeClaim
	pdb        *policyv1.PodDisruptionBudget
}

func strict(doc []byte, into any) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func decodeAll(t *testing.T, manifest string) objects {
	t.Helper()
	var o objects
	for _, doc := range strings.Split(manifest, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("a rendered document does not parse: %v\n%s", err, doc)
		}
		if head.Kind == "" {
			// Only comments (a template that rendered nothing).
			continue
		}
		var into any
		switch head.APIVersion + "/" + head.Kind {
		case "apps/v1/Deployment":
			o.deployment = &appsv1.Deployment{}
			into = o.deployment
		case "v1/Service":
			o.service = &corev1.Service{}
			into = o.service
		case "v1/Secret":
			o.secret = &corev1.Secret{}
			into = o.secret
		case "v1/PersistentVolumeClaim":
			o.pvc = &corev1.PersistentVolumeClaim{}
			into = o.pvc
		case "policy/v1/PodDisruptionBudget":
			o.pdb = &policyv1.PodDisruptionBudget{}
			into = o.pdb
		default:
			t.Fatalf("the chart renders %s %s, which this test does not know: add it", head.APIVersion, head.Kind)
		}
		if err := strict([]byte(doc), into); err != nil {
			t.Fatalf("%s does not decode strictly into its k8s.io/api type: %v\n%s", head.Kind, err, doc)
		}
	}
	if o.deployment == nil || o.service == nil || o.secret == nil {
		t.Fatalf("got deployment %v, service %v, secret %v: want all three", o.deployment != nil, o.service != nil, o.secret != nil)
	}
	return o
}

const masterKey = "masterKey.value=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestChartRendersStrictly(t *testing.T) {
	tests := []struct {
		name      string
		set       []string
		replicas  int32
		wantPVC   bool
		wantPDB   bool
		wantEnv   []string
		wantNoEnv []string
	}{
		{"sqlite", []string{masterKey}, 1, true, false,
			[]string{"KEYWARD_MASTER_KEY", "KEYWARD_DATA_DIR", "KEYWARD_ADDR"}, []string{"KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL"}},
		{"postgres and redis, three replicas", []string{masterKey, "replicaCount=3",
			"database.url=postgres://keyward:pw@db:5432/keyward", "redis.url=redis://cache:6379/0",
			"adminPassword.value=a-long-admin-password", "publicURL=https://keys.example.com"}, 3, false, true,
			[]string{"KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL", "KEYWARD_ADMIN_PASSWORD", "KEYWARD_PUBLIC_URL"}, nil},
		{"existing secrets", []string{"masterKey.existingSecret=kw-keys", "database.existingSecret=kw-db", "replicaCount=2"}, 2, false, true,
			[]string{"KEYWARD_MASTER_KEY", "KEYWARD_DATABASE_URL"}, []string{"KEYWARD_REDIS_URL"}},
		{"no persistence", []string{masterKey, "persistence.enabled=false"}, 1, false, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manifest, err := render(t, tt.set...)
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, manifest)
			}
			o := decodeAll(t, manifest)
			d := o.deployment
			if got := *d.Spec.Replicas; got != tt.replicas {
				t.Errorf("got %d replicas, want %d", got, tt.replicas)
			}
			if (o.pvc != nil) != tt.wantPVC || (o.pdb != nil) != tt.wantPDB {
				t.Errorf("got PVC %v, PDB %v; want %v, %v", o.pvc != nil, o.pdb != nil, tt.wantPVC, tt.wantPDB)
			}
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("got %d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("got liveness %+v, readiness %+v; want /healthz and /readyz", c.LivenessProbe, c.ReadinessProbe)
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("got container securityContext %+v, want a read-only root and no privilege escalation", sc)
			}
			if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Errorf("got pod securityContext %+v, want runAsNonRoot", psc)
			}
			mounts := map[string]bool{}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = true
			}
			if !mounts["/data"] {
				t.Errorf("/data is not mounted (the root filesystem is read-only): %+v", c.VolumeMounts)
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			for _, name := range tt.wantEnv {
				if _, ok := env[name]; !ok {
					t.Errorf("the container lacks %s", name)
				}
			}
			for _, name := range tt.wantNoEnv {
				if _, ok := env[name]; ok {
					t.Errorf("the container has %s, want none", name)
				}
			}
			// Every secret reference into the chart's own Secret names a key
			// it holds; secrets travel by reference, never as values.
			for _, e := range c.Env {
				if strings.Contains(e.Name, "MASTER_KEY") || strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "DATABASE_URL") || strings.Contains(e.Name, "REDIS_URL") {
					if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						t.Errorf("%s is not taken from a Secret: %+v", e.Name, e)
						continue
					}
					ref := e.ValueFrom.SecretKeyRef
					if ref.Name == o.secret.Name {
						if _, ok := o.secret.StringData[ref.Key]; !ok {
							t.Errorf("%s refers to key %q, which the Secret %s does not hold", e.Name, ref.Key, o.secret.Name)
						}
					}
				}
			}
			if o.pdb != nil && !selects(o.pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
				t.Errorf("the PodDisruptionBudget selects %v, not the pods %v", o.pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
			}
			if !selects(o.service.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("the Service selects %v, not the pods %v", o.service.Spec.Selector, d.Spec.Template.Labels)
			}
		})
	}
}

func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// The chart refuses what would not work.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"no master key", nil, "masterKey"},
		{"replicas on SQLite", []string{masterKey, "replicaCount=2"}, "PostgreSQL"},
	}
	for _, tt := range tests {
		out, err := render(t, tt.set...)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("%s: got error %v, output %q; want a refusal naming %s", tt.name, err, out, tt.want)
		}
	}
}
