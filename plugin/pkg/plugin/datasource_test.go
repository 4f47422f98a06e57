package plugin

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// connTracker counts the connections a server sees open and close.
type connTracker struct {
	mu     sync.Mutex
	opened int
	closed chan struct{}
}

func TestInstanceKeepsConnectionsAliveAndDisposeClosesThem(t *testing.T) {
	tr := &connTracker{closed: make(chan struct{}, 10)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"organization":{"id":"1","name":"acme"},"sources":{"total":1,"healthy":1}}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			tr.mu.Lock()
			tr.opened++
			tr.mu.Unlock()
		case http.StateClosed:
			tr.closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	inst, err := NewDatasource(context.Background(), instanceSettings(map[string]any{"url": srv.URL}, testAPIKey))
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	for range 3 {
		if _, err := ds.client.WhoAmI(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tr.mu.Lock()
	opened := tr.opened
	tr.mu.Unlock()
	if opened != 1 {
		t.Errorf("3 sequential calls opened %d connections, want 1 reused (keep-alive)", opened)
	}

	ds.Dispose()
	select {
	case <-tr.closed:
	case <-time.After(failAfter):
		t.Fatal("Dispose left the idle connection open")
	}
}
