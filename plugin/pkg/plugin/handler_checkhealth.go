package plugin

import (
	"context"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// CheckHealth backs "Save & test" and Grafana's data source health API: it asks
// the backend who the key belongs to and reports what the user should do next.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return healthError(sentence(d.settingsErr.Error()) + "."), nil
	}
	w, err := d.client.WhoAmI(ctx)
	if err != nil {
		return healthError(healthMessage(d.client.BaseURL(), err)), nil
	}
	name := w.Organization.Name
	if name == "" {
		name = w.Organization.ID
	}
	if w.Key.Scope == "ingest" {
		return healthError(fmt.Sprintf("This API key of organization %q has scope ingest: it can only send events, not read them. Create a read key (npx metrics-hub keys create --org %s --scope read) and paste it in the data source settings.", name, name)), nil
	}
	msg := fmt.Sprintf("Connected to Metrics Hub as organization %q: %d of %d sources healthy", name, w.Sources.Healthy, w.Sources.Total)
	if w.Sources.Total == 0 {
		msg = fmt.Sprintf("Connected to Metrics Hub as organization %q, but no sources are configured; add sources to the metric catalog", name)
	} else if w.Sources.Healthy < w.Sources.Total {
		msg += "; the catalog in the query editor shows which sources are down and why"
	}
	msg += scopeNote(w.Key.Scope, name)
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg}, nil
}

// scopeNote says which scope the key has, and warns when it is broader than
// Grafana needs: every Grafana admin can read the key, so it should only read.
func scopeNote(scope, org string) string {
	switch scope {
	case "":
		return ""
	case "read":
		return ". The key has scope read, all Grafana needs"
	default:
		return fmt.Sprintf(". Warning: the key has scope %s, broader than the read scope Grafana needs; every Grafana admin can read it. Replace it with a read key (npx metrics-hub keys create --org %s --scope read)", scope, org)
	}
}

// healthMessage words each failure class as an instruction. The errors already
// say what failed and, for a bad key or a wrong URL, what to do.
func healthMessage(baseURL string, err error) string {
	switch {
	case errors.Is(err, errUnreachable):
		return sentence(err.Error()) + ". Check the URL and that the backend is running and reachable from the Grafana server."
	case errors.Is(err, errTimeout):
		return fmt.Sprintf("Metrics Hub at %s did not answer in time. Check the backend's health, or raise the timeout in the data source settings.", baseURL)
	default:
		return sentence(err.Error()) + "."
	}
}

func healthError(msg string) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}
}

// sentence starts an error text with a capital letter for a message box.
func sentence(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}
