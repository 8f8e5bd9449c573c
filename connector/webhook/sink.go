package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// OptionNames are the WITH options of a webhook sink besides connector,
// format and key (which the engine reads).
var OptionNames = []string{"url"}

// IdempotencyHeader carries a batch's idempotency key.
const IdempotencyHeader = "Idempotency-Key"

// Retry pacing of a batch: the pause doubles from minBackoff up to
// maxBackoff; requestTimeout bounds one request.
const (
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 10 * time.Second
	requestTimeout = 30 * time.Second
)

// Options are a webhook sink's settings.
type Options struct {
	URL string
}

// ParseOptions reads a webhook sink's options.
func ParseOptions(opts map[string]string) (*Options, error) {
	u := opts["url"]
	if u == "" {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "a webhook sink needs the option url")
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for option \"url\": \"%s\": expected an http or https URL", u)
	}
	return &Options{URL: u}, nil
}

// Sink posts batches of changes to one URL.
type Sink struct {
	opts   *Options
	client *http.Client
	key    *format.JSONObject // nil without key columns
	row    *format.JSONObject
	cfg    *types.Config
}

// NewSink returns the sink of rows with columns names, keyed by the columns
// key (none: rows carry no key).
func NewSink(opts *Options, names []string, key []int, cfg *types.Config) *Sink {
	s := &Sink{opts: opts, client: &http.Client{Timeout: requestTimeout}, row: format.NewJSONObject(names, coldata.AllColumns(len(names))), cfg: cfg}
	if len(key) > 0 {
		s.key = format.NewJSONObject(names, key)
	}
	return s
}

// Body returns the request body of a batch whose idempotency key is batch:
// a JSON array of {"idempotency_key": "<batch>-<i>", ["key": {…},]
// "diff": d, "row": {…}}, row i of changes as element i.
func (s *Sink) Body(batch string, changes *coldata.Chunk) []byte {
	b := []byte{'['}
	for i := 0; i < changes.Len; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"idempotency_key":`...)
		b = types.AppendJSONString(b, batch+"-"+strconv.Itoa(i))
		if s.key != nil {
			b = s.key.Append(append(b, `,"key":`...), changes.Cols, i, s.cfg)
		}
		b = strconv.AppendInt(append(b, `,"diff":`...), changes.Diffs[i], 10)
		b = s.row.Append(append(b, `,"row":`...), changes.Cols, i, s.cfg)
		b = append(b, '}')
	}
	return append(b, ']')
}

// Post delivers changes as batch, retrying until the endpoint answers 2xx
// or ctx ends.
func (s *Sink) Post(ctx context.Context, batch string, changes *coldata.Chunk) error {
	body := s.Body(batch, changes)
	backoff := minBackoff
	for {
		err := s.post(ctx, batch, body)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook %s: batch %s: %w (last error: %v)", Redacted(s.opts.URL), batch, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *Sink) post(ctx context.Context, batch string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, batch)
	resp, err := s.client.Do(req)
	if err != nil {
		// The client's error names the URL, which may hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("post to %s: %w", Redacted(s.opts.URL), ue.Err)
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// Redacted is a webhook URL as it may be shown or logged: its user
// information and its query, either of which may hold credentials, read
// "xxxxx".
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	return u.String()
}
