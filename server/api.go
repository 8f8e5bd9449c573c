package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/sqlerr"
)

// maxPushBody bounds one HTTP push request.
const maxPushBody = 256 << 20

// handlePush serves POST /api/streams/{name}: newline-delimited JSON events
// appended to a stream all-or-nothing. It answers {"accepted": n}, or
// {"error", "sqlstate", "line"} with 400 (404 for an unknown stream).
func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, maxPushBody)
	n, err := s.eng.PushJSON(r.Context(), r.PathValue("name"), body)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusBadRequest
		resp := map[string]any{"error": err.Error(), "sqlstate": sqlerr.Code(err)}
		var pe *engine.PushError
		if errors.As(err, &pe) && pe.Line > 0 {
			resp["line"] = pe.Line
		}
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			status = http.StatusRequestEntityTooLarge
		case sqlerr.Code(err) == sqlerr.UndefinedTable:
			status = http.StatusNotFound
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"accepted": n})
}
