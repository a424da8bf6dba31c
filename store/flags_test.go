package store

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConnFlags: etcdctl's variables are honoured with etcdctl's meanings,
// and each flag wins over its variable.
func TestConnFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	allEnv := map[string]string{
		"ETCDCTL_ENDPOINTS": "https://env1:2379,https://env2:2379", "ETCDCTL_CACERT": "env-ca.pem",
		"ETCDCTL_CERT": "env-cert.pem", "ETCDCTL_KEY": "env-key.pem",
		"ETCDCTL_USER": "env-user", "ETCDCTL_PASSWORD": "env-pw", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "true",
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "nothing: etcdctl's default endpoint", want: Config{Endpoints: []string{DefaultEndpoint}}},
		{name: "every variable", env: allEnv, want: Config{Endpoints: []string{"https://env1:2379", "https://env2:2379"},
			CACert: "env-ca.pem", Cert: "env-cert.pem", Key: "env-key.pem", InsecureSkipVerify: true,
			User: "env-user", Password: "env-pw"}},
		{name: "every flag wins over its variable", env: allEnv,
			args: []string{"-etcd-endpoints", "https://f:1", "-etcd-cacert", "f-ca.pem", "-etcd-cert", "f-cert.pem",
				"-etcd-key", "f-key.pem", "-etcd-user", "f-user:f-pw", "-etcd-insecure-skip-verify=false"},
			want: Config{Endpoints: []string{"https://f:1"}, CACert: "f-ca.pem", Cert: "f-cert.pem", Key: "f-key.pem",
				User: "f-user", Password: "f-pw"}},
		{name: "the alias -etcd", args: []string{"-etcd", "a:1"}, want: Config{Endpoints: []string{"http://a:1"}}},
		{name: "ETCDCTL_USER name:password", env: map[string]string{"ETCDCTL_USER": "u:p:q"},
			want: Config{Endpoints: []string{DefaultEndpoint}, User: "u", Password: "p:q"}},
		{name: "ETCDCTL_PASSWORD takes the user whole, as etcdctl",
			env:  map[string]string{"ETCDCTL_USER": "u:x", "ETCDCTL_PASSWORD": "p"},
			want: Config{Endpoints: []string{DefaultEndpoint}, User: "u:x", Password: "p"}},
		{name: "-etcd-user's password wins over ETCDCTL_PASSWORD", args: []string{"-etcd-user", "u:p"},
			env:  map[string]string{"ETCDCTL_PASSWORD": "env"},
			want: Config{Endpoints: []string{DefaultEndpoint}, User: "u", Password: "p"}},
		{name: "password file", args: []string{"-etcd-user", "u", "-etcd-password-file", pwFile},
			env:  map[string]string{"ETCDCTL_PASSWORD": "env"},
			want: Config{Endpoints: []string{DefaultEndpoint}, User: "u", Password: "from-file"}},
		{name: "password file and ETCDCTL_USER", args: []string{"-etcd-password-file", pwFile},
			env:  map[string]string{"ETCDCTL_USER": "envu"},
			want: Config{Endpoints: []string{DefaultEndpoint}, User: "envu", Password: "from-file"}},
		{name: "user without a password", args: []string{"-etcd-user", "u"}, wantErr: "no password"},
		{name: "two passwords", args: []string{"-etcd-user", "u:p", "-etcd-password-file", pwFile}, wantErr: "give one"},
		{name: "password file missing", args: []string{"-etcd-user", "u", "-etcd-password-file", filepath.Join(dir, "none")},
			wantErr: "-etcd-password-file"},
		{name: "password without a user", env: map[string]string{"ETCDCTL_PASSWORD": "p"}, wantErr: "no user"},
		{name: "bad ETCDCTL_INSECURE_SKIP_TLS_VERIFY", env: map[string]string{"ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "yes please"},
			wantErr: "ETCDCTL_INSECURE_SKIP_TLS_VERIFY"},
		{name: "TLS files for http://", args: []string{"-etcd-cacert", "ca.pem"}, wantErr: "not https://"},
		{name: "insecure is never implied", args: []string{"-etcd-endpoints", "https://a:1"},
			want: Config{Endpoints: []string{"https://a:1"}}},
		{name: "mixed schemes", args: []string{"-etcd-endpoints", "https://a:1,http://b:1"}, wantErr: "mixes"},
		{name: "cert without key", args: []string{"-etcd-endpoints", "https://a:1", "-etcd-cert", "c.pem"}, wantErr: "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f ConnFlags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.Register(fs, "etcd")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := f.Config(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "from-file") || strings.Contains(err.Error(), `"u:p"`) {
					t.Errorf("error shows a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("config\n %+v, want\n %+v", got, tc.want)
			}
			if printed := fmt.Sprintf("%v %+v", got, struct{ C Config }{got}); got.Password != "" &&
				(strings.Contains(printed, "Password:"+got.Password) || !strings.Contains(printed, "Password:(set)")) {
				t.Errorf("the password shows when the config is printed: %s", printed)
			}
		})
	}
}
