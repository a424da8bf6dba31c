package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSimulateBound holds -simulate-max-concurrent runs of /simulate in
// progress, each reading a client list that is still being sent, and
// checks that one more is answered 429 with Retry-After, and served again
// once they finish. The runs are seen in progress on
// glb_http_simulate_running, so nothing depends on timing.
func TestSimulateBound(t *testing.T) {
	for _, max := range []int{0, 1} { // 0: the default, 2
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints(), HTTP: httpFlags{SimulateMax: max}})
			want := max
			if want == 0 {
				want = defaultSimulateMax
			}
			url := "http://" + a.httpLn.Addr().String() + "/simulate?name=www." + zone
			type result struct {
				code int
				body string
				err  error
			}
			var senders []*io.PipeWriter
			results := make(chan result, want)
			for range want {
				body, w := io.Pipe()
				senders = append(senders, w)
				go func() {
					resp, err := http.Post(url, "text/plain", body)
					if err != nil {
						results <- result{err: err}
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					results <- result{code: resp.StatusCode, body: string(b)}
				}()
				// The first line is taken; the handler then waits for
				// the rest, holding its slot.
				if _, err := w.Write([]byte("81.2.69.160\n")); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "the runs in progress", func() bool {
				return strings.Contains(scrape(t, a), fmt.Sprintf("glb_http_simulate_running %d", want))
			})
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				req, _ := http.NewRequest(method, url, strings.NewReader("81.2.69.160\n"))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s /simulate beyond the bound: %s, Retry-After %q; want 429 with Retry-After", method, resp.Status, resp.Header.Get("Retry-After"))
				}
			}
			if m := scrape(t, a); !strings.Contains(m, "glb_http_simulate_rejected_total 2") {
				t.Errorf("the refusals are not counted")
			}
			for _, w := range senders {
				_, _ = w.Write([]byte("2001:db8::1\n"))
				w.Close()
			}
			for range want {
				r := <-results
				if r.err != nil || r.code != http.StatusOK || !strings.Contains(r.body, `"clients": 2`) {
					t.Errorf("a run in progress: %d %v %q; want 200 over its 2 clients", r.code, r.err, r.body)
				}
			}
			waitFor(t, 10*time.Second, "the runs finished", func() bool {
				return strings.Contains(scrape(t, a), "glb_http_simulate_running 0")
			})
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/simulate after the runs finished: %s, want 200", resp.Status)
			}
		})
	}
}

// TestSimulateBodyBound posts client lists around the 8 MiB bound: over
// it is 413, never a list silently cut short.
func TestSimulateBodyBound(t *testing.T) {
	a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints()})
	url := "http://" + a.httpLn.Addr().String() + "/simulate?name=www." + zone
	line := []byte("81.2.69.160\n")
	for _, tc := range []struct {
		name    string
		body    []byte
		chunked bool // no Content-Length: the bound is found reading
		want    int
	}{
		{"a short list", bytes.Repeat(line, 3), false, http.StatusOK},
		{"a short list, chunked", bytes.Repeat(line, 3), true, http.StatusOK},
		{"one byte over 8 MiB", append(bytes.Repeat([]byte("#"), 8<<20), '\n'), false, http.StatusRequestEntityTooLarge},
		{"9 MiB of addresses", bytes.Repeat(line, (9<<20)/len(line)), false, http.StatusRequestEntityTooLarge},
		{"9 MiB of addresses, chunked", bytes.Repeat(line, (9<<20)/len(line)), true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length from net/http
			}
			resp, err := http.Post(url, "text/plain", body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST of %d bytes: %s %q, want %d", len(tc.body), resp.Status, b, tc.want)
			}
		})
	}
}
