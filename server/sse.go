package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/sqlerr"
)

// subscriptionStreams serves GET /api/subscribe/{view}: the relation's rows
// and then its changes as server-sent events, one per changed row,
//
//	data: {"epoch":E,"diff":D,"row":{"column":value,…}}
//
// flushed after each epoch (docs/format/subscribe.md). ?snapshot=false
// leaves out the current rows. A stream ends when the client goes away, when
// the subscription ends (an error event says why), or at shutdown: the
// server's Shutdown waits for handlers, and an event stream never ends by
// itself.
type subscriptionStreams struct {
	eng      *engine.Engine
	shutdown context.Context
	stop     context.CancelFunc
}

func newSubscriptionStreams(eng *engine.Engine) *subscriptionStreams {
	ctx, stop := context.WithCancel(context.Background())
	return &subscriptionStreams{eng: eng, shutdown: ctx, stop: stop}
}

func (h *subscriptionStreams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snapshot := true
	if v := r.URL.Query().Get("snapshot"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, sqlerr.New(sqlerr.InvalidParameterValue, "snapshot must be true or false, not %q", v))
			return
		}
		snapshot = b
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(h.shutdown, cancel)()
	sub, err := h.eng.Subscribe(ctx, r.PathValue("view"), snapshot)
	if err != nil {
		status := http.StatusBadRequest
		if sqlerr.Code(err) == sqlerr.UndefinedTable {
			status = http.StatusNotFound
		}
		writeJSONError(w, status, err)
		return
	}
	defer sub.Close()
	names := make([][]byte, len(sub.Columns))
	for i, c := range sub.Columns {
		names[i], _ = json.Marshal(c)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flush := http.NewResponseController(w).Flush
	if flush() != nil {
		return
	}
	var buf []byte
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				msg, _ := json.Marshal(map[string]string{"error": err.Error(), "sqlstate": sqlerr.Code(err)})
				_, _ = w.Write(append(append([]byte("event: error\ndata: "), msg...), "\n\n"...))
				_ = flush()
			}
			return
		}
		for _, row := range ev.Rows {
			buf = append(buf[:0], `data: {"epoch":`...)
			buf = strconv.AppendUint(buf, ev.Epoch, 10)
			buf = append(buf, `,"diff":`...)
			buf = strconv.AppendInt(buf, row.Diff, 10)
			buf = append(buf, `,"row":{`...)
			for i, v := range row.Values {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(append(append(buf, names[i]...), ':'), v...)
			}
			buf = append(buf, "}}\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
		if flush() != nil {
			return
		}
	}
}

func writeJSONError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "sqlstate": sqlerr.Code(err)})
}
