package transport

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server"
)

// panicky answers like the Handler, except that it panics without
// recovering on a query for boom.<zone>: a bug in the serving loops
// themselves, which AnswerPacket's own recover cannot see.
type panicky struct{ *server.Handler }

func (p panicky) AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool) {
	boom(pkt)
	return p.Handler.AnswerPacket(dst, pkt, remote, tcp)
}

func (p panicky) Batches() BatchAnswerer { return hookedBatches{p.Handler.Batches(), boom} }

func boom(pkt []byte) {
	var m dns.Msg
	if m.Unpack(pkt) == nil && len(m.Question) == 1 && m.Question[0].Name == "boom."+testZone {
		panic("boom")
	}
}

// TestServingLoopPanics: a panic in the UDP reader or a TCP connection is
// logged, counted in glb_panics_total{component="dns_server"}, and the
// server goes on answering on both transports.
func TestServingLoopPanics(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	m := NewMetrics(prometheus.NewRegistry())
	addr := serve(t, NewServerWith("127.0.0.1:0", panicky{h}, ServerOptions{Metrics: m}))

	for i, transport := range []string{"udp", "tcp", "udp"} {
		c := &dns.Client{Net: transport, Timeout: 500 * time.Millisecond}
		if _, _, err := c.Exchange(mkQuery("boom."+testZone, dns.TypeA, ""), addr); err == nil {
			t.Errorf("%s: boom answered; want no answer (the loop panicked)", transport)
		}
		want := float64(i + 1)
		deadline := time.Now().Add(5 * time.Second)
		for testutil.ToFloat64(m.loopPanics) < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := testutil.ToFloat64(m.loopPanics); got != want {
			t.Fatalf("%s: glb_panics_total{component=dns_server} = %v, want %v", transport, got, want)
		}
		for _, after := range []string{"udp", "tcp"} {
			c := &dns.Client{Net: after, Timeout: 2 * time.Second}
			r, _, err := c.Exchange(mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"), addr)
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				t.Fatalf("after a %s panic, %s query: %v %v", transport, after, r, err)
			}
		}
	}
}
